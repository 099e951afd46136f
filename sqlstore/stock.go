package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/relais-onco/relais"
)

// Stock lots: received with their expiry, decremented by each new vial a
// preparation uses, refused once expired.

func init() {
	registerEntity("stock_lot", "stock_lot", func(tx *Tx, id relais.ID) (any, error) { return stockLotByID(tx, id) })
}

const stockCols = "id, site, product_id, brand, lot, expiry, quantity_received, quantity_remaining, supplier, received_by, created_at, updated_at"

func scanStockLot(sc interface{ Scan(...any) error }) (relais.StockLot, error) {
	var l relais.StockLot
	err := sc.Scan(&l.ID, &l.Site, &l.ProductID, &l.Brand, &l.Lot, scanDate(&l.Expiry), &l.QuantityReceived, &l.QuantityRemaining,
		&l.Supplier, &l.ReceivedBy, ScanTime(&l.CreatedAt), ScanTime(&l.UpdatedAt))
	return l, err
}

func stockLotByID(tx *Tx, id relais.ID) (relais.StockLot, error) {
	l, err := scanStockLot(tx.QueryRow("SELECT "+stockCols+" FROM stock_lot WHERE id = ?", id))
	if err != nil {
		if relais.ErrorKind(mapErr(err)) == relais.KindNotFound {
			return l, relais.E("stock.get", relais.KindNotFound, fmt.Sprintf("no stock lot %s", id))
		}
		return l, relais.E("stock.get", mapErr(err))
	}
	return l, nil
}

// ReceiveStock records a delivery of a lot; a lot received again adds to
// its quantities.
func (db *DB) ReceiveStock(ctx context.Context, in relais.StockReceipt) (relais.StockLot, error) {
	const op = "stock.receive"
	in.Lot = strings.TrimSpace(in.Lot)
	var out relais.StockLot
	err := db.Write(ctx, op, func(tx *Tx) error {
		if err := requirePerm(op, tx.Actor(), relais.PermStockWrite); err != nil {
			return err
		}
		if err := in.Validate(op, relais.LocalDate(tx.Now())); err != nil {
			return err
		}
		p, err := productByID(tx, in.ProductID)
		if err != nil {
			return relais.E(op, relais.Field("product_id"), err)
		}
		var id relais.ID
		err = tx.QueryRow("SELECT id FROM stock_lot WHERE site = ? AND product_id = ? AND lot = ?", tx.Site(), p.ID, in.Lot).Scan(&id)
		if err != nil && relais.ErrorKind(mapErr(err)) != relais.KindNotFound {
			return relais.E(op, mapErr(err))
		}
		if err != nil { // a new lot
			id = relais.NewID()
			if _, err := tx.Exec("INSERT INTO stock_lot ("+stockCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
				id, tx.Site(), p.ID, p.Brand, in.Lot, string(in.Expiry), in.Quantity, in.Quantity, strings.TrimSpace(in.Supplier),
				tx.Actor().DisplayName(), T(tx.Now()), T(tx.Now())); err != nil {
				return relais.E(op, err)
			}
			if out, err = stockLotByID(tx, id); err != nil {
				return err
			}
			return tx.Journal(op, "stock_lot", id, nil, out)
		}
		before, err := stockLotByID(tx, id)
		if err != nil {
			return err
		}
		if before.Expiry != in.Expiry {
			return relais.Invalid(op, "expiry", "lot %s of %s is recorded with expiry %s, not %s: check the box", in.Lot, p.Brand, before.Expiry, in.Expiry)
		}
		if _, err := tx.Exec("UPDATE stock_lot SET quantity_received = quantity_received + ?, quantity_remaining = quantity_remaining + ?, updated_at = ? WHERE id = ?",
			in.Quantity, in.Quantity, T(tx.Now()), id); err != nil {
			return relais.E(op, err)
		}
		if out, err = stockLotByID(tx, id); err != nil {
			return err
		}
		return tx.Journal(op, "stock_lot", id, before, out)
	})
	return out, err
}

// takeVials takes n vials of a lot for a preparation, in tx.
func takeVials(tx *Tx, id relais.ID, n int) (relais.StockLot, error) {
	const op = "stock.take"
	l, err := stockLotByID(tx, id)
	if err != nil {
		return l, err
	}
	before := l
	if err := l.Take(n, relais.LocalDate(tx.Now()), tx.Now()); err != nil {
		return l, err
	}
	if _, err := tx.Exec("UPDATE stock_lot SET quantity_remaining = ?, updated_at = ? WHERE id = ?", l.QuantityRemaining, T(l.UpdatedAt), id); err != nil {
		return l, relais.E(op, err)
	}
	after, err := stockLotByID(tx, id)
	if err != nil {
		return after, err
	}
	return after, tx.Journal(op, "stock_lot", id, before, after)
}

// StockLots lists the lots of a product (all products when productID is
// empty), earliest expiry first.
func (db *DB) StockLots(ctx context.Context, productID relais.ID) ([]relais.StockLot, error) {
	out := []relais.StockLot{}
	err := db.Read(ctx, func(tx *Tx) error {
		q, args := "SELECT "+stockCols+" FROM stock_lot WHERE site = ?", []any{tx.Site()}
		if productID != "" {
			q, args = q+" AND product_id = ?", append(args, productID)
		}
		rows, err := tx.Query(q+" ORDER BY expiry, lot, id", args...)
		if err != nil {
			return relais.E("stock.list", err)
		}
		defer rows.Close()
		for rows.Next() {
			l, err := scanStockLot(rows)
			if err != nil {
				return relais.E("stock.list", err)
			}
			out = append(out, l)
		}
		return rows.Err()
	})
	return out, err
}

// assignLots proposes, for each new vial of a plan, the stock lot to take
// it from: earliest expiry first, not expired today, with vials left — less
// those other issued worksheets already name (reserved) and those proposed
// earlier in the same plan. With no such lot the worksheet cannot name one,
// and is not issued.
func assignLots(tx *Tx, plan *relais.CompoundingPlan, reserved map[relais.ID]int) error {
	const op = "preparation.issue_worksheet"
	today := relais.LocalDate(tx.Now())
	taken := map[relais.ID]int{}
	for id, n := range reserved {
		taken[id] = n
	}
	lots := map[relais.ID][]relais.StockLot{}
	for i := range plan.Draws {
		d := &plan.Draws[i]
		if d.Leftover {
			continue
		}
		ls, ok := lots[d.ProductID]
		if !ok {
			rows, err := tx.Query("SELECT "+stockCols+" FROM stock_lot WHERE site = ? AND product_id = ? AND expiry >= ? AND quantity_remaining > 0 ORDER BY expiry, lot, id",
				tx.Site(), d.ProductID, string(today))
			if err != nil {
				return relais.E(op, err)
			}
			for rows.Next() {
				l, err := scanStockLot(rows)
				if err != nil {
					rows.Close()
					return relais.E(op, err)
				}
				ls = append(ls, l)
			}
			rows.Close()
			lots[d.ProductID] = ls
		}
		found := false
		inStock, promised := 0, 0
		for _, l := range ls {
			inStock += l.QuantityRemaining
			promised += min(reserved[l.ID], l.QuantityRemaining)
			if l.QuantityRemaining-taken[l.ID] > 0 {
				taken[l.ID]++
				d.LotID, d.Lot, d.LotExpiry = l.ID, l.Lot, l.Expiry
				found = true
				break
			}
		}
		if !found {
			msg := fmt.Sprintf("no lot of %s is in stock (none received, all used or all expired): receive the lot before issuing the worksheet", d.Brand)
			if promised > 0 {
				msg = fmt.Sprintf("every vial of %s in stock is promised: %d in unexpired lots, %d named by worksheets already issued and not yet recorded; receive a lot, or record or withdraw those worksheets, before issuing this one",
					d.Brand, inStock, promised)
			}
			return &relais.Error{Op: op, Kind: relais.KindConflict, Field: "stock", Message: msg}
		}
	}
	return nil
}
