package web_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/internal/testdb"
)

// Reading a patient through the pages is logged like a read through the API:
// the pharmacy administrator sees who opened the record, and by which route.
func TestPagesLogPatientReads(t *testing.T) {
	ts, db := newServer(t, testdb.SQLite(t))
	pid := benchPatient(t, db, 1)
	doc := client(t, ts, relais.RolePrescriber)
	for _, path := range []string{"/patients/" + string(pid), "/patients?q=banc"} {
		resp, err := doc.Get(ts.URL + path)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s: %v %v", path, resp.Status, err)
		}
		resp.Body.Close()
	}
	admin := client(t, ts, relais.RolePharmAdmin)
	resp, err := admin.Get(ts.URL + "/api/v1/patients/" + string(pid) + "/access-log")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("access log: %v %v", resp.Status, err)
	}
	defer resp.Body.Close()
	var log []relais.AccessEntry
	if err := json.NewDecoder(resp.Body).Decode(&log); err != nil {
		t.Fatal(err)
	}
	routes := map[string]bool{}
	for _, e := range log {
		if e.Username == string(relais.RolePrescriber) {
			routes[e.Route] = true
		}
	}
	page, search := false, false
	for r := range routes {
		page = page || strings.Contains(r, "/patients/{id}") || strings.Contains(r, "/patients/"+string(pid))
		search = search || strings.HasSuffix(strings.SplitN(r, "?", 2)[0], "/patients")
	}
	if !page || !search {
		t.Fatalf("the prescriber's page reads are not all logged: %v", routes)
	}
}
