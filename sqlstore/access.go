package sqlstore

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/relais-onco/relais"
)

// The access log: every read of a patient's data, appended and never
// changed (triggers refuse UPDATE and DELETE on both engines). It is its own
// record, not the journal: reads change nothing, they are far more frequent
// than writes, and they concern the site where they happen — so they are
// neither hash-chained with the circuit's entries nor replicated.
//
// Break-the-glass accesses are changes of state (a person opened a record
// outside their scope, another reviewed it): they are journaled on the
// "access_grant" entity.

var _ relais.AccessLog = (*DB)(nil)

// RecordAccess appends entries to the access log, all or none.
func (db *DB) RecordAccess(ctx context.Context, entries ...relais.AccessEntry) error {
	const op = "access.record"
	if len(entries) == 0 {
		return nil
	}
	q := db.rebind(`INSERT INTO access_log (id, at, site, user_id, username, role, user_site, patient_id, purpose, route, remote_addr, break_glass, grant_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	entries = append([]relais.AccessEntry(nil), entries...) // the caller's stay as given
	for i := range entries {
		e := &entries[i]
		if e.ID == "" {
			e.ID = relais.NewID()
		}
		if e.At.IsZero() {
			e.At = relais.Now()
		}
		if e.Site == "" {
			e.Site = db.Site
		}
		if e.PatientID == "" || e.UserID == "" {
			return relais.E(op, relais.KindInvalid, "an access entry needs a patient and a reader")
		}
	}
	// Grouped with other writes on SQLite: a read costs no fsync of its own.
	err := db.writeRaw(ctx, func(tx *sql.Tx) error {
		for _, e := range entries {
			if _, err := tx.ExecContext(ctx, q, e.ID, T(e.At), e.Site, e.UserID, e.Username, e.Role, e.UserSite, e.PatientID,
				e.Purpose, truncate(e.Route, 200), truncate(e.RemoteAddr, 100), e.BreakGlass, e.GrantID); err != nil {
				return mapErr(err)
			}
		}
		return nil
	})
	if err != nil {
		return relais.E(op, err)
	}
	return nil
}

// PatientAccessLog returns a patient's reads, newest first.
func (db *DB) PatientAccessLog(ctx context.Context, patientID relais.ID, before time.Time, limit int) ([]relais.AccessEntry, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	if before.IsZero() {
		before = relais.Now().Add(time.Second)
	}
	rows, err := db.r.QueryContext(ctx, db.rebind(`SELECT id, at, site, user_id, username, role, user_site, patient_id, purpose, route,
		remote_addr, break_glass, grant_id FROM access_log WHERE patient_id = ? AND at < ? ORDER BY at DESC, id DESC LIMIT ?`),
		patientID, T(before), limit)
	if err != nil {
		return nil, relais.E("access.list", mapErr(err))
	}
	defer rows.Close()
	out := []relais.AccessEntry{}
	for rows.Next() {
		var e relais.AccessEntry
		if err := rows.Scan(&e.ID, ScanTime(&e.At), &e.Site, &e.UserID, &e.Username, &e.Role, &e.UserSite, &e.PatientID,
			&e.Purpose, &e.Route, &e.RemoteAddr, &e.BreakGlass, &e.GrantID); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// BreakGlass opens a break-the-glass access to a patient for the actor, for
// relais.BreakGlassFor.
func (db *DB) BreakGlass(ctx context.Context, patientID relais.ID, reason string) (relais.AccessGrant, error) {
	const op = "access.break_glass"
	reason = strings.TrimSpace(reason)
	if _, err := relais.ParseID("patient_id", string(patientID)); err != nil {
		return relais.AccessGrant{}, err
	}
	if len([]rune(reason)) < 10 {
		return relais.AccessGrant{}, relais.Invalid(op, "reason",
			"say why you must read this record (at least 10 characters), e.g. \"admitted to our emergency ward tonight\": the pharmacy administrator will review it")
	}
	if len([]rune(reason)) > 1000 {
		return relais.AccessGrant{}, relais.Invalid(op, "reason", "a reason has at most 1000 characters")
	}
	var g relais.AccessGrant
	err := db.Write(ctx, op, func(tx *Tx) error {
		a := tx.Actor()
		id := relais.NewID()
		if _, err := tx.Exec(`INSERT INTO access_grant (id, site, user_id, username, user_site, patient_id, reason, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, id, tx.Site(), a.UserID, a.Username, a.Site, patientID, reason,
			T(tx.Now()), T(tx.Now().Add(relais.BreakGlassFor))); err != nil {
			return err
		}
		var err error
		if g, err = grantByID(tx, id); err != nil {
			return err
		}
		return tx.Journal(op, "access_grant", id, nil, g)
	})
	return g, err
}

// ActiveGrant returns the user's live break-the-glass access to a patient.
func (db *DB) ActiveGrant(ctx context.Context, userID, patientID relais.ID, t time.Time) (relais.AccessGrant, bool, error) {
	var id relais.ID
	err := db.r.QueryRowContext(ctx, db.rebind(`SELECT id FROM access_grant WHERE user_id = ? AND patient_id = ? AND expires_at > ?
		ORDER BY expires_at DESC LIMIT 1`), userID, patientID, T(t)).Scan(&id)
	if err != nil {
		if relais.ErrorKind(mapErr(err)) == relais.KindNotFound {
			return relais.AccessGrant{}, false, nil
		}
		return relais.AccessGrant{}, false, relais.E("access.grant", mapErr(err))
	}
	var g relais.AccessGrant
	err = db.Read(ctx, func(tx *Tx) error {
		var err error
		g, err = grantByID(tx, id)
		return err
	})
	return g, err == nil, err
}

// AccessGrants lists break-the-glass accesses, newest first.
func (db *DB) AccessGrants(ctx context.Context, pending bool) ([]relais.AccessGrant, error) {
	q := "SELECT id FROM access_grant ORDER BY created_at DESC, id DESC LIMIT 1000"
	if pending {
		q = "SELECT id FROM access_grant WHERE reviewed_at IS NULL ORDER BY created_at DESC, id DESC LIMIT 1000"
	}
	out := []relais.AccessGrant{}
	err := db.Read(ctx, func(tx *Tx) error {
		ids, err := queryStrings(tx, q)
		if err != nil {
			return err
		}
		for _, id := range ids {
			g, err := grantByID(tx, relais.ID(id))
			if err != nil {
				return err
			}
			out = append(out, g)
		}
		return nil
	})
	return out, err
}

// ReviewGrant closes the review of a break-the-glass access. Nobody reviews
// their own.
func (db *DB) ReviewGrant(ctx context.Context, id relais.ID, note string) (relais.AccessGrant, error) {
	const op = "access.review"
	note = strings.TrimSpace(note)
	if note == "" || len([]rune(note)) > 2000 {
		return relais.AccessGrant{}, relais.Invalid(op, "note", "say what the review found (at most 2000 characters), e.g. \"justified: emergency admission\"")
	}
	var g relais.AccessGrant
	err := db.Write(ctx, op, func(tx *Tx) error {
		before, err := grantByID(tx, id)
		if err != nil {
			return err
		}
		if before.UserID == tx.Actor().UserID {
			return relais.E(op, relais.KindForbidden, "you cannot review your own break-the-glass access: another administrator must")
		}
		if !before.ReviewedAt.IsZero() {
			return relais.E(op, relais.KindConflict, "this access was already reviewed by "+before.ReviewedBy)
		}
		if _, err := tx.Exec("UPDATE access_grant SET reviewed_at = ?, reviewed_by = ?, review_note = ? WHERE id = ?",
			T(tx.Now()), tx.Actor().Username, note, id); err != nil {
			return err
		}
		if g, err = grantByID(tx, id); err != nil {
			return err
		}
		return tx.Journal(op, "access_grant", id, before, g)
	})
	return g, err
}

func grantByID(tx *Tx, id relais.ID) (relais.AccessGrant, error) {
	var g relais.AccessGrant
	err := tx.QueryRow(`SELECT id, user_id, username, user_site, patient_id, reason, created_at, expires_at, reviewed_at, reviewed_by, review_note
		FROM access_grant WHERE id = ?`, id).
		Scan(&g.ID, &g.UserID, &g.Username, &g.UserSite, &g.PatientID, &g.Reason, ScanTime(&g.CreatedAt), ScanTime(&g.ExpiresAt),
			ScanTime(&g.ReviewedAt), &g.ReviewedBy, &g.ReviewNote)
	if err != nil {
		return g, getErr("access.grant", "break-the-glass access", err)
	}
	return g, nil
}

func init() {
	registerEntity("access_grant", "access_grant", func(tx *Tx, id relais.ID) (any, error) { return grantByID(tx, id) })
}
