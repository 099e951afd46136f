package adt_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/hl7"
	"github.com/relais-onco/relais/hl7/adt"
	"github.com/relais-onco/relais/internal/testdb"
	"github.com/relais-onco/relais/sqlstore"
)

// publishedNIR: « 2 06 12 75 111 005 … sa clé est : 64 » (lbcd78.fr,
// « Calcul de la clé du n° de sécurité sociale », 2007).
const publishedNIR = "206127511100564"

const insRep = "^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO^INS"

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// rig is a site's Relais with its HL7 listener.
type rig struct {
	db    *sqlstore.DB
	store *countingStore
	recv  *adt.Receiver
	addr  string
	ctx   context.Context // an IT administrator
}

func newRig(t testing.TB, dsn string) *rig {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	db, err := sqlstore.Open(ctx, dsn, sqlstore.Options{Site: "chu-test", Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	store := &countingStore{Store: db}
	recv := adt.NewReceiver(store, adt.Config{}, hl7.Sender{App: "RELAIS", Facility: "chu-test"}, quiet())
	done := make(chan struct{})
	go func() { recv.Run(ctx); close(done) }()
	srv := &hl7.Server{Handler: recv, Reject: recv.RejectFrame, Log: quiet()}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		sctx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		srv.Shutdown(sctx)
		cancel()
		<-done
		db.Close()
	})
	admin := relais.WithActor(context.Background(), relais.Actor{Username: "it", Name: "IT Admin", Role: relais.RoleITAdmin, Site: "chu-test"})
	return &rig{db: db, store: store, recv: recv, addr: ln.Addr().String(), ctx: admin}
}

// countingStore records the largest batch committed at once.
type countingStore struct {
	adt.Store
	mu       sync.Mutex
	maxBatch int
	errBatch bool // a batch of several held a message in error
}

func (s *countingStore) ReceiveHL7(ctx context.Context, batch []*adt.Inbound, apply adt.ApplyFunc) ([]adt.Outcome, error) {
	outs, err := s.Store.ReceiveHL7(ctx, batch, apply)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maxBatch = max(s.maxBatch, len(batch))
	for _, o := range outs {
		if o.Code == hl7.AE && len(batch) > 1 {
			s.errBatch = true
		}
	}
	return outs, err
}

func (r *rig) send(t *testing.T, c *hl7.Client, raw string) *hl7.Message {
	t.Helper()
	reply, err := c.Send(context.Background(), []byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	ack, err := hl7.Parse(reply)
	if err != nil {
		t.Fatalf("ACK does not parse: %v\n%q", err, reply)
	}
	return ack
}

func adtMsg(trigger, ctrl, pid string, more ...string) string {
	s := "MSH|^~\\&|DPI|CHG|RELAIS|CHU|20250314083000||ADT^" + trigger + "^ADT_A01|" + ctrl + "|P|2.5^FRA^2.10|||||FRA|UNICODE UTF-8\r" +
		"EVN||20250314083000\rPID|" + pid + "\r"
	for _, m := range more {
		s += m + "\r"
	}
	return s
}

func pidOf(fields map[int]string) string {
	f := make([]string, 32)
	for n, v := range fields {
		f[n-1] = v
	}
	return strings.Join(f, "|")
}

func code(ack *hl7.Message) string { return ack.Segment("MSA").Get(1) }

func onlyPatient(t *testing.T, r *rig, q string) relais.Patient {
	t.Helper()
	ps, err := r.db.SearchPatients(r.ctx, q, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 {
		t.Fatalf("search %q found %d patients", q, len(ps))
	}
	return ps[0]
}

// The whole ADT path over MLLP: create, resend, update, identifier change,
// merge; each acknowledged after it is stored, each recorded in the log and
// the journal, the journal intact at the end.
func TestADTOverMLLP(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		r := newRig(t, dsn)
		c := &hl7.Client{Addr: r.addr, Timeout: 10 * time.Second}
		defer c.Close()

		a28 := adtMsg("A28", "C1", pidOf(map[int]string{3: "7001^^^CHG^PI~" + publishedNIR + insRep,
			5: "DUPONT^Marie^Marie Claire^^^^L~MARTIN^Marie^^^^^D", 7: "20061214", 8: "F", 11: "^^^^^^BDL^^75111", 32: "QUAL"}))
		if ack := r.send(t, c, a28); code(ack) != hl7.AA || ack.Segment("MSA").Get(2) != "C1" {
			t.Fatalf("A28: %s", ack)
		}
		p := onlyPatient(t, r, "7001")
		if p.BirthName != "DUPONT" || p.UsedName != "MARTIN" || p.INS.Matricule != publishedNIR || p.INS.OID != relais.OIDNIR ||
			p.INS.Status != relais.IdentityQualified || p.BirthDate != "2006-12-14" || p.Sex != relais.SexFemale ||
			p.BirthplaceCode != "75111" || strings.Join(p.FirstNames, ",") != "Marie,Claire" {
			t.Fatalf("created patient = %+v", p)
		}

		// The same message again: answered AA, not applied twice.
		ack := r.send(t, c, a28)
		if code(ack) != hl7.AA || !strings.Contains(ack.Segment("MSA").Get(3), "duplicate") {
			t.Fatalf("resent A28: %s", ack)
		}
		entries, err := r.db.JournalEntries(r.ctx, "chu-test", 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		creates := 0
		for _, e := range entries {
			if e.Action == "patient.create" {
				creates++
				if e.Username != "hl7:DPI/CHG" {
					t.Errorf("journal actor = %q", e.Username)
				}
			}
		}
		if creates != 1 {
			t.Errorf("%d patient.create entries for one message sent twice", creates)
		}

		// A31 clears the used name (HL7 null) and keeps the INS block.
		a31 := adtMsg("A31", "C2", pidOf(map[int]string{3: "7001^^^CHG^PI~" + publishedNIR + insRep,
			5: "DUPONT^Marie^Marie Claire^^^^L~\"\"^^^^^^D", 7: "20061214", 8: "F", 32: "QUAL"}))
		if ack := r.send(t, c, a31); code(ack) != hl7.AA {
			t.Fatalf("A31: %s", ack)
		}
		if p = onlyPatient(t, r, "7001"); p.UsedName != "" || p.BirthplaceCode != "75111" {
			t.Errorf("after A31: used %q birthplace %q", p.UsedName, p.BirthplaceCode)
		}

		// A47: the IPP changes; the old one still finds the patient.
		a47 := adtMsg("A47", "C3", pidOf(map[int]string{3: "7002^^^CHG^PI", 5: "DUPONT^Marie^^^^^L", 7: "20061214", 8: "F"}), "MRG|7001^^^CHG^PI")
		if ack := r.send(t, c, a47); code(ack) != hl7.AA {
			t.Fatalf("A47: %s", ack)
		}
		if p2 := onlyPatient(t, r, "7001"); p2.ID != p.ID || p2.IPP != "7002" || len(p2.FormerIPPs) != 1 {
			t.Errorf("after A47: %+v", p2)
		}

		// A duplicate registered without INS, then merged by an A40.
		dup := adtMsg("A04", "C4", pidOf(map[int]string{3: "7999^^^CHG^PI", 5: "DUPONT^Marie^^^^^L", 7: "20061214", 8: "F", 32: "PROV"}))
		if ack := r.send(t, c, dup); code(ack) != hl7.AA {
			t.Fatalf("A04: %s", ack)
		}
		a40 := adtMsg("A40", "C5", pidOf(map[int]string{3: "7002^^^CHG^PI", 5: "DUPONT^Marie^^^^^L", 7: "20061214", 8: "F"}), "MRG|7999^^^CHG^PI")
		if ack := r.send(t, c, a40); code(ack) != hl7.AA {
			t.Fatalf("A40: %s", ack)
		}
		merged := onlyPatient(t, r, "7999") // the duplicate's IPP answers with the survivor
		if merged.ID != p.ID || len(merged.MergedFrom) != 1 {
			t.Errorf("after A40: %+v", merged)
		}

		// An A11 is acknowledged and changes nothing.
		if ack := r.send(t, c, adtMsg("A11", "C6", pidOf(map[int]string{3: "7002^^^CHG^PI"}))); code(ack) != hl7.AA {
			t.Fatalf("A11: %s", ack)
		}

		log, err := r.recv.Messages(r.ctx, adt.LogFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(log) != 6 {
			t.Errorf("%d messages in the log, want 6 (the resent one is counted, not stored twice)", len(log))
		}
		for _, e := range log {
			if e.ControlID == "C1" && e.Duplicates != 1 {
				t.Errorf("C1 duplicates = %d", e.Duplicates)
			}
			if e.Status != adt.StatusApplied {
				t.Errorf("%s: %s %v", e.ControlID, e.Status, e.Errors)
			}
		}
		rep, err := r.db.VerifyJournal(context.Background())
		if err != nil || !rep.OK() {
			t.Fatalf("journal after HL7: %v %v", err, rep.Faults)
		}
	})
}

// A message in error is stored, answered AE with an ERR that locates the
// fault, leaves nothing half-written, and can be replayed once the cause is
// fixed.
func TestADTErrorAndReplay(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		r := newRig(t, dsn)
		c := &hl7.Client{Addr: r.addr, Timeout: 10 * time.Second}
		defer c.Close()

		badKey := publishedNIR[:13] + "65"
		ack := r.send(t, c, adtMsg("A28", "E1", pidOf(map[int]string{3: "8001^^^CHG^PI~" + badKey + insRep,
			5: "NOËL^Zoé^^^^^L", 7: "20061214", 8: "F", 32: "QUAL"})))
		if code(ack) != hl7.AE {
			t.Fatalf("bad NIR key: %s", ack)
		}
		erl := ack.Segment("ERR").Field(2)[0]
		if erl.Comp(1) != "PID" || erl.Comp(3) != "3" || erl.Comp(4) != "2" || erl.Comp(5) != "1" {
			t.Errorf("ERR-2 = %v, want PID-3 repetition 2 component 1", erl)
		}
		if !strings.Contains(ack.Segment("ERR").Get(8), "key") {
			t.Errorf("ERR-8 = %q", ack.Segment("ERR").Get(8))
		}
		if ps, _ := r.db.SearchPatients(r.ctx, "8001", 5); len(ps) != 0 {
			t.Errorf("a patient was created from a message in error")
		}

		// A47 for an IPP not known yet: AE, then replayed after the A28.
		ack = r.send(t, c, adtMsg("A47", "E2", pidOf(map[int]string{3: "8102^^^CHG^PI", 5: "ROUX^Paul^^^^^L", 7: "20120505", 8: "M"}), "MRG|8101^^^CHG^PI"))
		if code(ack) != hl7.AE || ack.Segment("ERR").Comp(2, 1) != "MRG" || ack.Segment("ERR").Comp(3, 1) != hl7.CodeUnknownKey {
			t.Fatalf("A47 unknown: %s", ack)
		}
		errs, err := r.recv.Messages(r.ctx, adt.LogFilter{Status: adt.StatusError})
		if err != nil || len(errs) != 2 {
			t.Fatalf("errors in the log: %d %v", len(errs), err)
		}
		found, err := r.recv.Messages(r.ctx, adt.LogFilter{Query: "noel"}) // accents folded
		if err != nil || len(found) != 1 || found[0].ControlID != "E1" {
			t.Fatalf("search noel: %+v %v", found, err)
		}
		var a47 adt.LogEntry
		for _, e := range errs {
			if e.ControlID == "E2" {
				a47 = e
			}
		}
		if ack := r.send(t, c, adtMsg("A28", "E3", pidOf(map[int]string{3: "8101^^^CHG^PI", 5: "ROUX^Paul^^^^^L", 7: "20120505", 8: "M"}))); code(ack) != hl7.AA {
			t.Fatalf("A28: %s", ack)
		}
		// Resending E2 is a duplicate: still the first answer, AE.
		if ack := r.send(t, c, adtMsg("A47", "E2", pidOf(map[int]string{3: "8102^^^CHG^PI", 5: "ROUX^Paul^^^^^L", 7: "20120505", 8: "M"}), "MRG|8101^^^CHG^PI")); code(ack) != hl7.AE {
			t.Fatalf("resent A47: %s", ack)
		}
		got, err := r.recv.Replay(r.ctx, a47.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != adt.StatusApplied || got.Replays != 1 || got.LastReplayBy != "it" || !strings.Contains(got.Text, "MRG|8101") {
			t.Errorf("replayed: %+v", got)
		}
		if p := onlyPatient(t, r, "8102"); p.IPP != "8102" {
			t.Errorf("after replay: %+v", p)
		}
		if _, err := r.recv.Replay(r.ctx, a47.ID); relais.ErrorKind(err) != relais.KindConflict {
			t.Errorf("second replay: %v, want a conflict", err)
		}
	})
}

// Messages from many connections committed together: one in error among
// them is stored as such without its changes; the others are applied; the
// journal chain has no gap.
func TestGroupCommitIsolatesErrors(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		r := newRig(t, dsn)
		var wg sync.WaitGroup
		const conns, per = 6, 15
		var mu sync.Mutex
		codes := map[string]string{}
		for ci := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := &hl7.Client{Addr: r.addr, Timeout: 20 * time.Second}
				defer c.Close()
				for i := range per {
					ipp := fmt.Sprintf("G%d-%d", ci, i)
					sex := "F"
					if i == 7 {
						sex = "Q" // not a sex of table 0001: AE
					}
					raw := adtMsg("A04", ipp, pidOf(map[int]string{3: ipp + "^^^CHG^PI", 5: "LEROY^Anne^^^^^L", 7: "19800101", 8: sex}))
					reply, err := c.Send(context.Background(), []byte(raw))
					if err != nil {
						t.Error(err)
						return
					}
					m, err := hl7.Parse(reply)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					codes[ipp] = code(m)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		for ipp, c := range codes {
			want := hl7.AA
			if strings.HasSuffix(ipp, "-7") {
				want = hl7.AE
			}
			if c != want {
				t.Errorf("%s: %s, want %s", ipp, c, want)
			}
		}
		if r.store.maxBatch < 2 || !r.store.errBatch {
			t.Errorf("largest batch %d, error inside a batch %v: the test did not exercise group commit", r.store.maxBatch, r.store.errBatch)
		}
		ps, err := r.db.SearchPatients(r.ctx, "leroy", 200)
		if err != nil || len(ps) != conns*(per-1) {
			t.Errorf("%d patients, want %d (%v)", len(ps), conns*(per-1), err)
		}
		rep, err := r.db.VerifyJournal(context.Background())
		if err != nil || !rep.OK() {
			t.Fatalf("journal: %v %v", err, rep.Faults)
		}
	})
}

// Rejected messages (AR) are kept in the log too; a malformed frame never
// stops the listener.
func TestRejectsAreLogged(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		r := newRig(t, dsn)
		c := &hl7.Client{Addr: r.addr, Timeout: 10 * time.Second}
		defer c.Close()
		ack := r.send(t, c, "MSH|^~\\&|LAB|CHG|RELAIS|CHU|2025||ORU^R01|R1|P|2.5\rPID|||1^^^X^PI\r")
		if code(ack) != hl7.AR || ack.Segment("ERR").Comp(3, 1) != hl7.CodeUnsupportedType {
			t.Fatalf("ORU: %s", ack)
		}
		ack = r.send(t, c, "MSH|^~\\&|DPI|CHG|RELAIS|CHU|2025||ADT^A28|R2|P|2.5\rpid|broken\r")
		if code(ack) != hl7.AR || ack.Segment("MSA").Get(2) != "R2" {
			t.Fatalf("broken segment: %s", ack)
		}
		rej, err := r.recv.Messages(r.ctx, adt.LogFilter{Status: adt.StatusRejected})
		if err != nil || len(rej) != 2 {
			t.Fatalf("rejected in the log: %d %v", len(rej), err)
		}
		one, err := r.recv.Message(r.ctx, rej[0].ID)
		if err != nil || one.Text == "" || len(one.Errors) != 1 {
			t.Errorf("detail: %+v %v", one, err)
		}
		if _, err := r.recv.Message(r.ctx, relais.NewID()); relais.ErrorKind(err) != relais.KindNotFound {
			t.Errorf("unknown id: %v", err)
		}
		_, err = r.recv.Messages(r.ctx, adt.LogFilter{Status: "lost"})
		var re *relais.Error
		if !errors.As(err, &re) || re.Field != "status" {
			t.Errorf("bad status filter: %v", err)
		}
	})
}

// A patient created by an A28 reads back the same as one created through
// the API with the same identity: the HL7 path and PatientService agree.
func TestADTCreateMatchesAPI(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		r := newRig(t, dsn)
		c := &hl7.Client{Addr: r.addr, Timeout: 10 * time.Second}
		defer c.Close()
		if ack := r.send(t, c, adtMsg("A28", "M1", pidOf(map[int]string{3: "9001^^^CHG^PI~" + publishedNIR + insRep,
			5: "DUPONT^Marie^^^^^L~MARTIN^Marie^^^^^D", 7: "20061214", 8: "F", 11: "^^^^^^BDL^^75111", 32: "QUAL"}))); code(ack) != hl7.AA {
			t.Fatalf("A28: %s", ack)
		}
		viaHL7 := onlyPatient(t, r, "9001")
		in := relais.PatientInput{IPP: "9002", INS: relais.INS{Status: relais.IdentityProvisional}, BirthName: "DUPONT",
			UsedName: "MARTIN", FirstNames: []string{"Marie"}, BirthDate: "2006-12-14", Sex: relais.SexFemale, BirthplaceCode: "75111"}
		viaAPI, err := r.db.CreatePatient(r.ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		norm := func(p relais.Patient) string {
			p.ID, p.IPP, p.INS, p.CreatedAt, p.UpdatedAt = "", "", relais.INS{}, time.Time{}, time.Time{}
			return fmt.Sprintf("%+v", p)
		}
		if norm(viaHL7) != norm(viaAPI) {
			t.Errorf("HL7 and API disagree:\n%s\n%s", norm(viaHL7), norm(viaAPI))
		}
	})
}
