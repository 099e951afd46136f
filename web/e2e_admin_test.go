package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/internal/testdb"
)

// The administrators' pages and the production board by hood: what the
// pharmacy administrator, the IT administrator and the technician do with
// them, through the pages (handler tests on both engines), then in a real
// browser (chromedp, with axe-core on every new page).
//
// Clinical values: doxorubicin 2 mg/mL, vials of 10 mg/5 mL (SmPC
// Doxorubicine Accord 2 mg/mL, ANSM, 6.5); the ABVD regimen's doxorubicin
// 25 mg/m² on days 1 and 15 of a 28-day cycle (Bonadonna G et al., Cancer
// 1975;36:252–9). The sample patient of the protocol editor is 140 cm and
// 32 kg: Mosteller BSA √(140 × 32 / 3600) = 1.1155 m² (Mosteller RD, N Engl
// J Med 1987;317:1098; docs/calc.md gives 1.11554670205), so 25 mg/m² is
// 27.9 mg (27.888… rounded to a tenth from 10 mg up, docs/calc.md).

// fakeUCD is a fictitious UCD code with a valid check digit.
func fakeUCD(n int) string {
	s := fmt.Sprintf("34008%07d", n)
	return s + string(relais.EAN13CheckDigit(s))
}

// sectionOf returns the board section of hood name (its HTML up to the
// next section).
func sectionOf(t *testing.T, body, name string) string {
	t.Helper()
	i := strings.Index(body, ">"+name+" <")
	if i < 0 {
		i = strings.Index(body, ">"+name+"<")
	}
	if i < 0 {
		t.Fatalf("no board section %q", name)
	}
	rest := body[i:]
	if j := strings.Index(rest, "<section"); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

// rawKey is a catalog key shown instead of its text.
var rawKey = regexp.MustCompile(`\b(?:adm|ped|hoodboard|hoodkind|pform|stabcond)\.[a-z_]+`)

var prepOnBoard = regexp.MustCompile(`id="prep-([0-9a-f-]{36})"`)

func TestAdministrationPagesAndBoardByHood(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		f := newPageFixture(t, dsn)
		f.cycle2(t)
		admin := f.as(t, relais.RolePharmAdmin)

		// A drug with an unknown class is refused beside the field, in
		// French; then added.
		r := admin.post("/catalogue/drugs", url.Values{"inn": {"Bléomycine"}, "class": {""}})
		if r.status != http.StatusUnprocessableEntity {
			t.Fatalf("drug without class: %d", r.status)
		}
		contains(t, "drug refused", r, `id="err-drug-new-class"`, "Choisissez une classe dans la liste.", `value="Bléomycine"`)
		r = admin.post("/catalogue/drugs", url.Values{"inn": {"Bléomycine"}, "class": {"bleomycin"}, "cytotoxic": {"on"}})
		if r.status != http.StatusSeeOther {
			t.Fatalf("drug: %d %.300s", r.status, r.body)
		}
		contains(t, "catalogue", admin.get(r.location), "bléomycine", "Catalogue enregistré")

		// A product whose concentration does not match its strength and
		// volume, with a mistyped UCD: both refused, nothing written.
		var doxoID string
		drugs, err := f.db.Drugs(f.actor(t, relais.RolePharmAdmin))
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range drugs {
			if d.INN == "doxorubicine" {
				doxoID = string(d.ID)
			}
		}
		form := url.Values{"drug_id": {doxoID}, "brand": {"Doxorubicine Accord 2 mg/mL, flacon de 5 mL"}, "ucd": {"3400800000001"},
			"form": {"solution"}, "strength": {"10"}, "strength_unit": {"mg"}, "volume_ml": {"5"}, "concentration": {"20"},
			"liste_en_sus": {""}, "density_g_ml": {"1,01"}}
		r = admin.post("/catalogue/products", form)
		if r.status != http.StatusUnprocessableEntity {
			t.Fatalf("bad product: %d", r.status)
		}
		contains(t, "product refused", r, `id="err-product-ucd"`, `id="err-product-concentration"`, "Code UCD invalide", "incohérente")
		before, _ := f.db.Products(f.actor(t, relais.RolePharmAdmin), relais.ID(doxoID))
		form.Set("ucd", fakeUCD(4242))
		form.Set("concentration", "2")
		r = admin.post("/catalogue/products", form)
		if r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/catalogue/products/") {
			t.Fatalf("product: %d %q %.300s", r.status, r.location, r.body)
		}
		after, _ := f.db.Products(f.actor(t, relais.RolePharmAdmin), relais.ID(doxoID))
		if len(after) != len(before)+1 {
			t.Fatalf("products of doxorubicin: %d then %d", len(before), len(after))
		}
		productPath := strings.SplitN(strings.SplitN(r.location, "?", 2)[0], "#", 2)[0]
		// Stability without its source is refused; with it, listed.
		st := url.Values{"condition": {"after_opening"}, "storage": {"2-8°C"}, "duration_hours": {"28 j"}, "source": {""}}
		r = admin.post(productPath+"/stability", st)
		contains(t, "stability refused", r, `id="err-stability-source"`, `id="err-stability-duration_hours"`, "La source est obligatoire")
		st.Set("duration_hours", "672")
		st.Set("source", "RCP Doxorubicine Accord, 6.3")
		if r = admin.post(productPath+"/stability", st); r.status != http.StatusSeeOther {
			t.Fatalf("stability: %d %.300s", r.status, r.body)
		}
		contains(t, "product page", admin.get(productPath), "RCP Doxorubicine Accord, 6.3", "672 h", "Après ouverture")

		// A diluent with its bag volumes.
		if r = admin.post("/catalogue/diluents", url.Values{"name": {"G5%"}, "volumes_ml": {"50; 100; 250"}}); r.status != http.StatusSeeOther {
			t.Fatalf("diluent: %d %.300s", r.status, r.body)
		}
		contains(t, "diluents", admin.get("/catalogue"), "G5%", "50 mL, 100 mL, 250 mL")

		// The hoods of the site: an isolator and a cabinet; the same name
		// twice is refused.
		for _, h := range [][2]string{{"Isolateur 1", "isolator"}, {"Hotte PSM 2", "cabinet"}} {
			if r = admin.post("/catalogue/hoods", url.Values{"name": {h[0]}, "kind": {h[1]}, "active": {"on"}}); r.status != http.StatusSeeOther {
				t.Fatalf("hood %s: %d %.300s", h[0], r.status, r.body)
			}
		}
		r = admin.post("/catalogue/hoods", url.Values{"name": {"Isolateur 1"}, "kind": {"cabinet"}})
		contains(t, "duplicate hood", r, `id="err-hood-new-name"`)
		hoods, err := f.db.Hoods(f.actor(t, relais.RolePharmAdmin))
		if err != nil || len(hoods) != 2 {
			t.Fatalf("hoods = %v %v", hoods, err)
		}
		iso, psm := hoods[1], hoods[0] // active first, by name: Hotte…, Isolateur…
		if iso.Name != "Isolateur 1" {
			iso, psm = psm, iso
		}

		// The technician's board: one section per hood and the unassigned
		// ones; the doxorubicin starts unassigned.
		tech := f.as(t, relais.RoleTechnician)
		r = tech.get("/production")
		contains(t, "board", r, "Isolateur 1", "Hotte PSM 2", "Non attribuées", "À préparer")
		var doxo string
		for _, m := range prepOnBoard.FindAllStringSubmatch(sectionOf(t, r.body, "Non attribuées"), -1) {
			if p, err := f.db.Preparation(f.actor(t, relais.RoleTechnician), relais.ID(m[1])); err == nil && p.INN == "doxorubicine" {
				doxo = m[1]
			}
		}
		if doxo == "" {
			t.Fatal("the doxorubicin is not among the unassigned preparations")
		}
		day := string(today())
		r = tech.post("/preparations/"+doxo+"/hood", url.Values{"date": {day}, "hood_id": {string(iso.ID)}, "slot": {"09:15"}})
		if r.status != http.StatusSeeOther {
			t.Fatalf("assign: %d %.300s", r.status, r.body)
		}
		r = tech.get("/production?date=" + day)
		sec := sectionOf(t, r.body, "Isolateur 1")
		if !strings.Contains(sec, doxo) || !strings.Contains(sec, "09:15") {
			t.Fatalf("the doxorubicin is not at 09:15 in the isolator: %.800s", sec)
		}
		// Moving it to the cabinet needs a reason, said in French beside
		// the field.
		r = tech.post("/preparations/"+doxo+"/hood", url.Values{"date": {day}, "hood_id": {string(psm.ID)}, "slot": {"09:15"}})
		if r.status != http.StatusUnprocessableEntity {
			t.Fatalf("move without reason: %d", r.status)
		}
		contains(t, "move refused", r, `id="err-hood-`+doxo+`-reason"`, "indiquez le motif")
		r = tech.post("/preparations/"+doxo+"/hood", url.Values{"date": {day}, "hood_id": {string(psm.ID)}, "slot": {"10:00"}, "reason": {"isolateur en maintenance"}})
		if r.status != http.StatusSeeOther {
			t.Fatalf("move: %d %.300s", r.status, r.body)
		}
		if sec := sectionOf(t, tech.get("/production").body, "Hotte PSM 2"); !strings.Contains(sec, doxo) {
			t.Fatal("the doxorubicin did not move to the cabinet")
		}
		// A nurse cannot plan production.
		if r = f.as(t, relais.RoleNurse).post("/preparations/"+doxo+"/hood", url.Values{"hood_id": {string(iso.ID)}}); r.status != http.StatusForbidden {
			t.Fatalf("nurse assigning: %d", r.status)
		}

		// The IT administrator: an account created, its role changed,
		// disabled, and a reset link shown once.
		it := f.as(t, relais.RoleITAdmin)
		r = it.post("/users", url.Values{"username": {"prep.nouveau"}, "name": {"Léa Nouveau"}, "role": {""}})
		contains(t, "user refused", r, `id="err-user-new-role"`, "Choisissez un rôle")
		if r = it.post("/users", url.Values{"username": {"prep.nouveau"}, "name": {"Léa Nouveau"}, "role": {"technician"}}); r.status != http.StatusSeeOther {
			t.Fatalf("create user: %d %.300s", r.status, r.body)
		}
		users, _ := f.db.Users(f.actor(t, relais.RoleITAdmin))
		var lea relais.User
		for _, u := range users {
			if u.Username == "prep.nouveau" {
				lea = u
			}
		}
		if lea.Role != relais.RoleTechnician {
			t.Fatalf("created account = %+v", lea)
		}
		if r = it.post("/users/"+string(lea.ID)+"/role", url.Values{"role": {"pharmacist"}}); r.status != http.StatusSeeOther {
			t.Fatalf("role: %d", r.status)
		}
		r = it.post("/users/"+string(lea.ID)+"/reset", url.Values{})
		contains(t, "reset link", r, "Lien de réinitialisation pour Léa Nouveau", "/reset#")
		if r = it.post("/users/"+string(lea.ID)+"/disable", url.Values{}); r.status != http.StatusSeeOther {
			t.Fatalf("disable: %d", r.status)
		}
		if u, _ := f.db.UserByID(f.actor(t, relais.RoleITAdmin), lea.ID); u.Role != relais.RolePharmacist || !u.Disabled {
			t.Fatalf("after role change and disable: %+v", u)
		}

		// The protocol editor: a new protocol written field by field. A
		// line without its dose or days is refused beside its fields.
		ph := f.as(t, relais.RolePharmAdmin)
		contains(t, "editor", ph.get("/protocols/new"), "Nouveau protocole", `name="lines[0].dose.kind"`, "Patient exemple")
		proto := url.Values{"code": {"ABVD-FORM"}, "name": {"ABVD (formulaire)"}, "indication": {"Lymphome de Hodgkin"}, "population": {"adult"},
			"cycles.count": {"6"}, "cycles.length_days": {"28"}, "days": {"1, 15"},
			"lines[0].seq": {"1"}, "lines[0].kind": {"chemo"}, "lines[0].inn": {"doxorubicine"}, "lines[0].route": {"IV"},
			"lines[0].days": {"1, 15"}, "lines[0].dose.kind": {"per_m2"}, "lines[0].dose.dose": {"abc"}, "lines[0].dose.unit": {"mg"},
			"lines[0].vehicle": {"NaCl 0.9%"}, "lines[0].volume_ml": {"100"}, "lines[0].duration_min": {""},
			"source": {"Bonadonna G et al., Cancer 1975;36:252-9"}}
		r = ph.post("/protocols/new", proto)
		if r.status != http.StatusUnprocessableEntity {
			t.Fatalf("bad protocol: %d", r.status)
		}
		contains(t, "protocol refused", r, `id="err-editor-lines[0].dose.dose"`, "ce n&#39;est pas un nombre")
		proto.Set("lines[0].dose.dose", "25")
		r = ph.post("/protocols/new", proto)
		if r.status != http.StatusUnprocessableEntity {
			t.Fatalf("protocol without duration: %d", r.status)
		}
		contains(t, "duration refused", r, `id="err-editor-lines[0].duration_min"`, "Ligne 1 › Durée (min)", "Une ligne intraveineuse")
		// The live preview: 25 mg/m² for the 140 cm, 32 kg sample.
		proto.Set("lines[0].duration_min", "15")
		proto.Set("sample.height_cm", "140")
		proto.Set("sample.weight_kg", "32")
		r = ph.post("/protocols/editor/preview?i=0", proto, "HX-Request", "true")
		contains(t, "preview", r, "27,9 mg", `"kind":"per_m2"`)
		// A second line added in place, then the protocol saved.
		r = ph.post("/protocols/editor/line?i=1", url.Values{}, "HX-Request", "true")
		contains(t, "new line", r, `name="lines[1].dose.kind"`, `hx-swap-oob="true"`, `/protocols/editor/line?i=2`)
		r = ph.post("/protocols/new", proto)
		if r.status != http.StatusSeeOther {
			t.Fatalf("protocol: %d %.600s", r.status, r.body)
		}
		d, err := f.db.ProtocolByCode(f.actor(t, relais.RolePharmAdmin), "ABVD-FORM")
		if err != nil || len(d.Versions) != 1 || d.Versions[0].Status != relais.VersionDraft {
			t.Fatalf("protocol = %+v %v", d, err)
		}
		l := d.Versions[0].Content.Lines[0]
		if l.INN != "doxorubicine" || l.Dose.Kind != "per_m2" || l.Dose.Dose != 25 || l.DurationMin != 15 || len(l.Days) != 2 {
			t.Fatalf("line = %+v", l)
		}
		// Edited again: a criterion added, the draft saved with its revision.
		edit := fmt.Sprintf("/protocols/%s/versions/1/edit", d.ID)
		r = ph.get(edit)
		contains(t, "edit form", r, `name="lines[0].dose.kind"`, `value="Bonadonna G et al., Cancer 1975;36:252-9"`, "Enregistrer le brouillon")
		proto.Del("code")
		proto.Set("revision", fmt.Sprint(d.Versions[0].Revision))
		proto.Set("criteria[0].lab", "neutrophils")
		proto.Set("criteria[0].op", ">=")
		proto.Set("criteria[0].value", "1")
		proto.Set("criteria[0].unit", "G/L")
		if r = ph.post(edit, proto); r.status != http.StatusSeeOther {
			t.Fatalf("edit: %d %.600s", r.status, r.body)
		}
		v, _ := f.db.ProtocolVersionByNumber(f.actor(t, relais.RolePharmAdmin), d.ID, 1)
		if len(v.Content.Criteria) != 1 || v.Content.Criteria[0].Lab != "neutrophils" || v.Content.Criteria[0].Value != 1 {
			t.Fatalf("criteria = %+v", v.Content.Criteria)
		}

		// Every new page is written in both languages: no text key shows.
		for _, lang := range []string{"fr", "en"} {
			for _, c := range []struct {
				who  *pageClient
				path string
			}{{admin, "/catalogue"}, {admin, productPath}, {admin, "/catalogue/products/new"}, {it, "/users"},
				{ph, "/protocols/new"}, {ph, edit}, {tech, "/production"}} {
				c.who.lang = lang
				r := c.who.get(c.path + "?lang=" + lang)
				if r.status != http.StatusOK {
					t.Fatalf("%s %s: %d", lang, c.path, r.status)
				}
				if m := rawKey.FindString(r.body); m != "" {
					t.Errorf("%s %s shows the text key %q", lang, c.path, m)
				}
			}
		}
	})
}

// In a real browser: the pharmacy administrator adds a product and writes
// a protocol draft through the form (a line added in place by htmx, its
// dose previewed live); the technician sees the board by hood. axe-core
// checks every new page.
func TestAdministrationInTheBrowser(t *testing.T) {
	if chromiumPath() == "" {
		t.Skip("no Chromium found: install Debian's chromium (apt-get install chromium) or set RELAIS_CHROMIUM")
	}
	axe, err := os.ReadFile("testdata/axe.min.js")
	if err != nil {
		t.Fatal(err)
	}
	f := newPageFixture(t, testdb.SQLite(t))
	f.cycle2(t)
	b := newBrowser(t, f.ts.URL)
	b.bypassCSP()

	b.signIn(relais.RolePharmAdmin)
	b.open("/catalogue")
	b.audit("catalogue", string(axe))
	b.shot("catalogue")
	// Two hoods.
	for _, h := range []string{"Isolateur 1", "Hotte PSM 2"} {
		b.open("/catalogue")
		b.do("open the hood form", chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('details').forEach(d => d.open = true)`))
		b.fill("#hood-new-name", h)
		if h == "Hotte PSM 2" {
			b.do("choose cabinet", chromedp.SetValue(chromedp.CSS("#hood-new-kind"), "cabinet"))
		}
		b.submit(`form[action="/catalogue/hoods"] button[type="submit"]`)
		b.see("main", "Catalogue enregistré", h)
	}
	// A product of doxorubicin, through its form.
	b.submit(`a[href^="/catalogue/products/new"]`)
	b.see("main h1", "Nouvelle spécialité")
	b.audit("new product", string(axe))
	b.fill("#p-brand", "Doxorubicine Accord 2 mg/mL, flacon de 5 mL")
	b.fill("#p-ucd", fakeUCD(4343))
	b.fill("#p-strength", "10")
	b.fill("#p-volume_ml", "5")
	b.fill("#p-concentration", "20")
	if status := b.submitStatus(`form[action="/catalogue/products"] button[type="submit"]`); status != 422 {
		t.Errorf("a concentration of 20 mg/mL for 10 mg in 5 mL: status %d, want 422", status)
	}
	b.see("main", "incohérente")
	b.audit("refused product", string(axe))
	b.fill("#p-concentration", "2")
	b.submit(`form[action="/catalogue/products"] button[type="submit"]`)
	b.see("main", "Catalogue enregistré", "Doxorubicine Accord 2 mg/mL, flacon de 5 mL", "Aucune stabilité")
	b.audit("product", string(axe))
	b.shot("specialite")

	// A protocol draft through the form.
	b.open("/protocols")
	b.submit(`a[href="/protocols/new"]`)
	b.see("main h1", "Nouveau protocole")
	b.fill("#h-code", "ABVD-NAV")
	b.fill("#h-name", "ABVD (navigateur)")
	b.fill("#h-indication", "Lymphome de Hodgkin")
	b.fill("#c-count", "6")
	b.fill("#c-length", "28")
	b.fill("#c-days", "1, 15")
	b.do("line 1", chromedp.SetValue(chromedp.CSS("#l0-inn"), "doxorubicine"), chromedp.SetValue(chromedp.CSS("#l0-rk"), "per_m2"),
		chromedp.SetValue(chromedp.CSS("#l0-unit"), "mg"), chromedp.SetValue(chromedp.CSS("#l0-vehicle"), "NaCl 0.9%"))
	b.fill("#l0-days", "1, 15")
	b.fill("#l0-vol", "100")
	b.fill("#l0-dur", "15")
	b.fill("#l0-dose", "25")
	b.do("blur", chromedp.Evaluate[chromedp.Void](`document.getElementById('l0-dose').dispatchEvent(new Event('change', {bubbles: true}))`))
	b.do("wait for the preview", chromedp.Poll[chromedp.Void](`document.getElementById('preview-0').textContent.includes('27,9 mg')`, chromedp.WithPollingTimeout(10*time.Second)))
	// A second line, added in place.
	b.do("add a line", chromedp.Click(chromedp.CSS(`#add-line button`), chromedp.NodeVisible))
	b.do("wait for line 2", chromedp.Poll[chromedp.Void](`document.getElementById('line-1') !== null`, chromedp.WithPollingTimeout(10*time.Second)))
	b.audit("protocol editor", string(axe))
	b.shot("protocole-formulaire")
	// The second line is not wanted after all: removed in place.
	b.do("remove it", chromedp.Click(chromedp.CSS(`#line-1 button[name="remove"]`), chromedp.NodeVisible))
	b.do("wait for line 2 to go", chromedp.Poll[chromedp.Void](`document.getElementById('line-1') === null`, chromedp.WithPollingTimeout(10*time.Second)))
	b.submit(`#editor .buttons button.primary`)
	b.see("main h1", "ABVD-NAV")
	b.see("main", "Brouillon enregistré")
	b.signOut()

	// The technician: the board by hood.
	b.signIn(relais.RoleTechnician)
	b.open("/production")
	b.see("main", "Isolateur 1", "Hotte PSM 2", "Non attribuées")
	b.do("assign", chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('details').forEach(d => d.open = true)`))
	b.submit(`form[action$="/hood"] button[type="submit"]`)
	b.see("main", "Hotte enregistrée")
	b.audit("board by hood", string(axe))
	b.shot("production-hottes")
	b.signOut()

	b.signIn(relais.RoleITAdmin)
	b.open("/users")
	b.audit("users", string(axe))
	b.shot("utilisateurs")
}
