package web_test

import (
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/internal/testdb"
)

// BenchmarkPagesDay300 renders the pages whose content grows with the
// day's work — the production board, each role's home, the validation
// queue, a patient's page — on a large unit's day: 300 preparations for
// today (30 patients, 5 treatments each; every preparation released, half
// of them on delivery slips to 5 wards). It reports each page's 95th
// percentile (p95-ms) like BenchmarkPages; compare with it to see how a
// page's cost grows with the number of items (it should stay of the same
// order: one query per kind of row, not per item).
//
//	go test ./web -run '^$' -bench BenchmarkPagesDay300 -benchtime 50x
func BenchmarkPagesDay300(b *testing.B) {
	e := newDocEnv(b, testdb.SQLite(b))
	var ids []relais.ID
	var patient relais.Patient
	for len(ids) < 300 {
		pt, more := e.treat(b, 5)
		patient = pt
		ids = append(ids, more...)
	}
	day := relais.LocalDate(time.Now())
	for i := 0; i < len(ids)/2; i += 30 {
		if _, err := e.db.CreateSlip(e.tech, relais.SlipRequest{Ward: fmt.Sprintf("Unité %d", i/30+1), RoundDate: day, Round: relais.RoundMorning,
			PreparationIDs: ids[i:min(i+30, len(ids)/2)]}); err != nil {
			b.Fatal(err)
		}
	}
	cookies := map[string][]*http.Cookie{}
	tsURL, _ := url.Parse(e.ts.URL)
	for _, u := range []string{"prescriber", "pharmacist", "technician", "nurse"} {
		jar, _ := cookiejar.New(nil)
		hc := &http.Client{Jar: jar}
		resp, err := hc.Post(e.ts.URL+"/api/v1/session", "application/json",
			strings.NewReader(`{"username":"`+u+`","password":"password-`+u+`"}`))
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
			b.Fatalf("sign-in of %s: %d", u, resp.StatusCode)
		}
		cookies[u] = jar.Cookies(tsURL)
	}
	h := e.srv.Handler()
	for _, pg := range []struct{ name, user, path string }{
		{"production", "technician", "/production"},
		{"home-technician", "technician", "/"},
		{"home-nurse", "nurse", "/"},
		{"home-pharmacist", "pharmacist", "/"},
		{"home-prescriber", "prescriber", "/"},
		{"queue", "pharmacist", "/validation"},
		{"patient", "prescriber", "/patients/" + string(patient.ID)},
	} {
		b.Run(pg.name, func(b *testing.B) {
			times := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			var size int
			for b.Loop() {
				req := httptest.NewRequest("GET", pg.path, nil)
				req.Header.Set("Accept-Language", "fr")
				for _, c := range cookies[pg.user] {
					req.AddCookie(c)
				}
				rec := httptest.NewRecorder()
				start := time.Now()
				h.ServeHTTP(rec, req)
				times = append(times, time.Since(start))
				if rec.Code != http.StatusOK {
					b.Fatalf("%s: status %d: %.300s", pg.path, rec.Code, rec.Body.String())
				}
				size = rec.Body.Len()
			}
			sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
			p95 := times[(len(times)*95+99)/100-1]
			b.ReportMetric(float64(p95.Microseconds())/1000, "p95-ms")
			b.ReportMetric(float64(size)/1000, "kB")
		})
	}
}
