package sqlstore_test

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/clinical"
	"github.com/relais-onco/relais/internal/testdb"
	"github.com/relais-onco/relais/sqlstore"
)

// A published NIR: « 2 06 12 75 111 005 … sa clé est : 64 » (lbcd78.fr,
// « Calcul de la clé du n° de sécurité sociale », 2007).
const publishedNIR = "206127511100564"

func newPatient(ipp, birthName string, first []string, birth relais.Date, sex relais.Sex) relais.PatientInput {
	return relais.PatientInput{IPP: ipp, BirthName: birthName, FirstNames: first, BirthDate: birth, Sex: sex,
		INS: relais.INS{Status: relais.IdentityProvisional}}
}

func mustCreate(t *testing.T, db *sqlstore.DB, ctx context.Context, in relais.PatientInput) relais.Patient {
	t.Helper()
	p, err := db.CreatePatient(ctx, in)
	if err != nil {
		t.Fatalf("create %s: %v", in.BirthName, err)
	}
	return p
}

func count(t *testing.T, db *sqlstore.DB, table string) int {
	t.Helper()
	var n int
	if err := db.SQL().QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func fieldOf(err error) string {
	var fs []string
	for _, f := range relais.FieldErrors(err) {
		fs = append(fs, f.Field)
	}
	return strings.Join(fs, ",")
}

// checkAudit runs the audit (`relais audit verify`): every entity's row, read
// back now, must equal its last journal after-image, on both engines.
func checkAudit(t *testing.T, db *sqlstore.DB) {
	t.Helper()
	rep, err := db.VerifyJournal(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Entities == 0 {
		t.Fatalf("audit: %d entities compared, faults: %v", rep.Entities, rep.Faults)
	}
	for e, n := range rep.Unverifiable {
		if e == "patient" || e == "measurement" || e == "note" {
			t.Fatalf("audit cannot read back %d %s entities", n, e)
		}
	}
}

func TestCreatePatientRefusesBadInputAndWritesNothing(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		db := open(t, dsn)
		ctx := actorCtx()
		cases := []struct {
			name  string
			edit  func(*relais.PatientInput)
			field string
		}{
			{"no IPP", func(p *relais.PatientInput) { p.IPP = "" }, "ipp"},
			{"no birth name", func(p *relais.PatientInput) { p.BirthName = "  " }, "birth_name"},
			{"no first name", func(p *relais.PatientInput) { p.FirstNames = nil }, "first_names"},
			{"future birth", func(p *relais.PatientInput) { p.BirthDate = "2999-01-01" }, "birth_date"},
			{"birth before 1900", func(p *relais.PatientInput) { p.BirthDate = "1850-01-01" }, "birth_date"},
			{"sex", func(p *relais.PatientInput) { p.Sex = "female" }, "sex"},
			{"INS key", func(p *relais.PatientInput) {
				p.INS = relais.INS{Matricule: "206127511100565", OID: relais.OIDNIR, Status: relais.IdentityQualified}
			}, "ins.matricule"},
			{"INS on provisional", func(p *relais.PatientInput) {
				p.INS = relais.INS{Matricule: publishedNIR, OID: relais.OIDNIR, Status: relais.IdentityProvisional}
			}, "ins.status"},
			{"unknown referring site", func(p *relais.PatientInput) { p.ReferringSite = "chg-nowhere" }, "referring_site"},
			{"two faults", func(p *relais.PatientInput) { p.IPP, p.Sex = "", "?" }, "ipp,sex"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				in := newPatient("8001", "Martin", []string{"Léa"}, "2012-05-04", relais.SexFemale)
				c.edit(&in)
				_, err := db.CreatePatient(ctx, in)
				if relais.ErrorKind(err) != relais.KindInvalid || fieldOf(err) != c.field {
					t.Fatalf("err = %v (fields %q); want invalid on %s", err, fieldOf(err), c.field)
				}
				for _, table := range []string{"patient", "patient_search", "journal"} {
					if n := count(t, db, table); n != 0 {
						t.Fatalf("%d rows in %s after a refused create", n, table)
					}
				}
			})
		}

		// Duplicates: the same IPP, the same INS.
		in := newPatient("8001", "Martin", []string{"Léa"}, "2012-05-04", relais.SexFemale)
		in.INS = relais.INS{Matricule: "2 06 12 75 111 005 64", OID: relais.OIDNIR, Status: relais.IdentityQualified}
		p := mustCreate(t, db, ctx, in)
		if p.INS.Matricule != publishedNIR {
			t.Errorf("matricule stored as %q", p.INS.Matricule)
		}
		_, err := db.CreatePatient(ctx, in)
		if relais.ErrorKind(err) != relais.KindConflict || fieldOf(err) != "ipp" || !strings.Contains(err.Error(), string(p.ID)) {
			t.Fatalf("same IPP: %v", err)
		}
		in.IPP = "8002"
		_, err = db.CreatePatient(ctx, in)
		if relais.ErrorKind(err) != relais.KindConflict || fieldOf(err) != "ins.matricule" {
			t.Fatalf("same INS: %v", err)
		}
		if n := count(t, db, "patient"); n != 1 {
			t.Fatalf("%d patients; want 1", n)
		}
		checkAudit(t, db)
	})
}

func TestPatientIdentityAllergiesSharing(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		db := open(t, dsn)
		ctx := actorCtx()
		if err := db.SaveSite(ctx, relais.Site{ID: "chg-landes", Name: "CH de Mont-de-Marsan", Kind: "chg"}); err != nil {
			t.Fatal(err)
		}
		in := newPatient("8001", "Le Gall", []string{"Maëlle", "Anne"}, "2015-03-12", relais.SexFemale)
		in.UsedName = "Dupont-Le Gall"
		in.BirthplaceCode = "29019"
		in.ReferringSite = "chg-landes"
		p := mustCreate(t, db, ctx, in)
		if p.Site != "chu-test" || p.Status != relais.PatientActive || p.BirthDate != "2015-03-12" || len(p.FirstNames) != 2 ||
			p.ReferringSite != "chg-landes" || p.UsedName != "Dupont-Le Gall" || p.Allergies == nil || p.SharedWith == nil {
			t.Fatalf("created %+v", p)
		}
		got, err := db.Patient(context.Background(), p.ID)
		if err != nil || got.BirthName != "Le Gall" || got.FirstNames[0] != "Maëlle" {
			t.Fatalf("read back %+v, %v", got, err)
		}

		p, err = db.AddAllergy(ctx, p.ID, relais.AllergyInput{Substance: "Carboplatine", Reaction: "urticaire", Severity: relais.SeverityModerate})
		if err != nil || len(p.Allergies) != 1 || p.Allergies[0].RecordedBy.Role != relais.RolePharmacist {
			t.Fatalf("allergy: %+v, %v", p.Allergies, err)
		}
		if _, err := db.AddAllergy(ctx, p.ID, relais.AllergyInput{Substance: "x", Severity: "terrible"}); fieldOf(err) != "severity" {
			t.Fatalf("bad severity: %v", err)
		}
		p, err = db.VoidAllergy(ctx, p.ID, p.Allergies[0].ID, "wrong patient")
		if err != nil || p.Allergies[0].Voided == nil || p.Allergies[0].Voided.Reason != "wrong patient" {
			t.Fatalf("void allergy: %+v, %v", p.Allergies, err)
		}
		if _, err := db.VoidAllergy(ctx, p.ID, p.Allergies[0].ID, "again"); relais.ErrorKind(err) != relais.KindTransition {
			t.Fatalf("void twice: %v", err)
		}

		told := time.Date(2025, 1, 10, 14, 0, 0, 0, time.UTC)
		p, err = db.SharePatient(ctx, p.ID, relais.SharingInput{Site: "chg-landes", InformationGivenAt: told, InformationGivenBy: "Dr Martin"})
		if err != nil || len(p.SharedWith) != 1 || !p.SharedWith[0].InformationGivenAt.Equal(told) {
			t.Fatalf("share: %+v, %v", p.SharedWith, err)
		}
		for _, c := range []struct {
			in    relais.SharingInput
			field string
		}{
			{relais.SharingInput{Site: "chg-landes", InformationGivenAt: told, InformationGivenBy: "Dr Martin"}, "site"}, // already
			{relais.SharingInput{Site: "chg-x", InformationGivenAt: told, InformationGivenBy: "Dr Martin"}, "site"},      // unknown
			{relais.SharingInput{Site: "chg-landes", InformationGivenBy: "Dr Martin"}, "information_given_at"},
			{relais.SharingInput{Site: "chg-landes", InformationGivenAt: told}, "information_given_by"},
		} {
			if _, err := db.SharePatient(ctx, p.ID, c.in); fieldOf(err) != c.field {
				t.Errorf("share %+v: %v; want a fault on %s", c.in, err, c.field)
			}
		}

		// Update: only the fields sent change.
		newUsed := "Le Gall"
		p, err = db.UpdatePatient(ctx, p.ID, relais.PatientUpdate{UsedName: &newUsed})
		if err != nil || p.UsedName != "Le Gall" || p.BirthplaceCode != "29019" || len(p.Allergies) != 1 {
			t.Fatalf("update: %+v, %v", p, err)
		}
		bad := relais.Date("2030-01-01")
		if _, err := db.UpdatePatient(ctx, p.ID, relais.PatientUpdate{BirthDate: &bad}); fieldOf(err) != "birth_date" {
			t.Fatalf("update to a future birth date: %v", err)
		}
		checkAudit(t, db)
	})
}

// The traits of an identity qualified through INSi change only with the INS
// block confirmed or lowered in the same request.
func TestQualifiedIdentityTraits(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		db := open(t, dsn)
		ctx := actorCtx()
		in := newPatient("8001", "Martin", []string{"Louise"}, "1906-12-01", relais.SexFemale)
		in.INS = relais.INS{Matricule: publishedNIR, OID: relais.OIDNIR, Status: relais.IdentityQualified}
		p := mustCreate(t, db, ctx, in)
		name := "Martins"
		_, err := db.UpdatePatient(ctx, p.ID, relais.PatientUpdate{BirthName: &name})
		if relais.ErrorKind(err) != relais.KindConflict || fieldOf(err) != "ins" {
			t.Fatalf("changing a qualified trait alone: %v", err)
		}
		lowered := relais.INS{Status: relais.IdentityValidated}
		p, err = db.UpdatePatient(ctx, p.ID, relais.PatientUpdate{BirthName: &name, INS: &lowered})
		if err != nil || p.BirthName != "Martins" || p.INS.Status != relais.IdentityValidated || p.INS.Matricule != "" {
			t.Fatalf("change with the status lowered: %+v, %v", p, err)
		}
		checkAudit(t, db)
	})
}

func TestMeasurementsLatestAndVoid(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		db := open(t, dsn)
		ctx := actorCtx()
		p := mustCreate(t, db, ctx, newPatient("8001", "Martin", []string{"Léa"}, "2015-03-12", relais.SexFemale))
		now := relais.Now()
		v := func(x float64) *float64 { return &x }
		record := func(kind string, value float64, ago time.Duration) relais.Measurement {
			t.Helper()
			m, err := db.RecordMeasurement(ctx, p.ID, relais.MeasurementInput{Kind: kind, Value: &value, MeasuredAt: now.Add(-ago)})
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
		day := 24 * time.Hour
		record("height_cm", 120, 10*day)
		record("weight_kg", 29, 20*day)
		w30 := record("weight_kg", 30, 3*day)
		wrong := record("weight_kg", 3.0, time.Hour) // typed 3.0 for 30: a valid value, but wrong
		// 44.21 µmol/L = 0.5 mg/dL (÷ 88.42).
		record("creatinine_umol_l", 44.21, 2*day)

		// Out of bounds: refused, naming the field and the bound; nothing written.
		before := count(t, db, "measurement")
		_, err := db.RecordMeasurement(ctx, p.ID, relais.MeasurementInput{Kind: "weight_kg", Value: v(30000), MeasuredAt: now})
		if fieldOf(err) != "value" || !strings.Contains(err.Error(), "300") {
			t.Fatalf("weight in grams: %v", err)
		}
		if _, err := db.RecordMeasurement(ctx, p.ID, relais.MeasurementInput{Kind: "weight_kg", Value: v(30), Unit: "lb", MeasuredAt: now}); fieldOf(err) != "unit" {
			t.Fatalf("other unit: %v", err)
		}
		if count(t, db, "measurement") != before {
			t.Fatal("a refused measurement was written")
		}

		cv, err := db.CurrentValues(context.Background(), p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if w, _ := cv.Value("weight_kg"); w.ID != wrong.ID {
			t.Fatalf("latest weight = %+v; want the 3 kg one", w)
		}
		m, err := db.VoidMeasurement(ctx, wrong.ID, "typed 3 for 30")
		if err != nil || m.Voided == nil || m.Voided.Reason != "typed 3 for 30" || m.Value != 3 {
			t.Fatalf("void: %+v, %v", m, err)
		}
		if _, err := db.VoidMeasurement(ctx, wrong.ID, "again"); relais.ErrorKind(err) != relais.KindTransition {
			t.Fatalf("void twice: %v", err)
		}
		if _, err := db.VoidMeasurement(ctx, w30.ID, " "); fieldOf(err) != "reason" {
			t.Fatalf("void without reason: %v", err)
		}

		cv, err = db.CurrentValues(context.Background(), p.ID)
		if err != nil {
			t.Fatal(err)
		}
		w, _ := cv.Value("weight_kg")
		if w.ID != w30.ID || w.Age.Seconds < int64(3*day/time.Second) || w.Age.Seconds > int64((3*day+time.Minute)/time.Second) {
			t.Fatalf("after void, weight = %+v; want 30 kg, 3 days old", w)
		}
		// Mosteller: √(120 × 30 / 3600) = 1 m², as old as the height (10 days).
		if cv.BSA.Result == nil || math.Abs(cv.BSA.Result.Value-1) > 1e-9 || cv.BSA.Age == nil || cv.BSA.Age.Seconds < int64(10*day/time.Second) {
			t.Fatalf("BSA %+v", cv.BSA)
		}
		// Bedside Schwartz: 0.413 × 120 / 0.5 = 99.12 mL/min/1.73 m².
		if cv.GFR.Method != clinical.GFRSchwartzBedside || cv.GFR.Result == nil || math.Abs(cv.GFR.Result.Value-99.12) > 0.01 {
			t.Fatalf("GFR %+v", cv.GFR)
		}

		all, err := db.Measurements(context.Background(), p.ID, "weight_kg")
		if err != nil || len(all) != 3 || all[0].ID != wrong.ID || all[0].Voided == nil || all[2].Value != 29 {
			t.Fatalf("weights, newest first with the voided one: %+v, %v", all, err)
		}
		if _, err := db.Measurements(context.Background(), p.ID, "weight"); fieldOf(err) != "kind" {
			t.Fatalf("unknown kind: %v", err)
		}
		checkAudit(t, db)
	})
}

func TestNotesCorrectionChain(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		db := open(t, dsn)
		ctx := actorCtx()
		other := relais.WithActor(context.Background(), relais.Actor{UserID: relais.NewID(), Username: "ide", Name: "IDE Paul", Role: relais.RoleNurse, Site: "chu-test"})
		p := mustCreate(t, db, ctx, newPatient("8001", "Martin", []string{"Léa"}, "2015-03-12", relais.SexFemale))

		n1, err := db.AddNote(ctx, relais.NoteInput{PatientID: p.ID, TargetKind: relais.NoteOnPatient, Text: "Poids à recontrôler", Shareable: true})
		if err != nil || n1.TargetID != p.ID || n1.Author.Role != relais.RolePharmacist || !n1.Shareable {
			t.Fatalf("note: %+v, %v", n1, err)
		}
		n2, err := db.AddNote(other, relais.NoteInput{PatientID: p.ID, TargetKind: relais.NoteOnPatient, Text: "Pesée faite ce matin"})
		if err != nil {
			t.Fatal(err)
		}
		c1, err := db.AddNote(ctx, relais.NoteInput{PatientID: p.ID, TargetKind: relais.NoteOnPatient, Text: "Poids ET taille à recontrôler", Corrects: n1.ID, Shareable: true})
		if err != nil || c1.Corrects != n1.ID {
			t.Fatalf("correction: %+v, %v", c1, err)
		}
		c2, err := db.AddNote(ctx, relais.NoteInput{PatientID: p.ID, TargetKind: relais.NoteOnPatient, Text: "Poids, taille et créatinine à recontrôler", Corrects: c1.ID, Shareable: true})
		if err != nil {
			t.Fatal(err)
		}
		// Correcting an old version, or someone else's note, is refused.
		if _, err := db.AddNote(ctx, relais.NoteInput{PatientID: p.ID, TargetKind: relais.NoteOnPatient, Text: "x", Corrects: n1.ID}); relais.ErrorKind(err) != relais.KindConflict || !strings.Contains(err.Error(), string(c1.ID)) {
			t.Fatalf("correct an old version: %v", err)
		}
		if _, err := db.AddNote(ctx, relais.NoteInput{PatientID: p.ID, TargetKind: relais.NoteOnPatient, Text: "x", Corrects: n2.ID}); relais.ErrorKind(err) != relais.KindForbidden {
			t.Fatalf("correct another's note: %v", err)
		}
		for _, c := range []struct {
			in    relais.NoteInput
			field string
		}{
			{relais.NoteInput{PatientID: p.ID, TargetKind: relais.NoteOnPatient, Text: "  "}, "text"},
			{relais.NoteInput{PatientID: p.ID, TargetKind: relais.NoteOnPatient, Text: strings.Repeat("é", 20001)}, "text"},
			{relais.NoteInput{PatientID: p.ID, TargetKind: "ward", Text: "x"}, "target_kind"},
			{relais.NoteInput{PatientID: p.ID, TargetKind: relais.NoteOnPrescription, Text: "x"}, "target_id"},
			{relais.NoteInput{PatientID: relais.NewID(), TargetKind: relais.NoteOnPatient, Text: "x"}, "patient_id"},
			{relais.NoteInput{PatientID: p.ID, TargetKind: relais.NoteOnPatient, Text: "x", Corrects: relais.NewID()}, "corrects"},
		} {
			if _, err := db.AddNote(ctx, c.in); fieldOf(err) != c.field {
				t.Errorf("note %q…: %v; want a fault on %s", truncate(c.in.Text), err, c.field)
			}
		}
		if n := count(t, db, "note"); n != 4 {
			t.Fatalf("%d notes stored; want 4 (nothing from refused ones)", n)
		}

		threads, err := db.Notes(context.Background(), p.ID, relais.NoteFilter{})
		if err != nil || len(threads) != 2 {
			t.Fatalf("threads: %+v, %v", threads, err)
		}
		first := threads[0]
		if first.Note.ID != c2.ID || len(first.History) != 2 || first.History[0].ID != c1.ID || first.History[1].ID != n1.ID {
			t.Fatalf("first thread = latest %s with %d versions; want %s then %s, %s", first.Note.ID, len(first.History), c2.ID, c1.ID, n1.ID)
		}
		if threads[1].Note.ID != n2.ID || len(threads[1].History) != 0 {
			t.Fatalf("second thread %+v", threads[1])
		}
		checkAudit(t, db)
	})
}

func truncate(s string) string {
	if len(s) > 10 {
		return s[:10]
	}
	return s
}

func TestMergeKeepsEverything(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		db := open(t, dsn)
		ctx := actorCtx()
		survivor := mustCreate(t, db, ctx, newPatient("8001", "Martin", []string{"Léa"}, "2015-03-12", relais.SexFemale))
		dup := mustCreate(t, db, ctx, newPatient("9001", "MARTIN", []string{"Lea"}, "2015-03-12", relais.SexFemale))
		w := 30.0
		m, err := db.RecordMeasurement(ctx, dup.ID, relais.MeasurementInput{Kind: "weight_kg", Value: &w, MeasuredAt: relais.Now().Add(-time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.AddAllergy(ctx, dup.ID, relais.AllergyInput{Substance: "Latex", Severity: relais.SeveritySevere}); err != nil {
			t.Fatal(err)
		}
		note, err := db.AddNote(ctx, relais.NoteInput{PatientID: dup.ID, TargetKind: relais.NoteOnPatient, Text: "Sur le doublon"})
		if err != nil {
			t.Fatal(err)
		}

		if _, err := db.MergePatients(ctx, survivor.ID, dup.ID, ""); fieldOf(err) != "reason" {
			t.Fatalf("merge without reason: %v", err)
		}
		if _, err := db.MergePatients(ctx, survivor.ID, survivor.ID, "x"); fieldOf(err) != "duplicate_id" {
			t.Fatalf("merge into itself: %v", err)
		}
		p, err := db.MergePatients(ctx, survivor.ID, dup.ID, "HL7 A40 from the EHR")
		if err != nil {
			t.Fatal(err)
		}
		if len(p.MergedFrom) != 1 || p.MergedFrom[0] != dup.ID || len(p.Allergies) != 1 || p.Allergies[0].PatientID != dup.ID {
			t.Fatalf("survivor after merge: %+v", p)
		}
		d, err := db.Patient(context.Background(), dup.ID)
		if err != nil || d.Status != relais.PatientMerged || d.MergedInto != survivor.ID || d.MergeReason != "HL7 A40 from the EHR" || d.MergedAt.IsZero() {
			t.Fatalf("duplicate after merge: %+v, %v", d, err)
		}
		ms, err := db.Measurements(context.Background(), survivor.ID, "")
		if err != nil || len(ms) != 1 || ms[0].ID != m.ID || ms[0].PatientID != dup.ID {
			t.Fatalf("survivor's measurements: %+v, %v", ms, err)
		}
		if cv, _ := db.CurrentValues(context.Background(), survivor.ID); len(cv.Values) != 1 {
			t.Fatalf("survivor's current values: %+v", cv.Values)
		}
		threads, err := db.Notes(context.Background(), survivor.ID, relais.NoteFilter{})
		if err != nil || len(threads) != 1 || threads[0].Note.ID != note.ID {
			t.Fatalf("survivor's notes: %+v, %v", threads, err)
		}
		// The duplicate takes no more writes; its old IPP finds the survivor.
		if _, err := db.RecordMeasurement(ctx, dup.ID, relais.MeasurementInput{Kind: "weight_kg", Value: &w, MeasuredAt: relais.Now()}); relais.ErrorKind(err) != relais.KindTransition {
			t.Fatalf("measurement on a merged patient: %v", err)
		}
		if _, err := db.MergePatients(ctx, survivor.ID, dup.ID, "again"); relais.ErrorKind(err) != relais.KindTransition {
			t.Fatalf("merge twice: %v", err)
		}
		found, err := db.SearchPatients(context.Background(), "9001", 10)
		if err != nil || len(found) != 1 || found[0].ID != survivor.ID {
			t.Fatalf("search by the duplicate's IPP: %+v, %v", found, err)
		}
		if n := count(t, db, "patient"); n != 2 {
			t.Fatalf("%d patients; a merge deletes nothing", n)
		}

		// Two different INS are two people.
		a := newPatient("7001", "Durand", []string{"Paul"}, "1965-01-15", relais.SexMale)
		a.INS = relais.INS{Matricule: "262087503203977", OID: relais.OIDNIR, Status: relais.IdentityQualified}
		b := a
		b.IPP = "7002"
		b.INS = relais.INS{Matricule: publishedNIR, OID: relais.OIDNIR, Status: relais.IdentityQualified}
		pa, pb := mustCreate(t, db, ctx, a), mustCreate(t, db, ctx, b)
		if _, err := db.MergePatients(ctx, pa.ID, pb.ID, "same?"); relais.ErrorKind(err) != relais.KindConflict {
			t.Fatalf("merge of two INS: %v", err)
		}
		checkAudit(t, db)
	})
}

func TestChangeIPPKeepsTheOldOne(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		db := open(t, dsn)
		ctx := actorCtx()
		p := mustCreate(t, db, ctx, newPatient("8001", "Martin", []string{"Léa"}, "2015-03-12", relais.SexFemale))
		mustCreate(t, db, ctx, newPatient("8002", "Durand", []string{"Paul"}, "2014-01-01", relais.SexMale))
		if _, err := db.ChangePatientIPP(ctx, p.ID, "8002", "A47"); relais.ErrorKind(err) != relais.KindConflict || fieldOf(err) != "ipp" {
			t.Fatalf("taking another patient's IPP: %v", err)
		}
		p, err := db.ChangePatientIPP(ctx, p.ID, "8101", "HL7 A47")
		if err != nil || p.IPP != "8101" || len(p.FormerIPPs) != 1 || p.FormerIPPs[0].IPP != "8001" || p.FormerIPPs[0].Reason != "HL7 A47" {
			t.Fatalf("change: %+v, %v", p, err)
		}
		for _, q := range []string{"8001", "8101"} {
			found, err := db.SearchPatients(context.Background(), q, 10)
			if err != nil || len(found) != 1 || found[0].ID != p.ID {
				t.Fatalf("search %s: %+v, %v", q, found, err)
			}
		}
		// The retired IPP is never given to someone else.
		if _, err := db.CreatePatient(ctx, newPatient("8001", "Autre", []string{"X"}, "2001-01-01", relais.SexMale)); relais.ErrorKind(err) != relais.KindConflict {
			t.Fatalf("reusing a former IPP: %v", err)
		}
		checkAudit(t, db)
	})
}

func TestSearchTolerance(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		db := open(t, dsn)
		ctx := actorCtx()
		legall := newPatient("1001", "Le Gall", []string{"Maëlle"}, "2015-03-12", relais.SexFemale)
		legall.INS = relais.INS{Matricule: publishedNIR, OID: relais.OIDNIR, Status: relais.IdentityRecovered}
		lg := mustCreate(t, db, ctx, legall)
		lg2 := mustCreate(t, db, ctx, newPatient("1002", "LE-GALL", []string{"Yann"}, "2010-07-01", relais.SexMale))
		lg3 := mustCreate(t, db, ctx, newPatient("1003", "Legall", []string{"Anne"}, "1980-01-02", relais.SexFemale))
		dp := mustCreate(t, db, ctx, newPatient("1004", "Dupont", []string{"Jean-Pierre"}, "1980-01-02", relais.SexMale))
		lf := mustCreate(t, db, ctx, newPatient("1005", "Lefèvre", []string{"Éloïse"}, "2018-11-30", relais.SexFemale))
		used := newPatient("1006", "Nguyen", []string{"Lan"}, "2016-02-29", relais.SexFemale)
		used.UsedName = "D'Arcy"
		ng := mustCreate(t, db, ctx, used)

		cases := []struct {
			q    string
			want []relais.Patient
		}{
			{"le gall", []relais.Patient{lg, lg2, lg3}},
			{"LE GALL", []relais.Patient{lg, lg2, lg3}},
			{"le-gall", []relais.Patient{lg, lg2, lg3}},
			{"LEGALL", []relais.Patient{lg, lg2, lg3}},
			{"Le Gall Maëlle", []relais.Patient{lg}},
			{"maelle", []relais.Patient{lg}},
			{"MAËL", []relais.Patient{lg}}, // a prefix
			{"gall 12/03/2015", []relais.Patient{lg}},
			{"dupont 02/01/1980", []relais.Patient{dp}},
			{"dupont 2/1/1980", []relais.Patient{dp}},
			{"dupont 03/01/1980", nil},
			{"1980-01-02", []relais.Patient{dp, lg3}},
			{"jean pierre", []relais.Patient{dp}},
			{"jean-pierre dupont", []relais.Patient{dp}},
			{"jeanpierre", []relais.Patient{dp}},
			{"lefevre eloise", []relais.Patient{lf}},
			{"LEFÈVRE", []relais.Patient{lf}},
			{"darcy", []relais.Patient{ng}},
			{"d'arcy", []relais.Patient{ng}},
			{"nguyen 29.02.2016", []relais.Patient{ng}},
			{"1004", []relais.Patient{dp}},
			{"2 06 12 75 111 005 64", []relais.Patient{lg}},
			{"206127511100564", []relais.Patient{lg}},
			{"martin", nil},
		}
		for _, c := range cases {
			got, err := db.SearchPatients(context.Background(), c.q, 0)
			if err != nil {
				t.Errorf("search %q: %v", c.q, err)
				continue
			}
			if ids(got) != ids(c.want) {
				t.Errorf("search %q = %s; want %s", c.q, names(got), names(c.want))
			}
		}
		for _, q := range []string{"", "   ", "31/02/2015"} {
			if _, err := db.SearchPatients(context.Background(), q, 0); fieldOf(err) != "q" {
				t.Errorf("search %q: %v; want a fault on q", q, err)
			}
		}
		if got, _ := db.SearchPatients(context.Background(), "le gall", 2); len(got) != 2 {
			t.Errorf("limit 2: %d results", len(got))
		}
	})
}

func ids(ps []relais.Patient) string {
	var s []string
	for _, p := range ps {
		s = append(s, string(p.ID))
	}
	return strings.Join(s, ",")
}

func names(ps []relais.Patient) string {
	var s []string
	for _, p := range ps {
		s = append(s, p.DisplayName()+" "+string(p.BirthDate))
	}
	return "[" + strings.Join(s, "; ") + "]"
}
