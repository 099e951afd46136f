package harmonize_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/relais-onco/relais/internal/natstest"
	"github.com/relais-onco/relais/internal/testdb"
)

// The harmonisation pages in real Chromium: axe-core (web/testdata/axe.min.js,
// Deque Systems) finds no WCAG 2.1 A/AA violation on the list and on a
// comparison, in French and English, and the adopt button, clicked, lands
// on the new draft.

func chromium() string {
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

const axeRun = `(async () => {
  const r = await axe.run(document, {
    runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']},
    resultTypes: ['violations'],
  });
  return JSON.stringify(r.violations.map(v => ({
    id: v.id, impact: v.impact || '', help: v.help,
    nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ')),
  })));
})()`

func TestHarmonisationPagesInChromium(t *testing.T) {
	path := chromium()
	if path == "" {
		t.Skip("no Chromium found: install Debian's chromium (apt-get install chromium) or set RELAIS_CHROMIUM")
	}
	axe, err := os.ReadFile("../web/testdata/axe.min.js")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hub := natstest.Start(t, natstest.Options{Name: "hub", Domain: "hub", LeafListen: true})
	a := startSite(t, ctx, "chu-aquitaine", testdb.SQLite(t), hub)
	b := startSite(t, ctx, "chg-landes", testdb.SQLite(t), hub)
	natstest.WaitLeafs(t, hub, 2)
	va := divergeVAPreop(t, b)
	if _, err := a.pub.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.fol.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}

	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	defer cancelAlloc()
	bctx, cancelTab := chromedp.NewContext(actx)
	defer cancelTab()
	bctx, cancelTime := context.WithTimeout(bctx, 2*time.Minute)
	defer cancelTime()
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(bctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	open := func(p string) {
		t.Helper()
		do("open "+p, chromedp.Navigate(b.ts.URL+p), chromedp.WaitReady(chromedp.CSS("body")))
	}
	open("/login?lang=fr")
	// axe is injected by the test; the pages' CSP would refuse it.
	if _, err := chromedp.Call(bctx, page.SetBypassCSP, page.SetBypassCSPParams{Enabled: true}); err != nil {
		t.Fatal(err)
	}
	status, err := chromedp.Run(bctx, chromedp.Evaluate[int](`fetch('/api/v1/session', {method: 'POST', headers: {'Content-Type': 'application/json'},
		body: JSON.stringify({username: 'admin.pharma', password: '`+password+`'})}).then(r => r.status)`, chromedp.EvalAwaitPromise))
	if err != nil || status != 200 {
		t.Fatalf("sign-in: %d %v", status, err)
	}
	audit := func(what string) {
		t.Helper()
		do(what+": inject axe", chromedp.Evaluate[chromedp.Void](string(axe)))
		out, err := chromedp.Run(bctx, chromedp.Evaluate[string](axeRun, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("%s: axe: %v", what, err)
		}
		var vs []struct {
			ID, Impact, Help string
			Nodes            []string
		}
		if err := json.Unmarshal([]byte(out), &vs); err != nil {
			t.Fatalf("%s: axe answered %q: %v", what, out, err)
		}
		for _, v := range vs {
			t.Errorf("%s: %s (%s): %s\n\t%s", what, v.ID, v.Impact, v.Help, strings.Join(v.Nodes, "\n\t"))
		}
	}
	compare := "/harmonize/version?site=chu-aquitaine&code=VA-PREOP&number=1"
	for _, p := range []string{"/harmonize", compare, "/harmonize/version?site=chu-aquitaine&code=BEP&number=1", "/harmonize?lang=en", compare + "&lang=en"} {
		open(p)
		audit(p)
	}

	// Adopt, by the button, in French.
	open(compare + "&lang=fr")
	resp, err := chromedp.RunResponse(bctx, chromedp.Click(chromedp.CSS(`form[action="/harmonize/adopt"] button[type="submit"]`), chromedp.NodeVisible))
	if err != nil {
		t.Fatal(err)
	}
	do("wait", chromedp.WaitReady(chromedp.CSS("body")))
	if resp == nil || resp.Status != 200 {
		t.Fatalf("after adopting: %+v", resp)
	}
	url, err := chromedp.Run(bctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(url, "/protocols/"+string(va.ID)+"/versions/3") {
		t.Fatalf("after adopting, the browser shows %s, want VA-PREOP v3", url)
	}
	text, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS("main"), chromedp.NodeVisible))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "Version adoptée comme nouveau brouillon") {
		t.Errorf("the new draft's page does not confirm the adoption:\n%s", text)
	}
}
