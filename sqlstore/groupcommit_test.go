package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/internal/testdb"
	"github.com/relais-onco/relais/journal"
	"github.com/relais-onco/relais/sqlstore"
)

// Many writers at once, some of which fail or panic half-way: each failure
// undoes only its own work, every success is committed with its journal
// entry, the chain has no gap or fork, and the after-commit hooks see
// exactly the committed entries. On SQLite these writes share commits
// (groupcommit.go); the promise to each caller is the same as alone.
func TestConcurrentWritesFailAlone(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		db := open(t, dsn)
		ctx := actorCtx()
		var hookMu sync.Mutex
		hooked := map[string]bool{}
		db.OnCommit(func(entries []journal.Entry) {
			hookMu.Lock()
			defer hookMu.Unlock()
			for _, e := range entries {
				if hooked[e.ID] {
					t.Errorf("entry %d given to the hooks twice", e.Seq)
				}
				hooked[e.ID] = true
			}
		})
		var before int64
		if err := db.SQL().QueryRow("SELECT seq FROM journal_head").Scan(&before); err != nil {
			t.Fatal(err)
		}

		const writers = 90
		errs := make([]error, writers)
		var wg sync.WaitGroup
		for i := 0; i < writers; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				id := fmt.Sprintf("site-%02d", i)
				switch i % 3 {
				case 0: // a valid site
					errs[i] = db.SaveSite(ctx, relais.Site{ID: id, Name: "Site " + id, Kind: "chg"})
				case 1: // writes a row and an entry, then fails: nothing may stay
					errs[i] = db.Write(ctx, "test.fail", func(tx *sqlstore.Tx) error {
						if _, err := tx.Exec("INSERT INTO site (id, name, kind, public_key, created_at) VALUES (?, ?, 'chg', '', ?)", id, id, sqlstore.T(tx.Now())); err != nil {
							return err
						}
						if err := tx.Journal("site.save", "site", relais.ID(id), nil, map[string]string{"id": id}); err != nil {
							return err
						}
						return errors.New("refused on purpose")
					})
				case 2: // a fault in the code: a panic after writing
					errs[i] = db.Write(ctx, "test.panic", func(tx *sqlstore.Tx) error {
						if _, err := tx.Exec("INSERT INTO site (id, name, kind, public_key, created_at) VALUES (?, ?, 'chg', '', ?)", id, id, sqlstore.T(tx.Now())); err != nil {
							return err
						}
						if i%2 == 0 {
							panic("fault on purpose")
						}
						return relais.Invalid("test", "name", "refused on purpose")
					})
				}
			}(i)
		}
		wg.Wait()

		for i, err := range errs {
			switch {
			case i%3 == 0 && err != nil:
				t.Errorf("writer %d (valid) failed: %v", i, err)
			case i%3 != 0 && err == nil:
				t.Errorf("writer %d should have failed", i)
			}
		}
		var sites, entries, head int64
		db.SQL().QueryRow("SELECT count(*) FROM site WHERE id LIKE 'site-%'").Scan(&sites)
		db.SQL().QueryRow("SELECT count(*) FROM journal WHERE entity = 'site' AND entity_id LIKE 'site-%'").Scan(&entries)
		db.SQL().QueryRow("SELECT seq FROM journal_head").Scan(&head)
		if sites != writers/3 || entries != writers/3 {
			t.Errorf("%d sites and %d entries stored, want %d of each: a failed write left something", sites, entries, writers/3)
		}
		if head-before != writers/3 {
			t.Errorf("the journal head moved by %d, want %d", head-before, writers/3)
		}
		if len(hooked) != writers/3 {
			t.Errorf("the hooks saw %d entries, want %d", len(hooked), writers/3)
		}
		rep, err := db.VerifyJournal(context.Background())
		if err != nil || len(rep.Faults) > 0 {
			t.Fatalf("audit after concurrent writes: %v %+v", err, rep.Faults)
		}
	})
}

// A write whose caller has gone (a closed browser tab) fails alone, and a
// closed database refuses writes instead of hanging.
func TestWriteAfterCancelAndClose(t *testing.T) {
	db := open(t, testdb.SQLite(t))
	ctx, cancel := context.WithCancel(actorCtx())
	cancel()
	if err := db.SaveSite(ctx, relais.Site{ID: "gone", Name: "Gone", Kind: "chg"}); err == nil {
		t.Fatal("a write with a cancelled context succeeded")
	}
	if err := db.SaveSite(actorCtx(), relais.Site{ID: "here", Name: "Here", Kind: "chg"}); err != nil {
		t.Fatalf("the next write failed: %v", err)
	}
	db.Close()
	if err := db.SaveSite(actorCtx(), relais.Site{ID: "late", Name: "Late", Kind: "chg"}); err == nil {
		t.Fatal("a write on a closed database succeeded")
	}
}
