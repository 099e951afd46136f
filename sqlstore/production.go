package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/relais-onco/relais"
)

// Preparations: from a validated line to release. Each method loads the
// preparation in its transaction, applies one transition of the domain
// (relais.Preparation's methods), writes it back and journals it before and
// after, with the register entry, the leftover vials and the stock lots it
// touches, in the same transaction.

var _ relais.ProductionService = (*DB)(nil)

func init() {
	registerEntity("preparation", "preparation", func(tx *Tx, id relais.ID) (any, error) { return preparationByID(tx, id) })
}

const preparationCols = `id, site, prescription_id, line_id, patient_id, drug_id, inn, route, line_kind, mode, mode_reason, dose, unit,
	administration_date, status, plan, register_number, worksheet, production, second_check, release_decision, rejection,
	cancellation, dispensing, indication_code, replaces, expiry, storage, created_at, updated_at`

func scanPreparation(sc interface{ Scan(...any) error }) (relais.Preparation, error) {
	var p relais.Preparation
	var plan, ws, prod, chk, rel, rej, canc, disp string
	err := sc.Scan(&p.ID, &p.Site, &p.PrescriptionID, &p.LineID, &p.PatientID, &p.DrugID, &p.INN, &p.Route, &p.LineKind, &p.Mode,
		&p.ModeReason, &p.Dose, &p.Unit, scanDate(&p.AdministrationDate), &p.Status, &plan, &p.RegisterNumber, &ws, &prod, &chk, &rel,
		&rej, &canc, &disp, &p.IndicationCode, &p.Replaces, ScanTime(&p.Expiry), &p.Storage, ScanTime(&p.CreatedAt), ScanTime(&p.UpdatedAt))
	if err != nil {
		return p, err
	}
	for _, c := range []struct {
		s string
		v any
	}{{plan, &p.Plan}, {ws, &p.Worksheet}, {prod, &p.Production}, {chk, &p.Check}, {rel, &p.Release}, {rej, &p.Rejection},
		{canc, &p.Cancellation}, {disp, &p.Dispensing}} {
		if err := fromJSONText(c.s, c.v); err != nil {
			return p, relais.E(relais.KindIntegrity, fmt.Sprintf("preparation %s cannot be read", p.ID), err)
		}
	}
	return p, nil
}

func preparationByID(tx *Tx, id relais.ID) (relais.Preparation, error) {
	p, err := scanPreparation(tx.QueryRow("SELECT "+preparationCols+" FROM preparation WHERE id = ?", id))
	if err != nil {
		if relais.ErrorKind(mapErr(err)) == relais.KindNotFound {
			return p, relais.E("preparation.get", relais.KindNotFound, fmt.Sprintf("no preparation %s", id))
		}
		return p, relais.E("preparation.get", mapErr(err))
	}
	return p, nil
}

// optJSON is a JSON text column for an optional document: "" when nil.
func optJSON(v any, isNil bool) (string, error) {
	if isNil {
		return "", nil
	}
	return jsonText(v)
}

func preparationDocs(p *relais.Preparation) ([]any, error) {
	docs := []struct {
		v     any
		isNil bool
	}{{p.Plan, p.Plan == nil}, {p.Worksheet, p.Worksheet == nil}, {p.Production, p.Production == nil}, {p.Check, p.Check == nil},
		{p.Release, p.Release == nil}, {p.Rejection, p.Rejection == nil}, {p.Cancellation, p.Cancellation == nil},
		{p.Dispensing, p.Dispensing == nil}}
	out := make([]any, len(docs))
	for i, d := range docs {
		s, err := optJSON(d.v, d.isNil)
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

func insertPreparation(tx *Tx, p *relais.Preparation) error {
	docs, err := preparationDocs(p)
	if err != nil {
		return err
	}
	args := []any{p.ID, p.Site, p.PrescriptionID, p.LineID, p.PatientID, p.DrugID, p.INN, p.Route, p.LineKind, p.Mode, p.ModeReason,
		p.Dose, p.Unit, string(p.AdministrationDate), p.Status, docs[0], p.RegisterNumber}
	args = append(args, docs[1:]...)
	args = append(args, p.IndicationCode, p.Replaces, NT(p.Expiry), p.Storage, T(p.CreatedAt), T(p.UpdatedAt))
	_, err = tx.Exec("INSERT INTO preparation ("+preparationCols+") VALUES ("+placeholders(len(args))+")", args...)
	return err
}

// updatePreparation writes back what transitions change.
func updatePreparation(tx *Tx, p *relais.Preparation) error {
	docs, err := preparationDocs(p)
	if err != nil {
		return err
	}
	p.UpdatedAt = tx.Now()
	args := []any{p.Status, docs[0], p.RegisterNumber}
	args = append(args, docs[1:]...)
	args = append(args, p.IndicationCode, NT(p.Expiry), p.Storage, T(p.UpdatedAt), p.ID)
	res, err := tx.Exec(`UPDATE preparation SET status = ?, plan = ?, register_number = ?, worksheet = ?, production = ?,
		second_check = ?, release_decision = ?, rejection = ?, cancellation = ?, dispensing = ?, indication_code = ?, expiry = ?,
		storage = ?, updated_at = ? WHERE id = ?`, args...)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return relais.E("preparation.update", relais.KindNotFound, fmt.Sprintf("no preparation %s", p.ID))
	}
	return nil
}

// journalPreparation reads the preparation back and journals it.
func journalPreparation(tx *Tx, op string, before *relais.Preparation, id relais.ID) (relais.Preparation, error) {
	after, err := preparationByID(tx, id)
	if err != nil {
		return after, err
	}
	var b any
	if before != nil {
		b = *before
	}
	return after, tx.Journal(op, "preparation", id, b, after)
}

// createPreparationForLine is called by ValidateLine, in its transaction,
// when a line becomes validated: a line to compound or to dispense becomes a
// preparation, with its compounding plan proposed at once. A line given
// from the ward's stock (a premedication, a hydration) makes none.
func createPreparationForLine(tx *Tx, pres *relais.Prescription, l *relais.PrescriptionLine) error {
	const op = "preparation.create"
	if l.DrugID == "" {
		return nil // a drugless hydration is hung on the ward
	}
	drug, err := drugByID(tx, l.DrugID)
	if err != nil {
		return err
	}
	products, err := productsOfDrug(tx, drug.ID)
	if err != nil {
		return err
	}
	mode, reason, ok := relais.PreparationModeFor(*l, drug, products)
	if !ok {
		return nil
	}
	now := tx.Now()
	p := relais.Preparation{ID: relais.NewID(), Site: tx.Site(), PrescriptionID: pres.ID, LineID: l.ID, PatientID: pres.PatientID,
		DrugID: drug.ID, INN: l.INN, Route: l.Route, LineKind: l.Kind, Mode: mode, ModeReason: reason, Dose: l.Dose, Unit: l.Unit,
		AdministrationDate: l.Date, Status: relais.PrepToPrepare, CreatedAt: now, UpdatedAt: now}
	return insertNewPreparation(tx, op, &p, *l, products)
}

func insertNewPreparation(tx *Tx, op string, p *relais.Preparation, l relais.PrescriptionLine, products []relais.Product) error {
	if p.Mode == relais.ModeCompounded {
		plan, err := proposeFor(tx, *p, l, products)
		if err != nil {
			return err
		}
		p.Plan = &plan
	}
	if err := insertPreparation(tx, p); err != nil {
		if relais.ErrorKind(err) == relais.KindConflict {
			return relais.E(op, relais.KindConflict, fmt.Sprintf("%s on %s already has a preparation in progress", l.INN, l.Date), err)
		}
		return relais.E(op, err)
	}
	_, err := journalPreparation(tx, op, nil, p.ID)
	return err
}

// cancelPreparationsOf cancels, in the prescription's cancelling
// transaction, its preparations not yet released; they keep their register
// numbers.
func cancelPreparationsOf(tx *Tx, prescriptionID relais.ID, reason string) error {
	const op = "preparation.cancel"
	ids, err := queryStrings(tx, `SELECT id FROM preparation WHERE prescription_id = ? AND status IN ('to_prepare', 'worksheet_issued',
		'prepared', 'checked') ORDER BY id`, prescriptionID)
	if err != nil {
		return err
	}
	for _, id := range ids {
		p, err := preparationByID(tx, relais.ID(id))
		if err != nil {
			return err
		}
		before := p
		if err := p.Cancel("prescription cancelled: "+reason, tx.Actor(), tx.Now()); err != nil {
			return err
		}
		if err := savePreparation(tx, op, &p, &before); err != nil {
			return err
		}
	}
	return nil
}

// savePreparation writes p, brings its register entry along, and journals.
func savePreparation(tx *Tx, op string, p, before *relais.Preparation) error {
	if err := updatePreparation(tx, p); err != nil {
		return relais.E(op, err)
	}
	if p.RegisterNumber != "" && p.Status.RegisterStatus() != before.Status.RegisterStatus() {
		if err := followRegister(tx, *p); err != nil {
			return err
		}
	}
	_, err := journalPreparation(tx, op, before, p.ID)
	return err
}

func productsOfDrug(tx *Tx, drugID relais.ID) ([]relais.Product, error) {
	rows, err := tx.Query("SELECT "+productCols+" FROM product WHERE drug_id = ? ORDER BY id", drugID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []relais.Product
	for rows.Next() {
		p, err := scanProduct(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

func allDiluents(tx *Tx) ([]relais.Diluent, error) {
	rows, err := tx.Query("SELECT " + diluentCols + " FROM diluent ORDER BY name")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []relais.Diluent
	for rows.Next() {
		d, err := scanDiluent(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// proposeFor computes a preparation's plan with the leftovers in the
// isolator now, less what other issued worksheets plan to take.
func proposeFor(tx *Tx, p relais.Preparation, l relais.PrescriptionLine, products []relais.Product) (relais.CompoundingPlan, error) {
	reserved, err := reservationsOf(tx, p.ID)
	if err != nil {
		return relais.CompoundingPlan{}, err
	}
	return proposeWith(tx, p, l, products, reserved)
}

func proposeWith(tx *Tx, p relais.Preparation, l relais.PrescriptionLine, products []relais.Product, reserved reservations) (relais.CompoundingPlan, error) {
	leftovers, err := leftoversOf(tx, p.DrugID, true)
	if err != nil {
		return relais.CompoundingPlan{}, err
	}
	diluents, err := allDiluents(tx)
	if err != nil {
		return relais.CompoundingPlan{}, err
	}
	return relais.ProposeCompounding(relais.PlanInput{Dose: p.Dose, Unit: p.Unit, Products: products, Leftovers: leftovers,
		Reserved: reserved.leftovers, At: tx.Now(), Vehicle: l.Vehicle, VolumeML: l.VolumeML, Diluents: diluents}), nil
}

// reservations is what the issued worksheets not yet recorded plan to take:
// a quantity of drug from each leftover vial, and new vials from each stock
// lot. A worksheet's plan is frozen at its issue, so what it names is
// promised to it until its production is recorded or it is withdrawn.
type reservations struct {
	leftovers map[relais.ID]float64 // drug quantity, by leftover vial
	vials     map[relais.ID]int     // new vials, by stock lot
}

// reservationsOf sums the plans of the issued worksheets other than
// except's (through the partial index preparation_issued).
func reservationsOf(tx *Tx, except relais.ID) (reservations, error) {
	out := reservations{leftovers: map[relais.ID]float64{}, vials: map[relais.ID]int{}}
	rows, err := tx.Query("SELECT plan FROM preparation WHERE status = 'worksheet_issued' AND id <> ?", except)
	if err != nil {
		return out, err
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return out, err
		}
		var plan relais.CompoundingPlan
		if err := fromJSONText(s, &plan); err != nil {
			return out, err
		}
		for _, d := range plan.Draws {
			switch {
			case d.Leftover:
				out.leftovers[d.LeftoverID] += d.Quantity
			case d.LotID != "":
				out.vials[d.LotID]++
			}
		}
	}
	return out, rows.Err()
}

// linePrescription loads a preparation's prescription and line.
func linePrescription(tx *Tx, p relais.Preparation) (relais.Prescription, relais.PrescriptionLine, error) {
	pres, err := prescriptionByID(tx, p.PrescriptionID)
	if err != nil {
		return pres, relais.PrescriptionLine{}, err
	}
	l := pres.Line(p.LineID)
	if l == nil {
		return pres, relais.PrescriptionLine{}, relais.E("preparation.get", relais.KindIntegrity,
			fmt.Sprintf("preparation %s names line %s, which its prescription does not have", p.ID, p.LineID))
	}
	return pres, *l, nil
}

// changePreparation runs one step on a preparation, journaled.
func (db *DB) changePreparation(ctx context.Context, op string, perm relais.Permission, id relais.ID,
	change func(tx *Tx, p *relais.Preparation) error) (relais.Preparation, error) {
	var out relais.Preparation
	err := db.Write(ctx, op, func(tx *Tx) error {
		if err := requirePerm(op, tx.Actor(), perm); err != nil {
			return err
		}
		p, err := preparationByID(tx, id)
		if err != nil {
			return err
		}
		before := p
		if err := change(tx, &p); err != nil {
			return err
		}
		if err := savePreparation(tx, op, &p, &before); err != nil {
			return err
		}
		out, err = preparationByID(tx, id)
		return err
	})
	return out, err
}

// Preparation returns one preparation.
func (db *DB) Preparation(ctx context.Context, id relais.ID) (relais.Preparation, error) {
	var p relais.Preparation
	err := db.Read(ctx, func(tx *Tx) error {
		var err error
		p, err = preparationByID(tx, id)
		return err
	})
	return p, err
}

// Preparations lists preparations by administration date, status or
// patient, in register order then creation order.
func (db *DB) Preparations(ctx context.Context, f relais.PreparationFilter) ([]relais.Preparation, error) {
	return db.listPreparations(ctx, f, preparationCols)
}

// listPreparations reads the preparations f selects, with the columns cols
// (preparationCols, or boardPreparationCols for a list).
func (db *DB) listPreparations(ctx context.Context, f relais.PreparationFilter, cols string) ([]relais.Preparation, error) {
	const op = "preparation.list"
	var where []string
	var args []any
	if f.Date != "" {
		if _, err := relais.ParseDate("date", string(f.Date)); err != nil {
			return nil, err
		}
		where, args = append(where, "administration_date = ?"), append(args, string(f.Date))
	}
	if f.Status != "" {
		if !knownPrepStatus(f.Status) {
			return nil, relais.Invalid(op, "status", "unknown status %q", f.Status)
		}
		where, args = append(where, "status = ?"), append(args, f.Status)
	}
	if f.PatientID != "" {
		where, args = append(where, "patient_id = ?"), append(args, f.PatientID)
	}
	q := "SELECT " + cols + " FROM preparation"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY administration_date, register_number = '', register_number, created_at, id"
	var out []relais.Preparation
	err := db.Read(ctx, func(tx *Tx) error {
		rows, err := tx.Query(q, args...)
		if err != nil {
			return relais.E(op, err)
		}
		if out, err = scanPreparations(rows); err != nil {
			return relais.E(op, err)
		}
		return nil
	})
	return out, err
}

// scanPreparations reads every row of rows (closed after) as a preparation;
// an empty list is [], not nil.
func scanPreparations(rows *sql.Rows) ([]relais.Preparation, error) {
	defer rows.Close()
	out := []relais.Preparation{}
	for rows.Next() {
		p, err := scanPreparation(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

func knownPrepStatus(s relais.PreparationStatus) bool {
	switch s {
	case relais.PrepToPrepare, relais.PrepWorksheetIssued, relais.PrepPrepared, relais.PrepChecked, relais.PrepReleased,
		relais.PrepRejected, relais.PrepDispensed, relais.PrepAdministered, relais.PrepNotAdministered, relais.PrepCancelled:
		return true
	}
	return false
}

// ProposePreparation recomputes the plan of a preparation still to prepare.
func (db *DB) ProposePreparation(ctx context.Context, id relais.ID) (relais.Preparation, error) {
	const op = "preparation.propose"
	return db.changePreparation(ctx, op, relais.PermProductionPrepare, id, func(tx *Tx, p *relais.Preparation) error {
		if p.Mode != relais.ModeCompounded || p.Status != relais.PrepToPrepare {
			return p.SetPlan(relais.CompoundingPlan{}) // refuses with the reason
		}
		_, l, err := linePrescription(tx, *p)
		if err != nil {
			return err
		}
		products, err := productsOfDrug(tx, p.DrugID)
		if err != nil {
			return err
		}
		plan, err := proposeFor(tx, *p, l, products)
		if err != nil {
			return err
		}
		return p.SetPlan(plan)
	})
}

// IssueWorksheet recomputes the plan with the leftovers of this moment,
// freezes it, and gives the preparation its register number, in one
// transaction.
func (db *DB) IssueWorksheet(ctx context.Context, id relais.ID) (relais.Preparation, error) {
	const op = "preparation.issue_worksheet"
	return db.changePreparation(ctx, op, relais.PermProductionPrepare, id, func(tx *Tx, p *relais.Preparation) error {
		if p.Mode != relais.ModeCompounded || p.Status != relais.PrepToPrepare {
			return p.IssueWorksheet(relais.CompoundingPlan{}, "", tx.Actor(), tx.Now()) // refuses with the reason
		}
		_, l, err := linePrescription(tx, *p)
		if err != nil {
			return err
		}
		products, err := productsOfDrug(tx, p.DrugID)
		if err != nil {
			return err
		}
		reserved, err := reservationsOf(tx, p.ID)
		if err != nil {
			return err
		}
		plan, err := proposeWith(tx, *p, l, products, reserved)
		if err != nil {
			return err
		}
		if plan.Blocked {
			return p.IssueWorksheet(plan, "", tx.Actor(), tx.Now()) // refuses with the reasons
		}
		if err := assignLots(tx, &plan, reserved.vials); err != nil {
			return err
		}
		entry, err := issueRegisterNumber(tx, *p)
		if err != nil {
			return err
		}
		return p.IssueWorksheet(plan, entry.Number, tx.Actor(), tx.Now())
	})
}

// CheckPreparation records the second person's check.
func (db *DB) CheckPreparation(ctx context.Context, id relais.ID, req relais.CheckRequest) (relais.Preparation, error) {
	return db.changePreparation(ctx, "preparation.check", relais.PermProductionCheck, id, func(tx *Tx, p *relais.Preparation) error {
		return p.CheckBy(req.Comment, tx.Actor(), tx.Now())
	})
}

// ReleasePreparation is the pharmacist's release.
func (db *DB) ReleasePreparation(ctx context.Context, id relais.ID, req relais.ReleaseRequest) (relais.Preparation, error) {
	return db.changePreparation(ctx, "preparation.release", relais.PermProductionRelease, id, func(tx *Tx, p *relais.Preparation) error {
		return p.ReleaseBy(req, tx.Actor(), tx.Now())
	})
}

// RejectPreparation is the pharmacist's rejection, with a reason.
func (db *DB) RejectPreparation(ctx context.Context, id relais.ID, reason string) (relais.Preparation, error) {
	return db.changePreparation(ctx, "preparation.reject", relais.PermProductionRelease, id, func(tx *Tx, p *relais.Preparation) error {
		return p.Reject(reason, tx.Actor(), tx.Now())
	})
}

// CancelPreparation withdraws a preparation not yet released.
func (db *DB) CancelPreparation(ctx context.Context, id relais.ID, reason string) (relais.Preparation, error) {
	return db.changePreparation(ctx, "preparation.cancel", relais.PermProductionRelease, id, func(tx *Tx, p *relais.Preparation) error {
		return p.Cancel(reason, tx.Actor(), tx.Now())
	})
}

// RemakePreparation makes a new preparation for the line of a rejected one.
func (db *DB) RemakePreparation(ctx context.Context, id relais.ID) (relais.Preparation, error) {
	const op = "preparation.remake"
	var out relais.Preparation
	err := db.Write(ctx, op, func(tx *Tx) error {
		if err := requirePerm(op, tx.Actor(), relais.PermProductionRelease); err != nil {
			return err
		}
		old, err := preparationByID(tx, id)
		if err != nil {
			return err
		}
		if old.Status != relais.PrepRejected {
			return relais.E(op, relais.KindTransition, fmt.Sprintf("preparation %s is %s: only a rejected preparation is remade", old.Display(), old.Status))
		}
		pres, l, err := linePrescription(tx, old)
		if err != nil {
			return err
		}
		if pres.Status != relais.PrescriptionSigned || l.Status != relais.LineValidated {
			return relais.E(op, relais.KindTransition, fmt.Sprintf("the prescription is %s and the line %s: nothing to remake", pres.Status, l.Status))
		}
		products, err := productsOfDrug(tx, old.DrugID)
		if err != nil {
			return err
		}
		now := tx.Now()
		p := relais.Preparation{ID: relais.NewID(), Site: tx.Site(), PrescriptionID: old.PrescriptionID, LineID: old.LineID,
			PatientID: old.PatientID, DrugID: old.DrugID, INN: old.INN, Route: old.Route, LineKind: old.LineKind, Mode: old.Mode,
			ModeReason: old.ModeReason, Dose: l.Dose, Unit: l.Unit, AdministrationDate: l.Date, Status: relais.PrepToPrepare,
			IndicationCode: old.IndicationCode, Replaces: old.ID, CreatedAt: now, UpdatedAt: now}
		if err := insertNewPreparation(tx, op, &p, l, products); err != nil {
			return err
		}
		out, err = preparationByID(tx, p.ID)
		return err
	})
	return out, err
}

// preparedFor is the site a preparation was made for under mutual aid, as
// its register entry says (written with the number, never changed), or nil.
func preparedFor(tx *Tx, prepID relais.ID) (*relais.Site, error) {
	var site string
	err := tx.QueryRow("SELECT prepared_for FROM register_entry WHERE preparation_id = ? AND kind = 'preparation'", prepID).Scan(&site)
	if err != nil {
		if relais.ErrorKind(mapErr(err)) == relais.KindNotFound {
			return nil, nil // no number yet
		}
		return nil, relais.E("production.dossier", mapErr(err))
	}
	if site == "" {
		return nil, nil
	}
	s, err := siteByID(tx, site)
	if relais.ErrorKind(err) == relais.KindNotFound {
		return &relais.Site{ID: site, Name: site}, nil
	}
	if err != nil {
		return nil, err
	}
	if s.Name == "" {
		s.Name = site
	}
	s.PublicKey = "" // not the documents' business
	return &s, nil
}

// Dossiers reads, in one transaction, what the documents of these
// preparations show.
func (db *DB) Dossiers(ctx context.Context, ids []relais.ID) ([]relais.PreparationDossier, error) {
	out := make([]relais.PreparationDossier, 0, len(ids))
	err := db.Read(ctx, func(tx *Tx) error {
		presCache := map[relais.ID]relais.Prescription{}
		patCache := map[relais.ID]relais.Patient{}
		drugCache := map[relais.ID]relais.Drug{}
		prodCache := map[relais.ID]relais.Product{}
		for _, id := range ids {
			d, err := dossier(tx, id, presCache, patCache, drugCache, prodCache)
			if err != nil {
				return err
			}
			out = append(out, d)
		}
		return nil
	})
	return out, err
}

func dossier(tx *Tx, id relais.ID, presCache map[relais.ID]relais.Prescription, patCache map[relais.ID]relais.Patient,
	drugCache map[relais.ID]relais.Drug, prodCache map[relais.ID]relais.Product) (relais.PreparationDossier, error) {
	var d relais.PreparationDossier
	p, err := preparationByID(tx, id)
	if err != nil {
		return d, err
	}
	d.Preparation = p
	pres, ok := presCache[p.PrescriptionID]
	if !ok {
		if pres, err = prescriptionByID(tx, p.PrescriptionID); err != nil {
			return d, err
		}
		presCache[p.PrescriptionID] = pres
	}
	d.Prescription = pres
	if l := pres.Line(p.LineID); l != nil {
		d.Line = *l
	}
	pat, ok := patCache[p.PatientID]
	if !ok {
		if pat, err = patientByID(tx, p.PatientID); err != nil {
			return d, err
		}
		patCache[p.PatientID] = pat
	}
	d.Patient = pat
	drug, ok := drugCache[p.DrugID]
	if !ok {
		if drug, err = drugByID(tx, p.DrugID); err != nil {
			return d, err
		}
		drugCache[p.DrugID] = drug
	}
	d.Drug = drug
	var pids []relais.ID
	if p.Plan != nil {
		for _, dr := range p.Plan.Draws {
			pids = append(pids, dr.ProductID)
		}
	}
	if p.Production != nil {
		for _, v := range p.Production.Vials {
			pids = append(pids, v.ProductID)
		}
	}
	seen := map[relais.ID]bool{}
	for _, pid := range pids {
		if seen[pid] || pid == "" {
			continue
		}
		seen[pid] = true
		prod, ok := prodCache[pid]
		if !ok {
			if prod, err = productByID(tx, pid); err != nil {
				return d, err
			}
			prodCache[pid] = prod
		}
		d.Products = append(d.Products, prod)
	}
	sort.Slice(d.Products, func(i, j int) bool { return d.Products[i].ID < d.Products[j].ID })
	if d.PreparedFor, err = preparedFor(tx, p.ID); err != nil {
		return d, err
	}
	d.DataTime = latest(p.UpdatedAt, pres.UpdatedAt, pat.UpdatedAt, drug.UpdatedAt)
	for _, prod := range d.Products {
		d.DataTime = latest(d.DataTime, prod.UpdatedAt)
	}
	return d, nil
}

// latest returns the latest of the times.
func latest(ts ...time.Time) time.Time {
	var out time.Time
	for _, t := range ts {
		if t.After(out) {
			out = t
		}
	}
	return out
}
