package continuity

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/demo"
	"github.com/relais-onco/relais/internal/testdb"
	"github.com/relais-onco/relais/sqlstore"
)

// loadedSite is a main site with the demo library, the pharmacy and stock.
func loadedSite(t testing.TB, dsn string) *sqlstore.DB {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, dsn, sqlstore.Options{Site: demo.MainSite.ID, Log: discard()})
	must(t, err)
	t.Cleanup(func() { db.Close() })
	must(t, LoadSite(ctx, db))
	return db
}

// crisisCopy restores a snapshot of main into a new SQLite database.
func crisisCopy(t testing.TB, main *sqlstore.DB) *sqlstore.DB {
	t.Helper()
	ctx := context.Background()
	k := newKeys(t)
	path := filepath.Join(t.TempDir(), "main.snapshot")
	k.create(t, main, path, false)
	cp, _, _, err := Restore(ctx, path, []age.Identity{k.id}, nil, testdb.SQLite(t), sqlstore.Options{Log: discard()})
	must(t, err)
	t.Cleanup(func() { cp.Close() })
	return cp
}

func treatAndProduce(t testing.TB, db *sqlstore.DB, n int) []relais.Preparation {
	t.Helper()
	ctx := context.Background()
	team, err := NewTeam(ctx, db)
	must(t, err)
	regs, err := Regimens(ctx, db, team)
	must(t, err)
	var done []relais.Preparation
	var lastErr error
	for i := 0; len(done) < n && i < 4*n; i++ {
		r := regs[i%len(regs)]
		preps, err := TreatPatient(ctx, db, team, r, i)
		if err != nil {
			lastErr = err
			continue
		}
		for _, p := range preps {
			if len(done) >= n || p.Mode != relais.ModeCompounded || p.Status != relais.PrepToPrepare {
				continue
			}
			got, err := Produce(ctx, db, team, p.ID)
			if err != nil {
				lastErr = err
				continue
			}
			done = append(done, got)
		}
	}
	if len(done) < n {
		t.Fatalf("only %d of %d preparations released; last error: %v", len(done), n, lastErr)
	}
	return done
}

func TestCrisisAndReintegration(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		main := loadedSite(t, dsn)
		team, err := NewTeam(ctx, main)
		must(t, err)
		block, err := main.ReserveRegisterBlock(team.Pharmacist, 30, "crise: nœud de secours de la pharmacie")
		must(t, err)
		// Work at the main site before the copy: numbers come from the
		// counter, after the block.
		treatAndProduce(t, main, 2)

		node := crisisCopy(t, main)
		c, err := node.StartCrisis(ctx, sqlstore.CrisisDeclaration{Pharmacist: "ph.durand", Reason: "cyberattaque : serveur Relais chiffré"})
		must(t, err)
		if len(c.Reserved) != 30 || !node.InCrisis() {
			t.Fatalf("crisis %+v: %d reserved numbers, in crisis %v", c, len(c.Reserved), node.InCrisis())
		}
		crew, err := NewTeam(ctx, node)
		must(t, err)
		_, err = node.WriteLog(crew.Pharmacist, "pilot", "communication", "DSI prévenue, éditeur contacté")
		must(t, err)
		made := treatAndProduce(t, node, 5)
		for _, p := range made {
			if !containsString(c.Reserved, p.RegisterNumber) {
				t.Errorf("crisis preparation %s has register number %s, not one of the reserved block", p.ID, p.RegisterNumber)
			}
		}
		rep, err := node.Check(ctx)
		must(t, err)
		if !rep.OK() {
			t.Fatalf("the crisis node does not check: %s", rep)
		}

		// A conflict: the same patient changed on both sides.
		pats, err := main.SearchPatients(team.Prescriber, "EXERCICE", 5)
		must(t, err)
		if len(pats) == 0 {
			t.Fatal("no patient to change")
		}
		used := "MAIN"
		_, err = main.UpdatePatient(team.Prescriber, pats[0].ID, relais.PatientUpdate{UsedName: &used})
		must(t, err)
		usedCrisis := "CRISE"
		_, err = node.UpdatePatient(crew.Prescriber, pats[0].ID, relais.PatientUpdate{UsedName: &usedCrisis})
		must(t, err)

		entries, err := node.JournalEntries(ctx, node.ChainSite(), 0, 0)
		must(t, err)
		r, err := main.Reintegrate(team.Pharmacist, node.ChainSite(), entries)
		must(t, err)
		if r.Queued != 1 || len(r.Conflicts) != 1 || r.Conflicts[0].EntityID != string(pats[0].ID) {
			for _, c := range r.Conflicts {
				t.Logf("queued: entry %d %s %s %s: %s", c.SourceSeq, c.Action, c.Entity, c.EntityID, c.Note)
			}
			t.Fatalf("want exactly the patient changed on both sides queued, got %d queued", r.Queued)
		}
		if r.Replayed+r.Unchanged+r.Queued != len(entries) {
			t.Errorf("%d replayed + %d unchanged + %d queued ≠ %d entries", r.Replayed, r.Unchanged, r.Queued, len(entries))
		}
		if len(r.Voided) != 30-5 {
			t.Errorf("%d reserved numbers voided, want %d", len(r.Voided), 25)
		}
		after, err := main.Check(ctx)
		must(t, err)
		if !after.OK() {
			t.Errorf("the main site does not check after reintegration: %s", after)
		}
		for _, p := range made {
			got, err := main.Preparation(team.Pharmacist, p.ID)
			must(t, err)
			if got.Status != relais.PrepReleased || got.RegisterNumber != p.RegisterNumber {
				t.Errorf("preparation %s is %s (%s) at the main site, %s (%s) on the crisis node", p.ID, got.Status, got.RegisterNumber, p.Status, p.RegisterNumber)
			}
		}
		// Idempotent: a second run replays nothing.
		r2, err := main.Reintegrate(team.Pharmacist, node.ChainSite(), entries)
		must(t, err)
		if r2.Replayed != 0 || r2.Queued != 0 || r2.Skipped != len(entries) {
			t.Errorf("second run: %d replayed, %d queued, %d skipped of %d", r2.Replayed, r2.Queued, r2.Skipped, len(entries))
		}
		// The pharmacist takes the crisis node's version.
		res, err := main.ResolveConflict(team.Pharmacist, r.Conflicts[0].ID, "take_crisis", "identité vérifiée avec les parents")
		must(t, err)
		if res.Status != "took_crisis" {
			t.Errorf("resolved as %s", res.Status)
		}
		p, err := main.Patient(team.Prescriber, pats[0].ID)
		must(t, err)
		if p.UsedName != "CRISE" {
			t.Errorf("used name %q after taking the crisis version", p.UsedName)
		}
		final, err := main.Check(ctx)
		must(t, err)
		if !final.OK() {
			t.Errorf("after resolution: %s", final)
		}
		_ = block
	})
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

var _ = strings.Contains
var _ = time.Now
