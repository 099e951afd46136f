package sqlstore

import (
	"github.com/relais-onco/relais"
)

// Appliers of treatments and cycle prescriptions (with their lines).

func init() {
	registerApplier("treatment", applyTreatment)
	registerApplier("prescription", applyPrescription)
}

func applyTreatment(tx *Tx, id relais.ID, after []byte) error {
	var t relais.Treatment
	if err := decodeImage("treatment", id, after, &t); err != nil {
		return err
	}
	if err := checkImageID("treatment", id, t.ID); err != nil {
		return err
	}
	return upsert(tx, "treatment", []string{"id", "site", "patient_id", "protocol_id", "protocol_version_id", "protocol_code",
		"protocol_name", "version_number", "arm", "intent", "start_date", "planned_cycles", "cycle_length_days", "status",
		"status_reason", "created_at", "created_by", "updated_at"},
		[]any{t.ID, t.Site, t.PatientID, t.ProtocolID, t.ProtocolVersionID, t.ProtocolCode, t.ProtocolName, t.VersionNumber,
			t.Arm, t.Intent, string(t.StartDate), t.PlannedCycles, t.CycleLengthDays, t.Status, t.StatusReason,
			T(t.CreatedAt), t.CreatedBy, T(t.UpdatedAt)})
}

// applyPrescription writes the header and makes the lines match the image.
// Lines are never removed by Relais (a cancelled line stays, cancelled), so
// removal only happens when a copy held a line its source never had.
func applyPrescription(tx *Tx, id relais.ID, after []byte) error {
	var p relais.Prescription
	if err := decodeImage("prescription", id, after, &p); err != nil {
		return err
	}
	if err := checkImageID("prescription", id, p.ID); err != nil {
		return err
	}
	meas, days, checks, err := prescriptionDocs(&p)
	if err != nil {
		return err
	}
	if err := upsert(tx, "prescription", []string{"id", "site", "treatment_id", "patient_id", "cycle", "start_date", "status",
		"protocol_version_id", "regimen", "measurements", "days", "checks", "prescriber_id", "prescriber_name", "signed_at",
		"cancel_reason", "created_at", "updated_at"},
		[]any{p.ID, p.Site, p.TreatmentID, p.PatientID, p.Cycle, string(p.StartDate), p.Status, p.ProtocolVersionID, p.Regimen,
			meas, days, checks, p.PrescriberID, p.PrescriberName, NT(p.SignedAt), p.CancelReason, T(p.CreatedAt), T(p.UpdatedAt)}); err != nil {
		return err
	}
	keep := make([]string, 0, len(p.Lines))
	for i := range p.Lines {
		l := &p.Lines[i]
		keep = append(keep, string(l.ID))
		rule, calc, mod, val, err := lineDocs(l)
		if err != nil {
			return err
		}
		if err := upsert(tx, "prescription_line", []string{"id", "prescription_id", "seq", "day", "date", "protocol_line_id",
			"drug_id", "inn", "drug_class", "kind", "route", "rule", "dose", "unit", "calculation", "modification", "vehicle",
			"volume_ml", "duration_min", "rate_ml_h", "comments", "status", "validation"},
			[]any{l.ID, p.ID, l.Seq, l.Day, string(l.Date), l.ProtocolLineID, l.DrugID, l.INN, l.DrugClass, l.Kind, l.Route, rule,
				l.Dose, l.Unit, calc, mod, l.Vehicle, l.VolumeML, l.DurationMin, l.RateMLH, l.Comments, l.Status, val}); err != nil {
			return err
		}
	}
	return removeMissing(tx, "prescription_line", "prescription_id", id, "id", keep)
}
