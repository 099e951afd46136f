package relais

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Mutual aid (issue 12): when a site's pharmacy cannot prepare (a crisis, an
// isolator down), another site of the network prepares for it, under a
// written agreement (French good preparation practice, BPP 2023, chapter 5:
// a pharmacy may have preparations made by another one under a contract).
//
// The requester (the stricken site, or its crisis node) hands validated
// preparations over to a support site its agreements name. The support site
// receives everything needed to prepare, prepares in its own production
// flow and numbers in its own register (noting the site prepared for), then
// ships with a delivery slip; the requester receives the preparations as
// released, ready for its wards. A transfer, as each side sees it:
//
//	requester: handed_over → shipped → received
//	           handed_over → handback_requested → handed_back | handed_over (refused)
//	           handed_over → refused (the support site could not take it)
//	           handed_over → in_production (notice) → shipped → received
//	support:   accepted → in_production → shipped → received
//	           accepted → handed_back | refused (declined before the worksheet);
//	           an order it cannot take at all is recorded refused at once
//
// Nothing is prepared twice: a preparation handed over cannot have its
// worksheet issued at the requester until it is handed back, and a hand-back
// is refused once the support site has issued its worksheet.

// AidAgreementStatus is whether an agreement still holds.
type AidAgreementStatus string

const (
	AgreementActive AidAgreementStatus = "active"
	AgreementEnded  AidAgreementStatus = "ended"
)

// AidAgreement says that SupportSite may prepare for RequesterSite, for all
// drugs or for the INNs listed, from ValidFrom to ValidTo (inclusive).
type AidAgreement struct {
	ID            ID                 `json:"id"`
	Site          string             `json:"site"` // the site holding this copy
	RequesterSite string             `json:"requester_site"`
	SupportSite   string             `json:"support_site"`
	AllDrugs      bool               `json:"all_drugs"`
	INNs          []string           `json:"inns"`
	ValidFrom     Date               `json:"valid_from"`
	ValidTo       Date               `json:"valid_to"`
	Reference     string             `json:"reference"`
	Status        AidAgreementStatus `json:"status"`
	Recorded      Signoff            `json:"recorded"`
	Ended         *Signoff           `json:"ended,omitempty"`
	CreatedAt     time.Time          `json:"created_at"`
	UpdatedAt     time.Time          `json:"updated_at"`
}

// AidAgreementInput is what a pharmacist records.
type AidAgreementInput struct {
	SupportSite string   `json:"support_site"`
	AllDrugs    bool     `json:"all_drugs"`
	INNs        []string `json:"inns"`
	ValidFrom   Date     `json:"valid_from"`
	ValidTo     Date     `json:"valid_to"`
	// Reference of the signed contract (BPP 2023 ch. 5 asks for a written one).
	Reference string `json:"reference"`
}

// NewAidAgreement checks an input and makes the agreement of site (the
// requester) with in.SupportSite.
func NewAidAgreement(in AidAgreementInput, site string, a Actor, now time.Time) (AidAgreement, error) {
	const op = "aid.agreement"
	var errs []error
	support := strings.TrimSpace(in.SupportSite)
	if support == "" {
		errs = append(errs, Invalid(op, "support_site", "name the site that may prepare for this one (its site id, e.g. chu-aquitaine)"))
	} else if support == site {
		errs = append(errs, Invalid(op, "support_site", "a site cannot be its own support site: name another site of the network"))
	}
	from, err1 := ParseDate("valid_from", string(in.ValidFrom))
	to, err2 := ParseDate("valid_to", string(in.ValidTo))
	if err1 != nil {
		errs = append(errs, err1)
	}
	if err2 != nil {
		errs = append(errs, err2)
	}
	if err1 == nil && err2 == nil && to < from {
		errs = append(errs, Invalid(op, "valid_to", "the agreement ends (%s) before it starts (%s)", to, from))
	}
	var inns []string
	for i, n := range in.INNs {
		n = strings.ToLower(strings.TrimSpace(n))
		if n == "" {
			errs = append(errs, Invalid(op, fmt.Sprintf("inns[%d]", i), "an INN is empty: remove it or write the drug's INN"))
			continue
		}
		if !slices.Contains(inns, n) {
			inns = append(inns, n)
		}
	}
	if in.AllDrugs && len(inns) > 0 {
		errs = append(errs, Invalid(op, "inns", "either all drugs or a list of INNs, not both"))
	}
	if !in.AllDrugs && len(inns) == 0 {
		errs = append(errs, Invalid(op, "inns", "list the INNs the support site may prepare, or choose all drugs"))
	}
	ref := strings.TrimSpace(in.Reference)
	if ref == "" {
		errs = append(errs, Invalid(op, "reference", "give the reference of the signed agreement (BPP 2023, chapter 5: a written contract)"))
	}
	if err := Errors(op, errs); err != nil {
		return AidAgreement{}, err
	}
	slices.Sort(inns)
	if inns == nil {
		inns = []string{}
	}
	return AidAgreement{ID: NewID(), Site: site, RequesterSite: site, SupportSite: support, AllDrugs: in.AllDrugs, INNs: inns,
		ValidFrom: from, ValidTo: to, Reference: ref, Status: AgreementActive, Recorded: *signoff(a, now), CreatedAt: now, UpdatedAt: now}, nil
}

// Covers says whether the agreement lets its support site prepare inn for a
// day, and why not.
func (g AidAgreement) Covers(inn string, day Date) error {
	const op = "aid.agreement"
	if g.Status != AgreementActive {
		return &Error{Op: op, Kind: KindConflict, Message: fmt.Sprintf("the agreement %s with %s is %s", g.Reference, g.SupportSite, g.Status)}
	}
	if day < g.ValidFrom || day > g.ValidTo {
		return &Error{Op: op, Kind: KindConflict, Message: fmt.Sprintf("the agreement %s with %s holds from %s to %s, not on %s",
			g.Reference, g.SupportSite, g.ValidFrom, g.ValidTo, day)}
	}
	if !g.AllDrugs && !slices.Contains(g.INNs, strings.ToLower(strings.TrimSpace(inn))) {
		return &Error{Op: op, Kind: KindConflict, Message: fmt.Sprintf("the agreement %s with %s covers %s, not %s",
			g.Reference, g.SupportSite, strings.Join(g.INNs, ", "), inn)}
	}
	return nil
}

// End ends an agreement; transfers already made stay as they are.
func (g *AidAgreement) End(reason string, a Actor, now time.Time) error {
	const op = "aid.agreement.end"
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return Invalid(op, "reason", "say why the agreement ends")
	}
	if g.Status != AgreementActive {
		return transitionErr(op, "the agreement %s is %s already", g.Reference, g.Status)
	}
	s := signoff(a, now)
	s.Reason = reason
	g.Status, g.Ended, g.UpdatedAt = AgreementEnded, s, now
	return nil
}

// AidRole is the side of a transfer a site is on.
type AidRole string

const (
	AidRequester AidRole = "requester" // the site prepared for
	AidSupport   AidRole = "support"   // the site that prepares
)

// AidStatus is where a transfer is.
type AidStatus string

const (
	AidHandedOver        AidStatus = "handed_over"
	AidAccepted          AidStatus = "accepted"
	AidInProduction      AidStatus = "in_production"
	AidShipped           AidStatus = "shipped"
	AidReceived          AidStatus = "received"
	AidHandbackRequested AidStatus = "handback_requested"
	AidHandedBack        AidStatus = "handed_back"
	AidRefused           AidStatus = "refused"
)

var aidTransitions = map[AidRole]map[AidStatus][]AidStatus{
	AidRequester: {
		AidHandedOver:        {AidInProduction, AidShipped, AidHandbackRequested, AidRefused},
		AidInProduction:      {AidShipped},
		AidShipped:           {AidReceived},
		AidHandbackRequested: {AidHandedBack, AidHandedOver, AidInProduction, AidShipped, AidRefused},
	},
	AidSupport: {
		AidAccepted:     {AidInProduction, AidHandedBack, AidRefused},
		AidInProduction: {AidShipped},
		AidShipped:      {AidReceived},
	},
}

// Live says whether the preparation is out at the support site (not yet
// back, neither refused nor handed back).
func (s AidStatus) Live() bool { return s != AidHandedBack && s != AidRefused }

// AidEvent is one step of a transfer, at either site.
type AidEvent struct {
	Status AidStatus `json:"status"`
	Site   string    `json:"site"`
	By     string    `json:"by"`
	At     time.Time `json:"at"`
	Note   string    `json:"note,omitempty"`
}

// AidTransfer is one preparation handed over to a support site.
type AidTransfer struct {
	ID                 ID        `json:"id"`
	Site               string    `json:"site"`
	Role               AidRole   `json:"role"`
	RequesterSite      string    `json:"requester_site"`
	SupportSite        string    `json:"support_site"`
	AgreementID        ID        `json:"agreement_id"`
	PreparationID      ID        `json:"preparation_id"`
	PrescriptionID     ID        `json:"prescription_id"`
	LineID             ID        `json:"line_id"`
	PatientID          ID        `json:"patient_id"`
	INN                string    `json:"inn"`
	Dose               float64   `json:"dose"`
	Unit               string    `json:"unit"`
	AdministrationDate Date      `json:"administration_date"`
	Ward               string    `json:"ward"`
	Status             AidStatus `json:"status"`
	// Reason of the hand-over (the crisis), of a refusal or of a hand-back.
	Reason string   `json:"reason,omitempty"`
	Order  AidOrder `json:"order"`
	// RegisterNumber and SlipNumber are the support site's.
	RegisterNumber string `json:"register_number,omitempty"`
	SlipNumber     string `json:"slip_number,omitempty"`
	// Shipment is what the support site said when it shipped: its release,
	// the plan as made, the expiry and storage.
	Shipment  *AidNotice `json:"shipment,omitempty"`
	Events    []AidEvent `json:"events"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
}

// AidOrder is what the support site needs to prepare: who for, what, how
// much and why (the dose with its derivation), validated by whom, for when
// and where.
type AidOrder struct {
	Patient struct {
		IPP        string   `json:"ipp"`
		INS        INS      `json:"ins"`
		BirthName  string   `json:"birth_name"`
		UsedName   string   `json:"used_name,omitempty"`
		FirstNames []string `json:"first_names"`
		BirthDate  Date     `json:"birth_date"`
		Sex        Sex      `json:"sex"`
	} `json:"patient"`
	Protocol     string          `json:"protocol"` // regimen, cycle and day
	Line         json.RawMessage `json:"line"`     // the prescription line as validated, with its calculation
	Validation   json.RawMessage `json:"validation,omitempty"`
	Prescriber   string          `json:"prescriber"`
	AgreementRef string          `json:"agreement_reference"`
	HandedOverBy string          `json:"handed_over_by"`
}

// Move takes the transfer to status s, recording who and when.
func (t *AidTransfer) Move(s AidStatus, site, by, note string, at time.Time) error {
	const op = "aid.transfer"
	if !slices.Contains(aidTransitions[t.Role][t.Status], s) {
		next := aidTransitions[t.Role][t.Status]
		allowed := "none: it is final"
		if len(next) > 0 {
			parts := make([]string, len(next))
			for i, n := range next {
				parts[i] = string(n)
			}
			allowed = strings.Join(parts, ", ")
		}
		return transitionErr(op, "the transfer of %s %s %s (preparation %s) to %s is %s here: it cannot become %s (allowed next: %s)",
			t.INN, num(t.Dose), t.Unit, t.PreparationID, t.SupportSite, t.Status, s, allowed)
	}
	t.Status, t.UpdatedAt = s, at
	t.Events = append(t.Events, AidEvent{Status: s, Site: site, By: by, At: at, Note: note})
	return nil
}

// AidHandOverRequest names what the requester hands over: preparations,
// prescriptions (all their preparations still to prepare) or a period
// (every preparation still to prepare administered from From to To).
type AidHandOverRequest struct {
	SupportSite     string `json:"support_site"`
	PreparationIDs  []ID   `json:"preparation_ids"`
	PrescriptionIDs []ID   `json:"prescription_ids"`
	From            Date   `json:"from"`
	To              Date   `json:"to"`
	Ward            string `json:"ward"`
	Reason          string `json:"reason"`
}

// Validate checks the request's shape.
func (r AidHandOverRequest) Validate(op string) error {
	var errs []error
	if strings.TrimSpace(r.SupportSite) == "" {
		errs = append(errs, Invalid(op, "support_site", "name the support site to hand over to"))
	}
	period := r.From != "" || r.To != ""
	if len(r.PreparationIDs) == 0 && len(r.PrescriptionIDs) == 0 && !period {
		errs = append(errs, Invalid(op, "preparation_ids", "name the preparations or prescriptions to hand over, or a period (from, to)"))
	}
	if period {
		from, err1 := ParseDate("from", string(r.From))
		to, err2 := ParseDate("to", string(r.To))
		if err1 != nil {
			errs = append(errs, err1)
		}
		if err2 != nil {
			errs = append(errs, err2)
		}
		if err1 == nil && err2 == nil && to < from {
			errs = append(errs, Invalid(op, "to", "the period ends (%s) before it starts (%s)", to, from))
		}
	}
	if strings.TrimSpace(r.Ward) == "" {
		errs = append(errs, Invalid(op, "ward", "name the ward the preparations are for (printed on the labels and the delivery slip)"))
	}
	if strings.TrimSpace(r.Reason) == "" {
		errs = append(errs, Invalid(op, "reason", "say why this site cannot prepare (e.g. crisis declared, isolator down)"))
	}
	return Errors(op, errs)
}

// AidShipRequest ships released preparations of one requester site.
type AidShipRequest struct {
	TransferIDs []ID `json:"transfer_ids"`
}

// AidReceiveRequest receives shipped preparations at the requester.
type AidReceiveRequest struct {
	TransferIDs []ID   `json:"transfer_ids"`
	Comment     string `json:"comment,omitempty"`
}

// AidMessage travels between sites: addressed from one site to another,
// with an id the receiving stream deduplicates on.
type AidMessage struct {
	ID   ID              `json:"id"`
	From string          `json:"from"`
	To   string          `json:"to"`
	Kind string          `json:"kind"`
	At   time.Time       `json:"at"`
	Body json.RawMessage `json:"body"`
}

// Kinds of aid messages.
const (
	AidMsgAgreement       = "agreement"        // body: AidAgreement (requester → support)
	AidMsgHandOver        = "handover"         // body: AidHandOver (requester → support)
	AidMsgNotice          = "notice"           // body: AidNotice (either way)
	AidMsgHandBackRequest = "handback_request" // body: AidNotice (requester → support)
)

// AidHandOver is the body of a hand-over: the transfer and the images of
// the records the support site needs (patient, treatment, prescription).
type AidHandOver struct {
	Transfer     AidTransfer     `json:"transfer"`
	Agreement    AidAgreement    `json:"agreement"`
	Patient      json.RawMessage `json:"patient"`
	Treatment    json.RawMessage `json:"treatment"`
	Prescription json.RawMessage `json:"prescription"`
	Site         Site            `json:"site"` // the requester, as it names itself
}

// AidNotice tells the other site that a transfer moved.
type AidNotice struct {
	TransferID     ID        `json:"transfer_id"`
	Status         AidStatus `json:"status"`
	By             string    `json:"by"`
	At             time.Time `json:"at"`
	Note           string    `json:"note,omitempty"`
	RegisterNumber string    `json:"register_number,omitempty"`
	SlipNumber     string    `json:"slip_number,omitempty"`
	// HandBackRefused answers a hand-back request: the support site has
	// started (Status says where it is).
	HandBackRefused bool `json:"handback_refused,omitempty"`
	// With a shipment: what was made, for the requester's record.
	Release *Signoff         `json:"release,omitempty"`
	Plan    *CompoundingPlan `json:"plan,omitempty"`
	Expiry  time.Time        `json:"expiry,omitzero"`
	Storage string           `json:"storage,omitempty"`
}

// ReceiveFromSupport makes a preparation handed over to a support site
// released here, as the support site released it: it can then be
// dispensed and administered like one made here. It carries no register
// number of this site (the support site's register holds it).
func (p *Preparation) ReceiveFromSupport(n AidNotice, support string, a Actor, now time.Time) error {
	const op = "aid.receive"
	if p.Mode != ModeCompounded || p.Status != PrepToPrepare {
		return transitionErr(op, "preparation %s (%s) is %s: only a compounded preparation still to prepare here can be received from %s",
			p.Display(), p.INN, p.Status, support)
	}
	if n.Release == nil {
		return &Error{Op: op, Kind: KindConflict, Message: fmt.Sprintf("preparation %s: %s shipped it without its release", p.Display(), support)}
	}
	rel := *n.Release
	rel.By = fmt.Sprintf("%s (%s)", rel.By, support)
	rel.Comment = strings.TrimSpace(fmt.Sprintf("préparée par %s, ordonnancier %s, bordereau %s ; reçue par %s. %s",
		support, n.RegisterNumber, n.SlipNumber, a.DisplayName(), rel.Comment))
	p.Release = &rel
	if n.Plan != nil {
		p.Plan = n.Plan
	}
	p.Expiry, p.Storage = n.Expiry, n.Storage
	p.Status, p.UpdatedAt = PrepReleased, now
	return nil
}
