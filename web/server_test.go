package web_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/internal/testdb"
	"github.com/relais-onco/relais/sqlstore"
	"github.com/relais-onco/relais/web"
)

var quiet = slog.New(slog.DiscardHandler)

// newServer starts a server on a fresh database with one user per role, each
// with the password "password-" + role.
func newServer(t testing.TB, dsn string) (*httptest.Server, *sqlstore.DB) {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), dsn, sqlstore.Options{Site: "chu-test", Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx := relais.WithActor(context.Background(), relais.SystemActor("chu-test"))
	for _, r := range relais.Roles {
		if _, err := db.CreateUser(ctx, relais.User{Username: string(r), Name: "Test " + string(r), Role: r}, "password-"+string(r)); err != nil {
			t.Fatal(err)
		}
	}
	s := web.New("chu-test", web.Services{Users: db, Patients: db, Catalogue: db, Protocols: db, Treatments: db}, quiet)
	s.SetReady()
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return ts, db
}

func do(t testing.TB, ts *httptest.Server, role relais.Role, method, path, body string, hdr ...string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
	if role != "" {
		req.SetBasicAuth(string(role), "password-"+string(role))
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestHealthzOnlyWhenReady(t *testing.T) {
	db, err := sqlstore.Open(context.Background(), testdb.SQLite(t), sqlstore.Options{Site: "chu-test", Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := web.New("chu-test", web.Services{Users: db}, quiet)
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("before ready: %d", rec.Code)
	}
	s.SetReady()
	rec = httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("after ready: %d", rec.Code)
	}
}

func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	ts, _ := newServer(t, testdb.SQLite(t))
	code, body := do(t, ts, "", "GET", "/api/v1/openapi.json", "")
	if code != 200 {
		t.Fatalf("status %d", code)
	}
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" || doc.Paths["/api/v1/session"]["post"] == nil || doc.Paths["/api/v1/me"]["get"] == nil {
		t.Fatalf("document lacks the session routes: %s", body)
	}
}

func TestProblemsNameTheFault(t *testing.T) {
	ts, _ := newServer(t, testdb.SQLite(t))
	cases := []struct {
		name, body string
		status     int
		want       string
	}{
		{"unknown field", `{"username":"x","password":"y","admin":true}`, 422, `"field":"admin"`},
		{"wrong type", `{"username":12,"password":"y"}`, 422, `"field":"username"`},
		{"malformed", `{"username":`, 422, "ends too early"},
		{"trailing", `{"username":"a","password":"b"} {}`, 422, "after the JSON object"},
		{"invalid utf-8", "{\"username\":\"\xff\",\"password\":\"b\"}", 422, "UTF-8"},
		{"empty", ``, 422, "empty"},
		{"bad password", `{"username":"nurse","password":"nope"}`, 401, "wrong password"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := do(t, ts, "", "POST", "/api/v1/session", c.body)
			if code != c.status || !strings.Contains(string(body), c.want) {
				t.Fatalf("got %d %s; want %d containing %q", code, body, c.status, c.want)
			}
		})
	}
}

func TestOldClientIsRefusedAndOthersServed(t *testing.T) {
	ts, _ := newServer(t, testdb.SQLite(t))
	code, body := do(t, ts, relais.RoleNurse, "GET", "/api/v1/me", "", web.ClientVersionHeader, "0.9")
	if code != http.StatusUpgradeRequired || !strings.Contains(string(body), "0.9") || !strings.Contains(string(body), relais.APIVersion) {
		t.Fatalf("old client: %d %s", code, body)
	}
	code, body = do(t, ts, relais.RoleNurse, "GET", "/api/v1/me", "", web.ClientVersionHeader, relais.APIVersion)
	if code != 200 || !strings.Contains(string(body), `"role":"nurse"`) {
		t.Fatalf("current client: %d %s", code, body)
	}
}

func TestSignedOutIsRefused(t *testing.T) {
	ts, _ := newServer(t, testdb.SQLite(t))
	if code, _ := do(t, ts, "", "GET", "/api/v1/me", ""); code != 401 {
		t.Fatalf("signed out: %d", code)
	}
}
