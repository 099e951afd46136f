package demo_test

import (
	"context"
	"log/slog"
	"math"
	"reflect"
	"testing"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/clinical"
	"github.com/relais-onco/relais/demo"
	"github.com/relais-onco/relais/internal/testdb"
	"github.com/relais-onco/relais/sqlstore"
)

// loadLibrary loads the demo library into a fresh SQLite database, with
// the two demo accounts it needs.
func loadLibrary(t *testing.T) *sqlstore.DB {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, testdb.SQLite(t), sqlstore.Options{Site: demo.MainSite.ID, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	sys := relais.WithActor(ctx, relais.SystemActor(demo.MainSite.ID))
	for _, u := range demo.Users {
		if u.Username == demo.LibraryAuthor || u.Username == demo.LibraryApprover {
			if _, err := db.CreateUser(sys, u, demo.Password); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := demo.LoadLibrary(ctx, db); err != nil {
		t.Fatal(err)
	}
	return db
}

// Reference patients. Their Mosteller BSA (Mosteller RD. Simplified
// calculation of body-surface area. N Engl J Med 1987;317:1098) is computed
// here, independently of clinical.
var (
	// An adult of 180 cm and 80 kg: BSA √(180 × 80 / 3600) = 2.00 m²
	// exactly; 60 years, serum creatinine 1.0 mg/dL, so Cockcroft–Gault
	// (Nephron 1976;16:31–41) gives (140 − 60) × 80 / 72 = 88.9 mL/min.
	adult = clinical.Patient{AgeYears: age(60), Sex: "M", HeightCm: 180, WeightKg: 80, CreatinineMgDL: 1.0}
	// A child of 5 years, 110 cm, 18 kg: BSA √(110 × 18 / 3600) = 0.742 m².
	child = clinical.Patient{AgeYears: age(5), Sex: "F", HeightCm: 110, WeightKg: 18}
)

func age(years float64) *float64 { return &years }

func mosteller(p clinical.Patient) float64 { return math.Sqrt(p.HeightCm * p.WeightKg / 3600) }

// calvert is carboplatin's dose: AUC × (GFR + 25) (Calvert AH et al. J Clin
// Oncol 1989;7:1748–56), with Cockcroft–Gault's GFR.
func calvert(auc float64, p clinical.Patient) float64 {
	gfr := (140 - *p.AgeYears) * p.WeightKg / (72 * p.CreatinineMgDL)
	return auc * (gfr + 25)
}

// published gives, for each demo protocol and line (by seq), the dose the
// cited source prescribes for the reference patient, computed by hand from
// the published dose (the source of each protocol is in its file).
func published() map[string]struct {
	patient clinical.Patient
	doses   map[int]float64
} {
	a, c := mosteller(adult), mosteller(child)
	type entry = struct {
		patient clinical.Patient
		doses   map[int]float64
	}
	return map[string]entry{
		// Canellos 1992: A 25 mg/m², B 10 U/m², V 6 mg/m², D 375 mg/m².
		"ABVD": {adult, map[int]float64{1: 25 * a, 2: 10 * a, 3: 6 * a, 4: 375 * a}},
		// Coiffier 2002: R 375, C 750, H 50, O 1.4 mg/m² capped at 2 mg,
		// P 40 mg/m²; paracetamol 1 g premedication.
		"R-CHOP-21": {adult, map[int]float64{1: 1000, 2: 375 * a, 3: 750 * a, 4: 50 * a, 5: 2, 6: 40 * a}},
		// Vasey 2004 (SCOTROC1): paclitaxel 175 or docetaxel 75 mg/m²,
		// carboplatin AUC 5.
		"PACLI-CARBO": {adult, map[int]float64{1: 175 * a, 2: calvert(5, adult)}},
		"DOCE-CARBO":  {adult, map[int]float64{1: 75 * a, 2: calvert(5, adult)}},
		// de Gramont 2000: oxaliplatin 85, leucovorin 200, 5-FU 400 bolus
		// and 600 mg/m² over 22 h.
		"FOLFOX-4": {adult, map[int]float64{1: 85 * a, 2: 200 * a, 3: 400 * a, 4: 600 * a}},
		// Fisher 1990: doxorubicin 60, cyclophosphamide 600 mg/m².
		"AC60": {adult, map[int]float64{1: 60 * a, 2: 600 * a}},
		// Williams 1987: cisplatin 20, etoposide 100 mg/m², bleomycin 30 U.
		"BEP": {adult, map[int]float64{1: 20 * a, 2: 100 * a, 3: 30}},
		// Tannock 2004: docetaxel 75 mg/m², prednisone 5 mg twice a day.
		"DOCE-PRED": {adult, map[int]float64{1: 75 * a, 2: 5, 3: 5}},
		// Sparano 2008: paclitaxel 80 mg/m² weekly.
		"PACLI-HEBDO": {adult, map[int]float64{1: 80 * a}},
		// SIOP WT 2001 / UMBRELLA: vincristine 1.5 mg/m², dactinomycin
		// 45 µg/kg.
		"VA-PREOP": {child, map[int]float64{1: 1.5 * c, 2: 45 * child.WeightKg}},
		// Walterhouse 2014: vincristine 1.5 mg/m², dactinomycin
		// 0.045 mg/kg, cyclophosphamide 1.2 g/m².
		"VAC-ARST0331": {child, map[int]float64{1: 1.5 * c, 2: 0.045 * child.WeightKg, 3: 1200 * c}},
		// Gnekow 2017: vincristine 1.5 mg/m², carboplatin 550 mg/m².
		"VC-LGG": {child, map[int]float64{1: 1.5 * c, 2: 550 * c}},
		// AALL0932 at 5 years: IT cytarabine 70 mg (≥ 3 y), vincristine
		// 1.5 mg/m², dexamethasone 6 mg/m²/day in two doses, pegaspargase
		// 2500 IU/m², IT methotrexate 12 mg (3 to 9 y).
		"ALL-IND-3D": {child, map[int]float64{1: 70, 2: 1.5 * c, 3: 3 * c, 4: 3 * c, 5: 2500 * c, 6: 12}},
	}
}

// closeTo reports whether got is want within the display rounding of a dose
// (at most 0.5 %, docs/calc.md).
func closeTo(got, want float64) bool { return math.Abs(got-want) <= 0.005*want+1e-9 }

func TestLibraryDosesMatchTheSources(t *testing.T) {
	db := loadLibrary(t)
	ctx := context.Background()
	list, err := db.Protocols(ctx, relais.ProtocolFilter{})
	if err != nil {
		t.Fatal(err)
	}
	want := published()
	if len(list) < 12 || len(list) != len(want) {
		t.Fatalf("%d protocols loaded, %d expected (at least 12)", len(list), len(want))
	}
	pops := map[relais.Population]int{}
	for _, p := range list {
		pops[p.Population]++
		if p.ActiveVersion != 1 {
			t.Errorf("%s: active version %d, want 1", p.Code, p.ActiveVersion)
			continue
		}
		v, err := db.ProtocolVersionByNumber(ctx, p.ID, 1)
		if err != nil {
			t.Fatal(err)
		}
		if v.Author.Username != demo.LibraryAuthor || v.Approver == nil || v.Approver.Username != demo.LibraryApprover {
			t.Errorf("%s: written by %s, approved by %+v", p.Code, v.Author.Username, v.Approver)
		}
		if len(v.Content.Source) < 40 {
			t.Errorf("%s: the source is not cited: %q", p.Code, v.Content.Source)
		}
		w, ok := want[p.Code]
		if !ok {
			t.Errorf("%s: no published doses to check it against", p.Code)
			continue
		}
		checked := 0
		for _, l := range v.Content.Lines {
			if l.Dose.Kind == "" {
				continue // a drugless hydration
			}
			exp, ok := w.doses[l.Seq]
			if !ok {
				t.Errorf("%s line %d (%s): no published dose to check", p.Code, l.Seq, l.INN)
				continue
			}
			res, err := clinical.Dose(l.Dose, w.patient)
			if err != nil {
				t.Errorf("%s line %d (%s): %v", p.Code, l.Seq, l.INN, err)
				continue
			}
			if !closeTo(res.Value, exp) {
				t.Errorf("%s line %d (%s): %g %s, the source gives %.4g", p.Code, l.Seq, l.INN, res.Value, res.Unit, exp)
			}
			checked++
		}
		if checked != len(w.doses) {
			t.Errorf("%s: %d lines checked, %d published doses", p.Code, checked, len(w.doses))
		}
	}
	if pops[relais.Adult] == 0 || pops[relais.Paediatric] == 0 {
		t.Errorf("populations: %v", pops)
	}
}

// The rules that change a dose: caps, the infant rule, the age bands.
func TestLibraryDoseRules(t *testing.T) {
	db := loadLibrary(t)
	ctx := context.Background()
	line := func(code string, seq int) clinical.Rule {
		t.Helper()
		p, err := db.ProtocolByCode(ctx, code)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range p.Active().Content.Lines {
			if l.Seq == seq {
				return l.Dose
			}
		}
		t.Fatalf("%s has no line %d", code, seq)
		return clinical.Rule{}
	}
	years := func(y float64) clinical.Patient {
		return clinical.Patient{AgeYears: age(y), HeightCm: 100, WeightKg: 15}
	}
	// A 16-year-old of 175 cm and 80 kg: BSA 1.97 m².
	teen := clinical.Patient{AgeYears: age(16), HeightCm: 175, WeightKg: 80}
	// An infant of 8 months, 70 cm, 8 kg: below SIOP's 12 kg, vincristine is
	// 1.5 mg/m² ÷ 30 = 0.05 mg/kg, 0.4 mg.
	infant := clinical.Patient{AgeYears: age(8.0 / 12), HeightCm: 70, WeightKg: 8}
	cases := []struct {
		name    string
		code    string
		seq     int
		patient clinical.Patient
		want    float64
	}{
		{"R-CHOP vincristine capped at 2 mg (BSA 2.0)", "R-CHOP-21", 5, adult, 2},
		{"VAC vincristine capped at 2 mg", "VAC-ARST0331", 1, teen, 2},
		{"VAC dactinomycin 0.045 mg/kg capped at 2.5 mg", "VAC-ARST0331", 2, teen, 2.5},
		{"VA dactinomycin 45 µg/kg capped at 2000 µg", "VA-PREOP", 2, teen, 2000},
		{"VA vincristine by weight below 12 kg", "VA-PREOP", 1, infant, 0.4},
		{"IT cytarabine at 18 months", "ALL-IND-3D", 1, years(1.5), 30},
		{"IT cytarabine at 30 months", "ALL-IND-3D", 1, years(2.5), 50},
		{"IT cytarabine at 3 years", "ALL-IND-3D", 1, years(3), 70},
		{"IT methotrexate at 18 months", "ALL-IND-3D", 6, years(1.5), 8},
		{"IT methotrexate at 30 months", "ALL-IND-3D", 6, years(2.5), 10},
		{"IT methotrexate at 8 years", "ALL-IND-3D", 6, years(8), 12},
		{"IT methotrexate at 9 years", "ALL-IND-3D", 6, years(9), 15},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := clinical.Dose(line(c.code, c.seq), c.patient)
			if err != nil {
				t.Fatal(err)
			}
			if !closeTo(res.Value, c.want) {
				t.Fatalf("%g %s, want %g", res.Value, res.Unit, c.want)
			}
		})
	}
	// Below 12 months AALL0932 defines no intrathecal dose: none is computed.
	if _, err := clinical.Dose(line("ALL-IND-3D", 6), years(0.9)); err == nil {
		t.Fatal("an intrathecal dose was computed for an 11-month-old")
	}
}

// The demo catalogue's codes are marked fictitious, and a demo protocol
// exported and parsed again is the file it came from.
func TestLibraryData(t *testing.T) {
	cat, err := demo.LibraryCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range cat.Products {
		if !p.UCDDemo {
			t.Errorf("%s: UCD %s is not marked as a demo code", p.Brand, p.UCD)
		}
		if err := relais.ValidateUCD(p.UCD); err != nil {
			t.Errorf("%s: %v", p.Brand, err)
		}
	}
	docs, err := demo.LibraryDocuments()
	if err != nil {
		t.Fatal(err)
	}
	db := loadLibrary(t)
	ctx := relais.WithActor(context.Background(), relais.SystemActor(demo.MainSite.ID))
	for name, doc := range docs {
		p, err := db.ProtocolByCode(ctx, doc.Code)
		if err != nil {
			t.Fatal(err)
		}
		exported, err := db.ExportVersion(ctx, p.Active().ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(exported.ProtocolContent, doc.ProtocolContent) || exported.Code != doc.Code || !reflect.DeepEqual(exported.Drugs, doc.Drugs) {
			t.Errorf("%s: the exported version differs from the file", name)
		}
	}
}
