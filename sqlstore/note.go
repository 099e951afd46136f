package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/relais-onco/relais"
)

// Notes between professionals. A note is written once and never updated nor
// deleted; a correction is a new note whose corrects column points at the
// note it replaces, and a note is corrected at most once (the next correction
// corrects the correction), so the versions of a note form a chain.

func init() {
	registerEntity("note", "note", func(tx *Tx, id relais.ID) (any, error) { return noteByID(tx, id) })
}

const noteColumns = `id, site, target_kind, target_id, patient_id, text, author_id, author_name, author_role, written_at,
	COALESCE(corrects, ''), shareable`

func scanNote(sc interface{ Scan(...any) error }) (relais.Note, error) {
	var n relais.Note
	err := sc.Scan(&n.ID, &n.Site, &n.TargetKind, &n.TargetID, &n.PatientID, &n.Text,
		&n.Author.UserID, &n.Author.Name, &n.Author.Role, ScanTime(&n.At), &n.Corrects, &n.Shareable)
	return n, err
}

func noteByID(tx *Tx, id relais.ID) (relais.Note, error) {
	n, err := scanNote(tx.QueryRow("SELECT "+noteColumns+" FROM note WHERE id = ?", id))
	if err != nil {
		if relais.ErrorKind(mapErr(err)) == relais.KindNotFound {
			return n, relais.E("note.get", relais.KindNotFound, fmt.Sprintf("no note %s", id))
		}
		return n, relais.E("note.get", mapErr(err))
	}
	return n, nil
}

// AddNote writes a note, or a correction of one when in.Corrects is set.
// Only a note's author corrects it; anyone else answers with a new note.
func (db *DB) AddNote(ctx context.Context, in relais.NoteInput) (relais.Note, error) {
	op := "note.write"
	if in.Corrects != "" {
		op = "note.correct"
	}
	if err := in.Normalize(op); err != nil {
		return relais.Note{}, err
	}
	var n relais.Note
	err := db.Write(ctx, op, func(tx *Tx) error {
		if _, err := writablePatient(tx, op, in.PatientID, false); err != nil {
			if relais.ErrorKind(err) == relais.KindNotFound {
				return relais.Invalid(op, "patient_id", "no patient %s", in.PatientID)
			}
			return err
		}
		family, err := patientFamily(tx, in.PatientID)
		if err != nil {
			return err
		}
		if err := checkNoteTarget(tx, op, in, family); err != nil {
			return err
		}
		if in.Corrects != "" {
			if err := checkCorrection(tx, op, in, family); err != nil {
				return err
			}
		}
		id := relais.NewID()
		by := relais.AuthorOf(tx.Actor())
		if _, err := tx.Exec(`INSERT INTO note (id, site, target_kind, target_id, patient_id, text, author_id, author_name, author_role,
			written_at, corrects, shareable) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			id, tx.Site(), in.TargetKind, in.TargetID, in.PatientID, in.Text, by.UserID, by.Name, by.Role, T(tx.Now()),
			nullString(string(in.Corrects)), in.Shareable); err != nil {
			if in.Corrects != "" && relais.ErrorKind(err) == relais.KindConflict {
				return relais.E(op, relais.KindConflict, relais.Field("corrects"), "this note was corrected meanwhile: correct the latest version")
			}
			return relais.E(op, err)
		}
		if n, err = noteByID(tx, id); err != nil {
			return err
		}
		return tx.Journal(op, "note", id, nil, n)
	})
	return n, err
}

// checkNoteTarget checks that a prescription or preparation a note is about
// exists and is the patient's. Those entities belong to other parts of
// Relais: they are looked up through the journal's entity loaders, so this
// check starts working as soon as they register, and their after-image's
// patient_id is compared with the patient's family.
func checkNoteTarget(tx *Tx, op string, in relais.NoteInput, family []relais.ID) error {
	if in.TargetKind == relais.NoteOnPatient {
		return nil
	}
	v, ok, err := tx.LoadEntity(in.TargetKind, in.TargetID)
	if !ok {
		return nil // not stored by this build yet
	}
	if err != nil {
		if relais.ErrorKind(err) == relais.KindNotFound {
			return relais.Invalid(op, "target_id", "no %s %s", in.TargetKind, in.TargetID)
		}
		return err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return relais.E(op, err)
	}
	var owner struct {
		PatientID relais.ID `json:"patient_id"`
	}
	if json.Unmarshal(b, &owner) == nil && owner.PatientID != "" {
		for _, id := range family {
			if id == owner.PatientID {
				return nil
			}
		}
		return relais.Invalid(op, "target_id", "%s %s is not this patient's", in.TargetKind, in.TargetID)
	}
	return nil
}

func checkCorrection(tx *Tx, op string, in relais.NoteInput, family []relais.ID) error {
	old, err := noteByID(tx, in.Corrects)
	if err != nil {
		if relais.ErrorKind(err) == relais.KindNotFound {
			return relais.Invalid(op, "corrects", "no note %s to correct", in.Corrects)
		}
		return err
	}
	mine := false
	for _, id := range family {
		mine = mine || id == old.PatientID
	}
	if !mine || old.TargetKind != in.TargetKind || old.TargetID != in.TargetID {
		return relais.Invalid(op, "corrects", "note %s is about another patient or target: a correction keeps the note's patient and target", in.Corrects)
	}
	if a := tx.Actor(); old.Author.UserID != a.UserID {
		return relais.E(op, relais.KindForbidden, relais.Field("corrects"),
			fmt.Sprintf("only the author of this note (%s) can correct it: write a new note to answer it", old.Author.Name))
	}
	var newer relais.ID
	err = tx.QueryRow("SELECT id FROM note WHERE corrects = ?", in.Corrects).Scan(&newer)
	switch {
	case err == nil:
		return relais.E(op, relais.KindConflict, relais.Field("corrects"),
			fmt.Sprintf("this note was already corrected by note %s: correct the latest version", newer))
	case relais.ErrorKind(mapErr(err)) != relais.KindNotFound:
		return relais.E(op, mapErr(err))
	}
	return nil
}

// Notes lists the notes on a patient (and on those merged into it), each at
// its latest version with the versions it replaced; threads come in the order
// their first version was written.
func (db *DB) Notes(ctx context.Context, patientID relais.ID, f relais.NoteFilter) ([]relais.NoteThread, error) {
	const op = "note.list"
	var out []relais.NoteThread
	err := db.Read(ctx, func(tx *Tx) error {
		if _, err := patientByID(tx, patientID); err != nil {
			return err
		}
		family, err := patientFamily(tx, patientID)
		if err != nil {
			return err
		}
		q, args := tx.db.inList("SELECT "+noteColumns+" FROM note WHERE patient_id IN (%s)", family)
		if f.TargetKind != "" {
			q += " AND target_kind = ?"
			args = append(args, f.TargetKind)
		}
		if f.TargetID != "" {
			q += " AND target_id = ?"
			args = append(args, f.TargetID)
		}
		rows, err := tx.Query(q+" ORDER BY written_at, id", args...)
		if err != nil {
			return relais.E(op, err)
		}
		defer rows.Close()
		var all []relais.Note
		for rows.Next() {
			n, err := scanNote(rows)
			if err != nil {
				return relais.E(op, err)
			}
			all = append(all, n)
		}
		if err := rows.Err(); err != nil {
			return relais.E(op, err)
		}
		out = noteThreads(all)
		return nil
	})
	return out, err
}

// noteThreads groups notes (oldest first) into chains of versions.
func noteThreads(all []relais.Note) []relais.NoteThread {
	byID := map[relais.ID]relais.Note{}
	correctedBy := map[relais.ID]relais.ID{}
	for _, n := range all {
		byID[n.ID] = n
		if n.Corrects != "" {
			correctedBy[n.Corrects] = n.ID
		}
	}
	out := []relais.NoteThread{}
	for _, first := range all {
		if first.Corrects != "" {
			continue // a later version: found from its first
		}
		latest := first
		for next, ok := correctedBy[latest.ID]; ok; next, ok = correctedBy[latest.ID] {
			latest = byID[next]
		}
		t := relais.NoteThread{Note: latest, History: []relais.Note{}}
		for prev := latest.Corrects; prev != ""; {
			n, ok := byID[prev]
			if !ok {
				break
			}
			t.History = append(t.History, n)
			prev = n.Corrects
		}
		out = append(out, t)
	}
	return out
}
