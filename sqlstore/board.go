package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/relais-onco/relais"
)

// Batch reads for the pages that list many items — the production board,
// each role's home, the patient page's timeline: one query per kind of row
// (per chunk of batchSize ids), whatever the number of items, joined in Go.
// A page of 300 preparations then costs a handful of queries, not 300 reads
// of a patient of six queries each.

// batchSize bounds the ids of one IN (…) list: well under SQLite's limit
// on a statement's variables and PostgreSQL's on its parameters.
const batchSize = 500

// chunks calls f on successive slices of at most batchSize distinct ids.
func chunks(ids []relais.ID, f func([]relais.ID) error) error {
	seen := make(map[relais.ID]bool, len(ids))
	uniq := make([]relais.ID, 0, len(ids))
	for _, id := range ids {
		if id != "" && !seen[id] {
			seen[id] = true
			uniq = append(uniq, id)
		}
	}
	for len(uniq) > 0 {
		n := min(len(uniq), batchSize)
		if err := f(uniq[:n]); err != nil {
			return err
		}
		uniq = uniq[n:]
	}
	return nil
}

// PatientsByID reads the patients named by ids, each once: identity, site,
// referring site, the records merged into each and the sites sharing its
// care (those of merged records included) — what a list shows and the
// scope rule needs. Allergies and former local ids are not read (the
// patient's own page reads them with Patient). An id that names no patient
// is absent from the answer.
func (db *DB) PatientsByID(ctx context.Context, ids []relais.ID) (map[relais.ID]relais.Patient, error) {
	const op = "patient.list"
	out := make(map[relais.ID]relais.Patient, len(ids))
	err := db.Read(ctx, func(tx *Tx) error {
		return chunks(ids, func(ids []relais.ID) error {
			q, args := tx.db.inList("SELECT "+patientColumns+" FROM patient WHERE id IN (%s)", ids)
			rows, err := tx.Query(q, args...)
			if err != nil {
				return relais.E(op, err)
			}
			for rows.Next() {
				var p relais.Patient
				var firstNames string
				if err := rows.Scan(&p.ID, &p.Site, &p.IPP, &p.INS.Matricule, &p.INS.OID, &p.INS.Status, &p.BirthName, &p.UsedName,
					&firstNames, scanDate(&p.BirthDate), &p.Sex, &p.BirthplaceCode, &p.ReferringSite, &p.Status, &p.MergedInto,
					ScanTime(&p.MergedAt), &p.MergeReason, ScanTime(&p.CreatedAt), ScanTime(&p.UpdatedAt)); err != nil {
					rows.Close()
					return relais.E(op, err)
				}
				if err := json.Unmarshal([]byte(firstNames), &p.FirstNames); err != nil {
					rows.Close()
					return relais.E(op, relais.KindIntegrity, "the first names of patient "+string(p.ID)+" are not readable", err)
				}
				p.SharedWith = []relais.Sharing{}
				out[p.ID] = p
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return relais.E(op, err)
			}
			// The records merged into each, level by level (a chain is
			// followed one level a query: merges are rare and short), each
			// level in merge order as patientFamily has it.
			type child struct {
				id relais.ID
				at time.Time
			}
			children := map[relais.ID][]child{}
			var frontier []relais.ID
			for _, id := range ids {
				if _, ok := out[id]; ok {
					frontier = append(frontier, id)
				}
			}
			expanded := map[relais.ID]bool{}
			for len(frontier) > 0 {
				for _, id := range frontier {
					expanded[id] = true
				}
				q, args := tx.db.inList("SELECT id, merged_into, merged_at FROM patient WHERE merged_into IN (%s) ORDER BY merged_at, id", frontier)
				rows, err := tx.Query(q, args...)
				if err != nil {
					return relais.E(op, err)
				}
				var next []relais.ID
				for rows.Next() {
					var c child
					var into relais.ID
					if err := rows.Scan(&c.id, &into, ScanTime(&c.at)); err != nil {
						rows.Close()
						return relais.E(op, err)
					}
					children[into] = append(children[into], c)
					if !expanded[c.id] {
						next = append(next, c.id)
					}
				}
				rows.Close()
				if err := rows.Err(); err != nil {
					return relais.E(op, err)
				}
				frontier = next
			}
			// Each patient's family: itself, then the merged records level
			// by level; rootsOf says whose family a record is in.
			rootsOf := map[relais.ID][]relais.ID{}
			var family []relais.ID
			for _, id := range ids {
				p, ok := out[id]
				if !ok {
					continue
				}
				seen := map[relais.ID]bool{id: true}
				rootsOf[id] = append(rootsOf[id], id)
				for level := []relais.ID{id}; len(level) > 0; {
					var cs []child
					for _, x := range level {
						cs = append(cs, children[x]...)
					}
					sort.SliceStable(cs, func(i, j int) bool {
						if !cs[i].at.Equal(cs[j].at) {
							return cs[i].at.Before(cs[j].at)
						}
						return cs[i].id < cs[j].id
					})
					level = level[:0:0]
					for _, c := range cs {
						if seen[c.id] {
							continue
						}
						seen[c.id] = true
						p.MergedFrom = append(p.MergedFrom, c.id)
						rootsOf[c.id] = append(rootsOf[c.id], id)
						level = append(level, c.id)
					}
				}
				out[id] = p
			}
			for m := range rootsOf {
				family = append(family, m)
			}
			if len(family) == 0 {
				return nil
			}
			q, args = tx.db.inList(`SELECT patient_id, site, since, information_given_at, information_given_by, recorded_by_id, recorded_by_name,
				recorded_by_role FROM patient_sharing WHERE patient_id IN (%s) ORDER BY since, site`, family)
			rows, err = tx.Query(q, args...)
			if err != nil {
				return relais.E(op, err)
			}
			defer rows.Close()
			for rows.Next() {
				var pid relais.ID
				var s relais.Sharing
				if err := rows.Scan(&pid, &s.Site, ScanTime(&s.Since), ScanTime(&s.InformationGivenAt), &s.InformationGivenBy,
					&s.RecordedBy.UserID, &s.RecordedBy.Name, &s.RecordedBy.Role); err != nil {
					return relais.E(op, err)
				}
				for _, r := range rootsOf[pid] {
					p := out[r]
					if !slices.ContainsFunc(p.SharedWith, func(x relais.Sharing) bool { return x.Site == s.Site }) {
						p.SharedWith = append(p.SharedWith, s)
						out[r] = p
					}
				}
			}
			return rows.Err()
		})
	})
	return out, err
}

// AdministrationsOf reads what was recorded at the bedside for each of the
// preparations named by ids; a preparation with nothing recorded is absent
// from the answer.
func (db *DB) AdministrationsOf(ctx context.Context, preparationIDs []relais.ID) (map[relais.ID]relais.Administration, error) {
	const op = "administration.list"
	out := make(map[relais.ID]relais.Administration, len(preparationIDs))
	err := db.Read(ctx, func(tx *Tx) error {
		return chunks(preparationIDs, func(ids []relais.ID) error {
			q, args := tx.db.inList("SELECT "+adminCols+" FROM administration WHERE preparation_id IN (%s)", ids)
			rows, err := tx.Query(q, args...)
			if err != nil {
				return relais.E(op, err)
			}
			defer rows.Close()
			for rows.Next() {
				a, err := scanAdministration(rows)
				if err != nil {
					return relais.E(op, err)
				}
				out[a.PreparationID] = a
			}
			if err := rows.Err(); err != nil {
				return relais.E(op, fmt.Errorf("reading administrations: %w", err))
			}
			return nil
		})
	})
	return out, err
}

// boardPreparationCols are preparationCols without what a list of
// preparations does not show — the worksheet, the second check, the
// release, the rejection, the cancellation — whose decoding is most of
// the cost of reading a day's preparations.
var boardPreparationCols = blankedPreparationCols("worksheet", "second_check", "release_decision", "rejection", "cancellation")

// historyPreparationCols are what a patient's history shows of each
// preparation (its line, dose and status): none of its records.
var historyPreparationCols = blankedPreparationCols("plan", "worksheet", "production", "second_check", "release_decision", "rejection", "cancellation", "dispensing")

// blankedPreparationCols is preparationCols with the named columns read as
// the empty string (decoded as nothing by scanPreparation).
func blankedPreparationCols(blank ...string) string {
	cols := strings.Split(preparationCols, ",")
	for i, c := range cols {
		if slices.Contains(blank, strings.TrimSpace(c)) {
			cols[i] = " ''"
		}
	}
	return strings.Join(cols, ",")
}

// BoardPreparations lists preparations like Preparations, in the same
// order, for a list (the production board, a home page): each with its
// plan, production record and dispensing, not its worksheet, second
// check, release, rejection or cancellation (read one preparation with
// Preparation for those).
func (db *DB) BoardPreparations(ctx context.Context, f relais.PreparationFilter) ([]relais.Preparation, error) {
	return db.listPreparations(ctx, f, boardPreparationCols)
}

// HistoryPreparations lists a patient's preparations as a history shows
// them, in the order of Preparations: each with its line, dose, unit and
// status, none of its plan or records (a patient page reads ten years of
// them).
func (db *DB) HistoryPreparations(ctx context.Context, patientID relais.ID) ([]relais.Preparation, error) {
	return db.listPreparations(ctx, relais.PreparationFilter{PatientID: patientID}, historyPreparationCols)
}

// BoardQuery names one list of preparations as a page shows it: a section
// of the production board or a list of a home page, read up to Limit.
type BoardQuery struct {
	// Date is the administration date ("" for any); Statuses, the
	// statuses listed (none for any).
	Date     relais.Date
	Statuses []relais.PreparationStatus
	// PatientIDs, when not empty, narrows to these patients'.
	PatientIDs []relais.ID
	// Section narrows to one section of the board: "" for none,
	// "dispensed" (what leaves as is), "unassigned" (compounded, in none
	// of Hoods) or "hood" (compounded, assigned to HoodID). A section is
	// in the board's order — those still in the chain first, then by
	// planned slot (in a hood), register number, creation — where the
	// others are in the order of BoardPreparations.
	Section string
	HoodID  relais.ID
	Hoods   []relais.ID
	// Limit is how many are read at most (0: all).
	Limit int
}

// finishedStatuses are the statuses of a preparation that has left the
// chain (the board shows them last).
const finishedStatuses = "('administered', 'not_administered', 'rejected', 'cancelled')"

// BoardList reads the first q.Limit preparations of a list, like
// BoardPreparations (without the records a list does not show), and the
// list's length: a page reads what it shows and counts the rest. The
// length is counted only when the list is longer than what is read.
func (db *DB) BoardList(ctx context.Context, q BoardQuery) (items []relais.Preparation, total int, err error) {
	const op = "preparation.list"
	where := []string{"1 = 1"}
	var args []any
	if q.Date != "" {
		if _, err := relais.ParseDate("date", string(q.Date)); err != nil {
			return nil, 0, err
		}
		where, args = append(where, "p.administration_date = ?"), append(args, string(q.Date))
	}
	if len(q.Statuses) > 0 {
		for _, st := range q.Statuses {
			if !knownPrepStatus(st) {
				return nil, 0, relais.Invalid(op, "status", "unknown status %q", st)
			}
			args = append(args, string(st))
		}
		where = append(where, "p.status IN ("+placeholders(len(q.Statuses))+")")
	}
	if len(q.PatientIDs) > 0 {
		in, pargs := db.inList("p.patient_id IN (%s)", q.PatientIDs)
		where, args = append(where, in), append(args, pargs...)
	}
	from := "preparation p"
	order := "p.administration_date, p.register_number = '', p.register_number, p.created_at, p.id"
	board := "p.status IN " + finishedStatuses + ", p.register_number = '', p.register_number, p.created_at, p.id"
	switch q.Section {
	case "":
	case "dispensed":
		where, args = append(where, "p.mode <> ?"), append(args, string(relais.ModeCompounded))
		order = board
	case "unassigned":
		where, args = append(where, "p.mode = ?"), append(args, string(relais.ModeCompounded))
		if len(q.Hoods) > 0 {
			in, hargs := db.inList("SELECT a.id FROM hood_assignment a WHERE a.hood_id IN (%s)", q.Hoods)
			where, args = append(where, "p.id NOT IN ("+in+")"), append(args, hargs...)
		}
		order = board
	case "hood":
		from = "preparation p JOIN hood_assignment a ON a.id = p.id"
		where, args = append(where, "p.mode = ?", "a.hood_id = ?"), append(args, string(relais.ModeCompounded), q.HoodID)
		order = "p.status IN " + finishedStatuses + ", a.slot IS NULL, a.slot, p.register_number = '', p.register_number, p.created_at, p.id"
	default:
		return nil, 0, relais.Invalid(op, "section", "unknown section %q", q.Section)
	}
	cond := " FROM " + from + " WHERE " + strings.Join(where, " AND ")
	sel := "SELECT " + qualified("p.", boardPreparationCols) + cond + " ORDER BY " + order
	if q.Limit > 0 {
		sel += " LIMIT " + strconv.Itoa(q.Limit)
	}
	err = db.Read(ctx, func(tx *Tx) error {
		rows, err := tx.Query(sel, args...)
		if err != nil {
			return relais.E(op, err)
		}
		if items, err = scanPreparations(rows); err != nil {
			return relais.E(op, err)
		}
		total = len(items)
		if q.Limit > 0 && len(items) == q.Limit {
			if err := tx.QueryRow("SELECT COUNT(*)"+cond, args...).Scan(&total); err != nil {
				return relais.E(op, err)
			}
		}
		return nil
	})
	return items, total, err
}

// qualified qualifies each column of a list with a table's alias (a
// constant, such as the empty string, is left as is).
func qualified(alias, cols string) string {
	list := strings.Split(cols, ",")
	for i, c := range list {
		c = strings.TrimSpace(c)
		if !strings.HasPrefix(c, "'") {
			c = alias + c
		}
		list[i] = c
	}
	return strings.Join(list, ", ")
}

// BoardCount is how many of a day's preparations are in one status, mode
// and hood (HoodID "" when not assigned).
type BoardCount struct {
	Status relais.PreparationStatus
	Mode   relais.PreparationMode
	HoodID relais.ID
	N      int
}

// BoardCounts counts a day's preparations by status, mode and hood, in one
// query: the board's totals, whatever it shows.
func (db *DB) BoardCounts(ctx context.Context, day relais.Date) ([]BoardCount, error) {
	const op = "preparation.count"
	if _, err := relais.ParseDate("date", string(day)); err != nil {
		return nil, err
	}
	out := []BoardCount{}
	err := db.Read(ctx, func(tx *Tx) error {
		rows, err := tx.Query(`SELECT p.status, p.mode, COALESCE(a.hood_id, ''), COUNT(*) FROM preparation p
			LEFT JOIN hood_assignment a ON a.id = p.id WHERE p.administration_date = ?
			GROUP BY p.status, p.mode, COALESCE(a.hood_id, '')`, string(day))
		if err != nil {
			return relais.E(op, err)
		}
		defer rows.Close()
		for rows.Next() {
			var c BoardCount
			if err := rows.Scan(&c.Status, &c.Mode, &c.HoodID, &c.N); err != nil {
				return relais.E(op, err)
			}
			out = append(out, c)
		}
		return rows.Err()
	})
	return out, err
}

// WardPatient is a patient with preparations of the day on a ward (Ward ""
// for those not delivered yet).
type WardPatient struct {
	Ward      string
	PatientID relais.ID
}

// DayWards lists the wards and patients of a day's preparations, those
// neither rejected nor cancelled, each pair once, in the order of
// BoardPreparations: a nurse's home groups the day by ward and patient,
// then reads the preparations of the patients it shows (BoardList with
// PatientIDs). Only the patient and the dispensing of each preparation
// are read.
func (db *DB) DayWards(ctx context.Context, day relais.Date) ([]WardPatient, error) {
	const op = "preparation.list"
	if _, err := relais.ParseDate("date", string(day)); err != nil {
		return nil, err
	}
	out := []WardPatient{}
	err := db.Read(ctx, func(tx *Tx) error {
		rows, err := tx.Query(`SELECT patient_id, dispensing FROM preparation WHERE administration_date = ?
			AND status NOT IN ('rejected', 'cancelled') ORDER BY administration_date, register_number = '', register_number, created_at, id`, string(day))
		if err != nil {
			return relais.E(op, err)
		}
		defer rows.Close()
		seen := map[WardPatient]bool{}
		for rows.Next() {
			var wp WardPatient
			var disp string
			if err := rows.Scan(&wp.PatientID, &disp); err != nil {
				return relais.E(op, err)
			}
			if disp != "" {
				var d struct {
					Ward string `json:"ward"`
				}
				if err := json.Unmarshal([]byte(disp), &d); err != nil {
					return relais.E(op, relais.KindIntegrity, "the dispensing of a preparation of patient "+string(wp.PatientID)+" is not readable", err)
				}
				wp.Ward = d.Ward
			}
			if !seen[wp] {
				seen[wp] = true
				out = append(out, wp)
			}
		}
		return rows.Err()
	})
	return out, err
}
