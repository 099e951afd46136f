package clinical

import (
	"math"
	"testing"
)

// FuzzDose: whatever numbers a rule and a patient carry, Dose never panics;
// it either refuses with field errors that say which field and why, or
// gives a finite, non-negative dose in the rule's unit, never above the
// rule's maximum, with its derivation — and the same dose every time.
func FuzzDose(f *testing.F) {
	// Seeds: vincristine 1.5 mg/m² capped at 2 mg with the infant rule
	// (COG/SIOP practice), carboplatin AUC 5 by Calvert (Calvert AH, J Clin
	// Oncol 1989;7:1748), an age-banded intrathecal methotrexate, a per-kg
	// dose with a 20 % reduction.
	f.Add(uint8(0), 1.5, uint8(0), 0.0, 0.0, 2.0, 0.0, 10.0, 12.0, 0.0, 0.0, 4.0, uint8(0), 105.0, 17.0, 30.0)
	f.Add(uint8(2), 0.0, uint8(0), 5.0, 0.0, 0.0, 10.0, 0.0, 0.0, 0.0, 125.0, 60.0, uint8(1), 165.0, 62.0, 80.0)
	f.Add(uint8(4), 0.0, uint8(0), 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0, uint8(0), 88.0, 12.0, 25.0)
	f.Add(uint8(1), 1.5, uint8(0), 0.0, 0.0, 0.0, 0.5, 0.0, 0.0, -20.0, 0.0, 9.0, uint8(1), 130.0, 28.0, 40.0)
	f.Add(uint8(0), 1e308, uint8(3), 0.0, 2.0, 1e-300, 1e-300, 1e308, -1.0, 100.0, 1e308, -1.0, uint8(2), math.Inf(1), math.NaN(), -0.0)
	kinds := []string{"per_m2", "per_kg", "auc", "flat", "age_band", "", "per_m3"}
	units := []string{"mg", "g", "µg", "mcg", "IU", "U", "", "ml"}
	sexes := []string{"M", "F", "", "X"}
	f.Fuzz(func(t *testing.T, kind uint8, dose float64, unit uint8, auc, bsaCap, maxDose, step, infantKg, infantMonths, pct, gfrCap, age float64, sex uint8, height, weight, creat float64) {
		r := Rule{Kind: kinds[int(kind)%len(kinds)], Dose: dose, Unit: units[int(unit)%len(units)], AUC: auc, BSACapM2: bsaCap,
			MaxDose: maxDose, RoundingStep: step}
		if infantKg != 0 || infantMonths != 0 {
			r.Infant = &InfantRule{BelowWeightKg: infantKg, BelowAgeMonths: infantMonths}
		}
		if r.Kind == "auc" {
			r.GFR = &GFRRule{Method: "cockcroft_gault", CapMLMin: gfrCap}
		}
		if r.Kind == "age_band" {
			r.AgeBands = []AgeBand{{MinAgeMonths: 0, MaxAgeMonths: 12, Dose: 6}, {MinAgeMonths: 12, MaxAgeMonths: 36, Dose: 8}, {MinAgeMonths: 36, Dose: 12}}
		}
		if pct != 0 {
			p := pct
			r.Adjustment = &Adjustment{Percent: &p, Reason: "fuzz"}
		}
		p := Patient{AgeYears: &age, Sex: sexes[int(sex)%len(sexes)], HeightCm: height, WeightKg: weight, CreatinineUmolL: creat}
		res, err := Dose(r, p)
		if err != nil {
			fes := FieldErrors(err)
			if len(fes) == 0 {
				t.Fatalf("refused without saying which field: %v", err)
			}
			for _, fe := range fes {
				if fe.Field == "" || fe.Message == "" {
					t.Fatalf("a field error without its field or message: %+v", fe)
				}
			}
			return
		}
		if math.IsNaN(res.Value) || math.IsInf(res.Value, 0) || res.Value < 0 {
			t.Fatalf("dose %v from %+v %+v", res.Value, r, p)
		}
		if r.MaxDose > 0 && res.Value > r.MaxDose {
			t.Fatalf("dose %v above the maximum %v: %+v", res.Value, r.MaxDose, r)
		}
		if len(res.Steps) == 0 {
			t.Fatalf("a dose of %v without its derivation", res.Value)
		}
		again, err := Dose(r, p)
		if err != nil || again.Value != res.Value {
			t.Fatalf("the same rule and patient gave %v, then %v (%v)", res.Value, again.Value, err)
		}
	})
}
