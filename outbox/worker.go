package outbox

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/journal"
)

// Sources are what documents are made from.
type Sources interface {
	Patient(ctx context.Context, id relais.ID) (relais.Patient, error)
	Prescription(ctx context.Context, id relais.ID) (relais.Prescription, error)
	Preparation(ctx context.Context, id relais.ID) (relais.Preparation, error)
	JournalEntries(ctx context.Context, site string, after int64, limit int) ([]journal.Entry, error)
	// Pharmacy is the site's pharmacy, named on every document.
	Pharmacy(ctx context.Context) (relais.Pharmacy, error)
}

// Triggers: the journal actions after which a document is due.
const (
	ActionSign           = "prescription.sign"
	ActionValidateLines  = "prescription.validate_lines"
	ActionAdminister     = "administration.record"
	ActionNotAdministerd = "administration.not_administered"
)

// Worker queues documents from the journal and sends what is due.
type Worker struct {
	Store   Store
	Sources Sources
	Site    string
	// SourceOID identifies this Relais as the source of XDM submission
	// sets (the site's OID); IPPAuthority is the OID of its IPP domain.
	SourceOID    string
	IPPAuthority string
	Config       Config
	Transports   map[string]Transport // by destination name
	Backoff      Backoff
	Every        time.Duration // how often to look when not woken (default 15 s)
	Log          *slog.Logger
	Now          func() time.Time

	wake chan struct{}
}

func (w *Worker) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return relais.Now()
}

// Wake makes the worker look now (the store's after-commit hook calls it).
func (w *Worker) Wake() {
	if w.wake == nil {
		return
	}
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Init prepares Wake; call it before registering the hook.
func (w *Worker) Init() {
	if w.wake == nil {
		w.wake = make(chan struct{}, 1)
	}
	if w.Log == nil {
		w.Log = slog.Default()
	}
}

// Run queues and sends until ctx ends.
func (w *Worker) Run(ctx context.Context) {
	w.Init()
	every := w.Every
	if every == 0 {
		every = 15 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := w.Queue(ctx); err != nil && ctx.Err() == nil {
			w.Log.Warn("outbox: documents not queued yet", "err", err)
		}
		if err := w.SendDue(ctx); err != nil && ctx.Err() == nil {
			w.Log.Warn("outbox: sending", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-w.wake:
		}
	}
}

// Queue reads the journal from where it stopped and queues the documents
// its entries call for. A document is keyed by the entry that caused it, so
// reading an entry twice (after a crash before the cursor moved) queues
// nothing twice.
func (w *Worker) Queue(ctx context.Context) error {
	ctx = relais.WithActor(ctx, relais.SystemActor(w.Site))
	for {
		cur, err := w.Store.JournalCursor(ctx)
		if err != nil {
			return err
		}
		entries, err := w.Sources.JournalEntries(ctx, w.Site, cur, 200)
		if err != nil {
			return err
		}
		if len(entries) == 0 {
			return nil
		}
		for _, e := range entries {
			if err := w.queueEntry(ctx, e); err != nil {
				return fmt.Errorf("journal entry %d (%s %s): %w", e.Seq, e.Action, e.EntityID, err)
			}
			if err := w.Store.SetJournalCursor(ctx, e.Seq); err != nil {
				return err
			}
		}
	}
}

func (w *Worker) queueEntry(ctx context.Context, e journal.Entry) error {
	var docs []Document
	switch e.Action {
	case ActionSign, ActionValidateLines, ActionAdminister, ActionNotAdministerd:
	default:
		return nil
	}
	if !w.wantsAny(e.Action) {
		return nil
	}
	ph, err := w.Sources.Pharmacy(ctx)
	if err != nil {
		return fmt.Errorf("the documents name the pharmacy: %w", err)
	}
	switch e.Action {
	case ActionSign, ActionValidateLines:
		// The plan as the entry left it (the journal keeps the whole
		// prescription): a plan queued late still shows what was signed
		// or validated then.
		var pr relais.Prescription
		if err := json.Unmarshal(e.After, &pr); err != nil || pr.ID != relais.ID(e.EntityID) || len(pr.Lines) == 0 {
			if pr, err = w.Sources.Prescription(ctx, relais.ID(e.EntityID)); err != nil {
				return err
			}
		}
		p, err := w.Sources.Patient(ctx, pr.PatientID)
		if err != nil {
			return err
		}
		doc, err := TreatmentPlan(p, pr, ph, e.Time)
		if err != nil {
			return err
		}
		docs = append(docs, doc)
	case ActionAdminister, ActionNotAdministerd:
		var a relais.Administration
		if err := json.Unmarshal(e.After, &a); err != nil {
			return fmt.Errorf("the administration in the journal is not readable: %w", err)
		}
		prep, err := w.Sources.Preparation(ctx, a.PreparationID)
		if err != nil {
			return err
		}
		p, err := w.Sources.Patient(ctx, a.PatientID)
		if err != nil {
			return err
		}
		pr, err := w.Sources.Prescription(ctx, prep.PrescriptionID)
		if err != nil {
			return err
		}
		doc, err := AdministrationReport(p, prep, pr, a, ph, e.Time)
		if err != nil {
			return err
		}
		docs = append(docs, doc)
	}
	for _, doc := range docs {
		var cdaFile *File
		for _, d := range w.Config.Destinations {
			if !d.Wants(doc.Kind) {
				continue
			}
			for _, format := range d.Formats() {
				f := doc.PDFFile()
				key := doc.Kind + "/" + e.ID
				if format == FormatCDA {
					if cdaFile == nil { // one CDA per document, whatever the destinations
						cf, err := CDA(doc, w.SourceOID, w.IPPAuthority, w.Config.CDA)
						if err != nil {
							return err
						}
						cdaFile = &cf
					}
					f, key = *cdaFile, key+"/cda"
				}
				payload, err := w.payload(doc, f, d)
				if err != nil {
					return err
				}
				m := Message{ID: relais.NewID(), CreatedAt: w.now(), Destination: d.Name, Transport: d.Transport, Kind: doc.Kind,
					DedupeKey: key, SubjectID: doc.SubjectID, PatientID: doc.Patient.ID, Payload: payload,
					Status: StatusPending, NextAttemptAt: w.now()}
				if _, err := w.Store.Enqueue(ctx, m); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// wantsAny reports whether a destination takes the document an action
// calls for (no document is made for nobody).
func (w *Worker) wantsAny(action string) bool {
	kind := KindTreatmentPlan
	if action == ActionAdminister || action == ActionNotAdministerd {
		kind = KindAdministrationReport
	}
	for _, d := range w.Config.Destinations {
		if d.Wants(kind) {
			return true
		}
	}
	return false
}

func (w *Worker) payload(doc Document, f File, d Destination) ([]byte, error) {
	switch d.Transport {
	case TransportMLLP:
		return MDM(doc, f, w.Site, d, w.Config.SendingApp, w.now())
	case TransportSMTP:
		return Mail(doc, f, w.Site, w.SourceOID, w.IPPAuthority, d, w.now())
	}
	return nil, fmt.Errorf("unknown transport %q", d.Transport)
}

// SendDue sends each due message once; a failure is recorded with its next
// attempt.
func (w *Worker) SendDue(ctx context.Context) error {
	ctx = relais.WithActor(ctx, relais.SystemActor(w.Site))
	due, err := w.Store.DueMessages(ctx, w.now(), 100)
	if err != nil {
		return err
	}
	for _, m := range due {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		t, ok := w.Transports[m.Destination]
		var reply string
		var err error
		if !ok {
			err = fmt.Errorf("destination %s is no longer configured", m.Destination)
		} else {
			sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			reply, err = t.Send(sctx, m.Payload)
			cancel()
		}
		at := w.now()
		if err == nil {
			if err := w.Store.MarkSent(ctx, m.ID, reply, at); err != nil {
				return err
			}
			w.Log.Info("outbox: sent", "id", m.ID, "destination", m.Destination, "kind", m.Kind)
			continue
		}
		n := m.Attempts + 1
		stuck := w.Backoff.stuck(n)
		next := at.Add(w.Backoff.Next(n))
		if err := w.Store.MarkFailed(ctx, m.ID, err.Error(), at, next, stuck); err != nil {
			return err
		}
		w.Log.Warn("outbox: not sent", "id", m.ID, "destination", m.Destination, "attempt", n, "next", next, "stuck", stuck, "err", err)
	}
	return nil
}
