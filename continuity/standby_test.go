package continuity

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/internal/testdb"
	"github.com/relais-onco/relais/sqlstore"
	"github.com/relais-onco/relais/web"
)

// serveSite serves db over HTTP as `relais serve` does, and returns its URL
// and an API token with journal.read.
func serveSite(t testing.TB, db *sqlstore.DB) (string, string) {
	t.Helper()
	ctx := context.Background()
	srv := web.New(db.Site, web.Services{Users: db, Patients: db, Catalogue: db, Protocols: db, Treatments: db, Production: db}, discard())
	srv.SetReady()
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	users, err := db.Users(ctx)
	must(t, err)
	var admin, dsi relais.User
	for _, u := range users {
		switch u.Username {
		case "admin.pharma":
			admin = u
		case "admin.dsi":
			dsi = u
		}
	}
	_, secret, err := db.CreateToken(relais.WithActor(ctx, admin.Actor()), relais.TokenInput{UserID: dsi.ID, Name: "standby",
		Permissions: []relais.Permission{relais.PermJournalRead}, ExpiresIn: 30})
	must(t, err)
	return ts.URL, secret
}

func TestStandbyFollowsItsSite(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		main := busySite(t, dsn)
		url, token := serveSite(t, main)
		dir := t.TempDir()
		k := newKeys(t)
		sb, err := OpenStandby(ctx, StandbyConfig{Source: url, Token: token, Dir: dir, Log: discard(),
			Recipients: []age.Recipient{k.id.Recipient()}, RecipientIDs: []string{k.id.Recipient().String()}, Key: k.site})
		must(t, err)
		defer sb.DB.Close()
		if _, err := sb.PullOnce(ctx, 0); err != nil {
			t.Fatal(err)
		}
		// New work at the site reaches the copy at the next poll.
		made := treatAndProduce(t, main, 1)
		n, err := sb.PullOnce(ctx, time.Second)
		must(t, err)
		if n == 0 {
			t.Fatal("the standby applied nothing after new work at the site")
		}
		want, err := main.Head(ctx, main.Site)
		must(t, err)
		got, err := sb.DB.Head(ctx, main.Site)
		must(t, err)
		if got.Seq != want.Seq || got.Hash != want.Hash {
			t.Fatalf("standby at %d (%s), site at %d (%s)", got.Seq, got.Hash, want.Seq, want.Hash)
		}
		p, err := sb.DB.Preparation(relais.WithActor(ctx, relais.SystemActor(main.Site)), made[0].ID)
		must(t, err)
		if p.Status != relais.PrepReleased || p.RegisterNumber != made[0].RegisterNumber {
			t.Errorf("the standby holds preparation %s as %s (%s)", p.ID, p.Status, p.RegisterNumber)
		}
		st, err := StandbyStatus(ctx, sb.DB, dir)
		must(t, err)
		if st.LagSeconds < 0 || st.LagSeconds > 10 || st.AppliedSeq != want.Seq {
			t.Errorf("status after a complete poll: lag %.1f s, applied %d (want ≤ 10 s and %d)", st.LagSeconds, st.AppliedSeq, want.Seq)
		}
		rep, err := sb.DB.Check(ctx)
		must(t, err)
		if !rep.OK() {
			t.Errorf("the standby's copy does not check: %s", rep)
		}
		// The downtime pack and the daily snapshot.
		sum, err := DowntimePack(ctx, sb.DB, filepath.Join(dir, "packs"), relais.Now())
		must(t, err)
		if sum.Worksheets == 0 || sum.Labels == 0 || sum.Plans == 0 || sum.Slips == 0 {
			t.Errorf("downtime pack: %+v", sum)
		}
		if b, err := os.ReadFile(sum.Path); err != nil || len(b) < 1000 || string(b[:5]) != "%PDF-" {
			t.Errorf("the pack %s is not a PDF (%v)", sum.Path, err)
		}
		for i := 0; i < 9; i++ {
			must(t, sb.DailySnapshot(ctx, time.Now().Add(time.Duration(i)*25*time.Hour)))
			time.Sleep(1100 * time.Millisecond) // names carry the second
		}
		names, _ := filepath.Glob(filepath.Join(dir, "snapshots", "*.snapshot"))
		if len(names) != 7 {
			t.Errorf("%d daily snapshots kept, want 7", len(names))
		}
	})
}
