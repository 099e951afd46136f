package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/relais-onco/relais"
)

// Mutual aid, the support site's side and the messages: intake of a
// hand-over (the records the support site needs are written here, journaled
// as "aid.import", and the preparation is created in this site's own
// production flow with the requester's preparation id, so that the label's
// DataMatrix matches the preparation the requester's nurse administers),
// shipment, receipt, hand-back; the outbox and the inbox.

// ---- Shipment (support) ----

// ShipAid puts released preparations made for one requester site on a
// delivery slip of this site addressed to that site's pharmacy, and tells
// the requester what was made.
func (db *DB) ShipAid(ctx context.Context, req relais.AidShipRequest) (relais.DeliverySlip, []relais.AidTransfer, error) {
	const op = "aid.shipped"
	if len(req.TransferIDs) == 0 {
		return relais.DeliverySlip{}, nil, relais.Invalid(op, "transfer_ids", "choose the preparations to ship")
	}
	var slip relais.DeliverySlip
	var out []relais.AidTransfer
	err := db.Write(ctx, op, func(tx *Tx) error {
		if err := requirePerm(op, tx.Actor(), relais.PermDispense); err != nil {
			return err
		}
		var ts []relais.AidTransfer
		var preps []relais.Preparation
		for i, id := range req.TransferIDs {
			field := fmt.Sprintf("transfer_ids[%d]", i)
			t, err := transferByID(tx, id)
			if err != nil {
				return relais.E(op, relais.Field(field), err)
			}
			if t.Role != relais.AidSupport {
				return relais.E(op, relais.KindConflict, relais.Field(field), fmt.Sprintf("transfer %s is this site's own request to %s: the support site ships it", t.ID, t.SupportSite))
			}
			if len(ts) > 0 && t.RequesterSite != ts[0].RequesterSite {
				return relais.Invalid(op, field, "one delivery slip goes to one site: %s is for %s, not %s", t.ID, t.RequesterSite, ts[0].RequesterSite)
			}
			p, err := preparationByID(tx, t.PreparationID)
			if err != nil {
				return err
			}
			if t.Status != relais.AidInProduction || p.Status != relais.PrepReleased {
				return relais.E(op, relais.KindConflict, relais.Field(field), fmt.Sprintf(
					"%s %s %s for %s (register %s) is %s, transfer %s: only a released preparation can be shipped",
					p.INN, fnum(p.Dose), p.Unit, t.RequesterSite, p.RegisterNumber, p.Status, t.Status))
			}
			ts, preps = append(ts, t), append(preps, p)
		}
		to := ts[0].RequesterSite
		name := to
		if s, err := siteByID(tx, to); err == nil {
			name = s.Name
		}
		var err error
		if slip, err = aidSlip(tx, "Entraide : PUI "+name, preps); err != nil {
			return err
		}
		for _, t := range ts {
			before := t
			if err := t.Move(relais.AidShipped, tx.Site(), tx.Actor().DisplayName(), "bordereau "+slip.Number, tx.Now()); err != nil {
				return err
			}
			t.SlipNumber = slip.Number
			saved, err := saveTransfer(tx, op, t, &before)
			if err != nil {
				return err
			}
			p, err := preparationByID(tx, t.PreparationID)
			if err != nil {
				return err
			}
			if err := notify(tx, saved, relais.AidNotice{RegisterNumber: p.RegisterNumber, SlipNumber: slip.Number, Release: p.Release,
				Plan: p.Plan, Expiry: p.Expiry, Storage: p.Storage, Note: "bordereau " + slip.Number}); err != nil {
				return err
			}
			out = append(out, saved)
		}
		return nil
	})
	return slip, out, err
}

// aidSlip makes a delivery slip of this site for preps (as CreateSlip
// does), in the caller's transaction.
func aidSlip(tx *Tx, ward string, preps []relais.Preparation) (relais.DeliverySlip, error) {
	const op = "slip.create"
	now := tx.Now()
	year := relais.RegisterYear(now)
	seq, err := nextNumbers(tx, "slip_counter", year, 1)
	if err != nil {
		return relais.DeliverySlip{}, err
	}
	round := "morning"
	if h := now.In(relais.DisplayZone).Hour(); h >= 18 {
		round = "evening"
	} else if h >= 12 {
		round = "afternoon"
	}
	ids := make([]relais.ID, len(preps))
	for i, p := range preps {
		ids[i] = p.ID
	}
	s := relais.DeliverySlip{ID: relais.NewID(), Site: tx.Site(), Number: fmt.Sprintf("BL-%04d-%06d", year, seq), Ward: ward,
		RoundDate: relais.Date(now.In(relais.DisplayZone).Format(time.DateOnly)), Round: round, PreparationIDs: ids,
		CreatedBy: tx.Actor().DisplayName(), CreatedByID: tx.Actor().UserID, CreatedAt: now, UpdatedAt: now}
	if _, err := tx.Exec("INSERT INTO delivery_slip ("+slipCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '', ?)",
		s.ID, s.Site, s.Number, s.Ward, string(s.RoundDate), s.Round, s.CreatedBy, s.CreatedByID, T(now), T(now)); err != nil {
		return s, relais.E(op, err)
	}
	for i, p := range preps {
		before := p
		if err := p.Dispense(s, tx.Actor(), now); err != nil {
			return s, err
		}
		if _, err := tx.Exec("INSERT INTO slip_item (slip_id, preparation_id, position) VALUES (?, ?, ?)", s.ID, p.ID, i); err != nil {
			return s, relais.E(op, err)
		}
		if err := savePreparation(tx, "preparation.dispense", &p, &before); err != nil {
			return s, err
		}
	}
	out, err := slipByID(tx, s.ID)
	if err != nil {
		return out, err
	}
	return out, tx.Journal(op, "delivery_slip", s.ID, nil, out)
}

// ---- Receipt (requester) ----

// ReceiveAid records, at the requester, the shipped preparations as
// received: each becomes released here, ready for the ward's delivery slip
// and the bedside, and the support site is told.
func (db *DB) ReceiveAid(ctx context.Context, req relais.AidReceiveRequest) ([]relais.AidTransfer, error) {
	const op = "aid.received"
	if len(req.TransferIDs) == 0 {
		return nil, relais.Invalid(op, "transfer_ids", "choose the preparations received")
	}
	var out []relais.AidTransfer
	err := db.Write(ctx, op, func(tx *Tx) error {
		if err := requirePerm(op, tx.Actor(), relais.PermAidHandOver); err != nil {
			return err
		}
		for i, id := range req.TransferIDs {
			field := fmt.Sprintf("transfer_ids[%d]", i)
			t, err := transferByID(tx, id)
			if err != nil {
				return relais.E(op, relais.Field(field), err)
			}
			if t.Role != relais.AidRequester {
				return relais.E(op, relais.KindConflict, relais.Field(field), fmt.Sprintf("transfer %s is prepared here for %s: %s receives it", t.ID, t.RequesterSite, t.RequesterSite))
			}
			if t.Status != relais.AidShipped || t.Shipment == nil {
				return relais.E(op, relais.KindConflict, relais.Field(field), fmt.Sprintf(
					"%s %s %s (preparation %s) is %s: only a preparation %s has shipped can be received", t.INN, fnum(t.Dose), t.Unit, t.PreparationID, t.Status, t.SupportSite))
			}
			p, err := preparationByID(tx, t.PreparationID)
			if err != nil {
				return err
			}
			before := p
			if err := p.ReceiveFromSupport(*t.Shipment, t.SupportSite, tx.Actor(), tx.Now()); err != nil {
				return err
			}
			if err := savePreparation(tx, op, &p, &before); err != nil {
				return err
			}
			bt := t
			if err := t.Move(relais.AidReceived, tx.Site(), tx.Actor().DisplayName(), strings.TrimSpace(req.Comment), tx.Now()); err != nil {
				return err
			}
			saved, err := saveTransfer(tx, op, t, &bt)
			if err != nil {
				return err
			}
			if err := notify(tx, saved, relais.AidNotice{Note: strings.TrimSpace(req.Comment)}); err != nil {
				return err
			}
			out = append(out, saved)
		}
		return nil
	})
	return out, err
}

// ---- Outbox and inbox ----

// PendingAidMessages lists the messages not yet acknowledged by their
// destination, oldest first.
func (db *DB) PendingAidMessages(ctx context.Context, limit int) ([]relais.AidMessage, error) {
	if limit <= 0 {
		limit = 100
	}
	var out []relais.AidMessage
	err := db.Read(ctx, func(tx *Tx) error {
		rows, err := tx.Query("SELECT id, to_site, kind, body, created_at FROM aid_outbox WHERE sent_at IS NULL ORDER BY created_at, id LIMIT ?", limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var m relais.AidMessage
			var body string
			if err := rows.Scan(&m.ID, &m.To, &m.Kind, &body, ScanTime(&m.At)); err != nil {
				return err
			}
			m.From, m.Body = tx.Site(), json.RawMessage(body)
			out = append(out, m)
		}
		return rows.Err()
	})
	return out, err
}

// MarkAidSent records a publication: acknowledged (sendErr nil), or the
// error of an attempt, to try again later.
func (db *DB) MarkAidSent(ctx context.Context, id relais.ID, sendErr error) error {
	_, err := db.w.ExecContext(ctx, db.rebind("UPDATE aid_outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?"), errText(sendErr), id)
	if err == nil && sendErr == nil {
		_, err = db.w.ExecContext(ctx, db.rebind("UPDATE aid_outbox SET sent_at = ? WHERE id = ? AND sent_at IS NULL"), T(relais.Now()), id)
	}
	return mapErr(err)
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return relais.ErrorMessage(err)
}

// ApplyAidMessage applies a message from another site, once: a message
// already applied (by id) is skipped. A message that cannot be applied
// for a reason retrying will not change (a notice for an unknown transfer)
// is recorded in the inbox as failed and returned as an error of its kind;
// a transient fault is returned as is and nothing is recorded, so the
// message is delivered again.
func (db *DB) ApplyAidMessage(ctx context.Context, m relais.AidMessage) (outcome string, err error) {
	const op = "aid.message"
	err = db.Write(ctx, op, func(tx *Tx) error {
		var n int
		if err := tx.QueryRow("SELECT COUNT(*) FROM aid_inbox WHERE id = ?", m.ID).Scan(&n); err != nil {
			return mapErr(err)
		}
		if n > 0 {
			outcome = "duplicate"
			return nil
		}
		if m.To != tx.Site() {
			return relais.E(op, relais.KindInvalid, fmt.Sprintf("message %s is addressed to %s, not to this site (%s)", m.ID, m.To, tx.Site()))
		}
		var err error
		switch m.Kind {
		case relais.AidMsgAgreement:
			outcome, err = receiveAgreement(tx, m)
		case relais.AidMsgHandOver:
			outcome, err = intakeHandOver(tx, m)
		case relais.AidMsgNotice:
			outcome, err = receiveNotice(tx, m)
		case relais.AidMsgHandBackRequest:
			outcome, err = receiveHandBack(tx, m)
		default:
			err = relais.E(op, relais.KindInvalid, fmt.Sprintf("message %s is of kind %q, which this Relais does not know", m.ID, m.Kind))
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec("INSERT INTO aid_inbox (id, from_site, kind, outcome, applied_at) VALUES (?, ?, ?, ?, ?)", m.ID, m.From, m.Kind, outcome, T(tx.Now()))
		return err
	})
	if err != nil && relais.ErrorKind(err) != relais.KindOther && relais.ErrorKind(err) != relais.KindUnavailable {
		// Final: record it, so that it is not applied later by surprise and
		// the pharmacist sees it in the inbox.
		msg := "failed: " + relais.ErrorMessage(err)
		_, werr := db.w.ExecContext(ctx, db.rebind("INSERT INTO aid_inbox (id, from_site, kind, outcome, applied_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING"),
			m.ID, m.From, m.Kind, msg, T(relais.Now()))
		if werr != nil {
			return "", mapErr(werr)
		}
		return msg, err
	}
	return outcome, err
}

func receiveAgreement(tx *Tx, m relais.AidMessage) (string, error) {
	var g relais.AidAgreement
	if err := json.Unmarshal(m.Body, &g); err != nil {
		return "", relais.E("aid.agreement.received", relais.KindInvalid, "the agreement cannot be read", err)
	}
	if g.RequesterSite != m.From || g.SupportSite != tx.Site() {
		return "", relais.E("aid.agreement.received", relais.KindInvalid, fmt.Sprintf(
			"message from %s carries an agreement of %s with %s: a site sends only its own agreements, to their support site", m.From, g.RequesterSite, g.SupportSite))
	}
	g.Site = tx.Site()
	var before *relais.AidAgreement
	if cur, err := agreementByID(tx, g.ID); err == nil {
		before = &cur
	} else if relais.ErrorKind(err) != relais.KindNotFound {
		return "", err
	}
	_, err := saveAgreement(tx, "aid.agreement.received", g, before)
	return "applied", err
}

// intakeHandOver takes a hand-over at the support site, or records it
// refused (and tells the requester) when this site cannot take it.
func intakeHandOver(tx *Tx, m relais.AidMessage) (string, error) {
	const op = "aid.accepted"
	var body relais.AidHandOver
	if err := json.Unmarshal(m.Body, &body); err != nil {
		return "", relais.E(op, relais.KindInvalid, "the hand-over cannot be read", err)
	}
	t := body.Transfer
	if t.RequesterSite != m.From || t.SupportSite != tx.Site() {
		return "", relais.E(op, relais.KindInvalid, fmt.Sprintf("the hand-over from %s names %s → %s", m.From, t.RequesterSite, t.SupportSite))
	}
	now, by := tx.Now(), tx.Actor().DisplayName()
	t.Site, t.Role, t.UpdatedAt = tx.Site(), relais.AidSupport, now
	refuse := func(reason string) (string, error) {
		t.Status, t.Reason = relais.AidRefused, reason
		t.Events = append(t.Events, relais.AidEvent{Status: relais.AidRefused, Site: tx.Site(), By: by, At: now, Note: reason})
		saved, err := saveTransfer(tx, "aid.refused", t, nil)
		if err != nil {
			return "", err
		}
		return "refused", notify(tx, saved, relais.AidNotice{Note: reason})
	}
	g, err := agreementByID(tx, t.AgreementID)
	if relais.ErrorKind(err) == relais.KindNotFound {
		return refuse(fmt.Sprintf("%s holds no copy of the agreement %s: it prepares only under an agreement it has received", tx.Site(), t.Order.AgreementRef))
	} else if err != nil {
		return "", err
	}
	if g.RequesterSite != t.RequesterSite || g.SupportSite != tx.Site() {
		return refuse(fmt.Sprintf("the agreement %s is between %s and %s", g.Reference, g.RequesterSite, g.SupportSite))
	}
	if err := g.Covers(t.INN, t.AdministrationDate); err != nil {
		return refuse(relais.ErrorMessage(err))
	}
	drug, err := drugByINN(tx, t.INN)
	if err != nil {
		if relais.ErrorKind(err) == relais.KindNotFound {
			return refuse(fmt.Sprintf("%s is not in the catalogue of %s", t.INN, tx.Site()))
		}
		return "", err
	}
	products, err := productsOfDrug(tx, drug.ID)
	if err != nil {
		return "", err
	}
	var pres relais.Prescription
	if err := json.Unmarshal(body.Prescription, &pres); err != nil || pres.ID != t.PrescriptionID {
		return "", relais.E(op, relais.KindInvalid, "the hand-over's prescription cannot be read or is not the transfer's")
	}
	// The lines name the requester's catalogue: here they name this site's
	// drug of the same INN (or none, when this site has no such drug).
	for i := range pres.Lines {
		l := &pres.Lines[i]
		if l.DrugID == "" {
			continue
		}
		if d, err := drugByINN(tx, l.INN); err == nil {
			l.DrugID = d.ID
		} else if relais.ErrorKind(err) == relais.KindNotFound {
			l.DrugID = ""
		} else {
			return "", err
		}
	}
	// This site's copy holds only the lines it prepares (this one and those
	// handed over before) and their days: the requester's other lines and
	// days are not work for this site's prescribers and pharmacists.
	keep := map[relais.ID]bool{t.LineID: true}
	prior, err := queryStrings(tx, "SELECT line_id FROM aid_transfer WHERE role = 'support' AND prescription_id = ?", pres.ID)
	if err != nil {
		return "", err
	}
	for _, id := range prior {
		keep[relais.ID(id)] = true
	}
	keptDays := map[int]bool{}
	lines := []relais.PrescriptionLine{}
	for _, l := range pres.Lines {
		if keep[l.ID] {
			lines, keptDays[l.Day] = append(lines, l), true
		}
	}
	days := []relais.PrescriptionDay{}
	for _, d := range pres.Days {
		if keptDays[d.Day] {
			days = append(days, d)
		}
	}
	pres.Lines, pres.Days = lines, days
	line := pres.Line(t.LineID)
	if line == nil || line.Status != relais.LineValidated {
		return refuse(fmt.Sprintf("the line of %s handed over is not a validated line of its prescription", t.INN))
	}
	mode, reason, ok := relais.PreparationModeFor(*line, drug, products)
	if !ok || mode != relais.ModeCompounded {
		return refuse(fmt.Sprintf("%s: %s here, not compounded (%s)", t.INN, mode, reason))
	}
	if _, err := preparationByID(tx, t.PreparationID); err == nil {
		return refuse(fmt.Sprintf("preparation %s was handed to %s before and handed back: prepare it at %s or hand it to another site", t.PreparationID, tx.Site(), t.RequesterSite))
	}
	if err := ensureSite(tx, body.Site); err != nil {
		return "", err
	}
	presImg, err := json.Marshal(pres)
	if err != nil {
		return "", err
	}
	for _, im := range []struct {
		entity string
		id     relais.ID
		img    json.RawMessage
	}{{"patient", t.PatientID, body.Patient}, {"treatment", pres.TreatmentID, body.Treatment}, {"prescription", pres.ID, presImg}} {
		if err := importImage(tx, im.entity, im.id, im.img); err != nil {
			return "", err
		}
	}
	p := relais.Preparation{ID: t.PreparationID, Site: tx.Site(), PrescriptionID: pres.ID, LineID: line.ID, PatientID: pres.PatientID,
		DrugID: drug.ID, INN: line.INN, Route: line.Route, LineKind: line.Kind, Mode: mode, ModeReason: reason, Dose: line.Dose, Unit: line.Unit,
		AdministrationDate: line.Date, Status: relais.PrepToPrepare, CreatedAt: now, UpdatedAt: now}
	if err := insertNewPreparation(tx, op, &p, *line, products); err != nil {
		return "", err
	}
	t.Status, t.Reason = relais.AidAccepted, body.Transfer.Reason
	t.Events = append(t.Events, relais.AidEvent{Status: relais.AidAccepted, Site: tx.Site(), By: by, At: now})
	_, err = saveTransfer(tx, op, t, nil)
	return "accepted", err
}

// ensureSite records the requester among this site's sites when unknown.
func ensureSite(tx *Tx, s relais.Site) error {
	if _, err := siteByID(tx, s.ID); err == nil {
		return nil
	} else if relais.ErrorKind(err) != relais.KindNotFound {
		return err
	}
	if s.Kind == "" {
		s.Kind = "other"
	}
	if s.Name == "" {
		s.Name = s.ID
	}
	if _, err := tx.Exec("INSERT INTO site (id, name, kind, public_key, created_at) VALUES (?, ?, ?, ?, ?)", s.ID, s.Name, s.Kind, s.PublicKey, T(tx.Now())); err != nil {
		return err
	}
	after, err := siteByID(tx, s.ID)
	if err != nil {
		return err
	}
	return tx.Journal("aid.import", "site", relais.ID(s.ID), nil, after)
}

// importImage writes another site's record here through its applier and
// journals it, when it changes anything.
func importImage(tx *Tx, entity string, id relais.ID, img json.RawMessage) error {
	var before json.RawMessage
	if b, err := loadEntityJSON(tx, entity, id); err == nil {
		before = b
	} else if relais.ErrorKind(err) != relais.KindNotFound {
		return err
	}
	if err := ApplyAfter(tx, entity, id, img); err != nil {
		return err
	}
	after, err := loadEntityJSON(tx, entity, id)
	if err != nil {
		return err
	}
	if before != nil && string(before) == string(after) {
		return nil
	}
	var b any
	if before != nil {
		b = before
	}
	return tx.Journal("aid.import", entity, id, b, after)
}

// statusRank orders a requester's transfer statuses: a notice that would
// move a transfer back (it arrived late) is ignored.
var statusRank = map[relais.AidStatus]int{relais.AidHandedOver: 0, relais.AidHandbackRequested: 1, relais.AidAccepted: 1,
	relais.AidInProduction: 2, relais.AidShipped: 3, relais.AidReceived: 4, relais.AidRefused: 5, relais.AidHandedBack: 5}

func receiveNotice(tx *Tx, m relais.AidMessage) (string, error) {
	const op = "aid.notice"
	var n relais.AidNotice
	if err := json.Unmarshal(m.Body, &n); err != nil {
		return "", relais.E(op, relais.KindInvalid, "the notice cannot be read", err)
	}
	t, err := transferByID(tx, n.TransferID)
	if err != nil {
		return "", err
	}
	other := t.SupportSite
	if t.Role == relais.AidSupport {
		other = t.RequesterSite
	}
	if m.From != other {
		return "", relais.E(op, relais.KindInvalid, fmt.Sprintf("a notice about transfer %s came from %s, not from %s", t.ID, m.From, other))
	}
	if t.Status == n.Status || statusRank[n.Status] < statusRank[t.Status] || (n.HandBackRefused && t.Status != relais.AidHandbackRequested) {
		return "stale", nil
	}
	before := t
	by := fmt.Sprintf("%s (%s)", n.By, m.From)
	to := n.Status
	if n.HandBackRefused {
		to = relais.AidInProduction
	}
	if err := t.Move(to, m.From, by, n.Note, n.At); err != nil {
		return "", err
	}
	t.UpdatedAt = tx.Now()
	switch to {
	case relais.AidInProduction:
		t.RegisterNumber = n.RegisterNumber
	case relais.AidShipped:
		t.RegisterNumber, t.SlipNumber = n.RegisterNumber, n.SlipNumber
		ship := n
		t.Shipment = &ship
	case relais.AidRefused:
		t.Reason = n.Note
	}
	action := "aid." + string(to)
	if t.Role == relais.AidSupport && to == relais.AidReceived {
		action = "aid.receipt_confirmed"
	}
	if n.HandBackRefused {
		action = "aid.handback_refused"
	}
	_, err = saveTransfer(tx, action, t, &before)
	return "applied", err
}

// receiveHandBack answers a hand-back request at the support site: given
// back while the worksheet is not issued (the preparation here is
// cancelled), refused afterwards.
func receiveHandBack(tx *Tx, m relais.AidMessage) (string, error) {
	var n relais.AidNotice
	if err := json.Unmarshal(m.Body, &n); err != nil {
		return "", relais.E("aid.handback", relais.KindInvalid, "the request cannot be read", err)
	}
	t, err := transferByID(tx, n.TransferID)
	if err != nil {
		return "", err
	}
	if t.Role != relais.AidSupport || t.RequesterSite != m.From {
		return "", relais.E("aid.handback", relais.KindInvalid, fmt.Sprintf("transfer %s is not prepared here for %s", t.ID, m.From))
	}
	before := t
	if t.Status == relais.AidAccepted {
		p, err := preparationByID(tx, t.PreparationID)
		if err != nil {
			return "", err
		}
		pb := p
		if err := p.Cancel(fmt.Sprintf("rendue à %s (entraide) : %s", t.RequesterSite, n.Note), tx.Actor(), tx.Now()); err != nil {
			return "", err
		}
		if err := savePreparation(tx, "aid.handed_back", &p, &pb); err != nil {
			return "", err
		}
		if err := t.Move(relais.AidHandedBack, tx.Site(), tx.Actor().DisplayName(), n.Note, tx.Now()); err != nil {
			return "", err
		}
		saved, err := saveTransfer(tx, "aid.handed_back", t, &before)
		if err != nil {
			return "", err
		}
		return "handed_back", notify(tx, saved, relais.AidNotice{Note: n.Note})
	}
	why := fmt.Sprintf("hand-back refused: the preparation is %s at %s", t.Status, tx.Site())
	if t.RegisterNumber != "" {
		why += " (register number " + t.RegisterNumber + ")"
	}
	t.Events = append(t.Events, relais.AidEvent{Status: t.Status, Site: tx.Site(), By: tx.Actor().DisplayName(), At: tx.Now(), Note: why})
	t.UpdatedAt = tx.Now()
	saved, err := saveTransfer(tx, "aid.handback_refused", t, &before)
	if err != nil {
		return "", err
	}
	return "handback_refused", notify(tx, saved, relais.AidNotice{Note: why, RegisterNumber: t.RegisterNumber, HandBackRefused: true})
}

// DeclineAid lets the support site give up a preparation it has not
// started (no stability data here, no stock): its copy is cancelled, the
// transfer refused with the reason, and the requester, told, may prepare
// it or hand it to another site.
func (db *DB) DeclineAid(ctx context.Context, id relais.ID, reason string) (relais.AidTransfer, error) {
	const op = "aid.refused"
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return relais.AidTransfer{}, relais.Invalid(op, "reason", "say why this site cannot prepare it (the requester reads it)")
	}
	var out relais.AidTransfer
	err := db.Write(ctx, op, func(tx *Tx) error {
		if err := requirePerm(op, tx.Actor(), relais.PermProductionRelease); err != nil {
			return err
		}
		t, err := transferByID(tx, id)
		if err != nil {
			return err
		}
		if t.Role != relais.AidSupport {
			return relais.E(op, relais.KindConflict, fmt.Sprintf("transfer %s is this site's own request: take it back instead", t.ID))
		}
		before := t
		if err := t.Move(relais.AidRefused, tx.Site(), tx.Actor().DisplayName(), reason, tx.Now()); err != nil {
			return err
		}
		t.Reason = reason
		p, err := preparationByID(tx, t.PreparationID)
		if err != nil {
			return err
		}
		pb := p
		if err := p.Cancel(fmt.Sprintf("refusée (entraide pour %s) : %s", t.RequesterSite, reason), tx.Actor(), tx.Now()); err != nil {
			return err
		}
		if err := savePreparation(tx, op, &p, &pb); err != nil {
			return err
		}
		if out, err = saveTransfer(tx, op, t, &before); err != nil {
			return err
		}
		return notify(tx, out, relais.AidNotice{Note: reason})
	})
	return out, err
}
