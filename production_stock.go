package relais

import (
	"fmt"
	"strings"
	"time"
)

// Stock: the lots of each product the pharmacy received, with their expiry.
// A new vial used in a preparation is taken from a lot (the lot is then on
// the worksheet, the label's traceability and the register); an expired lot
// cannot be used.

// StockLot is one lot of a product in stock, counted in vials (units).
type StockLot struct {
	ID                ID        `json:"id"`
	Site              string    `json:"site"`
	ProductID         ID        `json:"product_id"`
	Brand             string    `json:"brand"`
	Lot               string    `json:"lot"`
	Expiry            Date      `json:"expiry"`
	QuantityReceived  int       `json:"quantity_received"`
	QuantityRemaining int       `json:"quantity_remaining"`
	Supplier          string    `json:"supplier,omitempty"`
	ReceivedBy        string    `json:"received_by"`
	CreatedAt         time.Time `json:"created_at"`
	UpdatedAt         time.Time `json:"updated_at"`
}

// StockReceipt is a delivery of one lot.
type StockReceipt struct {
	ProductID ID     `json:"product_id"`
	Lot       string `json:"lot"`
	Expiry    Date   `json:"expiry"`
	Quantity  int    `json:"quantity"` // vials (units)
	Supplier  string `json:"supplier,omitempty"`
}

// Validate checks a receipt.
func (r StockReceipt) Validate(op string, today Date) error {
	var errs []error
	if r.ProductID == "" {
		errs = append(errs, Invalid(op, "product_id", "say which product was received"))
	}
	if strings.TrimSpace(r.Lot) == "" {
		errs = append(errs, Invalid(op, "lot", "the lot number is required"))
	} else if len(r.Lot) > 40 {
		errs = append(errs, Invalid(op, "lot", "a lot number has at most 40 characters"))
	}
	if _, err := ParseDate("expiry", string(r.Expiry)); err != nil {
		errs = append(errs, err)
	} else if r.Expiry < today {
		errs = append(errs, Invalid(op, "expiry", "lot %s expired on %s: an expired lot is not received", r.Lot, r.Expiry))
	}
	if r.Quantity <= 0 {
		errs = append(errs, Invalid(op, "quantity", "the number of vials received must be positive"))
	}
	return Errors(op, errs)
}

// Take takes n vials of the lot on day.
func (l *StockLot) Take(n int, day Date, now time.Time) error {
	const op = "stock.take"
	if l.Expiry < day {
		return &Error{Op: op, Kind: KindConflict, Field: "lot_id", Message: fmt.Sprintf(
			"lot %s of %s expired on %s: it cannot be used; set it aside for destruction", l.Lot, l.Brand, l.Expiry)}
	}
	if n > l.QuantityRemaining {
		return &Error{Op: op, Kind: KindConflict, Field: "lot_id", Message: fmt.Sprintf(
			"lot %s of %s has %d vial(s) left in stock, %d needed: check the stock count or use another lot", l.Lot, l.Brand, l.QuantityRemaining, n)}
	}
	l.QuantityRemaining -= n
	l.UpdatedAt = now
	return nil
}

// LocalDate is the date of t in the display zone.
func LocalDate(t time.Time) Date { return Date(t.In(DisplayZone).Format(time.DateOnly)) }
