package adt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/hl7"
)

// Statuses of a message in the inbound log.
const (
	StatusApplied  = "applied"  // answered AA
	StatusError    = "error"    // answered AE: stored, not applied
	StatusRejected = "rejected" // answered AR: not an ADT message Relais can read
)

// Inbound is one received message on its way to the store.
type Inbound struct {
	Raw        []byte
	Peer       string
	ReceivedAt time.Time
	Header     hl7.Header   // parsed, or salvaged from a broken message
	Msg        *hl7.Message // nil when the message did not parse
	// Reject is a fault of the message as a message (answered AR, stored
	// as rejected); DecodeErr a fault of its content found before applying
	// (answered AE).
	Reject    *hl7.Error
	DecodeErr *hl7.Error
	Event     Event
	Summary   string // searchable: event, IPP, names
}

// Outcome is how a message was answered.
type Outcome struct {
	LogID     relais.ID
	Status    string
	Code      string // AA, AE, AR
	Errors    []*hl7.Error
	Note      string
	PatientID relais.ID
	// Duplicate: a message with the same MSH-10 from the same sender was
	// stored before; this is its outcome, and nothing was applied again.
	Duplicate  bool
	ReceivedAt time.Time
}

// ApplyFunc applies one stored message inside the store's transaction. An
// *hl7.Error (errors.As) marks a fault of the message: its changes are rolled
// back and it is stored as an error. Any other error aborts the transaction.
type ApplyFunc func(reg Register, in *Inbound) (Result, error)

// LogFilter narrows the inbound log.
type LogFilter struct {
	Query  string // in control id, sender, event, IPP, names, errors
	Status string // applied, error, rejected; "" all
	Before time.Time
	Limit  int
}

// LogEntry is a message of the inbound log.
type LogEntry struct {
	ID              relais.ID    `json:"id"`
	ReceivedAt      time.Time    `json:"received_at"`
	Peer            string       `json:"peer"`
	SendingApp      string       `json:"sending_app"`
	SendingFacility string       `json:"sending_facility"`
	ControlID       string       `json:"control_id"`
	Event           string       `json:"event" doc:"e.g. ADT^A28"`
	Charset         string       `json:"charset"`
	Status          string       `json:"status" doc:"applied, error or rejected"`
	AckCode         string       `json:"ack_code" doc:"AA, AE or AR"`
	Errors          []*hl7.Error `json:"errors"`
	Note            string       `json:"note,omitempty"`
	PatientID       relais.ID    `json:"patient_id,omitempty"`
	Summary         string       `json:"summary"`
	Duplicates      int          `json:"duplicates" doc:"times the same message was received again (and answered without being applied)"`
	Replays         int          `json:"replays"`
	LastReplayAt    time.Time    `json:"last_replay_at,omitzero"`
	LastReplayBy    string       `json:"last_replay_by,omitempty"`
	// Text is the message decoded, segments on separate lines (detail view
	// only).
	Text string `json:"text,omitempty"`
	Raw  []byte `json:"-"`
}

// Store keeps the inbound log and applies messages; sqlstore implements it.
type Store interface {
	// ReceiveHL7 stores and applies a batch in one transaction, in order:
	// each message's log row and changes commit together, a message whose
	// application fails keeps its row (as an error) without its changes, and
	// a message already stored (same sender and MSH-10) is answered with its
	// first outcome. It returns one outcome per message, or an error when
	// nothing could be stored.
	ReceiveHL7(ctx context.Context, batch []*Inbound, apply ApplyFunc) ([]Outcome, error)
	HL7Messages(ctx context.Context, f LogFilter) ([]LogEntry, error)
	HL7Message(ctx context.Context, id relais.ID) (LogEntry, error)
	// ReplayHL7 applies a stored message again (after a fix), as the actor
	// in ctx, and records the new outcome. Only messages in error or
	// rejected are replayed.
	ReplayHL7(ctx context.Context, id relais.ID, prepare func(raw []byte, peer string) *Inbound, apply ApplyFunc) (LogEntry, error)
}

// Receiver answers the MLLP listener: it reads each message, queues it for
// the committer, and acknowledges once the committer has stored it.
// Messages arriving on several connections are committed together (group
// commit): one transaction, one fsync, many messages.
type Receiver struct {
	Store    Store
	Config   Config
	Sender   hl7.Sender
	Log      *slog.Logger
	MaxBatch int // default 200

	queue chan *pending
	done  chan struct{}
	seq   atomic.Uint64
}

type pending struct {
	in  *Inbound
	out chan Outcome
}

// NewReceiver makes a receiver; call Run before serving.
func NewReceiver(store Store, cfg Config, sender hl7.Sender, log *slog.Logger) *Receiver {
	if log == nil {
		log = slog.Default()
	}
	return &Receiver{Store: store, Config: cfg, Sender: sender, Log: log, MaxBatch: 200,
		queue: make(chan *pending, 1024), done: make(chan struct{})}
}

// Run commits queued messages until ctx ends.
func (r *Receiver) Run(ctx context.Context) {
	defer close(r.done)
	for {
		var first *pending
		select {
		case <-ctx.Done():
			r.drain()
			return
		case first = <-r.queue:
		}
		batch := []*pending{first}
	more:
		for len(batch) < r.MaxBatch {
			select {
			case p := <-r.queue:
				batch = append(batch, p)
			default:
				break more
			}
		}
		r.commit(ctx, batch)
	}
}

// drain answers what is still queued at shutdown: not stored, so AR (the
// sender sends it again).
func (r *Receiver) drain() {
	for {
		select {
		case p := <-r.queue:
			p.out <- unavailable(p.in, "Relais is stopping")
		default:
			return
		}
	}
}

func unavailable(in *Inbound, why string) Outcome {
	return Outcome{Status: StatusRejected, Code: hl7.AR, ReceivedAt: in.ReceivedAt, Errors: []*hl7.Error{{
		Code: hl7.CodeInternal, Reject: true,
		Message: why + ": the message was not stored; send it again"}}}
}

func (r *Receiver) commit(ctx context.Context, batch []*pending) {
	ins := make([]*Inbound, len(batch))
	for i, p := range batch {
		ins[i] = p.in
	}
	outs, err := r.Store.ReceiveHL7(ctx, ins, r.apply)
	if err == nil && len(outs) == len(batch) {
		for i, p := range batch {
			p.out <- outs[i]
		}
		return
	}
	if len(batch) > 1 {
		// One message may be what broke the batch: each alone, so that only
		// it is refused.
		r.Log.Warn("hl7: batch not stored; storing its messages one by one", "messages", len(batch), "err", err)
		for _, p := range batch {
			r.commit(ctx, []*pending{p})
		}
		return
	}
	r.Log.Error("hl7: message not stored", "control_id", batch[0].in.Header.ControlID, "err", err)
	batch[0].out <- unavailable(batch[0].in, "the database did not take the message ("+relais.ErrorMessage(err)+")")
}

// apply is the ApplyFunc of received messages.
func (r *Receiver) apply(reg Register, in *Inbound) (Result, error) {
	if in.DecodeErr != nil {
		return Result{}, in.DecodeErr
	}
	return Apply(reg, in.Event, in.Header)
}

// Prepare reads a raw message: parse, header checks, decoding of the event.
// It does no I/O.
func (r *Receiver) Prepare(raw []byte, peer string) *Inbound {
	in := &Inbound{Raw: raw, Peer: peer, ReceivedAt: relais.Now()}
	m, err := hl7.Parse(raw)
	if err != nil {
		var he *hl7.Error
		if !errors.As(err, &he) {
			he = &hl7.Error{Code: hl7.CodeInternal, Message: err.Error(), Reject: true}
		}
		he.Reject = true
		in.Reject = he
		in.Msg = hl7.SalvageHeader(raw)
		in.Header = in.Msg.Header()
		in.Summary = "unreadable message"
		return in
	}
	in.Msg = m
	in.Header = m.Header()
	if he := CheckHeader(m, r.Config); he != nil {
		in.Reject = he
		in.Summary = in.Header.Event()
		return in
	}
	ev, he := Decode(m, r.Config)
	in.Event = ev
	in.DecodeErr = he
	in.Summary = summary(in.Header, ev)
	return in
}

func summary(h hl7.Header, ev Event) string {
	parts := []string{h.Event()}
	if ev.IPP != "" {
		parts = append(parts, "IPP "+ev.IPP)
	}
	if ev.PriorIPP != "" {
		parts = append(parts, "prior IPP "+ev.PriorIPP)
	}
	if ev.Identity.INS != nil && ev.Identity.INS.Matricule != "" {
		parts = append(parts, "INS "+ev.Identity.INS.Matricule)
	}
	if ev.Identity.BirthName != "" {
		n := ev.Identity.BirthName
		if ev.Identity.UsedName != nil && *ev.Identity.UsedName != "" {
			n = *ev.Identity.UsedName + " (" + n + ")"
		}
		if len(ev.Identity.FirstNames) > 0 {
			n += " " + ev.Identity.FirstNames[0]
		}
		parts = append(parts, n)
	}
	if ev.Identity.BirthDate != "" {
		parts = append(parts, string(ev.Identity.BirthDate))
	}
	return strings.Join(parts, " · ")
}

// ServeHL7 implements hl7.Handler.
func (r *Receiver) ServeHL7(ctx context.Context, peer string, raw []byte) []byte {
	in := r.Prepare(raw, peer)
	return r.answer(ctx, in)
}

// RejectFrame answers a frame too large to read whole: its head is kept in
// the log as rejected.
func (r *Receiver) RejectFrame(head []byte, err error) []byte {
	in := &Inbound{Raw: head, Peer: "", ReceivedAt: relais.Now()}
	in.Msg = hl7.SalvageHeader(head)
	in.Header = in.Msg.Header()
	in.Reject = &hl7.Error{Code: hl7.CodeInternal, Reject: true,
		Message: "the message is larger than this listener's limit: only its first kilobyte is kept; send documents by another way or ask IT to raise the limit"}
	in.Summary = "too large: " + in.Header.Event()
	return r.answer(context.Background(), in)
}

func (r *Receiver) answer(ctx context.Context, in *Inbound) []byte {
	p := &pending{in: in, out: make(chan Outcome, 1)}
	var out Outcome
	select {
	case r.queue <- p:
		select {
		case out = <-p.out:
		case <-r.done:
			// Run ended between the queueing and the commit.
			select {
			case out = <-p.out:
			default:
				out = unavailable(in, "Relais is stopping")
			}
		}
	case <-r.done:
		out = unavailable(in, "Relais is stopping")
	case <-ctx.Done():
		out = unavailable(in, "Relais is stopping")
	}
	return r.Ack(in, out)
}

// Ack encodes the acknowledgement of a message's outcome.
func (r *Receiver) Ack(in *Inbound, out Outcome) []byte {
	text := out.Note
	if out.Duplicate {
		text = "duplicate of a message received " + out.ReceivedAt.In(relais.DisplayZone).Format("02/01/2006 15:04:05") + ": not applied again"
	}
	id := fmt.Sprintf("R%d%04d", time.Now().UnixMilli(), r.seq.Add(1)%10000)
	return hl7.EncodeAck(hl7.NewAck(in.Msg, out.Code, text, out.Errors, r.Sender, id, time.Now().In(relais.DisplayZone)))
}

// Replay applies a stored message again, as the actor in ctx.
func (r *Receiver) Replay(ctx context.Context, id relais.ID) (LogEntry, error) {
	return r.Store.ReplayHL7(ctx, id, r.Prepare, r.apply)
}

// Messages lists the inbound log.
func (r *Receiver) Messages(ctx context.Context, f LogFilter) ([]LogEntry, error) {
	return r.Store.HL7Messages(ctx, f)
}

// Message returns one message of the log, with its text.
func (r *Receiver) Message(ctx context.Context, id relais.ID) (LogEntry, error) {
	return r.Store.HL7Message(ctx, id)
}
