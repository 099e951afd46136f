package sqlstore

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/relais-onco/relais"
)

// Worklist answers the day's work of prescribers and wards (see
// relais.WorklistService): drafts to sign, days waiting for their
// OK-to-treat, cycles due, the day's lines, and the patients under
// treatment. It reads in one transaction and a fixed number of queries,
// whatever the number of patients: a home page is opened many times a day.
func (db *DB) Worklist(ctx context.Context, req relais.WorklistRequest) (relais.Worklist, error) {
	const op = "worklist"
	if _, err := relais.ParseDate("on", string(req.On)); err != nil {
		return relais.Worklist{}, err
	}
	if req.HorizonDays < 0 || req.HorizonDays > 366 {
		return relais.Worklist{}, relais.Invalid(op, "horizon_days", "the horizon is 0 to 366 days")
	}
	w := relais.Worklist{On: req.On, ToSign: []relais.WorklistItem{}, OKToTreat: []relais.WorklistItem{},
		ToPrescribe: []relais.WorklistItem{}, Today: []relais.WorklistItem{}, ToValidate: []relais.WorklistItem{},
		Patients: []relais.WorklistItem{}}
	want := func(list string) bool { return len(req.Lists) == 0 || slices.Contains(req.Lists, list) }
	// What each list needs: the drafts (to sign); the signed prescriptions
	// with a line still proposed (its day may lack its OK-to-treat — a
	// line is validated only after it — or wait for the pharmacist) or a
	// line dated that day; the open treatments (the cycles due, the
	// patients). Those two mark the patients of the prescriber's
	// prescriptions (Mine): they need them all.
	treatments := want(relais.WorklistPatients) || want(relais.WorklistToPrescribe)
	drafts := treatments || want(relais.WorklistToSign)
	proposed := treatments || want(relais.WorklistOKToTreat) || want(relais.WorklistToValidate)
	dated := treatments || want(relais.WorklistOKToTreat) || want(relais.WorklistToday)
	err := db.Read(ctx, func(tx *Tx) error {
		var union []string
		var args []any
		if drafts {
			union = append(union, "SELECT id FROM prescription WHERE status = 'draft'")
		}
		signed := "SELECT p.id FROM prescription p JOIN prescription_line l ON l.prescription_id = p.id WHERE p.status = 'signed' AND "
		switch {
		case proposed && dated:
			union, args = append(union, signed+"(l.status = 'proposed' OR l.date = ?)"), append(args, string(req.On))
		case proposed:
			union = append(union, signed+"l.status = 'proposed'")
		case dated:
			union, args = append(union, signed+"l.date = ?"), append(args, string(req.On))
		}
		var ids []relais.ID
		var err error
		if len(union) > 0 {
			if ids, err = idList(tx, strings.Join(union, " UNION "), args...); err != nil {
				return err
			}
		}
		prescriptions, err := worklistPrescriptions(tx, ids)
		if err != nil {
			return err
		}
		var open []relais.Treatment
		if treatments {
			if open, err = openTreatments(tx); err != nil {
				return err
			}
		}
		var pids []relais.ID
		for _, p := range prescriptions {
			pids = append(pids, p.PatientID)
		}
		for _, t := range open {
			pids = append(pids, t.PatientID)
		}
		patients, err := patientNames(tx, pids)
		if err != nil {
			return err
		}
		base := func(patientID relais.ID) relais.WorklistItem {
			p := patients[patientID]
			return relais.WorklistItem{PatientID: patientID, PatientName: p.DisplayName(), IPP: p.IPP, BirthDate: p.BirthDate}
		}

		mine := map[relais.ID]bool{}
		for _, p := range prescriptions {
			it := base(p.PatientID)
			it.TreatmentID, it.PrescriptionID, it.Regimen, it.Cycle, it.Date = p.TreatmentID, p.ID, p.Regimen, p.Cycle, p.StartDate
			it.Status, it.PrescriberName = p.Status, p.PrescriberName
			it.Mine = req.PrescriberID != "" && p.PrescriberID == req.PrescriberID
			if it.Mine {
				mine[p.PatientID] = true
			}
			if p.Status == relais.PrescriptionDraft {
				w.ToSign = append(w.ToSign, it)
				continue
			}
			for _, d := range p.Days {
				day := it
				day.Day, day.Date = d.Day, d.Date
				if d.OKToTreat == nil && d.Date <= req.On {
					w.OKToTreat = append(w.OKToTreat, day)
				}
				if d.OKToTreat != nil {
					v := day
					for _, l := range p.Lines {
						if l.Day == d.Day && l.Status == relais.LineProposed {
							v.Lines = append(v.Lines, l)
						}
					}
					if len(v.Lines) > 0 {
						for _, c := range p.Checks {
							if c.Level != relais.LevelInfo {
								v.Checks = append(v.Checks, c)
							}
						}
						w.ToValidate = append(w.ToValidate, v)
					}
				}
				if d.Date == req.On && d.OKToTreat != nil {
					for _, l := range p.Lines {
						if l.Day == d.Day && l.Status != relais.LineCancelled {
							day.Lines = append(day.Lines, l)
						}
					}
					w.Today = append(w.Today, day)
				}
			}
		}

		last, err := treatmentProgress(tx, open)
		if err != nil {
			return err
		}
		horizon := req.On.AddDays(req.HorizonDays)
		index := map[relais.ID]int{}
		for _, t := range open {
			it := base(t.PatientID)
			it.TreatmentID, it.Regimen, it.Date = t.ID, t.ProtocolCode+" v"+strconv.Itoa(t.VersionNumber), t.StartDate
			it.Mine = mine[t.PatientID] || (req.PrescriberName != "" && t.CreatedBy == req.PrescriberName)
			if i, ok := index[t.PatientID]; ok {
				w.Patients[i].Mine = w.Patients[i].Mine || it.Mine
			} else {
				index[t.PatientID] = len(w.Patients)
				w.Patients = append(w.Patients, it)
			}
			pr := last[t.ID]
			if t.PlannedCycles > 0 && pr.cycle >= t.PlannedCycles {
				continue
			}
			next := it
			next.Cycle, next.Date = pr.cycle+1, t.StartDate
			if pr.cycle > 0 {
				next.Date = pr.start.AddDays(t.CycleLengthDays)
			}
			if next.Date <= horizon {
				w.ToPrescribe = append(w.ToPrescribe, next)
			}
		}
		sort.SliceStable(w.Patients, func(i, j int) bool {
			a, b := w.Patients[i], w.Patients[j]
			if a.Mine != b.Mine {
				return a.Mine
			}
			return relais.NormalizeName(a.PatientName) < relais.NormalizeName(b.PatientName)
		})
		sort.SliceStable(w.ToPrescribe, func(i, j int) bool { return w.ToPrescribe[i].Date < w.ToPrescribe[j].Date })
		sort.SliceStable(w.ToValidate, func(i, j int) bool { return w.ToValidate[i].Date < w.ToValidate[j].Date })
		// The lists not wanted are left empty: read in part, they would be
		// wrong.
		for _, l := range []struct {
			name string
			list *[]relais.WorklistItem
		}{{relais.WorklistToSign, &w.ToSign}, {relais.WorklistOKToTreat, &w.OKToTreat}, {relais.WorklistToPrescribe, &w.ToPrescribe},
			{relais.WorklistToday, &w.Today}, {relais.WorklistToValidate, &w.ToValidate}, {relais.WorklistPatients, &w.Patients}} {
			if !want(l.name) {
				*l.list = []relais.WorklistItem{}
			}
		}
		return nil
	})
	return w, err
}

// cycleProgress is how far an open treatment has been prescribed: its latest
// cycle and that cycle's start.
type cycleProgress struct {
	cycle int
	start relais.Date
}

// treatmentProgress reads how far each open treatment has been prescribed,
// through the index on the prescriptions' treatment: the open treatments
// are the year's, while the prescriptions of ten years are many more.
func treatmentProgress(tx *Tx, open []relais.Treatment) (map[relais.ID]cycleProgress, error) {
	const op = "worklist"
	last := map[relais.ID]cycleProgress{}
	if len(open) == 0 {
		return last, nil
	}
	ids := make([]relais.ID, len(open))
	for i, t := range open {
		ids[i] = t.ID
	}
	q, args := tx.db.inList(`SELECT treatment_id, cycle, start_date FROM prescription WHERE treatment_id IN (%s) AND status <> 'cancelled'`, ids)
	rows, err := tx.Query(q, args...)
	if err != nil {
		return nil, relais.E(op, err)
	}
	defer rows.Close()
	for rows.Next() {
		var tid relais.ID
		var pr cycleProgress
		if err := rows.Scan(&tid, &pr.cycle, scanDate(&pr.start)); err != nil {
			return nil, relais.E(op, err)
		}
		if pr.cycle > last[tid].cycle {
			last[tid] = pr
		}
	}
	if err := rows.Err(); err != nil {
		return nil, relais.E(op, err)
	}
	return last, nil
}

// worklistPrescriptions reads prescriptions with their lines in two
// queries, in the order of start date and cycle — only what a worklist
// shows: not the measurements used, and lines without their dose rule and
// derivation (decoding every derivation of every cycle would cost a home
// page most of its time).
func worklistPrescriptions(tx *Tx, ids []relais.ID) ([]relais.Prescription, error) {
	const op = "worklist.prescriptions"
	out := []relais.Prescription{}
	if len(ids) == 0 {
		return out, nil
	}
	q, args := tx.db.inList(`SELECT id, treatment_id, patient_id, cycle, start_date, status, regimen, days, checks, prescriber_id, prescriber_name
		FROM prescription WHERE id IN (%s) ORDER BY start_date, cycle, id`, ids)
	rows, err := tx.Query(q, args...)
	if err != nil {
		return nil, relais.E(op, err)
	}
	index := map[relais.ID]int{}
	for rows.Next() {
		var p relais.Prescription
		var days, checks string
		if err := rows.Scan(&p.ID, &p.TreatmentID, &p.PatientID, &p.Cycle, scanDate(&p.StartDate), &p.Status, &p.Regimen,
			&days, &checks, &p.PrescriberID, &p.PrescriberName); err != nil {
			rows.Close()
			return nil, relais.E(op, err)
		}
		if err := fromJSONText(days, &p.Days); err != nil {
			rows.Close()
			return nil, relais.E(op, relais.KindIntegrity, "the days of prescription "+string(p.ID)+" are not readable", err)
		}
		if err := fromJSONText(checks, &p.Checks); err != nil {
			rows.Close()
			return nil, relais.E(op, relais.KindIntegrity, "the checks of prescription "+string(p.ID)+" are not readable", err)
		}
		p.Lines = []relais.PrescriptionLine{}
		index[p.ID] = len(out)
		out = append(out, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, relais.E(op, err)
	}
	q, args = tx.db.inList(`SELECT id, prescription_id, seq, day, date, inn, drug_class, kind, route, dose, unit, vehicle, volume_ml,
		duration_min, rate_ml_h, status FROM prescription_line WHERE prescription_id IN (%s) ORDER BY day, seq, id`, ids)
	rows, err = tx.Query(q, args...)
	if err != nil {
		return nil, relais.E(op, err)
	}
	defer rows.Close()
	for rows.Next() {
		var l relais.PrescriptionLine
		var presID relais.ID
		if err := rows.Scan(&l.ID, &presID, &l.Seq, &l.Day, scanDate(&l.Date), &l.INN, &l.DrugClass, &l.Kind, &l.Route, &l.Dose,
			&l.Unit, &l.Vehicle, &l.VolumeML, &l.DurationMin, &l.RateMLH, &l.Status); err != nil {
			return nil, relais.E(op, err)
		}
		if i, ok := index[presID]; ok {
			out[i].Lines = append(out[i].Lines, l)
		}
	}
	return out, rows.Err()
}

func openTreatments(tx *Tx) ([]relais.Treatment, error) {
	// This site's treatments: a copy held for mutual aid (another site's
	// treatment) is not this site's to prescribe.
	rows, err := tx.Query(`SELECT `+treatmentColumns+` FROM treatment WHERE status IN ('planned', 'active') AND site = ? ORDER BY start_date, id`, tx.Site())
	if err != nil {
		return nil, relais.E("treatment.list", err)
	}
	defer rows.Close()
	var out []relais.Treatment
	for rows.Next() {
		t, err := scanTreatment(rows)
		if err != nil {
			return nil, relais.E("treatment.list", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// patientNames reads what a worklist shows of patients (names, local id,
// birth date) in one query.
func patientNames(tx *Tx, ids []relais.ID) (map[relais.ID]relais.Patient, error) {
	out := map[relais.ID]relais.Patient{}
	seen := map[relais.ID]bool{}
	var uniq []relais.ID
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			uniq = append(uniq, id)
		}
	}
	if len(uniq) == 0 {
		return out, nil
	}
	q, args := tx.db.inList("SELECT id, ipp, birth_name, used_name, first_names, birth_date FROM patient WHERE id IN (%s)", uniq)
	rows, err := tx.Query(q, args...)
	if err != nil {
		return nil, relais.E("patient.list", err)
	}
	defer rows.Close()
	for rows.Next() {
		var p relais.Patient
		var firstNames string
		if err := rows.Scan(&p.ID, &p.IPP, &p.BirthName, &p.UsedName, &firstNames, scanDate(&p.BirthDate)); err != nil {
			return nil, relais.E("patient.list", err)
		}
		if err := json.Unmarshal([]byte(firstNames), &p.FirstNames); err != nil {
			return nil, relais.E("patient.list", relais.KindIntegrity, "the first names of patient "+string(p.ID)+" are not readable", err)
		}
		out[p.ID] = p
	}
	return out, rows.Err()
}

func idList(tx *Tx, q string, args ...any) ([]relais.ID, error) {
	rows, err := tx.Query(q, args...)
	if err != nil {
		return nil, relais.E("list", err)
	}
	defer rows.Close()
	var ids []relais.ID
	for rows.Next() {
		var id relais.ID
		if err := rows.Scan(&id); err != nil {
			return nil, relais.E("list", err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// DayToPrepare reads the days dated on that have lines validated for the
// pharmacy to prepare (not taken by mouth) — a technician's home list,
// each day with those lines only — in the order of the worklist's Today,
// up to limit (0: all), and how many there are. A line is validated only
// once its day has its OK-to-treat: these are the days of Today that have
// such lines, read without reading the others.
func (db *DB) DayToPrepare(ctx context.Context, on relais.Date, limit int) (items []relais.WorklistItem, total int, err error) {
	if _, err := relais.ParseDate("on", string(on)); err != nil {
		return nil, 0, err
	}
	const cond = ` FROM prescription p WHERE p.status = 'signed' AND EXISTS (SELECT 1 FROM prescription_line l
		WHERE l.prescription_id = p.id AND l.date = ? AND l.status = 'validated' AND l.route <> 'PO')`
	q := "SELECT p.id" + cond + " ORDER BY p.start_date, p.cycle, p.id"
	if limit > 0 {
		q += " LIMIT " + strconv.Itoa(limit)
	}
	items = []relais.WorklistItem{}
	err = db.Read(ctx, func(tx *Tx) error {
		ids, err := idList(tx, q, string(on))
		if err != nil {
			return err
		}
		total = len(ids)
		if limit > 0 && len(ids) == limit {
			if err := tx.QueryRow("SELECT COUNT(*)"+cond, string(on)).Scan(&total); err != nil {
				return relais.E("worklist", err)
			}
		}
		prescriptions, err := worklistPrescriptions(tx, ids)
		if err != nil {
			return err
		}
		var pids []relais.ID
		for _, p := range prescriptions {
			pids = append(pids, p.PatientID)
		}
		patients, err := patientNames(tx, pids)
		if err != nil {
			return err
		}
		for _, p := range prescriptions {
			pt := patients[p.PatientID]
			for _, d := range p.Days {
				if d.Date != on || d.OKToTreat == nil {
					continue
				}
				it := relais.WorklistItem{PatientID: p.PatientID, PatientName: pt.DisplayName(), IPP: pt.IPP, BirthDate: pt.BirthDate,
					TreatmentID: p.TreatmentID, PrescriptionID: p.ID, Regimen: p.Regimen, Cycle: p.Cycle, Day: d.Day, Date: d.Date,
					Status: p.Status, PrescriberName: p.PrescriberName}
				for _, l := range p.Lines {
					if l.Day == d.Day && l.Status == relais.LineValidated && l.Route != string(relais.RoutePO) {
						it.Lines = append(it.Lines, l)
					}
				}
				if len(it.Lines) > 0 {
					items = append(items, it)
				}
			}
		}
		return nil
	})
	return items, total, err
}
