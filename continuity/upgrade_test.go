package continuity

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/internal/testdb"
	"github.com/relais-onco/relais/sqlstore"
)

// newestFixture returns a SQLite copy (WAL, as a served database is) of the
// newest upgrade fixture: the demo of the previous release, at its schema
// (sqlstore/testdata/upgrade, scripts/upgrade-fixture.sh).
func newestFixture(t *testing.T) (dsn string, schema int) {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join("..", "sqlstore", "testdata", "upgrade", "schema-*.db.gz"))
	if len(paths) == 0 {
		t.Fatal("no upgrade fixture: run scripts/upgrade-fixture.sh")
	}
	sort.Slice(paths, func(i, j int) bool {
		return len(paths[i]) < len(paths[j]) || len(paths[i]) == len(paths[j]) && paths[i] < paths[j]
	})
	f, err := os.Open(paths[len(paths)-1])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "fixture", "relais.db")
	os.MkdirAll(filepath.Dir(path), 0o750)
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, zr); err != nil {
		t.Fatal(err)
	}
	out.Close()
	dsn = "sqlite:" + path
	if schema, err = sqlstore.PeekSchema(context.Background(), dsn); err != nil || schema == 0 {
		t.Fatalf("fixture schema %d: %v", schema, err)
	}
	// Opened once at its own schema: WAL mode, nothing migrated.
	db, err := sqlstore.Open(context.Background(), dsn, sqlstore.Options{MigrateTo: schema, Log: discard()})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	return dsn, schema
}

// fixtureOn puts the fixture into dsn's engine at its schema.
func fixtureOn(t *testing.T, dsn string) int {
	t.Helper()
	src, schema := newestFixture(t)
	must(t, copyAtSchema(context.Background(), src, dsn, schema, discard()))
	return schema
}

func upgradeKeys(t *testing.T) UpgradeKeys {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	must(t, err)
	k, err := LoadUpgradeKeys(t.TempDir(), key)
	must(t, err)
	return k
}

// relais serve on an older schema: snapshot (verified, rehearsed) first,
// then migrate; relais upgrade rollback then refuses to lose what was
// written since unless told, keeps it aside, and restores the database the
// previous Relais opens.
func TestServeMigratesAfterASnapshotAndRollsBack(t *testing.T) {
	if sqlstore.SchemaVersion() <= 1 {
		t.Skip("nothing to migrate")
	}
	ctx := context.Background()
	testdb.Each(t, func(t *testing.T, dsn string) {
		from := fixtureOn(t, dsn)
		to := sqlstore.SchemaVersion()
		if from >= to {
			t.Skipf("the fixture is at this binary's schema %d: no upgrade to test", to)
		}
		keys := upgradeKeys(t)
		snapDir := filepath.Join(t.TempDir(), "snapshots")
		before, err := sqlstore.PeekSchema(ctx, dsn)
		must(t, err)

		db, rec, err := OpenUpgrading(ctx, dsn, UpgradeOpenOptions{Log: discard(), SnapshotDir: snapDir, Keys: keys})
		must(t, err)
		if rec == nil || rec.From != before || rec.To != to {
			t.Fatalf("upgrade record %+v, want %d → %d", rec, before, to)
		}
		h, err := readHeaderFile(rec.Snapshot)
		must(t, err)
		if h.Schema != from || !strings.HasPrefix(filepath.Base(rec.Snapshot), PreUpgradePrefix) || filepath.Dir(rec.Snapshot) != snapDir {
			t.Errorf("pre-upgrade snapshot %s at schema %d, want schema %d in %s", rec.Snapshot, h.Schema, from, snapDir)
		}
		if v, _ := db.CurrentSchema(ctx); v != to {
			t.Fatalf("schema %d after serve's upgrade, want %d", v, to)
		}
		// Work done after the upgrade: one journal entry.
		actx := relais.WithActor(ctx, relais.SystemActor(db.Site))
		must(t, db.SaveSite(actx, relais.Site{ID: "chg-after-upgrade", Name: "CH made after the upgrade", Kind: "chg"}))
		db.Close()

		// Refused while it would lose that entry silently.
		_, err = Rollback(ctx, dsn, RollbackOptions{Keys: keys, Log: discard()})
		if relais.ErrorKind(err) != relais.KindConflict || !strings.Contains(err.Error(), "1 journal entries") || !strings.Contains(err.Error(), "--keep-aside") {
			t.Fatalf("rollback losing an entry was not refused clearly: %v", err)
		}
		if v, _ := sqlstore.PeekSchema(ctx, dsn); v != to {
			t.Fatalf("a refused rollback changed the database (schema %d)", v)
		}
		aside := filepath.Join(t.TempDir(), "kept.jsonl")
		res, err := Rollback(ctx, dsn, RollbackOptions{Keys: keys, KeepAside: aside, Log: discard()})
		must(t, err)
		if len(res.Lost) != 1 || res.Lost[0].Entity != "site" || res.Lost[0].EntityID != "chg-after-upgrade" {
			t.Fatalf("lost entries %+v", res.Lost)
		}
		kept, err := os.ReadFile(aside)
		must(t, err)
		if !strings.Contains(string(kept), "chg-after-upgrade") || !strings.Contains(string(kept), res.Lost[0].Hash) {
			t.Errorf("the kept-aside file does not hold the entry:\n%s", kept)
		}
		if res.SetAside == "" {
			t.Error("the replaced database was not set aside")
		} else if _, err := os.Stat(res.SetAside); err != nil {
			t.Errorf("the replaced database is not at %s: %v", res.SetAside, err)
		}
		if v, _ := sqlstore.PeekSchema(ctx, dsn); v != from {
			t.Fatalf("schema %d after the rollback, want %d", v, from)
		}
		// The previous Relais (held at its schema) opens it; the journal
		// ends where the snapshot did.
		prev, err := sqlstore.Open(ctx, dsn, sqlstore.Options{MigrateTo: from, Log: discard()})
		must(t, err)
		defer prev.Close()
		head, err := prev.Head(ctx, prev.Site)
		must(t, err)
		if head.Seq != h.HeadSeq || head.Hash != h.HeadHash {
			t.Errorf("journal head %d %s after the rollback, want the snapshot's %d %s", head.Seq, head.Hash, h.HeadSeq, h.HeadHash)
		}
		chains, err := prev.VerifyChains(ctx)
		must(t, err)
		if !chains.OK() {
			t.Errorf("journal chain after the rollback: %v", chains.Faults)
		}
	})
}

func TestUpgradeCheckSaysWhatToFix(t *testing.T) {
	ctx := context.Background()
	dsn, from := newestFixture(t)
	if from >= sqlstore.SchemaVersion() {
		t.Skip("the fixture is at this binary's schema")
	}
	keys := upgradeKeys(t)
	snapDir := t.TempDir()
	check := func(opts UpgradeCheckOptions) UpgradeCheck {
		t.Helper()
		db, err := sqlstore.Open(ctx, dsn, sqlstore.Options{ReadOnly: true, Log: discard()})
		must(t, err)
		defer db.Close()
		c, err := CheckUpgrade(ctx, db, opts)
		must(t, err)
		return c
	}
	status := func(c UpgradeCheck, name string) Prereq {
		for _, p := range c.Prereqs {
			if p.Name == name && p.Status != StatusOK {
				return p
			}
		}
		for _, p := range c.Prereqs {
			if p.Name == name {
				return p
			}
		}
		t.Fatalf("no prerequisite %s in %+v", name, c.Prereqs)
		return Prereq{}
	}

	// No snapshot yet: refused, saying how to make one.
	c := check(UpgradeCheckOptions{SnapshotDir: snapDir, Identities: keys.Identities})
	if c.OK() || status(c, "snapshot").Status != StatusFail || !strings.Contains(status(c, "snapshot").Fix, "relais snapshot create") {
		t.Fatalf("no snapshot, yet: %+v", c.Prereqs)
	}
	if c.Plan.Current != from || len(c.Plan.Pending) != sqlstore.SchemaVersion()-from {
		t.Errorf("plan %+v", c.Plan)
	}
	for _, m := range c.Plan.Pending {
		if !m.Declared {
			t.Errorf("migration %s undeclared", m.Name)
		}
	}
	if p := status(c, "journal"); p.Status != StatusOK {
		t.Errorf("journal of the fixture: %+v", p)
	}

	// A snapshot, verified and rehearsed: that prerequisite passes.
	_, _, err := PreUpgradeSnapshot(ctx, dsn, from, sqlstore.SchemaVersion(), UpgradeOpenOptions{Log: discard(), SnapshotDir: snapDir, Keys: keys})
	must(t, err)
	c = check(UpgradeCheckOptions{SnapshotDir: snapDir, Identities: keys.Identities})
	if p := status(c, "snapshot"); p.Status != StatusOK {
		t.Fatalf("snapshot prerequisite: %+v", p)
	}
	if !c.OK() {
		t.Errorf("a sound fixture with a fresh snapshot fails the check: %+v", c.Prereqs)
	}
	// Without its identity the snapshot cannot be verified.
	c = check(UpgradeCheckOptions{SnapshotDir: snapDir})
	if p := status(c, "snapshot"); p.Status != StatusFail || !strings.Contains(p.Fix, "--identity") {
		t.Errorf("unverifiable snapshot: %+v", p)
	}
	// Too old for the operator's definition of recent.
	c = check(UpgradeCheckOptions{SnapshotDir: snapDir, Identities: keys.Identities, MaxAge: 1})
	if p := status(c, "snapshot"); p.Status != StatusFail || !strings.Contains(p.Fix, "--max-age") {
		t.Errorf("old snapshot: %+v", p)
	}
	// A full disk.
	c = check(UpgradeCheckOptions{SnapshotDir: snapDir, Identities: keys.Identities, Free: func(string) (int64, error) { return 1024, nil }})
	if p := status(c, "disk"); p.Status != StatusFail || !strings.Contains(p.Detail, "1.0 KiB free") {
		t.Errorf("full disk: %+v", p)
	}
	if c.OK() {
		t.Error("a full disk passed the check")
	}
}

func TestUpgradeDrillOnThePreviousReleaseDemo(t *testing.T) {
	ctx := context.Background()
	dsn, from := newestFixture(t)
	if from >= sqlstore.SchemaVersion() {
		t.Skip("the fixture is at this binary's schema")
	}
	var progress strings.Builder
	rep, err := UpgradeDrill(ctx, UpgradeDrillOptions{Source: dsn, Log: discard(), Progress: &progress})
	must(t, err)
	if !rep.OK() {
		t.Fatalf("the rehearsal failed:\n%s", rep.String())
	}
	names := []string{}
	for _, s := range rep.Steps {
		names = append(names, s.Name)
		if s.Took <= 0 {
			t.Errorf("step %s has no time", s.Name)
		}
	}
	if strings.Join(names, " ") != "check snapshot migrate check rollback" {
		t.Errorf("steps %v", names)
	}
	sc := bufio.NewScanner(strings.NewReader(rep.String()))
	lines := 0
	for sc.Scan() {
		lines++
	}
	if lines != 7 {
		t.Errorf("report:\n%s", rep.String())
	}
	// The source was only read.
	if v, _ := sqlstore.PeekSchema(ctx, dsn); v != from {
		t.Errorf("the drill changed its source: schema %d", v)
	}
}

// On SQLite each migration commits on its own: when a later one fails, the
// earlier ones are already in the file. relais serve then puts the
// pre-upgrade snapshot back in place: the database is at its old schema,
// with its journal as it was, and the half-migrated file is kept aside.
func TestFailedUpgradeOnSQLiteRestoresTheSnapshot(t *testing.T) {
	ctx := context.Background()
	dsn, from := newestFixture(t)
	if from >= sqlstore.SchemaVersion() {
		t.Skip("the fixture is at this binary's schema: no earlier migration to commit")
	}
	before, err := sqlstore.Open(ctx, dsn, sqlstore.Options{MigrateTo: from, Log: discard()})
	must(t, err)
	head, err := before.Head(ctx, before.Site)
	must(t, err)
	before.Close()
	keys := upgradeKeys(t)
	snapDir := filepath.Join(t.TempDir(), "snapshots")
	_, _, err = OpenUpgrading(ctx, dsn, UpgradeOpenOptions{Log: discard(), SnapshotDir: snapDir, Keys: keys,
		sqlOptions: func(o *sqlstore.Options) {
			*o = sqlstore.AppendMigrationsForTest(*o, "-- relais: reversible (test)\nCREATE TABLE half_way (id TEXT);\nINSERT INTO no_such_table VALUES (1);")
		}})
	if err == nil || !strings.Contains(err.Error(), "restored from") || !strings.Contains(err.Error(), "previous Relais starts on it") {
		t.Fatalf("a failed upgrade did not say the database was restored: %v", err)
	}
	if v, _ := sqlstore.PeekSchema(ctx, dsn); v != from {
		t.Fatalf("schema %d after the failed upgrade, want %d", v, from)
	}
	prev, err := sqlstore.Open(ctx, dsn, sqlstore.Options{MigrateTo: from, Log: discard()})
	must(t, err)
	defer prev.Close()
	got, err := prev.Head(ctx, prev.Site)
	must(t, err)
	if got.Seq != head.Seq || got.Hash != head.Hash {
		t.Errorf("journal head %d after the failed upgrade, want %d", got.Seq, head.Seq)
	}
	chains, err := prev.VerifyChains(ctx)
	must(t, err)
	if !chains.OK() {
		t.Errorf("journal after the failed upgrade: %v", chains.Faults)
	}
	_, path, _ := sqlstore.ParseDSN(dsn)
	if aside, _ := filepath.Glob(path + ".replaced-*"); len(aside) == 0 {
		t.Error("the half-migrated file was not kept aside")
	}
}
