package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/journal"
)

// The migration runner. Each engine has its folder of NNNN_name.sql files
// (migrations/sqlite, migrations/postgres), applied in order and recorded in
// schema_migration.
//
// Every file declares, in a header comment, whether it is reversible:
//
//	-- relais: reversible (why)
//	-- relais: irreversible (why: what it changes or removes)
//
// Reversible means that undoing it is only removing what it added: no
// existing row or column is changed or removed, so restoring the
// pre-upgrade snapshot gives back exactly the data as it was. An
// irreversible migration rewrites or removes data: the pre-upgrade snapshot
// is then the only way back, and `relais upgrade check` says so before
// anything runs.
//
// A migration that adds a field to an entity the journal describes also
// declares it, with the value existing rows receive:
//
//	-- relais: adds ENTITY.FIELD = JSON
//
// e.g. `-- relais: adds note.visibility = "team"`. `relais audit verify`
// then accepts that field absent from an after-image written before the
// migration when the row holds exactly that value (see audit.go); any other
// value is reported as changed outside Relais.
//
// How migrations run (issue 11, seed 004):
//   - PostgreSQL: every pending migration in one transaction, under an
//     advisory lock (two servers starting together do not both migrate):
//     all of them or none.
//   - SQLite: one transaction per migration (SQLite's DDL is transactional,
//     but a long single transaction would hold the only writer for the whole
//     upgrade); the pre-upgrade snapshot (continuity/upgrade.go) is the way
//     back from a half-upgraded file. A migration that fails is rolled back
//     whole: the database stays at the previous version, which the
//     previous Relais opens.

// migration is one embedded schema step.
type migration struct {
	Version int
	Name    string
	SQL     string
	// Declared reports whether the file declares its reversibility.
	Declared   bool
	Reversible bool
	Reason     string       // the declaration's explanation
	Adds       []AddedField // fields it adds to journaled entities
}

// AddedField is a field a migration adds to an entity, with the value every
// existing row receives.
type AddedField struct {
	Entity  string
	Field   string
	Default json.RawMessage // canonical JSON
	Version int             // the migration that adds it
}

// MigrationInfo describes a migration for `relais upgrade check`.
type MigrationInfo struct {
	Version    int          `json:"version"`
	Name       string       `json:"name"`
	Declared   bool         `json:"declared"`
	Reversible bool         `json:"reversible"`
	Reason     string       `json:"reason,omitempty"`
	Adds       []AddedField `json:"adds,omitempty"`
}

func (m migration) info() MigrationInfo {
	return MigrationInfo{Version: m.Version, Name: m.Name, Declared: m.Declared, Reversible: m.Reversible, Reason: m.Reason, Adds: m.Adds}
}

// MigrationList returns the embedded migrations of engine, described.
func MigrationList(engine Engine) ([]MigrationInfo, error) {
	ms, err := Migrations(engine)
	if err != nil {
		return nil, err
	}
	out := make([]MigrationInfo, len(ms))
	for i, m := range ms {
		out[i] = m.info()
	}
	return out, nil
}

// parseHeader reads the "-- relais:" declarations of a migration's leading
// comment block. A malformed declaration is an error: a typo must not pass
// for "undeclared".
func parseHeader(m *migration) error {
	for _, line := range strings.Split(m.SQL, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if !strings.HasPrefix(line, "--") {
			break // the header ends at the first statement
		}
		rest, ok := strings.CutPrefix(strings.TrimSpace(strings.TrimPrefix(line, "--")), "relais:")
		if !ok {
			continue
		}
		rest = strings.TrimSpace(rest)
		word, arg, _ := strings.Cut(rest, " ")
		arg = strings.TrimSpace(arg)
		switch strings.TrimSuffix(word, ":") {
		case "reversible", "irreversible":
			if m.Declared {
				return fmt.Errorf("migration %s declares its reversibility twice", m.Name)
			}
			m.Declared = true
			m.Reversible = strings.TrimSuffix(word, ":") == "reversible"
			m.Reason = strings.TrimSuffix(strings.TrimPrefix(arg, "("), ")")
			if !m.Reversible && m.Reason == "" {
				return fmt.Errorf("migration %s is irreversible but says not why: write -- relais: irreversible (what it changes or removes)", m.Name)
			}
		case "adds":
			target, value, ok := strings.Cut(arg, "=")
			entity, field, ok2 := strings.Cut(strings.TrimSpace(target), ".")
			if !ok || !ok2 || entity == "" || field == "" {
				return fmt.Errorf("migration %s: write -- relais: adds ENTITY.FIELD = JSON, not %q", m.Name, line)
			}
			def, err := journal.Canonicalize(json.RawMessage(strings.TrimSpace(value)))
			if err != nil {
				return fmt.Errorf("migration %s: the default of %s.%s is not JSON: %v", m.Name, entity, field, err)
			}
			m.Adds = append(m.Adds, AddedField{Entity: entity, Field: field, Default: def, Version: m.Version})
		default:
			return fmt.Errorf("migration %s: unknown declaration %q (reversible, irreversible or adds)", m.Name, line)
		}
	}
	return nil
}

// Migrations lists the embedded migrations of engine, in order.
func Migrations(engine Engine) ([]migration, error) {
	dir := "migrations/" + string(engine)
	ents, err := fs.ReadDir(migrationsFS, dir)
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number and an underscore", name)
		}
		b, err := fs.ReadFile(migrationsFS, dir+"/"+name)
		if err != nil {
			return nil, err
		}
		m := migration{Version: v, Name: strings.TrimSuffix(name, ".sql"), SQL: string(b)}
		if err := parseHeader(&m); err != nil {
			return nil, err
		}
		ms = append(ms, m)
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration %s: versions must be 1, 2, 3… without gaps", m.Name)
		}
	}
	return ms, nil
}

// SchemaVersion is the schema version this binary brings a database to.
func SchemaVersion() int {
	ms, err := Migrations(SQLite)
	if err != nil {
		return 0
	}
	return len(ms)
}

// CurrentSchema returns the schema version recorded in the database (0 for a
// new one).
func (db *DB) CurrentSchema(ctx context.Context) (int, error) {
	var v sql.NullInt64
	err := db.r.QueryRowContext(ctx, "SELECT MAX(version) FROM schema_migration").Scan(&v)
	if err != nil {
		if isNoTable(err) {
			return 0, nil
		}
		return 0, relais.E("db.schema", mapErr(err))
	}
	return int(v.Int64), nil
}

// newerSchema is the refusal of a database newer than this binary.
func newerSchema(op string, cur, known int) error {
	return relais.E(op, relais.KindVersion, fmt.Sprintf(
		"the database is at schema version %d, newer than this Relais %s (schema %d): run the Relais version that wrote it, or upgrade this one",
		cur, relais.Version, known))
}

func (db *DB) migrate(ctx context.Context, opts Options) error {
	const op = "db.migrate"
	ms, err := Migrations(db.Engine)
	if err != nil {
		return relais.E(op, err)
	}
	for i, m := range opts.extraMigrations {
		m.Version = len(ms) + 1
		if m.Name == "" {
			m.Name = fmt.Sprintf("%04d_test_%d", m.Version, i)
		}
		if err := parseHeader(&m); err != nil {
			return relais.E(op, err)
		}
		ms = append(ms, m)
	}
	create := "CREATE TABLE IF NOT EXISTS schema_migration (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
	if _, err := db.w.ExecContext(ctx, create); err != nil {
		return relais.E(op, relais.KindUnavailable, err)
	}
	cur, err := db.CurrentSchema(ctx)
	if err != nil {
		return err
	}
	if cur > len(ms) {
		return newerSchema(op, cur, len(ms))
	}
	target := len(ms)
	if opts.MigrateTo > 0 && opts.MigrateTo < target {
		target = opts.MigrateTo
	}
	if cur >= target {
		return nil
	}
	pending := ms[cur:target]
	if db.Engine == Postgres {
		return db.migrateOneTx(ctx, pending)
	}
	for _, m := range pending {
		start := time.Now()
		tx, err := db.w.BeginTx(ctx, nil)
		if err != nil {
			return relais.E(op, err)
		}
		if err := db.applyMigration(ctx, tx, m); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return relais.E(op, fmt.Sprintf("migration %s could not be committed; the database is at schema %d", m.Name, m.Version-1), err)
		}
		db.Log.Info("migrated", "migration", m.Name, "took", time.Since(start))
	}
	return nil
}

// migrateOneTx applies every pending migration of a PostgreSQL database in
// one transaction.
func (db *DB) migrateOneTx(ctx context.Context, pending []migration) error {
	const op = "db.migrate"
	start := time.Now()
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return relais.E(op, err)
	}
	defer tx.Rollback()
	// Two servers started together: the second waits here, then finds
	// nothing left to do.
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(7265646973)"); err != nil {
		return relais.E(op, err)
	}
	var v sql.NullInt64
	if err := tx.QueryRowContext(ctx, "SELECT MAX(version) FROM schema_migration").Scan(&v); err != nil {
		return relais.E(op, err)
	}
	var todo []migration
	for _, m := range pending {
		if m.Version > int(v.Int64) {
			todo = append(todo, m)
		}
	}
	for _, m := range todo {
		if err := db.applyMigration(ctx, tx, m); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return relais.E(op, "the migrations could not be committed; the database is unchanged", err)
	}
	for _, m := range todo {
		db.Log.Info("migrated", "migration", m.Name)
	}
	if len(todo) > 0 {
		db.Log.Info("migrations committed together", "count", len(todo), "took", time.Since(start))
	}
	return nil
}

func (db *DB) applyMigration(ctx context.Context, tx *sql.Tx, m migration) error {
	const op = "db.migrate"
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return relais.E(op, fmt.Sprintf("migration %s failed; the database is unchanged, still at schema %d, and the previous Relais still opens it", m.Name, m.Version-1), err)
	}
	if _, err := tx.ExecContext(ctx, db.rebind("INSERT INTO schema_migration (version, name, applied_at) VALUES (?, ?, ?)"),
		m.Version, m.Name, relais.Now().Format(journal.TimeFormat)); err != nil {
		return relais.E(op, err)
	}
	return nil
}

// embeddedAdds caches, per engine, the fields the embedded migrations add.
var embeddedAdds sync.Map

// addedFields lists every field the migrations of this database's engine
// (the embedded ones and any a test injected) declare added, by entity.
func (db *DB) addedFields() map[string][]AddedField {
	if len(db.extra) == 0 {
		if v, ok := embeddedAdds.Load(db.Engine); ok {
			return v.(map[string][]AddedField)
		}
	}
	out := map[string][]AddedField{}
	ms, err := Migrations(db.Engine)
	if err != nil {
		return out
	}
	defer func() {
		if len(db.extra) == 0 {
			embeddedAdds.Store(db.Engine, out)
		}
	}()
	for i, m := range db.extra {
		m.Version = len(ms) + 1 + i
		m.Adds = nil
		if parseHeader(&m) == nil {
			ms = append(ms, m)
		}
	}
	for _, m := range ms {
		for _, a := range m.Adds {
			out[a.Entity] = append(out[a.Entity], a)
		}
	}
	return out
}

// AppendMigrationsForTest returns o with migrations appended after the
// embedded ones, numbered from the next version, each SQL text with its
// "-- relais:" header. Tests of other packages use it to make an upgrade
// fail on purpose half-way; production code never calls it.
func AppendMigrationsForTest(o Options, sqls ...string) Options {
	for i, s := range sqls {
		o.extraMigrations = append(o.extraMigrations, migration{Name: fmt.Sprintf("9%03d_test_migration", i), SQL: s})
	}
	return o
}
