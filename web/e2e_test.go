package web_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/internal/testdb"
)

// End-to-end: Debian's Chromium, driven through chromedp, against a real
// server on a temporary database. The circuit is walked through the pages
// only, as people walk it: a prescriber prescribes and signs a cycle and
// gives its OK-to-treat, a pharmacist validates it line by line, and the
// technician and the nurse find it on their home pages. The screenshots of
// the main pages go to docs/guide/img/ (the user guide shows them).
//
// The test skips only when no Chromium is installed (.ci/run installs
// Debian's); RELAIS_CHROMIUM names another browser binary.

// chromiumPath finds a Chromium to drive.
func chromiumPath() string {
	if p := os.Getenv("RELAIS_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// browser is one headless Chromium with one tab, against base.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string
}

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		t.Skip("no Chromium found: install Debian's chromium (apt-get install chromium) or set RELAIS_CHROMIUM")
	}
	// The machine may have no network: the background-networking flags keep
	// Chromium from trying (and flooding the log with refused connections).
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("font-render-hinting", "none"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTime := context.WithTimeout(ctx, 4*time.Minute)
	t.Cleanup(func() { cancelTime(); cancelTab(); cancelAlloc() })
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting Chromium (%s): %v", path, err)
	}
	return &browser{t: t, ctx: ctx, base: base}
}

func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// open goes to a page of the server.
func (b *browser) open(path string) {
	b.t.Helper()
	b.do("open "+path, chromedp.Navigate(b.base+path), chromedp.WaitReady(chromedp.CSS("body")))
}

// submit clicks a button or link that loads a new page, and waits for it;
// the page must not be an error.
func (b *browser) submit(sel string) {
	b.t.Helper()
	if status := b.submitStatus(sel); status >= 400 {
		b.t.Fatalf("click %s: the page answered %d (%s)", sel, status, b.text("main"))
	}
}

// submitStatus clicks and waits like submit, and returns the page's status.
func (b *browser) submitStatus(sel string) int64 {
	b.t.Helper()
	resp, err := chromedp.RunResponse(b.ctx, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
	if err != nil {
		b.t.Fatalf("click %s: %v", sel, err)
	}
	b.do("wait", chromedp.WaitReady(chromedp.CSS("body")))
	if resp == nil {
		return 0
	}
	return resp.Status
}

func (b *browser) fill(sel, text string) {
	b.t.Helper()
	b.do("fill "+sel, chromedp.Clear(chromedp.CSS(sel)), chromedp.SendKeys(chromedp.CSS(sel), text))
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// see checks that the element shows every text.
func (b *browser) see(sel string, want ...string) {
	b.t.Helper()
	got := b.text(sel)
	for _, w := range want {
		if !strings.Contains(got, w) {
			b.t.Errorf("%s does not show %q; it shows: %.600s", sel, w, got)
		}
	}
}

// signIn signs in through the sign-in page.
func (b *browser) signIn(role relais.Role) {
	b.t.Helper()
	b.open("/login?lang=fr")
	b.fill("#username", string(role))
	b.fill("#password", "password-"+string(role))
	b.submit(`form[action^="/login"] button[type="submit"]`)
	b.see("main h1", "Bonjour")
}

func (b *browser) signOut() {
	b.t.Helper()
	b.submit(`form[action="/logout"] button`)
}

// screenshotDir is where screenshots go: the directory RELAIS_SCREENSHOTS
// names (RELAIS_SCREENSHOTS=docs/guide/img refreshes the guide's and the
// README's, from the repository's root), else a directory of the test's
// own, so that a test run never changes the checkout.
var screenshotDir = sync.OnceValue(func() string {
	if d := os.Getenv("RELAIS_SCREENSHOTS"); d != "" {
		if !filepath.IsAbs(d) {
			d = filepath.Join("..", d) // tests run in web/
		}
		return d
	}
	d, err := os.MkdirTemp("", "relais-screenshots-")
	if err != nil {
		return os.TempDir()
	}
	return d
})

// shot saves a full-page PNG of the current page.
func (b *browser) shot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := screenshotDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// bypassCSP lets the test inject a script (axe) the page's CSP would
// refuse; pages themselves never need it.
func (b *browser) bypassCSP() {
	b.t.Helper()
	if _, err := chromedp.Call(b.ctx, page.SetBypassCSP, page.SetBypassCSPParams{Enabled: true}); err != nil {
		b.t.Fatalf("bypass CSP: %v", err)
	}
}

func TestEndToEnd(t *testing.T) {
	if chromiumPath() == "" {
		t.Skip("no Chromium found: install Debian's chromium (apt-get install chromium) or set RELAIS_CHROMIUM")
	}
	f := newPageFixture(t, testdb.SQLite(t))
	b := newBrowser(t, f.ts.URL)
	tid := string(f.treatment.ID)

	// The prescriber: home, search, patient, prescription of cycle 2.
	b.signIn(relais.RolePrescriber)
	b.see("main", "Cycles à prescrire", "LE GALL Jean-Pierre")
	b.shot("prescripteur-accueil")
	b.fill("#home-q", "le-gall")
	b.submit(`form[action="/patients"] button[type="submit"]`)
	b.see("#results", "LE GALL Jean-Pierre", "04/05/1958")
	b.submit(`#results a[href="/patients/` + string(f.patient.ID) + `"]`)
	b.see("main", "Identité validée", "amoxicilline", "Historique des traitements", "Cumul actuel : 50 mg/m²")
	b.shot("patient")
	b.submit(`a.button[href$="/prescribe"]`)
	b.see("main", "Prescrire un cycle", "R-CHOP-21 v1")
	b.shot("prescrire")
	if got, _ := chromedp.Run(b.ctx, chromedp.Value(chromedp.CSS("#cycle-"+tid))); got != "2" {
		t.Errorf("the next cycle proposed is %q, want 2", got)
	}
	b.submit(`#t-` + tid + ` form button[type="submit"]`)
	b.see("main h1", "Cycle 2", "Brouillon")
	b.see("main", "Doses calculées", "100 mg", "1500 mg", "750 mg", "2 mg")
	// One click shows how a dose was computed.
	b.do("open derivation", chromedp.Click(chromedp.CSS(`tr:has(th) details.derivation summary`), chromedp.NodeVisible))
	b.see(`tr details.derivation[open]`, "Mosteller")
	b.shot("prescription-brouillon")
	b.submit(`form[action$="/sign"] button[type="submit"]`)
	b.see("main", "Prescription signée", "Signée")
	b.submit(`form[action$="/ok-to-treat"] button[type="submit"]`)
	b.see("main", "Feu vert donné", "Feu vert de "+fixtureNames[relais.RolePrescriber])
	b.shot("prescription-signee")
	b.signOut()

	// The pharmacist validates each line in place (htmx), then sees none left.
	b.signIn(relais.RolePharmacist)
	b.see(`section[aria-labelledby="h-queue"]`, "LE GALL Jean-Pierre")
	b.shot("pharmacien-accueil")
	b.submit(`section[aria-labelledby="h-queue"] a`)
	b.see("main", "Validation pharmaceutique", "Cycle précédent", "Derniers résultats", "Doses cumulées")
	b.see("#remaining", "4")
	b.shot("validation")
	for left := 4; left > 0; left-- {
		b.do("accept a line",
			chromedp.Click(chromedp.CSS(`button[name="decision"][value="accept"]`), chromedp.NodeVisible),
			chromedp.Poll[chromedp.Void](`document.getElementById("remaining").textContent.trim() === "`+itoa(left-1)+`"`, chromedp.WithPollingTimeout(10*time.Second)))
	}
	b.see("#remaining", "0")
	b.see("main", "Validée")
	b.shot("validation-terminee")
	b.signOut()

	// The technician prepares the doxorubicin: worksheet, then the vials
	// recorded as the form proposes them.
	b.signIn(relais.RoleTechnician)
	b.see(`section[aria-labelledby="h-board"]`, "doxorubicine", "100 mg")
	b.shot("preparateur-accueil")
	b.submit(`a[href="/production"].button`)
	b.see("main h1", "Production")
	b.shot("production")
	b.open(doxoHref(t, b))
	b.see("main", "Proposition de fabrication", "Doxorubicine 50 mg/25 mL")
	b.shot("preparation-proposition")
	b.submit(`form[action$="/worksheet"] button[type="submit"]`)
	b.see("main", "Fiche de fabrication éditée", "Fiche de fabrication (PDF)", "Étiquette (PDF)")
	b.shot("preparation-fiche")
	b.submit(`form[action$="/production"] button[type="submit"]`)
	b.see("main", "Fabrication enregistrée", "Contrôle conforme")
	b.signOut()

	// The pharmacist checks (a second person) and releases, then makes the
	// delivery slip for the ward.
	b.signIn(relais.RolePharmacist)
	b.see(`section[aria-labelledby="h-tocheck"]`, "doxorubicine")
	b.submit(`section[aria-labelledby="h-tocheck"] a`)
	b.submit(`form[action$="/check"] button[type="submit"]`)
	b.see("main", "Double contrôle enregistré")
	b.submit(`form[action$="/release"] button[type="submit"]`)
	b.see("main", "Préparation libérée")
	b.shot("preparation-liberee")
	b.open("/slips")
	b.fill("#slip-ward", "Hématologie 3e")
	b.submit(`form[action="/slips"][method="post"] button[type="submit"]`)
	b.see("main", "Bordereau de livraison fait", "Hématologie 3e", "doxorubicine")
	b.shot("bordereau")
	b.signOut()

	// The nurse: the day by ward, the patient's plan, the bedside record
	// after scanning the label and the wristband.
	b.signIn(relais.RoleNurse)
	b.see(`section[aria-labelledby="h-wards"]`, "Hématologie 3e", "LE GALL Jean-Pierre")
	b.shot("infirmier-accueil")
	b.submit(`section[aria-labelledby="h-wards"] a`)
	b.see("main", "Administrations", "doxorubicine")
	prep := b.attr(`form[method="post"][action$="/administration"]`, "action")
	prep = strings.TrimSuffix(strings.TrimPrefix(prep, "/preparations/"), "/administration")
	b.fill(`form[method="post"][action$="/administration"] input[name="scanned_label"]`, relais.PreparationCode(relais.ID(prep)))
	b.fill(`form[method="post"][action$="/administration"] input[name="patient_ipp"]`, f.patient.IPP)
	b.shot("administration")
	b.submit(`form[method="post"][action$="/administration"] button[type="submit"]`)
	b.see("main", "Administration enregistrée", "Administrée")
	b.signOut()

	// The protocol library: the diff between two versions.
	b.signIn(relais.RolePharmAdmin)
	b.open("/protocols/" + string(f.protocol.ID) + "/diff?from=1&to=2")
	b.see("main", "1 différence(s)", "cycles › count")
	b.shot("protocole-differences")
	// English is one click away.
	b.submit(`a[hreflang="en"]`)
	b.see("main h1", "changes from v1 to v2")
}

func itoa(n int) string { return string(rune('0' + n)) }

// attr reads an attribute of the first element sel matches.
func (b *browser) attr(sel, name string) string {
	b.t.Helper()
	res, err := chromedp.Run(b.ctx, chromedp.AttributeValue(chromedp.CSS(sel), name))
	if err != nil {
		b.t.Fatalf("attribute %s of %s: %v", name, sel, err)
	}
	return res.Value
}

// doxoHref finds the doxorubicin preparation's link on the board.
func doxoHref(t *testing.T, b *browser) string {
	t.Helper()
	href, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`(() => {
	  for (const a of document.querySelectorAll('li.prep a')) if (a.textContent.includes('doxorubicine')) return a.getAttribute('href');
	  return '';
	})()`))
	if err != nil || href == "" {
		t.Fatalf("no doxorubicin on the board: %v", err)
	}
	return href
}
