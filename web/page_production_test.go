package web_test

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/internal/testdb"
)

// The pharmacy chain through its pages: the technician issues the
// worksheet and records the vials, a second person checks, the pharmacist
// releases and makes the delivery slip, the nurse records what was given
// after the bedside scan.
func TestProductionThroughPages(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		f := newPageFixture(t, dsn)
		rx := f.cycle2(t)
		sys := f.actor(t, relais.RolePharmacist)
		preps, err := f.db.Preparations(sys, relais.PreparationFilter{PatientID: f.patient.ID, Date: today()})
		if err != nil {
			t.Fatal(err)
		}
		var doxo relais.Preparation
		for _, p := range preps {
			if p.INN == "doxorubicine" {
				doxo = p
			}
		}
		if doxo.ID == "" {
			t.Fatalf("no doxorubicin preparation among %d", len(preps))
		}
		path := "/preparations/" + string(doxo.ID)
		tech := f.as(t, relais.RoleTechnician)
		contains(t, "board", tech.get("/production"), "À préparer", "doxorubicine 100 mg", "LE GALL Jean-Pierre")

		// 100 mg at 2 mg/mL (doxorubicin 50 mg/25 mL) is 50 mL: two whole
		// 25 mL vials.
		r := tech.get(path)
		contains(t, "proposal", r, "Proposition de fabrication", "Doxorubicine 50 mg/25 mL", "25 mL", "flacon entier", "Éditer la fiche de fabrication")
		r = tech.post(path+"/worksheet", url.Values{})
		if r.status != http.StatusSeeOther {
			t.Fatalf("worksheet: %d %.300s", r.status, r.body)
		}
		r = tech.get(r.location)
		contains(t, "issued", r, "Fiche de fabrication éditée", "Fiche éditée", "worksheet.pdf", "label.pdf", "Enregistrer la fabrication")
		number := regexp.MustCompile(`<span class="mono">(\d{4}-\d+)</span>`).FindStringSubmatch(r.body)
		if number == nil {
			t.Fatalf("no register number on the page")
		}
		// The record form as the page gives it, vial lots preselected.
		form := formValues(t, r.body, path+"/production")
		if form.Get("vials") != "2" {
			t.Fatalf("the record form has %q vials, want 2", form.Get("vials"))
		}
		bad := cloneValues(form)
		bad.Set("vial0_volume_ml", "vingt-cinq")
		r = tech.post(path+"/production", bad)
		if r.status != http.StatusUnprocessableEntity {
			t.Fatalf("a volume that is not a number: %d", r.status)
		}
		contains(t, "bad volume", r, "ce n'est pas un nombre", `value="vingt-cinq"`)
		r = tech.post(path+"/production", form)
		if r.status != http.StatusSeeOther {
			t.Fatalf("record: %d %.500s", r.status, r.body)
		}
		contains(t, "prepared", tech.get(r.location), "Fabrication enregistrée", "Contrôle conforme", "Valider le double contrôle")

		// Whoever prepared it cannot check it.
		r = tech.post(path+"/check", url.Values{})
		if r.status != http.StatusForbidden {
			t.Fatalf("self-check: %d", r.status)
		}
		contains(t, "self-check", r, "second person")
		ph := f.as(t, relais.RolePharmacist)
		if r = ph.post(path+"/check", url.Values{"comment": {"Étiquette et volumes vérifiés"}}); r.status != http.StatusSeeOther {
			t.Fatalf("check: %d %.300s", r.status, r.body)
		}
		contains(t, "pharmacist home", ph.get("/"), "Préparations à libérer", "doxorubicine 100 mg")
		r = ph.post(path+"/release", url.Values{"indication_code": {"I12"}})
		if r.status != http.StatusUnprocessableEntity {
			t.Fatalf("release with a malformed indication code: %d", r.status)
		}
		if r = ph.post(path+"/release", url.Values{}); r.status != http.StatusSeeOther {
			t.Fatalf("release: %d %.300s", r.status, r.body)
		}
		contains(t, "released", ph.get(r.location), "Préparation libérée", "Libérée")

		// The delivery slip.
		r = ph.post("/slips", url.Values{"round_date": {string(today())}, "round": {"morning"}, "ward": {""}, "preparation_ids": {string(doxo.ID)}})
		if r.status != http.StatusUnprocessableEntity {
			t.Fatalf("slip without a ward: %d", r.status)
		}
		contains(t, "slip without ward", r, `id="err-slip-ward"`)
		r = ph.post("/slips", url.Values{"round_date": {string(today())}, "round": {"morning"}, "ward": {"Hématologie 3e"}, "preparation_ids": {string(doxo.ID)}})
		if r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/slips/") {
			t.Fatalf("slip: %d %q %.300s", r.status, r.location, r.body)
		}
		slipPath := strings.SplitN(r.location, "?", 2)[0]
		contains(t, "slip", ph.get(slipPath), "Hématologie 3e", "LE GALL Jean-Pierre", number[1], "slip.pdf")

		// The nurse: her home by ward, then the bedside record.
		nurse := f.as(t, relais.RoleNurse)
		contains(t, "nurse home", nurse.get("/"), "Hématologie 3e", "LE GALL Jean-Pierre")
		admin := "/patients/" + string(f.patient.ID) + "/administration"
		contains(t, "plan", nurse.get(admin), "doxorubicine 100 mg", "Code de l&#39;étiquette", "Enregistrer l&#39;administration")
		now := time.Now().In(relais.DisplayZone)
		record := url.Values{"scanned_label": {relais.PreparationCode(doxo.ID)}, "patient_ipp": {"IPP-9999"},
			"started_at": {now.Add(-20 * time.Minute).Format("2006-01-02T15:04")}, "ended_at": {now.Add(-5 * time.Minute).Format("2006-01-02T15:04")},
			"volume_given_ml": {"50"}}
		r = nurse.post("/preparations/"+string(doxo.ID)+"/administration", record)
		if r.status != http.StatusConflict && r.status != http.StatusUnprocessableEntity {
			t.Fatalf("wrong wristband: %d", r.status)
		}
		contains(t, "wrong wristband", r, "DISCORDANCE : n'administrez pas", "IPP-9999")
		record.Set("patient_ipp", f.patient.IPP)
		if r = nurse.post("/preparations/"+string(doxo.ID)+"/administration", record); r.status != http.StatusSeeOther {
			t.Fatalf("administration: %d %.500s", r.status, r.body)
		}
		contains(t, "given", nurse.get(r.location), "Administration enregistrée", "Administrée")
		// The history shows the dose given beside the dose planned.
		hist := f.as(t, relais.RolePrescriber).get("/patients/" + string(f.patient.ID))
		if !regexp.MustCompile(`(?s)<th scope="row">doxorubicine</th>.*?100 mg</span> <span class="badge b-ok"><span aria-hidden="true">✔</span> Administrée`).MatchString(hist.body) {
			t.Errorf("the history does not show doxorubicin 100 mg given")
		}
		_ = rx
	})
}

func TestLongWorkShowsItsProgress(t *testing.T) {
	f := newPageFixture(t, testdb.SQLite(t))
	f.cycle2(t)
	ph := f.as(t, relais.RolePharmacist)
	preps, err := f.db.Preparations(f.actor(t, relais.RolePharmacist), relais.PreparationFilter{Date: today()})
	if err != nil || len(preps) == 0 {
		t.Fatalf("preparations: %v %v", preps, err)
	}
	for _, p := range preps {
		if p.Mode == relais.ModeCompounded {
			if r := ph.post("/preparations/"+string(p.ID)+"/worksheet", url.Values{}); r.status != http.StatusSeeOther {
				t.Fatalf("worksheet %s: %d", p.INN, r.status)
			}
		}
	}
	r := ph.post("/production/documents", url.Values{"date": {string(today())}})
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/jobs/") {
		t.Fatalf("start: %d %q", r.status, r.location)
	}
	job := r.location
	deadline := time.Now().Add(30 * time.Second)
	for {
		r = ph.get(job)
		if strings.Contains(r.body, "Terminé en") || strings.Contains(r.body, "n&#39;a pas abouti") {
			break
		}
		contains(t, "running", r, "<progress", "En cours")
		if time.Now().After(deadline) {
			t.Fatalf("the job is not done after 30 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	contains(t, "done", r, "Ouvrir le document")
	file := ph.get(job + "/file")
	if file.header.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(file.body, "%PDF") {
		t.Errorf("the day's documents are not a PDF: %s %.20q", file.header.Get("Content-Type"), file.body)
	}
	// Another user cannot see the job.
	if r := f.as(t, relais.RoleTechnician).get(job); r.status != http.StatusNotFound {
		t.Errorf("someone else's job: %d", r.status)
	}

	// A protocol import, from a document exported here: a new draft of
	// R-CHOP-21 (version 3).
	doc, err := f.db.ExportVersion(f.actor(t, relais.RolePharmacist), f.protocol.Versions[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(doc)
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("document", "r-chop-21.json")
	fw.Write(body)
	mw.Close()
	req, _ := http.NewRequest("POST", f.ts.URL+"/protocols/import", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := ph.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("import: %d", resp.StatusCode)
	}
	job = resp.Header.Get("Location")
	for i := 0; i < 300; i++ {
		if r = ph.get(job); strings.Contains(r.body, "Terminé en") || strings.Contains(r.body, "n&#39;a pas abouti") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	contains(t, "import done", r, "Voir le résultat", "/protocols/"+string(f.protocol.ID)+"/versions/3")
}

// formValues reads the inputs and selected options of the form posting to
// action, as a browser would send them (checkboxes only when checked).
func formValues(t *testing.T, body, action string) url.Values {
	t.Helper()
	i := strings.Index(body, `action="`+action+`"`)
	if i < 0 {
		t.Fatalf("no form posting to %s", action)
	}
	form := body[i:]
	form = form[:strings.Index(form, "</form>")]
	v := url.Values{}
	attr := func(tag, name string) (string, bool) {
		m := regexp.MustCompile(`\s` + name + `="([^"]*)"`).FindStringSubmatch(tag)
		if m == nil {
			return "", false
		}
		return htmlUnescape(m[1]), true
	}
	for _, tag := range regexp.MustCompile(`<input[^>]*>`).FindAllString(form, -1) {
		name, ok := attr(tag, "name")
		if !ok {
			continue
		}
		typ, _ := attr(tag, "type")
		if (typ == "checkbox" || typ == "radio") && !strings.Contains(tag, " checked") {
			continue
		}
		val, _ := attr(tag, "value")
		if typ == "checkbox" && val == "" {
			val = "on"
		}
		v.Add(name, val)
	}
	for _, sel := range regexp.MustCompile(`(?s)<select[^>]*>.*?</select>`).FindAllString(form, -1) {
		name, _ := attr(sel[:strings.Index(sel, ">")+1], "name")
		if m := regexp.MustCompile(`<option value="([^"]*)" selected>`).FindStringSubmatch(sel); m != nil {
			v.Set(name, htmlUnescape(m[1]))
		} else if m := regexp.MustCompile(`<option value="([^"]*)"`).FindStringSubmatch(sel); m != nil {
			v.Set(name, htmlUnescape(m[1]))
		}
	}
	return v
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&#34;", `"`, "&#39;", "'", "&amp;", "&", "&lt;", "<", "&gt;", ">").Replace(s)
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}
