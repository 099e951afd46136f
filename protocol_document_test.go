package relais_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/relais-onco/relais"
)

// A small valid document: vincristine–dactinomycin (VA) as in SIOP
// UMBRELLA (SIOP-RTSG 2016 UMBRELLA protocol, version 1.1, 2019), only
// day 1 here.
const vaDoc = `{
  "format": "relais.protocol",
  "format_version": 1,
  "code": "VA-TEST",
  "name": "Vincristine-dactinomycine",
  "indication": "Néphroblastome",
  "population": "paediatric",
  "cycles": {"count": 1, "length_days": 7},
  "days": [1],
  "lines": [
    {"seq": 1, "kind": "chemo", "inn": "vincristine", "duration_min": 10, "route": "IVL", "days": [1],
     "dose": {"kind": "per_m2", "dose": 1.5, "unit": "mg", "max_dose": 2, "infant": {"below_weight_kg": 12}}},
    {"seq": 2, "kind": "chemo", "inn": "dactinomycine", "duration_min": 5, "route": "IVL", "days": [1],
     "dose": {"kind": "per_kg", "dose": 45, "unit": "µg", "max_dose": 2000}}
  ],
  "criteria": [{"lab": "neutrophils", "op": ">=", "value": 1, "unit": "G/L"}],
  "cumulative_limits": [],
  "source": "SIOP-RTSG UMBRELLA protocol v1.1, 2019",
  "drugs": [{"inn": "dactinomycine", "class": "antitumour_antibiotic"}, {"inn": "vincristine", "class": "vinca_alkaloid"}]
}`

func fields(err error) []string {
	var out []string
	for _, f := range relais.FieldErrors(err) {
		out = append(out, f.Field)
	}
	return out
}

func TestParseDocumentValid(t *testing.T) {
	doc, err := relais.ParseDocument([]byte(vaDoc))
	if err != nil {
		t.Fatal(err)
	}
	if doc.Code != "VA-TEST" || len(doc.Lines) != 2 || doc.Lines[0].Dose.MaxDose != 2 || doc.Lines[1].Dose.Unit != "µg" {
		t.Fatalf("parsed %+v", doc)
	}
}

// Every fault of the file comes back together, each with its path.
func TestParseDocumentReportsEveryFault(t *testing.T) {
	cases := []struct {
		name    string
		replace [][2]string
		want    []string
	}{
		{"unknown fields everywhere", [][2]string{
			{`"code": "VA-TEST",`, `"code": "VA-TEST", "author": "x",`},
			{`"seq": 2,`, `"seq": 2, "dose_mg": 3,`},
			{`"max_dose": 2,`, `"max_dose": 2, "maxdose": 2,`},
		}, []string{"author", "lines[1].dose_mg", "lines[0].dose.maxdose"}},
		{"names match exactly, not in any case", [][2]string{{`"indication"`, `"Indication"`}},
			[]string{"Indication"}},
		{"wrong types", [][2]string{
			{`"count": 1`, `"count": "1"`},
			{`"value": 1,`, `"value": "1",`},
			{`"days": [1],
     "dose": {"kind": "per_kg"`, `"days": [1.5],
     "dose": {"kind": "per_kg"`},
		}, []string{"cycles.count", "criteria[0].value", "lines[1].days[0]"}},
		{"null where a value is needed", [][2]string{{`"seq": 1,`, `"seq": null,`}}, []string{"lines[0].seq"}},
		{"content faults", [][2]string{
			{`"kind": "per_kg"`, `"kind": "per_kilo"`},
			{`"route": "IVL", "days": [1],
     "dose": {"kind": "per_m2"`, `"route": "IV push", "days": [1],
     "dose": {"kind": "per_m2"`},
			{`"unit": "G/L"`, `"unit": "/mm3"`},
		}, []string{"lines[1].dose.kind", "lines[0].route", "criteria[0].unit"}},
		{"an intravenous line without its duration", [][2]string{{`"duration_min": 10, `, ``}},
			[]string{"lines[0].duration_min"}},
		{"a rule's own fields, under the line", [][2]string{{`"below_weight_kg": 12`, `"below_weight_kg": 0`}},
			[]string{"lines[0].dose.infant"}},
		{"drugs not listed, or listed and unused", [][2]string{
			{`{"inn": "dactinomycine", "class": "antitumour_antibiotic"}, `, `{"inn": "cisplatine", "class": "platinum"}, `},
		}, []string{"lines[1].inn", "drugs[0].inn"}},
		{"site ids do not travel", [][2]string{{`"seq": 1,`, `"seq": 1, "drug_id": "0190f5e2-7c3a-7b4e-9a1d-2f6c8e0b1a23",`}},
			[]string{"lines[0].drug_id"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := vaDoc
			for _, r := range c.replace {
				if !strings.Contains(doc, r[0]) {
					t.Fatalf("test document lacks %q", r[0])
				}
				doc = strings.Replace(doc, r[0], r[1], 1)
			}
			_, err := relais.ParseDocument([]byte(doc))
			if relais.ErrorKind(err) != relais.KindInvalid {
				t.Fatalf("err = %v", err)
			}
			got := fields(err)
			for _, w := range c.want {
				found := false
				for _, g := range got {
					found = found || g == w
				}
				if !found {
					t.Errorf("%s not reported; got %v (%v)", w, got, err)
				}
			}
		})
	}
}

func TestParseDocumentRefusals(t *testing.T) {
	cases := []struct {
		name, doc, want string
		kind            relais.Kind
	}{
		{"duplicate key", strings.Replace(vaDoc, `"days": [1],`, `"days": [1], "days": [1, 8],`, 1), `"days" appears twice`, relais.KindInvalid},
		{"malformed", vaDoc[:200], "ends too early", relais.KindInvalid},
		{"trailing data", vaDoc + "{}", "after the JSON document", relais.KindInvalid},
		{"not utf-8", strings.Replace(vaDoc, "Néphroblastome", "N\xe9phroblastome", 1), "UTF-8", relais.KindInvalid},
		{"another format", strings.Replace(vaDoc, `"relais.protocol"`, `"other"`, 1), "not a Relais protocol document", relais.KindInvalid},
		{"a newer format", strings.Replace(vaDoc, `"format_version": 1`, `"format_version": 2`, 1), "format version 1, not 2", relais.KindVersion},
		{"too deep", strings.Repeat("[", 100) + strings.Repeat("]", 100), "deeper", relais.KindInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := relais.ParseDocument([]byte(c.doc))
			if relais.ErrorKind(err) != c.kind || err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v (%v); want %v containing %q", err, relais.ErrorKind(err), c.kind, c.want)
			}
		})
	}
}

// Marshal then parse gives the same document.
func TestDocumentRoundTrip(t *testing.T) {
	doc, err := relais.ParseDocument([]byte(vaDoc))
	if err != nil {
		t.Fatal(err)
	}
	b, err := relais.MarshalDocument(doc)
	if err != nil {
		t.Fatal(err)
	}
	again, err := relais.ParseDocument(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(doc, again) {
		t.Fatalf("round trip differs:\n%s", b)
	}
}

// FuzzProtocolImport: whatever the bytes, ParseDocument returns a document
// or an error (never panics), and a document it accepts survives an
// export and a second parse unchanged.
func FuzzProtocolImport(f *testing.F) {
	f.Add([]byte(vaDoc))
	f.Add([]byte(`{"format":"relais.protocol","format_version":1}`))
	f.Add([]byte(`{"lines":[{"dose":{"age_bands":[{"min_age_months":1e400}]}}]}`))
	files, _ := filepath.Glob(filepath.Join("demo", "library", "*.json"))
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := relais.ParseDocument(data)
		if err != nil {
			if relais.ErrorMessage(err) == "internal error" {
				t.Fatalf("an error without a message: %v", err)
			}
			return
		}
		b, err := relais.MarshalDocument(doc)
		if err != nil {
			t.Fatal(err)
		}
		again, err := relais.ParseDocument(b)
		if err != nil {
			t.Fatalf("an accepted document, exported, is refused: %v\n%s", err, b)
		}
		if !reflect.DeepEqual(doc, again) {
			t.Fatalf("an accepted document changes through export:\n%s", b)
		}
	})
}
