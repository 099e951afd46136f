package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/journal"
)

// Tx is one transaction. A writing Tx appends a journal entry for each change
// of state through Journal, so the change and its record commit together or
// not at all.
type Tx struct {
	db      *DB
	tx      *sql.Tx
	ctx     context.Context
	op      string
	actor   relais.Actor
	now     time.Time
	write   bool
	entries []journal.Entry
	// head of the local chain, loaded lazily under the lock; on SQLite it
	// is shared by the transactions of a commit group (groupcommit.go)
	head *txHead
	// stmts, when set, caches this transaction's prepared statements
	stmts *stmtCache
}

// Ctx is the transaction's context.
func (tx *Tx) Ctx() context.Context { return tx.ctx }

// Now is the transaction's time: every row and entry it writes carries it.
func (tx *Tx) Now() time.Time { return tx.now }

// Actor is who is acting.
func (tx *Tx) Actor() relais.Actor { return tx.actor }

// Site is the local site.
func (tx *Tx) Site() string { return tx.db.Site }

// Engine is the database engine.
func (tx *Tx) Engine() Engine { return tx.db.Engine }

// Exec runs a statement written with ? placeholders.
func (tx *Tx) Exec(query string, args ...any) (sql.Result, error) {
	q := tx.db.rebind(query)
	if st := tx.prepared(q); st != nil {
		res, err := st.ExecContext(tx.ctx, args...)
		return res, mapErr(err)
	}
	res, err := tx.tx.ExecContext(tx.ctx, q, args...)
	return res, mapErr(err)
}

// Query runs a query written with ? placeholders.
func (tx *Tx) Query(query string, args ...any) (*sql.Rows, error) {
	q := tx.db.rebind(query)
	if st := tx.prepared(q); st != nil {
		rows, err := st.QueryContext(tx.ctx, args...)
		return rows, mapErr(err)
	}
	rows, err := tx.tx.QueryContext(tx.ctx, q, args...)
	return rows, mapErr(err)
}

// QueryRow runs a query returning at most one row.
func (tx *Tx) QueryRow(query string, args ...any) *sql.Row {
	q := tx.db.rebind(query)
	if st := tx.prepared(q); st != nil {
		return st.QueryRowContext(tx.ctx, args...)
	}
	return tx.tx.QueryRowContext(tx.ctx, q, args...)
}

// prepared returns q's cached statement bound to this transaction, or nil.
func (tx *Tx) prepared(q string) *sql.Stmt {
	if tx.stmts == nil {
		return nil
	}
	if st := tx.stmts.get(q); st != nil {
		return tx.tx.StmtContext(tx.ctx, st)
	}
	return nil
}

// Journal appends an entry recording that entity/id went from before to after
// (nil before for a creation). after should be the entity as Relais reads it
// back: `relais audit verify` compares it with the stored rows.
func (tx *Tx) Journal(action, entity string, id relais.ID, before, after any) error {
	if !tx.write {
		return fmt.Errorf("sqlstore: journal entry %s in a read-only transaction", action)
	}
	if tx.head == nil {
		tx.head = &txHead{}
	}
	if !tx.head.loaded {
		if err := tx.lockHead(); err != nil {
			return err
		}
	}
	// Seal canonicalizes the documents, once.
	b, err := rawJSON(before)
	if err != nil {
		return err
	}
	a, err := rawJSON(after)
	if err != nil {
		return err
	}
	e := journal.Entry{
		ID: string(relais.NewID()), Time: tx.now, Site: tx.db.ChainSite(),
		UserID: string(tx.actor.UserID), Username: tx.actor.Username, Role: string(tx.actor.Role),
		Action: action, Entity: entity, EntityID: string(id), Before: b, After: a,
	}
	if err := e.Seal(tx.head.seq, tx.head.hash); err != nil {
		return err
	}
	if err := tx.insertEntry(&e); err != nil {
		return err
	}
	tx.head.seq, tx.head.hash = e.Seq, e.Hash
	tx.entries = append(tx.entries, e)
	return nil
}

// rawJSON encodes v for a journal entry (a json.RawMessage as it is).
func rawJSON(v any) (json.RawMessage, error) {
	switch x := v.(type) {
	case nil:
		return json.RawMessage("null"), nil
	case json.RawMessage:
		return x, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: journal document: %w", err)
	}
	return b, nil
}

func (tx *Tx) insertEntry(e *journal.Entry) error {
	_, err := tx.Exec(`INSERT INTO journal (site, seq, id, time, user_id, username, role, action, entity, entity_id, before, after, prev, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.Site, e.Seq, e.ID, T(e.Time), e.UserID, e.Username, e.Role, e.Action, e.Entity, e.EntityID,
		tx.db.storedImage(e.Before), tx.db.storedImage(e.After), e.Prev, e.Hash)
	return err
}

// lockHead reads the local chain's head and, on PostgreSQL, locks it until
// commit, so entries are appended in commit order with no gap or fork.
// (SQLite transactions here are BEGIN IMMEDIATE on a single connection, which
// already serializes writers.)
func (tx *Tx) lockHead() error {
	q := "SELECT seq, hash FROM journal_head WHERE site = ?"
	if tx.db.Engine == Postgres {
		q += " FOR UPDATE"
	}
	if err := tx.QueryRow(q, tx.db.ChainSite()).Scan(&tx.head.seq, &tx.head.hash); err != nil {
		return relais.E(tx.op, "the journal head of this site is missing", mapErr(err))
	}
	tx.head.loaded = true
	return nil
}

func (tx *Tx) saveHead() error {
	if len(tx.entries) == 0 {
		return nil
	}
	_, err := tx.Exec("UPDATE journal_head SET seq = ?, hash = ? WHERE site = ?", tx.head.seq, tx.head.hash, tx.db.ChainSite())
	return err
}

// Write runs fn in a writing transaction as the actor found in ctx, and
// commits when fn returns nil. On SQLite writes queue for the one writer and
// commit in groups (groupcommit.go): fn runs inside a savepoint of a shared
// transaction, so it must not keep state between calls or call Write itself.
// On PostgreSQL the journal head is locked first, so writers never deadlock
// on it. A transaction that fails because the database was busy is retried
// here and nowhere else.
func (db *DB) Write(ctx context.Context, op string, fn func(tx *Tx) error) error {
	actor, ok := relais.ActorFrom(ctx)
	if !ok {
		return relais.E(op, relais.KindUnauthorized, "no one is signed in")
	}
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if db.Engine == SQLite {
			_, err = db.submit(ctx, func(sqltx *sql.Tx, head *txHead) ([]journal.Entry, error) {
				tx := &Tx{db: db, tx: sqltx, ctx: ctx, op: op, actor: actor, now: db.writeTime(ctx), write: true, head: head, stmts: &db.wstmts}
				if err := fn(tx); err != nil {
					return nil, err
				}
				return tx.entries, nil
			})
		} else {
			var entries []journal.Entry
			if entries, err = db.write(ctx, op, actor, fn); err == nil {
				db.runHooks(entries)
			}
		}
		if err == nil {
			return nil
		}
		if !isBusy(err) {
			return err
		}
		time.Sleep(time.Duration(attempt+1) * 20 * time.Millisecond)
	}
	return relais.E(op, relais.KindUnavailable, "the database stayed busy; try again", err)
}

// writeRaw runs fn in a writing transaction that appends no journal entry
// (the access log, which is its own record): grouped on SQLite like Write.
func (db *DB) writeRaw(ctx context.Context, fn func(sqltx *sql.Tx) error) error {
	if db.Engine == SQLite {
		_, err := db.submit(ctx, func(sqltx *sql.Tx, _ *txHead) ([]journal.Entry, error) {
			return nil, fn(sqltx)
		})
		return err
	}
	sqltx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return mapErr(err)
	}
	if err := fn(sqltx); err != nil {
		sqltx.Rollback()
		return err
	}
	return mapErr(sqltx.Commit())
}

// write is one PostgreSQL writing transaction.
func (db *DB) write(ctx context.Context, op string, actor relais.Actor, fn func(tx *Tx) error) ([]journal.Entry, error) {
	sqltx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, relais.E(op, relais.KindUnavailable, err)
	}
	tx := &Tx{db: db, tx: sqltx, ctx: ctx, op: op, actor: actor, now: db.writeTime(ctx), write: true, head: &txHead{}}
	if err := tx.lockHead(); err != nil {
		sqltx.Rollback()
		return nil, err
	}
	if err := callSafely(func() error { return fn(tx) }); err != nil {
		sqltx.Rollback()
		return nil, err
	}
	if err := tx.saveHead(); err != nil {
		sqltx.Rollback()
		return nil, err
	}
	if err := sqltx.Commit(); err != nil {
		return nil, relais.E(op, mapErr(err))
	}
	return tx.entries, nil
}

// Read runs fn in a read-only transaction: a consistent view across queries.
func (db *DB) Read(ctx context.Context, fn func(tx *Tx) error) error {
	sqltx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: db.Engine == Postgres})
	if err != nil {
		return relais.E(relais.KindUnavailable, err)
	}
	actor, _ := relais.ActorFrom(ctx)
	tx := &Tx{db: db, tx: sqltx, ctx: ctx, actor: actor, now: relais.Now(), head: &txHead{}}
	if db.Engine == SQLite {
		tx.stmts = &db.rstmts
	}
	err = fn(tx)
	sqltx.Rollback()
	if tx.stmts != nil && tx.stmts.pending() {
		tx.stmts.fill(db.r)
	}
	return err
}

// T wraps a time for a query argument: UTC text with microseconds, which
// SQLite sorts correctly and PostgreSQL parses into timestamptz.
func T(t time.Time) driver.Valuer { return timeArg(t) }

type timeArg time.Time

func (t timeArg) Value() (driver.Value, error) {
	return time.Time(t).UTC().Format(journal.TimeFormat), nil
}

// NT wraps a possibly-zero time: the zero time is stored as NULL.
func NT(t time.Time) driver.Valuer { return nullTimeArg(t) }

type nullTimeArg time.Time

func (t nullTimeArg) Value() (driver.Value, error) {
	if time.Time(t).IsZero() {
		return nil, nil
	}
	return time.Time(t).UTC().Format(journal.TimeFormat), nil
}

// Time scans a time column from either engine; NULL scans as the zero time.
type Time struct{ T *time.Time }

// ScanTime returns a scanner into *t.
func ScanTime(t *time.Time) Time { return Time{t} }

func (s Time) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*s.T = time.Time{}
	case time.Time:
		*s.T = v.UTC()
	case string:
		return s.parse(v)
	case []byte:
		return s.parse(string(v))
	default:
		return fmt.Errorf("sqlstore: cannot scan %T into a time", src)
	}
	return nil
}

func (s Time) parse(v string) error {
	for _, layout := range []string{journal.TimeFormat, time.RFC3339Nano, "2006-01-02 15:04:05.999999999-07:00", "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, v); err == nil {
			*s.T = t.UTC()
			return nil
		}
	}
	return fmt.Errorf("sqlstore: %q is not a time", v)
}
