package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/journal"
)

// The database's side of upgrades (issue 11, seed 004): what a binary would
// do to this database, how big it is, who is connected, what the last
// upgrade was, and what was written since. continuity/upgrade.go puts them
// together into `relais upgrade check`, the migration after a verified
// snapshot, and `relais upgrade rollback`.

// UpgradePlan is what this binary would do to the database.
type UpgradePlan struct {
	Engine  Engine          `json:"engine"`
	Current int             `json:"current"` // the database's schema
	Target  int             `json:"target"`  // this binary's schema
	Pending []MigrationInfo `json:"pending"` // the migrations that would run, in order
}

// Newer reports a database newer than this binary: it is never opened for
// writing.
func (p UpgradePlan) Newer() bool { return p.Current > p.Target }

// Plan returns the upgrade plan of the database. Open it ReadOnly first:
// a plan read after Open migrated would always be empty.
func (db *DB) Plan(ctx context.Context) (UpgradePlan, error) {
	p := UpgradePlan{Engine: db.Engine, Pending: []MigrationInfo{}}
	ms, err := Migrations(db.Engine)
	if err != nil {
		return p, relais.E("upgrade.plan", err)
	}
	p.Target = len(ms)
	if p.Current, err = db.CurrentSchema(ctx); err != nil {
		return p, err
	}
	if p.Current < p.Target {
		for _, m := range ms[p.Current:] {
			p.Pending = append(p.Pending, m.info())
		}
	}
	return p, nil
}

// FilePath returns the SQLite database's file ("" on PostgreSQL).
func (db *DB) FilePath() string {
	if db.Engine != SQLite {
		return ""
	}
	_, p, _ := ParseDSN(db.DSN)
	return p
}

// Size returns the database's size in bytes: the SQLite file with its
// write-ahead log, or PostgreSQL's pg_database_size.
func (db *DB) Size(ctx context.Context) (int64, error) {
	if db.Engine == Postgres {
		var n int64
		err := db.r.QueryRowContext(ctx, "SELECT pg_database_size(current_database())").Scan(&n)
		return n, mapErr(err)
	}
	var n int64
	for _, suffix := range []string{"", "-wal"} {
		st, err := os.Stat(db.FilePath() + suffix)
		if err == nil {
			n += st.Size()
		} else if suffix == "" {
			return 0, err
		}
	}
	return n, nil
}

// ClientSeen is one client (a browser, a script, another site, a crisis
// node) that spoke to this server, with the API version it sent.
type ClientSeen struct {
	ID         string    `json:"id"`          // Relais-Client-Id, else the signed-in user, else the address
	APIVersion string    `json:"api_version"` // as sent ("" when it sent none)
	Agent      string    `json:"agent"`       // User-Agent, shortened
	FirstSeen  time.Time `json:"first_seen"`
	LastSeen   time.Time `json:"last_seen"`
	Requests   int64     `json:"requests"`
	Refused    int64     `json:"refused"` // requests refused for their version
}

// ClientLog notes the clients a server sees, in memory, and writes them to
// the client_seen table (migration 0014) every minute and when the server
// stops. In memory first because a row written per request would add a
// write to every read, on SQLite's single writer; a minute of lateness does
// not matter to "who was connected in the last hour". The table is
// operational telemetry, like the access log's counters, not a change of
// state of the pharmacy: it is not journaled, and `relais audit verify`
// does not describe it.
type ClientLog struct {
	db  *DB
	mu  sync.Mutex
	due map[string]*ClientSeen
}

// NewClientLog returns a log writing to db.
func NewClientLog(db *DB) *ClientLog { return &ClientLog{db: db, due: map[string]*ClientSeen{}} }

// Note records one request of a client.
func (l *ClientLog) Note(id, apiVersion, agent string, refused bool) {
	if l == nil || id == "" {
		return
	}
	id, apiVersion, agent = clip(id, 120), clip(apiVersion, 40), clip(agent, 200)
	now := relais.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.due[id]
	if c == nil {
		if len(l.due) >= 10000 { // a flood of made-up ids must not fill memory
			return
		}
		c = &ClientSeen{ID: id, FirstSeen: now}
		l.due[id] = c
	}
	c.APIVersion, c.Agent, c.LastSeen = apiVersion, agent, now
	c.Requests++
	if refused {
		c.Refused++
	}
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// Flush writes what was noted since the last flush.
func (l *ClientLog) Flush(ctx context.Context) error {
	l.mu.Lock()
	due := l.due
	l.due = map[string]*ClientSeen{}
	l.mu.Unlock()
	if len(due) == 0 {
		return nil
	}
	ids := make([]string, 0, len(due))
	for id := range due {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return l.db.rawWrite(ctx, "upgrade.clients", func(tx *Tx) error {
		for _, id := range ids {
			c := due[id]
			if _, err := tx.Exec(`INSERT INTO client_seen (client_id, api_version, agent, first_seen, last_seen, requests, refused)
				VALUES (?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (client_id) DO UPDATE SET api_version = excluded.api_version, agent = excluded.agent,
					last_seen = excluded.last_seen, requests = client_seen.requests + excluded.requests,
					refused = client_seen.refused + excluded.refused`,
				c.ID, c.APIVersion, c.Agent, T(c.FirstSeen), T(c.LastSeen), c.Requests, c.Refused); err != nil {
				return mapErr(err)
			}
		}
		return nil
	})
}

// Run flushes every interval until ctx ends, then once more.
func (l *ClientLog) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := l.Flush(fctx); err != nil {
				l.db.Log.Warn("clients seen not written", "err", err)
			}
			cancel()
			return
		case <-t.C:
			if err := l.Flush(ctx); err != nil {
				l.db.Log.Warn("clients seen not written", "err", err)
			}
		}
	}
}

// ClientsSince lists the clients seen since t, most recent first. recorded
// is false when the database has no client_seen table yet (a schema before
// 0014): nobody was recorded, which is not the same as nobody connected.
func (db *DB) ClientsSince(ctx context.Context, t time.Time) (clients []ClientSeen, recorded bool, err error) {
	if ok, err := db.hasTable(ctx, "client_seen"); err != nil || !ok {
		return nil, false, err
	}
	rows, err := db.r.QueryContext(ctx, db.rebind(`SELECT client_id, api_version, agent, first_seen, last_seen, requests, refused
		FROM client_seen WHERE last_seen >= ? ORDER BY last_seen DESC, client_id`), T(t))
	if err != nil {
		return nil, true, relais.E("upgrade.clients", mapErr(err))
	}
	defer rows.Close()
	for rows.Next() {
		var c ClientSeen
		if err := rows.Scan(&c.ID, &c.APIVersion, &c.Agent, ScanTime(&c.FirstSeen), ScanTime(&c.LastSeen), &c.Requests, &c.Refused); err != nil {
			return nil, true, err
		}
		clients = append(clients, c)
	}
	return clients, true, rows.Err()
}

// UpgradeRecord is what `relais serve` notes in the database when it
// migrates it: where the pre-upgrade snapshot is, and where the journal
// stood, so that `relais upgrade rollback` knows what it would undo.
type UpgradeRecord struct {
	From     int       `json:"from"` // schema before
	To       int       `json:"to"`   // schema after
	At       time.Time `json:"at"`
	Snapshot string    `json:"snapshot"` // the pre-upgrade snapshot file
	Chain    string    `json:"chain"`    // the chain this database appends to
	HeadSeq  int64     `json:"head_seq"` // its last entry in the snapshot
	Program  string    `json:"program"`  // the Relais version that migrated
}

const upgradeKey = "upgrade.last"

// RecordUpgrade notes the last upgrade in meta.
func (db *DB) RecordUpgrade(ctx context.Context, r UpgradeRecord) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return db.rawWrite(ctx, "upgrade.record", func(tx *Tx) error {
		_, err := tx.Exec("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", upgradeKey, string(b))
		return mapErr(err)
	})
}

// LastUpgrade returns the last upgrade noted; ok is false when there was
// none.
func (db *DB) LastUpgrade(ctx context.Context) (r UpgradeRecord, ok bool, err error) {
	var s string
	err = db.r.QueryRowContext(ctx, db.rebind("SELECT value FROM meta WHERE key = ?"), upgradeKey).Scan(&s)
	if errors.Is(err, sql.ErrNoRows) {
		return r, false, nil
	}
	if err != nil {
		return r, false, relais.E("upgrade.record", mapErr(err))
	}
	return r, true, json.Unmarshal([]byte(s), &r)
}

// EntriesAfter returns chain's entries after seq, in order: what a rollback
// to a snapshot taken at seq would lose.
func (db *DB) EntriesAfter(ctx context.Context, chain string, seq int64) ([]journal.Entry, error) {
	var out []journal.Entry
	err := db.snapshot(ctx, func(tx *Tx) error {
		after := seq
		for {
			page, err := entriesPage(tx, chain, after, pageSize)
			if err != nil {
				return err
			}
			out = append(out, page...)
			if len(page) < pageSize {
				return nil
			}
			after = page[len(page)-1].Seq
		}
	})
	return out, err
}

// DropAll removes every table (and, on PostgreSQL, the sequences and
// functions of the current schema) in one transaction: the first step of
// restoring a pre-upgrade snapshot into the same PostgreSQL database. Used
// only by the rollback, after the database was copied aside.
func (db *DB) DropAll(ctx context.Context) error {
	const op = "upgrade.rollback"
	if db.Engine != Postgres {
		return relais.E(op, relais.KindInvalid, "DropAll is for PostgreSQL; a SQLite file is replaced whole")
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return relais.E(op, mapErr(err))
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'")
	if err != nil {
		return relais.E(op, mapErr(err))
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return err
		}
		tables = append(tables, t)
	}
	rows.Close()
	for _, t := range tables {
		if !identifier.MatchString(t) {
			return relais.E(op, "table "+t+" has an unexpected name: drop it by hand")
		}
		if _, err := tx.ExecContext(ctx, "DROP TABLE IF EXISTS "+t+" CASCADE"); err != nil {
			return relais.E(op, mapErr(err))
		}
	}
	// Trigger functions the migrations created live in the schema too.
	frows, err := tx.QueryContext(ctx, `SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
		WHERE n.nspname = current_schema()`)
	if err != nil {
		return relais.E(op, mapErr(err))
	}
	var fns []string
	for frows.Next() {
		var f string
		if err := frows.Scan(&f); err != nil {
			frows.Close()
			return err
		}
		fns = append(fns, f)
	}
	frows.Close()
	for _, f := range fns {
		if identifier.MatchString(f) {
			if _, err := tx.ExecContext(ctx, "DROP FUNCTION IF EXISTS "+f+" CASCADE"); err != nil {
				return relais.E(op, mapErr(err))
			}
		}
	}
	return mapErr(tx.Commit())
}

// PeekSchema returns the schema version of the database at dsn without
// opening it as Relais does (no migration, no site check): 0 when it is new
// or empty. `relais serve` looks before it leaps: an older schema is
// migrated only after a verified snapshot.
func PeekSchema(ctx context.Context, dsn string) (int, error) {
	const op = "upgrade.peek"
	engine, src, err := ParseDSN(dsn)
	if err != nil {
		return 0, err
	}
	var conn *sql.DB
	switch engine {
	case SQLite:
		if _, err := os.Stat(src); errors.Is(err, os.ErrNotExist) {
			return 0, nil
		}
		conn, err = sql.Open("sqlite", "file:"+src+"?_pragma=busy_timeout(10000)&mode=ro")
	case Postgres:
		conn, err = sql.Open("pgx", src)
	}
	if err != nil {
		return 0, relais.E(op, relais.KindUnavailable, err)
	}
	defer conn.Close()
	var v sql.NullInt64
	err = conn.QueryRowContext(ctx, "SELECT MAX(version) FROM schema_migration").Scan(&v)
	if err != nil {
		if isNoTable(err) {
			return 0, nil
		}
		return 0, relais.E(op, relais.KindUnavailable, fmt.Sprintf("cannot read the schema version of %s", Redacted(dsn)), err)
	}
	return int(v.Int64), nil
}

// VerifyChains checks every journal chain (sequence, links, hashes, signed
// checkpoints) and the local journal head, without reading the entities
// back: what `relais upgrade check` runs on a database of an older schema,
// whose rows this binary's readers do not know yet (the entities are
// checked on the migrated copy of the snapshot instead).
func (db *DB) VerifyChains(ctx context.Context) (Report, error) {
	rep := Report{Site: db.Site, Unverifiable: map[string]int64{}}
	err := db.snapshot(ctx, func(tx *Tx) error {
		sites, err := chainSites(tx, db.Site)
		if err != nil {
			return err
		}
		for rank, site := range sites {
			_, cr, err := auditChain(tx, site, site == db.Site, VerifyOptions{})
			if err != nil {
				return err
			}
			for _, f := range cr.Faults {
				rep.Faults = append(rep.Faults, chainFault(site, rank, f))
			}
			if site == db.Site {
				if f, bad, err := checkHead(tx, cr.ChainSummary); err != nil {
					return err
				} else if bad {
					rep.Faults = append(rep.Faults, f)
				}
			}
			rep.Chains = append(rep.Chains, cr)
		}
		return nil
	})
	if err != nil {
		return rep, relais.E("upgrade.chains", err)
	}
	return rep, nil
}
