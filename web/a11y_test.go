package web_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/internal/testdb"
)

// Accessibility, checked in the browser: axe-core (testdata/axe.min.js,
// Deque Systems) runs on the main pages, every <details> opened so that the
// forms inside are checked too, against WCAG 2.1 A and AA — labels, contrast,
// names, structure. Any violation fails. A second test walks the keyboard:
// the first Tab lands on the skip link, which shows its focus.

type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

const axeRun = `(async () => {
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  const r = await axe.run(document, {
    runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']},
    resultTypes: ['violations'],
  });
  return JSON.stringify(r.violations.map(v => ({
    id: v.id, impact: v.impact || '', help: v.help,
    nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ' — ' + (n.failureSummary || '').split('\n').slice(1, 2).join('')),
  })));
})()`

// audit runs axe on the page the browser shows.
func (b *browser) audit(what string, axe string) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.Evaluate[chromedp.Void](axe)); err != nil {
		b.t.Fatalf("%s: injecting axe: %v", what, err)
	}
	out, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](axeRun, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("%s: running axe: %v", what, err)
	}
	var vs []axeViolation
	if err := json.Unmarshal([]byte(out), &vs); err != nil {
		b.t.Fatalf("%s: axe answered %q: %v", what, out, err)
	}
	for _, v := range vs {
		b.t.Errorf("%s: %s (%s): %s\n\t%s", what, v.ID, v.Impact, v.Help, strings.Join(v.Nodes, "\n\t"))
	}
}

func TestAccessibility(t *testing.T) {
	if chromiumPath() == "" {
		t.Skip("no Chromium found: install Debian's chromium (apt-get install chromium) or set RELAIS_CHROMIUM")
	}
	axe, err := os.ReadFile("testdata/axe.min.js")
	if err != nil {
		t.Fatal(err)
	}
	f := newPageFixture(t, testdb.SQLite(t))
	f.cycle2(t)
	preps, err := f.db.Preparations(f.actor(t, relais.RolePharmacist), relais.PreparationFilter{Date: today()})
	if err != nil || len(preps) == 0 {
		t.Fatalf("preparations: %v", err)
	}
	prep := "/preparations/" + string(preps[0].ID)
	b := newBrowser(t, f.ts.URL)
	// axe is injected by the test; the pages' CSP would refuse it.
	b.bypassCSP()
	pid, prid, rx := string(f.patient.ID), string(f.protocol.ID), string(f.cycle1.ID)

	b.open("/login?lang=fr")
	b.audit("sign-in", string(axe))

	pages := []struct {
		role  relais.Role
		paths []string
	}{
		{relais.RolePrescriber, []string{"/", "/patients?q=le", "/patients/" + pid, "/patients/" + pid + "/prescribe", "/prescriptions/" + rx, "/nowhere"}},
		{relais.RolePharmacist, []string{"/", "/validation", "/prescriptions/" + rx + "/validation", "/protocols", "/protocols/" + prid,
			"/protocols/" + prid + "/versions/1", "/protocols/" + prid + "/versions/2", "/protocols/" + prid + "/diff?from=1&to=2"}},
		{relais.RoleTechnician, []string{"/", "/production", prep, "/leftovers", "/slips"}},
		{relais.RoleNurse, []string{"/", "/validation", "/patients/" + pid + "/administration"}},
		{relais.RolePharmAdmin, []string{"/", "/catalogue", "/users"}},
	}
	for _, pg := range pages {
		b.signIn(pg.role)
		for _, path := range pg.paths {
			b.open(path)
			b.audit(string(pg.role)+" "+path, string(axe))
		}
		if pg.role == relais.RoleTechnician {
			// The record form, once the worksheet is issued.
			b.open(prep)
			b.submit(`form[action$="/worksheet"] button[type="submit"]`)
			b.audit("technician record form", string(axe))
		}
		if pg.role == relais.RolePrescriber {
			// A refused form, with its error summary and field errors.
			b.open("/patients/" + pid)
			b.do("open the measurement form", chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('details').forEach(d => d.open = true)`))
			b.fill("#m-value", "abc")
			if status := b.submitStatus(`form[action$="/measurements"] button[type="submit"]`); status != 422 {
				t.Errorf("a measurement of 'abc': status %d, want 422", status)
			}
			b.see("main", "ce n'est pas un nombre")
			b.audit("refused measurement form", string(axe))
			// English too.
			b.open("/patients/" + pid + "?lang=en")
			b.audit("patient (en)", string(axe))
			b.open("/?lang=fr")
		}
		b.signOut()
	}
}

func TestKeyboardFocusIsVisible(t *testing.T) {
	if chromiumPath() == "" {
		t.Skip("no Chromium found: install Debian's chromium (apt-get install chromium) or set RELAIS_CHROMIUM")
	}
	f := newPageFixture(t, testdb.SQLite(t))
	b := newBrowser(t, f.ts.URL)
	b.signIn(relais.RolePrescriber)
	b.open("/patients/" + string(f.patient.ID))
	type focus struct {
		Class   string `json:"class"`
		Outline string `json:"outline"`
		Left    int    `json:"left"`
		Text    string `json:"text"`
	}
	read := func() focus {
		t.Helper()
		// Let the focus style apply before reading it.
		time.Sleep(50 * time.Millisecond)
		s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`(() => {
		  const e = document.activeElement, st = getComputedStyle(e);
		  return JSON.stringify({class: e.className, outline: st.outlineStyle, left: Math.round(e.getBoundingClientRect().left), text: e.textContent.trim()});
		})()`))
		if err != nil {
			t.Fatal(err)
		}
		var fo focus
		json.Unmarshal([]byte(s), &fo)
		return fo
	}
	b.do("tab", chromedp.KeyEvent(kb.Tab))
	fo := read()
	if fo.Class != "skip" || fo.Outline == "none" || fo.Left < 0 {
		t.Errorf("first Tab: focus on %+v; want the skip link, visible, with an outline", fo)
	}
	// Enter follows the skip link to the content; the next Tab stays in it.
	b.do("enter", chromedp.KeyEvent(kb.Enter))
	b.do("tab", chromedp.KeyEvent(kb.Tab))
	fo = read()
	if fo.Outline == "none" {
		t.Errorf("after the skip link, the focused element (%+v) shows no outline", fo)
	}
	if strings.Contains(fo.Text, "Accueil") || strings.Contains(fo.Text, "Se déconnecter") {
		t.Errorf("after the skip link, Tab went back to the navigation: %+v", fo)
	}
}
