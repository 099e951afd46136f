package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/outbox"
)

// The outbox (table outbox_message) and its journal cursor. Queued
// messages are not journaled: the signature or administration they come
// from is, and the queue is the interface's own record.

var _ outbox.Store = (*DB)(nil)

const outboxColumns = `id, created_at, destination, transport, kind, dedupe_key, subject_id, patient_id, status, attempts,
	next_attempt_at, last_error, last_attempt_at, sent_at, reply`

func scanOutbox(sc interface{ Scan(...any) error }, extra ...any) (outbox.Message, error) {
	var m outbox.Message
	err := sc.Scan(append([]any{&m.ID, ScanTime(&m.CreatedAt), &m.Destination, &m.Transport, &m.Kind, &m.DedupeKey, &m.SubjectID,
		&m.PatientID, &m.Status, &m.Attempts, ScanTime(&m.NextAttemptAt), &m.LastError, ScanTime(&m.LastAttemptAt),
		ScanTime(&m.SentAt), &m.Reply}, extra...)...)
	return m, err
}

func outboxActor(ctx context.Context, site string) context.Context {
	if _, ok := relais.ActorFrom(ctx); ok {
		return ctx
	}
	return relais.WithActor(ctx, relais.SystemActor(site))
}

// Enqueue adds a message unless the same document is queued for the same
// destination.
func (db *DB) Enqueue(ctx context.Context, m outbox.Message) (bool, error) {
	const op = "outbox.enqueue"
	added := false
	err := db.Write(outboxActor(ctx, db.Site), op, func(tx *Tx) error {
		var id relais.ID
		err := tx.QueryRow("SELECT id FROM outbox_message WHERE destination = ? AND dedupe_key = ?", m.Destination, m.DedupeKey).Scan(&id)
		if err == nil {
			return nil
		}
		if relais.ErrorKind(mapErr(err)) != relais.KindNotFound {
			return relais.E(op, mapErr(err))
		}
		if _, err := tx.Exec(`INSERT INTO outbox_message (id, created_at, site, destination, transport, kind, dedupe_key, subject_id,
			patient_id, payload, status, attempts, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)`,
			m.ID, T(m.CreatedAt), tx.Site(), m.Destination, m.Transport, m.Kind, m.DedupeKey, string(m.SubjectID), string(m.PatientID),
			m.Payload, outbox.StatusPending, T(m.NextAttemptAt)); err != nil {
			return relais.E(op, err)
		}
		added = true
		return nil
	})
	return added, err
}

// DueMessages returns the messages to try now, oldest first.
func (db *DB) DueMessages(ctx context.Context, now time.Time, limit int) ([]outbox.Message, error) {
	var out []outbox.Message
	err := db.Read(ctx, func(tx *Tx) error {
		rows, err := tx.Query("SELECT "+outboxColumns+`, payload FROM outbox_message
			WHERE status IN ('pending', 'stuck') AND next_attempt_at <= ? ORDER BY next_attempt_at, created_at, id LIMIT ?`, T(now), limit)
		if err != nil {
			return relais.E("outbox.due", err)
		}
		defer rows.Close()
		for rows.Next() {
			var payload []byte
			m, err := scanOutbox(rows, &payload)
			if err != nil {
				return relais.E("outbox.due", err)
			}
			m.Payload, m.Size = payload, len(payload)
			out = append(out, m)
		}
		return rows.Err()
	})
	return out, err
}

// MarkSent records a message delivered.
func (db *DB) MarkSent(ctx context.Context, id relais.ID, reply string, at time.Time) error {
	return db.Write(outboxActor(ctx, db.Site), "outbox.sent", func(tx *Tx) error {
		_, err := tx.Exec(`UPDATE outbox_message SET status = ?, attempts = attempts + 1, last_attempt_at = ?, sent_at = ?, reply = ?,
			last_error = '' WHERE id = ?`, outbox.StatusSent, T(at), T(at), truncateText(reply, 4000), id)
		return err
	})
}

// MarkFailed records a failed attempt.
func (db *DB) MarkFailed(ctx context.Context, id relais.ID, why string, at, next time.Time, stuck bool) error {
	status := outbox.StatusPending
	if stuck {
		status = outbox.StatusStuck
	}
	return db.Write(outboxActor(ctx, db.Site), "outbox.failed", func(tx *Tx) error {
		_, err := tx.Exec(`UPDATE outbox_message SET status = ?, attempts = attempts + 1, last_attempt_at = ?, next_attempt_at = ?,
			last_error = ? WHERE id = ? AND status <> 'sent'`, status, T(at), T(next), truncateText(why, 4000), id)
		return err
	})
}

func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// OutboxMessages lists the queue, the most recent first.
func (db *DB) OutboxMessages(ctx context.Context, f outbox.Filter) ([]outbox.Message, error) {
	const op = "outbox.list"
	q := "SELECT " + outboxColumns + ", LENGTH(payload) FROM outbox_message"
	var args []any
	switch f.Status {
	case "":
	case outbox.StatusPending, outbox.StatusSent, outbox.StatusStuck:
		q += " WHERE status = ?"
		args = append(args, f.Status)
	default:
		return nil, relais.Invalid(op, "status", "status is pending, sent or stuck, not %q", f.Status)
	}
	limit := f.Limit
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	q += " ORDER BY created_at DESC, id DESC LIMIT ?"
	args = append(args, limit)
	out := []outbox.Message{}
	err := db.Read(ctx, func(tx *Tx) error {
		rows, err := tx.Query(q, args...)
		if err != nil {
			return relais.E(op, err)
		}
		defer rows.Close()
		for rows.Next() {
			var size int
			m, err := scanOutbox(rows, &size)
			if err != nil {
				return relais.E(op, err)
			}
			m.Size = size
			out = append(out, m)
		}
		return rows.Err()
	})
	return out, err
}

// RetryNow makes a message due now.
func (db *DB) RetryNow(ctx context.Context, id relais.ID) (outbox.Message, error) {
	const op = "outbox.retry"
	var m outbox.Message
	err := db.Write(outboxActor(ctx, db.Site), op, func(tx *Tx) error {
		var err error
		var size int
		m, err = scanOutbox(tx.QueryRow("SELECT "+outboxColumns+", LENGTH(payload) FROM outbox_message WHERE id = ?", id), &size)
		if err != nil {
			if relais.ErrorKind(mapErr(err)) == relais.KindNotFound {
				return relais.E(op, relais.KindNotFound, fmt.Sprintf("no message %s in the outbox", id))
			}
			return relais.E(op, mapErr(err))
		}
		m.Size = size
		if m.Status == outbox.StatusSent {
			return relais.E(op, relais.KindConflict, "this message was sent on "+m.SentAt.In(relais.DisplayZone).Format("02/01/2006 15:04")+": it is not sent twice")
		}
		if _, err := tx.Exec("UPDATE outbox_message SET status = ?, next_attempt_at = ? WHERE id = ?", outbox.StatusPending, T(tx.Now()), id); err != nil {
			return relais.E(op, err)
		}
		m.Status, m.NextAttemptAt = outbox.StatusPending, tx.Now()
		return nil
	})
	return m, err
}

// JournalCursor is how far the outbox has read the local journal.
func (db *DB) JournalCursor(ctx context.Context) (int64, error) {
	var seq int64
	err := db.Read(ctx, func(tx *Tx) error {
		err := tx.QueryRow("SELECT seq FROM outbox_cursor WHERE site = ?", db.Site).Scan(&seq)
		if relais.ErrorKind(mapErr(err)) == relais.KindNotFound {
			seq = 0
			return nil
		}
		return mapErr(err)
	})
	return seq, err
}

// SetJournalCursor records how far the journal was read.
func (db *DB) SetJournalCursor(ctx context.Context, seq int64) error {
	return db.Write(outboxActor(ctx, db.Site), "outbox.cursor", func(tx *Tx) error {
		res, err := tx.Exec("UPDATE outbox_cursor SET seq = ? WHERE site = ?", seq, tx.Site())
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			_, err = tx.Exec("INSERT INTO outbox_cursor (site, seq) VALUES (?, ?)", tx.Site(), seq)
		}
		return err
	})
}
