package relais

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The preparation register (ordonnancier): one number per compounded
// preparation, "YYYY-NNNNNN", chronological per site and year, given in the
// same transaction as the worksheet, never reused and never skipped. A
// cancelled preparation keeps its number and shows as cancelled. Once a
// preparation is released its entry no longer changes: a correction is an
// annotation, with who wrote it and when.
//
// An entry is one of three kinds, so that the crisis node (issue 9) fits in
// without renumbering anything:
//
//	preparation: the number of a preparation;
//	reserved:    a number set aside in advance, in a block, for a crisis node
//	             that may have to number preparations while the main system
//	             is down; it becomes a preparation entry when that
//	             preparation comes back, or is voided;
//	voided:      a reserved number that was never used (with the reason).
//
// A gap is impossible by construction: numbers come from one counter row per
// site and year, incremented in the transaction that writes the entry.

// RegisterKind is what a register number stands for.
type RegisterKind string

const (
	RegisterPreparation RegisterKind = "preparation"
	RegisterReserved    RegisterKind = "reserved"
	RegisterVoided      RegisterKind = "voided"
)

// RegisterStatus is what became of a registered preparation.
type RegisterStatus string

const (
	RegisterInProgress RegisterStatus = "in_progress"
	RegisterReleased   RegisterStatus = "released"
	RegisterRejected   RegisterStatus = "rejected"
	RegisterCancelled  RegisterStatus = "cancelled"
	// RegisterOpen is the status of a reserved or voided number.
	RegisterOpen RegisterStatus = "open"
)

// RegisterEntry is one number of the register.
type RegisterEntry struct {
	ID     ID           `json:"id"`
	Site   string       `json:"site"`
	Year   int          `json:"year"`
	Seq    int          `json:"seq"`
	Number string       `json:"number"`
	Kind   RegisterKind `json:"kind"`
	// The preparation and what the register shows of it, as written when
	// the number was given.
	PreparationID ID             `json:"preparation_id,omitempty"`
	PatientID     ID             `json:"patient_id,omitempty"`
	INN           string         `json:"inn,omitempty"`
	Dose          float64        `json:"dose,omitempty"`
	Unit          string         `json:"unit,omitempty"`
	Status        RegisterStatus `json:"status"`
	IssuedAt      time.Time      `json:"issued_at"`
	IssuedBy      string         `json:"issued_by"`
	// Reason of a reservation or a voiding.
	Reason      string       `json:"reason,omitempty"`
	Annotations []Annotation `json:"annotations"`
	// PreparedFor is the site this preparation was made for under a
	// mutual-aid agreement (issue 12), "" for this site's own patients.
	// Written with the number, never changed.
	PreparedFor string    `json:"prepared_for,omitempty"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Annotation is a note added to an entry after the fact.
type Annotation struct {
	At   time.Time `json:"at"`
	By   string    `json:"by"`
	ByID ID        `json:"by_id"`
	Text string    `json:"text"`
}

// MaxRegisterSeq is the last number a year can hold (six digits).
const MaxRegisterSeq = 999999

// FormatRegisterNumber writes a register number: the year and six digits.
func FormatRegisterNumber(year, seq int) string {
	return fmt.Sprintf("%04d-%06d", year, seq)
}

// ParseRegisterNumber reads "YYYY-NNNNNN".
func ParseRegisterNumber(field, s string) (year, seq int, err error) {
	y, n, ok := strings.Cut(strings.TrimSpace(s), "-")
	if ok && len(y) == 4 && len(n) == 6 {
		year, err1 := strconv.Atoi(y)
		seq, err2 := strconv.Atoi(n)
		if err1 == nil && err2 == nil && seq > 0 {
			return year, seq, nil
		}
	}
	return 0, 0, Invalid("register.parse", field, "%q is not a register number: it is the year and six digits, e.g. 2026-000123", truncate(s, 40))
}

// RegisterYear is the register year of a time: its year in the display
// zone (Europe/Paris), since the register is kept in local time.
func RegisterYear(t time.Time) int { return t.In(DisplayZone).Year() }

// SetStatus follows the preparation's status. After release nothing but
// annotations changes.
func (e *RegisterEntry) SetStatus(s RegisterStatus, now time.Time) error {
	const op = "register.update"
	if e.Kind != RegisterPreparation {
		return transitionErr(op, "register number %s is %s: it has no preparation", e.Number, e.Kind)
	}
	if e.Status == s {
		return nil
	}
	if e.Status != RegisterInProgress {
		return &Error{Op: op, Kind: KindConflict, Message: fmt.Sprintf(
			"register entry %s is %s: it can no longer change; add an annotation to correct it", e.Number, e.Status)}
	}
	e.Status, e.UpdatedAt = s, now
	return nil
}

// Annotate adds a correction or a note.
func (e *RegisterEntry) Annotate(text string, a Actor, now time.Time) error {
	const op = "register.annotate"
	text = strings.TrimSpace(text)
	if text == "" {
		return Invalid(op, "text", "write the annotation")
	}
	if len([]rune(text)) > 2000 {
		return Invalid(op, "text", "an annotation holds at most 2000 characters")
	}
	e.Annotations = append(e.Annotations, Annotation{At: now, By: a.DisplayName(), ByID: a.UserID, Text: text})
	e.UpdatedAt = now
	return nil
}

// Void voids a reserved number never used.
func (e *RegisterEntry) Void(reason string, now time.Time) error {
	const op = "register.void"
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return Invalid(op, "reason", "say why the reserved number is voided")
	}
	if e.Kind != RegisterReserved {
		return transitionErr(op, "register number %s is %s: only a reserved number can be voided", e.Number, e.Kind)
	}
	e.Kind, e.Reason, e.UpdatedAt = RegisterVoided, reason, now
	return nil
}

// Fault is one inconsistency found by a store check (the register, the
// leftover vials): what was checked, on what, and what is wrong.
type Fault struct {
	Check   string `json:"check"` // e.g. "register.gap"
	Entity  string `json:"entity,omitempty"`
	ID      string `json:"id,omitempty"`
	Message string `json:"message"`
}

func (f Fault) String() string {
	s := f.Check + ": " + f.Message
	if f.ID != "" {
		s += " (" + f.Entity + " " + f.ID + ")"
	}
	return s
}
