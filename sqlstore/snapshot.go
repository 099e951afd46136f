package sqlstore

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/journal"
)

// Snapshots: one consistent copy of a whole database, taken while it
// serves. The continuity package wraps it in a signed, encrypted file; a
// standby node starts from one.
//
// Two payload formats:
//   - "sqlite": the database file itself, written by VACUUM INTO (SQLite
//     sources): restored to SQLite by writing the file back;
//   - "jsonl": a portable dump (PostgreSQL sources, or any source on
//     request), taken in one REPEATABLE READ read-only transaction: for each
//     table a line {"table":…,"columns":[…]} then one JSON array per row;
//     the last line is {"end":true,"tables":N,"rows":M}, so a truncated
//     dump is refused. Times are written as Relais writes them (UTC,
//     microseconds), dates as YYYY-MM-DD, booleans as true/false.
//
// Either restores into SQLite or PostgreSQL at the same schema version.

// Payload formats.
const (
	PayloadSQLite = "sqlite"
	PayloadJSONL  = "jsonl"
)

// SnapshotInfo describes a snapshot's content.
type SnapshotInfo struct {
	Site     string    `json:"site"`
	Engine   Engine    `json:"engine"`
	Schema   int       `json:"schema"`
	Payload  string    `json:"payload"`
	DataTime time.Time `json:"data_time"` // the moment the copy reflects
	Head     ChainHead `json:"head"`      // the site's chain in the copy
	Tables   int       `json:"tables,omitempty"`
	Rows     int64     `json:"rows,omitempty"`
}

// WriteSnapshot writes a consistent copy of the database to w, in the
// engine's natural format (sqlite for SQLite, jsonl for PostgreSQL), or in
// jsonl when portable is set.
func (db *DB) WriteSnapshot(ctx context.Context, w io.Writer, portable bool) (SnapshotInfo, error) {
	if db.Engine == SQLite && !portable {
		return db.writeSQLiteSnapshot(ctx, w)
	}
	return db.writeDump(ctx, w)
}

func (db *DB) writeSQLiteSnapshot(ctx context.Context, w io.Writer) (SnapshotInfo, error) {
	const op = "snapshot.create"
	info := SnapshotInfo{Site: db.Site, Engine: SQLite, Payload: PayloadSQLite}
	dir, err := os.MkdirTemp("", "relais-snapshot-")
	if err != nil {
		return info, relais.E(op, err)
	}
	defer os.RemoveAll(dir)
	tmp := filepath.Join(dir, "copy.db")
	info.DataTime = relais.Now()
	schema, err := db.CurrentSchema(ctx)
	if err != nil {
		return info, relais.E(op, err)
	}
	if _, err := db.w.ExecContext(ctx, "VACUUM INTO ?", tmp); err != nil {
		return info, relais.E(op, "VACUUM INTO failed", mapErr(err))
	}
	// Opened writable: SQLite cannot open a WAL database read-only without
	// its -shm file. Nothing is written but the journal mode.
	// Held at the source's schema: a newer binary snapshotting an older
	// database must not upgrade the copy.
	cp, err := Open(ctx, "sqlite:"+tmp, Options{Log: db.Log, MigrateTo: schema})
	if err != nil {
		return info, relais.E(op, err)
	}
	info.Schema, err = cp.CurrentSchema(ctx)
	if err == nil {
		info.Head, err = cp.Head(ctx, db.Site)
	}
	cp.Close()
	if err != nil {
		return info, relais.E(op, err)
	}
	f, err := os.Open(tmp)
	if err != nil {
		return info, relais.E(op, err)
	}
	defer f.Close()
	if _, err := io.Copy(w, f); err != nil {
		return info, relais.E(op, err)
	}
	return info, nil
}

// dumpHeader and dumpEnd frame a jsonl dump.
type dumpHeader struct {
	Table   string   `json:"table,omitempty"`
	Columns []string `json:"columns,omitempty"`
	End     bool     `json:"end,omitempty"`
	Tables  int      `json:"tables,omitempty"`
	Rows    int64    `json:"rows,omitempty"`
	// First line only: what the dump is.
	Info *SnapshotInfo `json:"info,omitempty"`
}

// tablesOf lists the database's tables but the migration ledger, parents
// before the tables whose foreign keys name them (by name among equals).
// A dump written in that order restores with no foreign key pending: on
// SQLite, each row inserted into a parent table while a violation is
// pending scans the child tables, and a child column without an index of
// its own (preparation.line_id has only a partial one) made a restore
// quadratic, minutes for a small site and hours at the university
// hospital's scale.
func tablesOf(tx *Tx) ([]string, error) {
	q := "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
	fq := `SELECT m.name, f."table" FROM sqlite_master m, pragma_foreign_key_list(m.name) f WHERE m.type = 'table'`
	if tx.Engine() == Postgres {
		q = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name"
		fq = `SELECT c.relname, p.relname FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class p ON p.oid = k.confrelid
			WHERE k.contype = 'f' AND k.connamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())`
	}
	names, err := queryStrings(tx, q)
	if err != nil {
		return nil, err
	}
	out := names[:0]
	for _, n := range names {
		if n != "schema_migration" && identifier.MatchString(n) {
			out = append(out, n)
		}
	}
	rows, err := tx.Query(fq)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	parents := map[string][]string{}
	for rows.Next() {
		var child, parent string
		if err := rows.Scan(&child, &parent); err != nil {
			return nil, err
		}
		parents[child] = append(parents[child], parent)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return parentsFirst(out, parents), nil
}

// parentsFirst orders tables (given by name) so that each comes after the
// tables in parents[it]; a table's reference to itself is ignored, and a
// cycle, which the schema does not have, would keep its tables by name.
func parentsFirst(tables []string, parents map[string][]string) []string {
	placed := make(map[string]bool, len(tables))
	known := make(map[string]bool, len(tables))
	for _, t := range tables {
		known[t] = true
	}
	out := make([]string, 0, len(tables))
	for len(out) < len(tables) {
		progress := false
		for _, t := range tables {
			if placed[t] {
				continue
			}
			ready := true
			for _, p := range parents[t] {
				if p != t && known[p] && !placed[p] {
					ready = false
					break
				}
			}
			if ready {
				placed[t] = true
				out = append(out, t)
				progress = true
			}
		}
		if !progress { // a cycle: the rest by name
			for _, t := range tables {
				if !placed[t] {
					placed[t] = true
					out = append(out, t)
				}
			}
		}
	}
	return out
}

func (db *DB) writeDump(ctx context.Context, w io.Writer) (SnapshotInfo, error) {
	const op = "snapshot.dump"
	info := SnapshotInfo{Site: db.Site, Engine: db.Engine, Payload: PayloadJSONL}
	bw := bufio.NewWriterSize(w, 1<<16)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	err := db.snapshot(ctx, func(tx *Tx) error {
		info.DataTime = relais.Now()
		if err := tx.QueryRow("SELECT COALESCE(MAX(version), 0) FROM schema_migration").Scan(&info.Schema); err != nil {
			return mapErr(err)
		}
		var err error
		if info.Head, err = chainHead(tx, db.Site); err != nil {
			return err
		}
		tables, err := tablesOf(tx)
		if err != nil {
			return err
		}
		if err := enc.Encode(dumpHeader{Info: &info}); err != nil {
			return err
		}
		for _, t := range tables {
			n, err := dumpTable(tx, enc, t)
			if err != nil {
				return fmt.Errorf("table %s: %w", t, err)
			}
			info.Rows += n
			info.Tables++
		}
		return enc.Encode(dumpHeader{End: true, Tables: info.Tables, Rows: info.Rows})
	})
	if err != nil {
		return info, relais.E(op, err)
	}
	if err := bw.Flush(); err != nil {
		return info, relais.E(op, err)
	}
	return info, nil
}

func dumpTable(tx *Tx, enc *json.Encoder, table string) (int64, error) {
	rows, err := tx.Query("SELECT * FROM " + table)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	types, err := rows.ColumnTypes()
	if err != nil {
		return 0, err
	}
	if err := enc.Encode(dumpHeader{Table: table, Columns: cols}); err != nil {
		return 0, err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var n int64
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		out := make([]any, len(cols))
		for i, v := range vals {
			if b, ok := v.([]byte); ok && table == "journal" && (cols[i] == "before" || cols[i] == "after") {
				// A compressed image (journal_docs.go) goes into the dump as
				// its JSON: the dump is text, and any engine restores it.
				doc, err := loadImage(cols[i], b)
				if err != nil {
					return n, fmt.Errorf("journal row %d: %w", n+1, err)
				}
				v = []byte(doc)
			}
			out[i] = portableValue(v, types[i].DatabaseTypeName())
		}
		if err := enc.Encode(out); err != nil {
			return n, err
		}
		n++
	}
	return n, rows.Err()
}

// portableValue turns a scanned value into its dump form.
func portableValue(v any, dbType string) any {
	switch x := v.(type) {
	case time.Time:
		if strings.EqualFold(dbType, "DATE") {
			return x.Format(time.DateOnly)
		}
		return x.UTC().Format(journal.TimeFormat)
	case []byte:
		return string(x)
	}
	return v
}

// RestoreDump loads a jsonl dump into db, which must be at the dump's
// schema version; every table is emptied first, so the result is the dump
// exactly. It runs in one transaction: all or nothing. A dump written
// parents first (tablesOf; Relais's dumps since 2026-11-22) restores in
// time proportional to its rows; an older one, written by table name,
// restores the same rows, more slowly on SQLite.
func (db *DB) RestoreDump(ctx context.Context, r io.Reader) (SnapshotInfo, error) {
	const op = "snapshot.restore"
	var info SnapshotInfo
	dec := json.NewDecoder(bufio.NewReaderSize(r, 1<<16))
	dec.UseNumber()
	var first dumpHeader
	if err := dec.Decode(&first); err != nil || first.Info == nil {
		return info, relais.E(op, relais.KindInvalid, "this is not a Relais dump (its first line does not describe it)", err)
	}
	info = *first.Info
	cur, err := db.CurrentSchema(ctx)
	if err != nil {
		return info, err
	}
	if cur != info.Schema {
		return info, relais.E(op, relais.KindVersion, fmt.Sprintf(
			"the snapshot is at schema %d but this database is at schema %d: restore it with the Relais version that wrote it", info.Schema, cur))
	}
	err = db.rawWrite(ctx, op, func(tx *Tx) error {
		if tx.Engine() == Postgres {
			// Foreign keys and triggers are checked by the source already;
			// rows are loaded table by table in name order.
			if _, err := tx.Exec("SET LOCAL session_replication_role = replica"); err != nil {
				return relais.E(op, "restoring into PostgreSQL needs a role allowed to set session_replication_role (the database owner as superuser), or restore into SQLite", err)
			}
		} else if _, err := tx.Exec("PRAGMA defer_foreign_keys = ON"); err != nil {
			return err
		}
		// Every table is emptied first, children before their parents, so
		// that no row is left behind and no deletion waits on a child.
		all, err := tablesOf(tx)
		if err != nil {
			return err
		}
		for i := len(all) - 1; i >= 0; i-- {
			if _, err := tx.Exec("DELETE FROM " + all[i]); err != nil {
				return relais.E(op, fmt.Sprintf("emptying %s", all[i]), err)
			}
		}
		var tables int
		var rows int64
		var table string
		var cols []string
		var types map[string]string
		var insert *sql.Stmt
		defer func() {
			if insert != nil {
				insert.Close()
			}
		}()
		lines, stop := decodeLines(dec)
		defer stop()
		for {
			l := <-lines
			line, err := l.v, l.err
			if err != nil {
				if err == io.EOF {
					return relais.E(op, relais.KindIntegrity, "the dump ends before its last line: it is truncated")
				}
				return relais.E(op, relais.KindIntegrity, "the dump cannot be read", err)
			}
			vals, isRow := line.([]any)
			if !isRow {
				h, err := headerOf(line)
				if err != nil {
					return relais.E(op, relais.KindIntegrity, "a table line of the dump cannot be read", err)
				}
				if h.End {
					if h.Tables != tables || h.Rows != rows {
						return relais.E(op, relais.KindIntegrity, fmt.Sprintf("the dump says %d tables and %d rows but holds %d and %d", h.Tables, h.Rows, tables, rows))
					}
					return nil
				}
				if !identifier.MatchString(h.Table) || len(h.Columns) == 0 {
					return relais.E(op, relais.KindIntegrity, fmt.Sprintf("the dump names a bad table %q", h.Table))
				}
				for _, c := range h.Columns {
					if !identifier.MatchString(c) {
						return relais.E(op, relais.KindIntegrity, fmt.Sprintf("the dump names a bad column %q of %s", c, h.Table))
					}
				}
				table, cols = h.Table, h.Columns
				if types, err = columnTypes(tx, table); err != nil {
					return err
				}
				if len(types) == 0 {
					return relais.E(op, relais.KindVersion, fmt.Sprintf("the dump holds table %s, which this schema does not have", table))
				}
				if insert != nil {
					insert.Close()
				}
				q := "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES (" + placeholders(len(cols)) + ")"
				if insert, err = tx.tx.PrepareContext(tx.ctx, tx.db.rebind(q)); err != nil {
					return relais.E(op, fmt.Sprintf("the dump's columns of %s do not fit this schema", table), mapErr(err))
				}
				tables++
				continue
			}
			if table == "" {
				return relais.E(op, relais.KindIntegrity, "the dump has a row before any table")
			}
			if len(vals) != len(cols) {
				return relais.E(op, relais.KindIntegrity, fmt.Sprintf("a row of %s has %d values for %d columns", table, len(vals), len(cols)))
			}
			for i, v := range vals {
				if doc, ok := v.(string); ok && table == "journal" && (cols[i] == "before" || cols[i] == "after") {
					// An image goes back as the store keeps it: compressed
					// on SQLite (journal_docs.go), as dumpTable read it.
					vals[i] = db.storedImage(json.RawMessage(doc))
					continue
				}
				vals[i] = restoreValue(v, types[cols[i]], tx.Engine())
			}
			if _, err := insert.ExecContext(tx.ctx, vals...); err != nil {
				return relais.E(op, fmt.Sprintf("a row of %s cannot be written", table), mapErr(err))
			}
			rows++
		}
	})
	if err != nil {
		return info, err
	}
	// The site recorded in the copy is the database's site from now on.
	var site string
	if err := db.r.QueryRowContext(ctx, db.rebind("SELECT value FROM meta WHERE key = ?"), "site").Scan(&site); err == nil {
		db.Site = site
	}
	return info, nil
}

// dumpLine is one line of a dump, decoded, or the error that ended them.
type dumpLine struct {
	v   any
	err error
}

// decodeLines decodes a dump's lines on a goroutine of their own, ahead of
// the inserts (decoding JSON was half of a restore's time). One decoding
// per line: a row is an array, a table's line an object; numbers stay as
// written (UseNumber). The last line sent carries an error (io.EOF at the
// end); stop, called once, ends the goroutine early.
func decodeLines(dec *json.Decoder) (<-chan dumpLine, func()) {
	lines := make(chan dumpLine, 256)
	done := make(chan struct{})
	go func() {
		for {
			var l dumpLine
			l.err = dec.Decode(&l.v)
			select {
			case lines <- l:
			case <-done:
				return
			}
			if l.err != nil {
				return
			}
		}
	}()
	return lines, func() { close(done) }
}

// headerOf reads a table's line (or the end line) of a dump, decoded as
// any JSON value.
func headerOf(line any) (dumpHeader, error) {
	var h dumpHeader
	if _, ok := line.(map[string]any); !ok {
		return h, fmt.Errorf("a line is neither a table's nor a row")
	}
	b, err := json.Marshal(line)
	if err != nil {
		return h, err
	}
	return h, json.Unmarshal(b, &h)
}

// columnTypes returns table's columns and their declared types (lower case).
func columnTypes(tx *Tx, table string) (map[string]string, error) {
	out := map[string]string{}
	var rows *sql.Rows
	var err error
	if tx.Engine() == Postgres {
		rows, err = tx.Query("SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ?", table)
	} else {
		rows, err = tx.Query("SELECT name, type FROM pragma_table_info(?)", table)
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var n, t string
		if err := rows.Scan(&n, &t); err != nil {
			return nil, err
		}
		out[n] = strings.ToLower(t)
	}
	return out, rows.Err()
}

// restoreValue turns a dump value into an argument for a column of type t.
func restoreValue(v any, t string, engine Engine) any {
	switch x := v.(type) {
	case json.Number:
		if strings.Contains(t, "bool") {
			return x.String() != "0"
		}
		if i, err := x.Int64(); err == nil && !strings.ContainsAny(x.String(), ".eE") {
			return i
		}
		f, _ := x.Float64()
		return f
	case bool:
		if engine == SQLite || !strings.Contains(t, "bool") {
			if x {
				return 1
			}
			return 0
		}
		return x
	}
	return v
}

// SnapshotTables lists the tables of db and their row counts, for reports.
func (db *DB) SnapshotTables(ctx context.Context) (map[string]int64, error) {
	out := map[string]int64{}
	err := db.Read(ctx, func(tx *Tx) error {
		tables, err := tablesOf(tx)
		if err != nil {
			return err
		}
		for _, t := range tables {
			var n int64
			if err := tx.QueryRow("SELECT COUNT(*) FROM " + t).Scan(&n); err != nil {
				return err
			}
			out[t] = n
		}
		return nil
	})
	return out, err
}

// RestoreSnapshot restores a payload of the given format into a new
// database at dsn (a SQLite file that must not exist yet, or an empty
// PostgreSQL schema) and returns it open. The restored database is the
// source site's own: same site, same chain.
func RestoreSnapshot(ctx context.Context, payload io.Reader, format, dsn string, opts Options) (*DB, SnapshotInfo, error) {
	const op = "snapshot.restore"
	var info SnapshotInfo
	engine, path, err := ParseDSN(dsn)
	if err != nil {
		return nil, info, err
	}
	switch format {
	case PayloadSQLite:
		if engine == SQLite {
			if _, err := os.Stat(path); err == nil {
				return nil, info, relais.E(op, relais.KindConflict, fmt.Sprintf("%s already exists: restore into a new file", path))
			}
			if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
				return nil, info, relais.E(op, err)
			}
			if err := writeFileSync(path, payload); err != nil {
				return nil, info, relais.E(op, err)
			}
			db, err := Open(ctx, dsn, opts)
			if err != nil {
				os.Remove(path)
				return nil, info, err
			}
			info, err = db.describe(ctx, PayloadSQLite)
			return db, info, err
		}
		// SQLite payload into PostgreSQL: through a portable dump.
		dir, err := os.MkdirTemp("", "relais-restore-")
		if err != nil {
			return nil, info, relais.E(op, err)
		}
		defer os.RemoveAll(dir)
		tmp := filepath.Join(dir, "copy.db")
		if err := writeFileSync(tmp, payload); err != nil {
			return nil, info, relais.E(op, err)
		}
		src, err := Open(ctx, "sqlite:"+tmp, Options{Log: opts.Log, MigrateTo: opts.MigrateTo})
		if err != nil {
			return nil, info, err
		}
		defer src.Close()
		pr, pw := io.Pipe()
		go func() {
			_, err := src.WriteSnapshot(ctx, pw, true)
			pw.CloseWithError(err)
		}()
		return RestoreSnapshot(ctx, pr, PayloadJSONL, dsn, opts)
	case PayloadJSONL:
		br := bufio.NewReaderSize(payload, 1<<16)
		line, err := br.ReadBytes('\n')
		if err != nil {
			return nil, info, relais.E(op, relais.KindInvalid, "the dump is empty or unreadable", err)
		}
		var first dumpHeader
		if err := json.Unmarshal(line, &first); err != nil || first.Info == nil || first.Info.Site == "" {
			return nil, info, relais.E(op, relais.KindInvalid, "this is not a Relais dump (its first line does not describe it)")
		}
		if engine == SQLite {
			if _, err := os.Stat(path); err == nil {
				return nil, info, relais.E(op, relais.KindConflict, fmt.Sprintf("%s already exists: restore into a new file", path))
			}
		}
		o := opts
		o.Site = first.Info.Site
		db, err := Open(ctx, dsn, o)
		if err != nil {
			return nil, info, err
		}
		if info, err = db.RestoreDump(ctx, io.MultiReader(strings.NewReader(string(line)), br)); err != nil {
			db.Close()
			if engine == SQLite {
				for _, s := range []string{"", "-wal", "-shm"} {
					os.Remove(path + s)
				}
			}
			return nil, info, err
		}
		return db, info, nil
	}
	return nil, info, relais.E(op, relais.KindInvalid, fmt.Sprintf("unknown snapshot payload %q", format))
}

// describe returns what a restored database holds.
func (db *DB) describe(ctx context.Context, format string) (SnapshotInfo, error) {
	info := SnapshotInfo{Site: db.Site, Engine: db.Engine, Payload: format}
	var err error
	if info.Schema, err = db.CurrentSchema(ctx); err != nil {
		return info, err
	}
	info.Head, err = db.Head(ctx, db.Site)
	return info, err
}

func writeFileSync(path string, r io.Reader) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
