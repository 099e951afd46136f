package pdfdoc

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/relais-onco/relais"
)

// RegisterData is the preparation register (ordonnancier) for a date range,
// as inspectors ask for it: every number issued in the range, in order,
// with its status; a cancelled entry keeps its number and is shown as
// cancelled; annotations are printed under their entry.
type RegisterData struct {
	Stamp   Stamp
	From    relais.Date // first day, inclusive, in the Stamp's zone
	To      relais.Date // last day, inclusive
	Entries []RegisterEntry
}

// RegisterEntry is one number of the register.
type RegisterEntry struct {
	Number      string
	Date        time.Time // when the number was issued
	Patient     Patient
	INN         string
	Dose        string // with unit
	Status      EntryStatus
	Annotations []Annotation
}

// EntryStatus is what became of a registered preparation.
type EntryStatus string

const (
	StatusInProgress EntryStatus = "in_progress" // not yet released nor rejected
	StatusReleased   EntryStatus = "released"
	StatusRejected   EntryStatus = "rejected"
	StatusCancelled  EntryStatus = "cancelled" // printed "ANNULÉE", number kept
)

var statusWord = map[EntryStatus]string{
	StatusInProgress: "rg.pending", StatusReleased: "rg.released",
	StatusRejected: "rg.rejected", StatusCancelled: "rg.cancelled",
}

// Annotation is a note added to an entry after the fact (a correction, the
// reason of a cancellation), with who wrote it and when.
type Annotation struct {
	At   time.Time
	By   string
	Text string
}

func (d *RegisterData) check(c *check) {
	d.Stamp.check(c, "stamp")
	c.date("from", d.From, need)
	c.date("to", d.To, need)
	if d.From != "" && d.To != "" && d.To < d.From {
		c.add("to", "the range ends (%s) before it starts (%s)", d.To, d.From)
	}
	zone := d.Stamp.zone()
	seen := map[string]int{}
	for i, e := range d.Entries {
		c.text(itemField("entries", i, "number"), e.Number, need, 40)
		if j, dup := seen[e.Number]; dup && e.Number != "" {
			c.add(itemField("entries", i, "number"), "number %s appears twice (entries %d and %d): a register number is used once", e.Number, j, i)
		}
		seen[e.Number] = i
		c.time(itemField("entries", i, "date"), e.Date, need)
		if !e.Date.IsZero() {
			day := relais.Date(e.Date.In(zone).Format(time.DateOnly))
			if day < d.From || day > d.To {
				c.add(itemField("entries", i, "date"), "entry %s is dated %s, outside the range %s to %s", e.Number, day, d.From, d.To)
			}
			if i > 0 && e.Date.Before(d.Entries[i-1].Date) {
				c.add(itemField("entries", i, "date"), "entry %s is dated before the entry above it: list entries in the order of their numbers", e.Number)
			}
		}
		e.Patient.check(c, fmt.Sprintf("entries[%d].patient", i))
		c.text(itemField("entries", i, "inn"), e.INN, need, 120)
		c.quantity(itemField("entries", i, "dose"), e.Dose, need)
		if _, ok := statusWord[e.Status]; !ok {
			c.add(itemField("entries", i, "status"), "status %q is unknown: use in_progress, released, rejected or cancelled", string(e.Status))
		}
		for j, a := range e.Annotations {
			f := fmt.Sprintf("entries[%d].annotations[%d]", i, j)
			c.time(f+".at", a.At, need)
			c.text(f+".by", a.By, need, 120)
			c.multiline(f+".text", a.Text, need, 2000)
		}
	}
}

// Register writes the preparation register for a date range as a PDF (A4
// landscape); every page repeats the title, the range and the column titles.
func Register(out io.Writer, d RegisterData) error {
	return one(out, "Ordonnancier "+string(d.From)+" "+string(d.To), d.Stamp,
		func(p *Pack) error { return p.AddRegister(d) })
}

// AddRegister adds the register for a date range to the pack.
func (p *Pack) AddRegister(d RegisterData) error {
	return p.add("pdfdoc.register", d.check, func(w *writer) error {
		w.startDoc(d.Stamp, 297, 210, 12, 7)
		drawRegister(w, &d)
		return nil
	})
}

func drawRegister(w *writer, d *RegisterData) {
	rng := w.t("rg.range", w.date(string(d.From)), w.date(string(d.To)))
	w.header = func() {
		w.font("B", 11)
		w.para(w.left, w.y, w.right-w.left, w.t("rg.title")+" "+rng, "L")
		w.font("", 8)
		w.para(w.left, w.y, w.right-w.left, w.enc(w.st.Pharmacy.Name), "R")
		w.y += lineH(11) + 2
	}
	w.newPage()
	counts := map[EntryStatus]int{}
	for _, e := range d.Entries {
		counts[e.Status]++
	}
	w.font("", 9)
	w.y += w.para(w.left, w.y, w.right-w.left, w.t("rg.count", len(d.Entries), counts[StatusReleased],
		counts[StatusRejected], counts[StatusCancelled], counts[StatusInProgress]), "L") + 2
	rows := make([]trow, len(d.Entries))
	for i, e := range d.Entries {
		num := w.enc(e.Number)
		var notes []string
		for _, a := range e.Annotations {
			notes = append(notes, w.t("rg.annot", w.dateTime(a.At), w.enc(a.By), w.enc(a.Text)))
		}
		rows[i] = trow{ref: num, note: strings.Join(notes, "\n"), shaded: e.Status == StatusCancelled,
			bold: e.Status == StatusCancelled, cells: []string{num, w.dateTime(e.Date), patientLine(w, e.Patient),
				w.enc(e.INN), w.qty(e.Dose), w.t(statusWord[e.Status])}}
	}
	w.table([]column{
		{title: w.t("rg.number"), weight: 13},
		{title: w.t("rg.date"), weight: 12},
		{title: w.t("rg.patient"), weight: 40},
		{title: w.t("rg.drug"), weight: 18},
		{title: w.t("rg.dose"), weight: 11},
		{title: w.t("rg.status"), weight: 10},
	}, rows, 8.5)
	if len(d.Entries) == 0 {
		w.font("I", 9)
		w.need(lineH(9) + 2)
		w.y += 2 + w.para(w.left, w.y+2, w.right-w.left, w.t("rg.empty"), "L")
	}
}
