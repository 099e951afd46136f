package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/relais-onco/relais"
)

// The network's records kept by this site: shares of its patients' care
// with other sites (entity "network_share") and links between patients of
// other sites and its own (entity "network_link"). Both are journaled and
// have appliers, so audit, standby and reintegration treat them like every
// other entity. The copy of what other sites send is in network_remote.go.

var _ relais.NetworkService = (*DB)(nil)

func init() {
	registerEntity("network_share", "network_share", func(tx *Tx, id relais.ID) (any, error) { return shareByID(tx, id) })
	registerEntity("network_link", "network_link", func(tx *Tx, id relais.ID) (any, error) { return linkByID(tx, id) })
	registerApplier("network_share", applyShare)
	registerApplier("network_link", applyLink)
}

const shareColumns = `id, site, patient_id, to_site, informed_by, informed_at, information_note, recorded_by_id, recorded_by_name,
	recorded_by_role, created_at, revoked_at, revoked_by_id, revoked_by_name, revoked_by_role, revoke_reason`

func scanShare(sc interface{ Scan(...any) error }) (relais.Share, error) {
	var s relais.Share
	var rv relais.ShareRevocation
	err := sc.Scan(&s.ID, &s.Site, &s.PatientID, &s.ToSite, &s.InformedBy, ScanTime(&s.InformedAt), &s.InformationNote,
		&s.RecordedBy.UserID, &s.RecordedBy.Name, &s.RecordedBy.Role, ScanTime(&s.CreatedAt), ScanTime(&rv.At),
		&rv.By.UserID, &rv.By.Name, &rv.By.Role, &rv.Reason)
	if !rv.At.IsZero() {
		s.Revoked = &rv
	}
	return s, err
}

func shareByID(tx *Tx, id relais.ID) (relais.Share, error) {
	s, err := scanShare(tx.QueryRow("SELECT "+shareColumns+" FROM network_share WHERE id = ?", id))
	if err != nil {
		if relais.ErrorKind(mapErr(err)) == relais.KindNotFound {
			return s, relais.E("network.share.get", relais.KindNotFound, fmt.Sprintf("no share %s", id))
		}
		return s, relais.E("network.share.get", mapErr(err))
	}
	return s, nil
}

// SharePatientCare shares a patient's care with a site of the network, once
// the patient or the parents were told. From then on the patient's history
// (before and after the share) is sent to that site.
func (db *DB) SharePatientCare(ctx context.Context, patientID relais.ID, in relais.ShareInput) (relais.Share, error) {
	const op = "network_share.create"
	if err := in.Normalize(op, relais.Now()); err != nil {
		return relais.Share{}, err
	}
	if strings.ContainsAny(in.ToSite, ". *>") {
		return relais.Share{}, relais.Invalid(op, "to_site", "a site id has no dot, space, * or >: use the id of the network configuration")
	}
	var s relais.Share
	err := db.Write(ctx, op, func(tx *Tx) error {
		p, err := writablePatient(tx, op, patientID, true)
		if err != nil {
			if relais.ErrorKind(err) == relais.KindNotFound {
				return relais.Invalid(op, "patient_id", "no patient %s", patientID)
			}
			return err
		}
		if in.ToSite == tx.Site() {
			return relais.Invalid(op, "to_site", "the patient's record is kept here, at %s: name another site", in.ToSite)
		}
		if _, err := siteByID(tx, in.ToSite); err != nil {
			if relais.ErrorKind(err) == relais.KindNotFound {
				return relais.Invalid(op, "to_site", "unknown site %q: use the id of a site of the network configuration", in.ToSite)
			}
			return err
		}
		if in.InformedAt.Before(p.BirthDate.Time()) {
			return relais.Invalid(op, "informed_at", "this time is before the patient's birth")
		}
		var other relais.ID
		err = tx.QueryRow("SELECT id FROM network_share WHERE patient_id = ? AND to_site = ? AND revoked_at IS NULL", patientID, in.ToSite).Scan(&other)
		if err == nil {
			return relais.E(op, relais.KindConflict, relais.Field("to_site"), fmt.Sprintf("the care is already shared with %s (share %s)", in.ToSite, other))
		} else if relais.ErrorKind(mapErr(err)) != relais.KindNotFound {
			return relais.E(op, mapErr(err))
		}
		id := relais.NewID()
		by := relais.AuthorOf(tx.Actor())
		if _, err := tx.Exec(`INSERT INTO network_share (id, site, patient_id, to_site, informed_by, informed_at, information_note,
			recorded_by_id, recorded_by_name, recorded_by_role, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			id, tx.Site(), patientID, in.ToSite, in.InformedBy, T(in.InformedAt), in.InformationNote, by.UserID, by.Name, by.Role, T(tx.Now())); err != nil {
			return relais.E(op, err)
		}
		if s, err = shareByID(tx, id); err != nil {
			return err
		}
		return tx.Journal(op, "network_share", id, nil, s)
	})
	return s, err
}

// RevokeShare ends a share: nothing more is sent to that site, which keeps
// what it received but no longer shows it. The share stays in the history.
func (db *DB) RevokeShare(ctx context.Context, shareID relais.ID, reason string) (relais.Share, error) {
	const op = "network_share.revoke"
	reason = strings.TrimSpace(reason)
	if reason == "" || len([]rune(reason)) > 1000 {
		return relais.Share{}, relais.Invalid(op, "reason", "say why the share ends (at most 1000 characters), e.g. \"the parents withdrew their consent\"")
	}
	var s relais.Share
	err := db.Write(ctx, op, func(tx *Tx) error {
		before, err := shareByID(tx, shareID)
		if err != nil {
			return err
		}
		if before.Site != tx.Site() {
			return relais.E(op, relais.KindForbidden, fmt.Sprintf("this share is kept by site %s: revoke it there", before.Site))
		}
		if before.Revoked != nil {
			return relais.E(op, relais.KindTransition, fmt.Sprintf("this share was already revoked by %s", before.Revoked.By.Name))
		}
		by := relais.AuthorOf(tx.Actor())
		if _, err := tx.Exec(`UPDATE network_share SET revoked_at = ?, revoked_by_id = ?, revoked_by_name = ?, revoked_by_role = ?,
			revoke_reason = ? WHERE id = ?`, T(tx.Now()), by.UserID, by.Name, by.Role, reason, shareID); err != nil {
			return relais.E(op, err)
		}
		if s, err = shareByID(tx, shareID); err != nil {
			return err
		}
		return tx.Journal(op, "network_share", shareID, before, s)
	})
	return s, err
}

// Shares lists a patient's shares, revoked ones included, oldest first.
func (db *DB) Shares(ctx context.Context, patientID relais.ID) ([]relais.Share, error) {
	out := []relais.Share{}
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		out, err = sharesWhere(tx, "patient_id = ?", patientID)
		return err
	})
	return out, err
}

func sharesWhere(tx *Tx, where string, args ...any) ([]relais.Share, error) {
	rows, err := tx.Query("SELECT "+shareColumns+" FROM network_share WHERE "+where+" ORDER BY created_at, id", args...)
	if err != nil {
		return nil, relais.E("network.share.list", err)
	}
	defer rows.Close()
	out := []relais.Share{}
	for rows.Next() {
		s, err := scanShare(rows)
		if err != nil {
			return nil, relais.E("network.share.list", err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// ActiveShareSites returns the sites a patient's care is shared with now.
func (db *DB) ActiveShareSites(ctx context.Context, patientID relais.ID) ([]string, error) {
	var out []string
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		out, err = queryStrings(tx, "SELECT to_site FROM network_share WHERE patient_id = ? AND revoked_at IS NULL ORDER BY to_site", patientID)
		return err
	})
	return out, err
}

func applyShare(tx *Tx, id relais.ID, after []byte) error {
	var s relais.Share
	if err := decodeImage("network_share", id, after, &s); err != nil {
		return err
	}
	if err := checkImageID("network_share", id, s.ID); err != nil {
		return err
	}
	var rv relais.ShareRevocation
	if s.Revoked != nil {
		rv = *s.Revoked
	}
	return upsert(tx, "network_share", []string{"id", "site", "patient_id", "to_site", "informed_by", "informed_at", "information_note",
		"recorded_by_id", "recorded_by_name", "recorded_by_role", "created_at", "revoked_at", "revoked_by_id", "revoked_by_name",
		"revoked_by_role", "revoke_reason"},
		[]any{s.ID, s.Site, s.PatientID, s.ToSite, s.InformedBy, T(s.InformedAt), s.InformationNote, s.RecordedBy.UserID,
			s.RecordedBy.Name, s.RecordedBy.Role, T(s.CreatedAt), NT(rv.At), rv.By.UserID, rv.By.Name, rv.By.Role, rv.Reason})
}

// Links.

const linkColumns = `id, site, remote_site, remote_patient_id, local_patient_id, status, evidence, decided_by_id, decided_by_name,
	decided_by_role, decided_at, decision_note, created_at, updated_at`

func scanLink(sc interface{ Scan(...any) error }) (relais.PatientLink, error) {
	var l relais.PatientLink
	var by relais.Author
	err := sc.Scan(&l.ID, &l.Site, &l.RemoteSite, &l.RemotePatientID, &l.LocalPatientID, &l.Status, &l.Evidence,
		&by.UserID, &by.Name, &by.Role, ScanTime(&l.DecidedAt), &l.DecisionNote, ScanTime(&l.CreatedAt), ScanTime(&l.UpdatedAt))
	if by.Name != "" {
		l.DecidedBy = &by
	}
	return l, err
}

func linkByID(tx *Tx, id relais.ID) (relais.PatientLink, error) {
	l, err := scanLink(tx.QueryRow("SELECT "+linkColumns+" FROM network_link WHERE id = ?", id))
	if err != nil {
		if relais.ErrorKind(mapErr(err)) == relais.KindNotFound {
			return l, relais.E("network.link.get", relais.KindNotFound, fmt.Sprintf("no patient link %s", id))
		}
		return l, relais.E("network.link.get", mapErr(err))
	}
	return l, nil
}

func linksWhere(tx *Tx, where string, args ...any) ([]relais.PatientLink, error) {
	rows, err := tx.Query("SELECT "+linkColumns+" FROM network_link WHERE "+where+" ORDER BY created_at, id", args...)
	if err != nil {
		return nil, relais.E("network.link.list", err)
	}
	defer rows.Close()
	out := []relais.PatientLink{}
	for rows.Next() {
		l, err := scanLink(rows)
		if err != nil {
			return nil, relais.E("network.link.list", err)
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// PatientLinks lists the links between remote and local patients, all or
// those of one status (e.g. "proposed": the pharmacist's queue).
func (db *DB) PatientLinks(ctx context.Context, status string) ([]relais.PatientLink, error) {
	var out []relais.PatientLink
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		if status == "" {
			out, err = linksWhere(tx, "1 = 1")
		} else {
			out, err = linksWhere(tx, "status = ?", status)
		}
		return err
	})
	return out, err
}

// DecideLink accepts or rejects a proposed link: only a person decides
// that two records of different sites are the same child.
func (db *DB) DecideLink(ctx context.Context, id relais.ID, d relais.LinkDecision) (relais.PatientLink, error) {
	const op = "network_link.decide"
	d.Note = strings.TrimSpace(d.Note)
	if len([]rune(d.Note)) > 1000 {
		return relais.PatientLink{}, relais.Invalid(op, "note", "at most 1000 characters")
	}
	if !d.Accept && d.Note == "" {
		return relais.PatientLink{}, relais.Invalid(op, "note", "say why these are not the same patient (e.g. \"different mother's name\")")
	}
	var l relais.PatientLink
	err := db.Write(ctx, op, func(tx *Tx) error {
		before, err := linkByID(tx, id)
		if err != nil {
			return err
		}
		if before.Status != relais.LinkProposed {
			return relais.E(op, relais.KindTransition, fmt.Sprintf("this link is %s: only a proposed link is accepted or rejected", before.Status))
		}
		status := relais.LinkRejected
		if d.Accept {
			status = relais.LinkAccepted
			var other relais.ID
			err := tx.QueryRow(`SELECT local_patient_id FROM network_link WHERE remote_site = ? AND remote_patient_id = ?
				AND status IN ('auto', 'accepted') AND id <> ?`, before.RemoteSite, before.RemotePatientID, id).Scan(&other)
			if err == nil {
				return relais.E(op, relais.KindConflict, fmt.Sprintf("this remote patient is already linked to patient %s: a remote patient is one local patient", other))
			} else if relais.ErrorKind(mapErr(err)) != relais.KindNotFound {
				return relais.E(op, mapErr(err))
			}
		}
		by := relais.AuthorOf(tx.Actor())
		if _, err := tx.Exec(`UPDATE network_link SET status = ?, decided_by_id = ?, decided_by_name = ?, decided_by_role = ?,
			decided_at = ?, decision_note = ?, updated_at = ? WHERE id = ?`, status, by.UserID, by.Name, by.Role, T(tx.Now()), d.Note, T(tx.Now()), id); err != nil {
			return relais.E(op, err)
		}
		if l, err = linkByID(tx, id); err != nil {
			return err
		}
		return tx.Journal(op, "network_link", id, before, l)
	})
	return l, err
}

func applyLink(tx *Tx, id relais.ID, after []byte) error {
	var l relais.PatientLink
	if err := decodeImage("network_link", id, after, &l); err != nil {
		return err
	}
	if err := checkImageID("network_link", id, l.ID); err != nil {
		return err
	}
	var by relais.Author
	if l.DecidedBy != nil {
		by = *l.DecidedBy
	}
	return upsert(tx, "network_link", []string{"id", "site", "remote_site", "remote_patient_id", "local_patient_id", "status", "evidence",
		"decided_by_id", "decided_by_name", "decided_by_role", "decided_at", "decision_note", "created_at", "updated_at"},
		[]any{l.ID, l.Site, l.RemoteSite, l.RemotePatientID, l.LocalPatientID, l.Status, l.Evidence, by.UserID, by.Name, by.Role,
			NT(l.DecidedAt), l.DecisionNote, T(l.CreatedAt), T(l.UpdatedAt)})
}
