// Package sqlstore implements Relais's services on database/sql, for SQLite
// (modernc.org/sqlite, pure Go, the embedded default) and PostgreSQL (pgx).
// It owns the schema (one embedded migration folder per engine), the mapping
// of driver errors to relais errors, SQLite's busy handling, and the append of
// a journal entry inside every writing transaction.
//
// Queries are written once with ? placeholders and rebound for PostgreSQL.
// Storage methods open one transaction and pass it to small helpers, after
// WTF Dial.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/journal"
)

// Engine names a database engine.
type Engine string

const (
	SQLite   Engine = "sqlite"
	Postgres Engine = "postgres"
)

//go:embed migrations
var migrationsFS embed.FS

// DB is an open Relais database.
type DB struct {
	Engine Engine
	DSN    string // as given, for messages (never contains a password we print: see Redacted)
	Site   string // the local site: the chain this database appends to
	// Chain, when set, is the chain this database appends to instead of
	// Site's: a crisis node acts as its site (its stock, register, patients)
	// while recording its work on a chain of its own (see
	// sqlstore/crisis.go). Read from meta "chain" at Open.
	Chain string
	Log   *slog.Logger

	w *sql.DB // writes: one connection on SQLite, the pool on PostgreSQL
	r *sql.DB // reads

	rebindCache sync.Map // query → PostgreSQL form

	extra []migration // migrations a test injected (Options.extraMigrations)

	backdate bool // Options.Backdate (backdate.go)

	progress io.Writer // Options.Progress

	// afterCommit hooks run after a writing transaction commits (outbox,
	// replication, cache invalidation); set them before serving.
	hooksMu     sync.RWMutex
	afterCommit []func(entries []journal.Entry)

	group groupWriter // SQLite's writer goroutine (groupcommit.go)
	// prepared statements of the write and read pools (SQLite)
	wstmts, rstmts stmtCache
}

// Options tune Open.
type Options struct {
	Site string       // local site id; required when the database is new
	Log  *slog.Logger // defaults to slog.Default()
	// ReadOnly opens the database without migrating and refuses writes (a
	// snapshot being inspected, a newer schema than this binary knows).
	ReadOnly bool
	// MigrateTo, when positive, migrates no further than this schema
	// version: a pre-upgrade snapshot is restored at the schema it was
	// taken at (see migrate.go). Zero brings the schema up to date.
	MigrateTo int
	// Backdate lets a history generator (`relais demo --scale region`)
	// give each write the time carried by AsOf instead of the clock. Never
	// set by `relais serve`: real work is always dated by the clock.
	Backdate bool
	// Progress is where long work on this database (a check, a restore, a
	// reintegration) draws a progress line; it draws only when Progress is
	// a terminal (internal/progress), so a log or CI stays clean.
	Progress io.Writer

	// extraMigrations are appended after the embedded ones: tests inject
	// a failing migration, or one that adds a field, through it.
	extraMigrations []migration
}

// ParseDSN splits "sqlite:PATH" or "postgres://…" into an engine and the
// driver's data source. A bare path is taken as SQLite.
func ParseDSN(dsn string) (Engine, string, error) {
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return Postgres, dsn, nil
	case strings.HasPrefix(dsn, "sqlite:"):
		p := strings.TrimPrefix(dsn, "sqlite:")
		p = strings.TrimPrefix(p, "//")
		if p == "" {
			return "", "", relais.Invalid("db.open", "db", "sqlite: needs a file path, e.g. sqlite:/var/lib/relais/relais.db")
		}
		return SQLite, p, nil
	case dsn == "":
		return "", "", relais.Invalid("db.open", "db", "no database given: use --db sqlite:PATH or --db postgres://USER@HOST:5432/DB")
	case strings.Contains(dsn, "://"):
		return "", "", relais.Invalid("db.open", "db", "unknown database scheme in %q: use sqlite:PATH or postgres://…", Redacted(dsn))
	default:
		return SQLite, dsn, nil
	}
}

// Redacted returns dsn with any password replaced, for logs and messages.
func Redacted(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return dsn
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// Open opens (creating if needed) the database at dsn and brings its schema up
// to date, unless opts.ReadOnly.
func Open(ctx context.Context, dsn string, opts Options) (*DB, error) {
	const op = "db.open"
	engine, src, err := ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	db := &DB{Engine: engine, DSN: dsn, Log: opts.Log, extra: opts.extraMigrations, backdate: opts.Backdate, progress: opts.Progress}
	if db.Log == nil {
		db.Log = slog.Default()
	}
	switch engine {
	case SQLite:
		if dir := filepath.Dir(src); dir != "" {
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return nil, relais.E(op, relais.KindUnavailable, err)
			}
		}
		q := "?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(FULL)&_time_format=sqlite"
		if opts.ReadOnly {
			q += "&mode=ro"
		}
		if db.w, err = sql.Open("sqlite", "file:"+src+q+"&_txlock=immediate"); err != nil {
			return nil, relais.E(op, relais.KindUnavailable, err)
		}
		db.w.SetMaxOpenConns(1) // SQLite has one writer; queue in Go, not in busy loops
		if db.r, err = sql.Open("sqlite", "file:"+src+q); err != nil {
			db.w.Close()
			return nil, relais.E(op, relais.KindUnavailable, err)
		}
		// Keep every reader open once made (database/sql keeps only two
		// idle by default): a new SQLite connection reads the schema again,
		// prepares its statements again and allocates its page cache.
		db.r.SetMaxOpenConns(readConns())
		db.r.SetMaxIdleConns(readConns())
	case Postgres:
		if db.w, err = sql.Open("pgx", src); err != nil {
			return nil, relais.E(op, relais.KindUnavailable, err)
		}
		// Idle connections kept for the same reason: a new PostgreSQL
		// connection is a new server process.
		db.w.SetMaxOpenConns(pgConns)
		db.w.SetMaxIdleConns(pgConns)
		db.r = db.w
	}
	if err := db.w.PingContext(ctx); err != nil {
		db.Close()
		return nil, relais.E(op, relais.KindUnavailable, fmt.Sprintf("cannot reach the database %s", Redacted(dsn)), err)
	}
	if !opts.ReadOnly {
		if err := db.migrate(ctx, opts); err != nil {
			db.Close()
			return nil, err
		}
	}
	if err := db.initSite(ctx, opts.Site, opts.ReadOnly); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// pgConns is PostgreSQL's pool, readers and writers together.
const pgConns = 16

// readConns is the number of SQLite's readers (its writer is one
// connection): two per core, at least four. A reader is CPU-bound, and each
// holds its own page cache and prepared statements: on two cores, eight
// readers served 5 % more requests than four under the load of 200 people
// but held 45 MB more (docs/campaigns.md).
func readConns() int { return max(4, 2*runtime.GOMAXPROCS(0)) }

// Close closes the database.
func (db *DB) Close() error {
	db.stopGroups()
	db.wstmts.close()
	db.rstmts.close()
	var err error
	if db.r != nil && db.r != db.w {
		err = db.r.Close()
	}
	if db.w != nil {
		if e := db.w.Close(); e != nil {
			err = e
		}
	}
	return err
}

// SQL returns the underlying read pool, for tools (check, audit) that walk
// tables directly.
func (db *DB) SQL() *sql.DB { return db.r }

// OnCommit registers f to run after every writing transaction commits, with
// the journal entries it appended.
func (db *DB) OnCommit(f func(entries []journal.Entry)) {
	db.hooksMu.Lock()
	db.afterCommit = append(db.afterCommit, f)
	db.hooksMu.Unlock()
}

// initSite records the local site at first start and checks it afterwards.
func (db *DB) initSite(ctx context.Context, site string, readOnly bool) error {
	const op = "db.site"
	var stored string
	err := db.r.QueryRowContext(ctx, db.rebind("SELECT value FROM meta WHERE key = ?"), "site").Scan(&stored)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if site == "" {
			return relais.E(op, relais.KindInvalid, relais.Field("site"), "this database is new: say which site it belongs to with --site ID")
		}
		if readOnly {
			return relais.E(op, relais.KindInvalid, "this database has no site recorded")
		}
		// The site and the head of its (empty) journal chain are made together.
		tx, err := db.w.BeginTx(ctx, nil)
		if err != nil {
			return relais.E(op, mapErr(err))
		}
		defer tx.Rollback()
		if _, err = tx.ExecContext(ctx, db.rebind("INSERT INTO meta (key, value) VALUES (?, ?)"), "site", site); err != nil {
			return relais.E(op, mapErr(err))
		}
		if _, err = tx.ExecContext(ctx, db.rebind("INSERT INTO site (id, name, kind, public_key, created_at) VALUES (?, ?, 'other', '', ?)"),
			site, site, T(relais.Now())); err != nil {
			return relais.E(op, mapErr(err))
		}
		if _, err = tx.ExecContext(ctx, db.rebind("INSERT INTO journal_head (site, seq, hash) VALUES (?, 0, ?)"), site, journal.GenesisHash); err != nil {
			return relais.E(op, mapErr(err))
		}
		if err := tx.Commit(); err != nil {
			return relais.E(op, mapErr(err))
		}
		db.Site = site
		return nil
	case err != nil:
		return relais.E(op, mapErr(err))
	}
	if err := db.r.QueryRowContext(ctx, db.rebind("SELECT value FROM meta WHERE key = ?"), "chain").Scan(&db.Chain); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return relais.E(op, mapErr(err))
	}
	if site != "" && site != stored {
		return relais.E(op, relais.KindConflict, relais.Field("site"),
			fmt.Sprintf("this database belongs to site %q, not %q: check --site and --db", stored, site))
	}
	db.Site = stored
	return nil
}

// rebind turns ? placeholders into $1, $2… for PostgreSQL.
func (db *DB) rebind(q string) string {
	if db.Engine != Postgres {
		return q
	}
	if v, ok := db.rebindCache.Load(q); ok {
		return v.(string)
	}
	var b strings.Builder
	n := 0
	inStr := false
	for i := 0; i < len(q); i++ {
		c := q[i]
		if c == '\'' {
			inStr = !inStr
		}
		if c == '?' && !inStr {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	s := b.String()
	db.rebindCache.Store(q, s)
	return s
}

// The migration runner (Migrations, SchemaVersion, CurrentSchema,
// migrate) is in migrate.go.

// mapErr turns driver errors into relais errors, the same on both engines.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return relais.E(relais.KindNotFound, err)
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch pg.Code {
		case "23505":
			return relais.E(relais.KindConflict, "this already exists", err)
		case "23503":
			return relais.E(relais.KindInvalid, "it refers to something that does not exist", err)
		case "23514", "23502":
			return relais.E(relais.KindInvalid, "a value is not allowed", err)
		case "40001", "40P01":
			return relais.E(relais.KindUnavailable, "the database was busy; try again", err)
		}
		return err
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return relais.E(relais.KindConflict, "this already exists", err)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return relais.E(relais.KindInvalid, "it refers to something that does not exist", err)
		case sqlite3.SQLITE_CONSTRAINT_CHECK, sqlite3.SQLITE_CONSTRAINT_NOTNULL:
			return relais.E(relais.KindInvalid, "a value is not allowed", err)
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_BUSY_SNAPSHOT:
			return relais.E(relais.KindUnavailable, "the database was busy; try again", err)
		}
	}
	return err
}

func isBusy(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code() & 0xff
		return c == sqlite3.SQLITE_BUSY || c == sqlite3.SQLITE_LOCKED
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "40001" || pg.Code == "40P01"
	}
	return false
}

func isNoTable(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "42P01"
	}
	return strings.Contains(err.Error(), "no such table")
}
