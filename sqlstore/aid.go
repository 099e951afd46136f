package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/relais-onco/relais"
)

// Mutual aid (issue 12, docs/mutual-aid.md): agreements, transfers of
// preparations to a support site, and the messages between the two sites.
// Every change is journaled (entities "aid_agreement" and "aid_transfer",
// actions "aid.*") in the transaction that makes it; a message to the other
// site is written to aid_outbox in the same transaction, and published by
// the aid package until the other site's stream acknowledges it. A message
// received is applied once (aid_inbox, by message id).

func init() {
	registerEntity("aid_agreement", "aid_agreement", func(tx *Tx, id relais.ID) (any, error) { return agreementByID(tx, id) })
	registerEntity("aid_transfer", "aid_transfer", func(tx *Tx, id relais.ID) (any, error) { return transferByID(tx, id) })
	registerApplier("aid_agreement", applyAidAgreement)
	registerApplier("aid_transfer", applyAidTransfer)
}

const agreementCols = `id, site, requester_site, support_site, all_drugs, inns, valid_from, valid_to, reference, status, recorded, ended,
	created_at, updated_at`

func scanAgreement(sc interface{ Scan(...any) error }) (relais.AidAgreement, error) {
	var g relais.AidAgreement
	var all int
	var inns, rec, ended string
	err := sc.Scan(&g.ID, &g.Site, &g.RequesterSite, &g.SupportSite, &all, &inns, scanDate(&g.ValidFrom), scanDate(&g.ValidTo), &g.Reference,
		&g.Status, &rec, &ended, ScanTime(&g.CreatedAt), ScanTime(&g.UpdatedAt))
	if err != nil {
		return g, err
	}
	g.AllDrugs = all == 1
	for _, c := range []struct {
		s string
		v any
	}{{inns, &g.INNs}, {rec, &g.Recorded}, {ended, &g.Ended}} {
		if err := fromJSONText(c.s, c.v); err != nil {
			return g, relais.E(relais.KindIntegrity, fmt.Sprintf("aid agreement %s cannot be read", g.ID), err)
		}
	}
	if g.INNs == nil {
		g.INNs = []string{}
	}
	return g, nil
}

func agreementByID(tx *Tx, id relais.ID) (relais.AidAgreement, error) {
	g, err := scanAgreement(tx.QueryRow("SELECT "+agreementCols+" FROM aid_agreement WHERE id = ?", id))
	if err != nil {
		if relais.ErrorKind(mapErr(err)) == relais.KindNotFound {
			return g, relais.E("aid.agreement.get", relais.KindNotFound, fmt.Sprintf("no mutual-aid agreement %s", id))
		}
		return g, relais.E("aid.agreement.get", mapErr(err))
	}
	return g, nil
}

func writeAgreement(tx *Tx, g relais.AidAgreement) error {
	if g.INNs == nil {
		g.INNs = []string{}
	}
	inns, err := jsonText(g.INNs)
	if err != nil {
		return err
	}
	rec, err := jsonText(g.Recorded)
	if err != nil {
		return err
	}
	ended, err := optJSON(g.Ended, g.Ended == nil)
	if err != nil {
		return err
	}
	all := 0
	if g.AllDrugs {
		all = 1
	}
	return upsert(tx, "aid_agreement", columns(agreementCols), []any{g.ID, g.Site, g.RequesterSite, g.SupportSite, all, inns,
		string(g.ValidFrom), string(g.ValidTo), g.Reference, g.Status, rec, ended, T(g.CreatedAt), T(g.UpdatedAt)})
}

func applyAidAgreement(tx *Tx, id relais.ID, after []byte) error {
	var g relais.AidAgreement
	if err := decodeImage("aid_agreement", id, after, &g); err != nil {
		return err
	}
	if err := checkImageID("aid_agreement", id, g.ID); err != nil {
		return err
	}
	return writeAgreement(tx, g)
}

// saveAgreement writes g and journals it.
func saveAgreement(tx *Tx, action string, g relais.AidAgreement, before *relais.AidAgreement) (relais.AidAgreement, error) {
	if err := writeAgreement(tx, g); err != nil {
		return g, relais.E(action, err)
	}
	after, err := agreementByID(tx, g.ID)
	if err != nil {
		return after, err
	}
	var b any
	if before != nil {
		b = *before
	}
	return after, tx.Journal(action, "aid_agreement", g.ID, b, after)
}

const transferCols = `id, site, role, requester_site, support_site, agreement_id, preparation_id, prescription_id, line_id, patient_id,
	inn, dose, unit, administration_date, ward, status, reason, order_doc, register_number, slip_number, shipment, events, created_at, updated_at`

func scanTransfer(sc interface{ Scan(...any) error }) (relais.AidTransfer, error) {
	var t relais.AidTransfer
	var order, ship, events string
	err := sc.Scan(&t.ID, &t.Site, &t.Role, &t.RequesterSite, &t.SupportSite, &t.AgreementID, &t.PreparationID, &t.PrescriptionID, &t.LineID,
		&t.PatientID, &t.INN, &t.Dose, &t.Unit, scanDate(&t.AdministrationDate), &t.Ward, &t.Status, &t.Reason, &order, &t.RegisterNumber,
		&t.SlipNumber, &ship, &events, ScanTime(&t.CreatedAt), ScanTime(&t.UpdatedAt))
	if err != nil {
		return t, err
	}
	for _, c := range []struct {
		s string
		v any
	}{{order, &t.Order}, {ship, &t.Shipment}, {events, &t.Events}} {
		if err := fromJSONText(c.s, c.v); err != nil {
			return t, relais.E(relais.KindIntegrity, fmt.Sprintf("aid transfer %s cannot be read", t.ID), err)
		}
	}
	if t.Events == nil {
		t.Events = []relais.AidEvent{}
	}
	return t, nil
}

func transferByID(tx *Tx, id relais.ID) (relais.AidTransfer, error) {
	t, err := scanTransfer(tx.QueryRow("SELECT "+transferCols+" FROM aid_transfer WHERE id = ?", id))
	if err != nil {
		if relais.ErrorKind(mapErr(err)) == relais.KindNotFound {
			return t, relais.E("aid.transfer.get", relais.KindNotFound, fmt.Sprintf("no mutual-aid transfer %s at this site", id))
		}
		return t, relais.E("aid.transfer.get", mapErr(err))
	}
	return t, nil
}

// liveTransferOf finds the transfer a preparation is out on, if any.
func liveTransferOf(tx *Tx, prepID relais.ID) (*relais.AidTransfer, error) {
	var id relais.ID
	err := tx.QueryRow("SELECT id FROM aid_transfer WHERE preparation_id = ? AND status NOT IN ('handed_back', 'refused')", prepID).Scan(&id)
	if err == sql.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, mapErr(err)
	}
	t, err := transferByID(tx, id)
	return &t, err
}

func writeTransfer(tx *Tx, t relais.AidTransfer) error {
	if t.Events == nil {
		t.Events = []relais.AidEvent{}
	}
	order, err := jsonText(t.Order)
	if err != nil {
		return err
	}
	ship, err := optJSON(t.Shipment, t.Shipment == nil)
	if err != nil {
		return err
	}
	events, err := jsonText(t.Events)
	if err != nil {
		return err
	}
	return upsert(tx, "aid_transfer", columns(transferCols), []any{t.ID, t.Site, t.Role, t.RequesterSite, t.SupportSite, t.AgreementID,
		t.PreparationID, t.PrescriptionID, t.LineID, t.PatientID, t.INN, t.Dose, t.Unit, string(t.AdministrationDate), t.Ward, t.Status,
		t.Reason, order, t.RegisterNumber, t.SlipNumber, ship, events, T(t.CreatedAt), T(t.UpdatedAt)})
}

func applyAidTransfer(tx *Tx, id relais.ID, after []byte) error {
	var t relais.AidTransfer
	if err := decodeImage("aid_transfer", id, after, &t); err != nil {
		return err
	}
	if err := checkImageID("aid_transfer", id, t.ID); err != nil {
		return err
	}
	return writeTransfer(tx, t)
}

// saveTransfer writes t and journals it under action.
func saveTransfer(tx *Tx, action string, t relais.AidTransfer, before *relais.AidTransfer) (relais.AidTransfer, error) {
	if err := writeTransfer(tx, t); err != nil {
		if relais.ErrorKind(err) == relais.KindConflict {
			return t, relais.E(action, relais.KindConflict, fmt.Sprintf("preparation %s is already out on another mutual-aid transfer", t.PreparationID), err)
		}
		return t, relais.E(action, err)
	}
	after, err := transferByID(tx, t.ID)
	if err != nil {
		return after, err
	}
	var b any
	if before != nil {
		b = *before
	}
	return after, tx.Journal(action, "aid_transfer", t.ID, b, after)
}

// queueAid writes a message to another site in the caller's transaction.
func queueAid(tx *Tx, to, kind string, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	_, err = tx.Exec("INSERT INTO aid_outbox (id, to_site, kind, body, created_at) VALUES (?, ?, ?, ?, ?)",
		relais.NewID(), to, kind, string(b), T(tx.Now()))
	return err
}

// notify queues a notice of t's new status to the other site.
func notify(tx *Tx, t relais.AidTransfer, n relais.AidNotice) error {
	n.TransferID, n.Status, n.At, n.By = t.ID, t.Status, tx.Now(), tx.Actor().DisplayName()
	to := t.SupportSite
	if t.Role == relais.AidSupport {
		to = t.RequesterSite
	}
	return queueAid(tx, to, relais.AidMsgNotice, n)
}

// ---- Agreements ----

// SaveAidAgreement records an agreement letting another site prepare for
// this one, and sends its copy to that site.
func (db *DB) SaveAidAgreement(ctx context.Context, in relais.AidAgreementInput) (relais.AidAgreement, error) {
	const op = "aid.agreement.create"
	var out relais.AidAgreement
	err := db.Write(ctx, op, func(tx *Tx) error {
		if err := requirePerm(op, tx.Actor(), relais.PermAidAgreement); err != nil {
			return err
		}
		g, err := relais.NewAidAgreement(in, tx.Site(), tx.Actor(), tx.Now())
		if err != nil {
			return err
		}
		if _, err := siteByID(tx, g.SupportSite); err != nil {
			return relais.Invalid(op, "support_site", "%q is not a site of the network known here: add it to the sites first", g.SupportSite)
		}
		if out, err = saveAgreement(tx, op, g, nil); err != nil {
			return err
		}
		return queueAid(tx, g.SupportSite, relais.AidMsgAgreement, out)
	})
	return out, err
}

// EndAidAgreement ends an agreement recorded here; transfers already made
// go on.
func (db *DB) EndAidAgreement(ctx context.Context, id relais.ID, reason string) (relais.AidAgreement, error) {
	const op = "aid.agreement.end"
	var out relais.AidAgreement
	err := db.Write(ctx, op, func(tx *Tx) error {
		if err := requirePerm(op, tx.Actor(), relais.PermAidAgreement); err != nil {
			return err
		}
		g, err := agreementByID(tx, id)
		if err != nil {
			return err
		}
		if g.RequesterSite != tx.Site() {
			return relais.E(op, relais.KindForbidden, fmt.Sprintf("the agreement %s was recorded by %s: only that site ends it", g.Reference, g.RequesterSite))
		}
		before := g
		if err := g.End(reason, tx.Actor(), tx.Now()); err != nil {
			return err
		}
		if out, err = saveAgreement(tx, op, g, &before); err != nil {
			return err
		}
		return queueAid(tx, g.SupportSite, relais.AidMsgAgreement, out)
	})
	return out, err
}

// AidAgreements lists the agreements this site holds: those it recorded
// (as requester) and the copies it received (as support site).
func (db *DB) AidAgreements(ctx context.Context) ([]relais.AidAgreement, error) {
	out := []relais.AidAgreement{}
	err := db.Read(ctx, func(tx *Tx) error {
		rows, err := tx.Query("SELECT " + agreementCols + " FROM aid_agreement ORDER BY status, valid_from, id")
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			g, err := scanAgreement(rows)
			if err != nil {
				return err
			}
			out = append(out, g)
		}
		return rows.Err()
	})
	return out, err
}

// coveringAgreement finds an active agreement between requester and support
// that covers inn on day, or says why none does.
func coveringAgreement(tx *Tx, requester, support, inn string, day relais.Date) (relais.AidAgreement, error) {
	const op = "aid.handover"
	rows, err := tx.Query("SELECT "+agreementCols+" FROM aid_agreement WHERE requester_site = ? AND support_site = ? ORDER BY valid_from, id",
		requester, support)
	if err != nil {
		return relais.AidAgreement{}, err
	}
	var all []relais.AidAgreement
	for rows.Next() {
		g, err := scanAgreement(rows)
		if err != nil {
			rows.Close()
			return g, err
		}
		all = append(all, g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return relais.AidAgreement{}, err
	}
	if len(all) == 0 {
		return relais.AidAgreement{}, relais.E(op, relais.KindConflict, fmt.Sprintf(
			"no mutual-aid agreement lets %s prepare for %s: record the signed agreement first (Entraide, Conventions)", support, requester))
	}
	var why []string
	for _, g := range all {
		err := g.Covers(inn, day)
		if err == nil {
			return g, nil
		}
		why = append(why, relais.ErrorMessage(err))
	}
	return relais.AidAgreement{}, relais.E(op, relais.KindConflict, fmt.Sprintf("no agreement lets %s prepare %s for %s on %s: %s",
		support, inn, requester, day, strings.Join(why, "; ")))
}

// ---- Hand-over (requester) ----

// HandOver hands validated preparations still to prepare over to a support
// site: each must be covered by an agreement. All or nothing.
func (db *DB) HandOver(ctx context.Context, req relais.AidHandOverRequest) ([]relais.AidTransfer, error) {
	const op = "aid.handover"
	if err := req.Validate(op); err != nil {
		return nil, err
	}
	req.SupportSite, req.Ward, req.Reason = strings.TrimSpace(req.SupportSite), strings.TrimSpace(req.Ward), strings.TrimSpace(req.Reason)
	var out []relais.AidTransfer
	err := db.Write(ctx, op, func(tx *Tx) error {
		if err := requirePerm(op, tx.Actor(), relais.PermAidHandOver); err != nil {
			return err
		}
		if req.SupportSite == tx.Site() {
			return relais.Invalid(op, "support_site", "this site cannot hand its preparations over to itself")
		}
		self, err := siteByID(tx, tx.Site())
		if err != nil {
			self = relais.Site{ID: tx.Site(), Name: tx.Site(), Kind: "other"}
		}
		ids, err := handOverSelection(tx, req)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return relais.E(op, relais.KindConflict, "nothing to hand over: no compounded preparation still to prepare matches")
		}
		for i, id := range ids {
			field := fmt.Sprintf("preparation_ids[%d]", i)
			t, body, err := handOverOne(tx, id, req, self)
			if err != nil {
				return relais.E(op, relais.Field(field), err)
			}
			if t, err = saveTransfer(tx, op, t, nil); err != nil {
				return err
			}
			body.Transfer = t
			if err := queueAid(tx, t.SupportSite, relais.AidMsgHandOver, body); err != nil {
				return err
			}
			out = append(out, t)
		}
		return nil
	})
	return out, err
}

// handOverSelection resolves the request to preparation ids.
func handOverSelection(tx *Tx, req relais.AidHandOverRequest) ([]relais.ID, error) {
	seen := map[relais.ID]bool{}
	var ids []relais.ID
	add := func(list []string) {
		for _, s := range list {
			if id := relais.ID(s); !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	for _, id := range req.PreparationIDs {
		add([]string{string(id)})
	}
	for _, pid := range req.PrescriptionIDs {
		list, err := queryStrings(tx, `SELECT id FROM preparation WHERE prescription_id = ? AND mode = 'compounded' AND status = 'to_prepare'
			ORDER BY administration_date, id`, pid)
		if err != nil {
			return nil, err
		}
		if len(list) == 0 {
			return nil, relais.E("aid.handover", relais.KindConflict, relais.Field("prescription_ids"),
				fmt.Sprintf("prescription %s has no compounded preparation still to prepare", pid))
		}
		add(list)
	}
	if req.From != "" {
		list, err := queryStrings(tx, `SELECT p.id FROM preparation p WHERE p.mode = 'compounded' AND p.status = 'to_prepare'
			AND p.administration_date >= ? AND p.administration_date <= ?
			AND NOT EXISTS (SELECT 1 FROM aid_transfer a WHERE a.preparation_id = p.id AND a.status NOT IN ('handed_back', 'refused'))
			ORDER BY p.administration_date, p.id`, string(req.From), string(req.To))
		if err != nil {
			return nil, err
		}
		add(list)
	}
	return ids, nil
}

func handOverOne(tx *Tx, id relais.ID, req relais.AidHandOverRequest, self relais.Site) (relais.AidTransfer, relais.AidHandOver, error) {
	const op = "aid.handover"
	var body relais.AidHandOver
	p, err := preparationByID(tx, id)
	if err != nil {
		return relais.AidTransfer{}, body, err
	}
	if p.Mode != relais.ModeCompounded {
		return relais.AidTransfer{}, body, relais.E(op, relais.KindConflict, fmt.Sprintf(
			"preparation %s (%s) is dispensed as is (%s): there is nothing to prepare, dispense it here", p.Display(), p.INN, p.ModeReason))
	}
	if p.Status != relais.PrepToPrepare {
		return relais.AidTransfer{}, body, relais.E(op, relais.KindConflict, fmt.Sprintf(
			"preparation %s (%s %s %s) is %s here: only a preparation still to prepare can be handed over", p.Display(), p.INN, fnum(p.Dose), p.Unit, p.Status))
	}
	if live, err := liveTransferOf(tx, p.ID); err != nil {
		return relais.AidTransfer{}, body, err
	} else if live != nil {
		return relais.AidTransfer{}, body, relais.E(op, relais.KindConflict, fmt.Sprintf(
			"preparation %s (%s) is already handed over to %s (%s)", p.Display(), p.INN, live.SupportSite, live.Status))
	}
	g, err := coveringAgreement(tx, tx.Site(), req.SupportSite, p.INN, p.AdministrationDate)
	if err != nil {
		return relais.AidTransfer{}, body, err
	}
	pres, l, err := linePrescription(tx, p)
	if err != nil {
		return relais.AidTransfer{}, body, err
	}
	if l.Status != relais.LineValidated {
		return relais.AidTransfer{}, body, relais.E(op, relais.KindConflict, fmt.Sprintf(
			"the line of %s is %s: only a validated line can be handed over", p.INN, l.Status))
	}
	pat, err := patientByID(tx, p.PatientID)
	if err != nil {
		return relais.AidTransfer{}, body, err
	}
	var order relais.AidOrder
	order.Patient.IPP, order.Patient.INS, order.Patient.BirthName, order.Patient.UsedName = pat.IPP, pat.INS, pat.BirthName, pat.UsedName
	order.Patient.FirstNames, order.Patient.BirthDate, order.Patient.Sex = pat.FirstNames, pat.BirthDate, pat.Sex
	order.Protocol = fmt.Sprintf("%s, cycle %d, J%d (%s)", pres.Regimen, pres.Cycle, l.Day, l.Date)
	if order.Line, err = json.Marshal(l); err != nil {
		return relais.AidTransfer{}, body, err
	}
	if l.Validation != nil {
		if order.Validation, err = json.Marshal(l.Validation); err != nil {
			return relais.AidTransfer{}, body, err
		}
	}
	order.Prescriber, order.AgreementRef, order.HandedOverBy = pres.PrescriberName, g.Reference, tx.Actor().DisplayName()
	now := tx.Now()
	t := relais.AidTransfer{ID: relais.NewID(), Site: tx.Site(), Role: relais.AidRequester, RequesterSite: tx.Site(), SupportSite: req.SupportSite,
		AgreementID: g.ID, PreparationID: p.ID, PrescriptionID: p.PrescriptionID, LineID: p.LineID, PatientID: p.PatientID, INN: p.INN,
		Dose: p.Dose, Unit: p.Unit, AdministrationDate: p.AdministrationDate, Ward: req.Ward, Status: relais.AidHandedOver, Reason: req.Reason,
		Order: order, CreatedAt: now, UpdatedAt: now,
		Events: []relais.AidEvent{{Status: relais.AidHandedOver, Site: tx.Site(), By: tx.Actor().DisplayName(), At: now, Note: req.Reason}}}
	body.Agreement, body.Site = g, self
	if body.Patient, err = loadEntityJSON(tx, "patient", p.PatientID); err != nil {
		return t, body, err
	}
	if body.Treatment, err = loadEntityJSON(tx, "treatment", pres.TreatmentID); err != nil {
		return t, body, err
	}
	if body.Prescription, err = loadEntityJSON(tx, "prescription", pres.ID); err != nil {
		return t, body, err
	}
	return t, body, nil
}

// HandBack asks the support site to give a transfer back, before it has
// started preparing. Refused at once when this site already knows the
// support site has started.
func (db *DB) HandBack(ctx context.Context, id relais.ID, reason string) (relais.AidTransfer, error) {
	const op = "aid.handback_requested"
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return relais.AidTransfer{}, relais.Invalid(op, "reason", "say why the preparation is taken back")
	}
	var out relais.AidTransfer
	err := db.Write(ctx, op, func(tx *Tx) error {
		if err := requirePerm(op, tx.Actor(), relais.PermAidHandOver); err != nil {
			return err
		}
		t, err := transferByID(tx, id)
		if err != nil {
			return err
		}
		if t.Role != relais.AidRequester {
			return relais.E(op, relais.KindConflict, fmt.Sprintf("this site prepares transfer %s for %s: only %s can take it back", t.ID, t.RequesterSite, t.RequesterSite))
		}
		if t.Status != relais.AidHandedOver {
			detail := ""
			if t.RegisterNumber != "" {
				detail = fmt.Sprintf(" (register number %s there)", t.RegisterNumber)
			}
			return relais.E(op, relais.KindConflict, fmt.Sprintf(
				"%s %s %s (preparation %s) is %s at %s%s: a hand-back is possible only before the support site starts preparing",
				t.INN, fnum(t.Dose), t.Unit, t.PreparationID, t.Status, t.SupportSite, detail))
		}
		before := t
		if err := t.Move(relais.AidHandbackRequested, tx.Site(), tx.Actor().DisplayName(), reason, tx.Now()); err != nil {
			return err
		}
		if out, err = saveTransfer(tx, op, t, &before); err != nil {
			return err
		}
		return queueAid(tx, t.SupportSite, relais.AidMsgHandBackRequest, relais.AidNotice{TransferID: t.ID, Status: relais.AidHandbackRequested,
			By: tx.Actor().DisplayName(), At: tx.Now(), Note: reason})
	})
	return out, err
}

// AidTransferFilter selects transfers.
type AidTransferFilter struct {
	Role   relais.AidRole
	Status relais.AidStatus
}

// AidTransfers lists this site's transfers, by administration date.
func (db *DB) AidTransfers(ctx context.Context, f AidTransferFilter) ([]relais.AidTransfer, error) {
	q := "SELECT " + transferCols + " FROM aid_transfer WHERE 1 = 1"
	var args []any
	if f.Role != "" {
		q, args = q+" AND role = ?", append(args, f.Role)
	}
	if f.Status != "" {
		q, args = q+" AND status = ?", append(args, f.Status)
	}
	q += " ORDER BY administration_date, created_at, id"
	out := []relais.AidTransfer{}
	err := db.Read(ctx, func(tx *Tx) error {
		rows, err := tx.Query(q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			t, err := scanTransfer(rows)
			if err != nil {
				return err
			}
			out = append(out, t)
		}
		return rows.Err()
	})
	return out, err
}

// AidTransfer returns one transfer.
func (db *DB) AidTransfer(ctx context.Context, id relais.ID) (relais.AidTransfer, error) {
	var t relais.AidTransfer
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		t, err = transferByID(tx, id)
		return err
	})
	return t, err
}

// ---- The register hook ----

// aidBeforeIssue runs when a worksheet is about to be numbered: a
// preparation handed over to another site is refused here; one this site
// prepares for another site gets that site in its register entry.
func aidBeforeIssue(tx *Tx, p relais.Preparation) (preparedFor string, err error) {
	t, err := liveTransferOf(tx, p.ID)
	if err != nil || t == nil {
		return "", err
	}
	if t.Role == relais.AidRequester {
		return "", relais.E("preparation.issue_worksheet", relais.KindConflict, fmt.Sprintf(
			"preparation %s (%s %s %s) is handed over to %s for mutual aid (transfer %s): it cannot be prepared here until it is handed back",
			p.Display(), p.INN, fnum(p.Dose), p.Unit, t.SupportSite, t.Status))
	}
	return t.RequesterSite, nil
}

// aidAfterIssue records, at the support site, that production started, and
// tells the requester (from now on a hand-back is refused).
func aidAfterIssue(tx *Tx, p relais.Preparation, e relais.RegisterEntry) error {
	t, err := liveTransferOf(tx, p.ID)
	if err != nil || t == nil || t.Role != relais.AidSupport {
		return err
	}
	before := *t
	if err := t.Move(relais.AidInProduction, tx.Site(), tx.Actor().DisplayName(), "fiche de fabrication "+e.Number, tx.Now()); err != nil {
		return err
	}
	t.RegisterNumber = e.Number
	saved, err := saveTransfer(tx, "aid.in_production", *t, &before)
	if err != nil {
		return err
	}
	return notify(tx, saved, relais.AidNotice{RegisterNumber: e.Number, Note: "fiche de fabrication " + e.Number})
}

func fnum(v float64) string { return fmt.Sprintf("%g", v) }

// A support site holds copies of the requester's treatments and
// prescriptions (for its worksheets, labels and register); they name
// protocol versions of the requester's library, which the support site does
// not hold. relais check does not count those as faults.
const (
	aidCopyPrescription = "NOT EXISTS (SELECT 1 FROM aid_transfer a WHERE a.role = 'support' AND a.prescription_id = t.id)"
	aidCopyTreatment    = `NOT EXISTS (SELECT 1 FROM aid_transfer a JOIN prescription p ON p.id = a.prescription_id
		WHERE a.role = 'support' AND p.treatment_id = t.id)`
)
