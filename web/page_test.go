package web_test

import (
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/internal/testdb"
)

// Handler tests of the pages: what a user would check on each screen, in
// French and in English.

func contains(t *testing.T, what string, r response, want ...string) {
	t.Helper()
	for _, w := range want {
		// Text is compared as written or as html/template escapes it
		// (l'accueil → l&#39;accueil).
		if !strings.Contains(r.body, w) && !strings.Contains(r.body, template.HTMLEscapeString(w)) {
			t.Errorf("%s: the page does not show %q (status %d)", what, w, r.status)
		}
	}
}

func lacks(t *testing.T, what string, r response, unwanted ...string) {
	t.Helper()
	for _, w := range unwanted {
		if strings.Contains(r.body, w) || strings.Contains(r.body, template.HTMLEscapeString(w)) {
			t.Errorf("%s: the page shows %q, which it must not", what, w)
		}
	}
}

func today() relais.Date {
	return relais.Date(time.Now().In(relais.DisplayZone).Format(time.DateOnly))
}

func ddmmyyyy(d relais.Date) string {
	t, _ := time.Parse(time.DateOnly, string(d))
	return t.Format("02/01/2006")
}

func TestPagesInFrenchAndEnglish(t *testing.T) {
	f := newPageFixture(t, testdb.SQLite(t))
	pid, prid := string(f.patient.ID), string(f.protocol.ID)
	rx := string(f.cycle1.ID)
	cases := []struct {
		role   relais.Role
		path   string
		fr, en []string
	}{
		{relais.RolePrescriber, "/", []string{"Bonjour", "Cycles à prescrire", "LE GALL Jean-Pierre", "Mes patients"}, []string{"Hello", "Cycles to prescribe", "LE GALL Jean-Pierre"}},
		{relais.RolePharmacist, "/", []string{"Prescriptions à valider", "Alertes", "R-CHOP-21"}, []string{"Prescriptions to validate", "Alerts"}},
		{relais.RoleNurse, "/", []string{"Administrations du jour"}, []string{"Today's administrations"}},
		{relais.RoleTechnician, "/", []string{"Production du jour", "À préparer"}, []string{"Today's production", "To prepare"}},
		{relais.RolePharmAdmin, "/", []string{"4 médicaments au catalogue", "comptes sur ce site"}, []string{"4 drugs in the catalogue"}},
		{relais.RolePrescriber, "/patients?q=le+gall", []string{"LE GALL Jean-Pierre", "04/05/1958", "IPP-2001"}, []string{"LE GALL Jean-Pierre", "patient(s) found"}},
		{relais.RolePrescriber, "/patients/" + pid, []string{"Identité validée", "amoxicilline", "Historique des traitements", "Cycle 1", "Doses cumulées", "Limite 450 mg/m²", "il y a"},
			[]string{"Validated identity", "Treatment history", "Cumulative doses", "Limit 450 mg/m²", "ago"}},
		{relais.RolePrescriber, "/patients/" + pid + "/prescribe", []string{"Prescrire un cycle", "Calculer les doses", "R-CHOP-21 v1"}, []string{"Prescribe a cycle", "Compute the doses"}},
		{relais.RolePrescriber, "/prescriptions/" + rx, []string{"Cycle 1", "Signée", "Détail du calcul", "100 mg", "Feu vert donné"}, []string{"Signed", "How it was computed", "100 mg", "OK-to-treat given"}},
		{relais.RolePharmacist, "/prescriptions/" + rx + "/validation", []string{"Validation pharmaceutique", "Éléments de la prescription", "Derniers résultats", "Doses cumulées"},
			[]string{"Pharmaceutical validation", "Order elements", "Latest results", "Cumulative doses"}},
		{relais.RolePharmacist, "/validation", []string{"Prescriptions à valider"}, []string{"Prescriptions to validate"}},
		{relais.RolePharmacist, "/protocols", []string{"R-CHOP-21", "Active", "Brouillon"}, []string{"R-CHOP-21", "Active", "Draft"}},
		{relais.RolePharmacist, "/protocols/" + prid, []string{"Versions", "Comparer deux versions"}, []string{"Compare two versions"}},
		{relais.RolePharmacist, "/protocols/" + prid + "/versions/1", []string{"doxorubicine", "50 mg/m²", "Critères du feu vert", "Approuvée et activée"}, []string{"OK-to-treat criteria", "Approved and activated"}},
		{relais.RolePharmAdmin, "/catalogue", []string{"doxorubicine", "Anthracyclines", "NaCl 0.9%"}, []string{"Anthracyclines", "Diluents"}},
		{relais.RolePharmAdmin, "/users", []string{"Prescripteur", "Infirmier·ère"}, []string{"Prescriber", "Nurse"}},
		{relais.RoleTechnician, "/production", []string{"Production", "À préparer", "Imprimer les documents du jour"}, []string{"Production", "To prepare", "Print the day"}},
		{relais.RoleTechnician, "/leftovers", []string{"Reliquats en isolateur"}, []string{"Leftover vials in the isolator"}},
		{relais.RolePharmacist, "/slips", []string{"Livraisons", "Bordereaux du jour"}, []string{"Deliveries", "Slips of the day"}},
		{relais.RoleNurse, "/patients/" + pid + "/administration", []string{"Administrations", "Imprimer le plan"}, []string{"Administrations", "Print the administration plan"}},
	}
	for _, c := range cases {
		for _, lang := range []string{"fr", "en"} {
			cl := f.as(t, c.role)
			cl.lang = lang
			r := cl.get(c.path)
			what := string(c.role) + " " + c.path + " (" + lang + ")"
			if r.status != http.StatusOK {
				t.Errorf("%s: status %d; body: %.300s", what, r.status, r.body)
				continue
			}
			if ct := r.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("%s: content type %q", what, ct)
			}
			if !strings.Contains(r.body, `<html lang="`+lang+`">`) {
				t.Errorf("%s: the page is not in %s", what, lang)
			}
			want := c.fr
			if lang == "en" {
				want = c.en
			}
			contains(t, what, r, want...)
			// A text missing from a catalog shows as its key: none may.
			if m := untranslated.FindString(r.body); m != "" {
				t.Errorf("%s: untranslated key %q", what, m)
			}
		}
	}
}

// untranslated matches a catalog key left in a page ("col.dose").
var untranslated = regexp.MustCompile(`>\s*(?:col|field|home|nav|patient|cycle|status|level|dose|measure|cumul|validation|prescription|sign|oktt|error|diff|version|notes|search|flash|event|role|intent|kind|class|trend|time|include|prescribe|queue|catalogue|users|protocol|protocols|allergy|severity|ins|change|transition|prep|board|slips|slip|leftovers|admin|job|import|production|mode|round|outcome|incident|container|control)\.[a-z_.]+\s*<`)

func TestDosesAndDerivationOnThePrescription(t *testing.T) {
	f := newPageFixture(t, testdb.SQLite(t))
	r := f.as(t, relais.RolePrescriber).get("/prescriptions/" + string(f.cycle1.ID))
	// Coiffier 2002 at BSA 2 m²: 50 × 2 = 100 mg, 750 × 2 = 1500 mg,
	// 375 × 2 = 750 mg; vincristine 1.4 × 2 = 2.8 mg, capped at 2 mg.
	for inn, dose := range map[string]string{"doxorubicine": "100 mg", "cyclophosphamide": "1500 mg", "rituximab": "750 mg", "vincristine": "2 mg"} {
		re := regexp.MustCompile(`(?s)<th scope="row">` + inn + `.*?<strong class="num">([^<]+)</strong>`)
		m := re.FindStringSubmatch(r.body)
		if m == nil || m[1] != dose {
			t.Errorf("%s: dose shown %v, want %s", inn, m, dose)
		}
	}
	contains(t, "prescription", r, "2 m²", "<details class=\"derivation\"><summary>Détail du calcul</summary>", `class="steps"`)
	// The derivation of vincristine shows the cap.
	vin := r.body[strings.Index(r.body, `<th scope="row">vincristine`):]
	vin = vin[:strings.Index(vin, "</tr>")]
	if !strings.Contains(vin, "2,8") {
		t.Errorf("vincristine's derivation does not show the 2.8 mg computed before the cap: %s", vin)
	}
	// Used measurements are shown with their dates (DD/MM/YYYY HH:MM).
	if !regexp.MustCompile(`180 cm <span class="small muted">\(\d\d/\d\d/\d{4} \d\d:\d\d\)`).MatchString(r.body) {
		t.Errorf("the height used is not shown with its date")
	}
}

func TestPrescribeSignValidateThroughPages(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		f := newPageFixture(t, dsn)
		doc := f.as(t, relais.RolePrescriber)
		tid := string(f.treatment.ID)

		// A cycle number that is not a number is refused beside its field.
		r := doc.post("/treatments/"+tid+"/prescriptions", url.Values{"cycle": {"deux"}, "start_date": {string(today())}})
		if r.status != http.StatusUnprocessableEntity {
			t.Fatalf("cycle 'deux': %d", r.status)
		}
		contains(t, "bad cycle", r, "Impossible d'enregistrer", "le cycle est un nombre entier à partir de 1", `id="err-prescribe-`+tid+`-cycle"`)

		r = doc.post("/treatments/"+tid+"/prescriptions", url.Values{"cycle": {"2"}, "start_date": {string(today())}})
		if r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/prescriptions/") {
			t.Fatalf("prescribe: %d %q %.300s", r.status, r.location, r.body)
		}
		rx := strings.TrimPrefix(strings.SplitN(r.location, "?", 2)[0], "/prescriptions/")
		page := doc.get(r.location)
		contains(t, "draft", page, "Doses calculées", "Brouillon", "100 mg", "Signer la prescription")
		pr, err := f.db.Prescription(actorCtx(relais.User{Role: relais.RoleSystem}), relais.ID(rx))
		if err != nil {
			t.Fatal(err)
		}
		var doxo relais.PrescriptionLine
		for _, l := range pr.Lines {
			if l.INN == "doxorubicine" {
				doxo = l
			}
		}

		// A dose change without a reason: refused, in French, beside the field.
		mod := "/prescriptions/" + rx + "/lines/" + string(doxo.ID) + "/modify"
		r = doc.post(mod, url.Values{"mode": {"percent"}, "amount": {"-25"}, "reason": {""}})
		if r.status != http.StatusUnprocessableEntity {
			t.Fatalf("modify without reason: %d", r.status)
		}
		contains(t, "modify without reason", r, `id="err-modify-`+string(doxo.ID)+`-reason"`, "une modification de dose demande un motif")
		// With a reason: 100 mg − 25 % = 75 mg.
		r = doc.post(mod, url.Values{"mode": {"percent"}, "amount": {"-25"}, "reason": {"FEVG 45 %"}})
		if r.status != http.StatusSeeOther {
			t.Fatalf("modify: %d %.300s", r.status, r.body)
		}
		page = doc.get("/prescriptions/" + rx)
		contains(t, "modified", page, "75 mg", "calculée : 100", "FEVG 45 %")

		// Sign, if nothing blocks (fresh weight, no allergy to these drugs).
		for _, c := range pr.Blocking() {
			r = doc.post("/prescriptions/"+rx+"/acknowledge", url.Values{"code": {c.Code}, "line_id": {string(c.LineID)}, "reason": {"Vu"}})
			if r.status != http.StatusSeeOther {
				t.Fatalf("acknowledge %s: %d", c.Code, r.status)
			}
		}
		r = doc.post("/prescriptions/"+rx+"/sign", url.Values{})
		if r.status != http.StatusSeeOther {
			t.Fatalf("sign: %d %.500s", r.status, r.body)
		}
		r = doc.post("/prescriptions/"+rx+"/ok-to-treat", url.Values{"day": {"1"}})
		if r.status != http.StatusSeeOther {
			t.Fatalf("OK-to-treat: %d %.500s", r.status, r.body)
		}
		page = doc.get("/prescriptions/" + rx)
		contains(t, "signed", page, "Signée", "Feu vert de "+fixtureNames[relais.RolePrescriber])

		// The nurse sees today's lines.
		contains(t, "nurse home", f.as(t, relais.RoleNurse).get("/"), "LE GALL Jean-Pierre", "doxorubicine", "75 mg")

		// The pharmacist: the previous cycle beside this one, then decisions.
		ph := f.as(t, relais.RolePharmacist)
		page = ph.get("/prescriptions/" + rx + "/validation")
		contains(t, "validation", page, "Comparées au cycle 1", "-25 %", "Lignes à décider")
		val := "/prescriptions/" + rx + "/lines/" + string(doxo.ID) + "/validate"
		r = ph.post(val, url.Values{"decision": {"refuse"}}, "HX-Request", "true")
		if r.status != http.StatusUnprocessableEntity {
			t.Fatalf("refuse without comment: %d", r.status)
		}
		contains(t, "refuse without comment", r, "dites pourquoi la ligne est refusée", `id="vline-`+string(doxo.ID)+`"`)
		lacks(t, "htmx answer", r, "<html")
		r = ph.post(val, url.Values{"decision": {"accept_with_intervention"}, "intervention": {"Réduction vérifiée"}}, "HX-Request", "true")
		if r.status != http.StatusOK {
			t.Fatalf("accept with intervention: %d %.300s", r.status, r.body)
		}
		contains(t, "accepted", r, "Validée", "Réduction vérifiée", `id="remaining" hx-swap-oob="true">3<`)
		for _, l := range pr.Lines {
			if l.ID == doxo.ID {
				continue
			}
			r = ph.post("/prescriptions/"+rx+"/lines/"+string(l.ID)+"/validate", url.Values{"decision": {"accept"}})
			if r.status != http.StatusSeeOther {
				t.Fatalf("accept %s: %d", l.INN, r.status)
			}
		}
		page = ph.get("/prescriptions/" + rx + "/validation")
		contains(t, "all validated", page, `<strong id="remaining">0</strong>`)
		lacks(t, "all validated", page, `name="decision"`)
		contains(t, "technician home", f.as(t, relais.RoleTechnician).get("/"), "doxorubicine", "75 mg")

		// The history shows the cycle's events, and the chart its dose:
		// 50 mg/m² (cycle 1) + 75 mg / 2 m² = 87.5 mg/m².
		page = doc.get("/patients/" + string(f.patient.ID))
		contains(t, "history", page, "Cycle 2", "Dose modifiée", "Ligne validée avec intervention", "87,5 mg/m²")
	})
}

func TestPatientPage(t *testing.T) {
	f := newPageFixture(t, testdb.SQLite(t))
	doc := f.as(t, relais.RolePrescriber)
	path := "/patients/" + string(f.patient.ID)
	r := doc.get(path)
	contains(t, "identity", r, "Le Gall", "Jean-Pierre", "04/05/1958", "IPP-2001", "Identité validée")
	// The weight is 80 kg now as 22 days ago: stable, said in words too.
	contains(t, "trend", r, `<span class="sr">stable</span>`, "(avant : 80)")
	// Chart: cycle 1 gave 100 mg / 2 m² = 50 mg/m², under the 450 limit.
	contains(t, "chart", r, "<svg", `class="limit"`, "Cumul actuel : 50 mg/m².", "Limite : 450 mg/m².")

	// A measurement that is not a number is refused in French beside its field.
	r = doc.post(path+"/measurements", url.Values{"kind": {"weight_kg"}, "value": {"quatre-vingts"}, "measured_at": {time.Now().In(relais.DisplayZone).Format("2006-01-02T15:04")}})
	if r.status != http.StatusUnprocessableEntity {
		t.Fatalf("bad value: %d", r.status)
	}
	contains(t, "bad value", r, "ce n'est pas un nombre", `id="err-measurement-value"`, `aria-invalid="true"`, `value="quatre-vingts"`)
	r = doc.post(path+"/measurements", url.Values{"kind": {"weight_kg"}, "value": {"79,5"}, "measured_at": {time.Now().In(relais.DisplayZone).Add(-time.Minute).Format("2006-01-02T15:04")}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("measurement: %d %.400s", r.status, r.body)
	}
	r = doc.get(r.location)
	contains(t, "after measurement", r, "Mesure enregistrée", "79,5 kg", `<span class="sr">en baisse</span>`)

	// A note, then its correction: the correction shows, the first version
	// struck through.
	r = doc.post(path+"/notes", url.Values{"text": {"Bonne tolérance du cycle 1"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("note: %d", r.status)
	}
	notes, err := f.db.Notes(actorCtx(relais.User{Role: relais.RoleSystem}), f.patient.ID, relais.NoteFilter{})
	if err != nil || len(notes) != 1 {
		t.Fatalf("notes: %v %v", notes, err)
	}
	r = doc.post(path+"/notes", url.Values{"text": {"Bonne tolérance du cycle 1, nausées grade 1"}, "corrects": {string(notes[0].Note.ID)}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("correction: %d %.300s", r.status, r.body)
	}
	r = doc.get(path)
	contains(t, "correction", r, "nausées grade 1", "<del>Bonne tolérance du cycle 1</del>", "corrigée")

	// An allergy without a substance: refused beside its field.
	r = doc.post(path+"/allergies", url.Values{"substance": {""}, "severity": {"severe"}})
	if r.status != http.StatusUnprocessableEntity {
		t.Fatalf("allergy: %d", r.status)
	}
	contains(t, "allergy", r, "nommez la substance", `id="err-allergy-substance"`)
}

func TestPatientSearchIsTolerant(t *testing.T) {
	f := newPageFixture(t, testdb.SQLite(t))
	doc := f.as(t, relais.RolePrescriber)
	for q, want := range map[string]string{
		"le-gall":     "LE GALL Jean-Pierre",
		"LE GALL":     "LE GALL Jean-Pierre",
		"legall":      "LE GALL Jean-Pierre",
		"noel muller": "NOËL-MÜLLER Zoé",
		"NOËL-müller": "NOËL-MÜLLER Zoé",
		"12/03/2015":  "NOËL-MÜLLER Zoé",
		"IPP-2002":    "NOËL-MÜLLER Zoé",
	} {
		r := doc.get("/patients?q=" + url.QueryEscape(q))
		if !strings.Contains(r.body, want) {
			t.Errorf("search %q does not find %s", q, want)
		}
	}
	// htmx asks for the results alone.
	r := doc.do("GET", "/patients?q=legall", nil, "HX-Request", "true")
	contains(t, "htmx search", r, `id="results"`, "LE GALL Jean-Pierre")
	lacks(t, "htmx search", r, "<html")
	// Nothing found says what to try.
	contains(t, "no match", doc.get("/patients?q=zzzz"), "Aucun patient ne correspond")
}

func TestSignInNeededAndRolesEnforced(t *testing.T) {
	f := newPageFixture(t, testdb.SQLite(t))
	r := f.as(t, "").get("/patients/" + string(f.patient.ID))
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/login?next=%2Fpatients%2F") {
		t.Errorf("anonymous: %d %q; want a redirect to the sign-in page", r.status, r.location)
	}
	nurse := f.as(t, relais.RoleNurse)
	r = nurse.get("/validation")
	if r.status != http.StatusForbidden {
		t.Fatalf("nurse on /validation: %d", r.status)
	}
	contains(t, "forbidden", r, "Action non autorisée", "Infirmier·ère", "Revenir à l'accueil")
	r = nurse.post("/treatments/"+string(f.treatment.ID)+"/prescriptions", url.Values{"cycle": {"2"}, "start_date": {string(today())}})
	if r.status != http.StatusForbidden {
		t.Errorf("nurse prescribing: %d", r.status)
	}
}

func TestErrorPages(t *testing.T) {
	f := newPageFixture(t, testdb.SQLite(t))
	doc := f.as(t, relais.RolePrescriber)
	r := doc.get("/nowhere")
	if r.status != http.StatusNotFound {
		t.Fatalf("/nowhere: %d", r.status)
	}
	contains(t, "404", r, "Introuvable", "Revenez à l'accueil")
	doc.lang = "en"
	contains(t, "404 en", doc.get("/nowhere"), "Not found")
	doc.lang = "fr"
	for _, p := range []string{"/patients/not-an-id", "/prescriptions/" + string(relais.NewID()), "/protocols/" + string(f.protocol.ID) + "/versions/99"} {
		r = doc.get(p)
		if r.status != http.StatusNotFound {
			t.Errorf("%s: %d", p, r.status)
		}
		contains(t, p, r, "Introuvable")
		lacks(t, p, r, "prescription.get", "sql", "goroutine")
	}
	// A transition the circuit refuses (signing a signed cycle) says why,
	// in a page, not as JSON.
	r = doc.post("/prescriptions/"+string(f.cycle1.ID)+"/sign", url.Values{})
	if r.status != http.StatusUnprocessableEntity {
		t.Fatalf("signing twice: %d", r.status)
	}
	contains(t, "sign twice", r, "Impossible d'enregistrer", "only a draft can be signed")
	// The API keeps answering problems as JSON.
	r = doc.get("/api/v1/nowhere")
	if r.status != http.StatusNotFound || !strings.Contains(r.header.Get("Content-Type"), "problem+json") {
		t.Errorf("/api/v1/nowhere: %d %s", r.status, r.header.Get("Content-Type"))
	}
}

func TestProtocolPages(t *testing.T) {
	f := newPageFixture(t, testdb.SQLite(t))
	ph := f.as(t, relais.RolePharmacist)
	id := string(f.protocol.ID)
	r := ph.get("/protocols/" + id + "/diff?from=1&to=2")
	contains(t, "diff", r, "1 différence(s)", "cycles › count", "<del>8</del>", "<ins>6</ins>")
	// The draft: its editor, and the lifecycle buttons its status allows.
	r = ph.get("/protocols/" + id + "/versions/2")
	contains(t, "draft", r, "Modifier le brouillon", `value="in_test"`, "Soumettre au test")
	lacks(t, "draft", r, `value="active"`)
	// An edit with broken JSON is refused, and the text typed is kept.
	r = ph.post("/protocols/"+id+"/versions/2/content", url.Values{"revision": {"1"}, "content": {`{"cycles": `}})
	if r.status != http.StatusUnprocessableEntity {
		t.Fatalf("bad JSON: %d", r.status)
	}
	contains(t, "bad JSON", r, "Impossible d'enregistrer", `{&#34;cycles&#34;: </textarea>`)
	r = ph.post("/protocols/"+id+"/versions/2/transition", url.Values{"to": {"in_test"}, "comment": {"À tester"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("submit for test: %d %.300s", r.status, r.body)
	}
	contains(t, "in test", ph.get(r.location), "Statut de la version changé", "En test", "À tester")
	// A nurse reads protocols but has no lifecycle buttons.
	contains(t, "nurse", f.as(t, relais.RoleNurse).get("/protocols/"+id+"/versions/2"), "En test")
	lacks(t, "nurse", f.as(t, relais.RoleNurse).get("/protocols/"+id+"/versions/2"), `name="to"`)
}

func TestLanguageChoiceSticks(t *testing.T) {
	f := newPageFixture(t, testdb.SQLite(t))
	doc := f.as(t, relais.RolePrescriber)
	r := doc.get("/?lang=en")
	contains(t, "?lang=en", r, `<html lang="en">`, "Hello")
	// No Accept-Language: the cookie decides.
	doc.lang = ""
	contains(t, "cookie", doc.get("/patients"), `<html lang="en">`)
	contains(t, "back to French", doc.get("/patients?lang=fr"), `<html lang="fr">`, "Rechercher un patient")
}

func TestAssetsAreEmbedded(t *testing.T) {
	f := newPageFixture(t, testdb.SQLite(t))
	c := f.as(t, "")
	for _, p := range []string{"/static/relais.css", "/static/htmx.min.js"} {
		r := c.get(p)
		if r.status != http.StatusOK || len(r.body) < 1000 {
			t.Errorf("%s: %d, %d bytes", p, r.status, len(r.body))
		}
	}
	// No page loads anything from another host, and none has inline script.
	r := f.as(t, relais.RolePrescriber).get("/patients/" + string(f.patient.ID))
	if m := regexp.MustCompile(`(?:src|href)="(?:https?:)?//`).FindString(r.body); m != "" {
		t.Errorf("the page loads from another host: %s", m)
	}
	if m := regexp.MustCompile(`<script(?:[^>]*)>[^<]+</script>`).FindString(r.body); m != "" {
		t.Errorf("inline script, which the CSP forbids: %s", m)
	}
}
