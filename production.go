package relais

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"
)

// Pharmacy production: what happens to a validated line until it reaches
// the patient. A line that needs compounding becomes a preparation:
//
//	to_prepare → worksheet_issued (register number) → prepared → checked
//	           → released | rejected ; released → dispensed → administered | not_administered
//
// and, until it is released, a preparation may be cancelled (it keeps its
// register number). An oral or ready-to-use line is dispensed as is:
//
//	to_prepare → dispensed → administered | not_administered
//
// Every arrow is a method below that refuses, with a KindTransition error
// that says why, anything else. Nothing is deleted.

// PreparationStatus is where a preparation is in the chain.
type PreparationStatus string

const (
	PrepToPrepare       PreparationStatus = "to_prepare"
	PrepWorksheetIssued PreparationStatus = "worksheet_issued"
	PrepPrepared        PreparationStatus = "prepared"
	PrepChecked         PreparationStatus = "checked"
	PrepReleased        PreparationStatus = "released"
	PrepRejected        PreparationStatus = "rejected"
	PrepDispensed       PreparationStatus = "dispensed"
	PrepAdministered    PreparationStatus = "administered"
	PrepNotAdministered PreparationStatus = "not_administered"
	PrepCancelled       PreparationStatus = "cancelled"
)

// PreparationMode says whether the pharmacy compounds a line or hands it over
// as is.
type PreparationMode string

const (
	// ModeCompounded: made in the isolator from vials, with a worksheet and
	// a register number.
	ModeCompounded PreparationMode = "compounded"
	// ModeDispensed: an oral or ready-to-use product handed over as is: no
	// worksheet, no register number.
	ModeDispensed PreparationMode = "dispensed"
)

var prepTransitions = map[PreparationMode]map[PreparationStatus][]PreparationStatus{
	ModeCompounded: {
		PrepToPrepare:       {PrepWorksheetIssued, PrepCancelled},
		PrepWorksheetIssued: {PrepPrepared, PrepCancelled},
		// A preparation found faulty before or at the second check is
		// rejected by the pharmacist; a withdrawn prescription cancels it.
		PrepPrepared: {PrepChecked, PrepRejected, PrepCancelled},
		PrepChecked:  {PrepReleased, PrepRejected, PrepCancelled},
		// A released preparation that never leaves the pharmacy (the
		// prescription was cancelled, the patient went home) is returned or
		// destroyed there.
		PrepReleased:  {PrepDispensed, PrepNotAdministered},
		PrepDispensed: {PrepAdministered, PrepNotAdministered},
	},
	ModeDispensed: {
		PrepToPrepare: {PrepDispensed, PrepCancelled},
		PrepDispensed: {PrepAdministered, PrepNotAdministered},
	},
}

// CanMove reports whether a preparation of mode m may go from one status to
// another.
func (m PreparationMode) CanMove(from, to PreparationStatus) bool {
	return allowed(prepTransitions[m], from, to)
}

// Next lists the statuses a preparation of mode m in status s may move to.
func (m PreparationMode) Next(s PreparationStatus) []PreparationStatus {
	return append([]PreparationStatus(nil), prepTransitions[m][s]...)
}

// Signoff records who did a step, when, and why when a reason is asked.
type Signoff struct {
	By      string    `json:"by"`
	ByID    ID        `json:"by_id"`
	At      time.Time `json:"at"`
	Reason  string    `json:"reason,omitempty"`
	Comment string    `json:"comment,omitempty"`
}

func signoff(a Actor, now time.Time) *Signoff {
	return &Signoff{By: a.DisplayName(), ByID: a.UserID, At: now}
}

// Preparation is one validated line on its way to the patient.
type Preparation struct {
	ID             ID              `json:"id"`
	Site           string          `json:"site"`
	PrescriptionID ID              `json:"prescription_id"`
	LineID         ID              `json:"line_id"`
	PatientID      ID              `json:"patient_id"`
	DrugID         ID              `json:"drug_id"`
	INN            string          `json:"inn"`
	Route          string          `json:"route"`
	LineKind       string          `json:"line_kind"`
	Mode           PreparationMode `json:"mode"`
	// ModeReason says why the line is compounded or dispensed as is.
	ModeReason         string            `json:"mode_reason"`
	Dose               float64           `json:"dose"` // as validated, in Unit
	Unit               string            `json:"unit"`
	AdministrationDate Date              `json:"administration_date"`
	Status             PreparationStatus `json:"status"`
	// Plan is how Relais proposes to make it; frozen when the worksheet is
	// issued.
	Plan *CompoundingPlan `json:"plan,omitempty"`
	// RegisterNumber is the preparation register's number ("2026-000123"),
	// given when the worksheet is issued and kept for ever.
	RegisterNumber string            `json:"register_number,omitempty"`
	Worksheet      *Signoff          `json:"worksheet,omitempty"`
	Production     *ProductionRecord `json:"production,omitempty"`
	Check          *Signoff          `json:"check,omitempty"`
	Release        *Signoff          `json:"release,omitempty"`
	Rejection      *Signoff          `json:"rejection,omitempty"`
	Cancellation   *Signoff          `json:"cancellation,omitempty"`
	Dispensing     *Dispensing       `json:"dispensing,omitempty"`
	// IndicationCode is the liste-en-sus indication (I + 6 digits), given
	// at release or at administration.
	IndicationCode string `json:"indication_code,omitempty"`
	// Replaces is the rejected preparation this one remakes.
	Replaces ID `json:"replaces,omitempty"`
	// Expiry and storage of the preparation: planned when the worksheet is
	// issued, set from the production time when it is prepared.
	Expiry    time.Time `json:"expiry,omitzero"`
	Storage   string    `json:"storage,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Dispensing records the delivery slip a preparation left on.
type Dispensing struct {
	SlipID     ID        `json:"slip_id"`
	SlipNumber string    `json:"slip_number"`
	Ward       string    `json:"ward"`
	By         string    `json:"by"`
	ByID       ID        `json:"by_id"`
	At         time.Time `json:"at"`
}

// Display is the register number, or the id when it has none.
func (p Preparation) Display() string {
	if p.RegisterNumber != "" {
		return p.RegisterNumber
	}
	return string(p.ID)
}

func (p *Preparation) move(op string, to PreparationStatus) error {
	if !p.Mode.CanMove(p.Status, to) {
		next := p.Mode.Next(p.Status)
		s := make([]string, len(next))
		for i, n := range next {
			s[i] = string(n)
		}
		allowed := "none: it is final"
		if len(s) > 0 {
			allowed = strings.Join(s, ", ")
		}
		return transitionErr(op, "preparation %s (%s, %s) is %s: it cannot become %s (allowed next: %s)",
			p.Display(), p.INN, p.Mode, p.Status, to, allowed)
	}
	p.Status = to
	return nil
}

// SetPlan replaces the proposal while nothing has been issued.
func (p *Preparation) SetPlan(plan CompoundingPlan) error {
	const op = "preparation.propose"
	if p.Mode != ModeCompounded {
		return transitionErr(op, "preparation %s is dispensed as is (%s): it has no compounding plan", p.Display(), p.ModeReason)
	}
	if p.Status != PrepToPrepare {
		return transitionErr(op, "preparation %s is %s: its plan was frozen when the worksheet was issued", p.Display(), p.Status)
	}
	p.Plan = &plan
	return nil
}

// IssueWorksheet freezes the plan and gives the register number. The plan
// must not be blocked.
func (p *Preparation) IssueWorksheet(plan CompoundingPlan, number string, a Actor, now time.Time) error {
	const op = "preparation.issue_worksheet"
	if p.Mode != ModeCompounded {
		return transitionErr(op, "preparation %s is dispensed as is (%s): it has no worksheet", p.Display(), p.ModeReason)
	}
	if p.Status == PrepToPrepare && plan.Blocked {
		return &Error{Op: op, Kind: KindConflict, Field: "plan",
			Message: "the preparation cannot be made as planned: " + strings.Join(plan.Reasons, "; ")}
	}
	if err := p.move(op, PrepWorksheetIssued); err != nil {
		return err
	}
	if number == "" {
		return E(op, KindOther, "no register number was given")
	}
	p.Plan = &plan
	p.RegisterNumber = number
	p.Worksheet = signoff(a, now)
	if plan.Stability != nil {
		p.Expiry = plan.Stability.ExpiryFrom(now)
		p.Storage = plan.Stability.StorageText()
	}
	return nil
}

// RecordProduction records what the technician did. rec is complete
// (vials with their quantities, control computed).
func (p *Preparation) RecordProduction(rec ProductionRecord, a Actor, now time.Time) error {
	const op = "preparation.record"
	if err := p.move(op, PrepPrepared); err != nil {
		return err
	}
	rec.By, rec.ByID, rec.At = a.DisplayName(), a.UserID, now
	p.Production = &rec
	if p.Plan != nil && p.Plan.Stability != nil {
		p.Expiry = p.Plan.Stability.ExpiryFrom(now)
		p.Storage = p.Plan.Stability.StorageText()
	}
	return nil
}

// CheckBy records the second person's check: someone other than who
// prepared it.
func (p *Preparation) CheckBy(comment string, a Actor, now time.Time) error {
	const op = "preparation.check"
	if p.Status == PrepPrepared && p.Production != nil && p.Production.ByID == a.UserID {
		return &Error{Op: op, Kind: KindForbidden, Message: fmt.Sprintf(
			"you prepared %s yourself: the check must be done by a second person", p.Display())}
	}
	if err := p.move(op, PrepChecked); err != nil {
		return err
	}
	p.Check = signoff(a, now)
	p.Check.Comment = strings.TrimSpace(comment)
	return nil
}

// Release is the pharmacist's decision that the preparation may leave. It
// is refused while the production control is out of tolerance or the
// preparation has expired.
func (p *Preparation) ReleaseBy(req ReleaseRequest, a Actor, now time.Time) error {
	const op = "preparation.release"
	code := strings.TrimSpace(req.IndicationCode)
	if code != "" {
		if err := ValidateIndicationCode("indication_code", code); err != nil {
			return err
		}
	}
	if p.Status == PrepChecked {
		if p.Production == nil {
			return E(op, KindIntegrity, fmt.Sprintf("preparation %s has no production record", p.Display()))
		}
		if c := p.Production.Control; !c.Within {
			return &Error{Op: op, Kind: KindConflict, Field: "control",
				Message: fmt.Sprintf("release is blocked: the production control is out of tolerance (%s); reject the preparation with a reason", c.Detail)}
		}
		if !p.Expiry.IsZero() && !now.Before(p.Expiry) {
			return &Error{Op: op, Kind: KindConflict, Message: fmt.Sprintf("preparation %s expired at %s: reject it",
				p.Display(), p.Expiry.In(DisplayZone).Format("02/01/2006 15:04"))}
		}
	}
	if err := p.move(op, PrepReleased); err != nil {
		return err
	}
	p.Release = signoff(a, now)
	p.Release.Comment = strings.TrimSpace(req.Comment)
	if code != "" {
		p.IndicationCode = code
	}
	return nil
}

// Reject refuses the preparation, with a reason.
func (p *Preparation) Reject(reason string, a Actor, now time.Time) error {
	const op = "preparation.reject"
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return Invalid(op, "reason", "say why the preparation is rejected: it is written in the register")
	}
	if err := p.move(op, PrepRejected); err != nil {
		return err
	}
	p.Rejection = signoff(a, now)
	p.Rejection.Reason = reason
	return nil
}

// Cancel withdraws a preparation not yet released (its prescription was
// cancelled, or the pharmacist stops it). It keeps its register number.
func (p *Preparation) Cancel(reason string, a Actor, now time.Time) error {
	const op = "preparation.cancel"
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return Invalid(op, "reason", "say why the preparation is cancelled: it is written in the register")
	}
	if err := p.move(op, PrepCancelled); err != nil {
		return err
	}
	p.Cancellation = signoff(a, now)
	p.Cancellation.Reason = reason
	return nil
}

// Dispense puts the preparation on a delivery slip.
func (p *Preparation) Dispense(slip DeliverySlip, a Actor, now time.Time) error {
	const op = "preparation.dispense"
	if err := p.move(op, PrepDispensed); err != nil {
		return err
	}
	p.Dispensing = &Dispensing{SlipID: slip.ID, SlipNumber: slip.Number, Ward: slip.Ward, By: a.DisplayName(), ByID: a.UserID, At: now}
	return nil
}

// Administer marks the preparation given.
func (p *Preparation) Administer() error {
	return p.move("administration.record", PrepAdministered)
}

// NotAdminister marks it returned or destroyed.
func (p *Preparation) NotAdminister() error {
	return p.move("administration.not_administered", PrepNotAdministered)
}

// Released reports whether the preparation's register entry is closed:
// released or beyond.
func (s PreparationStatus) Released() bool {
	switch s {
	case PrepReleased, PrepDispensed, PrepAdministered, PrepNotAdministered:
		return true
	}
	return false
}

// RegisterStatus is the register's view of a preparation status.
func (s PreparationStatus) RegisterStatus() RegisterStatus {
	switch {
	case s.Released():
		return RegisterReleased
	case s == PrepRejected:
		return RegisterRejected
	case s == PrepCancelled:
		return RegisterCancelled
	}
	return RegisterInProgress
}

// ProductionRecord is what the technician records: the vials actually used
// with their lots, the volumes measured or masses weighed, and the control
// computed from them.
type ProductionRecord struct {
	Vials         []UsedVial `json:"vials"`
	FinalVolumeML float64    `json:"final_volume_ml,omitempty"`
	Control       Control    `json:"control"`
	// LeftoverIDs are the leftover vials recorded from vials this
	// preparation did not empty.
	LeftoverIDs []ID      `json:"leftover_ids"`
	Comment     string    `json:"comment,omitempty"`
	By          string    `json:"by"`
	ByID        ID        `json:"by_id"`
	At          time.Time `json:"at"`
}

// UsedVial is one vial a preparation actually drew from.
type UsedVial struct {
	Leftover      bool    `json:"leftover"`
	LeftoverID    ID      `json:"leftover_id,omitempty"`
	LotID         ID      `json:"lot_id,omitempty"` // the stock lot of a new vial
	ProductID     ID      `json:"product_id"`
	Brand         string  `json:"brand"`
	UCD           string  `json:"ucd"`
	Lot           string  `json:"lot"`
	LotExpiry     Date    `json:"lot_expiry"`
	Concentration float64 `json:"concentration"` // Unit per mL
	Unit          string  `json:"unit"`
	// Method is "volume" (measured with the syringe) or "mass" (weighed).
	Method     string  `json:"method"`
	VolumeML   float64 `json:"volume_ml"` // measured, or mass ÷ density
	MassG      float64 `json:"mass_g,omitempty"`
	DensityGML float64 `json:"density_g_ml,omitempty"`
	Quantity   float64 `json:"quantity"` // drug drawn, in Unit
}

// Requests of the production service.

// ProductionRequest is what the technician records for a preparation.
type ProductionRequest struct {
	Vials []UsedVialInput `json:"vials"`
	// FinalVolumeML is the final volume measured, if it was.
	FinalVolumeML float64 `json:"final_volume_ml,omitempty"`
	// Leftovers are vials not emptied, kept for reuse.
	Leftovers []LeftoverInput `json:"leftovers,omitempty"`
	Comment   string          `json:"comment,omitempty"`
}

// UsedVialInput is one vial drawn from: a leftover (LeftoverID) or a new
// vial of a stock lot (LotID), with the volume withdrawn or, for a
// gravimetric control, the mass withdrawn (the syringe weighed before and
// after).
type UsedVialInput struct {
	LeftoverID ID       `json:"leftover_id,omitempty"`
	LotID      ID       `json:"lot_id,omitempty"`
	VolumeML   float64  `json:"volume_ml,omitempty"`
	MassG      *float64 `json:"mass_g,omitempty"`
}

// CheckRequest is the second person's check.
type CheckRequest struct {
	Comment string `json:"comment,omitempty"`
}

// ReleaseRequest is the pharmacist's release.
type ReleaseRequest struct {
	Comment        string `json:"comment,omitempty"`
	IndicationCode string `json:"indication_code,omitempty"`
}

// AnnotationRequest adds a note (a correction) to a register entry.
type AnnotationRequest struct {
	Text string `json:"text"`
}

// PreparationFilter selects preparations.
type PreparationFilter struct {
	Date      Date              `json:"date,omitempty"` // administration date
	Status    PreparationStatus `json:"status,omitempty"`
	PatientID ID                `json:"patient_id,omitempty"`
}

// PreparationDossier is everything the documents of one preparation show,
// read in one transaction.
type PreparationDossier struct {
	Preparation  Preparation      `json:"preparation"`
	Patient      Patient          `json:"patient"`
	Prescription Prescription     `json:"prescription"`
	Line         PrescriptionLine `json:"line"`
	Drug         Drug             `json:"drug"`
	Products     []Product        `json:"products"` // the products the plan and the vials name
	// PreparedFor is the site this preparation was made for under a
	// mutual-aid agreement, as its register entry says (issue 12), with
	// its name as this site knows it (the id when the site is not
	// recorded); nil for this site's own patients. The label then says
	// "Préparé par … pour …".
	PreparedFor *Site `json:"prepared_for,omitempty"`
	// DataTime is the latest change among the rows shown: the documents'
	// data time (the same data give the same bytes).
	DataTime time.Time `json:"data_time"`
}

// Product returns the product with id among the dossier's.
func (d PreparationDossier) Product(id ID) (Product, bool) {
	for _, p := range d.Products {
		if p.ID == id {
			return p, true
		}
	}
	return Product{}, false
}

// Pharmacy is the hospital pharmacy (PUI) that issues documents: labels must
// carry its name, address and telephone.
type Pharmacy struct {
	Site      string    `json:"site"`
	Name      string    `json:"name"`
	Address   string    `json:"address"`
	Phone     string    `json:"phone"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Validate checks the pharmacy's mentions.
func (p Pharmacy) Validate(op string) error {
	var errs []error
	if strings.TrimSpace(p.Name) == "" {
		errs = append(errs, Invalid(op, "name", "the pharmacy's name is required (it is printed on every label), e.g. PUI – CHU de Rennes"))
	}
	if strings.TrimSpace(p.Address) == "" {
		errs = append(errs, Invalid(op, "address", "the pharmacy's address is required on labels"))
	}
	if strings.TrimSpace(p.Phone) == "" {
		errs = append(errs, Invalid(op, "phone", "the pharmacy's telephone is required on labels"))
	}
	return Errors(op, errs)
}

// ProductionService runs the pharmacy chain after validation: preparations,
// leftover vials, the preparation register, stock, release, dispensing,
// administration and billing.
type ProductionService interface {
	Preparations(ctx context.Context, f PreparationFilter) ([]Preparation, error)
	Preparation(ctx context.Context, id ID) (Preparation, error)
	// Dossiers reads what the documents of these preparations show.
	Dossiers(ctx context.Context, ids []ID) ([]PreparationDossier, error)
	// ProposePreparation recomputes the compounding plan of a preparation
	// still to prepare (after a catalogue change, or to use new leftovers).
	ProposePreparation(ctx context.Context, id ID) (Preparation, error)
	IssueWorksheet(ctx context.Context, id ID) (Preparation, error)
	RecordProduction(ctx context.Context, id ID, req ProductionRequest) (Preparation, error)
	CheckPreparation(ctx context.Context, id ID, req CheckRequest) (Preparation, error)
	ReleasePreparation(ctx context.Context, id ID, req ReleaseRequest) (Preparation, error)
	RejectPreparation(ctx context.Context, id ID, reason string) (Preparation, error)
	CancelPreparation(ctx context.Context, id ID, reason string) (Preparation, error)
	// RemakePreparation makes a new preparation for the line of a rejected one.
	RemakePreparation(ctx context.Context, id ID) (Preparation, error)

	// The preparation register (ordonnancier).
	Register(ctx context.Context, from, to Date) ([]RegisterEntry, error)
	AnnotateRegister(ctx context.Context, number string, req AnnotationRequest) (RegisterEntry, error)

	RecordLeftover(ctx context.Context, in LeftoverInput) (LeftoverVial, error)
	Leftover(ctx context.Context, id ID) (LeftoverVial, error)
	Leftovers(ctx context.Context, f LeftoverFilter) ([]LeftoverItem, error)
	DiscardLeftover(ctx context.Context, id ID, reason string) (LeftoverVial, error)
	// IsolatorCheck moves leftovers past their expiry to expired and lists
	// every leftover still in the isolator, for the end-of-day check.
	IsolatorCheck(ctx context.Context) (IsolatorCheck, error)

	ReceiveStock(ctx context.Context, in StockReceipt) (StockLot, error)
	StockLots(ctx context.Context, productID ID) ([]StockLot, error)
	// SetTolerance sets a drug's gravimetric tolerance (percent).
	SetTolerance(ctx context.Context, drugID ID, percent float64) (Tolerance, error)

	CreateSlip(ctx context.Context, req SlipRequest) (DeliverySlip, error)
	Slip(ctx context.Context, id ID) (DeliverySlip, error)
	Slips(ctx context.Context, day Date) ([]DeliverySlip, error)
	ReceiveSlip(ctx context.Context, id ID, req ReceiptRequest) (DeliverySlip, error)

	AdministrationPlan(ctx context.Context, patientID ID, day Date) (AdministrationPlan, error)
	RecordAdministration(ctx context.Context, preparationID ID, req AdministrationRequest) (Administration, error)
	RecordNotAdministered(ctx context.Context, preparationID ID, req NotAdministeredRequest) (Administration, error)
	Administration(ctx context.Context, preparationID ID) (Administration, error)

	BillingLines(ctx context.Context, month string) ([]BillingLine, error)

	Pharmacy(ctx context.Context) (Pharmacy, error)
	SetPharmacy(ctx context.Context, p Pharmacy) (Pharmacy, error)
}

// round rounds v to d decimals, so that binary noise (0.30000000000000004)
// never reaches a label or a comparison.
func round(v float64, d int) float64 {
	p := math.Pow(10, float64(d))
	return math.Round(v*p) / p
}

// PreparationModeFor decides what the pharmacy does with a validated line,
// and says why; ok is false when the line makes no preparation:
//
//   - an oral line is dispensed as is;
//   - a non-cytotoxic premedication, supportive or hydration line is given
//     from the ward's stock: no preparation;
//   - a non-cytotoxic parenteral line with no vehicle whose dose is exactly
//     one unit of a solution product (a ready-to-use syringe or pen) is
//     dispensed as is;
//   - everything else is compounded: every cytotoxic drug given by a
//     parenteral route is prepared in the isolator.
func PreparationModeFor(l PrescriptionLine, drug Drug, products []Product) (PreparationMode, string, bool) {
	route := AdminRoute(l.Route)
	if route == RoutePO {
		return ModeDispensed, "oral: dispensed as is", true
	}
	if !drug.Cytotoxic {
		switch LineKind(l.Kind) {
		case LinePremedication, LineSupportive, LineHydration:
			return "", "given from the ward's stock", false
		}
		if strings.TrimSpace(l.Vehicle) == "" {
			for _, p := range products {
				if p.Form == FormSolution && p.StrengthUnit == l.Unit && p.Strength == l.Dose {
					return ModeDispensed, "ready to use: one " + p.Brand, true
				}
			}
		}
	}
	if drug.Cytotoxic {
		return ModeCompounded, "cytotoxic by the " + l.Route + " route: prepared in the isolator", true
	}
	return ModeCompounded, "parenteral dose to prepare (" + l.Route + ")", true
}
