package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/internal/testdb"
	"github.com/relais-onco/relais/journal"
	"github.com/relais-onco/relais/sqlstore"
)

// relaisRun runs the binary's entry point and returns its exit code and
// outputs.
func relaisRun(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(context.Background(), args, nil, &out, &errb)
	return code, out.String(), errb.String()
}

// journaledDB makes a database at dsn with a few journaled changes and
// returns the id of the user "alice" (entry 2).
func journaledDB(t *testing.T, dsn string) (relais.User, *sqlstore.DB) {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), dsn, sqlstore.Options{Site: "chu-cmd", Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx := relais.WithActor(context.Background(), relais.SystemActor("chu-cmd"))
	if err := db.SaveSite(ctx, relais.Site{ID: "chu-cmd", Name: "CHU Cmd", Kind: "chu"}); err != nil {
		t.Fatal(err)
	}
	alice, err := db.CreateUser(ctx, relais.User{Username: "alice", Name: "Alice Martin", Role: relais.RolePharmacist}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateUser(ctx, relais.User{Username: "bob", Name: "Bob Durand", Role: relais.RoleNurse}, ""); err != nil {
		t.Fatal(err)
	}
	return alice, db
}

// tamper runs a statement outside Relais, with ? placeholders.
func tamper(t *testing.T, db *sqlstore.DB, q string, args ...any) {
	t.Helper()
	if db.Engine == sqlstore.Postgres {
		for i := 1; strings.Contains(q, "?"); i++ {
			q = strings.Replace(q, "?", fmt.Sprintf("$%d", i), 1)
		}
	}
	if _, err := db.SQL().ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func TestAuditVerifyIntact(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		journaledDB(t, dsn)
		code, out, errs := relaisRun("audit", "verify", "--db", dsn)
		if code != exitIntact {
			t.Fatalf("exit %d\n%s%s", code, out, errs)
		}
		for _, want := range []string{"chu-cmd: intact", "3 entries, head entry 3", "entities:", "checkpoints:   none signed yet"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		// The site check refuses another site's database.
		if code, _, errs := relaisRun("audit", "verify", "--db", dsn, "--site", "chg-other"); code != exitNotRead || !strings.Contains(errs, "chg-other") {
			t.Fatalf("--site of another site: exit %d %s", code, errs)
		}
	})
}

func TestAuditVerifyNamesTheFirstFault(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		alice, db := journaledDB(t, dsn)
		tamper(t, db, "UPDATE app_user SET name = ? WHERE id = ?", "Mallory", alice.ID)
		tamper(t, db, "UPDATE journal SET role = ? WHERE site = ? AND seq = ?", "it_admin", "chu-cmd", 3)
		code, out, errs := relaisRun("audit", "verify", "--db", dsn)
		if code != exitFaults {
			t.Fatalf("exit %d; want %d\n%s%s", code, exitFaults, out, errs)
		}
		lines := strings.Split(out, "\n")
		if !strings.Contains(lines[0], "2 fault(s)") {
			t.Fatalf("first line %q", lines[0])
		}
		// Entry 2 (alice's creation) comes before entry 3 (the altered entry).
		if !strings.Contains(lines[1], "journal entry 2 (") || !strings.Contains(lines[1], "user "+string(alice.ID)+" was changed outside Relais: field name") {
			t.Fatalf("first fault %q", lines[1])
		}
		if !strings.Contains(lines[2], "journal entry 3 (") || !strings.Contains(lines[2], "altered") {
			t.Fatalf("second fault %q", lines[2])
		}
		if !strings.Contains(errs, "the first at journal entry 2") {
			t.Fatalf("stderr %q", errs)
		}
	})
}

func TestAuditVerifyDoesNotWrite(t *testing.T) {
	dsn := testdb.SQLite(t)
	missing := dsn + ".missing"
	code, _, errs := relaisRun("audit", "verify", "--db", missing)
	if code != exitNotRead || !strings.Contains(errs, "no database") {
		t.Fatalf("missing database: exit %d %s", code, errs)
	}
	if _, err := os.Stat(strings.TrimPrefix(missing, "sqlite:")); err == nil {
		t.Fatal("verify created a database")
	}
	// A PostgreSQL session opened for inspection refuses writes.
	testdb.Each(t, func(t *testing.T, dsn string) {
		journaledDB(t, dsn)
		db, err := openReadOnly(context.Background(), dsn, "")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		ctx := relais.WithActor(context.Background(), relais.SystemActor("chu-cmd"))
		err = db.SaveSite(ctx, relais.Site{ID: "chg-x", Name: "X", Kind: "chg"})
		if err == nil {
			t.Fatal("a database opened for inspection accepted a write")
		}
	})
}

func TestAuditUsage(t *testing.T) {
	for _, args := range [][]string{
		{"audit"},
		{"audit", "frobnicate"},
		{"audit", "verify"},
		{"audit", "verify", "--db", "sqlite:x", "--file", "y"},
		{"audit", "verify", "--file", "y"}, // no --pubkey
		{"audit", "verify", "--pubkey", "not-a-key", "--db", "sqlite:x"},
		{"audit", "verify", "--nonsense"},
		{"audit", "checkpoint", "--db", "sqlite:x"},
		{"audit", "export", "--db", "sqlite:x"},
		{"keys"},
		{"keys", "init"},
	} {
		if code, out, errs := relaisRun(args...); code != exitUsage {
			t.Errorf("%q: exit %d; want %d\n%s%s", args, code, exitUsage, out, errs)
		}
	}
}

func TestKeys(t *testing.T) {
	dir := t.TempDir()
	code, out, errs := relaisRun("keys", "init", "--data", dir, "--site", "chu-cmd")
	if code != 0 {
		t.Fatalf("keys init: exit %d %s", code, errs)
	}
	st, err := os.Stat(filepath.Join(dir, "site.key"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("site.key: %v %v", st, err)
	}
	code, shown, _ := relaisRun("keys", "show", "--data", dir)
	if code != 0 || len(strings.TrimSpace(shown)) != 44 || !strings.Contains(out, strings.TrimSpace(shown)) {
		t.Fatalf("keys show: exit %d %q (init said %q)", code, shown, out)
	}
	pub, _ := os.ReadFile(filepath.Join(dir, "site.pub"))
	if !strings.Contains(string(pub), "chu-cmd") || !strings.Contains(string(pub), "-----BEGIN PUBLIC KEY-----") {
		t.Fatalf("site.pub:\n%s", pub)
	}
	before, _ := os.ReadFile(filepath.Join(dir, "site.key"))
	if code, _, errs := relaisRun("keys", "init", "--data", dir); code == 0 || !strings.Contains(errs, "not overwritten") {
		t.Fatalf("second keys init: exit %d %s", code, errs)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "site.key"))
	if !bytes.Equal(before, after) {
		t.Fatal("the key was overwritten")
	}
	// LoadOrCreateSiteKey reuses the key; in a new directory it makes one.
	k, err := LoadOrCreateSiteKey(dir)
	if err != nil || !strings.Contains(out, journal.EncodePublicKey(k.Public().(ed25519.PublicKey))) {
		t.Fatalf("LoadOrCreateSiteKey: %v", err)
	}
	other := t.TempDir()
	k2, err := LoadOrCreateSiteKey(other)
	if err != nil || k2.Equal(k) {
		t.Fatalf("LoadOrCreateSiteKey in a new dir: %v", err)
	}
	// A key readable by others is refused.
	os.Chmod(filepath.Join(other, "site.key"), 0o644)
	if _, err := LoadOrCreateSiteKey(other); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("world-readable key: %v", err)
	}
}

// The inspector workflow: sign a checkpoint, export, verify the export with
// only the public key; a wrong key and a tampered export fail.
func TestAuditCheckpointExportVerify(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		_, db := journaledDB(t, dsn)
		dir := t.TempDir()
		if code, _, errs := relaisRun("keys", "init", "--data", dir); code != 0 {
			t.Fatal(errs)
		}
		_, pub, _ := relaisRun("keys", "show", "--data", dir)
		pub = strings.TrimSpace(pub)

		code, out, errs := relaisRun("audit", "checkpoint", "--db", dsn, "--data", dir)
		if code != 0 || !strings.Contains(out, "Signed the checkpoint of entry 3") {
			t.Fatalf("checkpoint: exit %d\n%s%s", code, out, errs)
		}
		code, out, _ = relaisRun("audit", "checkpoint", "--db", dsn, "--key", filepath.Join(dir, "site.key"))
		if code != 0 || !strings.Contains(out, "nothing new signed") {
			t.Fatalf("second checkpoint: exit %d\n%s", code, out)
		}
		code, out, _ = relaisRun("audit", "verify", "--db", dsn, "--pubkey", pub)
		if code != 0 || !strings.Contains(out, "1 of 1 verified with the key given by --pubkey") {
			t.Fatalf("verify with key: exit %d\n%s", code, out)
		}

		file := filepath.Join(t.TempDir(), "journal.jsonl")
		if code, out, errs := relaisRun("audit", "export", "--db", dsn, "--out", file); code != 0 {
			t.Fatalf("export: exit %d\n%s%s", code, out, errs)
		}
		if code, _, errs := relaisRun("audit", "export", "--db", dsn, "--out", file); code == 0 {
			t.Fatalf("export over an existing file: exit 0 %s", errs)
		}
		db.Close() // the inspector has no database

		code, out, errs = relaisRun("audit", "verify", "--file", file, "--pubkey", pub)
		if code != exitIntact || !strings.Contains(out, "intact") {
			t.Fatalf("verify --file: exit %d\n%s%s", code, out, errs)
		}
		code, out, _ = relaisRun("audit", "verify", "--file", file, "--pubkey", filepath.Join(dir, "site.pub"))
		if code != exitIntact {
			t.Fatalf("verify --file with site.pub: exit %d\n%s", code, out)
		}
		otherDir := t.TempDir()
		relaisRun("keys", "init", "--data", otherDir)
		_, otherPub, _ := relaisRun("keys", "show", "--data", otherDir)
		code, out, _ = relaisRun("audit", "verify", "--file", file, "--pubkey", strings.TrimSpace(otherPub))
		if code != exitFaults || !strings.Contains(out, "journal entry 3") {
			t.Fatalf("verify --file with another key: exit %d\n%s", code, out)
		}

		b, _ := os.ReadFile(file)
		forged := filepath.Join(t.TempDir(), "forged.jsonl")
		os.WriteFile(forged, bytes.Replace(b, []byte("Alice Martin"), []byte("Mallory"), 1), 0o600)
		code, out, _ = relaisRun("audit", "verify", "--file", forged, "--pubkey", pub)
		if code != exitFaults || !strings.Contains(out, "journal entry 2 (") {
			t.Fatalf("verify a forged export: exit %d\n%s", code, out)
		}
		notExport := filepath.Join(t.TempDir(), "x.json")
		os.WriteFile(notExport, []byte(`{"hello":1}`), 0o600)
		if code, _, _ := relaisRun("audit", "verify", "--file", notExport, "--pubkey", pub); code != exitNotRead {
			t.Fatalf("verify a file that is no export: exit %d", code)
		}
	})
}

// relais check --since: the quick check after a crash verifies the journal
// from the checkpoint signed before the given time, and says so.
func TestCheckSince(t *testing.T) {
	dsn := testdb.SQLite(t)
	alice, db := journaledDB(t, dsn)
	dir := t.TempDir()
	if code, _, errs := relaisRun("keys", "init", "--data", dir); code != 0 {
		t.Fatal(errs)
	}
	if code, out, errs := relaisRun("audit", "checkpoint", "--db", dsn, "--data", dir); code != 0 {
		t.Fatalf("checkpoint: exit %d\n%s%s", code, out, errs)
	}
	since := time.Now().UTC().Format(time.RFC3339Nano)
	ctx := relais.WithActor(context.Background(), relais.SystemActor("chu-cmd"))
	carol, err := db.CreateUser(ctx, relais.User{Username: "carol", Name: "Carol Petit", Role: relais.RoleNurse}, "")
	if err != nil {
		t.Fatal(err)
	}
	pub := filepath.Join(dir, "site.pub")

	code, out, errs := relaisRun("check", "--db", dsn, "--since", since, "--pubkey", pub)
	if code != 0 || !strings.Contains(out, "verified from entry 3") || !strings.Contains(out, "journal.entries 2;") {
		t.Fatalf("check --since: exit %d\n%s%s", code, out, errs)
	}
	// Without a trusted key (none published, none given) it says it
	// verified the whole journal.
	code, out, _ = relaisRun("check", "--db", dsn, "--since", since)
	if code != 0 || !strings.Contains(out, "verified whole") || !strings.Contains(out, "journal.entries 4;") {
		t.Fatalf("check --since without a key: exit %d\n%s", code, out)
	}
	// What was written after the checkpoint and changed outside Relais is
	// named; what precedes it is left to the whole check.
	tamper(t, db, "UPDATE app_user SET name = ? WHERE id = ?", "Mallory", carol.ID)
	tamper(t, db, "UPDATE app_user SET name = ? WHERE id = ?", "Mallory", alice.ID)
	code, out, _ = relaisRun("check", "--db", dsn, "--since", since, "--pubkey", pub)
	if code != exitFaults || !strings.Contains(out, "1 fault(s)") || !strings.Contains(out, "user "+string(carol.ID)+" was changed outside Relais") {
		t.Fatalf("check --since after tampering: exit %d\n%s", code, out)
	}
	if code, out, _ = relaisRun("check", "--db", dsn); code != exitFaults || !strings.Contains(out, "2 fault(s)") {
		t.Fatalf("the whole check after tampering: exit %d\n%s", code, out)
	}
	if code, _, errs = relaisRun("check", "--db", dsn, "--since", "yesterday"); code != exitUsage || !strings.Contains(errs, "--since") || !strings.Contains(errs, "RFC 3339") {
		t.Fatalf("check --since yesterday: exit %d\n%s", code, errs)
	}
}

func TestStartCheckpoints(t *testing.T) {
	_, db := journaledDB(t, testdb.SQLite(t))
	key, err := LoadOrCreateSiteKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := startCheckpoints(ctx, db, key, 1<<40, slog.New(slog.NewTextHandler(io.Discard, nil)))
	// A change made while it runs is covered by the checkpoint signed when it stops.
	actx := relais.WithActor(context.Background(), relais.SystemActor("chu-cmd"))
	if _, err := db.CreateUser(actx, relais.User{Username: "carol", Name: "Carol", Role: relais.RoleNurse}, ""); err != nil {
		t.Fatal(err)
	}
	cancel()
	<-done
	cps, err := db.Checkpoints(context.Background(), "chu-cmd")
	if err != nil {
		t.Fatal(err)
	}
	if len(cps) == 0 || cps[len(cps)-1].Seq != 4 {
		t.Fatalf("checkpoints %+v; want the last at entry 4", cps)
	}
}

// relais demo --scale region leaves each site as a site that ran those
// years would be: its key beside its database, recorded in its site table,
// and its journal signed, so that a server or `relais check --since`
// starts from that checkpoint instead of verifying the whole history.
func TestDemoRegionSignsEachSite(t *testing.T) {
	if testing.Short() {
		t.Skip("generates a year of a small site")
	}
	dir := t.TempDir()
	code, out, errs := relaisRun("demo", "--scale", "region", "--site", "chg-landes", "--years", "1", "--fraction", "0.02",
		"--seed", "3", "--today", "2026-11-20", "--data", dir)
	if code != 0 {
		t.Fatalf("demo: exit %d\n%s%s", code, out, errs)
	}
	var seq int64
	for _, line := range strings.Split(out, "\n") {
		if _, err := fmt.Sscanf(line, "Site chg-landes: journal signed at entry %d", &seq); err == nil {
			break
		}
	}
	if seq == 0 {
		t.Fatalf("the output does not say the journal was signed:\n%s", out)
	}
	site := filepath.Join(dir, "chg-landes")
	dsn := "sqlite:" + filepath.Join(site, "relais.db")
	// The key recorded in the site table is the one beside the database:
	// the check needs no --pubkey to start from the checkpoint.
	code, out, _ = relaisRun("check", "--db", dsn, "--since", time.Now().UTC().Format(time.RFC3339Nano))
	if code != 0 || !strings.Contains(out, fmt.Sprintf("verified from entry %d", seq)) {
		t.Fatalf("check --since: exit %d\n%s", code, out)
	}
	_, pub, _ := relaisRun("keys", "show", "--data", site)
	code, out, _ = relaisRun("audit", "verify", "--db", dsn, "--pubkey", strings.TrimSpace(pub))
	if code != exitIntact || !strings.Contains(out, "1 of 1 verified with the key given by --pubkey") {
		t.Fatalf("audit verify with the site's key: exit %d\n%s", code, out)
	}
}
