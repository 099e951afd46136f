package relais

import (
	"strings"
	"testing"
	"time"
)

func TestAidAgreementInput(t *testing.T) {
	a := Actor{UserID: "u1", Username: "ph.durand", Name: "P. Durand", Role: RolePharmacist}
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name  string
		in    AidAgreementInput
		field string // "" when valid
	}{
		{"all drugs", AidAgreementInput{SupportSite: "chu-aquitaine", AllDrugs: true, ValidFrom: "2026-11-01", ValidTo: "2026-12-31", Reference: "CONV-1"}, ""},
		{"a list", AidAgreementInput{SupportSite: "chu-aquitaine", INNs: []string{" Cytarabine", "cytarabine", "Méthotrexate"}, ValidFrom: "2026-11-01", ValidTo: "2026-11-01", Reference: "CONV-1"}, ""},
		{"itself", AidAgreementInput{SupportSite: "chg-landes", AllDrugs: true, ValidFrom: "2026-11-01", ValidTo: "2026-12-31", Reference: "CONV-1"}, "support_site"},
		{"no support", AidAgreementInput{AllDrugs: true, ValidFrom: "2026-11-01", ValidTo: "2026-12-31", Reference: "CONV-1"}, "support_site"},
		{"ends before it starts", AidAgreementInput{SupportSite: "chu-aquitaine", AllDrugs: true, ValidFrom: "2026-12-01", ValidTo: "2026-11-30", Reference: "CONV-1"}, "valid_to"},
		{"no drugs", AidAgreementInput{SupportSite: "chu-aquitaine", ValidFrom: "2026-11-01", ValidTo: "2026-12-31", Reference: "CONV-1"}, "inns"},
		{"both", AidAgreementInput{SupportSite: "chu-aquitaine", AllDrugs: true, INNs: []string{"cytarabine"}, ValidFrom: "2026-11-01", ValidTo: "2026-12-31", Reference: "CONV-1"}, "inns"},
		{"no contract", AidAgreementInput{SupportSite: "chu-aquitaine", AllDrugs: true, ValidFrom: "2026-11-01", ValidTo: "2026-12-31"}, "reference"},
		{"bad date", AidAgreementInput{SupportSite: "chu-aquitaine", AllDrugs: true, ValidFrom: "01/11/2026", ValidTo: "2026-12-31", Reference: "CONV-1"}, "valid_from"},
	} {
		g, err := NewAidAgreement(c.in, "chg-landes", a, now)
		if c.field == "" {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		if err == nil || ErrorKind(err) != KindInvalid || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: got %v (%+v), want an invalid %s", c.name, err, g, c.field)
		}
	}
	g, err := NewAidAgreement(AidAgreementInput{SupportSite: "chu-aquitaine", INNs: []string{" Cytarabine", "cytarabine", "Méthotrexate"},
		ValidFrom: "2026-11-01", ValidTo: "2026-11-30", Reference: "CONV-1"}, "chg-landes", a, now)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(g.INNs, ",") != "cytarabine,méthotrexate" || g.RequesterSite != "chg-landes" || g.Status != AgreementActive {
		t.Fatalf("agreement %+v", g)
	}
	for _, c := range []struct {
		inn  string
		day  Date
		want string // "" when covered
	}{
		{"Cytarabine", "2026-11-01", ""},
		{"méthotrexate", "2026-11-30", ""},
		{"cytarabine", "2026-12-01", "from 2026-11-01 to 2026-11-30, not on 2026-12-01"},
		{"cytarabine", "2026-10-31", "not on 2026-10-31"},
		{"vincristine", "2026-11-15", "covers cytarabine, méthotrexate, not vincristine"},
	} {
		err := g.Covers(c.inn, c.day)
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("Covers(%s, %s) = %v, want %q", c.inn, c.day, err, c.want)
		}
	}
	if err := g.End("", a, now); ErrorKind(err) != KindInvalid {
		t.Errorf("ending without a reason: %v", err)
	}
	if err := g.End("convention dénoncée", a, now); err != nil {
		t.Fatal(err)
	}
	if err := g.Covers("cytarabine", "2026-11-15"); err == nil || !strings.Contains(err.Error(), "ended") {
		t.Errorf("an ended agreement still covers: %v", err)
	}
}

func TestAidTransferMoves(t *testing.T) {
	now := time.Now()
	req := AidTransfer{Role: AidRequester, Status: AidHandedOver, INN: "cytarabine", Dose: 100, Unit: "mg", SupportSite: "chu-aquitaine"}
	for _, s := range []AidStatus{AidInProduction, AidShipped, AidReceived} {
		if err := req.Move(s, "chg-landes", "x", "", now); err != nil {
			t.Fatal(err)
		}
	}
	if len(req.Events) != 3 {
		t.Fatalf("events %v", req.Events)
	}
	// A hand-back after preparation is refused with the state.
	r2 := AidTransfer{Role: AidRequester, Status: AidInProduction, INN: "cytarabine", Dose: 100, Unit: "mg", SupportSite: "chu-aquitaine"}
	err := r2.Move(AidHandbackRequested, "chg-landes", "x", "", now)
	if ErrorKind(err) != KindTransition || !strings.Contains(err.Error(), "is in_production here") {
		t.Fatalf("hand-back after preparation: %v", err)
	}
	sup := AidTransfer{Role: AidSupport, Status: AidInProduction}
	if err := sup.Move(AidHandedBack, "chu-aquitaine", "x", "", now); ErrorKind(err) != KindTransition {
		t.Fatalf("support gives back what it prepares: %v", err)
	}
}

func TestReceiveFromSupport(t *testing.T) {
	now := time.Now()
	a := Actor{Username: "ph.b", Name: "B. Pharma", Role: RolePharmacist}
	p := Preparation{ID: "p1", Mode: ModeCompounded, Status: PrepToPrepare, INN: "cytarabine"}
	n := AidNotice{RegisterNumber: "2026-000042", SlipNumber: "BL-2026-000007", Release: &Signoff{By: "A. Pharma", At: now},
		Expiry: now.Add(24 * time.Hour), Storage: "2-8 °C"}
	if err := p.ReceiveFromSupport(AidNotice{}, "chu-aquitaine", a, now); err == nil {
		t.Fatal("received without a release")
	}
	if err := p.ReceiveFromSupport(n, "chu-aquitaine", a, now); err != nil {
		t.Fatal(err)
	}
	if p.Status != PrepReleased || p.RegisterNumber != "" || !strings.Contains(p.Release.Comment, "2026-000042") || p.Storage != "2-8 °C" {
		t.Fatalf("%+v %+v", p, p.Release)
	}
	if err := p.ReceiveFromSupport(n, "chu-aquitaine", a, now); ErrorKind(err) != KindTransition {
		t.Fatalf("received twice: %v", err)
	}
}
