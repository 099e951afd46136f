package pdfdoc

import (
	"io"
	"strings"
	"testing"

	"github.com/relais-onco/relais"
)

func TestWorksheetMentions(t *testing.T) {
	pdf := render(t, func(w io.Writer) error { return Worksheet(w, testWorksheet()) })
	pages := pdfPages(t, pdf)
	all := strings.Join(pages, "\n")
	assertContains(t, "worksheet", all,
		"FICHE DE FABRICATION", "PUI – CHU de Rennes", "Tél. 02 99 28 43 21",
		"2026-000123", "Identifiant de la préparation : 0193a5b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b",
		"Cytotoxique – manipuler avec précaution",
		// patient: two identifiers, and the measures used
		"LE GOFF", "MARTIN", "Maëlys", "14/03/2019", "IPP-00482913", "2190335238123 45",
		"18,2 kg", "108 cm", "0,74 m² (Mosteller)", "21/11/2026",
		// prescription and validation
		"VINCRISTINE hebdomadaire v3", "Cure 2 · J8", "Dr Anne Kerjean", "23/11/2026",
		"Dr Yann Morvan, pharmacien, 22/11/2026 11:40",
		// drug, dose and how it was computed
		"VINCRISTINE", "1,11 mg", "1,5 mg/m² × 0,74 m² = 1,11 mg (arrondi au centième de mg)", "plafond 2 mg : non atteint",
		// product and vials, new and leftover, with lots and expiries
		"Vincristine Hospira 1 mg/mL", "3400893528742",
		"reliquat", "HX2291", "31/05/2027", "à utiliser avant", "29/11/2026 09:00", "0,60 mg", "0,60 mL",
		"neuf", "HX2304", "31/08/2027", "0,51 mg", "0,51 mL",
		// reconstitution
		"NaCl 0,9 %", "seringue 20 mL", "20 mL", "11,11 mL", "0,1 mg/mL", "IV stricte",
		"À conserver entre 2 et 8 °C, à l'abri de la lumière", "24/11/2026 12:00",
		// steps with check columns, measures and release
		"Étapes de fabrication", "Fait", "Préparateur (visa)", "Contrôle (visa)",
		"Vérifier l'identité du patient, la DCI, la dose et le volume sur la fiche",
		"Prélever 0,60 mL du reliquat lot HX2291", "Prélever 0,51 mL du flacon neuf lot HX2304",
		"Compléter à 11,11 mL avec NaCl 0,9 % dans la seringue",
		"Étiqueter : « Voie intraveineuse stricte – mortel par une autre voie »",
		"Volume final mesuré", "Masse mesurée (contrôle gravimétrique)", "libérée", "refusée", "Pharmacien",
	)
	assertFooters(t, pages, repeat("N° ordonnancier 2026-000123", len(pages))...)
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func TestWorksheetDataMatrix(t *testing.T) {
	pdf := render(t, func(w io.Writer) error { return Worksheet(w, testWorksheet()) })
	// The symbol is at the top right of the first page.
	got := decodeDataMatrix(t, pdf, 1, 140, 0, 70, 50)
	if want := "RLS:PREP:" + testPrepID; got != want {
		t.Errorf("DataMatrix reads %q, want %q", got, want)
	}
	if id, ok := ParsePreparationCode(got); !ok || id != testPrepID {
		t.Errorf("ParsePreparationCode(%q) = %q, %v; want %q", got, id, ok, testPrepID)
	}
}

// A long name, protocol and derivation wrap inside their boxes: every
// character is still printed, in order.
func TestWorksheetLongTextWraps(t *testing.T) {
	d := testWorksheet()
	d.Patient.BirthName = "DE LA TOUR D'AUVERGNE-LAURAGUAIS DE SAINT-GERMAIN-DES-PRÉS ET DE KERGUÉLEN-TRÉMAREC"
	d.Patient.UsedName = "MONTMORENCY-LAVAL DE LA ROCHEFOUCAULD-DOUDEAUVILLE"
	d.Patient.FirstName = "Marie-Anne-Gwenaëlle-Bénédicte"
	d.Protocol = "LBL 2018 – Lymphome lymphoblastique, bras de maintenance, avec adaptation de dose selon le génotype TPMT et NUDT15, version 4.2"
	d.Derivation = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	pdf := render(t, func(w io.Writer) error { return Worksheet(w, d) })
	text := squeeze(strings.Join(pdfPages(t, pdf), ""))
	for _, s := range []string{d.Patient.BirthName, d.Patient.UsedName, d.Patient.FirstName, d.Protocol, d.Derivation} {
		if !strings.Contains(text, squeeze(s)) {
			t.Errorf("%q lost characters when wrapped", s)
		}
	}
}

// squeeze removes white space, so that wrapped text compares with the
// original whatever the line breaks.
func squeeze(s string) string {
	return strings.Join(strings.Fields(s), "")
}

func TestWorksheetRefusesMissingFields(t *testing.T) {
	d := testWorksheet()
	d.Dose = "un flacon" // no number: a dose is never guessed
	d.RegisterNumber = ""
	d.Patient.LocalID = ""
	d.Vials[1].Lot = ""
	d.Steps = nil
	d.Stamp.Version = ""
	var b strings.Builder
	err := Worksheet(&b, d)
	if err == nil {
		t.Fatal("a worksheet without dose, register number, IPP, lot and steps was printed")
	}
	if b.Len() != 0 {
		t.Errorf("a refused worksheet wrote %d bytes", b.Len())
	}
	got := map[string]bool{}
	for _, fe := range relais.FieldErrors(err) {
		got[fe.Field] = true
	}
	for _, f := range []string{"dose", "register_number", "patient.local_id", "vials[1].lot", "steps", "stamp.version"} {
		if !got[f] {
			t.Errorf("the error does not name %s: %v", f, err)
		}
	}
	if relais.ErrorKind(err) != relais.KindInvalid {
		t.Errorf("kind %v, want invalid", relais.ErrorKind(err))
	}
}
