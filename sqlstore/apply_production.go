package sqlstore

import (
	"fmt"
	"strings"

	"github.com/relais-onco/relais"
)

// Appliers of pharmacy production: preparations, the register, leftover
// vials (with their draws), stock lots, tolerances, the pharmacy, delivery
// slips (with their items), administrations and billing lines. Each writes
// the columns its loader reads (the loader's column list is reused, so the
// two cannot drift apart).
//
// The register's guard (no renumbering, a closed entry changes only by
// annotation) holds here too: an image that would renumber or reopen an
// entry is refused by the database, as it would be for any other writer.

func init() {
	registerApplier("preparation", applyPreparation)
	registerApplier("register_entry", applyRegisterEntry)
	registerApplier("leftover_vial", applyLeftover)
	registerApplier("stock_lot", applyStockLot)
	registerApplier("tolerance", applyTolerance)
	registerApplier("pharmacy", applyPharmacy)
	registerApplier("delivery_slip", applySlip)
	registerApplier("administration", applyAdministration)
	registerApplier("billing_line", applyBillingLine)
}

// columns splits a loader's column list.
func columns(list string) []string {
	parts := strings.Split(list, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

func applyPreparation(tx *Tx, id relais.ID, after []byte) error {
	var p relais.Preparation
	if err := decodeImage("preparation", id, after, &p); err != nil {
		return err
	}
	if err := checkImageID("preparation", id, p.ID); err != nil {
		return err
	}
	docs, err := preparationDocs(&p)
	if err != nil {
		return err
	}
	args := []any{p.ID, p.Site, p.PrescriptionID, p.LineID, p.PatientID, p.DrugID, p.INN, p.Route, p.LineKind, p.Mode, p.ModeReason,
		p.Dose, p.Unit, string(p.AdministrationDate), p.Status, docs[0], p.RegisterNumber}
	args = append(args, docs[1:]...)
	args = append(args, p.IndicationCode, p.Replaces, NT(p.Expiry), p.Storage, T(p.CreatedAt), T(p.UpdatedAt))
	return upsert(tx, "preparation", columns(preparationCols), args)
}

func applyRegisterEntry(tx *Tx, id relais.ID, after []byte) error {
	var e relais.RegisterEntry
	if err := decodeImage("register_entry", id, after, &e); err != nil {
		return err
	}
	if err := checkImageID("register_entry", id, e.ID); err != nil {
		return err
	}
	if e.Annotations == nil {
		e.Annotations = []relais.Annotation{}
	}
	ann, err := jsonText(e.Annotations)
	if err != nil {
		return err
	}
	// A number is written once: the columns that make it are never in the
	// update (SQLite's guard fires on their mere mention), and an image
	// that would renumber an entry is refused.
	if err := upsert(tx, "register_entry", columns(registerCols), []any{e.ID, e.Site, e.Year, e.Seq, e.Number, e.Kind, e.PreparationID,
		e.PatientID, e.INN, e.Dose, e.Unit, e.Status, T(e.IssuedAt), e.IssuedBy, e.Reason, ann, T(e.UpdatedAt), e.PreparedFor},
		"site", "year", "seq", "number"); err != nil {
		return err
	}
	var site, number string
	var year, seq int
	if err := tx.QueryRow("SELECT site, year, seq, number FROM register_entry WHERE id = ?", id).Scan(&site, &year, &seq, &number); err != nil {
		return mapErr(err)
	}
	if site != e.Site || year != e.Year || seq != e.Seq || number != e.Number {
		return relais.E(relais.KindConflict, fmt.Sprintf("register entry %s is number %s of %s here; the image would make it %s of %s: register numbers cannot change",
			id, number, site, e.Number, e.Site))
	}
	// The counter is not an entity of its own: a copy keeps it at the last
	// number it holds, so that a number it gives is never one already given.
	return raiseCounter(tx, "register_counter", e.Site, e.Year, e.Seq)
}

// raiseCounter brings a numbering counter up to seq (never down).
func raiseCounter(tx *Tx, table, site string, year, seq int) error {
	_, err := tx.Exec("INSERT INTO "+table+` (site, year, last_seq) VALUES (?, ?, ?) ON CONFLICT (site, year) DO UPDATE
		SET last_seq = CASE WHEN excluded.last_seq > `+table+`.last_seq THEN excluded.last_seq ELSE `+table+`.last_seq END`, site, year, seq)
	return err
}

// applyLeftover writes the vial and makes its draws match the image.
func applyLeftover(tx *Tx, id relais.ID, after []byte) error {
	var l relais.LeftoverVial
	if err := decodeImage("leftover_vial", id, after, &l); err != nil {
		return err
	}
	if err := checkImageID("leftover_vial", id, l.ID); err != nil {
		return err
	}
	discard, err := optJSON(l.Discard, l.Discard == nil)
	if err != nil {
		return err
	}
	if err := upsert(tx, "leftover_vial", columns(leftoverCols), []any{l.ID, l.Site, l.DrugID, l.INN, l.ProductID, l.Brand, l.StockLotID,
		l.Lot, string(l.LotExpiry), l.Unit, l.Concentration, l.InitialQuantity, l.InitialVolumeML, l.RemainingQuantity,
		l.RemainingVolumeML, T(l.OpenedAt), l.Storage, l.Condition, l.StabilityHours, l.StabilitySource, T(l.Expiry), l.Status,
		l.SourcePreparationID, discard, l.RecordedBy, l.RecordedByID, T(l.CreatedAt), T(l.UpdatedAt)}); err != nil {
		return err
	}
	keep := make([]string, 0, len(l.Uses))
	for _, u := range l.Uses {
		keep = append(keep, string(u.ID))
		if err := upsert(tx, "leftover_use", []string{"id", "leftover_id", "preparation_id", "quantity", "volume_ml", "used_at", "by_name"},
			[]any{u.ID, l.ID, u.PreparationID, u.Quantity, u.VolumeML, T(u.At), u.By}); err != nil {
			return err
		}
	}
	return removeMissing(tx, "leftover_use", "leftover_id", id, "id", keep)
}

func applyStockLot(tx *Tx, id relais.ID, after []byte) error {
	var l relais.StockLot
	if err := decodeImage("stock_lot", id, after, &l); err != nil {
		return err
	}
	if err := checkImageID("stock_lot", id, l.ID); err != nil {
		return err
	}
	return upsert(tx, "stock_lot", columns(stockCols), []any{l.ID, l.Site, l.ProductID, l.Brand, l.Lot, string(l.Expiry),
		l.QuantityReceived, l.QuantityRemaining, l.Supplier, l.ReceivedBy, T(l.CreatedAt), T(l.UpdatedAt)})
}

func applyTolerance(tx *Tx, id relais.ID, after []byte) error {
	var t relais.Tolerance
	if err := decodeImage("tolerance", id, after, &t); err != nil {
		return err
	}
	if err := checkImageID("tolerance", id, t.ID); err != nil {
		return err
	}
	return upsert(tx, "drug_tolerance", columns(toleranceCols), []any{t.ID, t.DrugID, t.INN, t.Percent, T(t.UpdatedAt), t.UpdatedBy})
}

func applyPharmacy(tx *Tx, id relais.ID, after []byte) error {
	var p relais.Pharmacy
	if err := decodeImage("pharmacy", id, after, &p); err != nil {
		return err
	}
	if err := checkImageID("pharmacy", id, relais.ID(p.Site)); err != nil {
		return err
	}
	return upsert(tx, "pharmacy", []string{"id", "name", "address", "phone", "updated_at"},
		[]any{p.Site, p.Name, p.Address, p.Phone, T(p.UpdatedAt)})
}

// applySlip writes the slip and makes its items match the image, in order.
func applySlip(tx *Tx, id relais.ID, after []byte) error {
	var s relais.DeliverySlip
	if err := decodeImage("delivery_slip", id, after, &s); err != nil {
		return err
	}
	if err := checkImageID("delivery_slip", id, s.ID); err != nil {
		return err
	}
	receipt, err := optJSON(s.Receipt, s.Receipt == nil)
	if err != nil {
		return err
	}
	if err := upsert(tx, "delivery_slip", columns(slipCols), []any{s.ID, s.Site, s.Number, s.Ward, string(s.RoundDate), s.Round,
		s.CreatedBy, s.CreatedByID, T(s.CreatedAt), receipt, T(s.UpdatedAt)}); err != nil {
		return err
	}
	if _, err := tx.Exec("DELETE FROM slip_item WHERE slip_id = ?", id); err != nil {
		return err
	}
	for i, pid := range s.PreparationIDs {
		if _, err := tx.Exec("INSERT INTO slip_item (slip_id, preparation_id, position) VALUES (?, ?, ?)", id, pid, i); err != nil {
			return err
		}
	}
	var year, seq int
	if _, err := fmt.Sscanf(s.Number, "BL-%04d-%06d", &year, &seq); err == nil {
		return raiseCounter(tx, "slip_counter", s.Site, year, seq)
	}
	return nil
}

func applyAdministration(tx *Tx, id relais.ID, after []byte) error {
	var a relais.Administration
	if err := decodeImage("administration", id, after, &a); err != nil {
		return err
	}
	if err := checkImageID("administration", id, a.ID); err != nil {
		return err
	}
	if a.Interruptions == nil {
		a.Interruptions = []relais.Interruption{}
	}
	if a.Incidents == nil {
		a.Incidents = []relais.Incident{}
	}
	inter, err := jsonText(a.Interruptions)
	if err != nil {
		return err
	}
	inc, err := jsonText(a.Incidents)
	if err != nil {
		return err
	}
	scan, err := optJSON(a.Scan, a.Scan == nil)
	if err != nil {
		return err
	}
	return upsert(tx, "administration", columns(adminCols), []any{a.ID, a.Site, a.PreparationID, a.PatientID, a.RegisterNumber,
		a.Outcome, NT(a.StartedAt), NT(a.EndedAt), a.VolumeGivenML, a.RateMLH, inter, inc, scan, a.SecondNurse, a.Reason, a.CostEUR,
		a.IndicationCode, a.Comment, a.RecordedBy, a.RecordedByID, T(a.RecordedAt)})
}

func applyBillingLine(tx *Tx, id relais.ID, after []byte) error {
	var b relais.BillingLine
	if err := decodeImage("billing_line", id, after, &b); err != nil {
		return err
	}
	if err := checkImageID("billing_line", id, b.ID); err != nil {
		return err
	}
	return upsert(tx, "billing_line", columns(billingCols), []any{b.ID, b.Site, b.AdministrationID, b.PreparationID, b.RegisterNumber,
		b.PatientID, b.IPP, b.ProductID, b.Brand, b.UCD, b.UCDDemo, b.Quantity, b.IndicationCode, string(b.AdministeredOn), b.Month,
		T(b.CreatedAt)})
}
