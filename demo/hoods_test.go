package demo_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/demo"
	"github.com/relais-onco/relais/internal/testdb"
	"github.com/relais-onco/relais/sqlstore"
)

// The demo's main site has an isolator and a cabinet, and every compounded
// preparation still to be made is planned in one of them, from 8:30
// (Europe/Paris), twenty minutes apart in each hood.
func TestDemoHoods(t *testing.T) {
	if testing.Short() {
		t.Skip("loads the demo")
	}
	testdb.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db, err := sqlstore.Open(ctx, dsn, sqlstore.Options{Site: demo.MainSite.ID, Log: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := demo.Load(ctx, db, demo.Options{Patients: 6, Now: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)}); err != nil {
			t.Fatal(err)
		}
		hoods, err := db.Hoods(ctx)
		if err != nil || len(hoods) != 2 {
			t.Fatalf("hoods = %+v %v", hoods, err)
		}
		kinds := map[relais.HoodKind]bool{}
		for _, h := range hoods {
			kinds[h.Kind] = h.Active
		}
		if !kinds[relais.HoodIsolator] || !kinds[relais.HoodCabinet] {
			t.Fatalf("the demo needs an active isolator and an active cabinet: %+v", hoods)
		}
		sys := relais.WithActor(ctx, relais.SystemActor(demo.MainSite.ID))
		preps, err := db.Preparations(sys, relais.PreparationFilter{})
		if err != nil {
			t.Fatal(err)
		}
		var ids []relais.ID
		open := 0
		for _, p := range preps {
			ids = append(ids, p.ID)
			if p.CanAssignHood() == nil {
				open++
			}
		}
		as, err := db.HoodAssignments(ctx, ids)
		if err != nil {
			t.Fatal(err)
		}
		if open == 0 || len(as) != open {
			t.Fatalf("%d preparations to make, %d planned in a hood", open, len(as))
		}
		for id, a := range as {
			local := a.Slot.In(relais.DisplayZone)
			if a.Slot.IsZero() || local.Hour() < 8 || (local.Hour() == 8 && local.Minute() < 30) || local.Minute()%20 != 10 {
				t.Errorf("preparation %s planned at %s, not on the 8:30 + 20 min grid", id, local)
			}
		}
		rep, err := db.VerifyJournal(ctx)
		if err != nil || !rep.OK() {
			t.Fatalf("audit: %v %+v", err, rep.Faults)
		}
	})
}
