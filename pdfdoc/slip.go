package pdfdoc

import (
	"fmt"
	"io"
	"time"

	"github.com/relais-onco/relais"
)

// SlipData is a delivery slip (bordereau de livraison): the preparations
// the pharmacy hands to one ward in one round, with their register numbers,
// and the boxes the sender and the receiver sign. Recording the receipt is
// the dispensing service's; the slip is its paper trace.
type SlipData struct {
	Stamp      Stamp
	Number     string // the slip's number, e.g. "BL-2026-0412"
	Ward       string // e.g. "Hématologie-oncologie pédiatrique (HDJ)"
	RoundDate  relais.Date
	Round      Round
	Items      []SlipItem
	HandoverAt time.Time // when known; zero prints a line to fill in
}

// Round is the delivery round of the day.
type Round string

const (
	RoundMorning   Round = "morning"
	RoundAfternoon Round = "afternoon"
	RoundEvening   Round = "evening"
)

// SlipItem is one preparation on a slip.
type SlipItem struct {
	RegisterNumber string
	Patient        Patient
	INN            string
	Dose           string // with unit, as printed on the label
	Volume         string // total volume, with unit
	Route          string
}

func (d *SlipData) check(c *check) {
	d.Stamp.check(c, "stamp")
	c.text("number", d.Number, need, 40)
	c.text("ward", d.Ward, need, 120)
	c.date("round_date", d.RoundDate, need)
	switch d.Round {
	case RoundMorning, RoundAfternoon, RoundEvening:
	default:
		c.add("round", "round %q is unknown: use %q, %q or %q", string(d.Round), RoundMorning, RoundAfternoon, RoundEvening)
	}
	if len(d.Items) == 0 {
		c.add("items", "the slip lists no preparation: a slip is printed for the preparations handed over")
	}
	seen := map[string]int{}
	for i, it := range d.Items {
		c.text(itemField("items", i, "register_number"), it.RegisterNumber, need, 40)
		if j, dup := seen[it.RegisterNumber]; dup && it.RegisterNumber != "" {
			c.add(itemField("items", i, "register_number"), "register number %s is listed twice (items %d and %d): a preparation is handed over once", it.RegisterNumber, j, i)
		}
		seen[it.RegisterNumber] = i
		it.Patient.check(c, fmt.Sprintf("items[%d].patient", i))
		c.text(itemField("items", i, "inn"), it.INN, need, 120)
		c.quantity(itemField("items", i, "dose"), it.Dose, need)
		c.quantity(itemField("items", i, "volume"), it.Volume, need)
		c.text(itemField("items", i, "route"), it.Route, need, 60)
	}
}

// DeliverySlip writes a delivery slip as a PDF.
func DeliverySlip(out io.Writer, d SlipData) error {
	return one(out, "Bordereau de livraison "+d.Number, d.Stamp,
		func(p *Pack) error { return p.AddDeliverySlip(d) })
}

// AddDeliverySlip adds a delivery slip to the pack.
func (p *Pack) AddDeliverySlip(d SlipData) error {
	return p.add("pdfdoc.slip", d.check, func(w *writer) error {
		w.startDoc(d.Stamp, 210, 297, 12, 7)
		drawSlip(w, &d)
		return nil
	})
}

func drawSlip(w *writer, d *SlipData) {
	round := w.date(string(d.RoundDate)) + " \xB7 " + w.t("sl."+string(d.Round))
	number := w.enc(d.Number)
	w.newPage()
	w.header = func() {
		w.font("", 8)
		w.y += w.para(w.left, w.y, w.right-w.left, w.t("sl.title")+" "+number+" \xB7 "+w.enc(d.Ward)+" \xB7 "+round+" "+w.t("continued"), "L") + 1
	}
	docHeader(w, w.t("sl.title"))
	w.grid(4,
		cell{label: w.t("sl.number"), value: number, strong: true},
		cell{label: w.t("sl.ward"), value: w.enc(d.Ward), span: 2, strong: true},
		cell{label: w.t("sl.round"), value: round, strong: true},
	)
	w.heading(w.t("sl.preparation"), 12)
	rows := make([]trow, len(d.Items))
	patients := map[string]bool{}
	for i, it := range d.Items {
		patients[it.Patient.LocalID] = true
		reg := w.enc(it.RegisterNumber)
		rows[i] = trow{ref: reg, cells: []string{reg, patientLine(w, it.Patient), w.enc(it.INN),
			w.qty(it.Dose), w.qty(it.Volume), w.enc(it.Route), boxStr}}
	}
	w.table([]column{
		{title: w.t("register_no"), weight: 17},
		{title: w.t("sl.patient"), weight: 45},
		{title: w.t("sl.drug"), weight: 22},
		{title: w.t("sl.dose"), weight: 13},
		{title: w.t("sl.volume"), weight: 12},
		{title: w.t("sl.route"), weight: 9},
		{title: w.t("sl.received"), weight: 8},
	}, rows, 8.5)
	w.font("B", 9)
	total := w.t("sl.totals", len(d.Items), len(patients))
	w.need(lineH(9) + 2)
	w.y += 2
	w.y += w.para(w.left, w.y, w.right-w.left, total, "L")
	w.font("", 9)
	handover := w.t("sl.handover_at")
	if !d.HandoverAt.IsZero() {
		handover = w.t("sl.handover", w.dateTime(d.HandoverAt))
	}
	w.need(lineH(9) + 3)
	w.y += 3
	w.y += w.para(w.left, w.y, w.right-w.left, handover, "L") + 2
	w.signatureBoxes(32, w.t("sl.sender"), w.t("sl.receiver"))
}

// docHeader draws the pharmacy on the left and the title on the right, on
// a document's first page.
func docHeader(w *writer, title string) {
	half := (w.right - w.left) / 2
	y0 := w.y
	w.font("B", 10)
	h := w.para(w.left, y0, half, w.enc(w.st.Pharmacy.Name), "L")
	w.font("", 8)
	h += w.para(w.left, y0+h, half, w.enc(w.st.Pharmacy.Address), "L")
	h += w.para(w.left, y0+h, half, w.t("tel", w.enc(w.st.Pharmacy.Phone)), "L")
	w.font("B", 14)
	r := w.para(w.left+half, y0, half, title, "R")
	w.y = y0 + max(h, r) + 2
}
