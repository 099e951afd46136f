package clinical

import (
	"encoding/json"
	"strings"
	"testing"
)

// A child of 140 cm and 32 kg: Mosteller BSA √(140 × 32 / 3600) = 1.115547 m².
var child = Patient{AgeYears: years(9), Sex: "F", HeightCm: 140, WeightKg: 32}

func TestDosePerM2(t *testing.T) {
	// Vincristine 1.5 mg/m², maximum 2 mg (the usual paediatric cap):
	// 1.5 × 1.115547 = 1.673320 mg → display precision 0.01 → 1.67 mg.
	rule := Rule{Kind: "per_m2", Dose: 1.5, Unit: "mg", MaxDose: 2}
	r, err := Dose(rule, child)
	if err != nil {
		t.Fatal(err)
	}
	if r.Value != 1.67 || r.Unit != "mg" {
		t.Fatalf("dose %v %s, want 1.67 mg", r.Value, r.Unit)
	}
	codes := stepCodes(r)
	if codes != "bsa.mosteller dose.per_m2 dose.max_dose dose.precision dose.final" {
		t.Errorf("steps %s", codes)
	}
	f := r.Facts
	approx(t, "bsa_m2", *f.BSAM2, 1.115547, 1e-6)
	approx(t, "calculated_dose", f.CalculatedDose, 1.673320, 1e-6)
	if f.MaxDoseApplied || f.BSAFormula != "mosteller" || f.RoundingStep != 0.01 || f.InfantRule {
		t.Errorf("facts %+v", f)
	}
	if s := findStep(t, r, "dose.max_dose"); !strings.Contains(s.FR, "Dose maximale 2 mg non atteinte") {
		t.Errorf("max dose step %q", s.FR)
	}
	if s := findStep(t, r, "dose.precision"); !strings.Contains(s.EN, "1.67332 mg → 1.67 mg") {
		t.Errorf("rounding step %q", s.EN)
	}

	// 160 cm, 50 kg: BSA √(8000/3600) = 1.490712; 1.5 × 1.490712 =
	// 2.236068 mg > 2 mg → capped at 2 mg.
	r, err = Dose(rule, Patient{HeightCm: 160, WeightKg: 50})
	if err != nil {
		t.Fatal(err)
	}
	if r.Value != 2 || !r.Facts.MaxDoseApplied {
		t.Fatalf("dose %v, capped %v; want 2, true", r.Value, r.Facts.MaxDoseApplied)
	}
	if s := findStep(t, r, "dose.max_dose"); s.FR != "Dose plafonnée à 2 mg (dose calculée 2,236 mg)" || s.EN != "Dose capped at 2 mg (calculated dose 2.236 mg)" {
		t.Errorf("max dose step %q / %q", s.FR, s.EN)
	}
}

func TestDoseBSACap(t *testing.T) {
	// 190 cm, 110 kg: BSA √(20900/3600) = 2.409472 m² > cap 2 m²;
	// 100 mg/m² × 2 m² = 200 mg.
	r, err := Dose(Rule{Kind: "per_m2", Dose: 100, Unit: "mg", BSACapM2: 2, BSAFormula: "mosteller"}, Patient{HeightCm: 190, WeightKg: 110})
	if err != nil {
		t.Fatal(err)
	}
	if r.Value != 200 || !r.Facts.BSACapped || *r.Facts.BSAM2 != 2 {
		t.Fatalf("dose %v, facts %+v", r.Value, r.Facts)
	}
	approx(t, "bsa_calculated_m2", *r.Facts.BSACalculatedM2, 2.409472, 1e-6)
	if s := findStep(t, r, "bsa.cap"); s.FR != "Surface corporelle plafonnée à 2 m² (surface calculée 2,409 m²)" {
		t.Errorf("cap step %q", s.FR)
	}
}

func TestDosePerKg(t *testing.T) {
	// Dactinomycin 45 µg/kg, maximum 2000 µg: 20 kg → 900 µg; 60 kg →
	// 2700 µg capped at 2000 µg.
	rule := Rule{Kind: "per_kg", Dose: 45, Unit: "µg", MaxDose: 2000}
	r, err := Dose(rule, Patient{WeightKg: 20})
	if err != nil {
		t.Fatal(err)
	}
	if r.Value != 900 || r.Unit != "µg" || *r.Facts.WeightKg != 20 {
		t.Fatalf("%v %s %+v", r.Value, r.Unit, r.Facts)
	}
	if s := findStep(t, r, "dose.per_kg"); s.EN != "Dose = 45 µg/kg × 20 kg = 900 µg" {
		t.Errorf("step %q", s.EN)
	}
	r, err = Dose(rule, Patient{WeightKg: 60})
	if err != nil || r.Value != 2000 || !r.Facts.MaxDoseApplied {
		t.Fatalf("%v %v", r.Value, err)
	}
	// 0.1 mg/kg × 3 kg is 0.30000000000000004 in binary; the dose is 0.3
	// and prints as 0.3.
	r, err = Dose(Rule{Kind: "per_kg", Dose: 0.1, Unit: "mg"}, Patient{WeightKg: 3})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(r)
	if r.Value != 0.3 || strings.Contains(string(b), "0000000") {
		t.Errorf("noise reached the result: %s", b)
	}
}

func TestDoseAUC(t *testing.T) {
	man := Patient{AgeYears: years(60), Sex: "M", HeightCm: 175, WeightKg: 72, CreatinineUmolL: 88.42}
	// Cockcroft–Gault (140 − 60) × 72 / (72 × 1) = 80 mL/min; Calvert
	// 5 × (80 + 25) = 525 mg; rounded to 10 mg: 52.5 steps → 53 → 530 mg
	// (halves away from zero).
	r, err := Dose(Rule{Kind: "auc", AUC: 5, Unit: "mg", GFR: &GFRRule{Method: "cockcroft_gault", CapMLMin: 125}, RoundingStep: 10}, man)
	if err != nil {
		t.Fatal(err)
	}
	if r.Value != 530 || r.Facts.CalculatedDose != 525 || *r.Facts.GFRMLMin != 80 || r.Facts.GFRCapped || r.Facts.GFRMethod != "cockcroft_gault" {
		t.Fatalf("%v %+v", r.Value, r.Facts)
	}
	if codes := stepCodes(r); codes != "creatinine.mg_dl gfr.cockcroft_gault gfr.cap dose.calvert dose.rounding dose.final" {
		t.Errorf("steps %s", codes)
	}
	if s := findStep(t, r, "dose.rounding"); s.FR != "Arrondi au pas de 10 mg : 525 mg → 530 mg (+5 mg, +0,952 %)" {
		t.Errorf("rounding step %q", s.FR)
	}

	// The default method is Cockcroft–Gault on actual weight, shown in
	// the steps.
	r, err = Dose(Rule{Kind: "auc", AUC: 5, Unit: "mg"}, man)
	if err != nil || r.Value != 525 || r.Facts.GFRMethod != "cockcroft_gault" {
		t.Fatalf("%v %v", r.Value, err)
	}

	// Measured GFR 140 mL/min, capped at 125: 5 × 150 = 750 mg (NCCN
	// Chemotherapy Order Templates, Appendix B, 2018).
	r, err = Dose(Rule{Kind: "auc", AUC: 5, Unit: "mg", GFR: &GFRRule{Method: "measured", CapMLMin: 125}}, Patient{GFRMLMin: 140})
	if err != nil || r.Value != 750 || !r.Facts.GFRCapped || *r.Facts.GFRCalculatedMLMin != 140 {
		t.Fatalf("%v %+v %v", r.Value, r.Facts, err)
	}

	// CKD-EPI 2021 is indexed to 1.73 m²: woman 50 y, 0.7 mg/dL →
	// 105.2976 mL/min/1.73 m² (Inker 2021); BSA √(160 × 60 / 3600) =
	// 1.632993 m²; de-indexed 105.2976 × 1.632993 / 1.73 = 99.39322 mL/min;
	// 5 × (99.39322 + 25) = 621.9661 mg → display precision 0.1 → 622 mg.
	r, err = Dose(Rule{Kind: "auc", AUC: 5, Unit: "mg", GFR: &GFRRule{Method: "ckd_epi_2021"}},
		Patient{AgeYears: years(50), Sex: "F", HeightCm: 160, WeightKg: 60, CreatinineMgDL: 0.7})
	if err != nil {
		t.Fatal(err)
	}
	approx(t, "de-indexed GFR", *r.Facts.GFRMLMin, 99.39322, 1e-6)
	approx(t, "calculated dose", r.Facts.CalculatedDose, 621.9661, 1e-6)
	if r.Value != 622 {
		t.Errorf("dose %v, want 622", r.Value)
	}
	if codes := stepCodes(r); codes != "gfr.ckd_epi_2021 bsa.mosteller gfr.deindex dose.calvert dose.precision dose.final" {
		t.Errorf("steps %s", codes)
	}
}

func TestDoseFlatAndAgeBand(t *testing.T) {
	r, err := Dose(Rule{Kind: "flat", Dose: 12, Unit: "mg"}, Patient{})
	if err != nil || r.Value != 12 || findStep(t, r, "dose.flat").FR != "Dose fixe = 12 mg" {
		t.Fatalf("%v %v", r, err)
	}

	// Intrathecal methotrexate by age, after Bleyer WA, Cancer Treat Rep
	// 1977;61:1419 (age-based dosing from CSF volume), as tabulated in
	// Children's Oncology Group ALL protocols: 1–2 y 8 mg, 2–3 y 10 mg,
	// 3–9 y 12 mg, from 9 y 15 mg.
	it := Rule{Kind: "age_band", Unit: "mg", AgeBands: []AgeBand{
		{MinAgeMonths: 12, MaxAgeMonths: 24, Dose: 8},
		{MinAgeMonths: 24, MaxAgeMonths: 36, Dose: 10},
		{MinAgeMonths: 36, MaxAgeMonths: 108, Dose: 12},
		{MinAgeMonths: 108, Dose: 15},
	}}
	for _, tt := range []struct {
		age  float64
		want float64
		band int
	}{
		{1, 8, 0}, {2.5, 10, 1}, {3, 12, 2}, // 3 years = 36 months: the lower bound is inclusive
		{2.9999, 10, 1}, {9, 15, 3}, {17, 15, 3},
	} {
		r, err := Dose(it, Patient{AgeYears: years(tt.age)})
		if err != nil {
			t.Fatal(err)
		}
		if r.Value != tt.want || *r.Facts.AgeBand != tt.band {
			t.Errorf("age %v: %v mg (band %d), want %v mg (band %d)", tt.age, r.Value, *r.Facts.AgeBand, tt.want, tt.band)
		}
	}
	r, err = Dose(it, Patient{AgeYears: years(2.5)})
	if s := findStep(t, r, "dose.age_band"); s.FR != "Âge 30 mois : tranche [24 ; 36[ mois → 10 mg" || s.EN != "Age 30 months: band [24, 36) months → 10 mg" {
		t.Errorf("band step %q / %q", s.FR, s.EN)
	}
	// Below the first band: refused, naming the age and the bands.
	_, err = Dose(it, Patient{AgeYears: years(0.5)})
	wantFieldError(t, err, "patient.age_years", "6 months", "[12, 24)")
	// No age: refused, not read as a newborn.
	_, err = Dose(it, Patient{})
	wantFieldError(t, err, "patient.age_years", "required")
}

func TestDoseInfantRule(t *testing.T) {
	// Vincristine 1.5 mg/m²; below 10 kg or 12 months, per kg = 1.5 / 30 =
	// 0.05 mg/kg.
	rule := Rule{Kind: "per_m2", Dose: 1.5, Unit: "mg", MaxDose: 2, Infant: &InfantRule{BelowWeightKg: 10, BelowAgeMonths: 12}}
	tests := []struct {
		name   string
		p      Patient
		infant bool
		want   float64
	}{
		// 7.6 kg: 0.05 × 7.6 = 0.38 mg.
		{"by weight", Patient{AgeYears: years(1.5), HeightCm: 70, WeightKg: 7.6}, true, 0.38},
		// 11 kg but 10 months: 0.05 × 11 = 0.55 mg.
		{"by age", Patient{AgeYears: years(10.0 / 12), HeightCm: 75, WeightKg: 11}, true, 0.55},
		// 12 kg, 18 months, 80 cm: BSA √(80 × 12 / 3600) = 0.516398;
		// 1.5 × 0.516398 = 0.774597 → 0.775 mg.
		{"neither", Patient{AgeYears: years(1.5), HeightCm: 80, WeightKg: 12}, false, 0.775},
		// Exactly 10 kg and 12 months: "below" is strict, so not applied.
		// BSA √(75 × 10 / 3600) = 0.456435; × 1.5 = 0.684653 → 0.685 mg.
		{"at the thresholds", Patient{AgeYears: years(1), HeightCm: 75, WeightKg: 10}, false, 0.685},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Dose(rule, tt.p)
			if err != nil {
				t.Fatal(err)
			}
			if r.Value != tt.want || r.Facts.InfantRule != tt.infant {
				t.Fatalf("%v mg infant %v, want %v mg infant %v", r.Value, r.Facts.InfantRule, tt.want, tt.infant)
			}
			s := findStep(t, r, "dose.infant_rule")
			if tt.infant != !strings.Contains(s.EN, "not applied") {
				t.Errorf("infant step %q", s.EN)
			}
			if tt.infant && hasStep(r, "bsa.mosteller") {
				t.Error("a BSA was computed although the infant rule applied")
			}
		})
	}
	r, _ := Dose(rule, tests[0].p)
	if s := findStep(t, r, "dose.infant_rule"); s.FR != "Règle nourrisson (poids 7,6 kg < 10 kg, âge 18 mois ≥ 12 mois) : dose par kg = 1,5 mg/m² ÷ 30 = 0,05 mg/kg" {
		t.Errorf("infant step %q", s.FR)
	}
	// The protocol's divisor: 1.5 / 25 = 0.06 mg/kg × 7.6 kg = 0.456 mg.
	rule.Infant.Divisor = 25
	r, err := Dose(rule, tests[0].p)
	if err != nil || r.Value != 0.456 {
		t.Fatalf("%v %v", r.Value, err)
	}
	// An infant rule with an age threshold needs the age.
	_, err = Dose(rule, Patient{HeightCm: 70, WeightKg: 7.6})
	wantFieldError(t, err, "patient.age_years", "12 months")
	// An infant below the threshold needs no height.
	r, err = Dose(Rule{Kind: "per_m2", Dose: 1.5, Unit: "mg", Infant: &InfantRule{BelowWeightKg: 10}}, Patient{WeightKg: 6})
	if err != nil || r.Value != 0.3 {
		t.Fatalf("%v %v", r.Value, err)
	}
}

func TestDoseBanding(t *testing.T) {
	// Cyclophosphamide 600 mg/m², 180 cm, 75 kg: BSA √(13500/3600) =
	// 1.936492 m²; 600 × 1.936492 = 1161.895 mg.
	p := Patient{HeightCm: 180, WeightKg: 75}
	// Nearest band 1200 mg: (1200 − 1161.895) / 1161.895 = +3.28 % ≤ 5 %.
	r, err := Dose(Rule{Kind: "per_m2", Dose: 600, Unit: "mg", Bands: []float64{1000, 1100, 1200, 1300}}, p)
	if err != nil {
		t.Fatal(err)
	}
	if r.Value != 1200 || !r.Facts.Banded || r.Facts.RoundingStep != 0 {
		t.Fatalf("%v %+v", r.Value, r.Facts)
	}
	if s := findStep(t, r, "dose.banding"); s.EN != "Dose band 1200 mg (calculated dose 1162 mg, difference +3.28% within the 5% tolerance)" {
		t.Errorf("band step %q", s.EN)
	}
	// Nearest band 1300 mg is +11.9 %: the computed dose stands, rounded to
	// the display precision (0.1 from 10 up): 1161.9 mg.
	r, err = Dose(Rule{Kind: "per_m2", Dose: 600, Unit: "mg", Bands: []float64{1000, 1300}}, p)
	if err != nil {
		t.Fatal(err)
	}
	if r.Value != 1161.9 || r.Facts.Banded {
		t.Fatalf("%v %+v", r.Value, r.Facts)
	}
	if s := findStep(t, r, "dose.banding"); !strings.Contains(s.FR, "calculée conservée") || !strings.Contains(s.EN, "nearest band 1300 mg, difference +11.9%") {
		t.Errorf("band step %q", s.EN)
	}
	// A wider tolerance of the protocol: 15 % takes the 1300 band.
	r, err = Dose(Rule{Kind: "per_m2", Dose: 600, Unit: "mg", Bands: []float64{1000, 1300}, BandTolerancePct: 15}, p)
	if err != nil || r.Value != 1300 {
		t.Fatalf("%v %v", r.Value, err)
	}
	// Equally near two bands: the lower one. 100 mg flat between 95 and 105.
	r, err = Dose(Rule{Kind: "flat", Dose: 100, Unit: "mg", Bands: []float64{95, 105}}, p)
	if err != nil || r.Value != 95 {
		t.Fatalf("%v %v", r.Value, err)
	}
}

func TestDoseRounding(t *testing.T) {
	tests := []struct {
		dose, weight, step, want float64
	}{
		{0.05, 24.5, 0.1, 1.2},   // 1.225 → 12.25 steps → 12 → 1.2
		{0.05, 25, 0.1, 1.3},     // 1.25 → 12.5 steps → halves away from zero → 1.3
		{0.1, 24.5, 0.1, 2.5},    // 2.45 is 2.4499999… in binary; still 2.5
		{2, 33.3, 5, 65},         // 66.6 → 13.32 steps → 13 → 65
		{2, 36.3, 0.25, 72.5},    // 72.6 → 290.4 → 290 → 72.5
		{1, 2.345, 0.001, 2.345}, // already on the step: unchanged
	}
	for _, tt := range tests {
		r, err := Dose(Rule{Kind: "per_kg", Dose: tt.dose, Unit: "mg", RoundingStep: tt.step}, Patient{WeightKg: tt.weight})
		if err != nil {
			t.Fatal(err)
		}
		if r.Value != tt.want || r.Facts.RoundingStep != tt.step {
			t.Errorf("%v mg/kg × %v kg to %v: %v, want %v", tt.dose, tt.weight, tt.step, r.Value, tt.want)
		}
	}
	// A step so coarse that the dose would round to 0 is refused.
	_, err := Dose(Rule{Kind: "per_kg", Dose: 0.01, Unit: "mg", RoundingStep: 5}, Patient{WeightKg: 10})
	wantFieldError(t, err, "rule.rounding_step", "gives 0")
}

func TestDoseAdjustment(t *testing.T) {
	// Vincristine 1.5 mg/m² at 160 cm, 50 kg: 2.236 mg capped at 2 mg; then
	// −25 % for neuropathy: 2 × 0.75 = 1.5 mg (the reduction applies to the
	// capped dose).
	reason := "neuropathie grade 2"
	rule := Rule{Kind: "per_m2", Dose: 1.5, Unit: "mg", MaxDose: 2, Adjustment: &Adjustment{Percent: f64(-25), Reason: reason}}
	p := Patient{HeightCm: 160, WeightKg: 50}
	r, err := Dose(rule, p)
	if err != nil {
		t.Fatal(err)
	}
	if r.Value != 1.5 || !r.Facts.Adjusted || r.Facts.AdjustmentReason != reason || !r.Facts.MaxDoseApplied {
		t.Fatalf("%v %+v", r.Value, r.Facts)
	}
	if s := findStep(t, r, "dose.adjustment"); s.FR != "Modification -25 % : 2 mg × 0,75 = 1,5 mg — motif : neuropathie grade 2" {
		t.Errorf("adjustment step %q", s.FR)
	}
	// +20 % on a capped dose goes back to the cap: 2 × 1.2 = 2.4 → 2 mg.
	rule.Adjustment = &Adjustment{Percent: f64(20), Reason: "rattrapage"}
	r, err = Dose(rule, p)
	if err != nil || r.Value != 2 {
		t.Fatalf("%v %v", r.Value, err)
	}
	if n := strings.Count(stepCodes(r), "dose.max_dose"); n != 2 {
		t.Errorf("%d max dose steps, want 2: %s", n, stepCodes(r))
	}
	// A value: given as is, not rounded nor banded.
	rule.Adjustment = &Adjustment{Value: f64(1.2), Reason: "décision RCP"}
	rule.Bands = []float64{1, 1.5, 2}
	r, err = Dose(rule, p)
	if err != nil || r.Value != 1.2 || r.Facts.Banded || r.Facts.RoundingStep != 0 {
		t.Fatalf("%v %+v %v", r.Value, r.Facts, err)
	}
	if s := findStep(t, r, "dose.adjustment"); !strings.Contains(s.EN, "1.2 mg instead of 2 mg (-40%) — reason: décision RCP") {
		t.Errorf("adjustment step %q", s.EN)
	}
}

func TestDoseRequiresWhatItUses(t *testing.T) {
	tests := []struct {
		name  string
		rule  Rule
		p     Patient
		field string
	}{
		{"per_m2 without height", Rule{Kind: "per_m2", Dose: 1, Unit: "mg"}, Patient{WeightKg: 30}, "patient.height_cm"},
		{"per_m2 without weight", Rule{Kind: "per_m2", Dose: 1, Unit: "mg"}, Patient{HeightCm: 130}, "patient.weight_kg"},
		{"per_kg without weight", Rule{Kind: "per_kg", Dose: 1, Unit: "mg"}, Patient{HeightCm: 130}, "patient.weight_kg"},
		{"auc without creatinine", Rule{Kind: "auc", AUC: 5, Unit: "mg"}, Patient{AgeYears: years(50), Sex: "M", WeightKg: 70}, "patient.creatinine_umol_l"},
		{"auc without sex", Rule{Kind: "auc", AUC: 5, Unit: "mg"}, Patient{AgeYears: years(50), WeightKg: 70, CreatinineUmolL: 80}, "patient.sex"},
		{"auc measured without GFR", Rule{Kind: "auc", AUC: 5, Unit: "mg", GFR: &GFRRule{Method: "measured"}}, Patient{}, "patient.gfr_ml_min"},
		{"auc ckd-epi without height", Rule{Kind: "auc", AUC: 5, Unit: "mg", GFR: &GFRRule{Method: "ckd_epi_2021"}}, Patient{AgeYears: years(50), Sex: "M", WeightKg: 70, CreatinineUmolL: 80}, "patient.height_cm"},
		{"auc schwartz in a child", Rule{Kind: "auc", AUC: 5, Unit: "mg", GFR: &GFRRule{Method: "schwartz_bedside"}}, Patient{AgeYears: years(5), HeightCm: 110}, "patient.creatinine_umol_l"},
		{"impossible height even if unused", Rule{Kind: "flat", Dose: 1, Unit: "mg"}, Patient{HeightCm: 300}, "patient.height_cm"},
		{"negative age", Rule{Kind: "flat", Dose: 1, Unit: "mg"}, Patient{AgeYears: years(-2)}, "patient.age_years"},
		{"invalid rule", Rule{Kind: "per_m2", Unit: "mg"}, Patient{HeightCm: 130, WeightKg: 30}, "rule.dose"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Dose(tt.rule, tt.p)
			wantFieldError(t, err, tt.field)
		})
	}
}

// Every sentence of every step is filled in, in both languages, with a
// decimal comma in French and no placeholder left.
func TestStepSentences(t *testing.T) {
	rules := cycleRules()
	p := Patient{AgeYears: years(4), Sex: "M", HeightCm: 105, WeightKg: 17, CreatinineUmolL: 30}
	for i, rule := range rules {
		r, err := Dose(rule, p)
		if err != nil {
			t.Fatalf("rule %d: %v", i, err)
		}
		for _, s := range r.Steps {
			if s.Code == "" || s.FR == "" || s.EN == "" {
				t.Errorf("rule %d step %+v", i, s)
			}
			if strings.Contains(s.FR+s.EN, "{}") || decimalPoint.MatchString(s.FR) {
				t.Errorf("rule %d step %s: %q / %q", i, s.Code, s.FR, s.EN)
			}
		}
	}
}

func stepCodes(r Result) string {
	var codes []string
	for _, s := range r.Steps {
		codes = append(codes, s.Code)
	}
	return strings.Join(codes, " ")
}

// Doses computed at once share pooled buffers: each derivation must keep its
// own sentences (run with -race).
func TestDoseConcurrent(t *testing.T) {
	p := Patient{AgeYears: years(4), Sex: "M", HeightCm: 105, WeightKg: 17, CreatinineUmolL: 30}
	rules := cycleRules()
	want := make([]string, len(rules))
	for i, r := range rules {
		res, err := Dose(r, p)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = stepCodes(res) + res.Steps[0].FR + res.Steps[len(res.Steps)-1].EN
	}
	done := make(chan bool)
	for g := 0; g < 4; g++ {
		go func() {
			defer func() { done <- true }()
			for n := 0; n < 50; n++ {
				for i, r := range rules {
					res, err := Dose(r, p)
					if err != nil || stepCodes(res)+res.Steps[0].FR+res.Steps[len(res.Steps)-1].EN != want[i] {
						t.Errorf("rule %d: derivation changed under concurrency (%v)", i, err)
						return
					}
				}
			}
		}()
	}
	for g := 0; g < 4; g++ {
		<-done
	}
}
