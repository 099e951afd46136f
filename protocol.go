package relais

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"

	"github.com/relais-onco/relais/clinical"
)

// The protocol library. A protocol (ABVD, R-CHOP-21…) is a header and
// numbered versions; a version carries the whole regimen: cycles, days of
// administration, lines with their dose rules, OK-to-treat criteria and
// cumulative limits. Versions are never deleted and a prescription points at
// the exact version it used, so a version's content is frozen as soon as it
// leaves draft:
//
//	draft → in_test → active → retired
//	in_test → draft   (back for rework)
//
// Only one version of a protocol is active at a time: activating one retires
// the previous active one. A new version is a copy of any version, as a new
// draft.

// Population says whom a protocol is written for.
type Population string

const (
	Paediatric Population = "paediatric"
	Adult      Population = "adult"
)

// Valid reports whether p is known.
func (p Population) Valid() bool { return p == Paediatric || p == Adult }

// VersionStatus is where a protocol version is in its lifecycle.
type VersionStatus string

const (
	VersionDraft   VersionStatus = "draft"   // being written; the only editable state
	VersionInTest  VersionStatus = "in_test" // frozen, checked on test patients before use
	VersionActive  VersionStatus = "active"  // prescribable; one per protocol
	VersionRetired VersionStatus = "retired" // no new prescription; old ones still point at it
)

// VersionStatuses lists the statuses in lifecycle order.
var VersionStatuses = []VersionStatus{VersionDraft, VersionInTest, VersionActive, VersionRetired}

var versionTransitions = map[VersionStatus][]VersionStatus{
	VersionDraft:  {VersionInTest},
	VersionInTest: {VersionActive, VersionDraft},
	VersionActive: {VersionRetired},
}

// Valid reports whether s is a known status.
func (s VersionStatus) Valid() bool {
	for _, x := range VersionStatuses {
		if s == x {
			return true
		}
	}
	return false
}

// CanMove reports whether a version may go from s to to.
func (s VersionStatus) CanMove(to VersionStatus) bool {
	for _, x := range versionTransitions[s] {
		if x == to {
			return true
		}
	}
	return false
}

// Next lists the statuses s may move to.
func (s VersionStatus) Next() []VersionStatus {
	return append([]VersionStatus(nil), versionTransitions[s]...)
}

// Frozen reports whether the content of a version in status s may no longer
// change: everything but a draft.
func (s VersionStatus) Frozen() bool { return s != VersionDraft }

// AdminRoute is a route of administration.
type AdminRoute string

const (
	RouteIV  AdminRoute = "IV"  // intravenous infusion
	RouteIVL AdminRoute = "IVL" // slow intravenous injection (intraveineuse lente)
	RouteSC  AdminRoute = "SC"  // subcutaneous
	RouteIT  AdminRoute = "IT"  // intrathecal
	RoutePO  AdminRoute = "PO"  // oral
	RouteIM  AdminRoute = "IM"  // intramuscular
)

// AdminRoutes lists the routes.
var AdminRoutes = []AdminRoute{RouteIV, RouteIVL, RouteSC, RouteIT, RoutePO, RouteIM}

// Valid reports whether r is a known route.
func (r AdminRoute) Valid() bool {
	for _, x := range AdminRoutes {
		if r == x {
			return true
		}
	}
	return false
}

// NeedsCompounding is the default answer to "does the pharmacy prepare
// this line?": every parenteral route does (the preparation is made in the
// isolator or under a hood); an oral line is dispensed as is.
func (r AdminRoute) NeedsCompounding() bool { return r.Valid() && r != RoutePO }

// LineKind says what a protocol line is for.
type LineKind string

const (
	LineChemo         LineKind = "chemo"
	LinePremedication LineKind = "premedication"
	LineSupportive    LineKind = "supportive"
	LineHydration     LineKind = "hydration"
)

// LineKinds lists the kinds.
var LineKinds = []LineKind{LineChemo, LinePremedication, LineSupportive, LineHydration}

// Valid reports whether k is a known kind.
func (k LineKind) Valid() bool {
	for _, x := range LineKinds {
		if k == x {
			return true
		}
	}
	return false
}

// Protocol is the header of a regimen in the library.
type Protocol struct {
	ID         ID         `json:"id"`
	Code       string     `json:"code"` // unique at the site, e.g. "ABVD", "R-CHOP-21"
	Name       string     `json:"name"`
	Indication string     `json:"indication"`
	Population Population `json:"population"`
	Site       string     `json:"site"` // the site that owns it
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
}

// ProtocolContent is what a version says: the regimen itself. It is what is
// frozen, hashed, diffed, exported and imported.
type ProtocolContent struct {
	Cycles Cycles `json:"cycles"`
	// Days of administration in a cycle, 1 = J1 (day 1), increasing.
	Days             []int             `json:"days"`
	Lines            []ProtocolLine    `json:"lines"`
	Criteria         []Criterion       `json:"criteria"`
	CumulativeLimits []CumulativeLimit `json:"cumulative_limits"`
	// Source cites the published regimen (author, journal, year; or the
	// official protocol document and its version).
	Source   string `json:"source,omitempty"`
	Comments string `json:"comments,omitempty"`
}

// Cycles: how many, how long.
type Cycles struct {
	Count      int `json:"count"`
	LengthDays int `json:"length_days"`
}

// ProtocolLine is one drug (or a hydration) given on some days of each cycle.
type ProtocolLine struct {
	// ID identifies the line within this version (prescription lines point
	// at it); a copied version's lines get new ids. Documents carry none.
	ID ID `json:"id,omitempty"`
	// Seq is the order of administration on a day, and the line's number on
	// screens: 1, 2, 3…
	Seq  int      `json:"seq"`
	Kind LineKind `json:"kind"`
	// DrugID is the site's drug; INN names it everywhere (documents carry
	// only the INN, since ids differ between sites). The store sets both.
	DrugID ID     `json:"drug_id,omitempty"`
	INN    string `json:"inn,omitempty"`
	// Dose is the rule the dose is computed with, as `relais calc` reads it.
	// A hydration line may have none.
	Dose  clinical.Rule `json:"dose,omitzero"`
	Route AdminRoute    `json:"route"`
	// Days: the days of the cycle this line is given on, a subset of the
	// version's days.
	Days        []int   `json:"days"`
	Vehicle     string  `json:"vehicle,omitempty"` // diluent name, e.g. "NaCl 0.9%"
	VolumeML    float64 `json:"volume_ml,omitempty"`
	DurationMin int     `json:"duration_min,omitempty"` // infusion duration
	RateMLH     float64 `json:"rate_ml_h,omitempty"`    // when the rate, not the duration, is prescribed
	Comments    string  `json:"comments,omitempty"`
}

// NeedsCompounding reports whether the pharmacy prepares this line (see
// AdminRoute.NeedsCompounding); a drugless hydration bag is hung on the ward.
func (l ProtocolLine) NeedsCompounding() bool {
	return l.Route.NeedsCompounding() && (l.INN != "" || l.DrugID != "")
}

// Criterion is an OK-to-treat condition, e.g. neutrophils ≥ 1 G/L.
type Criterion struct {
	Lab   string  `json:"lab"` // see LabUnits
	Op    string  `json:"op"`  // ">=", "<=", ">", "<"
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	// Days the criterion is checked on; empty = every day of administration.
	Days    []int  `json:"days,omitempty"`
	Comment string `json:"comment,omitempty"`
}

// Met reports whether a measured value (in the criterion's unit) meets it.
func (c Criterion) Met(v float64) bool {
	switch c.Op {
	case ">=":
		return v >= c.Value
	case "<=":
		return v <= c.Value
	case ">":
		return v > c.Value
	case "<":
		return v < c.Value
	}
	return false
}

// AppliesOn reports whether the criterion is checked on day.
func (c Criterion) AppliesOn(day int) bool {
	if len(c.Days) == 0 {
		return true
	}
	for _, d := range c.Days {
		if d == day {
			return true
		}
	}
	return false
}

// LabUnits are the lab values criteria may test, with the units each may be
// written in ("xULN": times the upper limit of normal).
var LabUnits = map[string][]string{
	"neutrophils":          {"G/L"},
	"leukocytes":           {"G/L"},
	"platelets":            {"G/L"},
	"haemoglobin":          {"g/dL"},
	"creatinine":           {"µmol/L"},
	"creatinine_clearance": {"mL/min", "mL/min/1.73m²"},
	"bilirubin":            {"µmol/L", "xULN"},
	"ast":                  {"xULN"},
	"alt":                  {"xULN"},
	"lvef":                 {"%"},
}

// CumulativeLimit is a lifetime limit, for a class (anthracyclines, in
// doxorubicin-equivalent mg/m², summed by clinical) or for one drug.
type CumulativeLimit struct {
	Class   DrugClass `json:"class,omitempty"`
	INN     string    `json:"inn,omitempty"`
	Limit   float64   `json:"limit"`
	Unit    string    `json:"unit"` // see CumulativeUnits
	Comment string    `json:"comment,omitempty"`
}

// CumulativeUnits are the units a cumulative limit may be written in.
var CumulativeUnits = []string{"mg/m²", "mg/kg", "mg", "U", "U/m²"}

// Hash returns the SHA-256 of the content's JSON encoding, hex: recorded
// when a version is written and checked whenever a frozen version is read,
// so that content changed behind Relais's back is detected.
func (c ProtocolContent) Hash() string {
	b, err := json.Marshal(c)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Signature records who did something and when.
type Signature struct {
	UserID   ID        `json:"user_id"`
	Username string    `json:"username"`
	Name     string    `json:"name"`
	Role     Role      `json:"role"`
	At       time.Time `json:"at"`
}

// SignatureOf signs as actor at t.
func SignatureOf(a Actor, t time.Time) Signature {
	return Signature{UserID: a.UserID, Username: a.Username, Name: a.Name, Role: a.Role, At: t}
}

// Version event actions.
const (
	EventCreated   = "created"   // a new draft (copy, import or first version)
	EventEdited    = "edited"    // the draft's content changed
	EventSubmitted = "submitted" // draft → in_test
	EventReturned  = "returned"  // in_test → draft
	EventActivated = "activated" // in_test → active (the approval)
	EventRetired   = "retired"   // active → retired, by hand or superseded
)

// VersionEvent is one step in a version's life: who, when, why.
type VersionEvent struct {
	Action  string        `json:"action"`
	From    VersionStatus `json:"from,omitempty"`
	To      VersionStatus `json:"to"`
	By      Signature     `json:"by"`
	Comment string        `json:"comment,omitempty"`
}

// ProtocolVersion is one numbered version of a protocol.
type ProtocolVersion struct {
	ID         ID              `json:"id"`
	ProtocolID ID              `json:"protocol_id"`
	Number     int             `json:"number"` // 1, 2, 3… per protocol
	Status     VersionStatus   `json:"status"`
	Content    ProtocolContent `json:"content"`
	// ContentHash is Content.Hash() as last written; for a frozen version,
	// what was approved.
	ContentHash string `json:"content_hash"`
	// Revision counts the draft's edits; an edit names the revision it was
	// based on, so concurrent edits cannot silently overwrite each other.
	Revision int `json:"revision"`
	// CopiedFrom is the version this draft was copied from, if any.
	CopiedFrom ID `json:"copied_from,omitempty"`
	// Origin records where an imported version came from.
	Origin *DocumentOrigin `json:"origin,omitempty"`
	// Author wrote the draft; Approver activated it (four-eyes: never the
	// author nor anyone who edited it).
	Author    Signature      `json:"author"`
	Approver  *Signature     `json:"approver,omitempty"`
	Events    []VersionEvent `json:"events"`
	Site      string         `json:"site"`
	CreatedAt time.Time      `json:"created_at"`
	UpdatedAt time.Time      `json:"updated_at"`
}

// Line returns the line with id, or nil.
func (v *ProtocolVersion) Line(id ID) *ProtocolLine {
	for i := range v.Content.Lines {
		if v.Content.Lines[i].ID == id {
			return &v.Content.Lines[i]
		}
	}
	return nil
}

// Label names a version for people: "ABVD v3".
func (v ProtocolVersion) Label(code string) string {
	return code + " v" + strconv.Itoa(v.Number)
}

// VersionRef is a version in a protocol list.
type VersionRef struct {
	ID     ID            `json:"id"`
	Number int           `json:"number"`
	Status VersionStatus `json:"status"`
}

// ProtocolSummary is a protocol in the library list, with its versions'
// numbers and statuses.
type ProtocolSummary struct {
	Protocol
	Versions []VersionRef `json:"versions"`
	// ActiveVersion is the number of the active version, 0 when none.
	ActiveVersion int `json:"active_version"`
}

// ProtocolDetail is a protocol with all its versions, oldest first.
type ProtocolDetail struct {
	Protocol
	Versions []ProtocolVersion `json:"versions"`
}

// Active returns the active version, or nil.
func (d *ProtocolDetail) Active() *ProtocolVersion {
	for i := range d.Versions {
		if d.Versions[i].Status == VersionActive {
			return &d.Versions[i]
		}
	}
	return nil
}

// ProtocolFilter narrows the library list.
type ProtocolFilter struct {
	Population Population    // "" = all
	Status     VersionStatus // protocols with a version in this status; "" = all
	Query      string        // in code or name, case-insensitive
}

// NewProtocol creates a protocol with its first version, a draft.
type NewProtocol struct {
	Code       string          `json:"code"`
	Name       string          `json:"name"`
	Indication string          `json:"indication"`
	Population Population      `json:"population"`
	Content    ProtocolContent `json:"content"`
}

// ProtocolHeaderUpdate changes what may change of a protocol's header: its
// name and indication (the code and population identify it and are fixed).
type ProtocolHeaderUpdate struct {
	Name       string `json:"name"`
	Indication string `json:"indication"`
}

// DraftUpdate replaces a draft's content. Revision is the draft's revision
// the edit was based on.
type DraftUpdate struct {
	Revision int             `json:"revision"`
	Content  ProtocolContent `json:"content"`
}

// VersionTransition moves a version: to "in_test" (submit for test),
// "draft" (back for rework), "active" (approve), "retired".
type VersionTransition struct {
	To      VersionStatus `json:"to"`
	Comment string        `json:"comment,omitempty"`
}

// NewVersionRequest copies version From (its number) into a new draft.
type NewVersionRequest struct {
	From int `json:"from"`
}

// ImportResult is what an import made: a new protocol with its first
// version, or a new draft version of an existing protocol.
type ImportResult struct {
	Protocol Protocol        `json:"protocol"`
	Version  ProtocolVersion `json:"version"`
	Created  bool            `json:"created"` // true when the protocol is new
}

// ProtocolService manages the protocol library and its versions.
type ProtocolService interface {
	// CreateProtocol creates a protocol and its version 1, a draft written
	// by the actor.
	CreateProtocol(ctx context.Context, req NewProtocol) (ProtocolDetail, error)
	UpdateProtocol(ctx context.Context, id ID, req ProtocolHeaderUpdate) (Protocol, error)
	Protocol(ctx context.Context, id ID) (ProtocolDetail, error)
	ProtocolByCode(ctx context.Context, code string) (ProtocolDetail, error)
	Protocols(ctx context.Context, f ProtocolFilter) ([]ProtocolSummary, error)

	ProtocolVersion(ctx context.Context, id ID) (ProtocolVersion, error)
	ProtocolVersionByNumber(ctx context.Context, protocolID ID, number int) (ProtocolVersion, error)
	// NewVersion copies version number from of the protocol into a new draft.
	NewVersion(ctx context.Context, protocolID ID, from int) (ProtocolVersion, error)
	// UpdateDraft replaces the content of a draft version.
	UpdateDraft(ctx context.Context, versionID ID, req DraftUpdate) (ProtocolVersion, error)
	// TransitionVersion moves a version through its lifecycle.
	TransitionVersion(ctx context.Context, versionID ID, req VersionTransition) (ProtocolVersion, error)

	// ExportVersion returns a version as a self-contained document.
	ExportVersion(ctx context.Context, versionID ID) (ProtocolDocument, error)
	// ImportProtocol creates a protocol from a document (or a new draft of
	// the protocol with the same code); all or nothing.
	ImportProtocol(ctx context.Context, doc ProtocolDocument) (ImportResult, error)
}
