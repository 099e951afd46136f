package web_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/internal/testdb"
	"github.com/relais-onco/relais/web"
)

// call does a request and decodes a JSON answer into out (when not nil),
// failing the test unless the status is want.
func protoCall(t *testing.T, ts *httptest.Server, role relais.Role, method, path string, body any, want int, out any) []byte {
	t.Helper()
	var s string
	switch b := body.(type) {
	case nil:
	case string:
		s = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		s = string(j)
	}
	code, resp := do(t, ts, role, method, path, s)
	if code != want {
		t.Fatalf("%s %s as %s: %d %s; want %d", method, path, role, code, resp, want)
	}
	if out != nil {
		if err := json.Unmarshal(resp, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, resp)
		}
	}
	return resp
}

// protoProblemFields lists the fields of a problem+json answer.
func protoProblemFields(t *testing.T, body []byte) []string {
	t.Helper()
	var p web.Problem
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("not a problem: %s", body)
	}
	var out []string
	for _, e := range p.Errors {
		out = append(out, e.Field)
	}
	return out
}

func protoMustContain(t *testing.T, list []string, want ...string) {
	t.Helper()
	for _, w := range want {
		found := false
		for _, x := range list {
			found = found || x == w
		}
		if !found {
			t.Errorf("%q missing from %v", w, list)
		}
	}
}

// apiCatalogue creates ABVD's drugs and diluents through the API.
func apiCatalogue(t *testing.T, ts *httptest.Server) {
	t.Helper()
	for _, d := range []relais.Drug{
		{INN: "doxorubicine", Class: relais.ClassAnthracycline, Cytotoxic: true},
		{INN: "bléomycine", Class: relais.ClassBleomycin, Cytotoxic: true},
		{INN: "vinblastine", Class: relais.ClassVincaAlkaloid, Cytotoxic: true},
		{INN: "dacarbazine", Class: relais.ClassAlkylating, Cytotoxic: true},
	} {
		protoCall(t, ts, relais.RolePharmacist, "POST", "/api/v1/drugs", d, 201, nil)
	}
	for _, d := range []relais.Diluent{{Name: "NaCl 0.9%", VolumesML: []float64{100, 250}}, {Name: "G5%", VolumesML: []float64{250, 500}}} {
		protoCall(t, ts, relais.RolePharmAdmin, "POST", "/api/v1/diluents", d, 201, nil)
	}
}

// abvdRequest: ABVD, doxorubicin 25 mg/m², bleomycin 10 U/m², vinblastine
// 6 mg/m², dacarbazine 375 mg/m² days 1 and 15 every 28 days (Canellos GP
// et al., N Engl J Med 1992;327:1478–84).
const abvdRequest = `{"code": "ABVD", "name": "ABVD", "indication": "Lymphome de Hodgkin", "population": "adult",
 "content": {"cycles": {"count": 6, "length_days": 28}, "days": [1, 15],
  "lines": [
   {"seq": 1, "kind": "chemo", "inn": "doxorubicine", "dose": {"kind": "per_m2", "dose": 25, "unit": "mg"}, "route": "IV", "days": [1, 15], "vehicle": "NaCl 0.9%", "volume_ml": 100, "duration_min": 15},
   {"seq": 2, "kind": "chemo", "inn": "bléomycine", "dose": {"kind": "per_m2", "dose": 10, "unit": "U"}, "route": "IV", "days": [1, 15], "vehicle": "NaCl 0.9%", "volume_ml": 100, "duration_min": 15},
   {"seq": 3, "kind": "chemo", "inn": "vinblastine", "dose": {"kind": "per_m2", "dose": 6, "unit": "mg"}, "route": "IV", "days": [1, 15], "vehicle": "NaCl 0.9%", "volume_ml": 100, "duration_min": 10},
   {"seq": 4, "kind": "chemo", "inn": "dacarbazine", "dose": {"kind": "per_m2", "dose": 375, "unit": "mg"}, "route": "IV", "days": [1, 15], "vehicle": "G5%", "volume_ml": 250, "duration_min": 60}],
  "criteria": [{"lab": "neutrophils", "op": ">=", "value": 1, "unit": "G/L"}],
  "cumulative_limits": [{"class": "anthracycline", "limit": 450, "unit": "mg/m²"}, {"inn": "bléomycine", "limit": 400, "unit": "U"}],
  "source": "Canellos GP et al. N Engl J Med 1992;327:1478-84"}}`

func TestProtocolAPI(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		ts, _ := newServer(t, dsn)
		apiCatalogue(t, ts)

		// Permissions: a nurse reads the catalogue but does not write it; a
		// prescriber reads protocols but does not write them.
		protoCall(t, ts, relais.RoleNurse, "POST", "/api/v1/drugs", relais.Drug{INN: "x", Class: relais.ClassOther}, 403, nil)
		var drugs []relais.Drug
		protoCall(t, ts, relais.RoleNurse, "GET", "/api/v1/drugs", nil, 200, &drugs)
		if len(drugs) != 4 {
			t.Fatalf("%d drugs", len(drugs))
		}
		protoCall(t, ts, relais.RolePrescriber, "POST", "/api/v1/protocols", abvdRequest, 403, nil)

		// Strict bodies: an unknown field is refused, named.
		body := protoCall(t, ts, relais.RolePharmacist, "POST", "/api/v1/protocols", strings.Replace(abvdRequest, `"days": [1, 15],`, `"days": [1, 15], "jours": [1],`, 1), 422, nil)
		protoMustContain(t, protoProblemFields(t, body), "content.jours")
		// Content faults all come back, with their paths.
		bad := strings.Replace(abvdRequest, `"dose": 375, "unit": "mg"`, `"dose": 375, "unit": "mg/m2"`, 1)
		bad = strings.Replace(bad, `"inn": "vinblastine"`, `"inn": "vinblastin"`, 1)
		bad = strings.Replace(bad, `"value": 1, "unit": "G/L"`, `"value": 1, "unit": "/mm3"`, 1)
		body = protoCall(t, ts, relais.RolePharmacist, "POST", "/api/v1/protocols", bad, 422, nil)
		protoMustContain(t, protoProblemFields(t, body), "content.lines[3].dose.unit", "content.criteria[0].unit")

		var p relais.ProtocolDetail
		protoCall(t, ts, relais.RolePharmacist, "POST", "/api/v1/protocols", abvdRequest, 201, &p)
		base := "/api/v1/protocols/" + string(p.ID)
		v := p.Versions[0]
		if v.Status != relais.VersionDraft || v.Author.Username != "pharmacist" {
			t.Fatalf("version 1 %+v", v)
		}

		// Edit the draft, then freeze it.
		v.Content.Lines[2].DurationMin = 15
		protoCall(t, ts, relais.RolePharmacist, "PUT", base+"/versions/1", relais.DraftUpdate{Revision: v.Revision, Content: v.Content}, 200, &v)
		protoCall(t, ts, relais.RolePharmacist, "PUT", base+"/versions/1", relais.DraftUpdate{Revision: 1, Content: v.Content}, 409, nil)
		protoCall(t, ts, relais.RolePharmacist, "POST", base+"/versions/1/transition", relais.VersionTransition{To: relais.VersionInTest}, 200, &v)
		body = protoCall(t, ts, relais.RolePharmacist, "PUT", base+"/versions/1", relais.DraftUpdate{Revision: v.Revision, Content: v.Content}, 409, nil)
		if !strings.Contains(string(body), "in_test") || !strings.Contains(string(body), `"kind":"conflict"`) {
			t.Fatalf("edit in test: %s", body)
		}
		// Four-eyes.
		body = protoCall(t, ts, relais.RolePharmacist, "POST", base+"/versions/1/transition", relais.VersionTransition{To: relais.VersionActive}, 403, nil)
		if !strings.Contains(string(body), "four-eyes") {
			t.Fatalf("author approves: %s", body)
		}
		protoCall(t, ts, relais.RolePharmAdmin, "POST", base+"/versions/1/transition", relais.VersionTransition{To: relais.VersionActive, Comment: "validé"}, 200, &v)
		if v.Status != relais.VersionActive || v.Approver == nil || v.Approver.Username != "pharm_admin" {
			t.Fatalf("approved %+v", v)
		}
		protoCall(t, ts, relais.RolePharmAdmin, "POST", base+"/versions/1/transition", relais.VersionTransition{To: relais.VersionDraft, Comment: "x"}, 409, nil)

		// The library list filters.
		var list []relais.ProtocolSummary
		protoCall(t, ts, relais.RoleNurse, "GET", "/api/v1/protocols?population=adult&status=active", nil, 200, &list)
		if len(list) != 1 || list[0].ActiveVersion != 1 {
			t.Fatalf("list %+v", list)
		}
		protoCall(t, ts, relais.RoleNurse, "GET", "/api/v1/protocols?population=paediatric", nil, 200, &list)
		if len(list) != 0 {
			t.Fatalf("paediatric list %+v", list)
		}
		protoCall(t, ts, relais.RoleNurse, "GET", "/api/v1/protocols?population=children", nil, 422, nil)

		// Version 2, a copy with one dose changed; the diff says so.
		var v2 relais.ProtocolVersion
		protoCall(t, ts, relais.RolePharmAdmin, "POST", base+"/versions", relais.NewVersionRequest{From: 1}, 201, &v2)
		v2.Content.Lines[1].Dose.Dose = 5
		protoCall(t, ts, relais.RolePharmAdmin, "PUT", base+"/versions/2", relais.DraftUpdate{Revision: v2.Revision, Content: v2.Content}, 200, &v2)
		var diff relais.VersionDiff
		protoCall(t, ts, relais.RoleConsultant, "GET", base+"/diff?from=1&to=2", nil, 200, &diff)
		if len(diff.Changes) != 1 || diff.Changes[0].String() != "lines[2].dose.dose: 10 → 5" || diff.From.Number != 1 || diff.To.Code != "ABVD" {
			t.Fatalf("diff %+v", diff)
		}
		protoCall(t, ts, relais.RoleConsultant, "GET", base+"/diff?from=1&to=9", nil, 404, nil)
		protoCall(t, ts, relais.RoleConsultant, "GET", base+"/diff?from=1", nil, 422, nil)
		protoCall(t, ts, relais.RoleConsultant, "GET", fmt.Sprintf("/api/v1/protocol-versions/diff?a=%s&b=%s", v.ID, v2.ID), nil, 200, &diff)
		if len(diff.Changes) != 1 {
			t.Fatalf("diff by ids %+v", diff)
		}

		// Export, then import at a second site.
		var doc relais.ProtocolDocument
		exported := protoCall(t, ts, relais.RoleNurse, "GET", base+"/versions/1/export", nil, 200, &doc)
		if doc.Format != relais.DocumentFormat || doc.Origin == nil || doc.Origin.Status != relais.VersionActive || len(doc.Drugs) != 4 {
			t.Fatalf("export %s", exported)
		}
		other, _ := newServer(t, testdb.SQLite(t))
		apiCatalogue(t, other)
		// Faults first: nothing is written, each is named.
		broken := strings.Replace(string(exported), `"inn":"vinblastine","dose"`, `"inn":"vinblastin","dose"`, 1)
		broken = strings.Replace(broken, `"seq":4`, `"seq":4,"dose_mg":375`, 1)
		body = protoCall(t, other, relais.RolePharmacist, "POST", "/api/v1/protocols/import", broken, 422, nil)
		protoMustContain(t, protoProblemFields(t, body), "lines[3].dose_mg")
		broken = strings.Replace(string(exported), `"inn":"vinblastine","dose"`, `"inn":"vinblastin","dose"`, 1)
		body = protoCall(t, other, relais.RolePharmacist, "POST", "/api/v1/protocols/import", broken, 422, nil)
		protoMustContain(t, protoProblemFields(t, body), "lines[2].inn")
		protoCall(t, other, relais.RoleNurse, "GET", "/api/v1/protocols", nil, 200, &list)
		if len(list) != 0 {
			t.Fatalf("a refused import wrote %+v", list)
		}
		var res relais.ImportResult
		protoCall(t, other, relais.RolePharmacist, "POST", "/api/v1/protocols/import", string(exported), 201, &res)
		if !res.Created || res.Version.Status != relais.VersionDraft || res.Version.Content.Lines[2].DurationMin != 15 {
			t.Fatalf("import %+v", res)
		}
	})
}

func TestCatalogueAPI(t *testing.T) {
	ts, _ := newServer(t, testdb.SQLite(t))
	var dox relais.Drug
	protoCall(t, ts, relais.RolePharmAdmin, "POST", "/api/v1/drugs", relais.Drug{INN: "Doxorubicine", Class: relais.ClassAnthracycline, Cytotoxic: true}, 201, &dox)
	// An update names the revision it read, and the id in the address wins
	// only if the body agrees.
	dox.Comment = "x"
	protoCall(t, ts, relais.RolePharmAdmin, "PUT", "/api/v1/drugs/"+string(dox.ID), dox, 200, &dox)
	protoCall(t, ts, relais.RolePharmAdmin, "PUT", "/api/v1/drugs/"+string(dox.ID), relais.Drug{ID: dox.ID, INN: "doxorubicine", Class: relais.ClassAnthracycline, Revision: 1}, 409, nil)
	body := protoCall(t, ts, relais.RolePharmAdmin, "PUT", "/api/v1/drugs/"+string(relais.NewID()), dox, 422, nil)
	protoMustContain(t, protoProblemFields(t, body), "id")

	product := relais.Product{DrugID: dox.ID, Brand: "Doxorubicine 2 mg/mL 5 mL (démo)", UCD: "3400891234565", UCDDemo: true,
		Form: relais.FormSolution, Strength: 10, StrengthUnit: "mg", VolumeML: 5, Concentration: 2}
	var p relais.Product
	protoCall(t, ts, relais.RolePharmAdmin, "POST", "/api/v1/products", product, 201, &p)
	protoCall(t, ts, relais.RolePharmAdmin, "POST", "/api/v1/products/"+string(p.ID)+"/stability",
		relais.Stability{Condition: relais.AfterOpening, Storage: "2-8°C", DurationHours: 24}, 422, nil)
	protoCall(t, ts, relais.RolePharmAdmin, "POST", "/api/v1/products/"+string(p.ID)+"/stability",
		relais.Stability{Condition: relais.AfterOpening, Storage: "2-8°C", DurationHours: 24, Source: "test"}, 201, &p)
	if len(p.Stability) != 1 {
		t.Fatalf("stability %+v", p.Stability)
	}
	var list []relais.Product
	protoCall(t, ts, relais.RoleTechnician, "GET", "/api/v1/products?drug_id="+string(dox.ID), nil, 200, &list)
	if len(list) != 1 {
		t.Fatalf("products %+v", list)
	}
	protoCall(t, ts, relais.RoleTechnician, "GET", "/api/v1/products?drug_id=nope", nil, 422, nil)
	protoCall(t, ts, relais.RoleTechnician, "GET", "/api/v1/diluents", nil, 200, nil)
}
