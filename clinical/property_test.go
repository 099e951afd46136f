package clinical

import (
	"math"
	"math/rand/v2"
	"testing"
)

// Property tests: random rules and patients over the plausible ranges,
// with a fixed seed so that a failure can be replayed.

func uniform(r *rand.Rand, lo, hi float64) float64 { return lo + r.Float64()*(hi-lo) }

// randomRule makes a valid per_m2 or per_kg rule with random caps,
// rounding, banding and adjustment.
func randomRule(r *rand.Rand, kind string) Rule {
	rule := Rule{Kind: kind, Unit: "mg", Dose: clean(uniform(r, 0.05, 3000))}
	if kind == KindPerM2 && r.IntN(2) == 0 {
		rule.BSACapM2 = []float64{1.5, 2, 2.2}[r.IntN(3)]
	}
	if r.IntN(2) == 0 {
		rule.RoundingStep = []float64{0.01, 0.1, 0.5, 1, 5, 10, 25}[r.IntN(7)]
	}
	if r.IntN(2) == 0 {
		m := uniform(r, 0.5, 5000)
		if rule.RoundingStep > 0 {
			m = math.Max(1, math.Round(m/rule.RoundingStep)) * rule.RoundingStep
			m = clean(m)
		} else {
			m = roundDisplay(m)
		}
		rule.MaxDose = m
	}
	switch r.IntN(4) {
	case 0:
		rule.Adjustment = &Adjustment{Percent: f64(math.Round(uniform(r, -90, 50))), Reason: "test"}
		if *rule.Adjustment.Percent == 0 {
			rule.Adjustment = nil
		}
	case 1:
		// Bands at or below the maximum dose.
		hi := 6000.0
		if rule.MaxDose > 0 {
			hi = rule.MaxDose
		}
		for b := hi / 8; b <= hi; b += hi / 8 {
			rule.Bands = append(rule.Bands, clean(b))
		}
	}
	return rule
}

func randomPatient(r *rand.Rand) Patient {
	return Patient{HeightCm: clean(uniform(r, 45, 200)), WeightKg: clean(uniform(r, 2.5, 150))}
}

func TestPropertyBSAMonotonic(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, f := range BSAFormulas {
		for i := 0; i < 2000; i++ {
			h, w := uniform(r, 20, 250), uniform(r, 0.3, 300)
			h2, w2 := math.Min(250, h+uniform(r, 0, 20)), math.Min(300, w+uniform(r, 0, 20))
			b, _ := BSA(f, h, w)
			bh, _ := BSA(f, h2, w)
			bw, _ := BSA(f, h, w2)
			if bh.Value < b.Value || bw.Value < b.Value {
				t.Fatalf("%s not monotonic at %v cm %v kg: %v; taller %v; heavier %v", f, h, w, b.Value, bh.Value, bw.Value)
			}
		}
	}
}

// The dose never decreases when the patient is taller or heavier, caps,
// adjustment, banding and rounding included.
func TestPropertyDoseMonotonic(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 3000; i++ {
		kind := []string{KindPerM2, KindPerKg}[r.IntN(2)]
		rule := randomRule(r, kind)
		if err := ValidateRule(rule); err != nil {
			t.Fatalf("random rule invalid: %v\n%+v", err, rule)
		}
		p := randomPatient(r)
		q := p
		q.HeightCm = math.Min(250, p.HeightCm+uniform(r, 0, 10))
		q.WeightKg = math.Min(300, p.WeightKg+uniform(r, 0, 10))
		a, errA := Dose(rule, p)
		b, errB := Dose(rule, q)
		if errA != nil || errB != nil {
			// Only a rounding to 0 may be refused (a step too coarse).
			continue
		}
		if b.Value < a.Value {
			t.Fatalf("dose decreased from %v to %v for %+v → %+v\nrule %+v", a.Value, b.Value, p, q, rule)
		}
	}
}

func TestPropertyCapsAndRounding(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 5000; i++ {
		kind := []string{KindPerM2, KindPerKg}[r.IntN(2)]
		rule := randomRule(r, kind)
		p := randomPatient(r)
		res, err := Dose(rule, p)
		if err != nil {
			wantFieldError(t, err, "rule.rounding_step", "gives 0")
			continue
		}
		f := res.Facts
		if rule.MaxDose > 0 && res.Value > rule.MaxDose {
			t.Fatalf("dose %v above max_dose %v: %+v", res.Value, rule.MaxDose, rule)
		}
		if rule.BSACapM2 > 0 && f.BSAM2 != nil && *f.BSAM2 > rule.BSACapM2 {
			t.Fatalf("BSA %v above the cap %v", *f.BSAM2, rule.BSACapM2)
		}
		if f.RoundingStep > 0 {
			if d := math.Abs(res.Value - f.DoseBeforeRounding); d > f.RoundingStep/2*(1+1e-9) {
				t.Fatalf("rounding moved %v to %v (step %v)", f.DoseBeforeRounding, res.Value, f.RoundingStep)
			}
			if !isMultiple(res.Value, f.RoundingStep) {
				t.Fatalf("%v is not on the %v step", res.Value, f.RoundingStep)
			}
		}
		if f.Banded {
			tol := rule.BandTolerancePct
			if tol == 0 {
				tol = DefaultBandTolerancePct
			}
			if math.Abs(res.Value-f.DoseBeforeRounding) > f.DoseBeforeRounding*tol/100*(1+1e-9) {
				t.Fatalf("band %v is more than %v %% from %v", res.Value, tol, f.DoseBeforeRounding)
			}
		}
		if !(res.Value > 0) {
			t.Fatalf("dose %v", res.Value)
		}
	}
	// Carboplatin: the GFR used never exceeds the cap.
	for i := 0; i < 2000; i++ {
		capMLMin := []float64{100, 125, 150}[r.IntN(3)]
		p := Patient{AgeYears: years(uniform(r, 18, 90)), Sex: []string{"M", "F"}[r.IntN(2)], HeightCm: uniform(r, 140, 200),
			WeightKg: uniform(r, 35, 150), CreatinineUmolL: uniform(r, 30, 400)}
		method := []string{"cockcroft_gault", "ckd_epi_2021"}[r.IntN(2)]
		res, err := Dose(Rule{Kind: "auc", AUC: uniform(r, 1, 8), Unit: "mg", GFR: &GFRRule{Method: method, CapMLMin: capMLMin}}, p)
		if err != nil {
			t.Fatal(err)
		}
		if *res.Facts.GFRMLMin > capMLMin {
			t.Fatalf("GFR %v above the cap %v", *res.Facts.GFRMLMin, capMLMin)
		}
	}
}
