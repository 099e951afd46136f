package sqlstore_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/internal/testdb"
	"github.com/relais-onco/relais/sqlstore"
)

var quiet = slog.New(slog.DiscardHandler)

func open(t *testing.T, dsn string) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), dsn, sqlstore.Options{Site: "chu-test", Log: quiet})
	if err != nil {
		t.Fatalf("open %s: %v", dsn, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func actorCtx() context.Context {
	return relais.WithActor(context.Background(), relais.Actor{UserID: relais.NewID(), Username: "pharma", Role: relais.RolePharmacist, Site: "chu-test"})
}

func TestOpenMigratesAndRecordsSite(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		db := open(t, dsn)
		v, err := db.CurrentSchema(context.Background())
		if err != nil || v != sqlstore.SchemaVersion() {
			t.Fatalf("schema = %d, %v; want %d", v, err, sqlstore.SchemaVersion())
		}
		db.Close()
		// Reopening with another site is refused and names both.
		_, err = sqlstore.Open(context.Background(), dsn, sqlstore.Options{Site: "chg-other"})
		if err == nil || !strings.Contains(err.Error(), "chu-test") || !strings.Contains(err.Error(), "chg-other") {
			t.Fatalf("reopen with another site: %v", err)
		}
	})
}

func TestNewDatabaseNeedsSite(t *testing.T) {
	_, err := sqlstore.Open(context.Background(), testdb.SQLite(t), sqlstore.Options{})
	if relais.ErrorKind(err) != relais.KindInvalid || !strings.Contains(err.Error(), "--site") {
		t.Fatalf("err = %v; want an invalid error naming --site", err)
	}
}

func TestWriteNeedsActor(t *testing.T) {
	db := open(t, testdb.SQLite(t))
	err := db.Write(context.Background(), "x", func(tx *sqlstore.Tx) error { return nil })
	if relais.ErrorKind(err) != relais.KindUnauthorized {
		t.Fatalf("err = %v; want unauthorized", err)
	}
}

// Concurrent writers each append one entry: the chain has no gap, no fork,
// and verifies.
func TestJournalChainUnderConcurrentWrites(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		db := open(t, dsn)
		ctx := actorCtx()
		const n = 64
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- db.Write(ctx, "test.write", func(tx *sqlstore.Tx) error {
					id := relais.NewID()
					return tx.Journal("test.touch", "test", id, nil, map[string]any{"id": id})
				})
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		entries, err := db.JournalEntries(context.Background(), db.Site, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != n {
			t.Fatalf("%d entries, want %d", len(entries), n)
		}
		var v = newVerifier(db.Site)
		for i := range entries {
			if err := v.Check(&entries[i]); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestRollbackLeavesNoEntry(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		db := open(t, dsn)
		ctx := actorCtx()
		err := db.Write(ctx, "test.fail", func(tx *sqlstore.Tx) error {
			if err := tx.Journal("test.touch", "test", relais.NewID(), nil, map[string]any{"a": 1}); err != nil {
				return err
			}
			return relais.E("test.fail", relais.KindInvalid, "refused")
		})
		if err == nil {
			t.Fatal("want an error")
		}
		entries, err := db.JournalEntries(context.Background(), db.Site, 0, 0)
		if err != nil || len(entries) != 0 {
			t.Fatalf("entries = %d, %v; want none", len(entries), err)
		}
	})
}
