package clinical

import (
	"strings"
	"testing"
)

// Expected values are the published formulas worked by hand (a calculator
// for the powers), never the code's own output.
func TestBSAFormulas(t *testing.T) {
	tests := []struct {
		name     string
		formula  string
		h, w     float64
		want     float64
		inFR     string // the French sentence shows the inputs and result
		inEN     string
		citation string
	}{
		// Mosteller RD, N Engl J Med 1987;317:1098: √(cm × kg / 3600).
		// √(180 × 80 / 3600) = √(14400 / 3600) = √4 = 2.
		{"mosteller adult", "mosteller", 180, 80, 2, "√(180 cm × 80 kg / 3600) = 2 m²", "√(180 cm × 80 kg / 3600) = 2 m²", "Mosteller 1987"},
		// √(140 × 32 / 3600) = √1.244444… = 1.115546702.
		{"mosteller child", "mosteller", 140, 32, 1.115546702, "= 1,116 m²", "= 1.116 m²", "Mosteller 1987"},
		// The empty formula is Mosteller (the default).
		{"default", "", 140, 32, 1.115546702, "(Mosteller)", "(Mosteller)", "Mosteller 1987"},
		// DuBois D, DuBois EF, Arch Intern Med 1916;17:863:
		// 0.007184 × W^0.425 × H^0.725 = 0.007184 × 70^0.425 (6.083684) ×
		// 170^0.725 (41.407162) = 1.809708.
		{"dubois adult", "dubois", 170, 70, 1.809708, "0,007184 × (70 kg)^0,425 × (170 cm)^0,725 = 1,81 m²", "0.007184 × (70 kg)^0.425 × (170 cm)^0.725 = 1.81 m²", "DuBois 1916"},
		// 0.007184 × 15^0.425 (3.161104) × 100^0.725 (28.183829) = 0.640037.
		{"dubois child", "dubois", 100, 15, 0.640037, "= 0,64 m²", "= 0.64 m²", "DuBois 1916"},
		// Haycock GB et al., J Pediatr 1978;93:62: 0.024265 × W^0.5378 ×
		// H^0.3964 = 0.024265 × 9.824122 × 7.658610 = 1.825677.
		{"haycock adult", "haycock", 170, 70, 1.825677, "(Haycock)", "(Haycock)", "Haycock 1978"},
		// 0.024265 × 15^0.5378 (4.290440) × 100^0.3964 (6.205832) = 0.646074.
		{"haycock child", "haycock", 100, 15, 0.646074, "= 0,6461 m²", "= 0.6461 m²", "Haycock 1978"},
		// Gehan EA, George SL, Cancer Chemother Rep 1970;54:225:
		// 0.0235 × W^0.51456 × H^0.42246 = 0.0235 × 8.900484 × 8.755389 = 1.831289.
		{"gehan adult", "gehan_george", 170, 70, 1.831289, "(Gehan & George)", "(Gehan & George)", "Gehan 1970"},
		// 0.0235 × 15^0.51456 (4.028743) × 100^0.42246 (6.997131) = 0.662457.
		{"gehan child", "gehan_george", 100, 15, 0.662457, "= 0,6625 m²", "= 0.6625 m²", "Gehan 1970"},
		// Boyd E, The Growth of the Surface Area of the Human Body, 1935,
		// weight in grams: 0.0003207 × 170^0.3 (4.668041) × 70000^(0.7285 −
		// 0.0188 × log10 70000 = 0.637412) (1225.531) = 1.834670.
		{"boyd adult", "boyd", 170, 70, 1.834670, "(70000 g)^(0,7285 − 0,0188 × log10 70000)", "(70000 g)^(0.7285 − 0.0188 × log10 70000)", "Boyd 1935"},
		// 0.0003207 × 100^0.3 (3.981072) × 15000^0.649989 (518.1022) = 0.661476.
		{"boyd child", "boyd", 100, 15, 0.661476, "= 0,6615 m²", "= 0.6615 m²", "Boyd 1935"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := BSA(tt.formula, tt.h, tt.w)
			if err != nil {
				t.Fatal(err)
			}
			approx(t, tt.citation, r.Value, tt.want, 1e-6)
			if r.Unit != "m²" || len(r.Steps) != 1 {
				t.Fatalf("unit %q, %d steps", r.Unit, len(r.Steps))
			}
			s := r.Steps[0]
			f := tt.formula
			if f == "" {
				f = "mosteller"
			}
			if s.Code != "bsa."+f || s.Value != r.Value || s.Inputs["height_cm"] != tt.h || s.Inputs["weight_kg"] != tt.w || s.Formula == "" {
				t.Errorf("step %+v", s)
			}
			if !strings.Contains(s.FR, tt.inFR) || !strings.Contains(s.EN, tt.inEN) {
				t.Errorf("sentences:\n fr %s\n en %s\nwant %q / %q", s.FR, s.EN, tt.inFR, tt.inEN)
			}
		})
	}
}

func TestBSARefusesImpossibleInputs(t *testing.T) {
	tests := []struct {
		formula  string
		h, w     float64
		field    string
		contains string
	}{
		{"mosteller", 0, 32, "height_cm", "missing"},
		{"mosteller", 300, 32, "height_cm", "20–250 cm"},
		{"mosteller", 1.4, 32, "height_cm", "centimetres"}, // metres typed for cm
		{"mosteller", -140, 32, "height_cm", "negative"},
		{"mosteller", 140, 0, "weight_kg", "missing"},
		{"mosteller", 140, -3, "weight_kg", "negative"},
		{"mosteller", 140, 32000, "weight_kg", "0.3–300 kg"}, // grams typed for kg
		{"square", 140, 32, "formula", "mosteller"},
	}
	for _, tt := range tests {
		_, err := BSA(tt.formula, tt.h, tt.w)
		wantFieldError(t, err, tt.field, tt.contains)
	}
	// Both faults at once, so that a form shows them together.
	_, err := BSA("mosteller", 0, 0)
	if n := len(FieldErrors(err)); n != 2 {
		t.Errorf("%d field errors, want 2: %v", n, err)
	}
}
