package sqlstore

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/hl7/adt"
)

// The patient register inside an HL7 transaction. An ADT message is stored
// in the inbound log and applied in the same transaction, so the methods
// below do what CreatePatient, UpdatePatient, MergePatients and
// ChangePatientIPP (patient.go) do, on a given Tx instead of one of their
// own, with the same helpers and the same journal entries. A change to the
// rules of patient.go must be made here too: hl7/adt's TestADTCreateMatchesAPI
// checks that a patient created by either path reads back the same, and its
// tests verify the journal after every HL7 change.

// The statements of the register that every message runs, prepared once.
const (
	qPatientByIPP = `SELECT id FROM patient WHERE site = ? AND ipp = ?
		UNION SELECT f.patient_id FROM patient_former_ipp f JOIN patient p ON p.id = f.patient_id WHERE p.site = ? AND f.ipp = ?`
	qInsertPatient = `INSERT INTO patient (id, site, ipp, ins_matricule, ins_oid, identity_status, birth_name, used_name,
		first_names, birth_date, sex, birthplace_code, sort_name, referring_site, status, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qUpdatePatient = `UPDATE patient SET ins_matricule = ?, ins_oid = ?, identity_status = ?, birth_name = ?, used_name = ?,
		first_names = ?, birth_date = ?, sex = ?, birthplace_code = ?, sort_name = ?, referring_site = ?, updated_at = ? WHERE id = ?`
	qDeleteTokens = "DELETE FROM patient_search WHERE patient_id = ?"
	qPatientRow   = "SELECT " + patientColumns + " FROM patient WHERE id = ?"
)

// maxPreparedTokens: token inserts of up to this many rows are prepared.
const maxPreparedTokens = 16

func tokenInsertQuery(n int) string {
	var q strings.Builder
	q.WriteString("INSERT INTO patient_search (token, patient_id) VALUES ")
	for i := range n {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?)")
	}
	return q.String()
}

// txRegister is adt.Register on a Tx, for one message. What one message
// reads it does not read twice: a patient found by PatientByIPP is the
// before-image of its update, and an IPP just found free is not looked up
// again on creation. (At a thousand messages a second, every statement
// counts; hl7/adt's BenchmarkADTDurableAck measures it.)
type txRegister struct {
	tx      *Tx
	known   map[relais.ID]relais.Patient // read in this message, not changed since
	freeIPP map[string]bool              // looked up in this message: no patient carries it
}

func newTxRegister(tx *Tx) *txRegister {
	return &txRegister{tx: tx, known: map[relais.ID]relais.Patient{}, freeIPP: map[string]bool{}}
}

var _ adt.Register = (*txRegister)(nil)

// PatientByIPP finds the patient carrying ipp at this site, now or formerly,
// and follows merges to the survivor.
func (r *txRegister) PatientByIPP(ipp string) (relais.Patient, bool, error) {
	tx := r.tx
	var id relais.ID
	err := tx.QueryRow(qPatientByIPP,
		tx.Site(), ipp, tx.Site(), ipp).Scan(&id)
	if err != nil {
		if relais.ErrorKind(mapErr(err)) == relais.KindNotFound {
			r.freeIPP[ipp] = true
			return relais.Patient{}, false, nil
		}
		return relais.Patient{}, false, relais.E("hl7.patient", mapErr(err))
	}
	p, err := survivorOf(tx, id)
	if err != nil {
		return p, false, err
	}
	r.known[p.ID] = p
	return p, true, nil
}

// CreatePatient is CreatePatient of patient.go on r's transaction.
func (r *txRegister) CreatePatient(in relais.PatientInput) (relais.Patient, error) {
	const op = "patient.create"
	tx := r.tx
	if err := in.Normalize(op, relais.Today()); err != nil {
		return relais.Patient{}, err
	}
	if err := checkReferringSite(tx, op, in.ReferringSite); err != nil {
		return relais.Patient{}, err
	}
	if !r.freeIPP[in.IPP] {
		if err := checkIPPFree(tx, op, "ipp", tx.Site(), in.IPP, ""); err != nil {
			return relais.Patient{}, err
		}
	}
	if err := checkINSFree(tx, op, tx.Site(), in.INS, ""); err != nil {
		return relais.Patient{}, err
	}
	delete(r.freeIPP, in.IPP)
	id := relais.NewID()
	names, _ := json.Marshal(in.FirstNames)
	if _, err := tx.Exec(qInsertPatient,
		id, tx.Site(), in.IPP, in.INS.Matricule, in.INS.OID, in.INS.Status, in.BirthName, in.UsedName,
		string(names), string(in.BirthDate), in.Sex, in.BirthplaceCode, sortName(in), nullString(in.ReferringSite),
		relais.PatientActive, T(tx.Now()), T(tx.Now())); err != nil {
		return relais.Patient{}, relais.E(op, err)
	}
	if err := insertSearchTokens(tx, id, in); err != nil {
		return relais.Patient{}, err
	}
	// A new patient has no allergy, sharing, former IPP nor merged patient.
	p, err := patientRow(tx, id, relais.Patient{MergedFrom: []relais.ID{}, Allergies: []relais.Allergy{},
		SharedWith: []relais.Sharing{}, FormerIPPs: []relais.FormerIPP{}})
	if err != nil {
		return p, err
	}
	return p, tx.Journal(op, "patient", id, nil, p)
}

// UpdatePatient is UpdatePatient of patient.go on r's transaction.
func (r *txRegister) UpdatePatient(id relais.ID, u relais.PatientUpdate) (relais.Patient, error) {
	const op = "patient.update"
	tx := r.tx
	before, ok := r.known[id]
	if ok {
		// writablePatient's checks, on the patient already read.
		if before.Status == relais.PatientMerged {
			return before, relais.E(op, relais.KindTransition, fmt.Sprintf("patient %s was merged into %s: work on that patient", before.ID, before.MergedInto))
		}
		if before.Site != tx.Site() {
			return before, relais.E(op, relais.KindForbidden, fmt.Sprintf("this patient's record is kept by site %s: change the identity there", before.Site))
		}
	} else {
		var err error
		if before, err = writablePatient(tx, op, id, true); err != nil {
			return before, err
		}
	}
	delete(r.known, id)
	in, strict := u.Apply(before)
	if strict && before.INS.Status.HasINS() && u.INS == nil {
		return before, relais.E(op, relais.KindConflict, relais.Field("ins"), fmt.Sprintf(
			"this identity is %s: its strict traits come from INSi. Send the INS block with the change: the INS and status confirmed by a new INSi call, or a lower status (validated or provisional, without matricule)",
			before.INS.Status))
	}
	if err := in.Normalize(op, relais.Today()); err != nil {
		return before, err
	}
	if err := checkReferringSite(tx, op, in.ReferringSite); err != nil {
		return before, err
	}
	if err := checkINSFree(tx, op, before.Site, in.INS, id); err != nil {
		return before, err
	}
	names, _ := json.Marshal(in.FirstNames)
	if in.INS == before.INS && in.BirthName == before.BirthName && in.UsedName == before.UsedName &&
		string(names) == mustJSON(before.FirstNames) && in.BirthDate == before.BirthDate && in.Sex == before.Sex &&
		in.BirthplaceCode == before.BirthplaceCode && in.ReferringSite == before.ReferringSite {
		return before, nil // nothing changes: nothing to journal
	}
	if _, err := tx.Exec(qUpdatePatient,
		in.INS.Matricule, in.INS.OID, in.INS.Status, in.BirthName, in.UsedName, string(names), string(in.BirthDate),
		in.Sex, in.BirthplaceCode, sortName(in), nullString(in.ReferringSite), T(tx.Now()), id); err != nil {
		return before, relais.E(op, err)
	}
	if _, err := tx.Exec(qDeleteTokens, id); err != nil {
		return before, relais.E(op, err)
	}
	if err := insertSearchTokens(tx, id, in); err != nil {
		return before, err
	}
	// An identity update changes the patient row only: its allergies,
	// sharing, former IPPs and merged patients are those read before.
	p, err := patientRow(tx, id, before)
	if err != nil {
		return p, err
	}
	return p, tx.Journal(op, "patient", id, before, p)
}

// ChangePatientIPP is ChangePatientIPP of patient.go on r's transaction.
func (r *txRegister) ChangePatientIPP(id relais.ID, newIPP, reason string) (relais.Patient, error) {
	const op = "patient.ipp.change"
	tx := r.tx
	newIPP = strings.TrimSpace(newIPP)
	reason = strings.TrimSpace(reason)
	if err := relais.CheckIPP(op, "ipp", newIPP); err != nil {
		return relais.Patient{}, err
	}
	before, err := writablePatient(tx, op, id, true)
	if err != nil {
		return before, err
	}
	if before.IPP == newIPP {
		return before, relais.Invalid(op, "ipp", "the patient already has IPP %s", newIPP)
	}
	if err := checkIPPFree(tx, op, "ipp", before.Site, newIPP, id); err != nil {
		return before, err
	}
	delete(r.known, id)
	by := relais.AuthorOf(tx.Actor())
	if _, err := tx.Exec(`INSERT INTO patient_former_ipp (patient_id, ipp, until, reason, by_user_id, by_name, by_role)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, id, before.IPP, T(tx.Now()), reason, by.UserID, by.Name, by.Role); err != nil {
		return before, relais.E(op, err)
	}
	if _, err := tx.Exec("UPDATE patient SET ipp = ?, updated_at = ? WHERE id = ?", newIPP, T(tx.Now()), id); err != nil {
		return before, relais.E(op, err)
	}
	p, err := patientByID(tx, id)
	if err != nil {
		return p, err
	}
	return p, tx.Journal(op, "patient", id, before, p)
}

// MergePatients is MergePatients of patient.go on r's transaction.
func (r *txRegister) MergePatients(survivorID, duplicateID relais.ID, reason string) (relais.Patient, error) {
	const op = "patient.merge"
	tx := r.tx
	if survivorID == duplicateID {
		return relais.Patient{}, relais.Invalid(op, "duplicate_id", "a patient cannot be merged into itself")
	}
	survivor, err := writablePatient(tx, op, survivorID, true)
	if err != nil {
		return survivor, err
	}
	dup, err := writablePatient(tx, op, duplicateID, true)
	if err != nil {
		return dup, err
	}
	switch {
	case survivor.INS.Matricule != "" && dup.INS.Matricule != "" && (survivor.INS.Matricule != dup.INS.Matricule || survivor.INS.OID != dup.INS.OID):
		return survivor, relais.E(op, relais.KindConflict, relais.Field("duplicate_id"),
			"these patients have different INS: they are two people, not a duplicate")
	case survivor.INS.Matricule == "" && dup.INS.Matricule != "":
		return survivor, relais.E(op, relais.KindConflict, relais.Field("duplicate_id"),
			"only the duplicate has an INS: merge the other way round, so that the record with the INS survives")
	}
	delete(r.known, survivorID)
	delete(r.known, duplicateID)
	if _, err := tx.Exec("UPDATE patient SET status = ?, merged_into = ?, merged_at = ?, merge_reason = ?, updated_at = ? WHERE id = ?",
		relais.PatientMerged, survivorID, T(tx.Now()), reason, T(tx.Now()), duplicateID); err != nil {
		return survivor, relais.E(op, err)
	}
	if _, err := tx.Exec("UPDATE patient SET updated_at = ? WHERE id = ?", T(tx.Now()), survivorID); err != nil {
		return survivor, relais.E(op, err)
	}
	dupAfter, err := patientByID(tx, duplicateID)
	if err != nil {
		return survivor, err
	}
	if err := tx.Journal(op, "patient", duplicateID, dup, dupAfter); err != nil {
		return survivor, err
	}
	p, err := patientByID(tx, survivorID)
	if err != nil {
		return p, err
	}
	return p, tx.Journal(op, "patient", survivorID, survivor, p)
}

// patientRow reads the patient row as patientByID does, and takes the
// lists patientByID gathers from other tables (allergies, sharing, former
// IPPs, merged patients) from lists.
func patientRow(tx *Tx, id relais.ID, lists relais.Patient) (relais.Patient, error) {
	var p relais.Patient
	var firstNames string
	err := tx.QueryRow(qPatientRow, id).Scan(
		&p.ID, &p.Site, &p.IPP, &p.INS.Matricule, &p.INS.OID, &p.INS.Status, &p.BirthName, &p.UsedName, &firstNames,
		scanDate(&p.BirthDate), &p.Sex, &p.BirthplaceCode, &p.ReferringSite, &p.Status, &p.MergedInto, ScanTime(&p.MergedAt),
		&p.MergeReason, ScanTime(&p.CreatedAt), ScanTime(&p.UpdatedAt))
	if err != nil {
		return p, relais.E("patient.get", mapErr(err))
	}
	if err := json.Unmarshal([]byte(firstNames), &p.FirstNames); err != nil {
		return p, relais.E("patient.get", relais.KindIntegrity, "the first names of patient "+string(id)+" are not readable", err)
	}
	p.MergedFrom, p.Allergies, p.SharedWith, p.FormerIPPs = lists.MergedFrom, lists.Allergies, lists.SharedWith, lists.FormerIPPs
	return p, nil
}

// insertSearchTokens writes the tokens writeSearchTokens writes, in one
// statement.
func insertSearchTokens(tx *Tx, id relais.ID, in relais.PatientInput) error {
	names := append([]string{in.BirthName, in.UsedName}, in.FirstNames...)
	tokens := relais.NameTokens(names...)
	if len(tokens) == 0 {
		return nil
	}
	args := make([]any, 0, 2*len(tokens))
	for _, t := range tokens {
		args = append(args, t, id)
	}
	if _, err := tx.Exec(tokenInsertQuery(len(tokens)), args...); err != nil {
		return relais.E("patient.index", err)
	}
	return nil
}
