package pdfdoc

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/relais-onco/relais"
)

// Every document gives the same bytes from the same input, whenever it is
// rendered; a different data time gives different bytes, and the PDF's
// creation date is the data time.
func TestDeterministic(t *testing.T) {
	docs := map[string]func(io.Writer, Stamp) error{
		"worksheet": func(w io.Writer, s Stamp) error { d := testWorksheet(); d.Stamp = s; return Worksheet(w, d) },
		"label":     func(w io.Writer, s Stamp) error { d := testLabel(); d.Stamp = s; return Label(w, d, Label80x40) },
		"slip":      func(w io.Writer, s Stamp) error { d := testSlip(30); d.Stamp = s; return DeliverySlip(w, d) },
		"plan":      func(w io.Writer, s Stamp) error { d := testPlan(); d.Stamp = s; return AdministrationPlan(w, d) },
		"register":  func(w io.Writer, s Stamp) error { d := testRegister(); d.Stamp = s; return Register(w, d) },
		"pack": func(w io.Writer, s Stamp) error {
			p, err := NewPack("Dossier de continuité", s)
			if err != nil {
				return err
			}
			for i := 0; i < 3; i++ {
				ws, l := testWorksheet(), testLabel()
				ws.Stamp, l.Stamp = s, s
				if err := p.AddWorksheet(ws); err != nil {
					return err
				}
				if err := p.AddLabel(l, Label100x50); err != nil {
					return err
				}
			}
			return p.Output(w)
		},
	}
	for name, f := range docs {
		t.Run(name, func(t *testing.T) {
			s := testStamp()
			a := render(t, func(w io.Writer) error { return f(w, s) })
			b := render(t, func(w io.Writer) error { return f(w, s) })
			if !bytes.Equal(a, b) {
				t.Errorf("two renderings of the same input differ (%d and %d bytes)", len(a), len(b))
			}
			// 14:05 in Paris on 22 November is 13:05 UTC.
			if !bytes.Contains(a, []byte("/CreationDate (D:20261122130500)")) {
				t.Errorf("the PDF's creation date is not the data time")
			}
			later := s
			later.DataTime = s.DataTime.Add(60e9)
			c := render(t, func(w io.Writer) error { return f(w, later) })
			if bytes.Equal(a, c) {
				t.Errorf("a different data time gave the same bytes")
			}
		})
	}
}

// A pack holds documents of several kinds and sizes; each keeps its own
// footer and page numbering.
func TestPack(t *testing.T) {
	p, err := NewPack("Dossier de continuité – 22/11/2026", testStamp())
	if err != nil {
		t.Fatal(err)
	}
	ws := testWorksheet()
	ws.Steps = append(ws.Steps, repeat("Étape supplémentaire de contrôle visuel de la limpidité", 25)...) // two pages
	second := testLabel()
	second.RegisterNumber = "2026-000124"
	second.PreparationID = "0193a5b2-7c4d-7e8f-9a0b-000000000124"
	for _, add := range []func() error{
		func() error { return p.AddWorksheet(ws) },
		func() error { return p.AddLabel(testLabel(), Label100x50) },
		func() error { return p.AddLabel(second, Label80x40) },
		func() error { return p.AddAdministrationPlan(testPlan()) },
		func() error { return p.AddDeliverySlip(testSlip(3)) },
		func() error { return p.AddRegister(testRegister()) },
	} {
		if err := add(); err != nil {
			t.Fatal(err)
		}
	}
	// A refused document leaves the pack as it was.
	bad := testPlan()
	bad.Items = nil
	before := p.Pages()
	if err := p.AddAdministrationPlan(bad); relais.ErrorKind(err) != relais.KindInvalid {
		t.Errorf("a plan without items: %v, want invalid", err)
	}
	if p.Pages() != before || p.Documents() != 6 {
		t.Errorf("after a refused document: %d pages, %d documents; want %d, 6", p.Pages(), p.Documents(), before)
	}
	var b bytes.Buffer
	if err := p.Output(&b); err != nil {
		t.Fatal(err)
	}
	pages := pdfPages(t, b.Bytes())
	if len(pages) != 7 {
		t.Fatalf("%d pages, want 7: worksheet 2, two labels, plan, slip, register", len(pages))
	}
	for i, want := range []struct{ title, footer string }{
		{"FICHE DE FABRICATION", "N° ordonnancier 2026-000123 · page 1/2"},
		{"Étape supplémentaire", "N° ordonnancier 2026-000123 · page 2/2"},
		{"VINCRISTINE 1,11 mg", "N° ordonnancier 2026-000123 · page 1/1"},
		{"VINCRISTINE 1,11 mg", "N° ordonnancier 2026-000124 · page 1/1"},
		{"PLAN D'ADMINISTRATION", "N° ordonnancier 2026-000123 · page 1/1"},
		{"BORDEREAU DE LIVRAISON", "N° ordonnancier 2026-000123 à 2026-000125 (3) · page 1/1"},
		{"ORDONNANCIER DES PRÉPARATIONS", "N° ordonnancier 2026-000123 à 2026-000127 (5) · page 1/1"},
	} {
		assertContains(t, fmt.Sprintf("pack page %d", i+1), pages[i], want.title, want.footer,
			"Données au 22/11/2026 14:05 (Europe/Paris) · Relais 0.1.0")
	}
	if got := decodeDataMatrix(t, b.Bytes(), 4, 0, 0, 0, 0); got != "RLS:PREP:"+second.PreparationID {
		t.Errorf("the second label's DataMatrix reads %q", got)
	}
	if err := p.Output(io.Discard); relais.ErrorKind(err) != relais.KindConflict {
		t.Errorf("writing a pack twice: %v, want a conflict", err)
	}
	if err := p.AddLabel(testLabel(), Label100x50); relais.ErrorKind(err) != relais.KindConflict {
		t.Errorf("adding to a written pack: %v, want a conflict", err)
	}
}

func TestPackRefusals(t *testing.T) {
	if _, err := NewPack("", testStamp()); err == nil {
		t.Error("a pack without title was started")
	}
	s := testStamp()
	s.Lang = "de"
	if _, err := NewPack("t", s); err == nil || !strings.Contains(err.Error(), "stamp.lang") {
		t.Errorf("a pack in German: %v, want an error naming stamp.lang", err)
	}
	p, _ := NewPack("t", testStamp())
	var b bytes.Buffer
	if err := p.Output(&b); relais.ErrorKind(err) != relais.KindInvalid || b.Len() != 0 {
		t.Errorf("an empty pack: %v, %d bytes; want invalid and nothing written", err, b.Len())
	}
}

// Every document can be printed in English, with its own words translated
// and the data as given.
func TestEnglishDocuments(t *testing.T) {
	en := testStamp()
	en.Lang = "en"
	ws, l, sl, pl, rg := testWorksheet(), testLabel(), testSlip(2), testPlan(), testRegister()
	ws.Stamp, l.Stamp, sl.Stamp, pl.Stamp, rg.Stamp = en, en, en, en, en
	for _, tc := range []struct {
		name  string
		f     func(io.Writer) error
		words []string
	}{
		{"worksheet", func(w io.Writer) error { return Worksheet(w, ws) },
			[]string{"COMPOUNDING WORKSHEET", "Birth name", "Pharmaceutical validation", "How the dose was computed",
				"Vials used", "leftover", "use before", "Compounding steps", "Measured final volume", "Release:"}},
		{"label", func(w io.Writer) error { return Label(w, l, LabelA4) }, []string{"Magistral preparation", "Use before"}},
		{"slip", func(w io.Writer) error { return DeliverySlip(w, sl) }, []string{"DELIVERY SLIP", "Ward (receiver)"}},
		{"plan", func(w io.Writer) error { return AdministrationPlan(w, pl) },
			[]string{"ADMINISTRATION PLAN", "Premedication", "Hydration", "Chemotherapy", "Nurse (initials)", "ward stock"}},
		{"register", func(w io.Writer) error { return Register(w, rg) },
			[]string{"PREPARATION REGISTER from 2026-11-22 to 2026-11-22", "CANCELLED", "released", "rejected", "in progress", "Note of 2026-11-22 09:10 by"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pages := pdfPages(t, render(t, tc.f))
			all := strings.Join(pages, "\n")
			assertContains(t, tc.name, all, tc.words...)
			assertContains(t, tc.name, all, "Data as of 2026-11-22 14:05 (Europe/Paris) · Relais 0.1.0")
			for _, fr := range []string{"Données au", "N° ordonnancier", "Préparation magistrale"} {
				if strings.Contains(all, fr) {
					t.Errorf("the English %s holds the French %q", tc.name, fr)
				}
			}
		})
	}
}
