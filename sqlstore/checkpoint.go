package sqlstore

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/journal"
)

// Checkpoint signs the head of the local chain with priv and stores the
// checkpoint, so that the chain up to it can be verified later with only the
// site's public key. When the head has not moved since the last checkpoint
// (or the chain is empty) nothing is signed and the last checkpoint is
// returned (the zero Checkpoint when there is none).
//
// Before signing, the entries since the last checkpoint that verifies with
// priv's key are checked: a checkpoint never vouches for a chain that does
// not verify. priv must be the key the site table records, when it records
// one.
//
// Writing a checkpoint is not a change of state and appends no journal
// entry: a checkpoint is a statement about the journal, not something the
// journal describes. Journaling it would move the head it just signed, and a
// checkpoint can be checked on its own (signature, and the chain's hash at
// its sequence), which is all an entry would add.
func (db *DB) Checkpoint(ctx context.Context, priv ed25519.PrivateKey) (journal.Checkpoint, error) {
	const op = "journal.checkpoint"
	if len(priv) != ed25519.PrivateKeySize {
		return journal.Checkpoint{}, relais.Invalid(op, "key", "the signing key is not an ed25519 private key")
	}
	pub := priv.Public().(ed25519.PublicKey)
	if _, ok := relais.ActorFrom(ctx); !ok {
		ctx = relais.WithActor(ctx, relais.SystemActor(db.Site))
	}
	// First, without holding the writers, verify the entries since the last
	// good checkpoint up to the head a read snapshot sees: on a journal
	// never signed (a generated or restored database) that is minutes, and
	// sign-ins would wait for them. Only the entries written meanwhile are
	// left for the write transaction below.
	var verified journal.Checkpoint // an entry verified in the snapshot (unsigned)
	err := db.snapshot(ctx, func(tx *Tx) error {
		if err := checkSiteKey(op, tx, db.Site, pub); err != nil {
			return err
		}
		last, err := lastGoodCheckpoint(tx, db.Site, pub)
		if err != nil {
			return err
		}
		err = tx.QueryRow("SELECT seq, hash FROM journal_head WHERE site = ?", db.Site).Scan(&verified.Seq, &verified.Hash)
		if relais.ErrorKind(mapErr(err)) == relais.KindNotFound || (err == nil && verified.Seq <= last.Seq) {
			verified = journal.Checkpoint{}
			return nil // nothing to verify before the write
		}
		if err != nil {
			return relais.E(op, mapErr(err))
		}
		if err := verifySince(tx, db.Site, last, verified.Seq, verified.Hash); err != nil {
			return relais.E(op, relais.KindIntegrity, "refusing to sign: "+err.Error()+"; run relais audit verify")
		}
		return nil
	})
	if err != nil {
		return journal.Checkpoint{}, err
	}
	if checkpointVerifiedHook != nil {
		checkpointVerifiedHook()
	}
	var out journal.Checkpoint
	// Write serializes with the writers (and locks the head on PostgreSQL),
	// so the head cannot move while it is checked and signed.
	err = db.Write(ctx, op, func(tx *Tx) error {
		if !tx.head.loaded {
			if err := tx.lockHead(); err != nil {
				return err
			}
		}
		if err := checkSiteKey(op, tx, db.Site, pub); err != nil {
			return err
		}
		last, err := lastGoodCheckpoint(tx, db.Site, pub)
		if err != nil {
			return err
		}
		if last.Seq == tx.head.seq {
			if last.Seq > 0 && last.Hash != tx.head.hash {
				return relais.E(op, relais.KindIntegrity, fmt.Sprintf(
					"refusing to sign: the journal head (entry %d, hash %s) does not match the checkpoint of that entry (hash %s); run relais audit verify",
					tx.head.seq, tx.head.hash, last.Hash))
			}
			out = last
			return nil
		}
		from := last
		if verified.Seq > last.Seq {
			from = verified
		}
		if err := verifySince(tx, db.Site, from, tx.head.seq, tx.head.hash); err != nil {
			return relais.E(op, relais.KindIntegrity, "refusing to sign: "+err.Error()+"; run relais audit verify")
		}
		cp, err := journal.Sign(priv, db.Site, tx.head.seq, tx.head.hash, tx.Now())
		if err != nil {
			return err
		}
		if _, err := tx.Exec("INSERT INTO journal_checkpoint (site, seq, hash, time, public_key, signature) VALUES (?, ?, ?, ?, ?, ?)",
			cp.Site, cp.Seq, cp.Hash, T(cp.Time), cp.PublicKey, cp.Signature); err != nil {
			return err
		}
		out = cp
		return nil
	})
	return out, err
}

// checkpointVerifiedHook, when set by a test, runs between the snapshot's
// verification and the write transaction of Checkpoint.
var checkpointVerifiedHook func()

// checkSiteKey refuses pub when the site table records another key.
func checkSiteKey(op string, tx *Tx, site string, pub ed25519.PublicKey) error {
	var stored string
	if err := tx.QueryRow("SELECT public_key FROM site WHERE id = ?", site).Scan(&stored); err != nil {
		return relais.E(op, "the local site is missing from the site table", mapErr(err))
	}
	if stored != "" && stored != journal.EncodePublicKey(pub) {
		return relais.E(op, relais.KindConflict, relais.Field("key"), fmt.Sprintf(
			"this key (public key %s) is not the site's: the site table records %s; sign with the site's key, or publish the new one with relais keys publish",
			journal.EncodePublicKey(pub), stored))
	}
	return nil
}

// lastGoodCheckpoint returns the latest checkpoint of site that verifies
// with pub (zero when none): verifying from a forged checkpoint would let a
// rewritten chain be signed.
func lastGoodCheckpoint(tx *Tx, site string, pub ed25519.PublicKey) (journal.Checkpoint, error) {
	cps, err := checkpointsTx(tx, site)
	if err != nil {
		return journal.Checkpoint{}, err
	}
	for i := len(cps) - 1; i >= 0; i-- {
		if cps[i].Verify(pub) == nil {
			return cps[i], nil
		}
	}
	return journal.Checkpoint{}, nil
}

// verifySince checks the chain from the entry after from up to (headSeq,
// headHash).
func verifySince(tx *Tx, site string, from journal.Checkpoint, headSeq int64, headHash string) error {
	v := journal.Verifier{Site: site}
	if from.Seq > 0 {
		v.StartAt(from.Seq, from.Hash)
	}
	after := from.Seq
	for {
		page, err := entriesPage(tx, site, after, pageSize)
		if err != nil {
			return err
		}
		for i := range page {
			if err := v.Check(&page[i]); err != nil {
				return err
			}
		}
		if len(page) < pageSize {
			break
		}
		after = page[len(page)-1].Seq
	}
	if seq, hash := v.Head(); seq != headSeq || hash != headHash {
		return fmt.Errorf("the chain ends at entry %d (hash %s) but the journal head records entry %d (hash %s)", seq, hash, headSeq, headHash)
	}
	return nil
}

// Checkpoints lists the checkpoints stored for site's chain, by sequence.
func (db *DB) Checkpoints(ctx context.Context, site string) ([]journal.Checkpoint, error) {
	var out []journal.Checkpoint
	err := db.snapshot(ctx, func(tx *Tx) error {
		var err error
		out, err = checkpointsTx(tx, site)
		return err
	})
	if err != nil {
		return nil, relais.E("journal.checkpoints", err)
	}
	return out, nil
}

// checkpointsTx reads site's checkpoints; there are few (one per signing
// interval), so they are read at once.
func checkpointsTx(tx *Tx, site string) ([]journal.Checkpoint, error) {
	rows, err := tx.Query("SELECT site, seq, hash, time, public_key, signature FROM journal_checkpoint WHERE site = ? ORDER BY seq", site)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []journal.Checkpoint
	for rows.Next() {
		var c journal.Checkpoint
		if err := rows.Scan(&c.Site, &c.Seq, &c.Hash, ScanTime(&c.Time), &c.PublicKey, &c.Signature); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// ExportJournal writes every chain and checkpoint to w in the export format
// (journal.ExportWriter), from one snapshot of the database, for an inspector
// to verify with journal.VerifyExport and the site's public key.
func (db *DB) ExportJournal(ctx context.Context, w io.Writer) (journal.ExportHeader, error) {
	const op = "audit.export"
	h := journal.ExportHeader{Site: db.Site, ExportedAt: relais.Now()}
	err := db.snapshot(ctx, func(tx *Tx) error {
		sites, err := chainSites(tx, db.Site)
		if err != nil {
			return err
		}
		for _, site := range sites {
			head := journal.Head{Site: site, Hash: journal.GenesisHash}
			err := tx.QueryRow("SELECT seq, hash FROM journal_head WHERE site = ?", site).Scan(&head.Seq, &head.Hash)
			if relais.ErrorKind(mapErr(err)) == relais.KindNotFound {
				// No head row (a replicated chain): its last entry is its head.
				err = tx.QueryRow("SELECT seq, hash FROM journal WHERE site = ? ORDER BY seq DESC LIMIT 1", site).Scan(&head.Seq, &head.Hash)
				if relais.ErrorKind(mapErr(err)) == relais.KindNotFound {
					err = nil
				}
			}
			if err != nil {
				return mapErr(err)
			}
			h.Heads = append(h.Heads, head)
		}
		x, err := journal.NewExportWriter(w, h)
		if err != nil {
			return err
		}
		for _, site := range sites {
			cps, err := checkpointsTx(tx, site)
			if err != nil {
				return err
			}
			for i := range cps {
				if err := x.Checkpoint(&cps[i]); err != nil {
					return err
				}
			}
		}
		for _, site := range sites {
			var after int64
			for {
				page, err := entriesPage(tx, site, after, pageSize)
				if err != nil {
					return err
				}
				for i := range page {
					if err := x.Entry(&page[i]); err != nil {
						return err
					}
				}
				if len(page) < pageSize {
					break
				}
				after = page[len(page)-1].Seq
			}
		}
		return nil
	})
	if err != nil {
		return h, relais.E(op, err)
	}
	return h, nil
}
