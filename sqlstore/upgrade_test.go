package sqlstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"log/slog"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/internal/testdb"
)

// Every migration file of both engines declares whether it is reversible,
// and both engines declare the same thing for the same step: `relais
// upgrade check` prints it before anything runs.
func TestEveryMigrationDeclaresReversibility(t *testing.T) {
	byEngine := map[Engine]map[string]MigrationInfo{}
	for _, engine := range []Engine{SQLite, Postgres} {
		ents, err := fs.ReadDir(migrationsFS, "migrations/"+string(engine))
		if err != nil {
			t.Fatal(err)
		}
		ms, err := MigrationList(engine)
		if err != nil {
			t.Fatalf("%s: %v", engine, err)
		}
		files := 0
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), ".sql") {
				files++
			}
		}
		if len(ms) != files || len(ms) == 0 {
			t.Fatalf("%s: %d migration files but %d migrations read", engine, files, len(ms))
		}
		byEngine[engine] = map[string]MigrationInfo{}
		for _, m := range ms {
			if !m.Declared {
				t.Errorf("%s/%s.sql does not declare whether it is reversible: add a first line '-- relais: reversible (why)' or '-- relais: irreversible (what it changes or removes)'", engine, m.Name)
			}
			byEngine[engine][m.Name] = m
		}
	}
	for name, s := range byEngine[SQLite] {
		p, ok := byEngine[Postgres][name]
		if !ok {
			t.Errorf("migration %s exists for SQLite but not for PostgreSQL", name)
			continue
		}
		if s.Declared && p.Declared && s.Reversible != p.Reversible {
			t.Errorf("migration %s is reversible on one engine and not on the other", name)
		}
	}
}

func TestMigrationHeaderParsing(t *testing.T) {
	for _, c := range []struct {
		sql        string
		declared   bool
		reversible bool
		adds       int
		bad        bool
	}{
		{"-- relais: reversible (creates a table)\nCREATE TABLE x (id TEXT);", true, true, 0, false},
		{"-- A comment first\n-- relais: irreversible (drops column y)\nALTER TABLE x DROP COLUMN y;", true, false, 0, false},
		{"-- relais: reversible\n-- relais: adds note.visibility = \"team\"\nALTER TABLE note ADD COLUMN visibility TEXT NOT NULL DEFAULT 'team';", true, true, 1, false},
		{"CREATE TABLE x (id TEXT);\n-- relais: reversible", false, false, 0, false}, // after the first statement: not a header
		{"-- relais: irreversible\nDROP TABLE x;", false, false, 0, true},            // irreversible needs its reason
		{"-- relais: reversable\nCREATE TABLE x (id TEXT);", false, false, 0, true},  // a typo is refused
		{"-- relais: adds note = 1\n", false, false, 0, true},
		{"-- relais: reversible\n-- relais: reversible\n", false, false, 0, true},
	} {
		m := migration{Version: 1, Name: "0001_t", SQL: c.sql}
		err := parseHeader(&m)
		if (err != nil) != c.bad {
			t.Errorf("%q: error %v, want error %v", c.sql, err, c.bad)
			continue
		}
		if c.bad {
			continue
		}
		if m.Declared != c.declared || m.Reversible != c.reversible || len(m.Adds) != c.adds {
			t.Errorf("%q: declared %v reversible %v adds %d", c.sql, m.Declared, m.Reversible, len(m.Adds))
		}
	}
}

// fingerprint is everything a database holds: its tables' definitions and
// every row (the portable dump without its first line, which carries the
// time it was taken).
func fingerprint(t *testing.T, db *DB) string {
	t.Helper()
	var buf bytes.Buffer
	if _, err := db.WriteSnapshot(context.Background(), &buf, true); err != nil {
		t.Fatal(err)
	}
	_, rows, _ := bytes.Cut(buf.Bytes(), []byte("\n"))
	q := "SELECT type || ' ' || name || ' ' || COALESCE(sql, '') FROM sqlite_master ORDER BY type, name"
	if db.Engine == Postgres {
		q = `SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' || COALESCE(column_default, '')
			FROM information_schema.columns WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position`
	}
	r, err := db.r.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var ddl []string
	for r.Next() {
		var s string
		must(t, r.Scan(&s))
		ddl = append(ddl, s)
	}
	sum := sha256.Sum256(append([]byte(strings.Join(ddl, "\n")), rows...))
	return hex.EncodeToString(sum[:])
}

func quietOpts(o Options) Options {
	o.Log = slog.New(slog.DiscardHandler)
	if o.Site == "" {
		o.Site = auditSite
	}
	return o
}

// A migration that fails half-way leaves the database exactly as it was,
// at its schema, and the previous Relais (here: this binary without the
// failing migration) opens it and finds it sound.
func TestFailingMigrationLeavesTheDatabaseAsItWas(t *testing.T) {
	ctx := context.Background()
	testdb.Each(t, func(t *testing.T, dsn string) {
		f := newAuditFixture(t, dsn)
		before := fingerprint(t, f.db)
		schema, err := f.db.CurrentSchema(ctx)
		must(t, err)
		f.db.Close()

		failing := migration{Name: "9998_fails_half_way", SQL: `-- relais: reversible (test)
ALTER TABLE site ADD COLUMN motto TEXT NOT NULL DEFAULT 'x';
CREATE TABLE upgrade_half (id TEXT PRIMARY KEY);
INSERT INTO no_such_table (id) VALUES ('boom');`}
		_, err = Open(ctx, dsn, quietOpts(Options{extraMigrations: []migration{failing}}))
		if err == nil {
			t.Fatal("a failing migration was reported applied")
		}
		if !strings.Contains(err.Error(), "9998_fails_half_way") || !strings.Contains(err.Error(), "unchanged") {
			t.Errorf("the error does not name the migration and say the database is unchanged: %v", err)
		}

		prev, err := Open(ctx, dsn, quietOpts(Options{}))
		if err != nil {
			t.Fatalf("the previous Relais cannot open the database after a failed migration: %v", err)
		}
		defer prev.Close()
		if got, _ := prev.CurrentSchema(ctx); got != schema {
			t.Errorf("schema %d after a failed migration, want %d", got, schema)
		}
		if after := fingerprint(t, prev); after != before {
			t.Error("the database changed although its migration failed")
		}
		rep, err := prev.Check(ctx)
		must(t, err)
		if !rep.OK() {
			t.Errorf("relais check after a failed migration: %v", rep.Faults)
		}
	})
}

// On PostgreSQL every pending migration runs in one transaction: a failure
// in the last undoes the ones before it too.
func TestPostgresMigratesInOneTransaction(t *testing.T) {
	ctx := context.Background()
	dsn := testdb.Postgres(t)
	f := newAuditFixture(t, dsn)
	before := fingerprint(t, f.db)
	f.db.Close()
	good := migration{Name: "9997_good", SQL: "-- relais: reversible (test)\nCREATE TABLE upgrade_good (id TEXT PRIMARY KEY);"}
	bad := migration{Name: "9998_bad", SQL: "-- relais: reversible (test)\nINSERT INTO no_such_table (id) VALUES ('boom');"}
	if _, err := Open(ctx, dsn, quietOpts(Options{extraMigrations: []migration{good, bad}})); err == nil {
		t.Fatal("a failing migration was reported applied")
	}
	db, err := Open(ctx, dsn, quietOpts(Options{}))
	must(t, err)
	defer db.Close()
	if fingerprint(t, db) != before {
		t.Error("the migration before the failing one stayed applied: PostgreSQL migrations must be all or nothing")
	}
}

func TestMigrateToStopsThere(t *testing.T) {
	ctx := context.Background()
	testdb.Each(t, func(t *testing.T, dsn string) {
		db, err := Open(ctx, dsn, quietOpts(Options{MigrateTo: 3}))
		must(t, err)
		if v, _ := db.CurrentSchema(ctx); v != 3 {
			t.Fatalf("schema %d, want 3", v)
		}
		db.Close()
		ro, err := Open(ctx, dsn, quietOpts(Options{ReadOnly: true}))
		must(t, err)
		defer ro.Close()
		p, err := ro.Plan(ctx)
		must(t, err)
		if p.Current != 3 || p.Target != SchemaVersion() || len(p.Pending) != p.Target-3 || p.Pending[0].Version != 4 {
			t.Errorf("plan %+v", p)
		}
	})
}

// The rule of audit.go for fields added by a migration: absent from an
// after-image written before, accepted only with the declared default.
func TestAuditAcceptsAFieldAMigrationDeclaresAdded(t *testing.T) {
	ctx := context.Background()
	type probe struct {
		ID     relais.ID `json:"id"`
		Name   string    `json:"name"`
		Colour *string   `json:"colour,omitempty"` // the field the new release adds
	}
	load := func(tx *Tx, id relais.ID) (any, error) {
		var p probe
		var n int
		q := "SELECT COUNT(*) FROM pragma_table_info('upgrade_probe') WHERE name = 'colour'"
		if tx.Engine() == Postgres {
			q = "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'upgrade_probe' AND column_name = 'colour'"
		}
		if err := tx.QueryRow(q).Scan(&n); err != nil {
			return nil, err
		}
		if n == 0 {
			err := tx.QueryRow("SELECT id, name FROM upgrade_probe WHERE id = ?", id).Scan(&p.ID, &p.Name)
			return p, mapErr(err)
		}
		var c string
		err := tx.QueryRow("SELECT id, name, colour FROM upgrade_probe WHERE id = ?", id).Scan(&p.ID, &p.Name, &c)
		p.Colour = &c
		return p, mapErr(err)
	}
	registerEntity("upgrade_probe", "upgrade_probe", load)
	t.Cleanup(func() { delete(entityLoaders, "upgrade_probe") })
	create := migration{Name: "9990_probe", SQL: "-- relais: reversible (test)\nCREATE TABLE upgrade_probe (id TEXT PRIMARY KEY, name TEXT NOT NULL);"}
	const addSQL = "ALTER TABLE upgrade_probe ADD COLUMN colour TEXT NOT NULL DEFAULT 'blue';"
	declared := migration{Name: "9991_probe_colour", SQL: "-- relais: reversible (adds a column)\n-- relais: adds upgrade_probe.colour = \"blue\"\n" + addSQL}
	undeclared := migration{Name: "9991_probe_colour", SQL: "-- relais: reversible (adds a column)\n" + addSQL}

	testdb.Each(t, func(t *testing.T, dsn string) {
		actx := relais.WithActor(ctx, relais.SystemActor(auditSite))
		old, err := Open(ctx, dsn, quietOpts(Options{extraMigrations: []migration{create}}))
		must(t, err)
		var ids []relais.ID
		for _, name := range []string{"first", "second"} {
			id := relais.NewID()
			ids = append(ids, id)
			must(t, old.Write(actx, "probe.create", func(tx *Tx) error {
				if _, err := tx.Exec("INSERT INTO upgrade_probe (id, name) VALUES (?, ?)", id, name); err != nil {
					return err
				}
				p, err := load(tx, id)
				if err != nil {
					return err
				}
				return tx.Journal("probe.create", "upgrade_probe", id, nil, p)
			}))
		}
		old.Close()

		// The new release, whose migration declares the field.
		db, err := Open(ctx, dsn, quietOpts(Options{extraMigrations: []migration{create, declared}}))
		must(t, err)
		rep, err := db.VerifyJournal(ctx)
		must(t, err)
		if !rep.OK() {
			t.Fatalf("old after-images without the declared field were refused:%s", faultList(rep))
		}
		// The same data, had the migration not declared it: every old
		// after-image would mismatch, which is why the rule exists.
		db.Close()
		bare, err := Open(ctx, dsn, quietOpts(Options{extraMigrations: []migration{create, undeclared}}))
		must(t, err)
		rep, err = bare.VerifyJournal(ctx)
		must(t, err)
		if len(rep.Faults) != 2 || rep.Faults[0].Kind != FaultChanged || rep.Faults[0].Field != "colour" {
			t.Fatalf("without the declaration, want 2 faults on field colour:%s", faultList(rep))
		}
		bare.Close()

		db, err = Open(ctx, dsn, quietOpts(Options{extraMigrations: []migration{create, declared}}))
		must(t, err)
		defer db.Close()
		// A value other than the default, set outside Relais, is caught.
		if _, err := db.w.Exec(db.rebind("UPDATE upgrade_probe SET colour = 'red' WHERE id = ?"), ids[0]); err != nil {
			t.Fatal(err)
		}
		rep, err = db.VerifyJournal(ctx)
		must(t, err)
		if len(rep.Faults) != 1 || rep.Faults[0].EntityID != string(ids[0]) || rep.Faults[0].Field != "colour" ||
			!strings.Contains(rep.Faults[0].Reason, `"red"`) {
			t.Fatalf("a colour set outside Relais was not reported on the right row:%s", faultList(rep))
		}
		// Written through Relais after the upgrade, the field is in the
		// after-image and compared as any other.
		must(t, db.Write(actx, "probe.paint", func(tx *Tx) error {
			before, _ := load(tx, ids[0])
			if _, err := tx.Exec("UPDATE upgrade_probe SET colour = 'green' WHERE id = ?", ids[0]); err != nil {
				return err
			}
			after, err := load(tx, ids[0])
			if err != nil {
				return err
			}
			return tx.Journal("probe.paint", "upgrade_probe", ids[0], before, after)
		}))
		rep, err = db.VerifyJournal(ctx)
		must(t, err)
		if !rep.OK() {
			t.Fatalf("after a journaled change:%s", faultList(rep))
		}
	})
}

func TestClientLogRecordsVersions(t *testing.T) {
	ctx := context.Background()
	testdb.Each(t, func(t *testing.T, dsn string) {
		db, err := Open(ctx, dsn, quietOpts(Options{}))
		must(t, err)
		defer db.Close()
		l := NewClientLog(db)
		start := relais.Now().Add(-time.Second)
		l.Note("crisis-node-1", "0.9", "relais/0.9", true)
		l.Note("crisis-node-1", "0.9", "relais/0.9", true)
		l.Note("alice", "1.0", "Mozilla/5.0", false)
		must(t, l.Flush(ctx))
		l.Note("alice", "1.0", "Mozilla/5.0", false)
		must(t, l.Flush(ctx))
		cs, recorded, err := db.ClientsSince(ctx, start)
		must(t, err)
		if !recorded || len(cs) != 2 {
			t.Fatalf("clients %+v recorded %v", cs, recorded)
		}
		sort.Slice(cs, func(i, j int) bool { return cs[i].ID < cs[j].ID })
		if cs[0].ID != "alice" || cs[0].Requests != 2 || cs[0].Refused != 0 || cs[0].APIVersion != "1.0" {
			t.Errorf("alice: %+v", cs[0])
		}
		if cs[1].ID != "crisis-node-1" || cs[1].Requests != 2 || cs[1].Refused != 2 || cs[1].APIVersion != "0.9" {
			t.Errorf("crisis node: %+v", cs[1])
		}
		later, _, err := db.ClientsSince(ctx, relais.Now().Add(time.Hour))
		must(t, err)
		if len(later) != 0 {
			t.Errorf("clients seen in the future: %+v", later)
		}
		rep, err := db.Check(ctx)
		must(t, err)
		if !rep.OK() {
			t.Errorf("check after recording clients: %v", rep.Faults)
		}
	})
}
