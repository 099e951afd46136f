package journal

import (
	"bytes"
	"encoding/json"
	"testing"
)

var canonicalSeeds = []string{
	`{"b":1,"a":[true,false,null,{"z":"x","y":-0.5e+3}],"c":{}}`,
	`{"dose":"≥ 1 G/L <neutrophils> & \u003cplatelets\u003e","line":"\u2028\u2029"}`,
	`{"a":1,"a":2,"b":{"k":[],"k":{"x":"y"}}}`,
	` [ 1 , 2.50 , 1E5, -0, 1e-7 ] `,
	`"\ud83d\ude00 \ud83d x \udc00 \u00e9 \b\f\n\r\t\u0001\/"`,
	"\"caf\xc3\xa9 \xff bad\"",
	`{"é":1,"e":2,"E":3,"":4}`,
	`1]`, `{"a":1}}`, `{"a":01}`, `[1,]`, `{"a"}`, `nul`, `"\x"`, "\"\x01\"",
}

// TestCanonicalFastMatchesReference: the one-pass canonicalizer gives the
// exact bytes of the encoding/json definition, or defers to it.
func TestCanonicalFastMatchesReference(t *testing.T) {
	for i, s := range canonicalSeeds {
		checkCanonicalFast(t, []byte(s))
		if _, ok := canonicalFast([]byte(s)); i < 7 && !ok {
			t.Errorf("%q: a valid document left the fast path", s)
		}
	}
	// A journal document as Relais writes it: a Go struct marshalled with
	// HTML escaping, fields in declaration order.
	doc, _ := json.Marshal(struct {
		Zeta  string         `json:"zeta"`
		Alpha []float64      `json:"alpha"`
		Map   map[string]any `json:"map"`
	}{"a < b && c > d", []float64{1.25, 3, 1e-9}, map[string]any{"y": "é", "x": nil}})
	checkCanonicalFast(t, doc)
	if _, ok := canonicalFast(doc); !ok {
		t.Errorf("%s: a marshalled struct left the fast path", doc)
	}
}

func FuzzCanonicalFast(f *testing.F) {
	for _, s := range canonicalSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) { checkCanonicalFast(t, doc) })
}

func checkCanonicalFast(t *testing.T, doc []byte) {
	t.Helper()
	if len(bytes.TrimSpace(doc)) == 0 {
		return
	}
	want, werr := canonicalizeReference(doc)
	got, ok := canonicalFast(doc)
	if !ok {
		return // the reference path decides
	}
	if werr != nil {
		t.Fatalf("%q: the fast path accepted what the reference refuses (%v): %q", doc, werr, got)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%q:\n fast %q\n  ref %q", doc, got, want)
	}
}

// benchDocument is shaped like a prescription's after-image: ten lines,
// each with its dose derivation, marshalled from Go values.
func benchDocument(b *testing.B) []byte {
	type step struct {
		Label string  `json:"label"`
		Value float64 `json:"value"`
		Unit  string  `json:"unit"`
		Note  string  `json:"note,omitempty"`
	}
	type line struct {
		ID, INN, Route, Vehicle, Status string
		Dose, VolumeML                  float64
		Derivation                      []step
		Checks                          []map[string]any
	}
	var lines []line
	for i := range 10 {
		lines = append(lines, line{ID: "01a2-line", INN: "cyclophosphamide", Route: "IV", Vehicle: "NaCl 0.9 %", Status: "proposed",
			Dose: 1234.5 + float64(i), VolumeML: 250,
			Derivation: []step{{"BSA (Mosteller) √(165 cm × 62 kg / 3600)", 1.6872, "m²", ""}, {"dose per m²", 750, "mg/m²", "protocol"}, {"dose", 1265.4, "mg", "750 × 1.6872 < max 2000"}},
			Checks:     []map[string]any{{"level": "info", "reason": "weight 62 kg measured 1 h ago", "code": "measure.age"}}})
	}
	doc, err := json.Marshal(map[string]any{"id": "01a2", "status": "draft", "cycle": 1, "lines": lines, "patient": map[string]any{"ipp": "B0000001", "allergies": []string{}}})
	if err != nil {
		b.Fatal(err)
	}
	return doc
}

// BenchmarkCanonicalize compares the one-pass canonicalizer (fast) with the
// encoding/json definition it must equal (reference), on the same document
// in the same run.
func BenchmarkCanonicalize(b *testing.B) {
	doc := benchDocument(b)
	b.Run("reference", func(b *testing.B) {
		b.SetBytes(int64(len(doc)))
		for b.Loop() {
			if _, err := canonicalizeReference(doc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fast", func(b *testing.B) {
		b.SetBytes(int64(len(doc)))
		for b.Loop() {
			if _, err := Canonicalize(doc); err != nil {
				b.Fatal(err)
			}
		}
	})
}
