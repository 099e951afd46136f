package sqlstore

// These tests tamper with the database the way someone with direct SQL
// access would, and check that `relais audit verify` (VerifyJournal) names
// what was done. They live inside the package to write raw SQL through the
// same placeholder rebinding as the store.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/internal/testdb"
	"github.com/relais-onco/relais/journal"
)

// auditFixture is a database with journaled data: the local site renamed,
// another site, two users, and one entry of an entity Relais cannot read back.
type auditFixture struct {
	db         *DB
	alice, bob relais.User
	seq        map[string]int64 // entity id → seq of its last entry
	entries    int64
}

const auditSite = "chu-audit"

func newAuditFixture(t *testing.T, dsn string) *auditFixture {
	t.Helper()
	ctx := relais.WithActor(context.Background(), relais.SystemActor(auditSite))
	db, err := Open(context.Background(), dsn, Options{Site: auditSite, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := &auditFixture{db: db, seq: map[string]int64{}}
	step := func(id string) { f.entries++; f.seq[id] = f.entries }
	must(t, db.SaveSite(ctx, relais.Site{ID: auditSite, Name: "CHU Audit", Kind: "chu"}))
	step(auditSite)
	must(t, db.SaveSite(ctx, relais.Site{ID: "chg-other", Name: "CH Other", Kind: "chg"}))
	step("chg-other")
	f.alice, err = db.CreateUser(ctx, relais.User{Username: "alice", Name: "Alice Martin", Role: relais.RolePharmacist}, "")
	must(t, err)
	step(string(f.alice.ID))
	f.bob, err = db.CreateUser(ctx, relais.User{Username: "bob", Name: "Bob Durand", Role: relais.RoleNurse}, "")
	must(t, err)
	step(string(f.bob.ID))
	must(t, db.Write(ctx, "test.touch", func(tx *Tx) error {
		return tx.Journal("test.touch", "test", relais.NewID(), nil, map[string]any{"x": 1})
	}))
	f.entries++
	return f
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// raw runs a statement outside Relais: no journal entry, no head update.
func (f *auditFixture) raw(t *testing.T, q string, args ...any) {
	t.Helper()
	res, err := f.db.w.ExecContext(context.Background(), f.db.rebind(q), args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("%s: %d rows affected, want 1", q, n)
	}
}

func (f *auditFixture) verify(t *testing.T, opts VerifyOptions) Report {
	t.Helper()
	rep, err := f.db.VerifyJournalWith(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func faultList(rep Report) string {
	var b strings.Builder
	for _, f := range rep.Faults {
		b.WriteString("\n  " + f.String())
	}
	return b.String()
}

func TestVerifyIntactJournal(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		f := newAuditFixture(t, dsn)
		rep := f.verify(t, VerifyOptions{})
		if !rep.OK() || rep.First() != nil {
			t.Fatalf("intact journal has faults:%s", faultList(rep))
		}
		if rep.Entries() != f.entries || len(rep.Chains) != 1 || rep.Chains[0].HeadSeq != f.entries {
			t.Fatalf("checked %d entries, head %d; want %d", rep.Entries(), rep.Chains[0].HeadSeq, f.entries)
		}
		// Two sites and two users compared with their rows; the test entity
		// has no read-back and is only counted.
		if rep.Entities != 4 || rep.Unverifiable["test"] != 1 {
			t.Fatalf("entities %d, unverifiable %v", rep.Entities, rep.Unverifiable)
		}
		if rep.Rows < 4 || !contains(rep.Tables, "app_user") || !contains(rep.Tables, "site") {
			t.Fatalf("rows %d in tables %v", rep.Rows, rep.Tables)
		}
	})
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// A fresh database has one row no entry describes, its own site row; it is
// compared with what Open wrote, so it is neither a fault nor unchecked.
func TestVerifyFreshDatabase(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		db, err := Open(context.Background(), dsn, Options{Site: auditSite, Log: slog.New(slog.DiscardHandler)})
		must(t, err)
		defer db.Close()
		rep, err := db.VerifyJournal(context.Background())
		must(t, err)
		if !rep.OK() || rep.Entities != 1 || rep.Entries() != 0 {
			t.Fatalf("fresh database: entities %d entries %d faults:%s", rep.Entities, rep.Entries(), faultList(rep))
		}
		f := &auditFixture{db: db}
		f.raw(t, "UPDATE site SET public_key = ? WHERE id = ?", "AAAA", auditSite)
		rep, err = db.VerifyJournal(context.Background())
		must(t, err)
		if first := rep.First(); first == nil || first.Kind != FaultChanged || first.Field != "public_key" {
			t.Fatalf("changing the genesis site row: faults:%s", faultList(rep))
		}
	})
}

func TestVerifyNamesAlteredJournalRows(t *testing.T) {
	tests := []struct {
		name   string
		q      string
		arg    any
		target func(f *auditFixture) int64
	}{
		{"after", "UPDATE journal SET after = ? WHERE site = ? AND seq = ?", `{"name":"Mallory"}`,
			func(f *auditFixture) int64 { return f.seq[string(f.alice.ID)] }},
		{"before", "UPDATE journal SET before = ? WHERE site = ? AND seq = ?", `{"id":"x"}`,
			func(f *auditFixture) int64 { return f.seq[string(f.bob.ID)] }},
		{"action", "UPDATE journal SET action = ? WHERE site = ? AND seq = ?", "user.disable",
			func(f *auditFixture) int64 { return f.seq[string(f.alice.ID)] }},
		{"actor", "UPDATE journal SET username = ? WHERE site = ? AND seq = ?", "someone.else",
			func(f *auditFixture) int64 { return f.seq["chg-other"] }},
		{"entity id", "UPDATE journal SET entity_id = ? WHERE site = ? AND seq = ?", "chg-forged",
			func(f *auditFixture) int64 { return f.seq["chg-other"] }},
		{"hash", "UPDATE journal SET hash = ? WHERE site = ? AND seq = ?", strings.Repeat("0", 64),
			func(f *auditFixture) int64 { return 1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testdb.Each(t, func(t *testing.T, dsn string) {
				f := newAuditFixture(t, dsn)
				seq := tt.target(f)
				var id string
				must(t, f.db.r.QueryRow(f.db.rebind("SELECT id FROM journal WHERE site = ? AND seq = ?"), auditSite, seq).Scan(&id))
				f.raw(t, tt.q, tt.arg, auditSite, seq)
				rep := f.verify(t, VerifyOptions{})
				first := rep.First()
				if first == nil {
					t.Fatal("tampering went unnoticed")
				}
				if first.Seq != seq || first.EntryID != id || first.Kind != FaultChain {
					t.Fatalf("first fault %q; want journal entry %d (%s):%s", first, seq, id, faultList(rep))
				}
				if !strings.HasPrefix(first.String(), "journal entry ") || !strings.Contains(first.String(), id) {
					t.Fatalf("message %q does not name the entry", first)
				}
			})
		})
	}
}

func TestVerifyNamesDeletedJournalRows(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		f := newAuditFixture(t, dsn)
		f.raw(t, "DELETE FROM journal WHERE site = ? AND seq = ?", auditSite, 2)
		rep := f.verify(t, VerifyOptions{})
		if first := rep.First(); first == nil || first.Seq != 3 || !strings.Contains(first.Reason, "missing") {
			t.Fatalf("deleting entry 2: faults:%s", faultList(rep))
		}
		// Its site row is now described by nothing.
		if last := rep.Faults[len(rep.Faults)-1]; last.Kind != FaultInserted || last.EntityID != "chg-other" {
			t.Fatalf("want the undescribed site row last:%s", faultList(rep))
		}
	})
}

// Deleting the last entry leaves every link intact: the head names it.
func TestVerifyNamesDeletedLastEntry(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		f := newAuditFixture(t, dsn)
		f.raw(t, "DELETE FROM journal WHERE site = ? AND seq = ?", auditSite, f.entries)
		rep := f.verify(t, VerifyOptions{})
		if first := rep.First(); first == nil || first.Seq != f.entries || first.Kind != FaultHead {
			t.Fatalf("deleting the last entry: faults:%s", faultList(rep))
		}
	})
}

func TestVerifyNamesRowsChangedOutsideRelais(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		f := newAuditFixture(t, dsn)
		f.raw(t, "UPDATE app_user SET name = ? WHERE id = ?", "Mallory", f.alice.ID)
		rep := f.verify(t, VerifyOptions{})
		first := rep.First()
		if first == nil || first.Kind != FaultChanged || first.Seq != f.seq[string(f.alice.ID)] ||
			first.Entity != "user" || first.EntityID != string(f.alice.ID) || first.Field != "name" || len(rep.Faults) != 1 {
			t.Fatalf("renaming a user by SQL: faults:%s", faultList(rep))
		}
		msg := first.String()
		for _, want := range []string{"journal entry 3", "user " + string(f.alice.ID), "changed outside Relais", "field name", `"Alice Martin"`, `"Mallory"`} {
			if !strings.Contains(msg, want) {
				t.Errorf("message %q lacks %q", msg, want)
			}
		}
	})
}

func TestVerifyNamesRowsDeletedOutsideRelais(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		f := newAuditFixture(t, dsn)
		f.raw(t, "DELETE FROM app_user WHERE id = ?", f.bob.ID)
		rep := f.verify(t, VerifyOptions{})
		first := rep.First()
		if first == nil || first.Kind != FaultDeleted || first.Seq != f.seq[string(f.bob.ID)] || len(rep.Faults) != 1 ||
			!strings.Contains(first.String(), "deleted outside Relais") {
			t.Fatalf("deleting a user by SQL: faults:%s", faultList(rep))
		}
	})
}

func TestVerifyNamesRowsInsertedOutsideRelais(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		f := newAuditFixture(t, dsn)
		id := relais.NewID()
		f.raw(t, `INSERT INTO app_user (id, site, username, name, role, password_hash, disabled, created_at)
			VALUES (?, ?, 'mallory', 'Mallory', 'it_admin', '', ?, ?)`, id, auditSite, false, T(relais.Now()))
		rep := f.verify(t, VerifyOptions{})
		first := rep.First()
		if first == nil || first.Kind != FaultInserted || first.EntityID != string(id) || first.Table != "app_user" || len(rep.Faults) != 1 {
			t.Fatalf("inserting a user by SQL: faults:%s", faultList(rep))
		}
		if msg := first.String(); !strings.Contains(msg, "app_user row "+string(id)) || !strings.Contains(msg, "inserted outside Relais") {
			t.Fatalf("message %q", msg)
		}
	})
}

// The attacker changes a user and its entry, then recomputes every hash from
// there on and the head: the chain verifies on its own and the row matches
// its entry, but the signed checkpoint no longer matches.
func TestVerifyCatchesARehashedChainByItsCheckpoint(t *testing.T) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	pub := priv.Public().(ed25519.PublicKey)
	testdb.Each(t, func(t *testing.T, dsn string) {
		f := newAuditFixture(t, dsn)
		cp, err := f.db.Checkpoint(context.Background(), priv)
		must(t, err)
		if cp.Seq != f.entries {
			t.Fatalf("checkpoint of entry %d; want the head, %d", cp.Seq, f.entries)
		}
		if rep := f.verify(t, VerifyOptions{PublicKeys: []ed25519.PublicKey{pub}}); !rep.OK() || rep.Chains[0].CheckpointsVerified != 1 {
			t.Fatalf("before tampering: verified %d, faults:%s", rep.Chains[0].CheckpointsVerified, faultList(rep))
		}

		target := f.seq[string(f.alice.ID)]
		f.raw(t, "UPDATE app_user SET name = ? WHERE id = ?", "Mallory", f.alice.ID)
		entries, err := f.db.JournalEntries(context.Background(), auditSite, 0, 0)
		must(t, err)
		var after map[string]any
		must(t, json.Unmarshal(entries[target-1].After, &after))
		after["name"] = "Mallory"
		entries[target-1].After, _ = json.Marshal(after)
		for i := target - 1; i < int64(len(entries)); i++ {
			must(t, entries[i].Seal(entries[i-1].Seq, entries[i-1].Hash))
			f.raw(t, "UPDATE journal SET after = ?, prev = ?, hash = ? WHERE site = ? AND seq = ?",
				string(entries[i].After), entries[i].Prev, entries[i].Hash, auditSite, entries[i].Seq)
		}
		head := entries[len(entries)-1]
		f.raw(t, "UPDATE journal_head SET hash = ? WHERE site = ?", head.Hash, auditSite)

		// Without the checkpoint's key the forgery is complete…
		v := journal.Verifier{Site: auditSite}
		for i := range entries {
			must(t, v.Check(&entries[i]))
		}
		// …with it, it is not.
		rep := f.verify(t, VerifyOptions{PublicKeys: []ed25519.PublicKey{pub}})
		first := rep.First()
		if first == nil || first.Seq != cp.Seq || !strings.Contains(first.Reason, "rewritten") {
			t.Fatalf("re-hashed chain: faults:%s", faultList(rep))
		}
		// Nor does signing a new checkpoint bless it.
		if _, err := f.db.Checkpoint(context.Background(), priv); err == nil {
			t.Fatal("a checkpoint was signed over a rewritten chain")
		}
	})
}

func TestCheckpoints(t *testing.T) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	pub := priv.Public().(ed25519.PublicKey)
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{8}, 32)).Public().(ed25519.PublicKey)
	testdb.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db, err := Open(ctx, dsn, Options{Site: auditSite, Log: slog.New(slog.DiscardHandler)})
		must(t, err)
		defer db.Close()
		// An empty chain has nothing to sign.
		cp, err := db.Checkpoint(ctx, priv)
		if err != nil || cp.Seq != 0 {
			t.Fatalf("empty chain: %+v, %v", cp, err)
		}
		actx := relais.WithActor(ctx, relais.SystemActor(auditSite))
		must(t, db.SaveSite(actx, relais.Site{ID: auditSite, Name: "CHU Audit", Kind: "chu"}))
		first, err := db.Checkpoint(ctx, priv)
		must(t, err)
		if first.Seq != 1 || first.Verify(pub) != nil {
			t.Fatalf("first checkpoint %+v", first)
		}
		// The head has not moved: nothing new is signed.
		again, err := db.Checkpoint(ctx, priv)
		must(t, err)
		if again != first {
			t.Fatalf("second checkpoint %+v; want the first again", again)
		}
		_, err = db.CreateUser(actx, relais.User{Username: "carol", Name: "Carol", Role: relais.RoleNurse}, "")
		must(t, err)
		second, err := db.Checkpoint(ctx, priv)
		must(t, err)
		if second.Seq != 2 {
			t.Fatalf("checkpoint after a new entry: seq %d", second.Seq)
		}
		cps, err := db.Checkpoints(ctx, auditSite)
		must(t, err)
		if len(cps) != 2 || cps[0].Time != first.Time || cps[1].Signature != second.Signature {
			t.Fatalf("stored checkpoints %+v", cps)
		}

		// Publishing the key in the site table (a journaled change) makes
		// it the default verifying key…
		must(t, db.SaveSite(actx, relais.Site{ID: auditSite, Name: "CHU Audit", Kind: "chu", PublicKey: journal.EncodePublicKey(pub)}))
		rep, err := db.VerifyJournal(ctx)
		must(t, err)
		if !rep.OK() || rep.Chains[0].KeySource != "site table" || rep.Chains[0].CheckpointsVerified != 2 {
			t.Fatalf("site-table key: %+v faults:%s", rep.Chains[0], faultList(rep))
		}
		// …a wrong key given by the inspector fails every checkpoint…
		rep, err = db.VerifyJournalWith(ctx, VerifyOptions{PublicKeys: []ed25519.PublicKey{other}})
		must(t, err)
		if len(rep.Faults) != 2 || rep.First().Seq != 1 || rep.Chains[0].KeySource != "given" {
			t.Fatalf("wrong key: faults:%s", faultList(rep))
		}
		// …and another key may not sign for the site.
		wrong := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{8}, 32))
		if _, err := db.Checkpoint(ctx, wrong); relais.ErrorKind(err) != relais.KindConflict {
			t.Fatalf("signing with another key: %v", err)
		}
	})
}

// VerifyOptions.Since verifies the chain from a signed checkpoint on: what
// was written after it is checked as thoroughly as by the whole audit, and
// the checkpoint's own entry anchors the walk to the signature.
func TestVerifySinceACheckpoint(t *testing.T) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	pub := priv.Public().(ed25519.PublicKey)
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{8}, 32)).Public().(ed25519.PublicKey)
	keys := []ed25519.PublicKey{pub}
	// setup: the fixture, a checkpoint of its head, then carol created and
	// the other site renamed after it.
	setup := func(t *testing.T, dsn string) (*auditFixture, journal.Checkpoint, relais.User) {
		f := newAuditFixture(t, dsn)
		cp, err := f.db.Checkpoint(context.Background(), priv)
		must(t, err)
		ctx := relais.WithActor(context.Background(), relais.SystemActor(auditSite))
		carol, err := f.db.CreateUser(ctx, relais.User{Username: "carol", Name: "Carol Petit", Role: relais.RoleNurse}, "")
		must(t, err)
		must(t, f.db.SaveSite(ctx, relais.Site{ID: "chg-other", Name: "CH Other renamed", Kind: "chg"}))
		f.entries += 2
		return f, cp, carol
	}
	each := func(name string, fn func(t *testing.T, dsn string)) {
		t.Run(name, func(t *testing.T) { testdb.Each(t, fn) })
	}
	each("intact", func(t *testing.T, dsn string) {
		f, cp, _ := setup(t, dsn)
		rep := f.verify(t, VerifyOptions{PublicKeys: keys, Since: time.Now()})
		c := rep.Chains[0]
		if !rep.OK() || c.From == nil || c.From.Seq != cp.Seq {
			t.Fatalf("from %+v, faults:%s", c.From, faultList(rep))
		}
		// The checkpoint's entry and the two after it; the checkpoint
		// itself verified.
		if c.Entries != 3 || c.HeadSeq != f.entries || c.CheckpointsVerified != 1 || c.CoveredSeq != cp.Seq {
			t.Fatalf("chain %+v; want 3 entries to head %d", c.ChainSummary, f.entries)
		}
		// carol and the renamed site; the checkpoint's own entry is of
		// the unreadable test entity.
		if rep.Entities != 2 || rep.Unverifiable["test"] != 1 {
			t.Fatalf("entities %d, unverifiable %v", rep.Entities, rep.Unverifiable)
		}
	})
	each("no checkpoint before since, or none trusted: the whole chain", func(t *testing.T, dsn string) {
		f, cp, _ := setup(t, dsn)
		for name, opts := range map[string]VerifyOptions{
			"since before it": {PublicKeys: keys, Since: cp.Time.Add(-time.Millisecond)},
			"another key":     {PublicKeys: []ed25519.PublicKey{other}, Since: time.Now()},
			"no key":          {Since: time.Now()},
		} {
			rep := f.verify(t, opts)
			if c := rep.Chains[0]; c.From != nil || c.Entries != f.entries {
				t.Errorf("%s: from %+v, %d entries; want the whole chain of %d", name, c.From, c.Entries, f.entries)
			}
		}
	})
	each("changes after the checkpoint are named", func(t *testing.T, dsn string) {
		f, cp, carol := setup(t, dsn)
		f.raw(t, "UPDATE app_user SET name = ? WHERE id = ?", "Mallory", carol.ID)
		f.raw(t, "UPDATE journal SET username = ? WHERE site = ? AND seq = ?", "someone.else", auditSite, f.entries)
		rep := f.verify(t, VerifyOptions{PublicKeys: keys, Since: time.Now()})
		if len(rep.Faults) != 2 || rep.Faults[0].Kind != FaultChanged || rep.Faults[0].EntityID != string(carol.ID) ||
			rep.Faults[1].Kind != FaultChain || rep.Faults[1].Seq != f.entries {
			t.Fatalf("from entry %d: faults:%s", cp.Seq, faultList(rep))
		}
	})
	each("the checkpoint's own entry is checked", func(t *testing.T, dsn string) {
		f, cp, _ := setup(t, dsn)
		f.raw(t, "UPDATE journal SET action = ? WHERE site = ? AND seq = ?", "test.forged", auditSite, cp.Seq)
		rep := f.verify(t, VerifyOptions{PublicKeys: keys, Since: time.Now()})
		if first := rep.First(); first == nil || first.Seq != cp.Seq || first.Kind != FaultChain {
			t.Fatalf("altered checkpoint entry %d: faults:%s", cp.Seq, faultList(rep))
		}
	})
	each("what precedes the checkpoint is left to the whole audit", func(t *testing.T, dsn string) {
		f, _, _ := setup(t, dsn)
		f.raw(t, "UPDATE journal SET username = ? WHERE site = ? AND seq = ?", "someone.else", auditSite, 2)
		if rep := f.verify(t, VerifyOptions{PublicKeys: keys, Since: time.Now()}); !rep.OK() {
			t.Fatalf("entry 2 precedes the checkpoint, yet:%s", faultList(rep))
		}
		if rep := f.verify(t, VerifyOptions{PublicKeys: keys}); rep.First() == nil || rep.First().Seq != 2 {
			t.Fatalf("the whole audit: faults:%s", faultList(rep))
		}
	})
}

// Checkpoint verifies most of the chain in a read snapshot, without holding
// the writers; the entries written between that snapshot and the signature
// are verified too, under the writer, before anything is signed.
func TestCheckpointVerifiesWhatWasWrittenMeanwhile(t *testing.T) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	testdb.Each(t, func(t *testing.T, dsn string) {
		f := newAuditFixture(t, dsn)
		ctx := relais.WithActor(context.Background(), relais.SystemActor(auditSite))
		checkpointVerifiedHook = func() {
			_, err := f.db.CreateUser(ctx, relais.User{Username: "carol", Name: "Carol Petit", Role: relais.RoleNurse}, "")
			must(t, err)
		}
		defer func() { checkpointVerifiedHook = nil }()
		cp, err := f.db.Checkpoint(ctx, priv)
		must(t, err)
		if cp.Seq != f.entries+1 {
			t.Fatalf("checkpoint of entry %d; want the entry written meanwhile, %d", cp.Seq, f.entries+1)
		}
		// An entry written meanwhile and altered before the write
		// transaction is not signed over.
		checkpointVerifiedHook = func() {
			_, err := f.db.CreateUser(ctx, relais.User{Username: "dan", Name: "Dan Roux", Role: relais.RoleNurse}, "")
			must(t, err)
			f.raw(t, "UPDATE journal SET username = ? WHERE site = ? AND seq = ?", "someone.else", auditSite, cp.Seq+1)
		}
		if _, err := f.db.Checkpoint(ctx, priv); relais.ErrorKind(err) != relais.KindIntegrity || !strings.Contains(err.Error(), "refusing to sign") {
			t.Fatalf("altered entry %d written meanwhile: %v", cp.Seq+1, err)
		}
	})
}

// An export verifies with only the public key, and not with another.
func TestExportVerifiesWithOnlyThePublicKey(t *testing.T) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	pub := priv.Public().(ed25519.PublicKey)
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{8}, 32)).Public().(ed25519.PublicKey)
	testdb.Each(t, func(t *testing.T, dsn string) {
		f := newAuditFixture(t, dsn)
		_, err := f.db.Checkpoint(context.Background(), priv)
		must(t, err)
		var buf bytes.Buffer
		h, err := f.db.ExportJournal(context.Background(), &buf)
		must(t, err)
		if h.Site != auditSite || len(h.Heads) != 1 || h.Heads[0].Seq != f.entries {
			t.Fatalf("header %+v", h)
		}
		rep, err := journal.VerifyExport(bytes.NewReader(buf.Bytes()), []ed25519.PublicKey{pub})
		must(t, err)
		if len(rep.Faults()) != 0 || rep.Chains[0].Entries != f.entries || rep.Chains[0].CheckpointsVerified != 1 {
			t.Fatalf("export with the right key: %+v", rep.Chains)
		}
		rep, err = journal.VerifyExport(bytes.NewReader(buf.Bytes()), []ed25519.PublicKey{other})
		must(t, err)
		if len(rep.Faults()) != 1 {
			t.Fatalf("export with the wrong key: %+v", rep.Chains)
		}
	})
}

// Opening read-only neither migrates nor writes, and verification works.
func TestVerifyReadOnly(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		f := newAuditFixture(t, dsn)
		f.db.Close()
		db, err := Open(context.Background(), dsn, Options{ReadOnly: true, Log: slog.New(slog.DiscardHandler)})
		must(t, err)
		defer db.Close()
		if db.Site != auditSite {
			t.Fatalf("site %q", db.Site)
		}
		rep, err := db.VerifyJournal(context.Background())
		must(t, err)
		if !rep.OK() || rep.Entries() != f.entries {
			t.Fatalf("read-only verify: %d entries, faults:%s", rep.Entries(), faultList(rep))
		}
		if db.Engine == SQLite {
			err := db.Write(relais.WithActor(context.Background(), relais.SystemActor(auditSite)), "x", func(tx *Tx) error {
				_, err := tx.Exec("UPDATE site SET name = 'x'")
				return err
			})
			if err == nil {
				t.Fatal("a read-only SQLite database accepted a write")
			}
		}
	})
}

// After-images and read-backs agree on both engines for the values that
// could drift: floats, large integers, booleans, µs times, Unicode.
func TestVerifyRoundTripsValuesOnBothEngines(t *testing.T) {
	type sample struct {
		ID    relais.ID `json:"id"`
		Dose  float64   `json:"dose"`
		Count int64     `json:"count"`
		Flag  bool      `json:"flag"`
		Note  string    `json:"note"`
		At    time.Time `json:"at"`
	}
	load := func(tx *Tx, id relais.ID) (any, error) {
		var s sample
		err := tx.QueryRow("SELECT id, dose, count, flag, note, at FROM audit_sample WHERE id = ?", id).
			Scan(&s.ID, &s.Dose, &s.Count, &s.Flag, &s.Note, ScanTime(&s.At))
		return s, mapErr(err)
	}
	registerEntity("audit_sample", "audit_sample", load)
	t.Cleanup(func() { delete(entityLoaders, "audit_sample") })
	values := []float64{0.1, 1.0 / 3, 2, 1e-7, 123456.789, 37.5 * 1.2, math.MaxFloat64, math.SmallestNonzeroFloat64, -0.5}
	testdb.Each(t, func(t *testing.T, dsn string) {
		f := newAuditFixture(t, dsn)
		ddl := "CREATE TABLE audit_sample (id TEXT PRIMARY KEY, dose REAL NOT NULL, count INTEGER NOT NULL, flag INTEGER NOT NULL, note TEXT NOT NULL, at TEXT NOT NULL)"
		if f.db.Engine == Postgres {
			ddl = "CREATE TABLE audit_sample (id TEXT PRIMARY KEY, dose DOUBLE PRECISION NOT NULL, count BIGINT NOT NULL, flag BOOLEAN NOT NULL, note TEXT NOT NULL, at TIMESTAMPTZ NOT NULL)"
		}
		_, err := f.db.w.Exec(ddl)
		must(t, err)
		ctx := relais.WithActor(context.Background(), relais.SystemActor(auditSite))
		for i, v := range values {
			must(t, f.db.Write(ctx, "sample.create", func(tx *Tx) error {
				id := relais.NewID()
				_, err := tx.Exec("INSERT INTO audit_sample (id, dose, count, flag, note, at) VALUES (?, ?, ?, ?, ?, ?)",
					id, v, int64(1)<<53+int64(i), i%2 == 0, "Léa «dose» <5 mg/m²> & co", T(relais.Now()))
				if err != nil {
					return err
				}
				got, err := load(tx, id)
				if err != nil {
					return err
				}
				return tx.Journal("sample.create", "audit_sample", id, nil, got)
			}))
		}
		rep := f.verify(t, VerifyOptions{})
		if !rep.OK() || rep.Entities != 4+int64(len(values)) {
			t.Fatalf("entities %d, faults:%s", rep.Entities, faultList(rep))
		}
	})
}

// With pages of two, every walk crosses page boundaries.
func TestVerifyPagesThroughTheChain(t *testing.T) {
	defer func(n int) { pageSize = n }(pageSize)
	pageSize = 2
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	testdb.Each(t, func(t *testing.T, dsn string) {
		f := newAuditFixture(t, dsn)
		_, err := f.db.Checkpoint(context.Background(), priv)
		must(t, err)
		rep := f.verify(t, VerifyOptions{})
		if !rep.OK() || rep.Entries() != f.entries || rep.Entities != 4 || rep.Chains[0].CheckpointsVerified != 1 {
			t.Fatalf("intact: %d entries, %d entities, faults:%s", rep.Entries(), rep.Entities, faultList(rep))
		}
		var buf bytes.Buffer
		_, err = f.db.ExportJournal(context.Background(), &buf)
		must(t, err)
		if n := bytes.Count(buf.Bytes(), []byte(`{"entry":`)); int64(n) != f.entries {
			t.Fatalf("export has %d entries; want %d", n, f.entries)
		}
		var inserted []string
		for i := 0; i < 3; i++ {
			id := string(relais.NewID())
			inserted = append(inserted, id)
			f.raw(t, `INSERT INTO app_user (id, site, username, name, role, password_hash, disabled, created_at)
				VALUES (?, ?, ?, 'Mallory', 'it_admin', '', ?, ?)`, id, auditSite, "mallory"+id[len(id)-6:], false, T(relais.Now()))
		}
		f.raw(t, "UPDATE app_user SET role = ? WHERE id = ?", "it_admin", f.bob.ID)
		rep = f.verify(t, VerifyOptions{})
		if len(rep.Faults) != 4 || rep.First().Seq != f.seq[string(f.bob.ID)] || rep.First().Field != "role" {
			t.Fatalf("want bob's row then 3 inserted rows:%s", faultList(rep))
		}
		for i, id := range inserted { // UUIDv7s sort in creation order, as the scan does
			if got := rep.Faults[i+1]; got.Kind != FaultInserted || got.EntityID != id {
				t.Fatalf("fault %d: %s; want row %s inserted", i+1, got, id)
			}
		}
	})
}

func TestFirstDifference(t *testing.T) {
	tests := []struct {
		a, b, path, va, vb string
	}{
		{`{"a":1,"b":{"c":[1,2,3]}}`, `{"a":1,"b":{"c":[1,2,4]}}`, "b.c[2]", "3", "4"},
		{`{"a":1,"b":2}`, `{"a":1}`, "b", "2", "absent"},
		{`{"a":1}`, `{"a":1,"z":true}`, "z", "absent", "true"},
		{`{"a":"x","b":"y"}`, `{"a":"X","b":"Y"}`, "a", `"x"`, `"X"`},
		{`{"n":2}`, `{"n":2.0}`, "n", "2", "2.0"}, // numbers compare as written
		{`{"a":{"b":1}}`, `{"a":[1]}`, "a", `{"b":1}`, "[1]"},
		{`[1]`, `{"a":1}`, "", "[1]", `{"a":1}`},
	}
	for _, tt := range tests {
		path, va, vb := firstDifference([]byte(tt.a), []byte(tt.b))
		if path != tt.path || va != tt.va || vb != tt.vb {
			t.Errorf("firstDifference(%s, %s) = %q %s %s; want %q %s %s", tt.a, tt.b, path, va, vb, tt.path, tt.va, tt.vb)
		}
	}
}

// BenchmarkVerifyJournal measures a full verification of a chain of b.N
// users (one entry and one row each) on SQLite.
func BenchmarkVerifyJournal(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			db, err := Open(context.Background(), "sqlite:"+b.TempDir()+"/bench.db", Options{Site: auditSite, Log: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			ctx := relais.WithActor(context.Background(), relais.SystemActor(auditSite))
			for i := 0; i < n; i += 500 {
				err := db.Write(ctx, "bench", func(tx *Tx) error {
					for j := i; j < i+500 && j < n; j++ {
						id := relais.NewID()
						if _, err := tx.Exec(`INSERT INTO app_user (id, site, username, name, role, password_hash, disabled, created_at)
							VALUES (?, ?, ?, ?, 'nurse', '', 0, ?)`, id, auditSite, "u"+strconv.Itoa(j), "User "+strconv.Itoa(j), T(tx.Now())); err != nil {
							return err
						}
						u, err := userByID(tx, id)
						if err != nil {
							return err
						}
						if err := tx.Journal("user.create", "user", id, nil, u); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				rep, err := db.VerifyJournal(context.Background())
				if err != nil || !rep.OK() {
					b.Fatalf("%v %v", err, rep.First())
				}
			}
		})
	}
}
