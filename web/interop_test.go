package web_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/hl7"
	"github.com/relais-onco/relais/hl7/adt"
	"github.com/relais-onco/relais/internal/testdb"
	"github.com/relais-onco/relais/launch"
	"github.com/relais-onco/relais/sqlstore"
	"github.com/relais-onco/relais/web"
)

// publishedNIR: « 2 06 12 75 111 005 … sa clé est : 64 » (lbcd78.fr,
// « Calcul de la clé du n° de sécurité sociale », 2007).
const launchNIR = "206127511100564"

type launchRig struct {
	dsn string
	db  *sqlstore.DB
	ts  *httptest.Server
	key *ecdsa.PrivateKey
	cfg *launch.Config
}

func newLaunchRig(t *testing.T, dsn string, key *ecdsa.PrivateKey) *launchRig {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), dsn, sqlstore.Options{Site: "chu-test", Log: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	cfg := &launch.Config{Site: "chu-test", EHRs: map[string]*launch.EHR{"dpi-chg": {ID: "dpi-chg",
		Keys:  []jose.JSONWebKey{{Key: &key.PublicKey}},
		Roles: map[string]relais.Role{"MED": relais.RolePrescriber, "IDE": relais.RoleNurse}, CreatePatients: true}}}
	srv := web.New(db.Site, web.Services{Users: db, Patients: db, Catalogue: db, Protocols: db, Treatments: db, Production: db}, quietLog)
	srv.EnableLaunch(&launch.Service{Config: cfg, Patients: db, Accounts: db, Used: db})
	srv.SetReady()
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &launchRig{dsn: dsn, db: db, ts: ts, key: key, cfg: cfg}
}

func (r *launchRig) token(t *testing.T, jti string, mod func(o *launch.MakeOptions)) string {
	o := launch.MakeOptions{Key: r.key, EHR: "dpi-chg", Site: "chu-test", ID: jti,
		User: launch.User{ID: "u42", Name: "Dr Claire Martin", Role: "MED", RPPS: "10101010101"},
		Patient: launch.Patient{IPP: "7001", INS: &relais.INS{Matricule: launchNIR, OID: relais.OIDNIR, Status: relais.IdentityQualified},
			BirthName: "DUPONT", FirstNames: []string{"Marie"}, BirthDate: "2006-12-14", Sex: relais.SexFemale}}
	if mod != nil {
		mod(&o)
	}
	tok, err := launch.Make(o)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// post sends the form as the EHR's page would: from another origin.
func (r *launchRig) post(t *testing.T, c *http.Client, tok string) (int, string) {
	req, _ := http.NewRequest("POST", r.ts.URL+web.LaunchPath, strings.NewReader(url.Values{"token": {tok}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://dpi.chg.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func launchBrowser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// The EHR posts a token: the professional lands on the patient's page,
// signed in, with no prompt; the patient was created from the token; the
// access is logged; the same token never opens Relais again, not even after
// a restart.
func TestContextualLaunch(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	testdb.Each(t, func(t *testing.T, dsn string) {
		r := newLaunchRig(t, dsn, key)
		c := launchBrowser()
		tok := r.token(t, "jti-1", nil)
		code, body := r.post(t, c, tok)
		if code != 200 || !strings.Contains(body, `http-equiv="refresh"`) || !strings.Contains(body, "/patients/") {
			t.Fatalf("launch: %d\n%s", code, body)
		}
		ps, err := r.db.SearchPatients(relais.WithActor(context.Background(), relais.SystemActor("chu-test")), "7001", 5)
		if err != nil || len(ps) != 1 || ps[0].INS.Status != relais.IdentityQualified {
			t.Fatalf("patient created: %v %v", ps, err)
		}
		p := ps[0]
		// The same-site navigation the page makes: signed in, no login.
		resp, err := c.Get(r.ts.URL + "/patients/" + string(p.ID))
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(page), "DUPONT") {
			t.Fatalf("patient page after launch: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		log, err := r.db.PatientAccessLog(context.Background(), p.ID, time.Time{}, 10)
		if err != nil {
			t.Fatal(err)
		}
		launched := false
		for _, e := range log {
			if strings.HasPrefix(e.Route, "POST /launch") && e.Username == "rpps.10101010101" && e.Purpose == "care" {
				launched = true
			}
		}
		if !launched {
			t.Errorf("no access log entry of the launch: %+v", log)
		}

		// Replayed: refused, and no session.
		c2 := launchBrowser()
		if code, body := r.post(t, c2, tok); code != 401 || !strings.Contains(body, "already used") {
			t.Errorf("replay: %d\n%s", code, body)
		}
		// Restart: a new server on the same database still refuses it.
		r.db.Close()
		r2 := newLaunchRig(t, r.dsn, key)
		if code, _ := r2.post(t, launchBrowser(), tok); code != 401 {
			t.Errorf("replay after restart: %d", code)
		}
		// A token whose identity does not match the record opens nothing.
		if code, body := r2.post(t, launchBrowser(), r2.token(t, "jti-2", func(o *launch.MakeOptions) { o.Patient.BirthDate = "2006-12-15" })); code != 409 || !strings.Contains(body, "birth date") {
			t.Errorf("identity mismatch: %d\n%s", code, body)
		}
		// An unmapped role is refused, saying so.
		if code, body := r2.post(t, launchBrowser(), r2.token(t, "jti-3", func(o *launch.MakeOptions) { o.User.Role = "SECR" })); code != 401 || !strings.Contains(body, "not mapped") {
			t.Errorf("unmapped role: %d\n%s", code, body)
		}
	})
}

// The interface routes are documented like the others, with the
// permission only IT holds.
func TestInteropRoutesInOpenAPI(t *testing.T) {
	db, err := sqlstore.Open(context.Background(), testdb.SQLite(t), sqlstore.Options{Site: "chu-test", Log: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	srv := web.New(db.Site, web.Services{Users: db, Patients: db}, quietLog)
	srv.EnableHL7Log(adt.NewReceiver(db, adt.Config{}, hl7.Sender{App: "RELAIS"}, quietLog))
	srv.EnableOutbox(db, nil)
	doc, err := json.Marshal(srv.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/hl7/messages", "/hl7/messages/{id}/replay", "/outbox", "/outbox/{id}/retry"} {
		if !strings.Contains(string(doc), `"/api/v1`+p+`"`) {
			t.Errorf("OpenAPI lacks %s", p)
		}
	}
	for _, rt := range srv.Routes() {
		if strings.HasPrefix(rt.Path, "/hl7/") || strings.HasPrefix(rt.Path, "/outbox") {
			if rt.Perm != relais.PermInterfaceAdmin || !relais.RoleITAdmin.Can(rt.Perm) || relais.RolePrescriber.Can(rt.Perm) {
				t.Errorf("%s %s: permission %s", rt.Method, rt.Path, rt.Perm)
			}
		}
	}
}
