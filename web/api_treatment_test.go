package web_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/internal/testdb"
)

// The circuit through the API: include, prescribe, sign, OK-to-treat,
// validate, read the history; with field errors and refused transitions.
func TestTreatmentAPI(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		ts, db := newServer(t, dsn)
		version := benchLibrary(t, db)
		pid := benchPatient(t, db, 1)
		doc := client(t, ts, relais.RolePrescriber)
		ph := client(t, ts, relais.RolePharmacist)
		nurse := client(t, ts, relais.RoleNurse)

		err := post(doc, ts.URL+"/api/v1/treatments", fmt.Sprintf(`{"patient_id":%q,"protocol_version_id":%q,"intent":"cure","start_date":"2026-13-01"}`, pid, version), nil)
		if err == nil || !strings.Contains(err.Error(), "intent") || !strings.Contains(err.Error(), "start_date") {
			t.Fatalf("bad inclusion: %v; want intent and start_date named", err)
		}
		var tr relais.Treatment
		today := relais.Today()
		if err := post(doc, ts.URL+"/api/v1/treatments", fmt.Sprintf(`{"patient_id":%q,"protocol_version_id":%q,"intent":"curative","start_date":%q}`, pid, version, today), &tr); err != nil {
			t.Fatal(err)
		}
		if err := post(nurse, ts.URL+"/api/v1/treatments/"+string(tr.ID)+"/prescriptions", fmt.Sprintf(`{"cycle":1,"start_date":%q}`, today), nil); err == nil || !strings.Contains(err.Error(), "403") {
			t.Fatalf("a nurse prescribed: %v", err)
		}
		var p relais.Prescription
		if err := post(doc, ts.URL+"/api/v1/treatments/"+string(tr.ID)+"/prescriptions", fmt.Sprintf(`{"cycle":1,"start_date":%q}`, today), &p); err != nil {
			t.Fatal(err)
		}
		// Height 165 cm, weight 62 kg: Mosteller √(165 × 62 / 3600) = √2.8417 = 1.6857 m²;
		// drug-00 at 50 mg/m² gives 84.29 mg, shown to a tenth: 84.3 mg (docs/calc.md).
		if l := p.Lines[0]; l.INN != "drug-00" || l.Dose != 84.3 || len(l.Calculation.Steps) == 0 {
			t.Fatalf("line 1 = %s %v %s with %d steps", l.INN, l.Dose, l.Unit, len(l.Calculation.Steps))
		}
		if err := post(doc, ts.URL+"/api/v1/prescriptions/"+string(p.ID)+"/sign", "", &p); err != nil || p.Status != relais.PrescriptionSigned {
			t.Fatalf("sign: %v", err)
		}
		if err := post(doc, ts.URL+"/api/v1/prescriptions/"+string(p.ID)+"/sign", "", nil); err == nil || !strings.Contains(err.Error(), "409") {
			t.Fatalf("second signature: %v; want 409", err)
		}
		if err := post(doc, ts.URL+"/api/v1/prescriptions/"+string(p.ID)+"/ok-to-treat", `{"day":1}`, &p); err != nil {
			t.Fatal(err)
		}
		var day relais.ValidateLinesRequest
		for _, l := range p.Lines {
			day.Lines = append(day.Lines, relais.LineDecision{LineID: l.ID, ValidateLineRequest: relais.ValidateLineRequest{Decision: relais.DecisionAccept}})
		}
		body, _ := json.Marshal(day)
		if err := post(doc, ts.URL+"/api/v1/prescriptions/"+string(p.ID)+"/validate", string(body), nil); err == nil || !strings.Contains(err.Error(), "403") {
			t.Fatalf("a prescriber validated: %v", err)
		}
		if err := post(ph, ts.URL+"/api/v1/prescriptions/"+string(p.ID)+"/validate", string(body), &p); err != nil {
			t.Fatal(err)
		}
		for _, l := range p.Lines {
			if l.Status != relais.LineValidated || l.Validation.By == "" {
				t.Fatalf("line %s: %s", l.INN, l.Status)
			}
		}
		resp, err := doc.Get(ts.URL + "/api/v1/patients/" + string(pid) + "/history")
		if err != nil {
			t.Fatal(err)
		}
		var h relais.History
		json.NewDecoder(resp.Body).Decode(&h)
		resp.Body.Close()
		if len(h.Prescriptions) != 1 || len(h.Treatments) != 1 || h.Treatments[0].Status != relais.TreatmentActive {
			t.Fatalf("history: %+v", h)
		}
	})
}
