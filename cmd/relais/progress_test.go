package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/relais-onco/relais/internal/ptytest"
	"github.com/relais-onco/relais/internal/testdb"
)

// Long work on the command line (a snapshot, its verification, a check)
// draws a progress line on a terminal, and nothing of it elsewhere.
func TestLongWorkShowsProgressOnATerminal(t *testing.T) {
	dir := t.TempDir()
	dsn := testdb.SQLite(t)
	journaledDB(t, dsn)
	if code, _, errs := relaisRun("keys", "init", "--data", dir, "--site", "chu-cmd"); code != 0 {
		t.Fatalf("keys init: %s", errs)
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	idFile := filepath.Join(dir, "pharmacy.key")
	if err := os.WriteFile(idFile, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	snap := filepath.Join(dir, "site.snapshot")
	commands := [][]string{
		{"snapshot", "create", "--db", dsn, "--data", dir, "--out", snap, "--recipient", id.Recipient().String(), "--portable"},
		{"snapshot", "verify", snap, "--identity", idFile},
		{"check", "--db", dsn},
	}

	ctl, term := ptytest.Open(t)
	screen := ptytest.Record(ctl)
	for _, args := range commands {
		var out bytes.Buffer
		if code := run(context.Background(), args, nil, &out, term); code != 0 {
			t.Fatalf("relais %s: exit %d\n%s", strings.Join(args, " "), code, out.String())
		}
	}
	want := []string{"instantané: 1 Mo", "restauration: 1/1 Mo (100.0 %)", "vérification: 5/5 parties (100.0 %)"}
	deadline := time.Now().Add(5 * time.Second)
	for {
		missing := ""
		for _, w := range want {
			if !strings.Contains(screen.String(), w) {
				missing = w
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the terminal shows %q, without %q", screen.String(), missing)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := strings.Count(screen.String(), "vérification: 5/5"); n != 2 {
		t.Errorf("the check's line ended %d times, want twice (snapshot verify, check)", n)
	}

	// Into a pipe or a log, the same commands print their reports only.
	for _, args := range commands[1:] {
		code, out, errs := relaisRun(args...)
		if code != 0 || strings.ContainsAny(out+errs, "\r") || strings.Contains(errs, "Mo") || strings.Contains(errs, "parties") {
			t.Errorf("relais %s, not on a terminal: exit %d, stdout %q, stderr %q", strings.Join(args, " "), code, out, errs)
		}
	}
}
