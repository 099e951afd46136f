package web_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/internal/testdb"
	"github.com/relais-onco/relais/web"
)

// A patient of chu-test; a prescriber of chg-landes, outside its care until
// the care is shared.
func TestReadsAreLoggedAndScoped(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		e := newAccEnv(t, dsn, web.AuthConfig{})
		sys := relais.WithActor(context.Background(), relais.SystemActor("chu-test"))
		if err := e.db.SaveSite(sys, relais.Site{ID: "chg-landes", Name: "CH des Landes", Kind: "chg"}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.db.CreateUser(sys, relais.User{Username: "dr.landes", Name: "Dr Landes", Role: relais.RolePrescriber, Site: "chg-landes"}, "password-landes"); err != nil {
			t.Fatal(err)
		}
		pharm := e.client().signIn(relais.RolePharmacist)
		r := pharm.do("POST", "/api/v1/patients", `{"ipp":"8001","birth_name":"Le Gall","first_names":["Maëlle"],
			"birth_date":"2015-03-12","sex":"F","ins":{"matricule":"2 06 12 75 111 005 64","oid":"1.2.250.1.213.1.4.8","status":"qualified"}}`)
		if r.status != 201 {
			t.Fatalf("create patient: %d %s", r.status, r.body)
		}
		p := accJSON[relais.Patient](t, r)
		base := "/api/v1/patients/" + string(p.ID)

		// In scope: the read is served and logged, with its purpose.
		nurse := e.client().signIn(relais.RoleNurse)
		if r := nurse.do("GET", base, ""); r.status != 200 {
			t.Fatalf("nurse reads: %d %s", r.status, r.body)
		}
		if r := pharm.do("GET", base+"/measurements", "", web.PurposeHeader, "audit"); r.status != 200 {
			t.Fatalf("pharmacist reads measurements: %d %s", r.status, r.body)
		}
		if r := pharm.do("GET", base, "", web.PurposeHeader, "curiosity"); r.status != 422 || !strings.Contains(r.body, "purpose") {
			t.Fatalf("unknown purpose: %d %s", r.status, r.body)
		}
		if r := nurse.do("GET", "/api/v1/patients?q="+url.QueryEscape("le gall"), ""); r.status != 200 || !strings.Contains(r.body, string(p.ID)) {
			t.Fatalf("search: %d %s", r.status, r.body)
		}

		// Outside the scope: refused, with the way to break the glass.
		landes := e.client()
		if r := landes.do("POST", "/api/v1/session", `{"username":"dr.landes","password":"password-landes"}`); r.status != 200 {
			t.Fatalf("sign in dr.landes: %d %s", r.status, r.body)
		}
		r = landes.do("GET", base, "")
		if r.status != 403 || !strings.Contains(r.problem(t).Detail, "break-glass") {
			t.Fatalf("out of scope: %d %s", r.status, r.body)
		}
		if r := landes.do("GET", "/api/v1/patients?q="+url.QueryEscape("le gall"), ""); r.status != 200 || strings.Contains(r.body, string(p.ID)) {
			t.Fatalf("search shows a patient out of scope: %d %s", r.status, r.body)
		}
		if r := landes.do("POST", base+"/break-glass", `{"reason":"?"}`); r.status != 422 {
			t.Fatalf("break the glass without a reason: %d %s", r.status, r.body)
		}
		r = landes.do("POST", base+"/break-glass", `{"reason":"admitted to our emergency ward tonight with fever"}`)
		if r.status != 201 {
			t.Fatalf("break the glass: %d %s", r.status, r.body)
		}
		grant := accJSON[relais.AccessGrant](t, r)
		if r := landes.do("GET", base, ""); r.status != 200 {
			t.Fatalf("after breaking the glass: %d %s", r.status, r.body)
		}
		if r := nurse.do("POST", base+"/break-glass", `{"reason":"no need for this one at all"}`); r.status != 409 {
			t.Fatalf("breaking the glass in scope: %d %s", r.status, r.body)
		}

		// The pharmacy administrator sees the history; others do not.
		admin := e.client().signIn(relais.RolePharmAdmin)
		r = admin.do("GET", base+"/access-log", "")
		if r.status != 200 {
			t.Fatalf("access log: %d %s", r.status, r.body)
		}
		log := accJSON[[]relais.AccessEntry](t, r)
		type seen struct {
			user, purpose, route string
			glass                bool
		}
		var got []seen
		for _, a := range log {
			got = append(got, seen{a.Username, a.Purpose, a.Route, a.BreakGlass})
			if a.PatientID != p.ID || a.At.IsZero() || a.Site != "chu-test" || a.RemoteAddr == "" {
				t.Errorf("entry %+v", a)
			}
		}
		want := []seen{ // newest first
			{"dr.landes", "emergency", "GET /api/v1/patients/{id}", true},
			{"nurse", "care", "GET /api/v1/patients", false},
			{"pharmacist", "audit", "GET /api/v1/patients/{id}/measurements", false},
			{"nurse", "care", "GET /api/v1/patients/{id}", false},
		}
		if len(got) != len(want) {
			t.Fatalf("log = %+v; want %+v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("entry %d = %+v; want %+v", i, got[i], want[i])
			}
		}
		if log[0].UserSite != "chg-landes" || log[0].GrantID != grant.ID {
			t.Errorf("break-the-glass entry %+v", log[0])
		}
		if r := nurse.do("GET", base+"/access-log", ""); r.status != 403 {
			t.Fatalf("a nurse reads the access log: %d", r.status)
		}
		// Flagged for review, reviewed by the administrator.
		r = admin.do("GET", "/api/v1/access/break-glass?pending=true", "")
		if pend := accJSON[[]relais.AccessGrant](t, r); len(pend) != 1 || pend[0].ID != grant.ID {
			t.Fatalf("pending: %s", r.body)
		}
		if r := admin.do("POST", "/api/v1/access/break-glass/"+string(grant.ID)+"/review", `{"note":"justified: emergency admission"}`); r.status != 200 {
			t.Fatalf("review: %d %s", r.status, r.body)
		}
		// Sharing the care brings the patient into the scope.
		if r := pharm.do("POST", base+"/sharing", `{"site":"chg-landes","information_given_at":"2025-01-10T15:00:00+01:00","information_given_by":"Dr Martin"}`); r.status != 200 {
			t.Fatalf("share: %d %s", r.status, r.body)
		}
		if r := landes.do("POST", base+"/break-glass", `{"reason":"admitted to our emergency ward again"}`); r.status != 409 {
			t.Fatalf("break the glass on a shared patient: %d", r.status)
		}
	})
}
