package network_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/aid"
	"github.com/relais-onco/relais/internal/natstest"
	"github.com/relais-onco/relais/internal/testdb"
	"github.com/relais-onco/relais/journal"
	"github.com/relais-onco/relais/network"
	"github.com/relais-onco/relais/sqlstore"
)

// accountsRegion is a hub with one account per site (network.HubConfig)
// and three sites: A embeds its leaf node (leaf_seed_file, as `relais
// serve --network` does), B and C run theirs beside Relais.
type accountsRegion struct {
	hub   *natstest.Server
	cfg   network.Config
	dbs   map[string]*sqlstore.DB
	keys  map[string]ed25519.PrivateKey
	seeds map[string]string
	leafs map[string]*natstest.Server // B's and C's
}

func newAccountsRegion(t *testing.T, open func(testing.TB) string) *accountsRegion {
	t.Helper()
	ctx := context.Background()
	r := &accountsRegion{dbs: map[string]*sqlstore.DB{}, keys: map[string]ed25519.PrivateKey{}, seeds: map[string]string{}, leafs: map[string]*natstest.Server{}}
	for _, id := range []string{siteA, siteB, siteC} {
		seed, pub, err := network.NewLeafKey()
		if err != nil {
			t.Fatal(err)
		}
		_, k, _ := ed25519.GenerateKey(rand.Reader)
		r.keys[id], r.seeds[id] = k, seed
		r.cfg.Sites = append(r.cfg.Sites, network.SiteConfig{ID: id, Name: "Site " + id, Kind: "chg",
			PublicKey: journal.EncodePublicKey(k.Public().(ed25519.PublicKey)), LeafNkey: pub})
		db, err := sqlstore.Open(ctx, open(t), sqlstore.Options{Site: id, Log: quiet})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		r.dbs[id] = db
	}
	opts, err := network.HubServerOptions(r.cfg, network.HubOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r.hub = natstest.StartHub(t, opts)
	r.cfg.Hub = []string{natstest.LeafURL(t, r.hub)}
	for _, id := range []string{siteB, siteC} {
		r.leafs[id] = natstest.StartLeafNkey(t, r.hub, "leaf-"+id, id, r.seeds[id])
	}
	seedFile := filepath.Join(t.TempDir(), "leaf.seed")
	if err := os.WriteFile(seedFile, []byte(r.seeds[siteA]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{siteA, siteB, siteC} {
		c := r.cfg
		c.Site = id
		o := network.Options{Config: c, DB: r.dbs[id], Key: r.keys[id], Poll: 100 * time.Millisecond, Log: quiet}
		if id == siteA {
			o.Config.LeafSeedFile, o.DataDir = seedFile, t.TempDir()
		} else {
			o.Config.NATSURL = r.leafs[id].ClientURL()
		}
		n, err := network.Start(ctx, o)
		if err != nil {
			t.Fatalf("start %s: %v", id, err)
		}
		t.Cleanup(n.Close)
	}
	natstest.WaitLeafs(t, r.hub, 3)
	return r
}

// connect opens a client of site's leaf node, with the site's inbox prefix
// as Relais uses it.
func (r *accountsRegion) connect(t *testing.T, site string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(r.leafs[site].ClientURL(), nats.CustomInboxPrefix(network.InboxPrefix(site)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// Issue 8: each site a leaf node with its own account. A shares a patient
// with B. C — a site of the network, with valid credentials for its own
// account — tries every way to read what A addresses to B: subscribing to
// the subjects, sourcing A's stream, creating a consumer in A's domain. It
// receives nothing, while B receives everything A shares.
func TestSiteAccountsIsolateWhatIsSharedWithAnother(t *testing.T) {
	each(t, func(t *testing.T, open func(testing.TB) string) {
		r := newAccountsRegion(t, open)
		ctx := context.Background()
		nc := r.connect(t, siteC)
		// C listens on everything it could hope to catch on its side.
		spy := make(chan *nats.Msg, 1000)
		for _, subj := range []string{"relais.share.>", "relais.deliver.>", "relais.aid.>", network.InboxPrefix(siteB) + ".>", network.InboxPrefix(siteA) + ".>", "$JS.S.>"} {
			if _, err := nc.ChanSubscribe(subj, spy); err != nil {
				t.Fatal(err)
			}
		}
		nc.Flush()
		// C's stream sourcing A's stream, filtered on what A sends to B,
		// through A's domain (as Relais sources) and with C's own delivery
		// prefix (the one C's account may receive).
		jsC, _ := jetstream.New(nc)
		if _, err := jsC.CreateStream(ctx, jetstream.StreamConfig{Name: "SPY", Storage: jetstream.MemoryStorage, Sources: []*jetstream.StreamSource{
			{Name: "RELAIS_OUT_" + siteA, FilterSubject: "relais.share." + siteA + "." + siteB + ".>", Domain: siteA},
			{Name: "RELAIS_OUT_" + siteA, FilterSubject: "relais.share." + siteA + ".>",
				External: &jetstream.ExternalStream{APIPrefix: "$JS." + siteA + ".API", DeliverPrefix: network.DeliverPrefix(siteA, siteC)}},
		}}); err != nil {
			t.Fatal(err)
		}

		doc := actor(siteA, relais.RolePrescriber, "dr.a")
		p, err := r.dbs[siteA].CreatePatient(doc, relais.PatientInput{IPP: "A0001", INS: relais.INS{Status: relais.IdentityProvisional},
			BirthName: "LEROUX", FirstNames: []string{"Inès"}, BirthDate: "2019-03-02", Sex: relais.SexFemale})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.dbs[siteA].SharePatientCare(doc, p.ID, relais.ShareInput{ToSite: siteB, InformedBy: "Dr A", InformedAt: time.Now().Add(-time.Hour)}); err != nil {
			t.Fatal(err)
		}
		note, err := r.dbs[siteA].AddNote(doc, relais.NoteInput{PatientID: p.ID, TargetKind: relais.NoteOnPatient, Shareable: true,
			Text: "Cycle bien toléré."})
		if err != nil {
			t.Fatal(err)
		}
		// B receives the shared patient and the note, across the accounts.
		waitFor(t, "B receives the patient and the note", 15*time.Second, func() (bool, string) {
			rps, err := r.dbs[siteB].RemotePatients(ctx)
			if err != nil || len(rps) != 1 || rps[0].Patient.ID != p.ID {
				return false, "no patient yet"
			}
			var n int
			r.dbs[siteB].SQL().QueryRow(rebind(r.dbs[siteB], "SELECT COUNT(*) FROM remote_event WHERE site = ? AND entity_id = ?"), siteA, note.ID).Scan(&n)
			return n == 1, "the patient, not the note yet"
		})

		// C's own JetStream API requests into A's domain: a consumer on
		// what A sends to B is refused (no route: C's account has no import
		// of it), one on what A would send to C is allowed — the control
		// showing the refusal is the account's and not a broken link.
		jsA, err := jetstream.NewWithDomain(nc, siteA)
		if err != nil {
			t.Fatal(err)
		}
		short, cancel := context.WithTimeout(ctx, 3*time.Second)
		_, err = jsA.CreateConsumer(short, "RELAIS_OUT_"+siteA, jetstream.ConsumerConfig{FilterSubject: "relais.share." + siteA + "." + siteB + ".>", InactiveThreshold: time.Minute})
		cancel()
		if err == nil {
			t.Fatal("C created a consumer on what A shares with B")
		}
		short, cancel = context.WithTimeout(ctx, 3*time.Second)
		_, err = jsA.Stream(short, "RELAIS_OUT_"+siteA)
		cancel()
		if err == nil {
			t.Error("C read the information of A's outbound stream")
		}
		short, cancel = context.WithTimeout(ctx, 5*time.Second)
		own, err := jsA.CreateConsumer(short, "RELAIS_OUT_"+siteA, jetstream.ConsumerConfig{FilterSubject: "relais.share." + siteA + "." + siteC + ".>", InactiveThreshold: time.Minute})
		cancel()
		if err != nil {
			t.Fatalf("C cannot create a consumer on what A addresses to C (the control): %v", err)
		}
		if info := own.CachedInfo(); info.NumPending != 0 {
			t.Errorf("A addressed %d messages to C, which it never shared with", info.NumPending)
		}

		// Mutual aid: C may send to B as itself, never as A.
		nb := r.connect(t, siteB)
		trB, err := aid.NewJetStream(nb)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := trB.Setup(ctx, siteB); err != nil {
			t.Fatal(err)
		}
		msgJS, _ := jetstream.New(nc)
		// B's stream was just made: its interest reaches the hub shortly.
		waitFor(t, "C sends a mutual-aid message to B as itself", 10*time.Second, func() (bool, string) {
			short, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			_, err := msgJS.Publish(short, aid.Subject(siteC, siteB, "request"), []byte(`{"probe":"from C"}`), jetstream.WithMsgID("probe-c"))
			return err == nil, fmt.Sprint(err)
		})
		short, cancel = context.WithTimeout(ctx, 3*time.Second)
		if _, err := msgJS.Publish(short, aid.Subject(siteA, siteB, "request"), []byte(`{"probe":"forged"}`)); err == nil {
			t.Error("C sent a mutual-aid message to B in A's name")
		}
		cancel()
		jsB, _ := jetstream.New(nb)
		st, err := jsB.Stream(ctx, aid.StreamName(siteB))
		if err != nil {
			t.Fatal(err)
		}
		if n := st.CachedInfo().State.Msgs; n != 1 {
			t.Errorf("B's mutual-aid stream holds %d messages, want only C's own", n)
		}

		// Nothing of A's patient ever reached C's side.
		time.Sleep(time.Second) // leave the sources a moment to pull
		for len(spy) > 0 {
			m := <-spy
			if involves(m.Subject, siteC) {
				continue // C's own traffic, or what is addressed to C
			}
			t.Errorf("C received a message on %s (%d bytes)", m.Subject, len(m.Data))
		}
		spyStream, err := jsC.Stream(ctx, "SPY")
		if err != nil {
			t.Fatal(err)
		}
		if n := spyStream.CachedInfo().State.Msgs; n != 0 {
			t.Errorf("C's stream sourcing A's outbound holds %d messages", n)
		}
		if rps, err := r.dbs[siteC].RemotePatients(ctx); err != nil || len(rps) != 0 {
			t.Errorf("C holds %d remote patients (err %v)", len(rps), err)
		}
	})
}

// The harmonisation buckets cross the accounts: B follows A's protocol
// bucket in A's domain (as harmonize.RunPerSite does on the node's
// connection), deliveries arriving on B's inbox prefix.
func TestSiteAccountsCarryProtocolBuckets(t *testing.T) {
	ctx := context.Background()
	var cfg network.Config
	seeds := map[string]string{}
	for _, id := range []string{siteA, siteB, siteC} {
		seed, pub, err := network.NewLeafKey()
		if err != nil {
			t.Fatal(err)
		}
		_, k, _ := ed25519.GenerateKey(rand.Reader)
		seeds[id] = seed
		cfg.Sites = append(cfg.Sites, network.SiteConfig{ID: id, Name: id, PublicKey: journal.EncodePublicKey(k.Public().(ed25519.PublicKey)), LeafNkey: pub})
	}
	opts, err := network.HubServerOptions(cfg, network.HubOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hub := natstest.StartHub(t, opts)
	conns := map[string]*nats.Conn{}
	for _, id := range []string{siteA, siteB, siteC} {
		leaf := natstest.StartLeafNkey(t, hub, "leaf-"+id, id, seeds[id])
		nc, err := nats.Connect(leaf.ClientURL(), nats.CustomInboxPrefix(network.InboxPrefix(id)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		conns[id] = nc
	}
	natstest.WaitLeafs(t, hub, 3)
	jsA, _ := jetstream.New(conns[siteA])
	kv, err := jsA.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "relais-protocols", Storage: jetstream.FileStorage})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, siteA+".ABVD.1", []byte(`{"code":"ABVD"}`)); err != nil {
		t.Fatal(err)
	}
	for _, reader := range []string{siteB, siteC} {
		js, _ := jetstream.NewWithDomain(conns[reader], siteA)
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		rkv, err := js.KeyValue(wctx, "relais-protocols")
		if err != nil {
			cancel()
			t.Fatalf("%s cannot open A's protocol bucket: %v", reader, err)
		}
		w, err := rkv.WatchAll(wctx)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		var keys []string
		for e := range w.Updates() {
			if e == nil {
				break
			}
			keys = append(keys, e.Key())
		}
		w.Stop()
		cancel()
		if strings.Join(keys, ",") != siteA+".ABVD.1" {
			t.Errorf("%s read %v from A's bucket, want A's one version", reader, keys)
		}
	}
}

func TestHubConfigNeedsEachSitesLeafKey(t *testing.T) {
	_, k, _ := ed25519.GenerateKey(rand.Reader)
	pub := journal.EncodePublicKey(k.Public().(ed25519.PublicKey))
	_, nk, _ := network.NewLeafKey()
	cfg := network.Config{Sites: []network.SiteConfig{{ID: "chu-a", Name: "CHU A", PublicKey: pub, LeafNkey: nk}, {ID: "chg-b", Name: "CH B", PublicKey: pub}}}
	_, err := network.HubConfig(cfg, network.HubOptions{})
	if !hasField(err, "sites[1].leaf_nkey") {
		t.Errorf("a site without leaf_nkey: %v", err)
	}
	cfg.Sites[1].LeafNkey = "SUAAAA"
	if _, err := network.HubConfig(cfg, network.HubOptions{}); !hasField(err, "sites[1].leaf_nkey") {
		t.Errorf("a seed given as leaf_nkey: %v", err)
	}
	_, nk2, _ := network.NewLeafKey()
	cfg.Sites[1].LeafNkey = nk2
	text, err := network.HubConfig(cfg, network.HubOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The seed never appears in the hub's configuration; the public keys do.
	for _, want := range []string{nk, nk2, `"$JS.chu-a.API.CONSUMER.CREATE.RELAIS_OUT_chu-a.*.relais.share.chu-a.chg-b.>"`} {
		if !strings.Contains(text, want) {
			t.Errorf("the hub configuration lacks %s", want)
		}
	}
	// A site's own config: a seed that is not the site's leaf_nkey is refused
	// before connecting.
	seed, _, _ := network.NewLeafKey()
	f := filepath.Join(t.TempDir(), "seed")
	os.WriteFile(f, []byte(seed), 0o600)
	c := cfg
	c.Site, c.Hub, c.LeafSeedFile = "chu-a", []string{"nats-leaf://127.0.0.1:1"}, f
	db := openQuick(t, "chu-a")
	_, err = network.Start(context.Background(), network.Options{Config: c, DB: db, Key: k, DataDir: t.TempDir(), Log: quiet})
	if !hasField(err, "leaf_seed_file") {
		t.Errorf("a seed of another key: %v", err)
	}
}

// involves says whether a relais.share/deliver/aid subject names site as
// sender or receiver (tokens 2 and 3), or is the forged aid message C sent
// itself (delivered to its own subscription on its own leaf node).
func involves(subject, site string) bool {
	p := strings.Split(subject, ".")
	if len(p) >= 4 && (p[2] == site || p[3] == site) {
		return true
	}
	return subject == aid.Subject(siteA, siteB, "request")
}

func hasField(err error, field string) bool {
	for _, fe := range relais.FieldErrors(err) {
		if fe.Field == field {
			return true
		}
	}
	return false
}

func openQuick(t *testing.T, site string) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), testdb.SQLite(t), sqlstore.Options{Site: site, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// A leaf node whose key is not a site's leaf_nkey does not get in.
func TestHubRefusesAnUnknownLeafKey(t *testing.T) {
	var cfg network.Config
	for _, id := range []string{siteA, siteB} {
		_, pub, _ := network.NewLeafKey()
		_, k, _ := ed25519.GenerateKey(rand.Reader)
		cfg.Sites = append(cfg.Sites, network.SiteConfig{ID: id, Name: id, PublicKey: journal.EncodePublicKey(k.Public().(ed25519.PublicKey)), LeafNkey: pub})
	}
	opts, err := network.HubServerOptions(cfg, network.HubOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hub := natstest.StartHub(t, opts)
	stranger, _, _ := network.NewLeafKey()
	natstest.StartLeafNkey(t, hub, "stranger", "x", stranger)
	time.Sleep(1500 * time.Millisecond)
	if n := hub.NumLeafNodes(); n != 0 {
		t.Errorf("the hub accepted %d leaf node(s) with an unknown key", n)
	}
}
