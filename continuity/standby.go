package continuity

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/relais-onco/relais"

	"github.com/relais-onco/relais/sqlstore"
	"github.com/relais-onco/relais/web"
)

// A standby node (seed 001: "a laptop in the pharmacy") follows its site
// over HTTP: it starts from a snapshot (GET /api/v1/snapshot), then pulls
// the site's journal by long-poll (GET /api/v1/journal?wait=…) and applies
// each page (sqlstore.ApplyChain: every entry's chain link and hash are
// checked, its after-image applied, the entry kept). Its data are never
// more than one poll behind: the lag it shows is the time since it last
// knew it held everything the site had.
//
// It also keeps the last 7 daily snapshots of its copy (encrypted and
// signed, like `relais snapshot create`), so that a crisis can start from a
// point before a compromise, and it rewrites the downtime pack every 4
// hours and shortly after each change.

// StandbyConfig configures a standby node.
type StandbyConfig struct {
	Source string // the site's base URL, e.g. https://relais.chu.example
	Token  string // an API token with journal.read (Bearer)
	User   string // or an account and password (HTTP Basic), for sites without tokens
	Pass   string
	Dir    string // data directory: relais.db, snapshots/, packs/

	Wait          time.Duration // long-poll wait (default 10 s)
	PackEvery     time.Duration // pack at least this often (default 4 h)
	PackDebounce  time.Duration // and this long after a change (default 1 min)
	SnapshotEvery time.Duration // a snapshot this often (default 24 h)
	KeepSnapshots int           // how many to keep (default 7)
	Recipients    []age.Recipient
	RecipientIDs  []string
	Key           ed25519.PrivateKey // signs the daily snapshots
	Client        *http.Client
	Log           *slog.Logger
}

func (c *StandbyConfig) defaults() {
	if c.Wait == 0 {
		c.Wait = 10 * time.Second
	}
	if c.PackEvery == 0 {
		c.PackEvery = 4 * time.Hour
	}
	if c.PackDebounce == 0 {
		c.PackDebounce = time.Minute
	}
	if c.SnapshotEvery == 0 {
		c.SnapshotEvery = 24 * time.Hour
	}
	if c.KeepSnapshots == 0 {
		c.KeepSnapshots = 7
	}
	if c.Client == nil {
		c.Client = &http.Client{Timeout: c.Wait + 60*time.Second}
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	c.Source = strings.TrimRight(c.Source, "/")
}

// DBPath is the standby's database in dir.
func DBPath(dir string) string { return filepath.Join(dir, "relais.db") }

// Standby is a running standby node.
type Standby struct {
	cfg StandbyConfig
	DB  *sqlstore.DB
}

func (c StandbyConfig) request(ctx context.Context, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", c.Source+"/api/v1"+path, nil)
	if err != nil {
		return nil, err
	}
	switch {
	case c.Token != "":
		req.Header.Set("Authorization", "Bearer "+c.Token)
	case c.User != "":
		req.SetBasicAuth(c.User, c.Pass)
	}
	req.Header.Set(web.ClientVersionHeader, relais.APIVersion)
	resp, err := c.Client.Do(req)
	if err != nil {
		return nil, relais.E("standby.pull", relais.KindUnavailable, fmt.Sprintf("the site %s cannot be reached", c.Source), err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		var p web.Problem
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		if json.Unmarshal(body, &p) == nil && p.Detail != "" {
			return nil, relais.E("standby.pull", relais.KindUnavailable, fmt.Sprintf("the site answered %d: %s", resp.StatusCode, p.Detail))
		}
		return nil, relais.E("standby.pull", relais.KindUnavailable, fmt.Sprintf("the site answered %d %s", resp.StatusCode, http.StatusText(resp.StatusCode)))
	}
	return resp, nil
}

// OpenStandby opens the standby's copy in cfg.Dir, taking the first copy
// from the site's snapshot when there is none yet.
func OpenStandby(ctx context.Context, cfg StandbyConfig) (*Standby, error) {
	cfg.defaults()
	if cfg.Source == "" {
		return nil, relais.Invalid("standby", "follow", "give the site's address to follow, e.g. --follow https://relais.chu.example")
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, err
	}
	dsn := "sqlite:" + DBPath(cfg.Dir)
	if _, err := os.Stat(DBPath(cfg.Dir)); err == nil {
		db, err := sqlstore.Open(ctx, dsn, sqlstore.Options{Log: cfg.Log})
		if err != nil {
			return nil, err
		}
		if db.InCrisis() {
			db.Close()
			return nil, relais.E("standby", relais.KindConflict, "this copy is in crisis mode: it no longer follows its site (reintegrate it, then start a new standby)")
		}
		return &Standby{cfg, db}, nil
	}
	resp, err := cfg.request(ctx, "/snapshot")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	db, info, err := sqlstore.RestoreSnapshot(ctx, resp.Body, resp.Header.Get("Relais-Snapshot-Payload"), dsn, sqlstore.Options{Log: cfg.Log})
	if err != nil {
		return nil, err
	}
	want := resp.Header.Get("Relais-Snapshot-Head-Hash")
	if info.Head.Hash != want && want != "" {
		db.Close()
		os.Remove(DBPath(cfg.Dir))
		return nil, relais.E("standby", relais.KindIntegrity, "the first copy's journal head does not match what the site announced: not kept")
	}
	cfg.Log.Info("standby: first copy taken", "site", db.Site, "seq", info.Head.Seq)
	return &Standby{cfg, db}, nil
}

// PullOnce asks the site for what follows the copy's head (waiting up to
// wait for something new), applies it, and records the poll. It returns
// how many entries were applied.
func (s *Standby) PullOnce(ctx context.Context, wait time.Duration) (int, error) {
	site := s.DB.Site
	head, err := s.DB.Head(ctx, site)
	if err != nil {
		return 0, err
	}
	total := 0
	for {
		q := url.Values{"site": {site}, "after": {fmt.Sprint(head.Seq)}, "limit": {"2000"}, "wait": {fmt.Sprint(int(wait / time.Second))}}
		resp, err := s.cfg.request(ctx, "/journal?"+q.Encode())
		// The site's answer says what it held when it answered: a copy that
		// holds the page's head is complete as of now (a long-poll that
		// waited for news and found none included).
		polled := relais.Now()
		if err != nil {
			s.record(ctx, head.Seq, -1, polled, err)
			return total, err
		}
		var page web.JournalPage
		err = json.NewDecoder(io.LimitReader(resp.Body, 512<<20)).Decode(&page)
		resp.Body.Close()
		if err != nil {
			s.record(ctx, head.Seq, -1, polled, err)
			return total, relais.E("standby.pull", relais.KindUnavailable, "the journal page cannot be read", err)
		}
		if len(page.Entries) > 0 {
			res, err := s.DB.ApplyChain(ctx, site, page.Entries)
			if err != nil {
				s.record(ctx, head.Seq, page.Head.Seq, polled, err)
				return total, err
			}
			total += res.Applied
			head = res.Head
		}
		s.record(ctx, head.Seq, page.Head.Seq, polled, nil)
		if head.Seq >= page.Head.Seq || len(page.Entries) == 0 {
			return total, nil
		}
		wait = 0 // more pages are waiting: no long-poll for them
	}
}

// record saves the poll; the copy is in sync when it holds the site's head
// as of the poll's start.
func (s *Standby) record(ctx context.Context, applied, source int64, polled time.Time, perr error) {
	st, err := s.DB.FollowStateOf(ctx, s.DB.Site)
	if err != nil {
		st = sqlstore.FollowState{Site: s.DB.Site}
	}
	st.SourceURL, st.AppliedSeq, st.PolledAt = s.cfg.Source, applied, polled
	if source >= 0 {
		st.SourceSeq = source
	}
	if perr == nil && applied >= source && source >= 0 {
		st.SyncedAt = polled
	}
	st.LastError = ""
	if perr != nil {
		st.LastError = perr.Error()
	}
	if err := s.DB.SaveFollowState(context.WithoutCancel(ctx), st); err != nil {
		s.cfg.Log.Warn("standby: state not saved", "err", err)
	}
}

// Run follows the site until ctx ends: pulls, packs, daily snapshots.
func (s *Standby) Run(ctx context.Context) error {
	cfg := s.cfg
	lastPack := time.Time{}
	dirty := true
	var changedAt time.Time
	backoff := time.Second
	for ctx.Err() == nil {
		n, err := s.PullOnce(ctx, cfg.Wait)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			cfg.Log.Warn("standby: pull failed; retrying", "err", err, "in", backoff)
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 30*time.Second)
			continue
		}
		backoff = time.Second
		if n > 0 {
			dirty, changedAt = true, time.Now()
		}
		now := time.Now()
		if (dirty && now.Sub(changedAt) >= cfg.PackDebounce) || now.Sub(lastPack) >= cfg.PackEvery {
			if sum, err := DowntimePack(ctx, s.DB, filepath.Join(cfg.Dir, "packs"), relais.Now()); err != nil {
				if relais.ErrorKind(err) != relais.KindNotFound {
					cfg.Log.Warn("standby: downtime pack not written", "err", err)
				}
			} else {
				cfg.Log.Info("standby: downtime pack written", "path", sum.Path, "pages", sum.Pages, "data_time", sum.DataTime)
			}
			lastPack, dirty = now, false
		}
		if err := s.DailySnapshot(ctx, now); err != nil {
			cfg.Log.Warn("standby: daily snapshot not written", "err", err)
		}
	}
	return nil
}

// DailySnapshot writes a snapshot of the copy when the newest one is older
// than SnapshotEvery, and keeps only the newest KeepSnapshots.
func (s *Standby) DailySnapshot(ctx context.Context, now time.Time) error {
	cfg := s.cfg
	if len(cfg.Recipients) == 0 || cfg.Key == nil {
		return nil // not configured: said once at start by the command
	}
	dir := filepath.Join(cfg.Dir, "snapshots")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	names, err := filepath.Glob(filepath.Join(dir, "*.snapshot"))
	if err != nil {
		return err
	}
	sort.Strings(names) // names carry the time: oldest first
	if len(names) > 0 {
		if st, err := os.Stat(names[len(names)-1]); err == nil && now.Sub(st.ModTime()) < cfg.SnapshotEvery {
			return nil
		}
	}
	path := filepath.Join(dir, s.DB.Site+"-"+now.UTC().Format("20060102T150405Z")+".snapshot")
	if _, err := Create(ctx, s.DB, path, CreateOptions{Recipients: cfg.Recipients, RecipientNames: cfg.RecipientIDs, Key: cfg.Key}); err != nil {
		return err
	}
	names = append(names, path)
	for len(names) > cfg.KeepSnapshots {
		os.Remove(names[0])
		names = names[1:]
	}
	return nil
}

// Status is a standby's state, for its CLI and status endpoint.
type Status struct {
	Site       string    `json:"site"`
	Source     string    `json:"source"`
	AppliedSeq int64     `json:"applied_seq"`
	SourceSeq  int64     `json:"source_seq"`
	LagSeconds float64   `json:"lag_seconds"` // -1: never in sync
	SyncedAt   time.Time `json:"synced_at,omitzero"`
	LastError  string    `json:"last_error,omitempty"`
	Snapshots  []string  `json:"snapshots"`
	Pack       string    `json:"pack,omitempty"`
	PackTime   time.Time `json:"pack_time,omitzero"`
}

// StandbyStatus reads a standby's state from its data directory's database.
func StandbyStatus(ctx context.Context, db *sqlstore.DB, dir string) (Status, error) {
	st := Status{Site: db.Site, LagSeconds: -1, Snapshots: []string{}}
	f, err := db.FollowStateOf(ctx, db.Site)
	if err != nil {
		return st, err
	}
	st.Source, st.AppliedSeq, st.SourceSeq, st.SyncedAt, st.LastError = f.SourceURL, f.AppliedSeq, f.SourceSeq, f.SyncedAt, f.LastError
	if lag := f.Lag(relais.Now()); lag >= 0 {
		st.LagSeconds = lag.Seconds()
	}
	names, _ := filepath.Glob(filepath.Join(dir, "snapshots", "*.snapshot"))
	sort.Strings(names)
	for _, n := range names {
		st.Snapshots = append(st.Snapshots, filepath.Base(n))
	}
	if fi, err := os.Stat(filepath.Join(dir, "packs", "downtime-latest.pdf")); err == nil {
		st.Pack, st.PackTime = filepath.Join(dir, "packs", "downtime-latest.pdf"), fi.ModTime().UTC()
	}
	return st, nil
}
