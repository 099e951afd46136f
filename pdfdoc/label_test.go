package pdfdoc

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/relais-onco/relais"
)

// labelMentions are what a compounded preparation's label must show, as a
// pharmacist checks it: the patient with two identifiers, the INN, the dose,
// the total volume, the route, the administration date, the preparation date
// and time and the expiry date and time, the storage condition, the register
// number, the pharmacy (name, address, telephone), the regulatory and the
// cytotoxic mentions.
var labelMentions = []string{
	"Préparation magistrale", "Cytotoxique – manipuler avec précaution",
	"LE GOFF (MARTIN) Maëlys", "né(e) le 14/03/2019", "IPP IPP-00482913",
	"VINCRISTINE 1,11 mg", "Volume total 11,11 mL dans NaCl 0,9 %", "Voie IV stricte",
	"Administration le 23/11/2026", "Préparé le 22/11/2026 15:32", "À utiliser avant le 24/11/2026 12:00",
	"À conserver entre 2 et 8 °C, à l'abri de la lumière", "N° ordonnancier 2026-000123",
	"PUI – CHU de Rennes, Unité de reconstitution des cytotoxiques",
	"2 rue Henri Le Guilloux, 35033 Rennes Cedex 9", "Tél. 02 99 28 43 21",
}

func TestLabelSizes(t *testing.T) {
	for _, tc := range []struct {
		size LabelSize
		// where the DataMatrix is, in mm, to crop the page for dmtxread
		x, y, w, h float64
	}{
		{Label100x50, 0, 0, 0, 0},
		{Label80x40, 0, 0, 0, 0},
		{LabelA4, 120, 0, 90, 60},
	} {
		t.Run(tc.size.Name, func(t *testing.T) {
			pdf := render(t, func(w io.Writer) error { return Label(w, testLabel(), tc.size) })
			pages := pdfPages(t, pdf)
			if len(pages) != 1 {
				t.Fatalf("%d pages, want one label", len(pages))
			}
			assertContains(t, tc.size.Name+" label", pages[0], labelMentions...)
			assertFooters(t, pages, "N° ordonnancier 2026-000123")
			got := decodeDataMatrix(t, pdf, 1, tc.x, tc.y, tc.w, tc.h)
			if want := "RLS:PREP:" + testPrepID; got != want {
				t.Errorf("DataMatrix reads %q, want %q", got, want)
			}
		})
	}
}

func TestLabelEnglish(t *testing.T) {
	d := testLabel()
	d.Stamp.Lang = "en"
	pdf := render(t, func(w io.Writer) error { return Label(w, d, Label100x50) })
	assertContains(t, "English label", pdfPages(t, pdf)[0],
		"Magistral preparation", "Cytotoxic – handle with care", "born 2019-03-14", "Total volume 11,11 mL in NaCl 0,9 %",
		"To be given on 2026-11-23", "Prepared 2026-11-22 15:32", "Use before 2026-11-24 12:00", "Register no. 2026-000123",
		"Data as of 2026-11-22 14:05 (Europe/Paris)")
}

// A label whose mentions do not fit is refused, naming what has no room,
// and leaves a pack as it was; the same label fits on a larger size.
func TestLabelThatCannotFitIsRefused(t *testing.T) {
	d := testLabel()
	d.Storage = "À conserver entre 2 et 8 °C, à l'abri de la lumière, dans le suremballage opaque fourni, sans congeler ; " +
		"transport en glacière validée avec enregistreur de température ; ne pas secouer"
	d.Stamp.Pharmacy.Address = "Pôle pharmacie, bâtiment des plateaux techniques, niveau -1, porte 12\n2 rue Henri Le Guilloux\nCS 26419\n35033 Rennes Cedex 9"
	p, err := NewPack("test", testStamp())
	if err != nil {
		t.Fatal(err)
	}
	err = p.AddLabel(d, Label80x40)
	if !errors.Is(err, ErrDoesNotFit) {
		t.Fatalf("AddLabel at 80×40 = %v, want ErrDoesNotFit", err)
	}
	msg := relais.ErrorMessage(err)
	for _, m := range []string{"80×40 mm", "pharmacy"} {
		if !strings.Contains(msg, m) {
			t.Errorf("the error does not name %q: %s", m, msg)
		}
	}
	if p.Pages() != 0 || p.Documents() != 0 {
		t.Errorf("the refused label left %d pages, %d documents in the pack", p.Pages(), p.Documents())
	}
	if err := p.AddLabel(d, LabelA4); err != nil {
		t.Fatalf("the same label on A4: %v", err)
	}
	var b strings.Builder
	if err := p.Output(&b); err != nil {
		t.Fatal(err)
	}
	pages := pdfPages(t, []byte(b.String()))
	if len(pages) != 1 {
		t.Fatalf("%d pages, want the A4 label alone", len(pages))
	}
	assertContains(t, "A4 label", pages[0], d.Storage, "CS 26419")
}

func TestLabelRefusesBadInput(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*LabelData, *LabelSize)
		field  string
	}{
		{"no dose", func(d *LabelData, _ *LabelSize) { d.Dose = "" }, "dose"},
		{"dose without number", func(d *LabelData, _ *LabelSize) { d.Dose = "selon protocole" }, "dose"},
		{"no total volume", func(d *LabelData, _ *LabelSize) { d.TotalVolume = "" }, "total_volume"},
		{"no storage", func(d *LabelData, _ *LabelSize) { d.Storage = " " }, "storage"},
		{"no birth date", func(d *LabelData, _ *LabelSize) { d.Patient.BirthDate = "" }, "patient.birth_date"},
		{"bad birth date", func(d *LabelData, _ *LabelSize) { d.Patient.BirthDate = "14/03/2019" }, "patient.birth_date"},
		{"no IPP", func(d *LabelData, _ *LabelSize) { d.Patient.LocalID = "" }, "patient.local_id"},
		{"unknown category", func(d *LabelData, _ *LabelSize) { d.Category = "" }, "category"},
		{"no id", func(d *LabelData, _ *LabelSize) { d.PreparationID = "" }, "preparation_id"},
		{"id not ASCII", func(d *LabelData, _ *LabelSize) { d.PreparationID = "prép-1" }, "preparation_id"},
		{"unprintable INN", func(d *LabelData, _ *LabelSize) { d.INN = "長春新鹼" }, "inn"},
		{"module too small", func(_ *LabelData, s *LabelSize) { s.Module = 0.3 }, "size.module"},
		{"no data time", func(d *LabelData, _ *LabelSize) { d.Stamp.DataTime = time.Time{} }, "stamp.data_time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, s := testLabel(), Label100x50
			tc.change(&d, &s)
			var b strings.Builder
			err := Label(&b, d, s)
			if err == nil {
				t.Fatal("the label was printed")
			}
			if b.Len() != 0 {
				t.Errorf("a refused label wrote %d bytes", b.Len())
			}
			found := false
			for _, fe := range relais.FieldErrors(err) {
				found = found || fe.Field == tc.field
			}
			if !found {
				t.Errorf("the error does not name %s: %v", tc.field, err)
			}
		})
	}
}
