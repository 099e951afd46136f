// Package outbox sends Relais's documents to the hospitals' systems: when a
// cycle is signed the treatment plan, when a preparation is administered the
// administration report (pdfdoc's documents), as PDF or as CDA R2 (package
// cda: CI-SIS header, the PDF as non-structured body) or both, per
// destination, in HL7 v2.5 MDM^T02 messages over MLLP to the EHR (which
// files them in the patient's record), and by e-mail to an MSSanté mailbox
// with an IHE XDM zip attached (seed 003: « flux … HL7 avec transports
// MSSanté … afin d'éviter des coûts et étapes spécialisées propres aux
// mises en œuvre de VPN »).
//
// Nothing is lost while a destination is down: documents are queued in the
// database from the journal (a cursor says how far it was read, so a stop
// between a signature and its queueing loses nothing), each message is
// retried with exponential backoff, and one that keeps failing is shown to
// IT as stuck, still retried, until it is sent or IT retries it by hand.
package outbox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/cda"
)

// Statuses of a queued message.
const (
	StatusPending = "pending"
	StatusSent    = "sent"
	StatusStuck   = "stuck" // failed StuckAfter times: shown to IT, still retried
)

// Transports.
const (
	TransportMLLP = "mllp"
	TransportSMTP = "smtp"
)

// Kinds of documents.
const (
	KindTreatmentPlan        = "treatment_plan"
	KindAdministrationReport = "administration_report"
)

// Message is one queued message to one destination.
type Message struct {
	ID            relais.ID `json:"id"`
	CreatedAt     time.Time `json:"created_at"`
	Destination   string    `json:"destination"`
	Transport     string    `json:"transport"`
	Kind          string    `json:"kind"`
	DedupeKey     string    `json:"dedupe_key"`
	SubjectID     relais.ID `json:"subject_id,omitempty" doc:"the prescription or preparation the document is about"`
	PatientID     relais.ID `json:"patient_id,omitempty"`
	Payload       []byte    `json:"-"`
	Size          int       `json:"size" doc:"payload bytes"`
	Status        string    `json:"status" doc:"pending, sent or stuck"`
	Attempts      int       `json:"attempts"`
	NextAttemptAt time.Time `json:"next_attempt_at"`
	LastError     string    `json:"last_error,omitempty"`
	LastAttemptAt time.Time `json:"last_attempt_at,omitzero"`
	SentAt        time.Time `json:"sent_at,omitzero"`
	Reply         string    `json:"reply,omitempty" doc:"the destination's answer: the HL7 ACK, the SMTP reply"`
}

// Filter narrows the outbox.
type Filter struct {
	Status string // pending, sent, stuck; "" all
	Limit  int
}

// Store keeps the queue; sqlstore implements it.
type Store interface {
	// Enqueue adds m unless a message with the same destination and dedupe
	// key is queued already (added false, no error).
	Enqueue(ctx context.Context, m Message) (added bool, err error)
	// DueMessages returns pending and stuck messages due at now, oldest
	// first.
	DueMessages(ctx context.Context, now time.Time, limit int) ([]Message, error)
	MarkSent(ctx context.Context, id relais.ID, reply string, at time.Time) error
	// MarkFailed records a failed attempt and when to try again; stuck
	// marks the message for IT.
	MarkFailed(ctx context.Context, id relais.ID, why string, at, next time.Time, stuck bool) error
	OutboxMessages(ctx context.Context, f Filter) ([]Message, error)
	// RetryNow makes a pending or stuck message due now (IT, after fixing
	// the destination).
	RetryNow(ctx context.Context, id relais.ID) (Message, error)
	// JournalCursor and SetJournalCursor keep how far the journal was read.
	JournalCursor(ctx context.Context) (int64, error)
	SetJournalCursor(ctx context.Context, seq int64) error
}

// Destination is a configured receiver of documents.
type Destination struct {
	Name      string   `json:"name"`
	Transport string   `json:"transport"`           // mllp or smtp
	Documents []string `json:"documents,omitempty"` // kinds sent there; empty: all
	// DocumentFormat is pdf (the default), cda (a CDA R2 document with the
	// PDF as its body) or both (two messages: the PDF, then the CDA).
	DocumentFormat string `json:"document_format,omitempty"`
	// MLLP: the EHR's listener.
	Addr              string `json:"addr,omitempty"`
	TLS               bool   `json:"tls,omitempty"`
	ReceivingApp      string `json:"receiving_app,omitempty"`
	ReceivingFacility string `json:"receiving_facility,omitempty"`
	// IPPAuthority is PID-3.4 of the IPP in messages sent there.
	IPPAuthority string `json:"ipp_authority,omitempty"`
	// SMTP: the MSSanté operator's server (submission with STARTTLS), the
	// site's mailbox and the recipients' mailboxes.
	SMTPAddr     string   `json:"smtp_addr,omitempty"`
	From         string   `json:"from,omitempty"`
	To           []string `json:"to,omitempty"`
	Username     string   `json:"username,omitempty"`
	PasswordFile string   `json:"password_file,omitempty"`
	// CAFile trusts the operator's certificate authority (the IGC Santé
	// for MSSanté) besides the system's.
	CAFile string `json:"ca_file,omitempty"`
}

// Formats lists the files sent there for each document, in order.
func (d Destination) Formats() []string {
	switch d.DocumentFormat {
	case FormatCDA:
		return []string{FormatCDA}
	case FormatBoth:
		return []string{FormatPDF, FormatCDA}
	}
	return []string{FormatPDF}
}

// WantsCDA reports whether the destination takes CDA documents.
func (d Destination) WantsCDA() bool {
	return d.DocumentFormat == FormatCDA || d.DocumentFormat == FormatBoth
}

// Wants reports whether the destination takes documents of kind.
func (d Destination) Wants(kind string) bool {
	if len(d.Documents) == 0 {
		return true
	}
	for _, k := range d.Documents {
		if k == kind {
			return true
		}
	}
	return false
}

// Config is the outbox configuration file.
type Config struct {
	// Sender names Relais in MSH-3/4 and in mails.
	SendingApp   string        `json:"sending_app,omitempty"`
	Destinations []Destination `json:"destinations"`
	// CDA sets the site's codes in the CDA header (when a destination
	// takes CDA); the defaults suit a public hospital.
	CDA CDAOptions `json:"cda,omitzero"`
}

// WantsCDA reports whether a destination takes CDA documents.
func (c Config) WantsCDA() bool {
	for _, d := range c.Destinations {
		if d.WantsCDA() {
			return true
		}
	}
	return false
}

// CheckCDA checks what CDA documents need besides the configuration: the
// site's OID and the OID of the IPP domain (relais serve --site-oid and
// --ipp-oid), named by their flags.
func (c Config) CheckCDA(siteOID, ippOID string) error {
	const op = "outbox.config"
	if !c.WantsCDA() {
		return nil
	}
	var errs []error
	if !cda.ValidOID(siteOID) {
		errs = append(errs, relais.Invalid(op, "site-oid", "a destination takes CDA documents: give this site's OID (the documents' custodian), e.g. --site-oid 1.2.250.1.71.4.2.2.330781196; got %q", siteOID))
	}
	if !cda.ValidOID(ippOID) {
		errs = append(errs, relais.Invalid(op, "ipp-oid", "a destination takes CDA documents: give the OID of the hospital's IPP domain (patientRole/id); got %q", ippOID))
	}
	return relais.Errors(op, errs)
}

// LoadConfig reads and checks a configuration file.
func LoadConfig(path string) (Config, error) {
	const op = "outbox.config"
	var c Config
	b, err := os.ReadFile(path)
	if err != nil {
		return c, relais.E(op, relais.KindInvalid, relais.Field("outbox-config"), "cannot read the outbox configuration", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, relais.E(op, relais.KindInvalid, relais.Field("outbox-config"), path+" is not the JSON expected: "+err.Error())
	}
	return c, c.Check()
}

// Check names every fault of the configuration.
func (c Config) Check() error {
	const op = "outbox.config"
	var errs []error
	seen := map[string]bool{}
	for i, d := range c.Destinations {
		f := fmt.Sprintf("destinations[%d]", i)
		if d.Name == "" || strings.ContainsAny(d.Name, " \t/") {
			errs = append(errs, relais.Invalid(op, f+".name", "a destination has a name without spaces, e.g. dpi-chg"))
		} else if seen[d.Name] {
			errs = append(errs, relais.Invalid(op, f+".name", "destination %s is configured twice", d.Name))
		}
		seen[d.Name] = true
		for _, k := range d.Documents {
			if k != KindTreatmentPlan && k != KindAdministrationReport {
				errs = append(errs, relais.Invalid(op, f+".documents", "%q is not a document Relais sends: %s or %s", k, KindTreatmentPlan, KindAdministrationReport))
			}
		}
		switch d.DocumentFormat {
		case "", FormatPDF, FormatCDA, FormatBoth:
		default:
			errs = append(errs, relais.Invalid(op, f+".document_format", "document_format is pdf, cda or both, not %q", d.DocumentFormat))
		}
		switch d.Transport {
		case TransportMLLP:
			if d.Addr == "" {
				errs = append(errs, relais.Invalid(op, f+".addr", "the EHR's MLLP listener is required, e.g. 10.1.2.3:2575"))
			}
		case TransportSMTP:
			if d.SMTPAddr == "" {
				errs = append(errs, relais.Invalid(op, f+".smtp_addr", "the MSSanté operator's SMTP server is required, e.g. smtp.example.mssante.fr:587"))
			}
			if !strings.Contains(d.From, "@") {
				errs = append(errs, relais.Invalid(op, f+".from", "the site's MSSanté mailbox is required"))
			}
			if len(d.To) == 0 {
				errs = append(errs, relais.Invalid(op, f+".to", "at least one recipient mailbox is required"))
			}
		default:
			errs = append(errs, relais.Invalid(op, f+".transport", "transport is mllp or smtp, not %q", d.Transport))
		}
	}
	for name, code := range map[string]CodeConfig{"cda.facility_type": c.CDA.FacilityType, "cda.practice_setting": c.CDA.PracticeSetting} {
		if code == (CodeConfig{}) {
			continue
		}
		if code.Code == "" || code.Display == "" || !cda.ValidOID(code.System) {
			errs = append(errs, relais.Invalid(op, name, "give code, system (the value set's code system OID) and display, or leave it out for the default"))
		}
	}
	return relais.Errors(op, errs)
}

// Backoff says when to try again after a failure, and when a message is
// stuck.
type Backoff struct {
	First      time.Duration // after the first failure (default 30 s)
	Max        time.Duration // at most (default 1 h)
	StuckAfter int           // failures before a message is shown stuck (default 8)
}

// Next returns the delay after the n-th failure (n ≥ 1): First doubled each
// time, at most Max.
func (b Backoff) Next(n int) time.Duration {
	if b.First == 0 {
		b.First = 30 * time.Second
	}
	if b.Max == 0 {
		b.Max = time.Hour
	}
	d := b.First
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2
	}
	return min(d, b.Max)
}

func (b Backoff) stuck(n int) bool {
	if b.StuckAfter == 0 {
		b.StuckAfter = 8
	}
	return n >= b.StuckAfter
}
