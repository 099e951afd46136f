package sqlstore_test

import (
	"reflect"
	"testing"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/internal/testdb"
)

// The worklist follows a cycle through the prescriber's day: due to be
// prescribed, to sign, waiting for its OK-to-treat, then on the ward's list
// of the day with its lines.
func TestWorklistFollowsTheCycle(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn)
		on := today()
		doctor, err := f.db.Users(f.admin)
		if err != nil {
			t.Fatal(err)
		}
		var me relais.User
		for _, u := range doctor {
			if u.Username == "dr.test" {
				me = u
			}
		}
		ask := func() relais.Worklist {
			t.Helper()
			req := relais.WorklistRequest{On: on, HorizonDays: 7, PrescriberID: me.ID, PrescriberName: me.Name}
			w, err := f.db.Worklist(f.doctor, req)
			if err != nil {
				t.Fatal(err)
			}
			// Each list asked alone (as a nurse's or a pharmacist's home
			// does) is the same as in the whole worklist; the others are
			// empty.
			lists := map[string]func(relais.Worklist) []relais.WorklistItem{
				relais.WorklistToSign:      func(w relais.Worklist) []relais.WorklistItem { return w.ToSign },
				relais.WorklistOKToTreat:   func(w relais.Worklist) []relais.WorklistItem { return w.OKToTreat },
				relais.WorklistToPrescribe: func(w relais.Worklist) []relais.WorklistItem { return w.ToPrescribe },
				relais.WorklistToday:       func(w relais.Worklist) []relais.WorklistItem { return w.Today },
				relais.WorklistToValidate:  func(w relais.Worklist) []relais.WorklistItem { return w.ToValidate },
				relais.WorklistPatients:    func(w relais.Worklist) []relais.WorklistItem { return w.Patients },
			}
			for name := range lists {
				req.Lists = []string{name}
				one, err := f.db.Worklist(f.doctor, req)
				if err != nil {
					t.Fatal(err)
				}
				for other, l := range lists {
					if other == name && !reflect.DeepEqual(l(one), l(w)) {
						t.Errorf("%s asked alone: %+v, in the whole worklist: %+v", name, l(one), l(w))
					}
					if other != name && len(l(one)) != 0 {
						t.Errorf("%s asked alone: %s is not empty: %+v", name, other, l(one))
					}
				}
			}
			return w
		}
		count := func(w relais.Worklist) [4]int {
			return [4]int{len(w.ToPrescribe), len(w.ToSign), len(w.OKToTreat), len(w.Today)}
		}

		tr := f.include(t, on)
		w := ask()
		if count(w) != [4]int{1, 0, 0, 0} || w.ToPrescribe[0].Cycle != 1 || w.ToPrescribe[0].Date != on {
			t.Fatalf("after inclusion: %+v", w)
		}
		if len(w.Patients) != 1 || !w.Patients[0].Mine || w.Patients[0].PatientName != "MARTIN Jean" {
			t.Fatalf("patients: %+v", w.Patients)
		}

		p, err := f.db.Prescribe(f.doctor, tr.ID, relais.PrescribeRequest{Cycle: 1, StartDate: on})
		if err != nil {
			t.Fatal(err)
		}
		// Cycle 2 is expected 21 days later: beyond the 7-day horizon.
		if w = ask(); count(w) != [4]int{0, 1, 0, 0} || w.ToSign[0].PrescriptionID != p.ID {
			t.Fatalf("after prescribing: %+v", count(w))
		}
		if _, err := f.db.Sign(f.doctor, p.ID); err != nil {
			t.Fatal(err)
		}
		if w = ask(); count(w) != [4]int{0, 0, 1, 0} || w.OKToTreat[0].Day != 1 {
			t.Fatalf("after signing: %+v", count(w))
		}
		f.measure(t, "neutrophils_g_l", 2.1, 0)
		f.measure(t, "platelets_g_l", 180, 0)
		if _, err := f.db.GiveOKToTreat(f.doctor, p.ID, relais.OKToTreatRequest{Day: 1}); err != nil {
			t.Fatal(err)
		}
		if w = ask(); count(w) != [4]int{0, 0, 0, 1} || len(w.Today[0].Lines) != 4 {
			t.Fatalf("after the OK-to-treat: %+v", count(w))
		}
		// The pharmacist's days are the validation queue's.
		q, err := f.db.ValidationQueue(f.pharma)
		if err != nil {
			t.Fatal(err)
		}
		if len(w.ToValidate) != len(q) || len(q) != 1 || w.ToValidate[0].PrescriptionID != q[0].PrescriptionID ||
			w.ToValidate[0].Day != q[0].Day || len(w.ToValidate[0].Lines) != q[0].Lines {
			t.Fatalf("to validate %+v; the queue says %+v", w.ToValidate, q)
		}
		for _, l := range w.ToValidate[0].Lines {
			if _, err := f.db.ValidateLine(f.pharma, p.ID, l.ID, relais.ValidateLineRequest{Decision: relais.DecisionAccept}); err != nil {
				t.Fatal(err)
			}
		}
		if w = ask(); len(w.ToValidate) != 0 || len(w.Today) != 1 {
			t.Fatalf("after validation: %d to validate, %d today", len(w.ToValidate), len(w.Today))
		}
		// With the horizon reaching cycle 2's date, it is due.
		w, err = f.db.Worklist(f.doctor, relais.WorklistRequest{On: on, HorizonDays: 21})
		if err != nil {
			t.Fatal(err)
		}
		if len(w.ToPrescribe) != 1 || w.ToPrescribe[0].Cycle != 2 || w.ToPrescribe[0].Date != on.AddDays(21) {
			t.Fatalf("horizon 21 days: %+v", w.ToPrescribe)
		}
		// Another prescriber's view: the patient is not theirs.
		if w.Patients[0].Mine {
			t.Errorf("without a prescriber, no patient is mine")
		}
		if _, err := f.db.Worklist(f.doctor, relais.WorklistRequest{On: "14/03/2025"}); relais.ErrorKind(err) != relais.KindInvalid {
			t.Errorf("a date not in ISO form: %v", err)
		}
	})
}
