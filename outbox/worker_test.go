package outbox_test

import (
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/cda"
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
		setPharmacy(t, db)
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

// setPharmacy names the site's pharmacy, which every document carries (the
// demo does not set it).
func setPharmacy(t *testing.T, db *sqlstore.DB) {
	t.Helper()
	admin := relais.WithActor(context.Background(), relais.Actor{Username: "admin", Role: relais.RolePharmAdmin, Site: db.Site})
	if _, err := db.SetPharmacy(admin, relais.Pharmacy{Name: "PUI – CHU de Test", Address: "1 rue de l'Hôpital\n35000 Rennes",
		Phone: "02 99 00 00 00"}); err != nil {
		t.Fatal(err)
	}
}

// A signed cycle's plan goes to the EHR over MLLP as PDF and as CDA
// (document_format both: two MDM^T02, OBX-5 ^application^pdf^Base64^ and
// ^TEXT^XML^Base64^) and to an MSSanté mailbox over SMTP as CDA
// (IHE_XDM.ZIP with the CDA described as text/xml, XDS-SD PDF): each CDA
// declares the CI-SIS
// templates, carries the patient's ids where the CI-SIS puts them (the INS
// of a qualified identity under its OID, the IPP under the IPP domain's
// OID), and its nonXMLBody is the plan as a PDF that pdftotext reads with
// the cycle's doses.
func TestWorkerSendsCDA(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db, err := sqlstore.Open(ctx, dsn, sqlstore.Options{Site: demo.MainSite.ID, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := demo.Load(ctx, db, demo.Options{Patients: 1, Seed: 5, Now: time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)}); err != nil {
			t.Fatal(err)
		}
		setPharmacy(t, db)
		const siteOID, ippOID = "1.2.250.1.999.1", "1.2.250.1.999.2"
		addr := freeAddr(t)
		e := &ehr{code: hl7.AA}
		e.start(t, addr)
		smtpT, received := outbox.StartTestSMTP(t)
		mss := outbox.Destination{Name: "mss", Transport: outbox.TransportSMTP, SMTPAddr: smtpT.Addr, From: smtpT.From, To: smtpT.To,
			DocumentFormat: outbox.FormatCDA, Documents: []string{outbox.KindTreatmentPlan}}
		cfg := outbox.Config{Destinations: []outbox.Destination{
			{Name: "dpi", Transport: outbox.TransportMLLP, Addr: addr, ReceivingApp: "DPI", DocumentFormat: outbox.FormatBoth,
				Documents: []string{outbox.KindTreatmentPlan}}, mss}}
		if err := cfg.Check(); err != nil {
			t.Fatal(err)
		}
		if err := cfg.CheckCDA(siteOID, ippOID); err != nil {
			t.Fatal(err)
		}
		now := time.Date(2025, 3, 14, 10, 0, 0, 0, time.UTC)
		w := &outbox.Worker{Store: db, Sources: db, Site: db.Site, SourceOID: siteOID, IPPAuthority: ippOID, Config: cfg,
			Transports: map[string]outbox.Transport{"dpi": &outbox.MLLPTransport{Client: &hl7.Client{Addr: addr, Timeout: 5 * time.Second}},
				"mss": smtpT},
			Now: func() time.Time { return now }, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		w.Init()
		if err := w.Queue(ctx); err != nil {
			t.Fatal(err)
		}
		if err := w.SendDue(ctx); err != nil {
			t.Fatal(err)
		}
		sent := mustList(t, db, outbox.StatusSent)
		// The EHR takes both formats (two messages a plan), the mailbox CDA.
		plans := len(sent) / 3
		if plans == 0 || len(sent)%3 != 0 || len(e.received) != 2*plans {
			t.Fatalf("%d messages sent, %d received by the EHR: every plan goes twice to the EHR, once to the mailbox", len(sent), len(e.received))
		}
		t.Logf("%d plans (signatures and validations) sent", plans)
		sys := relais.WithActor(ctx, relais.SystemActor(db.Site))
		// The set of a plan's versions is its prescription: setId names it.
		bySetID := map[string]relais.ID{}
		for _, m := range sent {
			bySetID[outbox.OID(m.SubjectID)] = m.SubjectID
		}
		// Every CDA is read; the PDF of each prescription's plan is read by
		// pdftotext once per transport (30 plans, 2 cores shared).
		read := map[string]bool{}
		derivations := 0
		checkCDA := func(t *testing.T, transport string, raw []byte) {
			t.Helper()
			outbox.XMLLintWellFormed(t, raw)
			cd, err := cda.Decode(raw)
			if err != nil {
				t.Fatal(err)
			}
			roots := map[string]bool{}
			for _, id := range cd.TemplateIDs {
				roots[id.Root] = true
			}
			if !roots[cda.TemplateCISIS] || !roots[cda.TemplateHL7France] || !roots[cda.TemplateXDSSD] {
				t.Errorf("templates %+v", cd.TemplateIDs)
			}
			subject, ok := bySetID[cd.SetID.Root]
			if cd.Code.Code != "18776-5" || !ok || cd.VersionNumber.Value < 1 {
				t.Fatalf("code %+v setId %+v (not a prescription sent) version %d", cd.Code, cd.SetID, cd.VersionNumber.Value)
			}
			pr, err := db.Prescription(sys, subject)
			if err != nil {
				t.Fatal(err)
			}
			p, err := db.Patient(sys, pr.PatientID)
			if err != nil {
				t.Fatal(err)
			}
			ids := map[string]string{}
			for _, id := range cd.RecordTarget.PatientRole.IDs {
				ids[id.Root] = id.Extension
			}
			if ids[ippOID] != p.IPP {
				t.Errorf("the IPP %s is not under %s: %+v", p.IPP, ippOID, ids)
			}
			qualified := p.INS.Status == relais.IdentityQualified
			if got, ok := ids[p.INS.OID]; qualified != ok || (ok && got != p.INS.Matricule) {
				t.Errorf("%s identity: patientRole/id %+v (the INS under %s only when qualified)", p.INS.Status, ids, p.INS.OID)
			}
			if o := cd.Custodian.Assigned.Org; len(o.IDs) == 0 || o.IDs[0].Root != siteOID {
				t.Errorf("custodian %+v", o)
			}
			pdf, err := cd.PDF()
			if err != nil || len(pdf) < 1000 || string(pdf[:5]) != "%PDF-" {
				t.Fatalf("nonXMLBody is not a PDF: %v", err)
			}
			if read[transport+"/"+string(subject)] {
				return
			}
			read[transport+"/"+string(subject)] = true
			text := outbox.PDFText(t, pdf)
			doses := 0
			for _, l := range pr.Lines {
				if l.Dose <= 0 {
					continue
				}
				doses++
				want := strings.Replace(strconv.FormatFloat(l.Dose, 'f', -1, 64), ".", ",", 1) + " " + l.Unit
				if !strings.Contains(text, want) {
					t.Errorf("the plan in the CDA does not give %s's dose %s:\n%s", l.INN, want, text)
				}
			}
			if doses == 0 || !strings.Contains(text, "Calcul de la dose") {
				t.Errorf("the plan shows no dose nor derivation:\n%s", text)
			}
			// The derivation is the calculation's own: its last step (the
			// dose) is printed as recorded (when it has only Latin-1 signs,
			// which the fonts print as they are).
			for _, l := range pr.Lines {
				if n := len(l.Calculation.Steps); n > 0 {
					step := strings.Join(strings.Fields(l.Calculation.Steps[n-1].FR), " ")
					if strings.IndexFunc(step, func(r rune) bool { return r > 0xFF }) < 0 {
						derivations++
						if !strings.Contains(text, step) {
							t.Errorf("the plan does not give %s's derivation %q", l.INN, step)
						}
					}
				}
			}
		}
		// Over MLLP: each plan as a PDF and as a CDA, each its own document.
		pdfs, cdas := 0, 0
		seenTXA := map[string]bool{}
		for _, m := range e.received {
			obx := m.Segment("OBX")
			raw, err := base64.StdEncoding.DecodeString(obx.Comp(5, 5))
			if err != nil {
				t.Fatal(err)
			}
			if txa := m.Segment("TXA").Comp(12, 1); seenTXA[txa] {
				t.Errorf("TXA-12 %s is sent twice: the PDF and the CDA are two documents", txa)
			} else {
				seenTXA[txa] = true
			}
			switch {
			case obx.Comp(5, 2) == "application" && obx.Comp(5, 3) == "pdf":
				pdfs++
				if string(raw[:5]) != "%PDF-" {
					t.Error("OBX-5 ^application^pdf^ is not a PDF")
				}
			case obx.Comp(5, 2) == "TEXT" && obx.Comp(5, 3) == "XML" && obx.Comp(5, 4) == "Base64":
				cdas++
				checkCDA(t, "mllp", raw)
			default:
				t.Fatalf("OBX-5 is neither ^TEXT^XML^Base64^ nor ^application^pdf^Base64^: %q^%q^%q", obx.Comp(5, 2), obx.Comp(5, 3), obx.Comp(5, 4))
			}
		}
		if pdfs != plans || cdas != plans {
			t.Errorf("the EHR received %d PDFs and %d CDAs for %d plans", pdfs, cdas, plans)
		}
		// Over SMTP: each mail's IHE_XDM.ZIP holds the CDA, described as such.
		for range plans {
			zipped := received(t, mss, "")
			file, mimeType, formatCode := outbox.ReadXDM(t, zipped)
			if mimeType != "text/xml" || formatCode != "urn:ihe:iti:xds-sd:pdf:2008" {
				t.Errorf("the CDA in the XDM zip is described as %s, %s", mimeType, formatCode)
			}
			checkCDA(t, "smtp", file)
		}
		if derivations == 0 {
			t.Error("no derivation step was checked: the test would check no derivation")
		}
	})
}
