package web_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/internal/testdb"
)

// Latency against load, on both engines, each beside the physical floor
// measured in the same run by the same clients: an empty HTTP handler
// (a bare net/http server answering 200 with nothing, no middleware). The
// bench script (scripts/bench) draws p95 against the number of clients.

var loadEngines = []struct {
	name string
	dsn  func(testing.TB) string
}{{"sqlite", testdb.SQLite}, {"postgres", testdb.Postgres}}

// loadClients is the list of concurrent clients: RELAIS_BENCH_CLIENTS
// ("1,4,16") or 1, 4, 16, 32, 64.
func loadClients(b *testing.B) []int {
	s := os.Getenv("RELAIS_BENCH_CLIENTS")
	if s == "" {
		return []int{1, 4, 16, 32, 64}
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			b.Fatalf("RELAIS_BENCH_CLIENTS: %q is not a list of client counts", s)
		}
		out = append(out, n)
	}
	return out
}

// runClients runs b.N operations spread over n goroutines and returns each
// operation's latency.
func runClients(b *testing.B, n int, op func(client int) (time.Duration, error)) []time.Duration {
	var mu sync.Mutex
	var lat []time.Duration
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for c := 0; c < n; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				d, err := op(c)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	return lat
}

// bareP95 measures the floor: b.N GETs of an empty handler by n clients.
func bareP95(b *testing.B, n int) time.Duration {
	bare := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer bare.Close()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	return p95(runClients(b, n, func(int) (time.Duration, error) {
		t0 := time.Now()
		resp, err := hc.Get(bare.URL)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		return time.Since(t0), err
	}))
}

// BenchmarkLoadCreateSign: a prescriber's round trip — create a 10-line
// cycle and sign it through the API — by 1 to 64 concurrent clients with no
// think time. Reports p95-ms, the bare handler's bare-p95-ms for the same
// clients, and their ratio.
func BenchmarkLoadCreateSign(b *testing.B) {
	for _, e := range loadEngines {
		b.Run(e.name, func(b *testing.B) {
			ts, db := newServer(b, e.dsn(b))
			version := benchLibrary(b, db)
			today := relais.Today()
			patients := 0
			var mu sync.Mutex
			for _, n := range loadClients(b) {
				b.Run(fmt.Sprintf("clients-%d", n), func(b *testing.B) {
					cs := make([]*http.Client, n)
					for i := range cs {
						cs[i] = client(b, ts, relais.RolePrescriber)
					}
					base := bareP95(b, n)
					b.ResetTimer()
					lat := runClients(b, n, func(c int) (time.Duration, error) {
						mu.Lock()
						patients++
						k := patients
						mu.Unlock()
						pid := benchPatient(b, db, 1_000_000+k) // not timed: each cycle 1 needs a new treatment
						var t relais.Treatment
						if err := post(cs[c], ts.URL+"/api/v1/treatments", fmt.Sprintf(`{"patient_id":%q,"protocol_version_id":%q,"intent":"curative","start_date":%q}`, pid, version, today), &t); err != nil {
							return 0, err
						}
						t0 := time.Now()
						var p relais.Prescription
						if err := post(cs[c], fmt.Sprintf("%s/api/v1/treatments/%s/prescriptions", ts.URL, t.ID), fmt.Sprintf(`{"cycle":1,"start_date":%q}`, today), &p); err != nil {
							return 0, err
						}
						if len(p.Lines) != 10 {
							return 0, fmt.Errorf("%d lines", len(p.Lines))
						}
						err := post(cs[c], fmt.Sprintf("%s/api/v1/prescriptions/%s/sign", ts.URL, p.ID), "", nil)
						return time.Since(t0), err
					})
					b.StopTimer()
					pl := p95(lat)
					b.ReportMetric(float64(pl.Microseconds())/1000, "p95-ms")
					b.ReportMetric(float64(base.Microseconds())/1000, "bare-p95-ms")
					if base > 0 {
						b.ReportMetric(float64(pl)/float64(base), "p95-ratio")
					}
				})
			}
		})
	}
}

// BenchmarkLoadHistory: a patient's treatment history over ten years (60
// signed cycles of 10 lines) read through the API by 1 to 64 concurrent
// clients, beside the bare handler.
func BenchmarkLoadHistory(b *testing.B) {
	for _, e := range loadEngines {
		b.Run(e.name, func(b *testing.B) {
			ts, db := newServer(b, e.dsn(b))
			version := benchLibrary(b, db)
			pid := benchPatient(b, db, 1)
			c := client(b, ts, relais.RolePrescriber)
			var t relais.Treatment
			if err := post(c, ts.URL+"/api/v1/treatments", fmt.Sprintf(`{"patient_id":%q,"protocol_version_id":%q,"intent":"curative","start_date":"2016-01-04"}`, pid, version), &t); err != nil {
				b.Fatal(err)
			}
			for cycle := 1; cycle <= 60; cycle++ {
				var p relais.Prescription
				start := relais.Date("2016-01-04").AddDays(60 * (cycle - 1))
				if err := post(c, fmt.Sprintf("%s/api/v1/treatments/%s/prescriptions", ts.URL, t.ID), fmt.Sprintf(`{"cycle":%d,"start_date":%q}`, cycle, start), &p); err != nil {
					b.Fatal(err)
				}
				if err := post(c, fmt.Sprintf("%s/api/v1/prescriptions/%s/sign", ts.URL, p.ID), "", nil); err != nil {
					b.Fatal(err)
				}
			}
			for _, n := range loadClients(b) {
				b.Run(fmt.Sprintf("clients-%d", n), func(b *testing.B) {
					cs := make([]*http.Client, n)
					for i := range cs {
						cs[i] = client(b, ts, relais.RolePrescriber)
					}
					base := bareP95(b, n)
					b.ResetTimer()
					lat := runClients(b, n, func(i int) (time.Duration, error) {
						t0 := time.Now()
						resp, err := cs[i].Get(fmt.Sprintf("%s/api/v1/patients/%s/history", ts.URL, pid))
						if err != nil {
							return 0, err
						}
						body, err := io.ReadAll(resp.Body)
						resp.Body.Close()
						if resp.StatusCode != 200 || !strings.Contains(string(body), `"prescriptions"`) {
							return 0, fmt.Errorf("history: %d %v", resp.StatusCode, err)
						}
						return time.Since(t0), err
					})
					b.StopTimer()
					pl := p95(lat)
					b.ReportMetric(float64(pl.Microseconds())/1000, "p95-ms")
					b.ReportMetric(float64(base.Microseconds())/1000, "bare-p95-ms")
					if base > 0 {
						b.ReportMetric(float64(pl)/float64(base), "p95-ratio")
					}
				})
			}
		})
	}
}
