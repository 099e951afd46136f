package relais

import (
	"math"
	"strings"
	"testing"
	"time"
)

// Products of these tests. Presentations are those of the marketed products
// named (strength, volume, concentration); stability entries marked
// "fixture" are made up for the test and are not published values.
//
//   - Doxorubicin 2 mg/mL, vials of 10 mg/5 mL and 50 mg/25 mL (SmPC
//     Doxorubicine Accord 2 mg/mL, section 6.5: vials of 5, 10, 25, 50 and
//     100 mL).
//   - Vincristine 1 mg/mL, vials of 1 mg/1 mL and 2 mg/2 mL (SmPC
//     Vincristine Hospira 1 mg/mL, section 6.5).
//   - Rituximab 10 mg/mL, vials of 100 mg/10 mL and 500 mg/50 mL, diluted to
//     1–4 mg/mL in NaCl 0.9 % (SmPC MabThera, EMA, sections 6.5 and 6.6).
//   - Cyclophosphamide powder, 500 mg and 1 g, reconstituted to 20 mg/mL
//     with 25 and 50 mL (SmPC Endoxan 500 mg and 1000 mg, section 6.6).

func ucd(prefix7 string) string {
	s := "34008" + prefix7
	return s + string(EAN13CheckDigit(s))
}

func testProduct(id, brand string, form ProductForm, strength, volume float64, stab ...Stability) Product {
	return Product{ID: ID(id), DrugID: "drug", Brand: brand, UCD: ucd(id[len(id)-7:]), Form: form, Strength: strength,
		StrengthUnit: "mg", VolumeML: volume, Concentration: strength / volume, Stability: stab}
}

var (
	fixtureOpen = Stability{Condition: AfterOpening, Storage: "2-8°C", DurationHours: 24, Source: "fixture"}
	doxo10      = testProduct("0000000-0000-7000-8000-000000000010", "Doxorubicine 10 mg/5 mL", FormSolution, 10, 5, fixtureOpen,
		Stability{Condition: AfterDilution, Storage: "2-8°C", DurationHours: 48, Diluent: "NaCl 0.9%", MinConcentration: 0.1, MaxConcentration: 2, Source: "fixture"})
	doxo50 = testProduct("0000000-0000-7000-8000-000000000050", "Doxorubicine 50 mg/25 mL", FormSolution, 50, 25, fixtureOpen,
		Stability{Condition: AfterDilution, Storage: "2-8°C", DurationHours: 48, Diluent: "NaCl 0.9%", MinConcentration: 0.1, MaxConcentration: 2, Source: "fixture"})
	vcr1 = testProduct("0000000-0000-7000-8000-000000000101", "Vincristine 1 mg/1 mL", FormSolution, 1, 1, fixtureOpen)
	vcr2 = testProduct("0000000-0000-7000-8000-000000000102", "Vincristine 2 mg/2 mL", FormSolution, 2, 2, fixtureOpen)
	// MabThera SmPC 6.6: "diluted … to a calculated rituximab concentration
	// of 1 mg/ml to 4 mg/ml"; 24 h at 2–8 °C is the SmPC 6.3 in-use limit.
	ritux = Stability{Condition: AfterDilution, Storage: "2-8°C", DurationHours: 24, Diluent: "NaCl 0.9%", MinConcentration: 1, MaxConcentration: 4,
		Source: "SmPC MabThera (EMA), sections 6.3 and 6.6"}
	rtx100 = testProduct("0000000-0000-7000-8000-000000000201", "MabThera 100 mg/10 mL", FormSolution, 100, 10, ritux)
	rtx500 = testProduct("0000000-0000-7000-8000-000000000202", "MabThera 500 mg/50 mL", FormSolution, 500, 50, ritux)
	cpm500 = testProduct("0000000-0000-7000-8000-000000000301", "Endoxan 500 mg", FormPowder, 500, 25,
		Stability{Condition: AfterReconstitution, Storage: "2-8°C", DurationHours: 24, Source: "fixture"},
		Stability{Condition: AfterDilution, Storage: "2-8°C", DurationHours: 24, Diluent: "NaCl 0.9%", Source: "fixture"})
	cpm1000 = testProduct("0000000-0000-7000-8000-000000000302", "Endoxan 1000 mg", FormPowder, 1000, 50,
		Stability{Condition: AfterReconstitution, Storage: "2-8°C", DurationHours: 24, Source: "fixture"},
		Stability{Condition: AfterDilution, Storage: "2-8°C", DurationHours: 24, Diluent: "NaCl 0.9%", Source: "fixture"})
)

var planAt = time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)

func leftover(id string, p Product, mg float64, expiresIn time.Duration, status LeftoverStatus) LeftoverVial {
	return LeftoverVial{ID: ID(id), ProductID: p.ID, Brand: p.Brand, Lot: "L-" + id, Concentration: p.Concentration,
		RemainingQuantity: mg, RemainingVolumeML: mg / p.Concentration, Expiry: planAt.Add(expiresIn), Status: status}
}

type wantDraw struct {
	leftover ID
	product  ID
	volume   float64
	quantity float64
}

func TestProposeCompounding(t *testing.T) {
	cases := []struct {
		name       string
		in         PlanInput
		draws      []wantDraw
		drawn      float64
		step       float64
		wasteMg    float64 // total waste of new vials
		final      float64
		conc       float64
		blocked    string // substring of a reason; "" = not blocked
		noteHas    string
		stabHours  float64
		newVials   int
		leftChecks int
	}{
		{
			// 85 mg: ⌈85/50⌉ = 2 vials; {50, 50} covers it (100 mg, waste
			// 15 mg), {50, 10} does not (60 mg). 50 mg drawn whole (25 mL),
			// then 35 mg = 17.5 mL; waste 15 mg. Undiluted: 42.5 mL at
			// 85/42.5 = 2 mg/mL.
			name: "fewest vials", in: PlanInput{Dose: 85, Unit: "mg", Products: []Product{doxo10, doxo50}, At: planAt},
			draws: []wantDraw{{"", doxo50.ID, 25, 50}, {"", doxo50.ID, 17.5, 35}}, drawn: 85, step: 0.1, wasteMg: 15,
			final: 42.5, conc: 2, newVials: 2, stabHours: 24,
		},
		{
			// 57 mg: 2 vials; {50, 50} wastes 43 mg, {50, 10} = 60 mg wastes
			// 3 mg: the least waste wins. 50 mg whole (25 mL) + 7 mg =
			// 3.5 mL of the 10 mg vial.
			name: "then least waste", in: PlanInput{Dose: 57, Unit: "mg", Products: []Product{doxo10, doxo50}, At: planAt},
			draws: []wantDraw{{"", doxo50.ID, 25, 50}, {"", doxo10.ID, 3.5, 7}}, drawn: 57, step: 0.1, wasteMg: 3,
			final: 28.5, conc: 2, newVials: 2, stabHours: 24,
		},
		{
			// Leftovers first, earliest expiry first: B (6 mg, expires in
			// 2 h) then A (20 mg, in 10 h); C is expired and D is
			// discarded: not used. 57 − 6 − 20 = 31 mg: one 50 mg vial
			// (⌈31/50⌉ = 1), 15.5 mL, waste 19 mg.
			name: "leftovers first, earliest expiry first",
			in: PlanInput{Dose: 57, Unit: "mg", Products: []Product{doxo10, doxo50}, At: planAt, Leftovers: []LeftoverVial{
				leftover("A", doxo10, 20, 10*time.Hour, LeftoverPartlyUsed),
				leftover("B", doxo10, 6, 2*time.Hour, LeftoverOpen),
				leftover("C", doxo50, 40, -time.Minute, LeftoverOpen),
				leftover("D", doxo50, 40, 5*time.Hour, LeftoverDiscarded),
			}},
			draws: []wantDraw{{"B", doxo10.ID, 3, 6}, {"A", doxo10.ID, 10, 20}, {"", doxo50.ID, 15.5, 31}},
			drawn: 57, step: 0.1, wasteMg: 19, final: 28.5, conc: 2, newVials: 1, stabHours: 24, leftChecks: 4,
		},
		{
			// Doxorubicin 50.08 mg: {50 mg, 10 mg} vials (least waste);
			// the remainder, 0.08 mg = 0.04 mL, would round to 0 mL at
			// 0.1 mL while the total stays within tolerance (−0.16 %): a
			// vial opened for nothing and a volume no one can record.
			// Volumes go to 0.01 mL instead.
			name:  "a small remainder is measured, never a 0 mL draw",
			in:    PlanInput{Dose: 50.08, Unit: "mg", Products: []Product{doxo10, doxo50}, At: planAt},
			draws: []wantDraw{{"", doxo50.ID, 25, 50}, {"", doxo10.ID, 0.04, 0.08}}, drawn: 50.08, step: 0.01, wasteMg: 9.92,
			final: 25.04, conc: 2, newVials: 2, stabHours: 24, noteHas: "0 mL",
		},
		{
			// A leftover covers the whole dose: 12 mg of its 20 mg = 6 mL;
			// no new vial, no waste.
			name: "leftover alone",
			in: PlanInput{Dose: 12, Unit: "mg", Products: []Product{doxo10, doxo50}, At: planAt, Leftovers: []LeftoverVial{
				leftover("A", doxo10, 20, 10*time.Hour, LeftoverOpen)}},
			draws: []wantDraw{{"A", doxo10.ID, 6, 12}}, drawn: 12, step: 0.1, final: 6, conc: 2, stabHours: 24, leftChecks: 1,
		},
		{
			// What issued worksheets plan to take is not available: of A's
			// 20 mg, 15 are reserved, so 5 mg (2.5 mL) come from A and
			// 7 mg (3.5 mL) from a new 10 mg vial.
			name: "reserved part of a leftover",
			in: PlanInput{Dose: 12, Unit: "mg", Products: []Product{doxo10, doxo50}, At: planAt,
				Leftovers: []LeftoverVial{leftover("A", doxo10, 20, 10*time.Hour, LeftoverOpen)}, Reserved: map[ID]float64{"A": 15}},
			draws: []wantDraw{{"A", doxo10.ID, 2.5, 5}, {"", doxo10.ID, 3.5, 7}}, drawn: 12, step: 0.1, wasteMg: 3,
			final: 6, conc: 2, newVials: 1, stabHours: 24, leftChecks: 1,
		},
		{
			// 33.33 mg at 2 mg/mL = 16.665 mL, rounded to 16.7 mL = 33.4 mg:
			// +0.21 %, within 1 %.
			name: "rounded to 0.1 mL", in: PlanInput{Dose: 33.33, Unit: "mg", Products: []Product{doxo50}, At: planAt},
			draws: []wantDraw{{"", doxo50.ID, 16.7, 33.4}}, drawn: 33.4, step: 0.1, wasteMg: 16.67, final: 16.7, conc: 2, newVials: 1, stabHours: 24,
		},
		{
			// Vincristine 0.37 mg: the 1 mg vial wastes least (0.63 mg vs
			// 1.63 mg). 0.37 mL rounded to 0.4 mL would give 0.4 mg
			// (+8.1 %): rounded to 0.01 mL instead, 0.37 mL = 0.37 mg.
			name: "small volume rounded to 0.01 mL", in: PlanInput{Dose: 0.37, Unit: "mg", Products: []Product{vcr1, vcr2}, At: planAt},
			draws: []wantDraw{{"", vcr1.ID, 0.37, 0.37}}, drawn: 0.37, step: 0.01, wasteMg: 0.63, final: 0.37, conc: 1, newVials: 1,
			noteHas: "0.01 mL", stabHours: 24,
		},
		{
			// 0.033 mg = 0.033 mL: 0.03 mL gives 0.03 mg, −9.09 %: blocked.
			name: "too small to measure", in: PlanInput{Dose: 0.033, Unit: "mg", Products: []Product{vcr1}, At: planAt},
			draws: []wantDraw{{"", vcr1.ID, 0.03, 0.03}}, drawn: 0.03, step: 0.01, wasteMg: 0.967, final: 0.03, conc: 1, newVials: 1,
			blocked: "-9.09 %", stabHours: 24,
		},
		{
			// Rituximab 750 mg in 500 mL: ⌈750/500⌉ = 2 vials of 500 mg
			// (waste 250 mg): 50 mL + 25 mL = 75 mL; final 575 mL;
			// 750/575 = 1.304 mg/mL, inside 1–4 mg/mL.
			name: "diluted in range", in: PlanInput{Dose: 750, Unit: "mg", Products: []Product{rtx100, rtx500}, At: planAt, Vehicle: "NaCl 0,9 %", VolumeML: 500},
			draws: []wantDraw{{"", rtx500.ID, 50, 500}, {"", rtx500.ID, 25, 250}}, drawn: 750, step: 0.1, wasteMg: 250,
			final: 575, conc: 750.0 / 575, newVials: 2, stabHours: 24,
		},
		{
			// 100 mg in 500 mL: 100/510 = 0.196 mg/mL, below 1 mg/mL: blocked
			// with the range.
			name: "diluted out of range", in: PlanInput{Dose: 100, Unit: "mg", Products: []Product{rtx100, rtx500}, At: planAt, Vehicle: "NaCl 0.9%", VolumeML: 500},
			draws: []wantDraw{{"", rtx100.ID, 10, 100}}, drawn: 100, step: 0.1, final: 510, conc: 100.0 / 510, newVials: 1,
			blocked: "0.196 mg/mL is outside the stability range of MabThera 100 mg/10 mL in NaCl 0.9% (1–4 mg/mL",
		},
		{
			// No volume prescribed: 375 mg = 37.5 mL of a 500 mg vial; a
			// 50 mL bag gives 375/87.5 = 4.29 mg/mL (above 4), a 100 mL bag
			// 375/137.5 = 2.73 mg/mL: the 100 mL bag.
			name: "bag chosen from stock", in: PlanInput{Dose: 375, Unit: "mg", Products: []Product{rtx100, rtx500}, At: planAt, Vehicle: "NaCl 0.9%",
				Diluents: []Diluent{{Name: "NaCl 0.9%", VolumesML: []float64{500, 50, 250, 100}}}},
			draws: []wantDraw{{"", rtx500.ID, 37.5, 375}}, drawn: 375, step: 0.1, wasteMg: 125, final: 137.5, conc: 375 / 137.5, newVials: 1,
			noteHas: "100 mL bag", stabHours: 24,
		},
		{
			// Cyclophosphamide 1500 mg: 2 vials; {1000, 500} wastes nothing,
			// {1000, 1000} 500 mg. Both drawn whole: 50 + 25 = 75 mL; in a
			// 250 mL bag: 1500/325 = 4.62 mg/mL (no range in the entry).
			name: "powders drawn whole", in: PlanInput{Dose: 1500, Unit: "mg", Products: []Product{cpm500, cpm1000}, At: planAt, Vehicle: "NaCl 0.9%", VolumeML: 250},
			draws: []wantDraw{{"", cpm1000.ID, 50, 1000}, {"", cpm500.ID, 25, 500}}, drawn: 1500, step: 0.1,
			final: 325, conc: 1500.0 / 325, newVials: 2, stabHours: 24,
		},
		{
			name: "no stability after dilution in that vehicle", in: PlanInput{Dose: 50, Unit: "mg", Products: []Product{doxo50}, At: planAt, Vehicle: "G5%", VolumeML: 100},
			draws: []wantDraw{{"", doxo50.ID, 25, 50}}, drawn: 50, step: 0.1, final: 125, conc: 0.4, newVials: 1,
			blocked: "no stability data after dilution in G5%",
		},
		{
			name: "no product in the dose's unit", in: PlanInput{Dose: 50, Unit: "U", Products: []Product{doxo50}, At: planAt},
			blocked: "no injectable product of this drug in U",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := ProposeCompounding(c.in)
			if got := strings.Join(p.Reasons, "; "); (c.blocked == "") != !p.Blocked || !strings.Contains(got, c.blocked) {
				t.Fatalf("blocked = %v (%s); want blocked containing %q", p.Blocked, got, c.blocked)
			}
			if len(p.Draws) != len(c.draws) {
				t.Fatalf("draws = %+v; want %+v", p.Draws, c.draws)
			}
			for i, w := range c.draws {
				d := p.Draws[i]
				if d.LeftoverID != w.leftover || d.ProductID != w.product || !near(d.VolumeML, w.volume) || !near(d.Quantity, w.quantity) {
					t.Errorf("draw %d = %s %s %v mL %v mg; want %s %s %v mL %v mg", i, d.LeftoverID, d.Brand, d.VolumeML, d.Quantity,
						w.leftover, w.product, w.volume, w.quantity)
				}
			}
			if len(c.draws) == 0 {
				return
			}
			if !near(p.DrawnQuantity, c.drawn) || p.StepML != c.step || p.NewVials != c.newVials {
				t.Errorf("drawn %v mg step %v new vials %d; want %v, %v, %d", p.DrawnQuantity, p.StepML, p.NewVials, c.drawn, c.step, c.newVials)
			}
			waste := 0.0
			for _, w := range p.Waste {
				waste += w.Quantity
			}
			if !near(waste, c.wasteMg) {
				t.Errorf("waste %v mg; want %v (%+v)", waste, c.wasteMg, p.Waste)
			}
			if !near(p.FinalVolumeML, c.final) || math.Abs(p.FinalConcentration-c.conc) > 1e-9 {
				t.Errorf("final %v mL at %v; want %v mL at %v", p.FinalVolumeML, p.FinalConcentration, c.final, c.conc)
			}
			if c.stabHours != 0 && (p.Stability == nil || p.Stability.DurationHours != c.stabHours) {
				t.Errorf("stability = %+v; want %v h", p.Stability, c.stabHours)
			}
			if c.noteHas != "" && !strings.Contains(strings.Join(p.Notes, "\n"), c.noteHas) {
				t.Errorf("notes do not say %q:\n%s", c.noteHas, strings.Join(p.Notes, "\n"))
			}
			if len(p.Leftovers) != c.leftChecks {
				t.Errorf("leftover checks = %+v; want %d", p.Leftovers, c.leftChecks)
			}
		})
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

func TestProposeSaysWhyALeftoverIsNotUsed(t *testing.T) {
	p := ProposeCompounding(PlanInput{Dose: 10, Unit: "mg", Products: []Product{doxo10}, At: planAt, Leftovers: []LeftoverVial{
		leftover("C", doxo10, 8, -time.Minute, LeftoverOpen),
		leftover("V", vcr1, 1, time.Hour, LeftoverOpen),
	}})
	reasons := map[ID]string{}
	for _, l := range p.Leftovers {
		if l.Usable {
			t.Errorf("%s was found usable", l.LeftoverID)
		}
		reasons[l.LeftoverID] = l.Reason
	}
	if !strings.HasPrefix(reasons["C"], "expired at") || !strings.Contains(reasons["V"], "not one of this drug") {
		t.Fatalf("reasons = %v", reasons)
	}
	if p.Draws[0].Leftover {
		t.Fatalf("an expired leftover was drawn from: %+v", p.Draws)
	}
}

func TestSameDiluentAndStorage(t *testing.T) {
	if !SameDiluent("NaCl 0,9 %", "nacl 0.9%") || SameDiluent("NaCl 0.9%", "G5%") {
		t.Error("SameDiluent")
	}
	if !SameStorage("2-8°C", "2 – 8 °C") || !SameStorage("2 à 8 °C", "2-8°C") || SameStorage("2-8°C", "25°C") {
		t.Error("SameStorage")
	}
}
