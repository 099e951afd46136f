package relais

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Leftover vials (reliquats): a vial not emptied by a preparation, kept in
// the isolator for the next one while its stability lasts.
//
//	open → partly_used … → used_up ; open | partly_used → discarded | expired ; expired → discarded
//
// Its expiry is computed when it is recorded: the time it was opened plus
// the product's stability after opening (a solution) or after
// reconstitution (a powder) at the storage it is kept at, and never later
// than the end of the lot's expiry date. With no stability data for that
// storage it cannot be recorded. An expired leftover can never be used,
// whatever its status says.

// LeftoverStatus is where a leftover vial is.
type LeftoverStatus string

const (
	LeftoverOpen       LeftoverStatus = "open"
	LeftoverPartlyUsed LeftoverStatus = "partly_used"
	LeftoverUsedUp     LeftoverStatus = "used_up"
	LeftoverDiscarded  LeftoverStatus = "discarded"
	LeftoverExpired    LeftoverStatus = "expired"
)

var leftoverTransitions = map[LeftoverStatus][]LeftoverStatus{
	LeftoverOpen:       {LeftoverPartlyUsed, LeftoverUsedUp, LeftoverDiscarded, LeftoverExpired},
	LeftoverPartlyUsed: {LeftoverPartlyUsed, LeftoverUsedUp, LeftoverDiscarded, LeftoverExpired},
	LeftoverExpired:    {LeftoverDiscarded},
}

// CanMove reports whether a leftover may go from s to to.
func (s LeftoverStatus) CanMove(to LeftoverStatus) bool { return allowed(leftoverTransitions, s, to) }

// InIsolator reports whether the vial is still physically kept.
func (s LeftoverStatus) InIsolator() bool {
	return s == LeftoverOpen || s == LeftoverPartlyUsed || s == LeftoverExpired
}

// LeftoverVial is an opened vial kept for reuse.
type LeftoverVial struct {
	ID         ID     `json:"id"`
	Site       string `json:"site"`
	DrugID     ID     `json:"drug_id"`
	INN        string `json:"inn"`
	ProductID  ID     `json:"product_id"`
	Brand      string `json:"brand"`
	StockLotID ID     `json:"stock_lot_id,omitempty"`
	Lot        string `json:"lot"`
	LotExpiry  Date   `json:"lot_expiry"`
	Unit       string `json:"unit"`
	// Concentration of the solution in the vial, Unit per mL.
	Concentration     float64   `json:"concentration"`
	InitialQuantity   float64   `json:"initial_quantity"`
	InitialVolumeML   float64   `json:"initial_volume_ml"`
	RemainingQuantity float64   `json:"remaining_quantity"`
	RemainingVolumeML float64   `json:"remaining_volume_ml"`
	OpenedAt          time.Time `json:"opened_at"`
	Storage           string    `json:"storage"`
	// The stability entry the expiry comes from.
	Condition       StabilityCondition `json:"condition"`
	StabilityHours  float64            `json:"stability_hours"`
	StabilitySource string             `json:"stability_source"`
	Expiry          time.Time          `json:"expiry"`
	Status          LeftoverStatus     `json:"status"`
	// SourcePreparationID is the preparation that opened the vial, if any.
	SourcePreparationID ID            `json:"source_preparation_id,omitempty"`
	Uses                []LeftoverUse `json:"uses"`
	Discard             *Signoff      `json:"discard,omitempty"`
	RecordedBy          string        `json:"recorded_by"`
	RecordedByID        ID            `json:"recorded_by_id"`
	CreatedAt           time.Time     `json:"created_at"`
	UpdatedAt           time.Time     `json:"updated_at"`
}

// LeftoverUse is one draw from a leftover vial.
type LeftoverUse struct {
	ID            ID        `json:"id"`
	PreparationID ID        `json:"preparation_id"`
	Quantity      float64   `json:"quantity"`
	VolumeML      float64   `json:"volume_ml"`
	At            time.Time `json:"at"`
	By            string    `json:"by"`
}

// LeftoverInput records a vial not emptied.
type LeftoverInput struct {
	// LotID is the stock lot the vial came from; or give ProductID, Lot and
	// LotExpiry for a vial whose lot is not in the stock.
	LotID     ID     `json:"lot_id,omitempty"`
	ProductID ID     `json:"product_id,omitempty"`
	Lot       string `json:"lot,omitempty"`
	LotExpiry Date   `json:"lot_expiry,omitempty"`
	// RemainingVolumeML is what is left in the vial; the quantity follows
	// from the product's concentration.
	RemainingVolumeML float64 `json:"remaining_volume_ml"`
	// OpenedAt defaults to now (the production time when recorded with a
	// preparation).
	OpenedAt time.Time `json:"opened_at,omitzero"`
	Storage  string    `json:"storage"` // must match a stability entry, e.g. "2-8°C"
}

// LeftoverFilter selects leftovers.
type LeftoverFilter struct {
	DrugID ID `json:"drug_id,omitempty"`
	// InIsolator keeps the vials still kept (open, partly used, expired not
	// yet discarded).
	InIsolator bool `json:"in_isolator,omitempty"`
}

// LeftoverItem is a leftover as lists show it, marked expired when its
// expiry has passed at the time of the list.
type LeftoverItem struct {
	LeftoverVial
	Expired bool `json:"expired"`
	Usable  bool `json:"usable"`
}

// IsolatorCheck is the end-of-day list to check the isolator's contents
// against: every vial that should be there, the expired ones to discard
// first.
type IsolatorCheck struct {
	At time.Time `json:"at"`
	// ExpiredNow are the leftovers this check moved to expired.
	ExpiredNow []ID           `json:"expired_now"`
	Items      []LeftoverItem `json:"items"`
}

// NewLeftover builds a leftover vial of product p opened at in.OpenedAt
// (now when zero), its expiry computed from the product's stability data.
func NewLeftover(in LeftoverInput, p Product, drug Drug, lotExpiry Date, a Actor, now time.Time) (LeftoverVial, error) {
	const op = "leftover.record"
	var errs []error
	if !(in.RemainingVolumeML > 0) || math.IsInf(in.RemainingVolumeML, 0) {
		errs = append(errs, Invalid(op, "remaining_volume_ml", "give the volume left in the vial, in mL (more than 0)"))
	} else if p.VolumeML > 0 && in.RemainingVolumeML > p.VolumeML+1e-9 {
		errs = append(errs, Invalid(op, "remaining_volume_ml", "%s mL is more than the vial holds (%s mL)", num(in.RemainingVolumeML), num(p.VolumeML)))
	}
	if strings.TrimSpace(in.Lot) == "" {
		errs = append(errs, Invalid(op, "lot", "the lot number of the vial is required"))
	}
	if _, err := ParseDate("lot_expiry", string(lotExpiry)); err != nil {
		errs = append(errs, err)
	}
	if strings.TrimSpace(in.Storage) == "" {
		errs = append(errs, Invalid(op, "storage", "say how the vial is kept, e.g. 2-8°C"))
	}
	if !p.Form.Injectable() || !(p.Concentration > 0) {
		errs = append(errs, Invalid(op, "product_id", "%s is not an injectable product with a concentration", p.Brand))
	}
	if err := Errors(op, errs); err != nil {
		return LeftoverVial{}, err
	}
	opened := in.OpenedAt
	if opened.IsZero() {
		opened = now
	}
	opened = opened.UTC().Truncate(time.Microsecond)
	if opened.After(now.Add(time.Minute)) {
		return LeftoverVial{}, Invalid(op, "opened_at", "the vial cannot have been opened in the future")
	}
	cond := AfterOpening
	if p.Form == FormPowder {
		cond = AfterReconstitution
	}
	var st *Stability
	var storages []string
	for i := range p.Stability {
		s := &p.Stability[i]
		if s.Condition != cond {
			continue
		}
		storages = append(storages, s.Storage)
		if SameStorage(s.Storage, in.Storage) && (st == nil || s.DurationHours > st.DurationHours) {
			st = s
		}
	}
	if st == nil {
		known := "none at all: add the stability data (with its source) to the catalogue first"
		if len(storages) > 0 {
			known = "it has data for " + strings.Join(storages, ", ") + " only: keep the vial at one of these"
		}
		return LeftoverVial{}, &Error{Op: op, Kind: KindInvalid, Field: "storage", Message: fmt.Sprintf(
			"%s has no stability data %s at %s, so its expiry cannot be computed and it cannot be kept (%s)",
			p.Brand, strings.ReplaceAll(string(cond), "_", " "), in.Storage, known)}
	}
	expiry := opened.Add(hoursDuration(st.DurationHours)).Truncate(time.Microsecond)
	// Never past the lot's expiry date (the end of that day, local time).
	lotEnd := time.Date(lotExpiry.Time().Year(), lotExpiry.Time().Month(), lotExpiry.Time().Day()+1, 0, 0, 0, 0, DisplayZone).UTC()
	if lotEnd.Before(expiry) {
		expiry = lotEnd
	}
	if !now.Before(expiry) {
		return LeftoverVial{}, &Error{Op: op, Kind: KindConflict, Field: "opened_at", Message: fmt.Sprintf(
			"this vial expired at %s: discard it, it cannot be kept", expiry.In(DisplayZone).Format("02/01/2006 15:04"))}
	}
	vol := round(in.RemainingVolumeML, 2)
	qty := round(vol*p.Concentration, 4)
	return LeftoverVial{
		ID: NewID(), DrugID: p.DrugID, INN: drug.INN, ProductID: p.ID, Brand: p.Brand, StockLotID: in.LotID,
		Lot: strings.TrimSpace(in.Lot), LotExpiry: lotExpiry, Unit: p.StrengthUnit, Concentration: p.Concentration,
		InitialQuantity: qty, InitialVolumeML: vol, RemainingQuantity: qty, RemainingVolumeML: vol,
		OpenedAt: opened, Storage: strings.TrimSpace(in.Storage), Condition: cond, StabilityHours: st.DurationHours,
		StabilitySource: st.Source, Expiry: expiry, Status: LeftoverOpen, Uses: []LeftoverUse{},
		RecordedBy: a.DisplayName(), RecordedByID: a.UserID, CreatedAt: now, UpdatedAt: now,
	}, nil
}

// SameStorage compares storage mentions loosely ("2-8 °C" is "2–8°C").
func SameStorage(a, b string) bool {
	k := func(s string) string {
		s = strings.ToLower(strings.TrimSpace(s))
		return strings.NewReplacer(" ", "", "\u00a0", "", "–", "-", "—", "-", "à", "-", "°c", "", "°", "").Replace(s)
	}
	return k(a) == k(b)
}

// Usable says why the leftover cannot be drawn from at t, or nil.
func (l LeftoverVial) Usable(t time.Time) error {
	const op = "leftover.use"
	if !t.Before(l.Expiry) {
		return &Error{Op: op, Kind: KindConflict, Field: "leftover_id", Message: fmt.Sprintf(
			"leftover vial %s (%s, lot %s) expired at %s: it cannot be used; discard it",
			shortID(l.ID), l.Brand, l.Lot, l.Expiry.In(DisplayZone).Format("02/01/2006 15:04"))}
	}
	if l.Status != LeftoverOpen && l.Status != LeftoverPartlyUsed {
		return transitionErr(op, "leftover vial %s (%s, lot %s) is %s: it cannot be used", shortID(l.ID), l.Brand, l.Lot, l.Status)
	}
	return nil
}

// Use draws volume mL from the leftover for a preparation.
func (l *LeftoverVial) Use(prepID ID, volumeML float64, a Actor, now time.Time) (LeftoverUse, error) {
	const op = "leftover.use"
	if err := l.Usable(now); err != nil {
		return LeftoverUse{}, err
	}
	volumeML = round(volumeML, 2)
	if !(volumeML > 0) {
		return LeftoverUse{}, Invalid(op, "volume_ml", "give the volume drawn from the leftover vial, in mL")
	}
	if volumeML > l.RemainingVolumeML+1e-9 {
		return LeftoverUse{}, &Error{Op: op, Kind: KindConflict, Field: "volume_ml", Message: fmt.Sprintf(
			"leftover vial %s holds %s mL: %s mL cannot be drawn from it", shortID(l.ID), num(l.RemainingVolumeML), num(volumeML))}
	}
	u := LeftoverUse{ID: NewID(), PreparationID: prepID, VolumeML: volumeML, Quantity: round(volumeML*l.Concentration, 4), At: now, By: a.DisplayName()}
	l.RemainingVolumeML = round(l.RemainingVolumeML-volumeML, 2)
	l.RemainingQuantity = round(l.RemainingVolumeML*l.Concentration, 4)
	to := LeftoverPartlyUsed
	if l.RemainingVolumeML <= 0 {
		to, l.RemainingVolumeML, l.RemainingQuantity = LeftoverUsedUp, 0, 0
	}
	if !l.Status.CanMove(to) {
		return LeftoverUse{}, transitionErr(op, "leftover vial %s is %s: it cannot become %s", shortID(l.ID), l.Status, to)
	}
	l.Status = to
	l.Uses = append(l.Uses, u)
	l.UpdatedAt = now
	return u, nil
}

// DiscardBy throws the vial away, with a reason.
func (l *LeftoverVial) DiscardBy(reason string, a Actor, now time.Time) error {
	const op = "leftover.discard"
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return Invalid(op, "reason", "say why the vial is discarded (expired, contaminated, end of day…)")
	}
	if !l.Status.CanMove(LeftoverDiscarded) {
		return transitionErr(op, "leftover vial %s is %s: it cannot be discarded", shortID(l.ID), l.Status)
	}
	l.Status = LeftoverDiscarded
	l.Discard = signoff(a, now)
	l.Discard.Reason = reason
	l.UpdatedAt = now
	return nil
}

// Expire moves a leftover whose expiry has passed to expired.
func (l *LeftoverVial) Expire(now time.Time) error {
	const op = "leftover.expire"
	if now.Before(l.Expiry) {
		return transitionErr(op, "leftover vial %s keeps until %s: it has not expired", shortID(l.ID), l.Expiry.In(DisplayZone).Format("02/01/2006 15:04"))
	}
	if !l.Status.CanMove(LeftoverExpired) {
		return transitionErr(op, "leftover vial %s is %s: it cannot become expired", shortID(l.ID), l.Status)
	}
	l.Status = LeftoverExpired
	l.UpdatedAt = now
	return nil
}

// Item marks the leftover as a list shows it at t.
func (l LeftoverVial) Item(t time.Time) LeftoverItem {
	return LeftoverItem{LeftoverVial: l, Expired: !t.Before(l.Expiry), Usable: l.Usable(t) == nil}
}
