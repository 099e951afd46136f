package web_test

import (
	"bytes"
	"context"
	"html"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/internal/testdb"
	"github.com/relais-onco/relais/web"
)

// doxorubicin returns cycle 2's doxorubicin preparation (the fixture's
// 100 mg, made from two 50 mg/25 mL vials).
func (f *pageFixture) doxorubicin(t *testing.T) relais.Preparation {
	t.Helper()
	f.cycle2(t)
	preps, err := f.db.Preparations(f.actor(t, relais.RolePharmacist), relais.PreparationFilter{PatientID: f.patient.ID, Date: today()})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range preps {
		if p.INN == "doxorubicine" {
			return p
		}
	}
	t.Fatalf("no doxorubicin preparation among %d", len(preps))
	return relais.Preparation{}
}

// Seed 004, issue 11: a station keeps a page from before the upgrade open
// and posts it to the new server. Its writes are refused with a page (or,
// for htmx, a banner) naming both versions and saying to reload, nothing is
// written, and the other users go on working meanwhile.
func TestStalePageWritesAreRefusedWhileOthersWork(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		f := newPageFixture(t, dsn)
		doxo := f.doxorubicin(t)
		path := "/preparations/" + string(doxo.ID)
		const old = "0.0.9"
		ctx := context.Background()

		// Every page says which Relais rendered it, for htmx and for the
		// script that stamps plain forms.
		tech := f.as(t, relais.RoleTechnician)
		r := tech.get(path)
		contains(t, "preparation page", r, `data-relais-version="`+relais.Version+`"`,
			`hx-headers="{&#34;`+web.PageVersionHeader+`&#34;:&#34;`+relais.Version+`&#34;}"`,
			`<script src="/static/relais.js" defer></script>`, `<div id="stale"`)
		if js := tech.get("/static/relais.js"); js.status != http.StatusOK || !strings.Contains(js.body, `"`+web.PageVersionField+`"`) {
			t.Fatalf("relais.js: %d %.200s", js.status, js.body)
		}

		before, err := f.db.Head(ctx, fixtureSite)
		if err != nil {
			t.Fatal(err)
		}
		staleForm := url.Values{web.PageVersionField: {old}, web.PagePathField: {path}}
		want := "Cette page vient de Relais " + old + " ; le serveur est passé en Relais " + relais.Version +
			". Rechargez la page (vos saisies non enregistrées sont à refaire)."

		// The stale station hammers the worksheet (plain form and htmx)
		// while a pharmacist reads the board and the nurse her home page
		// with current pages.
		ph, nurse := f.as(t, relais.RolePharmacist), f.as(t, relais.RoleNurse)
		type result struct {
			who string
			r   response
		}
		const rounds = 6
		results := make(chan result, 4*rounds)
		var wg sync.WaitGroup
		for i := 0; i < rounds; i++ {
			wg.Add(4)
			go func() { defer wg.Done(); results <- result{"stale form", tech.post(path+"/worksheet", staleForm)} }()
			go func() {
				defer wg.Done()
				results <- result{"stale htmx", tech.post(path+"/worksheet", url.Values{}, "HX-Request", "true",
					web.PageVersionHeader, old, "HX-Current-URL", f.ts.URL+path)}
			}()
			go func() {
				defer wg.Done()
				results <- result{"pharmacist", ph.do("GET", "/production", nil, web.PageVersionHeader, relais.Version)}
			}()
			go func() { defer wg.Done(); results <- result{"nurse", nurse.get("/")} }()
		}
		wg.Wait()
		close(results)
		for res := range results {
			switch res.who {
			case "stale form":
				if res.r.status != http.StatusConflict {
					t.Fatalf("stale form: %d %.300s", res.r.status, res.r.body)
				}
				contains(t, "stale form", res.r, want, `<html lang="fr">`, `href="`+path+`">Recharger la page</a>`)
			case "stale htmx":
				if res.r.status != http.StatusConflict || res.r.header.Get("HX-Retarget") != "#stale" || res.r.header.Get("HX-Reswap") != "innerHTML" {
					t.Fatalf("stale htmx: %d %v %.300s", res.r.status, res.r.header, res.r.body)
				}
				contains(t, "stale htmx", res.r, want, `role="alert"`, `href="`+path+`">Recharger la page</a>`)
				lacks(t, "stale htmx", res.r, "<html")
			default:
				if res.r.status != http.StatusOK {
					t.Fatalf("%s (current page) got %d while a stale page was refused: %.300s", res.who, res.r.status, res.r.body)
				}
			}
		}

		// A multipart form (the protocol import's kind) is read the same
		// way; a reload link cannot leave the site.
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		mw.WriteField(web.PageVersionField, old)
		mw.WriteField(web.PagePathField, "//evil.example/")
		fw, _ := mw.CreateFormFile("document", "big.json")
		fw.Write(bytes.Repeat([]byte("x"), 64<<10))
		mw.Close()
		req, _ := http.NewRequest("POST", f.ts.URL+path+"/worksheet", &buf)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		resp, err := tech.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body bytes.Buffer
		body.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusConflict || !strings.Contains(html.UnescapeString(body.String()), want) ||
			!strings.Contains(body.String(), `href="/">Recharger la page</a>`) {
			t.Fatalf("stale multipart form: %d %.500s", resp.StatusCode, body.String())
		}

		// In English for an English-speaking user.
		en := f.as(t, relais.RoleTechnician)
		en.lang = "en"
		contains(t, "stale in English", en.post(path+"/worksheet", staleForm),
			"This page comes from Relais "+old+"; the server now runs Relais "+relais.Version+". Reload the page", "Reload the page</a>")

		// Nothing was written: no journal entry, the preparation as it was.
		after, err := f.db.Head(ctx, fixtureSite)
		if err != nil {
			t.Fatal(err)
		}
		if after.Seq != before.Seq || after.Hash != before.Hash {
			t.Fatalf("the journal moved from %d to %d while only stale pages posted", before.Seq, after.Seq)
		}
		now, err := f.db.Preparation(f.actor(t, relais.RolePharmacist), doxo.ID)
		if err != nil {
			t.Fatal(err)
		}
		if now.Status != relais.PrepToPrepare || now.RegisterNumber != "" || !now.UpdatedAt.Equal(doxo.UpdatedAt) {
			t.Fatalf("the stale posts changed the preparation: %s %q updated %v→%v", now.Status, now.RegisterNumber, doxo.UpdatedAt, now.UpdatedAt)
		}

		// A stale page may still read, and sign out.
		if r := tech.do("GET", path, nil, web.PageVersionHeader, old); r.status != http.StatusOK {
			t.Fatalf("GET from a stale page: %d", r.status)
		}
		// Once reloaded, the page is current: the same form goes through.
		r = tech.post(path+"/worksheet", url.Values{web.PageVersionField: {relais.Version}, web.PagePathField: {path}})
		if r.status != http.StatusSeeOther {
			t.Fatalf("worksheet from a current page: %d %.300s", r.status, r.body)
		}
		contains(t, "issued", tech.get(r.location), "Fiche de fabrication éditée")
		out := f.as(t, relais.RolePharmacist)
		if r := out.post("/logout", url.Values{web.PageVersionField: {old}}); r.status != http.StatusSeeOther {
			t.Fatalf("signing out from a stale page: %d %.200s", r.status, r.body)
		}
	})
}

// Issue 5: the preparation's page says in which hood it is made and when,
// who planned it (and why it was moved), with a link to it on the board.
func TestPreparationPageShowsItsHood(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		f := newPageFixture(t, dsn)
		doxo := f.doxorubicin(t)
		path := "/preparations/" + string(doxo.ID)
		tech := f.as(t, relais.RoleTechnician)
		board := `href="/production?date=` + string(doxo.AdministrationDate) + `#prep-` + string(doxo.ID) + `"`

		contains(t, "not assigned", tech.get(path), "Hotte ou isolateur", "Aucune hotte attribuée", "Heure prévue", "non planifiée",
			board+`>Voir sur le tableau de production</a>`)

		admin := f.actor(t, relais.RolePharmAdmin)
		iso, err := f.db.CreateHood(admin, relais.Hood{Name: "Isolateur 1", Kind: relais.HoodIsolator, Active: true})
		if err != nil {
			t.Fatal(err)
		}
		psm, err := f.db.CreateHood(admin, relais.Hood{Name: "Hotte PSM 2", Kind: relais.HoodCabinet, Active: true})
		if err != nil {
			t.Fatal(err)
		}
		day, err := time.ParseInLocation(time.DateOnly, string(doxo.AdministrationDate), relais.DisplayZone)
		if err != nil {
			t.Fatal(err)
		}
		slot := day.Add(8*time.Hour + 30*time.Minute)
		if _, err := f.db.AssignHood(f.actor(t, relais.RoleTechnician), doxo.ID, relais.AssignHoodRequest{HoodID: iso.ID, Slot: slot}); err != nil {
			t.Fatal(err)
		}
		tname := fixtureNames[relais.RoleTechnician]
		r := tech.get(path)
		contains(t, "assigned", r, "<strong>Isolateur 1</strong>", "· Isolateur", "<strong>"+slot.Format("02/01/2006")+" 08:30</strong>",
			"attribuée par "+tname, board)
		lacks(t, "assigned", r, "Aucune hotte attribuée", "non planifiée")
		// The board shows it in the same hood at the same time.
		contains(t, "board", tech.get("/production?date="+string(doxo.AdministrationDate)), `id="prep-`+string(doxo.ID)+`"`, "Isolateur 1", "08:30")

		// Moved, with a reason: the page says where it is now and why.
		if _, err := f.db.AssignHood(f.actor(t, relais.RolePharmacist), doxo.ID, relais.AssignHoodRequest{HoodID: psm.ID,
			Slot: slot.Add(time.Hour), Reason: "isolateur 1 en panne"}); err != nil {
			t.Fatal(err)
		}
		r = tech.get(path)
		contains(t, "moved", r, "<strong>Hotte PSM 2</strong>", "Hotte (PSM)", "09:30</strong>",
			"Motif du changement de hotte : isolateur 1 en panne")
		lacks(t, "moved", r, "Isolateur 1")
		en := f.as(t, relais.RoleTechnician)
		en.lang = "en"
		contains(t, "in English", en.get(path), "Hood or isolator", "Planned time", "See it on the production board")
	})
}

// The same in Chromium: the technician's page of the preparation stays
// open while the server is upgraded under it. Issuing the worksheet is
// refused with the message naming both versions and nothing is written;
// the reload link brings the page of the new Relais, from which the same
// button works. Then an htmx request of a stale protocol editor shows the
// refusal as a banner above the form, leaving what was typed in place.
func TestStalePageInTheBrowser(t *testing.T) {
	if chromiumPath() == "" {
		t.Skip("no Chromium found: install Debian's chromium (apt-get install chromium) or set RELAIS_CHROMIUM")
	}
	axe, err := os.ReadFile("testdata/axe.min.js")
	if err != nil {
		t.Fatal(err)
	}
	f := newPageFixture(t, testdb.SQLite(t))
	doxo := f.doxorubicin(t)
	path := "/preparations/" + string(doxo.ID)
	was := relais.Version
	t.Cleanup(func() { relais.Version = was })
	upgradeTo := func(v string) { relais.Version = v } // what a new binary on the same database would say

	b := newBrowser(t, f.ts.URL)
	b.bypassCSP()
	b.signIn(relais.RoleTechnician)
	b.open(path)
	upgradeTo("9.9.0")
	if status := b.submitStatus(`form[action$="/worksheet"] button[type="submit"]`); status != http.StatusConflict {
		t.Fatalf("worksheet from the page of %s on a server of 9.9.0: status %d (%s)", was, status, b.text("main"))
	}
	b.see("main", "Cette page vient de Relais "+was+" ; le serveur est passé en Relais 9.9.0. Rechargez la page (vos saisies non enregistrées sont à refaire).")
	b.audit("stale page", string(axe))
	b.shot("page-autre-version")
	if pr, err := f.db.Preparation(f.actor(t, relais.RolePharmacist), doxo.ID); err != nil || pr.Status != relais.PrepToPrepare || pr.RegisterNumber != "" {
		t.Fatalf("after the refused worksheet: %s %q %v", pr.Status, pr.RegisterNumber, err)
	}
	b.submit(`main a.button[href="` + path + `"]`)
	b.see("main h1", "doxorubicine")
	b.submit(`form[action$="/worksheet"] button[type="submit"]`)
	b.see("main", "Fiche de fabrication éditée")
	b.signOut()

	// htmx: a protocol editor opened before the next upgrade.
	b.signIn(relais.RolePharmAdmin)
	b.open("/protocols/new")
	b.fill("#h-code", "SAISIE-EN-COURS")
	upgradeTo("9.10.0")
	b.do("add a line", chromedp.Click(chromedp.CSS(`#add-line button`), chromedp.NodeVisible))
	b.do("wait for the banner", chromedp.Poll[chromedp.Void](`document.getElementById('stale').textContent.includes('le serveur est passé en Relais 9.10.0')`,
		chromedp.WithPollingTimeout(10*time.Second)))
	b.see("#stale", "Cette page vient de Relais 9.9.0 ; le serveur est passé en Relais 9.10.0", "Recharger la page")
	typed, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.getElementById('h-code').value + '|' + (document.getElementById('line-1') === null)`))
	if err != nil {
		t.Fatal(err)
	}
	if typed != "SAISIE-EN-COURS|true" {
		t.Errorf("after the refusal the editor holds %q, want what was typed and no line added", typed)
	}
	b.audit("stale banner", string(axe))
}
