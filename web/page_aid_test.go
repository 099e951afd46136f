package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/internal/testdb"
)

// The mutual-aid pages at the site asking for help: recording an agreement
// (a refused form shows the error beside it), handing preparations over,
// the state of each, who may do what. The exchange with the support site
// itself is tested in package aid (TestMutualAidThreeSites).
func TestMutualAidPages(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		f := newPageFixture(t, dsn)
		sys := relais.WithActor(context.Background(), relais.SystemActor(fixtureSite))
		if err := f.db.SaveSite(sys, relais.Site{ID: "chg-landes", Name: "CH des Landes (démo)", Kind: "chg"}); err != nil {
			t.Fatal(err)
		}
		ph := f.as(t, relais.RolePharmacist)
		r := ph.get("/aid")
		if r.status != http.StatusOK {
			t.Fatalf("GET /aid: %d %s", r.status, r.body)
		}
		contains(t, "empty aid page", r, "Entraide entre sites", "Aucune convention d'entraide.", "Aucune convention en vigueur")

		until := time.Now().AddDate(0, 1, 0).Format(time.DateOnly)
		form := url.Values{"support_site": {"chg-landes"}, "all_drugs": {"on"}, "valid_from": {string(today())}, "valid_to": {until}}
		r = ph.post("/aid/agreements", form)
		if r.status != http.StatusUnprocessableEntity {
			t.Fatalf("agreement without its reference: %d", r.status)
		}
		contains(t, "refused agreement", r, "give the reference of the signed agreement")
		form.Set("reference", "CONV-ENTRAIDE-2026-07")
		r = ph.post("/aid/agreements", form)
		if r.status != http.StatusSeeOther || r.location != "/aid?ok=aid_agreement" {
			t.Fatalf("agreement: %d %s %s", r.status, r.location, r.body)
		}
		r = ph.get(r.location)
		contains(t, "aid page with an agreement", r, "Convention enregistrée", "CH des Landes (démo) prépare pour", "CONV-ENTRAIDE-2026-07",
			"Tous les médicaments", "Confier au site préparateur")

		pres := f.cycle2(t)
		preps, err := f.db.Preparations(f.actor(t, relais.RolePharmacist), relais.PreparationFilter{Status: relais.PrepToPrepare})
		if err != nil {
			t.Fatal(err)
		}
		var id relais.ID
		for _, p := range preps {
			if p.Mode == relais.ModeCompounded && p.PrescriptionID == pres.ID {
				id = p.ID
				break
			}
		}
		if id == "" {
			t.Fatal("cycle 2 has no compounded preparation")
		}
		hand := url.Values{"support_site": {"chg-landes"}, "preparation_ids": {string(id)}, "ward": {"Hôpital de jour"}, "reason": {""}}
		r = ph.post("/aid/handover", hand)
		if r.status != http.StatusUnprocessableEntity {
			t.Fatalf("hand-over without a reason: %d", r.status)
		}
		contains(t, "refused hand-over", r, "say why this site cannot prepare")
		hand.Set("reason", "crise : isolateur arrêté")
		r = ph.post("/aid/handover", hand)
		if r.status != http.StatusSeeOther {
			t.Fatalf("hand-over: %d %s", r.status, r.body)
		}
		r = ph.get("/aid")
		contains(t, "aid page after the hand-over", r, "confiée", "Hôpital de jour", "Reprendre")

		// The preparation cannot be prepared here while it is handed over.
		if _, err := f.db.IssueWorksheet(f.actor(t, relais.RolePharmacist), id); relais.ErrorKind(err) != relais.KindConflict {
			t.Fatalf("worksheet of a preparation handed over: %v", err)
		}

		// The API lists it.
		resp := ph.get("/api/v1/aid/transfers?role=requester")
		var ts []relais.AidTransfer
		if err := json.Unmarshal([]byte(resp.body), &ts); err != nil || len(ts) != 1 || ts[0].Status != relais.AidHandedOver || ts[0].PreparationID != id {
			t.Fatalf("GET /api/v1/aid/transfers: %d %s", resp.status, resp.body)
		}

		// A nurse sees, but neither records agreements nor hands over.
		nurse := f.as(t, relais.RoleNurse)
		r = nurse.get("/aid")
		if r.status != http.StatusOK {
			t.Fatalf("nurse GET /aid: %d", r.status)
		}
		lacks(t, "nurse's aid page", r, "Confier au site préparateur", "Enregistrer une convention")
		if r := nurse.post("/aid/handover", hand); r.status != http.StatusForbidden {
			t.Fatalf("nurse hands over: %d", r.status)
		}
		r = ph.get("/aid/incoming")
		if r.status != http.StatusOK {
			t.Fatalf("GET /aid/incoming: %d", r.status)
		}
		contains(t, "support page", r, "Préparations pour d'autres sites", "Aucune préparation reçue d'un autre site.")
		// In English too.
		ph.lang = "en"
		contains(t, "aid page in English", ph.get("/aid"), "Mutual aid between sites", "handed over")
	})
}

// The mutual-aid pages pass the accessibility audit (axe, in Chromium) at
// both sides, with their tables and forms shown.
func TestMutualAidPagesAccessibility(t *testing.T) {
	if chromiumPath() == "" {
		t.Skip("no Chromium found: install Debian's chromium (apt-get install chromium) or set RELAIS_CHROMIUM")
	}
	axe, err := os.ReadFile("testdata/axe.min.js")
	if err != nil {
		t.Fatal(err)
	}
	f := newPageFixture(t, testdb.SQLite(t))
	sys := relais.WithActor(context.Background(), relais.SystemActor(fixtureSite))
	if err := f.db.SaveSite(sys, relais.Site{ID: "chg-landes", Name: "CH des Landes (démo)", Kind: "chg"}); err != nil {
		t.Fatal(err)
	}
	ph := f.actor(t, relais.RolePharmacist)
	if _, err := f.db.SaveAidAgreement(ph, relais.AidAgreementInput{SupportSite: "chg-landes", INNs: []string{"cytarabine", "rituximab"},
		ValidFrom: today(), ValidTo: today(), Reference: "CONV-2026-07"}); err != nil {
		t.Fatal(err)
	}
	f.cycle2(t)
	b := newBrowser(t, f.ts.URL)
	b.bypassCSP()
	b.signIn(relais.RolePharmacist)
	for _, path := range []string{"/aid", "/aid/incoming", "/aid?lang=en"} {
		b.open(path)
		b.audit("pharmacist "+path, string(axe))
	}
}
