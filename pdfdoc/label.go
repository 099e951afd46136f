package pdfdoc

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/relais-onco/relais"
)

// LabelData is the label of one preparation: every mention a compounded
// preparation's label carries (patient with two identifiers, INN, dose,
// total volume, route, administration date, preparation date and expiry,
// storage, register number, pharmacy) and the DataMatrix of its id.
type LabelData struct {
	Stamp          Stamp
	PreparationID  string // encoded in the DataMatrix (PreparationCode)
	RegisterNumber string
	Category       Category // the regulatory kind of preparation, printed first
	Cytotoxic      bool     // adds "Cytotoxique – manipuler avec précaution"

	Patient            Patient
	INN                string // DCI, e.g. "CARBOPLATINE"
	Dose               string // with unit, e.g. "250 mg"
	TotalVolume        string // with unit, e.g. "275 mL"
	Vehicle            string // e.g. "NaCl 0,9 %"; optional
	Route              string // e.g. "IV"
	AdministrationDate relais.Date
	PreparedAt         time.Time
	Expiry             time.Time // use before
	Storage            string    // e.g. "À conserver entre 2 et 8 °C, à l'abri de la lumière"
	// PreparedFor, under a mutual-aid agreement (issue 12), is the
	// pharmacy the preparation was made for (name and telephone): the label
	// then carries both pharmacies, "Préparé par … pour …". Empty otherwise.
	PreparedFor string
}

// Category is the regulatory kind of a preparation, whose wording the label
// prints as given by the regulation (Code de la santé publique, L5121-1):
// a preparation for a named patient is "magistrale", a batch preparation of
// the pharmacy "hospitalière".
type Category string

const (
	CategoryMagistral Category = "magistral" // "Préparation magistrale"
	CategoryHospital  Category = "hospital"  // "Préparation hospitalière"
)

// LabelSize is the size a label is printed at. Label100x50 and Label80x40
// are the rolls of thermal label printers; LabelA4 prints the label in a
// frame at the top of an A4 sheet, for a ward without a label printer.
type LabelSize struct {
	Name          string  // e.g. "100×50 mm"
	Width, Height float64 // page, in mm
	Margin        float64 // mm
	Body, Strong  float64 // font sizes in points: mentions, and INN with dose
	Foot          float64 // footer font size
	Module        float64 // DataMatrix module, mm (at least 0.5)
	// FrameWidth and FrameHeight, when set, draw the label as a framed
	// area of that size at the top-left of the page (A4 sheets).
	FrameWidth, FrameHeight float64
}

var (
	// Module sizes are whole dots of a 203 dpi (8 dots/mm) printer: 0.5 mm
	// is 4 dots, 0.625 mm is 5.
	Label100x50 = LabelSize{Name: "100×50 mm", Width: 100, Height: 50, Margin: 2,
		Body: 7, Strong: 10, Foot: 4.5, Module: 0.625}
	Label80x40 = LabelSize{Name: "80×40 mm", Width: 80, Height: 40, Margin: 1.5,
		Body: 5.5, Strong: 7.5, Foot: 4, Module: 0.5}
	LabelA4 = LabelSize{Name: "A4", Width: 210, Height: 297, Margin: 10,
		Body: 11, Strong: 15, Foot: 7, Module: 0.8, FrameWidth: 190, FrameHeight: 100}
)

// ErrDoesNotFit is wrapped by the error of a label whose mentions do not all
// fit at the size asked; the error's message names the mentions left
// without room. A label is never printed without one of its mentions.
var ErrDoesNotFit = errors.New("the label's mentions do not fit")

func (d *LabelData) check(c *check) {
	d.Stamp.check(c, "stamp")
	c.code("preparation_id", d.PreparationID)
	c.text("register_number", d.RegisterNumber, need, 40)
	if d.Category != CategoryMagistral && d.Category != CategoryHospital {
		c.add("category", "category %q is unknown: use %q or %q", string(d.Category), CategoryMagistral, CategoryHospital)
	}
	d.Patient.check(c, "patient")
	c.text("inn", d.INN, need, 120)
	c.quantity("dose", d.Dose, need)
	c.quantity("total_volume", d.TotalVolume, need)
	c.text("vehicle", d.Vehicle, opt, 120)
	c.text("route", d.Route, need, 60)
	c.date("administration_date", d.AdministrationDate, need)
	c.time("prepared_at", d.PreparedAt, need)
	c.time("expiry", d.Expiry, need)
	c.text("storage", d.Storage, need, 200)
	c.text("prepared_for", d.PreparedFor, opt, 200)
}

func (s LabelSize) check(c *check) {
	switch {
	case s.Width <= 0 || s.Height <= 0 || s.Margin < 0 || s.Body <= 0 || s.Strong <= 0 || s.Foot <= 0:
		c.add("size", "label size %q has no dimensions: use Label100x50, Label80x40 or LabelA4", s.Name)
	case s.Module < 0.5:
		c.add("size.module", "a DataMatrix module of %.2f mm is too small for a scanner: at least 0.5 mm", s.Module)
	case s.Body < 4 || s.Foot < 4:
		c.add("size.body", "text under 4 points cannot be read on a label: at least 4")
	}
}

// Label writes the label of one preparation as a PDF page of the given size.
func Label(out io.Writer, d LabelData, size LabelSize) error {
	return one(out, "Étiquette "+d.RegisterNumber, d.Stamp,
		func(p *Pack) error { return p.AddLabel(d, size) })
}

// block is one mention of a label and the text that carries it.
type block struct {
	mention string // what the mention is, for an error
	text    string // encoded
	style   string
	size    float64
}

// AddLabel adds a label page to the pack, or refuses it with an error
// wrapping ErrDoesNotFit when a mention has no room at that size.
func (p *Pack) AddLabel(d LabelData, size LabelSize) error {
	const op = "pdfdoc.label"
	validate := func(c *check) { d.check(c); size.check(c) }
	return p.add(op, validate, func(w *writer) error {
		m, err := encodeMatrix(PreparationCode(d.PreparationID))
		if err != nil {
			return relais.E(op, relais.KindInvalid, relais.Field("preparation_id"), "the id cannot be encoded as a DataMatrix", err)
		}
		w.startDoc(d.Stamp, size.Width, size.Height, size.Margin, size.Foot)
		fx, fy := 0.0, 0.0
		fw, fh := size.Width, size.Height
		if size.FrameWidth > 0 {
			fx, fy, fw, fh = size.Margin, size.Margin, size.FrameWidth, size.FrameHeight
		}
		w.left, w.right = fx+size.Margin, fx+fw-size.Margin
		w.top, w.footBase = fy+size.Margin, fy+fh-size.Margin
		w.fixedRef = w.enc(d.RegisterNumber)

		blocks := labelBlocks(w, &d, size)
		side := m.side(size.Module)
		footH := w.footerHeight(1, 1)
		bottom := w.footBase - footH - 0.5
		// Lay out first, draw after: a label that does not fit is refused
		// before anything is drawn.
		type placed struct {
			b     block
			y, wd float64
			lines []string
		}
		var plan []placed
		y := w.top
		var missing []string
		for _, b := range blocks {
			wd := w.right - w.left
			if y < w.top+side {
				wd -= side + 1
			}
			w.font(b.style, b.size)
			lines := w.wrap(b.text, wd)
			h := float64(len(lines)) * lineH(b.size)
			if y+h > bottom+1e-9 || len(missing) > 0 {
				missing = append(missing, b.mention)
				y += h
				continue
			}
			plan = append(plan, placed{b, y, wd, lines})
			y += h
		}
		if len(missing) > 0 {
			return relais.E(op, relais.KindInvalid, relais.Field("size"),
				fmt.Sprintf("the %s label has no room for: %s (the text needs %.1f mm, the label has %.1f mm): print it at a larger size or shorten these texts",
					size.Name, strings.Join(missing, ", "), y-w.top, bottom-w.top), ErrDoesNotFit)
		}
		w.newPage()
		if size.FrameWidth > 0 {
			w.pdf.SetLineWidth(0.3)
			w.pdf.SetDashPattern([]float64{2, 1.5}, 0)
			w.pdf.Rect(fx, fy, fw, fh, "D")
			w.pdf.SetDashPattern(nil, 0)
		}
		w.drawMatrix(m, w.right-side, w.top, size.Module)
		for _, pl := range plan {
			w.font(pl.b.style, pl.b.size)
			for i, l := range pl.lines {
				w.line(w.left, pl.y+float64(i)*lineH(pl.b.size), l)
			}
		}
		return nil
	})
}

// labelBlocks are the label's mentions in reading order.
func labelBlocks(w *writer, d *LabelData, size LabelSize) []block {
	cat := w.t("cat." + string(d.Category))
	if d.Cytotoxic {
		cat += " \xB7 " + w.t("ws.cytotoxic")
	}
	name := w.enc(d.Patient.BirthName)
	if d.Patient.UsedName != "" {
		name += " (" + w.enc(d.Patient.UsedName) + ")"
	}
	name += " " + w.enc(d.Patient.FirstName)
	ids := w.t("lb.born", w.date(string(d.Patient.BirthDate))) + " \xB7 " + w.t("lb.ipp", w.enc(d.Patient.LocalID))
	vol := w.t("lb.volume", w.qty(d.TotalVolume))
	if d.Vehicle != "" {
		vol += " " + w.t("lb.in", w.enc(d.Vehicle))
	}
	vol += " \xB7 " + w.t("lb.route", w.enc(d.Route))
	ph := d.Stamp.Pharmacy
	pharmacy := w.enc(ph.Name) + " \xB7 " + strings.ReplaceAll(w.enc(ph.Address), "\n", ", ") +
		" \xB7 " + w.t("tel", w.enc(ph.Phone))
	b, s := size.Body, size.Strong
	if d.PreparedFor != "" { // mutual aid: both pharmacies, in the pharmacy's mention
		pharmacy = w.t("lb.aid", pharmacy, w.enc(d.PreparedFor))
	}
	return []block{
		{"category", cat, "B", b},
		{"patient name", name, "B", b + 0.5},
		{"patient birth date and IPP", ids, "", b},
		{"INN and dose", w.enc(d.INN) + " " + w.qty(d.Dose), "B", s},
		{"total volume and route", vol, "", b},
		{"administration date", w.t("lb.admin", w.date(string(d.AdministrationDate))), "B", b},
		{"preparation date", w.t("lb.prepared", w.dateTime(d.PreparedAt)), "", b},
		{"expiry", w.t("lb.expiry", w.dateTime(d.Expiry)), "B", b},
		{"storage", w.enc(d.Storage), "", b},
		{"register number", w.t("lb.register", w.enc(d.RegisterNumber)), "B", b},
		{"pharmacy", pharmacy, "", b - 0.5},
	}
}
