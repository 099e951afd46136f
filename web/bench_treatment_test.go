package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/clinical"
	"github.com/relais-onco/relais/internal/testdb"
	"github.com/relais-onco/relais/sqlstore"
)

// benchLibrary creates a 10-line, 60-cycle protocol (doses per m², per kg
// and flat) and returns its active version.
func benchLibrary(tb testing.TB, db *sqlstore.DB) relais.ID {
	tb.Helper()
	users, err := db.Users(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	as := map[relais.Role]context.Context{}
	for _, u := range users {
		as[u.Role] = relais.WithActor(context.Background(), u.Actor())
	}
	admin, pharma := as[relais.RolePharmAdmin], as[relais.RolePharmacist]
	if _, err := db.CreateDiluent(admin, relais.Diluent{Name: "NaCl 0.9%", VolumesML: []float64{100, 250, 500}}); err != nil {
		tb.Fatal(err)
	}
	var lines []relais.ProtocolLine
	for i := 0; i < 10; i++ {
		inn := fmt.Sprintf("drug-%02d", i)
		if _, err := db.CreateDrug(admin, relais.Drug{INN: inn, Class: relais.ClassOther, Cytotoxic: true}); err != nil {
			tb.Fatal(err)
		}
		rule := clinical.Rule{Kind: "per_m2", Dose: float64(50 + 10*i), Unit: "mg"}
		switch i % 3 {
		case 1:
			rule = clinical.Rule{Kind: "per_kg", Dose: 1.5, Unit: "mg"}
		case 2:
			rule = clinical.Rule{Kind: "flat", Dose: 8, Unit: "mg"}
		}
		lines = append(lines, relais.ProtocolLine{Seq: i + 1, Kind: relais.LineChemo, INN: inn, Dose: rule, Route: relais.RouteIV,
			Days: []int{1}, Vehicle: "NaCl 0.9%", VolumeML: 250, DurationMin: 30})
	}
	pd, err := db.CreateProtocol(admin, relais.NewProtocol{Code: "BENCH-10", Name: "Ten lines", Indication: "benchmark", Population: relais.Adult,
		Content: relais.ProtocolContent{Cycles: relais.Cycles{Count: 60, LengthDays: 21}, Days: []int{1}, Lines: lines}})
	if err != nil {
		tb.Fatal(err)
	}
	v := pd.Versions[0]
	if _, err := db.TransitionVersion(admin, v.ID, relais.VersionTransition{To: relais.VersionInTest}); err != nil {
		tb.Fatal(err)
	}
	if _, err := db.TransitionVersion(pharma, v.ID, relais.VersionTransition{To: relais.VersionActive}); err != nil {
		tb.Fatal(err)
	}
	return v.ID
}

// benchPatient creates a patient measured today.
func benchPatient(tb testing.TB, db *sqlstore.DB, n int) relais.ID {
	tb.Helper()
	users, _ := db.Users(context.Background())
	var doc context.Context
	for _, u := range users {
		if u.Role == relais.RolePrescriber {
			doc = relais.WithActor(context.Background(), u.Actor())
		}
	}
	p, err := db.CreatePatient(doc, relais.PatientInput{IPP: fmt.Sprintf("B%07d", n), INS: relais.INS{Status: relais.IdentityProvisional},
		BirthName: "Banc", FirstNames: []string{"Essai"}, BirthDate: "1970-01-01", Sex: relais.SexFemale})
	if err != nil {
		tb.Fatal(err)
	}
	for kind, v := range map[string]float64{"height_cm": 165, "weight_kg": 62} {
		v := v
		if _, err := db.RecordMeasurement(doc, p.ID, relais.MeasurementInput{Kind: kind, Value: &v, MeasuredAt: time.Now().Add(-time.Hour)}); err != nil {
			tb.Fatal(err)
		}
	}
	return p.ID
}

// client is a signed-in HTTP client (session cookie: no password hashing
// per request, as in a browser).
func client(tb testing.TB, ts *httptest.Server, role relais.Role) *http.Client {
	tb.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.Post(ts.URL+"/api/v1/session", "application/json",
		strings.NewReader(fmt.Sprintf(`{"username":%q,"password":"password-%s"}`, role, role)))
	if err != nil || resp.StatusCode != 200 {
		tb.Fatalf("sign in as %s: %v %v", role, resp, err)
	}
	resp.Body.Close()
	return c
}

func post(c *http.Client, url, body string, out any) error {
	resp, err := c.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var p map[string]any
		json.NewDecoder(resp.Body).Decode(&p)
		return fmt.Errorf("%s: %d %v", url, resp.StatusCode, p)
	}
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	return nil
}

func p95(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[(len(ds)*95+99)/100-1]
}

// BenchmarkPrescribeSign32 creates and signs 10-line cycle prescriptions
// through the API with 32 concurrent clients on the embedded database, and
// reports the p95 of one create+sign round trip beside the p95 of an empty
// request (GET /healthz) measured the same way in the same run.
func BenchmarkPrescribeSign32(b *testing.B) {
	ts, db := newServer(b, testdb.SQLite(b))
	version := benchLibrary(b, db)
	const clients = 32
	type slot struct{ c *http.Client }
	slots := make([]*slot, clients)
	for i := range slots {
		slots[i] = &slot{c: client(b, ts, relais.RolePrescriber)}
	}
	today := relais.Today()
	// Each prescription is the first cycle of a new treatment: later cycles
	// would need fresh measurements and a wait of 21 days, or warnings to
	// acknowledge. The patients and their inclusions are made before the
	// clock starts, so that the writer serves only what is measured.
	treatments := make(chan relais.ID, b.N)
	for n := range b.N {
		pid := benchPatient(b, db, n)
		var t relais.Treatment
		if err := post(slots[0].c, ts.URL+"/api/v1/treatments", fmt.Sprintf(`{"patient_id":%q,"protocol_version_id":%q,"intent":"curative","start_date":%q}`, pid, version, today), &t); err != nil {
			b.Fatal(err)
		}
		treatments <- t.ID
	}
	run := func(work func(s *slot) (time.Duration, error)) []time.Duration {
		var mu sync.Mutex
		var lat []time.Duration
		var next atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, clients)
		for _, s := range slots {
			wg.Add(1)
			go func(s *slot) {
				defer wg.Done()
				for next.Add(1) <= int64(b.N) {
					d, err := work(s)
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					lat = append(lat, d)
					mu.Unlock()
				}
			}(s)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
		return lat
	}
	baseline := run(func(s *slot) (time.Duration, error) {
		t0 := time.Now()
		resp, err := s.c.Get(ts.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return time.Since(t0), err
	})
	b.ResetTimer()
	lat := run(func(s *slot) (time.Duration, error) {
		treatment := <-treatments
		t0 := time.Now()
		var p relais.Prescription
		if err := post(s.c, fmt.Sprintf("%s/api/v1/treatments/%s/prescriptions", ts.URL, treatment), fmt.Sprintf(`{"cycle":1,"start_date":%q}`, today), &p); err != nil {
			return 0, err
		}
		if len(p.Lines) != 10 {
			return 0, fmt.Errorf("%d lines", len(p.Lines))
		}
		err := post(s.c, fmt.Sprintf("%s/api/v1/prescriptions/%s/sign", ts.URL, p.ID), "", nil)
		return time.Since(t0), err
	})
	b.StopTimer()
	pb, pl := p95(baseline), p95(lat)
	b.ReportMetric(float64(pl.Microseconds())/1000, "p95-ms")
	b.ReportMetric(float64(pb.Microseconds())/1000, "empty-p95-ms")
	if pb > 0 {
		b.ReportMetric(float64(pl)/float64(pb), "p95-ratio")
	}
}

// BenchmarkHistory60Cycles serves the history of a patient with ten years
// of treatment (60 signed cycles of 10 lines) and reports the p95.
func BenchmarkHistory60Cycles(b *testing.B) {
	ts, db := newServer(b, testdb.SQLite(b))
	version := benchLibrary(b, db)
	pid := benchPatient(b, db, 1)
	c := client(b, ts, relais.RolePrescriber)
	var t relais.Treatment
	if err := post(c, ts.URL+"/api/v1/treatments", fmt.Sprintf(`{"patient_id":%q,"protocol_version_id":%q,"intent":"curative","start_date":"2016-01-04"}`, pid, version), &t); err != nil {
		b.Fatal(err)
	}
	for cycle := 1; cycle <= 60; cycle++ {
		var p relais.Prescription
		start := relais.Date("2016-01-04").AddDays(60 * (cycle - 1)) // ten years
		if err := post(c, fmt.Sprintf("%s/api/v1/treatments/%s/prescriptions", ts.URL, t.ID), fmt.Sprintf(`{"cycle":%d,"start_date":%q}`, cycle, start), &p); err != nil {
			b.Fatal(err)
		}
		if err := post(c, fmt.Sprintf("%s/api/v1/prescriptions/%s/sign", ts.URL, p.ID), "", nil); err != nil {
			b.Fatal(err)
		}
	}
	var lat []time.Duration
	var size int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		resp, err := c.Get(fmt.Sprintf("%s/api/v1/patients/%s/history", ts.URL, pid))
		if err != nil {
			b.Fatal(err)
		}
		var h relais.History
		err = json.NewDecoder(resp.Body).Decode(&h)
		resp.Body.Close()
		if err != nil || len(h.Prescriptions) != 60 {
			b.Fatalf("history: %d prescriptions, %v", len(h.Prescriptions), err)
		}
		lat = append(lat, time.Since(t0))
		size = resp.ContentLength
	}
	b.StopTimer()
	b.ReportMetric(float64(p95(lat).Microseconds())/1000, "p95-ms")
	_ = size
}

// BenchmarkPrescribeSignPaced offers create+sign round trips at a fixed
// rate (open loop: rate-N is N round trips a second in all) to 32
// concurrent clients, and reports the p95 latency counted from each round
// trip's scheduled start, so that a round trip delayed behind a busy server
// counts its wait (no coordinated omission). BenchmarkPrescribeSign32 is
// the closed loop: 32 clients with no think time, the server saturated.
func BenchmarkPrescribeSignPaced(b *testing.B) {
	ts, db := newServer(b, testdb.SQLite(b))
	version := benchLibrary(b, db)
	const clients = 32
	today := relais.Today()
	made := 0
	for _, rate := range []int{5, 20, 50, 100} {
		b.Run(fmt.Sprintf("rate-%d", rate), func(b *testing.B) {
			cs := make(chan *http.Client, clients)
			for range clients {
				cs <- client(b, ts, relais.RolePrescriber)
			}
			treatments := make([]relais.ID, b.N)
			for i := range treatments {
				made++
				pid := benchPatient(b, db, 2_000_000+made)
				var t relais.Treatment
				if err := post(client(b, ts, relais.RolePrescriber), ts.URL+"/api/v1/treatments", fmt.Sprintf(`{"patient_id":%q,"protocol_version_id":%q,"intent":"curative","start_date":%q}`, pid, version, today), &t); err != nil {
					b.Fatal(err)
				}
				treatments[i] = t.ID
			}
			lat := make([]time.Duration, b.N)
			errs := make(chan error, b.N)
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for i, id := range treatments {
				due := start.Add(time.Duration(i) * time.Second / time.Duration(rate))
				time.Sleep(time.Until(due))
				c := <-cs // every client busy: the round trip waits, and its wait counts
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer func() { cs <- c }()
					var p relais.Prescription
					if err := post(c, fmt.Sprintf("%s/api/v1/treatments/%s/prescriptions", ts.URL, id), fmt.Sprintf(`{"cycle":1,"start_date":%q}`, today), &p); err != nil {
						errs <- err
						return
					}
					if err := post(c, fmt.Sprintf("%s/api/v1/prescriptions/%s/sign", ts.URL, p.ID), "", nil); err != nil {
						errs <- err
						return
					}
					lat[i] = time.Since(due)
				}()
			}
			wg.Wait()
			b.StopTimer()
			close(errs)
			for err := range errs {
				b.Fatal(err)
			}
			b.ReportMetric(float64(p95(lat).Microseconds())/1000, "p95-ms")
		})
	}
}
