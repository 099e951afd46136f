package outbox_test

import (
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/demo"
	"github.com/relais-onco/relais/hl7"
	"github.com/relais-onco/relais/internal/testdb"
	"github.com/relais-onco/relais/outbox"
	"github.com/relais-onco/relais/sqlstore"
)

// ehr is an EHR's MLLP listener: it keeps what it receives and answers
// with the code it is told to.
type ehr struct {
	mu       sync.Mutex
	received []*hl7.Message
	code     string
	srv      *hl7.Server
}

func (e *ehr) ServeHL7(ctx context.Context, peer string, raw []byte) []byte {
	m, err := hl7.Parse(raw)
	if err != nil {
		return hl7.EncodeAck(hl7.NewAck(hl7.SalvageHeader(raw), hl7.AR, err.Error(), nil, hl7.Sender{App: "DPI"}, "1", time.Now()))
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	code := e.code
	if code == hl7.AA {
		e.received = append(e.received, m)
	}
	var errs []*hl7.Error
	if code != hl7.AA {
		errs = []*hl7.Error{{Location: hl7.Location{Segment: "PID", Seq: 3, Field: 3}, Code: hl7.CodeUnknownKey, Message: "patient inconnu"}}
	}
	return hl7.EncodeAck(hl7.NewAck(m, code, "", errs, hl7.Sender{App: "DPI"}, "1", time.Now()))
}

func (e *ehr) start(t *testing.T, addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = &hl7.Server{Handler: e, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	go e.srv.Serve(ln)
	t.Cleanup(func() { e.srv.Shutdown(context.Background()) })
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// While the EHR is down, nothing is lost: every document signed is queued
// (from the journal), retried with backoff, and delivered once the EHR is
// back, each acknowledged AA. A destination that keeps refusing ends stuck,
// shown to IT, and IT's retry makes it due again.
func TestWorkerDeliversAfterDowntime(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db, err := sqlstore.Open(ctx, dsn, sqlstore.Options{Site: demo.MainSite.ID, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := demo.Load(ctx, db, demo.Options{Patients: 3, Seed: 3, Now: time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)}); err != nil {
			t.Fatal(err)
		}
		entries, err := db.JournalEntries(ctx, db.Site, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		signed := 0
		for _, e := range entries {
			if e.Action == outbox.ActionSign || e.Action == outbox.ActionValidateLines {
				signed++
			}
		}
		if signed == 0 {
			t.Fatal("the demo signed nothing: the test would check nothing")
		}
		addr := freeAddr(t)
		now := time.Date(2025, 3, 14, 10, 0, 0, 0, time.UTC)
		w := &outbox.Worker{Store: db, Sources: db, Site: db.Site,
			Config: outbox.Config{Destinations: []outbox.Destination{{Name: "dpi", Transport: outbox.TransportMLLP, Addr: addr,
				ReceivingApp: "DPI", ReceivingFacility: "CHG", Documents: []string{outbox.KindTreatmentPlan}}}},
			Transports: map[string]outbox.Transport{"dpi": &outbox.MLLPTransport{Client: &hl7.Client{Addr: addr, Timeout: 5 * time.Second}}},
			Backoff:    outbox.Backoff{First: time.Minute, Max: 10 * time.Minute, StuckAfter: 3},
			Now:        func() time.Time { return now }, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		w.Init()
		if err := w.Queue(ctx); err != nil {
			t.Fatal(err)
		}
		if err := w.Queue(ctx); err != nil { // read again: nothing twice
			t.Fatal(err)
		}
		pending, err := db.OutboxMessages(ctx, outbox.Filter{Status: outbox.StatusPending})
		if err != nil || len(pending) != signed {
			t.Fatalf("%d pending for %d signatures and validations (%v)", len(pending), signed, err)
		}

		// The EHR is down.
		if err := w.SendDue(ctx); err != nil {
			t.Fatal(err)
		}
		due, _ := db.DueMessages(ctx, now, 100)
		if len(due) != 0 {
			t.Errorf("%d messages due right after failing: the backoff is not applied", len(due))
		}
		for _, m := range mustList(t, db, "") {
			if m.Attempts != 1 || m.LastError == "" || !m.NextAttemptAt.Equal(now.Add(time.Minute)) {
				t.Errorf("after one failure: %+v", m)
			}
		}

		// Back up; a minute later everything goes, acknowledged.
		e := &ehr{code: hl7.AA}
		e.start(t, addr)
		now = now.Add(time.Minute)
		if err := w.SendDue(ctx); err != nil {
			t.Fatal(err)
		}
		sent := mustList(t, db, outbox.StatusSent)
		if len(sent) != signed || len(e.received) != signed {
			t.Fatalf("%d sent, %d received by the EHR, for %d documents", len(sent), len(e.received), signed)
		}
		for _, m := range e.received {
			if m.Header().Event() != "MDM^T02" {
				t.Errorf("received %s", m.Header().Event())
			}
			pdf, err := base64.StdEncoding.DecodeString(m.Segment("OBX").Comp(5, 5))
			if err != nil || len(pdf) < 100 || string(pdf[:5]) != "%PDF-" {
				t.Errorf("OBX-5 is not a PDF: %v", err)
			}
		}
		ack := sent[0].Reply
		if ack == "" {
			t.Error("the EHR's ACK is not kept")
		}

		// A destination that refuses (AE) ends stuck after 3 tries.
		e.mu.Lock()
		e.code = hl7.AE
		e.mu.Unlock()
		ps := r(t, db)
		if _, err := db.Enqueue(relais.WithActor(ctx, relais.SystemActor(db.Site)), outbox.Message{ID: relais.NewID(), CreatedAt: now,
			Destination: "dpi", Transport: outbox.TransportMLLP, Kind: outbox.KindTreatmentPlan, DedupeKey: "test/refused",
			PatientID: ps, Payload: e.lastPayload(t), Status: outbox.StatusPending, NextAttemptAt: now}); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if err := w.SendDue(ctx); err != nil {
				t.Fatal(err)
			}
			now = now.Add(10 * time.Minute)
		}
		stuck := mustList(t, db, outbox.StatusStuck)
		if len(stuck) != 1 || stuck[0].Attempts != 3 || stuck[0].LastError == "" {
			t.Fatalf("stuck = %+v", stuck)
		}
		m, err := db.RetryNow(relais.WithActor(ctx, relais.Actor{Username: "it", Role: relais.RoleITAdmin, Site: db.Site}), stuck[0].ID)
		if err != nil || m.Status != outbox.StatusPending {
			t.Fatalf("retry: %+v %v", m, err)
		}
		if _, err := db.RetryNow(ctx, sent[0].ID); relais.ErrorKind(err) != relais.KindConflict {
			t.Errorf("retry of a sent message: %v", err)
		}
	})
}

func r(t *testing.T, db *sqlstore.DB) relais.ID {
	ms := mustList(t, db, outbox.StatusSent)
	return ms[0].PatientID
}

func (e *ehr) lastPayload(t *testing.T) []byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	b, err := e.received[len(e.received)-1].Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustList(t *testing.T, db *sqlstore.DB, status string) []outbox.Message {
	t.Helper()
	ms, err := db.OutboxMessages(context.Background(), outbox.Filter{Status: status, Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	return ms
}
