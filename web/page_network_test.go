package web_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/demo"
	"github.com/relais-onco/relais/internal/testdb"
	"github.com/relais-onco/relais/journal"
)

// The network on the patient page, with another site's entries put into
// the copy as the network package does (its transport is tested in
// network/): CH des Landes sends the same patient (an unqualified identity,
// so a pharmacist links it) and one cycle of doxorubicin 100 mg at a BSA of
// 2 m², i.e. 50 mg/m² (the fixture's R-CHOP-21 dose, Coiffier 2002): the
// cumulative total on the page becomes 50 + 50 = 100 mg/m².
func TestNetworkOnThePatientPage(t *testing.T) {
	f := newPageFixture(t, testdb.SQLite(t))
	sys := actorCtx(relais.User{Role: relais.RoleSystem})
	const landes = "chg-landes"
	for _, s := range demo.Sites {
		if err := f.db.SaveSite(sys, s); err != nil {
			t.Fatal(err)
		}
	}
	remoteID := relais.NewID()
	pt := f.patient
	rp := relais.Patient{ID: remoteID, Site: landes, IPP: "L-77", INS: relais.INS{Status: relais.IdentityProvisional}, BirthName: pt.BirthName,
		FirstNames: pt.FirstNames, BirthDate: pt.BirthDate, Sex: pt.Sex, Status: relais.PatientActive, Allergies: []relais.Allergy{},
		SharedWith: []relais.Sharing{}, FormerIPPs: []relais.FormerIPP{}, MergedFrom: []relais.ID{}}
	share := relais.Share{ID: relais.NewID(), Site: landes, PatientID: remoteID, ToSite: fixtureSite, InformedBy: "Dr Landes", InformedAt: time.Now().Add(-time.Hour)}
	pr := relais.Prescription{ID: relais.NewID(), PatientID: remoteID, Cycle: 2, StartDate: today().AddDays(-1), Status: relais.PrescriptionSigned,
		Regimen: "R-CHOP-21 v1", Measurements: relais.UsedMeasurements{BSAM2: 2},
		Lines: []relais.PrescriptionLine{{ID: relais.NewID(), Day: 1, INN: "doxorubicine", DrugClass: "anthracycline", Dose: 100, Unit: "mg", Status: relais.LineValidated}}}
	prev, seq := journal.GenesisHash, int64(0)
	for _, x := range []struct {
		entity, action string
		id             relais.ID
		v              any
	}{{"network_share", "network_share.create", share.ID, share}, {"patient", "patient.create", remoteID, rp}, {"prescription", "prescription.sign", pr.ID, pr}} {
		after, _ := json.Marshal(x.v)
		e := journal.Entry{ID: string(relais.NewID()), Time: time.Now().UTC().Truncate(time.Microsecond), Site: landes, Username: "dr.landes",
			Role: "prescriber", Action: x.action, Entity: x.entity, EntityID: string(x.id), After: after}
		if err := e.Seal(seq, prev); err != nil {
			t.Fatal(err)
		}
		seq, prev = e.Seq, e.Hash
		if _, err := f.db.ApplyRemote(sys, landes, e); err != nil {
			t.Fatalf("apply %s: %v", x.entity, err)
		}
	}
	if _, err := f.db.MatchRemotePatients(sys); err != nil {
		t.Fatal(err)
	}

	doc := f.as(t, relais.RolePrescriber)
	path := "/patients/" + string(pt.ID)
	r := doc.get(path)
	contains(t, "before the link", r, "Réseau : partages", "Cumul actuel : 50 mg/m².", "Partager avec un site")
	lacks(t, "before the link", r, "R-CHOP-21 v1 Cycle 2")

	// The weaker match waits for a pharmacist; a nurse cannot decide it.
	ph := f.as(t, relais.RolePharmacist)
	r = ph.get("/network")
	contains(t, "proposal", r, "Rapprochements d'identité à décider", "same birth name", "Même patient : rapprocher")
	links, err := f.db.PatientLinks(sys, relais.LinkProposed)
	if err != nil || len(links) != 1 {
		t.Fatalf("proposals: %v %v", links, err)
	}
	decide := "/network/links/" + string(links[0].ID) + "/decide"
	if r := f.as(t, relais.RoleNurse).post(decide, url.Values{"decision": {"accept"}}); r.status != http.StatusForbidden {
		t.Errorf("a nurse decided a link: %d", r.status)
	}
	if r := ph.post(decide, url.Values{"decision": {"reject"}}); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "pas le même patient") && !strings.Contains(r.body, "not the same patient") {
		t.Errorf("a rejection without a reason: %d", r.status)
	}
	if r := ph.post(decide, url.Values{"decision": {"accept"}, "note": {"même date et lieu de naissance"}}); r.status != http.StatusSeeOther {
		t.Fatalf("accept: %d %.300s", r.status, r.body)
	}

	// Now the page shows both sites on one timeline, and the cumulative
	// dose counts Landes's 50 mg/m².
	r = doc.get(path)
	contains(t, "after the link", r, "CH des Landes", "R-CHOP-21 v1 Cycle 2", "J1 doxorubicine 100 mg", "Cumul actuel : 100 mg/m².", "reçu ", "compte aussi les doses des autres sites")

	r = doc.get("/api/v1/patients/" + string(pt.ID) + "/network-history")
	if r.status != http.StatusOK {
		t.Fatalf("network history API: %d %.300s", r.status, r.body)
	}
	var nh relais.NetworkHistory
	if err := json.Unmarshal([]byte(r.body), &nh); err != nil || len(nh.RemotePrescriptions) != 1 || nh.RemotePrescriptions[0].Lines[0].Dose != 100 {
		t.Errorf("network history API: %v %.300s", err, r.body)
	}
	if r := f.as(t, relais.RoleITAdmin).get("/api/v1/patients/" + string(pt.ID) + "/network-history"); r.status != http.StatusForbidden {
		t.Errorf("IT admin read a patient's network history: %d", r.status)
	}

	// The read of Landes's data is in this site's access log, and waits to
	// be sent to Landes.
	log, err := f.db.PatientAccessLog(sys, remoteID, time.Time{}, 10)
	if err != nil || len(log) == 0 || !strings.HasPrefix(log[0].Route, "network chg-landes:") {
		t.Errorf("remote read not logged: %+v %v", log, err)
	}
	if pending, _ := f.db.PendingReadNotices(sys, 100); len(pending) == 0 || pending[0].OwnerSite != landes {
		t.Errorf("remote read not queued for Landes: %+v", pending)
	}

	// The remote patient's own page is read-only.
	r = doc.get("/network/patients/" + landes + "/" + string(remoteID))
	contains(t, "remote page", r, "copie en lecture seule", "doxorubicine 100 mg")
	lacks(t, "remote page", r, `action="/patients/`, `action="/prescriptions/`, `action="/network/links`)

	// Sharing this patient's care with Landes from the page, then revoking.
	r = doc.post(path+"/shares", url.Values{"to_site": {landes}, "informed_by": {""}, "informed_at": {time.Now().In(relais.DisplayZone).Format("2006-01-02T15:04")}})
	if r.status != http.StatusUnprocessableEntity {
		t.Fatalf("share without who informed: %d", r.status)
	}
	contains(t, "share refused", r, `id="err-share-informed_by"`)
	r = doc.post(path+"/shares", url.Values{"to_site": {landes}, "informed_by": {"Dr Claire Martin"}, "information_note": {"livret remis aux parents"},
		"informed_at": {time.Now().In(relais.DisplayZone).Add(-time.Hour).Format("2006-01-02T15:04")}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("share: %d %.300s", r.status, r.body)
	}
	shares, _ := f.db.Shares(sys, pt.ID)
	if len(shares) != 1 || shares[0].InformationNote != "livret remis aux parents" {
		t.Fatalf("shares: %+v", shares)
	}
	r = doc.post(path+"/shares/"+string(shares[0].ID)+"/revoke", url.Values{"reason": {"retrait du consentement"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("revoke: %d", r.status)
	}
	r = doc.get(path)
	contains(t, "revoked share kept", r, "révoqué", "retrait du consentement", "livret remis aux parents")
}
