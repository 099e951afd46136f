package web_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/demo"
	"github.com/relais-onco/relais/internal/testdb"
	"github.com/relais-onco/relais/journal"
)

// Mutual aid on the patient page's network timeline (issue 12): CH des
// Landes hands a preparation of a child it shares with this site over to
// this site, which ships it; Landes's aid_transfer entries, put into the copy
// as the network package does (the transport is tested in network/,
// TestMutualAidOnNetworkTimeline), show on the child's page with the drug,
// the dose, the state, who prepares for whom and the support site's
// numbers, in French and in English.
func TestMutualAidOnTheNetworkTimeline(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) { mutualAidOnTheNetworkTimeline(t, dsn) })
}

func mutualAidOnTheNetworkTimeline(t *testing.T, dsn string) {
	f := newPageFixture(t, dsn)
	sys := actorCtx(relais.User{Role: relais.RoleSystem})
	const landes = "chg-landes"
	for _, s := range demo.Sites {
		if err := f.db.SaveSite(sys, s); err != nil {
			t.Fatal(err)
		}
	}
	remoteID := relais.NewID()
	pt := f.patient
	rp := relais.Patient{ID: remoteID, Site: landes, IPP: "L-78", INS: relais.INS{Status: relais.IdentityProvisional}, BirthName: pt.BirthName,
		FirstNames: pt.FirstNames, BirthDate: pt.BirthDate, Sex: pt.Sex, Status: relais.PatientActive, Allergies: []relais.Allergy{},
		SharedWith: []relais.Sharing{}, FormerIPPs: []relais.FormerIPP{}, MergedFrom: []relais.ID{}}
	share := relais.Share{ID: relais.NewID(), Site: landes, PatientID: remoteID, ToSite: fixtureSite, InformedBy: "Dr Landes", InformedAt: time.Now().Add(-time.Hour)}
	tr := relais.AidTransfer{ID: relais.NewID(), Site: landes, Role: relais.AidRequester, RequesterSite: landes, SupportSite: fixtureSite,
		PreparationID: relais.NewID(), PatientID: remoteID, INN: "vincristine", Dose: 1.5, Unit: "mg", AdministrationDate: today(),
		Ward: "Hôpital de jour pédiatrique", Status: relais.AidHandedOver}
	shipped := tr
	shipped.Status, shipped.RegisterNumber, shipped.SlipNumber = relais.AidShipped, "2026-000012", "BL-2026-000034"
	prev, seq := journal.GenesisHash, int64(0)
	for _, x := range []struct {
		entity, action string
		id             relais.ID
		v              any
	}{{"network_share", "network_share.create", share.ID, share}, {"patient", "patient.create", remoteID, rp},
		{"aid_transfer", "aid.handover", tr.ID, tr}, {"aid_transfer", "aid.shipped", tr.ID, shipped}} {
		after, _ := json.Marshal(x.v)
		e := journal.Entry{ID: string(relais.NewID()), Time: time.Now().UTC().Truncate(time.Microsecond), Site: landes, Username: "ph.landes",
			Role: "pharmacist", Action: x.action, Entity: x.entity, EntityID: string(x.id), After: after}
		if err := e.Seal(seq, prev); err != nil {
			t.Fatal(err)
		}
		seq, prev = e.Seq, e.Hash
		if _, err := f.db.ApplyRemote(sys, landes, e); err != nil {
			t.Fatalf("apply %s: %v", x.action, err)
		}
	}
	if _, err := f.db.MatchRemotePatients(sys); err != nil {
		t.Fatal(err)
	}
	links, err := f.db.PatientLinks(sys, relais.LinkProposed)
	if err != nil || len(links) != 1 {
		t.Fatalf("proposals: %v %v", links, err)
	}
	if _, err := f.db.DecideLink(f.actor(t, relais.RolePharmacist), links[0].ID, relais.LinkDecision{Accept: true, Note: "même enfant"}); err != nil {
		t.Fatal(err)
	}

	doc := f.as(t, relais.RolePrescriber)
	path := "/patients/" + string(pt.ID)
	contains(t, "timeline in French", doc.get(path), "Entraide",
		"vincristine 1,5 mg · confiée · préparée par "+fixtureSite+" pour "+landes,
		"vincristine 1,5 mg · expédiée · préparée par "+fixtureSite+" pour "+landes+" · 2026-000012 · BL-2026-000034")
	doc.lang = "en"
	contains(t, "timeline in English", doc.get(path), "Mutual aid",
		"vincristine 1.5 mg · shipped · prepared by "+fixtureSite+" for "+landes+" · 2026-000012 · BL-2026-000034")
}
