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

// The demo is a whole region's first site, loaded through the services: its
// journal must verify, and it must hold what the README promises.
func TestLoadDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("loads the whole demo")
	}
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, testdb.SQLite(t), sqlstore.Options{Site: demo.MainSite.ID, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	logins, err := demo.Load(ctx, db, demo.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	roles := map[relais.Role]bool{}
	for _, l := range logins {
		roles[l.Role] = true
	}
	for _, r := range relais.Roles {
		if !roles[r] {
			t.Errorf("no demo login for %s", r)
		}
	}
	sites, _ := db.Sites(ctx)
	if len(sites) != 4 {
		t.Errorf("%d sites; want a university hospital and three general hospitals", len(sites))
	}
	sys := relais.WithActor(ctx, relais.SystemActor(demo.MainSite.ID))
	protos, err := db.Protocols(sys, relais.ProtocolFilter{Status: relais.VersionActive})
	if err != nil || len(protos) < 12 {
		t.Fatalf("%d active protocols, %v; want at least 12", len(protos), err)
	}
	pops := map[relais.Population]int{}
	for _, p := range protos {
		pops[p.Population]++
	}
	if pops[relais.Paediatric] == 0 || pops[relais.Adult] == 0 {
		t.Errorf("library populations: %v; want paediatric and adult", pops)
	}
	entries, err := db.JournalEntries(ctx, db.Site, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var patients []relais.ID
	for _, e := range entries {
		if e.Action == "patient.create" {
			patients = append(patients, relais.ID(e.EntityID))
		}
	}
	if len(patients) != 40 {
		t.Fatalf("%d patients; want 40", len(patients))
	}
	withHistory := 0
	for _, id := range patients {
		h, err := db.History(sys, id)
		if err != nil {
			t.Fatal(err)
		}
		// Several cycles, or for a one-cycle protocol (an induction, weekly
		// preoperative courses) several days of it already given the go-ahead.
		days := 0
		for _, p := range h.Prescriptions {
			for _, d := range p.Days {
				if d.OKToTreat != nil {
					days++
				}
			}
		}
		if len(h.Prescriptions) >= 2 || days >= 2 {
			withHistory++
		}
	}
	if withHistory < 36 {
		t.Errorf("only %d of 40 patients have a history of several cycles or days", withHistory)
	}
	q, err := db.ValidationQueue(sys)
	if err != nil || len(q) == 0 {
		t.Errorf("the pharmacist's validation queue is empty (%v): the demo should leave today's work", err)
	}
	rep, err := db.VerifyJournal(ctx)
	if err != nil || !rep.OK() {
		t.Fatalf("the demo's journal does not verify: %v %+v", err, rep.Faults)
	}
}
