// Package testdb gives tests a fresh, empty database on each engine: a
// temporary SQLite file always, and a PostgreSQL schema of its own when
// RELAIS_TEST_POSTGRES is set (the test is skipped for PostgreSQL only when it
// is not). Subtests are named after the engine: …/sqlite, …/postgres.
package testdb

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/relais-onco/relais"
)

// PostgresEnv names the variable holding the test server's DSN.
const PostgresEnv = "RELAIS_TEST_POSTGRES"

// Each runs fn once per engine with the DSN of a fresh database.
func Each(t *testing.T, fn func(t *testing.T, dsn string)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t)) })
}

// SQLite returns the DSN of a new SQLite database in the test's temp dir.
func SQLite(t testing.TB) string {
	return "sqlite:" + filepath.Join(t.TempDir(), "relais.db")
}

// Postgres returns the DSN of a new, empty schema on the test server, dropped
// when the test ends; it skips the test when RELAIS_TEST_POSTGRES is unset.
func Postgres(t testing.TB) string {
	t.Helper()
	base := os.Getenv(PostgresEnv)
	if base == "" {
		t.Skip(PostgresEnv + " is not set")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("open %s: %v", PostgresEnv, err)
	}
	defer admin.Close()
	schema := "t_" + strings.ReplaceAll(string(relais.NewID()), "-", "")
	if _, err := admin.ExecContext(context.Background(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema on %s: %v", PostgresEnv, err)
	}
	t.Cleanup(func() {
		admin, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer admin.Close()
		admin.Exec("DROP SCHEMA " + schema + " CASCADE")
	})
	return WithSearchPath(base, schema)
}

// WithSearchPath returns dsn with its search_path set to schema.
func WithSearchPath(dsn, schema string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		panic(fmt.Sprintf("testdb: bad DSN: %v", err))
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
