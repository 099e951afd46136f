package sqlstore

import (
	"encoding/json"

	"github.com/relais-onco/relais"
)

// Appliers of patients, measurements and notes.
//
// A patient's image carries the allergies and sharing of its whole family
// (the patients merged into it, see patient.go). Each allergy names the
// patient it was recorded on, so it is written there; a sharing does not, so
// a site missing from the family is recorded on the patient itself —
// loading gathers the family's sharing by site, so the image reads back the
// same. Rows are never moved from one patient to another.

func init() {
	registerApplier("patient", applyPatient)
	registerApplier("measurement", applyMeasurement)
	registerApplier("note", applyNote)
}

func applyPatient(tx *Tx, id relais.ID, after []byte) error {
	var p relais.Patient
	if err := decodeImage("patient", id, after, &p); err != nil {
		return err
	}
	if err := checkImageID("patient", id, p.ID); err != nil {
		return err
	}
	in := relais.PatientInput{IPP: p.IPP, INS: p.INS, BirthName: p.BirthName, UsedName: p.UsedName, FirstNames: p.FirstNames,
		BirthDate: p.BirthDate, Sex: p.Sex, BirthplaceCode: p.BirthplaceCode, ReferringSite: p.ReferringSite}
	names, err := json.Marshal(p.FirstNames)
	if err != nil {
		return err
	}
	if err := upsert(tx, "patient", []string{"id", "site", "ipp", "ins_matricule", "ins_oid", "identity_status", "birth_name",
		"used_name", "first_names", "birth_date", "sex", "birthplace_code", "sort_name", "referring_site", "status", "merged_into",
		"merged_at", "merge_reason", "created_at", "updated_at"},
		[]any{p.ID, p.Site, p.IPP, p.INS.Matricule, p.INS.OID, p.INS.Status, p.BirthName, p.UsedName, string(names),
			string(p.BirthDate), p.Sex, p.BirthplaceCode, sortName(in), nullString(p.ReferringSite), p.Status, nullID(p.MergedInto),
			NT(p.MergedAt), p.MergeReason, T(p.CreatedAt), T(p.UpdatedAt)}); err != nil {
		return err
	}
	if _, err := tx.Exec("DELETE FROM patient_search WHERE patient_id = ?", id); err != nil {
		return err
	}
	if err := writeSearchTokens(tx, id, in); err != nil {
		return err
	}
	// Former local ids: this patient's own, replaced to match.
	if _, err := tx.Exec("DELETE FROM patient_former_ipp WHERE patient_id = ?", id); err != nil {
		return err
	}
	for _, f := range p.FormerIPPs {
		if _, err := tx.Exec(`INSERT INTO patient_former_ipp (patient_id, ipp, until, reason, by_user_id, by_name, by_role)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, id, f.IPP, T(f.Until), f.Reason, f.By.UserID, f.By.Name, f.By.Role); err != nil {
			return err
		}
	}
	// Allergies, each on the patient it was recorded on.
	keep := make([]string, 0, len(p.Allergies))
	for _, a := range p.Allergies {
		keep = append(keep, string(a.ID))
		args := []any{a.ID, a.PatientID, a.Substance, a.Reaction, a.Severity, a.RecordedBy.UserID, a.RecordedBy.Name,
			a.RecordedBy.Role, T(a.At)}
		if err := upsert(tx, "allergy", []string{"id", "patient_id", "substance", "reaction", "severity", "recorded_by_id",
			"recorded_by_name", "recorded_by_role", "recorded_at", "voided_by_id", "voided_by_name", "voided_by_role",
			"voided_at", "void_reason"}, append(args, voidArgs(a.Voided)...)); err != nil {
			return err
		}
	}
	if err := removeMissing(tx, "allergy", "patient_id", id, "id", keep); err != nil {
		return err
	}
	// Sharing: by site across the family.
	family, err := patientFamily(tx, id)
	if err != nil {
		return err
	}
	have, err := sharingOf(tx, family)
	if err != nil {
		return err
	}
	want := map[string]relais.Sharing{}
	for _, s := range p.SharedWith {
		want[s.Site] = s
	}
	for _, s := range have {
		w, ok := want[s.Site]
		if !ok {
			// Sharing is never withdrawn in Relais; the image is the truth.
			if _, err := tx.Exec("DELETE FROM patient_sharing WHERE patient_id = ? AND site = ?", id, s.Site); err != nil {
				return err
			}
			continue
		}
		delete(want, s.Site)
		if _, err := tx.Exec(`UPDATE patient_sharing SET since = ?, information_given_at = ?, information_given_by = ?,
			recorded_by_id = ?, recorded_by_name = ?, recorded_by_role = ? WHERE patient_id = ? AND site = ?`,
			T(w.Since), T(w.InformationGivenAt), w.InformationGivenBy, w.RecordedBy.UserID, w.RecordedBy.Name, w.RecordedBy.Role,
			id, s.Site); err != nil {
			return err
		}
	}
	for _, s := range p.SharedWith {
		if _, missing := want[s.Site]; !missing {
			continue
		}
		if _, err := tx.Exec(`INSERT INTO patient_sharing (patient_id, site, since, information_given_at, information_given_by,
			recorded_by_id, recorded_by_name, recorded_by_role) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			id, s.Site, T(s.Since), T(s.InformationGivenAt), s.InformationGivenBy, s.RecordedBy.UserID, s.RecordedBy.Name,
			s.RecordedBy.Role); err != nil {
			return err
		}
	}
	return nil
}

func applyMeasurement(tx *Tx, id relais.ID, after []byte) error {
	var m relais.Measurement
	if err := decodeImage("measurement", id, after, &m); err != nil {
		return err
	}
	if err := checkImageID("measurement", id, m.ID); err != nil {
		return err
	}
	args := []any{m.ID, m.Site, m.PatientID, m.Kind, m.Value, m.Unit, T(m.MeasuredAt), m.RecordedBy.UserID, m.RecordedBy.Name,
		m.RecordedBy.Role, T(m.RecordedAt), m.Source}
	return upsert(tx, "measurement", []string{"id", "site", "patient_id", "kind", "value", "unit", "measured_at", "recorded_by_id",
		"recorded_by_name", "recorded_by_role", "recorded_at", "source", "voided_by_id", "voided_by_name", "voided_by_role",
		"voided_at", "void_reason"}, append(args, voidArgs(m.Voided)...))
}

func applyNote(tx *Tx, id relais.ID, after []byte) error {
	var n relais.Note
	if err := decodeImage("note", id, after, &n); err != nil {
		return err
	}
	if err := checkImageID("note", id, n.ID); err != nil {
		return err
	}
	return upsert(tx, "note", []string{"id", "site", "target_kind", "target_id", "patient_id", "text", "author_id", "author_name",
		"author_role", "written_at", "corrects", "shareable"},
		[]any{n.ID, n.Site, n.TargetKind, n.TargetID, n.PatientID, n.Text, n.Author.UserID, n.Author.Name, n.Author.Role,
			T(n.At), nullID(n.Corrects), n.Shareable})
}
