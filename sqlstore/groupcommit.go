package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"runtime/debug"
	"sync"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/journal"
)

// Group commit (SQLite).
//
// SQLite has one writer, and a commit in WAL mode with synchronous=FULL waits
// for an fsync: about 10–15 ms on a hospital server's disk, far more than the
// work of a prescription. Writers therefore queue here, and one goroutine runs
// the queued work in one SQLite transaction — each piece inside its own
// SAVEPOINT, so a piece that fails is undone alone and its caller alone gets
// the error — then commits once: one fsync for the whole group. A caller
// returns only after the commit is durable, exactly as with a transaction of
// its own; the journal chain is appended in queue order within the group.
//
// When something goes wrong at the level of the group (a savepoint that cannot
// be rolled back because SQLite ended the transaction, a failed commit), each
// piece is run again alone, so one bad request never fails another.
//
// PostgreSQL does not use it: its writers run concurrently and serialize on
// the journal head only (see lockHead).

// maxGroup bounds a group: enough to amortise an fsync over a busy minute,
// small enough that the first writer of a group is not held for long.
const maxGroup = 64

// txHead is the head of the local journal chain as a transaction sees it.
type txHead struct {
	seq    int64
	hash   string
	loaded bool
}

// job is one piece of work queued for the writer.
type job struct {
	ctx  context.Context
	run  func(sqltx *sql.Tx, head *txHead) ([]journal.Entry, error)
	done chan jobResult
}

type jobResult struct {
	entries []journal.Entry
	err     error
}

// groupWriter is the SQLite writer goroutine and its queue.
type groupWriter struct {
	queue   chan *job
	stopped chan struct{}
	once    sync.Once
	closeMu sync.RWMutex
	closed  bool
}

// writer returns the running group writer, starting it at first use.
func (db *DB) writer() *groupWriter {
	db.group.once.Do(func() {
		db.group.queue = make(chan *job, maxGroup)
		db.group.stopped = make(chan struct{})
		go db.runGroups()
	})
	return &db.group
}

// submit queues run and waits for the group holding it to commit.
func (db *DB) submit(ctx context.Context, run func(*sql.Tx, *txHead) ([]journal.Entry, error)) ([]journal.Entry, error) {
	g := db.writer()
	j := &job{ctx: ctx, run: run, done: make(chan jobResult, 1)}
	g.closeMu.RLock()
	if g.closed {
		g.closeMu.RUnlock()
		return nil, relais.E(relais.KindUnavailable, "the database is closed")
	}
	g.queue <- j
	g.closeMu.RUnlock()
	// The result always comes: the writer never drops a job, even when the
	// caller has gone (its context then makes the job fail fast).
	r := <-j.done
	return r.entries, r.err
}

// stopGroups ends the writer after the queued work; later writes fail.
func (db *DB) stopGroups() {
	g := &db.group
	g.closeMu.Lock()
	started := g.queue != nil
	if !g.closed && started {
		close(g.queue)
	}
	g.closed = true
	g.closeMu.Unlock()
	if started {
		<-g.stopped
	}
}

func (db *DB) runGroups() {
	g := &db.group
	defer close(g.stopped)
	for first := range g.queue {
		group := []*job{first}
	fill:
		for len(group) < maxGroup {
			select {
			case j, ok := <-g.queue:
				if !ok {
					break fill
				}
				group = append(group, j)
			default:
				break fill
			}
		}
		results, err := db.commitGroup(group)
		if err != nil && len(group) > 1 {
			// The group as a whole failed: run each piece alone.
			for i, j := range group {
				r, err := db.commitGroup(group[i : i+1])
				if err != nil {
					r = []jobResult{{err: err}}
				}
				j.done <- r[0]
			}
			continue
		}
		if err != nil {
			results = []jobResult{{err: err}}
		}
		for i, j := range group {
			j.done <- results[i]
		}
		if db.wstmts.pending() {
			db.wstmts.fill(db.w)
		}
	}
}

// commitGroup runs the group in one transaction and commits it. It returns
// each job's own result, or an error that concerns the whole group (nothing
// of it committed).
func (db *DB) commitGroup(group []*job) ([]jobResult, error) {
	sqltx, err := db.w.BeginTx(context.Background(), nil)
	if err != nil {
		return nil, mapErr(err)
	}
	head := &txHead{}
	results := make([]jobResult, len(group))
	var all []journal.Entry
	for i, j := range group {
		if err := j.ctx.Err(); err != nil {
			results[i].err = relais.E(relais.KindUnavailable, "the request ended before its turn to write", err)
			continue
		}
		if len(group) == 1 {
			results[i].entries, results[i].err = runJob(j, sqltx, head)
			if results[i].err != nil {
				sqltx.Rollback()
				return results, nil
			}
			all = results[i].entries
			break
		}
		if _, err := sqltx.Exec("SAVEPOINT relais_job"); err != nil {
			sqltx.Rollback()
			return nil, mapErr(err)
		}
		saved := *head
		entries, err := runJob(j, sqltx, head)
		if err != nil {
			*head = saved
			results[i].err = err
			if _, rerr := sqltx.Exec("ROLLBACK TO relais_job"); rerr != nil {
				sqltx.Rollback()
				return nil, fmt.Errorf("sqlstore: undoing one write of a group: %w", mapErr(rerr))
			}
		}
		if _, err := sqltx.Exec("RELEASE relais_job"); err != nil {
			sqltx.Rollback()
			return nil, mapErr(err)
		}
		if err == nil {
			results[i].entries = entries
			all = append(all, entries...)
		}
	}
	if len(all) > 0 {
		if _, err := sqltx.Exec("UPDATE journal_head SET seq = ?, hash = ? WHERE site = ?", head.seq, head.hash, db.ChainSite()); err != nil {
			sqltx.Rollback()
			return nil, mapErr(err)
		}
	}
	if err := sqltx.Commit(); err != nil {
		return nil, mapErr(err)
	}
	if len(all) > 0 {
		db.runHooks(all)
	}
	return results, nil
}

// runJob runs one job, turning a panic into an error for its caller alone.
func runJob(j *job, sqltx *sql.Tx, head *txHead) (entries []journal.Entry, err error) {
	err = callSafely(func() error {
		entries, err = j.run(sqltx, head)
		return err
	})
	return entries, err
}

// callSafely calls fn and turns a panic into an error: a fault in one
// request's write must not end the process nor leave its transaction open.
func callSafely(fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = relais.E(relais.KindOther, fmt.Errorf("sqlstore: panic in a write: %v\n%s", p, debug.Stack()))
		}
	}()
	return fn()
}

// runHooks runs the after-commit hooks with the entries just committed.
func (db *DB) runHooks(entries []journal.Entry) {
	db.hooksMu.RLock()
	hooks := db.afterCommit
	db.hooksMu.RUnlock()
	for _, h := range hooks {
		h(entries)
	}
}

// Prepared statements (SQLite).
//
// Parsing SQL is a good part of what a write costs SQLite, and the same few
// hundred statements run all day. A statement seen in a transaction is
// prepared on its pool once that transaction is over (preparing inside it
// would wait for the connection the transaction holds); from then on each
// transaction reuses it on its own connection. PostgreSQL's driver already
// keeps a statement cache per connection.

// maxStatements bounds a cache: queries built with a variable number of
// placeholders must not grow it without end.
const maxStatements = 1000

type stmtCache struct {
	mu   sync.Mutex
	m    map[string]*sql.Stmt
	want map[string]bool
}

// get returns the prepared statement for q, or nil and notes that q is
// wanted.
func (c *stmtCache) get(q string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[q]; ok {
		return st
	}
	c.wantLocked(q)
	return nil
}

// wantLocked notes q to be prepared, within the cache's bound; c.mu held.
func (c *stmtCache) wantLocked(q string) bool {
	if _, ok := c.m[q]; ok || len(c.m)+len(c.want) >= maxStatements {
		return false
	}
	if c.want == nil {
		c.want = map[string]bool{}
	}
	c.want[q] = true
	return true
}

// fill prepares the wanted statements on pool; call it with no transaction
// of this goroutine open on pool.
func (c *stmtCache) fill(pool *sql.DB) {
	c.mu.Lock()
	want := c.want
	c.want = nil
	c.mu.Unlock()
	for q := range want {
		st, err := pool.Prepare(q)
		if err != nil {
			continue // a statement that does not prepare alone runs unprepared
		}
		c.mu.Lock()
		if c.m == nil {
			c.m = map[string]*sql.Stmt{}
		}
		if _, dup := c.m[q]; dup {
			st.Close()
		} else {
			c.m[q] = st
		}
		c.mu.Unlock()
	}
}

// prepared returns q prepared on pool, preparing it now on a miss: for
// queries run on the read pool outside any transaction (a session looked up
// on every request). nil when q does not prepare or the cache is full.
func (c *stmtCache) prepared(ctx context.Context, pool *sql.DB, q string) *sql.Stmt {
	c.mu.Lock()
	st, ok := c.m[q]
	full := len(c.m) >= maxStatements
	c.mu.Unlock()
	if ok || full {
		return st
	}
	st, err := pool.PrepareContext(ctx, q)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, dup := c.m[q]; dup {
		st.Close()
		return prev
	}
	if c.m == nil {
		c.m = map[string]*sql.Stmt{}
	}
	c.m[q] = st
	return st
}

// readRow runs a one-row query on the read pool, outside any transaction,
// with its statement prepared once (SQLite).
func (db *DB) readRow(ctx context.Context, query string, args ...any) *sql.Row {
	q := db.rebind(query)
	if db.Engine == SQLite {
		if st := db.rstmts.prepared(ctx, db.r, q); st != nil {
			return st.QueryRowContext(ctx, args...)
		}
	}
	return db.r.QueryRowContext(ctx, q, args...)
}

// pending reports whether statements wait to be prepared.
func (c *stmtCache) pending() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.want) > 0
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		st.Close()
	}
	c.m = nil
}
