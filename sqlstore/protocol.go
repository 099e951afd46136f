package sqlstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/relais-onco/relais"
)

// The protocol library: protocols, their versions and the lifecycle
// draft → in_test → active → retired. A version's content is stored as the
// JSON of relais.ProtocolContent with its SHA-256; the hash is checked at
// every read, and the database refuses any change of a frozen version's
// content (see the migration's triggers).

var _ relais.ProtocolService = (*DB)(nil)

func init() {
	registerEntity("protocol", "protocol", func(tx *Tx, id relais.ID) (any, error) { return protocolByID(tx, id) })
	registerEntity("protocol_version", "protocol_version", func(tx *Tx, id relais.ID) (any, error) { return versionByID(tx, id) })
}

// Protocols.

const protocolCols = "id, site, code, name, indication, population, created_at, updated_at"

func scanProtocol(row interface{ Scan(...any) error }) (relais.Protocol, error) {
	var p relais.Protocol
	err := row.Scan(&p.ID, &p.Site, &p.Code, &p.Name, &p.Indication, &p.Population, ScanTime(&p.CreatedAt), ScanTime(&p.UpdatedAt))
	return p, err
}

func protocolByID(tx *Tx, id relais.ID) (relais.Protocol, error) {
	p, err := scanProtocol(tx.QueryRow("SELECT "+protocolCols+" FROM protocol WHERE id = ?", id))
	if err != nil {
		return p, relais.E("protocol.get", "no such protocol", mapErr(err))
	}
	return p, nil
}

func protocolByCode(tx *Tx, code string) (relais.Protocol, error) {
	p, err := scanProtocol(tx.QueryRow("SELECT "+protocolCols+" FROM protocol WHERE lower(code) = lower(?)", strings.TrimSpace(code)))
	if err != nil {
		return p, relais.E("protocol.get", fmt.Sprintf("no protocol with code %q", code), mapErr(err))
	}
	return p, nil
}

// Versions.

const versionCols = `id, protocol_id, number, status, content, content_hash, revision, copied_from, origin,
	author, approver, events, site, created_at, updated_at`

func scanVersion(row interface{ Scan(...any) error }) (relais.ProtocolVersion, error) {
	var v relais.ProtocolVersion
	var content, origin, author, approver, events string
	err := row.Scan(&v.ID, &v.ProtocolID, &v.Number, &v.Status, &content, &v.ContentHash, &v.Revision, &v.CopiedFrom,
		&origin, &author, &approver, &events, &v.Site, ScanTime(&v.CreatedAt), ScanTime(&v.UpdatedAt))
	if err != nil {
		return v, err
	}
	// The hash is of the stored bytes: what was approved is what is read.
	if sum := sha256.Sum256([]byte(content)); hex.EncodeToString(sum[:]) != v.ContentHash {
		return v, relais.E("protocol.version.get", relais.KindIntegrity, fmt.Sprintf(
			"the content of protocol version %s no longer matches its recorded hash: it was changed outside Relais; do not prescribe from it and run relais audit verify", v.ID))
	}
	bad := func(what string, err error) error {
		return relais.E("protocol.version.get", relais.KindIntegrity, fmt.Sprintf("the %s of protocol version %s cannot be read", what, v.ID), err)
	}
	if err := json.Unmarshal([]byte(content), &v.Content); err != nil {
		return v, bad("content", err)
	}
	if err := json.Unmarshal([]byte(author), &v.Author); err != nil {
		return v, bad("author", err)
	}
	if approver != "" {
		v.Approver = new(relais.Signature)
		if err := json.Unmarshal([]byte(approver), v.Approver); err != nil {
			return v, bad("approver", err)
		}
	}
	if origin != "" {
		v.Origin = new(relais.DocumentOrigin)
		if err := json.Unmarshal([]byte(origin), v.Origin); err != nil {
			return v, bad("origin", err)
		}
	}
	if err := json.Unmarshal([]byte(events), &v.Events); err != nil {
		return v, bad("events", err)
	}
	return v, nil
}

func versionByID(tx *Tx, id relais.ID) (relais.ProtocolVersion, error) {
	v, err := scanVersion(tx.QueryRow("SELECT "+versionCols+" FROM protocol_version WHERE id = ?", id))
	if err != nil {
		return v, relais.E("protocol.version.get", "no such protocol version", mapErr(err))
	}
	return v, nil
}

func versionByNumber(tx *Tx, protocolID relais.ID, n int) (relais.ProtocolVersion, error) {
	v, err := scanVersion(tx.QueryRow("SELECT "+versionCols+" FROM protocol_version WHERE protocol_id = ? AND number = ?", protocolID, n))
	if err != nil {
		return v, relais.E("protocol.version.get", fmt.Sprintf("this protocol has no version %d", n), mapErr(err))
	}
	return v, nil
}

func versionsOf(tx *Tx, protocolID relais.ID) ([]relais.ProtocolVersion, error) {
	rows, err := tx.Query("SELECT "+versionCols+" FROM protocol_version WHERE protocol_id = ? ORDER BY number", protocolID)
	if err != nil {
		return nil, relais.E("protocol.version.list", err)
	}
	defer rows.Close()
	var out []relais.ProtocolVersion
	for rows.Next() {
		v, err := scanVersion(rows)
		if err != nil {
			return nil, relais.E("protocol.version.list", err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func detailOf(tx *Tx, p relais.Protocol) (relais.ProtocolDetail, error) {
	vs, err := versionsOf(tx, p.ID)
	return relais.ProtocolDetail{Protocol: p, Versions: vs}, err
}

// jsonCols encodes values for the JSON text columns, keeping the first
// error (a NaN that slipped past validation) so that the caller refuses the
// write instead of storing a truncated document.
type jsonCols struct{ err error }

func (j *jsonCols) enc(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		if j.err == nil {
			j.err = relais.E(relais.KindInvalid, "a value cannot be stored (not a finite number?)", err)
		}
		return ""
	}
	return string(b)
}

// protoJSON is the text a version's JSON columns hold (appliers that write
// replicated versions must write the same bytes, or the content hash would
// not match); "" when v cannot be encoded.
func protoJSON(v any) string {
	var j jsonCols
	return j.enc(v)
}

// opt encodes a pointer, nil as the empty string.
func opt[T any](j *jsonCols, v *T) string {
	if v == nil {
		return ""
	}
	return j.enc(v)
}

// insertVersion writes a new version row and journals it as op made it.
func insertVersion(tx *Tx, op string, v *relais.ProtocolVersion) error {
	var j jsonCols
	content := j.enc(v.Content)
	sum := sha256.Sum256([]byte(content))
	v.ContentHash = hex.EncodeToString(sum[:])
	author, approver, origin, events := j.enc(v.Author), opt(&j, v.Approver), opt(&j, v.Origin), j.enc(v.Events)
	if j.err != nil {
		return relais.E(op, j.err)
	}
	_, err := tx.Exec("INSERT INTO protocol_version ("+versionCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		v.ID, v.ProtocolID, v.Number, v.Status, content, v.ContentHash, v.Revision, v.CopiedFrom, origin,
		author, approver, events, tx.Site(), T(tx.Now()), T(tx.Now()))
	if err != nil {
		return relais.E(op, err)
	}
	got, err := versionByID(tx, v.ID)
	if err != nil {
		return err
	}
	*v = got
	action := "protocol.version.create"
	if op != "protocol.create" {
		action = op // protocol.version.copy, protocol.import: the journal says how the draft came
	}
	return tx.Journal(action, "protocol_version", v.ID, nil, got)
}

func nextNumber(tx *Tx, protocolID relais.ID) (int, error) {
	var n int
	if err := tx.QueryRow("SELECT COALESCE(MAX(number), 0) FROM protocol_version WHERE protocol_id = ?", protocolID).Scan(&n); err != nil {
		return 0, relais.E("protocol.version.number", mapErr(err))
	}
	return n + 1, nil
}

// resolveContent checks a content against the site's catalogue and returns
// it with each line's drug id and INN set, and line ids given: those in keep
// stay, lines without one get a new one. prefix is put before field paths.
func resolveContent(tx *Tx, op, prefix string, c relais.ProtocolContent, keep map[relais.ID]bool) (relais.ProtocolContent, []error) {
	c = c.Clone()
	var errs []error
	drugs := map[string]relais.Drug{}
	lookup := func(field, inn string) (relais.Drug, bool) {
		inn = relais.NormalizeINN(inn)
		if d, ok := drugs[inn]; ok {
			return d, true
		}
		d, err := drugByINN(tx, inn)
		if err != nil {
			if relais.ErrorKind(err) == relais.KindNotFound {
				errs = append(errs, relais.Invalid(op, field, "no drug %q in this site's catalogue: add it to the catalogue first, or correct the INN", inn))
			} else {
				errs = append(errs, err)
			}
			return d, false
		}
		drugs[inn] = d
		return d, true
	}
	vehicles := map[string]bool{}
	for i := range c.Lines {
		l := &c.Lines[i]
		p := fmt.Sprintf("%slines[%d].", prefix, i)
		switch {
		case l.DrugID != "":
			d, err := drugByID(tx, l.DrugID)
			if err != nil {
				if relais.ErrorKind(err) == relais.KindNotFound {
					errs = append(errs, relais.Invalid(op, p+"drug_id", "no drug with id %s in this site's catalogue", l.DrugID))
				} else {
					errs = append(errs, err)
				}
				break
			}
			if l.INN != "" && relais.NormalizeINN(l.INN) != d.INN {
				errs = append(errs, relais.Invalid(op, p+"inn", "drug_id is %s but inn says %q: give one, or make them agree", d.INN, l.INN))
				break
			}
			l.INN = d.INN
		case l.INN != "":
			if d, ok := lookup(p+"inn", l.INN); ok {
				l.DrugID, l.INN = d.ID, d.INN
			}
		}
		if v := strings.TrimSpace(l.Vehicle); v != "" && !vehicles[v] {
			if _, err := diluentByName(tx, v); err != nil {
				if relais.ErrorKind(err) == relais.KindNotFound {
					errs = append(errs, relais.Invalid(op, p+"vehicle", "no diluent %q in this site's catalogue: add it, or use one of the catalogue's names", v))
				} else {
					errs = append(errs, err)
				}
			} else {
				vehicles[v] = true
			}
		}
		switch {
		case l.ID == "":
			l.ID = relais.NewID()
		case !keep[l.ID]:
			errs = append(errs, relais.Invalid(op, p+"id", "this version has no line %s: leave id out for a new line", l.ID))
		default:
			keep[l.ID] = false // each kept id once
		}
	}
	for i := range c.CumulativeLimits {
		cl := &c.CumulativeLimits[i]
		if cl.INN != "" {
			if d, ok := lookup(fmt.Sprintf("%scumulative_limits[%d].inn", prefix, i), cl.INN); ok {
				cl.INN = d.INN
			}
		}
	}
	return c, errs
}

func lineIDs(c relais.ProtocolContent) map[relais.ID]bool {
	m := map[relais.ID]bool{}
	for _, l := range c.Lines {
		if l.ID != "" {
			m[l.ID] = true
		}
	}
	return m
}

// CreateProtocol creates a protocol and its version 1, a draft.
func (db *DB) CreateProtocol(ctx context.Context, req relais.NewProtocol) (relais.ProtocolDetail, error) {
	const op = "protocol.create"
	var out relais.ProtocolDetail
	err := db.Write(ctx, op, func(tx *Tx) error {
		if err := requirePerm(op, tx.Actor(), relais.PermProtocolWrite); err != nil {
			return err
		}
		// Every fault at once: the content's own, then the catalogue's.
		errs := relais.ValidateHeader(op, "", req.Code, req.Name, req.Indication, req.Population)
		errs = append(errs, relais.ValidateContent(op, "content.", req.Content)...)
		content, cerrs := resolveContent(tx, op, "content.", req.Content, nil)
		if err := relais.Errors(op, append(errs, cerrs...)); err != nil {
			return err
		}
		p, err := insertProtocol(tx, op, req.Code, req.Name, req.Indication, req.Population)
		if err != nil {
			return err
		}
		v := newDraft(tx, p.ID, 1, content, "")
		if err := insertVersion(tx, op, &v); err != nil {
			return err
		}
		out = relais.ProtocolDetail{Protocol: p, Versions: []relais.ProtocolVersion{v}}
		return nil
	})
	return out, err
}

func insertProtocol(tx *Tx, op, code, name, indication string, pop relais.Population) (relais.Protocol, error) {
	id := relais.NewID()
	_, err := tx.Exec("INSERT INTO protocol ("+protocolCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		id, tx.Site(), code, name, indication, pop, T(tx.Now()), T(tx.Now()))
	if relais.ErrorKind(err) == relais.KindConflict {
		return relais.Protocol{}, relais.E(op, relais.KindConflict, relais.Field("code"),
			fmt.Sprintf("a protocol with code %s already exists: make a new version of it, or choose another code", code))
	}
	if err != nil {
		return relais.Protocol{}, relais.E(op, err)
	}
	p, err := protocolByID(tx, id)
	if err != nil {
		return p, err
	}
	return p, tx.Journal("protocol.create", "protocol", id, nil, p)
}

func newDraft(tx *Tx, protocolID relais.ID, number int, c relais.ProtocolContent, comment string) relais.ProtocolVersion {
	sig := relais.SignatureOf(tx.Actor(), tx.Now())
	return relais.ProtocolVersion{
		ID: relais.NewID(), ProtocolID: protocolID, Number: number, Status: relais.VersionDraft,
		Content: c, Revision: 1, Author: sig,
		Events: []relais.VersionEvent{{Action: relais.EventCreated, To: relais.VersionDraft, By: sig, Comment: comment}},
	}
}

// UpdateProtocol changes a protocol's name and indication.
func (db *DB) UpdateProtocol(ctx context.Context, id relais.ID, req relais.ProtocolHeaderUpdate) (relais.Protocol, error) {
	const op = "protocol.update"
	var out relais.Protocol
	err := db.Write(ctx, op, func(tx *Tx) error {
		if err := requirePerm(op, tx.Actor(), relais.PermProtocolWrite); err != nil {
			return err
		}
		before, err := protocolByID(tx, id)
		if err != nil {
			return relais.E(op, err)
		}
		errs := relais.ValidateHeader(op, "", before.Code, req.Name, req.Indication, before.Population)
		if err := relais.Errors(op, errs); err != nil {
			return err
		}
		if _, err := tx.Exec("UPDATE protocol SET name = ?, indication = ?, updated_at = ? WHERE id = ?",
			req.Name, req.Indication, T(tx.Now()), id); err != nil {
			return relais.E(op, err)
		}
		if out, err = protocolByID(tx, id); err != nil {
			return err
		}
		return tx.Journal(op, "protocol", id, before, out)
	})
	return out, err
}

// Protocol returns a protocol with all its versions.
func (db *DB) Protocol(ctx context.Context, id relais.ID) (relais.ProtocolDetail, error) {
	var out relais.ProtocolDetail
	err := db.Read(ctx, func(tx *Tx) error {
		p, err := protocolByID(tx, id)
		if err != nil {
			return err
		}
		out, err = detailOf(tx, p)
		return err
	})
	return out, err
}

// ProtocolByCode returns the protocol with this code (any case).
func (db *DB) ProtocolByCode(ctx context.Context, code string) (relais.ProtocolDetail, error) {
	var out relais.ProtocolDetail
	err := db.Read(ctx, func(tx *Tx) error {
		p, err := protocolByCode(tx, code)
		if err != nil {
			return err
		}
		out, err = detailOf(tx, p)
		return err
	})
	return out, err
}

// Protocols lists the library, by code.
func (db *DB) Protocols(ctx context.Context, f relais.ProtocolFilter) ([]relais.ProtocolSummary, error) {
	const op = "protocol.list"
	if f.Population != "" && !f.Population.Valid() {
		return nil, relais.Invalid(op, "population", "population must be paediatric or adult")
	}
	if f.Status != "" && !f.Status.Valid() {
		return nil, relais.Invalid(op, "status", "status must be draft, in_test, active or retired")
	}
	q := "SELECT " + protocolCols + " FROM protocol p WHERE 1 = 1"
	var args []any
	if f.Population != "" {
		q += " AND population = ?"
		args = append(args, f.Population)
	}
	if f.Status != "" {
		q += " AND EXISTS (SELECT 1 FROM protocol_version v WHERE v.protocol_id = p.id AND v.status = ?)"
		args = append(args, f.Status)
	}
	if s := strings.TrimSpace(f.Query); s != "" {
		like := "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(strings.ToLower(s)) + "%"
		q += ` AND (lower(code) LIKE ? ESCAPE '\' OR lower(name) LIKE ? ESCAPE '\')`
		args = append(args, like, like)
	}
	q += " ORDER BY lower(code)"
	var out []relais.ProtocolSummary
	err := db.Read(ctx, func(tx *Tx) error {
		rows, err := tx.Query(q, args...)
		if err != nil {
			return relais.E(op, err)
		}
		defer rows.Close()
		index := map[relais.ID]int{}
		for rows.Next() {
			p, err := scanProtocol(rows)
			if err != nil {
				return relais.E(op, err)
			}
			index[p.ID] = len(out)
			out = append(out, relais.ProtocolSummary{Protocol: p, Versions: []relais.VersionRef{}})
		}
		if err := rows.Err(); err != nil {
			return relais.E(op, err)
		}
		rows.Close()
		vrows, err := tx.Query("SELECT protocol_id, id, number, status FROM protocol_version ORDER BY protocol_id, number")
		if err != nil {
			return relais.E(op, err)
		}
		defer vrows.Close()
		for vrows.Next() {
			var pid relais.ID
			var r relais.VersionRef
			if err := vrows.Scan(&pid, &r.ID, &r.Number, &r.Status); err != nil {
				return relais.E(op, err)
			}
			if i, ok := index[pid]; ok {
				out[i].Versions = append(out[i].Versions, r)
				if r.Status == relais.VersionActive {
					out[i].ActiveVersion = r.Number
				}
			}
		}
		return vrows.Err()
	})
	return out, err
}

// ProtocolVersion returns one version.
func (db *DB) ProtocolVersion(ctx context.Context, id relais.ID) (relais.ProtocolVersion, error) {
	var v relais.ProtocolVersion
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		v, err = versionByID(tx, id)
		return err
	})
	return v, err
}

// ProtocolVersionByNumber returns version number of a protocol.
func (db *DB) ProtocolVersionByNumber(ctx context.Context, protocolID relais.ID, number int) (relais.ProtocolVersion, error) {
	var v relais.ProtocolVersion
	err := db.Read(ctx, func(tx *Tx) error {
		if _, err := protocolByID(tx, protocolID); err != nil {
			return err
		}
		var err error
		v, err = versionByNumber(tx, protocolID, number)
		return err
	})
	return v, err
}

// NewVersion copies a version (any status) into a new draft, numbered after
// the protocol's last version, written by the actor.
func (db *DB) NewVersion(ctx context.Context, protocolID relais.ID, from int) (relais.ProtocolVersion, error) {
	const op = "protocol.version.copy"
	var out relais.ProtocolVersion
	err := db.Write(ctx, op, func(tx *Tx) error {
		if err := requirePerm(op, tx.Actor(), relais.PermProtocolWrite); err != nil {
			return err
		}
		if _, err := protocolByID(tx, protocolID); err != nil {
			return relais.E(op, err)
		}
		src, err := versionByNumber(tx, protocolID, from)
		if err != nil {
			return relais.E(op, relais.Field("from"), err)
		}
		n, err := nextNumber(tx, protocolID)
		if err != nil {
			return err
		}
		content := src.Content.Clone()
		for i := range content.Lines {
			content.Lines[i].ID = relais.NewID() // a line id names one line of one version
		}
		v := newDraft(tx, protocolID, n, content, fmt.Sprintf("copy of version %d", src.Number))
		v.CopiedFrom = src.ID
		if err := insertVersion(tx, op, &v); err != nil {
			return err
		}
		out = v
		return nil
	})
	return out, err
}

// frozenError refuses an edit of a version that is not a draft, naming its
// status.
func frozenError(op string, code string, v relais.ProtocolVersion) error {
	return relais.E(op, relais.KindConflict, fmt.Sprintf(
		"version %d of %s is %s: its content is frozen (prescriptions point at it); make a new version (a copy) to change it",
		v.Number, code, v.Status))
}

// UpdateDraft replaces a draft's content.
func (db *DB) UpdateDraft(ctx context.Context, versionID relais.ID, req relais.DraftUpdate) (relais.ProtocolVersion, error) {
	const op = "protocol.version.edit"
	var out relais.ProtocolVersion
	err := db.Write(ctx, op, func(tx *Tx) error {
		if err := requirePerm(op, tx.Actor(), relais.PermProtocolWrite); err != nil {
			return err
		}
		before, err := versionByID(tx, versionID)
		if err != nil {
			return relais.E(op, err)
		}
		p, err := protocolByID(tx, before.ProtocolID)
		if err != nil {
			return err
		}
		if before.Status != relais.VersionDraft {
			return frozenError(op, p.Code, before)
		}
		if req.Revision != before.Revision {
			return staleError(op, "draft", req.Revision, before.Revision)
		}
		errs := relais.ValidateContent(op, "content.", req.Content)
		content, cerrs := resolveContent(tx, op, "content.", req.Content, lineIDs(before.Content))
		if err := relais.Errors(op, append(errs, cerrs...)); err != nil {
			return err
		}
		events := append(before.Events, relais.VersionEvent{Action: relais.EventEdited, From: relais.VersionDraft,
			To: relais.VersionDraft, By: relais.SignatureOf(tx.Actor(), tx.Now())})
		var j jsonCols
		text, eventsText := j.enc(content), j.enc(events)
		if j.err != nil {
			return relais.E(op, j.err)
		}
		sum := sha256.Sum256([]byte(text))
		res, err := tx.Exec(`UPDATE protocol_version SET content = ?, content_hash = ?, revision = revision + 1, events = ?, updated_at = ?
			WHERE id = ? AND status = 'draft' AND revision = ?`,
			text, hex.EncodeToString(sum[:]), eventsText, T(tx.Now()), versionID, req.Revision)
		if err != nil {
			return relais.E(op, err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return relais.E(op, relais.KindConflict, "the draft changed while it was being saved: reload it and try again")
		}
		if out, err = versionByID(tx, versionID); err != nil {
			return err
		}
		return tx.Journal(op, "protocol_version", versionID, before, out)
	})
	return out, err
}

// TransitionVersion moves a version through its lifecycle. Activating a
// version is its approval: the approver must not be its author nor anyone
// who edited it (four-eyes principle: a regimen error slips past its writer
// far more often than past a second reader), and the protocol's previously
// active version is retired in the same transaction.
func (db *DB) TransitionVersion(ctx context.Context, versionID relais.ID, req relais.VersionTransition) (relais.ProtocolVersion, error) {
	op := "protocol.version.transition"
	if !req.To.Valid() {
		return relais.ProtocolVersion{}, relais.Invalid(op, "to", "unknown status %q: use in_test, draft, active or retired", req.To)
	}
	comment := strings.TrimSpace(req.Comment)
	if (req.To == relais.VersionDraft || req.To == relais.VersionRetired) && comment == "" {
		return relais.ProtocolVersion{}, relais.Invalid(op, "comment", "say why the version goes back to draft or is retired")
	}
	if len(comment) > 4000 {
		return relais.ProtocolVersion{}, relais.Invalid(op, "comment", "the comment is longer than 4000 characters")
	}
	var out relais.ProtocolVersion
	err := db.Write(ctx, op, func(tx *Tx) error {
		actor := tx.Actor()
		if err := requirePerm(op, actor, relais.PermProtocolApprove); err != nil {
			return err
		}
		before, err := versionByID(tx, versionID)
		if err != nil {
			return relais.E(op, err)
		}
		p, err := protocolByID(tx, before.ProtocolID)
		if err != nil {
			return err
		}
		if !before.Status.CanMove(req.To) {
			next := before.Status.Next()
			allowed := "none: a retired version stays retired (copy it into a new version to use it again)"
			if len(next) > 0 {
				s := make([]string, len(next))
				for i, x := range next {
					s[i] = string(x)
				}
				allowed = strings.Join(s, " or ")
			}
			return relais.E(op, relais.KindTransition, fmt.Sprintf(
				"version %d of %s is %s and cannot go to %s (allowed from %s: %s)",
				before.Number, p.Code, before.Status, req.To, before.Status, allowed))
		}
		sig := relais.SignatureOf(actor, tx.Now())
		action := ""
		var approver *relais.Signature
		switch req.To {
		case relais.VersionInTest:
			action = relais.EventSubmitted
			// The content is checked again against today's catalogue and
			// rules before it is frozen.
			errs := relais.ValidateContent(op, "content.", before.Content)
			_, cerrs := resolveContent(tx, op, "content.", before.Content, lineIDs(before.Content))
			if err := relais.Errors(op, append(errs, cerrs...)); err != nil {
				return err
			}
		case relais.VersionDraft:
			action = relais.EventReturned
		case relais.VersionRetired:
			action = relais.EventRetired
		case relais.VersionActive:
			action = relais.EventActivated
			if err := checkFourEyes(op, actor, before); err != nil {
				return err
			}
			approver = &sig
			if err := retireActive(tx, p, before.Number); err != nil {
				return err
			}
		}
		events := append(before.Events, relais.VersionEvent{Action: action, From: before.Status, To: req.To, By: sig, Comment: comment})
		q := "UPDATE protocol_version SET status = ?, events = ?, updated_at = ?"
		var j jsonCols
		args := []any{req.To, j.enc(events), T(tx.Now())}
		if approver != nil {
			q += ", approver = ?"
			args = append(args, j.enc(approver))
		}
		if j.err != nil {
			return relais.E(op, j.err)
		}
		q += " WHERE id = ? AND status = ?"
		args = append(args, versionID, before.Status)
		res, err := tx.Exec(q, args...)
		if err != nil {
			return relais.E(op, err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return relais.E(op, relais.KindConflict, "the version changed while it was being moved: reload it and try again")
		}
		if out, err = versionByID(tx, versionID); err != nil {
			return err
		}
		return tx.Journal("protocol.version."+action, "protocol_version", versionID, before, out)
	})
	return out, err
}

// checkFourEyes refuses an approval by the version's author or by anyone who
// edited it, and an approval by no one in particular (Relais itself).
func checkFourEyes(op string, actor relais.Actor, v relais.ProtocolVersion) error {
	if actor.UserID == "" {
		return relais.E(op, relais.KindForbidden, "a version is approved by a signed-in person, not by Relais itself")
	}
	if actor.UserID == v.Author.UserID {
		return relais.E(op, relais.KindForbidden, fmt.Sprintf(
			"you wrote version %d: another pharmacist must approve it (four-eyes principle)", v.Number))
	}
	for _, e := range v.Events {
		if e.Action == relais.EventEdited && e.By.UserID == actor.UserID {
			return relais.E(op, relais.KindForbidden, fmt.Sprintf(
				"you edited version %d: another pharmacist must approve it (four-eyes principle)", v.Number))
		}
	}
	return nil
}

// retireActive retires the protocol's active version, if any, as superseded
// by version number.
func retireActive(tx *Tx, p relais.Protocol, number int) error {
	const op = "protocol.version.retire"
	var id relais.ID
	err := tx.QueryRow("SELECT id FROM protocol_version WHERE protocol_id = ? AND status = 'active'", p.ID).Scan(&id)
	if relais.ErrorKind(mapErr(err)) == relais.KindNotFound {
		return nil
	}
	if err != nil {
		return relais.E(op, mapErr(err))
	}
	before, err := versionByID(tx, id)
	if err != nil {
		return err
	}
	events := append(before.Events, relais.VersionEvent{Action: relais.EventRetired, From: relais.VersionActive,
		To: relais.VersionRetired, By: relais.SignatureOf(tx.Actor(), tx.Now()),
		Comment: fmt.Sprintf("superseded by version %d", number)})
	var j jsonCols
	eventsText := j.enc(events)
	if j.err != nil {
		return relais.E(op, j.err)
	}
	if _, err := tx.Exec("UPDATE protocol_version SET status = 'retired', events = ?, updated_at = ? WHERE id = ? AND status = 'active'",
		eventsText, T(tx.Now()), id); err != nil {
		return relais.E(op, err)
	}
	after, err := versionByID(tx, id)
	if err != nil {
		return err
	}
	return tx.Journal(op, "protocol_version", id, before, after)
}

// ExportVersion returns a version as a self-contained document.
func (db *DB) ExportVersion(ctx context.Context, versionID relais.ID) (relais.ProtocolDocument, error) {
	const op = "protocol.export"
	var doc relais.ProtocolDocument
	err := db.Read(ctx, func(tx *Tx) error {
		v, err := versionByID(tx, versionID)
		if err != nil {
			return err
		}
		p, err := protocolByID(tx, v.ProtocolID)
		if err != nil {
			return err
		}
		classes := map[string]relais.DrugClass{}
		for _, inn := range v.Content.INNs() {
			d, err := drugByINN(tx, inn)
			if err != nil {
				return relais.E(op, relais.KindIntegrity, fmt.Sprintf("version %d of %s names %s, which is not in the catalogue", v.Number, p.Code, inn), err)
			}
			classes[inn] = d.Class
		}
		origin := &relais.DocumentOrigin{Site: tx.Site(), Version: v.Number, Status: v.Status, ContentHash: v.ContentHash,
			Author: signer(v.Author), ExportedAt: tx.Now(), ExportedBy: tx.Actor().Username}
		if v.Approver != nil {
			origin.Approver, origin.ApprovedAt = signer(*v.Approver), v.Approver.At
		}
		doc = relais.NewDocument(p, v, classes, origin)
		return nil
	})
	return doc, err
}

func signer(s relais.Signature) string {
	if s.Name != "" {
		return s.Name + " (" + s.Username + ")"
	}
	return s.Username
}

// ImportProtocol creates a protocol from a document, or a new draft version
// of the protocol with the same code. Everything is checked first — the
// document, then each drug, class and vehicle against this site's catalogue —
// and every fault is returned together; nothing is written when there is one.
func (db *DB) ImportProtocol(ctx context.Context, doc relais.ProtocolDocument) (relais.ImportResult, error) {
	const op = "protocol.import"
	if err := doc.CheckFormat(op); err != nil {
		return relais.ImportResult{}, err
	}
	var out relais.ImportResult
	err := db.Write(ctx, op, func(tx *Tx) error {
		if err := requirePerm(op, tx.Actor(), relais.PermProtocolWrite); err != nil {
			return err
		}
		// The document's own faults and the catalogue's come back together.
		errs := doc.Faults(op)
		existing, err := protocolByCode(tx, doc.Code)
		found := err == nil
		if err != nil && relais.ErrorKind(err) != relais.KindNotFound {
			return err
		}
		if found {
			if existing.Population != doc.Population {
				errs = append(errs, relais.Invalid(op, "population", "protocol %s exists here for the %s population, the document is for %s",
					existing.Code, existing.Population, doc.Population))
			}
			if existing.Name != doc.Name {
				errs = append(errs, relais.Invalid(op, "name", "protocol %s exists here named %q, the document says %q: rename one so they agree before importing a new version",
					existing.Code, existing.Name, doc.Name))
			}
			if existing.Indication != doc.Indication {
				errs = append(errs, relais.Invalid(op, "indication", "protocol %s exists here with another indication (%q): make them agree before importing a new version",
					existing.Code, existing.Indication))
			}
		}
		for i, dd := range doc.Drugs {
			d, err := drugByINN(tx, dd.INN)
			if err != nil {
				if relais.ErrorKind(err) != relais.KindNotFound {
					return err
				}
				continue // reported on each line naming it, below
			}
			if d.Class != dd.Class {
				errs = append(errs, relais.Invalid(op, fmt.Sprintf("drugs[%d].class", i),
					"the document says %s is %s, this site's catalogue says %s: cumulative limits would be counted differently; make them agree",
					d.INN, dd.Class, d.Class))
			}
		}
		// Line and drug ids in a document are faults already reported by
		// Faults; left out here so they are not reported twice.
		content, cerrs := resolveContent(tx, op, "", doc.ProtocolContent.Portable(), nil)
		errs = append(errs, cerrs...)
		if err := relais.Errors(op, errs); err != nil {
			return err
		}
		p := existing
		number := 1
		if found {
			if number, err = nextNumber(tx, p.ID); err != nil {
				return err
			}
		} else if p, err = insertProtocol(tx, op, doc.Code, doc.Name, doc.Indication, doc.Population); err != nil {
			return err
		}
		comment := "imported"
		if o := doc.Origin; o != nil && o.Site != "" {
			comment = fmt.Sprintf("imported from %s, version %d (%s)", o.Site, o.Version, o.Status)
		}
		v := newDraft(tx, p.ID, number, content, comment)
		v.Origin = doc.Origin
		if err := insertVersion(tx, op, &v); err != nil {
			return err
		}
		out = relais.ImportResult{Protocol: p, Version: v, Created: !found}
		return nil
	})
	return out, err
}
