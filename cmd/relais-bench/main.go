// Command relais-bench runs Relais's benchmarks on SQLite and PostgreSQL,
// each beside its physical floor measured in the same run, and writes the
// table (value, baseline, ratio) into the generated section of
// docs/BENCHMARKS.md with two SVG charts in docs/img. The full mode also
// runs every fuzz target for a while. scripts/bench is its wrapper; see
// docs/BENCHMARKS.md ("How the table is made").
//
//	scripts/bench --quick     # a few minutes: small counts, no fuzzing
//	scripts/bench             # the full run: longer benchmarks, 64 clients, fuzzing
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/relais-onco/relais/internal/progress"
)

// Markers of the generated section of docs/BENCHMARKS.md.
const (
	BeginMarker = "<!-- bench:begin -->"
	EndMarker   = "<!-- bench:end -->"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "relais-bench:", err)
		os.Exit(1)
	}
}

type config struct {
	quick    bool
	root     string
	doc      string
	img      string
	write    bool
	fuzztime time.Duration
	postgres string
	only     string
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c config
	fs := flag.NewFlagSet("relais-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&c.quick, "quick", false, "a few minutes: small counts, 1/4/16 clients, no fuzzing")
	fs.StringVar(&c.root, "root", ".", "the repository's `DIR`")
	fs.StringVar(&c.doc, "doc", "docs/BENCHMARKS.md", "the `FILE` whose generated section is rewritten")
	fs.StringVar(&c.img, "img", "docs/img", "where the SVG charts go (`DIR`)")
	fs.BoolVar(&c.write, "write", true, "rewrite the generated section and the charts (false: print the table only)")
	fs.DurationVar(&c.fuzztime, "fuzztime", 0, "how long each fuzz target runs (default: none with --quick, 2m otherwise)")
	fs.StringVar(&c.postgres, "postgres", os.Getenv("RELAIS_TEST_POSTGRES"), "PostgreSQL `DSN` for the postgres rows (default $RELAIS_TEST_POSTGRES; unset: SQLite only)")
	fs.StringVar(&c.only, "only", "", "run only the jobs whose package contains `TEXT` (for trying the script)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: scripts/bench [--quick] [flags]\n\nRuns the benchmarks on SQLite and PostgreSQL beside their physical floors and writes\nthe table and charts of docs/BENCHMARKS.md (between "+BeginMarker+" and "+EndMarker+").\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	fuzzSet := false
	fs.Visit(func(f *flag.Flag) { fuzzSet = fuzzSet || f.Name == "fuzztime" })
	if !fuzzSet && !c.quick {
		c.fuzztime = 2 * time.Minute
	}
	root, err := filepath.Abs(c.root)
	if err != nil {
		return err
	}
	c.root = root

	jobs := Jobs(c.quick)
	if lag := findBenchmark(c.root, "BenchmarkReplicationLag"); lag != "" {
		bt := "3x"
		if !c.quick {
			bt = "10x"
		}
		jobs = append(jobs, Job{Pkg: "./" + lag, Bench: "^BenchmarkReplicationLag$", Benchtime: bt, Timeout: "30m"})
	}
	if c.only != "" {
		jobs = slices.DeleteFunc(jobs, func(j Job) bool { return !strings.Contains(j.Pkg, c.only) })
	}
	var fuzz []FuzzTarget
	if c.fuzztime > 0 && c.only == "" {
		fuzz = FindFuzzTargets(c.root)
	}
	bar := progress.New(stderr, "bench", int64(len(jobs)+len(fuzz)), "jobs")
	began := time.Now()
	results := Results{}
	var failures []string
	for _, j := range jobs {
		bar.Extra(j.Pkg + " " + j.Bench)
		out, err := j.Run(ctx, c.root, c.postgres)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		results.Parse(out)
		if err != nil {
			failures = append(failures, fmt.Sprintf("%s %s: %v\n%s", j.Pkg, j.Bench, err, lastLines(out, 15)))
			fmt.Fprintf(stderr, "\nrelais-bench: %s %s failed: %v\n%s\n", j.Pkg, j.Bench, err, lastLines(out, 15))
		}
		bar.Add(1)
	}
	var fuzzed []FuzzResult
	for _, f := range fuzz {
		bar.Extra("fuzz " + f.Name)
		fuzzed = append(fuzzed, f.Run(ctx, c.root, c.fuzztime))
		if ctx.Err() != nil {
			return ctx.Err()
		}
		bar.Add(1)
	}
	bar.Done()

	mode := "full"
	if c.quick {
		mode = "quick"
	}
	meta := Meta{Mode: mode, Took: time.Since(began), When: time.Now().UTC(), Go: runtime.Version(), CPUs: runtime.NumCPU(),
		Load: loadAverage(), Postgres: c.postgres != "", Failures: failures}
	rows := Rows(results)
	section := Markdown(meta, rows, results, fuzzed, unlisted(c.root))
	fmt.Fprintln(stdout, section)
	if c.write {
		if err := os.MkdirAll(filepath.Join(c.root, c.img), 0o755); err != nil {
			return err
		}
		charts := map[string]string{
			"bench-latency.svg":     LatencyChart(results),
			"bench-replication.svg": ReplicationChart(results),
		}
		for name, svg := range charts {
			if err := os.WriteFile(filepath.Join(c.root, c.img, name), []byte(svg), 0o644); err != nil {
				return err
			}
		}
		if err := WriteSection(filepath.Join(c.root, c.doc), section); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "relais-bench: wrote %s and %s/bench-*.svg in %s\n", c.doc, c.img, progress.Round(meta.Took))
	}
	if len(failures) > 0 {
		return fmt.Errorf("%d benchmark job(s) failed (listed in the table's notes)", len(failures))
	}
	for _, f := range fuzzed {
		if !f.OK {
			return fmt.Errorf("fuzz target %s failed: %s", f.Name, f.Note)
		}
	}
	return nil
}

// Job is one `go test -bench` run.
type Job struct {
	Pkg, Bench, Benchtime string
	Env                   []string
	Timeout               string
}

// Jobs are the benchmark runs, small with quick.
func Jobs(quick bool) []Job {
	q := func(quickValue, full string) string {
		if quick {
			return quickValue
		}
		return full
	}
	clients := "1,4,16,32,64"
	if quick {
		clients = "1,4,16"
	}
	return []Job{
		{Pkg: "./clinical", Bench: "^BenchmarkCycle10Lines$", Benchtime: q("2000x", "20000x")},
		{Pkg: "./sqlstore", Bench: "^(BenchmarkBareInsert|BenchmarkJournaledWrite)$", Benchtime: q("30x", "300x")},
		{Pkg: "./sqlstore", Bench: "^BenchmarkRegisterConcurrentIssues$", Benchtime: q("1x", "3x")},
		{Pkg: "./sqlstore", Bench: "^BenchmarkVerifyJournal$/^1000$", Benchtime: q("3x", "10x")},
		{Pkg: "./web", Bench: "^BenchmarkLoadCreateSign$", Benchtime: q("48x", "320x"), Env: []string{"RELAIS_BENCH_CLIENTS=" + clients}, Timeout: "60m"},
		{Pkg: "./web", Bench: "^BenchmarkLoadHistory$", Benchtime: q("48x", "320x"), Env: []string{"RELAIS_BENCH_CLIENTS=" + clients}, Timeout: "60m"},
		{Pkg: "./web", Bench: "^BenchmarkPages$/^queue$", Benchtime: q("20x", "200x")},
		{Pkg: "./web", Bench: "^BenchmarkProductionDay300$", Benchtime: q("1x", "3x"), Timeout: "30m"},
		{Pkg: "./pdfdoc", Bench: "^BenchmarkProductionDay$", Benchtime: q("1x", "5x")},
		{Pkg: "./hl7/adt", Bench: "^BenchmarkADTDurableAck$", Benchtime: q("2000x", "6000x")},
		{Pkg: "./continuity", Bench: "^(BenchmarkSnapshot|BenchmarkCrisisStart)$", Benchtime: q("2x", "5x"), Timeout: "30m"},
		{Pkg: "./continuity", Bench: "^BenchmarkReintegrate$", Benchtime: "1x", Env: []string{"RELAIS_BENCH_PREPARATIONS=" + q("30", "900")}, Timeout: "60m"},
	}
}

// Run runs the job in root and returns its output.
func (j Job) Run(ctx context.Context, root, postgres string) (string, error) {
	timeout := j.Timeout
	if timeout == "" {
		timeout = "20m"
	}
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", j.Bench, "-benchtime", j.Benchtime, "-count", "1", "-timeout", timeout, j.Pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), j.Env...)
	cmd.Env = slices.DeleteFunc(cmd.Env, func(s string) bool { return strings.HasPrefix(s, "RELAIS_TEST_POSTGRES=") })
	if postgres != "" {
		cmd.Env = append(cmd.Env, "RELAIS_TEST_POSTGRES="+postgres)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// Results maps a benchmark's name (without the -GOMAXPROCS suffix) to its
// metrics by unit ("ns/op", "p95-ms", "msg/s"…).
type Results map[string]map[string]float64

var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(-\d+)?\s+(\d+)\s+(.*)$`)

// Parse reads `go test -bench` output.
func (r Results) Parse(out string) {
	for _, line := range strings.Split(out, "\n") {
		m := benchLine.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		f := strings.Fields(m[4])
		metrics := map[string]float64{}
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				break
			}
			metrics[f[i+1]] = v
		}
		if len(metrics) > 0 {
			r[m[1]] = metrics
		}
	}
}

// Get returns one metric.
func (r Results) Get(name, unit string) (float64, bool) {
	v, ok := r[name][unit]
	return v, ok
}

// Row is a line of the table: a measure beside its floor.
type Row struct {
	What, Engine string
	Value        Measure
	Baseline     Measure
	BaseWhat     string
	Command      string
}

// Measure names one metric of one benchmark.
type Measure struct {
	Bench, Unit string
}

// Rows are the table's lines, from what was measured.
func Rows(r Results) []Row {
	var rows []Row
	add := func(what, engine string, v Measure, base Measure, baseWhat, cmd string) {
		if _, ok := r.Get(v.Bench, v.Unit); !ok {
			return
		}
		rows = append(rows, Row{what, engine, v, base, baseWhat, cmd})
	}
	add("Clinical engine: one 10-line cycle, every rule kind", "—", Measure{"BenchmarkCycle10Lines", "ns/op"}, Measure{}, "", "go test ./clinical -bench Cycle10Lines")
	for _, e := range []string{"sqlite", "postgres"} {
		add("One journaled write (db.Write: row + hash-chained entry)", e, Measure{"BenchmarkJournaledWrite/" + e, "ns/op"},
			Measure{"BenchmarkBareInsert/" + e, "ns/op"}, "bare INSERT, own commit", "go test ./sqlstore -bench 'BareInsert|JournaledWrite'")
	}
	for _, e := range []string{"sqlite", "postgres"} {
		for _, n := range []int{1, 16, 64} {
			b := fmt.Sprintf("BenchmarkLoadCreateSign/%s/clients-%d", e, n)
			add(fmt.Sprintf("Prescription round trip: create + sign a 10-line cycle, API, %d client(s), p95", n), e, Measure{b, "p95-ms"},
				Measure{b, "bare-p95-ms"}, "empty HTTP handler, same clients", "go test ./web -bench LoadCreateSign")
		}
	}
	for _, e := range []string{"sqlite", "postgres"} {
		for _, n := range []int{1, 16} {
			b := fmt.Sprintf("BenchmarkLoadHistory/%s/clients-%d", e, n)
			add(fmt.Sprintf("Patient timeline: 10 years, 60 cycles, API, %d client(s), p95", n), e, Measure{b, "p95-ms"},
				Measure{b, "bare-p95-ms"}, "empty HTTP handler, same clients", "go test ./web -bench LoadHistory")
		}
	}
	add("Validation queue page (demo data), p95", "sqlite", Measure{"BenchmarkPages/queue", "p95-ms"}, Measure{}, "", "go test ./web -bench 'Pages/queue'")
	add("Production day: 300 preparations' documents from the database", "sqlite", Measure{"BenchmarkProductionDay300", "ns/op"}, Measure{}, "", "go test ./web -bench ProductionDay300")
	add("Production day: 300 worksheets + labels + slips rendered (PDF only)", "—", Measure{"BenchmarkProductionDay", "ns/op"}, Measure{}, "", "go test ./pdfdoc -bench ProductionDay")
	add("HL7 ADT ingestion, durable acknowledgement", "sqlite", Measure{"BenchmarkADTDurableAck", "msg/s"}, Measure{"BenchmarkADTDurableAck", "echo-msg/s"}, "bare MLLP echo over loopback", "go test ./hl7/adt -bench ADTDurableAck")
	for _, e := range []string{"sqlite", "postgres"} {
		for _, step := range []string{"create", "verify", "restore"} {
			add("Snapshot "+step, e, Measure{"BenchmarkSnapshot/" + e + "/" + step, "ns/op"}, Measure{"BenchmarkSnapshot/" + e + "/copy", "ns/op"},
				"raw sequential copy of the same bytes", "go test ./continuity -bench Snapshot")
		}
		add("Crisis start: snapshot restored + crisis declared", e, Measure{"BenchmarkCrisisStart/" + e + "/start", "ns/op"}, Measure{"BenchmarkCrisisStart/" + e + "/copy", "ns/op"},
			"raw sequential copy of the snapshot", "go test ./continuity -bench CrisisStart")
		add("Register: 32 concurrent worksheet issues", e, Measure{"BenchmarkRegisterConcurrentIssues/" + e, "ns/op"}, Measure{}, "", "go test ./sqlstore -bench RegisterConcurrentIssues")
	}
	add("Reintegration of a crisis node's work", "sqlite", Measure{"BenchmarkReintegrate", "ns/op"}, Measure{}, "", "RELAIS_BENCH_PREPARATIONS=N go test ./continuity -bench Reintegrate")
	add("Audit: verify a 1,000-entry journal", "sqlite", Measure{"BenchmarkVerifyJournal/1000", "ns/op"}, Measure{}, "", "go test ./sqlstore -bench VerifyJournal")
	for _, name := range lagBenchmarks(r) {
		m := lagMetric(r[name])
		add("Replication lag ("+strings.TrimPrefix(name, "BenchmarkReplicationLag/")+"), A → B, p95", "sqlite", Measure{name, m}, Measure{name, "p95-floor-ms"},
			"bare JetStream publish → sourced stream → consumer, A → hub → B", "go test ./network -bench ReplicationLag")
	}
	return rows
}

// Meta describes the run.
type Meta struct {
	Mode     string
	Took     time.Duration
	When     time.Time
	Go       string
	CPUs     int
	Load     string
	Postgres bool
	Failures []string
}

// Markdown is the generated section.
func Markdown(m Meta, rows []Row, r Results, fuzz []FuzzResult, unlisted []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "_Generated by `scripts/bench%s` on %s (%s mode, %s, %d CPUs, load before the run %s) in %s. Do not edit by hand: the next run rewrites this section._\n\n",
		map[bool]string{true: " --quick", false: ""}[m.Mode == "quick"], m.When.Format("2006-01-02 15:04 UTC"), m.Mode, m.Go, m.CPUs, m.Load, progress.Round(m.Took))
	if !m.Postgres {
		b.WriteString("PostgreSQL was not measured in this run (RELAIS_TEST_POSTGRES unset).\n\n")
	}
	b.WriteString("| What | Engine | Measured | Physical floor, same run | Ratio | Command |\n|---|---|---|---|---|---|\n")
	for _, row := range rows {
		v, _ := r.Get(row.Value.Bench, row.Value.Unit)
		val, base, ratio := format(v, row.Value.Unit), "—", "—"
		if bv, ok := r.Get(row.Baseline.Bench, row.Baseline.Unit); ok && bv > 0 {
			base = format(bv, row.Baseline.Unit) + " (" + row.BaseWhat + ")"
			if strings.HasSuffix(row.Value.Unit, "/s") { // a rate: the share of the floor reached
				ratio = num(v/bv) + " of the floor"
			} else {
				ratio = "× " + num(v/bv)
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | `%s` |\n", row.What, row.Engine, val, base, ratio, row.Command)
	}
	if len(lagBenchmarks(r)) == 0 {
		b.WriteString("| Replication lag against event rate | — | not measured: no `BenchmarkReplicationLag` in the repository yet | — | — | — |\n")
	}
	b.WriteString("\n![p95 latency against concurrent clients](img/bench-latency.svg)\n\n![Replication lag against event rate](img/bench-replication.svg)\n")
	if len(fuzz) > 0 {
		b.WriteString("\n| Fuzz target | Package | Ran | Executions | Result |\n|---|---|---|---|---|\n")
		for _, f := range fuzz {
			res := "no failure"
			if !f.OK {
				res = "**failed**: " + f.Note
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", f.Name, f.Pkg, progress.Round(f.Took), f.Execs, res)
		}
	}
	if len(unlisted) > 0 {
		b.WriteString("\nBenchmarks in the repository that this table does not use: " + strings.Join(unlisted, ", ") + ".\n")
	}
	if len(m.Failures) > 0 {
		b.WriteString("\n**Jobs that failed in this run** (their rows are missing):\n\n```\n" + strings.Join(m.Failures, "\n") + "\n```\n")
	}
	return b.String()
}

func format(v float64, unit string) string {
	switch unit {
	case "ns/op":
		return duration(v) + "/op"
	case "p95-ms", "bare-p95-ms", "p95-lag-ms", "lag-ms", "p95-floor-ms":
		return num(v) + " ms p95"
	case "msg/s", "echo-msg/s":
		return strconv.FormatFloat(v, 'f', 0, 64) + " msg/s"
	}
	return strconv.FormatFloat(v, 'g', 4, 64) + " " + unit
}

// duration writes ns with three significant digits in a fitting unit.
func duration(ns float64) string {
	for _, u := range []struct {
		unit string
		ns   float64
	}{{"s", 1e9}, {"ms", 1e6}, {"µs", 1e3}} {
		if ns >= u.ns {
			return num(ns/u.ns) + " " + u.unit
		}
	}
	return num(ns) + " ns"
}

// num writes v with three significant digits, without an exponent.
func num(v float64) string {
	if v >= 100 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	s := strconv.FormatFloat(v, 'g', 3, 64) // below 100, an exponent only for tiny values
	if strings.Contains(s, "e") {
		s = strconv.FormatFloat(v, 'f', -1, 64)
	}
	return s
}

// WriteSection replaces what lies between the markers of the file.
func WriteSection(path, section string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := string(b)
	i, j := strings.Index(s, BeginMarker), strings.Index(s, EndMarker)
	if i < 0 || j < i {
		return fmt.Errorf("%s has no %s … %s section to rewrite", path, BeginMarker, EndMarker)
	}
	s = s[:i+len(BeginMarker)] + "\n" + section + "\n" + s[j:]
	return os.WriteFile(path, []byte(s), 0o644)
}

// lagBenchmarks are the replication-lag results, by event rate.
func lagBenchmarks(r Results) []string {
	var out []string
	for name := range r {
		if strings.HasPrefix(name, "BenchmarkReplicationLag") {
			out = append(out, name)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		ri, rj := rateOf(out[i]), rateOf(out[j])
		if ri != rj {
			return ri < rj
		}
		return out[i] < out[j]
	})
	return out
}

var rateRE = regexp.MustCompile(`rate-(\d+)`)

func rateOf(name string) float64 {
	m := rateRE.FindStringSubmatch(name)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// lagMetric picks the lag a BenchmarkReplicationLag reports: p95-lag-ms,
// lag-ms, p95-ms, or the time per operation.
func lagMetric(m map[string]float64) string {
	for _, u := range []string{"p95-lag-ms", "lag-ms", "p95-ms"} {
		if _, ok := m[u]; ok {
			return u
		}
	}
	return "ns/op"
}

// findBenchmark returns the directory (relative to root) of the package
// declaring func name, or "".
func findBenchmark(root, name string) string {
	var found string
	filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || found != "" {
			return nil
		}
		if d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err == nil && bytes.Contains(b, []byte("func "+name+"(")) {
			rel, _ := filepath.Rel(root, filepath.Dir(path))
			found = rel
		}
		return nil
	})
	return found
}

var funcRE = regexp.MustCompile(`(?m)^func ((?:Benchmark|Fuzz)[A-Za-z0-9_]*)\(`)

// declared lists the Benchmark or Fuzz functions of the repository with
// their package directory.
func declared(root, prefix string) [][2]string {
	var out [][2]string
	filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		for _, m := range funcRE.FindAllStringSubmatch(string(b), -1) {
			if strings.HasPrefix(m[1], prefix) {
				out = append(out, [2]string{rel, m[1]})
			}
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i][0]+out[i][1] < out[j][0]+out[j][1] })
	return out
}

// unlisted names the benchmarks no job runs.
func unlisted(root string) []string {
	var out []string
	for _, d := range declared(root, "Benchmark") {
		covered := false
		for _, j := range Jobs(false) {
			re, err := regexp.Compile(strings.Split(j.Bench, "/")[0])
			if err == nil && "./"+d[0] == j.Pkg && re.MatchString(d[1]) {
				covered = true
			}
		}
		if !covered && d[1] != "BenchmarkReplicationLag" {
			out = append(out, "`"+d[0]+"."+d[1]+"`")
		}
	}
	return out
}

// FuzzTarget is one fuzz function.
type FuzzTarget struct{ Pkg, Name string }

// FuzzResult is what running it gave.
type FuzzResult struct {
	FuzzTarget
	Took  time.Duration
	Execs string
	OK    bool
	Note  string
}

// FindFuzzTargets lists every Fuzz function of the repository.
func FindFuzzTargets(root string) []FuzzTarget {
	var out []FuzzTarget
	for _, d := range declared(root, "Fuzz") {
		out = append(out, FuzzTarget{Pkg: "./" + d[0], Name: d[1]})
	}
	return out
}

var execsRE = regexp.MustCompile(`execs: (\d+)`)

// Run fuzzes the target for d. New interesting inputs are minimized for at
// most 5 s each, so that large seeds do not eat the time (see .ci/run).
func (f FuzzTarget) Run(ctx context.Context, root string, d time.Duration) FuzzResult {
	began := time.Now()
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-fuzz", "^"+f.Name+"$", "-fuzztime", d.String(),
		"-fuzzminimizetime", "5s", "-parallel", "1", f.Pkg)
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	res := FuzzResult{FuzzTarget: f, Took: time.Since(began), OK: err == nil}
	if m := execsRE.FindAllStringSubmatch(out.String(), -1); len(m) > 0 {
		res.Execs = m[len(m)-1][1]
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			res.Note = strings.ReplaceAll(lastLines(out.String(), 6), "\n", " ")
		} else {
			res.Note = err.Error()
		}
	}
	return res
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// loadAverage is the 1-minute load average (Linux), or "unknown".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "unknown"
	}
	return f[0]
}
