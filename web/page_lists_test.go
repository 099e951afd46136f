package web_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/internal/testdb"
)

// signedIn returns the session cookies of one of a docEnv's users.
func signedIn(t testing.TB, e *docEnv, user string) []*http.Cookie {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	resp, err := hc.Post(e.ts.URL+"/api/v1/session", "application/json",
		strings.NewReader(`{"username":"`+user+`","password":"password-`+user+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		t.Fatalf("sign-in of %s: %d", user, resp.StatusCode)
	}
	u, _ := url.Parse(e.ts.URL)
	return jar.Cookies(u)
}

// renderPage renders path for cookies through the handler and returns its body.
func renderPage(t testing.TB, h http.Handler, cookies []*http.Cookie, path string) string {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	req.Header.Set("Accept-Language", "fr")
	for _, c := range cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	b, _ := io.ReadAll(rec.Body)
	if rec.Code != http.StatusOK {
		t.Fatalf("%s: %d %.400s", path, rec.Code, b)
	}
	return string(b)
}

// A busy day: the technician's home shows the first 30 preparations of a
// step of the board with the count of all and a link to the board; the
// board shows 60 a section with a link to the whole day, and logs the read
// of each patient shown once (and of no other).
func TestHomeAndBoardListsAreBounded(t *testing.T) {
	e := newDocEnv(t, testdb.SQLite(t))
	var ids []relais.ID
	var patients []relais.Patient
	for len(ids) < 70 {
		pt, more := e.treat(t, 5)
		patients = append(patients, pt)
		ids = append(ids, more...)
	}
	h := e.srv.Handler()
	tech := signedIn(t, e, "technician")

	home := renderPage(t, h, tech, "/")
	if n := strings.Count(home, `href="/preparations/`); n != 30 {
		t.Errorf("the technician's home lists %d preparations, want the first 30 of %d", n, len(ids))
	}
	for _, want := range []string{`<span class="count">70</span>`, "Voir les 40 autres sur le tableau de production", `href="/production"`} {
		if !strings.Contains(home, want) {
			t.Errorf("the technician's home lacks %q", want)
		}
	}

	sys := relais.WithActor(context.Background(), relais.SystemActor("chu-test"))
	reads := func() map[relais.ID]int {
		n := map[relais.ID]int{}
		for _, pt := range patients {
			log, err := e.db.PatientAccessLog(sys, pt.ID, time.Time{}, 0)
			if err != nil {
				t.Fatal(err)
			}
			n[pt.ID] = len(log)
		}
		return n
	}
	before := reads()
	board := renderPage(t, h, tech, "/production")
	if n := strings.Count(board, `<li class="prep"`); n != 60 {
		t.Errorf("the board shows %d preparations, want the first 60 of %d", n, len(ids))
	}
	for _, want := range []string{`<span class="count">70</span>`, "Voir les 10 autres", "all=1"} {
		if !strings.Contains(board, want) {
			t.Errorf("the board lacks %q", want)
		}
	}
	after := reads()
	shown := map[relais.ID]bool{}
	preps, err := e.db.Preparations(sys, relais.PreparationFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, pr := range preps {
		if strings.Contains(board, `id="prep-`+string(pr.ID)+`"`) {
			shown[pr.PatientID] = true
		}
	}
	for _, pt := range patients {
		want := 0
		if shown[pt.ID] {
			want = 1
		}
		if got := after[pt.ID] - before[pt.ID]; got != want {
			t.Errorf("opening the board logged %d reads of patient %s, want %d (shown: %v)", got, pt.IPP, want, shown[pt.ID])
		}
	}
	all := renderPage(t, h, tech, "/production?all=1")
	for _, id := range ids {
		if !strings.Contains(all, `id="prep-`+string(id)+`"`) {
			t.Fatalf("the whole day's board lacks preparation %s", id)
		}
	}
	if strings.Contains(all, "Voir les") {
		t.Errorf("the whole day's board still offers more")
	}
}

// A prescriber's home with more drafts than a screen: the first 30, the
// count, and "voir les autres", which shows them all.
func TestHomeMoreShowsTheWholeList(t *testing.T) {
	e := newDocEnv(t, testdb.SQLite(t))
	pt, _ := e.treat(t, 0)
	today := relais.LocalDate(time.Now())
	for i := 0; i < 33; i++ {
		tr, err := e.db.Include(e.doctor, relais.IncludeRequest{PatientID: pt.ID, ProtocolVersionID: e.versionID, Intent: "curative", StartDate: today})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.db.Prescribe(e.doctor, tr.ID, relais.PrescribeRequest{Cycle: 1, StartDate: today}); err != nil {
			t.Fatal(err)
		}
	}
	h := e.srv.Handler()
	doc := signedIn(t, e, "prescriber")
	home := renderPage(t, h, doc, "/")
	sign := home[strings.Index(home, `id="h-tosign"`):strings.Index(home, `id="h-oktt"`)]
	if n := strings.Count(sign, `href="/prescriptions/`); n != 30 {
		t.Errorf("drafts to sign listed: %d, want 30", n)
	}
	for _, want := range []string{`<span class="count">33</span>`, "Voir les 3 autres", `href="/?more=to_sign#h-tosign"`} {
		if !strings.Contains(sign, want) {
			t.Errorf("the drafts to sign lack %q", want)
		}
	}
	all := renderPage(t, h, doc, "/?more=to_sign")
	sign = all[strings.Index(all, `id="h-tosign"`):strings.Index(all, `id="h-oktt"`)]
	if n := strings.Count(sign, `href="/prescriptions/`); n != 33 || strings.Contains(sign, "Voir les") {
		t.Errorf("?more=to_sign lists %d drafts, want all 33 and no link for more", n)
	}
}

// A long treatment on the patient's page: the latest three cycles in
// detail, the earlier ones one line each with a link to the whole history
// in detail.
func TestPatientPageSumsUpEarlierCycles(t *testing.T) {
	e := newDocEnv(t, testdb.SQLite(t))
	pt, _ := e.treat(t, 0)
	today := relais.LocalDate(time.Now())
	tr, err := e.db.Include(e.doctor, relais.IncludeRequest{PatientID: pt.ID, ProtocolVersionID: e.versionID, Intent: "curative", StartDate: today})
	if err != nil {
		t.Fatal(err)
	}
	var first relais.Prescription
	for c := 1; c <= 5; c++ {
		p, err := e.db.Prescribe(e.doctor, tr.ID, relais.PrescribeRequest{Cycle: c, StartDate: today.AddDays(21 * (c - 1))})
		if err != nil {
			t.Fatal(err)
		}
		if c == 1 {
			first = p
		}
	}
	h := e.srv.Handler()
	doc := signedIn(t, e, "prescriber")
	path := "/patients/" + string(pt.ID)
	r := renderPage(t, h, doc, path)
	for _, want := range []string{"Cycles précédents (2), en résumé", `href="/prescriptions/` + string(first.ID) + `"`, path + "?history=all#h-history", "Cycle 5"} {
		if !strings.Contains(r, want) {
			t.Errorf("the patient page lacks %q", want)
		}
	}
	if n := strings.Count(r, `<li class="cycle">`); n != 3 {
		t.Errorf("%d cycles in detail, want the latest 3", n)
	}
	r = renderPage(t, h, doc, path+"?history=all")
	if n := strings.Count(r, `<li class="cycle">`); n != 5 || strings.Contains(r, "en résumé") {
		t.Errorf("?history=all: %d cycles in detail, want all 5 and no summary", n)
	}
}
