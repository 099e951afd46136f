package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/relais-onco/relais"
)

var _ relais.PatientService = (*DB)(nil)

// Patients, their allergies and sharing are one journal entity, "patient":
// every change to any of them journals the patient as patientByID reads it.
// Measurements (the second half of this file) and notes (note.go) are
// entities of their own.
//
// Merges (HL7 A40) keep the duplicate's rows where they are: its
// measurements, notes and allergies stay attached to the duplicate, and every
// read of the survivor gathers the rows of the whole family (the survivor
// and every patient merged into it, through chains). Moving them instead would
// rewrite rows whose journal after-images name the duplicate — each would need
// its own entry, and the record of which identity a weight was taken under
// would be lost — whereas gathering at read time changes nothing already
// written and keeps provenance visible (each allergy, measurement and note
// still says which patient it was recorded on).

func init() {
	registerEntity("patient", "patient", func(tx *Tx, id relais.ID) (any, error) { return patientByID(tx, id) })
	registerEntity("measurement", "measurement", func(tx *Tx, id relais.ID) (any, error) { return measurementByID(tx, id) })
}

const patientColumns = `id, site, ipp, ins_matricule, ins_oid, identity_status, birth_name, used_name, first_names,
	birth_date, sex, birthplace_code, COALESCE(referring_site, ''), status, COALESCE(merged_into, ''), merged_at,
	merge_reason, created_at, updated_at`

// patientByID reads a patient with its allergies, sharing and former local
// ids, and those of the patients merged into it: the journal's shape.
func patientByID(tx *Tx, id relais.ID) (relais.Patient, error) {
	var p relais.Patient
	var firstNames string
	err := tx.QueryRow("SELECT "+patientColumns+" FROM patient WHERE id = ?", id).Scan(
		&p.ID, &p.Site, &p.IPP, &p.INS.Matricule, &p.INS.OID, &p.INS.Status, &p.BirthName, &p.UsedName, &firstNames,
		scanDate(&p.BirthDate), &p.Sex, &p.BirthplaceCode, &p.ReferringSite, &p.Status, &p.MergedInto, ScanTime(&p.MergedAt),
		&p.MergeReason, ScanTime(&p.CreatedAt), ScanTime(&p.UpdatedAt))
	if err != nil {
		if relais.ErrorKind(mapErr(err)) == relais.KindNotFound {
			return p, relais.E("patient.get", relais.KindNotFound, fmt.Sprintf("no patient %s", id))
		}
		return p, relais.E("patient.get", mapErr(err))
	}
	if err := json.Unmarshal([]byte(firstNames), &p.FirstNames); err != nil {
		return p, relais.E("patient.get", relais.KindIntegrity, "the first names of patient "+string(id)+" are not readable", err)
	}
	family, err := patientFamily(tx, id)
	if err != nil {
		return p, err
	}
	p.MergedFrom = family[1:]
	if p.Allergies, err = allergiesOf(tx, family); err != nil {
		return p, err
	}
	if p.SharedWith, err = sharingOf(tx, family); err != nil {
		return p, err
	}
	if p.FormerIPPs, err = formerIPPsOf(tx, id); err != nil {
		return p, err
	}
	return p, nil
}

// patientFamily returns id followed by every patient merged into it, directly
// or through a chain, in merge order.
func patientFamily(tx *Tx, id relais.ID) ([]relais.ID, error) {
	out := []relais.ID{id}
	seen := map[relais.ID]bool{id: true}
	frontier := []relais.ID{id}
	for len(frontier) > 0 {
		q, args := tx.db.inList("SELECT id FROM patient WHERE merged_into IN (%s) ORDER BY merged_at, id", frontier)
		rows, err := tx.Query(q, args...)
		if err != nil {
			return nil, relais.E("patient.family", err)
		}
		var next []relais.ID
		for rows.Next() {
			var m relais.ID
			if err := rows.Scan(&m); err != nil {
				rows.Close()
				return nil, relais.E("patient.family", err)
			}
			if !seen[m] { // merges cannot loop (only active patients merge); guard anyway
				seen[m] = true
				next = append(next, m)
				out = append(out, m)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, relais.E("patient.family", err)
		}
		frontier = next
	}
	return out, nil
}

// inList expands the %s of format into the set of ids. A short list is
// placeholders, their number rounded up to a power of two (the last id
// repeated, which changes nothing to an IN list); a longer one is a single
// parameter, the ids as a JSON array, unnested by the database
// (json_each on SQLite, jsonb_array_elements_text on PostgreSQL).
//
// Each distinct statement text is prepared and kept on every connection of
// a pool (the statement caches), and a statement with hundreds of
// placeholders costs SQLite tens of kilobytes a connection: one text per
// length grew the server's memory with every new length of a list (a
// home page's list of prescriptions grows with each new prescription), and
// even powers of two up to 2,048 made the read pool's statements the
// largest part of the server's memory in the load campaign
// (docs/campaigns.md). So a query has at most six texts, whatever the
// lists' lengths.
func (db *DB) inList(format string, ids []relais.ID, leading ...any) (string, []any) {
	if len(ids) > inListInline {
		b, err := json.Marshal(ids)
		if err != nil {
			panic(err) // a slice of strings always encodes
		}
		set := "SELECT value FROM json_each(?)"
		if db.Engine == Postgres {
			set = "SELECT jsonb_array_elements_text(?::jsonb)"
		}
		return fmt.Sprintf(format, set), append(append(make([]any, 0, len(leading)+1), leading...), string(b))
	}
	n := 1
	for n < len(ids) {
		n *= 2
	}
	if len(ids) == 0 {
		n = 0
	}
	args := append(make([]any, 0, len(leading)+n), leading...)
	ph := make([]string, n)
	for i := range ph {
		ph[i] = "?"
		args = append(args, ids[min(i, len(ids)-1)])
	}
	return fmt.Sprintf(format, strings.Join(ph, ", ")), args
}

// inListInline is the longest list of ids inList writes as placeholders.
const inListInline = 16

func allergiesOf(tx *Tx, family []relais.ID) ([]relais.Allergy, error) {
	q, args := tx.db.inList(`SELECT id, patient_id, substance, reaction, severity, recorded_by_id, recorded_by_name, recorded_by_role,
		recorded_at, voided_by_id, voided_by_name, voided_by_role, voided_at, void_reason
		FROM allergy WHERE patient_id IN (%s) ORDER BY recorded_at, id`, family)
	rows, err := tx.Query(q, args...)
	if err != nil {
		return nil, relais.E("patient.allergies", err)
	}
	defer rows.Close()
	out := []relais.Allergy{}
	for rows.Next() {
		var a relais.Allergy
		var v voidCols
		if err := rows.Scan(&a.ID, &a.PatientID, &a.Substance, &a.Reaction, &a.Severity,
			&a.RecordedBy.UserID, &a.RecordedBy.Name, &a.RecordedBy.Role, ScanTime(&a.At),
			&v.id, &v.name, &v.role, ScanTime(&v.at), &v.reason); err != nil {
			return nil, relais.E("patient.allergies", err)
		}
		a.Voided = v.voiding()
		out = append(out, a)
	}
	return out, rows.Err()
}

// sharingOf lists the sites sharing the care of a family of patients; a site
// shared on several of them appears once, at its earliest sharing.
func sharingOf(tx *Tx, family []relais.ID) ([]relais.Sharing, error) {
	q, args := tx.db.inList(`SELECT site, since, information_given_at, information_given_by, recorded_by_id, recorded_by_name, recorded_by_role
		FROM patient_sharing WHERE patient_id IN (%s) ORDER BY since, site`, family)
	rows, err := tx.Query(q, args...)
	if err != nil {
		return nil, relais.E("patient.sharing", err)
	}
	defer rows.Close()
	out := []relais.Sharing{}
	seen := map[string]bool{}
	for rows.Next() {
		var s relais.Sharing
		if err := rows.Scan(&s.Site, ScanTime(&s.Since), ScanTime(&s.InformationGivenAt), &s.InformationGivenBy,
			&s.RecordedBy.UserID, &s.RecordedBy.Name, &s.RecordedBy.Role); err != nil {
			return nil, relais.E("patient.sharing", err)
		}
		if !seen[s.Site] {
			seen[s.Site] = true
			out = append(out, s)
		}
	}
	return out, rows.Err()
}

func formerIPPsOf(tx *Tx, id relais.ID) ([]relais.FormerIPP, error) {
	rows, err := tx.Query(`SELECT ipp, until, reason, by_user_id, by_name, by_role FROM patient_former_ipp
		WHERE patient_id = ? ORDER BY until, ipp`, id)
	if err != nil {
		return nil, relais.E("patient.former_ipps", err)
	}
	defer rows.Close()
	out := []relais.FormerIPP{}
	for rows.Next() {
		var f relais.FormerIPP
		if err := rows.Scan(&f.IPP, ScanTime(&f.Until), &f.Reason, &f.By.UserID, &f.By.Name, &f.By.Role); err != nil {
			return nil, relais.E("patient.former_ipps", err)
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// voidCols scans the voided_* columns shared by allergies and measurements.
type voidCols struct {
	id, name, role, reason sql.NullString
	at                     time.Time
}

func (v voidCols) voiding() *relais.Voiding {
	if v.at.IsZero() {
		return nil
	}
	return &relais.Voiding{By: relais.Author{UserID: relais.ID(v.id.String), Name: v.name.String, Role: relais.Role(v.role.String)},
		At: v.at, Reason: v.reason.String}
}

// scanDate scans a birth date: TEXT on SQLite, DATE on PostgreSQL.
func scanDate(d *relais.Date) sql.Scanner { return dateScanner{d} }

type dateScanner struct{ d *relais.Date }

func (s dateScanner) Scan(src any) error {
	switch v := src.(type) {
	case time.Time:
		*s.d = relais.Date(v.Format(time.DateOnly))
	case string:
		*s.d = relais.Date(v)
	case []byte:
		*s.d = relais.Date(v)
	default:
		return fmt.Errorf("sqlstore: cannot scan %T into a date", src)
	}
	return nil
}

// Patient returns a patient. (A merged patient is returned as it is, with
// merged_into naming the survivor.)
func (db *DB) Patient(ctx context.Context, id relais.ID) (relais.Patient, error) {
	var p relais.Patient
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		p, err = patientByID(tx, id)
		return err
	})
	return p, err
}

// CreatePatient records a new patient at the local site.
func (db *DB) CreatePatient(ctx context.Context, in relais.PatientInput) (relais.Patient, error) {
	const op = "patient.create"
	if err := in.Normalize(op, relais.Today()); err != nil {
		return relais.Patient{}, err
	}
	var p relais.Patient
	err := db.Write(ctx, op, func(tx *Tx) error {
		if err := checkReferringSite(tx, op, in.ReferringSite); err != nil {
			return err
		}
		if err := checkIPPFree(tx, op, "ipp", tx.Site(), in.IPP, ""); err != nil {
			return err
		}
		if err := checkINSFree(tx, op, tx.Site(), in.INS, ""); err != nil {
			return err
		}
		id := relais.NewID()
		names, _ := json.Marshal(in.FirstNames)
		_, err := tx.Exec(`INSERT INTO patient (id, site, ipp, ins_matricule, ins_oid, identity_status, birth_name, used_name,
			first_names, birth_date, sex, birthplace_code, sort_name, referring_site, status, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			id, tx.Site(), in.IPP, in.INS.Matricule, in.INS.OID, in.INS.Status, in.BirthName, in.UsedName,
			string(names), string(in.BirthDate), in.Sex, in.BirthplaceCode, sortName(in), nullString(in.ReferringSite),
			relais.PatientActive, T(tx.Now()), T(tx.Now()))
		if err != nil {
			return relais.E(op, err)
		}
		if err := writeSearchTokens(tx, id, in); err != nil {
			return err
		}
		if p, err = patientByID(tx, id); err != nil {
			return err
		}
		return tx.Journal(op, "patient", id, nil, p)
	})
	return p, err
}

// UpdatePatient changes identity traits. The traits of an identity whose INS
// came from INSi (recovered, qualified) are INSi's: changing one needs the
// INS block in the same request, to confirm it after a new INSi call or to
// lower the status (RNIV).
func (db *DB) UpdatePatient(ctx context.Context, id relais.ID, u relais.PatientUpdate) (relais.Patient, error) {
	const op = "patient.update"
	var p relais.Patient
	err := db.Write(ctx, op, func(tx *Tx) error {
		before, err := writablePatient(tx, op, id, true)
		if err != nil {
			return err
		}
		in, strict := u.Apply(before)
		if strict && before.INS.Status.HasINS() && u.INS == nil {
			return relais.E(op, relais.KindConflict, relais.Field("ins"), fmt.Sprintf(
				"this identity is %s: its strict traits come from INSi. Send the INS block with the change: the INS and status confirmed by a new INSi call, or a lower status (validated or provisional, without matricule)",
				before.INS.Status))
		}
		if err := in.Normalize(op, relais.Today()); err != nil {
			return err
		}
		if err := checkReferringSite(tx, op, in.ReferringSite); err != nil {
			return err
		}
		if err := checkINSFree(tx, op, before.Site, in.INS, id); err != nil {
			return err
		}
		names, _ := json.Marshal(in.FirstNames)
		if in.INS == before.INS && in.BirthName == before.BirthName && in.UsedName == before.UsedName &&
			string(names) == mustJSON(before.FirstNames) && in.BirthDate == before.BirthDate && in.Sex == before.Sex &&
			in.BirthplaceCode == before.BirthplaceCode && in.ReferringSite == before.ReferringSite {
			p = before // nothing changes: nothing to journal
			return nil
		}
		if _, err := tx.Exec(`UPDATE patient SET ins_matricule = ?, ins_oid = ?, identity_status = ?, birth_name = ?, used_name = ?,
			first_names = ?, birth_date = ?, sex = ?, birthplace_code = ?, sort_name = ?, referring_site = ?, updated_at = ? WHERE id = ?`,
			in.INS.Matricule, in.INS.OID, in.INS.Status, in.BirthName, in.UsedName, string(names), string(in.BirthDate),
			in.Sex, in.BirthplaceCode, sortName(in), nullString(in.ReferringSite), T(tx.Now()), id); err != nil {
			return relais.E(op, err)
		}
		if _, err := tx.Exec("DELETE FROM patient_search WHERE patient_id = ?", id); err != nil {
			return relais.E(op, err)
		}
		if err := writeSearchTokens(tx, id, in); err != nil {
			return err
		}
		if p, err = patientByID(tx, id); err != nil {
			return err
		}
		return tx.Journal(op, "patient", id, before, p)
	})
	return p, err
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// writablePatient loads a patient about to change: it must be active, and
// when identity is touched (own), kept at this site — a patient replicated
// from another site is changed there.
func writablePatient(tx *Tx, op string, id relais.ID, own bool) (relais.Patient, error) {
	p, err := patientByID(tx, id)
	if err != nil {
		return p, relais.E(op, err)
	}
	if p.Status == relais.PatientMerged {
		return p, relais.E(op, relais.KindTransition, fmt.Sprintf("patient %s was merged into %s: work on that patient", p.ID, p.MergedInto))
	}
	if own && p.Site != tx.Site() {
		return p, relais.E(op, relais.KindForbidden, fmt.Sprintf("this patient's record is kept by site %s: change the identity there", p.Site))
	}
	return p, nil
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func checkReferringSite(tx *Tx, op, site string) error {
	if site == "" {
		return nil
	}
	if _, err := siteByID(tx, site); err != nil {
		if relais.ErrorKind(err) == relais.KindNotFound {
			return relais.Invalid(op, "referring_site", "unknown site %q: use the id of a site of the network", site)
		}
		return err
	}
	return nil
}

// checkIPPFree refuses a local id already carried, now or formerly, by
// another patient of the site: IPPs are never reused.
func checkIPPFree(tx *Tx, op, field, site, ipp string, self relais.ID) error {
	var other relais.ID
	err := tx.QueryRow(`SELECT id FROM patient WHERE site = ? AND ipp = ? AND id <> ?
		UNION SELECT f.patient_id FROM patient_former_ipp f JOIN patient p ON p.id = f.patient_id
		WHERE p.site = ? AND f.ipp = ? AND f.patient_id <> ?`, site, ipp, self, site, ipp, self).Scan(&other)
	switch {
	case err == nil:
		return relais.E(op, relais.KindConflict, relais.Field(field),
			fmt.Sprintf("IPP %s is already carried (now or formerly) by patient %s at this site: search for that patient instead", ipp, other))
	case relais.ErrorKind(mapErr(err)) == relais.KindNotFound:
		return nil
	}
	return relais.E(op, mapErr(err))
}

func checkINSFree(tx *Tx, op, site string, ins relais.INS, self relais.ID) error {
	if ins.Matricule == "" {
		return nil
	}
	var other relais.ID
	err := tx.QueryRow(`SELECT id FROM patient WHERE site = ? AND ins_matricule = ? AND ins_oid = ? AND status = 'active' AND id <> ?`,
		site, ins.Matricule, ins.OID, self).Scan(&other)
	switch {
	case err == nil:
		return relais.E(op, relais.KindConflict, relais.Field("ins.matricule"),
			fmt.Sprintf("patient %s already has this INS: it is the same person — open that record, or merge the duplicate", other))
	case relais.ErrorKind(mapErr(err)) == relais.KindNotFound:
		return nil
	}
	return relais.E(op, mapErr(err))
}

// sortName is the order of search results: the name as shown, normalized.
func sortName(in relais.PatientInput) string {
	name := in.BirthName
	if in.UsedName != "" {
		name = in.UsedName
	}
	first := ""
	if len(in.FirstNames) > 0 {
		first = in.FirstNames[0]
	}
	return relais.NormalizeName(name) + " " + relais.NormalizeName(first)
}

func writeSearchTokens(tx *Tx, id relais.ID, in relais.PatientInput) error {
	names := append([]string{in.BirthName, in.UsedName}, in.FirstNames...)
	for _, t := range relais.NameTokens(names...) {
		if _, err := tx.Exec("INSERT INTO patient_search (token, patient_id) VALUES (?, ?)", t, id); err != nil {
			return relais.E("patient.index", err)
		}
	}
	return nil
}

// AddAllergy records an allergy. Any site holding the patient may: an
// allergy discovered at a general hospital must not wait for the CHU.
func (db *DB) AddAllergy(ctx context.Context, patientID relais.ID, in relais.AllergyInput) (relais.Patient, error) {
	const op = "patient.allergy.add"
	if err := in.Normalize(op); err != nil {
		return relais.Patient{}, err
	}
	var p relais.Patient
	err := db.Write(ctx, op, func(tx *Tx) error {
		before, err := writablePatient(tx, op, patientID, false)
		if err != nil {
			return err
		}
		by := relais.AuthorOf(tx.Actor())
		if _, err := tx.Exec(`INSERT INTO allergy (id, patient_id, substance, reaction, severity, recorded_by_id, recorded_by_name,
			recorded_by_role, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			relais.NewID(), patientID, in.Substance, in.Reaction, in.Severity, by.UserID, by.Name, by.Role, T(tx.Now())); err != nil {
			return relais.E(op, err)
		}
		if p, err = patientByID(tx, patientID); err != nil {
			return err
		}
		return tx.Journal(op, "patient", patientID, before, p)
	})
	return p, err
}

// VoidAllergy marks an allergy entered in error; it stays, struck through.
func (db *DB) VoidAllergy(ctx context.Context, patientID, allergyID relais.ID, reason string) (relais.Patient, error) {
	const op = "patient.allergy.void"
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return relais.Patient{}, relais.Invalid(op, "reason", "say why this allergy is voided (e.g. entered on the wrong patient)")
	}
	var p relais.Patient
	err := db.Write(ctx, op, func(tx *Tx) error {
		before, err := writablePatient(tx, op, patientID, false)
		if err != nil {
			return err
		}
		var found *relais.Allergy
		for i := range before.Allergies {
			if before.Allergies[i].ID == allergyID {
				found = &before.Allergies[i]
			}
		}
		if found == nil {
			return relais.E(op, relais.KindNotFound, fmt.Sprintf("patient %s has no allergy %s", patientID, allergyID))
		}
		if found.Voided != nil {
			return relais.E(op, relais.KindTransition, "this allergy is already voided")
		}
		by := relais.AuthorOf(tx.Actor())
		if _, err := tx.Exec(`UPDATE allergy SET voided_by_id = ?, voided_by_name = ?, voided_by_role = ?, voided_at = ?, void_reason = ?
			WHERE id = ? AND voided_at IS NULL`, by.UserID, by.Name, by.Role, T(tx.Now()), reason, allergyID); err != nil {
			return relais.E(op, err)
		}
		if p, err = patientByID(tx, patientID); err != nil {
			return err
		}
		return tx.Journal(op, "patient", patientID, before, p)
	})
	return p, err
}

// SharePatient shares the patient's care with a site of the network, once the
// patient (or the parents) have been told.
func (db *DB) SharePatient(ctx context.Context, patientID relais.ID, in relais.SharingInput) (relais.Patient, error) {
	const op = "patient.share"
	in.Site = strings.TrimSpace(in.Site)
	in.InformationGivenBy = strings.TrimSpace(in.InformationGivenBy)
	in.InformationGivenAt = in.InformationGivenAt.UTC().Truncate(time.Microsecond)
	var errs []error
	if in.Site == "" {
		errs = append(errs, relais.Invalid(op, "site", "name the site that shares the care"))
	}
	if in.InformationGivenAt.IsZero() {
		errs = append(errs, relais.Invalid(op, "information_given_at", "when were the patient or the parents told that the record is shared?"))
	} else if in.InformationGivenAt.After(relais.Now().Add(5 * time.Minute)) {
		errs = append(errs, relais.Invalid(op, "information_given_at", "this time is in the future"))
	}
	if in.InformationGivenBy == "" {
		errs = append(errs, relais.Invalid(op, "information_given_by", "who told the patient or the parents?"))
	} else if len(in.InformationGivenBy) > 200 {
		errs = append(errs, relais.Invalid(op, "information_given_by", "at most 200 characters"))
	}
	if err := relais.Errors(op, errs); err != nil {
		return relais.Patient{}, err
	}
	var p relais.Patient
	err := db.Write(ctx, op, func(tx *Tx) error {
		before, err := writablePatient(tx, op, patientID, true)
		if err != nil {
			return err
		}
		if _, err := siteByID(tx, in.Site); err != nil {
			if relais.ErrorKind(err) == relais.KindNotFound {
				return relais.Invalid(op, "site", "unknown site %q: use the id of a site of the network", in.Site)
			}
			return err
		}
		if in.Site == before.Site {
			return relais.Invalid(op, "site", "the patient's record is kept at %s already", in.Site)
		}
		for _, s := range before.SharedWith {
			if s.Site == in.Site {
				return relais.E(op, relais.KindConflict, relais.Field("site"), fmt.Sprintf("the care is already shared with %s (since %s)", in.Site, s.Since.In(relais.DisplayZone).Format("02/01/2006")))
			}
		}
		if in.InformationGivenAt.Before(before.BirthDate.Time()) {
			return relais.Invalid(op, "information_given_at", "this time is before the patient's birth")
		}
		by := relais.AuthorOf(tx.Actor())
		if _, err := tx.Exec(`INSERT INTO patient_sharing (patient_id, site, since, information_given_at, information_given_by,
			recorded_by_id, recorded_by_name, recorded_by_role) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			patientID, in.Site, T(tx.Now()), T(in.InformationGivenAt), in.InformationGivenBy, by.UserID, by.Name, by.Role); err != nil {
			return relais.E(op, err)
		}
		if p, err = patientByID(tx, patientID); err != nil {
			return err
		}
		return tx.Journal(op, "patient", patientID, before, p)
	})
	return p, err
}

// ChangePatientIPP gives the patient a new local id (HL7 A47); the old one is
// kept in former_ipps, so messages still carrying it find the patient.
func (db *DB) ChangePatientIPP(ctx context.Context, id relais.ID, newIPP, reason string) (relais.Patient, error) {
	const op = "patient.ipp.change"
	newIPP = strings.TrimSpace(newIPP)
	reason = strings.TrimSpace(reason)
	var errs []error
	if err := relais.CheckIPP(op, "ipp", newIPP); err != nil {
		errs = append(errs, err)
	}
	if reason == "" {
		errs = append(errs, relais.Invalid(op, "reason", "say why the IPP changes (e.g. HL7 A47 from the EHR, duplicate IPP corrected)"))
	}
	if err := relais.Errors(op, errs); err != nil {
		return relais.Patient{}, err
	}
	var p relais.Patient
	err := db.Write(ctx, op, func(tx *Tx) error {
		before, err := writablePatient(tx, op, id, true)
		if err != nil {
			return err
		}
		if before.IPP == newIPP {
			return relais.Invalid(op, "ipp", "the patient already has IPP %s", newIPP)
		}
		if err := checkIPPFree(tx, op, "ipp", before.Site, newIPP, id); err != nil {
			return err
		}
		by := relais.AuthorOf(tx.Actor())
		if _, err := tx.Exec(`INSERT INTO patient_former_ipp (patient_id, ipp, until, reason, by_user_id, by_name, by_role)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, id, before.IPP, T(tx.Now()), reason, by.UserID, by.Name, by.Role); err != nil {
			return relais.E(op, err)
		}
		if _, err := tx.Exec("UPDATE patient SET ipp = ?, updated_at = ? WHERE id = ?", newIPP, T(tx.Now()), id); err != nil {
			return relais.E(op, err)
		}
		if p, err = patientByID(tx, id); err != nil {
			return err
		}
		return tx.Journal(op, "patient", id, before, p)
	})
	return p, err
}

// MergePatients merges duplicate into survivor (HL7 A40). The duplicate
// becomes merged and keeps all its rows; the survivor's reads include them.
// Two patients with different INS are two people and are never merged; when
// only the duplicate has an INS, the merge must go the other way round, so
// that the INS is not lost.
func (db *DB) MergePatients(ctx context.Context, survivorID, duplicateID relais.ID, reason string) (relais.Patient, error) {
	const op = "patient.merge"
	reason = strings.TrimSpace(reason)
	var errs []error
	if survivorID == duplicateID {
		errs = append(errs, relais.Invalid(op, "duplicate_id", "a patient cannot be merged into itself"))
	}
	if reason == "" {
		errs = append(errs, relais.Invalid(op, "reason", "say why these are the same person (e.g. HL7 A40 from the EHR, identitovigilance decision n°…)"))
	}
	if err := relais.Errors(op, errs); err != nil {
		return relais.Patient{}, err
	}
	var p relais.Patient
	err := db.Write(ctx, op, func(tx *Tx) error {
		survivor, err := writablePatient(tx, op, survivorID, true)
		if err != nil {
			return err
		}
		dup, err := writablePatient(tx, op, duplicateID, true)
		if err != nil {
			return err
		}
		switch {
		case survivor.INS.Matricule != "" && dup.INS.Matricule != "" && (survivor.INS.Matricule != dup.INS.Matricule || survivor.INS.OID != dup.INS.OID):
			return relais.E(op, relais.KindConflict, relais.Field("duplicate_id"),
				"these patients have different INS: they are two people, not a duplicate")
		case survivor.INS.Matricule == "" && dup.INS.Matricule != "":
			return relais.E(op, relais.KindConflict, relais.Field("duplicate_id"),
				"only the duplicate has an INS: merge the other way round, so that the record with the INS survives")
		}
		if _, err := tx.Exec("UPDATE patient SET status = ?, merged_into = ?, merged_at = ?, merge_reason = ?, updated_at = ? WHERE id = ?",
			relais.PatientMerged, survivorID, T(tx.Now()), reason, T(tx.Now()), duplicateID); err != nil {
			return relais.E(op, err)
		}
		if _, err := tx.Exec("UPDATE patient SET updated_at = ? WHERE id = ?", T(tx.Now()), survivorID); err != nil {
			return relais.E(op, err)
		}
		dupAfter, err := patientByID(tx, duplicateID)
		if err != nil {
			return err
		}
		if err := tx.Journal(op, "patient", duplicateID, dup, dupAfter); err != nil {
			return err
		}
		if p, err = patientByID(tx, survivorID); err != nil {
			return err
		}
		return tx.Journal(op, "patient", survivorID, survivor, p)
	})
	return p, err
}

// Search.

// searchQuery is a parsed patient search: every term must match.
type searchQuery struct {
	ins   string        // a whole INS matricule
	dates []relais.Date // birth dates
	words []searchWord  // names or IPPs
}

type searchWord struct {
	raw    string // as typed: compared with IPPs
	prefix string // normalized, without spaces: a prefix of a name token
}

// parseSearch reads a query: a birth date as DD/MM/YYYY (or D/M/YYYY,
// DD-MM-YYYY, DD.MM.YYYY) or YYYY-MM-DD; an INS matricule (spaces allowed);
// anything else a name or an IPP.
func parseSearch(op, query string) (searchQuery, error) {
	var q searchQuery
	query = strings.TrimSpace(query)
	if query == "" {
		return q, relais.Invalid(op, "q", "type a name, a birth date (DD/MM/YYYY), an IPP or an INS")
	}
	if len(query) > 200 {
		return q, relais.Invalid(op, "q", "the search is longer than 200 characters")
	}
	if m := relais.CleanMatricule(query); len(m) == 15 && relais.CheckMatricule(m) == nil {
		q.ins = m
		return q, nil
	}
	for _, f := range strings.Fields(query) {
		if d, ok, err := searchDate(f); ok {
			if err != nil {
				return q, relais.Invalid(op, "q", "%s looks like a date but is not one: write DD/MM/YYYY", f)
			}
			q.dates = append(q.dates, d)
			continue
		}
		if m := relais.CleanMatricule(f); len(m) == 15 && relais.CheckMatricule(m) == nil {
			q.ins = m
			continue
		}
		q.words = append(q.words, searchWord{raw: f, prefix: strings.ReplaceAll(relais.NormalizeName(f), " ", "")})
	}
	return q, nil
}

// searchDate recognises a date term; ok is true when f has a date's shape.
func searchDate(f string) (relais.Date, bool, error) {
	if len(f) == 10 && f[4] == '-' && f[7] == '-' {
		d, err := relais.ParseDate("q", f)
		return d, true, err
	}
	for _, sep := range []string{"/", "-", "."} {
		parts := strings.Split(f, sep)
		if len(parts) != 3 || len(parts[2]) != 4 || len(parts[0]) == 0 || len(parts[0]) > 2 || len(parts[1]) == 0 || len(parts[1]) > 2 {
			continue
		}
		t, err := time.Parse("2/1/2006", parts[0]+"/"+parts[1]+"/"+parts[2])
		if err != nil {
			return "", true, err
		}
		return relais.Date(t.Format(time.DateOnly)), true, nil
	}
	return "", false, nil
}

// tokenPrefix is the condition "p has a name token starting with ?": a range
// on the token index (tokens compare byte-wise on both engines: SQLite's
// BINARY collation, PostgreSQL's "C"). U+10FFFF is above every character.
const tokenPrefix = "EXISTS (SELECT 1 FROM patient_search s WHERE s.patient_id = p.id AND s.token >= ? AND s.token < ?)"

func prefixArgs(prefix string) []any { return []any{prefix, prefix + "\U0010FFFF"} }

// SearchPatients finds patients whose names, birth date, IPP (current or
// former) or INS match every term of query, tolerant of accents, case,
// hyphens, apostrophes and spaces inside names. A merged patient is answered
// with the patient it was merged into.
func (db *DB) SearchPatients(ctx context.Context, query string, limit int) ([]relais.Patient, error) {
	const op = "patient.search"
	q, err := parseSearch(op, query)
	if err != nil {
		return nil, err
	}
	switch {
	case limit <= 0:
		limit = 20
	case limit > 200:
		limit = 200
	}
	var conds []string
	var args []any
	if q.ins != "" {
		conds = append(conds, "p.ins_matricule = ?")
		args = append(args, q.ins)
	}
	for _, d := range q.dates {
		conds = append(conds, "p.birth_date = ?")
		args = append(args, string(d))
	}
	var wordConds []string
	var wordArgs []any
	for _, w := range q.words {
		c := "p.ipp = ? OR EXISTS (SELECT 1 FROM patient_former_ipp f WHERE f.patient_id = p.id AND f.ipp = ?)"
		wordArgs = append(wordArgs, w.raw, w.raw)
		if w.prefix != "" {
			c += " OR " + tokenPrefix
			wordArgs = append(wordArgs, prefixArgs(w.prefix)...)
		}
		wordConds = append(wordConds, "("+c+")")
	}
	if len(wordConds) > 0 {
		c := strings.Join(wordConds, " AND ")
		args = append(args, wordArgs...)
		// "le gall" also finds "Legall": the words typed apart, joined.
		if len(q.words) > 1 {
			var joined strings.Builder
			for _, w := range q.words {
				joined.WriteString(w.prefix)
			}
			c = "(" + c + ") OR " + tokenPrefix
			args = append(args, prefixArgs(joined.String())...)
		}
		conds = append(conds, "("+c+")")
	}
	args = append(args, limit)
	sqlq := "SELECT p.id FROM patient p WHERE " + strings.Join(conds, " AND ") + " ORDER BY p.sort_name, p.birth_date, p.id LIMIT ?"
	var out []relais.Patient
	err = db.Read(ctx, func(tx *Tx) error {
		rows, err := tx.Query(sqlq, args...)
		if err != nil {
			return relais.E(op, err)
		}
		var ids []relais.ID
		for rows.Next() {
			var id relais.ID
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return relais.E(op, err)
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return relais.E(op, err)
		}
		seen := map[relais.ID]bool{}
		for _, id := range ids {
			p, err := survivorOf(tx, id)
			if err != nil {
				return err
			}
			if !seen[p.ID] {
				seen[p.ID] = true
				out = append(out, p)
			}
		}
		return nil
	})
	if out == nil {
		out = []relais.Patient{}
	}
	return out, err
}

// survivorOf follows merges from id to the active patient.
func survivorOf(tx *Tx, id relais.ID) (relais.Patient, error) {
	for range 100 { // a chain of merges is short; this bounds a corrupted loop
		p, err := patientByID(tx, id)
		if err != nil || p.Status != relais.PatientMerged {
			return p, err
		}
		id = p.MergedInto
	}
	return relais.Patient{}, relais.E("patient.survivor", relais.KindIntegrity, "patient "+string(id)+" is in a loop of merges")
}

// Measurements.

const measurementColumns = `id, site, patient_id, kind, value, unit, measured_at, recorded_by_id, recorded_by_name, recorded_by_role,
	recorded_at, source, voided_by_id, voided_by_name, voided_by_role, voided_at, void_reason`

func scanMeasurement(sc interface{ Scan(...any) error }) (relais.Measurement, error) {
	var m relais.Measurement
	var v voidCols
	err := sc.Scan(&m.ID, &m.Site, &m.PatientID, &m.Kind, &m.Value, &m.Unit, ScanTime(&m.MeasuredAt),
		&m.RecordedBy.UserID, &m.RecordedBy.Name, &m.RecordedBy.Role, ScanTime(&m.RecordedAt), &m.Source,
		&v.id, &v.name, &v.role, ScanTime(&v.at), &v.reason)
	m.Voided = v.voiding()
	return m, err
}

func measurementByID(tx *Tx, id relais.ID) (relais.Measurement, error) {
	m, err := scanMeasurement(tx.QueryRow("SELECT "+measurementColumns+" FROM measurement WHERE id = ?", id))
	if err != nil {
		if relais.ErrorKind(mapErr(err)) == relais.KindNotFound {
			return m, relais.E("measurement.get", relais.KindNotFound, fmt.Sprintf("no measurement %s", id))
		}
		return m, relais.E("measurement.get", mapErr(err))
	}
	return m, nil
}

// measurementsOf lists the measurements of a family of patients, newest
// first (by time measured, then by id: the later recorded first).
func measurementsOf(tx *Tx, family []relais.ID, kind string) ([]relais.Measurement, error) {
	q, args := tx.db.inList("SELECT "+measurementColumns+" FROM measurement WHERE patient_id IN (%s)", family)
	if kind != "" {
		q += " AND kind = ?"
		args = append(args, kind)
	}
	rows, err := tx.Query(q+" ORDER BY measured_at DESC, id DESC", args...)
	if err != nil {
		return nil, relais.E("measurement.list", err)
	}
	defer rows.Close()
	out := []relais.Measurement{}
	for rows.Next() {
		m, err := scanMeasurement(rows)
		if err != nil {
			return nil, relais.E("measurement.list", err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// RecordMeasurement records a measurement. Any site holding the patient may.
func (db *DB) RecordMeasurement(ctx context.Context, patientID relais.ID, in relais.MeasurementInput) (relais.Measurement, error) {
	const op = "measurement.record"
	var m relais.Measurement
	err := db.Write(ctx, op, func(tx *Tx) error {
		p, err := writablePatient(tx, op, patientID, false)
		if err != nil {
			return err
		}
		if err := in.Normalize(op, tx.Now(), p.BirthDate); err != nil {
			return err
		}
		id := relais.NewID()
		by := relais.AuthorOf(tx.Actor())
		if _, err := tx.Exec(`INSERT INTO measurement (id, site, patient_id, kind, value, unit, measured_at, recorded_by_id,
			recorded_by_name, recorded_by_role, recorded_at, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			id, tx.Site(), patientID, in.Kind, *in.Value, in.Unit, T(in.MeasuredAt), by.UserID, by.Name, by.Role, T(tx.Now()), in.Source); err != nil {
			return relais.E(op, err)
		}
		if m, err = measurementByID(tx, id); err != nil {
			return err
		}
		return tx.Journal(op, "measurement", id, nil, m)
	})
	return m, err
}

// VoidMeasurement marks a measurement entered in error: it stays, shown
// struck through, and no longer counts as current.
func (db *DB) VoidMeasurement(ctx context.Context, id relais.ID, reason string) (relais.Measurement, error) {
	const op = "measurement.void"
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return relais.Measurement{}, relais.Invalid(op, "reason", "say why this measurement is voided (e.g. wrong patient, weight in grams)")
	}
	var m relais.Measurement
	err := db.Write(ctx, op, func(tx *Tx) error {
		before, err := measurementByID(tx, id)
		if err != nil {
			return err
		}
		if before.Voided != nil {
			return relais.E(op, relais.KindTransition, fmt.Sprintf("this measurement was already voided on %s", before.Voided.At.In(relais.DisplayZone).Format("02/01/2006 15:04")))
		}
		by := relais.AuthorOf(tx.Actor())
		if _, err := tx.Exec(`UPDATE measurement SET voided_by_id = ?, voided_by_name = ?, voided_by_role = ?, voided_at = ?, void_reason = ?
			WHERE id = ? AND voided_at IS NULL`, by.UserID, by.Name, by.Role, T(tx.Now()), reason, id); err != nil {
			return relais.E(op, err)
		}
		if m, err = measurementByID(tx, id); err != nil {
			return err
		}
		return tx.Journal(op, "measurement", id, before, m)
	})
	return m, err
}

// Measurements lists a patient's measurements (with those of patients merged
// into it), newest first, voided ones included.
func (db *DB) Measurements(ctx context.Context, patientID relais.ID, kind string) ([]relais.Measurement, error) {
	if kind != "" {
		if _, ok := relais.MeasurementKindOf(kind); !ok {
			return nil, relais.Invalid("measurement.list", "kind", "unknown kind %q", kind)
		}
	}
	var out []relais.Measurement
	err := db.Read(ctx, func(tx *Tx) error {
		if _, err := patientByID(tx, patientID); err != nil {
			return err
		}
		family, err := patientFamily(tx, patientID)
		if err != nil {
			return err
		}
		out, err = measurementsOf(tx, family, kind)
		return err
	})
	return out, err
}

// CurrentValues returns the patient's current values, BSA and GFR.
func (db *DB) CurrentValues(ctx context.Context, patientID relais.ID) (relais.CurrentValues, error) {
	var cv relais.CurrentValues
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		cv, err = currentValues(tx, patientID)
		return err
	})
	return cv, err
}

// currentValues computes a patient's current values inside tx, at tx's time:
// the prescription code calls it in the transaction that computes doses, so
// the values used are the values stored.
func currentValues(tx *Tx, patientID relais.ID) (relais.CurrentValues, error) {
	p, err := patientByID(tx, patientID)
	if err != nil {
		return relais.CurrentValues{}, err
	}
	family, err := patientFamily(tx, patientID)
	if err != nil {
		return relais.CurrentValues{}, err
	}
	ms, err := measurementsOf(tx, family, "")
	if err != nil {
		return relais.CurrentValues{}, err
	}
	return relais.ComputeCurrentValues(p, ms, tx.Now()), nil
}
