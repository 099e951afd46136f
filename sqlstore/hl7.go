package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/hl7"
	"github.com/relais-onco/relais/hl7/adt"
)

// The inbound HL7 log (table hl7_message). A message is stored and applied
// in one transaction: the row and the patient changes commit together, and
// only then is the message acknowledged. A batch of messages from several
// connections shares one transaction (group commit); each message's changes
// sit behind a savepoint, so that one message in error is stored as such
// without its changes while the others are applied.

var _ adt.Store = (*DB)(nil)

// hl7Actor is who the journal says made the changes a message brings: the
// sending application, as a system actor.
func hl7Actor(site string, h hl7.Header) relais.Actor {
	who := strings.TrimSpace(h.SendingApp + "/" + h.SendingFacility)
	return relais.Actor{Username: "hl7:" + who, Name: "HL7 " + who, Role: relais.RoleSystem, Site: site}
}

// ReceiveHL7 stores and applies a batch of messages (see adt.Store).
func (db *DB) ReceiveHL7(ctx context.Context, batch []*adt.Inbound, apply adt.ApplyFunc) ([]adt.Outcome, error) {
	if len(batch) == 0 {
		return nil, nil
	}
	ctx = relais.WithActor(ctx, hl7Actor(db.Site, batch[0].Header))
	if err := db.prepare(hl7Queries(db.Engine)...); err != nil {
		return nil, relais.E("hl7.receive", relais.KindUnavailable, err)
	}
	var outs []adt.Outcome
	err := db.Write(ctx, "hl7.receive", func(tx *Tx) error {
		outs = outs[:0]
		for _, in := range batch {
			tx.actor = hl7Actor(tx.Site(), in.Header)
			out, err := receiveOne(tx, in, apply)
			if err != nil {
				return err
			}
			outs = append(outs, out)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return outs, nil
}

func receiveOne(tx *Tx, in *adt.Inbound, apply adt.ApplyFunc) (adt.Outcome, error) {
	out := adt.Outcome{ReceivedAt: in.ReceivedAt}
	if in.Reject != nil {
		out.Status, out.Code, out.Errors = adt.StatusRejected, hl7.AR, []*hl7.Error{in.Reject}
		return insertHL7(tx, in, out)
	}
	dup, found, err := findHL7(tx, in.Header)
	if err != nil {
		return out, err
	}
	if found {
		if _, err := tx.Exec(qDuplicateHL7, dup.ID); err != nil {
			return out, relais.E("hl7.receive", err)
		}
		return adt.Outcome{LogID: dup.ID, Status: dup.Status, Code: dup.AckCode, Errors: dup.Errors, Note: dup.Note,
			PatientID: dup.PatientID, Duplicate: true, ReceivedAt: dup.ReceivedAt}, nil
	}
	out, err = applyUnderSavepoint(tx, in, apply)
	if err != nil {
		return out, err
	}
	return insertHL7(tx, in, out)
}

// applyUnderSavepoint applies a message; a fault of the message rolls its
// changes back and is returned in the outcome, a storage fault as an error.
func applyUnderSavepoint(tx *Tx, in *adt.Inbound, apply adt.ApplyFunc) (adt.Outcome, error) {
	out := adt.Outcome{ReceivedAt: in.ReceivedAt}
	sp, err := tx.savepoint()
	if err != nil {
		return out, err
	}
	res, err := apply(newTxRegister(tx), in)
	var he *hl7.Error
	switch {
	case err == nil:
		if err := sp.release(); err != nil {
			return out, err
		}
		out.Status, out.Code, out.Note, out.PatientID = adt.StatusApplied, hl7.AA, res.Note, res.PatientID
	case errors.As(err, &he):
		if err := sp.rollback(); err != nil {
			return out, err
		}
		out.Status, out.Code, out.Errors = adt.StatusError, hl7.AE, []*hl7.Error{he}
		if he.Reject {
			out.Status, out.Code = adt.StatusRejected, hl7.AR
		}
	default:
		sp.rollback()
		return out, err
	}
	return out, nil
}

// savepoint isolates one message's changes inside a batch. Rolling back
// also rewinds the transaction's view of the journal chain, so the entries
// of a message in error leave no gap.
type savepoint struct {
	tx       *Tx
	seq      int64
	hash     string
	headOK   bool
	nEntries int
}

// savepointExec runs a savepoint statement (prepared once on SQLite, like
// every statement: see stmtCache).
func (tx *Tx) savepointExec(q string) error {
	_, err := tx.Exec(q)
	return err
}

func (tx *Tx) savepoint() (*savepoint, error) {
	if err := tx.savepointExec("SAVEPOINT hl7_apply"); err != nil {
		return nil, relais.E("hl7.savepoint", err)
	}
	return &savepoint{tx: tx, seq: tx.head.seq, hash: tx.head.hash, headOK: tx.head.loaded, nEntries: len(tx.entries)}, nil
}

func (sp *savepoint) rollback() error {
	tx := sp.tx
	if err := tx.savepointExec("ROLLBACK TO SAVEPOINT hl7_apply"); err != nil {
		return relais.E("hl7.savepoint", err)
	}
	tx.head.seq, tx.head.hash, tx.head.loaded = sp.seq, sp.hash, sp.headOK
	tx.entries = tx.entries[:sp.nEntries]
	return sp.release()
}

func (sp *savepoint) release() error {
	if err := sp.tx.savepointExec("RELEASE SAVEPOINT hl7_apply"); err != nil {
		return relais.E("hl7.savepoint", err)
	}
	return nil
}

func hl7Search(in *adt.Inbound, out adt.Outcome) string {
	parts := []string{in.Summary, in.Header.ControlID, in.Header.SendingApp, in.Header.SendingFacility,
		in.Header.Event(), string(out.PatientID), out.Note, in.Peer}
	for _, e := range out.Errors {
		parts = append(parts, e.Message)
	}
	s := strings.Join(parts, " ")
	return strings.ToLower(s) + " " + relais.NormalizeName(s)
}

func insertHL7(tx *Tx, in *adt.Inbound, out adt.Outcome) (adt.Outcome, error) {
	out.LogID = relais.NewID()
	errs, err := json.Marshal(nonNilErrors(out.Errors))
	if err != nil {
		return out, err
	}
	h := in.Header
	_, err = tx.Exec(qInsertHL7,
		out.LogID, T(in.ReceivedAt), in.Peer, h.SendingApp, h.SendingFacility, h.ControlID, h.Event(), h.Charset, in.Raw,
		out.Status, out.Code, string(errs), out.Note, string(out.PatientID), in.Summary, hl7Search(in, out))
	if err != nil {
		return out, relais.E("hl7.receive", err)
	}
	return out, nil
}

func nonNilErrors(e []*hl7.Error) []*hl7.Error {
	if e == nil {
		return []*hl7.Error{}
	}
	return e
}

const hl7Columns = `id, received_at, peer, sending_app, sending_facility, control_id, event, charset, status, ack_code, errors,
	note, patient_id, summary, duplicates, replays, last_replay_at, last_replay_by`

// The statements every received message runs, prepared once (hl7_stmt.go).
const (
	qInsertHL7 = `INSERT INTO hl7_message (id, received_at, peer, sending_app, sending_facility, control_id, event, charset, raw,
		status, ack_code, errors, note, patient_id, summary, search) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qFindHL7 = "SELECT " + hl7Columns + ` FROM hl7_message
		WHERE sending_app = ? AND sending_facility = ? AND control_id = ? AND status <> 'rejected'`
	qDuplicateHL7 = "UPDATE hl7_message SET duplicates = duplicates + 1 WHERE id = ?"
)

func hl7Queries(engine Engine) []string {
	qs := []string{qInsertHL7, qFindHL7, qDuplicateHL7, qPatientByIPP, qInsertPatient, qUpdatePatient, qDeleteTokens, qPatientRow}
	for n := 1; n <= maxPreparedTokens; n++ {
		qs = append(qs, tokenInsertQuery(n))
	}
	if engine == SQLite {
		qs = append(qs, "SAVEPOINT hl7_apply", "ROLLBACK TO SAVEPOINT hl7_apply", "RELEASE SAVEPOINT hl7_apply")
	}
	return qs
}

func scanHL7(sc interface{ Scan(...any) error }, extra ...any) (adt.LogEntry, error) {
	var e adt.LogEntry
	var errs string
	args := append([]any{&e.ID, ScanTime(&e.ReceivedAt), &e.Peer, &e.SendingApp, &e.SendingFacility, &e.ControlID, &e.Event,
		&e.Charset, &e.Status, &e.AckCode, &errs, &e.Note, &e.PatientID, &e.Summary, &e.Duplicates, &e.Replays,
		ScanTime(&e.LastReplayAt), &e.LastReplayBy}, extra...)
	if err := sc.Scan(args...); err != nil {
		return e, err
	}
	if err := json.Unmarshal([]byte(errs), &e.Errors); err != nil {
		return e, relais.E("hl7.log", relais.KindIntegrity, "the errors of message "+string(e.ID)+" are not readable", err)
	}
	return e, nil
}

// findHL7 finds a stored, not rejected message from the same sender with
// the same control id.
func findHL7(tx *Tx, h hl7.Header) (adt.LogEntry, bool, error) {
	e, err := scanHL7(tx.QueryRow(qFindHL7,
		h.SendingApp, h.SendingFacility, h.ControlID))
	if err != nil {
		if relais.ErrorKind(mapErr(err)) == relais.KindNotFound {
			return e, false, nil
		}
		return e, false, relais.E("hl7.receive", mapErr(err))
	}
	return e, true, nil
}

// likeArg escapes a LIKE pattern's wildcards (with ESCAPE '\').
func likeArg(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(s) + "%"
}

// HL7Messages lists the inbound log, newest first.
func (db *DB) HL7Messages(ctx context.Context, f adt.LogFilter) ([]adt.LogEntry, error) {
	const op = "hl7.log"
	q := "SELECT " + hl7Columns + " FROM hl7_message WHERE 1 = 1"
	var args []any
	switch f.Status {
	case "":
	case adt.StatusApplied, adt.StatusError, adt.StatusRejected:
		q += " AND status = ?"
		args = append(args, f.Status)
	default:
		return nil, relais.Invalid(op, "status", "status is applied, error or rejected, not %q", f.Status)
	}
	if s := strings.TrimSpace(f.Query); s != "" {
		if len(s) > 200 {
			return nil, relais.Invalid(op, "q", "the search is longer than 200 characters")
		}
		q += ` AND (search LIKE ? ESCAPE '\' OR search LIKE ? ESCAPE '\')`
		args = append(args, likeArg(strings.ToLower(s)), likeArg(relais.NormalizeName(s)))
	}
	if !f.Before.IsZero() {
		q += " AND received_at < ?"
		args = append(args, T(f.Before))
	}
	limit := f.Limit
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	q += " ORDER BY received_at DESC, id DESC LIMIT ?"
	args = append(args, limit)
	out := []adt.LogEntry{}
	err := db.Read(ctx, func(tx *Tx) error {
		rows, err := tx.Query(q, args...)
		if err != nil {
			return relais.E(op, err)
		}
		defer rows.Close()
		for rows.Next() {
			e, err := scanHL7(rows)
			if err != nil {
				return relais.E(op, err)
			}
			out = append(out, e)
		}
		return rows.Err()
	})
	return out, err
}

// HL7Message returns one message of the log with its text.
func (db *DB) HL7Message(ctx context.Context, id relais.ID) (adt.LogEntry, error) {
	var e adt.LogEntry
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		e, err = hl7ByID(tx, id)
		return err
	})
	return e, err
}

func hl7ByID(tx *Tx, id relais.ID) (adt.LogEntry, error) {
	var raw []byte
	e, err := scanHL7(tx.QueryRow("SELECT "+hl7Columns+", raw FROM hl7_message WHERE id = ?", id), &raw)
	if err != nil {
		if relais.ErrorKind(mapErr(err)) == relais.KindNotFound {
			return e, relais.E("hl7.log", relais.KindNotFound, fmt.Sprintf("no HL7 message %s in the log", id))
		}
		return e, relais.E("hl7.log", mapErr(err))
	}
	e.Raw = raw
	e.Text = messageText(raw, e.Charset)
	return e, nil
}

// messageText shows a stored message for people: decoded from its
// character set (8859/1 when it is not UTF-8), one segment a line.
func messageText(raw []byte, charset string) string {
	var s string
	if m, err := hl7.Parse(raw); err == nil {
		s = m.String()
	} else if utf8.Valid(raw) {
		s = string(raw)
	} else {
		r := make([]rune, len(raw))
		for i, c := range raw {
			r[i] = rune(c)
		}
		s = string(r)
	}
	return strings.TrimRight(strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n"), "\n")
}

// ReplayHL7 applies a stored message again (see adt.Store).
func (db *DB) ReplayHL7(ctx context.Context, id relais.ID, prepare func(raw []byte, peer string) *adt.Inbound, apply adt.ApplyFunc) (adt.LogEntry, error) {
	const op = "hl7.replay"
	var e adt.LogEntry
	err := db.Write(ctx, op, func(tx *Tx) error {
		before, err := hl7ByID(tx, id)
		if err != nil {
			return err
		}
		if before.Status == adt.StatusApplied {
			return relais.E(op, relais.KindConflict, fmt.Sprintf("message %s was applied on %s: replaying it would apply it twice",
				before.ControlID, before.ReceivedAt.In(relais.DisplayZone).Format("02/01/2006 15:04")))
		}
		in := prepare(before.Raw, before.Peer)
		in.ReceivedAt = before.ReceivedAt
		if in.Reject == nil {
			if other, found, err := findHL7(tx, in.Header); err != nil {
				return err
			} else if found && other.ID != id {
				return relais.E(op, relais.KindConflict, fmt.Sprintf(
					"message %s (%s) from %s/%s, received %s, has the same control id and was kept: replaying this one would apply the same message twice",
					other.ID, other.Status, other.SendingApp, other.SendingFacility, other.ReceivedAt.In(relais.DisplayZone).Format("02/01/2006 15:04")))
			}
		}
		out := adt.Outcome{Status: adt.StatusRejected, Code: hl7.AR}
		if in.Reject != nil {
			out.Errors = []*hl7.Error{in.Reject}
		} else if out, err = applyUnderSavepoint(tx, in, apply); err != nil {
			return err
		}
		errs, _ := json.Marshal(nonNilErrors(out.Errors))
		by := tx.Actor().Username
		h := in.Header
		if _, err := tx.Exec(`UPDATE hl7_message SET sending_app = ?, sending_facility = ?, control_id = ?, event = ?, charset = ?,
			status = ?, ack_code = ?, errors = ?, note = ?, patient_id = ?, summary = ?, search = ?, replays = replays + 1,
			last_replay_at = ?, last_replay_by = ? WHERE id = ?`,
			h.SendingApp, h.SendingFacility, h.ControlID, h.Event(), h.Charset, out.Status, out.Code, string(errs), out.Note,
			string(out.PatientID), in.Summary, hl7Search(in, out), T(tx.Now()), by, id); err != nil {
			return relais.E(op, err)
		}
		e, err = hl7ByID(tx, id)
		return err
	})
	return e, err
}
