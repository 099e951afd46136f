#!/bin/sh
# Rebuild the upgrade fixture: a small database filled by the demo of a
# released Relais, kept in sqlstore/testdata/upgrade/ for the migration tests
# (sqlstore/upgrade_fixture_test.go, docs/operations/upgrade.md).
#
#   scripts/upgrade-fixture.sh COMMIT
#
# COMMIT is the release whose schema the fixture holds (the last release
# before the migrations under test). The script checks it out in a separate
# worktree (read-only for the repository's branches), loads the demo of that
# release with 3 patients, a fixed seed and a fixed demo date into a SQLite file, and
# writes it gzipped as sqlstore/testdata/upgrade/schema-N.db.gz with a
# manifest. The PostgreSQL tests load the same rows into PostgreSQL through
# the portable dump (sqlstore snapshot code), at that schema.
#
# When to run it: at each release, with the commit of that release, so that
# the next release's migrations are tested against a database its users
# really have. Keep the previous fixture (tests read every schema-*.db.gz).
set -eu
commit=${1:?usage: scripts/upgrade-fixture.sh COMMIT}
repo=$(cd "$(dirname "$0")/.." && pwd)
out="$repo/sqlstore/testdata/upgrade"
wt=$(mktemp -d /tmp/relais-fixture-XXXXXX)
trap 'git -C "$repo" worktree remove --force "$wt" >/dev/null 2>&1 || true; rm -rf "$wt"' EXIT
git -C "$repo" worktree add --detach "$wt" "$commit" >/dev/null
mkdir -p "$wt/cmd/fixturegen"
cat > "$wt/cmd/fixturegen/main.go" <<'GO'
// Command fixturegen loads a small, reproducible demo into a new SQLite file.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/relais-onco/relais/demo"
	"github.com/relais-onco/relais/sqlstore"
)

func main() {
	ctx := context.Background()
	now := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	db, err := sqlstore.Open(ctx, "sqlite:"+os.Args[1], sqlstore.Options{Site: demo.MainSite.ID, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	if _, err := demo.Load(ctx, db, demo.Options{Patients: 3, Seed: 1, Now: now}); err != nil {
		panic(err)
	}
	v, _ := db.CurrentSchema(ctx)
	db.Close()
	fmt.Println(v)
}
GO
tmp=$(mktemp -d)
schema=$(cd "$wt" && go run ./cmd/fixturegen "$tmp/fixture.db")
sqlite_vacuum() { # compact, one file, left in WAL mode as a served database is
	python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute("PRAGMA journal_mode=DELETE"); c.execute("VACUUM"); c.execute("PRAGMA journal_mode=WAL"); c.close()' "$1"
}
sqlite_vacuum "$tmp/fixture.db"
mkdir -p "$out"
gzip -9 -n -c "$tmp/fixture.db" > "$out/schema-$schema.db.gz"
cat > "$out/schema-$schema.json" <<JSON
{"schema": $schema, "commit": "$(git -C "$repo" rev-parse "$commit")", "patients": 3, "seed": 1, "made": "$(date -u +%Y-%m-%dT%H:%M:%SZ)"}
JSON
rm -rf "$tmp"
ls -l "$out"
