package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/clinical"
)

// Cycle prescriptions, from draft to pharmaceutical validation. Each method
// loads the prescription in its transaction, applies one transition of the
// domain (relais.Prescription's methods), writes it back and journals the
// whole prescription before and after.

func init() {
	registerEntity("prescription", "prescription", func(tx *Tx, id relais.ID) (any, error) { return prescriptionByID(tx, id) })
}

const prescriptionColumns = `id, site, treatment_id, patient_id, cycle, start_date, status, protocol_version_id, regimen,
	measurements, days, checks, prescriber_id, prescriber_name, signed_at, cancel_reason, created_at, updated_at`

const lineColumns = `id, prescription_id, seq, day, date, protocol_line_id, drug_id, inn, drug_class, kind, route, rule, dose, unit,
	calculation, modification, vehicle, volume_ml, duration_min, rate_ml_h, comments, status, validation`

func scanPrescription(sc interface{ Scan(...any) error }) (relais.Prescription, error) {
	var p relais.Prescription
	var meas, days, checks string
	err := sc.Scan(&p.ID, &p.Site, &p.TreatmentID, &p.PatientID, &p.Cycle, scanDate(&p.StartDate), &p.Status,
		&p.ProtocolVersionID, &p.Regimen, &meas, &days, &checks, &p.PrescriberID, &p.PrescriberName,
		ScanTime(&p.SignedAt), &p.CancelReason, ScanTime(&p.CreatedAt), ScanTime(&p.UpdatedAt))
	if err != nil {
		return p, err
	}
	if err := fromJSONText(meas, &p.Measurements); err != nil {
		return p, fmt.Errorf("prescription %s: measurements: %w", p.ID, err)
	}
	if err := fromJSONText(days, &p.Days); err != nil {
		return p, fmt.Errorf("prescription %s: days: %w", p.ID, err)
	}
	if err := fromJSONText(checks, &p.Checks); err != nil {
		return p, fmt.Errorf("prescription %s: checks: %w", p.ID, err)
	}
	return p, nil
}

func scanLine(sc interface{ Scan(...any) error }) (relais.PrescriptionLine, string, error) {
	var l relais.PrescriptionLine
	var presID, rule, calc, mod, val string
	err := sc.Scan(&l.ID, &presID, &l.Seq, &l.Day, scanDate(&l.Date), &l.ProtocolLineID, &l.DrugID, &l.INN, &l.DrugClass,
		&l.Kind, &l.Route, &rule, &l.Dose, &l.Unit, &calc, &mod, &l.Vehicle, &l.VolumeML, &l.DurationMin, &l.RateMLH,
		&l.Comments, &l.Status, &val)
	if err != nil {
		return l, "", err
	}
	for _, c := range []struct {
		s string
		v any
	}{{rule, &l.Rule}, {calc, &l.Calculation}, {mod, &l.Modification}, {val, &l.Validation}} {
		if err := fromJSONText(c.s, c.v); err != nil {
			return l, "", fmt.Errorf("prescription line %s: %w", l.ID, err)
		}
	}
	return l, presID, nil
}

func prescriptionByID(tx *Tx, id relais.ID) (relais.Prescription, error) {
	p, err := scanPrescription(tx.QueryRow("SELECT "+prescriptionColumns+" FROM prescription WHERE id = ?", id))
	if err != nil {
		if relais.ErrorKind(mapErr(err)) == relais.KindNotFound {
			return p, relais.E("prescription.get", relais.KindNotFound, fmt.Sprintf("no prescription %s", id))
		}
		return p, relais.E("prescription.get", mapErr(err))
	}
	rows, err := tx.Query("SELECT "+lineColumns+" FROM prescription_line WHERE prescription_id = ? ORDER BY day, seq, id", id)
	if err != nil {
		return p, relais.E("prescription.get", err)
	}
	defer rows.Close()
	p.Lines = []relais.PrescriptionLine{}
	for rows.Next() {
		l, _, err := scanLine(rows)
		if err != nil {
			return p, relais.E("prescription.get", err)
		}
		p.Lines = append(p.Lines, l)
	}
	return p, rows.Err()
}

// insertPrescription writes a new prescription and its lines.
func insertPrescription(tx *Tx, p *relais.Prescription) error {
	meas, days, checks, err := prescriptionDocs(p)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(`INSERT INTO prescription (`+prescriptionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.ID, p.Site, p.TreatmentID, p.PatientID, p.Cycle, string(p.StartDate), p.Status, p.ProtocolVersionID, p.Regimen,
		meas, days, checks, p.PrescriberID, p.PrescriberName, NT(p.SignedAt), p.CancelReason, T(p.CreatedAt), T(p.UpdatedAt)); err != nil {
		return err
	}
	for i := range p.Lines {
		if err := insertLine(tx, p.ID, &p.Lines[i]); err != nil {
			return err
		}
	}
	return nil
}

func prescriptionDocs(p *relais.Prescription) (meas, days, checks string, err error) {
	if meas, err = jsonText(p.Measurements); err != nil {
		return
	}
	if p.Days == nil {
		p.Days = []relais.PrescriptionDay{}
	}
	if days, err = jsonText(p.Days); err != nil {
		return
	}
	if p.Checks == nil {
		p.Checks = []relais.Check{}
	}
	checks, err = jsonText(p.Checks)
	return
}

func insertLine(tx *Tx, presID relais.ID, l *relais.PrescriptionLine) error {
	rule, calc, mod, val, err := lineDocs(l)
	if err != nil {
		return err
	}
	_, err = tx.Exec(`INSERT INTO prescription_line (`+lineColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		l.ID, presID, l.Seq, l.Day, string(l.Date), l.ProtocolLineID, l.DrugID, l.INN, l.DrugClass, l.Kind, l.Route, rule,
		l.Dose, l.Unit, calc, mod, l.Vehicle, l.VolumeML, l.DurationMin, l.RateMLH, l.Comments, l.Status, val)
	return err
}

func lineDocs(l *relais.PrescriptionLine) (rule, calc, mod, val string, err error) {
	if rule, err = jsonText(l.Rule); err != nil {
		return
	}
	if calc, err = jsonText(l.Calculation); err != nil {
		return
	}
	if l.Modification != nil {
		if mod, err = jsonText(l.Modification); err != nil {
			return
		}
	}
	if l.Validation != nil {
		val, err = jsonText(l.Validation)
	}
	return
}

// updatePrescription writes back what transitions may change: the header's
// status and documents, and each line's mutable fields.
func updatePrescription(tx *Tx, p *relais.Prescription) error {
	return updatePrescriptionSince(tx, p, nil)
}

// updatePrescriptionSince is updatePrescription writing only the lines that
// differ from before (nil: every line).
func updatePrescriptionSince(tx *Tx, p, before *relais.Prescription) error {
	meas, days, checks, err := prescriptionDocs(p)
	if err != nil {
		return err
	}
	p.UpdatedAt = tx.Now()
	if _, err := tx.Exec(`UPDATE prescription SET status = ?, start_date = ?, measurements = ?, days = ?, checks = ?,
		signed_at = ?, cancel_reason = ?, updated_at = ? WHERE id = ?`,
		p.Status, string(p.StartDate), meas, days, checks, NT(p.SignedAt), p.CancelReason, T(p.UpdatedAt), p.ID); err != nil {
		return err
	}
	for i := range p.Lines {
		l := &p.Lines[i]
		if before != nil {
			if old := before.Line(l.ID); old != nil && sameLine(old, l) {
				continue
			}
		}
		_, calc, mod, val, err := lineDocs(l)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(`UPDATE prescription_line SET date = ?, dose = ?, calculation = ?, modification = ?, status = ?, validation = ?
			WHERE id = ? AND prescription_id = ?`, string(l.Date), l.Dose, calc, mod, l.Status, val, l.ID, p.ID); err != nil {
			return err
		}
	}
	return nil
}

// sameLine reports whether a transition left a line as it was.
func sameLine(a, b *relais.PrescriptionLine) bool {
	ja, err1 := jsonText(a)
	jb, err2 := jsonText(b)
	return err1 == nil && err2 == nil && ja == jb
}

// Prescription returns one prescription with its lines.
func (db *DB) Prescription(ctx context.Context, id relais.ID) (relais.Prescription, error) {
	var p relais.Prescription
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		p, err = prescriptionByID(tx, id)
		return err
	})
	return p, err
}

// Prescribe computes a cycle of a treatment from the protocol version and
// the patient's latest measurements, and saves it as a draft with its checks.
func (db *DB) Prescribe(ctx context.Context, treatmentID relais.ID, req relais.PrescribeRequest) (relais.Prescription, error) {
	const op = "prescription.create"
	if _, err := relais.ParseDate("start_date", string(req.StartDate)); err != nil {
		return relais.Prescription{}, err
	}
	if req.Cycle <= 0 {
		return relais.Prescription{}, relais.Invalid(op, "cycle", "the cycle number starts at 1")
	}
	var p relais.Prescription
	err := db.Write(ctx, op, func(tx *Tx) error {
		t, err := treatmentByID(tx, treatmentID)
		if err != nil {
			return err
		}
		if t.Status != relais.TreatmentPlanned && t.Status != relais.TreatmentActive {
			return relais.E(op, relais.KindTransition, fmt.Sprintf("the treatment is %s: no new cycle can be prescribed", t.Status))
		}
		if req.Cycle > t.PlannedCycles {
			return relais.E(op, relais.KindInvalid, relais.Field("cycle"),
				fmt.Sprintf("the protocol plans %d cycles: cycle %d does not exist", t.PlannedCycles, req.Cycle))
		}
		v, err := versionByID(tx, t.ProtocolVersionID)
		if err != nil {
			return err
		}
		patient, err := patientByID(tx, t.PatientID)
		if err != nil {
			return err
		}
		if p, err = computePrescription(tx, t, v, patient, req); err != nil {
			return err
		}
		if err := evaluate(tx, &p, t, v, patient); err != nil {
			return err
		}
		if err := insertPrescription(tx, &p); err != nil {
			return err
		}
		if p, err = prescriptionByID(tx, p.ID); err != nil {
			return err
		}
		return tx.Journal(op, "prescription", p.ID, nil, p)
	})
	return p, err
}

// computePrescription builds the draft: days, lines and doses.
func computePrescription(tx *Tx, t relais.Treatment, v relais.ProtocolVersion, patient relais.Patient, req relais.PrescribeRequest) (relais.Prescription, error) {
	const op = "prescription.create"
	a := tx.Actor()
	p := relais.Prescription{
		ID: relais.NewID(), Site: tx.Site(), TreatmentID: t.ID, PatientID: patient.ID, Cycle: req.Cycle,
		StartDate: req.StartDate, Status: relais.PrescriptionDraft, ProtocolVersionID: v.ID,
		Regimen:      fmt.Sprintf("%s v%d", t.ProtocolCode, t.VersionNumber),
		PrescriberID: a.UserID, PrescriberName: a.DisplayName(), CreatedAt: tx.Now(), UpdatedAt: tx.Now(),
	}
	m, cp, err := usedMeasurements(tx, patient, req.StartDate)
	if err != nil {
		return p, err
	}
	p.Measurements = m
	for _, d := range v.Content.Days {
		p.Days = append(p.Days, relais.PrescriptionDay{Day: d, Date: req.StartDate.AddDays(d - 1)})
	}
	var errs []error
	for i, pl := range v.Content.Lines {
		for _, d := range pl.Days {
			l := relais.PrescriptionLine{
				ID: relais.NewID(), Seq: pl.Seq, Day: d, Date: req.StartDate.AddDays(d - 1), ProtocolLineID: pl.ID,
				DrugID: pl.DrugID, INN: pl.INN, Kind: string(pl.Kind), Route: string(pl.Route), Rule: pl.Dose,
				Vehicle: pl.Vehicle, VolumeML: pl.VolumeML, DurationMin: pl.DurationMin, RateMLH: pl.RateMLH,
				Comments: pl.Comments, Status: relais.LineProposed,
			}
			if pl.DrugID != "" {
				drug, err := drugByID(tx, pl.DrugID)
				if err != nil {
					return p, err
				}
				l.DrugClass = string(drug.Class)
			}
			if pl.Dose.Kind != "" {
				res, err := clinical.Dose(pl.Dose, cp)
				if err != nil {
					errs = append(errs, relais.E(op, relais.KindInvalid, relais.Field(fmt.Sprintf("lines[%d].dose", i)),
						fmt.Sprintf("%s: %s", pl.INN, relais.ErrorMessage(err)), err))
					continue
				}
				l.Dose, l.Unit, l.Calculation = res.Value, res.Unit, res
			}
			p.Lines = append(p.Lines, l)
		}
	}
	if err := relais.Errors(op, errs); err != nil {
		return p, err
	}
	return p, nil
}

// usedMeasurements takes the latest valid height, weight and creatinine
// measured on or before the cycle's start (or now, if later), and the age on
// day 1.
func usedMeasurements(tx *Tx, patient relais.Patient, start relais.Date) (relais.UsedMeasurements, clinical.Patient, error) {
	const op = "prescription.create"
	var m relais.UsedMeasurements
	family, err := patientFamily(tx, patient.ID)
	if err != nil {
		return m, clinical.Patient{}, err
	}
	cutoff := start.Time().Add(24 * time.Hour)
	if now := tx.Now(); now.After(cutoff) {
		cutoff = now
	}
	latest := func(kind string) (*relais.Measurement, error) { return latestMeasurement(tx, family, kind, cutoff) }
	h, err := latest("height_cm")
	if err != nil {
		return m, clinical.Patient{}, err
	}
	w, err := latest("weight_kg")
	if err != nil {
		return m, clinical.Patient{}, err
	}
	c, err := latest("creatinine_umol_l")
	if err != nil {
		return m, clinical.Patient{}, err
	}
	var errs []error
	if h == nil {
		errs = append(errs, relais.Invalid(op, "measurements.height_cm", "no height recorded for this patient: record one before prescribing"))
	}
	if w == nil {
		errs = append(errs, relais.Invalid(op, "measurements.weight_kg", "no weight recorded for this patient: record one before prescribing"))
	}
	age, err := relais.AgeOn(patient.BirthDate, start)
	if err != nil {
		errs = append(errs, relais.Invalid(op, "start_date", "the cycle cannot start before the patient's birth (%s)", patient.BirthDate))
	}
	if err := relais.Errors(op, errs); err != nil {
		return m, clinical.Patient{}, err
	}
	m.HeightCm, m.HeightAt = h.Value, h.MeasuredAt
	m.WeightKg, m.WeightAt = w.Value, w.MeasuredAt
	m.AgeYears = age.DecimalYears
	m.Sex = string(patient.Sex)
	ageYears := age.DecimalYears
	cp := clinical.Patient{AgeYears: &ageYears, Sex: string(patient.Sex), HeightCm: h.Value, WeightKg: w.Value}
	if c != nil {
		m.CreatinineUmolL, m.CreatinineAt = c.Value, c.MeasuredAt
		cp.CreatinineUmolL = c.Value
	}
	bsa, err := clinical.BSA("mosteller", h.Value, w.Value)
	if err != nil {
		return m, cp, relais.E(op, relais.Field("measurements"), err)
	}
	m.BSA, m.BSAM2 = bsa, bsa.Value
	return m, cp, nil
}

// latestMeasurement returns a patient's (and merged records') latest valid
// measurement of kind measured no later than until (the zero time: any), or
// nil when there is none — one row read, not the whole series.
func latestMeasurement(tx *Tx, family []relais.ID, kind string, until time.Time) (*relais.Measurement, error) {
	q, args := tx.db.inList("SELECT "+measurementColumns+" FROM measurement WHERE patient_id IN (%s) AND kind = ? AND voided_at IS NULL", family)
	args = append(args, kind)
	if !until.IsZero() {
		q += " AND measured_at <= ?"
		args = append(args, T(until))
	}
	m, err := scanMeasurement(tx.QueryRow(q+" ORDER BY measured_at DESC, id DESC LIMIT 1", args...))
	if err != nil {
		if relais.ErrorKind(mapErr(err)) == relais.KindNotFound {
			return nil, nil
		}
		return nil, relais.E("measurement.latest", mapErr(err))
	}
	return &m, nil
}

// evaluate runs the checks on p, carrying over acknowledgements already
// given (same code and line).
func evaluate(tx *Tx, p *relais.Prescription, t relais.Treatment, v relais.ProtocolVersion, patient relais.Patient) error {
	prev, dup, err := neighbours(tx, p)
	if err != nil {
		return err
	}
	cum, err := cumulativeWith(tx, p, v)
	if err != nil {
		return err
	}
	var allergies []string
	for _, a := range patient.Allergies {
		if a.Voided == nil {
			allergies = append(allergies, a.Substance)
		}
	}
	acks := map[string]*relais.CheckAck{}
	for _, c := range p.Checks {
		if c.Ack != nil {
			acks[c.Key()] = c.Ack
		}
	}
	p.Checks = relais.EvaluateChecks(relais.CheckInput{
		Prescription: p, Policy: relais.DefaultCheckPolicy, Allergies: allergies, Previous: prev,
		CycleLengthDays: t.CycleLengthDays, Duplicate: dup, Cumulative: cum,
	})
	for i := range p.Checks {
		if a, ok := acks[p.Checks[i].Key()]; ok && p.Checks[i].Level == relais.LevelAcknowledge {
			p.Checks[i].Ack = a
		}
	}
	return nil
}

// neighbours finds the previous signed cycle of the same treatment and any
// other live prescription of the same cycle.
func neighbours(tx *Tx, p *relais.Prescription) (prev *relais.Prescription, dup relais.ID, err error) {
	rows, err := tx.Query(`SELECT id, cycle, status FROM prescription WHERE treatment_id = ? AND id <> ? AND status <> 'cancelled'
		ORDER BY cycle DESC, start_date DESC`, p.TreatmentID, p.ID)
	if err != nil {
		return nil, "", err
	}
	type row struct {
		id     relais.ID
		cycle  int
		status relais.PrescriptionStatus
	}
	var rs []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.cycle, &r.status); err != nil {
			rows.Close()
			return nil, "", err
		}
		rs = append(rs, r)
	}
	rows.Close()
	var prevID relais.ID
	for _, r := range rs {
		if r.cycle == p.Cycle && dup == "" {
			dup = r.id
		}
		if r.cycle < p.Cycle && prevID == "" && r.status != relais.PrescriptionDraft {
			prevID = r.id
		}
	}
	if prevID != "" {
		pp, err := prescriptionByID(tx, prevID)
		if err != nil {
			return nil, "", err
		}
		prev = &pp
	}
	return prev, dup, nil
}

// loadPrescriptionFor loads a prescription for a transition, with a copy to
// compare lines against and its encoding to journal as the before-image.
func loadPrescriptionFor(tx *Tx, id relais.ID) (p, before relais.Prescription, beforeJSON json.RawMessage, err error) {
	if p, err = prescriptionByID(tx, id); err != nil {
		return
	}
	if beforeJSON, err = json.Marshal(p); err != nil {
		return
	}
	err = json.Unmarshal(beforeJSON, &before) // an independent deep copy
	return
}

// transition applies change to a prescription and saves it, journaled.
func (db *DB) transition(ctx context.Context, op string, id relais.ID, change func(tx *Tx, p *relais.Prescription) error) (relais.Prescription, error) {
	var out relais.Prescription
	err := db.Write(ctx, op, func(tx *Tx) error {
		p, before, beforeJSON, err := loadPrescriptionFor(tx, id)
		if err != nil {
			return err
		}
		if err := change(tx, &p); err != nil {
			return err
		}
		if err := updatePrescriptionSince(tx, &p, &before); err != nil {
			return err
		}
		if out, err = prescriptionByID(tx, id); err != nil {
			return err
		}
		return tx.Journal(op, "prescription", id, beforeJSON, out)
	})
	return out, err
}

// recheck re-runs the checks after a change (dose, date).
func recheck(tx *Tx, p *relais.Prescription) error {
	t, err := treatmentByID(tx, p.TreatmentID)
	if err != nil {
		return err
	}
	v, err := versionByID(tx, p.ProtocolVersionID)
	if err != nil {
		return err
	}
	patient, err := patientByID(tx, p.PatientID)
	if err != nil {
		return err
	}
	return evaluate(tx, p, t, v, patient)
}

// ModifyLine changes a line's dose by a percentage or to a value, with a
// reason. A draft's lines may be modified; after signature, only a line the
// pharmacist refused (it goes back to proposed).
func (db *DB) ModifyLine(ctx context.Context, prescriptionID, lineID relais.ID, req relais.ModifyLineRequest) (relais.Prescription, error) {
	const op = "prescription.modify_line"
	return db.transition(ctx, op, prescriptionID, func(tx *Tx, p *relais.Prescription) error {
		if err := p.ModifyLine(lineID, req, tx.Actor(), tx.Now()); err != nil {
			return err
		}
		return recheck(tx, p)
	})
}

// Postpone moves a day of the cycle (and its lines) to another date.
func (db *DB) Postpone(ctx context.Context, prescriptionID relais.ID, req relais.PostponeRequest) (relais.Prescription, error) {
	const op = "prescription.postpone"
	return db.transition(ctx, op, prescriptionID, func(tx *Tx, p *relais.Prescription) error {
		if err := p.Postpone(req, tx.Actor(), tx.Now()); err != nil {
			return err
		}
		return recheck(tx, p)
	})
}

// Acknowledge records that a warning was read and why it is overridden.
func (db *DB) Acknowledge(ctx context.Context, prescriptionID relais.ID, req relais.AcknowledgeRequest) (relais.Prescription, error) {
	return db.transition(ctx, "prescription.acknowledge", prescriptionID, func(tx *Tx, p *relais.Prescription) error {
		return p.Acknowledge(req, tx.Actor(), tx.Now())
	})
}

// Sign signs a draft: refused while a check blocks or an order element is
// missing, each named.
func (db *DB) Sign(ctx context.Context, prescriptionID relais.ID) (relais.Prescription, error) {
	const op = "prescription.sign"
	return db.transition(ctx, op, prescriptionID, func(tx *Tx, p *relais.Prescription) error {
		if err := recheck(tx, p); err != nil { // the world may have moved since the draft
			return err
		}
		patient, err := patientByID(tx, p.PatientID)
		if err != nil {
			return err
		}
		if err := p.Sign(patient, tx.Actor(), tx.Now()); err != nil {
			return err
		}
		t, err := treatmentByID(tx, p.TreatmentID)
		if err != nil {
			return err
		}
		if t.Status == relais.TreatmentPlanned {
			return moveTreatmentTx(tx, "treatment.start", t, relais.TreatmentActive, "first cycle signed")
		}
		return nil
	})
}

// GiveOKToTreat records the day's go-ahead with the latest lab values.
func (db *DB) GiveOKToTreat(ctx context.Context, prescriptionID relais.ID, req relais.OKToTreatRequest) (relais.Prescription, error) {
	const op = "prescription.ok_to_treat"
	return db.transition(ctx, op, prescriptionID, func(tx *Tx, p *relais.Prescription) error {
		v, err := versionByID(tx, p.ProtocolVersionID)
		if err != nil {
			return err
		}
		seen, err := seenValues(tx, p.PatientID, v.Content.Criteria, req.Day)
		if err != nil {
			return err
		}
		return p.GiveOKToTreat(req, v.Content.Criteria, seen, tx.Actor(), tx.Now())
	})
}

// seenValues reads the latest value of each lab a day's criteria test.
func seenValues(tx *Tx, patientID relais.ID, criteria []relais.Criterion, day int) (map[string]relais.SeenValue, error) {
	family, err := patientFamily(tx, patientID)
	if err != nil {
		return nil, err
	}
	out := map[string]relais.SeenValue{}
	for _, c := range criteria {
		if !c.AppliesOn(day) {
			continue
		}
		if c.Lab == "creatinine_clearance" {
			v, ok, err := estimatedClearance(tx, patientID, family, c.Unit)
			if err != nil {
				return nil, err
			}
			if ok {
				out[c.Lab] = v
			}
			continue
		}
		kind, ok := relais.CriterionMeasurement(c)
		if !ok {
			continue
		}
		m, err := latestMeasurement(tx, family, kind, time.Time{})
		if err != nil {
			return nil, err
		}
		if m != nil {
			out[c.Lab] = relais.SeenValue{Kind: m.Kind, Value: m.Value, Unit: m.Unit, MeasuredAt: m.MeasuredAt}
		}
	}
	return out, nil
}

// estimatedClearance estimates the creatinine clearance a criterion asks
// for from the latest creatinine, weight and height: Cockcroft–Gault in
// mL/min for adults; for children, bedside Schwartz in mL/min/1.73 m² (and,
// when the criterion is in mL/min, de-indexed with the Mosteller BSA: ×
// BSA / 1.73). The value seen says which, and carries the creatinine's date.
func estimatedClearance(tx *Tx, patientID relais.ID, family []relais.ID, unit string) (relais.SeenValue, bool, error) {
	patient, err := patientByID(tx, patientID)
	if err != nil {
		return relais.SeenValue{}, false, err
	}
	latest := func(kind string) (*relais.Measurement, error) {
		return latestMeasurement(tx, family, kind, time.Time{})
	}
	cr, err := latest("creatinine_umol_l")
	if err != nil || cr == nil {
		return relais.SeenValue{}, false, err
	}
	w, err := latest("weight_kg")
	if err != nil || w == nil {
		return relais.SeenValue{}, false, err
	}
	h, err := latest("height_cm")
	if err != nil || h == nil {
		return relais.SeenValue{}, false, err
	}
	age, err := relais.AgeAt(patient.BirthDate, cr.MeasuredAt)
	if err != nil {
		return relais.SeenValue{}, false, nil
	}
	years := age.DecimalYears
	in := clinical.GFRInput{AgeYears: &years, Sex: string(patient.Sex), HeightCm: h.Value, WeightKg: w.Value, CreatinineUmolL: cr.Value}
	kind := "creatinine_clearance (Cockcroft–Gault)"
	switch {
	case years >= 18 && unit == "mL/min":
		in.Method = "cockcroft_gault"
	case years >= 18:
		in.Method, kind = "ckd_epi_2021", "creatinine_clearance (CKD-EPI 2021)"
	default:
		in.Method, kind = "schwartz_bedside", "creatinine_clearance (bedside Schwartz)"
	}
	res, err := clinical.GFR(in)
	if err != nil {
		return relais.SeenValue{}, false, nil // an implausible input: no value seen, the criterion reads "no value"
	}
	v := res.Value
	if years < 18 && unit == "mL/min" {
		bsa, err := clinical.BSA("mosteller", h.Value, w.Value)
		if err != nil {
			return relais.SeenValue{}, false, nil
		}
		v = res.Value * bsa.Value / 1.73
		kind = "creatinine_clearance (bedside Schwartz × BSA / 1.73)"
	}
	return relais.SeenValue{Kind: kind, Value: v, Unit: unit, MeasuredAt: cr.MeasuredAt}, true, nil
}

// ValidateLine records the pharmacist's decision on a line.
func (db *DB) ValidateLine(ctx context.Context, prescriptionID, lineID relais.ID, req relais.ValidateLineRequest) (relais.Prescription, error) {
	return db.transition(ctx, "prescription.validate_line", prescriptionID, func(tx *Tx, p *relais.Prescription) error {
		if err := p.ValidateLine(lineID, req, tx.Actor(), tx.Now()); err != nil {
			return err
		}
		if l := p.Line(lineID); l.Status == relais.LineValidated {
			return createPreparationForLine(tx, p, l) // production.go
		}
		return nil
	})
}

// ValidateLines records a pharmacist's decisions on several lines at once
// (typically a whole day): all are applied, or none.
func (db *DB) ValidateLines(ctx context.Context, prescriptionID relais.ID, req relais.ValidateLinesRequest) (relais.Prescription, error) {
	const op = "prescription.validate_lines"
	if len(req.Lines) == 0 {
		return relais.Prescription{}, relais.Invalid(op, "lines", "give at least one line's decision")
	}
	return db.transition(ctx, op, prescriptionID, func(tx *Tx, p *relais.Prescription) error {
		for i, d := range req.Lines {
			if err := p.ValidateLine(d.LineID, d.ValidateLineRequest, tx.Actor(), tx.Now()); err != nil {
				return relais.E(op, relais.Field(fmt.Sprintf("lines[%d]", i)), err)
			}
			if l := p.Line(d.LineID); l.Status == relais.LineValidated {
				if err := createPreparationForLine(tx, p, l); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// CancelPrescription cancels a prescription; its history stays.
func (db *DB) CancelPrescription(ctx context.Context, prescriptionID relais.ID, reason string) (relais.Prescription, error) {
	return db.transition(ctx, "prescription.cancel", prescriptionID, func(tx *Tx, p *relais.Prescription) error {
		if err := p.Cancel(reason); err != nil {
			return err
		}
		return cancelPreparationsOf(tx, p.ID, reason) // production.go: they keep their register numbers
	})
}

// ValidationQueue lists the days with lines waiting for a pharmacist:
// signed prescriptions whose day has its OK-to-treat, and lines proposed.
func (db *DB) ValidationQueue(ctx context.Context) ([]relais.QueueItem, error) {
	out := []relais.QueueItem{}
	err := db.Read(ctx, func(tx *Tx) error {
		// One query counts the proposed lines per day; only the days'
		// OK-to-treat are decoded, not whole prescriptions (the queue is
		// read all day by every pharmacist: measured by relais load).
		rows, err := tx.Query(`SELECT p.id, p.patient_id, p.regimen, p.cycle, p.days, l.day, count(*)
			FROM prescription p JOIN prescription_line l ON l.prescription_id = p.id
			WHERE p.status = 'signed' AND l.status = 'proposed'
			GROUP BY p.id, p.patient_id, p.regimen, p.cycle, p.days, l.day ORDER BY p.id, l.day`)
		if err != nil {
			return err
		}
		defer rows.Close()
		var patients []relais.ID
		days := map[relais.ID][]relais.PrescriptionDay{}
		for rows.Next() {
			var it relais.QueueItem
			var daysJSON string
			if err := rows.Scan(&it.PrescriptionID, &it.PatientID, &it.Regimen, &it.Cycle, &daysJSON, &it.Day, &it.Lines); err != nil {
				return err
			}
			ds, ok := days[it.PrescriptionID]
			if !ok {
				if err := fromJSONText(daysJSON, &ds); err != nil {
					return fmt.Errorf("prescription %s: days: %w", it.PrescriptionID, err)
				}
				days[it.PrescriptionID] = ds
			}
			for _, d := range ds {
				if d.Day == it.Day && d.OKToTreat != nil {
					it.Date = d.Date
					out = append(out, it)
					patients = append(patients, it.PatientID)
				}
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		names, err := patientNames(tx, patients)
		if err != nil {
			return err
		}
		for i := range out {
			out[i].PatientName = names[out[i].PatientID].DisplayName()
		}
		return nil
	})
	return out, err
}

// History returns a patient's treatments and prescriptions with cumulative
// doses, oldest first.
func (db *DB) History(ctx context.Context, patientID relais.ID) (relais.History, error) {
	h := relais.History{PatientID: patientID}
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		if _, err = patientByID(tx, patientID); err != nil {
			return err
		}
		if h.Treatments, err = treatmentsOf(tx, patientID); err != nil {
			return err
		}
		if h.Prescriptions, err = prescriptionsOf(tx, patientID, false); err != nil {
			return err
		}
		h.Cumulative, err = cumulativeOf(h.Prescriptions, nil)
		return err
	})
	return h, err
}

// prescriptionsOf lists a patient's prescriptions (merged records
// included), oldest first, with their lines, in two queries. Without
// derivations the lines' Calculation is left empty: a ten-year history is
// read and sent ten times faster, and each line's derivation is one request
// away (GET /prescriptions/{id}).
func prescriptionsOf(tx *Tx, patientID relais.ID, withDerivations bool) ([]relais.Prescription, error) {
	family, err := patientFamily(tx, patientID)
	if err != nil {
		return nil, err
	}
	q, args := tx.db.inList("SELECT "+prescriptionColumns+" FROM prescription WHERE patient_id IN (%s) ORDER BY start_date, cycle, id", family)
	rows, err := tx.Query(q, args...)
	if err != nil {
		return nil, err
	}
	out := []relais.Prescription{}
	index := map[relais.ID]int{}
	for rows.Next() {
		p, err := scanPrescription(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		p.Lines = []relais.PrescriptionLine{}
		index[p.ID] = len(out)
		out = append(out, p)
	}
	rows.Close()
	if len(out) == 0 {
		return out, nil
	}
	cols := prefixed("l.", lineColumns)
	if !withDerivations {
		cols = strings.Replace(cols, "l.calculation", "''", 1)
	}
	q, args = tx.db.inList(`SELECT `+cols+` FROM prescription_line l JOIN prescription p ON p.id = l.prescription_id
		WHERE p.patient_id IN (%s) ORDER BY l.day, l.seq, l.id`, family)
	rows, err = tx.Query(q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		l, presID, err := scanLine(rows)
		if err != nil {
			return nil, err
		}
		if i, ok := index[relais.ID(presID)]; ok {
			out[i].Lines = append(out[i].Lines, l)
		}
	}
	return out, rows.Err()
}

func prefixed(prefix, columns string) string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		cols[i] = prefix + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}

// cumulativeWith totals the patient's lifetime doses including the draft p,
// against the protocol version's limits.
func cumulativeWith(tx *Tx, p *relais.Prescription, v relais.ProtocolVersion) ([]relais.CumulativeDose, error) {
	all, err := prescriptionsOf(tx, p.PatientID, false)
	if err != nil {
		return nil, err
	}
	found := false
	for i := range all {
		if all[i].ID == p.ID {
			all[i], found = *p, true
		}
	}
	if !found {
		all = append(all, *p)
	}
	return relais.CumulativeTotals(all, p.ID, v.Content.CumulativeLimits)
}

// cumulativeOf totals a history without a draft.
func cumulativeOf(ps []relais.Prescription, limits []relais.CumulativeLimit) ([]relais.CumulativeDose, error) {
	return relais.CumulativeTotals(ps, "", limits)
}
