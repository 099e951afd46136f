package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/journal"
)

// The read-only copy of what other sites share with this one, and the
// network's operational state (publisher cursor, peers, read notices).
//
// The copy is not journaled: it is another site's journal, stored as it came
// and verifiable against that site's hashes; like the access log, it is its
// own record. It never touches a local entity: a received prescription is a
// remote_event row, not a prescription row, so nothing here can sign,
// validate or change it.

// plainWrite runs fn in a writing transaction that appends no journal entry
// (the copy, cursors, peer states).
func (db *DB) plainWrite(ctx context.Context, op string, fn func(tx *Tx) error) error {
	sqltx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return relais.E(op, relais.KindUnavailable, mapErr(err))
	}
	tx := &Tx{db: db, tx: sqltx, ctx: ctx, op: op, now: relais.Now()}
	if err := fn(tx); err != nil {
		sqltx.Rollback()
		return err
	}
	if err := sqltx.Commit(); err != nil {
		return relais.E(op, mapErr(err))
	}
	return nil
}

// RemoteApplyResult says what ApplyRemote did.
type RemoteApplyResult struct {
	Stored    bool // false: already there (a duplicate)
	PatientID relais.ID
}

// ApplyRemote stores one entry of site from's journal in the copy,
// idempotently by entry id. The caller (package network) has checked the
// signature; here the entry's hash is recomputed, its site must be from,
// and it must chain with the neighbouring entries already received
// (prev = the hash of seq-1, and seq+1's prev = this hash).
func (db *DB) ApplyRemote(ctx context.Context, from string, e journal.Entry) (RemoteApplyResult, error) {
	const op = "network.receive"
	var res RemoteApplyResult
	if from == db.Site {
		return res, relais.E(op, relais.KindInvalid, "an entry of this site's own journal came back from the network")
	}
	if e.Site != from {
		return res, relais.E(op, relais.KindIntegrity, fmt.Sprintf("the entry says it is from %s but came from %s", e.Site, from))
	}
	h, err := e.ComputeHash()
	if err != nil {
		return res, relais.E(op, relais.KindIntegrity, err)
	}
	if h != e.Hash {
		return res, relais.E(op, relais.KindIntegrity, fmt.Sprintf("entry %d of %s does not match its hash: altered on the way", e.Seq, from))
	}
	pid, _, ok := relais.SharedPatientOf(e.Entity, relais.ID(e.EntityID), e.After)
	if !ok {
		return res, relais.E(op, relais.KindInvalid, fmt.Sprintf("entry %d of %s (%s) is not one a site shares", e.Seq, from, e.Entity))
	}
	res.PatientID = pid
	err = db.plainWrite(ctx, op, func(tx *Tx) error {
		var n int
		if err := tx.QueryRow("SELECT COUNT(*) FROM remote_event WHERE entry_id = ?", e.ID).Scan(&n); err != nil {
			return relais.E(op, mapErr(err))
		}
		if n > 0 {
			return nil
		}
		var prevHash string
		switch err := tx.QueryRow("SELECT hash FROM remote_event WHERE site = ? AND seq = ?", from, e.Seq-1).Scan(&prevHash); {
		case err == nil:
			if prevHash != e.Prev {
				return relais.E(op, relais.KindIntegrity, fmt.Sprintf("entry %d of %s does not follow entry %d received earlier: the chain forks", e.Seq, from, e.Seq-1))
			}
		case relais.ErrorKind(mapErr(err)) != relais.KindNotFound:
			return relais.E(op, mapErr(err))
		}
		var nextPrev string
		switch err := tx.QueryRow("SELECT prev FROM remote_event WHERE site = ? AND seq = ?", from, e.Seq+1).Scan(&nextPrev); {
		case err == nil:
			if nextPrev != e.Hash {
				return relais.E(op, relais.KindIntegrity, fmt.Sprintf("entry %d of %s is not the one entry %d follows: the chain forks", e.Seq, from, e.Seq+1))
			}
		case relais.ErrorKind(mapErr(err)) != relais.KindNotFound:
			return relais.E(op, mapErr(err))
		}
		sum, err := json.Marshal(relais.SummarizeEntry(e.After))
		if err != nil {
			return relais.E(op, err)
		}
		if _, err := tx.Exec(`INSERT INTO remote_event (site, seq, entry_id, time, username, action, entity, entity_id, patient_id,
			prev, hash, received_at, summary, after) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, from, e.Seq, e.ID, T(e.Time), e.Username,
			e.Action, e.Entity, e.EntityID, pid, e.Prev, e.Hash, T(tx.Now()), string(sum), string(e.After)); err != nil {
			return relais.E(op, err)
		}
		res.Stored = true
		if e.Entity == "patient" {
			if err := storeRemotePatient(tx, from, e); err != nil {
				return err
			}
		}
		return touchPeer(tx, from, e.Seq, true, "")
	})
	return res, err
}

func storeRemotePatient(tx *Tx, from string, e journal.Entry) error {
	var p relais.Patient
	if err := json.Unmarshal(e.After, &p); err != nil {
		return relais.E("network.receive", relais.KindIntegrity, "the patient's identity cannot be read", err)
	}
	var seq int64
	err := tx.QueryRow("SELECT seq FROM remote_patient WHERE site = ? AND patient_id = ?", from, p.ID).Scan(&seq)
	if err == nil && seq > e.Seq {
		return nil // a newer identity is already here (entries may come out of order after a share)
	}
	first := ""
	if len(p.FirstNames) > 0 {
		first = p.FirstNames[0]
	}
	_, err = tx.Exec(`INSERT INTO remote_patient (site, patient_id, ins_matricule, ins_oid, identity_status, birth_name, first_name,
		birth_date, sex, image, seq, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (site, patient_id) DO UPDATE SET ins_matricule = excluded.ins_matricule, ins_oid = excluded.ins_oid,
		identity_status = excluded.identity_status, birth_name = excluded.birth_name, first_name = excluded.first_name,
		birth_date = excluded.birth_date, sex = excluded.sex, image = excluded.image, seq = excluded.seq, received_at = excluded.received_at`,
		from, p.ID, p.INS.Matricule, p.INS.OID, string(p.INS.Status), p.BirthName, first, string(p.BirthDate), string(p.Sex),
		string(e.After), e.Seq, T(tx.Now()))
	return err
}

func touchPeer(tx *Tx, site string, seq int64, stored bool, errText string) error {
	if _, err := tx.Exec("INSERT INTO network_peer (site) VALUES (?) ON CONFLICT (site) DO NOTHING", site); err != nil {
		return err
	}
	if stored {
		_, err := tx.Exec(`UPDATE network_peer SET last_seq = CASE WHEN last_seq < ? THEN ? ELSE last_seq END, received_at = ?,
			events = events + 1 WHERE site = ?`, seq, seq, T(tx.Now()), site)
		return err
	}
	_, err := tx.Exec("UPDATE network_peer SET rejected = rejected + 1, last_error = ? WHERE site = ?", truncate(errText, 500), site)
	return err
}

// RejectRemote counts a message refused from site (bad signature, hash or
// chain), with the reason, for the network page.
func (db *DB) RejectRemote(ctx context.Context, site, reason string) error {
	return db.plainWrite(ctx, "network.reject", func(tx *Tx) error { return touchPeer(tx, site, 0, false, reason) })
}

// Peers lists what this site knows of the other sites' feeds.
func (db *DB) Peers(ctx context.Context) ([]relais.PeerState, error) {
	out := []relais.PeerState{}
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		out, err = peersWhere(tx, "1 = 1")
		return err
	})
	return out, err
}

func peersWhere(tx *Tx, where string, args ...any) ([]relais.PeerState, error) {
	rows, err := tx.Query("SELECT site, last_seq, received_at, events, rejected, last_error FROM network_peer WHERE "+where+" ORDER BY site", args...)
	if err != nil {
		return nil, relais.E("network.peers", err)
	}
	defer rows.Close()
	out := []relais.PeerState{}
	for rows.Next() {
		var p relais.PeerState
		if err := rows.Scan(&p.Site, &p.LastSeq, ScanTime(&p.ReceivedAt), &p.Events, &p.Rejected, &p.LastError); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// Identity matching.

// MatchRemotePatients links each remote patient not yet linked: to the
// local patient with the same INS when both identities are qualified
// (automatically), else proposes the local patients whose INS, or birth
// name, first name, birth date and sex, are the same, for a pharmacist to
// decide. Nothing is ever merged. It returns the links made.
func (db *DB) MatchRemotePatients(ctx context.Context) ([]relais.PatientLink, error) {
	const op = "network_link.match"
	type remote struct {
		site, id, matricule, oid, status, birthName, first, birthDate, sex string
	}
	var todo []remote
	err := db.Read(ctx, func(tx *Tx) error {
		rows, err := tx.Query(`SELECT r.site, r.patient_id, r.ins_matricule, r.ins_oid, r.identity_status, r.birth_name, r.first_name,
			r.birth_date, r.sex FROM remote_patient r WHERE NOT EXISTS (SELECT 1 FROM network_link l WHERE l.remote_site = r.site
			AND l.remote_patient_id = r.patient_id AND l.status IN ('auto', 'accepted'))`)
		if err != nil {
			return relais.E(op, err)
		}
		defer rows.Close()
		for rows.Next() {
			var r remote
			if err := rows.Scan(&r.site, &r.id, &r.matricule, &r.oid, &r.status, &r.birthName, &r.first, &r.birthDate, &r.sex); err != nil {
				return err
			}
			todo = append(todo, r)
		}
		return rows.Err()
	})
	if err != nil || len(todo) == 0 {
		return nil, err
	}
	sys := relais.WithActor(ctx, relais.SystemActor(db.Site))
	var made []relais.PatientLink
	for _, r := range todo {
		err := db.Write(sys, op, func(tx *Tx) error {
			type cand struct {
				id, matricule, oid, status, birthName, firstNames string
			}
			rows, err := tx.Query(`SELECT id, ins_matricule, ins_oid, identity_status, birth_name, first_names FROM patient
				WHERE status = 'active' AND ((ins_matricule <> '' AND ins_matricule = ?) OR (birth_date = ? AND sex = ?))`,
				r.matricule, r.birthDate, r.sex)
			if err != nil {
				return relais.E(op, err)
			}
			var cands []cand
			for rows.Next() {
				var c cand
				if err := rows.Scan(&c.id, &c.matricule, &c.oid, &c.status, &c.birthName, &c.firstNames); err != nil {
					rows.Close()
					return err
				}
				cands = append(cands, c)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			for _, c := range cands {
				var status, evidence string
				switch {
				case r.matricule != "" && c.matricule == r.matricule && c.oid == r.oid &&
					r.status == string(relais.IdentityQualified) && c.status == string(relais.IdentityQualified):
					status, evidence = relais.LinkAuto, fmt.Sprintf("same INS %s, both identities qualified", r.matricule)
				case r.matricule != "" && c.matricule == r.matricule:
					status, evidence = relais.LinkProposed, fmt.Sprintf("same INS %s, but the identity is %s here and %s at %s: not qualified on both sides",
						r.matricule, c.status, r.status, r.site)
				default:
					var names []string
					_ = json.Unmarshal([]byte(c.firstNames), &names)
					if !sameName(c.birthName, r.birthName) || len(names) == 0 || !sameName(names[0], r.first) {
						continue
					}
					status, evidence = relais.LinkProposed, "same birth name, first name, birth date and sex, without a qualified INS on both sides"
				}
				var existing relais.ID
				var exStatus string
				err := tx.QueryRow(`SELECT id, status FROM network_link WHERE remote_site = ? AND remote_patient_id = ? AND local_patient_id = ?`,
					r.site, r.id, c.id).Scan(&existing, &exStatus)
				switch {
				case err == nil:
					if status != relais.LinkAuto || exStatus != relais.LinkProposed {
						continue // already proposed, decided, or rejected by a person: left as it is
					}
					before, err := linkByID(tx, existing)
					if err != nil {
						return err
					}
					if _, err := tx.Exec("UPDATE network_link SET status = ?, evidence = ?, updated_at = ? WHERE id = ?",
						status, evidence, T(tx.Now()), existing); err != nil {
						return err
					}
					l, err := linkByID(tx, existing)
					if err != nil {
						return err
					}
					made = append(made, l)
					if err := tx.Journal(op, "network_link", existing, before, l); err != nil {
						return err
					}
					continue
				case relais.ErrorKind(mapErr(err)) != relais.KindNotFound:
					return relais.E(op, mapErr(err))
				}
				id := relais.NewID()
				if _, err := tx.Exec(`INSERT INTO network_link (id, site, remote_site, remote_patient_id, local_patient_id, status, evidence,
					created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, id, tx.Site(), r.site, r.id, c.id, status, evidence,
					T(tx.Now()), T(tx.Now())); err != nil {
					return relais.E(op, err)
				}
				l, err := linkByID(tx, id)
				if err != nil {
					return err
				}
				made = append(made, l)
				if err := tx.Journal(op, "network_link", id, nil, l); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return made, err
		}
	}
	return made, nil
}

func sameName(a, b string) bool {
	norm := func(s string) string {
		s = strings.ToUpper(strings.TrimSpace(s))
		return strings.NewReplacer("-", " ", "'", " ", "É", "E", "È", "E", "Ê", "E", "Ë", "E", "À", "A", "Â", "A", "Ä", "A",
			"Î", "I", "Ï", "I", "Ô", "O", "Ö", "O", "Ù", "U", "Û", "U", "Ü", "U", "Ç", "C").Replace(s)
	}
	return a != "" && norm(a) == norm(b)
}

// Reading the copy.

// revokedRemote reports whether site revoked every share of its patient
// with this site (the copy is kept but no longer shown).
func revokedRemote(tx *Tx, site string, patientID relais.ID) (bool, error) {
	rows, err := tx.Query(`SELECT entity_id, after FROM remote_event WHERE site = ? AND patient_id = ? AND entity = 'network_share'
		ORDER BY seq`, site, patientID)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	latest := map[string]relais.Share{}
	for rows.Next() {
		var id, after string
		if err := rows.Scan(&id, &after); err != nil {
			return false, err
		}
		var s relais.Share
		if json.Unmarshal([]byte(after), &s) == nil {
			latest[id] = s
		}
	}
	if err := rows.Err(); err != nil {
		return false, err
	}
	if len(latest) == 0 {
		return false, nil // the share itself has not arrived yet; its patient's entries came with it
	}
	for _, s := range latest {
		if s.ToSite == tx.Site() && s.Revoked == nil {
			return false, nil
		}
	}
	return true, nil
}

func remotePatientRow(tx *Tx, site string, id relais.ID) (relais.RemotePatient, error) {
	var rp relais.RemotePatient
	var image string
	err := tx.QueryRow("SELECT image, received_at FROM remote_patient WHERE site = ? AND patient_id = ?", site, id).
		Scan(&image, ScanTime(&rp.ReceivedAt))
	if err != nil {
		if relais.ErrorKind(mapErr(err)) == relais.KindNotFound {
			return rp, relais.E("network.remote_patient", relais.KindNotFound, fmt.Sprintf("no patient %s of site %s shared with this site", id, site))
		}
		return rp, relais.E("network.remote_patient", mapErr(err))
	}
	rp.Site = site
	if err := json.Unmarshal([]byte(image), &rp.Patient); err != nil {
		return rp, relais.E("network.remote_patient", relais.KindIntegrity, err)
	}
	if rp.Revoked, err = revokedRemote(tx, site, id); err != nil {
		return rp, err
	}
	links, err := linksWhere(tx, "remote_site = ? AND remote_patient_id = ? AND status IN ('auto', 'accepted')", site, id)
	if err != nil {
		return rp, err
	}
	if len(links) > 0 {
		rp.Link = &links[0]
	}
	return rp, nil
}

// RemotePatients lists the patients other sites share with this one, those
// whose share was revoked included (marked so).
func (db *DB) RemotePatients(ctx context.Context) ([]relais.RemotePatient, error) {
	out := []relais.RemotePatient{}
	err := db.Read(ctx, func(tx *Tx) error {
		rows, err := tx.Query("SELECT site, patient_id FROM remote_patient ORDER BY birth_name, first_name, site")
		if err != nil {
			return err
		}
		type key struct{ site, id string }
		var keys []key
		for rows.Next() {
			var k key
			if err := rows.Scan(&k.site, &k.id); err != nil {
				rows.Close()
				return err
			}
			keys = append(keys, k)
		}
		rows.Close()
		for _, k := range keys {
			rp, err := remotePatientRow(tx, k.site, relais.ID(k.id))
			if err != nil {
				return err
			}
			out = append(out, rp)
		}
		return nil
	})
	return out, err
}

// RemotePatient returns a remote patient and its received entries, oldest
// first. A patient whose share was revoked is not shown.
func (db *DB) RemotePatient(ctx context.Context, site string, id relais.ID) (relais.RemotePatient, []relais.RemoteEvent, error) {
	var rp relais.RemotePatient
	var evs []relais.RemoteEvent
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		if rp, err = remotePatientRow(tx, site, id); err != nil {
			return err
		}
		if rp.Revoked {
			return relais.E("network.remote_patient", relais.KindForbidden, fmt.Sprintf("site %s no longer shares this patient's care with this site", site))
		}
		evs, err = remoteEvents(tx, site, id)
		return err
	})
	return rp, evs, err
}

func remoteEvents(tx *Tx, site string, id relais.ID) ([]relais.RemoteEvent, error) {
	rows, err := tx.Query(`SELECT site, seq, entry_id, time, action, entity, entity_id, patient_id, username, after, hash, received_at
		FROM remote_event WHERE site = ? AND patient_id = ? ORDER BY seq`, site, id)
	if err != nil {
		return nil, relais.E("network.remote_events", err)
	}
	defer rows.Close()
	out := []relais.RemoteEvent{}
	for rows.Next() {
		var e relais.RemoteEvent
		var after string
		if err := rows.Scan(&e.Site, &e.Seq, &e.EntryID, ScanTime(&e.Time), &e.Action, &e.Entity, &e.EntityID, &e.PatientID,
			&e.Username, &after, &e.Hash, ScanTime(&e.ReceivedAt)); err != nil {
			return nil, err
		}
		e.After = json.RawMessage(after)
		out = append(out, e)
	}
	return out, rows.Err()
}

// NetworkHistory gathers a local patient's history across the network: the
// entries of this site's journal about the patient (the entities a site
// shares) and those received from the sites whose patient is linked to
// this one, on one timeline (oldest first), with each site's data age and
// the other sites' prescriptions at their latest state. When no other site
// contributes, Entries is empty: the site's own history says it all.
func (db *DB) NetworkHistory(ctx context.Context, patientID relais.ID) (relais.NetworkHistory, error) {
	const op = "network.history"
	h := relais.NetworkHistory{PatientID: patientID, Entries: []relais.NetworkEntry{}, Sites: []relais.PeerState{},
		RemotePrescriptions: []relais.Prescription{}, Links: []relais.PatientLink{}}
	err := db.Read(ctx, func(tx *Tx) error {
		if _, err := patientByID(tx, patientID); err != nil {
			return err
		}
		family, err := patientFamily(tx, patientID)
		if err != nil {
			return err
		}
		q, args := tx.db.inList("local_patient_id IN (%s) AND status IN ('auto', 'accepted')", family)
		if h.Links, err = linksWhere(tx, q, args...); err != nil {
			return err
		}
		seenSite := map[string]bool{}
		for _, l := range h.Links {
			revoked, err := revokedRemote(tx, l.RemoteSite, l.RemotePatientID)
			if err != nil {
				return err
			}
			if revoked {
				continue
			}
			if err := remoteTimeline(tx, l.RemoteSite, l.RemotePatientID, &h); err != nil {
				return err
			}
			if !seenSite[l.RemoteSite] {
				seenSite[l.RemoteSite] = true
				ps, err := peersWhere(tx, "site = ?", l.RemoteSite)
				if err != nil {
					return err
				}
				h.Sites = append(h.Sites, ps...)
			}
		}
		if len(h.Entries) == 0 {
			return nil // no other site contributes: the page's own history is the whole story
		}
		// This site's entries about the patient, through the journal's
		// entity index.
		// Only the latest image of each entity is read (a prescription's
		// image is large, and its earlier states add nothing the timeline
		// shows but their action).
		q, args = db.patientEntriesQuery("time, action, entity, entity_id, username, seq", db.ChainSite(), family, 0, 1<<62)
		rows, err := tx.Query(q, args...)
		if err != nil {
			return relais.E(op, err)
		}
		latest := map[relais.ID]int64{}
		at := map[int64]int{}
		for rows.Next() {
			e := relais.NetworkEntry{Site: tx.Site(), Local: true}
			var seq int64
			if err := rows.Scan(ScanTime(&e.Time), &e.Action, &e.Entity, &e.EntityID, &e.Username, &seq); err != nil {
				rows.Close()
				return err
			}
			latest[e.EntityID] = seq
			at[seq] = len(h.Entries)
			h.Entries = append(h.Entries, e)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(latest) > 0 {
			args := []any{db.ChainSite()}
			for _, seq := range latest {
				args = append(args, seq)
			}
			q := "SELECT seq, after FROM journal WHERE site = ? AND seq IN (" + strings.TrimSuffix(strings.Repeat("?, ", len(latest)), ", ") + ")"
			rows, err := tx.Query(q, args...)
			if err != nil {
				return relais.E(op, err)
			}
			for rows.Next() {
				var seq int64
				var stored []byte
				if err := rows.Scan(&seq, &stored); err != nil {
					rows.Close()
					return err
				}
				after, err := loadImage("after", stored)
				if err != nil {
					rows.Close()
					return relais.E(op, relais.KindIntegrity, fmt.Sprintf("entry %d", seq), err)
				}
				h.Entries[at[seq]].Summary = relais.SummarizeEntry(after)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		sort.SliceStable(h.Entries, func(i, j int) bool { return h.Entries[i].Time.Before(h.Entries[j].Time) })
		return nil
	})
	return h, err
}

// remoteTimeline adds a remote patient's entries to h (their summaries,
// not their images) and its prescriptions at their latest state.
func remoteTimeline(tx *Tx, site string, id relais.ID, h *relais.NetworkHistory) error {
	const op = "network.history"
	rows, err := tx.Query(`SELECT time, action, entity, entity_id, username, received_at, summary FROM remote_event
		WHERE site = ? AND patient_id = ? ORDER BY seq`, site, id)
	if err != nil {
		return relais.E(op, err)
	}
	for rows.Next() {
		e := relais.NetworkEntry{Site: site}
		var sum string
		if err := rows.Scan(ScanTime(&e.Time), &e.Action, &e.Entity, &e.EntityID, &e.Username, ScanTime(&e.ReceivedAt), &sum); err != nil {
			rows.Close()
			return err
		}
		if err := json.Unmarshal([]byte(sum), &e.Summary); err != nil {
			rows.Close()
			return relais.E(op, relais.KindIntegrity, err)
		}
		h.Entries = append(h.Entries, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	rows, err = tx.Query(`SELECT entity_id, after FROM remote_event WHERE site = ? AND patient_id = ? AND entity = 'prescription'
		AND seq IN (SELECT MAX(seq) FROM remote_event WHERE site = ? AND patient_id = ? AND entity = 'prescription' GROUP BY entity_id)
		ORDER BY seq`, site, id, site, id)
	if err != nil {
		return relais.E(op, err)
	}
	defer rows.Close()
	for rows.Next() {
		var pid, after string
		if err := rows.Scan(&pid, &after); err != nil {
			return err
		}
		var p relais.Prescription
		if err := json.Unmarshal([]byte(after), &p); err != nil {
			return relais.E(op, relais.KindIntegrity, fmt.Sprintf("prescription %s of %s cannot be read", pid, site), err)
		}
		h.RemotePrescriptions = append(h.RemotePrescriptions, p)
	}
	return rows.Err()
}

// patientEntriesQuery selects cols (the last one named seq) of site's
// journal entries with seq in (after, upTo] about a family of patients:
// the patients' own entries and those of the rows of each shared entity
// whose patient is in the family, each through the journal's index on
// (entity, entity_id) — a patient's history is found without reading the
// whole journal.
func (db *DB) patientEntriesQuery(cols, site string, family []relais.ID, after, upTo int64) (string, []any) {
	var parts []string
	var args []any
	for _, e := range relais.SharedEntities {
		sub := "SELECT id FROM " + e + " WHERE patient_id IN (%s)"
		switch e {
		case "patient":
			sub = "%s"
		case "aid_transfer": // through its prescription: aid_transfer is indexed on prescription_id, not patient_id
			sub = "SELECT id FROM aid_transfer WHERE prescription_id IN (SELECT id FROM prescription WHERE patient_id IN (%s))"
		}
		q, a := db.inList("SELECT "+cols+" FROM journal WHERE site = ? AND +seq > ? AND +seq <= ? AND entity = ? AND entity_id IN ("+sub+")",
			family, site, after, upTo, e)
		parts = append(parts, q)
		args = append(args, a...)
	}
	return strings.Join(parts, " UNION ALL ") + " ORDER BY seq", args
}

// Remote reads.

// RecordRemoteReads logs reads of other sites' data in this site's access
// log (all or none: an unlogged read is refused) and queues each for its
// owning site, which records it too when the link is up.
func (db *DB) RecordRemoteReads(ctx context.Context, reads ...relais.RemoteRead) error {
	const op = "network.read"
	if len(reads) == 0 {
		return nil
	}
	entries := make([]relais.AccessEntry, 0, len(reads))
	for i := range reads {
		r := &reads[i]
		if r.ID == "" {
			r.ID = relais.NewID()
		}
		if r.At.IsZero() {
			r.At = relais.Now()
		}
		r.ReaderSite = db.Site
		if r.OwnerSite == "" || r.PatientID == "" || r.UserID == "" {
			return relais.E(op, relais.KindInvalid, "a remote read needs the owning site, the patient and the reader")
		}
		entries = append(entries, relais.AccessEntry{ID: r.ID, At: r.At, Site: db.Site, UserID: r.UserID, Username: r.Username,
			Role: r.Role, UserSite: db.Site, PatientID: r.PatientID, Purpose: r.Purpose, Route: "network " + r.OwnerSite + ": " + r.Route})
	}
	if err := db.RecordAccess(ctx, entries...); err != nil {
		return err
	}
	return db.plainWrite(ctx, op, func(tx *Tx) error {
		for _, r := range reads {
			b, err := json.Marshal(r)
			if err != nil {
				return err
			}
			if _, err := tx.Exec("INSERT INTO network_read_notice (id, owner_site, body, created_at) VALUES (?, ?, ?, ?)",
				r.ID, r.OwnerSite, string(b), T(r.At)); err != nil {
				return relais.E(op, err)
			}
		}
		return nil
	})
}

// PendingReadNotices returns reads not yet sent to their owning site.
func (db *DB) PendingReadNotices(ctx context.Context, limit int) ([]relais.RemoteRead, error) {
	rows, err := db.r.QueryContext(ctx, db.rebind("SELECT body FROM network_read_notice WHERE published_at IS NULL ORDER BY created_at, id LIMIT ?"), limit)
	if err != nil {
		return nil, relais.E("network.read_notices", mapErr(err))
	}
	defer rows.Close()
	var out []relais.RemoteRead
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, err
		}
		var r relais.RemoteRead
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			return nil, relais.E("network.read_notices", relais.KindIntegrity, err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// MarkReadNoticeSent records that the owning site's stream acknowledged a
// read notice.
func (db *DB) MarkReadNoticeSent(ctx context.Context, id relais.ID) error {
	return db.plainWrite(ctx, "network.read_notice", func(tx *Tx) error {
		_, err := tx.Exec("UPDATE network_read_notice SET published_at = ? WHERE id = ?", T(tx.Now()), id)
		return err
	})
}

// RecordReadFromRemote records, in this site's access log, a read of one of
// its patients made at another site. Idempotent by the read's id.
func (db *DB) RecordReadFromRemote(ctx context.Context, from string, r relais.RemoteRead) error {
	if r.ReaderSite != from || r.OwnerSite != db.Site {
		return relais.E("network.read", relais.KindIntegrity, fmt.Sprintf("a read notice from %s says it is from %s about %s's data", from, r.ReaderSite, r.OwnerSite))
	}
	var n int
	if err := db.r.QueryRowContext(ctx, db.rebind("SELECT COUNT(*) FROM access_log WHERE id = ?"), r.ID).Scan(&n); err != nil {
		return relais.E("network.read", mapErr(err))
	}
	if n > 0 {
		return nil
	}
	return db.RecordAccess(ctx, relais.AccessEntry{ID: r.ID, At: r.At, Site: from, UserID: r.UserID, Username: r.Username,
		Role: r.Role, UserSite: from, PatientID: r.PatientID, Purpose: r.Purpose, Route: "network " + from + ": " + r.Route})
}

// Publisher's cursor and backfill.

// NetworkCursor returns the publisher's cursor named name (0 when new).
func (db *DB) NetworkCursor(ctx context.Context, name string) (int64, error) {
	var seq int64
	err := db.r.QueryRowContext(ctx, db.rebind("SELECT seq FROM network_cursor WHERE name = ?"), name).Scan(&seq)
	if err == sql.ErrNoRows {
		return 0, nil
	}
	if err != nil {
		return 0, relais.E("network.cursor", mapErr(err))
	}
	return seq, nil
}

// SetNetworkCursor moves the publisher's cursor (only forward).
func (db *DB) SetNetworkCursor(ctx context.Context, name string, seq int64) error {
	return db.plainWrite(ctx, "network.cursor", func(tx *Tx) error {
		_, err := tx.Exec(`INSERT INTO network_cursor (name, seq, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET seq = excluded.seq, updated_at = excluded.updated_at WHERE network_cursor.seq < excluded.seq`,
			name, seq, T(tx.Now()))
		return err
	})
}

// PatientEntries returns this site's journal entries about a patient (the
// entities a site shares) with seq in (after, upTo], oldest first: the
// history sent to a site when the care is shared with it.
func (db *DB) PatientEntries(ctx context.Context, patientID relais.ID, after, upTo int64) ([]journal.Entry, error) {
	q, args := db.patientEntriesQuery(entryColumns,
		db.ChainSite(), []relais.ID{patientID}, after, upTo)
	rows, err := db.r.QueryContext(ctx, db.rebind(q), args...)
	if err != nil {
		return nil, relais.E("network.backfill", mapErr(err))
	}
	defer rows.Close()
	var out []journal.Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		if ie := (*imageError)(nil); errors.As(err, &ie) {
			return nil, relais.E("network.backfill", relais.KindIntegrity, err)
		} else if err != nil {
			return nil, err
		}
		if pid, _, ok := relais.SharedPatientOf(e.Entity, relais.ID(e.EntityID), e.After); ok && pid == patientID {
			out = append(out, e)
		}
	}
	return out, rows.Err()
}
