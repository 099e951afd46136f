package aid_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/aid"
	"github.com/relais-onco/relais/continuity"
	"github.com/relais-onco/relais/internal/natstest"
	"github.com/relais-onco/relais/internal/testdb"
	"github.com/relais-onco/relais/sqlstore"
)

// TestLinkDownCatchesUp: a message to a site whose Relais is stopped waits
// in that site's stream and is applied when it comes back (the durable
// consumer is the cursor); a message to a site whose NATS server is down
// stays in the sender's outbox and is sent when the server is back. Each
// message is applied once. (The store runs on SQLite here: what is tested
// is the transport; the store's side runs on both engines in
// TestMutualAidThreeSites.)
func TestLinkDownCatchesUp(t *testing.T) {
	ctx := context.Background()
	hub := natstest.Start(t, natstest.Options{Name: "hub", Domain: "hub", LeafListen: true})
	leafOpts := func(id, dir string, port int) natstest.Options {
		return natstest.Options{Name: id, Domain: id, LeafRemotes: []string{natstest.LeafURL(t, hub)}, StoreDir: dir, Port: port}
	}
	open := func(id string) (*sqlstore.DB, continuity.Team) {
		db, err := sqlstore.Open(ctx, testdb.SQLite(t), sqlstore.Options{Site: id, Log: slog.New(slog.DiscardHandler)})
		must(t, err)
		t.Cleanup(func() { db.Close() })
		must(t, continuity.LoadSite(ctx, db))
		team, err := continuity.NewTeam(ctx, db)
		must(t, err)
		return db, team
	}
	dirA, portA := t.TempDir(), natstest.FreePort(t)
	leafA := natstest.Start(t, leafOpts(siteA, dirA, portA))
	leafB := natstest.Start(t, leafOpts(siteB, "", 0))
	natstest.WaitLeafs(t, hub, 2)
	dbA, teamA := open(siteA)
	dbB, teamB := open(siteB)

	link := func(db *sqlstore.DB, id, url string) (*aid.Link, *aid.JetStream) {
		nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
		must(t, err)
		t.Cleanup(nc.Close)
		tr, err := aid.NewJetStream(nc)
		must(t, err)
		tr.AckWait = 500 * time.Millisecond
		_, err = tr.Setup(ctx, id)
		must(t, err)
		return &aid.Link{Site: id, Store: db, Transport: tr, Interval: 50 * time.Millisecond}, tr
	}
	run := func(l *aid.Link) (stop func()) {
		c, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { l.Run(c); close(done) }()
		return func() { cancel(); <-done }
	}
	linkA, _ := link(dbA, siteA, leafA.ClientURL())
	linkB, _ := link(dbB, siteB, leafB.ClientURL())
	stopB := run(linkB)
	defer stopB()

	agreements := func() int {
		gs, err := dbA.AidAgreements(teamA.Pharmacist)
		must(t, err)
		return len(gs)
	}
	pending := func() int {
		ms, err := dbB.PendingAidMessages(ctx, 0)
		must(t, err)
		return len(ms)
	}
	agree := func(ref string) {
		t.Helper()
		_, err := dbB.SaveAidAgreement(teamB.Pharmacist, relais.AidAgreementInput{SupportSite: siteA, AllDrugs: true,
			ValidFrom: relais.Today(), ValidTo: relais.Today(), Reference: ref})
		must(t, err)
	}

	// (a) A's Relais is stopped: the message is stored in A's stream (B's
	// outbox empties), and applied when A's link runs again.
	agree("CONV-1")
	waitFor(t, "B's outbox to be acknowledged by A's stream", func() (bool, string) { return pending() == 0, "" })
	time.Sleep(200 * time.Millisecond)
	if n := agreements(); n != 0 {
		t.Fatalf("A applied %d agreements while its link was stopped", n)
	}
	stopA := run(linkA)
	waitFor(t, "A to catch up", func() (bool, string) { return agreements() == 1, "" })
	stopA()

	// (b) A's server is down: B's message stays in B's outbox.
	leafA.Shutdown()
	leafA.WaitForShutdown()
	agree("CONV-2")
	time.Sleep(1500 * time.Millisecond)
	if n := pending(); n != 1 {
		t.Fatalf("%d messages pending at B while A is down, want 1", n)
	}
	// A comes back (same store, same port): B's outbox drains, A applies
	// the message once.
	natstest.Start(t, leafOpts(siteA, dirA, portA))
	natstest.WaitLeafs(t, hub, 2)
	stopA = run(linkA)
	defer stopA()
	waitFor(t, "A to receive the message sent while it was down", func() (bool, string) { return agreements() == 2 && pending() == 0, "" })

	// A message delivered twice is applied once.
	ms, err := dbB.PendingAidMessages(ctx, 0)
	must(t, err)
	if len(ms) != 0 {
		t.Fatalf("%d pending", len(ms))
	}
	g, err := dbB.AidAgreements(teamB.Pharmacist)
	must(t, err)
	body, _ := jsonOf(g[0])
	m := relais.AidMessage{ID: relais.NewID(), From: siteB, To: siteA, Kind: relais.AidMsgAgreement, At: time.Now(), Body: body}
	for i, want := range []string{"applied", "duplicate"} {
		got, err := dbA.ApplyAidMessage(relais.WithActor(ctx, relais.SystemActor(siteA)), m)
		if err != nil || got != want {
			t.Fatalf("delivery %d: %q %v, want %q", i+1, got, err, want)
		}
	}
	// A message for another site, or from a site that is not the
	// agreement's requester, is refused and recorded as failed.
	m.ID, m.From = relais.NewID(), siteC
	if _, err := dbA.ApplyAidMessage(relais.WithActor(ctx, relais.SystemActor(siteA)), m); relais.ErrorKind(err) != relais.KindInvalid {
		t.Fatalf("agreement of B sent by C: %v", err)
	}
	if got, err := dbA.ApplyAidMessage(relais.WithActor(ctx, relais.SystemActor(siteA)), m); got != "duplicate" || err != nil {
		t.Fatalf("a failed message delivered again: %q %v, want it recorded once", got, err)
	}
}
