package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/relais-onco/relais"
)

// Treatments: a patient's inclusion in one exact protocol version.

func init() {
	registerEntity("treatment", "treatment", func(tx *Tx, id relais.ID) (any, error) { return treatmentByID(tx, id) })
}

const treatmentColumns = `id, site, patient_id, protocol_id, protocol_version_id, protocol_code, protocol_name, version_number,
	arm, intent, start_date, planned_cycles, cycle_length_days, status, status_reason, created_at, created_by, updated_at`

func scanTreatment(sc interface{ Scan(...any) error }) (relais.Treatment, error) {
	var t relais.Treatment
	err := sc.Scan(&t.ID, &t.Site, &t.PatientID, &t.ProtocolID, &t.ProtocolVersionID, &t.ProtocolCode, &t.ProtocolName,
		&t.VersionNumber, &t.Arm, &t.Intent, scanDate(&t.StartDate), &t.PlannedCycles, &t.CycleLengthDays, &t.Status,
		&t.StatusReason, ScanTime(&t.CreatedAt), &t.CreatedBy, ScanTime(&t.UpdatedAt))
	return t, err
}

func treatmentByID(tx *Tx, id relais.ID) (relais.Treatment, error) {
	t, err := scanTreatment(tx.QueryRow("SELECT "+treatmentColumns+" FROM treatment WHERE id = ?", id))
	if err != nil {
		if relais.ErrorKind(mapErr(err)) == relais.KindNotFound {
			return t, relais.E("treatment.get", relais.KindNotFound, fmt.Sprintf("no treatment %s", id))
		}
		return t, relais.E("treatment.get", mapErr(err))
	}
	return t, nil
}

// Include includes a patient in an active protocol version.
func (db *DB) Include(ctx context.Context, req relais.IncludeRequest) (relais.Treatment, error) {
	const op = "treatment.include"
	var errs []error
	if req.PatientID == "" {
		errs = append(errs, relais.Invalid(op, "patient_id", "which patient? give patient_id"))
	}
	if req.ProtocolVersionID == "" {
		errs = append(errs, relais.Invalid(op, "protocol_version_id", "which protocol version? give protocol_version_id"))
	}
	if !slices.Contains(relais.Intents, req.Intent) {
		errs = append(errs, relais.Invalid(op, "intent", "intent must be one of %s", strings.Join(relais.Intents, ", ")))
	}
	if _, err := relais.ParseDate("start_date", string(req.StartDate)); err != nil {
		errs = append(errs, err)
	}
	if err := relais.Errors(op, errs); err != nil {
		return relais.Treatment{}, err
	}
	var t relais.Treatment
	err := db.Write(ctx, op, func(tx *Tx) error {
		p, err := patientByID(tx, req.PatientID)
		if err != nil {
			return relais.E(op, relais.Field("patient_id"), err)
		}
		if p.Status != relais.PatientActive {
			return relais.E(op, relais.KindConflict, relais.Field("patient_id"),
				fmt.Sprintf("patient %s was merged into %s: include that patient instead", p.ID, p.MergedInto))
		}
		v, err := versionByID(tx, req.ProtocolVersionID)
		if err != nil {
			return relais.E(op, relais.Field("protocol_version_id"), err)
		}
		if v.Status != relais.VersionActive {
			return relais.E(op, relais.KindConflict, relais.Field("protocol_version_id"),
				fmt.Sprintf("version %d of this protocol is %s: only an active version can be prescribed", v.Number, v.Status))
		}
		proto, err := protocolByID(tx, v.ProtocolID)
		if err != nil {
			return err
		}
		a := tx.Actor()
		t = relais.Treatment{
			ID: relais.NewID(), Site: tx.Site(), PatientID: p.ID, ProtocolID: proto.ID, ProtocolVersionID: v.ID,
			ProtocolCode: proto.Code, ProtocolName: proto.Name, VersionNumber: v.Number, Arm: strings.TrimSpace(req.Arm),
			Intent: req.Intent, StartDate: req.StartDate, PlannedCycles: v.Content.Cycles.Count,
			CycleLengthDays: v.Content.Cycles.LengthDays, Status: relais.TreatmentPlanned,
			CreatedAt: tx.Now(), CreatedBy: a.DisplayName(), UpdatedAt: tx.Now(),
		}
		_, err = tx.Exec(`INSERT INTO treatment (`+treatmentColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			t.ID, t.Site, t.PatientID, t.ProtocolID, t.ProtocolVersionID, t.ProtocolCode, t.ProtocolName, t.VersionNumber,
			t.Arm, t.Intent, string(t.StartDate), t.PlannedCycles, t.CycleLengthDays, t.Status, t.StatusReason,
			T(t.CreatedAt), t.CreatedBy, T(t.UpdatedAt))
		if err != nil {
			return err
		}
		if t, err = treatmentByID(tx, t.ID); err != nil {
			return err
		}
		return tx.Journal(op, "treatment", t.ID, nil, t)
	})
	return t, err
}

// Treatment returns one treatment.
func (db *DB) Treatment(ctx context.Context, id relais.ID) (relais.Treatment, error) {
	var t relais.Treatment
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		t, err = treatmentByID(tx, id)
		return err
	})
	return t, err
}

// PatientTreatments lists a patient's treatments, oldest first.
func (db *DB) PatientTreatments(ctx context.Context, patientID relais.ID) ([]relais.Treatment, error) {
	var out []relais.Treatment
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		out, err = treatmentsOf(tx, patientID)
		return err
	})
	return out, err
}

func treatmentsOf(tx *Tx, patientID relais.ID) ([]relais.Treatment, error) {
	family, err := patientFamily(tx, patientID)
	if err != nil {
		return nil, err
	}
	q, args := tx.db.inList("SELECT "+treatmentColumns+" FROM treatment WHERE patient_id IN (%s) ORDER BY start_date, id", family)
	rows, err := tx.Query(q, args...)
	if err != nil {
		return nil, relais.E("treatment.list", err)
	}
	defer rows.Close()
	out := []relais.Treatment{}
	for rows.Next() {
		t, err := scanTreatment(rows)
		if err != nil {
			return nil, relais.E("treatment.list", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// StopTreatment stops a treatment, with a reason; its history stays.
func (db *DB) StopTreatment(ctx context.Context, id relais.ID, reason string) (relais.Treatment, error) {
	return db.moveTreatment(ctx, "treatment.stop", id, relais.TreatmentStopped, reason)
}

func (db *DB) moveTreatment(ctx context.Context, op string, id relais.ID, to relais.TreatmentStatus, reason string) (relais.Treatment, error) {
	reason = strings.TrimSpace(reason)
	if to == relais.TreatmentStopped && reason == "" {
		return relais.Treatment{}, relais.Invalid(op, "reason", "say why the treatment is stopped")
	}
	var t relais.Treatment
	err := db.Write(ctx, op, func(tx *Tx) error {
		before, err := treatmentByID(tx, id)
		if err != nil {
			return err
		}
		if err := moveTreatmentTx(tx, op, before, to, reason); err != nil {
			return err
		}
		t, err = treatmentByID(tx, id)
		return err
	})
	return t, err
}

// moveTreatmentTx changes a treatment's status inside a transaction and
// journals it.
func moveTreatmentTx(tx *Tx, op string, before relais.Treatment, to relais.TreatmentStatus, reason string) error {
	if !before.Status.CanMove(to) {
		return relais.E(op, relais.KindTransition, fmt.Sprintf("a %s treatment cannot become %s", before.Status, to))
	}
	if _, err := tx.Exec("UPDATE treatment SET status = ?, status_reason = ?, updated_at = ? WHERE id = ?",
		to, reason, T(tx.Now()), before.ID); err != nil {
		return err
	}
	after, err := treatmentByID(tx, before.ID)
	if err != nil {
		return err
	}
	return tx.Journal(op, "treatment", before.ID, before, after)
}

// jsonText encodes v for a JSON text column.
func jsonText(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// fromJSONText decodes a JSON text column; "" leaves v as it is.
func fromJSONText(s string, v any) error {
	if s == "" {
		return nil
	}
	return json.Unmarshal([]byte(s), v)
}
