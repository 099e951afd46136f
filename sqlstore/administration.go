package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/relais-onco/relais"
)

// Dispensing and administration: delivery slips (numbered per site and
// year like the register, from their own counter), the administration plan
// of a patient's day, and the nurse's record — with, for a liste-en-sus
// drug, its billing lines in the same transaction.

func init() {
	registerEntity("delivery_slip", "delivery_slip", func(tx *Tx, id relais.ID) (any, error) { return slipByID(tx, id) })
	registerEntity("administration", "administration", func(tx *Tx, id relais.ID) (any, error) { return administrationByID(tx, id) })
}

const slipCols = "id, site, number, ward, round_date, round, created_by, created_by_id, created_at, receipt, updated_at"

func slipByID(tx *Tx, id relais.ID) (relais.DeliverySlip, error) {
	var s relais.DeliverySlip
	var receipt string
	err := tx.QueryRow("SELECT "+slipCols+" FROM delivery_slip WHERE id = ?", id).Scan(&s.ID, &s.Site, &s.Number, &s.Ward,
		scanDate(&s.RoundDate), &s.Round, &s.CreatedBy, &s.CreatedByID, ScanTime(&s.CreatedAt), &receipt, ScanTime(&s.UpdatedAt))
	if err != nil {
		if relais.ErrorKind(mapErr(err)) == relais.KindNotFound {
			return s, relais.E("slip.get", relais.KindNotFound, fmt.Sprintf("no delivery slip %s", id))
		}
		return s, relais.E("slip.get", mapErr(err))
	}
	if err := fromJSONText(receipt, &s.Receipt); err != nil {
		return s, relais.E("slip.get", relais.KindIntegrity, err)
	}
	ids, err := queryStrings(tx, "SELECT preparation_id FROM slip_item WHERE slip_id = ? ORDER BY position", id)
	if err != nil {
		return s, relais.E("slip.get", err)
	}
	s.PreparationIDs = []relais.ID{}
	for _, x := range ids {
		s.PreparationIDs = append(s.PreparationIDs, relais.ID(x))
	}
	return s, nil
}

// CreateSlip puts released preparations (and oral or ready-to-use ones) on a
// delivery slip for a ward and round: each becomes dispensed.
func (db *DB) CreateSlip(ctx context.Context, req relais.SlipRequest) (relais.DeliverySlip, error) {
	const op = "slip.create"
	req.Ward = strings.TrimSpace(req.Ward)
	if err := req.Validate(op); err != nil {
		return relais.DeliverySlip{}, err
	}
	var out relais.DeliverySlip
	err := db.Write(ctx, op, func(tx *Tx) error {
		if err := requirePerm(op, tx.Actor(), relais.PermDispense); err != nil {
			return err
		}
		now := tx.Now()
		year := relais.RegisterYear(now)
		seq, err := nextNumbers(tx, "slip_counter", year, 1)
		if err != nil {
			return err
		}
		s := relais.DeliverySlip{ID: relais.NewID(), Site: tx.Site(), Number: fmt.Sprintf("BL-%04d-%06d", year, seq), Ward: req.Ward,
			RoundDate: req.RoundDate, Round: req.Round, PreparationIDs: req.PreparationIDs, CreatedBy: tx.Actor().DisplayName(),
			CreatedByID: tx.Actor().UserID, CreatedAt: now, UpdatedAt: now}
		if _, err := tx.Exec("INSERT INTO delivery_slip ("+slipCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '', ?)",
			s.ID, s.Site, s.Number, s.Ward, string(s.RoundDate), s.Round, s.CreatedBy, s.CreatedByID, T(now), T(now)); err != nil {
			return relais.E(op, err)
		}
		for i, pid := range req.PreparationIDs {
			field := fmt.Sprintf("preparation_ids[%d]", i)
			p, err := preparationByID(tx, pid)
			if err != nil {
				return relais.E(op, relais.Field(field), err)
			}
			before := p
			if err := p.Dispense(s, tx.Actor(), now); err != nil {
				return relais.E(op, relais.Field(field), err)
			}
			if _, err := tx.Exec("INSERT INTO slip_item (slip_id, preparation_id, position) VALUES (?, ?, ?)", s.ID, pid, i); err != nil {
				return relais.E(op, relais.Field(field), err)
			}
			if err := savePreparation(tx, "preparation.dispense", &p, &before); err != nil {
				return err
			}
		}
		if out, err = slipByID(tx, s.ID); err != nil {
			return err
		}
		return tx.Journal(op, "delivery_slip", s.ID, nil, out)
	})
	return out, err
}

// Slip returns one delivery slip.
func (db *DB) Slip(ctx context.Context, id relais.ID) (relais.DeliverySlip, error) {
	var s relais.DeliverySlip
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		s, err = slipByID(tx, id)
		return err
	})
	return s, err
}

// Slips lists the slips of a round day, by number.
func (db *DB) Slips(ctx context.Context, day relais.Date) ([]relais.DeliverySlip, error) {
	if _, err := relais.ParseDate("date", string(day)); err != nil {
		return nil, err
	}
	out := []relais.DeliverySlip{}
	err := db.Read(ctx, func(tx *Tx) error {
		ids, err := queryStrings(tx, "SELECT id FROM delivery_slip WHERE site = ? AND round_date = ? ORDER BY number", tx.Site(), string(day))
		if err != nil {
			return relais.E("slip.list", err)
		}
		for _, id := range ids {
			s, err := slipByID(tx, relais.ID(id))
			if err != nil {
				return err
			}
			out = append(out, s)
		}
		return nil
	})
	return out, err
}

// ReceiveSlip records the ward's receipt of a slip.
func (db *DB) ReceiveSlip(ctx context.Context, id relais.ID, req relais.ReceiptRequest) (relais.DeliverySlip, error) {
	const op = "slip.receive"
	var out relais.DeliverySlip
	err := db.Write(ctx, op, func(tx *Tx) error {
		if err := requirePerm(op, tx.Actor(), relais.PermAdministerRecord); err != nil {
			return err
		}
		s, err := slipByID(tx, id)
		if err != nil {
			return err
		}
		before := s
		if err := s.Receive(req.Comment, tx.Actor(), tx.Now()); err != nil {
			return err
		}
		receipt, err := jsonText(s.Receipt)
		if err != nil {
			return err
		}
		if _, err := tx.Exec("UPDATE delivery_slip SET receipt = ?, updated_at = ? WHERE id = ?", receipt, T(s.UpdatedAt), id); err != nil {
			return relais.E(op, err)
		}
		if out, err = slipByID(tx, id); err != nil {
			return err
		}
		return tx.Journal(op, "delivery_slip", id, before, out)
	})
	return out, err
}

// AdministrationPlan builds a patient's plan for a day from the validated
// lines of that day and their preparations, timed from 09:00 local time.
func (db *DB) AdministrationPlan(ctx context.Context, patientID relais.ID, day relais.Date) (relais.AdministrationPlan, error) {
	const op = "administration.plan"
	if _, err := relais.ParseDate("day", string(day)); err != nil {
		return relais.AdministrationPlan{}, err
	}
	var out relais.AdministrationPlan
	err := db.Read(ctx, func(tx *Tx) error {
		pat, err := patientByID(tx, patientID)
		if err != nil {
			return err
		}
		family, err := patientFamily(tx, patientID)
		if err != nil {
			return err
		}
		q, args := tx.db.inList(`SELECT DISTINCT p.id FROM prescription p JOIN prescription_line l ON l.prescription_id = p.id
			WHERE p.patient_id IN (%s) AND p.status IN ('signed', 'completed') AND l.date = ? AND l.status = 'validated' ORDER BY p.id`, family)
		ids, err := queryStrings(tx, q, append(args, string(day))...)
		if err != nil {
			return relais.E(op, err)
		}
		var lines []relais.PlanLine
		dataTime := pat.UpdatedAt
		for _, id := range ids {
			pres, err := prescriptionByID(tx, relais.ID(id))
			if err != nil {
				return err
			}
			dataTime = latest(dataTime, pres.UpdatedAt)
			for _, l := range pres.Lines {
				if l.Date != day || l.Status != relais.LineValidated {
					continue
				}
				pl := relais.PlanLine{Prescription: pres, Line: l}
				prep, err := livePreparationOfLine(tx, l.ID)
				if err != nil {
					return err
				}
				if prep != nil {
					dataTime = latest(dataTime, prep.UpdatedAt)
				}
				pl.Preparation = prep
				lines = append(lines, pl)
			}
		}
		t := day.Time()
		start := time.Date(t.Year(), t.Month(), t.Day(), 9, 0, 0, 0, relais.DisplayZone).UTC()
		out = relais.BuildAdministrationPlan(patientID, day, start, lines)
		out.DataTime = dataTime
		return nil
	})
	return out, err
}

// livePreparationOfLine is the line's preparation that is not rejected nor
// cancelled, if any.
func livePreparationOfLine(tx *Tx, lineID relais.ID) (*relais.Preparation, error) {
	ids, err := queryStrings(tx, "SELECT id FROM preparation WHERE line_id = ? AND status NOT IN ('rejected', 'cancelled')", lineID)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	p, err := preparationByID(tx, relais.ID(ids[0]))
	if err != nil {
		return nil, err
	}
	return &p, nil
}

const adminCols = `id, site, preparation_id, patient_id, register_number, outcome, started_at, ended_at, volume_given_ml, rate_ml_h,
	interruptions, incidents, scan, second_nurse, reason, cost_eur, indication_code, comment, recorded_by, recorded_by_id, recorded_at`

func scanAdministration(sc interface{ Scan(...any) error }) (relais.Administration, error) {
	var a relais.Administration
	var inter, inc, scan string
	err := sc.Scan(&a.ID, &a.Site, &a.PreparationID, &a.PatientID, &a.RegisterNumber, &a.Outcome, ScanTime(&a.StartedAt), ScanTime(&a.EndedAt),
		&a.VolumeGivenML, &a.RateMLH, &inter, &inc, &scan, &a.SecondNurse, &a.Reason, &a.CostEUR, &a.IndicationCode, &a.Comment,
		&a.RecordedBy, &a.RecordedByID, ScanTime(&a.RecordedAt))
	if err != nil {
		return a, err
	}
	for _, c := range []struct {
		s string
		v any
	}{{inter, &a.Interruptions}, {inc, &a.Incidents}, {scan, &a.Scan}} {
		if err := fromJSONText(c.s, c.v); err != nil {
			return a, relais.E(relais.KindIntegrity, fmt.Sprintf("administration %s cannot be read", a.ID), err)
		}
	}
	return a, nil
}

func administrationByID(tx *Tx, id relais.ID) (relais.Administration, error) {
	a, err := scanAdministration(tx.QueryRow("SELECT "+adminCols+" FROM administration WHERE id = ?", id))
	if err != nil {
		return a, relais.E("administration.get", "no such administration", mapErr(err))
	}
	return a, nil
}

// Administration returns what was recorded for a preparation.
func (db *DB) Administration(ctx context.Context, preparationID relais.ID) (relais.Administration, error) {
	var a relais.Administration
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		a, err = scanAdministration(tx.QueryRow("SELECT "+adminCols+" FROM administration WHERE preparation_id = ?", preparationID))
		if err != nil {
			if relais.ErrorKind(mapErr(err)) == relais.KindNotFound {
				return relais.E("administration.get", relais.KindNotFound, fmt.Sprintf("nothing is recorded for preparation %s", preparationID))
			}
			return relais.E("administration.get", mapErr(err))
		}
		return nil
	})
	return a, err
}

func insertAdministration(tx *Tx, a *relais.Administration) error {
	if a.Interruptions == nil {
		a.Interruptions = []relais.Interruption{}
	}
	if a.Incidents == nil {
		a.Incidents = []relais.Incident{}
	}
	inter, err := jsonText(a.Interruptions)
	if err != nil {
		return err
	}
	inc, err := jsonText(a.Incidents)
	if err != nil {
		return err
	}
	scan, err := optJSON(a.Scan, a.Scan == nil)
	if err != nil {
		return err
	}
	_, err = tx.Exec("INSERT INTO administration ("+adminCols+") VALUES ("+placeholders(21)+")",
		a.ID, a.Site, a.PreparationID, a.PatientID, a.RegisterNumber, a.Outcome, NT(a.StartedAt), NT(a.EndedAt), a.VolumeGivenML,
		a.RateMLH, inter, inc, scan, a.SecondNurse, a.Reason, a.CostEUR, a.IndicationCode, a.Comment, a.RecordedBy, a.RecordedByID,
		T(a.RecordedAt))
	return err
}

// RecordAdministration records a preparation given at the bedside. The
// label's DataMatrix scanned and the wristband's IPP must name this
// preparation and its patient, or nothing is recorded. A liste-en-sus
// product makes its billing lines, which need an indication code.
func (db *DB) RecordAdministration(ctx context.Context, preparationID relais.ID, req relais.AdministrationRequest) (relais.Administration, error) {
	const op = "administration.record"
	var out relais.Administration
	err := db.Write(ctx, op, func(tx *Tx) error {
		if err := requirePerm(op, tx.Actor(), relais.PermAdministerRecord); err != nil {
			return err
		}
		now := tx.Now()
		req.StartedAt, req.EndedAt = req.StartedAt.UTC().Truncate(time.Microsecond), req.EndedAt.UTC().Truncate(time.Microsecond)
		for i := range req.Interruptions {
			req.Interruptions[i].From = req.Interruptions[i].From.UTC().Truncate(time.Microsecond)
			req.Interruptions[i].To = req.Interruptions[i].To.UTC().Truncate(time.Microsecond)
			req.Interruptions[i].Reason = strings.TrimSpace(req.Interruptions[i].Reason)
		}
		for i := range req.Incidents {
			req.Incidents[i].At = req.Incidents[i].At.UTC().Truncate(time.Microsecond)
		}
		if err := req.Validate(op, now); err != nil {
			return err
		}
		p, err := preparationByID(tx, preparationID)
		if err != nil {
			return err
		}
		pat, err := patientByID(tx, p.PatientID)
		if err != nil {
			return err
		}
		if err := relais.CheckScan(p, pat, req.ScannedLabel, req.PatientIPP); err != nil {
			return err
		}
		if p.Mode == relais.ModeCompounded && !(req.VolumeGivenML > 0) {
			return relais.Invalid(op, "volume_given_ml", "give the volume of %s actually given, in mL", p.Display())
		}
		before := p
		if err := p.Administer(); err != nil {
			return err
		}
		code := strings.TrimSpace(req.IndicationCode)
		if code == "" {
			code = p.IndicationCode
		}
		a := relais.Administration{ID: relais.NewID(), Site: tx.Site(), PreparationID: p.ID, PatientID: p.PatientID,
			RegisterNumber: p.RegisterNumber, Outcome: relais.OutcomeAdministered, StartedAt: req.StartedAt, EndedAt: req.EndedAt,
			VolumeGivenML: req.VolumeGivenML, RateMLH: req.RateMLH, Interruptions: req.Interruptions, Incidents: req.Incidents,
			Scan:        &relais.ScanCheck{Label: strings.TrimSpace(req.ScannedLabel), PatientIPP: strings.TrimSpace(req.PatientIPP), At: now, Matched: true},
			SecondNurse: strings.TrimSpace(req.SecondNurse), IndicationCode: code, Comment: strings.TrimSpace(req.Comment),
			RecordedBy: tx.Actor().DisplayName(), RecordedByID: tx.Actor().UserID, RecordedAt: now}
		lines, err := billingLinesFor(tx, p, pat, a)
		if err != nil {
			return err
		}
		if err := insertAdministration(tx, &a); err != nil {
			return relais.E(op, err)
		}
		if out, err = administrationByID(tx, a.ID); err != nil {
			return err
		}
		if err := tx.Journal(op, "administration", a.ID, nil, out); err != nil {
			return err
		}
		if err := savePreparation(tx, op, &p, &before); err != nil {
			return err
		}
		for i := range lines {
			if err := insertBillingLine(tx, &lines[i]); err != nil {
				return err
			}
		}
		return completePrescriptionIfDone(tx, p.PrescriptionID)
	})
	return out, err
}

// RecordNotAdministered records a preparation returned or destroyed.
func (db *DB) RecordNotAdministered(ctx context.Context, preparationID relais.ID, req relais.NotAdministeredRequest) (relais.Administration, error) {
	const op = "administration.not_administered"
	var out relais.Administration
	err := db.Write(ctx, op, func(tx *Tx) error {
		a0 := tx.Actor()
		if !a0.Role.Can(relais.PermAdministerRecord) && !a0.Role.Can(relais.PermProductionRelease) {
			return requirePerm(op, a0, relais.PermAdministerRecord)
		}
		if err := req.Validate(op); err != nil {
			return err
		}
		p, err := preparationByID(tx, preparationID)
		if err != nil {
			return err
		}
		before := p
		if err := p.NotAdminister(); err != nil {
			return err
		}
		now := tx.Now()
		a := relais.Administration{ID: relais.NewID(), Site: tx.Site(), PreparationID: p.ID, PatientID: p.PatientID,
			RegisterNumber: p.RegisterNumber, Outcome: req.Outcome, Reason: strings.TrimSpace(req.Reason), CostEUR: round2(req.CostEUR),
			RecordedBy: a0.DisplayName(), RecordedByID: a0.UserID, RecordedAt: now}
		if err := insertAdministration(tx, &a); err != nil {
			return relais.E(op, err)
		}
		if out, err = administrationByID(tx, a.ID); err != nil {
			return err
		}
		if err := tx.Journal(op, "administration", a.ID, nil, out); err != nil {
			return err
		}
		if err := savePreparation(tx, op, &p, &before); err != nil {
			return err
		}
		return completePrescriptionIfDone(tx, p.PrescriptionID)
	})
	return out, err
}

func round2(v float64) float64 { return float64(int64(v*100+0.5)) / 100 }

// completePrescriptionIfDone completes a signed prescription once every
// line is decided and every preparation of its validated lines is
// administered or not administered (a line given from ward stock has none
// to wait for).
func completePrescriptionIfDone(tx *Tx, prescriptionID relais.ID) error {
	const op = "prescription.complete"
	p, err := prescriptionByID(tx, prescriptionID)
	if err != nil {
		return err
	}
	if p.Status != relais.PrescriptionSigned {
		return nil
	}
	// The latest preparation of each line, read once through the
	// prescription's index (a query per line on line_id scanned the table).
	latest := map[relais.ID]string{}
	rows, err := tx.Query("SELECT line_id, status FROM preparation WHERE prescription_id = ? ORDER BY created_at DESC, id DESC", p.ID)
	if err != nil {
		return relais.E(op, err)
	}
	for rows.Next() {
		var line relais.ID
		var status string
		if err := rows.Scan(&line, &status); err != nil {
			rows.Close()
			return relais.E(op, err)
		}
		if _, seen := latest[line]; !seen {
			latest[line] = status
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return relais.E(op, err)
	}
	for _, l := range p.Lines {
		if l.Status == relais.LineProposed || l.Status == relais.LineRefused {
			return nil // still to be decided, or back with the prescriber
		}
		if l.Status != relais.LineValidated {
			continue
		}
		// The line's latest preparation must be over; a line given from the
		// ward's stock has none.
		if st, ok := latest[l.ID]; ok {
			switch relais.PreparationStatus(st) {
			case relais.PrepAdministered, relais.PrepNotAdministered, relais.PrepCancelled:
			default:
				return nil
			}
		}
	}
	before := p
	p.Status = relais.PrescriptionCompleted
	if err := updatePrescription(tx, &p); err != nil {
		return relais.E(op, err)
	}
	after, err := prescriptionByID(tx, p.ID)
	if err != nil {
		return err
	}
	if err := tx.Journal(op, "prescription", p.ID, before, after); err != nil {
		return err
	}
	return completeTreatmentIfDone(tx, p.TreatmentID)
}

// completeTreatmentIfDone completes an active treatment of this site once
// the prescription of its last planned cycle is completed and no cycle is
// still open (a draft, or a signed prescription not yet over): its patient
// then leaves the lists of patients under treatment. A cycle beyond the
// planned ones cannot be prescribed, so nothing is lost; a treatment whose
// last cycle was cancelled stays active until a prescriber stops it.
func completeTreatmentIfDone(tx *Tx, treatmentID relais.ID) error {
	t, err := treatmentByID(tx, treatmentID)
	if err != nil {
		return err
	}
	if t.Status != relais.TreatmentActive || t.PlannedCycles <= 0 || t.Site != tx.Site() {
		return nil
	}
	var open, last int
	if err := tx.QueryRow(`SELECT COALESCE(SUM(CASE WHEN status IN ('draft', 'signed') THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN status = 'completed' AND cycle = ? THEN 1 ELSE 0 END), 0)
		FROM prescription WHERE treatment_id = ?`, t.PlannedCycles, t.ID).Scan(&open, &last); err != nil {
		return relais.E("treatment.complete", mapErr(err))
	}
	if open > 0 || last == 0 {
		return nil
	}
	return moveTreatmentTx(tx, "treatment.complete", t, relais.TreatmentCompleted,
		fmt.Sprintf("cycle %d of %d completed", t.PlannedCycles, t.PlannedCycles))
}
