package harmonize

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/journal"
)

// Bucket is the JetStream key-value bucket holding every site's published
// library. One key per published version:
//
//	<site>.<code, base64url>.<number>    e.g. chu-aquitaine.VkEtUFJFT1A.1
//
// (protocol codes may hold spaces and "/", which keys may not). The value is
// a Version in JSON. A version leaving active/in-test is deleted from the
// bucket by its site.
const Bucket = "relais-protocols"

// BucketConfig is the bucket's configuration: file storage, the latest value
// of each key only. Replicas is 1 on a single hub, 3 on a 3-node hub cluster
// (docs/network-cluster.md).
func BucketConfig(replicas int) jetstream.KeyValueConfig {
	if replicas < 1 {
		replicas = 1
	}
	return jetstream.KeyValueConfig{Bucket: Bucket, Description: "Relais: each site's protocol library (active and in-test versions)",
		History: 1, Storage: jetstream.FileStorage, Replicas: replicas}
}

var siteToken = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Key is the bucket key of a site's version.
func Key(site, code string, number int) string {
	return site + "." + base64.RawURLEncoding.EncodeToString([]byte(code)) + "." + strconv.Itoa(number)
}

// ParseKey reads a bucket key back.
func ParseKey(key string) (site, code string, number int, err error) {
	parts := strings.Split(key, ".")
	if len(parts) != 3 {
		return "", "", 0, fmt.Errorf("harmonize: key %q: want site.code.number", key)
	}
	c, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", "", 0, fmt.Errorf("harmonize: key %q: code: %v", key, err)
	}
	n, err := strconv.Atoi(parts[2])
	if err != nil || n < 1 {
		return "", "", 0, fmt.Errorf("harmonize: key %q: bad version number", key)
	}
	return parts[0], string(c), n, nil
}

// OpenBucket returns the bucket, creating it with BucketConfig(replicas)
// when it does not exist yet (whichever site comes first).
func OpenBucket(ctx context.Context, js jetstream.JetStream, replicas int) (jetstream.KeyValue, error) {
	kv, err := js.KeyValue(ctx, Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, BucketConfig(replicas))
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = js.KeyValue(ctx, Bucket)
		}
	}
	return kv, err
}

// Library is what the publisher reads: the site's protocol service (the
// database), read as the system actor.
type Library interface {
	Protocols(ctx context.Context, f relais.ProtocolFilter) ([]relais.ProtocolSummary, error)
	ExportVersion(ctx context.Context, versionID relais.ID) (relais.ProtocolDocument, error)
}

// Publisher keeps this site's entries of the bucket equal to its library:
// every active and in-test version published, nothing else. It publishes at
// start, when told the library changed (Changed, from a commit hook), and
// every Interval; a failed round (hub down) is retried at the next one.
type Publisher struct {
	JS       jetstream.JetStream
	Site     string
	Library  Library
	Replicas int           // of the bucket, when this site creates it
	Interval time.Duration // full resynchronisation; 1 min when zero
	Log      *slog.Logger

	kick chan struct{}
	once sync.Once
}

// NewPublisher returns a publisher of site's library over js.
func NewPublisher(js jetstream.JetStream, site string, lib Library) *Publisher {
	return &Publisher{JS: js, Site: site, Library: lib}
}

func (p *Publisher) init() {
	p.once.Do(func() {
		p.kick = make(chan struct{}, 1)
		if p.Log == nil {
			p.Log = slog.Default()
		}
		if p.Interval <= 0 {
			p.Interval = time.Minute
		}
	})
}

// Changed asks for a publication soon; it never blocks.
func (p *Publisher) Changed() {
	p.init()
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// OnCommit is a hook for sqlstore.DB.OnCommit: a commit that touched a
// protocol or one of its versions triggers a publication.
func (p *Publisher) OnCommit(entries []journal.Entry) {
	for _, e := range entries {
		if e.Entity == "protocol_version" || e.Entity == "protocol" {
			p.Changed()
			return
		}
	}
}

// Run publishes until ctx ends.
func (p *Publisher) Run(ctx context.Context) error {
	p.init()
	t := time.NewTicker(p.Interval)
	defer t.Stop()
	for {
		if _, err := p.Sync(ctx); err != nil && ctx.Err() == nil {
			p.Log.Warn("harmonize: publishing the protocol library failed; retrying", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		case <-p.kick:
		}
	}
}

// SyncResult says what a publication round did.
type SyncResult struct {
	Published, Unchanged, Withdrawn, Skipped int
}

// Sync makes this site's entries of the bucket equal to its library, once.
func (p *Publisher) Sync(ctx context.Context) (SyncResult, error) {
	p.init()
	var res SyncResult
	if !siteToken.MatchString(p.Site) {
		return res, relais.Invalid("harmonize.publish", "site", "site id %q: letters, digits, - and _ only", p.Site)
	}
	ctx = relais.WithActor(ctx, relais.SystemActor(p.Site))
	sums, err := p.Library.Protocols(ctx, relais.ProtocolFilter{})
	if err != nil {
		return res, err
	}
	want := map[string]relais.VersionRef{}
	for _, s := range sums {
		for _, v := range s.Versions {
			if Published(v.Status) {
				want[Key(p.Site, s.Code, v.Number)] = v
			}
		}
	}
	kv, err := OpenBucket(ctx, p.JS, p.Replicas)
	if err != nil {
		return res, fmt.Errorf("harmonize: bucket %s: %w", Bucket, err)
	}
	// What the bucket holds for this site now.
	have := map[string]Version{}
	lister, err := kv.ListKeysFiltered(ctx, p.Site+".>")
	if err != nil {
		return res, err
	}
	for k := range lister.Keys() {
		e, err := kv.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return res, err
		}
		var v Version
		if json.Unmarshal(e.Value(), &v) == nil {
			have[k] = v
		}
	}
	for k, ref := range want {
		doc, err := p.Library.ExportVersion(ctx, ref.ID)
		if err != nil {
			// One version that cannot be exported (a drug missing from the
			// catalogue) must not keep the others from the network.
			p.Log.Warn("harmonize: a protocol version could not be exported; not published", "key", k, "err", err)
			res.Skipped++
			continue
		}
		v := Version{Site: p.Site, Code: doc.Code, Number: ref.Number, Status: ref.Status, PublishedAt: relais.Now(), Document: doc}
		if doc.Origin != nil {
			v.ContentHash = doc.Origin.ContentHash
		}
		if old, ok := have[k]; ok && sameVersion(old, v) {
			res.Unchanged++
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			return res, err
		}
		if _, err := kv.Put(ctx, k, b); err != nil {
			return res, fmt.Errorf("harmonize: publish %s v%d: %w", v.Code, v.Number, err)
		}
		res.Published++
	}
	for k := range have {
		if _, ok := want[k]; !ok {
			if err := kv.Delete(ctx, k); err != nil {
				return res, err
			}
			res.Withdrawn++
		}
	}
	return res, nil
}

// sameVersion: nothing a reader sees changed (the export time aside).
func sameVersion(a, b Version) bool {
	if a.Status != b.Status || a.ContentHash != b.ContentHash || a.Code != b.Code {
		return false
	}
	da, db := a.Document, b.Document
	if da.Name != db.Name || da.Indication != db.Indication || da.Population != db.Population {
		return false
	}
	oa, ob := da.Origin, db.Origin
	if oa == nil || ob == nil {
		return oa == ob
	}
	return oa.Approver == ob.Approver && oa.Author == ob.Author && oa.ApprovedAt.Equal(ob.ApprovedAt)
}

// Cache keeps this site's copy of the other sites' published versions
// (sqlstore.DB implements it): the harmonisation page reads it, so that it
// works while the hub is unreachable.
type Cache interface {
	SaveRemoteVersion(ctx context.Context, v Version) error
	RemoveRemoteVersion(ctx context.Context, site, code string, number int) error
	RemoteVersions(ctx context.Context) ([]Version, error)
}

// Follower copies the other sites' entries of the bucket into the cache:
// every current value at start, then each change as it comes. When the hub
// is unreachable it retries; the cache stays readable meanwhile.
type Follower struct {
	// JS addresses the shared bucket (one domain, e.g. the hub's).
	JS jetstream.JetStream
	// Sources, instead, addresses each other site's own bucket in its own
	// JetStream domain (NewSiteFollower): from a site's bucket only that
	// site's keys are taken.
	Sources map[string]jetstream.JetStream
	Site    string
	Cache   Cache
	// Replicas of the bucket, when this site creates it.
	Replicas int
	Log      *slog.Logger
	// Restart re-reads the whole bucket this often, whatever happens (10
	// min when zero).
	Restart time.Duration

	mu       sync.Mutex
	lastSync time.Time
	lastErr  error
}

// NewFollower returns a follower of the other sites' libraries over js.
func NewFollower(js jetstream.JetStream, site string, cache Cache) *Follower {
	return &Follower{JS: js, Site: site, Cache: cache}
}

// NewSiteFollower returns a follower of each other site's own bucket, in
// that site's JetStream domain (the layout where the hub runs no JetStream
// and each site publishes into its own domain): others maps each other
// site's id to a JetStream context for its domain.
func NewSiteFollower(site string, others map[string]jetstream.JetStream, cache Cache) *Follower {
	return &Follower{Sources: others, Site: site, Cache: cache}
}

// Status says when the cache last caught up with the bucket, and the last
// error since (nil when following).
func (f *Follower) Status() (lastSync time.Time, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastSync, f.lastErr
}

// Run follows until ctx ends.
func (f *Follower) Run(ctx context.Context) error {
	if f.Log == nil {
		f.Log = slog.Default()
	}
	if f.Restart <= 0 {
		f.Restart = 10 * time.Minute
	}
	if len(f.Sources) == 0 {
		return f.runOne(ctx, f.JS, "")
	}
	var wg sync.WaitGroup
	for site, js := range f.Sources {
		wg.Add(1)
		go func() { defer wg.Done(); f.runOne(ctx, js, site) }()
	}
	wg.Wait()
	return ctx.Err()
}

// runOne follows one bucket (only site's keys when site is not "").
func (f *Follower) runOne(ctx context.Context, js jetstream.JetStream, site string) error {
	backoff := time.Second
	for {
		err := f.follow(ctx, js, site, nil)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			f.setErr(err)
			f.Log.Warn("harmonize: following the network's protocol libraries failed; retrying", "err", err, "in", backoff)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 30*time.Second)
			continue
		}
		backoff = time.Second
	}
}

// SyncOnce copies every current value of the bucket into the cache and
// returns: the same as the first step of Run (for a command or a test).
func (f *Follower) SyncOnce(ctx context.Context) error {
	done := make(chan struct{})
	if len(f.Sources) == 0 {
		err := f.follow(ctx, f.JS, "", done)
		if err != nil {
			f.setErr(err)
		}
		return err
	}
	var errs []error
	for site, js := range f.Sources {
		if err := f.follow(ctx, js, site, done); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", site, err))
		}
	}
	err := errors.Join(errs...)
	if err != nil {
		f.setErr(err)
	}
	return err
}

func (f *Follower) setErr(err error) {
	f.mu.Lock()
	f.lastErr = err
	f.mu.Unlock()
}

// follow watches a bucket until the watch ends, Restart passes, or (when
// once is not nil) the initial values are in. A site's own bucket (only
// is that site) is looked up, never created from here.
func (f *Follower) follow(ctx context.Context, js jetstream.JetStream, only string, once chan struct{}) error {
	if f.Log == nil {
		f.Log = slog.Default()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var kv jetstream.KeyValue
	var err error
	if only == "" {
		kv, err = OpenBucket(ctx, js, f.Replicas)
	} else {
		kv, err = js.KeyValue(ctx, Bucket)
	}
	if err != nil {
		return fmt.Errorf("harmonize: bucket %s %s: %w", Bucket, only, err)
	}
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return err
	}
	defer w.Stop()
	restart := time.NewTimer(f.Restart)
	defer restart.Stop()
	if f.Restart <= 0 {
		restart.Stop()
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-restart.C:
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("harmonize: the bucket's watch ended")
			}
			if e == nil { // the initial values are in
				f.mu.Lock()
				f.lastSync, f.lastErr = relais.Now(), nil
				f.mu.Unlock()
				if once != nil {
					return nil
				}
				continue
			}
			if err := f.apply(ctx, e, only); err != nil {
				return err
			}
			if once == nil {
				f.mu.Lock()
				f.lastSync = relais.Now()
				f.mu.Unlock()
			}
		}
	}
}

// apply stores one entry of another site; a malformed one is logged and
// skipped (it must not stop the others), a failing cache stops the watch.
func (f *Follower) apply(ctx context.Context, e jetstream.KeyValueEntry, only string) error {
	site, code, number, err := ParseKey(e.Key())
	if err != nil {
		f.Log.Warn("harmonize: skipped a malformed key", "key", e.Key(), "err", err)
		return nil
	}
	if only != "" && site != only {
		f.Log.Warn("harmonize: skipped another site's key in a site's own bucket", "bucket_site", only, "key", e.Key())
		return nil
	}
	if site == f.Site {
		return nil // our own library: the database is its source
	}
	switch e.Operation() {
	case jetstream.KeyValueDelete, jetstream.KeyValuePurge:
		return f.Cache.RemoveRemoteVersion(ctx, site, code, number)
	}
	var v Version
	if err := json.Unmarshal(e.Value(), &v); err != nil {
		f.Log.Warn("harmonize: skipped an unreadable version", "key", e.Key(), "err", err)
		return nil
	}
	if v.Site != site || v.Code != code || v.Number != number {
		f.Log.Warn("harmonize: skipped a version filed under another key", "key", e.Key(), "site", v.Site, "code", v.Code, "number", v.Number)
		return nil
	}
	if err := v.Check("harmonize.receive"); err != nil {
		f.Log.Warn("harmonize: skipped an invalid version", "key", e.Key(), "err", err)
		return nil
	}
	v.ReceivedAt = relais.Now()
	return f.Cache.SaveRemoteVersion(ctx, v)
}

// Store is what Run needs of the site's database (sqlstore.DB): its
// library, its copy of the others', and its commit hooks.
type Store interface {
	Library
	Cache
	OnCommit(func(entries []journal.Entry))
}

// RunPerSite is Run for the layout where the hub runs no JetStream: the
// site publishes into a bucket of its own domain (its leaf node's, id =
// site) and follows each other site's bucket in that site's domain, over
// the leaf connection nc. A site that is down is simply not followed
// meanwhile; its last versions stay in the local copy.
func RunPerSite(ctx context.Context, nc *nats.Conn, site string, others []string, db Store, log *slog.Logger) error {
	if log == nil {
		log = slog.Default()
	}
	own, err := jetstream.NewWithDomain(nc, site)
	if err != nil {
		return err
	}
	sources := map[string]jetstream.JetStream{}
	for _, o := range others {
		if o == site {
			continue
		}
		if sources[o], err = jetstream.NewWithDomain(nc, o); err != nil {
			return err
		}
	}
	pub := NewPublisher(own, site, db)
	pub.Log = log
	db.OnCommit(pub.OnCommit)
	fol := NewSiteFollower(site, sources, db)
	fol.Log = log
	go pub.Run(ctx)
	return fol.Run(ctx)
}

// Run publishes the site's library and follows the other sites' until ctx
// ends: what `relais serve --network` starts. js addresses the JetStream
// domain that holds the bucket — the hub's, shared by every site
// (jetstream.NewWithDomain(nc, hubDomain) on the site's leaf connection).
// replicas is the bucket's, should this site create it (3 on a clustered
// hub, else 1).
func Run(ctx context.Context, js jetstream.JetStream, site string, db Store, replicas int, log *slog.Logger) {
	if log == nil {
		log = slog.Default()
	}
	pub := NewPublisher(js, site, db)
	pub.Replicas, pub.Log = replicas, log
	db.OnCommit(pub.OnCommit)
	fol := NewFollower(js, site, db)
	fol.Replicas, fol.Log = replicas, log
	go pub.Run(ctx)
	fol.Run(ctx)
}
