package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/internal/progress"
	"github.com/relais-onco/relais/journal"
)

// Reintegration brings a crisis node's work back into its recovered site.
//
// The crisis chain is first verified from its genesis and stored as it is in
// the site's journal (under the crisis chain's name), so both chains can be
// audited afterwards. Then each crisis entry, in chain order, is replayed at
// most once (replayed_entry, keyed by the entry's id, makes a second run a
// no-op):
//
//   - if the entity at the site is still what the crisis node started from
//     (its canonical JSON equals the entry's before-image, or it does not
//     exist and the entry created it), the after-image is applied and the
//     change is journaled on the site's chain as "reintegrate:<action>",
//     in the name of the person who did it in crisis; replayed_entry links
//     the new entry to the crisis entry (local_seq);
//   - if it already equals the after-image, nothing is written ("unchanged");
//   - otherwise the same thing changed on both sides (or the change cannot
//     be applied: a unique number taken meanwhile, a missing reference) and
//     the entry goes to the review queue (reintegration_conflict). Nothing
//     is resolved automatically: a pharmacist keeps the site's version or
//     takes the crisis node's, and that decision is journaled too. Later
//     entries of an entity in the queue queue behind it, since the entity no
//     longer matches their before-image.
//
// Finally the reserved register numbers the crisis did not use are voided,
// so the register has no gap and no number twice.

// ReintegrationReport says what a reintegration did.
type ReintegrationReport struct {
	CrisisChain string        `json:"crisis_chain"`
	Entries     int           `json:"entries"`   // entries of the crisis chain
	Stored      int           `json:"stored"`    // of them newly stored in the site's journal
	Replayed    int           `json:"replayed"`  // applied and journaled at the site
	Unchanged   int           `json:"unchanged"` // the site already held their after-image
	Skipped     int           `json:"skipped"`   // already reintegrated by an earlier run
	Queued      int           `json:"queued"`    // conflicts for a pharmacist
	Voided      []string      `json:"voided"`    // reserved numbers voided
	Conflicts   []Conflict    `json:"conflicts"` // the queue's new items
	Took        time.Duration `json:"took"`
}

// Conflict is an entry of the review queue.
type Conflict struct {
	ID           relais.ID       `json:"id"`
	Site         string          `json:"site"`
	EntryID      string          `json:"entry_id"`
	SourceSite   string          `json:"source_site"`
	SourceSeq    int64           `json:"source_seq"`
	Action       string          `json:"action"`
	Entity       string          `json:"entity"`
	EntityID     string          `json:"entity_id"`
	CrisisBefore json.RawMessage `json:"crisis_before"`
	CrisisAfter  json.RawMessage `json:"crisis_after"`
	MainCurrent  json.RawMessage `json:"main_current"`
	Status       string          `json:"status"` // open, kept_main, took_crisis
	CreatedAt    time.Time       `json:"created_at"`
	ResolvedAt   time.Time       `json:"resolved_at,omitzero"`
	ResolvedBy   string          `json:"resolved_by,omitempty"`
	Note         string          `json:"note,omitempty"`
}

func init() {
	registerEntity("reintegration_conflict", "reintegration_conflict", func(tx *Tx, id relais.ID) (any, error) { return conflictByID(tx, id) })
	registerApplier("reintegration_conflict", applyConflict)
}

const conflictCols = `id, site, entry_id, source_site, source_seq, action, entity, entity_id, crisis_before, crisis_after, main_current,
	status, created_at, resolved_at, resolved_by, note`

func scanConflict(sc interface{ Scan(...any) error }) (Conflict, error) {
	var c Conflict
	var before, after, cur string
	err := sc.Scan(&c.ID, &c.Site, &c.EntryID, &c.SourceSite, &c.SourceSeq, &c.Action, &c.Entity, &c.EntityID, &before, &after, &cur,
		&c.Status, ScanTime(&c.CreatedAt), ScanTime(&c.ResolvedAt), &c.ResolvedBy, &c.Note)
	c.CrisisBefore, c.CrisisAfter, c.MainCurrent = json.RawMessage(before), json.RawMessage(after), json.RawMessage(cur)
	return c, err
}

func conflictByID(tx *Tx, id relais.ID) (Conflict, error) {
	c, err := scanConflict(tx.QueryRow("SELECT "+conflictCols+" FROM reintegration_conflict WHERE id = ?", id))
	if err != nil {
		return c, relais.E("reintegration.conflict", relais.KindNotFound, fmt.Sprintf("no conflict %s", id), mapErr(err))
	}
	return c, nil
}

func applyConflict(tx *Tx, id relais.ID, after []byte) error {
	var c Conflict
	if err := decodeImage("reintegration_conflict", id, after, &c); err != nil {
		return err
	}
	if err := checkImageID("reintegration_conflict", id, c.ID); err != nil {
		return err
	}
	return upsert(tx, "reintegration_conflict", columns(conflictCols), []any{c.ID, c.Site, c.EntryID, c.SourceSite, c.SourceSeq, c.Action,
		c.Entity, c.EntityID, string(c.CrisisBefore), string(c.CrisisAfter), string(c.MainCurrent), c.Status, T(c.CreatedAt),
		NT(c.ResolvedAt), c.ResolvedBy, c.Note})
}

// replayBatch is how many entries one transaction replays (each in its own
// savepoint): fewer commits, each still small.
const replayBatch = 250

// Reintegrate replays a crisis chain (all its entries, in order from 1)
// into this site. The actor in ctx is who reintegrates (a pharmacist).
func (db *DB) Reintegrate(ctx context.Context, chain string, entries []journal.Entry) (ReintegrationReport, error) {
	const op = "crisis.reintegrate"
	start := time.Now()
	rep := ReintegrationReport{CrisisChain: chain, Voided: []string{}, Conflicts: []Conflict{}, Entries: len(entries)}
	actor, ok := relais.ActorFrom(ctx)
	if !ok {
		return rep, relais.E(op, relais.KindUnauthorized, "no one is signed in")
	}
	if err := requirePerm(op, actor, relais.PermValidate); err != nil {
		return rep, err
	}
	if chain == db.Site || db.InCrisis() {
		return rep, relais.E(op, relais.KindInvalid, "reintegrate into the recovered site's database, not into the crisis node itself")
	}
	if !strings.HasPrefix(chain, db.Site+"-crisis") {
		return rep, relais.E(op, relais.KindInvalid, fmt.Sprintf("chain %s is not a crisis chain of site %s", chain, db.Site))
	}
	// 1. The whole chain verifies from its genesis, or nothing happens.
	v := &journal.Verifier{Site: chain}
	for i := range entries {
		if err := v.Check(&entries[i]); err != nil {
			return rep, relais.E(op, relais.KindIntegrity, "the crisis chain does not verify: nothing was reintegrated", err)
		}
	}
	// 2. Stored as it is, beside the site's chain.
	before, err := db.Head(ctx, chain)
	if err != nil {
		return rep, err
	}
	if err := db.rawWrite(ctx, op, func(tx *Tx) error {
		if _, err := tx.Exec("INSERT INTO journal_head (site, seq, hash) VALUES (?, 0, ?) ON CONFLICT (site) DO NOTHING", chain, journal.GenesisHash); err != nil {
			return err
		}
		var seq int64
		var hash string
		for i := range entries {
			e := &entries[i]
			if e.Seq <= before.Seq {
				continue
			}
			if err := tx.insertEntry(e); err != nil {
				return relais.E(op, fmt.Sprintf("storing crisis entry %d", e.Seq), err)
			}
			seq, hash = e.Seq, e.Hash
			rep.Stored++
		}
		if seq > 0 {
			_, err := tx.Exec("UPDATE journal_head SET seq = ?, hash = ? WHERE site = ?", seq, hash, chain)
			return err
		}
		return nil
	}); err != nil {
		return rep, err
	}
	// 3. Replay, by batches of savepointed entries.
	done := map[string]bool{}
	if err := db.Read(ctx, func(tx *Tx) error {
		ids, err := queryStrings(tx, "SELECT entry_id FROM replayed_entry WHERE source_site = ?", chain)
		for _, id := range ids {
			done[id] = true
		}
		return err
	}); err != nil {
		return rep, err
	}
	var reserved []string
	bar := progress.New(db.progress, "réintégration", int64(len(entries)), "écritures")
	defer bar.Done()
	for i := 0; i < len(entries); i += replayBatch {
		batch := entries[i:min(i+replayBatch, len(entries))]
		var counts ReintegrationReport
		err := db.Write(ctx, op, func(tx *Tx) error {
			defer tx.cacheStatements()()
			counts = ReintegrationReport{}
			for j := range batch {
				e := &batch[j]
				if done[e.ID] {
					counts.Skipped++
					continue
				}
				if e.Entity == "crisis" {
					var c Crisis
					if json.Unmarshal(e.After, &c) == nil {
						reserved = c.Reserved
					}
				}
				outcome, conflict, err := replayEntry(tx, e)
				if err != nil {
					return err
				}
				switch outcome {
				case "replayed":
					counts.Replayed++
				case "unchanged":
					counts.Unchanged++
				case "queued":
					counts.Queued++
					counts.Conflicts = append(counts.Conflicts, conflict)
				}
			}
			return nil
		})
		if err != nil {
			return rep, err
		}
		for _, e := range batch {
			done[e.ID] = true
		}
		rep.Replayed += counts.Replayed
		rep.Unchanged += counts.Unchanged
		rep.Skipped += counts.Skipped
		rep.Queued += counts.Queued
		rep.Conflicts = append(rep.Conflicts, counts.Conflicts...)
		bar.Add(int64(len(batch)))
	}
	// 4. Reserved numbers the crisis did not use are voided.
	if reserved == nil {
		// An earlier run replayed the declaration: read it back.
		db.Read(ctx, func(tx *Tx) error {
			c, err := scanCrisis(tx.QueryRow("SELECT "+crisisCols+" FROM crisis WHERE site = ?", chain))
			if err == nil {
				reserved = c.Reserved
			}
			return nil
		})
	}
	if len(reserved) > 0 {
		err := db.Write(ctx, op, func(tx *Tx) error {
			rep.Voided = rep.Voided[:0]
			for _, number := range reserved {
				e, err := scanRegisterEntry(tx.QueryRow("SELECT "+registerCols+" FROM register_entry WHERE site = ? AND number = ?", db.Site, number))
				if err == sql.ErrNoRows {
					continue
				}
				if err != nil {
					return relais.E(op, mapErr(err))
				}
				if e.Kind != relais.RegisterReserved {
					continue
				}
				before := e
				if err := e.Void("numéro réservé pour la crise "+chain+" et non utilisé / reserved for crisis "+chain+", unused", tx.Now()); err != nil {
					return err
				}
				if err := updateRegisterEntry(tx, &e); err != nil {
					return relais.E(op, err)
				}
				after, err := registerEntryByID(tx, e.ID)
				if err != nil {
					return err
				}
				if err := tx.Journal("register.void", "register_entry", e.ID, before, after); err != nil {
					return err
				}
				rep.Voided = append(rep.Voided, number)
			}
			return nil
		})
		if err != nil {
			return rep, err
		}
	}
	rep.Took = time.Since(start)
	return rep, nil
}

// replayEntry replays one crisis entry inside tx, in a savepoint: a failure
// to apply rolls back only this entry, which then goes to the queue.
func replayEntry(tx *Tx, e *journal.Entry) (string, Conflict, error) {
	var none Conflict
	cur, err := currentImage(tx, e.Entity, relais.ID(e.EntityID))
	if err != nil {
		return "", none, err
	}
	// The images of a verified chain are canonical already: Seal stored
	// them canonical, and their hash was just checked against them.
	before, after := canonicalOrNull(e.Before), canonicalOrNull(e.After)
	if bytes.Equal(cur, after) {
		return "unchanged", none, markReplayed(tx, e, "unchanged", 0)
	}
	reason := ""
	if bytes.Equal(cur, before) {
		// Apply in a savepoint, journaling in the original actor's name.
		seq, hash, n := tx.head.seq, tx.head.hash, len(tx.entries)
		headOK := tx.head.loaded
		if _, err := tx.Exec("SAVEPOINT replay"); err != nil {
			return "", none, err
		}
		err := func() error {
			if err := ApplyAfter(tx, e.Entity, relais.ID(e.EntityID), e.After); err != nil {
				return err
			}
			// The entity now reads back as the after-image: that is the
			// appliers' contract, checked by their test over every entity,
			// and by relais check (which reintegration's callers run) for
			// this database. Reading it back once more here would double
			// the cost of a reintegration for no new fact.
			return tx.journalReplay(e, cur, after)
		}()
		if err == nil {
			if _, err := tx.Exec("RELEASE SAVEPOINT replay"); err != nil {
				return "", none, err
			}
			return "replayed", none, markReplayed(tx, e, "replayed", tx.head.seq)
		}
		if _, rerr := tx.Exec("ROLLBACK TO SAVEPOINT replay"); rerr != nil {
			return "", none, rerr
		}
		tx.Exec("RELEASE SAVEPOINT replay")
		tx.head.seq, tx.head.hash, tx.entries, tx.head.loaded = seq, hash, tx.entries[:n], headOK
		reason = "it cannot be applied here: " + err.Error()
	} else {
		reason = "the site changed it too"
	}
	c := Conflict{ID: relais.NewID(), Site: tx.db.Site, EntryID: e.ID, SourceSite: e.Site, SourceSeq: e.Seq, Action: e.Action,
		Entity: e.Entity, EntityID: e.EntityID, CrisisBefore: before, CrisisAfter: after, MainCurrent: cur, Status: "open",
		CreatedAt: tx.Now(), Note: reason}
	if err := applyConflict(tx, c.ID, []byte(mustJSON(c))); err != nil {
		return "", none, err
	}
	got, err := conflictByID(tx, c.ID)
	if err != nil {
		return "", none, err
	}
	if err := tx.Journal("reintegrate.queue", "reintegration_conflict", c.ID, nil, got); err != nil {
		return "", none, err
	}
	return "queued", got, markReplayed(tx, e, "queued", tx.head.seq)
}

// currentImage is the entity's canonical JSON here, null when it does not
// exist.
func currentImage(tx *Tx, entity string, id relais.ID) (json.RawMessage, error) {
	v, err := loadEntityJSON(tx, entity, id)
	if relais.ErrorKind(err) == relais.KindNotFound {
		return json.RawMessage("null"), nil
	}
	return v, err
}

func markReplayed(tx *Tx, e *journal.Entry, outcome string, localSeq int64) error {
	_, err := tx.Exec("INSERT INTO replayed_entry (entry_id, source_site, source_seq, outcome, local_seq, at) VALUES (?, ?, ?, ?, ?, ?)",
		e.ID, e.Site, e.Seq, outcome, localSeq, T(tx.Now()))
	return err
}

// Conflicts lists the review queue (open ones only unless all).
func (db *DB) Conflicts(ctx context.Context, all bool) ([]Conflict, error) {
	out := []Conflict{}
	err := db.Read(ctx, func(tx *Tx) error {
		q := "SELECT " + conflictCols + " FROM reintegration_conflict"
		if !all {
			q += " WHERE status = 'open'"
		}
		rows, err := tx.Query(q + " ORDER BY source_site, source_seq")
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			c, err := scanConflict(rows)
			if err != nil {
				return err
			}
			out = append(out, c)
		}
		return rows.Err()
	})
	return out, err
}

// ResolveConflict is a pharmacist's decision on a queued entry: keep the
// site's version ("keep_main") or take the crisis node's ("take_crisis",
// refused if the entity changed again since it was queued).
func (db *DB) ResolveConflict(ctx context.Context, id relais.ID, choice, note string) (Conflict, error) {
	const op = "reintegration.resolve"
	note = strings.TrimSpace(note)
	if choice != "keep_main" && choice != "take_crisis" {
		return Conflict{}, relais.Invalid(op, "choice", "choose keep_main (the site's version stays) or take_crisis (the crisis node's version is applied)")
	}
	if note == "" {
		return Conflict{}, relais.Invalid(op, "note", "say why (it is kept with the decision)")
	}
	var out Conflict
	err := db.Write(ctx, op, func(tx *Tx) error {
		if err := requirePerm(op, tx.Actor(), relais.PermValidate); err != nil {
			return err
		}
		c, err := conflictByID(tx, id)
		if err != nil {
			return err
		}
		if c.Status != "open" {
			return relais.E(op, relais.KindConflict, fmt.Sprintf("this conflict was already resolved (%s by %s)", c.Status, c.ResolvedBy))
		}
		before := c
		if choice == "take_crisis" {
			cur, err := currentImage(tx, c.Entity, relais.ID(c.EntityID))
			if err != nil {
				return err
			}
			if !bytes.Equal(cur, c.MainCurrent) {
				return relais.E(op, relais.KindConflict, "the site's version changed since this conflict was queued: look at it again")
			}
			if err := ApplyAfter(tx, c.Entity, relais.ID(c.EntityID), c.CrisisAfter); err != nil {
				return relais.E(op, "the crisis node's version cannot be applied", err)
			}
			got, err := currentImage(tx, c.Entity, relais.ID(c.EntityID))
			if err != nil {
				return err
			}
			if err := tx.Journal("reintegrate.resolve:"+c.Action, c.Entity, relais.ID(c.EntityID), json.RawMessage(cur), json.RawMessage(got)); err != nil {
				return err
			}
			c.Status = "took_crisis"
		} else {
			c.Status = "kept_main"
		}
		c.ResolvedAt, c.ResolvedBy, c.Note = tx.Now(), tx.Actor().DisplayName(), c.Note+" — "+note
		if err := applyConflict(tx, c.ID, []byte(mustJSON(c))); err != nil {
			return err
		}
		if out, err = conflictByID(tx, id); err != nil {
			return err
		}
		return tx.Journal(op, "reintegration_conflict", id, before, out)
	})
	return out, err
}

func canonicalOrNull(b json.RawMessage) json.RawMessage {
	if b = bytes.TrimSpace(b); len(b) == 0 {
		return json.RawMessage("null")
	}
	return b
}

// journalReplay appends the site's entry for a replayed crisis entry, in
// the name of whoever did it in crisis. It is Tx.Journal for images that
// are canonical already (the current image, just encoded canonically, and
// the crisis entry's after-image): encoding them again three times, as the
// general path does, is most of a large reintegration's time.
func (tx *Tx) journalReplay(e *journal.Entry, before, after json.RawMessage) error {
	if !tx.head.loaded {
		if err := tx.lockHead(); err != nil {
			return err
		}
	}
	n := journal.Entry{
		ID: string(relais.NewID()), Time: tx.now.UTC().Truncate(time.Microsecond), Site: tx.db.ChainSite(),
		UserID: e.UserID, Username: e.Username, Role: e.Role,
		Action: "reintegrate:" + e.Action, Entity: e.Entity, EntityID: e.EntityID, Before: before, After: after,
		Seq: tx.head.seq + 1, Prev: tx.head.hash,
	}
	var err error
	if n.Hash, err = n.ComputeHash(); err != nil {
		return err
	}
	if err := tx.insertEntry(&n); err != nil {
		return err
	}
	tx.head.seq, tx.head.hash = n.Seq, n.Hash
	tx.entries = append(tx.entries, n)
	return nil
}
