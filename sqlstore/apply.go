package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/journal"
)

// Appliers: the inverse of the entity loaders. An applier writes an
// entity's rows from its journal after-image, so that the loader then reads
// back exactly that image. Standby nodes (a faithful copy of their site),
// reintegration (a crisis node's work brought back) and replication between
// sites all go through them.
//
// Rules every applier follows:
//   - upsert by id: applying the same image twice changes nothing, so a
//     replay interrupted half-way can simply be run again;
//   - children read with the entity (a prescription's lines, a patient's
//     allergies and former IPPs) are made to match the image: missing ones
//     are written, ones the image no longer lists are removed;
//   - columns the image does not carry (a password hash, a token's hash, a
//     passkey's WebAuthn record) keep their value on update; on insert they
//     get a value that can never be mistaken for a real secret, so a copy
//     never signs anyone in with a secret it was never given;
//   - derived rows (patient search tokens, sort names) are derived again.
//
// An after-image of null means the entity is gone: only passkeys are ever
// removed; for every other entity a null image is refused, since Relais
// never deletes them (cancelling and voiding are transitions).

// ApplyAfter writes entity id's after-image into the database in tx. It is
// the one entry point of the appliers.
func ApplyAfter(tx *Tx, entity string, id relais.ID, after []byte) error {
	apply, ok := entityAppliers[entity]
	if !ok {
		return relais.E("journal.apply", relais.KindInvalid, fmt.Sprintf("no applier for entity %q: this Relais cannot replay it", entity))
	}
	if err := apply(tx, id, after); err != nil {
		return relais.E("journal.apply", fmt.Sprintf("applying %s %s", entity, id), err)
	}
	return nil
}

// EntitiesWithoutApplier lists the registered entities that have a loader
// but no applier: a standby or a reintegration cannot reproduce them. The
// contract test fails while it is not empty.
func EntitiesWithoutApplier() []string {
	var out []string
	for name := range entityLoaders {
		if _, ok := entityAppliers[name]; !ok {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// isNull reports whether an after-image says the entity is gone.
func isNull(after []byte) bool {
	s := strings.TrimSpace(string(after))
	return s == "" || s == "null"
}

// decodeImage reads an after-image into v, refusing a null one for
// entities that are never deleted.
func decodeImage(entity string, id relais.ID, after []byte, v any) error {
	if isNull(after) {
		return relais.E(relais.KindIntegrity, fmt.Sprintf("%s %s: the after-image is null, but a %s is never deleted", entity, id, entity))
	}
	if err := json.Unmarshal(after, v); err != nil {
		return relais.E(relais.KindIntegrity, fmt.Sprintf("%s %s: the after-image cannot be read", entity, id), err)
	}
	return nil
}

// checkImageID refuses an image whose id is not the entry's entity id.
func checkImageID(entity string, id, got relais.ID) error {
	if id != got {
		return relais.E(relais.KindIntegrity, fmt.Sprintf("%s %s: the after-image describes %s", entity, id, got))
	}
	return nil
}

// upsert writes one row keyed by its first column: inserted when missing,
// else every column updated but those named in insertOnly (the columns the
// image does not carry).
func upsert(tx *Tx, table string, cols []string, vals []any, insertOnly ...string) error {
	if len(cols) != len(vals) {
		return fmt.Errorf("sqlstore: upsert %s: %d columns, %d values", table, len(cols), len(vals))
	}
	skip := map[string]bool{cols[0]: true}
	for _, c := range insertOnly {
		skip[c] = true
	}
	var set []string
	for _, c := range cols {
		if !skip[c] {
			set = append(set, c+" = excluded."+c)
		}
	}
	q := "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES (" + placeholders(len(cols)) + ") ON CONFLICT (" + cols[0] + ")"
	if len(set) == 0 {
		q += " DO NOTHING"
	} else {
		q += " DO UPDATE SET " + strings.Join(set, ", ")
	}
	_, err := tx.execCached(q, vals...)
	return err
}

// Statement caches: replaying thousands of entries in one transaction
// prepares the same few upserts again and again; parsing SQL was a fifth of
// a large reintegration's time. A cache lives for one transaction (its
// statements close with it) and only where cacheStatements was called.
var txStmtCaches sync.Map // *Tx → map[string]*sql.Stmt

// cacheStatements makes tx reuse its prepared upserts until the returned
// function is called (before tx ends).
func (tx *Tx) cacheStatements() func() {
	txStmtCaches.Store(tx, map[string]*sql.Stmt{})
	return func() { txStmtCaches.Delete(tx) }
}

func (tx *Tx) execCached(q string, args ...any) (sql.Result, error) {
	c, ok := txStmtCaches.Load(tx)
	if !ok {
		return tx.Exec(q, args...)
	}
	cache := c.(map[string]*sql.Stmt)
	st, ok := cache[q]
	if !ok {
		var err error
		if st, err = tx.tx.PrepareContext(tx.ctx, tx.db.rebind(q)); err != nil {
			return nil, mapErr(err)
		}
		cache[q] = st
	}
	res, err := st.ExecContext(tx.ctx, args...)
	return res, mapErr(err)
}

// nullID is an optional reference column: "" is NULL.
func nullID(id relais.ID) any { return nullString(string(id)) }

// voidArgs are the voided_* columns of a voiding (all NULL when none).
func voidArgs(v *relais.Voiding) []any {
	if v == nil {
		return []any{nil, nil, nil, nil, nil}
	}
	return []any{string(v.By.UserID), v.By.Name, string(v.By.Role), T(v.At), v.Reason}
}

// removeMissing deletes the rows of table whose parent column is parent and
// whose key is not in keep: children the image no longer lists.
func removeMissing(tx *Tx, table, parentCol string, parent relais.ID, keyCol string, keep []string) error {
	q := "DELETE FROM " + table + " WHERE " + parentCol + " = ?"
	args := []any{parent}
	if len(keep) > 0 {
		q += " AND " + keyCol + " NOT IN (" + placeholders(len(keep)) + ")"
		args = append(args, stringArgs(keep)...)
	}
	_, err := tx.Exec(q, args...)
	return err
}

// RegisteredEntities lists the entities Relais can read back, by name.
func RegisteredEntities() []string {
	out := make([]string, 0, len(entityLoaders))
	for name := range entityLoaders {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// LoadEntityJSON reads entity id back in its canonical journal form: the
// bytes its next entry's before-image would carry. Reintegration compares
// them with a crisis entry's before-image.
func (db *DB) LoadEntityJSON(ctx context.Context, entity string, id relais.ID) (json.RawMessage, error) {
	var out json.RawMessage
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		out, err = loadEntityJSON(tx, entity, id)
		return err
	})
	return out, err
}

func loadEntityJSON(tx *Tx, entity string, id relais.ID) (json.RawMessage, error) {
	v, ok, err := tx.LoadEntity(entity, id)
	if !ok {
		return nil, relais.E("journal.load", relais.KindInvalid, fmt.Sprintf("no loader for entity %q", entity))
	}
	if err != nil {
		return nil, err
	}
	return journal.Marshal(v)
}
