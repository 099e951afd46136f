package clinical

import (
	"strings"
	"testing"
)

// The equivalence table must carry the ratios of its cited source:
// Feijen EAM et al., JAMA Oncol 2019;5(6):864, Table 3 (mean ratios
// daunorubicin 0.6, epirubicin 0.8, mitoxantrone 10.5; idarubicin not
// estimable, scaled by 5 in that table's footnote b).
func TestAnthracyclineEquivalenceTable(t *testing.T) {
	want := map[string]float64{"doxorubicin": 1, "daunorubicin": 0.6, "epirubicin": 0.8, "idarubicin": 5, "mitoxantrone": 10.5}
	if len(AnthracyclineEquivalence) != len(want) {
		t.Fatalf("%d rows, want %d", len(AnthracyclineEquivalence), len(want))
	}
	for _, e := range AnthracyclineEquivalence {
		if want[e.Drug] != e.Factor {
			t.Errorf("%s: factor %v, want %v", e.Drug, e.Factor, want[e.Drug])
		}
		if e.Source == "" || e.NameFR == "" {
			t.Errorf("%s: no source or French name", e.Drug)
		}
		if e.Drug != "doxorubicin" && !strings.Contains(e.Source, "JAMA Oncol 2019") {
			t.Errorf("%s: source %q", e.Drug, e.Source)
		}
	}
}

func TestCumulative(t *testing.T) {
	t.Run("anthracyclines within the limit", func(t *testing.T) {
		// 300 mg/m² × 0.8 (epirubicin) + 100 × 0.6 (daunorubicin) + 10 × 5
		// (idarubicin) + 12 × 10.5 (mitoxantrone) + 50 × 1 (doxorubicin)
		// = 240 + 60 + 50 + 126 + 50 = 526 mg/m²; limit 550 → 24 remaining.
		r, err := Cumulative("anthracycline", []CumulativeDose{
			{Drug: "epirubicin", MgPerM2: 300}, {Drug: "daunorubicin", MgPerM2: 100},
			{Drug: "idarubicin", MgPerM2: 10}, {Drug: "Mitoxantrone", MgPerM2: 12},
			{Drug: "doxorubicin", MgPerM2: 50},
		}, 550)
		if err != nil {
			t.Fatal(err)
		}
		if r.Value != 526 || r.Unit != "mg/m²" || r.Exceeds || r.Remaining != 24 || r.Limit != 550 {
			t.Fatalf("%+v", r)
		}
		if n := len(r.Steps); n != 7 {
			t.Fatalf("%d steps, want 5 doses + total + limit", n)
		}
		if s := r.Steps[0]; s.Code != "cumulative.dose" || s.Value != 240 || !strings.Contains(s.FR, "Épirubicine 300 mg/m² × 0,8 = 240 mg/m²") {
			t.Errorf("first step %+v", s)
		}
		if s := findStep(t, r.Result, "cumulative.limit"); !strings.Contains(s.EN, "24 mg/m² remaining") {
			t.Errorf("limit step %q", s.EN)
		}
	})
	t.Run("anthracyclines over the limit", func(t *testing.T) {
		// 250 × 1 + 200 × 0.6 = 370 > 360: over by 10.
		r, err := Cumulative("anthracycline", []CumulativeDose{{Drug: "doxorubicin", MgPerM2: 250}, {Drug: "daunorubicin", MgPerM2: 200}}, 360)
		if err != nil {
			t.Fatal(err)
		}
		if r.Value != 370 || !r.Exceeds || r.Remaining != -10 {
			t.Fatalf("%+v", r)
		}
		if s := findStep(t, r.Result, "cumulative.limit"); !strings.Contains(s.FR, "dépassement de 10 mg/m²") {
			t.Errorf("limit step %q", s.FR)
		}
	})
	t.Run("equal to the limit does not exceed it", func(t *testing.T) {
		// 0.1 + 0.2 would be 0.30000000000000004 > 0.3 without noise cleaning.
		r, err := Cumulative("bleomycin", []CumulativeDose{{Drug: "bleomycin", Units: 0.1}, {Drug: "bleomycin", Units: 0.2}}, 1)
		if err != nil {
			t.Fatal(err)
		}
		if r.Value != 0.3 {
			t.Fatalf("total %v, want 0.3", r.Value)
		}
		r, err = Cumulative("bleomycin", []CumulativeDose{{Drug: "bleomycin", Units: 200}, {Drug: "bleomycin", Units: 200}}, 400)
		if err != nil {
			t.Fatal(err)
		}
		if r.Value != 400 || r.Unit != "U" || r.Exceeds || r.Remaining != 0 {
			t.Fatalf("%+v", r)
		}
	})
	t.Run("no dose yet", func(t *testing.T) {
		r, err := Cumulative("anthracycline", nil, 450)
		if err != nil || r.Value != 0 || r.Exceeds || r.Remaining != 450 {
			t.Fatalf("%+v %v", r, err)
		}
	})
}

func TestCumulativeRefuses(t *testing.T) {
	tests := []struct {
		name  string
		class string
		doses []CumulativeDose
		limit float64
		field string
	}{
		{"no class", "", nil, 450, "class"},
		{"unknown class", "platinum", nil, 450, "class"},
		{"no limit", "anthracycline", nil, 0, "limit_mg_per_m2"},
		{"no bleomycin limit", "bleomycin", nil, 0, "limit_units"},
		{"unknown drug", "anthracycline", []CumulativeDose{{Drug: "doxorubicin", MgPerM2: 50}, {Drug: "aclarubicin", MgPerM2: 50}}, 450, "doses[1].drug"},
		{"missing dose", "anthracycline", []CumulativeDose{{Drug: "doxorubicin"}}, 450, "doses[0].mg_per_m2"},
		{"negative dose", "anthracycline", []CumulativeDose{{Drug: "doxorubicin", MgPerM2: -5}}, 450, "doses[0].mg_per_m2"},
		{"units for an anthracycline", "anthracycline", []CumulativeDose{{Drug: "doxorubicin", MgPerM2: 5, Units: 5}}, 450, "doses[0].units"},
		{"other drug in bleomycin", "bleomycin", []CumulativeDose{{Drug: "doxorubicin", Units: 5}}, 400, "doses[0].drug"},
		{"mg/m² for bleomycin", "bleomycin", []CumulativeDose{{Drug: "bleomycin", MgPerM2: 5}}, 400, "doses[0].mg_per_m2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Cumulative(tt.class, tt.doses, tt.limit)
			wantFieldError(t, err, tt.field)
		})
	}
}
