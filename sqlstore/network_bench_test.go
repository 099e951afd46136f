package sqlstore_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/demo"
	"github.com/relais-onco/relais/internal/testdb"
	"github.com/relais-onco/relais/journal"
	"github.com/relais-onco/relais/sqlstore"
)

// BenchmarkNetworkHistory measures the consolidated timeline of a patient
// treated at 4 sites (issue 8: served in under 100 ms): a demo patient of
// this site, and the same child at three other sites, each of which sent
// this patient's whole history (its own entries re-sealed as that site's).
// The baseline is the same patient's local History, read in the same run:
//
//	go test ./sqlstore -run '^$' -bench NetworkHistory -benchtime 50x
func BenchmarkNetworkHistory(b *testing.B) {
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, testdb.SQLite(b), sqlstore.Options{Site: demo.MainSite.ID, Log: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, err := demo.Load(ctx, db, demo.Options{Patients: 6, Seed: 5}); err != nil {
		b.Fatal(err)
	}
	sys := relais.WithActor(ctx, relais.SystemActor(demo.MainSite.ID))
	var p relais.Patient
	rows, err := db.SQL().Query("SELECT id FROM patient WHERE identity_status = 'qualified' ORDER BY id")
	if err != nil {
		b.Fatal(err)
	}
	for rows.Next() && p.ID == "" {
		var id relais.ID
		rows.Scan(&id)
		p, _ = db.Patient(sys, id)
	}
	rows.Close()
	if p.ID == "" {
		b.Fatal("no qualified patient in the demo")
	}
	local, err := db.PatientEntries(ctx, p.ID, 0, 1<<62)
	if err != nil {
		b.Fatal(err)
	}
	for _, site := range []string{"chg-landes", "chg-dordogne", "chg-charente"} {
		remote := relais.NewID()
		seq, prev := int64(0), journal.GenesisHash
		for _, e := range local {
			r := e
			r.ID, r.Site = string(relais.NewID()), site
			r.After = json.RawMessage(strings.ReplaceAll(string(e.After), string(p.ID), string(remote)))
			if r.Entity == "patient" {
				r.EntityID = string(remote)
			}
			if err := r.Seal(seq, prev); err != nil {
				b.Fatal(err)
			}
			seq, prev = r.Seq, r.Hash
			if _, err := db.ApplyRemote(ctx, site, r); err != nil {
				b.Fatal(err)
			}
		}
	}
	if links, err := db.MatchRemotePatients(ctx); err != nil || len(links) != 3 {
		b.Fatalf("links: %v %v", links, err)
	}
	h, err := db.NetworkHistory(sys, p.ID)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%d local entries; timeline of %d entries from %d sites, %d remote prescriptions", len(local), len(h.Entries), len(h.Sites)+1, len(h.RemotePrescriptions))
	var base, net time.Duration
	b.Run("local_history", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := db.History(sys, p.ID); err != nil {
				b.Fatal(err)
			}
		}
		base = b.Elapsed() / time.Duration(b.N)
	})
	b.Run("network_history_4_sites", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := db.NetworkHistory(sys, p.ID); err != nil {
				b.Fatal(err)
			}
		}
		net = b.Elapsed() / time.Duration(b.N)
	})
	if base > 0 {
		b.Logf("network history / local history = %.2f (%s vs %s per read)", float64(net)/float64(base), net, base)
	}
}
