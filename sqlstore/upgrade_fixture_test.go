package sqlstore

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/relais-onco/relais/internal/testdb"
)

// The migration tests (issue 11): every fixture in testdata/upgrade is a
// database filled by the demo of a released Relais (scripts/
// upgrade-fixture.sh), at that release's schema. Each migration after it is
// applied in turn, on SQLite and on PostgreSQL, the journal chains checked
// after each step; at the end, with every migration applied, `relais check`
// and `relais audit verify` must find nothing. New migrations are picked up
// without editing this test.
//
// What is and is not tested: the entities are read back only at the end,
// with this binary's readers, which know the latest schema only (running
// them against an intermediate schema is a combination no release ever
// runs). Migrations up to the oldest fixture's schema are exercised by
// every other test, which creates its database from nothing.

// upgradeFixtures lists testdata/upgrade/schema-N.db.gz by schema.
func upgradeFixtures(t *testing.T) map[int]string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "upgrade", "schema-*.db.gz"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]string{}
	for _, p := range paths {
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(p), "schema-"), ".db.gz"))
		if err != nil {
			t.Fatalf("%s: name it schema-N.db.gz", p)
		}
		out[n] = p
	}
	if len(out) == 0 {
		t.Fatal("no upgrade fixture in testdata/upgrade: run scripts/upgrade-fixture.sh")
	}
	return out
}

// gunzipFixture writes the fixture's SQLite file into a temp dir.
func gunzipFixture(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "fixture.db")
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, zr); err != nil {
		t.Fatal(err)
	}
	must(t, out.Close())
	return "sqlite:" + dst
}

// fixtureInto puts the fixture at schema into the engine of dsn: the file
// itself for SQLite; for PostgreSQL its rows, through the portable dump,
// into a database made at the same schema.
func fixtureInto(t *testing.T, fixture string, schema int, dsn string) {
	t.Helper()
	ctx := context.Background()
	src := gunzipFixture(t, fixture)
	engine, path, _ := ParseDSN(dsn)
	if engine == SQLite {
		b, err := os.ReadFile(strings.TrimPrefix(src, "sqlite:"))
		must(t, err)
		must(t, os.WriteFile(path, b, 0o600))
		return
	}
	// A copy, held at its schema (MigrateTo): not migrated by being read.
	db, err := Open(ctx, src, Options{MigrateTo: schema, Log: quietOpts(Options{}).Log})
	must(t, err)
	var dump bytes.Buffer
	_, err = db.WriteSnapshot(ctx, &dump, true)
	db.Close()
	must(t, err)
	pg, _, err := RestoreSnapshot(ctx, &dump, PayloadJSONL, dsn, Options{MigrateTo: schema, Log: quietOpts(Options{}).Log})
	must(t, err)
	pg.Close()
}

func TestEveryMigrationOnTheDemoOfThePreviousRelease(t *testing.T) {
	ctx := context.Background()
	fixtures := upgradeFixtures(t)
	schemas := make([]int, 0, len(fixtures))
	for s := range fixtures {
		schemas = append(schemas, s)
	}
	sort.Ints(schemas)
	target := SchemaVersion()
	for _, from := range schemas {
		if from > target {
			t.Fatalf("fixture of schema %d is newer than this binary's schema %d", from, target)
		}
		t.Run(fmt.Sprintf("from-schema-%d", from), func(t *testing.T) {
			testdb.Each(t, func(t *testing.T, dsn string) {
				fixtureInto(t, fixtures[from], from, dsn)
				if got, err := PeekSchema(ctx, dsn); err != nil || got != from {
					t.Fatalf("the fixture is at schema %d (%v), want %d", got, err, from)
				}
				ms, err := Migrations(mustEngine(t, dsn))
				must(t, err)
				var site string
				for _, m := range ms[from:] {
					db, err := Open(ctx, dsn, Options{Site: site, MigrateTo: m.Version, Log: quietOpts(Options{}).Log})
					if err != nil {
						t.Fatalf("migration %s on the demo of schema %d: %v", m.Name, from, err)
					}
					site = db.Site
					v, err := db.CurrentSchema(ctx)
					must(t, err)
					chains, err := db.VerifyChains(ctx)
					must(t, err)
					db.Close()
					if v != m.Version {
						t.Fatalf("after %s the schema is %d", m.Name, v)
					}
					if !chains.OK() {
						t.Fatalf("after %s the journal chain is broken:%s", m.Name, faultList(chains))
					}
				}
				db, err := Open(ctx, dsn, Options{Site: site, Log: quietOpts(Options{}).Log})
				must(t, err)
				defer db.Close()
				rep, err := db.Check(ctx)
				must(t, err)
				if !rep.OK() {
					t.Errorf("relais check after migrating the demo of schema %d to %d: %d fault(s): %v", from, target, len(rep.Faults), rep.Faults)
				}
				audit, err := db.VerifyJournal(ctx)
				must(t, err)
				if !audit.OK() {
					t.Errorf("relais audit verify after migrating the demo of schema %d to %d:%s", from, target, faultList(audit))
				}
				if audit.Entities == 0 || audit.Entries() == 0 {
					t.Errorf("the audit compared %d entities and %d entries: the fixture is empty", audit.Entities, audit.Entries())
				}
			})
		})
	}
}

func mustEngine(t *testing.T, dsn string) Engine {
	t.Helper()
	e, _, err := ParseDSN(dsn)
	must(t, err)
	return e
}
