package aid_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/aid"
	"github.com/relais-onco/relais/continuity"
	"github.com/relais-onco/relais/internal/natstest"
	"github.com/relais-onco/relais/internal/testdb"
	"github.com/relais-onco/relais/sqlstore"
)

// The sites of the test: A, the university hospital, supports B, a general
// hospital whose pharmacy is in crisis; C supports B for cytarabine only;
// D has no agreement with B. Names are the demo region's.
const (
	siteA = "chu-aquitaine"
	siteB = "chg-landes"
	siteC = "chg-dordogne"
	siteD = "chg-charente"
)

type site struct {
	id   string
	db   *sqlstore.DB
	team continuity.Team
	link *aid.Link
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// engines runs fn once per engine with a maker of fresh databases.
func engines(t *testing.T, fn func(t *testing.T, newDSN func() string)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, func() string { return testdb.SQLite(t) }) })
	t.Run("postgres", func(t *testing.T) {
		testdb.Postgres(t) // skips when RELAIS_TEST_POSTGRES is unset
		fn(t, func() string { return testdb.Postgres(t) })
	})
}

// network starts a hub and one leaf node per site (each its own JetStream
// domain), opens each site's database with the demo library and stock, and
// runs each site's link until the test ends.
func network(t *testing.T, newDSN func() string, ids ...string) map[string]*site {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	hub := natstest.Start(t, natstest.Options{Name: "hub", Domain: "hub", LeafListen: true})
	out := map[string]*site{}
	done := make(chan struct{}, len(ids))
	for _, id := range ids {
		leaf := natstest.Start(t, natstest.Options{Name: id, Domain: id, LeafRemotes: []string{natstest.LeafURL(t, hub)}})
		db, err := sqlstore.Open(ctx, newDSN(), sqlstore.Options{Site: id, Log: slog.New(slog.DiscardHandler)})
		must(t, err)
		t.Cleanup(func() { db.Close() })
		must(t, continuity.LoadSite(ctx, db))
		team, err := continuity.NewTeam(ctx, db)
		must(t, err)
		nc, err := nats.Connect(leaf.ClientURL())
		must(t, err)
		t.Cleanup(nc.Close)
		tr, err := aid.NewJetStream(nc)
		must(t, err)
		_, err = tr.Setup(ctx, id)
		must(t, err)
		s := &site{id: id, db: db, team: team, link: &aid.Link{Site: id, Store: db, Transport: tr, Interval: 50 * time.Millisecond}}
		out[id] = s
		go func() { s.link.Run(ctx); done <- struct{}{} }()
	}
	natstest.WaitLeafs(t, hub, len(ids))
	t.Cleanup(func() {
		cancel()
		for range ids {
			<-done
		}
	})
	return out
}

// waitFor polls cond until it holds (30 s at most).
func waitFor(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 30 s for %s; now: %s", what, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func countStatus(t *testing.T, s *site, role relais.AidRole, st relais.AidStatus, ids map[relais.ID]bool) (int, string) {
	ts, err := s.db.AidTransfers(s.team.Pharmacist, sqlstore.AidTransferFilter{Role: role})
	must(t, err)
	n, seen := 0, map[relais.AidStatus]int{}
	for _, tr := range ts {
		if ids == nil || ids[tr.ID] {
			seen[tr.Status]++
			if tr.Status == st {
				n++
			}
		}
	}
	return n, fmt.Sprint(seen)
}

// toPrepare makes at least n compounded preparations still to prepare at s,
// with a plan that is not blocked (the demo library's regimens whose
// products have stability data).
func toPrepare(t *testing.T, s *site, n int) []relais.Preparation {
	t.Helper()
	ctx := context.Background()
	regs, err := continuity.Regimens(ctx, s.db, s.team)
	must(t, err)
	var out []relais.Preparation
	for i := 0; len(out) < n && i < 6*n; i++ {
		preps, err := continuity.TreatPatient(ctx, s.db, s.team, regs[i%len(regs)], i)
		if err != nil {
			continue
		}
		for _, p := range preps {
			if len(out) < n && p.Mode == relais.ModeCompounded && p.Status == relais.PrepToPrepare && p.Plan != nil && !p.Plan.Blocked {
				out = append(out, p)
			}
		}
	}
	if len(out) < n {
		t.Fatalf("only %d preparations to prepare at %s, want %d", len(out), s.id, n)
	}
	return out
}

func wantErr(t *testing.T, err error, kind relais.Kind, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want %v naming %q", kind, parts)
	}
	if relais.ErrorKind(err) != kind {
		t.Fatalf("error kind %v, want %v: %v", relais.ErrorKind(err), kind, err)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("error %q does not name %q", err, p)
		}
	}
}

// TestMutualAidThreeSites is issue 12's scenario: site B, in crisis, hands
// 20 preparations over to A; A prepares them in its own flow and register
// and ships them; B receives and administers them; relais check passes at
// both sites and each register holds exactly its own preparations. With the
// refusals: no agreement, a drug outside the agreement, local preparation of
// a preparation handed over, hand-back after preparation.
func TestMutualAidThreeSites(t *testing.T) {
	engines(t, func(t *testing.T, newDSN func() string) {
		ctx := context.Background()
		sites := network(t, newDSN, siteA, siteB, siteC)
		A, B, C := sites[siteA], sites[siteB], sites[siteC]
		today := relais.Today()
		until := relais.Date(time.Now().AddDate(0, 1, 0).Format(time.DateOnly))

		// Agreements, recorded by B: A for every drug, C for cytarabine only.
		gA, err := B.db.SaveAidAgreement(B.team.Pharmacist, relais.AidAgreementInput{SupportSite: siteA, AllDrugs: true,
			ValidFrom: today, ValidTo: until, Reference: "CONV-ENTRAIDE-2026-07"})
		must(t, err)
		_, err = B.db.SaveAidAgreement(B.team.Pharmacist, relais.AidAgreementInput{SupportSite: siteC, INNs: []string{"Cytarabine"},
			ValidFrom: today, ValidTo: until, Reference: "CONV-ENTRAIDE-2026-08"})
		must(t, err)
		// A technician may not record one.
		_, err = B.db.SaveAidAgreement(B.team.Technician, relais.AidAgreementInput{SupportSite: siteA, AllDrugs: true,
			ValidFrom: today, ValidTo: until, Reference: "X"})
		wantErr(t, err, relais.KindForbidden, "aid.agreement")
		waitFor(t, "A's copy of the agreement", func() (bool, string) {
			gs, err := A.db.AidAgreements(A.team.Pharmacist)
			must(t, err)
			return len(gs) == 1 && gs[0].ID == gA.ID && gs[0].Site == siteA, fmt.Sprint(len(gs), " agreements")
		})

		preps := toPrepare(t, B, 22)
		ward := "Hôpital de jour pédiatrique"

		// Refusals at the hand-over.
		_, err = B.db.HandOver(B.team.Pharmacist, relais.AidHandOverRequest{SupportSite: siteD, PreparationIDs: []relais.ID{preps[0].ID},
			Ward: ward, Reason: "crise"})
		wantErr(t, err, relais.KindConflict, "no mutual-aid agreement lets "+siteD+" prepare for "+siteB)
		_, err = B.db.HandOver(B.team.Pharmacist, relais.AidHandOverRequest{SupportSite: siteC, PreparationIDs: []relais.ID{preps[0].ID},
			Ward: ward, Reason: "crise"})
		wantErr(t, err, relais.KindConflict, "covers cytarabine, not "+preps[0].INN)

		// The hand-over: 22 preparations (20 for the scenario, one taken back
		// by B, one declined by A).
		var ids []relais.ID
		for _, p := range preps {
			ids = append(ids, p.ID)
		}
		ts, err := B.db.HandOver(B.team.Pharmacist, relais.AidHandOverRequest{SupportSite: siteA, PreparationIDs: ids, Ward: ward,
			Reason: "crise cyber : logiciel de production indisponible"})
		must(t, err)
		if len(ts) != 22 {
			t.Fatalf("%d transfers, want 22", len(ts))
		}
		byPrep := map[relais.ID]relais.AidTransfer{}
		the20 := map[relais.ID]bool{}
		for i, tr := range ts {
			byPrep[tr.PreparationID] = tr
			if i < 20 {
				the20[tr.ID] = true
			}
		}
		extra, declined := ts[20], ts[21]
		// Handing the same preparation over twice is refused.
		_, err = B.db.HandOver(B.team.Pharmacist, relais.AidHandOverRequest{SupportSite: siteA, PreparationIDs: ids[:1], Ward: ward, Reason: "crise"})
		wantErr(t, err, relais.KindConflict, "handed_over")
		// Not prepared twice: B cannot issue the worksheet of a preparation handed over.
		_, err = B.db.IssueWorksheet(B.team.Technician, preps[0].ID)
		wantErr(t, err, relais.KindConflict, "handed over to "+siteA, "until it is handed back")

		waitFor(t, "A to accept the 22 hand-overs", func() (bool, string) {
			n, st := countStatus(t, A, relais.AidSupport, relais.AidAccepted, nil)
			return n == 22, st
		})
		// A sees what it needs to prepare: the patient, the line with its derivation.
		got, err := A.db.AidTransfer(A.team.Pharmacist, ts[0].ID)
		must(t, err)
		pat, err := B.db.Patient(B.team.Pharmacist, preps[0].PatientID)
		must(t, err)
		if got.Order.Patient.IPP != pat.IPP || got.Order.Patient.BirthName != pat.BirthName || got.Ward != ward ||
			!strings.Contains(string(got.Order.Line), `"calculation"`) || len(got.Order.Validation) == 0 {
			t.Fatalf("A's order lacks what it needs to prepare: %+v", got.Order)
		}

		// A's copy of each prescription holds only the lines handed over to
		// it: B's other lines are no work of A's.
		handedLines := map[relais.ID]bool{}
		for _, p := range preps {
			handedLines[p.LineID] = true
		}
		for _, p := range preps {
			pa, err := A.db.Prescription(A.team.Pharmacist, p.PrescriptionID)
			must(t, err)
			pb, err := B.db.Prescription(B.team.Pharmacist, p.PrescriptionID)
			must(t, err)
			if len(pa.Lines) == 0 || len(pa.Lines) > len(pb.Lines) {
				t.Fatalf("A's copy of %s has %d lines, B's %d", p.PrescriptionID, len(pa.Lines), len(pb.Lines))
			}
			for _, l := range pa.Lines {
				if !handedLines[l.ID] {
					t.Fatalf("A's copy of %s holds line %s (%s), not handed over", p.PrescriptionID, l.ID, l.INN)
				}
			}
		}

		// The 21st is taken back before A starts: A cancels its copy, B may prepare it.
		_, err = B.db.HandBack(B.team.Pharmacist, extra.ID, "isolateur de secours remis en service")
		must(t, err)
		waitFor(t, "the hand-back", func() (bool, string) {
			tr, err := B.db.AidTransfer(B.team.Pharmacist, extra.ID)
			must(t, err)
			return tr.Status == relais.AidHandedBack, string(tr.Status)
		})
		if p, err := A.db.Preparation(A.team.Pharmacist, extra.PreparationID); err != nil || p.Status != relais.PrepCancelled {
			t.Fatalf("A's copy of the preparation handed back: %v %v", p.Status, err)
		}
		if _, err := continuity.PrepareAndCheck(ctx, B.db, B.team, extra.PreparationID); err != nil {
			t.Fatalf("B cannot prepare the preparation handed back: %v", err)
		}

		// A declines one it cannot make; B is told and may prepare it.
		_, err = A.db.DeclineAid(A.team.Technician, declined.ID, "x")
		wantErr(t, err, relais.KindForbidden, "production.release")
		_, err = A.db.DeclineAid(A.team.Pharmacist, declined.ID, "plus de flacons de ce lot ici")
		must(t, err)
		waitFor(t, "B to learn of the refusal", func() (bool, string) {
			tr, err := B.db.AidTransfer(B.team.Pharmacist, declined.ID)
			must(t, err)
			return tr.Status == relais.AidRefused && tr.Reason == "plus de flacons de ce lot ici", string(tr.Status)
		})
		if _, err := continuity.PrepareAndCheck(ctx, B.db, B.team, declined.PreparationID); err != nil {
			t.Fatalf("B cannot prepare the preparation A declined: %v", err)
		}

		// A prepares the 20 in its own flow: worksheet, production, check, release.
		for i, p := range preps[:20] {
			if _, err := continuity.Produce(ctx, A.db, A.team, p.ID); err != nil {
				t.Fatalf("A preparing %d (%s): %v", i, p.INN, err)
			}
		}
		// B now knows A has started: a hand-back is refused, naming the state.
		first := byPrep[preps[0].ID]
		waitFor(t, "B to learn that A is preparing", func() (bool, string) {
			n, st := countStatus(t, B, relais.AidRequester, relais.AidInProduction, the20)
			return n == 20, st
		})
		_, err = B.db.HandBack(B.team.Pharmacist, first.ID, "finalement préparée ici")
		wantErr(t, err, relais.KindConflict, "in_production at "+siteA, "a hand-back is possible only before")

		// A ships the 20 to B on one delivery slip.
		var tids []relais.ID
		for _, tr := range ts[:20] {
			tids = append(tids, tr.ID)
		}
		slip, shipped, err := A.db.ShipAid(A.team.Technician, relais.AidShipRequest{TransferIDs: tids})
		must(t, err)
		if len(shipped) != 20 || len(slip.PreparationIDs) != 20 || !strings.Contains(slip.Ward, "CH des Landes") {
			t.Fatalf("slip %s to %q with %d preparations, %d shipped", slip.Number, slip.Ward, len(slip.PreparationIDs), len(shipped))
		}
		waitFor(t, "B to learn of the shipment", func() (bool, string) {
			n, st := countStatus(t, B, relais.AidRequester, relais.AidShipped, the20)
			return n == 20, st
		})
		// B receives; the preparations are released at B, ready for its ward.
		recv, err := B.db.ReceiveAid(B.team.Pharmacist, relais.AidReceiveRequest{TransferIDs: tids, Comment: "glacière reçue à 14 h, 2–8 °C"})
		must(t, err)
		var atB []relais.Preparation
		for _, tr := range recv {
			p, err := B.db.Preparation(B.team.Pharmacist, tr.PreparationID)
			must(t, err)
			if p.Status != relais.PrepReleased || p.RegisterNumber != "" || p.Release == nil || !strings.Contains(p.Release.Comment, tr.RegisterNumber) {
				t.Fatalf("B's preparation after receipt: %s, number %q, release %+v", p.Status, p.RegisterNumber, p.Release)
			}
			atB = append(atB, p)
		}
		// B dispenses to its ward and the nurses give them (bedside scan of A's label).
		if _, err := continuity.Deliver(ctx, B.db, B.team, atB); err != nil {
			t.Fatal(err)
		}
		for _, p := range atB {
			got, err := B.db.Preparation(B.team.Nurse, p.ID)
			must(t, err)
			if got.Status != relais.PrepAdministered {
				t.Fatalf("%s at B is %s, want administered", p.ID, got.Status)
			}
		}
		waitFor(t, "A to learn of the receipt", func() (bool, string) {
			n, st := countStatus(t, A, relais.AidSupport, relais.AidReceived, the20)
			return n == 20, st
		})

		// Each register holds exactly its own preparations.
		regA, err := A.db.Register(A.team.Pharmacist, today, today)
		must(t, err)
		forB := 0
		for _, e := range regA {
			if e.Kind != relais.RegisterPreparation {
				continue
			}
			if e.PreparedFor != siteB || byPrep[e.PreparationID].ID == "" {
				t.Errorf("A's register %s: prepared for %q, preparation %s", e.Number, e.PreparedFor, e.PreparationID)
				continue
			}
			forB++
		}
		if forB != 20 {
			t.Errorf("A's register holds %d preparations for %s, want 20", forB, siteB)
		}
		regB, err := B.db.Register(B.team.Pharmacist, today, today)
		must(t, err)
		for _, e := range regB {
			if tr, ok := byPrep[e.PreparationID]; ok && tr.ID != extra.ID && tr.ID != declined.ID {
				t.Errorf("B's register holds %s (%s), prepared by A", e.Number, e.PreparationID)
			}
			if e.PreparedFor != "" {
				t.Errorf("B's register %s says prepared for %q", e.Number, e.PreparedFor)
			}
		}
		if len(regB) != 2 || regB[0].PreparationID != extra.PreparationID || regB[1].PreparationID != declined.PreparationID {
			t.Errorf("B's register holds %d entries, want only the two preparations made at B (handed back, declined)", len(regB))
		}

		// relais check (with the journal audit) passes at both sites.
		for _, s := range []*site{A, B, C} {
			rep, err := s.db.Check(ctx)
			must(t, err)
			if !rep.OK() {
				t.Errorf("relais check at %s: %+v", s.id, rep.Faults)
			}
		}

		// Both journals tell the story with aid.* actions.
		for _, c := range []struct {
			s    *site
			want map[string]int
		}{
			{A, map[string]int{"aid.agreement.received": 1, "aid.accepted": 44, "aid.in_production": 20, "aid.shipped": 20, "aid.receipt_confirmed": 20, "aid.handed_back": 2, "aid.refused": 2}},
			{B, map[string]int{"aid.agreement.create": 2, "aid.handover": 22, "aid.in_production": 20, "aid.shipped": 20, "aid.received": 40, "aid.handed_back": 1, "aid.handback_requested": 1, "aid.refused": 1}},
		} {
			got := map[string]int{}
			es, err := c.s.db.JournalEntries(ctx, c.s.id, 0, 100000)
			must(t, err)
			for _, e := range es {
				if strings.HasPrefix(e.Action, "aid.") {
					got[e.Action]++
				}
			}
			for a, n := range c.want {
				if got[a] != n {
					t.Errorf("%s's journal: %d %s, want %d (all: %v)", c.s.id, got[a], a, n, got)
				}
			}
		}
	})
}

func jsonOf(v any) ([]byte, error) { return json.Marshal(v) }
