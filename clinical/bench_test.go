package clinical

import "testing"

// cycleRules is a 10-line paediatric cycle using every rule kind and
// option: per_m2 with a BSA cap and a maximum dose, per_kg, auc, flat,
// age_band, the infant rule, banding, rounding and adjustments.
func cycleRules() []Rule {
	itBands := []AgeBand{
		{MinAgeMonths: 12, MaxAgeMonths: 24, Dose: 8},
		{MinAgeMonths: 24, MaxAgeMonths: 36, Dose: 10},
		{MinAgeMonths: 36, MaxAgeMonths: 108, Dose: 12},
		{MinAgeMonths: 108, Dose: 15},
	}
	return []Rule{
		// vincristine
		{Kind: "per_m2", Dose: 1.5, Unit: "mg", MaxDose: 2, Infant: &InfantRule{BelowWeightKg: 10, BelowAgeMonths: 12}},
		// doxorubicin
		{Kind: "per_m2", Dose: 30, Unit: "mg", BSACapM2: 2, RoundingStep: 1},
		// cyclophosphamide, banded
		{Kind: "per_m2", Dose: 1200, Unit: "mg", Bands: []float64{400, 500, 600, 700, 800, 900, 1000, 1200, 1400, 1600, 1800, 2000}},
		// dactinomycin
		{Kind: "per_kg", Dose: 45, Unit: "µg", MaxDose: 2000, RoundingStep: 10},
		// carboplatin
		{Kind: "auc", AUC: 6.6, Unit: "mg", GFR: &GFRRule{Method: "schwartz_bedside", CapMLMin: 125}, RoundingStep: 10},
		// intrathecal methotrexate
		{Kind: "age_band", Unit: "mg", AgeBands: itBands},
		// ondansetron
		{Kind: "flat", Dose: 4, Unit: "mg"},
		// etoposide, reduced
		{Kind: "per_m2", Dose: 100, Unit: "mg", BSAFormula: "haycock", Adjustment: &Adjustment{Percent: f64(-25), Reason: "mucite grade 3 au cycle précédent"}},
		// mesna
		{Kind: "per_kg", Dose: 60, Unit: "mg", RoundingStep: 50},
		// intrathecal cytarabine, dose set by the prescriber
		{Kind: "age_band", Unit: "mg", AgeBands: []AgeBand{{MinAgeMonths: 0, MaxAgeMonths: 36, Dose: 30}, {MinAgeMonths: 36, Dose: 70}}, Adjustment: &Adjustment{Value: f64(50), Reason: "décision RCP"}},
	}
}

// BenchmarkCycle10Lines computes the ten doses of a cycle, with their
// derivations. Target: under 50 µs per cycle on one core.
func BenchmarkCycle10Lines(b *testing.B) {
	rules := cycleRules()
	p := Patient{AgeYears: years(4), Sex: "M", HeightCm: 105, WeightKg: 17, CreatinineUmolL: 30}
	b.ReportAllocs()
	for b.Loop() {
		for _, r := range rules {
			if _, err := Dose(r, p); err != nil {
				b.Fatal(err)
			}
		}
	}
}
