package sqlstore

import (
	"database/sql"
	"sync"
)

// Prepared statements for the HL7 path. The inbound listener runs the same
// dozen statements for every message; preparing each once per writing
// connection, instead of once per call, saves the SQL parse that otherwise
// takes a third of the time a message costs on SQLite (measured with
// BenchmarkADTDurableAck). A statement prepared on the pool is reused by
// every transaction on the connection it was prepared on (database/sql keeps
// one per connection).

type stmtCache struct {
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

var stmtCaches sync.Map // *DB → *stmtCache

func (db *DB) stmtCache() *stmtCache {
	c, _ := stmtCaches.LoadOrStore(db, &stmtCache{m: map[string]*sql.Stmt{}})
	return c.(*stmtCache)
}

// prepare prepares queries on the pool, outside any transaction: SQLite's
// writer pool has one connection, which a transaction holds.
func (db *DB) prepare(queries ...string) error {
	cache := db.stmtCache()
	cache.mu.Lock()
	defer cache.mu.Unlock()
	for _, query := range queries {
		q := db.rebind(query)
		if _, ok := cache.m[q]; ok {
			continue
		}
		s, err := db.w.Prepare(q)
		if err != nil {
			return mapErr(err)
		}
		cache.m[q] = s
	}
	return nil
}

// stmt returns the prepared statement of query, nil when it was not
// prepared beforehand.
func (db *DB) stmt(query string) *sql.Stmt {
	cache := db.stmtCache()
	cache.mu.Lock()
	defer cache.mu.Unlock()
	return cache.m[db.rebind(query)]
}

// execC is Exec with the statement prepared once per connection, when it
// was prepared beforehand.
func (tx *Tx) execC(query string, args ...any) (sql.Result, error) {
	s := tx.db.stmt(query)
	if s == nil {
		return tx.Exec(query, args...)
	}
	res, err := tx.tx.StmtContext(tx.ctx, s).ExecContext(tx.ctx, args...)
	return res, mapErr(err)
}

// queryRowC is QueryRow with the statement prepared once per connection,
// when it was prepared beforehand.
func (tx *Tx) queryRowC(query string, args ...any) *sql.Row {
	s := tx.db.stmt(query)
	if s == nil {
		return tx.QueryRow(query, args...)
	}
	return tx.tx.StmtContext(tx.ctx, s).QueryRowContext(tx.ctx, args...)
}
