package pdfdoc

import (
	"io"
	"strings"
	"testing"

	"github.com/relais-onco/relais"
)

func TestAdministrationPlan(t *testing.T) {
	pdf := render(t, func(w io.Writer) error { return AdministrationPlan(w, testPlan()) })
	pages := pdfPages(t, pdf)
	all := oneLine(strings.Join(pages, "\n"))
	assertContains(t, "plan", all,
		"PLAN D'ADMINISTRATION", "LE GOFF", "MARTIN", "Maëlys", "14/03/2019", "IPP-00482913", "23/11/2026",
		"Hématologie-oncologie pédiatrique (HDJ)", "VINCRISTINE hebdomadaire v3", "Cure 2 · J8", "18,2 kg · 0,74 m²",
		"Ordre", "Heure prévue", "Type", "Médicament", "Dose", "Solvant, volume", "Voie", "Débit", "Durée", "Début", "Fin", "IDE (visa)",
		"1 08:30 Hydratation Glucose 5 % + NaCl 0,45 %", "500 mL", "55 mL/h", "9 h",
		"2 09:00 Prémédication ONDANSÉTRON", "3,7 mg", "NaCl 0,9 % 20 mL", "80 mL/h", "15 min",
		"3 09:30 Chimiothérapie VINCRISTINE", "N° ordonnancier 2026-000123", "1,11 mg", "NaCl 0,9 % 11,11 mL", "5 min",
		"Consignes : Vérifier le reflux veineux avant et pendant l'injection", "dotation du service")
	// The sequence is the order given: hydration, premedication, chemotherapy.
	h, p, c := strings.Index(all, "Hydratation Glucose"), strings.Index(all, "Prémédication ONDANSÉTRON"), strings.Index(all, "Chimiothérapie VINCRISTINE")
	if !(h < p && p < c) {
		t.Errorf("the plan's rows are not in sequence order: %d %d %d", h, p, c)
	}
	assertFooters(t, pages, "N° ordonnancier 2026-000123")
}

// A time after midnight is shown with its date: an infusion planned for the
// next day is never read as the morning of the plan's day.
func TestAdministrationPlanNextDayTime(t *testing.T) {
	d := testPlan()
	d.Items = append(d.Items, PlanItem{Time: at("2026-11-24 00:30"), Kind: KindHydration, Drug: "NaCl 0,9 %",
		Dose: "250 mL", Route: "IV", Rate: "42 mL/h", Duration: "6 h"})
	pdf := render(t, func(w io.Writer) error { return AdministrationPlan(w, d) })
	assertContains(t, "plan", pdfPages(t, pdf)[0], "4 24/11 00:30 Hydratation")
}

func TestAdministrationPlanRefusesBadInput(t *testing.T) {
	d := testPlan()
	d.Items[0], d.Items[1] = d.Items[1], d.Items[0] // out of sequence
	d.Items[2].Kind = "chimio"
	d.Items[2].Dose = ""
	err := AdministrationPlan(io.Discard, d)
	got := map[string]bool{}
	for _, fe := range relais.FieldErrors(err) {
		got[fe.Field] = true
	}
	for _, f := range []string{"items[1].time", "items[2].kind", "items[2].dose"} {
		if !got[f] {
			t.Errorf("the error does not name %s: %v", f, err)
		}
	}
}
