package continuity

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/sqlstore"
)

// FuzzSnapshotFile: whatever bytes a snapshot file holds, checking it with
// the site's key never panics, refuses with an invalid or integrity error,
// and accepts only a file whose header fields and payload are exactly those
// the site signed: no change to what a restore would use gets through.
// The seed is a real signed snapshot of a fresh site.
func FuzzSnapshotFile(f *testing.F) {
	ctx := context.Background()
	dir := f.TempDir()
	db, err := sqlstore.Open(ctx, "sqlite:"+filepath.Join(dir, "site.db"), sqlstore.Options{Site: "chu-fuzz", Log: slog.New(slog.DiscardHandler)})
	must(f, err)
	k := newKeys(f)
	orig := filepath.Join(dir, "site.snapshot")
	want := k.create(f, db, orig, true)
	db.Close()
	good, err := os.ReadFile(orig)
	must(f, err)
	br := bufio.NewReader(bytes.NewReader(good))
	if _, err := ReadHeader(br); err != nil {
		f.Fatal(err)
	}
	var payload bytes.Buffer
	payload.ReadFrom(br)
	pub := k.site.Public().(ed25519.PublicKey)

	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add(append(append([]byte(nil), good...), '\n'))
	f.Add(bytes.Replace(good, []byte(`"chu-fuzz"`), []byte(`"chu-fuze"`), 1))
	f.Add([]byte(Magic + "\n{}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(t.TempDir(), "x.snapshot")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		h, sig, err := CheckSignature(path, []ed25519.PublicKey{pub})
		if err != nil {
			if k := relais.ErrorKind(err); k != relais.KindInvalid && k != relais.KindIntegrity {
				t.Fatalf("refused with an error of kind %s: %v", k, err)
			}
			return
		}
		if !sig.Valid || !sig.Trusted {
			t.Fatalf("accepted without a trusted valid signature: %+v", sig)
		}
		h.Signature, want.Signature = "", ""
		if !reflect.DeepEqual(h, want) {
			t.Fatalf("accepted a header that differs from the signed one:\n%+v\n%+v", h, want)
		}
		r := bufio.NewReader(bytes.NewReader(b))
		if _, err := ReadHeader(r); err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		got.ReadFrom(r)
		if !bytes.Equal(got.Bytes(), payload.Bytes()) {
			t.Fatalf("accepted a payload of %d bytes that differs from the signed one (%d bytes)", got.Len(), payload.Len())
		}
	})
}
