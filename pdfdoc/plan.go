package pdfdoc

import (
	"io"
	"strconv"
	"time"

	"github.com/relais-onco/relais"
)

// PlanData is the administration plan (plan d'administration) of one patient
// for one day: what the nurse gives, in sequence, with times, rates and
// durations, and boxes for the start, the end and the nurse's initials.
type PlanData struct {
	Stamp    Stamp
	Patient  Patient
	Day      relais.Date
	Ward     string
	Protocol string // protocol and version
	Cycle    string // e.g. "Cure 3 · J1"
	Weight   string // with unit, as used for the doses; optional
	BSA      string // with unit; optional
	Items    []PlanItem
	Notes    string // general instructions for the day; optional
}

// PlanItem is one administration, in sequence order (the order of Items).
type PlanItem struct {
	Time           time.Time // planned start
	Kind           ItemKind
	Drug           string // INN, or the solution for a hydration
	Dose           string // with unit
	Vehicle        string // vehicle and volume, e.g. "NaCl 0,9 % 250 mL"; optional
	Route          string
	Rate           string // e.g. "125 mL/h"; optional (bolus, oral)
	Duration       string // e.g. "1 h", "30 min"; optional
	RegisterNumber string // the preparation's number; empty for ward stock
	Note           string // instructions, e.g. "rincer la ligne avec 50 mL de G5 %"; optional
}

// ItemKind is what an administration is for.
type ItemKind string

const (
	KindPremedication ItemKind = "premedication"
	KindHydration     ItemKind = "hydration"
	KindChemotherapy  ItemKind = "chemotherapy"
	KindSupportive    ItemKind = "supportive"
)

var kindWord = map[ItemKind]string{
	KindPremedication: "pl.premed", KindHydration: "pl.hydration",
	KindChemotherapy: "pl.chemo", KindSupportive: "pl.support",
}

func (d *PlanData) check(c *check) {
	d.Stamp.check(c, "stamp")
	d.Patient.check(c, "patient")
	c.date("day", d.Day, need)
	c.text("ward", d.Ward, need, 120)
	c.text("protocol", d.Protocol, need, 200)
	c.text("cycle", d.Cycle, opt, 60)
	c.quantity("weight", d.Weight, opt)
	c.quantity("bsa", d.BSA, opt)
	c.multiline("notes", d.Notes, opt, 2000)
	if len(d.Items) == 0 {
		c.add("items", "the plan has no administration: list them in sequence order")
	}
	for i, it := range d.Items {
		c.time(itemField("items", i, "time"), it.Time, need)
		if i > 0 && it.Time.Before(d.Items[i-1].Time) {
			c.add(itemField("items", i, "time"), "administration %d is planned before administration %d: list them in the order they are given", i+1, i)
		}
		if _, ok := kindWord[it.Kind]; !ok {
			c.add(itemField("items", i, "kind"), "kind %q is unknown: use premedication, hydration, chemotherapy or supportive", string(it.Kind))
		}
		c.text(itemField("items", i, "drug"), it.Drug, need, 120)
		c.quantity(itemField("items", i, "dose"), it.Dose, need)
		c.text(itemField("items", i, "vehicle"), it.Vehicle, opt, 120)
		c.text(itemField("items", i, "route"), it.Route, need, 60)
		c.quantity(itemField("items", i, "rate"), it.Rate, opt)
		c.quantity(itemField("items", i, "duration"), it.Duration, opt)
		c.text(itemField("items", i, "register_number"), it.RegisterNumber, opt, 40)
		c.multiline(itemField("items", i, "note"), it.Note, opt, 600)
	}
}

// AdministrationPlan writes a patient's administration plan for a day as a
// PDF (A4 landscape).
func AdministrationPlan(out io.Writer, d PlanData) error {
	return one(out, "Plan d'administration "+d.Patient.LocalID+" "+string(d.Day), d.Stamp,
		func(p *Pack) error { return p.AddAdministrationPlan(d) })
}

// AddAdministrationPlan adds an administration plan to the pack.
func (p *Pack) AddAdministrationPlan(d PlanData) error {
	return p.add("pdfdoc.plan", d.check, func(w *writer) error {
		w.startDoc(d.Stamp, 297, 210, 12, 7)
		drawPlan(w, &d)
		return nil
	})
}

func drawPlan(w *writer, d *PlanData) {
	day := w.date(string(d.Day))
	w.newPage()
	w.header = func() {
		w.font("", 8)
		w.y += w.para(w.left, w.y, w.right-w.left, w.t("pl.title")+" \xB7 "+day+" \xB7 "+patientLine(w, d.Patient)+" "+w.t("continued"), "L") + 1
	}
	docHeader(w, w.t("pl.title"))
	w.grid(6,
		cell{label: w.t("birth_name"), value: w.enc(d.Patient.BirthName), strong: true},
		cell{label: w.t("used_name"), value: w.enc(d.Patient.UsedName), strong: true},
		cell{label: w.t("first_name"), value: w.enc(d.Patient.FirstName), strong: true},
		cell{label: w.t("birth_date"), value: w.date(string(d.Patient.BirthDate)), strong: true},
		cell{label: w.t("ipp"), value: w.enc(d.Patient.LocalID), strong: true},
		cell{label: w.t("pl.day"), value: day, strong: true},
		cell{label: w.t("pl.ward"), value: w.enc(d.Ward), span: 2},
		cell{label: w.t("ws.protocol"), value: w.enc(d.Protocol), span: 2},
		cell{label: w.t("ws.cycle_day"), value: w.enc(d.Cycle)},
		cell{label: w.t("weight") + " \xB7 " + w.t("bsa"), value: joinNonEmpty(" \xB7 ", w.qty(d.Weight), w.qty(d.BSA))},
	)
	if d.Notes != "" {
		w.grid(1, cell{label: w.t("pl.notes"), value: w.enc(d.Notes)})
	}
	w.y += 2
	rows := make([]trow, len(d.Items))
	for i, it := range d.Items {
		drug := w.enc(it.Drug)
		reg := ""
		if it.RegisterNumber != "" {
			reg = w.enc(it.RegisterNumber)
			drug += "\n" + w.t("register_no") + " " + reg
		} else if it.Kind != KindChemotherapy {
			drug += "\n(" + w.t("pl.ward_stock") + ")"
		}
		note := ""
		if it.Note != "" {
			note = w.t("pl.note", w.enc(it.Note))
		}
		rows[i] = trow{ref: reg, note: note, bold: it.Kind == KindChemotherapy, cells: []string{
			strconv.Itoa(i + 1), w.clock(it.Time, d.Day), w.t(kindWord[it.Kind]), drug,
			w.qty(it.Dose), w.enc(it.Vehicle), w.enc(it.Route), w.qty(it.Rate), w.qty(it.Duration),
			w.t("pl.box_at"), w.t("pl.box_at"), ""}}
	}
	w.table([]column{
		{title: w.t("pl.seq"), weight: 5},
		{title: w.t("pl.time"), weight: 7},
		{title: w.t("pl.type"), weight: 14},
		{title: w.t("pl.product"), weight: 22},
		{title: w.t("pl.dose"), weight: 10},
		{title: w.t("pl.vehicle"), weight: 15},
		{title: w.t("pl.route"), weight: 6},
		{title: w.t("pl.rate"), weight: 9},
		{title: w.t("pl.duration"), weight: 8},
		{title: w.t("pl.start"), weight: 12},
		{title: w.t("pl.end"), weight: 12},
		{title: w.t("pl.nurse"), weight: 8},
	}, rows, 8.5)
}

// clock is a planned time on the plan's day as HH:MM, with its day and
// month above when it falls on another day (an infusion past midnight).
func (w *writer) clock(t time.Time, day relais.Date) string {
	local := t.In(w.zone)
	if local.Format(time.DateOnly) == string(day) {
		return local.Format("15:04")
	}
	if w.lang == langEN {
		return local.Format("01-02\n15:04")
	}
	return local.Format("02/01\n15:04")
}

func joinNonEmpty(sep string, parts ...string) string {
	out := ""
	for _, p := range parts {
		if p == "" {
			continue
		}
		if out != "" {
			out += sep
		}
		out += p
	}
	return out
}
