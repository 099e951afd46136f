package continuity

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/internal/testdb"
	"github.com/relais-onco/relais/sqlstore"
)

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// busySite is a main site with the demo library, stock, and a day's work:
// preparations released, some delivered and given.
func busySite(t testing.TB, dsn string) *sqlstore.DB {
	t.Helper()
	db := loadedSite(t, dsn)
	made := treatAndProduce(t, db, 3)
	team, err := NewTeam(context.Background(), db)
	must(t, err)
	if _, err := Deliver(context.Background(), db, team, made[:2]); err != nil {
		t.Fatal(err)
	}
	return db
}

type keys struct {
	id   *age.X25519Identity
	site ed25519.PrivateKey
}

func newKeys(t testing.TB) keys {
	id, err := age.GenerateX25519Identity()
	must(t, err)
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	must(t, err)
	return keys{id, priv}
}

func (k keys) create(t testing.TB, db *sqlstore.DB, path string, portable bool) Header {
	t.Helper()
	h, err := Create(context.Background(), db, path, CreateOptions{Recipients: []age.Recipient{k.id.Recipient()},
		RecipientNames: []string{k.id.Recipient().String()}, Key: k.site, Portable: portable})
	must(t, err)
	return h
}

func TestSnapshotRoundTrip(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		src := busySite(t, dsn)
		k := newKeys(t)
		path := filepath.Join(t.TempDir(), "site.snapshot")
		h := k.create(t, src, path, false)
		head, err := src.Head(ctx, src.Site)
		must(t, err)
		if h.HeadSeq != head.Seq || h.HeadHash != head.Hash || h.Site != src.Site {
			t.Fatalf("header says %s at %d (%s); the source is %s at %d (%s)", h.Site, h.HeadSeq, h.HeadHash, src.Site, head.Seq, head.Hash)
		}
		rep, err := Verify(ctx, path, []age.Identity{k.id}, []ed25519.PublicKey{k.site.Public().(ed25519.PublicKey)}, nil)
		must(t, err)
		if !rep.OK() || !rep.Signature.Trusted {
			t.Fatalf("a fresh snapshot does not verify: %+v\n%s", rep.Signature, rep.Check)
		}
		// Restored into each engine, the copy holds the same tables and
		// rows as the source.
		want, err := src.SnapshotTables(ctx)
		must(t, err)
		for _, target := range []string{testdb.SQLite(t), testdb.Postgres(t)} {
			db, _, _, err := Restore(ctx, path, []age.Identity{k.id}, nil, target, sqlstore.Options{Log: discard()})
			must(t, err)
			got, err := db.SnapshotTables(ctx)
			must(t, err)
			for table, n := range want {
				if got[table] != n {
					t.Errorf("restored %s into %s: table %s has %d rows, the source %d", h.Engine, db.Engine, table, got[table], n)
				}
			}
			rep, err := db.Check(ctx)
			must(t, err)
			if !rep.OK() {
				t.Errorf("restored into %s: %s", db.Engine, rep)
			}
			db.Close()
		}
	})
}

// A snapshot's payload is compressed before it is encrypted; one written by
// an earlier Relais (version 1, not compressed) still restores.
func TestSnapshotCompressedAndVersion1(t *testing.T) {
	ctx := context.Background()
	src := busySite(t, testdb.SQLite(t))
	k := newKeys(t)
	dir := t.TempDir()
	ids := []age.Identity{k.id}
	pub := []ed25519.PublicKey{k.site.Public().(ed25519.PublicKey)}

	var dump bytes.Buffer
	_, err := src.WriteSnapshot(ctx, &dump, true)
	must(t, err)
	h := k.create(t, src, filepath.Join(dir, "v2.snapshot"), true)
	if h.Version != 2 || h.Compression != CompressionZstd {
		t.Fatalf("header version %d, compression %q; want 2, zstd", h.Version, h.Compression)
	}
	if h.CiphertextSize*3 > int64(dump.Len()) {
		t.Errorf("the compressed snapshot is %d bytes for a %d-byte dump: less than a third was saved", h.CiphertextSize, dump.Len())
	}
	if rep, err := Verify(ctx, filepath.Join(dir, "v2.snapshot"), ids, pub, nil); err != nil || !rep.OK() {
		t.Fatalf("version 2: %v %+v", err, rep.Check)
	}

	// Version 1, as an earlier Relais wrote it: the dump encrypted as is.
	v1 := filepath.Join(dir, "v1.snapshot")
	var enc bytes.Buffer
	aw, err := age.Encrypt(&enc, k.id.Recipient())
	must(t, err)
	_, err = aw.Write(dump.Bytes())
	must(t, err)
	must(t, aw.Close())
	sum := sha256.Sum256(enc.Bytes())
	old := h
	old.Version, old.Compression = 1, ""
	old.CiphertextSHA256, old.CiphertextSize = hex.EncodeToString(sum[:]), int64(enc.Len())
	signed, err := old.SignedBytes()
	must(t, err)
	old.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(k.site, signed))
	line, err := json.Marshal(old)
	must(t, err)
	must(t, os.WriteFile(v1, append([]byte(Magic+"\n"+string(line)+"\n"), enc.Bytes()...), 0o600))
	rep, err := Verify(ctx, v1, ids, pub, nil)
	if err != nil || !rep.OK() || rep.Header.Version != 1 {
		t.Fatalf("version 1: %v %+v", err, rep)
	}
}

// A snapshot that was altered, encrypted to someone else or signed by
// another key is refused, and says why.
func TestSnapshotRefusals(t *testing.T) {
	ctx := context.Background()
	src := busySite(t, testdb.SQLite(t))
	k := newKeys(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "site.snapshot")
	k.create(t, src, path, true)
	orig, err := os.ReadFile(path)
	must(t, err)
	pub := k.site.Public().(ed25519.PublicKey)
	other := newKeys(t)

	flip := func(at int) string {
		b := append([]byte(nil), orig...)
		b[at] ^= 0x01
		p := filepath.Join(dir, fmt.Sprintf("altered-%d.snapshot", at))
		must(t, os.WriteFile(p, b, 0o600))
		return p
	}
	headerEnd := bytes.IndexByte(orig[len(Magic)+1:], '\n') + len(Magic) + 1
	cases := []struct {
		name, path string
		ids        []age.Identity
		keys       []ed25519.PublicKey
		want       string
	}{
		{"payload byte flipped", flip(len(orig) - 10), []age.Identity{k.id}, []ed25519.PublicKey{pub}, "truncated or altered"},
		{"header byte flipped", flip(headerEnd - 20), []age.Identity{k.id}, []ed25519.PublicKey{pub}, ""},
		{"another site's key", path, []age.Identity{k.id}, []ed25519.PublicKey{other.site.Public().(ed25519.PublicKey)}, "not signed by the site key given"},
		{"another recipient", path, []age.Identity{other.id}, []ed25519.PublicKey{pub}, "cannot be decrypted"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Verify(ctx, c.path, c.ids, c.keys, nil)
			if err == nil {
				t.Fatal("verified")
			}
			if c.want != "" && !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not say %q", err, c.want)
			}
		})
	}
	t.Run("truncated", func(t *testing.T) {
		p := filepath.Join(dir, "short.snapshot")
		must(t, os.WriteFile(p, orig[:len(orig)-100], 0o600))
		if _, err := Verify(ctx, p, []age.Identity{k.id}, []ed25519.PublicKey{pub}, nil); err == nil || !strings.Contains(err.Error(), "truncated") {
			t.Errorf("a truncated snapshot: %v", err)
		}
	})
}

func FuzzReadHeader(f *testing.F) {
	f.Add([]byte(Magic + "\n{\"version\":1}\n"))
	f.Add([]byte(Magic + "\n" + `{"version":1,"site":"s","engine":"sqlite","schema":9,"payload":"sqlite","data_time":"2026-01-01T00:00:00Z","head_seq":3,"head_hash":"x","created_at":"2026-01-01T00:00:00Z","recipients":[],"ciphertext_sha256":"` + strings.Repeat("a", 64) + `","ciphertext_size":10,"public_key":"k","signature":"s"}` + "\nrest"))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ReadHeader(bufio.NewReader(bytes.NewReader(b)))
		if err != nil {
			if relais.ErrorKind(err) != relais.KindInvalid {
				t.Fatalf("error of kind %s: %v", relais.ErrorKind(err), err)
			}
			return
		}
		if (h.Version != 1 && h.Version != 2) || h.Site == "" || h.Signature == "" || len(h.CiphertextSHA256) != 64 {
			t.Fatalf("accepted a header that is not acceptable: %+v", h)
		}
	})
}
