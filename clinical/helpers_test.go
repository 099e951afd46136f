package clinical

import (
	"math"
	"regexp"
	"strings"
	"testing"
)

// near reports whether got is within rel (relative) of want.
func near(got, want, rel float64) bool {
	if want == 0 {
		return math.Abs(got) <= rel
	}
	return math.Abs(got-want) <= rel*math.Abs(want)
}

func approx(t *testing.T, what string, got, want, rel float64) {
	t.Helper()
	if !near(got, want, rel) {
		t.Errorf("%s = %.12g, want %.12g (±%g relative)", what, got, want, rel)
	}
}

func years(y float64) *float64 { return &y }

func f64(x float64) *float64 { return &x }

// findStep returns the first step with code, failing the test if none.
func findStep(t *testing.T, r Result, code string) Step {
	t.Helper()
	for _, s := range r.Steps {
		if s.Code == code {
			return s
		}
	}
	var codes []string
	for _, s := range r.Steps {
		codes = append(codes, s.Code)
	}
	t.Fatalf("no step %q in %v", code, codes)
	return Step{}
}

func hasStep(r Result, code string) bool {
	for _, s := range r.Steps {
		if s.Code == code {
			return true
		}
	}
	return false
}

// wantFieldError checks that err names field, with a message containing
// each of words.
func wantFieldError(t *testing.T, err error, field string, words ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one on %s", field)
	}
	fes := FieldErrors(err)
	var fields []string
	for _, fe := range fes {
		if fe.Field == field {
			for _, w := range words {
				if !strings.Contains(fe.Message, w) {
					t.Errorf("%s: message %q lacks %q", field, fe.Message, w)
				}
			}
			return
		}
		fields = append(fields, fe.Field)
	}
	t.Fatalf("error on %v (%v), want one on %s", fields, err, field)
}

// decimalPoint finds a decimal point between digits: French sentences must
// use a decimal comma.
var decimalPoint = regexp.MustCompile(`[0-9]\.[0-9]`)
