package web_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"html/template"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/relais-onco/relais/internal/testdb"
)

// A real browser follows the launch as a professional would: an EHR page on
// another site (localhost, while Relais is 127.0.0.1) posts the token; the
// browser ends on the patient's page, signed in, without the sign-in page.
// This is what proves that the SameSite=Strict session cookie set by the
// answer to a cross-site post is sent on the same-site navigation that
// follows.
func TestContextualLaunchInABrowser(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	r := newLaunchRig(t, testdb.SQLite(t), key)
	tok := r.token(t, "browser-1", nil)
	ehrPage := template.Must(template.New("ehr").Parse(`<!doctype html><html><body onload="document.forms[0].submit()">
<form method="post" action="{{.}}/launch"><input type="hidden" name="token" value="` + tok + `"></form></body></html>`))
	ehr := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		ehrPage.Execute(w, r.ts.URL)
	}))
	defer ehr.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(ehr.URL, "http://"))
	b := newBrowser(t, "http://localhost:"+port)
	b.open("/")
	// The page navigates twice by itself (the form, then the refresh):
	// look where the tab is until it lands.
	var url string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if u, err := chromedp.Run(b.ctx, chromedp.Location()); err == nil {
			url = u
			if strings.Contains(u, "/patients/") || strings.Contains(u, "/login") {
				break
			}
		}
	}
	b.do("wait for the page", chromedp.WaitReady(chromedp.CSS("main")))
	body := b.text("main")
	if !strings.HasPrefix(url, r.ts.URL+"/patients/") || !strings.Contains(body, "DUPONT") || strings.Contains(url, "/login") {
		t.Fatalf("the browser ended on %s:\n%s", url, body)
	}
}
