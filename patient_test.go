package relais_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/clinical"
)

// NIR keys: 97 − (the 13-digit number mod 97), with 2A → 19 and 2B → 18 for
// Corsica (INSEE; Référentiel INS of the ANS).
func TestCheckMatricule(t *testing.T) {
	cases := []struct {
		name, nir string
		ok        bool
	}{
		// Published example: « 2 06 12 75 111 005 : femme née en décembre 1906
		// dans le 11e arrondissement de Paris. Sa clé est : 64 » (lbcd78.fr,
		// « Calcul de la clé du n° de sécurité sociale », 2007).
		{"published Paris", "2 06 12 75 111 005 64", true},
		// Published example: 2 62 08 75 032 039, key 77: 2 620 875 032 039
		// = 97 × 27 019 330 227 + 20 (trabucaire.free.fr, « Le numéro INSEE »).
		{"published Paris 2", "262087503203977", true},
		// Corsica, by hand: 1 55 08 2A 004 038 counts as 1 550 819 004 038
		// = 97 × 15 987 824 783 + 87, so the key is 97 − 87 = 10.
		{"Corsica 2A", "1 55 08 2A 004 038 10", true},
		{"Corsica 2A lower case", "155082a00403810", true},
		// 1 55 08 2B 004 038 counts as 1 550 818 004 038
		// = 97 × 15 987 814 474 + 60: key 37.
		{"Corsica 2B", "155082B00403837", true},
		{"2A read as 20 would give another key", "155082A00403837", false},
		{"wrong key", "2 06 12 75 111 005 65", false},
		{"one digit swapped", "2 06 12 75 111 050 64", false},
		{"too short", "20612751110056", false},
		{"too long", "2061275111005640", false},
		{"letter", "2061275X1100564", false},
		{"sign", "+06127511100564", false},
		{"letters in key", "20612751110050A", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := relais.CheckMatricule(relais.CleanMatricule(c.nir))
			if (err == nil) != c.ok {
				t.Fatalf("CheckMatricule(%q) = %v; want ok=%v", c.nir, err, c.ok)
			}
		})
	}
}

func TestCheckINSAgainstIdentityStatus(t *testing.T) {
	const nir = "206127511100564"
	cases := []struct {
		name  string
		ins   relais.INS
		field string // "" when valid
	}{
		{"provisional without INS", relais.INS{Status: relais.IdentityProvisional}, ""},
		{"validated without INS", relais.INS{Status: relais.IdentityValidated}, ""},
		{"qualified NIR", relais.INS{Matricule: nir, OID: relais.OIDNIR, Status: relais.IdentityQualified}, ""},
		{"recovered test NIA", relais.INS{Matricule: nir, OID: relais.OIDNIATest, Status: relais.IdentityRecovered}, ""},
		{"qualified without INS", relais.INS{Status: relais.IdentityQualified}, "ins.matricule"},
		{"INS on a provisional identity", relais.INS{Matricule: nir, OID: relais.OIDNIR, Status: relais.IdentityProvisional}, "ins.status"},
		{"unknown OID", relais.INS{Matricule: nir, OID: "1.2.3", Status: relais.IdentityQualified}, "ins.oid"},
		{"OID alone", relais.INS{OID: relais.OIDNIR, Status: relais.IdentityValidated}, "ins.matricule"},
		{"no status", relais.INS{}, "ins.status"},
		{"bad key", relais.INS{Matricule: "206127511100565", OID: relais.OIDNIR, Status: relais.IdentityQualified}, "ins.matricule"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			errs := relais.CheckINS("test", c.ins)
			if c.field == "" {
				if len(errs) != 0 {
					t.Fatalf("errors %v; want none", errs)
				}
				return
			}
			if !hasField(relais.Errors("test", errs), c.field) {
				t.Fatalf("errors %v; want one on %s", errs, c.field)
			}
		})
	}
}

func hasField(err error, field string) bool {
	for _, f := range relais.FieldErrors(err) {
		if f.Field == field {
			return true
		}
	}
	return false
}

func TestNormalizeName(t *testing.T) {
	cases := map[string]string{
		"Le Gall":         "le gall",
		"LE-GALL":         "le gall",
		"  le   gall ":    "le gall",
		"Noël-Müller":     "noel muller",
		"D'Artagnan":      "d artagnan",
		"d’Artagnan":      "d artagnan",
		"ŒUVRÉ":           "oeuvre",
		"Ștefănescu":      "stefanescu",
		"Łukasz Żółć":     "lukasz zolc",
		"Jose\u0301":      "jose", // combining acute accent
		"Éloïse--Marie .": "eloise marie",
		"---":             "",
	}
	for in, want := range cases {
		if got := relais.NormalizeName(in); got != want {
			t.Errorf("NormalizeName(%q) = %q; want %q", in, got, want)
		}
	}
	got := strings.Join(relais.NameTokens("Le Gall", "Jean-Pierre", "Le Gall"), ",")
	if got != "le,gall,legall,jean,pierre,jeanpierre" {
		t.Errorf("NameTokens = %s", got)
	}
}

func TestAgeOn(t *testing.T) {
	cases := []struct {
		birth, on           relais.Date
		years, months, days int
		decimal             float64
	}{
		// The day before the 10th birthday: 9 years, 119 months; 3652 days
		// (3650 + the leap days of 2016, 2020, 2024, minus one).
		{"2015-03-12", "2025-03-11", 9, 119, 3652, 9 + 364.0/365},
		{"2015-03-12", "2025-03-12", 10, 120, 3653, 10},
		// 2000 is a leap year: 1 January → 2 July is 183 days of 366.
		{"2000-01-01", "2000-07-02", 0, 6, 183, 0.5},
		// Born on the 31st: one month is reached on the last day of February.
		{"2024-01-31", "2024-02-28", 0, 0, 28, 28.0 / 366},
		{"2024-01-31", "2024-02-29", 0, 1, 29, 29.0 / 366},
		// Born on 29 February: one year on 28 February of a common year.
		{"2020-02-29", "2021-02-27", 0, 11, 364, 364.0 / 365},
		{"2020-02-29", "2021-02-28", 1, 12, 365, 1},
		{"2025-06-01", "2025-06-01", 0, 0, 0, 0},
	}
	for _, c := range cases {
		a, err := relais.AgeOn(c.birth, c.on)
		if err != nil {
			t.Fatal(err)
		}
		if a.Years != c.years || a.Months != c.months || a.Days != c.days || math.Abs(a.DecimalYears-c.decimal) > 1e-12 {
			t.Errorf("AgeOn(%s, %s) = %+v; want %d y, %d mo, %d d, %v", c.birth, c.on, a, c.years, c.months, c.days, c.decimal)
		}
	}
	if _, err := relais.AgeOn("2025-06-02", "2025-06-01"); err == nil {
		t.Error("an age before birth must be refused")
	}
	// AgeAt takes the calendar date in Paris: 23:30 UTC on 11 March is
	// 00:30 on 12 March in Paris (UTC+1 in winter).
	a, _ := relais.AgeAt("2015-03-12", time.Date(2025, 3, 11, 23, 30, 0, 0, time.UTC))
	if a.Years != 10 {
		t.Errorf("AgeAt at 00:30 Paris on the birthday = %d years; want 10", a.Years)
	}
}

func validInput() relais.PatientInput {
	return relais.PatientInput{IPP: "80012345", BirthName: "Le Gall", FirstNames: []string{"Maëlle", "Anne"},
		BirthDate: "2015-03-12", Sex: relais.SexFemale, BirthplaceCode: "29019",
		INS: relais.INS{Status: relais.IdentityProvisional}}
}

func TestPatientInputRefusesNamingTheField(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(*relais.PatientInput)
		field string
	}{
		{"no IPP", func(p *relais.PatientInput) { p.IPP = " " }, "ipp"},
		{"IPP with space", func(p *relais.PatientInput) { p.IPP = "800 123" }, "ipp"},
		{"no birth name", func(p *relais.PatientInput) { p.BirthName = "" }, "birth_name"},
		{"name of punctuation", func(p *relais.PatientInput) { p.BirthName = "--" }, "birth_name"},
		{"name too long", func(p *relais.PatientInput) { p.BirthName = strings.Repeat("a", 101) }, "birth_name"},
		{"no first name", func(p *relais.PatientInput) { p.FirstNames = nil }, "first_names"},
		{"empty second first name", func(p *relais.PatientInput) { p.FirstNames = []string{"Anne", " "} }, "first_names[1]"},
		{"no birth date", func(p *relais.PatientInput) { p.BirthDate = "" }, "birth_date"},
		{"birth date not a date", func(p *relais.PatientInput) { p.BirthDate = "12/03/2015" }, "birth_date"},
		{"birth date in the future", func(p *relais.PatientInput) { p.BirthDate = "2099-01-01" }, "birth_date"},
		{"birth date before 1900", func(p *relais.PatientInput) { p.BirthDate = "1899-12-31" }, "birth_date"},
		{"sex", func(p *relais.PatientInput) { p.Sex = "X" }, "sex"},
		{"birthplace", func(p *relais.PatientInput) { p.BirthplaceCode = "2C004" }, "birthplace_code"},
		{"INS key", func(p *relais.PatientInput) {
			p.INS = relais.INS{Matricule: "206127511100563", OID: relais.OIDNIR, Status: relais.IdentityQualified}
		}, "ins.matricule"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := validInput()
			c.edit(&in)
			err := in.Normalize("patient.create", "2025-06-01")
			if relais.ErrorKind(err) != relais.KindInvalid || !hasField(err, c.field) {
				t.Fatalf("err = %v; want invalid on %s", err, c.field)
			}
		})
	}
	in := validInput()
	in.BirthplaceCode = "2a004"
	in.INS = relais.INS{Matricule: "1 55 08 2A 004 038 10", OID: relais.OIDNIR, Status: relais.IdentityQualified}
	if err := in.Normalize("patient.create", "2025-06-01"); err != nil {
		t.Fatalf("valid input refused: %v", err)
	}
	if in.INS.Matricule != "155082A00403810" || in.BirthplaceCode != "2A004" {
		t.Errorf("normalized: %+v", in)
	}
}

func TestMeasurementInput(t *testing.T) {
	now := time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)
	v := func(x float64) *float64 { return &x }
	cases := []struct {
		name  string
		in    relais.MeasurementInput
		field string
	}{
		{"ok", relais.MeasurementInput{Kind: "weight_kg", Value: v(21.5), MeasuredAt: now.Add(-time.Hour)}, ""},
		{"ok zero neutrophils", relais.MeasurementInput{Kind: "neutrophils_g_l", Value: v(0), Unit: "G/L", MeasuredAt: now, Source: "lab"}, ""},
		{"unknown kind", relais.MeasurementInput{Kind: "weight_g", Value: v(21500), MeasuredAt: now}, "kind"},
		{"no value", relais.MeasurementInput{Kind: "weight_kg", MeasuredAt: now}, "value"},
		// A weight typed in grams.
		{"weight above bound", relais.MeasurementInput{Kind: "weight_kg", Value: v(21500), MeasuredAt: now}, "value"},
		// A creatinine of 0.6 mg/dL typed as µmol/L.
		{"creatinine below bound", relais.MeasurementInput{Kind: "creatinine_umol_l", Value: v(0.6), MeasuredAt: now}, "value"},
		{"other unit", relais.MeasurementInput{Kind: "creatinine_umol_l", Value: v(50), Unit: "mg/dL", MeasuredAt: now}, "unit"},
		{"no time", relais.MeasurementInput{Kind: "weight_kg", Value: v(20)}, "measured_at"},
		{"future", relais.MeasurementInput{Kind: "weight_kg", Value: v(20), MeasuredAt: now.Add(time.Hour)}, "measured_at"},
		{"before birth", relais.MeasurementInput{Kind: "weight_kg", Value: v(20), MeasuredAt: time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC)}, "measured_at"},
		{"source", relais.MeasurementInput{Kind: "weight_kg", Value: v(20), MeasuredAt: now, Source: "guess"}, "source"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := c.in
			err := in.Normalize("measurement.record", now, "2015-03-12")
			if c.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				k, _ := relais.MeasurementKindOf(in.Kind)
				if in.Unit != k.Unit || in.Source == "" {
					t.Fatalf("normalized %+v", in)
				}
				return
			}
			if !hasField(err, c.field) {
				t.Fatalf("err = %v; want one on %s", err, c.field)
			}
		})
	}
}

func measurement(kind string, value float64, at time.Time) relais.Measurement {
	return relais.Measurement{ID: relais.NewID(), Kind: kind, Value: value, MeasuredAt: at}
}

func TestComputeCurrentValues(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	child := relais.Patient{ID: relais.NewID(), BirthDate: "2015-03-12", Sex: relais.SexFemale}
	voided := measurement("weight_kg", 80, now.Add(-time.Hour))
	voided.Voided = &relais.Voiding{Reason: "wrong patient"}
	ms := []relais.Measurement{
		measurement("height_cm", 118, now.Add(-40*day)),
		measurement("height_cm", 120, now.Add(-10*day)), // latest height
		measurement("weight_kg", 29, now.Add(-20*day)),
		measurement("weight_kg", 30, now.Add(-3*day)), // latest valid weight
		voided,
		// 44.21 µmol/L = 0.5 mg/dL (÷ 88.42).
		measurement("creatinine_umol_l", 44.21, now.Add(-2*day)),
	}
	cv := relais.ComputeCurrentValues(child, ms, now)

	if cv.Age.Years != 10 {
		t.Errorf("age %d; want 10", cv.Age.Years)
	}
	w, ok := cv.Value("weight_kg")
	if !ok || w.Value != 30 || w.Age.Seconds != int64(3*day/time.Second) || !strings.Contains(w.Age.Text, "3 d 0 h") {
		t.Errorf("current weight = %+v; want 30 kg, 3 days old (the voided 80 kg skipped)", w)
	}
	// Mosteller (N Engl J Med 1987;317:1098): √(120 × 30 / 3600) = √1 = 1 m².
	if cv.BSA.Result == nil || math.Abs(cv.BSA.Result.Value-1) > 1e-9 || len(cv.BSA.Result.Steps) == 0 {
		t.Fatalf("BSA = %+v; want 1 m² with its steps", cv.BSA)
	}
	// The BSA is as old as its oldest input, the height (10 days).
	if !cv.BSA.OldestInput.Equal(now.Add(-10*day)) || cv.BSA.Age.Seconds != int64(10*day/time.Second) || len(cv.BSA.Inputs) != 2 {
		t.Errorf("BSA inputs %v, oldest %v, age %+v", cv.BSA.Inputs, cv.BSA.OldestInput, cv.BSA.Age)
	}
	// Bedside Schwartz (Schwartz et al., J Am Soc Nephrol 2009;20:629):
	// 0.413 × 120 cm / 0.5 mg/dL = 99.12 mL/min/1.73 m².
	if cv.GFR.Method != clinical.GFRSchwartzBedside || cv.GFR.Result == nil || math.Abs(cv.GFR.Result.Value-99.12) > 0.01 {
		t.Fatalf("child GFR = %+v; want bedside Schwartz 99.12", cv.GFR)
	}
	if cv.GFR.Result.Steps[0].Code != "gfr.method_choice" || cv.GFR.Age.Seconds != int64(10*day/time.Second) {
		t.Errorf("GFR derivation: first step %q, age %+v", cv.GFR.Result.Steps[0].Code, cv.GFR.Age)
	}

	// An adult man: CKD-EPI 2021 (Inker et al., N Engl J Med
	// 2021;385:1737). Creatinine 79.578 µmol/L = 0.9 mg/dL = κ, so both
	// ratio terms are 1 and eGFR = 142 × 0.9938^60; by hand
	// 0.9938^60 = e^(60 × ln 0.9938) = e^(−0.373158…) = 0.688556…, × 142 =
	// 97.775 mL/min/1.73 m².
	adult := relais.Patient{ID: relais.NewID(), BirthDate: "1965-01-15", Sex: relais.SexMale}
	cv = relais.ComputeCurrentValues(adult, []relais.Measurement{measurement("creatinine_umol_l", 79.578, now.Add(-day))}, now)
	if cv.GFR.Method != clinical.GFRCKDEPI2021 || cv.GFR.Result == nil || math.Abs(cv.GFR.Result.Value-97.775) > 0.001 {
		t.Fatalf("adult GFR = %+v; want CKD-EPI 2021 ≈ 97.775", cv.GFR)
	}
	if cv.BSA.Result != nil || !strings.Contains(cv.BSA.Unavailable, "height_cm") {
		t.Errorf("BSA without height or weight: %+v", cv.BSA)
	}
	// Sex unknown: CKD-EPI cannot be computed, and says why.
	adult.Sex = relais.SexUnknown
	cv = relais.ComputeCurrentValues(adult, []relais.Measurement{measurement("creatinine_umol_l", 79.578, now.Add(-day))}, now)
	if cv.GFR.Result != nil || !strings.Contains(cv.GFR.Unavailable, "sex") {
		t.Errorf("GFR with sex U: %+v", cv.GFR)
	}
	// Nothing recorded.
	cv = relais.ComputeCurrentValues(adult, nil, now)
	if len(cv.Values) != 0 || cv.BSA.Result != nil || cv.GFR.Result != nil || cv.GFR.Unavailable == "" {
		t.Errorf("empty: %+v", cv)
	}
}
