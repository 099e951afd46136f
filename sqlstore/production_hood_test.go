package sqlstore_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/internal/testdb"
	"github.com/relais-onco/relais/journal"
	"github.com/relais-onco/relais/sqlstore"
)

// Hoods: the pharmacy administrator manages the site's isolators and
// cabinets; a technician puts each compounded preparation in one, moves it
// to another only with a reason, and never once it is made. Every change is
// journaled and the audit finds the rows as the journal describes them.
func TestHoodsAndAssignments(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		f := newProdFixture(t, dsn)
		db := f.db

		iso, err := db.CreateHood(f.admin, relais.Hood{Name: "  Isolateur   1 ", Kind: relais.HoodIsolator, Active: true})
		if err != nil {
			t.Fatal(err)
		}
		if iso.Name != "Isolateur 1" || iso.Revision != 1 || !iso.Active || iso.Site != "chu-test" {
			t.Fatalf("isolator = %+v", iso)
		}
		psm, err := db.CreateHood(f.admin, relais.Hood{Name: "Hotte PSM 2", Kind: relais.HoodCabinet, Active: true})
		if err != nil {
			t.Fatal(err)
		}
		// A second hood of the same name, an unknown kind, a technician
		// managing equipment: each refused, naming the field.
		if _, err := db.CreateHood(f.admin, relais.Hood{Name: "Isolateur 1", Kind: relais.HoodCabinet}); relais.ErrorKind(err) != relais.KindConflict || !hoodField(err, "name") {
			t.Fatalf("duplicate name: %v", err)
		}
		if _, err := db.CreateHood(f.admin, relais.Hood{Name: "X", Kind: "laminar"}); relais.ErrorKind(err) != relais.KindInvalid || !hoodField(err, "kind") {
			t.Fatalf("unknown kind: %v", err)
		}
		if _, err := db.CreateHood(f.tech, relais.Hood{Name: "Isolateur 3", Kind: relais.HoodIsolator}); relais.ErrorKind(err) != relais.KindForbidden {
			t.Fatalf("technician creating a hood: %v", err)
		}

		pres := f.validatedCycles(t, f.patient, 1)[0]
		preps := f.preparationsOf(t, pres.ID)
		doxo, vcr, pred := preps["doxorubicine"], preps["vincristine"], preps["prednisone"]

		slot := time.Date(2026, 3, 2, 8, 30, 0, 0, time.UTC)
		a, err := db.AssignHood(f.tech, doxo.ID, relais.AssignHoodRequest{HoodID: iso.ID, Slot: slot})
		if err != nil {
			t.Fatal(err)
		}
		if a.ID != doxo.ID || a.HoodID != iso.ID || !a.Slot.Equal(slot) || a.By != "prep.test" || a.Revision != 1 {
			t.Fatalf("assignment = %+v", a)
		}
		// Moving it to the cabinet needs a reason.
		if _, err := db.AssignHood(f.tech, doxo.ID, relais.AssignHoodRequest{HoodID: psm.ID}); !hoodField(err, "reason") {
			t.Fatalf("moving without a reason: %v", err)
		}
		a, err = db.AssignHood(f.tech2, doxo.ID, relais.AssignHoodRequest{HoodID: psm.ID, Reason: "isolateur 1 en panne"})
		if err != nil {
			t.Fatal(err)
		}
		if a.HoodID != psm.ID || a.Reason != "isolateur 1 en panne" || !a.Slot.IsZero() || a.Revision != 2 || a.By != "prep2.test" {
			t.Fatalf("reassignment = %+v", a)
		}
		// A dispensed-as-is tablet is not made in a hood; an unknown hood is
		// refused beside the field.
		if _, err := db.AssignHood(f.tech, pred.ID, relais.AssignHoodRequest{HoodID: iso.ID}); relais.ErrorKind(err) != relais.KindTransition {
			t.Fatalf("prednisone in a hood: %v", err)
		}
		if _, err := db.AssignHood(f.tech, vcr.ID, relais.AssignHoodRequest{HoodID: relais.NewID()}); !hoodField(err, "hood_id") {
			t.Fatalf("unknown hood: %v", err)
		}
		// A nurse cannot plan production.
		if _, err := db.AssignHood(f.nurse, vcr.ID, relais.AssignHoodRequest{HoodID: iso.ID}); relais.ErrorKind(err) != relais.KindForbidden {
			t.Fatalf("nurse assigning: %v", err)
		}

		// The isolator goes out of service: no new preparation in it.
		iso.Active = false
		if iso, err = db.UpdateHood(f.admin, iso); err != nil || iso.Active || iso.Revision != 2 {
			t.Fatalf("deactivate: %+v %v", iso, err)
		}
		stale := iso
		stale.Revision = 1
		if _, err := db.UpdateHood(f.admin, stale); relais.ErrorKind(err) != relais.KindConflict || !hoodField(err, "revision") {
			t.Fatalf("stale update: %v", err)
		}
		if _, err := db.AssignHood(f.tech, vcr.ID, relais.AssignHoodRequest{HoodID: iso.ID}); !hoodField(err, "hood_id") {
			t.Fatalf("out-of-service hood: %v", err)
		}
		hoods, err := db.Hoods(context.Background())
		if err != nil || len(hoods) != 2 || hoods[0].ID != psm.ID || hoods[1].ID != iso.ID {
			t.Fatalf("hoods (active first) = %+v %v", hoods, err)
		}

		// Once made, the preparation stays where it was made.
		if _, err := db.IssueWorksheet(f.tech, doxo.ID); err != nil {
			t.Fatal(err)
		}
		f.produceAsPlanned(t, doxo.ID)
		if _, err := db.AssignHood(f.tech, doxo.ID, relais.AssignHoodRequest{HoodID: iso.ID, Reason: "x"}); relais.ErrorKind(err) != relais.KindTransition {
			t.Fatalf("moving a prepared preparation: %v", err)
		}

		got, err := db.HoodAssignments(f.tech, []relais.ID{doxo.ID, vcr.ID})
		if err != nil || len(got) != 1 || got[doxo.ID].HoodID != psm.ID {
			t.Fatalf("assignments = %+v %v", got, err)
		}

		// The journal tells the story: both hoods created, the isolator
		// deactivated, the preparation assigned then moved with its reason.
		entries, err := db.JournalEntries(context.Background(), "chu-test", 0, 100000)
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		var moved *journal.Entry
		for i, e := range entries {
			if e.Entity == "hood" || e.Entity == "hood_assignment" {
				actions = append(actions, e.Action)
				if e.Entity == "hood_assignment" && e.Before != nil && string(e.Before) != "null" {
					moved = &entries[i]
				}
			}
		}
		want := []string{"hood.create", "hood.create", "preparation.assign_hood", "preparation.assign_hood", "hood.update"}
		if len(actions) != len(want) {
			t.Fatalf("journal actions = %v, want %v", actions, want)
		}
		for i := range want {
			if actions[i] != want[i] {
				t.Fatalf("journal actions = %v, want %v", actions, want)
			}
		}
		if moved == nil || moved.Username != "prep2.test" {
			t.Fatalf("the move is not journaled with its before-image and actor: %+v", moved)
		}
		rep, err := db.VerifyJournal(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK() {
			t.Fatalf("audit faults: %+v", rep.Faults)
		}

		// A standby replaying the chain gets the hoods and the assignment
		// exactly (their appliers are the inverse of their loaders).
		dst, err := sqlstore.Open(context.Background(), testdb.SQLite(t), sqlstore.Options{Site: "chu-test", Log: quiet})
		if err != nil {
			t.Fatal(err)
		}
		defer dst.Close()
		copyChain(t, db, dst)
		for _, e := range []struct {
			entity string
			id     relais.ID
		}{{"hood", iso.ID}, {"hood", psm.ID}, {"hood_assignment", doxo.ID}} {
			want, werr := db.LoadEntityJSON(context.Background(), e.entity, e.id)
			got, gerr := dst.LoadEntityJSON(context.Background(), e.entity, e.id)
			if werr != nil || gerr != nil || !bytes.Equal(want, got) {
				t.Fatalf("%s %s in the copy:\noriginal: %s (%v)\ncopy:     %s (%v)", e.entity, e.id, want, werr, got, gerr)
			}
		}
	})
}

// hoodField reports whether err names field.
func hoodField(err error, field string) bool {
	for _, fe := range relais.FieldErrors(err) {
		if fe.Field == field {
			return true
		}
	}
	return false
}
