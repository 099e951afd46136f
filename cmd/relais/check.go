package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/relais-onco/relais/sqlstore"
)

// relais check: the integrity of a database after a crash, a restore, a
// crisis or a reintegration (see sqlstore/check.go and docs/continuity.md).
// Exit 0 when nothing is wrong, 1 naming each fault, 2 for wrong flags,
// 3 when the database could not be read.

func init() {
	register("check", "check a database's integrity: journal, register, leftover vials, references (exit 1 on any fault)", runCheck)
}

func runCheck(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("check", stderr)
	dsn := fs.String("db", "", "database `DSN`: sqlite:PATH or postgres://USER@HOST:5432/DB (opened read-only)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	since := fs.String("since", "", "verify the journal only from the last checkpoint signed at or before `TIME` (RFC 3339, e.g. 2026-11-22T14:00:00Z): the quick check after a crash; the other checks stay whole")
	var keys pubkeys
	fs.Var(&keys, "pubkey", "with --since: the site's public `KEY` (base64, or a site.pub file) to verify the checkpoints with, instead of the key recorded in the database")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dsn == "" {
		return exitError{exitUsage, "relais check: --db DSN is required"}
	}
	var opts sqlstore.CheckOptions
	if *since != "" {
		t, err := time.Parse(time.RFC3339, *since)
		if err != nil {
			return exitError{exitUsage, fmt.Sprintf("relais check: --since %q is not a time: write it as RFC 3339, e.g. 2026-11-22T14:00:00Z", *since)}
		}
		opts.Since = t
	}
	opts.PublicKeys = keys
	db, err := openReadOnlyWith(ctx, *dsn, sqlstore.Options{Progress: stderr}) // a progress line on a terminal
	if err != nil {
		return exitError{exitNotRead, fmt.Sprintf("relais check: %v\nNothing was checked.", err)}
	}
	defer db.Close()
	rep, err := db.CheckWith(ctx, opts)
	if err != nil {
		return exitError{exitNotRead, fmt.Sprintf("relais check: the database could not be read to the end: %v\nNothing was concluded.", err)}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		fmt.Fprint(stdout, rep.String())
	}
	if !rep.OK() {
		return exitError{exitFaults, ""}
	}
	return nil
}
