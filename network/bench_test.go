package network_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/demo"
	"github.com/relais-onco/relais/internal/natstest"
	"github.com/relais-onco/relais/internal/testdb"
	"github.com/relais-onco/relais/journal"
	"github.com/relais-onco/relais/network"
	"github.com/relais-onco/relais/sqlstore"
)

// pair is two sites, A and B, on an in-process hub, each leaf node on a
// fixed client port and store directory so that either can be shut down
// and started again (its network node's connection then comes back by
// itself).
type pair struct {
	hub    *natstest.Server
	cfg    network.Config
	sites  map[string]*site
	ports  map[string]int
	stores map[string]string
	poll   time.Duration
}

// newPair starts the hub, A's and B's leaf nodes, databases and network
// nodes (the publisher looking at the journal every poll, and woken by
// each commit); prepare runs on each database before its node starts.
func newPair(tb testing.TB, open func(testing.TB) string, poll time.Duration, prepare ...func(testing.TB, *sqlstore.DB)) *pair {
	tb.Helper()
	p := &pair{sites: map[string]*site{}, ports: map[string]int{}, stores: map[string]string{}, poll: poll}
	p.hub = natstest.Start(tb, natstest.Options{Name: "hub", Domain: "hub", LeafListen: true})
	for _, id := range []string{siteA, siteB} {
		s := &site{id: id}
		p.ports[id], p.stores[id] = natstest.FreePort(tb), tb.TempDir()
		p.sites[id] = s
		p.startLeaf(tb, id)
		var err error
		if s.db, err = sqlstore.Open(context.Background(), open(tb), sqlstore.Options{Site: id, Log: quiet}); err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { s.db.Close() })
		if _, s.key, err = ed25519.GenerateKey(rand.Reader); err != nil {
			tb.Fatal(err)
		}
		for _, fn := range prepare {
			fn(tb, s.db)
		}
		name := "Site " + id
		for _, d := range demo.Sites {
			if d.ID == id {
				name = d.Name
			}
		}
		p.cfg.Sites = append(p.cfg.Sites, network.SiteConfig{ID: id, Name: name,
			PublicKey: journal.EncodePublicKey(s.key.Public().(ed25519.PublicKey))})
	}
	natstest.WaitLeafs(tb, p.hub, 2)
	for _, id := range []string{siteA, siteB} {
		p.startNode(tb, id)
	}
	return p
}

// startLeaf (re)starts a site's leaf node on its port and store.
func (p *pair) startLeaf(tb testing.TB, id string) {
	tb.Helper()
	p.sites[id].leaf = natstest.Start(tb, natstest.Options{Name: "leaf-" + id + "-" + strconv.FormatInt(time.Now().UnixNano(), 36),
		Domain: id, Port: p.ports[id], StoreDir: p.stores[id], LeafRemotes: []string{natstest.LeafURL(tb, p.hub)}})
}

// stopLeaf shuts a site's leaf node down: the site is cut off from the
// hub, its Relais keeps running.
func (p *pair) stopLeaf(id string) {
	p.sites[id].leaf.Shutdown()
	p.sites[id].leaf.WaitForShutdown()
}

func (p *pair) startNode(tb testing.TB, id string) {
	tb.Helper()
	s := p.sites[id]
	cfg := p.cfg
	cfg.Site, cfg.NATSURL = id, s.leaf.ClientURL()
	n, err := network.Start(context.Background(), network.Options{Config: cfg, DB: s.db, Key: s.key,
		Poll: p.poll, MatchEvery: 500 * time.Millisecond})
	if err != nil {
		tb.Fatalf("start %s: %v", id, err)
	}
	s.node = n
	tb.Cleanup(n.Close)
}

// sharedPatient registers a child at A and shares its care with B, then
// waits until B holds the history sent with the share.
func (p *pair) sharedPatient(tb testing.TB) relais.Patient {
	tb.Helper()
	a, b := p.sites[siteA], p.sites[siteB]
	doc := actor(siteA, relais.RolePrescriber, "dr.martin")
	pat, err := a.db.CreatePatient(doc, relais.PatientInput{IPP: "A0001", BirthName: "Durand", FirstNames: []string{"Léo"},
		BirthDate: "2019-03-14", Sex: relais.SexMale, INS: relais.INS{Status: relais.IdentityProvisional}})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := a.db.SharePatientCare(doc, pat.ID, relais.ShareInput{ToSite: siteB, InformedBy: "Dr Claire Martin",
		InformedAt: time.Now().Add(-time.Hour), InformationNote: "information leaflet given to both parents"}); err != nil {
		tb.Fatal(err)
	}
	waitCount(tb, b, "B holds the patient's identity and share", 20*time.Second, 2)
	return pat
}

// waitCount waits until s holds at least n entries from A.
func waitCount(tb testing.TB, s *site, what string, d time.Duration, n int) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for {
		var got int
		if err := s.db.SQL().QueryRow(rebind(s.db, "SELECT COUNT(*) FROM remote_event WHERE site = ?"), siteA).Scan(&got); err != nil {
			tb.Fatal(err)
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("after %s, %s: %d of %d entries", d, what, got, n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// BenchmarkReplicationLag measures, at a fixed event rate, the lag from a
// journaled change at A (the entry's time, taken in its transaction) to the
// moment B has applied it to its read-only copy (remote_event.received_at,
// taken in B's applying transaction), beside a bare JetStream floor over
// the same topology measured in the same run: a message published at A's
// leaf node into a file stream, sourced through the hub into a file stream
// of B's domain, consumed and acknowledged at B — the transport without
// the database, the signature, the chain check or the journal walk.
//
// Each operation is a window of rate/4 shareable notes (5 at least, 125 at
// most: a quarter of a second, half a second at 10 a second, an eighth at
// 1,000) about the shared patient, written at the rate, then waiting until
// B has them all, then the floor's window of as many messages; the p95 is
// over every event of every window (the script runs 10 windows a rate, the
// whole benchmark in about half a minute). The
// sub-benchmarks rate-N report p95-lag-ms, p50-lag-ms and p95-floor-ms
// (read by cmd/relais-bench). SQLite; the 1,000 events a second rate is
// above what one SQLite site writes on a small machine: then the achieved
// rate (events-per-s) is lower than asked and the lag includes A's own
// queue of writes.
func BenchmarkReplicationLag(b *testing.B) {
	p := newPair(b, testdb.SQLite, 100*time.Millisecond)
	a, rb := p.sites[siteA], p.sites[siteB]
	pat := p.sharedPatient(b)
	fl := newFloor(b, p)
	doc := actor(siteA, relais.RolePrescriber, "dr.martin")
	for _, rate := range []int{10, 50, 200, 1000} {
		b.Run(fmt.Sprintf("rate-%d", rate), func(b *testing.B) {
			per := min(max(rate/4, 5), 125)
			var lags, floors []time.Duration
			var wrote time.Duration
			for i := 0; i < b.N; i++ {
				var before int
				rb.db.SQL().QueryRow(rebind(rb.db, "SELECT COUNT(*) FROM remote_event WHERE site = ?"), siteA).Scan(&before)
				began := time.Now()
				paced(per, rate, func(j int) {
					if _, err := a.db.AddNote(doc, relais.NoteInput{PatientID: pat.ID, TargetKind: relais.NoteOnPatient, Shareable: true,
						Text: fmt.Sprintf("Surveillance %d/%d : constantes stables.", i, j)}); err != nil {
						b.Fatal(err)
					}
				})
				wrote += time.Since(began)
				waitCount(b, rb, "B applies the window", 60*time.Second, before+per)
				lags = append(lags, lastLags(b, rb, per)...)
				b.StopTimer()
				floors = append(floors, fl.window(b, per, rate)...)
				b.StartTimer()
			}
			b.ReportMetric(quantileMS(lags, 0.95), "p95-lag-ms")
			b.ReportMetric(quantileMS(lags, 0.50), "p50-lag-ms")
			b.ReportMetric(quantileMS(floors, 0.95), "p95-floor-ms")
			b.ReportMetric(float64((per-1)*b.N)/wrote.Seconds(), "events-per-s") // per-1 intervals a window
		})
	}
}

// paced calls fn n times at rate calls a second (as soon as possible when
// fn is slower than the rate).
func paced(n, rate int, fn func(j int)) {
	start, step := time.Now(), time.Second/time.Duration(rate)
	for j := 0; j < n; j++ {
		if d := time.Until(start.Add(time.Duration(j) * step)); d > 0 {
			time.Sleep(d)
		}
		fn(j)
	}
}

// lastLags reads the lags of the n latest entries of A that s applied.
func lastLags(tb testing.TB, s *site, n int) []time.Duration {
	tb.Helper()
	rows, err := s.db.SQL().Query(rebind(s.db, "SELECT time, received_at FROM remote_event WHERE site = ? ORDER BY seq DESC LIMIT ?"), siteA, n)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var out []time.Duration
	for rows.Next() {
		var at, applied time.Time
		if err := rows.Scan(sqlstore.ScanTime(&at), sqlstore.ScanTime(&applied)); err != nil {
			tb.Fatal(err)
		}
		out = append(out, applied.Sub(at))
	}
	if len(out) != n {
		tb.Fatalf("%d lags read, want %d", len(out), n)
	}
	return out
}

func quantileMS(ds []time.Duration, q float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.999999) - 1 // nearest rank
	return float64(s[min(max(i, 0), len(s)-1)]) / 1e6
}

// floor is the bare JetStream path A → hub → B, with the network's stream
// settings (file storage, sourced across domains, explicit acks).
type floor struct {
	js   jetstream.JetStream
	lags chan time.Duration
}

func newFloor(tb testing.TB, p *pair) *floor {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	connect := func(id string) jetstream.JetStream {
		nc, err := nats.Connect(p.sites[id].leaf.ClientURL())
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(nc.Close)
		js, err := jetstream.New(nc)
		if err != nil {
			tb.Fatal(err)
		}
		return js
	}
	ja, jb := connect(siteA), connect(siteB)
	if _, err := ja.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "FLOOR_OUT", Subjects: []string{"floor." + siteA + ".>"},
		Storage: jetstream.FileStorage, Duplicates: time.Minute}); err != nil {
		tb.Fatal(err)
	}
	if _, err := jb.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "FLOOR_IN", Storage: jetstream.FileStorage,
		Sources: []*jetstream.StreamSource{{Name: "FLOOR_OUT", FilterSubject: "floor." + siteA + "." + siteB + ".>", Domain: siteA}}}); err != nil {
		tb.Fatal(err)
	}
	cons, err := jb.CreateOrUpdateConsumer(ctx, "FLOOR_IN", jetstream.ConsumerConfig{Durable: "floor", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		tb.Fatal(err)
	}
	f := &floor{js: ja, lags: make(chan time.Duration, 1<<14)}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		sent, err := strconv.ParseInt(m.Headers().Get("Sent"), 10, 64)
		m.Ack()
		if err == nil {
			f.lags <- time.Since(time.Unix(0, sent))
		}
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(cc.Stop)
	return f
}

// window publishes n messages at rate a second (each acknowledged by A's
// stream, as the publisher waits for its acks) and returns their lags at B.
func (f *floor) window(tb testing.TB, n, rate int) []time.Duration {
	tb.Helper()
	ctx := context.Background()
	paced(n, rate, func(j int) {
		m := nats.NewMsg("floor." + siteA + "." + siteB + ".note")
		m.Data = make([]byte, 600) // about a note's signed entry
		m.Header.Set("Sent", strconv.FormatInt(time.Now().UnixNano(), 10))
		if _, err := f.js.PublishMsg(ctx, m, jetstream.WithMsgID(string(relais.NewID()))); err != nil {
			tb.Fatal(err)
		}
	})
	out := make([]time.Duration, 0, n)
	timeout := time.After(60 * time.Second)
	for len(out) < n {
		select {
		case d := <-f.lags:
			out = append(out, d)
		case <-timeout:
			tb.Fatalf("the floor: %d of %d messages reached B", len(out), n)
		}
	}
	return out
}
