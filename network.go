package relais

import (
	"context"
	"encoding/json"
	"strings"
	"time"
)

// The regional network (issue 8): each hospital runs its own Relais; a
// patient's care is shared with named sites of the network, and the
// patient's treatment history is replicated to those sites, and only to
// them, as a read-only copy (package network carries it over NATS
// JetStream). See docs/network.md.
//
// Three records live here:
//   - Share, kept by the site that holds the patient's record: the care is
//     shared with a site, once the patient or the parents were told (who told
//     them, when, what was said). A share is revoked, never deleted.
//   - RemoteEvent, kept by the receiving site: one journal entry of another
//     site, verified against that site's key and chain, stored as it came.
//     Nothing received ever changes a local entity.
//   - PatientLink, kept by the receiving site: which local patient a remote
//     patient is. Made automatically only when both identities are qualified
//     and carry the same INS; anything weaker is a proposal a pharmacist
//     accepts or rejects.

// Share is a patient's care shared with another site of the network.
type Share struct {
	ID              ID               `json:"id"`
	Site            string           `json:"site" doc:"the site that keeps the patient's record and records the share"`
	PatientID       ID               `json:"patient_id"`
	ToSite          string           `json:"to_site" doc:"the site the care is shared with: it receives the patient's history"`
	InformedBy      string           `json:"informed_by" doc:"the professional who told the patient or the parents"`
	InformedAt      time.Time        `json:"informed_at" doc:"when the patient or the parents were told"`
	InformationNote string           `json:"information_note,omitempty" doc:"what they were told, or how (leaflet, consultation)"`
	RecordedBy      Author           `json:"recorded_by"`
	CreatedAt       time.Time        `json:"created_at"`
	Revoked         *ShareRevocation `json:"revoked,omitempty"`
}

// Active reports whether the share still holds.
func (s Share) Active() bool { return s.Revoked == nil }

// ShareRevocation ends a share; the share stays in the history.
type ShareRevocation struct {
	At     time.Time `json:"at"`
	By     Author    `json:"by"`
	Reason string    `json:"reason"`
}

// ShareInput shares a patient's care with a site.
type ShareInput struct {
	ToSite          string    `json:"to_site"`
	InformedBy      string    `json:"informed_by"`
	InformedAt      time.Time `json:"informed_at"`
	InformationNote string    `json:"information_note,omitempty"`
}

// Normalize trims the input and checks what can be checked without the
// database.
func (in *ShareInput) Normalize(op string, now time.Time) error {
	in.ToSite = strings.TrimSpace(in.ToSite)
	in.InformedBy = strings.TrimSpace(in.InformedBy)
	in.InformationNote = strings.TrimSpace(in.InformationNote)
	in.InformedAt = in.InformedAt.UTC().Truncate(time.Microsecond)
	var errs []error
	if in.ToSite == "" {
		errs = append(errs, Invalid(op, "to_site", "name the site the care is shared with (its id in the network configuration)"))
	}
	if in.InformedBy == "" {
		errs = append(errs, Invalid(op, "informed_by", "who told the patient or the parents that the record is shared?"))
	} else if len([]rune(in.InformedBy)) > 200 {
		errs = append(errs, Invalid(op, "informed_by", "at most 200 characters"))
	}
	if in.InformedAt.IsZero() {
		errs = append(errs, Invalid(op, "informed_at", "when were the patient or the parents told that the record is shared?"))
	} else if in.InformedAt.After(now.Add(5 * time.Minute)) {
		errs = append(errs, Invalid(op, "informed_at", "this time is in the future: give the time they were told"))
	}
	if len([]rune(in.InformationNote)) > 2000 {
		errs = append(errs, Invalid(op, "information_note", "at most 2000 characters"))
	}
	return Errors(op, errs)
}

// SharedEntities are the journal entities a site sends to the sites a
// patient's care is shared with: the patient's identity (for matching), its
// treatments, cycle prescriptions with their doses, preparations,
// administrations, the notes marked shareable, and the shares themselves
// (so the receiving site knows when a share is revoked), and the mutual-aid
// transfers of its preparations (issue 12: every hand-over, preparation,
// shipment and receipt is visible on the patient's network timeline).
// Measurements, allergies outside the identity image, stock, register and
// billing stay at the site; so do mutual-aid agreements (they name no
// patient).
var SharedEntities = []string{"patient", "treatment", "prescription", "preparation", "administration", "note", "network_share", "aid_transfer"}

// RemoteEvent is a journal entry received from another site, kept as it
// came (read-only).
type RemoteEvent struct {
	Site       string          `json:"site" doc:"the site whose journal the entry is from"`
	Seq        int64           `json:"seq"`
	EntryID    string          `json:"entry_id"`
	Time       time.Time       `json:"time" doc:"when it happened at that site"`
	Action     string          `json:"action"`
	Entity     string          `json:"entity"`
	EntityID   ID              `json:"entity_id"`
	PatientID  ID              `json:"patient_id" doc:"the patient's id at that site"`
	Username   string          `json:"username"`
	After      json.RawMessage `json:"after"`
	Hash       string          `json:"hash"`
	ReceivedAt time.Time       `json:"received_at"`
}

// RemotePatient is a patient of another site whose care is shared with this
// one, as last received, with its link to a local patient.
type RemotePatient struct {
	Site       string       `json:"site"`
	Patient    Patient      `json:"patient" doc:"the identity as that site keeps it"`
	ReceivedAt time.Time    `json:"received_at"`
	Revoked    bool         `json:"revoked" doc:"that site revoked the share: the copy is kept but no longer shown"`
	Link       *PatientLink `json:"link,omitempty"`
}

// Link statuses.
const (
	LinkAuto     = "auto"     // both identities qualified with the same INS
	LinkProposed = "proposed" // weaker evidence: waits for a pharmacist
	LinkAccepted = "accepted" // a pharmacist linked them
	LinkRejected = "rejected" // a pharmacist said they are different people
)

// PatientLink says that a patient of another site is a local patient.
type PatientLink struct {
	ID              ID        `json:"id"`
	Site            string    `json:"site" doc:"the site that keeps the link (this one)"`
	RemoteSite      string    `json:"remote_site"`
	RemotePatientID ID        `json:"remote_patient_id"`
	LocalPatientID  ID        `json:"local_patient_id"`
	Status          string    `json:"status" doc:"auto, proposed, accepted or rejected"`
	Evidence        string    `json:"evidence" doc:"why the two were matched"`
	DecidedBy       *Author   `json:"decided_by,omitempty"`
	DecidedAt       time.Time `json:"decided_at,omitzero"`
	DecisionNote    string    `json:"decision_note,omitempty"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
}

// Linked reports whether the link joins the two records (auto or accepted).
func (l PatientLink) Linked() bool { return l.Status == LinkAuto || l.Status == LinkAccepted }

// LinkDecision accepts or rejects a proposed link.
type LinkDecision struct {
	Accept bool   `json:"accept"`
	Note   string `json:"note"`
}

// PeerState is what this site knows of another site's feed.
type PeerState struct {
	Site       string    `json:"site"`
	LastSeq    int64     `json:"last_seq" doc:"the highest entry of that site received"`
	ReceivedAt time.Time `json:"received_at,omitzero" doc:"when something last came from that site: the age of its data"`
	Events     int64     `json:"events"`
	Rejected   int64     `json:"rejected" doc:"messages refused (bad signature, hash or chain)"`
	LastError  string    `json:"last_error,omitempty"`
}

// NetworkEntry is one entry of a patient's history across the network.
type NetworkEntry struct {
	Site       string       `json:"site"`
	Local      bool         `json:"local"`
	Time       time.Time    `json:"time"`
	Action     string       `json:"action"`
	Entity     string       `json:"entity"`
	EntityID   ID           `json:"entity_id"`
	Username   string       `json:"username"`
	Summary    EntrySummary `json:"summary"`
	ReceivedAt time.Time    `json:"received_at,omitzero" doc:"for a remote entry, when it arrived here"`
}

// NetworkHistory is a local patient's history across the sites sharing the
// care: the entries, each site's data age, and the prescriptions of the
// other sites at their latest state (for cumulative doses).
type NetworkHistory struct {
	PatientID           ID             `json:"patient_id"`
	Entries             []NetworkEntry `json:"entries"`
	Sites               []PeerState    `json:"sites"`
	RemotePrescriptions []Prescription `json:"remote_prescriptions"`
	Links               []PatientLink  `json:"links"`
}

// RemoteRead is a read of another site's data by a user of this site, sent
// to that site for its own access log.
type RemoteRead struct {
	ID         ID        `json:"id"`
	At         time.Time `json:"at"`
	ReaderSite string    `json:"reader_site"`
	UserID     ID        `json:"user_id"`
	Username   string    `json:"username"`
	Role       Role      `json:"role"`
	OwnerSite  string    `json:"owner_site"`
	PatientID  ID        `json:"patient_id" doc:"the patient's id at the owning site"`
	Purpose    string    `json:"purpose"`
	Route      string    `json:"route"`
}

// NetworkService keeps shares, the copy of other sites' shared history and
// the links between remote and local patients.
type NetworkService interface {
	SharePatientCare(ctx context.Context, patientID ID, in ShareInput) (Share, error)
	RevokeShare(ctx context.Context, shareID ID, reason string) (Share, error)
	Shares(ctx context.Context, patientID ID) ([]Share, error)
	RemotePatients(ctx context.Context) ([]RemotePatient, error)
	RemotePatient(ctx context.Context, site string, id ID) (RemotePatient, []RemoteEvent, error)
	PatientLinks(ctx context.Context, status string) ([]PatientLink, error)
	DecideLink(ctx context.Context, id ID, d LinkDecision) (PatientLink, error)
	NetworkHistory(ctx context.Context, patientID ID) (NetworkHistory, error)
	Peers(ctx context.Context) ([]PeerState, error)
	// RecordRemoteReads logs reads of other sites' data in this site's
	// access log and queues them for the owning sites.
	RecordRemoteReads(ctx context.Context, reads ...RemoteRead) error
}

// SharedPatientOf says which patient a journal entry of a shared entity
// concerns, from its entity and after-image; ok is false when the entry is
// not one a site sends (another entity, or a note not marked shareable).
func SharedPatientOf(entity string, entityID ID, after []byte) (patient ID, toSite string, ok bool) {
	switch entity {
	case "patient":
		return entityID, "", true
	case "treatment", "prescription", "preparation", "administration", "note", "network_share", "aid_transfer":
	default:
		return "", "", false
	}
	var img struct {
		PatientID ID     `json:"patient_id"`
		Shareable *bool  `json:"shareable"`
		ToSite    string `json:"to_site"`
	}
	if json.Unmarshal(after, &img) != nil || img.PatientID == "" {
		return "", "", false
	}
	if entity == "note" && (img.Shareable == nil || !*img.Shareable) {
		return "", "", false
	}
	return img.PatientID, img.ToSite, true
}

// EntrySummary is what a network timeline shows of an entry: a few fields
// of its after-image (a prescription's lines with their doses, a
// preparation's dose, an administration's outcome, a note's text, a
// mutual-aid transfer's drug, dose, sites and numbers), kept
// small so that a long history across sites reads fast.
type EntrySummary struct {
	Status       string             `json:"status,omitempty"`
	ProtocolCode string             `json:"protocol_code,omitempty"`
	ProtocolName string             `json:"protocol_name,omitempty"`
	Regimen      string             `json:"regimen,omitempty"`
	Cycle        int                `json:"cycle,omitempty"`
	INN          string             `json:"inn,omitempty"`
	Dose         float64            `json:"dose,omitempty"`
	Unit         string             `json:"unit,omitempty"`
	Outcome      string             `json:"outcome,omitempty"`
	Text         string             `json:"text,omitempty"`
	ToSite       string             `json:"to_site,omitempty"`
	Lines        []EntrySummaryLine `json:"lines,omitempty"`
	// A mutual-aid transfer's sites and the support site's numbers.
	RequesterSite  string `json:"requester_site,omitempty"`
	SupportSite    string `json:"support_site,omitempty"`
	RegisterNumber string `json:"register_number,omitempty"`
	SlipNumber     string `json:"slip_number,omitempty"`
}

// EntrySummaryLine is a prescription line in an EntrySummary.
type EntrySummaryLine struct {
	Day    int     `json:"day"`
	INN    string  `json:"inn"`
	Dose   float64 `json:"dose"`
	Unit   string  `json:"unit"`
	Status string  `json:"status"`
}

// SummarizeEntry extracts an entry's EntrySummary from its after-image.
func SummarizeEntry(after []byte) EntrySummary {
	var s EntrySummary
	_ = json.Unmarshal(after, &s) // a field of another shape is left out
	if len([]rune(s.Text)) > 500 {
		s.Text = string([]rune(s.Text)[:500]) + "…"
	}
	return s
}
