package pdfdoc

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/relais-onco/relais"
)

// The plan's figures follow fixtures_test.go: vincristine 1,5 mg/m² at BSA
// 0,74 m² (Mosteller, 18,2 kg and 108 cm) = 1,11 mg; ondansetron 5 mg/m²
// (the paediatric dose of the Zophren SmPC, rubrique 4.2: 5 mg/m² IV before
// chemotherapy) × 0,74 m² = 3,7 mg.
func testTreatmentPlan() TreatmentPlanData {
	p := testPatient()
	p.INS = "206127511100564"
	return TreatmentPlanData{
		Stamp: testStamp(), Patient: p, INSOID: "1.2.250.1.213.1.4.8",
		Protocol: "VINCRISTINE hebdomadaire v3", Cycle: "Cure 2", StartDate: "2026-11-16",
		Version: "2 (après validation pharmaceutique)", Prescriber: "Dr Anne Kerjean", SignedAt: at("2026-11-21 16:20"),
		Weight: "18,2 kg", Height: "108 cm", BSA: "0,74 m² (Mosteller)", MeasuredOn: "2026-11-21",
		Lines: []TreatmentLine{
			{Day: "J8", Date: "2026-11-23", Seq: 1, Kind: KindPremedication, Drug: "ONDANSÉTRON", Dose: "3,7 mg",
				Derivation: "5 mg/m² × 0,74 m² = 3,7 mg", Route: "IV", Vehicle: "NaCl 0,9 % 20 mL", Duration: "15 min",
				Status: "validée", Validation: "acceptée par Dr Yann Morvan le 22/11/2026 11:40"},
			{Day: "J8", Date: "2026-11-23", Seq: 2, Kind: KindChemotherapy, Drug: "VINCRISTINE", Dose: "1,11 mg",
				Derivation: "surface corporelle 0,74 m² (Mosteller)\n1,5 mg/m² × 0,74 m² = 1,11 mg\nplafond 2 mg : non atteint",
				Route:      "IV", Vehicle: "NaCl 0,9 % 11,11 mL", Duration: "5 min", Status: "validée",
				Validation: "acceptée par Dr Yann Morvan le 22/11/2026 11:40", Comment: "Vérifier le reflux veineux"},
		},
		Checks: []AcknowledgedCheck{{Level: "à acquitter", Message: "Poids mesuré il y a plus de 7 jours", By: "Dr Anne Kerjean",
			At: at("2026-11-21 16:18"), Reason: "pesée du jour identique"}},
	}
}

func TestTreatmentPlan(t *testing.T) {
	pdf := render(t, func(w io.Writer) error { return TreatmentPlan(w, testTreatmentPlan()) })
	pages := pdfPages(t, pdf)
	assertContains(t, "treatment plan", strings.Join(pages, "\n"),
		"PLAN DE TRAITEMENT", "LE GOFF", "MARTIN", "Maëlys", "14/03/2019", "IPP-00482913",
		"206127511100564 (OID 1.2.250.1.213.1.4.8)",
		"VINCRISTINE hebdomadaire v3", "Cure 2", "16/11/2026", "18,2 kg", "108 cm", "0,74 m² (Mosteller)",
		"Dr Anne Kerjean, le 21/11/2026 16:20", "2 (après validation pharmaceutique)",
		"J8 23/11/2026", "Prémédication", "ONDANSÉTRON", "3,7 mg", "NaCl 0,9 % 20 mL", "15 min",
		"Chimiothérapie", "VINCRISTINE", "1,11 mg", "NaCl 0,9 % 11,11 mL", "5 min",
		"Calcul de la dose : surface corporelle 0,74 m² (Mosteller) ; 1,5 mg/m² × 0,74 m² = 1,11 mg ; plafond 2 mg : non atteint",
		"Validation pharmaceutique : acceptée par Dr Yann Morvan le 22/11/2026 11:40",
		"Commentaire : Vérifier le reflux veineux",
		"Alertes acquittées à la signature", "Poids mesuré il y a plus de 7 jours", "pesée du jour identique")
	all := oneLine(strings.Join(pages, "\n"))
	if strings.Index(all, "ONDANSÉTRON") > strings.Index(all, "1,5 mg/m²") {
		t.Error("the lines are not in sequence order")
	}
	assertFooters(t, pages)
}

func TestTreatmentPlanEnglishAndDeterministic(t *testing.T) {
	d := testTreatmentPlan()
	d.Stamp.Lang = "en"
	a := render(t, func(w io.Writer) error { return TreatmentPlan(w, d) })
	b := render(t, func(w io.Writer) error { return TreatmentPlan(w, d) })
	if !bytes.Equal(a, b) {
		t.Error("the same plan gives different bytes")
	}
	assertContains(t, "treatment plan (en)", strings.Join(pdfPages(t, a), "\n"),
		"TREATMENT PLAN", "How the dose was computed:", "Dr Anne Kerjean, on 2026-11-21 16:20", "Pharmaceutical validation:")
}

func TestTreatmentPlanRefusesBadInput(t *testing.T) {
	d := testTreatmentPlan()
	d.INSOID = ""
	d.Lines[1].Derivation = ""
	d.Lines[1].Dose = "mg" // no number
	d.Lines[0], d.Lines[1] = d.Lines[1], d.Lines[0]
	d.Checks[0].Reason = ""
	err := TreatmentPlan(io.Discard, d)
	got := map[string]bool{}
	for _, fe := range relais.FieldErrors(err) {
		got[fe.Field] = true
	}
	for _, f := range []string{"ins_oid", "lines[0].derivation", "lines[0].dose", "lines[1].seq", "checks[0].reason"} {
		if !got[f] {
			t.Errorf("the error does not name %s: %v", f, err)
		}
	}
}

func testAdministrationReport() AdministrationReportData {
	p := testPatient()
	p.INS = "" // an identity not qualified: no INS on the document
	return AdministrationReportData{
		Stamp: testStamp(), Patient: p, RegisterNumber: "2026-000123", Protocol: "VINCRISTINE hebdomadaire v3", Cycle: "Cure 2 · J8",
		Drug: "VINCRISTINE", DosePlanned: "1,11 mg", VolumePlanned: "11,11 mL", Route: "IV", Outcome: OutcomeAdministered,
		StartedAt: at("2026-11-23 09:32"), EndedAt: at("2026-11-23 09:40"), VolumeGiven: "11,11 mL", DoseGiven: "1,11 mg (totalité)",
		Rate:          "133 mL/h",
		Interruptions: []Interruption{{From: at("2026-11-23 09:34"), To: at("2026-11-23 09:36"), Reason: "reflux veineux à vérifier"}},
		Incidents: []AdminIncident{{Kind: "autre", At: at("2026-11-23 09:35"), Description: "douleur au point de ponction",
			Action: "vérification du reflux, reprise"}},
		BedsideCheck: "étiquette scannée, bracelet concordant", SecondNurse: "Léa Bernard", RecordedBy: "Marc Le Bihan (IDE)",
		RecordedAt: at("2026-11-23 09:45"),
	}
}

func TestAdministrationReport(t *testing.T) {
	pdf := render(t, func(w io.Writer) error { return AdministrationReport(w, testAdministrationReport()) })
	pages := pdfPages(t, pdf)
	assertContains(t, "administration report", strings.Join(pages, "\n"),
		"COMPTE RENDU D'ADMINISTRATION", "LE GOFF", "IPP-00482913", "non transmis (identité non qualifiée)",
		"VINCRISTINE", "Dose prévue", "1,11 mg", "11,11 mL", "2026-000123", "Cure 2 · J8",
		"administrée", "23/11/2026 09:32", "23/11/2026 09:40", "Dose administrée", "1,11 mg (totalité)", "133 mL/h",
		"étiquette scannée, bracelet concordant", "Léa Bernard",
		"23/11/2026 09:34", "23/11/2026 09:36", "reflux veineux à vérifier",
		"douleur au point de ponction", "vérification du reflux, reprise", "Marc Le Bihan (IDE), le 23/11/2026 09:45")
	assertFooters(t, pages, "N° ordonnancier 2026-000123")
}

func TestAdministrationReportNotGiven(t *testing.T) {
	d := testAdministrationReport()
	d.Outcome = OutcomeReturned
	d.StartedAt, d.EndedAt, d.DoseGiven, d.VolumeGiven = time.Time{}, time.Time{}, "", ""
	d.Interruptions, d.Incidents = nil, nil
	if err := AdministrationReport(io.Discard, d); !hasFieldError(err, "reason") {
		t.Errorf("a preparation not given without a reason: %v", err)
	}
	d.Reason = "patient fébrile, cure reportée"
	pdf := render(t, func(w io.Writer) error { return AdministrationReport(w, d) })
	assertContains(t, "report (returned)", strings.Join(pdfPages(t, pdf), "\n"),
		"non administrée : retournée à la pharmacie", "patient fébrile, cure reportée", "Aucun incident déclaré.")
}

func hasFieldError(err error, field string) bool {
	for _, fe := range relais.FieldErrors(err) {
		if fe.Field == field {
			return true
		}
	}
	return false
}
