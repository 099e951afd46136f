package network

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/journal"
	"github.com/relais-onco/relais/sqlstore"
)

// Headers of a published message.
const (
	HeaderFrom = "Relais-From"
	HeaderTo   = "Relais-To"
	HeaderKind = "Relais-Kind" // "entry" or "read"
	HeaderSig  = "Relais-Sig"  // the sender's ed25519 signature (base64) of signed(…)
)

// cursorName is the publisher's cursor in network_cursor.
const cursorName = "publish"

// outStream and inStream name a site's streams.
func outStream(site string) string { return "RELAIS_OUT_" + site }
func inStream(site string) string  { return "RELAIS_IN_" + site }

// Subject is where an entry of site from for site to is published.
func Subject(from, to, entity string) string { return "relais.share." + from + "." + to + "." + entity }

// Options start a node.
type Options struct {
	Config Config
	DB     *sqlstore.DB
	// Key is this site's ed25519 key (the journal checkpoint key): it signs
	// what the site sends. Its public half must be the site's in Config.
	Key ed25519.PrivateKey
	Log *slog.Logger
	// DataDir is where the embedded node keeps its files when
	// Config.StoreDir is empty.
	DataDir string
	// Poll is how often the publisher looks at the journal without being
	// woken (default 2 s), and MatchEvery how often unlinked remote
	// patients are matched again (default 30 s).
	Poll, MatchEvery time.Duration
}

// Node is a site's Relais on the network.
type Node struct {
	cfg  Config
	db   *sqlstore.DB
	key  ed25519.PrivateKey
	log  *slog.Logger
	srv  *server.Server // the embedded leaf node, if any
	nc   *nats.Conn
	js   jetstream.JetStream
	wake chan struct{}

	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	published int64
	lastErr   string
}

// Start connects the site to the network: it starts (or connects to) its
// leaf node, makes its streams, records the network's sites in the database,
// and runs the publisher and the receiver until Close.
func Start(ctx context.Context, o Options) (*Node, error) {
	const op = "network.start"
	if err := o.Config.Check(); err != nil {
		return nil, err
	}
	if o.DB == nil {
		return nil, relais.E(op, "no database")
	}
	if o.DB.Site != o.Config.Site {
		return nil, relais.E(op, relais.KindInvalid, relais.Field("site"),
			fmt.Sprintf("the network configuration is for site %q but the database belongs to %q", o.Config.Site, o.DB.Site))
	}
	if len(o.Key) != ed25519.PrivateKeySize {
		return nil, relais.E(op, relais.KindInvalid, "the site's signing key is missing: make it with `relais keys init`")
	}
	pub, _ := o.Config.key(o.Config.Site)
	if !pub.Equal(o.Key.Public()) {
		return nil, relais.E(op, relais.KindInvalid, relais.Field("sites"),
			fmt.Sprintf("the public key given for %s in the network configuration is not this site's key (%s): the other sites could not verify what it sends",
				o.Config.Site, journal.EncodePublicKey(o.Key.Public().(ed25519.PublicKey))))
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Poll <= 0 {
		o.Poll = 2 * time.Second
	}
	if o.MatchEvery <= 0 {
		o.MatchEvery = 30 * time.Second
	}
	n := &Node{cfg: o.Config, db: o.DB, key: o.Key, log: o.Log.With("part", "network"), wake: make(chan struct{}, 1)}
	if err := n.saveSites(ctx); err != nil {
		return nil, err
	}
	connOpts := []nats.Option{nats.Name("relais-" + o.Config.Site), nats.MaxReconnects(-1), nats.ReconnectWait(250 * time.Millisecond),
		nats.RetryOnFailedConnect(true), nats.CustomInboxPrefix(InboxPrefix(o.Config.Site))}
	url := o.Config.NATSURL
	if url == "" {
		srv, err := n.embed(o)
		if err != nil {
			return nil, err
		}
		n.srv = srv
		connOpts = append(connOpts, nats.InProcessServer(srv))
	}
	nc, err := nats.Connect(url, connOpts...)
	if err != nil {
		n.shutdownServer()
		return nil, relais.E(op, relais.KindUnavailable, "cannot connect to the site's NATS leaf node", err)
	}
	n.nc = nc
	if n.js, err = jetstream.New(nc); err != nil {
		n.Close()
		return nil, relais.E(op, err)
	}
	if err := n.ensureStreams(ctx); err != nil {
		n.Close()
		return nil, err
	}
	o.DB.OnCommit(func([]journal.Entry) { n.Wake() })
	run, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	n.wg.Add(3)
	go func() { defer n.wg.Done(); n.publishLoop(run, o.Poll) }()
	go func() { defer n.wg.Done(); n.receiveLoop(run) }()
	go func() { defer n.wg.Done(); n.matchLoop(run, o.MatchEvery) }()
	return n, nil
}

// embed starts the site's leaf node in-process: JetStream domain = site id,
// file storage written synchronously, connecting out to the hub.
func (n *Node) embed(o Options) (*server.Server, error) {
	const op = "network.embed"
	dir := o.Config.StoreDir
	if dir == "" {
		if o.DataDir == "" {
			return nil, relais.Invalid(op, "store_dir", "say where the embedded NATS node keeps its files (store_dir, or the data directory)")
		}
		dir = filepath.Join(o.DataDir, "nats")
	}
	opts := &server.Options{
		ServerName:      "relais-" + o.Config.Site,
		JetStream:       true,
		JetStreamDomain: o.Config.Site,
		StoreDir:        dir,
		SyncAlways:      true,
		DontListen:      true,
		NoSigs:          true,
		NoLog:           true,
	}
	var tlsConf *tls.Config
	if t := o.Config.TLS; t != nil {
		var err error
		tlsConf, err = server.GenTLSConfig(&server.TLSConfigOpts{CaFile: t.CA, CertFile: t.Cert, KeyFile: t.Key})
		if err != nil {
			return nil, relais.E(op, relais.KindInvalid, relais.Field("tls"), "the hub's TLS files cannot be read", err)
		}
	}
	var seed string
	if f := o.Config.LeafSeedFile; f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, relais.E(op, relais.KindInvalid, relais.Field("leaf_seed_file"), "cannot read the site's leaf nkey seed", err)
		}
		seed = strings.TrimSpace(string(b))
		if kp, err := nkeys.FromSeed([]byte(seed)); err != nil {
			return nil, relais.Invalid(op, "leaf_seed_file", "%s does not hold a NATS user nkey seed (\"SU…\", made by `relais hub --new-leaf-key`)", f)
		} else if pub, _ := kp.PublicKey(); !strings.HasPrefix(pub, "U") {
			return nil, relais.Invalid(op, "leaf_seed_file", "%s holds a %c… key, not a user key (\"SU…\")", f, pub[0])
		} else if want := n.siteLeafNkey(); want != "" && want != pub {
			return nil, relais.Invalid(op, "leaf_seed_file", "the seed in %s is the key %s, but the network configuration gives %s as this site's leaf_nkey: the hub would refuse it", f, pub, want)
		}
	}
	for _, h := range o.Config.Hub {
		u, err := url.Parse(h)
		if err != nil {
			return nil, relais.Invalid(op, "hub", "%q is not a URL: %v", h, err)
		}
		r := &server.RemoteLeafOpts{URLs: []*url.URL{u}, Credentials: o.Config.Credentials, Nkey: seed}
		if tlsConf != nil {
			r.TLS, r.TLSConfig = true, tlsConf.Clone()
			r.TLSConfig.ServerName = u.Hostname()
		}
		opts.LeafNode.Remotes = append(opts.LeafNode.Remotes, r)
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, relais.E(op, relais.KindInvalid, "the embedded NATS node cannot start", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(15 * time.Second) {
		srv.Shutdown()
		return nil, relais.E(op, relais.KindUnavailable, "the embedded NATS node did not start in 15 s")
	}
	return srv, nil
}

// siteLeafNkey is this site's leaf_nkey in the configuration.
func (n *Node) siteLeafNkey() string {
	for _, s := range n.cfg.Sites {
		if s.ID == n.cfg.Site {
			return s.LeafNkey
		}
	}
	return ""
}

// saveSites records the network's sites in the database (journaled), so a
// share can name them and the patient page their names.
func (n *Node) saveSites(ctx context.Context) error {
	known, err := n.db.Sites(ctx)
	if err != nil {
		return err
	}
	have := map[string]relais.Site{}
	for _, s := range known {
		have[s.ID] = s
	}
	sys := relais.WithActor(ctx, relais.SystemActor(n.db.Site))
	for _, s := range n.cfg.Sites {
		kind := s.Kind
		if kind == "" {
			kind = "other"
		}
		want := relais.Site{ID: s.ID, Name: s.Name, Kind: kind, PublicKey: s.PublicKey}
		if h, ok := have[s.ID]; ok && h == want {
			continue
		}
		if err := n.db.SaveSite(sys, want); err != nil {
			return err
		}
	}
	return nil
}

// ensureStreams makes the site's outbound stream and its inbound stream
// sourcing, from every other site, only what is addressed to this one.
func (n *Node) ensureStreams(ctx context.Context) error {
	const op = "network.streams"
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	site := n.cfg.Site
	if _, err := n.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        outStream(site),
		Description: "journal entries of patients shared by " + site + ", per destination site",
		Subjects:    []string{"relais.share." + site + ".>"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      90 * 24 * time.Hour,
		Duplicates:  10 * time.Minute,
	}); err != nil {
		return relais.E(op, relais.KindUnavailable, "cannot make the outbound stream "+outStream(site), err)
	}
	var sources []*jetstream.StreamSource
	for _, o := range n.cfg.others() {
		// Through o's JetStream domain, delivered on relais.deliver.<o>.<site>:
		// on a hub with one account per site (HubConfig) that is all this
		// site's account may create and receive of o's stream.
		sources = append(sources, &jetstream.StreamSource{Name: outStream(o), FilterSubject: shareFilter(o, site),
			External: &jetstream.ExternalStream{APIPrefix: "$JS." + o + ".API", DeliverPrefix: DeliverPrefix(o, site)}})
	}
	if _, err := n.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        inStream(site),
		Description: "what the other sites share with " + site,
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      90 * 24 * time.Hour,
		Sources:     sources,
	}); err != nil {
		return relais.E(op, relais.KindUnavailable, "cannot make the inbound stream "+inStream(site), err)
	}
	return nil
}

// Wake makes the publisher look at the journal now.
func (n *Node) Wake() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// Status is what the node reports of itself.
type Status struct {
	Site      string `json:"site"`
	Connected bool   `json:"connected"`
	Cursor    int64  `json:"cursor" doc:"the last journal entry published"`
	Published int64  `json:"published" doc:"messages published since start"`
	LastError string `json:"last_error,omitempty"`
}

// Status reports the node's state.
func (n *Node) Status(ctx context.Context) Status {
	cur, _ := n.db.NetworkCursor(ctx, cursorName)
	n.mu.Lock()
	defer n.mu.Unlock()
	return Status{Site: n.cfg.Site, Connected: n.nc != nil && n.nc.IsConnected(), Cursor: cur, Published: n.published, LastError: n.lastErr}
}

// Server returns the embedded leaf node (nil when connecting to one).
func (n *Node) Server() *server.Server { return n.srv }

// Conn is the node's connection to its leaf server, for the other parts
// of Relais that speak over the network (protocol harmonisation).
func (n *Node) Conn() *nats.Conn { return n.nc }

// Close stops the loops, the connection and the embedded node.
func (n *Node) Close() {
	if n.cancel != nil {
		n.cancel()
	}
	n.wg.Wait()
	if n.nc != nil {
		n.nc.Close()
	}
	n.shutdownServer()
}

func (n *Node) shutdownServer() {
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
	}
}

func (n *Node) setErr(err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err == nil {
		n.lastErr = ""
		return
	}
	n.lastErr = err.Error()
}

// signed is what a site signs for one message.
func signed(kind, from, to string, digest string) []byte {
	return []byte("relais-network-v1\n" + kind + "\n" + from + "\n" + to + "\n" + digest)
}

// publishLoop publishes what the journal holds past the cursor, when woken
// or every poll, until ctx ends. A failure (the leaf node down) is retried
// with a growing pause; nothing moves the cursor but an acknowledgement.
func (n *Node) publishLoop(ctx context.Context, poll time.Duration) {
	pause := poll
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.wake:
		case <-t.C:
		}
		err := n.PublishPending(ctx)
		n.setErr(err)
		if err != nil && ctx.Err() == nil {
			n.log.Warn("network: publishing paused", "err", err)
			pause = min(pause*2, 30*time.Second)
		} else {
			pause = poll
		}
		t.Reset(pause)
	}
}

// PublishPending publishes every journal entry past the cursor to the sites
// it concerns, then the pending read notices.
func (n *Node) PublishPending(ctx context.Context) error {
	cur, err := n.db.NetworkCursor(ctx, cursorName)
	if err != nil {
		return err
	}
	for {
		entries, err := n.db.JournalEntries(ctx, n.db.Site, cur, 200)
		if err != nil {
			return err
		}
		if len(entries) == 0 {
			break
		}
		done := cur
		for _, e := range entries {
			if err := n.publishEntry(ctx, e); err != nil {
				if done > cur {
					n.db.SetNetworkCursor(ctx, cursorName, done)
				}
				return err
			}
			done = e.Seq
		}
		if err := n.db.SetNetworkCursor(ctx, cursorName, done); err != nil {
			return err
		}
		cur = done
	}
	return n.publishReads(ctx)
}

func (n *Node) publishEntry(ctx context.Context, e journal.Entry) error {
	pid, to, ok := relais.SharedPatientOf(e.Entity, relais.ID(e.EntityID), e.After)
	if !ok {
		return nil
	}
	if e.Entity == "network_share" {
		// A share goes to its site only. Its creation sends the patient's
		// history so far, unless it was revoked meanwhile.
		if !n.known(to) {
			return nil
		}
		if err := n.send(ctx, e, to); err != nil {
			return err
		}
		if e.Action != "network_share.create" {
			return nil
		}
		active, err := n.db.ActiveShareSites(ctx, pid)
		if err != nil {
			return err
		}
		if !contains(active, to) {
			return nil
		}
		past, err := n.db.PatientEntries(ctx, pid, 0, e.Seq-1)
		if err != nil {
			return err
		}
		for _, p := range past {
			if p.Entity == "network_share" {
				continue // other shares are other sites' business
			}
			if err := n.send(ctx, p, to); err != nil {
				return err
			}
		}
		return nil
	}
	sites, err := n.db.ActiveShareSites(ctx, pid)
	if err != nil {
		return err
	}
	for _, to := range sites {
		if !n.known(to) {
			continue
		}
		if err := n.send(ctx, e, to); err != nil {
			return err
		}
	}
	return nil
}

func (n *Node) known(site string) bool {
	_, ok := n.cfg.key(site)
	return ok && site != n.cfg.Site
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// send publishes one entry for site to and waits for JetStream's ack.
func (n *Node) send(ctx context.Context, e journal.Entry, to string) error {
	body, err := json.Marshal(e)
	if err != nil {
		return err
	}
	m := nats.NewMsg(Subject(n.cfg.Site, to, e.Entity))
	m.Data = body
	m.Header.Set(HeaderFrom, n.cfg.Site)
	m.Header.Set(HeaderTo, to)
	m.Header.Set(HeaderKind, "entry")
	m.Header.Set(HeaderSig, sign(n.key, signed("entry", n.cfg.Site, to, e.Hash)))
	return n.publish(ctx, m, e.ID+"@"+to)
}

func (n *Node) publish(ctx context.Context, m *nats.Msg, id string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := n.js.PublishMsg(ctx, m, jetstream.WithMsgID(id), jetstream.WithExpectStream(outStream(n.cfg.Site))); err != nil {
		return relais.E("network.publish", relais.KindUnavailable, "the site's NATS node did not acknowledge", err)
	}
	n.mu.Lock()
	n.published++
	n.mu.Unlock()
	return nil
}

// publishReads sends the reads of other sites' data to their owners.
func (n *Node) publishReads(ctx context.Context) error {
	reads, err := n.db.PendingReadNotices(ctx, 200)
	if err != nil {
		return err
	}
	for _, r := range reads {
		if !n.known(r.OwnerSite) {
			continue
		}
		body, err := json.Marshal(r)
		if err != nil {
			return err
		}
		m := nats.NewMsg(Subject(n.cfg.Site, r.OwnerSite, "access"))
		m.Data = body
		m.Header.Set(HeaderFrom, n.cfg.Site)
		m.Header.Set(HeaderTo, r.OwnerSite)
		m.Header.Set(HeaderKind, "read")
		m.Header.Set(HeaderSig, sign(n.key, signed("read", n.cfg.Site, r.OwnerSite, digest(body))))
		if err := n.publish(ctx, m, "read-"+string(r.ID)); err != nil {
			return err
		}
		if err := n.db.MarkReadNoticeSent(ctx, r.ID); err != nil {
			return err
		}
	}
	return nil
}

// receiveLoop applies what the inbound stream holds, acknowledging each
// message once applied (or refused for good).
func (n *Node) receiveLoop(ctx context.Context) {
	var cons jetstream.Consumer
	for ctx.Err() == nil {
		if cons == nil {
			c, err := n.js.CreateOrUpdateConsumer(ctx, inStream(n.cfg.Site), jetstream.ConsumerConfig{
				Durable:       "relais-apply",
				Description:   "applies what other sites share into the database's read-only copy",
				AckPolicy:     jetstream.AckExplicitPolicy,
				AckWait:       30 * time.Second,
				MaxAckPending: 1000,
			})
			if err != nil {
				if ctx.Err() == nil {
					n.log.Warn("network: receiver waiting for the inbound stream", "err", err)
					sleep(ctx, 2*time.Second)
				}
				continue
			}
			cons = c
		}
		batch, err := cons.Fetch(100, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			if errors.Is(err, jetstream.ErrConsumerNotFound) {
				cons = nil
			}
			sleep(ctx, 500*time.Millisecond)
			continue
		}
		for m := range batch.Messages() {
			n.handle(ctx, m)
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && ctx.Err() == nil {
			if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrConsumerDeleted) {
				cons = nil
			}
			sleep(ctx, 500*time.Millisecond)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// handle applies one received message.
func (n *Node) handle(ctx context.Context, m jetstream.Msg) {
	from, kind, err := n.check(m)
	if err != nil {
		n.log.Warn("network: message refused", "subject", m.Subject(), "err", err)
		if from != "" {
			n.db.RejectRemote(ctx, from, err.Error())
		}
		m.Term()
		return
	}
	switch kind {
	case "entry":
		var e journal.Entry
		if err := json.Unmarshal(m.Data(), &e); err != nil {
			n.db.RejectRemote(ctx, from, "an entry cannot be read: "+err.Error())
			m.Term()
			return
		}
		if m.Headers().Get(HeaderSig) == "" || !verify(n.pub(from), signed("entry", from, n.cfg.Site, e.Hash), m.Headers().Get(HeaderSig)) {
			n.db.RejectRemote(ctx, from, fmt.Sprintf("entry %d: the signature is not %s's", e.Seq, from))
			m.Term()
			return
		}
		res, err := n.db.ApplyRemote(ctx, from, e)
		if err != nil {
			if k := relais.ErrorKind(err); k == relais.KindIntegrity || k == relais.KindInvalid {
				n.log.Warn("network: entry refused", "from", from, "seq", e.Seq, "err", err)
				n.db.RejectRemote(ctx, from, err.Error())
				m.Term()
				return
			}
			n.log.Warn("network: entry not applied yet", "from", from, "seq", e.Seq, "err", err)
			m.NakWithDelay(time.Second)
			return
		}
		m.Ack()
		if res.Stored && e.Entity == "patient" {
			if _, err := n.db.MatchRemotePatients(ctx); err != nil {
				n.log.Warn("network: matching patients", "err", err)
			}
		}
	case "read":
		if !verify(n.pub(from), signed("read", from, n.cfg.Site, digest(m.Data())), m.Headers().Get(HeaderSig)) {
			n.db.RejectRemote(ctx, from, "a read notice: the signature is not "+from+"'s")
			m.Term()
			return
		}
		var r relais.RemoteRead
		if err := json.Unmarshal(m.Data(), &r); err != nil {
			m.Term()
			return
		}
		if err := n.db.RecordReadFromRemote(ctx, from, r); err != nil {
			if relais.ErrorKind(err) == relais.KindIntegrity {
				n.db.RejectRemote(ctx, from, err.Error())
				m.Term()
				return
			}
			m.NakWithDelay(time.Second)
			return
		}
		m.Ack()
	default:
		n.db.RejectRemote(ctx, from, "unknown message kind "+kind)
		m.Term()
	}
}

// check reads the sender and kind of a message from its subject and
// headers, which must agree, and refuses what is not addressed here.
func (n *Node) check(m jetstream.Msg) (from, kind string, err error) {
	var to, entity string
	parts := strings.Split(m.Subject(), ".")
	if len(parts) != 5 || parts[0] != "relais" || parts[1] != "share" {
		return "", "", fmt.Errorf("unexpected subject %q", m.Subject())
	}
	from, to, entity = parts[2], parts[3], parts[4]
	if _, ok := n.cfg.key(from); !ok {
		return "", "", fmt.Errorf("site %q is not in the network configuration", from)
	}
	h := m.Headers()
	if to != n.cfg.Site || h.Get(HeaderTo) != to || h.Get(HeaderFrom) != from {
		return from, "", fmt.Errorf("a message for %q (headers %q → %q) reached %s", to, h.Get(HeaderFrom), h.Get(HeaderTo), n.cfg.Site)
	}
	kind = h.Get(HeaderKind)
	if (kind == "read") != (entity == "access") {
		return from, "", fmt.Errorf("the subject (%s) and the kind (%s) disagree", entity, kind)
	}
	return from, kind, nil
}

func sign(key ed25519.PrivateKey, msg []byte) string {
	return base64.StdEncoding.EncodeToString(ed25519.Sign(key, msg))
}

func verify(pub ed25519.PublicKey, msg []byte, sig string) bool {
	b, err := base64.StdEncoding.DecodeString(sig)
	return err == nil && len(pub) == ed25519.PublicKeySize && ed25519.Verify(pub, msg, b)
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func (n *Node) pub(site string) ed25519.PublicKey {
	k, _ := n.cfg.key(site)
	return k
}

// matchLoop matches unlinked remote patients again now and then: a local
// patient created (or qualified) after the remote one arrived is found.
func (n *Node) matchLoop(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := n.db.MatchRemotePatients(ctx); err != nil && ctx.Err() == nil {
				n.log.Warn("network: matching patients", "err", err)
			}
		}
	}
}
