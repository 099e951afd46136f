package relais

import (
	"context"
	"encoding/json"
	"time"

	"github.com/relais-onco/relais/clinical"
)

// A treatment is a patient included in one exact protocol version.
//
//	planned → active → completed | stopped      (planned → stopped too)
type TreatmentStatus string

const (
	TreatmentPlanned   TreatmentStatus = "planned"
	TreatmentActive    TreatmentStatus = "active"
	TreatmentCompleted TreatmentStatus = "completed"
	TreatmentStopped   TreatmentStatus = "stopped"
)

var treatmentTransitions = map[TreatmentStatus][]TreatmentStatus{
	TreatmentPlanned: {TreatmentActive, TreatmentStopped},
	TreatmentActive:  {TreatmentCompleted, TreatmentStopped},
}

// CanMove reports whether a treatment may go from s to to.
func (s TreatmentStatus) CanMove(to TreatmentStatus) bool {
	return allowed(treatmentTransitions, s, to)
}

// Treatment is a patient's inclusion in a protocol version.
type Treatment struct {
	ID                ID              `json:"id"`
	Site              string          `json:"site"`
	PatientID         ID              `json:"patient_id"`
	ProtocolID        ID              `json:"protocol_id"`
	ProtocolVersionID ID              `json:"protocol_version_id"`
	ProtocolCode      string          `json:"protocol_code"`
	ProtocolName      string          `json:"protocol_name"`
	VersionNumber     int             `json:"version_number"`
	Arm               string          `json:"arm,omitempty"`
	Intent            string          `json:"intent"` // curative, palliative, adjuvant, neoadjuvant, maintenance
	StartDate         Date            `json:"start_date"`
	PlannedCycles     int             `json:"planned_cycles"`
	CycleLengthDays   int             `json:"cycle_length_days"`
	Status            TreatmentStatus `json:"status"`
	StatusReason      string          `json:"status_reason,omitempty"`
	CreatedAt         time.Time       `json:"created_at"`
	CreatedBy         string          `json:"created_by"`
	UpdatedAt         time.Time       `json:"updated_at"`
}

// Intents a treatment may have.
var Intents = []string{"curative", "palliative", "adjuvant", "neoadjuvant", "maintenance"}

// A cycle prescription:
//
//	draft → signed → completed ; draft | signed → cancelled
//
// Per day, an OK-to-treat is given after signature; per line, the pharmacist
// validates or refuses once the line's day has its OK-to-treat.
type PrescriptionStatus string

const (
	PrescriptionDraft     PrescriptionStatus = "draft"
	PrescriptionSigned    PrescriptionStatus = "signed"
	PrescriptionCompleted PrescriptionStatus = "completed"
	PrescriptionCancelled PrescriptionStatus = "cancelled"
)

var prescriptionTransitions = map[PrescriptionStatus][]PrescriptionStatus{
	PrescriptionDraft:  {PrescriptionSigned, PrescriptionCancelled},
	PrescriptionSigned: {PrescriptionCompleted, PrescriptionCancelled},
}

// CanMove reports whether a prescription may go from s to to.
func (s PrescriptionStatus) CanMove(to PrescriptionStatus) bool {
	return allowed(prescriptionTransitions, s, to)
}

// A prescription line:
//
//	proposed → validated | refused | cancelled ; refused → proposed (amended by the prescriber)
type LineStatus string

const (
	LineProposed  LineStatus = "proposed"
	LineValidated LineStatus = "validated"
	LineRefused   LineStatus = "refused"
	LineCancelled LineStatus = "cancelled"
)

var lineTransitions = map[LineStatus][]LineStatus{
	LineProposed: {LineValidated, LineRefused, LineCancelled},
	LineRefused:  {LineProposed, LineCancelled},
}

// CanMove reports whether a line may go from s to to.
func (s LineStatus) CanMove(to LineStatus) bool { return allowed(lineTransitions, s, to) }

func allowed[S comparable](m map[S][]S, from, to S) bool {
	for _, s := range m[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Prescription is one cycle of a treatment, prescribed for a patient.
type Prescription struct {
	ID          ID                 `json:"id"`
	Site        string             `json:"site"`
	TreatmentID ID                 `json:"treatment_id"`
	PatientID   ID                 `json:"patient_id"`
	Cycle       int                `json:"cycle"` // 1-based
	StartDate   Date               `json:"start_date"`
	Status      PrescriptionStatus `json:"status"`
	// The protocol version it was computed from, and its name for display.
	ProtocolVersionID ID     `json:"protocol_version_id"`
	Regimen           string `json:"regimen"` // "R-CHOP-21 v3"
	// Measurements are the variables used by the calculation, with their
	// dates: ASCO/ONS asks that they appear on the order.
	Measurements UsedMeasurements   `json:"measurements"`
	Lines        []PrescriptionLine `json:"lines"`
	Days         []PrescriptionDay  `json:"days"`
	Checks       []Check            `json:"checks"`
	// Order elements the ASCO/ONS standard requires that were checked at
	// signature.
	PrescriberID   ID        `json:"prescriber_id"`
	PrescriberName string    `json:"prescriber_name"`
	SignedAt       time.Time `json:"signed_at,omitzero"`
	CancelReason   string    `json:"cancel_reason,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// UsedMeasurements are the values a cycle's doses were computed with.
type UsedMeasurements struct {
	HeightCm        float64          `json:"height_cm"`
	HeightAt        time.Time        `json:"height_at"`
	WeightKg        float64          `json:"weight_kg"`
	WeightAt        time.Time        `json:"weight_at"`
	CreatinineUmolL float64          `json:"creatinine_umol_l,omitempty"`
	CreatinineAt    time.Time        `json:"creatinine_at,omitzero"`
	AgeYears        float64          `json:"age_years"`
	Sex             string           `json:"sex"`
	BSAM2           float64          `json:"bsa_m2"`
	BSA             clinical.Result  `json:"bsa"`
	GFR             *clinical.Result `json:"gfr,omitempty"`
}

// PrescriptionLine is one drug given on one day of the cycle.
type PrescriptionLine struct {
	ID             ID            `json:"id"`
	Seq            int           `json:"seq"`
	Day            int           `json:"day"` // day of the cycle: 1 = J1
	Date           Date          `json:"date"`
	ProtocolLineID ID            `json:"protocol_line_id,omitempty"`
	DrugID         ID            `json:"drug_id,omitempty"`
	INN            string        `json:"inn"`
	DrugClass      string        `json:"drug_class,omitempty"`
	Kind           string        `json:"kind"` // chemo, premedication, supportive, hydration
	Route          string        `json:"route"`
	Rule           clinical.Rule `json:"rule"`
	// Dose is the dose to give, in Unit, as computed (with its derivation in
	// Calculation) and possibly modified by the prescriber (Modification).
	Dose         float64           `json:"dose"`
	Unit         string            `json:"unit"`
	Calculation  clinical.Result   `json:"calculation"`
	Modification *LineModification `json:"modification,omitempty"`
	Vehicle      string            `json:"vehicle,omitempty"`
	VolumeML     float64           `json:"volume_ml,omitempty"`
	DurationMin  int               `json:"duration_min,omitempty"`
	RateMLH      float64           `json:"rate_ml_h,omitempty"`
	Comments     string            `json:"comments,omitempty"`
	Status       LineStatus        `json:"status"`
	Validation   *LineValidation   `json:"validation,omitempty"`
}

// LineModification is the prescriber's change of a computed dose.
type LineModification struct {
	Percent      *float64  `json:"percent,omitempty"`
	Value        *float64  `json:"value,omitempty"`
	Reason       string    `json:"reason"`
	ComputedDose float64   `json:"computed_dose"` // before the modification
	By           string    `json:"by"`
	At           time.Time `json:"at"`
}

// Validation decisions of a pharmacist on a line.
const (
	DecisionAccept                 = "accept"
	DecisionRefuse                 = "refuse"
	DecisionAcceptWithIntervention = "accept_with_intervention"
)

// LineValidation is the pharmacist's decision on a line.
type LineValidation struct {
	Decision     string    `json:"decision"`
	Comment      string    `json:"comment,omitempty"`
	Intervention string    `json:"intervention,omitempty"` // pharmaceutical intervention, when accepted with one
	By           string    `json:"by"`
	ByID         ID        `json:"by_id"`
	At           time.Time `json:"at"`
}

// PrescriptionDay is one day of administration in the cycle.
type PrescriptionDay struct {
	Day       int        `json:"day"`
	Date      Date       `json:"date"`
	Postponed *Postponed `json:"postponed,omitempty"`
	OKToTreat *OKToTreat `json:"ok_to_treat,omitempty"`
}

// Postponed records that a day was moved.
type Postponed struct {
	From   Date      `json:"from"`
	Reason string    `json:"reason"`
	By     string    `json:"by"`
	At     time.Time `json:"at"`
}

// OKToTreat is the day's go-ahead ("feu vert"), with the values seen.
type OKToTreat struct {
	By      string      `json:"by"`
	ByID    ID          `json:"by_id"`
	At      time.Time   `json:"at"`
	Values  []SeenValue `json:"values"`
	Comment string      `json:"comment,omitempty"`
	// Unmet lists the criteria not met that the prescriber overrode, with
	// their reason (Comment is then mandatory).
	Unmet []string `json:"unmet,omitempty"`
}

// SeenValue is a lab or clinical value seen when giving the OK-to-treat.
type SeenValue struct {
	Kind       string    `json:"kind"` // e.g. neutrophils_g_l
	Value      float64   `json:"value"`
	Unit       string    `json:"unit"`
	MeasuredAt time.Time `json:"measured_at,omitzero"`
}

// Check levels.
type CheckLevel string

const (
	LevelBlocking    CheckLevel = "blocking"    // cannot sign until resolved
	LevelAcknowledge CheckLevel = "acknowledge" // must be acknowledged with a reason
	LevelInfo        CheckLevel = "info"
)

// Check is one finding on a prescription, with its level and reason.
type Check struct {
	Code   string     `json:"code"` // stable: dose.max, cumulative.limit, weight.change, …
	Level  CheckLevel `json:"level"`
	LineID ID         `json:"line_id,omitempty"`
	FR     string     `json:"fr"`
	EN     string     `json:"en"`
	Ack    *CheckAck  `json:"ack,omitempty"`
}

// Key identifies a check within a prescription (code and line).
func (c Check) Key() string { return c.Code + "/" + string(c.LineID) }

// CheckAck records who acknowledged a warning, and why.
type CheckAck struct {
	By     string    `json:"by"`
	ByID   ID        `json:"by_id"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
}

// Blocking returns the checks that prevent signing: blocking ones, and
// warnings not yet acknowledged.
func (p *Prescription) Blocking() []Check {
	var out []Check
	for _, c := range p.Checks {
		if c.Level == LevelBlocking || (c.Level == LevelAcknowledge && c.Ack == nil) {
			out = append(out, c)
		}
	}
	return out
}

// Line returns the line with id, or nil.
func (p *Prescription) Line(id ID) *PrescriptionLine {
	for i := range p.Lines {
		if p.Lines[i].ID == id {
			return &p.Lines[i]
		}
	}
	return nil
}

// DayOf returns the day entry for day n, or nil.
func (p *Prescription) DayOf(n int) *PrescriptionDay {
	for i := range p.Days {
		if p.Days[i].Day == n {
			return &p.Days[i]
		}
	}
	return nil
}

// Requests of the treatment service.

// IncludeRequest includes a patient in a protocol version.
type IncludeRequest struct {
	PatientID         ID     `json:"patient_id"`
	ProtocolVersionID ID     `json:"protocol_version_id"`
	Arm               string `json:"arm,omitempty"`
	Intent            string `json:"intent"`
	StartDate         Date   `json:"start_date"`
}

// PrescribeRequest prescribes a cycle of a treatment.
type PrescribeRequest struct {
	Cycle     int  `json:"cycle"`
	StartDate Date `json:"start_date"`
}

// ModifyLineRequest changes a line's dose: exactly one of Percent or Value,
// with a reason.
type ModifyLineRequest struct {
	Percent *float64 `json:"percent,omitempty"`
	Value   *float64 `json:"value,omitempty"`
	Reason  string   `json:"reason"`
}

// PostponeRequest moves a day of the cycle.
type PostponeRequest struct {
	Day    int    `json:"day"`
	To     Date   `json:"to"`
	Reason string `json:"reason"`
}

// AcknowledgeRequest acknowledges a warning.
type AcknowledgeRequest struct {
	Code   string `json:"code"`
	LineID ID     `json:"line_id,omitempty"`
	Reason string `json:"reason"`
}

// OKToTreatRequest gives a day's OK-to-treat.
type OKToTreatRequest struct {
	Day     int    `json:"day"`
	Comment string `json:"comment,omitempty"`
	// Override must be true to give the go-ahead when a criterion is not
	// met; Comment then says why.
	Override bool `json:"override,omitempty"`
}

// ValidateLineRequest is a pharmacist's decision on a line.
type ValidateLineRequest struct {
	Decision     string `json:"decision"`
	Comment      string `json:"comment,omitempty"`
	Intervention string `json:"intervention,omitempty"`
}

// ValidateLinesRequest carries a pharmacist's decisions on several lines.
type ValidateLinesRequest struct {
	Lines []LineDecision `json:"lines"`
}

// LineDecision is a decision on one line.
type LineDecision struct {
	LineID ID `json:"line_id"`
	ValidateLineRequest
}

// ReasonRequest carries a reason (cancel, stop).
type ReasonRequest struct {
	Reason string `json:"reason"`
}

// TreatmentService runs the circuit from inclusion to pharmaceutical
// validation.
type TreatmentService interface {
	Include(ctx context.Context, req IncludeRequest) (Treatment, error)
	Treatment(ctx context.Context, id ID) (Treatment, error)
	PatientTreatments(ctx context.Context, patientID ID) ([]Treatment, error)
	StopTreatment(ctx context.Context, id ID, reason string) (Treatment, error)

	Prescribe(ctx context.Context, treatmentID ID, req PrescribeRequest) (Prescription, error)
	Prescription(ctx context.Context, id ID) (Prescription, error)
	ModifyLine(ctx context.Context, prescriptionID, lineID ID, req ModifyLineRequest) (Prescription, error)
	Postpone(ctx context.Context, prescriptionID ID, req PostponeRequest) (Prescription, error)
	Acknowledge(ctx context.Context, prescriptionID ID, req AcknowledgeRequest) (Prescription, error)
	Sign(ctx context.Context, prescriptionID ID) (Prescription, error)
	GiveOKToTreat(ctx context.Context, prescriptionID ID, req OKToTreatRequest) (Prescription, error)
	ValidateLine(ctx context.Context, prescriptionID, lineID ID, req ValidateLineRequest) (Prescription, error)
	ValidateLines(ctx context.Context, prescriptionID ID, req ValidateLinesRequest) (Prescription, error)
	CancelPrescription(ctx context.Context, prescriptionID ID, reason string) (Prescription, error)

	// ValidationQueue lists the lines waiting for a pharmacist.
	ValidationQueue(ctx context.Context) ([]QueueItem, error)
	// History is a patient's whole treatment history, oldest first.
	History(ctx context.Context, patientID ID) (History, error)
}

// QueueItem is a prescription day waiting for pharmaceutical validation.
type QueueItem struct {
	PrescriptionID ID     `json:"prescription_id"`
	PatientID      ID     `json:"patient_id"`
	PatientName    string `json:"patient_name"`
	Regimen        string `json:"regimen"`
	Cycle          int    `json:"cycle"`
	Day            int    `json:"day"`
	Date           Date   `json:"date"`
	Lines          int    `json:"lines"`
}

// History is a patient's treatments and prescriptions, with cumulative
// doses. Its lines carry their doses, modifications and validations but not
// their derivations (Calculation is empty): GET /prescriptions/{id} has them.
type History struct {
	PatientID     ID               `json:"patient_id"`
	Treatments    []Treatment      `json:"treatments"`
	Prescriptions []Prescription   `json:"prescriptions"`
	Cumulative    []CumulativeDose `json:"cumulative"`
}

// CumulativeDose is a lifetime total for a drug class.
type CumulativeDose struct {
	Class   string          `json:"class"` // anthracycline (doxorubicin-equivalent mg/m²), bleomycin (U)
	Total   float64         `json:"total"`
	Unit    string          `json:"unit"`
	Limit   float64         `json:"limit,omitempty"`
	Exceeds bool            `json:"exceeds"`
	Detail  json.RawMessage `json:"detail,omitempty"`
}
