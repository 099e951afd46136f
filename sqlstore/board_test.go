package sqlstore_test

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/internal/testdb"
	"github.com/relais-onco/relais/sqlstore"
)

// PatientsByID reads many patients at once as Patient reads each — names,
// sites, merged records and the sharing of all of them — without their
// allergies; an unknown id is left out.
func TestPatientsByIDReadsAsPatientDoes(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		db := open(t, dsn)
		ctx := actorCtx()
		for _, s := range []relais.Site{{ID: "chg-landes", Name: "CH de Mont-de-Marsan", Kind: "chg"}, {ID: "chg-bayonne", Name: "CH de Bayonne", Kind: "chg"}} {
			if err := db.SaveSite(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
		survivor := mustCreate(t, db, ctx, newPatient("8001", "Martin", []string{"Léa"}, "2015-03-12", relais.SexFemale))
		dup := mustCreate(t, db, ctx, newPatient("9001", "MARTIN", []string{"Lea"}, "2015-03-12", relais.SexFemale))
		other := mustCreate(t, db, ctx, newPatient("8002", "Le Gall", []string{"Maëlle", "Anne"}, "2016-01-02", relais.SexFemale))
		told := time.Date(2025, 1, 10, 14, 0, 0, 0, time.UTC)
		if _, err := db.SharePatient(ctx, dup.ID, relais.SharingInput{Site: "chg-landes", InformationGivenAt: told, InformationGivenBy: "Dr Martin"}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.SharePatient(ctx, other.ID, relais.SharingInput{Site: "chg-bayonne", InformationGivenAt: told, InformationGivenBy: "Dr Roux"}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.AddAllergy(ctx, other.ID, relais.AllergyInput{Substance: "Latex", Severity: relais.SeveritySevere}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.MergePatients(ctx, survivor.ID, dup.ID, "HL7 A40 from the EHR"); err != nil {
			t.Fatal(err)
		}
		got, err := db.PatientsByID(context.Background(), []relais.ID{other.ID, survivor.ID, "no-such-patient", other.ID, dup.ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 3 {
			t.Fatalf("%d patients read, want 3 (an unknown id left out): %v", len(got), got)
		}
		for _, id := range []relais.ID{survivor.ID, dup.ID, other.ID} {
			want, err := db.Patient(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			want.Allergies, want.FormerIPPs = nil, nil
			p := got[id]
			if len(p.MergedFrom) == 0 {
				p.MergedFrom = want.MergedFrom // nil or empty
			}
			if !reflect.DeepEqual(p, want) {
				t.Errorf("patient %s:\n got %+v\nwant %+v", want.IPP, p, want)
			}
		}
		if s := got[survivor.ID].SharedWith; len(s) != 1 || s[0].Site != "chg-landes" {
			t.Errorf("the survivor shares its duplicate's care with chg-landes: %+v", s)
		}
	})
}

// A list of ids longer than inList writes as placeholders goes to the
// database as one JSON array: every patient is still read, on both engines.
func TestPatientsByIDReadsALongList(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		db := open(t, dsn)
		ctx := actorCtx()
		ids := []relais.ID{"no-such-patient"}
		want := map[relais.ID]string{}
		for i := range 40 {
			p := mustCreate(t, db, ctx, newPatient(fmt.Sprintf("7%03d", i), "Durand", []string{"Paul"}, "2012-06-01", relais.SexMale))
			ids, want[p.ID] = append(ids, p.ID), p.IPP
		}
		got, err := db.PatientsByID(context.Background(), ids)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("%d patients read of %d asked (and one unknown id)", len(got), len(want))
		}
		for id, ipp := range want {
			if got[id].IPP != ipp {
				t.Errorf("patient %s: IPP %q, want %q", id, got[id].IPP, ipp)
			}
		}
	})
}

// A day with more preparations than a list shows: BoardList reads the
// first ones in the order the page shows them — a hood's by planned time,
// then the unplanned — and counts the rest; BoardCounts counts the day by
// status, mode and hood in one answer.
func TestBoardListReadsTheFirstAndCountsTheRest(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		f := newProdFixture(t, dsn)
		db := f.db
		for _, pt := range []relais.Patient{f.patient, f.newPatient(t), f.newPatient(t)} {
			f.validatedCycles(t, pt, 1)
		}
		day := relais.LocalDate(time.Now())
		all, err := db.BoardPreparations(f.tech, relais.PreparationFilter{Date: day})
		if err != nil {
			t.Fatal(err)
		}
		var compounded, dispensed []relais.ID
		for _, p := range all {
			if p.Mode == relais.ModeCompounded {
				compounded = append(compounded, p.ID)
			} else {
				dispensed = append(dispensed, p.ID)
			}
		}
		if len(all) < 12 || len(compounded) < 4 || len(dispensed) < 2 {
			t.Fatalf("the day has %d preparations (%d compounded): too few for the test", len(all), len(compounded))
		}
		hood, err := db.CreateHood(f.admin, relais.Hood{Name: "Isolateur 1", Kind: relais.HoodIsolator, Active: true})
		if err != nil {
			t.Fatal(err)
		}
		// Three in the isolator: the first planned at 10:00, the second at
		// 08:00, the third not planned.
		at := func(h int) time.Time { return time.Date(2026, 3, 2, h, 0, 0, 0, time.UTC) }
		for i, slot := range []time.Time{at(10), at(8), {}} {
			if _, err := db.AssignHood(f.tech, compounded[i], relais.AssignHoodRequest{HoodID: hood.ID, Slot: slot}); err != nil {
				t.Fatal(err)
			}
		}
		ids := func(ps []relais.Preparation) []relais.ID {
			out := []relais.ID{}
			for _, p := range ps {
				out = append(out, p.ID)
			}
			return out
		}
		list := func(q sqlstore.BoardQuery) ([]relais.ID, int) {
			t.Helper()
			q.Date = day
			ps, n, err := db.BoardList(f.tech, q)
			if err != nil {
				t.Fatal(err)
			}
			return ids(ps), n
		}

		// The whole day, the first 5 of it: as BoardPreparations orders it.
		got, n := list(sqlstore.BoardQuery{Limit: 5})
		if n != len(all) || !reflect.DeepEqual(got, ids(all[:5])) {
			t.Errorf("first 5 of the day: %v of %d, want %v of %d", got, n, ids(all[:5]), len(all))
		}
		got, n = list(sqlstore.BoardQuery{})
		if n != len(all) || !reflect.DeepEqual(got, ids(all)) {
			t.Errorf("the whole day: %d read of %d, want %d", len(got), n, len(all))
		}
		// The hood's section: by planned time, the unplanned last.
		want := []relais.ID{compounded[1], compounded[0], compounded[2]}
		if got, n = list(sqlstore.BoardQuery{Section: "hood", HoodID: hood.ID}); n != 3 || !reflect.DeepEqual(got, want) {
			t.Errorf("the isolator's section: %v (%d), want %v", got, n, want)
		}
		if got, n = list(sqlstore.BoardQuery{Section: "hood", HoodID: hood.ID, Limit: 2}); n != 3 || !reflect.DeepEqual(got, want[:2]) {
			t.Errorf("the isolator's first 2: %v (%d), want %v of 3", got, n, want[:2])
		}
		// The unassigned: the other compounded ones; with no hood known,
		// all of them.
		got, n = list(sqlstore.BoardQuery{Section: "unassigned", Hoods: []relais.ID{hood.ID}, Limit: 1})
		if n != len(compounded)-3 || len(got) != 1 || !slices.Contains(compounded[3:], got[0]) {
			t.Errorf("the unassigned: %v of %d, want 1 of %d", got, n, len(compounded)-3)
		}
		if _, n = list(sqlstore.BoardQuery{Section: "unassigned", Limit: 1}); n != len(compounded) {
			t.Errorf("the unassigned with no hood known: %d, want %d", n, len(compounded))
		}
		got, n = list(sqlstore.BoardQuery{Section: "dispensed", Limit: 1})
		if n != len(dispensed) || len(got) != 1 || !slices.Contains(dispensed, got[0]) {
			t.Errorf("those dispensed as is: %v of %d, want 1 of %d", got, n, len(dispensed))
		}
		// By status, over all days (a pharmacist's lists).
		ps, n, err := db.BoardList(f.pharma, sqlstore.BoardQuery{Statuses: []relais.PreparationStatus{all[0].Status}, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) != 2 || n != len(all) {
			t.Errorf("the day's %s: %d read of %d, want 2 of %d", all[0].Status, len(ps), n, len(all))
		}
		if _, _, err := db.BoardList(f.tech, sqlstore.BoardQuery{Statuses: []relais.PreparationStatus{"brewing"}}); relais.ErrorKind(err) != relais.KindInvalid {
			t.Errorf("an unknown status: %v", err)
		}

		counts, err := db.BoardCounts(f.tech, day)
		if err != nil {
			t.Fatal(err)
		}
		total, inHood, disp := 0, 0, 0
		for _, c := range counts {
			total += c.N
			if c.HoodID == hood.ID {
				inHood += c.N
			}
			if c.Mode != relais.ModeCompounded {
				disp += c.N
			}
		}
		if total != len(all) || inHood != 3 || disp != len(dispensed) {
			t.Errorf("counts %+v: %d in all, %d in the isolator, %d dispensed; want %d, 3, %d", counts, total, inHood, disp, len(all), len(dispensed))
		}

		// A technician's lines to prepare (without a production board): the
		// days of the worklist's Today with their validated lines not
		// taken by mouth, the first 2 of the 3 patients' and their count.
		wl, err := db.Worklist(f.tech, relais.WorklistRequest{On: day})
		if err != nil {
			t.Fatal(err)
		}
		var days []relais.WorklistItem
		for _, it := range wl.Today {
			var lines []relais.PrescriptionLine
			for _, l := range it.Lines {
				if l.Status == relais.LineValidated && l.Route != string(relais.RoutePO) {
					lines = append(lines, l)
				}
			}
			if len(lines) > 0 {
				it.Lines = lines
				days = append(days, it)
			}
		}
		if len(days) != 3 {
			t.Fatalf("%d days to prepare in the worklist, want 3", len(days))
		}
		got2, n2, err := db.DayToPrepare(f.tech, day, 2)
		if err != nil {
			t.Fatal(err)
		}
		if n2 != 3 || !reflect.DeepEqual(got2, days[:2]) {
			t.Errorf("the first 2 days to prepare (of %d):\n got %+v\nwant %+v", n2, got2, days[:2])
		}
		for _, it := range got2 {
			for _, l := range it.Lines {
				if l.Route == string(relais.RoutePO) {
					t.Errorf("%s by mouth is not prepared", l.INN)
				}
			}
		}
		if got3, n3, err := db.DayToPrepare(f.tech, day, 0); err != nil || n3 != 3 || !reflect.DeepEqual(got3, days) {
			t.Errorf("all days to prepare: %d (%v)", n3, err)
		}
	})
}
