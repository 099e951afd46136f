package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/relais-onco/relais/internal/progress"
	"github.com/relais-onco/relais/loadtest"
)

func init() {
	register("load", "run simulated users against a server on this machine; --crash N kills it N times (docs/campaigns.md)", runLoad)
}

func runLoad(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("load", stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: relais load [flags]

Simulated prescribers, pharmacists, technicians and nurses work the circuit
through the HTTP API and pages of a Relais on this machine: new patients
included and prescribed, days validated, preparations made, checked,
released and dispensed, administrations recorded; everyone searches and
reads patients. It reports each operation's count, errors and p50/p95/p99,
and the server's resident memory (--server-pid). It passes (exit 0) with no
error and the RSS under --rss-limit; otherwise it exits 1.

The server needs the demo's protocol library and an administrator
(relais demo --no-serve --data DIR makes one); the load makes its own
accounts (load-ROLE-NNN) and receives stock for every product.

With --crash N it starts 'relais serve' itself on --db, kills it with
SIGKILL N times at seeded random moments, restarts it, runs 'relais check
--since' the campaign's start (the journal from the last checkpoint signed
before it; everything else whole), and reads back every write the server
had acknowledged: one missing fails the campaign. After the last round it
stops the server and runs the whole 'relais check' once.

Examples:
  relais load --target http://127.0.0.1:8080 --users 200 --duration 10m --server-pid 1234 --out load.json
  relais load --crash 20 --db sqlite:/tmp/demo/relais.db --data /tmp/demo --users 50 --duration 5m

Flags:
`)
		fs.PrintDefaults()
	}
	target := fs.String("target", "http://127.0.0.1:8080", "the server's `URL` (loopback only unless --force)")
	users := fs.Int("users", 10, "simulated people working at once (`N`, at most 1000)")
	duration := fs.Duration("duration", 30*time.Second, "how long they work, after the ramp-up (at most 2h)")
	think := fs.Duration("think", 2*time.Second, "mean pause between a person's actions")
	rampUp := fs.Duration("ramp-up", 0, "spread the sign-ins over this long (default: a fifth of --duration, at most 30s)")
	seed := fs.Uint64("seed", 1, "seed of the people's choices and of the crash moments")
	admin := fs.String("admin", "admin.dsi", "an account with user.admin that makes the load's accounts")
	password := fs.String("password", "relais-demo", "its password")
	pid := fs.Int("server-pid", 0, "the server's `PID`: its RSS is sampled from /proc/PID/status every second")
	rssLimit := fs.Float64("rss-limit", 300, "pass only if the server's RSS stays under this many `MB`")
	force := fs.Bool("force", false, "allow a target that is not on the loopback interface (never a production server)")
	out := fs.String("out", "", "write the results as JSON to `FILE`")
	crash := fs.Int("crash", 0, "crash campaign: start 'relais serve' and SIGKILL it `N` times")
	db := fs.String("db", "", "crash campaign: the database `DSN` (sqlite:PATH or postgres://…), holding the demo")
	data := fs.String("data", "", "crash campaign: the server's data `DIR` (default: the SQLite file's directory)")
	addr := fs.String("addr", "", "crash campaign: where the server listens (default: a free loopback port)")
	showProgress := fs.Bool("progress", progress.IsTerminal(stderr), "print a progress line every 10s (default: when standard error is a terminal)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return loadUsage("unexpected argument %q", fs.Arg(0))
	}
	cfg := loadtest.Config{Target: *target, Users: *users, Duration: *duration, Think: *think, RampUp: *rampUp, Seed: *seed,
		Admin: *admin, Password: *password, ServerPID: *pid, RSSLimitMB: *rssLimit, Force: *force}
	if *showProgress {
		cfg.Progress = stderr
	}
	var (
		res *loadtest.Result
		err error
	)
	if *crash > 0 {
		if *db == "" {
			return loadUsage("--crash needs --db DSN (a database holding the demo: relais demo --no-serve --data DIR)")
		}
		dir := *data
		if dir == "" {
			path, ok := strings.CutPrefix(*db, "sqlite:")
			if !ok {
				return loadUsage("--crash on PostgreSQL needs --data DIR (for the server's site key and log)")
			}
			dir = filepath.Dir(path)
		}
		bin, berr := os.Executable()
		if berr != nil {
			return berr
		}
		res, err = loadtest.Crash(ctx, loadtest.CrashConfig{Config: cfg, Kills: *crash, Binary: bin, DB: *db, Data: dir, Addr: *addr})
	} else {
		res, err = loadtest.Run(ctx, cfg)
	}
	if err != nil {
		return err
	}
	printLoad(stdout, res)
	if *out != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	if !res.Pass {
		return exitError{1, "relais load: FAIL: " + strings.Join(res.Failures, "; ")}
	}
	return nil
}

func printLoad(w io.Writer, r *loadtest.Result) {
	fmt.Fprintf(w, "%d users (%s) for %.0fs against %s: %d requests (%.1f/s), %d errors, %d refusals by design\n",
		r.Users, mixText(r.Mix), r.DurationS, r.Target, r.Total.Count, r.PerSecond, r.Total.Errors, r.Total.Refused)
	fmt.Fprintf(w, "\n%-30s %7s %6s %7s %7s %9s %9s %9s %9s\n", "operation", "count", "errors", "refused", "cut", "p50 ms", "p95 ms", "p99 ms", "max ms")
	for _, o := range append(r.Operations, r.Total) {
		fmt.Fprintf(w, "%-30s %7d %6d %7d %7d %9.1f %9.1f %9.1f %9.1f\n", o.Name, o.Count, o.Errors, o.Refused, o.Interrupted, o.P50MS, o.P95MS, o.P99MS, o.MaxMS)
	}
	fmt.Fprintln(w, "(refused: refusals by design, e.g. an OK-to-treat criterion not met; cut: requests cut by a deliberate kill)")
	fmt.Fprintf(w, "\nwork done: %s; %d writes acknowledged\n", mixText(r.Flows), r.Acknowledged)
	if r.RSS != nil {
		fmt.Fprintf(w, "server RSS: max %.1f MB (limit %.0f MB, %d samples)\n", r.RSS.MaxMB, r.RSS.LimitMB, len(r.RSS.Samples))
	} else {
		fmt.Fprintln(w, "server RSS: not sampled (give --server-pid)")
	}
	if c := r.Crash; c != nil {
		fmt.Fprintf(w, "\ncrash campaign on %s: %d kills; each check verifies the journal from the last checkpoint signed before %s\n",
			c.DB, c.Kills, c.Since.Format(time.RFC3339))
		for _, k := range c.Rounds {
			from := "the whole chain"
			if k.CheckFrom > 0 {
				from = fmt.Sprintf("from entry %d", k.CheckFrom)
			}
			fmt.Fprintf(w, "  kill %2d after %6.1fs: back in %5.1fs, check %s (%.1fs, journal %s: %d entries), %d acknowledged writes read back, %d missing\n",
				k.N, k.UptimeS, k.RestartS, okText(k.CheckOK), k.CheckS, from, k.CheckedN, k.Verified, len(k.Missing))
			for _, m := range k.Missing {
				fmt.Fprintf(w, "    missing: %s %s: acknowledged %s, found %s\n", m.Kind, m.ID, m.Want, m.Found)
			}
		}
		fmt.Fprintf(w, "  the whole relais check after the last round, server stopped: %s (%.1fs)\n", okText(c.FinalCheckOK), c.FinalCheckS)
	}
	for _, s := range r.ErrorSamples {
		fmt.Fprintf(w, "error: %s\n", s)
	}
	if r.Pass {
		fmt.Fprintln(w, "PASS")
	}
}

func mixText(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d %s", m[k], k))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func okText(ok bool) string {
	if ok {
		return "ok"
	}
	return "FAILED"
}

func loadUsage(format string, args ...any) error {
	return exitError{exitUsage, "relais load: " + fmt.Sprintf(format, args...)}
}
