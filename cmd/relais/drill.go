package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/relais-onco/relais/continuity"
)

// relais drill: a whole crisis exercise on temporary copies, timed
// (continuity.Drill, docs/continuity.md).

func init() {
	register("drill", "run a timed crisis exercise on copies (or, with --upgrade, an upgrade rehearsal)", runDrill)
}

func runDrill(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("drill", stderr)
	src := fs.String("db", "", "drill on a copy of this database `DSN` (never written); default: a demo site")
	n := fs.Int("preparations", 20, "preparations to release on the crisis node")
	workFor := fs.Duration("work-for", 3*time.Second, "how long the site works while the standby follows")
	wait := fs.Duration("wait", 2*time.Second, "the standby's long-poll")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	upgrade := fs.Bool("upgrade", false, "rehearse an upgrade instead, on a copy of --db: check → snapshot → migrate → check → rollback, each step timed (docs/operations/upgrade.md)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *upgrade {
		return runUpgradeDrill(ctx, *src, *asJSON, stdout, stderr)
	}
	if *n <= 0 {
		return exitError{exitUsage, "relais drill: --preparations must be positive"}
	}
	opts := continuity.DrillOptions{Source: *src, Preparations: *n, WorkFor: *workFor, Wait: *wait, Log: quietLogger(stderr)}
	if !*asJSON {
		opts.Progress = stdout
	}
	rep, err := continuity.Drill(ctx, opts)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
	} else {
		fmt.Fprint(stdout, rep.String())
	}
	if err != nil {
		return err
	}
	if !rep.OK() {
		return exitError{exitFaults, ""}
	}
	return nil
}

// runUpgradeDrill is relais drill --upgrade (continuity.UpgradeDrill).
func runUpgradeDrill(ctx context.Context, src string, asJSON bool, stdout, stderr io.Writer) error {
	if src == "" {
		return exitError{exitUsage, "relais drill --upgrade: give the database to rehearse on with --db DSN (only read; the rehearsal runs on a copy)"}
	}
	opts := continuity.UpgradeDrillOptions{Source: src, Log: quietLogger(stderr)}
	if !asJSON {
		opts.Progress = stdout
	}
	rep, err := continuity.UpgradeDrill(ctx, opts)
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
	} else if err == nil {
		fmt.Fprintf(stdout, "  %-9s %-4s %10s\n", "total", map[bool]string{true: "ok", false: "FAIL"}[rep.OK()], rep.Total().Round(time.Millisecond))
	}
	if err != nil {
		return err
	}
	if !rep.OK() {
		return exitError{exitFaults, "relais drill --upgrade: the rehearsal failed: do not upgrade the real database before settling it"}
	}
	return nil
}
