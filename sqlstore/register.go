package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/relais-onco/relais"
)

// The preparation register (ordonnancier). Numbers come from one counter
// row per site and year, read FOR UPDATE on PostgreSQL (SQLite writes are
// serialized already) and incremented in the transaction that writes the
// entry: a number is used once, and a rolled-back transaction gives its
// number back with it, so there is never a gap. UNIQUE (site, year, seq)
// and the triggers of migration 0006 (no renumbering, no deletion, no change
// to a closed entry) hold even against a bug here.

func init() {
	registerEntity("register_entry", "register_entry", func(tx *Tx, id relais.ID) (any, error) { return registerEntryByID(tx, id) })
}

const registerCols = `id, site, year, seq, number, kind, preparation_id, patient_id, inn, dose, unit, status, issued_at, issued_by,
	reason, annotations, updated_at, prepared_for`

func scanRegisterEntry(sc interface{ Scan(...any) error }) (relais.RegisterEntry, error) {
	var e relais.RegisterEntry
	var ann string
	err := sc.Scan(&e.ID, &e.Site, &e.Year, &e.Seq, &e.Number, &e.Kind, &e.PreparationID, &e.PatientID, &e.INN, &e.Dose, &e.Unit,
		&e.Status, ScanTime(&e.IssuedAt), &e.IssuedBy, &e.Reason, &ann, ScanTime(&e.UpdatedAt), &e.PreparedFor)
	if err != nil {
		return e, err
	}
	if err := fromJSONText(ann, &e.Annotations); err != nil {
		return e, relais.E(relais.KindIntegrity, fmt.Sprintf("the annotations of register entry %s cannot be read", e.Number), err)
	}
	return e, nil
}

func registerEntryByID(tx *Tx, id relais.ID) (relais.RegisterEntry, error) {
	e, err := scanRegisterEntry(tx.QueryRow("SELECT "+registerCols+" FROM register_entry WHERE id = ?", id))
	if err != nil {
		return e, relais.E("register.get", "no such register entry", mapErr(err))
	}
	return e, nil
}

func registerEntryByNumber(tx *Tx, number string) (relais.RegisterEntry, error) {
	if _, _, err := relais.ParseRegisterNumber("number", number); err != nil {
		return relais.RegisterEntry{}, err
	}
	e, err := scanRegisterEntry(tx.QueryRow("SELECT "+registerCols+" FROM register_entry WHERE site = ? AND number = ?", tx.Site(), number))
	if err != nil {
		if relais.ErrorKind(mapErr(err)) == relais.KindNotFound {
			return e, relais.E("register.get", relais.KindNotFound, fmt.Sprintf("no register number %s at this site", number))
		}
		return e, relais.E("register.get", mapErr(err))
	}
	return e, nil
}

// counterMax reads the highest number already written for a site and year:
// the counter never stands below it, so a database whose entries were
// replayed without their counter (a standby, a reintegration) goes on from
// the last number instead of reusing one.
var counterMax = map[string]func(site string, year int) (string, []any){
	"register_counter": func(site string, year int) (string, []any) {
		return "SELECT COALESCE(MAX(seq), 0) FROM register_entry WHERE site = ? AND year = ?", []any{site, year}
	},
	"slip_counter": func(site string, year int) (string, []any) {
		return "SELECT COALESCE(MAX(CAST(SUBSTR(number, 9) AS INTEGER)), 0) FROM delivery_slip WHERE site = ? AND number LIKE ?",
			[]any{site, fmt.Sprintf("BL-%04d-%%", year)}
	},
}

// nextNumbers takes n consecutive numbers of the year from the counter, in
// the caller's transaction.
func nextNumbers(tx *Tx, table string, year, n int) (first int, err error) {
	const op = "register.number"
	if _, err := tx.Exec("INSERT INTO "+table+" (site, year, last_seq) VALUES (?, ?, 0) ON CONFLICT (site, year) DO NOTHING", tx.Site(), year); err != nil {
		return 0, relais.E(op, err)
	}
	q := "SELECT last_seq FROM " + table + " WHERE site = ? AND year = ?"
	if tx.Engine() == Postgres {
		q += " FOR UPDATE"
	}
	var last, written int
	if err := tx.QueryRow(q, tx.Site(), year).Scan(&last); err != nil {
		return 0, relais.E(op, mapErr(err))
	}
	mq, margs := counterMax[table](tx.Site(), year)
	if err := tx.QueryRow(mq, margs...).Scan(&written); err != nil {
		return 0, relais.E(op, mapErr(err))
	}
	from := max(last, written)
	if from+n > relais.MaxRegisterSeq {
		return 0, relais.E(op, relais.KindConflict, fmt.Sprintf("the %d numbers of %d are used up", relais.MaxRegisterSeq, year))
	}
	res, err := tx.Exec("UPDATE "+table+" SET last_seq = ? WHERE site = ? AND year = ? AND last_seq = ?", from+n, tx.Site(), year, last)
	if err != nil {
		return 0, relais.E(op, err)
	}
	if k, _ := res.RowsAffected(); k != 1 {
		return 0, relais.E(op, relais.KindUnavailable, "the register counter moved during the transaction; try again")
	}
	return from + 1, nil
}

func insertRegisterEntry(tx *Tx, e *relais.RegisterEntry) error {
	if e.Annotations == nil {
		e.Annotations = []relais.Annotation{}
	}
	ann, err := jsonText(e.Annotations)
	if err != nil {
		return err
	}
	_, err = tx.Exec("INSERT INTO register_entry ("+registerCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		e.ID, e.Site, e.Year, e.Seq, e.Number, e.Kind, e.PreparationID, e.PatientID, e.INN, e.Dose, e.Unit, e.Status,
		T(e.IssuedAt), e.IssuedBy, e.Reason, ann, T(e.UpdatedAt), e.PreparedFor)
	return err
}

func updateRegisterEntry(tx *Tx, e *relais.RegisterEntry) error {
	ann, err := jsonText(e.Annotations)
	if err != nil {
		return err
	}
	_, err = tx.Exec("UPDATE register_entry SET kind = ?, preparation_id = ?, status = ?, reason = ?, annotations = ?, updated_at = ? WHERE id = ?",
		e.Kind, e.PreparationID, e.Status, e.Reason, ann, T(e.UpdatedAt), e.ID)
	return err
}

// issueRegisterNumber gives a preparation the next number of the year, in
// the worksheet's transaction, and journals the entry.
func issueRegisterNumber(tx *Tx, p relais.Preparation) (relais.RegisterEntry, error) {
	const op = "register.issue"
	// Mutual aid (sqlstore/aid.go): a preparation handed over to another
	// site is not numbered here; one made here for another site notes it.
	preparedFor, err := aidBeforeIssue(tx, p)
	if err != nil {
		return relais.RegisterEntry{}, err
	}
	if e, ok, err := crisisRegisterNumber(tx, p); ok || err != nil { // a crisis node numbers from its reserved block
		if err == nil {
			err = aidAfterIssue(tx, p, e)
		}
		return e, err
	}
	now := tx.Now()
	year := relais.RegisterYear(now)
	seq, err := nextNumbers(tx, "register_counter", year, 1)
	if err != nil {
		return relais.RegisterEntry{}, err
	}
	e := relais.RegisterEntry{ID: relais.NewID(), Site: tx.Site(), Year: year, Seq: seq, Number: relais.FormatRegisterNumber(year, seq),
		Kind: relais.RegisterPreparation, PreparationID: p.ID, PatientID: p.PatientID, INN: p.INN, Dose: p.Dose, Unit: p.Unit,
		Status: relais.RegisterInProgress, IssuedAt: now, IssuedBy: tx.Actor().DisplayName(), UpdatedAt: now, PreparedFor: preparedFor}
	if err := insertRegisterEntry(tx, &e); err != nil {
		return e, relais.E(op, err)
	}
	after, err := registerEntryByID(tx, e.ID)
	if err != nil {
		return after, err
	}
	if err := tx.Journal(op, "register_entry", e.ID, nil, after); err != nil {
		return after, err
	}
	return after, aidAfterIssue(tx, p, after)
}

// followRegister brings a preparation's register entry to its status.
func followRegister(tx *Tx, p relais.Preparation) error {
	const op = "register.update"
	var id relais.ID
	if err := tx.QueryRow("SELECT id FROM register_entry WHERE preparation_id = ? AND kind = 'preparation'", p.ID).Scan(&id); err != nil {
		return relais.E(op, relais.KindIntegrity, fmt.Sprintf("preparation %s has no register entry", p.Display()), mapErr(err))
	}
	e, err := registerEntryByID(tx, id)
	if err != nil {
		return err
	}
	before := e
	if err := e.SetStatus(p.Status.RegisterStatus(), tx.Now()); err != nil {
		return err
	}
	if err := updateRegisterEntry(tx, &e); err != nil {
		return relais.E(op, err)
	}
	after, err := registerEntryByID(tx, id)
	if err != nil {
		return err
	}
	return tx.Journal(op, "register_entry", id, before, after)
}

// Register lists the entries issued between two dates (inclusive, local
// days), in number order.
func (db *DB) Register(ctx context.Context, from, to relais.Date) ([]relais.RegisterEntry, error) {
	const op = "register.list"
	var errs []error
	if _, err := relais.ParseDate("from", string(from)); err != nil {
		errs = append(errs, err)
	}
	if _, err := relais.ParseDate("to", string(to)); err != nil {
		errs = append(errs, err)
	}
	if err := relais.Errors(op, errs); err != nil {
		return nil, err
	}
	if to < from {
		return nil, relais.Invalid(op, "to", "the range ends (%s) before it starts (%s)", to, from)
	}
	start, end := localDayStart(from), localDayStart(to.AddDays(1))
	out := []relais.RegisterEntry{}
	err := db.Read(ctx, func(tx *Tx) error {
		if err := requirePerm(op, tx.Actor(), relais.PermProductionRead); err != nil {
			return err
		}
		rows, err := tx.Query("SELECT "+registerCols+` FROM register_entry WHERE site = ? AND issued_at >= ? AND issued_at < ?
			ORDER BY year, seq`, tx.Site(), T(start), T(end))
		if err != nil {
			return relais.E(op, err)
		}
		defer rows.Close()
		for rows.Next() {
			e, err := scanRegisterEntry(rows)
			if err != nil {
				return relais.E(op, err)
			}
			out = append(out, e)
		}
		return rows.Err()
	})
	return out, err
}

// localDayStart is midnight of d in the display zone, in UTC.
func localDayStart(d relais.Date) time.Time {
	t := d.Time()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, relais.DisplayZone).UTC()
}

// AnnotateRegister adds a correction or note to an entry: the only change a
// closed entry accepts.
func (db *DB) AnnotateRegister(ctx context.Context, number string, req relais.AnnotationRequest) (relais.RegisterEntry, error) {
	const op = "register.annotate"
	var out relais.RegisterEntry
	err := db.Write(ctx, op, func(tx *Tx) error {
		if err := requirePerm(op, tx.Actor(), relais.PermProductionRelease); err != nil {
			return err
		}
		e, err := registerEntryByNumber(tx, number)
		if err != nil {
			return err
		}
		before := e
		if err := e.Annotate(req.Text, tx.Actor(), tx.Now()); err != nil {
			return err
		}
		if err := updateRegisterEntry(tx, &e); err != nil {
			return relais.E(op, err)
		}
		if out, err = registerEntryByID(tx, e.ID); err != nil {
			return err
		}
		return tx.Journal(op, "register_entry", e.ID, before, out)
	})
	return out, err
}

// ReserveRegisterBlock sets n consecutive numbers aside (for a crisis node),
// recorded in the register as reserved entries with the reason.
func (db *DB) ReserveRegisterBlock(ctx context.Context, n int, reason string) ([]relais.RegisterEntry, error) {
	const op = "register.reserve"
	reason = strings.TrimSpace(reason)
	if n <= 0 || n > 10000 {
		return nil, relais.Invalid(op, "count", "reserve between 1 and 10000 numbers")
	}
	if reason == "" {
		return nil, relais.Invalid(op, "reason", "say why the numbers are reserved (e.g. crisis node of the pharmacy)")
	}
	var out []relais.RegisterEntry
	err := db.Write(ctx, op, func(tx *Tx) error {
		if err := requirePerm(op, tx.Actor(), relais.PermProductionRelease); err != nil {
			return err
		}
		now := tx.Now()
		year := relais.RegisterYear(now)
		first, err := nextNumbers(tx, "register_counter", year, n)
		if err != nil {
			return err
		}
		for seq := first; seq < first+n; seq++ {
			e := relais.RegisterEntry{ID: relais.NewID(), Site: tx.Site(), Year: year, Seq: seq, Number: relais.FormatRegisterNumber(year, seq),
				Kind: relais.RegisterReserved, Status: relais.RegisterOpen, IssuedAt: now, IssuedBy: tx.Actor().DisplayName(),
				Reason: reason, UpdatedAt: now}
			if err := insertRegisterEntry(tx, &e); err != nil {
				return relais.E(op, err)
			}
			after, err := registerEntryByID(tx, e.ID)
			if err != nil {
				return err
			}
			if err := tx.Journal(op, "register_entry", e.ID, nil, after); err != nil {
				return err
			}
			out = append(out, after)
		}
		return nil
	})
	return out, err
}

// VoidRegisterNumber voids a reserved number that was never used.
func (db *DB) VoidRegisterNumber(ctx context.Context, number, reason string) (relais.RegisterEntry, error) {
	const op = "register.void"
	var out relais.RegisterEntry
	err := db.Write(ctx, op, func(tx *Tx) error {
		if err := requirePerm(op, tx.Actor(), relais.PermProductionRelease); err != nil {
			return err
		}
		e, err := registerEntryByNumber(tx, number)
		if err != nil {
			return err
		}
		before := e
		if err := e.Void(reason, tx.Now()); err != nil {
			return err
		}
		if err := updateRegisterEntry(tx, &e); err != nil {
			return relais.E(op, err)
		}
		if out, err = registerEntryByID(tx, e.ID); err != nil {
			return err
		}
		return tx.Journal(op, "register_entry", e.ID, before, out)
	})
	return out, err
}

// CheckRegister verifies the register of every site and year in the
// database: no gap and no duplicate, the counter at the last number, each
// number written as its year and sequence, every preparation entry naming a
// preparation that carries that number (and the reverse), and each entry's
// status following its preparation's. Reserved numbers without a
// preparation are not faults (a crisis node may hold them); voided ones
// need none. `relais check` calls it.
func (db *DB) CheckRegister(ctx context.Context) ([]relais.Fault, error) {
	var faults []relais.Fault
	add := func(check, entity, id, format string, args ...any) {
		faults = append(faults, relais.Fault{Check: check, Entity: entity, ID: id, Message: fmt.Sprintf(format, args...)})
	}
	err := db.Read(ctx, func(tx *Tx) error {
		type key struct {
			site string
			year int
		}
		rows, err := tx.Query("SELECT " + registerCols + " FROM register_entry ORDER BY site, year, seq, id")
		if err != nil {
			return err
		}
		var entries []relais.RegisterEntry
		for rows.Next() {
			e, err := scanRegisterEntry(rows)
			if err != nil {
				rows.Close()
				return err
			}
			entries = append(entries, e)
		}
		rows.Close()
		maxSeq := map[key]int{}
		bySeq := map[key]map[int]int{}
		for _, e := range entries {
			k := key{e.Site, e.Year}
			if bySeq[k] == nil {
				bySeq[k] = map[int]int{}
			}
			bySeq[k][e.Seq]++
			if bySeq[k][e.Seq] == 2 {
				add("register.duplicate", "register_entry", e.Number, "number %s of %s is used more than once", e.Number, e.Site)
			}
			if e.Seq > maxSeq[k] {
				maxSeq[k] = e.Seq
			}
			if want := relais.FormatRegisterNumber(e.Year, e.Seq); e.Number != want {
				add("register.number", "register_entry", string(e.ID), "entry %s of %d has sequence %d but reads %q (should read %s)",
					e.ID, e.Year, e.Seq, e.Number, want)
			}
		}
		for k, seqs := range bySeq {
			var missing []string
			for s := 1; s <= maxSeq[k]; s++ {
				if seqs[s] == 0 {
					missing = append(missing, relais.FormatRegisterNumber(k.year, s))
				}
			}
			if len(missing) > 0 {
				shown := missing
				if len(shown) > 20 {
					shown = append(shown[:20:20], fmt.Sprintf("… (%d in all)", len(missing)))
				}
				add("register.gap", "register", k.site, "%d number(s) of %d missing at %s: %s", len(missing), k.year, k.site, strings.Join(shown, ", "))
			}
		}
		// The local counter must stand at the last number.
		crows, err := tx.Query("SELECT site, year, last_seq FROM register_counter")
		if err != nil {
			return err
		}
		counters := map[key]int{}
		for crows.Next() {
			var k key
			var last int
			if err := crows.Scan(&k.site, &k.year, &last); err != nil {
				crows.Close()
				return err
			}
			counters[k] = last
		}
		crows.Close()
		for k, last := range counters {
			if last != maxSeq[k] {
				add("register.counter", "register", k.site, "the %d counter of %s stands at %d but the last number issued is %d: numbers would be %s",
					k.year, k.site, last, maxSeq[k], map[bool]string{true: "skipped", false: "reused"}[last > maxSeq[k]])
			}
		}
		for k, m := range maxSeq {
			if _, ok := counters[k]; !ok && k.site == tx.Site() && m > 0 {
				add("register.counter", "register", k.site, "the register of %d has numbers but no counter", k.year)
			}
		}
		// Entries and preparations name each other.
		prepNumbers := map[relais.ID]string{}
		prepStatus := map[relais.ID]relais.PreparationStatus{}
		prows, err := tx.Query("SELECT id, register_number, status FROM preparation WHERE register_number <> ''")
		if err != nil {
			return err
		}
		for prows.Next() {
			var id relais.ID
			var num string
			var st relais.PreparationStatus
			if err := prows.Scan(&id, &num, &st); err != nil {
				prows.Close()
				return err
			}
			prepNumbers[id], prepStatus[id] = num, st
		}
		prows.Close()
		seenPrep := map[relais.ID]bool{}
		for _, e := range entries {
			if e.Kind != relais.RegisterPreparation {
				if e.Kind == relais.RegisterReserved && e.PreparationID != "" {
					add("register.kind", "register_entry", e.Number, "reserved number %s names a preparation", e.Number)
				}
				continue
			}
			num, ok := prepNumbers[e.PreparationID]
			switch {
			case e.PreparationID == "" || !ok:
				add("register.orphan", "register_entry", e.Number, "number %s has no preparation carrying it", e.Number)
				continue
			case num != e.Number:
				add("register.mismatch", "register_entry", e.Number, "number %s names preparation %s, which carries %s", e.Number, e.PreparationID, num)
			}
			seenPrep[e.PreparationID] = true
			if want := prepStatus[e.PreparationID].RegisterStatus(); want != e.Status {
				add("register.status", "register_entry", e.Number, "entry %s is %s but its preparation is %s", e.Number, e.Status, prepStatus[e.PreparationID])
			}
		}
		for id, num := range prepNumbers {
			if !seenPrep[id] {
				add("register.missing", "preparation", string(id), "preparation %s carries number %s, which the register does not have", id, num)
			}
		}
		return nil
	})
	return sortFaults(faults), err
}
