package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"testing"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/internal/testdb"
	"github.com/relais-onco/relais/sqlstore"
)

// The physical limit of a durable write, beside Relais's own: the bench
// script (scripts/bench) reports their ratio, measured in the same run.

var baselineEngines = []struct {
	name string
	dsn  func(testing.TB) string
}{{"sqlite", testdb.SQLite}, {"postgres", testdb.Postgres}}

// BenchmarkBareInsert is the floor: one row inserted and committed per
// operation, with the pragmas Relais uses (SQLite WAL, synchronous=FULL;
// PostgreSQL's defaults, synchronous_commit on), no journal, no checks.
func BenchmarkBareInsert(b *testing.B) {
	for _, e := range baselineEngines {
		b.Run(e.name, func(b *testing.B) {
			engine, src, err := sqlstore.ParseDSN(e.dsn(b))
			if err != nil {
				b.Fatal(err)
			}
			driver, conn := "pgx", src
			if engine == sqlstore.SQLite {
				driver, conn = "sqlite", "file:"+src+"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)"
			}
			db, err := sql.Open(driver, conn)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			db.SetMaxOpenConns(1)
			ctx := context.Background()
			if _, err := db.ExecContext(ctx, "CREATE TABLE bare (id TEXT PRIMARY KEY, v TEXT NOT NULL)"); err != nil {
				b.Fatal(err)
			}
			q := "INSERT INTO bare (id, v) VALUES (?, ?)"
			if engine == sqlstore.Postgres {
				q = "INSERT INTO bare (id, v) VALUES ($1, $2)"
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := db.ExecContext(ctx, q, string(relais.NewID()), fmt.Sprintf("row %d", i)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkJournaledWrite is one real journaled write through db.Write: a
// site saved (its row and its journal entry, hash-chained, in one
// transaction).
func BenchmarkJournaledWrite(b *testing.B) {
	for _, e := range baselineEngines {
		b.Run(e.name, func(b *testing.B) {
			ctx := context.Background()
			db, err := sqlstore.Open(ctx, e.dsn(b), sqlstore.Options{Site: "chu-bench", Log: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			sys := relais.WithActor(ctx, relais.SystemActor("chu-bench"))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := db.SaveSite(sys, relais.Site{ID: fmt.Sprintf("chg-%d", i%50), Name: fmt.Sprintf("CH %d", i), Kind: "chg"}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
