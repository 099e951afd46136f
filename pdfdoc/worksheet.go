package pdfdoc

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/relais-onco/relais"
)

// WorksheetData is the compounding worksheet (fiche de fabrication) of one
// preparation: the recipe the technician follows in the isolator and the
// record of what was done, checked and released. Quantities are strings
// with their unit, printed exactly as given (see the package comment).
type WorksheetData struct {
	Stamp          Stamp
	PreparationID  string // encoded in the DataMatrix (PreparationCode) and printed in full
	RegisterNumber string // numéro d'ordonnancier, e.g. "2026-000123"

	Patient Patient
	// The measures the dose was computed from, with units, e.g. "18,2 kg",
	// "108 cm", "0,74 m²" (BSA with the formula, e.g. "0,74 m² (Mosteller)").
	Weight, Height, BSA string
	MeasuredOn          relais.Date // when weight and height were measured

	Protocol           string // protocol and version, e.g. "COJEC v2"
	Cycle, Day         string // e.g. "Cure 3", "J1"
	Prescriber         string
	AdministrationDate relais.Date
	ValidatedBy        string    // pharmacist who validated the line
	ValidatedAt        time.Time // when

	INN        string // DCI
	Dose       string // the dose to prepare, with unit, e.g. "85,5 mg"
	Derivation string // how the dose was computed, one step a line

	Brand              string // spécialité
	UCD                string // 13-digit UCD code
	Vials              []Vial
	Diluent            string // e.g. "NaCl 0,9 %"
	Container          string // e.g. "poche 250 mL", "seringue 50 mL"
	ContainerVolume    string // e.g. "250 mL"
	FinalVolume        string // e.g. "258,6 mL"
	FinalConcentration string // e.g. "0,33 mg/mL"
	Route              string // e.g. "IV"
	Storage            string // e.g. "À conserver entre 2 et 8 °C, à l'abri de la lumière"
	Expiry             time.Time
	Cytotoxic          bool // prints "Cytotoxique – manipuler avec précaution"

	Steps []string // compounding steps in order; "\n" breaks a step's lines
}

// Vial is one vial the preparation draws from: a new vial of a lot, or a
// leftover vial (reliquat) opened for an earlier preparation.
type Vial struct {
	Leftover     bool
	Presentation string      // e.g. "450 mg / 45 mL"
	Lot          string      // required
	LotExpiry    relais.Date // the lot's expiry date; required
	UseBefore    time.Time   // a leftover's end of stability once opened; required for a leftover
	Quantity     string      // quantity taken, with unit, e.g. "85,5 mg"
	Volume       string      // volume to withdraw, with unit, e.g. "8,55 mL"
}

func (d *WorksheetData) check(c *check) {
	d.Stamp.check(c, "stamp")
	c.code("preparation_id", d.PreparationID)
	c.text("register_number", d.RegisterNumber, need, 40)
	d.Patient.check(c, "patient")
	c.quantity("weight", d.Weight, need)
	c.quantity("height", d.Height, opt)
	c.quantity("bsa", d.BSA, opt)
	c.date("measured_on", d.MeasuredOn, opt)
	c.text("protocol", d.Protocol, need, 200)
	c.text("cycle", d.Cycle, opt, 40)
	c.text("day", d.Day, opt, 40)
	c.text("prescriber", d.Prescriber, need, 120)
	c.date("administration_date", d.AdministrationDate, need)
	c.text("validated_by", d.ValidatedBy, need, 120)
	c.time("validated_at", d.ValidatedAt, need)
	c.text("inn", d.INN, need, 120)
	c.quantity("dose", d.Dose, need)
	c.multiline("derivation", d.Derivation, need, 2000)
	c.text("brand", d.Brand, need, 120)
	c.text("ucd", d.UCD, need, 20)
	if len(d.Vials) == 0 {
		c.add("vials", "no vial is given: list the new and leftover vials the preparation draws from")
	}
	for i, v := range d.Vials {
		c.text(itemField("vials", i, "presentation"), v.Presentation, opt, 60)
		c.text(itemField("vials", i, "lot"), v.Lot, need, 40)
		c.date(itemField("vials", i, "lot_expiry"), v.LotExpiry, need)
		c.time(itemField("vials", i, "use_before"), v.UseBefore, v.Leftover)
		c.quantity(itemField("vials", i, "quantity"), v.Quantity, need)
		c.quantity(itemField("vials", i, "volume"), v.Volume, need)
	}
	c.text("diluent", d.Diluent, opt, 120)
	c.text("container", d.Container, need, 120)
	c.quantity("container_volume", d.ContainerVolume, opt)
	c.quantity("final_volume", d.FinalVolume, need)
	c.quantity("final_concentration", d.FinalConcentration, need)
	c.text("route", d.Route, need, 60)
	c.text("storage", d.Storage, need, 200)
	c.time("expiry", d.Expiry, need)
	if len(d.Steps) == 0 {
		c.add("steps", "no compounding step is given: list the steps the technician follows")
	}
	for i, s := range d.Steps {
		c.multiline(fmt.Sprintf("steps[%d]", i), s, need, 600)
	}
}

// Worksheet writes the compounding worksheet of one preparation as a PDF.
func Worksheet(out io.Writer, d WorksheetData) error {
	return one(out, "Fiche de fabrication "+d.RegisterNumber, d.Stamp,
		func(p *Pack) error { return p.AddWorksheet(d) })
}

// AddWorksheet adds a compounding worksheet to the pack.
func (p *Pack) AddWorksheet(d WorksheetData) error {
	return p.add("pdfdoc.worksheet", d.check, func(w *writer) error {
		m, err := encodeMatrix(PreparationCode(d.PreparationID))
		if err != nil {
			return relais.E("pdfdoc.worksheet", relais.KindInvalid, relais.Field("preparation_id"), "the id cannot be encoded as a DataMatrix", err)
		}
		w.startDoc(d.Stamp, 210, 297, 12, 7)
		w.fixedRef = w.enc(d.RegisterNumber)
		drawWorksheet(w, &d, m)
		return nil
	})
}

func drawWorksheet(w *writer, d *WorksheetData, m *matrix) {
	reg := w.enc(d.RegisterNumber)
	w.newPage()
	// Later pages repeat who and what the sheet is for.
	w.header = func() {
		w.font("", 8)
		text := w.t("ws.title") + " \xB7 " + w.t("register_no") + " " + reg + " \xB7 " +
			patientLine(w, d.Patient) + " " + w.t("continued")
		w.y += w.para(w.left, w.y, w.right-w.left, text, "L") + 1
	}
	// First page's header: pharmacy, title and number, DataMatrix.
	const module = 0.75
	side := m.side(module)
	w.drawMatrix(m, w.right-side, w.y, module)
	colW := (w.right - w.left - side - 4) / 2
	y0 := w.y
	w.font("B", 10)
	h := w.para(w.left, y0, colW, w.enc(d.Stamp.Pharmacy.Name), "L")
	w.font("", 8)
	h += w.para(w.left, y0+h, colW, w.enc(d.Stamp.Pharmacy.Address), "L")
	h += w.para(w.left, y0+h, colW, w.t("tel", w.enc(d.Stamp.Pharmacy.Phone)), "L")
	x := w.left + colW + 2
	w.font("B", 14)
	r := w.para(x, y0, colW, w.t("ws.title"), "L")
	w.font("", 8)
	r += w.para(x, y0+r+1, colW, w.t("register_no"), "L") + 1
	w.font("B", 16)
	r += w.para(x, y0+r, colW, reg, "L")
	w.font("", 7)
	r += w.para(x, y0+r+0.5, colW, w.t("ws.prep_id", w.enc(d.PreparationID)), "L") + 0.5
	if d.Cytotoxic {
		w.font("B", 9)
		r += w.para(x, y0+r+1, colW, w.t("ws.cytotoxic"), "L") + 1
	}
	w.y = y0 + max(h, r, side) + 1

	// Patient.
	w.heading(w.t("patient"), 12)
	measured := ""
	if d.MeasuredOn != "" {
		measured = w.date(string(d.MeasuredOn))
	}
	w.grid(4,
		cell{label: w.t("birth_name"), value: w.enc(d.Patient.BirthName), strong: true},
		cell{label: w.t("used_name"), value: w.enc(d.Patient.UsedName), strong: true},
		cell{label: w.t("first_name"), value: w.enc(d.Patient.FirstName), strong: true},
		cell{label: w.t("birth_date"), value: w.date(string(d.Patient.BirthDate)), strong: true},
		cell{label: w.t("ipp"), value: w.enc(d.Patient.LocalID), strong: true},
		cell{label: w.t("ins"), value: w.enc(d.Patient.INS)},
		cell{label: w.t("weight"), value: w.qty(d.Weight)},
		cell{label: w.t("height"), value: w.qty(d.Height)},
		cell{label: w.t("bsa"), value: w.qty(d.BSA), span: 2},
		cell{label: w.t("measured_on"), value: measured, span: 2},
	)

	// Prescription.
	w.heading(w.t("ws.prescription"), 12)
	cycleDay := w.enc(d.Cycle)
	if d.Day != "" {
		if cycleDay != "" {
			cycleDay += " \xB7 "
		}
		cycleDay += w.enc(d.Day)
	}
	w.grid(4,
		cell{label: w.t("ws.protocol"), value: w.enc(d.Protocol), span: 2},
		cell{label: w.t("ws.cycle_day"), value: cycleDay},
		cell{label: w.t("ws.admin_date"), value: w.date(string(d.AdministrationDate)), strong: true},
		cell{label: w.t("ws.prescriber"), value: w.enc(d.Prescriber), span: 2},
		cell{label: w.t("ws.validated_by"), value: w.enc(d.ValidatedBy) + ", " + w.dateTime(d.ValidatedAt), span: 2},
	)

	// Drug and dose, with the derivation.
	w.heading(w.t("ws.drug"), 12)
	w.grid(4,
		cell{label: w.t("ws.inn"), value: w.enc(d.INN), span: 2, strong: true},
		cell{label: w.t("ws.dose"), value: w.qty(d.Dose), span: 2, strong: true},
		cell{label: w.t("ws.derivation"), value: w.enc(d.Derivation), span: 4},
	)

	// Product and vials.
	w.heading(w.t("ws.product"), 20)
	w.grid(4,
		cell{label: w.t("ws.brand"), value: w.enc(d.Brand), span: 2},
		cell{label: w.t("ws.ucd"), value: w.enc(d.UCD), span: 2},
	)
	w.font("B", 8.5)
	w.need(lineH(8.5) + 12)
	w.y += 1.5
	w.y += w.para(w.left, w.y, w.right-w.left, w.t("ws.vials"), "L") + 0.5
	vials := make([]trow, len(d.Vials))
	for i, v := range d.Vials {
		kind, expiry := w.t("ws.vial_new"), w.date(string(v.LotExpiry))
		if v.Leftover {
			kind = w.t("ws.vial_leftover")
			expiry += "\n" + w.t("ws.use_before_lc") + " " + w.dateTime(v.UseBefore)
		}
		vials[i] = trow{cells: []string{strconv.Itoa(i + 1), kind, w.enc(v.Presentation), w.enc(v.Lot),
			expiry, w.qty(v.Quantity), w.qty(v.Volume), boxStr, ""}}
	}
	w.table([]column{
		{title: w.t("ws.step_no"), weight: 6},
		{title: w.t("ws.vial_kind"), weight: 12},
		{title: w.t("ws.strength"), weight: 18},
		{title: w.t("ws.lot"), weight: 16},
		{title: w.t("ws.lot_expiry") + " / " + w.t("ws.use_before_lc"), weight: 24},
		{title: w.t("ws.quantity"), weight: 16},
		{title: w.t("ws.volume"), weight: 16},
		{title: w.t("ws.done"), weight: 7},
		{title: w.t("ws.checker"), weight: 14},
	}, vials, 8.5)

	// Reconstitution and dilution.
	w.heading(w.t("ws.reconstitution"), 12)
	w.grid(4,
		cell{label: w.t("ws.diluent"), value: w.enc(d.Diluent)},
		cell{label: w.t("ws.container"), value: w.enc(d.Container)},
		cell{label: w.t("ws.bag_volume"), value: w.qty(d.ContainerVolume)},
		cell{label: w.t("ws.route"), value: w.enc(d.Route), strong: true},
		cell{label: w.t("ws.final_volume"), value: w.qty(d.FinalVolume), strong: true},
		cell{label: w.t("ws.concentration"), value: w.qty(d.FinalConcentration), strong: true},
		cell{label: w.t("ws.expiry"), value: w.dateTime(d.Expiry), strong: true, span: 2},
		cell{label: w.t("ws.storage"), value: w.enc(d.Storage), span: 4},
	)

	// Steps with check boxes.
	w.heading(w.t("ws.steps"), 12)
	steps := make([]trow, len(d.Steps))
	for i, s := range d.Steps {
		steps[i] = trow{cells: []string{strconv.Itoa(i + 1), w.enc(s), boxStr, "", ""}}
	}
	w.table([]column{
		{title: w.t("ws.step_no"), weight: 6},
		{title: w.t("ws.step"), weight: 62},
		{title: w.t("ws.done"), weight: 7},
		{title: w.t("ws.initials"), weight: 13},
		{title: w.t("ws.checker"), weight: 13},
	}, steps, 8.5)

	// Measures to fill, and release.
	w.heading(w.t("ws.controls"), 20)
	w.font("", 9)
	for _, k := range []string{"ws.made_in", "ws.measures", "ws.release"} {
		h := w.paraHeight(w.t(k), w.right-w.left) + 2.5
		w.need(h)
		w.y += 2.5
		w.y += w.para(w.left, w.y, w.right-w.left, w.t(k), "L")
	}
}

// patientLine is the patient on one line: BIRTH NAME (used name) First
// name, birth date, IPP — the two identifiers.
func patientLine(w *writer, p Patient) string {
	s := w.enc(p.BirthName)
	if p.UsedName != "" {
		s += " (" + w.enc(p.UsedName) + ")"
	}
	return s + " " + w.enc(p.FirstName) + ", " + w.t("lb.born", w.date(string(p.BirthDate))) +
		", " + w.t("lb.ipp", w.enc(p.LocalID))
}
