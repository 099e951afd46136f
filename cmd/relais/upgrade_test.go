package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/sqlstore"
)

// The upgrade commands on the demo of the previous release
// (sqlstore/testdata/upgrade): the pre-flight refuses without a snapshot and
// says what to do; serve snapshots then migrates; rollback refuses to lose
// the work done since, then keeps it aside and restores the old schema.
func TestUpgradeCommandsOnThePreviousReleaseDemo(t *testing.T) {
	ctx := context.Background()
	paths, _ := filepath.Glob(filepath.Join("..", "..", "sqlstore", "testdata", "upgrade", "schema-*.db.gz"))
	if len(paths) == 0 {
		t.Fatal("no upgrade fixture: run scripts/upgrade-fixture.sh")
	}
	data := filepath.Join(t.TempDir(), "data")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(data, 0o750))
	f, err := os.Open(paths[len(paths)-1])
	must(err)
	zr, err := gzip.NewReader(f)
	must(err)
	out, err := os.Create(filepath.Join(data, "relais.db"))
	must(err)
	_, err = io.Copy(out, zr)
	must(err)
	out.Close()
	f.Close()
	dsn := "sqlite:" + filepath.Join(data, "relais.db")
	from, err := sqlstore.PeekSchema(ctx, dsn)
	must(err)
	to := sqlstore.SchemaVersion()
	if from >= to {
		t.Skip("the fixture is at this binary's schema")
	}
	relaisCmd := func(args ...string) (int, string) {
		var o, e bytes.Buffer
		code := run(ctx, args, nil, &o, &e)
		return code, o.String() + e.String()
	}

	code, text := relaisCmd("upgrade", "check", "--db", dsn, "--data", data)
	if code != exitFaults {
		t.Fatalf("upgrade check without a snapshot: exit %d\n%s", code, text)
	}
	ms, err := sqlstore.MigrationList(sqlstore.SQLite)
	must(err)
	for _, want := range []string{"Migrations that will run", ms[len(ms)-1].Name, "FAIL    snapshot", "relais snapshot create", "NOT READY"} {
		if !strings.Contains(text, want) {
			t.Errorf("upgrade check output lacks %q:\n%s", want, text)
		}
	}
	if v, _ := sqlstore.PeekSchema(ctx, dsn); v != from {
		t.Fatalf("upgrade check changed the schema to %d", v)
	}

	db, err := openServing(ctx, serveConfig{data: data}, quietLogger(io.Discard))
	must(err)
	if v, _ := db.CurrentSchema(ctx); v != to {
		t.Fatalf("serve left schema %d, want %d", v, to)
	}
	snaps, _ := filepath.Glob(filepath.Join(data, "relais-pre-upgrade-*.snap"))
	if len(snaps) != 1 {
		t.Fatalf("pre-upgrade snapshots beside the database: %v", snaps)
	}
	must(db.SaveSite(relais.WithActor(ctx, relais.SystemActor(db.Site)), relais.Site{ID: "chg-new", Name: "CH after upgrade", Kind: "chg"}))
	db.Close()

	code, text = relaisCmd("upgrade", "rollback", "--db", dsn, "--data", data)
	if code != exitFaults || !strings.Contains(text, "1 journal entries were made since the snapshot") || !strings.Contains(text, "--keep-aside") {
		t.Fatalf("rollback losing an entry: exit %d\n%s", code, text)
	}
	kept := filepath.Join(t.TempDir(), "kept.jsonl")
	code, text = relaisCmd("upgrade", "rollback", "--db", dsn, "--data", data, "--keep-aside", kept)
	if code != 0 || !strings.Contains(text, "chg-new") || !strings.Contains(text, "kept aside in "+kept) {
		t.Fatalf("rollback with --keep-aside: exit %d\n%s", code, text)
	}
	if v, _ := sqlstore.PeekSchema(ctx, dsn); v != from {
		t.Fatalf("schema %d after rollback, want %d", v, from)
	}

	if code, _ := relaisCmd("drill", "--upgrade"); code != exitUsage {
		t.Errorf("drill --upgrade without --db: exit %d", code)
	}
}
