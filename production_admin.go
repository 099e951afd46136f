package relais

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// Dispensing and administration: the delivery slip a ward receives, the
// administration plan of a patient's day, and what the nurse records.

// Rounds of delivery.
const (
	RoundMorning   = "morning"
	RoundAfternoon = "afternoon"
	RoundEvening   = "evening"
)

// DeliverySlip (bordereau de livraison) lists the preparations handed to one
// ward in one round.
type DeliverySlip struct {
	ID             ID        `json:"id"`
	Site           string    `json:"site"`
	Number         string    `json:"number"` // "BL-2026-000042"
	Ward           string    `json:"ward"`
	RoundDate      Date      `json:"round_date"`
	Round          string    `json:"round"`
	PreparationIDs []ID      `json:"preparation_ids"`
	CreatedBy      string    `json:"created_by"`
	CreatedByID    ID        `json:"created_by_id"`
	CreatedAt      time.Time `json:"created_at"`
	// Receipt is the ward's acknowledgement: who received, when.
	Receipt   *Signoff  `json:"receipt,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}

// SlipRequest makes a delivery slip.
type SlipRequest struct {
	Ward           string `json:"ward"`
	RoundDate      Date   `json:"round_date"`
	Round          string `json:"round"`
	PreparationIDs []ID   `json:"preparation_ids"`
}

// Validate checks a slip request.
func (r SlipRequest) Validate(op string) error {
	var errs []error
	if strings.TrimSpace(r.Ward) == "" {
		errs = append(errs, Invalid(op, "ward", "name the ward the preparations go to"))
	}
	if _, err := ParseDate("round_date", string(r.RoundDate)); err != nil {
		errs = append(errs, err)
	}
	switch r.Round {
	case RoundMorning, RoundAfternoon, RoundEvening:
	default:
		errs = append(errs, Invalid(op, "round", "round must be morning, afternoon or evening"))
	}
	if len(r.PreparationIDs) == 0 {
		errs = append(errs, Invalid(op, "preparation_ids", "list the preparations handed over"))
	}
	seen := map[ID]bool{}
	for i, id := range r.PreparationIDs {
		if seen[id] {
			errs = append(errs, Invalid(op, fmt.Sprintf("preparation_ids[%d]", i), "preparation %s is listed twice", id))
		}
		seen[id] = true
	}
	return Errors(op, errs)
}

// ReceiptRequest records the ward's receipt of a slip.
type ReceiptRequest struct {
	Comment string `json:"comment,omitempty"`
}

// Receive records the receipt.
func (s *DeliverySlip) Receive(comment string, a Actor, now time.Time) error {
	if s.Receipt != nil {
		return transitionErr("slip.receive", "slip %s was received already (%s, %s)", s.Number, s.Receipt.By,
			s.Receipt.At.In(DisplayZone).Format("02/01/2006 15:04"))
	}
	s.Receipt = signoff(a, now)
	s.Receipt.Comment = strings.TrimSpace(comment)
	s.UpdatedAt = now
	return nil
}

// Incident kinds.
const (
	IncidentExtravasation = "extravasation"
	IncidentReaction      = "reaction" // infusion or hypersensitivity reaction
	IncidentOther         = "other"
)

// Interruption is a pause of the infusion.
type Interruption struct {
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	Reason string    `json:"reason"`
}

// Incident is an adverse event during the administration.
type Incident struct {
	Kind        string    `json:"kind"`
	At          time.Time `json:"at"`
	Description string    `json:"description"`
	Action      string    `json:"action,omitempty"` // what was done
}

// ScanCheck is the bedside second check: the label's DataMatrix scanned and
// compared with the patient.
type ScanCheck struct {
	Label      string    `json:"label"`       // the scanned content
	PatientIPP string    `json:"patient_ipp"` // read from the wristband
	At         time.Time `json:"at"`
	Matched    bool      `json:"matched"`
}

// Administration outcomes.
const (
	OutcomeAdministered = "administered"
	OutcomeReturned     = "returned"
	OutcomeDestroyed    = "destroyed"
)

// Administration is what the nurse recorded for a preparation: given (with
// times, volume, rate, interruptions and incidents) or not (returned or
// destroyed, with the reason and the cost).
type Administration struct {
	ID             ID             `json:"id"`
	Site           string         `json:"site"`
	PreparationID  ID             `json:"preparation_id"`
	PatientID      ID             `json:"patient_id"`
	RegisterNumber string         `json:"register_number,omitempty"`
	Outcome        string         `json:"outcome"`
	StartedAt      time.Time      `json:"started_at,omitzero"`
	EndedAt        time.Time      `json:"ended_at,omitzero"`
	VolumeGivenML  float64        `json:"volume_given_ml,omitempty"`
	RateMLH        float64        `json:"rate_ml_h,omitempty"`
	Interruptions  []Interruption `json:"interruptions"`
	Incidents      []Incident     `json:"incidents"`
	Scan           *ScanCheck     `json:"scan,omitempty"`
	SecondNurse    string         `json:"second_nurse,omitempty"`
	Reason         string         `json:"reason,omitempty"`
	CostEUR        float64        `json:"cost_eur,omitempty"`
	IndicationCode string         `json:"indication_code,omitempty"`
	Comment        string         `json:"comment,omitempty"`
	RecordedBy     string         `json:"recorded_by"`
	RecordedByID   ID             `json:"recorded_by_id"`
	RecordedAt     time.Time      `json:"recorded_at"`
}

// AdministrationRequest is what the nurse records at the bedside.
type AdministrationRequest struct {
	// ScannedLabel is the content of the label's DataMatrix, as the scanner
	// reads it; PatientIPP is the patient's IPP read from the wristband.
	ScannedLabel   string         `json:"scanned_label"`
	PatientIPP     string         `json:"patient_ipp"`
	StartedAt      time.Time      `json:"started_at"`
	EndedAt        time.Time      `json:"ended_at"`
	VolumeGivenML  float64        `json:"volume_given_ml"`
	RateMLH        float64        `json:"rate_ml_h,omitempty"`
	Interruptions  []Interruption `json:"interruptions,omitempty"`
	Incidents      []Incident     `json:"incidents,omitempty"`
	SecondNurse    string         `json:"second_nurse,omitempty"`
	IndicationCode string         `json:"indication_code,omitempty"`
	Comment        string         `json:"comment,omitempty"`
}

// Validate checks the times, volumes, interruptions and incidents.
func (r AdministrationRequest) Validate(op string, now time.Time) error {
	var errs []error
	add := func(field, format string, args ...any) { errs = append(errs, Invalid(op, field, format, args...)) }
	if strings.TrimSpace(r.ScannedLabel) == "" {
		add("scanned_label", "scan the DataMatrix of the preparation's label (the second check at the bedside)")
	}
	if strings.TrimSpace(r.PatientIPP) == "" {
		add("patient_ipp", "scan or type the patient's IPP from the wristband")
	}
	if r.StartedAt.IsZero() {
		add("started_at", "give the time the administration started")
	}
	if r.EndedAt.IsZero() {
		add("ended_at", "give the time the administration ended")
	}
	if !r.StartedAt.IsZero() && !r.EndedAt.IsZero() && r.EndedAt.Before(r.StartedAt) {
		add("ended_at", "the administration cannot end before it starts")
	}
	if !r.EndedAt.IsZero() && r.EndedAt.After(now.Add(5*time.Minute)) {
		add("ended_at", "the end is in the future: record the administration once it is over")
	}
	if !(r.VolumeGivenML >= 0) || math.IsInf(r.VolumeGivenML, 0) {
		add("volume_given_ml", "the volume given is a number of mL (0 for an oral dose)")
	}
	if r.RateMLH < 0 || math.IsNaN(r.RateMLH) || math.IsInf(r.RateMLH, 0) {
		add("rate_ml_h", "the rate cannot be negative")
	}
	for i, in := range r.Interruptions {
		f := fmt.Sprintf("interruptions[%d]", i)
		if in.From.IsZero() || in.To.IsZero() || in.To.Before(in.From) {
			add(f+".to", "an interruption needs its start and its end, in order")
		} else if (!r.StartedAt.IsZero() && in.From.Before(r.StartedAt)) || (!r.EndedAt.IsZero() && in.To.After(r.EndedAt)) {
			add(f+".from", "an interruption lies within the administration")
		}
		if strings.TrimSpace(in.Reason) == "" {
			add(f+".reason", "say why the infusion was interrupted")
		}
	}
	for i, in := range r.Incidents {
		f := fmt.Sprintf("incidents[%d]", i)
		switch in.Kind {
		case IncidentExtravasation, IncidentReaction, IncidentOther:
		default:
			add(f+".kind", "kind must be extravasation, reaction or other")
		}
		if in.At.IsZero() {
			add(f+".at", "give the time of the incident")
		}
		if strings.TrimSpace(in.Description) == "" {
			add(f+".description", "describe the incident")
		}
	}
	if r.IndicationCode != "" {
		if err := ValidateIndicationCode("indication_code", r.IndicationCode); err != nil {
			errs = append(errs, err)
		}
	}
	return Errors(op, errs)
}

// NotAdministeredRequest records a preparation not given.
type NotAdministeredRequest struct {
	Outcome string  `json:"outcome"` // returned | destroyed
	Reason  string  `json:"reason"`
	CostEUR float64 `json:"cost_eur"`
}

// Validate checks a not-administered record.
func (r NotAdministeredRequest) Validate(op string) error {
	var errs []error
	if r.Outcome != OutcomeReturned && r.Outcome != OutcomeDestroyed {
		errs = append(errs, Invalid(op, "outcome", "outcome must be returned (to the pharmacy) or destroyed"))
	}
	if strings.TrimSpace(r.Reason) == "" {
		errs = append(errs, Invalid(op, "reason", "say why the preparation was not given"))
	}
	if !(r.CostEUR >= 0) || math.IsInf(r.CostEUR, 0) {
		errs = append(errs, Invalid(op, "cost_eur", "the cost is a number of euros, 0 or more"))
	}
	return Errors(op, errs)
}

// PreparationCodePrefix starts the DataMatrix content of a preparation's
// label (pdfdoc prints the same): a scanner reading another code knows at
// once it is not a preparation.
const PreparationCodePrefix = "RLS:PREP:"

// PreparationCode is the DataMatrix content of a preparation.
func PreparationCode(id ID) string { return PreparationCodePrefix + string(id) }

// CheckScan compares what was scanned at the bedside with the preparation
// and its patient; a mismatch is refused with what was scanned.
func CheckScan(p Preparation, patient Patient, scannedLabel, patientIPP string) error {
	const op = "administration.scan"
	s := strings.TrimSpace(scannedLabel)
	id, ok := strings.CutPrefix(s, PreparationCodePrefix)
	if !ok || id == "" {
		return &Error{Op: op, Kind: KindConflict, Field: "scanned_label", Message: fmt.Sprintf(
			"the code scanned (%q) is not a Relais preparation label: scan the DataMatrix on the bag's label; do not administer until it matches", truncate(s, 60))}
	}
	if ID(id) != p.ID {
		return &Error{Op: op, Kind: KindConflict, Field: "scanned_label", Message: fmt.Sprintf(
			"MISMATCH: the label scanned is preparation %s, not %s (%s %s %s for %s): do not administer; check the bag against the plan",
			id, p.Display(), p.INN, num(p.Dose), p.Unit, patient.DisplayName())}
	}
	ipp := strings.TrimSpace(patientIPP)
	if ipp != patient.IPP {
		return &Error{Op: op, Kind: KindConflict, Field: "patient_ipp", Message: fmt.Sprintf(
			"MISMATCH: preparation %s is for %s (IPP %s, born %s), but the wristband reads IPP %q: do not administer; check the patient's identity",
			p.Display(), patient.DisplayName(), patient.IPP, patient.BirthDate, truncate(ipp, 40))}
	}
	return nil
}

// AdministrationPlan is what a patient is given on a day, in sequence.
type AdministrationPlan struct {
	PatientID ID         `json:"patient_id"`
	Day       Date       `json:"day"`
	Protocols []string   `json:"protocols"`
	Cycle     string     `json:"cycle,omitempty"`
	WeightKg  float64    `json:"weight_kg,omitempty"`
	BSAM2     float64    `json:"bsa_m2,omitempty"`
	Items     []PlanItem `json:"items"`
	// DataTime is the latest change among the rows shown.
	DataTime time.Time `json:"data_time"`
}

// PlanItem is one administration of the day.
type PlanItem struct {
	Seq            int       `json:"seq"`
	PrescriptionID ID        `json:"prescription_id"`
	LineID         ID        `json:"line_id"`
	PreparationID  ID        `json:"preparation_id,omitempty"`
	RegisterNumber string    `json:"register_number,omitempty"`
	Status         string    `json:"status"` // the preparation's status, or "ward_stock"
	Kind           string    `json:"kind"`   // chemo, premedication, supportive, hydration
	INN            string    `json:"inn"`
	Dose           float64   `json:"dose"`
	Unit           string    `json:"unit"`
	Route          string    `json:"route"`
	Vehicle        string    `json:"vehicle,omitempty"`
	VolumeML       float64   `json:"volume_ml,omitempty"`
	DurationMin    int       `json:"duration_min,omitempty"`
	RateMLH        float64   `json:"rate_ml_h,omitempty"`
	Start          time.Time `json:"start"`
	End            time.Time `json:"end"`
	Comments       string    `json:"comments,omitempty"`
}

// PlanLine is a validated line of the day with its preparation, if any.
type PlanLine struct {
	Prescription Prescription
	Line         PrescriptionLine
	Preparation  *Preparation
}

// BuildAdministrationPlan orders the day's lines (by prescription start,
// then line sequence) and times them one after the other from start: an
// item ends after its duration (or its volume at its rate); a bolus or an
// oral dose takes no time on the plan. The rate is the prescribed one, or
// the volume over the duration (0.1 mL/h).
func BuildAdministrationPlan(patientID ID, day Date, start time.Time, lines []PlanLine) AdministrationPlan {
	pl := AdministrationPlan{PatientID: patientID, Day: day, Items: []PlanItem{}, Protocols: []string{}}
	sort.SliceStable(lines, func(i, j int) bool {
		a, b := lines[i], lines[j]
		if a.Prescription.StartDate != b.Prescription.StartDate {
			return a.Prescription.StartDate < b.Prescription.StartDate
		}
		if a.Prescription.ID != b.Prescription.ID {
			return a.Prescription.ID < b.Prescription.ID
		}
		return a.Line.Seq < b.Line.Seq
	})
	seen := map[ID]bool{}
	t := start
	for i, pl0 := range lines {
		p, l := pl0.Prescription, pl0.Line
		if !seen[p.ID] {
			seen[p.ID] = true
			pl.Protocols = append(pl.Protocols, p.Regimen)
			pl.Cycle = fmt.Sprintf("C%d J%d", p.Cycle, l.Day)
			pl.WeightKg, pl.BSAM2 = p.Measurements.WeightKg, p.Measurements.BSAM2
		}
		it := PlanItem{Seq: i + 1, PrescriptionID: p.ID, LineID: l.ID, Status: "ward_stock", Kind: l.Kind, INN: l.INN,
			Dose: l.Dose, Unit: l.Unit, Route: l.Route, Vehicle: l.Vehicle, VolumeML: l.VolumeML, DurationMin: l.DurationMin,
			RateMLH: l.RateMLH, Comments: l.Comments}
		if pr := pl0.Preparation; pr != nil {
			it.PreparationID, it.RegisterNumber, it.Status = pr.ID, pr.RegisterNumber, string(pr.Status)
			if pr.Plan != nil && pr.Plan.FinalVolumeML > 0 {
				it.VolumeML = pr.Plan.FinalVolumeML
			}
		}
		dur := time.Duration(it.DurationMin) * time.Minute
		if dur == 0 && it.RateMLH > 0 && it.VolumeML > 0 {
			dur = time.Duration(math.Round(it.VolumeML/it.RateMLH*60)) * time.Minute
		}
		if it.RateMLH == 0 && it.VolumeML > 0 && it.DurationMin > 0 {
			it.RateMLH = round(it.VolumeML/(float64(it.DurationMin)/60), 1)
		}
		it.Start, it.End = t, t.Add(dur)
		t = it.End
		pl.Items = append(pl.Items, it)
	}
	return pl
}
