package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/relais-onco/relais"
)

// Recording production: the vials actually used (leftovers drawn from,
// new vials taken from stock lots), the volumes measured or masses weighed,
// the control against the tolerance, and the vials not emptied kept as
// leftovers — all in one transaction with the preparation's step.

func init() {
	registerEntity("tolerance", "drug_tolerance", func(tx *Tx, id relais.ID) (any, error) { return toleranceByID(tx, id) })
	registerEntity("pharmacy", "pharmacy", func(tx *Tx, id relais.ID) (any, error) { return pharmacyBySite(tx, string(id)) })
}

// RecordProduction records what the technician did for a preparation whose
// worksheet was issued.
func (db *DB) RecordProduction(ctx context.Context, id relais.ID, req relais.ProductionRequest) (relais.Preparation, error) {
	const op = "preparation.record"
	return db.changePreparation(ctx, op, relais.PermProductionPrepare, id, func(tx *Tx, p *relais.Preparation) error {
		// The step must be allowed before anything is drawn or taken.
		dry := *p
		if err := dry.RecordProduction(relais.ProductionRecord{}, tx.Actor(), tx.Now()); err != nil {
			return err
		}
		if len(req.Vials) == 0 {
			return relais.Invalid(op, "vials", "list the vials used: the leftover vials drawn from and the new vials with their lots")
		}
		if req.FinalVolumeML < 0 {
			return relais.Invalid(op, "final_volume_ml", "the final volume cannot be negative")
		}
		var vials []relais.UsedVial
		lotsOpened := map[relais.ID]int{}
		for i, in := range req.Vials {
			field := fmt.Sprintf("vials[%d]", i)
			v, err := usedVial(tx, *p, in, field)
			if err != nil {
				return err
			}
			if v.Leftover {
				if _, _, err := useLeftover(tx, in.LeftoverID, p.ID, v.VolumeML); err != nil {
					return relais.E(op, relais.Field(field+".leftover_id"), err)
				}
			} else {
				if _, err := takeVials(tx, in.LotID, 1); err != nil {
					return relais.E(op, relais.Field(field+".lot_id"), err)
				}
				lotsOpened[in.LotID]++
			}
			vials = append(vials, v)
		}
		tol, err := toleranceOf(tx, p.DrugID)
		if err != nil {
			return err
		}
		rec := relais.ProductionRecord{Vials: vials, FinalVolumeML: req.FinalVolumeML, Comment: strings.TrimSpace(req.Comment),
			Control: relais.ComputeControl(p.Dose, p.Unit, vials, tol), LeftoverIDs: []relais.ID{}}
		for i, in := range req.Leftovers {
			field := fmt.Sprintf("leftovers[%d]", i)
			if in.LotID == "" || lotsOpened[in.LotID] == 0 {
				return relais.Invalid(op, field+".lot_id", "a leftover recorded with a preparation comes from a new vial it opened: give that vial's lot_id")
			}
			lotsOpened[in.LotID]--
			in.OpenedAt = tx.Now()
			l, err := recordLeftover(tx, "leftover.record", in, p.ID)
			if err != nil {
				return relais.E(op, relais.Field(field), err)
			}
			rec.LeftoverIDs = append(rec.LeftoverIDs, l.ID)
		}
		return p.RecordProduction(rec, tx.Actor(), tx.Now())
	})
}

// usedVial reads the vial a measure was taken from and turns the measure
// into the drug drawn.
func usedVial(tx *Tx, p relais.Preparation, in relais.UsedVialInput, field string) (relais.UsedVial, error) {
	const op = "preparation.record"
	var v relais.UsedVial
	switch {
	case (in.LeftoverID == "") == (in.LotID == ""):
		return v, relais.Invalid(op, field, "give either the leftover vial drawn from (leftover_id) or the stock lot of a new vial (lot_id)")
	case in.LeftoverID != "":
		l, err := leftoverByID(tx, in.LeftoverID)
		if err != nil {
			return v, relais.E(op, relais.Field(field+".leftover_id"), err)
		}
		if l.DrugID != p.DrugID {
			return v, relais.Invalid(op, field+".leftover_id", "leftover vial %s is %s, not %s", in.LeftoverID, l.INN, p.INN)
		}
		prod, err := productByID(tx, l.ProductID)
		if err != nil {
			return v, err
		}
		v = relais.UsedVial{Leftover: true, LeftoverID: l.ID, LotID: l.StockLotID, ProductID: l.ProductID, Brand: l.Brand, UCD: prod.UCD,
			Lot: l.Lot, LotExpiry: l.LotExpiry, Concentration: l.Concentration, Unit: l.Unit, DensityGML: prod.DensityGML}
	default:
		lot, err := stockLotByID(tx, in.LotID)
		if err != nil {
			return v, relais.E(op, relais.Field(field+".lot_id"), err)
		}
		prod, err := productByID(tx, lot.ProductID)
		if err != nil {
			return v, err
		}
		if prod.DrugID != p.DrugID {
			return v, relais.Invalid(op, field+".lot_id", "lot %s is of %s, which is not %s", lot.Lot, prod.Brand, p.INN)
		}
		if prod.StrengthUnit != p.Unit || !(prod.Concentration > 0) {
			return v, relais.Invalid(op, field+".lot_id", "%s is not an injectable product in %s", prod.Brand, p.Unit)
		}
		v = relais.UsedVial{LotID: lot.ID, ProductID: prod.ID, Brand: prod.Brand, UCD: prod.UCD, Lot: lot.Lot, LotExpiry: lot.Expiry,
			Concentration: prod.Concentration, Unit: prod.StrengthUnit, DensityGML: prod.DensityGML}
		if err := relais.MeasureVial(&v, in, field); err != nil {
			return v, err
		}
		if prod.VolumeML > 0 && v.VolumeML > prod.VolumeML*1.05 {
			return v, relais.Invalid(op, field+".volume_ml", "%s mL is more than a vial of %s holds (%s mL)",
				fmtFloat(v.VolumeML), prod.Brand, fmtFloat(prod.VolumeML))
		}
		return v, nil
	}
	return v, relais.MeasureVial(&v, in, field)
}

func fmtFloat(v float64) string { return fmt.Sprintf("%g", v) }

const toleranceCols = "id, drug_id, inn, percent, updated_at, updated_by"

func toleranceByID(tx *Tx, id relais.ID) (relais.Tolerance, error) {
	var t relais.Tolerance
	err := tx.QueryRow("SELECT "+toleranceCols+" FROM drug_tolerance WHERE id = ?", id).Scan(&t.ID, &t.DrugID, &t.INN, &t.Percent,
		ScanTime(&t.UpdatedAt), &t.UpdatedBy)
	if err != nil {
		return t, relais.E("tolerance.get", "no tolerance for this drug", mapErr(err))
	}
	return t, nil
}

// toleranceOf is the drug's control tolerance, or the default.
func toleranceOf(tx *Tx, drugID relais.ID) (float64, error) {
	t, err := toleranceByID(tx, drugID)
	switch {
	case err == nil:
		return t.Percent, nil
	case relais.ErrorKind(err) == relais.KindNotFound:
		return relais.DefaultTolerancePercent, nil
	}
	return 0, err
}

// SetTolerance sets a drug's control tolerance, in percent.
func (db *DB) SetTolerance(ctx context.Context, drugID relais.ID, percent float64) (relais.Tolerance, error) {
	const op = "tolerance.set"
	if err := relais.ValidateTolerance("percent", percent); err != nil {
		return relais.Tolerance{}, err
	}
	var out relais.Tolerance
	err := db.Write(ctx, op, func(tx *Tx) error {
		if err := requirePerm(op, tx.Actor(), relais.PermProductionRelease); err != nil {
			return err
		}
		drug, err := drugByID(tx, drugID)
		if err != nil {
			return relais.E(op, relais.Field("drug_id"), err)
		}
		var before any
		if b, err := toleranceByID(tx, drugID); err == nil {
			before = b
			_, err = tx.Exec("UPDATE drug_tolerance SET percent = ?, updated_at = ?, updated_by = ? WHERE id = ?",
				percent, T(tx.Now()), tx.Actor().DisplayName(), drugID)
			if err != nil {
				return relais.E(op, err)
			}
		} else if relais.ErrorKind(err) == relais.KindNotFound {
			if _, err := tx.Exec("INSERT INTO drug_tolerance ("+toleranceCols+") VALUES (?, ?, ?, ?, ?, ?)",
				drugID, drugID, drug.INN, percent, T(tx.Now()), tx.Actor().DisplayName()); err != nil {
				return relais.E(op, err)
			}
		} else {
			return err
		}
		if out, err = toleranceByID(tx, drugID); err != nil {
			return err
		}
		return tx.Journal(op, "tolerance", drugID, before, out)
	})
	return out, err
}

func pharmacyBySite(tx *Tx, site string) (relais.Pharmacy, error) {
	var p relais.Pharmacy
	err := tx.QueryRow("SELECT id, name, address, phone, updated_at FROM pharmacy WHERE id = ?", site).Scan(&p.Site, &p.Name, &p.Address,
		&p.Phone, ScanTime(&p.UpdatedAt))
	if err != nil {
		if relais.ErrorKind(mapErr(err)) == relais.KindNotFound {
			return p, relais.E("pharmacy.get", relais.KindNotFound,
				"the pharmacy's name, address and telephone are not set: labels cannot be printed without them (PUT /api/v1/production/pharmacy)")
		}
		return p, relais.E("pharmacy.get", mapErr(err))
	}
	return p, nil
}

// Pharmacy returns the pharmacy (PUI) named on the documents.
func (db *DB) Pharmacy(ctx context.Context) (relais.Pharmacy, error) {
	var p relais.Pharmacy
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		p, err = pharmacyBySite(tx, tx.Site())
		return err
	})
	return p, err
}

// SetPharmacy sets the pharmacy's name, address and telephone.
func (db *DB) SetPharmacy(ctx context.Context, p relais.Pharmacy) (relais.Pharmacy, error) {
	const op = "pharmacy.set"
	p.Name, p.Address, p.Phone = strings.TrimSpace(p.Name), strings.TrimSpace(p.Address), strings.TrimSpace(p.Phone)
	if err := p.Validate(op); err != nil {
		return relais.Pharmacy{}, err
	}
	var out relais.Pharmacy
	err := db.Write(ctx, op, func(tx *Tx) error {
		if err := requirePerm(op, tx.Actor(), relais.PermCatalogueWrite); err != nil {
			return err
		}
		var before any
		b, err := pharmacyBySite(tx, tx.Site())
		switch {
		case err == nil:
			before = b
			_, err = tx.Exec("UPDATE pharmacy SET name = ?, address = ?, phone = ?, updated_at = ? WHERE id = ?", p.Name, p.Address, p.Phone, T(tx.Now()), tx.Site())
		case relais.ErrorKind(err) == relais.KindNotFound:
			_, err = tx.Exec("INSERT INTO pharmacy (id, name, address, phone, updated_at) VALUES (?, ?, ?, ?, ?)", tx.Site(), p.Name, p.Address, p.Phone, T(tx.Now()))
		}
		if err != nil {
			return relais.E(op, err)
		}
		if out, err = pharmacyBySite(tx, tx.Site()); err != nil {
			return err
		}
		return tx.Journal(op, "pharmacy", relais.ID(tx.Site()), before, out)
	})
	return out, err
}
