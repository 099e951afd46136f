package sqlstore

import (
	"context"
	"fmt"
	"math"
	"sort"

	"github.com/relais-onco/relais"
)

// Billing lines of liste-en-sus drugs, made in the administration's
// transaction: one per product administered, in UCD units.

func init() {
	registerEntity("billing_line", "billing_line", func(tx *Tx, id relais.ID) (any, error) { return billingLineByID(tx, id) })
}

const billingCols = `id, site, administration_id, preparation_id, register_number, patient_id, ipp, product_id, brand, ucd, ucd_demo,
	quantity, indication_code, administered_on, month, created_at`

func scanBillingLine(sc interface{ Scan(...any) error }) (relais.BillingLine, error) {
	var b relais.BillingLine
	err := sc.Scan(&b.ID, &b.Site, &b.AdministrationID, &b.PreparationID, &b.RegisterNumber, &b.PatientID, &b.IPP, &b.ProductID, &b.Brand,
		&b.UCD, &b.UCDDemo, &b.Quantity, &b.IndicationCode, scanDate(&b.AdministeredOn), &b.Month, ScanTime(&b.CreatedAt))
	return b, err
}

func billingLineByID(tx *Tx, id relais.ID) (relais.BillingLine, error) {
	b, err := scanBillingLine(tx.QueryRow("SELECT "+billingCols+" FROM billing_line WHERE id = ?", id))
	if err != nil {
		return b, relais.E("billing.get", "no such billing line", mapErr(err))
	}
	return b, nil
}

// billingLinesFor computes the billing lines of an administration: for
// each liste-en-sus product the preparation drew from, the drug drawn ÷ the
// product's strength (UCD units), times the fraction of the final volume
// given (at most 1), to 3 decimals. A ready-to-use product dispensed as is
// counts one unit. A liste-en-sus line without an indication code is
// refused.
func billingLinesFor(tx *Tx, p relais.Preparation, pat relais.Patient, a relais.Administration) ([]relais.BillingLine, error) {
	const op = "administration.record"
	qty := map[relais.ID]float64{}
	switch {
	case p.Production != nil:
		for _, v := range p.Production.Vials {
			qty[v.ProductID] += v.Quantity
		}
	case p.Mode == relais.ModeDispensed:
		products, err := productsOfDrug(tx, p.DrugID)
		if err != nil {
			return nil, err
		}
		for _, pr := range products {
			if pr.Form == relais.FormSolution && pr.StrengthUnit == p.Unit && pr.Strength == p.Dose {
				qty[pr.ID] = pr.Strength
				break
			}
		}
	}
	final := 0.0
	if p.Production != nil && p.Production.FinalVolumeML > 0 {
		final = p.Production.FinalVolumeML
	} else if p.Plan != nil {
		final = p.Plan.FinalVolumeML
	}
	fraction := 1.0
	if final > 0 && a.VolumeGivenML > 0 {
		fraction = math.Min(1, a.VolumeGivenML/final)
	}
	ids := make([]relais.ID, 0, len(qty))
	for id := range qty {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	var out []relais.BillingLine
	for _, id := range ids {
		prod, err := productByID(tx, id)
		if err != nil {
			return nil, err
		}
		if !prod.ListeEnSus {
			continue
		}
		if a.IndicationCode == "" {
			return nil, relais.Invalid(op, "indication_code", "%s is on the liste en sus: give the indication code it is given for (I followed by 6 digits)", prod.Brand)
		}
		if err := relais.ValidateIndicationCode("indication_code", a.IndicationCode); err != nil {
			return nil, err
		}
		q := math.Round(qty[id]/prod.Strength*fraction*1000) / 1000
		if q <= 0 {
			continue
		}
		day := relais.LocalDate(a.StartedAt)
		out = append(out, relais.BillingLine{ID: relais.NewID(), Site: tx.Site(), AdministrationID: a.ID, PreparationID: p.ID,
			RegisterNumber: p.RegisterNumber, PatientID: p.PatientID, IPP: pat.IPP, ProductID: prod.ID, Brand: prod.Brand, UCD: prod.UCD,
			UCDDemo: prod.UCDDemo, Quantity: q, IndicationCode: a.IndicationCode, AdministeredOn: day, Month: string(day)[:7],
			CreatedAt: tx.Now()})
	}
	return out, nil
}

func insertBillingLine(tx *Tx, b *relais.BillingLine) error {
	const op = "billing.create"
	if _, err := tx.Exec("INSERT INTO billing_line ("+billingCols+") VALUES ("+placeholders(16)+")",
		b.ID, b.Site, b.AdministrationID, b.PreparationID, b.RegisterNumber, b.PatientID, b.IPP, b.ProductID, b.Brand, b.UCD, b.UCDDemo,
		b.Quantity, b.IndicationCode, string(b.AdministeredOn), b.Month, T(b.CreatedAt)); err != nil {
		return relais.E(op, err)
	}
	after, err := billingLineByID(tx, b.ID)
	if err != nil {
		return err
	}
	return tx.Journal(op, "billing_line", b.ID, nil, after)
}

// BillingLines lists a month's billing lines (YYYY-MM), by date.
func (db *DB) BillingLines(ctx context.Context, month string) ([]relais.BillingLine, error) {
	const op = "billing.list"
	if _, err := relais.ParseMonth("month", month); err != nil {
		return nil, err
	}
	out := []relais.BillingLine{}
	err := db.Read(ctx, func(tx *Tx) error {
		if err := requirePerm(op, tx.Actor(), relais.PermBillingExport); err != nil {
			return err
		}
		rows, err := tx.Query("SELECT "+billingCols+" FROM billing_line WHERE site = ? AND month = ? ORDER BY administered_on, register_number, id",
			tx.Site(), month)
		if err != nil {
			return relais.E(op, err)
		}
		defer rows.Close()
		for rows.Next() {
			b, err := scanBillingLine(rows)
			if err != nil {
				return relais.E(op, fmt.Errorf("billing line: %w", err))
			}
			out = append(out, b)
		}
		return rows.Err()
	})
	return out, err
}
