package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/continuity"
	"github.com/relais-onco/relais/internal/ptytest"
	"github.com/relais-onco/relais/sqlstore"
)

// The crisis procedure of docs/continuity.md, command by command: reserve
// numbers, snapshot to a USB key, verify it, declare a crisis from it, keep
// the logbook, work, reintegrate, check.
func TestCrisisProcedureCommands(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	siteDir, nodeDir := filepath.Join(dir, "site"), filepath.Join(dir, "node")
	siteDSN := "sqlite:" + filepath.Join(siteDir, "relais.db")
	db, err := sqlstore.Open(ctx, siteDSN, sqlstore.Options{Site: "chu-cli", Log: quietLogger(io.Discard)})
	if err != nil {
		t.Fatal(err)
	}
	if err := continuity.LoadSite(ctx, db); err != nil {
		t.Fatal(err)
	}
	db.Close()

	cli := func(want int, args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if code := run(ctx, args, nil, &out, &errb); code != want {
			t.Fatalf("relais %s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, want, out.String(), errb.String())
		}
		return out.String()
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	idFile := filepath.Join(dir, "pharmacy.key")
	if err := os.WriteFile(idFile, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cli(0, "crisis", "reserve", "--db", siteDSN, "--size", "12", "--pharmacist", "ph.durand")
	cli(0, "keys", "init", "--data", siteDir, "--site", "chu-cli")
	snap := filepath.Join(dir, "usb", "chu.snapshot")
	os.MkdirAll(filepath.Dir(snap), 0o750)
	cli(0, "snapshot", "create", "--db", siteDSN, "--out", snap, "--recipient", id.Recipient().String(), "--data", siteDir)
	out := cli(0, "snapshot", "verify", snap, "--identity", idFile, "--pubkey", filepath.Join(siteDir, "site.pub"))
	if !strings.Contains(out, "No fault found") || !strings.Contains(out, "the site key given") {
		t.Errorf("verify says:\n%s", out)
	}
	// The file may also come last, after a flag without a value.
	if out := cli(0, "snapshot", "verify", "--identity", idFile, "--json", snap); !strings.Contains(out, `"faults": []`) {
		t.Errorf("verify --identity K --json FILE says:\n%s", out)
	}
	cli(2, "snapshot", "verify", "--identity", idFile, snap, "other.snapshot")
	if code, _, errs := relaisRun("snapshot", "verify", "--nonsense", snap); code != exitUsage || strings.Count(errs, "not defined") != 1 {
		t.Errorf("verify --nonsense FILE: exit %d, want %d, and the unknown flag named once:\n%s", code, exitUsage, errs)
	}
	out = cli(0, "crisis", "start", "--data", nodeDir, "--snapshot", snap, "--identity", idFile, "--pubkey", filepath.Join(siteDir, "site.pub"),
		"--pharmacist", "ph.durand", "--reason", "exercice : panne du serveur", "--no-serve")
	if !strings.Contains(out, "CRISIS DECLARED") || !strings.Contains(out, "12 reserved register numbers") {
		t.Errorf("crisis start says:\n%s", out)
	}
	cli(0, "crisis", "log", "--data", nodeDir, "--role", "pilot", "--kind", "communication", "--as", "ph.durand", "Direction prévenue")
	cli(2, "crisis", "log", "--data", nodeDir, "--role", "chef", "--as", "ph.durand", "rôle inconnu")
	pdf := filepath.Join(dir, "logbook.pdf")
	if keep := os.Getenv("RELAIS_KEEP_LOGBOOK"); keep != "" {
		pdf = keep
	}
	cli(0, "crisis", "logbook", "--data", nodeDir, "--pdf", pdf)
	if b, err := os.ReadFile(pdf); err != nil || !bytes.HasPrefix(b, []byte("%PDF-")) {
		t.Errorf("the logbook PDF: %v", err)
	}
	if out := cli(0, "crisis", "logbook", "--data", nodeDir); !strings.Contains(out, "Direction prévenue") {
		t.Errorf("logbook:\n%s", out)
	}

	// Work on the crisis node.
	node, err := sqlstore.Open(ctx, "sqlite:"+continuity.DBPath(nodeDir), sqlstore.Options{Log: quietLogger(io.Discard)})
	if err != nil {
		t.Fatal(err)
	}
	team, err := continuity.NewTeam(ctx, node)
	if err != nil {
		t.Fatal(err)
	}
	regs, _ := continuity.Regimens(ctx, node, team)
	released := 0
	for i := 0; released < 2 && i < 20; i++ {
		preps, err := continuity.TreatPatient(ctx, node, team, regs[i%len(regs)], i)
		if err != nil {
			continue
		}
		for _, p := range preps {
			if p.Mode == relais.ModeCompounded && p.Status == relais.PrepToPrepare && released < 2 {
				if _, err := continuity.Produce(ctx, node, team, p.ID); err == nil {
					released++
				}
			}
		}
	}
	node.Close()
	if released < 2 {
		t.Fatal("no preparation released on the crisis node")
	}

	// Reintegrating on a terminal: its progress line counts the entries.
	ctl, term := ptytest.Open(t)
	screen := ptytest.Record(ctl)
	var reint bytes.Buffer
	if code := run(ctx, []string{"crisis", "reintegrate", "--db", siteDSN, "--crisis", nodeDir, "--pharmacist", "ph.durand"}, nil, &reint, term); code != 0 {
		t.Fatalf("relais crisis reintegrate: exit %d\n%s", code, reint.String())
	}
	out = reint.String()
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(screen.String(), "écritures (100.0 %)"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the terminal shows %q: no reintegration line at 100 %%", screen.String())
		}
	}
	if !strings.Contains(screen.String(), "réintégration: ") {
		t.Errorf("the terminal shows %q", screen.String())
	}
	if !strings.Contains(out, "0 queued") || !strings.Contains(out, "10 reserved numbers voided") || !strings.Contains(out, "No fault found") {
		t.Errorf("reintegrate says:\n%s", out)
	}
	cli(0, "check", "--db", siteDSN)
	cli(0, "check", "--db", "sqlite:"+continuity.DBPath(nodeDir))
	if out := cli(0, "crisis", "conflicts", "--db", siteDSN); !strings.Contains(out, "empty") {
		t.Errorf("conflicts:\n%s", out)
	}
}
