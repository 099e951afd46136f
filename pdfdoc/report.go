package pdfdoc

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/relais-onco/relais"
)

// The two documents Relais sends to the hospitals' records (package
// outbox): the treatment plan of a signed cycle and the report of one
// administration. Like the other documents they print their quantities as
// given (the doses as computed, with how they were computed) and refuse a
// missing or unprintable field.

// TreatmentPlanData is the treatment plan (plan de traitement) of one cycle
// as signed, and as validated line by line by the pharmacists.
type TreatmentPlanData struct {
	Stamp   Stamp
	Patient Patient
	// INSOID is the OID of Patient.INS (NIR 1.2.250.1.213.1.4.8 or NIA
	// 1.2.250.1.213.1.4.10); required when the INS is given.
	INSOID     string
	Protocol   string      // protocol and version, e.g. "ABVD v1"
	Cycle      string      // e.g. "Cure 2"
	StartDate  relais.Date // the cycle's first day
	Version    string      // e.g. "2 — après validation pharmaceutique"; optional
	Prescriber string
	SignedAt   time.Time
	// The measures the doses were computed with, with units.
	Weight, Height, BSA string
	MeasuredOn          relais.Date // optional
	Lines               []TreatmentLine
	Checks              []AcknowledgedCheck // the warnings acknowledged at signature
}

// TreatmentLine is one drug given on one day of the cycle, in sequence
// order.
type TreatmentLine struct {
	Day  string      // e.g. "J1"
	Date relais.Date // the day's date
	Seq  int         // order within the day, from 1
	Kind ItemKind
	Drug string // INN
	// Dose is the dose to give with its unit, as computed (or as modified,
	// see Modification); Derivation says how it was computed, one step a
	// line.
	Dose         string
	Derivation   string
	Modification string // the prescriber's change of the computed dose and its reason; optional
	Route        string
	Vehicle      string // vehicle and volume, e.g. "NaCl 0,9 % 100 mL"; optional
	Duration     string // e.g. "30 min"; optional
	Rate         string // e.g. "200 mL/h"; optional
	Status       string // the line's state, e.g. "validée", "proposée"
	Validation   string // the pharmacist's decision, who and when; optional
	Comment      string // optional
}

// AcknowledgedCheck is a warning the prescriber acknowledged, with why.
type AcknowledgedCheck struct {
	Level   string // e.g. "à acquitter"
	Message string
	By      string
	At      time.Time
	Reason  string
}

func (d *TreatmentPlanData) check(c *check) {
	d.Stamp.check(c, "stamp")
	d.Patient.check(c, "patient")
	if d.Patient.INS != "" {
		c.text("ins_oid", d.INSOID, need, 40)
	}
	c.text("protocol", d.Protocol, need, 200)
	c.text("cycle", d.Cycle, need, 60)
	c.date("start_date", d.StartDate, need)
	c.text("version", d.Version, opt, 120)
	c.text("prescriber", d.Prescriber, need, 120)
	c.time("signed_at", d.SignedAt, need)
	c.quantity("weight", d.Weight, need)
	c.quantity("height", d.Height, opt)
	c.quantity("bsa", d.BSA, opt)
	c.date("measured_on", d.MeasuredOn, opt)
	if len(d.Lines) == 0 {
		c.add("lines", "the plan has no line: a signed cycle has at least one")
	}
	for i, l := range d.Lines {
		f := func(name string) string { return itemField("lines", i, name) }
		c.text(f("day"), l.Day, need, 20)
		c.date(f("date"), l.Date, need)
		if l.Seq < 1 {
			c.add(f("seq"), "the order within the day starts at 1, got %d", l.Seq)
		}
		if _, ok := kindWord[l.Kind]; !ok {
			c.add(f("kind"), "kind %q is unknown: use premedication, hydration, chemotherapy or supportive", string(l.Kind))
		}
		c.text(f("drug"), l.Drug, need, 120)
		c.quantity(f("dose"), l.Dose, need)
		c.multiline(f("derivation"), l.Derivation, need, 3000)
		c.multiline(f("modification"), l.Modification, opt, 600)
		c.text(f("route"), l.Route, need, 60)
		c.text(f("vehicle"), l.Vehicle, opt, 120)
		c.quantity(f("duration"), l.Duration, opt)
		c.quantity(f("rate"), l.Rate, opt)
		c.text(f("status"), l.Status, need, 60)
		c.multiline(f("validation"), l.Validation, opt, 600)
		c.multiline(f("comment"), l.Comment, opt, 600)
		if i > 0 {
			p := d.Lines[i-1]
			if l.Date < p.Date || (l.Date == p.Date && l.Seq < p.Seq) {
				c.add(f("seq"), "line %d comes before line %d: list the lines by date, then by order within the day", i+1, i)
			}
		}
	}
	for i, k := range d.Checks {
		f := func(name string) string { return itemField("checks", i, name) }
		c.text(f("level"), k.Level, need, 40)
		c.multiline(f("message"), k.Message, need, 1000)
		c.text(f("by"), k.By, need, 120)
		c.time(f("at"), k.At, need)
		c.multiline(f("reason"), k.Reason, need, 1000)
	}
}

// TreatmentPlan writes the treatment plan of a cycle as a PDF (A4
// portrait).
func TreatmentPlan(out io.Writer, d TreatmentPlanData) error {
	return one(out, "Plan de traitement "+d.Patient.LocalID+" "+d.Protocol+" "+d.Cycle, d.Stamp,
		func(p *Pack) error { return p.AddTreatmentPlan(d) })
}

// AddTreatmentPlan adds a treatment plan to the pack.
func (p *Pack) AddTreatmentPlan(d TreatmentPlanData) error {
	return p.add("pdfdoc.treatment_plan", d.check, func(w *writer) error {
		w.startDoc(d.Stamp, 210, 297, 12, 7)
		drawTreatmentPlan(w, &d)
		return nil
	})
}

func drawTreatmentPlan(w *writer, d *TreatmentPlanData) {
	w.newPage()
	w.header = func() {
		w.font("", 8)
		w.y += w.para(w.left, w.y, w.right-w.left, w.r("tp.title")+" \xB7 "+w.enc(d.Protocol)+" \xB7 "+w.enc(d.Cycle)+
			" \xB7 "+patientLine(w, d.Patient)+" "+w.t("continued"), "L") + 1
	}
	docHeader(w, w.r("tp.title"))
	reportPatient(w, d.Patient, d.INSOID)
	w.heading(w.r("tp.cycle"), 12)
	measured := ""
	if d.MeasuredOn != "" {
		measured = w.date(string(d.MeasuredOn))
	}
	w.grid(4,
		cell{label: w.t("ws.protocol"), value: w.enc(d.Protocol), span: 2, strong: true},
		cell{label: w.r("tp.cycle_no"), value: w.enc(d.Cycle), strong: true},
		cell{label: w.r("tp.start"), value: w.date(string(d.StartDate)), strong: true},
		cell{label: w.t("weight"), value: w.qty(d.Weight)},
		cell{label: w.t("height"), value: w.qty(d.Height)},
		cell{label: w.t("bsa"), value: w.qty(d.BSA)},
		cell{label: w.t("measured_on"), value: measured},
		cell{label: w.r("tp.signed_by"), value: w.r("tp.by_at", w.enc(d.Prescriber), w.dateTime(d.SignedAt)), span: 3},
		cell{label: w.r("tp.version"), value: w.enc(d.Version)},
	)

	w.heading(w.r("tp.lines"), 16)
	rows := make([]trow, len(d.Lines))
	for i, l := range d.Lines {
		var note []string
		note = append(note, w.r("tp.derivation", w.enc(strings.ReplaceAll(l.Derivation, "\n", " ; "))))
		if l.Modification != "" {
			note = append(note, w.r("tp.modification", w.enc(l.Modification)))
		}
		if l.Validation != "" {
			note = append(note, w.r("tp.validation", w.enc(l.Validation)))
		}
		if l.Comment != "" {
			note = append(note, w.r("tp.comment", w.enc(l.Comment)))
		}
		timing := joinNonEmpty("\n", w.qty(l.Duration), w.qty(l.Rate))
		rows[i] = trow{bold: l.Kind == KindChemotherapy, note: strings.Join(note, "\n"), cells: []string{
			w.enc(l.Day) + "\n" + w.date(string(l.Date)), strconv.Itoa(l.Seq), w.t(kindWord[l.Kind]), w.enc(l.Drug),
			w.qty(l.Dose), w.enc(l.Route), w.enc(l.Vehicle), timing, w.enc(l.Status)}}
	}
	w.table([]column{
		{title: w.r("tp.day"), weight: 11},
		{title: w.t("pl.seq"), weight: 6},
		{title: w.t("pl.type"), weight: 13},
		{title: w.t("pl.product"), weight: 18},
		{title: w.t("pl.dose"), weight: 11},
		{title: w.t("pl.route"), weight: 6},
		{title: w.t("pl.vehicle"), weight: 15},
		{title: w.r("tp.timing"), weight: 10},
		{title: w.r("tp.status"), weight: 10},
	}, rows, 8)

	w.heading(w.r("tp.checks"), 10)
	if len(d.Checks) == 0 {
		w.font("", 8.5)
		w.need(lineH(8.5))
		w.y += w.para(w.left, w.y, w.right-w.left, w.r("tp.no_check"), "L") + 1
	} else {
		crows := make([]trow, len(d.Checks))
		for i, k := range d.Checks {
			crows[i] = trow{cells: []string{w.enc(k.Level), w.enc(k.Message), w.r("tp.by_at", w.enc(k.By), w.dateTime(k.At)), w.enc(k.Reason)}}
		}
		w.table([]column{
			{title: w.r("tp.level"), weight: 12},
			{title: w.r("tp.check"), weight: 40},
			{title: w.r("tp.ack_by"), weight: 20},
			{title: w.r("tp.reason"), weight: 28},
		}, crows, 8)
	}
}

// reportPatient draws the patient's identity, with the INS and its OID when
// given.
func reportPatient(w *writer, p Patient, insOID string) {
	w.heading(w.t("patient"), 12)
	ins := w.enc(p.INS)
	if p.INS != "" {
		ins += " (OID " + w.enc(insOID) + ")"
	} else {
		ins = w.r("ad.no_ins")
	}
	w.grid(4,
		cell{label: w.t("birth_name"), value: w.enc(p.BirthName), strong: true},
		cell{label: w.t("used_name"), value: w.enc(p.UsedName), strong: true},
		cell{label: w.t("first_name"), value: w.enc(p.FirstName), strong: true},
		cell{label: w.t("birth_date"), value: w.date(string(p.BirthDate)), strong: true},
		cell{label: w.t("ipp"), value: w.enc(p.LocalID), strong: true},
		cell{label: w.t("ins"), value: ins, span: 3},
	)
}

// AdministrationReportData is the report of one preparation given to the
// patient, or not given (returned, destroyed) with the reason.
type AdministrationReportData struct {
	Stamp          Stamp
	Patient        Patient
	INSOID         string // required when Patient.INS is given
	RegisterNumber string // the preparation's number; empty for a ready-to-use product
	Protocol       string // protocol and version; optional
	Cycle          string // e.g. "Cure 2 · J1"; optional
	Drug           string
	DosePlanned    string // the dose prepared, with unit, as validated
	VolumePlanned  string // the final volume prepared, with unit; optional
	Route          string
	// Outcome is "administered", "returned" or "destroyed".
	Outcome string
	// When given: start and end, the volume given and, when the whole
	// preparation was given, DoseGiven equal to DosePlanned; otherwise
	// DoseGiven says what was given (e.g. "partielle : 80 mL sur 100 mL").
	StartedAt, EndedAt time.Time
	VolumeGiven        string
	DoseGiven          string
	Rate               string // optional
	Interruptions      []Interruption
	Incidents          []AdminIncident
	BedsideCheck       string // the bedside check (label scanned against the wristband); optional
	SecondNurse        string // optional
	Reason             string // why it was not given; required unless administered
	RecordedBy         string
	RecordedAt         time.Time
	Comment            string // optional
}

// Interruption is a pause of the infusion.
type Interruption struct {
	From, To time.Time
	Reason   string
}

// AdminIncident is an adverse event during the administration.
type AdminIncident struct {
	Kind        string // as printed, e.g. "extravasation"
	At          time.Time
	Description string
	Action      string // what was done; optional
}

// Administration outcomes of AdministrationReportData.Outcome.
const (
	OutcomeAdministered = "administered"
	OutcomeReturned     = "returned"
	OutcomeDestroyed    = "destroyed"
)

var outcomeWord = map[string]string{OutcomeAdministered: "ad.given", OutcomeReturned: "ad.returned", OutcomeDestroyed: "ad.destroyed"}

func (d *AdministrationReportData) check(c *check) {
	d.Stamp.check(c, "stamp")
	d.Patient.check(c, "patient")
	if d.Patient.INS != "" {
		c.text("ins_oid", d.INSOID, need, 40)
	}
	c.text("register_number", d.RegisterNumber, opt, 40)
	c.text("protocol", d.Protocol, opt, 200)
	c.text("cycle", d.Cycle, opt, 60)
	c.text("drug", d.Drug, need, 120)
	c.quantity("dose_planned", d.DosePlanned, need)
	c.quantity("volume_planned", d.VolumePlanned, opt)
	c.text("route", d.Route, need, 60)
	_, known := outcomeWord[d.Outcome]
	if !known {
		c.add("outcome", "outcome %q is unknown: administered, returned or destroyed", d.Outcome)
	}
	given := d.Outcome == OutcomeAdministered
	c.time("started_at", d.StartedAt, given)
	c.time("ended_at", d.EndedAt, given)
	if given && !d.StartedAt.IsZero() && d.EndedAt.Before(d.StartedAt) {
		c.add("ended_at", "the administration cannot end before it starts")
	}
	c.quantity("volume_given", d.VolumeGiven, opt)
	c.text("dose_given", d.DoseGiven, given, 120)
	c.quantity("rate", d.Rate, opt)
	for i, in := range d.Interruptions {
		c.time(itemField("interruptions", i, "from"), in.From, need)
		c.time(itemField("interruptions", i, "to"), in.To, need)
		c.multiline(itemField("interruptions", i, "reason"), in.Reason, need, 600)
	}
	for i, in := range d.Incidents {
		c.text(itemField("incidents", i, "kind"), in.Kind, need, 60)
		c.time(itemField("incidents", i, "at"), in.At, need)
		c.multiline(itemField("incidents", i, "description"), in.Description, need, 1000)
		c.multiline(itemField("incidents", i, "action"), in.Action, opt, 1000)
	}
	c.text("bedside_check", d.BedsideCheck, opt, 200)
	c.text("second_nurse", d.SecondNurse, opt, 120)
	c.multiline("reason", d.Reason, known && !given, 1000)
	c.text("recorded_by", d.RecordedBy, need, 120)
	c.time("recorded_at", d.RecordedAt, need)
	c.multiline("comment", d.Comment, opt, 2000)
}

// AdministrationReport writes the report of one administration as a PDF
// (A4 portrait).
func AdministrationReport(out io.Writer, d AdministrationReportData) error {
	return one(out, "Compte rendu d'administration "+d.Patient.LocalID+" "+d.RegisterNumber, d.Stamp,
		func(p *Pack) error { return p.AddAdministrationReport(d) })
}

// AddAdministrationReport adds an administration report to the pack.
func (p *Pack) AddAdministrationReport(d AdministrationReportData) error {
	return p.add("pdfdoc.administration_report", d.check, func(w *writer) error {
		w.startDoc(d.Stamp, 210, 297, 12, 7)
		if d.RegisterNumber != "" {
			w.fixedRef = w.enc(d.RegisterNumber)
		}
		drawAdministrationReport(w, &d)
		return nil
	})
}

func drawAdministrationReport(w *writer, d *AdministrationReportData) {
	w.newPage()
	w.header = func() {
		w.font("", 8)
		w.y += w.para(w.left, w.y, w.right-w.left, w.r("ad.title")+" \xB7 "+patientLine(w, d.Patient)+" "+w.t("continued"), "L") + 1
	}
	docHeader(w, w.r("ad.title"))
	reportPatient(w, d.Patient, d.INSOID)

	w.heading(w.r("ad.what"), 12)
	w.grid(4,
		cell{label: w.t("ws.inn"), value: w.enc(d.Drug), strong: true, span: 2},
		cell{label: w.r("ad.dose_planned"), value: w.qty(d.DosePlanned), strong: true},
		cell{label: w.t("ws.route"), value: w.enc(d.Route)},
		cell{label: w.t("register_no"), value: w.enc(d.RegisterNumber)},
		cell{label: w.r("ad.volume_planned"), value: w.qty(d.VolumePlanned)},
		cell{label: w.t("ws.protocol"), value: w.enc(d.Protocol)},
		cell{label: w.t("ws.cycle_day"), value: w.enc(d.Cycle)},
	)

	w.heading(w.r("ad.outcome"), 12)
	if d.Outcome == OutcomeAdministered {
		w.grid(4,
			cell{label: w.r("ad.outcome"), value: w.r(outcomeWord[d.Outcome]), strong: true},
			cell{label: w.r("ad.started"), value: w.dateTime(d.StartedAt), strong: true},
			cell{label: w.r("ad.ended"), value: w.dateTime(d.EndedAt), strong: true},
			cell{label: w.r("ad.volume_given"), value: w.qty(d.VolumeGiven), strong: true},
			// a text holding quantities: it wraps at its spaces
			cell{label: w.r("ad.dose_given"), value: w.enc(d.DoseGiven), strong: true, span: 3},
			cell{label: w.t("pl.rate"), value: w.qty(d.Rate)},
			cell{label: w.r("ad.bedside"), value: w.enc(d.BedsideCheck), span: 3},
			cell{label: w.r("ad.second"), value: w.enc(d.SecondNurse)},
		)
	} else {
		w.grid(4,
			cell{label: w.r("ad.outcome"), value: w.r(outcomeWord[d.Outcome]), strong: true},
			cell{label: w.r("ad.reason"), value: w.enc(d.Reason), span: 3},
		)
	}

	if len(d.Interruptions) > 0 {
		w.heading(w.r("ad.interruptions"), 10)
		rows := make([]trow, len(d.Interruptions))
		for i, in := range d.Interruptions {
			rows[i] = trow{cells: []string{w.dateTime(in.From), w.dateTime(in.To), w.enc(in.Reason)}}
		}
		w.table([]column{{title: w.r("ad.from"), weight: 18}, {title: w.r("ad.to"), weight: 18}, {title: w.r("ad.reason"), weight: 64}}, rows, 8.5)
	}
	w.heading(w.r("ad.incidents"), 10)
	if len(d.Incidents) == 0 {
		w.font("", 8.5)
		w.need(lineH(8.5))
		w.y += w.para(w.left, w.y, w.right-w.left, w.r("ad.no_incident"), "L") + 1
	} else {
		rows := make([]trow, len(d.Incidents))
		for i, in := range d.Incidents {
			rows[i] = trow{bold: true, cells: []string{w.dateTime(in.At), w.enc(in.Kind), w.enc(in.Description), w.enc(in.Action)}}
		}
		w.table([]column{{title: w.r("ad.at"), weight: 16}, {title: w.t("pl.type"), weight: 16},
			{title: w.r("ad.description"), weight: 38}, {title: w.r("ad.action"), weight: 30}}, rows, 8.5)
	}
	w.heading(w.r("ad.record"), 10)
	cells := []cell{{label: w.r("ad.recorded_by"), value: w.r("tp.by_at", w.enc(d.RecordedBy), w.dateTime(d.RecordedAt)), span: 2}}
	if d.Comment != "" {
		cells = append(cells, cell{label: w.r("tp.comment_label"), value: w.enc(d.Comment), span: 2})
	}
	w.grid(4, cells...)
}

// reportWords are the two documents' own words, French then English, kept
// apart from i18n.go's table (which the other documents share).
var reportWords = map[string][2]string{
	"tp.title":         {"PLAN DE TRAITEMENT", "TREATMENT PLAN"},
	"tp.cycle":         {"Cure", "Cycle"},
	"tp.cycle_no":      {"Cure", "Cycle"},
	"tp.start":         {"Début de la cure", "Cycle start"},
	"tp.signed_by":     {"Prescription signée par", "Prescription signed by"},
	"tp.by_at":         {"%s, le %s", "%s, on %s"},
	"tp.version":       {"Version du document", "Document version"},
	"tp.lines":         {"Lignes de la cure (dans l'ordre d'administration)", "Lines of the cycle (in order of administration)"},
	"tp.day":           {"Jour", "Day"},
	"tp.timing":        {"Durée, débit", "Duration, rate"},
	"tp.status":        {"Statut", "Status"},
	"tp.derivation":    {"Calcul de la dose : %s", "How the dose was computed: %s"},
	"tp.modification":  {"Modification de la dose : %s", "Dose modified: %s"},
	"tp.validation":    {"Validation pharmaceutique : %s", "Pharmaceutical validation: %s"},
	"tp.comment":       {"Commentaire : %s", "Comment: %s"},
	"tp.comment_label": {"Commentaire", "Comment"},
	"tp.checks":        {"Alertes acquittées à la signature", "Warnings acknowledged at signature"},
	"tp.no_check":      {"Aucune alerte acquittée.", "No warning acknowledged."},
	"tp.level":         {"Niveau", "Level"},
	"tp.check":         {"Alerte", "Warning"},
	"tp.ack_by":        {"Acquittée par", "Acknowledged by"},
	"tp.reason":        {"Motif", "Reason"},

	"ad.title":          {"COMPTE RENDU D'ADMINISTRATION", "ADMINISTRATION REPORT"},
	"ad.no_ins":         {"non transmis (identité non qualifiée)", "not sent (identity not qualified)"},
	"ad.what":           {"Préparation", "Preparation"},
	"ad.dose_planned":   {"Dose prévue", "Dose planned"},
	"ad.volume_planned": {"Volume préparé", "Volume prepared"},
	"ad.outcome":        {"Administration", "Administration"},
	"ad.given":          {"administrée", "given"},
	"ad.returned":       {"non administrée : retournée à la pharmacie", "not given: returned to the pharmacy"},
	"ad.destroyed":      {"non administrée : détruite", "not given: destroyed"},
	"ad.started":        {"Début", "Start"},
	"ad.ended":          {"Fin", "End"},
	"ad.dose_given":     {"Dose administrée", "Dose given"},
	"ad.volume_given":   {"Volume administré", "Volume given"},
	"ad.bedside":        {"Contrôle au lit du patient", "Bedside check"},
	"ad.second":         {"Double contrôle par", "Second check by"},
	"ad.reason":         {"Motif", "Reason"},
	"ad.interruptions":  {"Interruptions", "Interruptions"},
	"ad.from":           {"De", "From"},
	"ad.to":             {"À", "To"},
	"ad.incidents":      {"Incidents", "Incidents"},
	"ad.no_incident":    {"Aucun incident déclaré.", "No incident recorded."},
	"ad.at":             {"Heure", "Time"},
	"ad.description":    {"Description", "Description"},
	"ad.action":         {"Conduite tenue", "Action taken"},
	"ad.record":         {"Enregistrement", "Record"},
	"ad.recorded_by":    {"Enregistré par", "Recorded by"},
}

var reportWordsCP = func() [2]map[string]string {
	var out [2]map[string]string
	for l := range out {
		out[l] = make(map[string]string, len(reportWords))
		for k, v := range reportWords {
			s, err := encode(v[l], true)
			if err != nil {
				panic(fmt.Sprintf("pdfdoc: report word %q cannot be encoded: %v", k, err))
			}
			out[l][k] = s
		}
	}
	return out
}()

// r returns a word of the reports, encoded; with args it is a format whose
// arguments are already encoded.
func (w *writer) r(key string, args ...any) string {
	s, ok := reportWordsCP[w.lang][key]
	if !ok {
		w.fail(fmt.Errorf("pdfdoc: no report word %q", key))
		return key
	}
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}
