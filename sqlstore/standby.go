package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/journal"
)

// A standby node is a faithful follower of its site: it applies every entry
// of the site's chain, in order, after checking that the entry continues
// the chain (sequence, previous hash, own hash), and keeps the entry itself
// under the site's name and sequence, so the copy is auditable with
// `relais audit verify` like the original. The same code copies any other
// chain into a database (the contract test of the appliers uses it).

// rawWrite runs fn in a writing transaction that appends nothing to the
// local chain: applying another chain's entries is not a change made here.
// SQLite busy errors are retried, as in Write.
func (db *DB) rawWrite(ctx context.Context, op string, fn func(tx *Tx) error) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		err = func() error {
			sqltx, err := db.w.BeginTx(ctx, nil)
			if err != nil {
				return relais.E(op, relais.KindUnavailable, err)
			}
			actor, _ := relais.ActorFrom(ctx)
			tx := &Tx{db: db, tx: sqltx, ctx: ctx, op: op, actor: actor, now: relais.Now()}
			if err := fn(tx); err != nil {
				sqltx.Rollback()
				return err
			}
			if err := sqltx.Commit(); err != nil {
				return relais.E(op, mapErr(err))
			}
			return nil
		}()
		if err == nil || !isBusy(err) {
			return err
		}
		time.Sleep(time.Duration(attempt+1) * 20 * time.Millisecond)
	}
	return err
}

// ChainHead is the last entry of a chain held here.
type ChainHead struct {
	Site string    `json:"site"`
	Seq  int64     `json:"seq"`
	Hash string    `json:"hash"`
	Time time.Time `json:"time,omitzero"` // time of that entry (zero for an empty chain)
}

// Head returns the head of site's chain as held in this database.
func (db *DB) Head(ctx context.Context, site string) (ChainHead, error) {
	h := ChainHead{Site: site, Hash: journal.GenesisHash}
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		h, err = chainHead(tx, site)
		return err
	})
	return h, err
}

func chainHead(tx *Tx, site string) (ChainHead, error) {
	h := ChainHead{Site: site, Hash: journal.GenesisHash}
	err := tx.QueryRow("SELECT seq, hash FROM journal_head WHERE site = ?", site).Scan(&h.Seq, &h.Hash)
	if err == sql.ErrNoRows {
		// A chain copied here without a head row: its last entry is the head.
		err = tx.QueryRow("SELECT seq, hash FROM journal WHERE site = ? ORDER BY seq DESC LIMIT 1", site).Scan(&h.Seq, &h.Hash)
		if err == sql.ErrNoRows {
			return h, nil
		}
	}
	if err != nil {
		return h, mapErr(err)
	}
	if h.Seq > 0 {
		if err := tx.QueryRow("SELECT time FROM journal WHERE site = ? AND seq = ?", site, h.Seq).Scan(ScanTime(&h.Time)); err != nil && err != sql.ErrNoRows {
			return h, mapErr(err)
		}
	}
	return h, nil
}

// FollowResult says what ApplyChain did.
type FollowResult struct {
	Applied int       // entries applied now
	Skipped int       // entries already held (same id and hash): nothing to do
	Head    ChainHead // the chain's head afterwards
}

// ApplyChain applies entries of site's chain, which must continue the
// chain held here (or repeat entries already held, which are skipped), in
// one transaction: all of them or none. An entry that breaks the chain, an
// entity without an applier, or an image that cannot be applied stops
// everything with an error naming the entry: a standby never goes on from a
// chain it cannot vouch for.
func (db *DB) ApplyChain(ctx context.Context, site string, entries []journal.Entry) (FollowResult, error) {
	const op = "standby.apply"
	var res FollowResult
	err := db.rawWrite(ctx, op, func(tx *Tx) error {
		defer tx.cacheStatements()()
		res = FollowResult{}
		q := "SELECT seq, hash FROM journal_head WHERE site = ?"
		if tx.Engine() == Postgres {
			q += " FOR UPDATE"
		}
		var seq int64
		var hash string
		err := tx.QueryRow(q, site).Scan(&seq, &hash)
		if err == sql.ErrNoRows {
			if _, err := tx.Exec("INSERT INTO journal_head (site, seq, hash) VALUES (?, 0, ?)", site, journal.GenesisHash); err != nil {
				return relais.E(op, err)
			}
			seq, hash = 0, journal.GenesisHash
		} else if err != nil {
			return relais.E(op, mapErr(err))
		}
		v := journal.ResumeVerifier(site, seq, hash)
		for i := range entries {
			e := &entries[i]
			if e.Site != site {
				return relais.E(op, relais.KindIntegrity, fmt.Sprintf("entry %d (%s) belongs to site %q, not to the chain of %q", e.Seq, e.ID, e.Site, site))
			}
			if e.Seq <= seq {
				var held string
				if err := tx.QueryRow("SELECT hash FROM journal WHERE site = ? AND seq = ?", site, e.Seq).Scan(&held); err != nil {
					return relais.E(op, relais.KindIntegrity, fmt.Sprintf("entry %d of %s is behind the head held here but is missing", e.Seq, site), mapErr(err))
				}
				if held != e.Hash {
					return relais.E(op, relais.KindIntegrity, fmt.Sprintf(
						"entry %d of %s differs from the one held here (hash %s, held %s): the source's chain forked or was rewritten", e.Seq, site, e.Hash, held))
				}
				res.Skipped++
				continue
			}
			if err := v.Check(e); err != nil {
				return relais.E(op, relais.KindIntegrity, err)
			}
			if err := applyEntry(tx, e); err != nil {
				return err
			}
			if err := tx.insertEntry(e); err != nil {
				return relais.E(op, fmt.Sprintf("storing entry %d of %s", e.Seq, site), err)
			}
			seq, hash = e.Seq, e.Hash
			res.Applied++
		}
		if _, err := tx.Exec("UPDATE journal_head SET seq = ?, hash = ? WHERE site = ?", seq, hash, site); err != nil {
			return relais.E(op, err)
		}
		res.Head, err = chainHead(tx, site)
		return err
	})
	return res, err
}

// applyEntry applies one entry's after-image. An entity Relais can read
// back (it has a loader) must have an applier; an entity it cannot read back
// at all (no loader: nothing here to reproduce) is kept in the journal only.
func applyEntry(tx *Tx, e *journal.Entry) error {
	if _, ok := entityAppliers[e.Entity]; !ok {
		if _, known := entityLoaders[e.Entity]; !known {
			return nil
		}
	}
	if err := ApplyAfter(tx, e.Entity, relais.ID(e.EntityID), e.After); err != nil {
		return relais.E("standby.apply", fmt.Sprintf("entry %d (%s, %s)", e.Seq, e.ID, e.Action), err)
	}
	return nil
}

// FollowState is what a standby node shows of its lag.
type FollowState struct {
	Site       string    `json:"site"`
	SourceURL  string    `json:"source_url"`
	AppliedSeq int64     `json:"applied_seq"`
	SourceSeq  int64     `json:"source_seq"`
	SyncedAt   time.Time `json:"synced_at,omitzero"` // last time the copy held everything the source had
	PolledAt   time.Time `json:"polled_at,omitzero"`
	LastError  string    `json:"last_error,omitempty"`
}

// Lag is how old the copy's data may be at t: zero right after a poll that
// found nothing new, else the time since the copy was last complete.
func (s FollowState) Lag(t time.Time) time.Duration {
	if s.SyncedAt.IsZero() {
		return -1
	}
	return t.Sub(s.SyncedAt)
}

// SaveFollowState records a poll of the source. It is not journaled: it is
// the standby's own bookkeeping, not a change of the site's data.
func (db *DB) SaveFollowState(ctx context.Context, s FollowState) error {
	return db.rawWrite(ctx, "standby.state", func(tx *Tx) error {
		return upsert(tx, "follow_state", []string{"site", "source_url", "applied_seq", "source_seq", "synced_at", "polled_at", "last_error"},
			[]any{s.Site, s.SourceURL, s.AppliedSeq, s.SourceSeq, NT(s.SyncedAt), NT(s.PolledAt), s.LastError})
	})
}

// FollowStateOf returns the standby's record of its following of site
// (KindNotFound when this database follows nothing).
func (db *DB) FollowStateOf(ctx context.Context, site string) (FollowState, error) {
	var s FollowState
	err := db.r.QueryRowContext(ctx, db.rebind(`SELECT site, source_url, applied_seq, source_seq, synced_at, polled_at, last_error
		FROM follow_state WHERE site = ?`), site).Scan(&s.Site, &s.SourceURL, &s.AppliedSeq, &s.SourceSeq, ScanTime(&s.SyncedAt),
		ScanTime(&s.PolledAt), &s.LastError)
	if err != nil {
		return s, relais.E("standby.state", "this database follows no site", mapErr(err))
	}
	return s, nil
}
