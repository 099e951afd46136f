package clinical

import (
	"testing"
)

func TestValidateRuleAcceptsEveryKind(t *testing.T) {
	for i, r := range cycleRules() {
		if err := ValidateRule(r); err != nil {
			t.Errorf("rule %d: %v", i, err)
		}
	}
}

func TestValidateRuleNamesTheField(t *testing.T) {
	base := func(mod func(*Rule)) Rule {
		r := Rule{Kind: "per_m2", Dose: 1.5, Unit: "mg", MaxDose: 2}
		mod(&r)
		return r
	}
	itBands := func(mod func([]AgeBand)) Rule {
		b := []AgeBand{{MinAgeMonths: 12, MaxAgeMonths: 24, Dose: 8}, {MinAgeMonths: 24, MaxAgeMonths: 36, Dose: 10}, {MinAgeMonths: 36, Dose: 12}}
		mod(b)
		return Rule{Kind: "age_band", Unit: "mg", AgeBands: b}
	}
	tests := []struct {
		name  string
		rule  Rule
		field string
		words []string
	}{
		{"no kind", Rule{Dose: 1, Unit: "mg"}, "kind", []string{"required"}},
		{"unknown kind", Rule{Kind: "per_m3", Dose: 1, Unit: "mg"}, "kind", []string{"per_m2"}},
		{"no unit", base(func(r *Rule) { r.Unit = "" }), "unit", []string{"required"}},
		{"unknown unit", base(func(r *Rule) { r.Unit = "ml" }), "unit", []string{"mg"}},
		{"auc not in mg", Rule{Kind: "auc", AUC: 5, Unit: "g"}, "unit", []string{"mg"}},
		{"no dose", base(func(r *Rule) { r.Dose = 0 }), "dose", []string{"missing"}},
		{"negative dose", base(func(r *Rule) { r.Dose = -1 }), "dose", []string{"negative"}},
		{"dose on an age_band rule", itBands(func([]AgeBand) {}), "", nil}, // valid: checked below with Dose set
		{"no auc", Rule{Kind: "auc", Unit: "mg"}, "auc", []string{"missing"}},
		{"auc out of range", Rule{Kind: "auc", AUC: 60, Unit: "mg"}, "auc", []string{"0.5–20"}},
		{"auc on a per_m2 rule", base(func(r *Rule) { r.AUC = 5 }), "auc", []string{"not used"}},
		{"unknown gfr method", Rule{Kind: "auc", AUC: 5, Unit: "mg", GFR: &GFRRule{Method: "mdrd"}}, "gfr.method", []string{"cockcroft_gault"}},
		{"weight basis with ckd-epi", Rule{Kind: "auc", AUC: 5, Unit: "mg", GFR: &GFRRule{Method: "ckd_epi_2021", WeightBasis: "ideal"}}, "gfr.weight_basis", nil},
		{"gfr cap out of range", Rule{Kind: "auc", AUC: 5, Unit: "mg", GFR: &GFRRule{CapMLMin: 1250}}, "gfr.cap_ml_min", []string{"10–250"}},
		{"gfr on a flat rule", Rule{Kind: "flat", Dose: 4, Unit: "mg", GFR: &GFRRule{}}, "gfr", nil},
		{"unknown bsa formula", base(func(r *Rule) { r.BSAFormula = "square" }), "bsa_formula", []string{"mosteller"}},
		{"bsa formula on per_kg", Rule{Kind: "per_kg", Dose: 1, Unit: "mg", BSAFormula: "dubois"}, "bsa_formula", nil},
		{"bsa cap out of range", base(func(r *Rule) { r.BSACapM2 = 20 }), "bsa_cap_m2", []string{"0.2–4"}},
		{"infant without threshold", base(func(r *Rule) { r.Infant = &InfantRule{Divisor: 30} }), "infant", []string{"threshold"}},
		{"infant negative divisor", base(func(r *Rule) { r.Infant = &InfantRule{BelowWeightKg: 10, Divisor: -30} }), "infant.divisor", nil},
		{"infant on per_kg", Rule{Kind: "per_kg", Dose: 1, Unit: "mg", Infant: &InfantRule{BelowWeightKg: 10}}, "infant", nil},
		{"no age bands", Rule{Kind: "age_band", Unit: "mg"}, "age_bands", []string{"at least one"}},
		{"open band not last", itBands(func(b []AgeBand) { b[1].MaxAgeMonths = 0 }), "age_bands[1].max_age_months", []string{"last band"}},
		{"band upside down", itBands(func(b []AgeBand) { b[0].MaxAgeMonths = 6 }), "age_bands[0].max_age_months", nil},
		{"overlapping bands", itBands(func(b []AgeBand) { b[2].MinAgeMonths = 30 }), "age_bands[2].min_age_months", []string{"overlap"}},
		{"band without dose", itBands(func(b []AgeBand) { b[1].Dose = 0 }), "age_bands[1].dose", nil},
		{"age bands on per_m2", base(func(r *Rule) { r.AgeBands = []AgeBand{{Dose: 1}} }), "age_bands", nil},
		{"negative rounding step", base(func(r *Rule) { r.RoundingStep = -0.1 }), "rounding_step", nil},
		{"max dose off the step", base(func(r *Rule) { r.MaxDose, r.RoundingStep = 2.05, 0.1 }), "max_dose", []string{"multiple"}},
		{"max dose finer than display", base(func(r *Rule) { r.MaxDose = 2.005 }), "max_dose", []string{"display precision"}},
		{"bands out of order", base(func(r *Rule) { r.MaxDose, r.Bands = 0, []float64{10, 12, 11} }), "bands[2]", []string{"increasing"}},
		{"band above max dose", base(func(r *Rule) { r.Bands = []float64{1, 1.5, 2.5} }), "bands[2]", []string{"maximum"}},
		{"tolerance without bands", base(func(r *Rule) { r.BandTolerancePct = 5 }), "band_tolerance_pct", nil},
		{"adjustment empty", base(func(r *Rule) { r.Adjustment = &Adjustment{Reason: "x"} }), "adjustment", []string{"percent", "value"}},
		{"adjustment both", base(func(r *Rule) { r.Adjustment = &Adjustment{Percent: f64(-10), Value: f64(1), Reason: "x"} }), "adjustment.value", []string{"not both"}},
		{"adjustment without reason", base(func(r *Rule) { r.Adjustment = &Adjustment{Percent: f64(-25), Reason: "  "} }), "adjustment.reason", []string{"required"}},
		{"adjustment -100 %", base(func(r *Rule) { r.Adjustment = &Adjustment{Percent: f64(-100), Reason: "x"} }), "adjustment.percent", []string{"cancel the line"}},
		{"adjustment 0 %", base(func(r *Rule) { r.Adjustment = &Adjustment{Percent: f64(0), Reason: "x"} }), "adjustment.percent", nil},
		{"adjusted value above max", base(func(r *Rule) { r.Adjustment = &Adjustment{Value: f64(2.5), Reason: "x"} }), "adjustment.value", []string{"maximum"}},
		{"adjusted value off the step", base(func(r *Rule) { r.RoundingStep, r.Adjustment = 0.5, &Adjustment{Value: f64(1.2), Reason: "x"} }), "adjustment.value", []string{"multiple"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateRule(tt.rule)
			if tt.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantFieldError(t, err, tt.field, tt.words...)
		})
	}
	// An age_band rule takes its doses from the table, not from dose.
	r := itBands(func([]AgeBand) {})
	r.Dose = 10
	wantFieldError(t, ValidateRule(r), "dose", "not used")
}

// Several faults are reported together, each with its field.
func TestValidateRuleReportsAll(t *testing.T) {
	err := ValidateRule(Rule{Kind: "per_m2", Unit: "ml", Adjustment: &Adjustment{Percent: f64(-25)}})
	got := map[string]bool{}
	for _, e := range FieldErrors(err) {
		got[e.Field] = true
	}
	for _, f := range []string{"unit", "dose", "adjustment.reason"} {
		if !got[f] {
			t.Errorf("no error on %s: %v", f, err)
		}
	}
}
