package relais

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"
)

// Hoods: the pharmacy's compounding equipment (isolators, biological safety
// cabinets — « isolateurs », « hottes »). A site's hoods are managed by the
// pharmacy administrator; each compounded preparation is made in one hood,
// assigned when the pharmacist plans the day or when a technician takes it,
// and reassigned, with a reason, when a hood breaks down or is overloaded.
// The technician's board shows one column per hood, ordered by time.

// HoodKind is the type of a hood.
type HoodKind string

const (
	// HoodIsolator is a closed isolator (glove box) under negative or
	// positive pressure.
	HoodIsolator HoodKind = "isolator"
	// HoodCabinet is a class II biological safety cabinet (hotte à flux
	// d'air laminaire vertical).
	HoodCabinet HoodKind = "cabinet"
)

// HoodKinds lists the kinds, in the order screens show them.
var HoodKinds = []HoodKind{HoodIsolator, HoodCabinet}

// Valid reports whether k is a known kind.
func (k HoodKind) Valid() bool { return k == HoodIsolator || k == HoodCabinet }

// Hood is one isolator or cabinet of a site.
type Hood struct {
	ID   ID       `json:"id"`
	Name string   `json:"name"` // as written on the equipment, e.g. "Isolateur 1"
	Kind HoodKind `json:"kind"`
	// Active hoods take preparations; a hood out of service (maintenance,
	// failed qualification) is deactivated, never deleted: preparations made
	// in it still name it.
	Active    bool      `json:"active"`
	Comment   string    `json:"comment,omitempty"`
	Site      string    `json:"site"`
	Revision  int       `json:"revision"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Validate checks a hood as a user wrote it (ID, site, times and revision
// are set by the store).
func (h Hood) Validate(op string) error {
	var errs []error
	name := strings.TrimSpace(h.Name)
	if name == "" {
		errs = append(errs, Invalid(op, "name", "the hood's name is required, e.g. Isolateur 1"))
	} else if utf8.RuneCountInString(name) > 60 {
		errs = append(errs, Invalid(op, "name", "the name is longer than 60 characters"))
	}
	if !h.Kind.Valid() {
		errs = append(errs, Invalid(op, "kind", "unknown kind %q: use isolator or cabinet", h.Kind))
	}
	return Errors(op, errs)
}

// HoodAssignment says in which hood a preparation is made, and when it is
// planned. Its ID is the preparation's: a preparation has at most one.
type HoodAssignment struct {
	ID     ID `json:"id"` // the preparation
	HoodID ID `json:"hood_id"`
	// Slot is the planned start of the preparation; zero when not planned
	// (the board then orders it by its administration date).
	Slot time.Time `json:"slot,omitzero"`
	// Reason is why it was last reassigned ("" for the first assignment).
	Reason    string    `json:"reason,omitempty"`
	By        string    `json:"by"`
	ByID      ID        `json:"by_id"`
	Site      string    `json:"site"`
	Revision  int       `json:"revision"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// AssignHoodRequest assigns a preparation to a hood.
type AssignHoodRequest struct {
	HoodID ID `json:"hood_id"`
	// Slot is the planned start (optional).
	Slot time.Time `json:"slot,omitzero"`
	// Reason is required to move a preparation from one hood to another
	// (the journal keeps it).
	Reason string `json:"reason,omitempty"`
}

// CanAssignHood says whether a preparation may be (re)assigned to a hood:
// only a compounded one, until it is made.
func (p Preparation) CanAssignHood() error {
	const op = "preparation.assign_hood"
	if p.Mode != ModeCompounded {
		return transitionErr(op, "preparation %s is dispensed as is (%s): it is not made in a hood", p.Display(), p.ModeReason)
	}
	if p.Status != PrepToPrepare && p.Status != PrepWorksheetIssued {
		return transitionErr(op, "preparation %s is %s: it is made already, its hood can no longer change", p.Display(), p.Status)
	}
	return nil
}

// HoodService manages a site's hoods and where each preparation is made.
// Hoods are changed with PermCatalogueWrite (the pharmacy's reference
// data); preparations are assigned with PermProductionPrepare.
type HoodService interface {
	CreateHood(ctx context.Context, h Hood) (Hood, error)
	// UpdateHood changes a hood's name, kind, active flag and comment;
	// h.Revision must be the revision it was read at.
	UpdateHood(ctx context.Context, h Hood) (Hood, error)
	Hood(ctx context.Context, id ID) (Hood, error)
	// Hoods lists the site's hoods, active first, by name.
	Hoods(ctx context.Context) ([]Hood, error)
	// AssignHood puts a preparation in a hood (again with a reason when it
	// was in another one).
	AssignHood(ctx context.Context, preparationID ID, req AssignHoodRequest) (HoodAssignment, error)
	// HoodAssignments returns the assignments of the given preparations
	// (those without one are absent).
	HoodAssignments(ctx context.Context, preparationIDs []ID) (map[ID]HoodAssignment, error)
}
