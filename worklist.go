package relais

import "context"

// Worklists: what waits for someone today. A prescriber's home page lists
// the drafts to sign, the days waiting for their OK-to-treat and the cycles
// due to be prescribed; a nurse's lists the day's lines to give; a
// pharmacist's, the days to validate with their alerts.

// WorklistRequest asks for the worklist of a day.
type WorklistRequest struct {
	// On is the day (local calendar date): OK-to-treat is due for days on
	// or before it, the nurse's lines are those dated On.
	On Date `json:"on"`
	// HorizonDays: cycles whose expected start is within On + HorizonDays
	// are due to be prescribed.
	HorizonDays int `json:"horizon_days"`
	// PrescriberID, when set, marks the patients this prescriber has
	// prescribed for or included (Mine).
	PrescriberID ID `json:"prescriber_id,omitempty"`
	// PrescriberName matches treatments included by this prescriber (a
	// treatment records its author's display name).
	PrescriberName string `json:"prescriber_name,omitempty"`
	// Lists, when not empty, names the lists wanted (WorklistToSign…):
	// the others are left empty, and what only they need is not read — a
	// nurse's home needs the day's lines, not every open treatment.
	Lists []string `json:"lists,omitempty"`
}

// The lists of a worklist, as WorklistRequest.Lists names them.
const (
	WorklistToSign      = "to_sign"
	WorklistOKToTreat   = "ok_to_treat"
	WorklistToPrescribe = "to_prescribe"
	WorklistToday       = "today"
	WorklistToValidate  = "to_validate"
	WorklistPatients    = "patients"
)

// WorklistItem is one thing waiting: a cycle, a day of a cycle, or a
// patient.
type WorklistItem struct {
	PatientID      ID                 `json:"patient_id"`
	PatientName    string             `json:"patient_name"`
	IPP            string             `json:"ipp"`
	BirthDate      Date               `json:"birth_date"`
	TreatmentID    ID                 `json:"treatment_id"`
	PrescriptionID ID                 `json:"prescription_id,omitempty"`
	Regimen        string             `json:"regimen"`
	Cycle          int                `json:"cycle"`
	Day            int                `json:"day,omitempty"`
	Date           Date               `json:"date"`
	Status         PrescriptionStatus `json:"status,omitempty"`
	PrescriberName string             `json:"prescriber_name,omitempty"`
	// Lines are the lines concerned (the day's lines for a nurse), without
	// their dose rule and derivation (the prescription has them).
	Lines []PrescriptionLine `json:"lines,omitempty"`
	// Mine is true when the request's prescriber included the patient or
	// prescribed this cycle.
	Mine bool `json:"mine"`
	// Checks are the cycle's warnings and blocking checks (not the
	// information ones), for the pharmacist's alerts.
	Checks []Check `json:"checks,omitempty"`
}

// Worklist is a day's work for the prescribers and the wards.
type Worklist struct {
	On Date `json:"on"`
	// ToSign are the drafts, oldest start first.
	ToSign []WorklistItem `json:"to_sign"`
	// OKToTreat are the days of signed cycles, on or before On, that have
	// no OK-to-treat yet.
	OKToTreat []WorklistItem `json:"ok_to_treat"`
	// ToPrescribe are the next cycles of planned or active treatments
	// expected to start by On + HorizonDays and not yet prescribed.
	ToPrescribe []WorklistItem `json:"to_prescribe"`
	// Today are the days of signed cycles dated On, with their lines.
	Today []WorklistItem `json:"today"`
	// ToValidate are the days that have their OK-to-treat and lines waiting
	// for a pharmacist, whatever their date (the days of
	// TreatmentService.ValidationQueue), oldest first, with those lines.
	ToValidate []WorklistItem `json:"to_validate"`
	// Patients are the patients with a planned or active treatment, by
	// name (Mine first when a prescriber asked).
	Patients []WorklistItem `json:"patients"`
}

// WorklistService answers worklists; the store implements it beside
// TreatmentService.
type WorklistService interface {
	Worklist(ctx context.Context, req WorklistRequest) (Worklist, error)
}
