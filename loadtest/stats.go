package loadtest

import (
	"math"
	"sort"
	"sync"
	"time"
)

type outcome int

const (
	outcomeOK outcome = iota
	outcomeRefused
	outcomeError
)

// recorder keeps every request's latency by operation (a 10-minute run
// of 200 people makes a few hundred thousand: a few MB).
type recorder struct {
	mu      sync.Mutex
	ops     map[string]*opStats
	samples []string // the first errors, for the report
}

type opStats struct {
	ok, refused, errors, interrupted int
	lat                              []float32 // milliseconds, answered requests
}

func newRecorder() *recorder { return &recorder{ops: map[string]*opStats{}} }

func (r *recorder) op(name string) *opStats {
	s := r.ops[name]
	if s == nil {
		s = &opStats{}
		r.ops[name] = s
	}
	return s
}

func (r *recorder) add(name string, took time.Duration, o outcome, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.op(name)
	s.lat = append(s.lat, float32(took.Seconds()*1000))
	switch o {
	case outcomeOK:
		s.ok++
	case outcomeRefused:
		s.refused++
	case outcomeError:
		s.errors++
		if len(r.samples) < maxErrorSamples {
			r.samples = append(r.samples, msg)
		}
	}
}

const maxErrorSamples = 30

func (r *recorder) interrupted(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.op(name).interrupted++
}

// OpResult is one operation's numbers. Latencies are over answered
// requests (those cut by a deliberate crash have none).
type OpResult struct {
	Name        string  `json:"name"`
	Count       int     `json:"count"`
	Errors      int     `json:"errors"`
	Refused     int     `json:"refused"`     // refusals by design (e.g. an OK-to-treat criterion not met)
	Interrupted int     `json:"interrupted"` // cut by a deliberate crash (crash campaign)
	MeanMS      float64 `json:"mean_ms"`
	P50MS       float64 `json:"p50_ms"`
	P95MS       float64 `json:"p95_ms"`
	P99MS       float64 `json:"p99_ms"`
	MaxMS       float64 `json:"max_ms"`
}

// results summarises every operation, and all of them together as "all".
func (r *recorder) results() ([]OpResult, OpResult, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	names := make([]string, 0, len(r.ops))
	for n := range r.ops {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []OpResult
	all := &opStats{}
	for _, n := range names {
		s := r.ops[n]
		out = append(out, summarise(n, s))
		all.ok += s.ok
		all.refused += s.refused
		all.errors += s.errors
		all.interrupted += s.interrupted
		all.lat = append(all.lat, s.lat...)
	}
	return out, summarise("all", all), append([]string(nil), r.samples...)
}

func summarise(name string, s *opStats) OpResult {
	o := OpResult{Name: name, Count: s.ok + s.refused + s.errors + s.interrupted, Errors: s.errors, Refused: s.refused, Interrupted: s.interrupted}
	if len(s.lat) == 0 {
		return o
	}
	lat := append([]float32(nil), s.lat...)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	var sum float64
	for _, v := range lat {
		sum += float64(v)
	}
	o.MeanMS = round2(sum / float64(len(lat)))
	o.P50MS = round2(percentile(lat, 0.50))
	o.P95MS = round2(percentile(lat, 0.95))
	o.P99MS = round2(percentile(lat, 0.99))
	o.MaxMS = round2(float64(lat[len(lat)-1]))
	return o
}

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []float32, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	i = max(0, min(i, len(sorted)-1))
	return float64(sorted[i])
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }
