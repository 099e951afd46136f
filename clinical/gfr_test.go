package clinical

import (
	"strings"
	"testing"
)

func TestGFR(t *testing.T) {
	tests := []struct {
		name  string
		in    GFRInput
		want  float64
		unit  string
		steps []string // step codes, in order
		text  string   // in the English sentence of the last step
	}{
		// Schwartz GJ et al., J Am Soc Nephrol 2009;20:629 (bedside):
		// 0.413 × 140 cm / 0.7 mg/dL = 57.82 / 0.7 = 82.6 mL/min/1.73 m².
		{"schwartz mg/dL", GFRInput{Method: "schwartz_bedside", HeightCm: 140, CreatinineMgDL: 0.7},
			82.6, "mL/min/1.73 m²", []string{"gfr.schwartz_bedside"}, "0.413 × 140 cm / 0.7 mg/dL = 82.6"},
		// Same in µmol/L: 44.21 µmol/L ÷ 88.42 = 0.5 mg/dL;
		// 0.413 × 120 / 0.5 = 99.12.
		{"schwartz µmol/L", GFRInput{Method: "schwartz_bedside", HeightCm: 120, CreatinineUmolL: 44.21},
			99.12, "mL/min/1.73 m²", []string{"creatinine.mg_dl", "gfr.schwartz_bedside"}, "= 99.12 mL/min/1.73 m²"},
		// Cockcroft DW, Gault MH, Nephron 1976;16:31: (140 − age) × kg /
		// (72 × Scr mg/dL). Man, 60 y, 72 kg, 1 mg/dL (88.42 µmol/L):
		// 80 × 72 / 72 = 80 mL/min.
		{"cockcroft-gault man", GFRInput{Method: "cockcroft_gault", AgeYears: years(60), Sex: "M", WeightKg: 72, CreatinineUmolL: 88.42},
			80, "mL/min", []string{"creatinine.mg_dl", "gfr.cockcroft_gault"}, "(140 − 60 years) × 72 kg (actual weight) / (72 × 1 mg/dL) = 80 mL/min"},
		// Woman: × 0.85 → 68 mL/min.
		{"cockcroft-gault woman", GFRInput{Method: "cockcroft_gault", AgeYears: years(60), Sex: "F", WeightKg: 72, CreatinineMgDL: 1},
			68, "mL/min", []string{"gfr.cockcroft_gault"}, "× 0.85 = 68 mL/min"},
		// Ideal weight, Devine BJ, Drug Intell Clin Pharm 1974;8:650: man
		// 180 cm = 70.866 in → 50 + 2.3 × 10.866 = 74.992 kg;
		// CrCl = 80 × 74.992 / 72 = 83.3246 mL/min.
		{"cockcroft-gault ideal weight", GFRInput{Method: "cockcroft_gault", AgeYears: years(60), Sex: "M", HeightCm: 180, WeightKg: 100, CreatinineMgDL: 1, WeightBasis: "ideal"},
			83.32458, "mL/min", []string{"weight.ideal_devine", "gfr.cockcroft_gault"}, "(ideal weight)"},
		// Adjusted (Bauer LA et al., Eur J Clin Pharmacol 1983;24:643):
		// woman 165 cm = 64.961 in → IBW 45.5 + 2.3 × 4.961 = 56.9094 kg;
		// ABW = 56.9094 + 0.4 × (72 − 56.9094) = 62.9457 kg;
		// CrCl = 80 × 62.9457 / 72 × 0.85 = 59.4487 mL/min.
		{"cockcroft-gault adjusted weight", GFRInput{Method: "cockcroft_gault", AgeYears: years(60), Sex: "F", HeightCm: 165, WeightKg: 72, CreatinineUmolL: 88.42, WeightBasis: "adjusted"},
			59.44869, "mL/min", []string{"creatinine.mg_dl", "weight.ideal_devine", "weight.adjusted", "gfr.cockcroft_gault"}, "(adjusted weight)"},
		// Inker LA et al., N Engl J Med 2021;385:1737 (CKD-EPI 2021):
		// woman 50 y, 0.7 mg/dL: Scr/κ = 1 → 142 × 1 × 1 × 0.9938^50
		// (0.7327395) × 1.012 = 105.2976 mL/min/1.73 m².
		{"ckd-epi woman at kappa", GFRInput{Method: "ckd_epi_2021", AgeYears: years(50), Sex: "F", CreatinineMgDL: 0.7},
			105.2976, "mL/min/1.73 m²", []string{"gfr.ckd_epi_2021"}, "0.9938^50 × 1.012 = 105.3"},
		// Man 60 y, 1.2 mg/dL: Scr/κ = 1.2/0.9 = 1.3333 > 1 →
		// 142 × 1.3333^−1.2 (0.7080656) × 0.9938^60 (0.6885564) = 69.2311.
		{"ckd-epi man above kappa", GFRInput{Method: "ckd_epi_2021", AgeYears: years(60), Sex: "M", CreatinineMgDL: 1.2},
			69.23113, "mL/min/1.73 m²", []string{"gfr.ckd_epi_2021"}, "(CKD-EPI 2021, male)"},
		// Woman 40 y, 0.5 mg/dL: Scr/κ = 0.714 < 1 → 142 × 0.714^−0.241
		// (1.0844683) × 0.9938^40 (0.7797577) × 1.012 = 121.5193.
		{"ckd-epi woman below kappa", GFRInput{Method: "ckd_epi_2021", AgeYears: years(40), Sex: "F", CreatinineMgDL: 0.5},
			121.5193, "mL/min/1.73 m²", []string{"gfr.ckd_epi_2021"}, "min(0.5 / 0.7, 1)^−0.241"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := GFR(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			approx(t, "GFR", r.Value, tt.want, 1e-6)
			if r.Unit != tt.unit {
				t.Errorf("unit %q, want %q", r.Unit, tt.unit)
			}
			var codes []string
			for _, s := range r.Steps {
				codes = append(codes, s.Code)
			}
			if strings.Join(codes, " ") != strings.Join(tt.steps, " ") {
				t.Errorf("steps %v, want %v", codes, tt.steps)
			}
			last := r.Steps[len(r.Steps)-1]
			if !strings.Contains(last.EN, tt.text) {
				t.Errorf("sentence %q lacks %q", last.EN, tt.text)
			}
			if last.Value != r.Value || last.FR == "" || decimalPoint.MatchString(last.FR) {
				t.Errorf("step %+v (French sentences use a decimal comma)", last)
			}
		})
	}
}

func TestGFRRefuses(t *testing.T) {
	adult := func(mod func(*GFRInput)) GFRInput {
		in := GFRInput{Method: "cockcroft_gault", AgeYears: years(60), Sex: "M", HeightCm: 175, WeightKg: 72, CreatinineUmolL: 80}
		mod(&in)
		return in
	}
	tests := []struct {
		name  string
		in    GFRInput
		field string
		words []string
	}{
		{"no method", adult(func(in *GFRInput) { in.Method = "" }), "method", []string{"required"}},
		{"unknown method", adult(func(in *GFRInput) { in.Method = "mdrd" }), "method", []string{"schwartz_bedside"}},
		{"creatinine 0", adult(func(in *GFRInput) { in.CreatinineUmolL = 0 }), "creatinine_umol_l", []string{"required"}},
		{"creatinine twice", adult(func(in *GFRInput) { in.CreatinineMgDL = 0.9 }), "creatinine_mg_dl", []string{"one unit"}},
		{"creatinine mg/dL typed as µmol/L", adult(func(in *GFRInput) { in.CreatinineUmolL = 0.9 }), "creatinine_umol_l", []string{"5–2000 µmol/L"}},
		{"creatinine µmol/L typed as mg/dL", adult(func(in *GFRInput) { in.CreatinineUmolL, in.CreatinineMgDL = 0, 80 }), "creatinine_mg_dl", []string{"mg/dL", "µmol/L"}},
		{"negative age", adult(func(in *GFRInput) { in.AgeYears = years(-1) }), "age_years", []string{"negative"}},
		{"missing age", adult(func(in *GFRInput) { in.AgeYears = nil }), "age_years", []string{"required"}},
		{"child with cockcroft-gault", adult(func(in *GFRInput) { in.AgeYears = years(8) }), "age_years", []string{"adults", "schwartz_bedside"}},
		{"child with ckd-epi", adult(func(in *GFRInput) { in.Method, in.AgeYears = "ckd_epi_2021", years(12) }), "age_years", []string{"adults"}},
		{"missing sex", adult(func(in *GFRInput) { in.Sex = "" }), "sex", []string{"M or F"}},
		{"bad sex", adult(func(in *GFRInput) { in.Sex = "male" }), "sex", []string{"M or F"}},
		{"missing weight", adult(func(in *GFRInput) { in.WeightKg = 0 }), "weight_kg", []string{"required"}},
		{"ideal weight without height", adult(func(in *GFRInput) { in.HeightCm, in.WeightBasis = 0, "ideal" }), "height_cm", []string{"required"}},
		{"unknown weight basis", adult(func(in *GFRInput) { in.WeightBasis = "lean" }), "weight_basis", []string{"ideal"}},
		{"weight basis with schwartz", adult(func(in *GFRInput) { in.Method, in.WeightBasis = "schwartz_bedside", "ideal" }), "weight_basis", []string{"only to cockcroft_gault"}},
		{"schwartz without height", GFRInput{Method: "schwartz_bedside", CreatinineUmolL: 40}, "height_cm", []string{"required"}},
		{"measured is not calculated", adult(func(in *GFRInput) { in.Method = "measured" }), "method", []string{"gfr_ml_min"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := GFR(tt.in)
			wantFieldError(t, err, tt.field, tt.words...)
		})
	}
}
