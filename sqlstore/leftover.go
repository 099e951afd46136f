package sqlstore

import (
	"context"
	"fmt"
	"math"
	"sort"

	"github.com/relais-onco/relais"
)

// Leftover vials (reliquats). A leftover and its draws are one journal
// entity: every change journals the vial as leftoverByID reads it, draws
// included, so that what was taken from it, by which preparation, can be
// read back from the journal alone.

func init() {
	registerEntity("leftover_vial", "leftover_vial", func(tx *Tx, id relais.ID) (any, error) { return leftoverByID(tx, id) })
}

const leftoverCols = `id, site, drug_id, inn, product_id, brand, stock_lot_id, lot, lot_expiry, unit, concentration, initial_quantity,
	initial_volume_ml, remaining_quantity, remaining_volume_ml, opened_at, storage, condition, stability_hours, stability_source,
	expiry, status, source_preparation_id, discard, recorded_by, recorded_by_id, created_at, updated_at`

func scanLeftover(sc interface{ Scan(...any) error }) (relais.LeftoverVial, error) {
	var l relais.LeftoverVial
	var discard string
	err := sc.Scan(&l.ID, &l.Site, &l.DrugID, &l.INN, &l.ProductID, &l.Brand, &l.StockLotID, &l.Lot, scanDate(&l.LotExpiry), &l.Unit,
		&l.Concentration, &l.InitialQuantity, &l.InitialVolumeML, &l.RemainingQuantity, &l.RemainingVolumeML, ScanTime(&l.OpenedAt),
		&l.Storage, &l.Condition, &l.StabilityHours, &l.StabilitySource, ScanTime(&l.Expiry), &l.Status, &l.SourcePreparationID,
		&discard, &l.RecordedBy, &l.RecordedByID, ScanTime(&l.CreatedAt), ScanTime(&l.UpdatedAt))
	if err != nil {
		return l, err
	}
	if err := fromJSONText(discard, &l.Discard); err != nil {
		return l, relais.E(relais.KindIntegrity, fmt.Sprintf("leftover vial %s cannot be read", l.ID), err)
	}
	return l, nil
}

func leftoverUses(tx *Tx, id relais.ID) ([]relais.LeftoverUse, error) {
	rows, err := tx.Query("SELECT id, preparation_id, quantity, volume_ml, used_at, by_name FROM leftover_use WHERE leftover_id = ? ORDER BY used_at, id", id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []relais.LeftoverUse{}
	for rows.Next() {
		var u relais.LeftoverUse
		if err := rows.Scan(&u.ID, &u.PreparationID, &u.Quantity, &u.VolumeML, ScanTime(&u.At), &u.By); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

func leftoverByID(tx *Tx, id relais.ID) (relais.LeftoverVial, error) {
	l, err := scanLeftover(tx.QueryRow("SELECT "+leftoverCols+" FROM leftover_vial WHERE id = ?", id))
	if err != nil {
		if relais.ErrorKind(mapErr(err)) == relais.KindNotFound {
			return l, relais.E("leftover.get", relais.KindNotFound, fmt.Sprintf("no leftover vial %s", id))
		}
		return l, relais.E("leftover.get", mapErr(err))
	}
	if l.Uses, err = leftoverUses(tx, id); err != nil {
		return l, relais.E("leftover.get", err)
	}
	return l, nil
}

// leftoversOf lists a drug's leftovers (all drugs when drugID is empty),
// only those still in the isolator when inIsolator, earliest expiry first.
func leftoversOf(tx *Tx, drugID relais.ID, inIsolator bool) ([]relais.LeftoverVial, error) {
	q := "SELECT " + leftoverCols + " FROM leftover_vial WHERE site = ?"
	args := []any{tx.Site()}
	if drugID != "" {
		q, args = q+" AND drug_id = ?", append(args, drugID)
	}
	if inIsolator {
		q += " AND status IN ('open', 'partly_used', 'expired')"
	}
	rows, err := tx.Query(q+" ORDER BY expiry, opened_at, id", args...)
	if err != nil {
		return nil, err
	}
	var out []relais.LeftoverVial
	for rows.Next() {
		l, err := scanLeftover(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, l)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		if out[i].Uses, err = leftoverUses(tx, out[i].ID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func insertLeftover(tx *Tx, l *relais.LeftoverVial) error {
	discard, err := optJSON(l.Discard, l.Discard == nil)
	if err != nil {
		return err
	}
	_, err = tx.Exec("INSERT INTO leftover_vial ("+leftoverCols+") VALUES ("+placeholders(28)+")",
		l.ID, l.Site, l.DrugID, l.INN, l.ProductID, l.Brand, l.StockLotID, l.Lot, string(l.LotExpiry), l.Unit, l.Concentration,
		l.InitialQuantity, l.InitialVolumeML, l.RemainingQuantity, l.RemainingVolumeML, T(l.OpenedAt), l.Storage, l.Condition,
		l.StabilityHours, l.StabilitySource, T(l.Expiry), l.Status, l.SourcePreparationID, discard, l.RecordedBy, l.RecordedByID,
		T(l.CreatedAt), T(l.UpdatedAt))
	return err
}

func updateLeftover(tx *Tx, l *relais.LeftoverVial) error {
	discard, err := optJSON(l.Discard, l.Discard == nil)
	if err != nil {
		return err
	}
	_, err = tx.Exec(`UPDATE leftover_vial SET remaining_quantity = ?, remaining_volume_ml = ?, status = ?, discard = ?, updated_at = ?
		WHERE id = ?`, l.RemainingQuantity, l.RemainingVolumeML, l.Status, discard, T(l.UpdatedAt), l.ID)
	return err
}

// recordLeftover builds, writes and journals a leftover vial in tx.
func recordLeftover(tx *Tx, op string, in relais.LeftoverInput, sourcePrep relais.ID) (relais.LeftoverVial, error) {
	lotExpiry := in.LotExpiry
	if in.LotID != "" {
		lot, err := stockLotByID(tx, in.LotID)
		if err != nil {
			return relais.LeftoverVial{}, relais.E(op, relais.Field("lot_id"), err)
		}
		if in.ProductID != "" && in.ProductID != lot.ProductID {
			return relais.LeftoverVial{}, relais.Invalid(op, "product_id", "lot %s is of another product", lot.Lot)
		}
		in.ProductID, in.Lot, lotExpiry = lot.ProductID, lot.Lot, lot.Expiry
	}
	if in.ProductID == "" {
		return relais.LeftoverVial{}, relais.Invalid(op, "lot_id", "give the stock lot of the vial (lot_id), or its product, lot and lot expiry")
	}
	p, err := productByID(tx, in.ProductID)
	if err != nil {
		return relais.LeftoverVial{}, relais.E(op, relais.Field("product_id"), err)
	}
	drug, err := drugByID(tx, p.DrugID)
	if err != nil {
		return relais.LeftoverVial{}, err
	}
	l, err := relais.NewLeftover(in, p, drug, lotExpiry, tx.Actor(), tx.Now())
	if err != nil {
		return l, err
	}
	l.Site, l.SourcePreparationID = tx.Site(), sourcePrep
	if err := insertLeftover(tx, &l); err != nil {
		return l, relais.E(op, err)
	}
	after, err := leftoverByID(tx, l.ID)
	if err != nil {
		return after, err
	}
	return after, tx.Journal(op, "leftover_vial", l.ID, nil, after)
}

// useLeftover draws volume from a leftover for a preparation, in tx.
func useLeftover(tx *Tx, id, prepID relais.ID, volumeML float64) (relais.LeftoverVial, relais.LeftoverUse, error) {
	const op = "leftover.use"
	l, err := leftoverByID(tx, id)
	if err != nil {
		return l, relais.LeftoverUse{}, err
	}
	before := l
	u, err := l.Use(prepID, volumeML, tx.Actor(), tx.Now())
	if err != nil {
		return l, u, err
	}
	if _, err := tx.Exec("INSERT INTO leftover_use (id, leftover_id, preparation_id, quantity, volume_ml, used_at, by_name) VALUES (?, ?, ?, ?, ?, ?, ?)",
		u.ID, l.ID, prepID, u.Quantity, u.VolumeML, T(u.At), u.By); err != nil {
		return l, u, relais.E(op, err)
	}
	if err := updateLeftover(tx, &l); err != nil {
		return l, u, relais.E(op, err)
	}
	after, err := leftoverByID(tx, id)
	if err != nil {
		return after, u, err
	}
	return after, u, tx.Journal(op, "leftover_vial", id, before, after)
}

// RecordLeftover records a vial not emptied.
func (db *DB) RecordLeftover(ctx context.Context, in relais.LeftoverInput) (relais.LeftoverVial, error) {
	const op = "leftover.record"
	var out relais.LeftoverVial
	err := db.Write(ctx, op, func(tx *Tx) error {
		if err := requirePerm(op, tx.Actor(), relais.PermProductionPrepare); err != nil {
			return err
		}
		var err error
		out, err = recordLeftover(tx, op, in, "")
		return err
	})
	return out, err
}

// Leftover returns one leftover vial with its draws.
func (db *DB) Leftover(ctx context.Context, id relais.ID) (relais.LeftoverVial, error) {
	var l relais.LeftoverVial
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		l, err = leftoverByID(tx, id)
		return err
	})
	return l, err
}

// Leftovers lists leftover vials, marked expired when their expiry has
// passed now.
func (db *DB) Leftovers(ctx context.Context, f relais.LeftoverFilter) ([]relais.LeftoverItem, error) {
	out := []relais.LeftoverItem{}
	err := db.Read(ctx, func(tx *Tx) error {
		ls, err := leftoversOf(tx, f.DrugID, f.InIsolator)
		if err != nil {
			return relais.E("leftover.list", err)
		}
		for _, l := range ls {
			out = append(out, l.Item(tx.Now()))
		}
		return nil
	})
	return out, err
}

// DiscardLeftover throws a vial away, with a reason.
func (db *DB) DiscardLeftover(ctx context.Context, id relais.ID, reason string) (relais.LeftoverVial, error) {
	const op = "leftover.discard"
	var out relais.LeftoverVial
	err := db.Write(ctx, op, func(tx *Tx) error {
		if err := requirePerm(op, tx.Actor(), relais.PermProductionPrepare); err != nil {
			return err
		}
		l, err := leftoverByID(tx, id)
		if err != nil {
			return err
		}
		before := l
		if err := l.DiscardBy(reason, tx.Actor(), tx.Now()); err != nil {
			return err
		}
		if err := updateLeftover(tx, &l); err != nil {
			return relais.E(op, err)
		}
		if out, err = leftoverByID(tx, id); err != nil {
			return err
		}
		return tx.Journal(op, "leftover_vial", id, before, out)
	})
	return out, err
}

// IsolatorCheck moves the leftovers past their expiry to expired (each
// journaled) and lists every vial still in the isolator.
func (db *DB) IsolatorCheck(ctx context.Context) (relais.IsolatorCheck, error) {
	const op = "leftover.isolator_check"
	var out relais.IsolatorCheck
	err := db.Write(ctx, op, func(tx *Tx) error {
		if err := requirePerm(op, tx.Actor(), relais.PermProductionRead); err != nil {
			return err
		}
		now := tx.Now()
		out = relais.IsolatorCheck{At: now, ExpiredNow: []relais.ID{}, Items: []relais.LeftoverItem{}}
		ls, err := leftoversOf(tx, "", true)
		if err != nil {
			return relais.E(op, err)
		}
		for _, l := range ls {
			if (l.Status == relais.LeftoverOpen || l.Status == relais.LeftoverPartlyUsed) && !now.Before(l.Expiry) {
				before := l
				if err := l.Expire(now); err != nil {
					return err
				}
				if err := updateLeftover(tx, &l); err != nil {
					return relais.E(op, err)
				}
				after, err := leftoverByID(tx, l.ID)
				if err != nil {
					return err
				}
				if err := tx.Journal("leftover.expire", "leftover_vial", l.ID, before, after); err != nil {
					return err
				}
				l = after
				out.ExpiredNow = append(out.ExpiredNow, l.ID)
			}
			out.Items = append(out.Items, l.Item(now))
		}
		return nil
	})
	return out, err
}

// CheckLeftovers verifies the leftover vials: no negative quantity, what is
// left equal to what was opened less what was drawn, no draw at or after
// the expiry, and a used-up vial holding nothing. `relais check` calls it.
func (db *DB) CheckLeftovers(ctx context.Context) ([]relais.Fault, error) {
	var faults []relais.Fault
	add := func(check string, id relais.ID, format string, args ...any) {
		faults = append(faults, relais.Fault{Check: check, Entity: "leftover_vial", ID: string(id), Message: fmt.Sprintf(format, args...)})
	}
	err := db.Read(ctx, func(tx *Tx) error {
		ls, err := leftoversOf(tx, "", false)
		if err != nil {
			return err
		}
		for _, l := range ls {
			if l.RemainingQuantity < 0 || l.RemainingVolumeML < 0 {
				add("leftover.negative", l.ID, "leftover vial %s (%s, lot %s) holds a negative quantity (%v %s, %v mL)",
					l.ID, l.Brand, l.Lot, l.RemainingQuantity, l.Unit, l.RemainingVolumeML)
			}
			drawn := 0.0
			for _, u := range l.Uses {
				drawn += u.VolumeML
				if !u.At.Before(l.Expiry) {
					add("leftover.used_expired", l.ID, "leftover vial %s (%s, lot %s) was drawn from at %s by preparation %s, after its expiry at %s",
						l.ID, l.Brand, l.Lot, u.At.In(relais.DisplayZone).Format("02/01/2006 15:04"), u.PreparationID,
						l.Expiry.In(relais.DisplayZone).Format("02/01/2006 15:04"))
				}
			}
			if math.Abs(l.InitialVolumeML-drawn-l.RemainingVolumeML) > 0.005 {
				add("leftover.balance", l.ID, "leftover vial %s: %v mL opened − %v mL drawn ≠ %v mL left", l.ID, l.InitialVolumeML, drawn, l.RemainingVolumeML)
			}
			if l.Status == relais.LeftoverUsedUp && l.RemainingVolumeML != 0 {
				add("leftover.used_up", l.ID, "leftover vial %s is used up but holds %v mL", l.ID, l.RemainingVolumeML)
			}
		}
		return nil
	})
	return sortFaults(faults), err
}

func sortFaults(fs []relais.Fault) []relais.Fault {
	sort.SliceStable(fs, func(i, j int) bool {
		if fs[i].Check != fs[j].Check {
			return fs[i].Check < fs[j].Check
		}
		return fs[i].ID < fs[j].ID
	})
	if fs == nil {
		fs = []relais.Fault{}
	}
	return fs
}
