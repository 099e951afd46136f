package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

// calcAnswer is one output line of relais calc.
type calcAnswer struct {
	Value *float64 `json:"value"`
	Unit  string   `json:"unit"`
	Steps []struct {
		Code string `json:"code"`
		FR   string `json:"fr"`
		EN   string `json:"en"`
	} `json:"steps"`
	Facts   map[string]any `json:"facts"`
	Exceeds *bool          `json:"exceeds"`
	Error   *struct {
		Code    string `json:"code"`
		Field   string `json:"field"`
		Message string `json:"message"`
		Errors  []struct {
			Field, Message string
		} `json:"errors"`
	} `json:"error"`
}

// calc runs `relais calc` on input and returns its answers, one per line.
func calc(t *testing.T, input string) []calcAnswer {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"calc"}, strings.NewReader(input), &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var answers []calcAnswer
	for _, line := range strings.SplitAfter(out.String(), "\n") {
		if line == "" {
			continue
		}
		if !strings.HasSuffix(line, "\n") {
			t.Fatalf("unterminated line %q", line)
		}
		var a calcAnswer
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if (a.Value == nil) == (a.Error == nil) {
			t.Fatalf("line %q is neither a value nor an error", line)
		}
		answers = append(answers, a)
	}
	return answers
}

func TestCalcRequests(t *testing.T) {
	tests := []struct {
		name  string
		line  string
		value float64
		unit  string
		step  string // code of the last step
	}{
		// Mosteller RD, N Engl J Med 1987;317:1098: √(180 × 80 / 3600) = 2 m².
		{"bsa", `{"calc":"bsa","formula":"mosteller","height_cm":180,"weight_kg":80}`, 2, "m²", "bsa.mosteller"},
		// Schwartz GJ et al., J Am Soc Nephrol 2009;20:629: 0.413 × 140 / 0.7 = 82.6.
		{"gfr schwartz", `{"calc":"gfr","method":"schwartz_bedside","height_cm":140,"creatinine_mg_dl":0.7}`, 82.6, "mL/min/1.73 m²", "gfr.schwartz_bedside"},
		// Cockcroft & Gault, Nephron 1976;16:31: (140 − 60) × 72 / (72 × 1) × 0.85 = 68.
		{"gfr cockcroft-gault", `{"calc":"gfr","method":"cockcroft_gault","age_years":60,"sex":"F","weight_kg":72,"creatinine_umol_l":88.42,"weight_basis":"actual"}`, 68, "mL/min", "gfr.cockcroft_gault"},
		// Calvert AH et al., J Clin Oncol 1989;7:1748, GFR capped at 125:
		// 5 × (125 + 25) = 750 mg.
		{"calvert", `{"calc":"calvert","auc":5,"gfr_ml_min":140,"gfr_cap_ml_min":125}`, 750, "mg", "dose.calvert"},
		{"calvert anuric", `{"calc":"calvert","auc":5,"gfr_ml_min":0}`, 125, "mg", "dose.calvert"},
		// 1.5 mg/m² × √(160 × 50 / 3600) = 2.236 mg, capped at 2 mg.
		{"dose", `{"calc":"dose","rule":{"kind":"per_m2","dose":1.5,"unit":"mg","max_dose":2},"patient":{"age_years":12,"height_cm":160,"weight_kg":50}}`, 2, "mg", "dose.final"},
		// 300 × 0.8 + 200 × 1 = 440 mg/m² (Feijen 2019 ratios).
		{"cumulative", `{"calc":"cumulative","class":"anthracycline","doses":[{"drug":"epirubicin","mg_per_m2":300},{"drug":"doxorubicin","mg_per_m2":200}],"limit_mg_per_m2":450}`, 440, "mg/m²", "cumulative.limit"},
		{"cumulative bleomycin", `{"calc":"cumulative","class":"bleomycin","doses":[{"drug":"bleomycin","units":90}],"limit_units":400}`, 90, "U", "cumulative.limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := calc(t, tt.line+"\n")
			if len(a) != 1 {
				t.Fatalf("%d answers", len(a))
			}
			if a[0].Error != nil {
				t.Fatalf("error %+v", a[0].Error)
			}
			if *a[0].Value != tt.value || a[0].Unit != tt.unit || len(a[0].Steps) == 0 || a[0].Steps[len(a[0].Steps)-1].Code != tt.step {
				t.Fatalf("got %v %s %+v", *a[0].Value, a[0].Unit, a[0].Steps)
			}
		})
	}
	a := calc(t, `{"calc":"dose","rule":{"kind":"per_m2","dose":1.5,"unit":"mg","max_dose":2},"patient":{"height_cm":160,"weight_kg":50}}`)
	if a[0].Facts["max_dose_applied"] != true {
		t.Errorf("facts %v", a[0].Facts)
	}
	a = calc(t, `{"calc":"cumulative","class":"anthracycline","doses":[{"drug":"doxorubicin","mg_per_m2":460}],"limit_mg_per_m2":450}`)
	if a[0].Exceeds == nil || !*a[0].Exceeds {
		t.Errorf("exceeds %v", a[0].Exceeds)
	}
}

func TestCalcErrors(t *testing.T) {
	tests := []struct {
		name, line, code, field, words string
	}{
		{"malformed", `{"calc":"bsa",`, "malformed", "", "ends too early"},
		{"not JSON", `hello`, "malformed", "", "malformed JSON"},
		{"not an object", `[1,2]`, "malformed", "", "one JSON object"},
		{"trailing data", `{"calc":"bsa","height_cm":140,"weight_kg":32} {}`, "malformed", "", "after the JSON object"},
		{"not UTF-8", "{\"calc\":\"bsa\",\"formula\":\"\xff\"}", "malformed", "", "UTF-8"},
		{"no calc", `{"height_cm":140}`, "invalid", "calc", "required"},
		{"calc not a string", `{"calc":3}`, "invalid", "calc", "string"},
		{"unknown calc", `{"calc":"ibw"}`, "invalid", "calc", "bsa, gfr"},
		{"unknown field", `{"calc":"bsa","height_cm":140,"weight_kg":32,"heigth_cm":140}`, "invalid", "heigth_cm", "accepted fields"},
		{"unknown nested field", `{"calc":"dose","rule":{"kind":"flat","dose":4,"unit":"mg","maxdose":8},"patient":{}}`, "invalid", "rule.maxdose", "max_dose"},
		{"unknown field in a band", `{"calc":"dose","rule":{"kind":"age_band","unit":"mg","age_bands":[{"min_age_months":0,"dose":8,"max":3}]},"patient":{"age_years":2}}`, "invalid", "rule.age_bands[0].max", "max_age_months"},
		{"wrong type", `{"calc":"bsa","height_cm":"140","weight_kg":32}`, "invalid", "height_cm", "expected a number, got a string"},
		{"number out of range", `{"calc":"bsa","height_cm":1e400,"weight_kg":32}`, "invalid", "height_cm", "out of range"},
		{"duplicate field", `{"calc":"bsa","height_cm":140,"weight_kg":32,"weight_kg":3.2}`, "invalid", "weight_kg", "twice"},
		{"impossible height", `{"calc":"bsa","height_cm":300,"weight_kg":32}`, "invalid", "height_cm", "20–250 cm"},
		{"missing weight", `{"calc":"bsa","height_cm":140}`, "invalid", "weight_kg", "missing"},
		{"unknown formula", `{"calc":"bsa","formula":"square","height_cm":140,"weight_kg":32}`, "invalid", "formula", "mosteller"},
		{"creatinine 0", `{"calc":"gfr","method":"schwartz_bedside","height_cm":140,"creatinine_umol_l":0}`, "invalid", "creatinine_umol_l", "not a measurement"},
		{"unused zero weight", `{"calc":"gfr","method":"schwartz_bedside","height_cm":140,"weight_kg":0,"creatinine_umol_l":40}`, "invalid", "weight_kg", "not a measurement"},
		{"negative age", `{"calc":"gfr","method":"ckd_epi_2021","age_years":-1,"sex":"F","creatinine_mg_dl":0.7}`, "invalid", "age_years", "negative"},
		{"calvert without gfr", `{"calc":"calvert","auc":5}`, "invalid", "gfr_ml_min", "required"},
		{"calvert cap 0", `{"calc":"calvert","auc":5,"gfr_ml_min":80,"gfr_cap_ml_min":0}`, "invalid", "gfr_cap_ml_min", "omit"},
		{"dose without rule", `{"calc":"dose","patient":{"weight_kg":20}}`, "invalid", "rule", "required"},
		{"dose rule field", `{"calc":"dose","rule":{"kind":"per_m2","dose":1.5,"unit":"mg","adjustment":{"percent":-25}},"patient":{"height_cm":140,"weight_kg":32}}`, "invalid", "rule.adjustment.reason", "required"},
		{"dose patient field", `{"calc":"dose","rule":{"kind":"per_kg","dose":1.5,"unit":"mg"},"patient":{"height_cm":140}}`, "invalid", "patient.weight_kg", "required"},
		{"dose patient zero", `{"calc":"dose","rule":{"kind":"flat","dose":4,"unit":"mg"},"patient":{"height_cm":0}}`, "invalid", "patient.height_cm", "not a measurement"},
		{"cumulative without doses", `{"calc":"cumulative","class":"anthracycline","limit_mg_per_m2":450}`, "invalid", "doses", "[]"},
		{"cumulative wrong limit", `{"calc":"cumulative","class":"anthracycline","doses":[],"limit_units":400}`, "invalid", "limit_units", "mg/m²"},
		{"cumulative unknown drug", `{"calc":"cumulative","class":"anthracycline","doses":[{"drug":"aclarubicin","mg_per_m2":10}],"limit_mg_per_m2":450}`, "invalid", "doses[0].drug", "equivalence table"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := calc(t, tt.line+"\n")
			if len(a) != 1 || a[0].Error == nil {
				t.Fatalf("answers %+v", a)
			}
			e := a[0].Error
			if e.Code != tt.code || e.Field != tt.field || !strings.Contains(e.Message, tt.words) {
				t.Fatalf("error %+v, want code %s field %q with %q", e, tt.code, tt.field, tt.words)
			}
		})
	}
}

// Several faults in one request: each is listed, the first in field/message.
func TestCalcSeveralErrors(t *testing.T) {
	a := calc(t, `{"calc":"bsa","height_cm":0,"weight_kg":-3}`)
	e := a[0].Error
	if e == nil || e.Field != "height_cm" || len(e.Errors) != 2 || e.Errors[1].Field != "weight_kg" {
		t.Fatalf("%+v", e)
	}
}

// A bad line gets an error line, the next line is still read, blank lines
// are skipped, CRLF line ends are accepted, and the exit status is 0.
func TestCalcStream(t *testing.T) {
	input := "not json\n\n   \r\n" +
		`{"calc":"bsa","height_cm":180,"weight_kg":80}` + "\r\n" +
		`{"calc":"bsa","height_cm":300,"weight_kg":80}` + "\n" +
		`{"calc":"bsa","height_cm":100,"weight_kg":36}` // last line without newline
	a := calc(t, input)
	if len(a) != 4 {
		t.Fatalf("%d answers, want 4", len(a))
	}
	if a[0].Error == nil || a[1].Value == nil || *a[1].Value != 2 || a[2].Error == nil || a[3].Value == nil || *a[3].Value != 1 {
		t.Fatalf("%+v", a)
	}
}

// A line longer than the limit is answered with an error, not truncated,
// and the reader goes on with the next line.
func TestCalcLongLine(t *testing.T) {
	long := `{"calc":"bsa","formula":"` + strings.Repeat("x", maxCalcLine) + `","height_cm":180,"weight_kg":80}`
	a := calc(t, long+"\n"+`{"calc":"bsa","height_cm":180,"weight_kg":80}`+"\n")
	if len(a) != 2 || a[0].Error == nil || a[0].Error.Code != "malformed" || !strings.Contains(a[0].Error.Message, "longer than") || a[1].Value == nil {
		t.Fatalf("%+v", a)
	}
	// Long but within the limit: read whole (beyond bufio's 64 KiB buffer).
	long = `{"calc":"bsa","formula":"` + strings.Repeat("x", 200_000) + `","height_cm":180,"weight_kg":80}`
	a = calc(t, long+"\n")
	if len(a) != 1 || a[0].Error == nil || a[0].Error.Field != "formula" {
		t.Fatalf("%+v", a)
	}
}

type failingReader struct{ n int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		r.n++
		return copy(p, `{"calc":"bsa","height_cm":180,"weight_kg":80}`+"\n"), nil
	}
	return 0, errors.New("disk on fire")
}

func TestCalcExitStatus(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"calc", "extra"}, strings.NewReader(""), &out, &errOut); code != 2 {
		t.Errorf("with an argument: exit %d, want 2", code)
	}
	out.Reset()
	errOut.Reset()
	if code := run(context.Background(), []string{"calc"}, &failingReader{}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "disk on fire") {
		t.Errorf("read error: exit %d, %q", code, errOut.String())
	}
	if !strings.Contains(out.String(), `"value":2`) {
		t.Errorf("the line read before the error was not answered: %q", out.String())
	}
	if code := run(context.Background(), []string{"calc"}, strings.NewReader(""), io.Discard, io.Discard); code != 0 {
		t.Errorf("empty input: exit %d", code)
	}
}

// FuzzCalcLine: whatever the line, calc never panics and answers with
// exactly one JSON line that is either a value or an error.
func FuzzCalcLine(f *testing.F) {
	for _, s := range []string{
		`{"calc":"bsa","formula":"boyd","height_cm":140,"weight_kg":32}`,
		`{"calc":"gfr","method":"cockcroft_gault","age_years":60,"sex":"M","height_cm":175,"weight_kg":72,"creatinine_umol_l":80,"weight_basis":"adjusted"}`,
		`{"calc":"gfr","method":"ckd_epi_2021","age_years":50,"sex":"F","creatinine_mg_dl":0.7}`,
		`{"calc":"calvert","auc":5,"gfr_ml_min":140,"gfr_cap_ml_min":125}`,
		`{"calc":"dose","rule":{"kind":"per_m2","dose":1.5,"unit":"mg","max_dose":2,"infant":{"below_weight_kg":10,"below_age_months":12},"adjustment":{"percent":-25,"reason":"x"}},"patient":{"age_years":0.5,"height_cm":68,"weight_kg":7.6}}`,
		`{"calc":"dose","rule":{"kind":"auc","auc":5,"unit":"mg","gfr":{"method":"schwartz_bedside","cap_ml_min":125},"rounding_step":10},"patient":{"age_years":4,"height_cm":105,"weight_kg":17,"creatinine_umol_l":30}}`,
		`{"calc":"dose","rule":{"kind":"age_band","unit":"mg","age_bands":[{"min_age_months":0,"max_age_months":36,"dose":8},{"min_age_months":36,"dose":12}],"bands":[8,10,12]},"patient":{"age_years":2}}`,
		`{"calc":"cumulative","class":"anthracycline","doses":[{"drug":"epirubicin","mg_per_m2":300}],"limit_mg_per_m2":450}`,
		`{"calc":"cumulative","class":"bleomycin","doses":[{"drug":"bleomycin","units":90}],"limit_units":400}`,
		`{"calc":"dose","rule":{"kind":"per_kg","dose":1e308,"unit":"mg","rounding_step":1e-300},"patient":{"weight_kg":300}}`,
		`[[[[[[[[[[]]]]]]]]]]`, `{"a":{"b":{"c":{}}}}`, `null`, `"calc"`, `{`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		out := calcLine(line)
		if len(out) == 0 || out[len(out)-1] != '\n' || bytes.Count(out, []byte("\n")) != 1 {
			t.Fatalf("not exactly one line: %q", out)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("not a JSON object: %q: %v", out, err)
		}
		_, isValue := m["value"]
		_, isError := m["error"]
		if isValue == isError {
			t.Fatalf("neither a value nor an error: %q", out)
		}
		if isError {
			var e struct {
				Code, Message string
				Field         *string
			}
			if json.Unmarshal(m["error"], &e) != nil || e.Code == "" || e.Message == "" || e.Field == nil {
				t.Fatalf("error without code, field or message: %q", out)
			}
			if e.Code == "internal" {
				t.Fatalf("internal error: %q", out)
			}
		}
	})
}
