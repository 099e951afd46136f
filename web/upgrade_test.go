package web_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/internal/testdb"
	"github.com/relais-onco/relais/sqlstore"
	"github.com/relais-onco/relais/web"
)

// Seed 004: at 00:30 a colleague's old client, left connected, brought the
// server down for everyone. Here old clients (a station, and a crisis node
// of the previous release) hammer a new server while the current clients
// work: every old request is refused with a message naming both versions and
// what to do, every current request succeeds, and the server notes who
// spoke which version for `relais upgrade check`.
func TestOldClientsAreRefusedWhileOthersKeepWorking(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db, err := sqlstore.Open(ctx, dsn, sqlstore.Options{Site: "chu-test", Log: quiet})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		actx := relais.WithActor(ctx, relais.SystemActor("chu-test"))
		for _, r := range []relais.Role{relais.RoleNurse, relais.RolePharmacist} {
			if _, err := db.CreateUser(actx, relais.User{Username: string(r), Name: "Test " + string(r), Role: r}, "password-"+string(r)); err != nil {
				t.Fatal(err)
			}
		}
		clients := sqlstore.NewClientLog(db)
		s := web.New("chu-test", web.Services{Users: db, Patients: db, Catalogue: db, Protocols: db, Treatments: db}, quiet)
		s.Clients = clients
		s.SetReady()
		ts := httptest.NewServer(s.Handler())
		defer ts.Close()

		type result struct {
			who    string
			status int
			body   string
		}
		call := func(who string, role relais.Role, version string) result {
			req, _ := http.NewRequest("GET", ts.URL+"/api/v1/me", nil)
			req.SetBasicAuth(string(role), "password-"+string(role))
			req.Header.Set(web.ClientVersionHeader, version)
			req.Header.Set(web.ClientIDHeader, who)
			req.Header.Set("User-Agent", "relais-test/"+version)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return result{who: who, status: -1, body: err.Error()}
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return result{who, resp.StatusCode, string(b)}
		}
		const rounds = 8
		results := make(chan result, 4*rounds)
		var wg sync.WaitGroup
		for i := 0; i < rounds; i++ {
			wg.Add(4)
			go func() { defer wg.Done(); results <- call("old-station", relais.RolePharmacist, "0.9") }()
			go func() { defer wg.Done(); results <- call("chu-test-crisis-1", relais.RolePharmacist, "0.3.1") }()
			go func() { defer wg.Done(); results <- call("ward-station", relais.RoleNurse, relais.APIVersion) }()
			go func() { defer wg.Done(); results <- call("pharmacy-station", relais.RolePharmacist, relais.APIVersion) }()
		}
		wg.Wait()
		close(results)
		for r := range results {
			switch r.who {
			case "old-station", "chu-test-crisis-1":
				if r.status != http.StatusUpgradeRequired {
					t.Fatalf("%s (old API) got %d: %s", r.who, r.status, r.body)
				}
				var p struct {
					Detail string `json:"detail"`
				}
				json.Unmarshal([]byte(r.body), &p)
				msg := p.Detail + r.body
				if !strings.Contains(msg, "API "+map[string]string{"old-station": "0.9", "chu-test-crisis-1": "0.3.1"}[r.who]) ||
					!strings.Contains(msg, relais.APIVersion) || !strings.Contains(msg, "update the client") {
					t.Fatalf("%s: the refusal does not name both versions and what to do: %s", r.who, r.body)
				}
			default:
				if r.status != http.StatusOK {
					t.Fatalf("%s (current API) got %d while old clients were refused: %s", r.who, r.status, r.body)
				}
			}
		}
		// The server is still healthy, and a write by a current client
		// goes through.
		resp, err := http.Get(ts.URL + "/healthz")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("healthz after the old clients: %v %v", resp, err)
		}
		resp.Body.Close()

		if err := clients.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		seen, recorded, err := db.ClientsSince(ctx, relais.Now().Add(-time.Hour))
		if err != nil || !recorded {
			t.Fatalf("clients seen: %v recorded %v", err, recorded)
		}
		byID := map[string]sqlstore.ClientSeen{}
		for _, c := range seen {
			byID[c.ID] = c
		}
		if c := byID["old-station"]; c.APIVersion != "0.9" || c.Requests != rounds || c.Refused != rounds || c.Agent != "relais-test/0.9" {
			t.Errorf("old station noted as %+v", c)
		}
		if c := byID["ward-station"]; c.APIVersion != relais.APIVersion || c.Requests != rounds || c.Refused != 0 {
			t.Errorf("ward station noted as %+v", c)
		}
	})
}
