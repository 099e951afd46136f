package web

import (
	"testing"

	"github.com/relais-onco/relais"
)

// The chart sums doxorubicin-equivalent doses cycle by cycle: doses
// divided by the BSA of their cycle (doxorubicin counts as itself), cycles
// cancelled or still draft left out, refused lines too.
func TestAnthracyclineChart(t *testing.T) {
	cycle := func(id string, n int, status relais.PrescriptionStatus, dose float64, line relais.LineStatus) relais.Prescription {
		return relais.Prescription{ID: relais.ID(id), Cycle: n, Status: status, Regimen: "R-CHOP-21 v1", StartDate: relais.Date("2025-01-0" + string(rune('0'+n))),
			Measurements: relais.UsedMeasurements{BSAM2: 2},
			Lines: []relais.PrescriptionLine{
				{INN: "doxorubicine", DrugClass: string(relais.ClassAnthracycline), Dose: dose, Unit: "mg", Status: line},
				{INN: "vincristine", DrugClass: string(relais.ClassVincaAlkaloid), Dose: 2, Unit: "mg", Status: line},
			}}
	}
	h := relais.History{Prescriptions: []relais.Prescription{
		cycle("a", 1, relais.PrescriptionSigned, 100, relais.LineValidated),    // 100 / 2 = 50 mg/m²
		cycle("b", 2, relais.PrescriptionCancelled, 100, relais.LineCancelled), // not given
		cycle("c", 3, relais.PrescriptionSigned, 75, relais.LineValidated),     // 75 / 2 = 37.5
		cycle("d", 4, relais.PrescriptionSigned, 100, relais.LineRefused),      // refused: not counted
		cycle("e", 5, relais.PrescriptionDraft, 100, relais.LineProposed),      // a draft is not a dose
	}}
	c := anthracyclineChart(h, []relais.CumulativeLimit{{Class: relais.ClassAnthracycline, Limit: 450, Unit: "mg/m²"}})
	if c == nil {
		t.Fatal("no chart for a patient who received doxorubicin")
	}
	var got []float64
	for _, p := range c.Points {
		got = append(got, p.Total)
	}
	if len(got) != 2 || got[0] != 50 || got[1] != 87.5 || c.Total != 87.5 {
		t.Fatalf("totals %v (total %v); want [50 87.5]", got, c.Total)
	}
	if c.Points[1].Added != 37.5 || c.Exceeds || c.Limit != 450 {
		t.Errorf("second point %+v, exceeds %v, limit %v", c.Points[1], c.Exceeds, c.Limit)
	}
	// The limit line is drawn inside the plot, above the curve.
	if !(c.LimitY > c.Top && c.LimitY < c.Points[1].Y && c.Points[1].Y < c.Points[0].Y && c.Points[0].Y < c.Base) {
		t.Errorf("geometry: top %v, limit %v, points %v %v, base %v", c.Top, c.LimitY, c.Points[0].Y, c.Points[1].Y, c.Base)
	}
	// Over the limit, the point says so.
	h.Prescriptions[0].Lines[0].Dose = 1000 // 500 mg/m²
	c = anthracyclineChart(h, []relais.CumulativeLimit{{Class: relais.ClassAnthracycline, Limit: 450, Unit: "mg/m²"}})
	if !c.Exceeds || !c.Points[0].Over {
		t.Errorf("500 mg/m² against 450: exceeds %v", c.Exceeds)
	}
	if anthracyclineChart(relais.History{Prescriptions: []relais.Prescription{{Status: relais.PrescriptionSigned,
		Lines: []relais.PrescriptionLine{{INN: "vincristine", DrugClass: string(relais.ClassVincaAlkaloid), Dose: 2, Unit: "mg"}}}}}, nil) != nil {
		t.Errorf("a chart for a patient with no anthracycline")
	}
}
