package clinical

import (
	"strings"
	"testing"
)

func TestCalvert(t *testing.T) {
	tests := []struct {
		name          string
		auc, gfr, cap float64
		want          float64
		capped        bool
	}{
		// Calvert AH et al., J Clin Oncol 1989;7:1748: dose = AUC × (GFR + 25).
		// 5 × (100 + 25) = 625 mg.
		{"no cap", 5, 100, 0, 625, false},
		// NCCN Chemotherapy Order Templates, Appendix B: Carboplatin dosing
		// (2018), after the US FDA's recommendation to cap the GFR at
		// 125 mL/min: maximum dose = AUC × 150; AUC 6 → 900 mg, AUC 5 →
		// 750 mg, AUC 4 → 600 mg.
		{"cap applies, AUC 6", 6, 140, 125, 900, true},
		{"cap applies, AUC 5", 5, 160, 125, 750, true},
		{"cap applies, AUC 4", 4, 125.5, 125, 600, true},
		// Below the cap the GFR is used as is: 5 × (80 + 25) = 525 mg.
		{"cap not reached", 5, 80, 125, 525, false},
		// Anuric patient: 5 × (0 + 25) = 125 mg.
		{"anuric", 5, 0, 0, 125, false},
		// 0.1 + 0.2 style noise must not reach the value: 1.1 × (3.3 + 25) = 31.13.
		{"no binary noise", 1.1, 3.3, 0, 31.13, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Calvert(tt.auc, tt.gfr, tt.cap)
			if err != nil {
				t.Fatal(err)
			}
			if r.Value != tt.want || r.Unit != "mg" {
				t.Fatalf("dose %v %s, want %v mg", r.Value, r.Unit, tt.want)
			}
			last := r.Steps[len(r.Steps)-1]
			if last.Code != "dose.calvert" || !strings.Contains(last.EN, "AUC") || !strings.Contains(last.FR, "ASC") {
				t.Errorf("last step %+v", last)
			}
			if tt.cap > 0 {
				s := findStep(t, r, "gfr.cap")
				if got := strings.Contains(s.EN, "capped at"); got != tt.capped {
					t.Errorf("cap step %q, capped %v", s.EN, tt.capped)
				}
			} else if hasStep(r, "gfr.cap") {
				t.Error("a cap step without a cap")
			}
		})
	}
}

func TestCalvertRefuses(t *testing.T) {
	tests := []struct {
		auc, gfr, cap float64
		field, word   string
	}{
		{0, 100, 0, "auc", "missing"},
		{50, 100, 0, "auc", "0.5–20"},
		{5, -1, 0, "gfr_ml_min", "negative"},
		{5, 400, 0, "gfr_ml_min", "0–250"},
		{5, 100, -125, "gfr_cap_ml_min", "negative"},
		{5, 100, 1000, "gfr_cap_ml_min", "10–250"},
	}
	for _, tt := range tests {
		_, err := Calvert(tt.auc, tt.gfr, tt.cap)
		wantFieldError(t, err, tt.field, tt.word)
	}
}
