package sqlstore

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/internal/testdb"
)

// longImage journals a document shaped like a prescription's image (lines
// that repeat their structure) and returns its entry's sequence number.
func longImage(t *testing.T, db *DB) (int64, []map[string]any) {
	t.Helper()
	ctx := relais.WithActor(context.Background(), relais.SystemActor(auditSite))
	lines := make([]map[string]any, 60)
	for i := range lines {
		lines[i] = map[string]any{"day": i + 1, "inn": "prednisone", "dose": 60 + i, "unit": "mg",
			"calculation": map[string]any{"en": "Dose 40 mg/m² × BSA 1.5 m² = 60 mg", "fr": "Dose 40 mg/m² × SC 1,5 m² = 60 mg"}}
	}
	id := relais.NewID()
	must(t, db.Write(ctx, "test.long", func(tx *Tx) error {
		return tx.Journal("test.long", "test", id, nil, map[string]any{"lines": lines})
	}))
	var seq int64
	must(t, db.r.QueryRow(db.rebind("SELECT seq FROM journal WHERE entity_id = ?"), string(id)).Scan(&seq))
	return seq, lines
}

// A long image is stored compressed on SQLite and as text on PostgreSQL;
// either way the journal reads back the JSON that was hashed, and the chain
// verifies.
func TestJournalImagesReadBackAsHashed(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		f := newAuditFixture(t, dsn)
		seq, lines := longImage(t, f.db)
		var stored []byte
		must(t, f.db.r.QueryRow(f.db.rebind("SELECT after FROM journal WHERE site = ? AND seq = ?"), auditSite, seq).Scan(&stored))
		entries, err := f.db.JournalEntries(context.Background(), auditSite, seq-1, 1)
		must(t, err)
		var img struct{ Lines []map[string]any }
		if err := json.Unmarshal(entries[0].After, &img); err != nil || len(img.Lines) != len(lines) || img.Lines[59]["dose"] != 119.0 {
			t.Fatalf("after-image read back: %v, %d lines; want %d, the last at 119 mg", err, len(img.Lines), len(lines))
		}
		if f.db.Engine == SQLite && len(stored) >= len(entries[0].After)/4 {
			t.Errorf("SQLite stored %d bytes for a %d-byte image: want it compressed", len(stored), len(entries[0].After))
		}
		if f.db.Engine == Postgres && string(stored) != string(entries[0].After) {
			t.Errorf("PostgreSQL stored %q; want the JSON text", stored)
		}
		rep := f.verify(t, VerifyOptions{})
		if !rep.OK() {
			t.Fatalf("faults:%s", faultList(rep))
		}
	})
}

// A compressed image whose bytes were altered is named by the audit as its
// entry no longer matching its hash.
func TestVerifyNamesAlteredCompressedImage(t *testing.T) {
	dsn := testdb.SQLite(t)
	f := newAuditFixture(t, dsn)
	seq, _ := longImage(t, f.db)
	var stored []byte
	must(t, f.db.r.QueryRow("SELECT after FROM journal WHERE site = ? AND seq = ?", auditSite, seq).Scan(&stored))
	stored[len(stored)/2] ^= 0x55
	f.raw(t, "UPDATE journal SET after = ? WHERE site = ? AND seq = ?", stored, auditSite, seq)
	rep := f.verify(t, VerifyOptions{})
	if first := rep.First(); first == nil || first.Seq != seq || first.Kind != FaultChain {
		t.Fatalf("altering a compressed image: faults:%s; want journal entry %d named", faultList(rep), seq)
	}
}

// A portable dump carries the images as JSON; restored into SQLite they are
// stored compressed again, and the copy's journal verifies.
func TestDumpRestoresImagesCompressed(t *testing.T) {
	f := newAuditFixture(t, testdb.SQLite(t))
	seq, _ := longImage(t, f.db)
	var dump bytes.Buffer
	_, err := f.db.WriteSnapshot(context.Background(), &dump, true)
	must(t, err)
	if !bytes.Contains(dump.Bytes(), []byte(`\"inn\":\"prednisone\"`)) {
		t.Fatal("the dump does not carry the image as JSON")
	}
	db, _, err := RestoreSnapshot(context.Background(), &dump, PayloadJSONL, testdb.SQLite(t), Options{Log: f.db.Log})
	must(t, err)
	defer db.Close()
	var stored []byte
	must(t, db.r.QueryRow("SELECT after FROM journal WHERE site = ? AND seq = ?", auditSite, seq).Scan(&stored))
	if !bytes.HasPrefix(stored, zstdMagic) {
		t.Errorf("the restored image is stored as %d bytes of text; want it compressed", len(stored))
	}
	rep, err := db.VerifyJournal(context.Background())
	must(t, err)
	if !rep.OK() {
		t.Fatalf("the restored journal: faults:%s", faultList(rep))
	}
}
