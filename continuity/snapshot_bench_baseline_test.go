package continuity

import (
	"context"
	"crypto/ed25519"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"filippo.io/age"

	"github.com/relais-onco/relais/internal/testdb"
	"github.com/relais-onco/relais/sqlstore"
)

// Snapshots and the start of a crisis, each beside its physical limit in
// the same run: a raw sequential copy of the same bytes (the snapshot file,
// read and written to a new file, synced). The bench script
// (scripts/bench) reports the ratios.

var benchEngines = []struct {
	name string
	dsn  func(testing.TB) string
}{{"sqlite", testdb.SQLite}, {"postgres", testdb.Postgres}}

// rawCopy copies the file at src to dst sequentially and syncs it.
func rawCopy(b *testing.B, src, dst string) int64 {
	in, err := os.Open(src)
	must(b, err)
	defer in.Close()
	out, err := os.Create(dst)
	must(b, err)
	n, err := io.Copy(out, in)
	must(b, err)
	must(b, out.Sync())
	must(b, out.Close())
	return n
}

// BenchmarkSnapshot creates, verifies (signature, decryption, integrity
// check of the copy) and restores a snapshot of a busy site, and copies the
// file's bytes raw (copy: the floor).
func BenchmarkSnapshot(b *testing.B) {
	for _, e := range benchEngines {
		b.Run(e.name, func(b *testing.B) {
			ctx := context.Background()
			src := busySite(b, e.dsn(b))
			k := newKeys(b)
			pub := k.site.Public().(ed25519.PublicKey)
			dir := b.TempDir()
			path := filepath.Join(dir, "site.snapshot")
			k.create(b, src, path, false)
			fi, err := os.Stat(path)
			must(b, err)
			mb := float64(fi.Size()) / 1e6
			b.Run("create", func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					k.create(b, src, filepath.Join(dir, "c-"+strconv.Itoa(i)+".snapshot"), false)
				}
				b.ReportMetric(mb, "MB")
			})
			b.Run("verify", func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					rep, err := Verify(ctx, path, []age.Identity{k.id}, []ed25519.PublicKey{pub}, nil)
					must(b, err)
					if !rep.OK() {
						b.Fatalf("the snapshot does not verify: %s", rep.Check)
					}
				}
				b.ReportMetric(mb, "MB")
			})
			b.Run("restore", func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					dsn := e.dsn(b)
					b.StartTimer()
					db, _, _, err := Restore(ctx, path, []age.Identity{k.id}, []ed25519.PublicKey{pub}, dsn, sqlstore.Options{Log: discard()})
					must(b, err)
					db.Close()
				}
				b.ReportMetric(mb, "MB")
			})
			b.Run("copy", func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					rawCopy(b, path, filepath.Join(dir, "raw-"+strconv.Itoa(i)))
				}
				b.ReportMetric(mb, "MB")
			})
		})
	}
}

// BenchmarkCrisisStart is the machine part of taking over: the latest
// snapshot restored into the crisis node's database, and the crisis
// declared on it (own chain, reserved register numbers, logbook entry).
// copy is the floor: the same snapshot's bytes copied raw.
func BenchmarkCrisisStart(b *testing.B) {
	for _, e := range benchEngines {
		b.Run(e.name, func(b *testing.B) {
			ctx := context.Background()
			site := loadedSite(b, e.dsn(b))
			team, err := NewTeam(ctx, site)
			must(b, err)
			_, err = site.ReserveRegisterBlock(team.Pharmacist, 30, "crise (banc de mesure)")
			must(b, err)
			k := newKeys(b)
			dir := b.TempDir()
			path := filepath.Join(dir, "site.snapshot")
			k.create(b, site, path, false)
			b.Run("start", func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					dsn := e.dsn(b)
					b.StartTimer()
					node, _, _, err := Restore(ctx, path, []age.Identity{k.id}, nil, dsn, sqlstore.Options{Log: discard()})
					must(b, err)
					if _, err := node.StartCrisis(ctx, sqlstore.CrisisDeclaration{Pharmacist: "ph.durand", Reason: "banc de mesure"}); err != nil {
						b.Fatal(err)
					}
					node.Close()
				}
			})
			b.Run("copy", func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					rawCopy(b, path, filepath.Join(dir, "raw-"+strconv.Itoa(i)))
				}
			})
		})
	}
}
