package sqlstore

import (
	"context"
	"errors"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/journal"
)

// JournalEntries returns the entries of site's chain with seq > after, in
// order, at most limit of them (0: all).
func (db *DB) JournalEntries(ctx context.Context, site string, after int64, limit int) ([]journal.Entry, error) {
	q := "SELECT " + entryColumns + " FROM journal WHERE site = ? AND seq > ? ORDER BY seq"
	args := []any{site, after}
	if limit > 0 {
		q += " LIMIT ?"
		args = append(args, limit)
	}
	rows, err := db.r.QueryContext(ctx, db.rebind(q), args...)
	if err != nil {
		return nil, relais.E("journal.list", mapErr(err))
	}
	defer rows.Close()
	var out []journal.Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		if ie := (*imageError)(nil); errors.As(err, &ie) {
			return nil, relais.E("journal.list", relais.KindIntegrity, err)
		} else if err != nil {
			return nil, relais.E("journal.list", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// entityLoaders read an entity back as the journal's after-image describes
// it, by entity name; `relais audit verify` compares the two.
var entityLoaders = map[string]entityLoader{}

type entityLoader struct {
	table string // the table whose rows (by id column) this entity's entries describe
	load  func(tx *Tx, id relais.ID) (any, error)
}

// registerEntity declares how to read back an entity that the journal
// describes, and the table holding its rows (so that a row inserted outside
// Relais, which no entry describes, is found too). Each storage file
// registers its own entities in init.
func registerEntity(name, table string, load func(tx *Tx, id relais.ID) (any, error)) {
	if _, dup := entityLoaders[name]; dup {
		panic("sqlstore: entity registered twice: " + name)
	}
	entityLoaders[name] = entityLoader{table, load}
}

// LoadEntity reads entity/id back in its journal form. ok is false when no
// loader is registered for entity.
func (tx *Tx) LoadEntity(entity string, id relais.ID) (v any, ok bool, err error) {
	l, ok := entityLoaders[entity]
	if !ok {
		return nil, false, nil
	}
	v, err = l.load(tx, id)
	return v, true, err
}

func init() {
	registerEntity("user", "app_user", func(tx *Tx, id relais.ID) (any, error) { return userByID(tx, id) })
}

// entityAppliers write an entity's after-image back into its rows: the
// inverse of its loader. A standby node follows its site, reintegration
// replays a crisis node's work and another site copies shared patients by
// applying journal entries with them. The contract, checked by a test over
// a whole demo's journal: after apply(tx, id, after), the loader reads back
// exactly after.
var entityAppliers = map[string]func(tx *Tx, id relais.ID, after []byte) error{}

// registerApplier declares how to apply an entity's after-image.
func registerApplier(name string, apply func(tx *Tx, id relais.ID, after []byte) error) {
	if _, dup := entityAppliers[name]; dup {
		panic("sqlstore: applier registered twice: " + name)
	}
	entityAppliers[name] = apply
}
