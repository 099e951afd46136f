package sqlstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/clinical"
	"github.com/relais-onco/relais/internal/testdb"
	"github.com/relais-onco/relais/sqlstore"
)

// The regimen of these tests is R-CHOP-21 as published by Coiffier B et al.,
// N Engl J Med 2002;346:235–42: rituximab 375 mg/m², cyclophosphamide
// 750 mg/m², doxorubicin 50 mg/m², vincristine 1.4 mg/m² (capped at 2 mg) on
// day 1, every 21 days, 8 cycles. The anthracycline limit is set low
// (250 mg/m²) so that the fifth and sixth cycles test it.
//
// The patient is 180 cm and 80 kg: Mosteller BSA = √(180 × 80 / 3600) =
// √4 = 2.00 m² (Mosteller RD, N Engl J Med 1987;317:1098), so the doses are
// doxorubicin 100 mg, cyclophosphamide 1500 mg, rituximab 750 mg, and
// vincristine 1.4 × 2 = 2.8 mg capped to 2 mg.

type fixture struct {
	db        *sqlstore.DB
	doctor    context.Context
	pharma    context.Context
	admin     context.Context
	patient   relais.Patient
	versionID relais.ID
}

func f64(v float64) *float64 { return &v }

func as(u relais.User) context.Context {
	return relais.WithActor(context.Background(), u.Actor())
}

func newFixture(t *testing.T, dsn string) *fixture {
	t.Helper()
	db := open(t, dsn)
	sys := relais.WithActor(context.Background(), relais.SystemActor("chu-test"))
	mk := func(name string, role relais.Role) context.Context {
		u, err := db.CreateUser(sys, relais.User{Username: name, Name: name, Role: role}, "")
		if err != nil {
			t.Fatal(err)
		}
		return as(u)
	}
	f := &fixture{db: db, doctor: mk("dr.test", relais.RolePrescriber), pharma: mk("ph.test", relais.RolePharmacist), admin: mk("admin.test", relais.RolePharmAdmin)}
	for _, d := range []relais.Drug{
		{INN: "rituximab", Class: relais.ClassAntibody},
		{INN: "cyclophosphamide", Class: relais.ClassAlkylating, Cytotoxic: true},
		{INN: "doxorubicine", Class: relais.ClassAnthracycline, Cytotoxic: true},
		{INN: "vincristine", Class: relais.ClassVincaAlkaloid, Cytotoxic: true},
	} {
		if _, err := db.CreateDrug(f.admin, d); err != nil {
			t.Fatalf("drug %s: %v", d.INN, err)
		}
	}
	if _, err := db.CreateDiluent(f.admin, relais.Diluent{Name: "NaCl 0.9%", VolumesML: []float64{50, 100, 250, 500}}); err != nil {
		t.Fatal(err)
	}
	perM2 := func(d float64) clinical.Rule { return clinical.Rule{Kind: "per_m2", Dose: d, Unit: "mg"} }
	vcr := perM2(1.4)
	vcr.MaxDose = 2
	content := relais.ProtocolContent{
		Cycles: relais.Cycles{Count: 8, LengthDays: 21},
		Days:   []int{1},
		Lines: []relais.ProtocolLine{
			{Seq: 1, Kind: relais.LineChemo, INN: "rituximab", Dose: perM2(375), Route: relais.RouteIV, Days: []int{1}, Vehicle: "NaCl 0.9%", VolumeML: 500, DurationMin: 240},
			{Seq: 2, Kind: relais.LineChemo, INN: "cyclophosphamide", Dose: perM2(750), Route: relais.RouteIV, Days: []int{1}, Vehicle: "NaCl 0.9%", VolumeML: 250, DurationMin: 60},
			{Seq: 3, Kind: relais.LineChemo, INN: "doxorubicine", Dose: perM2(50), Route: relais.RouteIVL, Days: []int{1}, DurationMin: 15},
			{Seq: 4, Kind: relais.LineChemo, INN: "vincristine", Dose: vcr, Route: relais.RouteIV, Days: []int{1}, Vehicle: "NaCl 0.9%", VolumeML: 50, DurationMin: 10},
		},
		Criteria: []relais.Criterion{
			{Lab: "neutrophils", Op: ">=", Value: 1.5, Unit: "G/L"},
			{Lab: "platelets", Op: ">=", Value: 100, Unit: "G/L"},
		},
		CumulativeLimits: []relais.CumulativeLimit{{Class: relais.ClassAnthracycline, Limit: 250, Unit: "mg/m²"}},
		Source:           "Coiffier B et al., N Engl J Med 2002;346:235–42",
	}
	pd, err := db.CreateProtocol(f.admin, relais.NewProtocol{Code: "R-CHOP-21", Name: "R-CHOP 21", Indication: "DLBCL", Population: relais.Adult, Content: content})
	if err != nil {
		t.Fatalf("protocol: %v", err)
	}
	v := pd.Versions[0]
	if _, err := db.TransitionVersion(f.admin, v.ID, relais.VersionTransition{To: relais.VersionInTest}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.TransitionVersion(f.pharma, v.ID, relais.VersionTransition{To: relais.VersionActive}); err != nil {
		t.Fatal(err)
	}
	f.versionID = v.ID
	p, err := db.CreatePatient(f.doctor, relais.PatientInput{IPP: "IPP-1001", INS: relais.INS{Status: relais.IdentityProvisional},
		BirthName: "Martin", FirstNames: []string{"Jean"}, BirthDate: "1960-05-04", Sex: relais.SexMale})
	if err != nil {
		t.Fatal(err)
	}
	f.patient = p
	f.measure(t, "height_cm", 180, 2)
	f.measure(t, "weight_kg", 80, 1)
	return f
}

// measure records a value measured daysAgo days before now.
func (f *fixture) measure(t *testing.T, kind string, v float64, daysAgo int) {
	t.Helper()
	_, err := f.db.RecordMeasurement(f.doctor, f.patient.ID, relais.MeasurementInput{Kind: kind, Value: f64(v),
		MeasuredAt: time.Now().Add(-time.Duration(daysAgo) * 24 * time.Hour).Add(-time.Minute)})
	if err != nil {
		t.Fatalf("measure %s: %v", kind, err)
	}
}

func today() relais.Date { return relais.Date(time.Now().UTC().Format(time.DateOnly)) }

func (f *fixture) include(t *testing.T, start relais.Date) relais.Treatment {
	t.Helper()
	tr, err := f.db.Include(f.doctor, relais.IncludeRequest{PatientID: f.patient.ID, ProtocolVersionID: f.versionID, Intent: "curative", StartDate: start})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func lineOf(t *testing.T, p relais.Prescription, inn string) relais.PrescriptionLine {
	t.Helper()
	for _, l := range p.Lines {
		if l.INN == inn {
			return l
		}
	}
	t.Fatalf("no line %s in %+v", inn, p.Lines)
	return relais.PrescriptionLine{}
}

func hasCheck(p relais.Prescription, code string) *relais.Check {
	for i := range p.Checks {
		if p.Checks[i].Code == code {
			return &p.Checks[i]
		}
	}
	return nil
}

func TestPrescribeComputesDosesWithDerivation(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn)
		tr := f.include(t, today())
		p, err := f.db.Prescribe(f.doctor, tr.ID, relais.PrescribeRequest{Cycle: 1, StartDate: today()})
		if err != nil {
			t.Fatal(err)
		}
		if p.Status != relais.PrescriptionDraft || p.Measurements.BSAM2 != 2 {
			t.Fatalf("status %s, BSA %v", p.Status, p.Measurements.BSAM2)
		}
		want := map[string]float64{"rituximab": 750, "cyclophosphamide": 1500, "doxorubicine": 100, "vincristine": 2}
		for inn, dose := range want {
			l := lineOf(t, p, inn)
			if l.Dose != dose || l.Unit != "mg" || len(l.Calculation.Steps) == 0 {
				t.Errorf("%s: %v %s with %d steps; want %v mg with its derivation", inn, l.Dose, l.Unit, len(l.Calculation.Steps), dose)
			}
		}
		if v := lineOf(t, p, "vincristine"); v.Calculation.Facts == nil || !v.Calculation.Facts.MaxDoseApplied {
			t.Errorf("vincristine: the 2 mg cap is not shown in the derivation: %+v", v.Calculation.Facts)
		}
		for _, c := range p.Checks {
			if c.Level != relais.LevelInfo {
				t.Errorf("unexpected check on a clean first cycle: %+v", c)
			}
		}
		signed, err := f.db.Sign(f.doctor, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if signed.Status != relais.PrescriptionSigned || signed.SignedAt.IsZero() {
			t.Fatalf("after sign: %s %v", signed.Status, signed.SignedAt)
		}
		if tr2, _ := f.db.Treatment(f.doctor, tr.ID); tr2.Status != relais.TreatmentActive {
			t.Fatalf("treatment is %s after the first signature; want active", tr2.Status)
		}
		if _, err := f.db.Sign(f.doctor, p.ID); relais.ErrorKind(err) != relais.KindTransition {
			t.Fatalf("signing twice: %v; want a transition error", err)
		}
	})
}

func TestOKToTreatAndValidation(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn)
		tr := f.include(t, today())
		p, err := f.db.Prescribe(f.doctor, tr.ID, relais.PrescribeRequest{Cycle: 1, StartDate: today()})
		if err != nil {
			t.Fatal(err)
		}
		doxo := lineOf(t, p, "doxorubicine")
		// Validation before signature, then before the OK-to-treat: refused.
		if _, err := f.db.ValidateLine(f.pharma, p.ID, doxo.ID, relais.ValidateLineRequest{Decision: relais.DecisionAccept}); relais.ErrorKind(err) != relais.KindTransition {
			t.Fatalf("validating a draft: %v", err)
		}
		if p, err = f.db.Sign(f.doctor, p.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.db.ValidateLine(f.pharma, p.ID, doxo.ID, relais.ValidateLineRequest{Decision: relais.DecisionAccept}); relais.ErrorKind(err) != relais.KindTransition || !strings.Contains(err.Error(), "OK-to-treat") {
			t.Fatalf("validating before the OK-to-treat: %v", err)
		}
		// Neutrophils below 1.5 G/L: the OK-to-treat is refused without an override.
		f.measure(t, "neutrophils_g_l", 0.9, 0)
		f.measure(t, "platelets_g_l", 180, 0)
		_, err = f.db.GiveOKToTreat(f.doctor, p.ID, relais.OKToTreatRequest{Day: 1})
		if relais.ErrorKind(err) != relais.KindConflict || !strings.Contains(err.Error(), "neutrophils") {
			t.Fatalf("OK-to-treat with neutrophils 0.9: %v", err)
		}
		f.measure(t, "neutrophils_g_l", 2.1, 0)
		if p, err = f.db.GiveOKToTreat(f.doctor, p.ID, relais.OKToTreatRequest{Day: 1}); err != nil {
			t.Fatal(err)
		}
		ok := p.DayOf(1).OKToTreat
		if ok == nil || len(ok.Values) != 2 || len(ok.Unmet) != 0 {
			t.Fatalf("OK-to-treat = %+v; want the two values seen", ok)
		}
		q, err := f.db.ValidationQueue(f.pharma)
		if err != nil || len(q) != 1 || q[0].Lines != 4 {
			t.Fatalf("queue = %+v, %v", q, err)
		}
		// Refusal needs a comment; a refused line goes back to the prescriber.
		if _, err := f.db.ValidateLine(f.pharma, p.ID, doxo.ID, relais.ValidateLineRequest{Decision: relais.DecisionRefuse}); relais.ErrorKind(err) != relais.KindInvalid {
			t.Fatalf("refusal without comment: %v", err)
		}
		p, err = f.db.ValidateLine(f.pharma, p.ID, doxo.ID, relais.ValidateLineRequest{Decision: relais.DecisionRefuse, Comment: "FEVG 45 % : réduire la doxorubicine"})
		if err != nil || p.Line(doxo.ID).Status != relais.LineRefused {
			t.Fatalf("refuse: %v %+v", err, p.Line(doxo.ID))
		}
		p, err = f.db.ModifyLine(f.doctor, p.ID, doxo.ID, relais.ModifyLineRequest{Percent: f64(-25), Reason: "FEVG 45 %"})
		if err != nil {
			t.Fatal(err)
		}
		l := p.Line(doxo.ID)
		// 100 mg − 25 % = 75 mg.
		if l.Status != relais.LineProposed || l.Dose != 75 || l.Modification == nil || l.Modification.ComputedDose != 100 {
			t.Fatalf("modified line = %+v", l)
		}
		p, err = f.db.ValidateLine(f.pharma, p.ID, doxo.ID, relais.ValidateLineRequest{Decision: relais.DecisionAcceptWithIntervention, Intervention: "Dose réduite vérifiée"})
		if err != nil || p.Line(doxo.ID).Status != relais.LineValidated || p.Line(doxo.ID).Validation.By != "ph.test" {
			t.Fatalf("validate: %v %+v", err, p.Line(doxo.ID))
		}
		// A validated line cannot be refused afterwards.
		if _, err := f.db.ValidateLine(f.pharma, p.ID, doxo.ID, relais.ValidateLineRequest{Decision: relais.DecisionRefuse, Comment: "x"}); relais.ErrorKind(err) != relais.KindTransition {
			t.Fatalf("refusing a validated line: %v", err)
		}
	})
}

func TestChecksBlockOrMustBeAcknowledged(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn)
		start := relais.Date(time.Now().UTC().AddDate(0, 0, -21*5).Format(time.DateOnly))
		tr := f.include(t, start)
		var last relais.Prescription
		for cycle := 1; cycle <= 5; cycle++ {
			day1 := start.AddDays(21 * (cycle - 1))
			p, err := f.db.Prescribe(f.doctor, tr.ID, relais.PrescribeRequest{Cycle: cycle, StartDate: day1})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range p.Checks {
				if c.Level == relais.LevelAcknowledge && c.Ack == nil {
					if p, err = f.db.Acknowledge(f.doctor, p.ID, relais.AcknowledgeRequest{Code: c.Code, LineID: c.LineID, Reason: "test: measured at each cycle"}); err != nil {
						t.Fatal(err)
					}
				}
			}
			// Cycles 1–5 give 5 × 50 = 250 mg/m², equal to the limit: no
			// cumulative warning yet (a total equal to the limit does not exceed it).
			if c := hasCheck(p, "cumulative.limit"); c != nil {
				t.Fatalf("cycle %d: cumulative warning at %+v", cycle, c)
			}
			if last, err = f.db.Sign(f.doctor, p.ID); err != nil {
				t.Fatalf("cycle %d: %v", cycle, err)
			}
		}
		// Cycle 6 brings 300 mg/m² > 250: a warning to acknowledge; the weight
		// dropped to 70 kg (−12.5 % > 10 %): another; and it starts 14 days
		// after cycle 5 instead of 21: a third.
		f.measure(t, "weight_kg", 70, 0)
		p, err := f.db.Prescribe(f.doctor, tr.ID, relais.PrescribeRequest{Cycle: 6, StartDate: last.StartDate.AddDays(14)})
		if err != nil {
			t.Fatal(err)
		}
		for _, code := range []string{"cumulative.limit", "weight.change", "interval.short"} {
			if c := hasCheck(p, code); c == nil || c.Level != relais.LevelAcknowledge {
				t.Errorf("no %s warning: %+v", code, p.Checks)
			}
		}
		_, err = f.db.Sign(f.doctor, p.ID)
		if relais.ErrorKind(err) != relais.KindInvalid || len(relais.FieldErrors(err)) < 3 {
			t.Fatalf("signing with three warnings not acknowledged: %v; want every one named", err)
		}
		if _, err := f.db.Acknowledge(f.doctor, p.ID, relais.AcknowledgeRequest{Code: "weight.change"}); relais.ErrorKind(err) != relais.KindInvalid {
			t.Fatalf("acknowledging without a reason: %v", err)
		}
		for _, code := range []string{"cumulative.limit", "weight.change", "interval.short"} {
			if p, err = f.db.Acknowledge(f.doctor, p.ID, relais.AcknowledgeRequest{Code: code, Reason: "discussed in MDT meeting"}); err != nil {
				t.Fatal(err)
			}
		}
		if hasCheck(p, "weight.change").Ack.By != "dr.test" {
			t.Fatalf("acknowledgement does not record who: %+v", hasCheck(p, "weight.change").Ack)
		}
		if p, err = f.db.Sign(f.doctor, p.ID); err != nil || p.Status != relais.PrescriptionSigned {
			t.Fatalf("sign after acknowledging: %v", err)
		}
		// Every step was journaled, and each prescription reads back as its
		// last entry describes it.
		rep, err := f.db.VerifyJournal(context.Background())
		if err != nil || !rep.OK() {
			t.Fatalf("audit after six cycles: %v %+v", err, rep.Faults)
		}
		h, err := f.db.History(f.doctor, f.patient.ID)
		if err != nil || len(h.Prescriptions) != 6 {
			t.Fatalf("history: %d prescriptions, %v", len(h.Prescriptions), err)
		}
		// History totals: 5 × 100 mg / 2.0 m² = 250 mg/m², plus cycle 6 at
		// BSA √(180 × 70 / 3600) = 1.8708 m²: 50 mg/m² × 1.8708 = 93.5 mg once
		// rounded, i.e. 93.5 / 1.8708 = 49.98 mg/m²; about 300 mg/m² in all
		// (doxorubicin's equivalence factor is 1).
		var anth *relais.CumulativeDose
		for i := range h.Cumulative {
			if h.Cumulative[i].Class == "anthracycline" {
				anth = &h.Cumulative[i]
			}
		}
		if anth == nil || anth.Total < 299.9 || anth.Total > 300.1 {
			t.Fatalf("cumulative anthracycline = %+v; want about 300 mg/m²", anth)
		}
	})
}

func TestDuplicateAndAllergyBlock(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn)
		tr := f.include(t, today())
		if _, err := f.db.AddAllergy(f.doctor, f.patient.ID, relais.AllergyInput{Substance: "Doxorubicine", Severity: relais.SeveritySevere}); err != nil {
			t.Fatal(err)
		}
		p1, err := f.db.Prescribe(f.doctor, tr.ID, relais.PrescribeRequest{Cycle: 1, StartDate: today()})
		if err != nil {
			t.Fatal(err)
		}
		if c := hasCheck(p1, "allergy"); c == nil || c.Level != relais.LevelBlocking || c.LineID != lineOf(t, p1, "doxorubicine").ID {
			t.Fatalf("allergy check = %+v", c)
		}
		if _, err := f.db.Acknowledge(f.doctor, p1.ID, relais.AcknowledgeRequest{Code: "allergy", LineID: c0(p1, "allergy").LineID, Reason: "x"}); err == nil {
			t.Fatal("a blocking check was acknowledged")
		}
		p2, err := f.db.Prescribe(f.doctor, tr.ID, relais.PrescribeRequest{Cycle: 1, StartDate: today()})
		if err != nil {
			t.Fatal(err)
		}
		if c := hasCheck(p2, "duplicate"); c == nil || c.Level != relais.LevelBlocking {
			t.Fatalf("duplicate check = %+v", p2.Checks)
		}
		if _, err := f.db.Sign(f.doctor, p2.ID); err == nil {
			t.Fatal("a duplicate prescription was signed")
		}
		// Cancelling keeps the prescription, with its reason.
		c, err := f.db.CancelPrescription(f.doctor, p2.ID, "duplicate")
		if err != nil || c.Status != relais.PrescriptionCancelled || c.Lines[0].Status != relais.LineCancelled {
			t.Fatalf("cancel: %v %+v", err, c.Status)
		}
		if _, err := f.db.CancelPrescription(f.doctor, p2.ID, "again"); relais.ErrorKind(err) != relais.KindTransition {
			t.Fatalf("cancelling twice: %v", err)
		}
	})
}

func c0(p relais.Prescription, code string) relais.Check { return *hasCheck(p, code) }

func TestPrescribeRefusesMissingMeasurementsWholly(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn)
		p, err := f.db.CreatePatient(f.doctor, relais.PatientInput{IPP: "IPP-2002", INS: relais.INS{Status: relais.IdentityProvisional},
			BirthName: "Durand", FirstNames: []string{"Léa"}, BirthDate: "2015-03-12", Sex: relais.SexFemale})
		if err != nil {
			t.Fatal(err)
		}
		tr, err := f.db.Include(f.doctor, relais.IncludeRequest{PatientID: p.ID, ProtocolVersionID: f.versionID, Intent: "curative", StartDate: today()})
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.db.Prescribe(f.doctor, tr.ID, relais.PrescribeRequest{Cycle: 1, StartDate: today()})
		fields := relais.FieldErrors(err)
		if len(fields) != 2 || fields[0].Field != "measurements.height_cm" || fields[1].Field != "measurements.weight_kg" {
			t.Fatalf("err = %v; want height and weight named", err)
		}
		h, err := f.db.History(f.doctor, p.ID)
		if err != nil || len(h.Prescriptions) != 0 {
			t.Fatalf("something was written: %+v %v", h.Prescriptions, err)
		}
		if _, err := f.db.Prescribe(f.doctor, tr.ID, relais.PrescribeRequest{Cycle: 9, StartDate: today()}); relais.ErrorKind(err) != relais.KindInvalid {
			t.Fatalf("cycle 9 of 8: %v", err)
		}
	})
}
