package sqlstore

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/relais-onco/relais"
)

// Hoods (isolators, biological safety cabinets) and the hood each
// compounded preparation is made in. Both are journaled: entity "hood"
// (table hood) and entity "hood_assignment" (table hood_assignment, keyed
// by the preparation's id).

func init() {
	registerEntity("hood", "hood", func(tx *Tx, id relais.ID) (any, error) { return hoodByID(tx, id) })
	registerEntity("hood_assignment", "hood_assignment", func(tx *Tx, id relais.ID) (any, error) { return hoodAssignmentByID(tx, id) })
	registerApplier("hood", applyHood)
	registerApplier("hood_assignment", applyHoodAssignment)
}

const hoodCols = "id, site, name, kind, active, comment, revision, created_at, updated_at"

func scanHood(sc interface{ Scan(...any) error }) (relais.Hood, error) {
	var h relais.Hood
	err := sc.Scan(&h.ID, &h.Site, &h.Name, &h.Kind, &h.Active, &h.Comment, &h.Revision, ScanTime(&h.CreatedAt), ScanTime(&h.UpdatedAt))
	return h, err
}

func hoodByID(tx *Tx, id relais.ID) (relais.Hood, error) {
	h, err := scanHood(tx.QueryRow("SELECT "+hoodCols+" FROM hood WHERE id = ?", id))
	if err != nil {
		if relais.ErrorKind(mapErr(err)) == relais.KindNotFound {
			return h, relais.E("hood.get", relais.KindNotFound, fmt.Sprintf("no hood %s", id))
		}
		return h, relais.E("hood.get", mapErr(err))
	}
	return h, nil
}

const hoodAssignmentCols = "id, hood_id, slot, reason, by_name, by_id, site, revision, created_at, updated_at"

func scanHoodAssignment(sc interface{ Scan(...any) error }) (relais.HoodAssignment, error) {
	var a relais.HoodAssignment
	err := sc.Scan(&a.ID, &a.HoodID, ScanTime(&a.Slot), &a.Reason, &a.By, &a.ByID, &a.Site, &a.Revision,
		ScanTime(&a.CreatedAt), ScanTime(&a.UpdatedAt))
	return a, err
}

func hoodAssignmentByID(tx *Tx, id relais.ID) (relais.HoodAssignment, error) {
	a, err := scanHoodAssignment(tx.QueryRow("SELECT "+hoodAssignmentCols+" FROM hood_assignment WHERE id = ?", id))
	if err != nil {
		if relais.ErrorKind(mapErr(err)) == relais.KindNotFound {
			return a, relais.E("hood.assignment", relais.KindNotFound, fmt.Sprintf("preparation %s is in no hood", id))
		}
		return a, relais.E("hood.assignment", mapErr(err))
	}
	return a, nil
}

func cleanHood(h relais.Hood) relais.Hood {
	h.Name = strings.Join(strings.Fields(h.Name), " ")
	h.Comment = strings.TrimSpace(h.Comment)
	return h
}

// CreateHood adds a hood to the site.
func (db *DB) CreateHood(ctx context.Context, h relais.Hood) (relais.Hood, error) {
	const op = "hood.create"
	h = cleanHood(h)
	if err := h.Validate(op); err != nil {
		return relais.Hood{}, err
	}
	var out relais.Hood
	err := db.Write(ctx, op, func(tx *Tx) error {
		if err := requirePerm(op, tx.Actor(), relais.PermCatalogueWrite); err != nil {
			return err
		}
		id := relais.NewID()
		_, err := tx.Exec("INSERT INTO hood ("+hoodCols+") VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)",
			id, tx.Site(), h.Name, h.Kind, h.Active, h.Comment, T(tx.Now()), T(tx.Now()))
		if relais.ErrorKind(err) == relais.KindConflict {
			return relais.E(op, relais.KindConflict, relais.Field("name"), fmt.Sprintf("a hood is already named %s: choose another name", h.Name))
		}
		if err != nil {
			return relais.E(op, err)
		}
		if out, err = hoodByID(tx, id); err != nil {
			return err
		}
		return tx.Journal(op, "hood", id, nil, out)
	})
	return out, err
}

// UpdateHood changes a hood's name, kind, active flag and comment.
func (db *DB) UpdateHood(ctx context.Context, h relais.Hood) (relais.Hood, error) {
	const op = "hood.update"
	h = cleanHood(h)
	if err := h.Validate(op); err != nil {
		return relais.Hood{}, err
	}
	var out relais.Hood
	err := db.Write(ctx, op, func(tx *Tx) error {
		if err := requirePerm(op, tx.Actor(), relais.PermCatalogueWrite); err != nil {
			return err
		}
		before, err := hoodByID(tx, h.ID)
		if err != nil {
			return relais.E(op, err)
		}
		if before.Site != tx.Site() {
			return relais.E(op, relais.KindForbidden, fmt.Sprintf("hood %s belongs to %s: only that site manages it", before.Name, before.Site))
		}
		if h.Revision != before.Revision {
			return staleError(op, "hood", h.Revision, before.Revision)
		}
		_, err = tx.Exec("UPDATE hood SET name = ?, kind = ?, active = ?, comment = ?, revision = revision + 1, updated_at = ? WHERE id = ? AND revision = ?",
			h.Name, h.Kind, h.Active, h.Comment, T(tx.Now()), h.ID, h.Revision)
		if relais.ErrorKind(err) == relais.KindConflict {
			return relais.E(op, relais.KindConflict, relais.Field("name"), fmt.Sprintf("a hood is already named %s: choose another name", h.Name))
		}
		if err != nil {
			return relais.E(op, err)
		}
		if out, err = hoodByID(tx, h.ID); err != nil {
			return err
		}
		return tx.Journal(op, "hood", h.ID, before, out)
	})
	return out, err
}

// Hood returns one hood.
func (db *DB) Hood(ctx context.Context, id relais.ID) (relais.Hood, error) {
	var out relais.Hood
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		out, err = hoodByID(tx, id)
		return err
	})
	return out, err
}

// Hoods lists the site's hoods: active first, then by name.
func (db *DB) Hoods(ctx context.Context) ([]relais.Hood, error) {
	out := []relais.Hood{}
	err := db.Read(ctx, func(tx *Tx) error {
		rows, err := tx.Query("SELECT "+hoodCols+" FROM hood WHERE site = ?", tx.Site())
		if err != nil {
			return relais.E("hood.list", err)
		}
		defer rows.Close()
		for rows.Next() {
			h, err := scanHood(rows)
			if err != nil {
				return relais.E("hood.list", err)
			}
			out = append(out, h)
		}
		return rows.Err()
	})
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Active != out[j].Active {
			return out[i].Active
		}
		return out[i].Name < out[j].Name
	})
	return out, err
}

// AssignHood puts a compounded preparation, not yet made, in an active hood
// of the site. Moving it from another hood needs a reason; assigning it
// again to the same hood only changes its planned slot.
func (db *DB) AssignHood(ctx context.Context, prepID relais.ID, req relais.AssignHoodRequest) (relais.HoodAssignment, error) {
	const op = "preparation.assign_hood"
	req.Reason = strings.TrimSpace(req.Reason)
	if req.HoodID == "" {
		return relais.HoodAssignment{}, relais.Invalid(op, "hood_id", "choose the hood the preparation is made in")
	}
	var out relais.HoodAssignment
	err := db.Write(ctx, op, func(tx *Tx) error {
		a := tx.Actor()
		if err := requirePerm(op, a, relais.PermProductionPrepare); err != nil {
			return err
		}
		p, err := preparationByID(tx, prepID)
		if err != nil {
			return err
		}
		if err := p.CanAssignHood(); err != nil {
			return err
		}
		h, err := hoodByID(tx, req.HoodID)
		if relais.ErrorKind(err) == relais.KindNotFound {
			return relais.Invalid(op, "hood_id", "there is no hood %s: choose one from the list", req.HoodID)
		}
		if err != nil {
			return err
		}
		if h.Site != tx.Site() {
			return relais.Invalid(op, "hood_id", "hood %s belongs to %s, not to this site", h.Name, h.Site)
		}
		before, err := hoodAssignmentByID(tx, prepID)
		exists := err == nil
		if err != nil && relais.ErrorKind(err) != relais.KindNotFound {
			return err
		}
		moving := exists && before.HoodID != h.ID
		if !h.Active && (!exists || moving) {
			return relais.Invalid(op, "hood_id", "hood %s is out of service: choose an active hood", h.Name)
		}
		if moving && req.Reason == "" {
			return relais.Invalid(op, "reason", "preparation %s is planned in another hood: say why it moves", p.Display())
		}
		now := tx.Now()
		if !exists {
			_, err = tx.Exec("INSERT INTO hood_assignment ("+hoodAssignmentCols+") VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?)",
				prepID, h.ID, NT(req.Slot), req.Reason, a.DisplayName(), a.UserID, tx.Site(), T(now), T(now))
		} else {
			_, err = tx.Exec("UPDATE hood_assignment SET hood_id = ?, slot = ?, reason = ?, by_name = ?, by_id = ?, revision = revision + 1, updated_at = ? WHERE id = ?",
				h.ID, NT(req.Slot), req.Reason, a.DisplayName(), a.UserID, T(now), prepID)
		}
		if err != nil {
			return relais.E(op, err)
		}
		if out, err = hoodAssignmentByID(tx, prepID); err != nil {
			return err
		}
		if !exists {
			return tx.Journal(op, "hood_assignment", prepID, nil, out)
		}
		return tx.Journal(op, "hood_assignment", prepID, before, out)
	})
	return out, err
}

// HoodAssignments returns the assignments of the given preparations.
func (db *DB) HoodAssignments(ctx context.Context, ids []relais.ID) (map[relais.ID]relais.HoodAssignment, error) {
	out := map[relais.ID]relais.HoodAssignment{}
	if len(ids) == 0 {
		return out, nil
	}
	err := db.Read(ctx, func(tx *Tx) error {
		// In batches: SQLite limits the number of parameters of a query.
		for start := 0; start < len(ids); start += 500 {
			end := min(start+500, len(ids))
			args := make([]any, 0, end-start)
			for _, id := range ids[start:end] {
				args = append(args, id)
			}
			rows, err := tx.Query("SELECT "+hoodAssignmentCols+" FROM hood_assignment WHERE id IN ("+placeholders(len(args))+")", args...)
			if err != nil {
				return relais.E("hood.assignments", err)
			}
			for rows.Next() {
				a, err := scanHoodAssignment(rows)
				if err != nil {
					rows.Close()
					return relais.E("hood.assignments", err)
				}
				out[a.ID] = a
			}
			if err := rows.Close(); err != nil {
				return err
			}
			if err := rows.Err(); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

func applyHood(tx *Tx, id relais.ID, after []byte) error {
	var h relais.Hood
	if err := decodeImage("hood", id, after, &h); err != nil {
		return err
	}
	if err := checkImageID("hood", id, h.ID); err != nil {
		return err
	}
	return upsert(tx, "hood", []string{"id", "site", "name", "kind", "active", "comment", "revision", "created_at", "updated_at"},
		[]any{h.ID, h.Site, h.Name, h.Kind, h.Active, h.Comment, h.Revision, T(h.CreatedAt), T(h.UpdatedAt)})
}

func applyHoodAssignment(tx *Tx, id relais.ID, after []byte) error {
	var a relais.HoodAssignment
	if err := decodeImage("hood_assignment", id, after, &a); err != nil {
		return err
	}
	if err := checkImageID("hood_assignment", id, a.ID); err != nil {
		return err
	}
	return upsert(tx, "hood_assignment", []string{"id", "hood_id", "slot", "reason", "by_name", "by_id", "site", "revision", "created_at", "updated_at"},
		[]any{a.ID, a.HoodID, NT(a.Slot), a.Reason, a.By, a.ByID, a.Site, a.Revision, T(a.CreatedAt), T(a.UpdatedAt)})
}
