package network_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/aid"
	"github.com/relais-onco/relais/continuity"
	"github.com/relais-onco/relais/pdfdoc"
	"github.com/relais-onco/relais/sqlstore"
	"github.com/relais-onco/relais/web"
)

// Mutual aid on the patient's network timeline (issue 12: "every
// hand-over, preparation, shipment and receipt is journaled at both sites
// and visible on the patient's network timeline"). B (chg-landes), whose
// pharmacy cannot prepare, shares the care of a child with A
// (chu-aquitaine) and hands one of the child's preparations over to A under
// an agreement; A prepares, ships; B receives. A's network timeline of the
// child then shows B's own steps (received through the network, with the
// drug, dose and sites) beside A's; and the label A prints from its normal
// production flow says "Préparé par A pour B", while the label of A's own
// patient's preparation does not.
func TestMutualAidOnNetworkTimeline(t *testing.T) {
	each(t, func(t *testing.T, open func(testing.TB) string) {
		ctx := context.Background()
		p := newPair(t, open, 100*time.Millisecond, func(tb testing.TB, db *sqlstore.DB) {
			if err := continuity.LoadSite(ctx, db); err != nil {
				tb.Fatal(err)
			}
		})
		A, B := p.sites[siteA], p.sites[siteB]
		teamA, err := continuity.NewTeam(ctx, A.db)
		if err != nil {
			t.Fatal(err)
		}
		teamB, err := continuity.NewTeam(ctx, B.db)
		if err != nil {
			t.Fatal(err)
		}
		runAidLinks(t, p)

		// B's agreement with A; one preparation of a child to hand over.
		today := relais.Today()
		if _, err := B.db.SaveAidAgreement(teamB.Pharmacist, relais.AidAgreementInput{SupportSite: siteA, AllDrugs: true,
			ValidFrom: today, ValidTo: relais.Date(time.Now().AddDate(0, 1, 0).Format(time.DateOnly)), Reference: "CONV-ENTRAIDE-2026-07"}); err != nil {
			t.Fatal(err)
		}
		prep := compounded(t, B.db, teamB, 0)
		pat := prep.PatientID
		if _, err := B.db.SharePatientCare(teamB.Prescriber, pat, relais.ShareInput{ToSite: siteA, InformedBy: "Dr Martin",
			InformedAt: time.Now().Add(-time.Hour), InformationNote: "parents informés : préparation au CHU pendant la crise"}); err != nil {
			t.Fatal(err)
		}

		ts, err := B.db.HandOver(teamB.Pharmacist, relais.AidHandOverRequest{SupportSite: siteA, PreparationIDs: []relais.ID{prep.ID},
			Ward: "Hôpital de jour pédiatrique", Reason: "crise cyber : logiciel de production indisponible"})
		if err != nil || len(ts) != 1 {
			t.Fatalf("hand-over: %d transfers, %v", len(ts), err)
		}
		tr := ts[0]
		state := func(s *site, st relais.AidStatus) func() (bool, string) {
			return func() (bool, string) {
				ctx := teamA.Pharmacist
				if s == B {
					ctx = teamB.Pharmacist
				}
				got, err := s.db.AidTransfer(ctx, tr.ID)
				if err != nil {
					return false, err.Error()
				}
				return got.Status == st, string(got.Status)
			}
		}
		waitFor(t, "A accepts the hand-over", 30*time.Second, state(A, relais.AidAccepted))
		if _, err := continuity.Produce(ctx, A.db, teamA, prep.ID); err != nil {
			t.Fatalf("A prepares: %v", err)
		}
		waitFor(t, "B learns that A prepares", 30*time.Second, state(B, relais.AidInProduction))
		if _, _, err := A.db.ShipAid(teamA.Technician, relais.AidShipRequest{TransferIDs: []relais.ID{tr.ID}}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "B learns of the shipment", 30*time.Second, state(B, relais.AidShipped))
		if _, err := B.db.ReceiveAid(teamB.Pharmacist, relais.AidReceiveRequest{TransferIDs: []relais.ID{tr.ID}, Comment: "glacière reçue, 2–8 °C"}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "A learns of the receipt", 30*time.Second, state(A, relais.AidReceived))

		// Every entry B shares about the child reaches A once, its
		// aid_transfer entries included.
		want := expectedIDs(t, B, pat, siteA)
		waitFor(t, "A holds B's history of the child", 30*time.Second, func() (bool, string) {
			got := remoteIDs(t, A, siteB, pat)
			return fmt.Sprint(got) == fmt.Sprint(want), fmt.Sprintf("%d of %d entries", len(got), len(want))
		})
		// A links B's child to its own copy (made by the hand-over).
		waitFor(t, "A links the child", 30*time.Second, func() (bool, string) {
			ls, err := A.db.PatientLinks(ctx, "")
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range ls {
				if l.RemoteSite == siteB && l.RemotePatientID == pat {
					if l.Status == relais.LinkProposed {
						if _, err := A.db.DecideLink(teamA.Pharmacist, l.ID, relais.LinkDecision{Accept: true, Note: "même enfant, confié par B"}); err != nil {
							t.Fatal(err)
						}
						continue
					}
					return l.Linked(), l.Status
				}
			}
			return false, fmt.Sprintf("%d links", len(ls))
		})

		h, err := A.db.NetworkHistory(teamA.Pharmacist, pat)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int{}
		for _, e := range h.Entries {
			if e.Entity != "aid_transfer" {
				continue
			}
			got[e.Site+" "+e.Action]++
			if e.Local && e.Action != "aid.receipt_confirmed" {
				continue // this site's own entries carry the summary of the entity's latest state only
			}
			s := e.Summary
			if e.EntityID != tr.ID || s.INN != prep.INN || s.Dose != prep.Dose || s.Unit != prep.Unit ||
				s.RequesterSite != siteB || s.SupportSite != siteA || s.Status == "" {
				t.Errorf("timeline entry %s %s at %s: %+v", e.Action, e.EntityID, e.Site, s)
			}
			if e.Action == "aid.shipped" && (s.RegisterNumber == "" || s.SlipNumber == "") {
				t.Errorf("the shipment on the timeline lacks A's register or slip number: %+v", s)
			}
		}
		for _, k := range []string{siteB + " aid.handover", siteB + " aid.in_production", siteB + " aid.shipped", siteB + " aid.received",
			siteA + " aid.accepted", siteA + " aid.in_production", siteA + " aid.shipped", siteA + " aid.receipt_confirmed"} {
			if got[k] != 1 {
				t.Errorf("A's network timeline of the child: %d × %q, want 1 (all: %v)", got[k], k, got)
			}
		}

		// The label of A's normal production flow names both pharmacies.
		ds, err := A.db.Dossiers(teamA.Pharmacist, []relais.ID{prep.ID})
		if err != nil {
			t.Fatal(err)
		}
		if ds[0].PreparedFor == nil || ds[0].PreparedFor.ID != siteB || ds[0].PreparedFor.Name != "CH des Landes (démo)" {
			t.Fatalf("A's dossier of the preparation made for B: prepared for %+v", ds[0].PreparedFor)
		}
		text := labelText(t, ds[0])
		for _, w := range []string{"Préparé par", "pour CH des Landes (démo) (entraide)", ds[0].Preparation.RegisterNumber, strings.ToUpper(prep.INN)} {
			if !strings.Contains(text, w) {
				t.Errorf("the label of the preparation made for B lacks %q:\n%s", w, text)
			}
		}
		// A's own patient's label does not.
		own := compounded(t, A.db, teamA, 1)
		if _, err := continuity.Produce(ctx, A.db, teamA, own.ID); err != nil {
			t.Fatal(err)
		}
		ds, err = A.db.Dossiers(teamA.Pharmacist, []relais.ID{own.ID})
		if err != nil {
			t.Fatal(err)
		}
		if ds[0].PreparedFor != nil {
			t.Errorf("A's own preparation says prepared for %+v", ds[0].PreparedFor)
		}
		if text := labelText(t, ds[0]); strings.Contains(text, "Préparé par") || strings.Contains(text, "entraide") {
			t.Errorf("the label of A's own preparation names another site:\n%s", text)
		}

		for _, s := range []*site{A, B} {
			rep, err := s.db.Check(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !rep.OK() {
				t.Errorf("relais check at %s: %+v", s.id, rep.Faults)
			}
		}
	})
}

// runAidLinks runs each site's mutual-aid link over its leaf node until the
// test ends.
func runAidLinks(t *testing.T, p *pair) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	for _, id := range []string{siteA, siteB} {
		nc, err := nats.Connect(p.sites[id].leaf.ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		tr, err := aid.NewJetStream(nc)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tr.Setup(ctx, id); err != nil {
			t.Fatal(err)
		}
		l := &aid.Link{Site: id, Store: p.sites[id].db, Transport: tr, Log: quiet, Interval: 50 * time.Millisecond}
		go func() { l.Run(ctx); done <- struct{}{} }()
	}
	t.Cleanup(func() { cancel(); <-done; <-done })
}

// compounded treats a patient of the demo library at db (the i-th regimen
// first) and returns one of the preparations to compound, with a plan.
func compounded(t *testing.T, db *sqlstore.DB, team continuity.Team, i int) relais.Preparation {
	t.Helper()
	ctx := context.Background()
	regs, err := continuity.Regimens(ctx, db, team)
	if err != nil {
		t.Fatal(err)
	}
	for j := i; j < i+4*len(regs); j++ {
		preps, err := continuity.TreatPatient(ctx, db, team, regs[j%len(regs)], j)
		if err != nil {
			continue
		}
		for _, p := range preps {
			if p.Mode == relais.ModeCompounded && p.Status == relais.PrepToPrepare && p.Plan != nil && !p.Plan.Blocked {
				return p
			}
		}
	}
	t.Fatalf("no preparation to compound at %s", db.Site)
	return relais.Preparation{}
}

// labelText prints the label of the normal production route (web.LabelData
// on the dossier) and reads it back with pdftotext.
func labelText(t *testing.T, d relais.PreparationDossier) string {
	t.Helper()
	if _, err := exec.LookPath("pdftotext"); err != nil {
		t.Skip("pdftotext (poppler-utils) is not installed")
	}
	lb, err := web.LabelData(d)
	if err != nil {
		t.Fatal(err)
	}
	lb.Stamp = pdfdoc.Stamp{DataTime: d.DataTime, Version: relais.Version,
		Pharmacy: pdfdoc.Pharmacy{Name: "PUI du CHU Aquitaine", Address: "1 place de l'Hôpital, 33000 Bordeaux", Phone: "05 56 00 00 00"}}
	var buf bytes.Buffer
	if err := pdfdoc.Label(&buf, lb, pdfdoc.Label100x50); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "label.pdf")
	if err := os.WriteFile(f, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", "-raw", "-enc", "UTF-8", f, "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(strings.Fields(string(out)), " ")
}
