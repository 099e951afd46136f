package web

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/pdfdoc"
)

// The production documents as PDF: compounding worksheet, label, delivery
// slip, administration plan, preparation register, and the production day
// pack. This file maps the domain to pdfdoc's input structs; pdfdoc draws.
//
// Quantities are written here, once, by these rules: doses as validated
// (already rounded by the dose rules), volumes to the step they were
// rounded to (0.1 or 0.01 mL), concentrations to 3 significant digits,
// rates to 0.1 mL/h, with the decimal comma in French. Every document's data
// time is the latest change among the rows it shows, so the same data give
// the same bytes.

type bytesBuffer = bytes.Buffer

func (s *Server) documentRoutes() {
	const tag = "Documents"
	lang := Param{Name: "lang", Description: "fr (default) or en: the language of the document's own words"}
	s.HandleRaw(Route{Method: "GET", Path: "/preparations/{id}/worksheet.pdf", Perm: relais.PermProductionRead, Tag: tag,
		Summary: "The compounding worksheet (fiche de fabrication), once issued", Query: []Param{lang}},
		s.pdf(func(r *http.Request, lang string) (doc, error) {
			d, err := s.oneDossier(r)
			if err != nil {
				return doc{}, err
			}
			ws, err := WorksheetData(d, lang)
			if err != nil {
				return doc{}, err
			}
			return doc{"Fiche de fabrication " + d.Preparation.Display(), d.DataTime, func(p *pdfdoc.Pack, st pdfdoc.Stamp) error {
				ws.Stamp = st
				return p.AddWorksheet(ws)
			}}, nil
		}))
	s.HandleRaw(Route{Method: "GET", Path: "/preparations/{id}/label.pdf", Perm: relais.PermProductionRead, Tag: tag,
		Summary: "The preparation's label at a label-printer size", Query: []Param{lang,
			{Name: "size", Description: "100x50 (default), 80x40 or a4"}}},
		s.pdf(func(r *http.Request, lang string) (doc, error) {
			size, err := labelSize(r.URL.Query().Get("size"))
			if err != nil {
				return doc{}, err
			}
			d, err := s.oneDossier(r)
			if err != nil {
				return doc{}, err
			}
			lb, err := LabelData(d)
			if err != nil {
				return doc{}, err
			}
			return doc{"Étiquette " + d.Preparation.Display(), d.DataTime, func(p *pdfdoc.Pack, st pdfdoc.Stamp) error {
				lb.Stamp = st
				return p.AddLabel(lb, size)
			}}, nil
		}))
	s.HandleRaw(Route{Method: "GET", Path: "/slips/{id}/slip.pdf", Perm: relais.PermProductionRead, Tag: tag,
		Summary: "A delivery slip (bordereau de livraison)", Query: []Param{lang}},
		s.pdf(func(r *http.Request, lang string) (doc, error) {
			slip, ds, err := s.slipDossiers(r)
			if err != nil {
				return doc{}, err
			}
			sd := SlipData(slip, ds)
			return doc{"Bordereau de livraison " + slip.Number, slipDataTime(slip, ds), func(p *pdfdoc.Pack, st pdfdoc.Stamp) error {
				sd.Stamp = st
				return p.AddDeliverySlip(sd)
			}}, nil
		}))
	s.HandleRaw(Route{Method: "GET", Path: "/patients/{id}/administration-plan.pdf", Perm: relais.PermProductionRead, Tag: tag,
		Summary: "A patient's administration plan for a day", Query: []Param{lang, {Name: "day", Description: "YYYY-MM-DD", Required: true},
			{Name: "ward", Description: "the ward, printed on the plan"}}},
		s.pdf(func(r *http.Request, lang string) (doc, error) {
			plan, pat, err := s.planOf(r)
			if err != nil {
				return doc{}, err
			}
			pd, err := PlanData(plan, pat, r.URL.Query().Get("ward"), lang)
			if err != nil {
				return doc{}, err
			}
			return doc{"Plan d'administration " + pat.IPP + " " + string(plan.Day), plan.DataTime, func(p *pdfdoc.Pack, st pdfdoc.Stamp) error {
				pd.Stamp = st
				return p.AddAdministrationPlan(pd)
			}}, nil
		}))
	s.HandleRaw(Route{Method: "GET", Path: "/register.pdf", Perm: relais.PermProductionRead, Tag: tag,
		Summary: "The preparation register (ordonnancier) for a date range, as inspectors ask for it",
		Query:   []Param{lang, {Name: "from", Description: "YYYY-MM-DD", Required: true}, {Name: "to", Description: "YYYY-MM-DD", Required: true}}},
		s.pdf(func(r *http.Request, lang string) (doc, error) {
			rd, err := s.registerData(r)
			if err != nil {
				return doc{}, err
			}
			return doc{"Ordonnancier " + string(rd.From) + " " + string(rd.To), rd.Stamp.DataTime, func(p *pdfdoc.Pack, st pdfdoc.Stamp) error {
				rd.Stamp = st
				return p.AddRegister(rd)
			}}, nil
		}))
	s.HandleRaw(Route{Method: "GET", Path: "/production/day.pdf", Perm: relais.PermProductionRead, Tag: tag,
		Summary: "A production day in one PDF: the worksheets and labels of the day's preparations, then its delivery slips",
		Query:   []Param{lang, {Name: "date", Description: "administration date, YYYY-MM-DD", Required: true}}},
		func(w http.ResponseWriter, r *http.Request) {
			var buf bytes.Buffer
			if err := s.ProductionDay(r.Context(), &buf, relais.Date(r.URL.Query().Get("date")), r.URL.Query().Get("lang")); err != nil {
				s.problem(w, r, err)
				return
			}
			writePDF(w, buf.Bytes())
		})
}

// doc is one document to serve: its title, its data time, and how to add
// it to a pack once the stamp is made.
type doc struct {
	title    string
	dataTime time.Time
	add      func(p *pdfdoc.Pack, st pdfdoc.Stamp) error
}

// pdf serves the document build makes, as a PDF of its own.
func (s *Server) pdf(build func(r *http.Request, lang string) (doc, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		lang, err := docLang(r.URL.Query().Get("lang"))
		if err != nil {
			s.problem(w, r, err)
			return
		}
		d, err := build(r, lang)
		if err != nil {
			s.problem(w, r, err)
			return
		}
		st, err := s.stamp(r.Context(), d.dataTime, lang)
		if err != nil {
			s.problem(w, r, err)
			return
		}
		p, err := pdfdoc.NewPack(d.title, st)
		if err != nil {
			s.problem(w, r, err)
			return
		}
		if err := d.add(p, st); err != nil {
			s.problem(w, r, err)
			return
		}
		var buf bytes.Buffer
		if err := p.Output(&buf); err != nil {
			s.problem(w, r, err)
			return
		}
		writePDF(w, buf.Bytes())
	}
}

func writePDF(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

func docLang(s string) (string, error) {
	switch s {
	case "", "fr":
		return "fr", nil
	case "en":
		return "en", nil
	}
	return "", relais.Invalid("document", "lang", "language %q is not available: use fr or en", s)
}

func labelSize(s string) (pdfdoc.LabelSize, error) {
	switch s {
	case "", "100x50":
		return pdfdoc.Label100x50, nil
	case "80x40":
		return pdfdoc.Label80x40, nil
	case "a4", "A4":
		return pdfdoc.LabelA4, nil
	}
	return pdfdoc.LabelSize{}, relais.Invalid("document", "size", "label size %q is not available: use 100x50, 80x40 or a4", s)
}

// stamp is what every page's footer says: the data time, Relais's version
// and the pharmacy.
func (s *Server) stamp(ctx context.Context, dataTime time.Time, lang string) (pdfdoc.Stamp, error) {
	ph, err := s.Production.Pharmacy(ctx)
	if err != nil {
		return pdfdoc.Stamp{}, err
	}
	return pdfdoc.Stamp{DataTime: dataTime, Version: relais.Version, Lang: lang,
		Pharmacy: pdfdoc.Pharmacy{Name: ph.Name, Address: ph.Address, Phone: ph.Phone}}, nil
}

func (s *Server) oneDossier(r *http.Request) (relais.PreparationDossier, error) {
	id, err := PathID(r, "id")
	if err != nil {
		return relais.PreparationDossier{}, err
	}
	ds, err := s.Production.Dossiers(r.Context(), []relais.ID{id})
	if err != nil {
		return relais.PreparationDossier{}, err
	}
	return ds[0], nil
}

func (s *Server) slipDossiers(r *http.Request) (relais.DeliverySlip, []relais.PreparationDossier, error) {
	id, err := PathID(r, "id")
	if err != nil {
		return relais.DeliverySlip{}, nil, err
	}
	slip, err := s.Production.Slip(r.Context(), id)
	if err != nil {
		return slip, nil, err
	}
	ds, err := s.Production.Dossiers(r.Context(), slip.PreparationIDs)
	return slip, ds, err
}

func slipDataTime(slip relais.DeliverySlip, ds []relais.PreparationDossier) time.Time {
	t := slip.UpdatedAt
	for _, d := range ds {
		if d.DataTime.After(t) {
			t = d.DataTime
		}
	}
	return t
}

func (s *Server) planOf(r *http.Request) (relais.AdministrationPlan, relais.Patient, error) {
	id, err := PathID(r, "id")
	if err != nil {
		return relais.AdministrationPlan{}, relais.Patient{}, err
	}
	plan, err := s.Production.AdministrationPlan(r.Context(), id, relais.Date(r.URL.Query().Get("day")))
	if err != nil {
		return plan, relais.Patient{}, err
	}
	pat, err := s.Patients.Patient(r.Context(), id)
	return plan, pat, err
}

func (s *Server) registerData(r *http.Request) (pdfdoc.RegisterData, error) {
	q := r.URL.Query()
	from, to := relais.Date(q.Get("from")), relais.Date(q.Get("to"))
	entries, err := s.Production.Register(r.Context(), from, to)
	if err != nil {
		return pdfdoc.RegisterData{}, err
	}
	patients := map[relais.ID]relais.Patient{}
	var rd pdfdoc.RegisterData
	rd.From, rd.To = from, to
	var dataTime time.Time
	for _, e := range entries {
		if e.UpdatedAt.After(dataTime) {
			dataTime = e.UpdatedAt
		}
		if e.Kind != relais.RegisterPreparation {
			continue // reserved and voided numbers: printed once pdfdoc has a line for them
		}
		pat, ok := patients[e.PatientID]
		if !ok {
			if pat, err = s.Patients.Patient(r.Context(), e.PatientID); err != nil {
				return rd, err
			}
			patients[e.PatientID] = pat
		}
		re := pdfdoc.RegisterEntry{Number: e.Number, Date: e.IssuedAt, Patient: docPatient(pat), INN: strings.ToUpper(e.INN),
			Dose: qty(e.Dose, e.Unit, "fr"), Status: pdfdoc.EntryStatus(e.Status)}
		for _, a := range e.Annotations {
			re.Annotations = append(re.Annotations, pdfdoc.Annotation{At: a.At, By: a.By, Text: a.Text})
		}
		rd.Entries = append(rd.Entries, re)
	}
	if dataTime.IsZero() {
		dataTime = localMidnight(to.AddDays(1))
	}
	rd.Stamp.DataTime = dataTime
	return rd, nil
}

func localMidnight(d relais.Date) time.Time {
	t := d.Time()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, relais.DisplayZone)
}

// ProductionDay writes the day's production in one PDF: for each
// preparation with a register number, its worksheet then its label (once
// prepared), in register order; then the day's delivery slips.
func (s *Server) ProductionDay(ctx context.Context, out *bytes.Buffer, day relais.Date, lang string) error {
	lang, err := docLang(lang)
	if err != nil {
		return err
	}
	if _, err := relais.ParseDate("date", string(day)); err != nil {
		return err
	}
	preps, err := s.Production.Preparations(ctx, relais.PreparationFilter{Date: day})
	if err != nil {
		return err
	}
	var ids []relais.ID
	for _, p := range preps {
		if p.RegisterNumber != "" && p.Status != relais.PrepCancelled {
			ids = append(ids, p.ID)
		}
	}
	ds, err := s.Production.Dossiers(ctx, ids)
	if err != nil {
		return err
	}
	slips, err := s.Production.Slips(ctx, day)
	if err != nil {
		return err
	}
	byID := map[relais.ID]relais.PreparationDossier{}
	var dataTime time.Time
	for _, d := range ds {
		byID[d.Preparation.ID] = d
		if d.DataTime.After(dataTime) {
			dataTime = d.DataTime
		}
	}
	slipDossiers := make([][]relais.PreparationDossier, len(slips))
	for i, sl := range slips {
		if sl.UpdatedAt.After(dataTime) {
			dataTime = sl.UpdatedAt
		}
		var missing []relais.ID
		for _, id := range sl.PreparationIDs {
			if d, ok := byID[id]; ok {
				slipDossiers[i] = append(slipDossiers[i], d)
			} else {
				missing = append(missing, id)
			}
		}
		if len(missing) > 0 {
			more, err := s.Production.Dossiers(ctx, missing)
			if err != nil {
				return err
			}
			for _, d := range more {
				byID[d.Preparation.ID] = d
				if d.DataTime.After(dataTime) {
					dataTime = d.DataTime
				}
			}
			slipDossiers[i] = slipDossiers[i][:0]
			for _, id := range sl.PreparationIDs {
				slipDossiers[i] = append(slipDossiers[i], byID[id])
			}
		}
	}
	if len(ds) == 0 && len(slips) == 0 {
		return relais.E("document.production_day", relais.KindNotFound, fmt.Sprintf("no preparation with a worksheet and no delivery slip on %s", day))
	}
	st, err := s.stamp(ctx, dataTime, lang)
	if err != nil {
		return err
	}
	p, err := pdfdoc.NewPack("Production du "+string(day), st)
	if err != nil {
		return err
	}
	for _, d := range ds {
		d.DataTime = dataTime
		ws, err := WorksheetData(d, lang)
		if err != nil {
			return err
		}
		ws.Stamp = st
		if err := p.AddWorksheet(ws); err != nil {
			return err
		}
		if d.Preparation.Production == nil {
			continue
		}
		lb, err := LabelData(d)
		if err != nil {
			return err
		}
		lb.Stamp = st
		if err := p.AddLabel(lb, pdfdoc.Label100x50); err != nil {
			return err
		}
	}
	for i, sl := range slips {
		sd := SlipData(sl, slipDossiers[i])
		sd.Stamp = st
		if err := p.AddDeliverySlip(sd); err != nil {
			return err
		}
	}
	return p.Output(out)
}

// The mapping, one function per document. Each returns pdfdoc's input with
// an empty Stamp except for what the document itself decides: the caller
// sets the stamp (pdfdoc's Add methods check it).

func docPatient(p relais.Patient) pdfdoc.Patient {
	d := pdfdoc.Patient{BirthName: strings.ToUpper(p.BirthName), UsedName: strings.ToUpper(p.UsedName), BirthDate: p.BirthDate, LocalID: p.IPP}
	if len(p.FirstNames) > 0 {
		d.FirstName = p.FirstNames[0]
	}
	if p.INS.Status == relais.IdentityQualified {
		d.INS = p.INS.Matricule
	}
	return d
}

// num writes v with at most decimals decimals, trailing zeros dropped, the
// decimal comma in French.
func num(v float64, decimals int, lang string) string {
	s := strconv.FormatFloat(roundTo(v, decimals), 'f', -1, 64)
	if lang != "en" {
		s = strings.Replace(s, ".", ",", 1)
	}
	return s
}

func roundTo(v float64, d int) float64 {
	p := 1.0
	for i := 0; i < d; i++ {
		p *= 10
	}
	return float64(int64(v*p+copySign(0.5, v))) / p
}

func copySign(a, b float64) float64 {
	if b < 0 {
		return -a
	}
	return a
}

// qty writes a dose as validated: up to 4 decimals (it is already rounded
// by the dose rules; this only drops binary noise).
func qty(v float64, unit, lang string) string { return num(v, 4, lang) + " " + unit }

func volume(v, step float64, lang string) string {
	d := 1
	if step > 0 && step < 0.1 {
		d = 2
	}
	return num(v, d, lang) + " mL"
}

// sig3 writes a concentration with 3 significant digits.
func sig3(v float64, lang string) string {
	if v == 0 {
		return "0"
	}
	d := 2
	for x := v; x < 100 && d < 8; x *= 10 {
		if x >= 1 {
			break
		}
		d++
	}
	switch {
	case v >= 100:
		d = 0
	case v >= 10:
		d = 1
	}
	return num(v, d, lang)
}

func tr(lang, fr, en string) string {
	if lang == "en" {
		return en
	}
	return fr
}

// WorksheetData maps a preparation whose worksheet was issued to pdfdoc's
// worksheet (the Stamp is the caller's).
func WorksheetData(d relais.PreparationDossier, lang string) (pdfdoc.WorksheetData, error) {
	const op = "document.worksheet"
	p := d.Preparation
	if p.RegisterNumber == "" || p.Plan == nil {
		return pdfdoc.WorksheetData{}, relais.E(op, relais.KindConflict, fmt.Sprintf(
			"preparation %s has no worksheet yet (%s): issue it first, which gives its register number", p.Display(), p.Status))
	}
	plan := p.Plan
	m := d.Prescription.Measurements
	ws := pdfdoc.WorksheetData{
		PreparationID: string(p.ID), RegisterNumber: p.RegisterNumber, Patient: docPatient(d.Patient),
		Weight: num(m.WeightKg, 2, lang) + " kg", Height: num(m.HeightCm, 1, lang) + " cm",
		BSA:        num(m.BSAM2, 2, lang) + " m²" + bsaFormula(m),
		MeasuredOn: relais.LocalDate(m.WeightAt), Protocol: d.Prescription.Regimen,
		Cycle: tr(lang, "Cure ", "Cycle ") + strconv.Itoa(d.Prescription.Cycle), Day: tr(lang, "J", "D") + strconv.Itoa(d.Line.Day),
		Prescriber: d.Prescription.PrescriberName, AdministrationDate: p.AdministrationDate,
		INN: strings.ToUpper(p.INN), Dose: qty(p.Dose, p.Unit, lang), Route: p.Route, Storage: p.Storage, Expiry: p.Expiry,
		Cytotoxic: d.Drug.Cytotoxic, Diluent: plan.Vehicle, FinalVolume: volume(plan.FinalVolumeML, plan.StepML, lang),
		FinalConcentration: sig3(plan.FinalConcentration, lang) + " " + p.Unit + "/mL",
	}
	if m.WeightAt.IsZero() {
		ws.MeasuredOn = ""
	}
	if v := d.Line.Validation; v != nil {
		ws.ValidatedBy, ws.ValidatedAt = v.By, v.At
	}
	var steps []string
	for _, st := range d.Line.Calculation.Steps {
		steps = append(steps, tr(lang, st.FR, st.EN))
	}
	// The PDF fonts lack "√" and "∞": the derivation spells them.
	ws.Derivation = strings.NewReplacer("√", tr(lang, "racine", "sqrt"), "∞", tr(lang, "infini", "infinity")).Replace(strings.Join(steps, "\n"))
	if ws.Derivation == "" {
		ws.Derivation = tr(lang, "dose prescrite : ", "dose prescribed: ") + qty(p.Dose, p.Unit, lang)
	}
	if plan.Container == "bag" {
		ws.Container = tr(lang, "poche ", "bag ") + num(plan.BagVolumeML, 1, lang) + " mL"
		ws.ContainerVolume = num(plan.BagVolumeML, 1, lang) + " mL"
	} else {
		ws.Container = tr(lang, "seringue", "syringe")
	}
	var brands []string
	seen := map[relais.ID]bool{}
	for _, dr := range plan.Draws {
		if !seen[dr.ProductID] {
			seen[dr.ProductID] = true
			brands = append(brands, dr.Brand)
			if ws.UCD == "" {
				ws.UCD = dr.UCD
			}
		}
	}
	ws.Brand = strings.Join(brands, " + ")
	if rec := p.Production; rec != nil {
		// Once prepared, the worksheet shows the vials actually used.
		for _, v := range rec.Vials {
			vial := pdfdoc.Vial{Leftover: v.Leftover, Presentation: v.Brand, Lot: v.Lot, LotExpiry: v.LotExpiry,
				Quantity: qty(v.Quantity, v.Unit, lang), Volume: num(v.VolumeML, 2, lang) + " mL"}
			if v.Leftover {
				vial.UseBefore = leftoverUseBefore(plan, v.LeftoverID)
			}
			ws.Vials = append(ws.Vials, vial)
		}
	} else {
		for _, dr := range plan.Draws {
			ws.Vials = append(ws.Vials, pdfdoc.Vial{Leftover: dr.Leftover, Presentation: dr.Presentation, Lot: dr.Lot, LotExpiry: dr.LotExpiry,
				UseBefore: dr.UseBefore, Quantity: qty(dr.Quantity, p.Unit, lang), Volume: volume(dr.VolumeML, plan.StepML, lang)})
		}
	}
	ws.Steps = compoundingSteps(d, lang)
	return ws, nil
}

func leftoverUseBefore(plan *relais.CompoundingPlan, id relais.ID) time.Time {
	for _, d := range plan.Draws {
		if d.LeftoverID == id {
			return d.UseBefore
		}
	}
	return time.Time{}
}

// compoundingSteps are the worksheet's steps, from the plan.
func compoundingSteps(d relais.PreparationDossier, lang string) []string {
	p := d.Preparation
	plan := p.Plan
	var out []string
	add := func(fr, en string, args ...any) { out = append(out, fmt.Sprintf(tr(lang, fr, en), args...)) }
	add("Vérifier la fiche : patient (nom, prénom, date de naissance, IPP), DCI, dose, n° d'ordonnancier.",
		"Check the worksheet: patient (name, first name, birth date, IPP), INN, dose, register number.")
	reconstituted := map[relais.ID]bool{}
	for i, dr := range plan.Draws {
		vol := volume(dr.VolumeML, plan.StepML, lang)
		q := qty(dr.Quantity, p.Unit, lang)
		switch {
		case dr.Leftover:
			add("Flacon %d (reliquat, lot %s) : prélever %s (%s).", "Vial %d (leftover, lot %s): withdraw %s (%s).", i+1, dr.Lot, vol, q)
		default:
			if prod, ok := d.Product(dr.ProductID); ok && prod.Form == relais.FormPowder && !reconstituted[dr.ProductID] {
				reconstituted[dr.ProductID] = true
				add("Reconstituer chaque flacon de %s : %s.", "Reconstitute each vial of %s: %s.", dr.Brand, prod.Reconstitution)
			}
			if dr.Whole {
				add("Flacon %d (%s, lot %s) : prélever la totalité, %s (%s).", "Vial %d (%s, lot %s): withdraw all of it, %s (%s).", i+1, dr.Presentation, dr.Lot, vol, q)
			} else {
				add("Flacon %d (%s, lot %s) : prélever %s (%s).", "Vial %d (%s, lot %s): withdraw %s (%s).", i+1, dr.Presentation, dr.Lot, vol, q)
			}
		}
	}
	if plan.Container == "bag" {
		add("Injecter les %s de solution dans la poche de %s %s mL ; volume final %s.", "Inject the %s of solution into the %s %s mL bag; final volume %s.",
			volume(plan.DrugVolumeML, plan.StepML, lang), plan.Vehicle, num(plan.BagVolumeML, 1, lang), volume(plan.FinalVolumeML, plan.StepML, lang))
	} else {
		add("Seringue non diluée ; volume final %s.", "Undiluted syringe; final volume %s.", volume(plan.FinalVolumeML, plan.StepML, lang))
	}
	for _, w := range plan.Waste {
		if w.Keepable {
			add("Reste du flacon %s (%s, %s mL) : étiqueter et enregistrer comme reliquat.", "What is left of %s (%s, %s mL): label and record it as a leftover vial.",
				w.Brand, qty(w.Quantity, p.Unit, lang), num(w.VolumeML, 2, lang))
		} else {
			add("Reste du flacon %s (%s) : éliminer en déchets cytotoxiques.", "What is left of %s (%s): discard as cytotoxic waste.", w.Brand, qty(w.Quantity, p.Unit, lang))
		}
	}
	add("Peser ou mesurer ce qui est prélevé (tolérance ±5 %% sauf tolérance propre au médicament) ; étiqueter ; transmettre au contrôle.",
		"Weigh or measure what is withdrawn (tolerance ±5 %% unless the drug has its own); label; pass on for the check.")
	return out
}

// LabelData maps a prepared preparation to pdfdoc's label (the Stamp is
// the caller's).
func LabelData(d relais.PreparationDossier) (pdfdoc.LabelData, error) {
	const op = "document.label"
	p := d.Preparation
	if p.Production == nil || p.Plan == nil {
		return pdfdoc.LabelData{}, relais.E(op, relais.KindConflict, fmt.Sprintf(
			"preparation %s is %s: its label is printed once it is prepared (preparation time and expiry)", p.Display(), p.Status))
	}
	total := p.Plan.FinalVolumeML
	if p.Production.FinalVolumeML > 0 {
		total = p.Production.FinalVolumeML
	}
	lb := pdfdoc.LabelData{PreparationID: string(p.ID), RegisterNumber: p.RegisterNumber, Category: pdfdoc.CategoryMagistral,
		Cytotoxic: d.Drug.Cytotoxic, Patient: docPatient(d.Patient), INN: strings.ToUpper(p.INN), Dose: qty(p.Dose, p.Unit, "fr"),
		TotalVolume: volume(total, p.Plan.StepML, "fr"), Vehicle: p.Plan.Vehicle, Route: p.Route, AdministrationDate: p.AdministrationDate,
		PreparedAt: p.Production.At, Expiry: p.Expiry, Storage: p.Storage}
	if d.PreparedFor != nil { // mutual aid (issue 12): "Préparé par … pour …", from the register entry
		lb.PreparedFor = d.PreparedFor.Name
	}
	return lb, nil
}

// SlipData maps a delivery slip and its preparations to pdfdoc's slip.
func SlipData(slip relais.DeliverySlip, ds []relais.PreparationDossier) pdfdoc.SlipData {
	sd := pdfdoc.SlipData{Number: slip.Number, Ward: slip.Ward, RoundDate: slip.RoundDate, Round: pdfdoc.Round(slip.Round)}
	if slip.Receipt != nil {
		sd.HandoverAt = slip.Receipt.At
	}
	for _, d := range ds {
		p := d.Preparation
		it := pdfdoc.SlipItem{RegisterNumber: p.RegisterNumber, Patient: docPatient(d.Patient), INN: strings.ToUpper(p.INN),
			Dose: qty(p.Dose, p.Unit, "fr"), Route: p.Route}
		if it.RegisterNumber == "" {
			// Dispensed as is: no register number; the id tells it apart.
			it.RegisterNumber = "sans n° " + string(p.ID)[len(p.ID)-8:]
		}
		switch {
		case p.Production != nil && p.Production.FinalVolumeML > 0:
			it.Volume = num(p.Production.FinalVolumeML, 2, "fr") + " mL"
		case p.Plan != nil:
			it.Volume = volume(p.Plan.FinalVolumeML, p.Plan.StepML, "fr")
		default:
			it.Volume = "0 mL (non préparé)"
		}
		sd.Items = append(sd.Items, it)
	}
	return sd
}

// PlanData maps an administration plan to pdfdoc's.
func PlanData(plan relais.AdministrationPlan, pat relais.Patient, ward, lang string) (pdfdoc.PlanData, error) {
	if len(plan.Items) == 0 {
		return pdfdoc.PlanData{}, relais.E("document.plan", relais.KindNotFound, fmt.Sprintf("nothing validated to give on %s", plan.Day))
	}
	if strings.TrimSpace(ward) == "" {
		ward = tr(lang, "non précisé", "not given")
	}
	pd := pdfdoc.PlanData{Patient: docPatient(pat), Day: plan.Day, Ward: ward, Protocol: strings.Join(plan.Protocols, ", "), Cycle: plan.Cycle}
	if plan.WeightKg > 0 {
		pd.Weight = num(plan.WeightKg, 2, lang) + " kg"
	}
	if plan.BSAM2 > 0 {
		pd.BSA = num(plan.BSAM2, 2, lang) + " m²"
	}
	kinds := map[string]pdfdoc.ItemKind{"chemo": pdfdoc.KindChemotherapy, "premedication": pdfdoc.KindPremedication,
		"supportive": pdfdoc.KindSupportive, "hydration": pdfdoc.KindHydration}
	items := append([]relais.PlanItem(nil), plan.Items...)
	sort.SliceStable(items, func(i, j int) bool { return items[i].Start.Before(items[j].Start) })
	for _, it := range items {
		k, ok := kinds[it.Kind]
		if !ok {
			k = pdfdoc.KindChemotherapy
		}
		pi := pdfdoc.PlanItem{Time: it.Start, Kind: k, Drug: strings.ToUpper(it.INN), Route: it.Route, RegisterNumber: it.RegisterNumber,
			Note: it.Comments}
		if it.Dose > 0 {
			pi.Dose = qty(it.Dose, it.Unit, lang)
		} else {
			pi.Dose = num(it.VolumeML, 1, lang) + " mL"
		}
		if it.Vehicle != "" {
			pi.Vehicle = it.Vehicle
			if it.VolumeML > 0 {
				pi.Vehicle += " " + num(it.VolumeML, 1, lang) + " mL"
			}
		}
		if it.RateMLH > 0 {
			pi.Rate = num(it.RateMLH, 1, lang) + " mL/h"
		}
		if it.DurationMin > 0 {
			pi.Duration = strconv.Itoa(it.DurationMin) + " min"
		}
		pd.Items = append(pd.Items, pi)
	}
	return pd, nil
}

// bsaFormula names the BSA formula the doses used, from its derivation.
func bsaFormula(m relais.UsedMeasurements) string {
	for _, st := range m.BSA.Steps {
		if name, ok := strings.CutPrefix(st.Code, "bsa."); ok && name != "" {
			return " (" + strings.ToUpper(name[:1]) + strings.ReplaceAll(name[1:], "_", "-") + ")"
		}
	}
	return ""
}
