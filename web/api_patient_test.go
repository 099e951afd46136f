package web_test

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/internal/testdb"
	"github.com/relais-onco/relais/web"
)

const pharmacist, nurse, consultant = relais.RolePharmacist, relais.RoleNurse, relais.RoleConsultant

func decode[T any](t *testing.T, body []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("decode %T: %v in %s", v, err, body)
	}
	return v
}

// fieldList joins the fields of a problem+json answer.
func fieldList(t *testing.T, body []byte) string {
	t.Helper()
	p := decode[web.Problem](t, body)
	var fs []string
	for _, f := range p.Errors {
		fs = append(fs, f.Field)
	}
	return strings.Join(fs, ",")
}

func TestPatientAPIRoundTrip(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		ts, db := newServer(t, dsn)
		if err := db.SaveSite(relais.WithActor(context.Background(), relais.SystemActor("chu-test")),
			relais.Site{ID: "chg-landes", Name: "CH de Mont-de-Marsan", Kind: "chg"}); err != nil {
			t.Fatal(err)
		}

		// Create, with the INS typed with spaces.
		code, body := do(t, ts, pharmacist, "POST", "/api/v1/patients", `{"ipp":"8001","birth_name":"Le Gall","first_names":["Maëlle"],
			"birth_date":"2015-03-12","sex":"F","birthplace_code":"29019",
			"ins":{"matricule":"2 06 12 75 111 005 64","oid":"1.2.250.1.213.1.4.8","status":"qualified"}}`)
		if code != 201 {
			t.Fatalf("create: %d %s", code, body)
		}
		p := decode[relais.Patient](t, body)
		if p.INS.Matricule != "206127511100564" || p.Site != "chu-test" || p.Status != relais.PatientActive {
			t.Fatalf("created %+v", p)
		}
		base := "/api/v1/patients/" + string(p.ID)

		code, body = do(t, ts, consultant, "GET", base, "")
		if code != 200 || decode[relais.Patient](t, body).BirthName != "Le Gall" {
			t.Fatalf("get: %d %s", code, body)
		}
		code, body = do(t, ts, nurse, "GET", "/api/v1/patients?q=LE-GALL+12/03/2015", "")
		if found := decode[[]relais.Patient](t, body); code != 200 || len(found) != 1 || found[0].ID != p.ID {
			t.Fatalf("search: %d %s", code, body)
		}

		code, body = do(t, ts, pharmacist, "POST", base, `{"used_name":"Dupont"}`)
		if code != 200 || decode[relais.Patient](t, body).UsedName != "Dupont" {
			t.Fatalf("update: %d %s", code, body)
		}
		code, body = do(t, ts, pharmacist, "POST", base+"/allergies", `{"substance":"Carboplatine","severity":"severe"}`)
		if code != 200 || len(decode[relais.Patient](t, body).Allergies) != 1 {
			t.Fatalf("allergy: %d %s", code, body)
		}
		code, body = do(t, ts, pharmacist, "POST", base+"/sharing",
			`{"site":"chg-landes","information_given_at":"2025-01-10T15:00:00+01:00","information_given_by":"Dr Martin"}`)
		if code != 200 || len(decode[relais.Patient](t, body).SharedWith) != 1 {
			t.Fatalf("sharing: %d %s", code, body)
		}

		// Measurements: height, weight, creatinine; a wrong weight voided.
		at := relais.Now().Add(-2 * time.Hour).Format(time.RFC3339)
		var wrongID relais.ID
		for _, m := range []string{
			`{"kind":"height_cm","value":120,"measured_at":"` + at + `"}`,
			`{"kind":"weight_kg","value":30,"measured_at":"` + at + `","source":"manual"}`,
			`{"kind":"creatinine_umol_l","value":44.21,"unit":"µmol/L","measured_at":"` + at + `","source":"lab"}`,
			`{"kind":"weight_kg","value":3,"measured_at":"` + relais.Now().Format(time.RFC3339) + `"}`,
		} {
			code, body = do(t, ts, pharmacist, "POST", base+"/measurements", m)
			if code != 201 {
				t.Fatalf("measurement %s: %d %s", m, code, body)
			}
			wrongID = decode[relais.Measurement](t, body).ID
		}
		code, body = do(t, ts, pharmacist, "POST", "/api/v1/measurements/"+string(wrongID)+"/void", `{"reason":"typed 3 for 30"}`)
		if code != 200 || decode[relais.Measurement](t, body).Voided == nil {
			t.Fatalf("void: %d %s", code, body)
		}
		code, body = do(t, ts, nurse, "GET", base+"/measurements?kind=weight_kg", "")
		if ms := decode[[]relais.Measurement](t, body); code != 200 || len(ms) != 2 {
			t.Fatalf("weights: %d %s", code, body)
		}
		code, body = do(t, ts, nurse, "GET", base+"/current", "")
		cv := decode[relais.CurrentValues](t, body)
		// Mosteller: √(120 × 30 / 3600) = 1 m²; bedside Schwartz:
		// 0.413 × 120 / (44.21 / 88.42 = 0.5 mg/dL) = 99.12 mL/min/1.73 m².
		if code != 200 || cv.BSA.Result == nil || math.Abs(cv.BSA.Result.Value-1) > 1e-9 || cv.BSA.Age == nil ||
			cv.GFR.Result == nil || math.Abs(cv.GFR.Result.Value-99.12) > 0.01 || len(cv.GFR.Result.Steps) < 2 {
			t.Fatalf("current: %d %s", code, body)
		}
		if w, _ := cv.Value("weight_kg"); w.Value != 30 || w.Age.Text == "" {
			t.Fatalf("current weight %+v", w)
		}

		// Notes and a correction.
		code, body = do(t, ts, nurse, "POST", "/api/v1/notes", `{"patient_id":"`+string(p.ID)+`","target_kind":"patient","text":"Pesée faite"}`)
		if code != 201 {
			t.Fatalf("note: %d %s", code, body)
		}
		n := decode[relais.Note](t, body)
		code, body = do(t, ts, nurse, "POST", "/api/v1/notes", `{"patient_id":"`+string(p.ID)+`","target_kind":"patient","text":"Pesée faite à 8 h","corrects":"`+string(n.ID)+`"}`)
		if code != 201 {
			t.Fatalf("correction: %d %s", code, body)
		}
		code, body = do(t, ts, consultant, "GET", base+"/notes", "")
		threads := decode[[]relais.NoteThread](t, body)
		if code != 200 || len(threads) != 1 || threads[0].Note.Text != "Pesée faite à 8 h" || len(threads[0].History) != 1 {
			t.Fatalf("notes: %d %s", code, body)
		}

		// Identifier change and merge.
		code, body = do(t, ts, pharmacist, "POST", base+"/ipp", `{"ipp":"8101","reason":"HL7 A47"}`)
		if code != 200 || decode[relais.Patient](t, body).FormerIPPs[0].IPP != "8001" {
			t.Fatalf("ipp: %d %s", code, body)
		}
		code, body = do(t, ts, pharmacist, "POST", "/api/v1/patients", `{"ipp":"9001","birth_name":"LE GALL","first_names":["Maelle"],
			"birth_date":"2015-03-12","sex":"F","ins":{"status":"provisional"}}`)
		dup := decode[relais.Patient](t, body)
		code, body = do(t, ts, pharmacist, "POST", base+"/merge", `{"duplicate_id":"`+string(dup.ID)+`","reason":"same child"}`)
		if code != 200 || len(decode[relais.Patient](t, body).MergedFrom) != 1 {
			t.Fatalf("merge: %d %s", code, body)
		}
		code, body = do(t, ts, nurse, "GET", "/api/v1/patients?q=9001", "")
		if found := decode[[]relais.Patient](t, body); code != 200 || len(found) != 1 || found[0].ID != p.ID {
			t.Fatalf("search the duplicate's IPP: %d %s", code, body)
		}
		rep, err := db.VerifyJournal(context.Background())
		if err != nil || !rep.OK() {
			t.Fatalf("audit: %v %v", err, rep.Faults)
		}
	})
}

func TestPatientAPIRefusals(t *testing.T) {
	ts, db := newServer(t, testdb.SQLite(t))
	valid := `{"ipp":"8001","birth_name":"Martin","first_names":["Léa"],"birth_date":"2015-03-12","sex":"F","ins":{"status":"provisional"}}`
	cases := []struct {
		name         string
		role         relais.Role
		method, path string
		body         string
		status       int
		field        string
	}{
		{"unknown field", pharmacist, "POST", "/api/v1/patients", strings.Replace(valid, `"sex"`, `"gender":"F","sex"`, 1), 422, "gender"},
		{"bad INS key", pharmacist, "POST", "/api/v1/patients", strings.Replace(valid, `{"status":"provisional"}`,
			`{"matricule":"206127511100565","oid":"1.2.250.1.213.1.4.8","status":"qualified"}`, 1), 422, "ins.matricule"},
		{"future birth date", pharmacist, "POST", "/api/v1/patients", strings.Replace(valid, "2015-03-12", "2099-03-12", 1), 422, "birth_date"},
		{"several faults", pharmacist, "POST", "/api/v1/patients", `{"ipp":"","birth_name":"","first_names":[],"birth_date":"x","sex":"Z","ins":{"status":"provisional"}}`,
			422, "ipp,birth_name,first_names,birth_date,sex"},
		{"nurse may not create", nurse, "POST", "/api/v1/patients", valid, 403, ""},
		{"consultant may not write notes", consultant, "POST", "/api/v1/notes", `{"patient_id":"x","target_kind":"patient","text":"x"}`, 403, ""},
		{"IT admin may not read patients", relais.RoleITAdmin, "GET", "/api/v1/patients?q=martin", "", 403, ""},
		{"signed out", "", "GET", "/api/v1/patients?q=martin", "", 401, ""},
		{"search without q", nurse, "GET", "/api/v1/patients", "", 422, "q"},
		{"bad limit", nurse, "GET", "/api/v1/patients?q=martin&limit=-1", "", 422, "limit"},
		{"not an id", nurse, "GET", "/api/v1/patients/12", "", 422, "id"},
		{"unknown patient", nurse, "GET", "/api/v1/patients/" + string(relais.NewID()), "", 404, ""},
		{"unknown measurement kind", pharmacist, "GET", "/api/v1/patients/" + string(relais.NewID()) + "/measurements?kind=weight", "", 422, "kind"},
		{"bad note target kind", nurse, "GET", "/api/v1/patients/" + string(relais.NewID()) + "/notes?target_kind=ward", "", 422, "target_kind"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := do(t, ts, c.role, c.method, c.path, c.body)
			if code != c.status {
				t.Fatalf("status %d %s; want %d", code, body, c.status)
			}
			if c.field != "" && fieldList(t, body) != c.field {
				t.Fatalf("fields %q in %s; want %q", fieldList(t, body), body, c.field)
			}
		})
	}
	var n int
	if err := db.SQL().QueryRow("SELECT COUNT(*) FROM patient").Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d patients after refused requests (%v)", n, err)
	}

	// A measurement out of bounds names the field and the bound.
	code, body := do(t, ts, pharmacist, "POST", "/api/v1/patients", valid)
	p := decode[relais.Patient](t, body)
	code, body = do(t, ts, pharmacist, "POST", "/api/v1/patients/"+string(p.ID)+"/measurements",
		`{"kind":"weight_kg","value":30000,"measured_at":"`+relais.Now().Format(time.RFC3339)+`"}`)
	if code != 422 || fieldList(t, body) != "value" || !strings.Contains(string(body), "300") {
		t.Fatalf("weight in grams: %d %s", code, body)
	}
}

func TestPatientRoutesAreDocumented(t *testing.T) {
	ts, _ := newServer(t, testdb.SQLite(t))
	_, body := do(t, ts, "", "GET", "/api/v1/openapi.json", "")
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	for path, method := range map[string]string{
		"/api/v1/patients": "post", "/api/v1/patients/{id}": "get", "/api/v1/patients/{id}/current": "get",
		"/api/v1/patients/{id}/merge": "post", "/api/v1/notes": "post", "/api/v1/measurements/{id}/void": "post",
	} {
		if doc.Paths[path][method] == nil {
			t.Errorf("%s %s is not in the OpenAPI document", method, path)
		}
	}
}
