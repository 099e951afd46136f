package journal

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// key returns a fixed test key pair, different for each seed byte.
func key(seed byte) (ed25519.PrivateKey, ed25519.PublicKey) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
	return priv, priv.Public().(ed25519.PublicKey)
}

var signedAt = time.Date(2025, 3, 1, 10, 0, 0, 1000, time.UTC)

func TestCheckpointSignedBytes(t *testing.T) {
	c := Checkpoint{Site: "chu-a", Seq: 3, Hash: strings.Repeat("ab", 32), Time: signedAt}
	got, err := c.SignedBytes()
	if err != nil {
		t.Fatal(err)
	}
	// The format documented in docs/audit.md, written out by hand.
	want := `{"kind":"relais.journal.checkpoint","v":1,"site":"chu-a","seq":3,"hash":"` + strings.Repeat("ab", 32) +
		`","time":"2025-03-01T10:00:00.000001Z"}`
	if string(got) != want {
		t.Fatalf("signed bytes\n%s\nwant\n%s", got, want)
	}
}

func TestCheckpointVerifiesWithOnlyThePublicKey(t *testing.T) {
	priv, pub := key(1)
	c, err := Sign(priv, "chu-a", 42, strings.Repeat("0f", 32), signedAt)
	if err != nil {
		t.Fatal(err)
	}
	// What an inspector holds: the checkpoint as JSON and the key as base64.
	b, _ := json.Marshal(c)
	var got Checkpoint
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	k, err := ParsePublicKey(EncodePublicKey(pub))
	if err != nil {
		t.Fatal(err)
	}
	if err := got.Verify(k); err != nil {
		t.Fatalf("checkpoint does not verify with its own key: %v", err)
	}
	if !ed25519.Verify(pub, mustSigned(t, &got), mustB64(t, got.Signature)) {
		t.Fatal("the signature is not a plain ed25519 signature of the signed bytes")
	}
}

func TestCheckpointRefusesAnotherKey(t *testing.T) {
	priv, _ := key(1)
	_, other := key(2)
	c, err := Sign(priv, "chu-a", 42, strings.Repeat("0f", 32), signedAt)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Verify(other); err == nil {
		t.Fatal("verified with another site's key")
	}
	// A forger who also replaces the embedded key is still refused: the
	// signature does not verify with the real key.
	forgerPriv, forgerPub := key(3)
	forged, _ := Sign(forgerPriv, "chu-a", 42, strings.Repeat("11", 32), signedAt)
	forged.PublicKey = c.PublicKey
	if err := forged.Verify(priv.Public().(ed25519.PublicKey)); err == nil {
		t.Fatal("a forged checkpoint verified")
	}
	if err := forged.Verify(forgerPub); err == nil {
		t.Fatal("verified with a key the checkpoint does not name")
	}
}

func TestCheckpointDetectsEveryFieldChange(t *testing.T) {
	priv, pub := key(1)
	changes := map[string]func(c *Checkpoint){
		"Site":      func(c *Checkpoint) { c.Site = "chg-b" },
		"Seq":       func(c *Checkpoint) { c.Seq++ },
		"Hash":      func(c *Checkpoint) { c.Hash = strings.Repeat("1f", 32) },
		"Time":      func(c *Checkpoint) { c.Time = c.Time.Add(time.Microsecond) },
		"PublicKey": func(c *Checkpoint) { _, p := key(9); c.PublicKey = EncodePublicKey(p) },
		"Signature": func(c *Checkpoint) { c.Signature = "A" + c.Signature[1:] },
	}
	for field, change := range changes {
		c, err := Sign(priv, "chu-a", 42, strings.Repeat("0f", 32), signedAt)
		if err != nil {
			t.Fatal(err)
		}
		change(&c)
		if err := c.Verify(pub); err == nil {
			t.Errorf("changing %s went unnoticed", field)
		}
	}
}

func TestSignRefusesMalformedCheckpoints(t *testing.T) {
	priv, _ := key(1)
	good := strings.Repeat("0f", 32)
	tests := []struct {
		name string
		site string
		seq  int64
		hash string
	}{
		{"no site", "", 1, good},
		{"invalid UTF-8 site", "chu-\xff", 1, good},
		{"sequence 0", "chu-a", 0, good},
		{"short hash", "chu-a", 1, "abc"},
		{"uppercase hash", "chu-a", 1, strings.ToUpper(good)},
	}
	for _, tt := range tests {
		if _, err := Sign(priv, tt.site, tt.seq, tt.hash, signedAt); err == nil {
			t.Errorf("%s: signed", tt.name)
		}
	}
	if _, err := Sign(priv[:10], "chu-a", 1, good, signedAt); err == nil {
		t.Error("signed with a truncated key")
	}
}

// audit runs a ChainAudit over entries.
func audit(entries []Entry, keys []ed25519.PublicKey, cps []Checkpoint) ChainSummary {
	a := NewChainAudit("chu-a", keys, cps)
	for i := range entries {
		a.Check(&entries[i])
	}
	return a.Finish()
}

func signAt(t *testing.T, priv ed25519.PrivateKey, e Entry) Checkpoint {
	t.Helper()
	c, err := Sign(priv, e.Site, e.Seq, e.Hash, e.Time.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestChainAudit(t *testing.T) {
	priv, pub := key(1)
	otherPriv, _ := key(2)
	entries := chain(t, 6)
	cps := []Checkpoint{signAt(t, priv, entries[2]), signAt(t, priv, entries[4])}
	keys := []ed25519.PublicKey{pub}

	t.Run("intact", func(t *testing.T) {
		s := audit(entries, keys, cps)
		if len(s.Faults) != 0 {
			t.Fatal(s.Faults[0])
		}
		if s.Entries != 6 || s.HeadSeq != 6 || s.CheckpointsVerified != 2 || s.CoveredSeq != 5 || s.Uncovered() != 1 || !s.KeyTrusted {
			t.Fatalf("summary %+v", s)
		}
	})

	t.Run("rewritten and re-hashed", func(t *testing.T) {
		// The attacker changes entry 2 and recomputes every hash after it:
		// the hash chain alone verifies, the checkpoints do not.
		forged := append([]Entry(nil), entries...)
		forged[1].After = json.RawMessage(`{"name":"Mallory","n":1}`)
		for i := 1; i < len(forged); i++ {
			if err := forged[i].Seal(forged[i-1].Seq, forged[i-1].Hash); err != nil {
				t.Fatal(err)
			}
		}
		if f := verify("chu-a", forged); f != nil {
			t.Fatalf("precondition: the re-hashed chain should verify on its own: %v", f)
		}
		s := audit(forged, keys, cps)
		if len(s.Faults) != 2 || s.Faults[0].Seq != 3 || s.Faults[1].Seq != 5 ||
			!strings.Contains(s.Faults[0].Reason, "rewritten") {
			t.Fatalf("faults %v; want the checkpoints of entries 3 and 5", s.Faults)
		}
		if s.CoveredSeq != 0 || s.CheckpointsVerified != 0 {
			t.Fatalf("summary %+v: a rewritten chain is covered by nothing", s)
		}
	})

	t.Run("one altered entry is named once", func(t *testing.T) {
		altered := append([]Entry(nil), entries...)
		altered[3].Username = "intruder"
		s := audit(altered, keys, cps)
		if len(s.Faults) != 1 || s.Faults[0].Seq != 4 {
			t.Fatalf("faults %v; want entry 4 only", s.Faults)
		}
	})

	t.Run("entries deleted from the end", func(t *testing.T) {
		s := audit(entries[:4], keys, cps)
		if len(s.Faults) != 1 || s.Faults[0].Seq != 5 || !strings.Contains(s.Faults[0].Reason, "deleted") {
			t.Fatalf("faults %v; want the checkpoint of entry 5 beyond the end", s.Faults)
		}
	})

	t.Run("checkpoint signed with another key", func(t *testing.T) {
		s := audit(entries, keys, []Checkpoint{signAt(t, otherPriv, entries[2])})
		if len(s.Faults) != 1 || s.Faults[0].Seq != 3 || s.Faults[0].ID != entries[2].ID {
			t.Fatalf("faults %v; want the checkpoint of entry 3", s.Faults)
		}
	})

	t.Run("no trusted key", func(t *testing.T) {
		s := audit(entries, nil, cps)
		if len(s.Faults) != 0 || s.KeyTrusted || s.CheckpointsVerified != 2 {
			t.Fatalf("summary %+v", s)
		}
	})

	t.Run("checkpoint of another site", func(t *testing.T) {
		c := signAt(t, priv, entries[2])
		c.Site = "chg-b"
		c, _ = Sign(priv, "chg-b", c.Seq, c.Hash, c.Time)
		s := audit(entries, keys, []Checkpoint{c})
		if len(s.Faults) != 1 || s.Faults[0].Seq != 3 {
			t.Fatalf("faults %v", s.Faults)
		}
	})
}

func export(t *testing.T, entries []Entry, cps []Checkpoint, head Head) []byte {
	t.Helper()
	var buf bytes.Buffer
	x, err := NewExportWriter(&buf, ExportHeader{Site: "chu-a", ExportedAt: signedAt, Heads: []Head{head}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range cps {
		if err := x.Checkpoint(&cps[i]); err != nil {
			t.Fatal(err)
		}
	}
	for i := range entries {
		if err := x.Entry(&entries[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := x.Checkpoint(&cps[0]); err == nil {
		t.Fatal("a checkpoint was written after the entries")
	}
	return buf.Bytes()
}

func TestVerifyExport(t *testing.T) {
	priv, pub := key(1)
	_, other := key(2)
	entries := chain(t, 5)
	entries[1].After = json.RawMessage(`{"note":"<i>é</i> & co","n":1}`) // kept byte for byte
	if err := entries[1].Seal(1, entries[0].Hash); err != nil {
		t.Fatal(err)
	}
	for i := 2; i < len(entries); i++ {
		entries[i].Seal(entries[i-1].Seq, entries[i-1].Hash)
	}
	cps := []Checkpoint{signAt(t, priv, entries[4])}
	head := Head{Site: "chu-a", Seq: 5, Hash: entries[4].Hash}
	file := export(t, entries, cps, head)

	rep, err := VerifyExport(bytes.NewReader(file), []ed25519.PublicKey{pub})
	if err != nil {
		t.Fatal(err)
	}
	if f := rep.Faults(); len(f) != 0 {
		t.Fatalf("intact export: %v", f[0])
	}
	if len(rep.Chains) != 1 || rep.Chains[0].Entries != 5 || rep.Chains[0].CheckpointsVerified != 1 || rep.Header.Site != "chu-a" {
		t.Fatalf("report %+v", rep)
	}

	rep, _ = VerifyExport(bytes.NewReader(file), []ed25519.PublicKey{other})
	if f := rep.Faults(); len(f) != 1 || f[0].Seq != 5 {
		t.Fatalf("wrong key: faults %v; want the checkpoint of entry 5", f)
	}

	tampered := bytes.Replace(file, []byte(`"username":"ph.durand"`), []byte(`"username":"ph.dupont"`), 1)
	rep, _ = VerifyExport(bytes.NewReader(tampered), []ed25519.PublicKey{pub})
	if f := rep.Faults(); len(f) == 0 || f[0].Seq != 1 {
		t.Fatalf("tampered line: faults %v; want entry 1", f)
	}

	lines := bytes.SplitAfter(file, []byte("\n"))
	truncated := bytes.Join(lines[:len(lines)-2], nil) // the last entry dropped
	rep, _ = VerifyExport(bytes.NewReader(truncated), []ed25519.PublicKey{pub})
	if f := rep.Faults(); len(f) != 2 || f[0].Seq != 5 {
		t.Fatalf("truncated export: faults %v; want entry 5 named by the header and the checkpoint", f)
	}

	reordered := append(append([]byte(nil), bytes.Join(lines[2:], nil)...), lines[1]...)
	reordered = append(append([]byte(nil), lines[0]...), reordered...)
	if _, err := VerifyExport(bytes.NewReader(reordered), []ed25519.PublicKey{pub}); err == nil {
		t.Fatal("a checkpoint after the entries was accepted")
	}
	if _, err := VerifyExport(strings.NewReader(`{"format":"something else"}`), nil); err == nil {
		t.Fatal("a file of another format was accepted")
	}
}

func mustSigned(t *testing.T, c *Checkpoint) []byte {
	t.Helper()
	b, err := c.SignedBytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
