package pdfdoc

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-pdf/fpdf"
)

// Geometry is in millimetres, font sizes in points.
const (
	ptMM       = 25.4 / 72 // one point in millimetres
	fontFamily = "Helvetica"
	// boxMark stands for a check box in the documents' own words; the fonts
	// never print it (user text holding it is refused by encode).
	boxMark = 0x7F
	boxStr  = "\x7f"
	pad     = 1.2 // inner padding of cells
)

// glyphWidths are the core fonts' advance widths in 1/1000 em, by style; they
// are constants of the PDF standard fonts, read once from fpdf.
var glyphWidths = sync.OnceValue(func() map[string]*[256]int {
	pdf := fpdf.New("P", "mm", "A4", "")
	out := map[string]*[256]int{}
	for _, style := range []string{"", "B", "I"} {
		pdf.SetFont(fontFamily, style, 10)
		var t [256]int
		for b := 1; b < 256; b++ {
			t[b] = pdf.GetStringSymbolWidth(string([]byte{byte(b)}))
		}
		t[boxMark] = 1000 // a square of 0.7 em and its spacing
		out[style] = &t
	}
	return out
})

// writer draws documents into one fpdf instance, one after another; it keeps
// the geometry of the current document and the register numbers each of its
// pages shows, for the footers drawn when the document ends.
type writer struct {
	pdf  *fpdf.Fpdf
	err  error
	lang int
	zone *time.Location
	st   Stamp

	pw, ph      float64 // page size
	left, right float64 // content's left and right edges (x)
	top, bottom float64 // content's top and bottom edges (y)
	footSize    float64 // footer font size
	footBase    float64 // y of the footer's last baseline
	y           float64 // drawing cursor
	header      func()  // running header of a document's new page

	first    int              // first page of the current document
	refs     map[int][]string // register numbers drawn, by page
	fixedRef string           // the register number of a one-preparation document

	style string
	size  float64
	w     *[256]int
}

func (w *writer) fail(err error) {
	if w.err == nil && err != nil {
		w.err = err
	}
}

// t returns a word of the document's language, encoded; with args it is a
// format whose arguments are already encoded.
func (w *writer) t(key string, args ...any) string {
	s, ok := wordsCP[w.lang][key]
	if !ok {
		w.fail(fmt.Errorf("pdfdoc: no word %q", key))
		return key
	}
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}

// enc encodes caller text already checked by check; multi-line text keeps
// its "\n".
func (w *writer) enc(s string) string {
	out, err := encode(s, true)
	w.fail(err)
	return out
}

// qty encodes a quantity (dose, volume, rate…): its spaces become no-break
// spaces, so a value is never parted from its unit at a line break.
func (w *writer) qty(s string) string {
	return strings.ReplaceAll(w.enc(s), " ", "\xA0")
}

func (w *writer) dateTime(t time.Time) string { return formatDateTime(t, w.lang, w.zone) }

// date formats a checked YYYY-MM-DD date.
func (w *writer) date(d string) string {
	t, err := time.Parse(time.DateOnly, d)
	if err != nil {
		w.fail(err)
		return d
	}
	return formatDate(t, w.lang)
}

func (w *writer) font(style string, size float64) {
	w.style, w.size = style, size
	w.w = glyphWidths()[style]
	w.pdf.SetFont(fontFamily, style, size)
}

func lineH(size float64) float64 { return size * ptMM * 1.2 }

// width of s in the current font.
func (w *writer) width(s string) float64 {
	n := 0
	for i := 0; i < len(s); i++ {
		n += w.w[s[i]]
	}
	return float64(n) * w.size * ptMM / 1000
}

// wrap breaks s into lines no wider than width in the current font: at
// "\n", else at the last space or after the last hyphen that follows a
// letter (compound names; never inside a number like 2026-000123), else (a
// single word wider than the line) between characters. Only the breaking
// space or newline is dropped: every other character is kept, in order.
func (w *writer) wrap(s string, width float64) []string {
	limit := int(width * 1000 / (w.size * ptMM))
	var lines []string
	for _, para := range strings.Split(s, "\n") {
		for {
			n, total := 0, 0
			for n < len(para) && total+w.w[para[n]] <= limit {
				total += w.w[para[n]]
				n++
			}
			if n == 0 {
				n = 1 // a glyph wider than the line still goes somewhere
			}
			if n >= len(para) {
				lines = append(lines, para)
				break
			}
			cut, skip := n, 0 // no break opportunity: between characters
			for i := n; i > 0; i-- {
				if para[i] == ' ' {
					cut, skip = i, 1
					break
				}
				if para[i-1] == '-' && i >= 2 && para[i-2] >= 'A' {
					cut = i // after a hyphen, which stays on the line
					break
				}
			}
			lines = append(lines, para[:cut])
			para = para[cut+skip:]
		}
	}
	return lines
}

// line draws one line of text with its top at y.
func (w *writer) line(x, y float64, s string) {
	base := y + w.size*ptMM*0.93
	if strings.IndexByte(s, boxMark) < 0 {
		w.pdf.Text(x, base, s)
		return
	}
	for i, part := range strings.Split(s, boxStr) {
		if i > 0 {
			side := w.size * ptMM * 0.7
			w.pdf.SetLineWidth(0.25)
			w.pdf.Rect(x+w.size*ptMM*0.15, base-side, side, side, "D")
			x += w.width(boxStr)
		}
		if part != "" {
			w.pdf.Text(x, base, part)
			x += w.width(part)
		}
	}
}

// para draws s wrapped in width at (x, y) and returns its height; align is
// "L", "C" or "R".
func (w *writer) para(x, y, width float64, s, align string) float64 {
	lh := lineH(w.size)
	lines := w.wrap(s, width)
	for i, l := range lines {
		lx := x
		switch align {
		case "R":
			lx = x + width - w.width(l)
		case "C":
			lx = x + (width-w.width(l))/2
		}
		w.line(lx, y+float64(i)*lh, l)
	}
	return float64(len(lines)) * lh
}

func (w *writer) paraHeight(s string, width float64) float64 {
	return float64(len(w.wrap(s, width))) * lineH(w.size)
}

// startDoc begins a document of pages pw×ph with the given margins and
// footer font size; the footer sits in the bottom margin.
func (w *writer) startDoc(st Stamp, pw, ph, margin, footSize float64) {
	w.st = st
	w.lang = langIndex(st.Lang)
	w.zone = st.zone()
	w.pw, w.ph = pw, ph
	w.left, w.right = margin, pw-margin
	w.top = margin
	w.footSize = footSize
	w.footBase = ph - margin*0.6
	w.bottom = ph - margin - 2*lineH(footSize)
	w.header = nil
	w.first = w.pdf.PageCount() + 1
	w.refs = map[int][]string{}
	w.fixedRef = ""
}

func (w *writer) newPage() {
	w.pdf.AddPageFormat("P", fpdf.SizeType{Wd: w.pw, Ht: w.ph})
	w.pdf.SetTextColor(0, 0, 0)
	w.pdf.SetDrawColor(0, 0, 0)
	w.pdf.SetFillColor(0, 0, 0)
	w.pdf.SetLineWidth(0.2)
	w.y = w.top
	if w.header != nil {
		style, size := w.style, w.size
		w.header()
		w.font(style, size) // the caller goes on in the font it had chosen
	}
}

// need breaks the page unless h more millimetres fit above the footer.
func (w *writer) need(h float64) {
	if w.y+h > w.bottom {
		w.newPage()
	}
}

// ref notes that the current page shows register number n.
func (w *writer) ref(n string) {
	p := w.pdf.PageNo()
	if l := w.refs[p]; len(l) == 0 || l[len(l)-1] != n {
		w.refs[p] = append(w.refs[p], n)
	}
}

// footerText is what the foot of a page says: data time and zone, Relais's
// version, the register number(s) on the page, and the page number within
// the document.
func (w *writer) footerText(page, total int, refs []string) string {
	var ref string
	switch {
	case w.fixedRef != "":
		ref = w.t("footer.register", w.fixedRef)
	case len(refs) == 0:
		ref = w.t("footer.none")
	case len(refs) == 1:
		ref = w.t("footer.register", refs[0])
	default:
		ref = w.t("footer.range", refs[0], refs[len(refs)-1], len(refs))
	}
	sep := " \xB7 " // a middle dot in Windows-1252
	return w.t("footer.data", w.dateTime(w.st.DataTime), w.zone.String()) + sep +
		"Relais " + w.enc(w.st.Version) + sep + ref + sep + w.t("footer.page", page, total)
}

// endDoc draws the footer of every page of the current document, now that
// its page count is known, by going back to each page.
func (w *writer) endDoc() {
	last := w.pdf.PageCount()
	total := last - w.first + 1
	for p := w.first; p <= last; p++ {
		w.pdf.SetPage(p)
		// The page's content stream ends in whatever state its drawing left:
		// set font and colours again so that they are written into it.
		w.pdf.SetFont(fontFamily, "B", w.footSize+1)
		w.font("", w.footSize)
		w.pdf.SetFillColor(0, 0, 0)
		w.pdf.SetTextColor(0, 0, 0)
		lines := w.wrap(w.footerText(p-w.first+1, total, w.refs[p]), w.right-w.left)
		lh := lineH(w.footSize)
		y := w.footBase - float64(len(lines))*lh
		for i, l := range lines {
			w.line(w.left, y+float64(i)*lh, l)
		}
	}
	w.pdf.SetPage(last)
}

// footerHeight is the height the footer needs on a page of the current
// document when it has the given reference (for layouts that must fit one
// page: labels).
func (w *writer) footerHeight(page, total int) float64 {
	size, style := w.size, w.style
	w.font("", w.footSize)
	h := float64(len(w.wrap(w.footerText(page, total, nil), w.right-w.left))) * lineH(w.footSize)
	w.font(style, size)
	return h
}

// heading draws a section title with a rule under it, keeping it with at
// least keep millimetres of what follows.
func (w *writer) heading(title string, keep float64) {
	w.font("B", 10)
	h := lineH(10) + 1.5
	w.need(h + keep)
	w.y += 1.5
	w.line(w.left, w.y, title)
	w.y += lineH(10)
	w.pdf.SetLineWidth(0.3)
	w.pdf.Line(w.left, w.y, w.right, w.y)
	w.y += 0.8
}

// cell is one box of a grid: a small label over its value.
type cell struct {
	label, value string // encoded
	span         int    // columns taken, 1 when zero
	strong       bool   // value in bold and larger (doses, volumes, numbers)
}

const (
	gridLabel = 6.5
	gridValue = 9
)

// grid draws cells in rows of cols columns across the content width; a row
// is kept whole on a page and grows with its longest value.
func (w *writer) grid(cols int, cells ...cell) {
	colW := (w.right - w.left) / float64(cols)
	for len(cells) > 0 {
		n, used := 0, 0
		for n < len(cells) {
			s := max(cells[n].span, 1)
			if used+s > cols && n > 0 {
				break
			}
			used += s
			n++
		}
		row := cells[:n]
		cells = cells[n:]
		h := 0.0
		for _, c := range row {
			h = max(h, w.cellHeight(c, colW*float64(max(c.span, 1))))
		}
		w.need(h)
		x := w.left
		for _, c := range row {
			cw := colW * float64(max(c.span, 1))
			w.pdf.SetLineWidth(0.2)
			w.pdf.Rect(x, w.y, cw, h, "D")
			w.font("", gridLabel)
			w.pdf.SetTextColor(80, 80, 80)
			lh := w.para(x+pad, w.y+pad*0.6, cw-2*pad, c.label, "L")
			w.pdf.SetTextColor(0, 0, 0)
			w.valueFont(c)
			w.para(x+pad, w.y+pad*0.6+lh, cw-2*pad, c.value, "L")
			x += cw
		}
		w.y += h
	}
}

func (w *writer) valueFont(c cell) {
	if c.strong {
		w.font("B", gridValue+1)
	} else {
		w.font("", gridValue)
	}
}

func (w *writer) cellHeight(c cell, cw float64) float64 {
	w.font("", gridLabel)
	h := w.paraHeight(c.label, cw-2*pad)
	w.valueFont(c)
	v := c.value
	if v == "" {
		v = " "
	}
	return h + w.paraHeight(v, cw-2*pad) + pad*1.4
}

// column of a table: its title and its share of the table's width.
type column struct {
	title  string  // encoded
	weight float64 // relative width
	align  string  // "L" (default), "C", "R"
}

// trow is a table row: its cells, an optional note printed across the
// table's width under them (annotations), and the register number it shows.
type trow struct {
	cells  []string // encoded
	note   string   // encoded
	ref    string   // register number shown by the row, for the footer
	bold   bool
	shaded bool
}

// table draws a table whose rows grow with their content and never split;
// its column titles repeat at the top of every page it spans.
func (w *writer) table(cols []column, rows []trow, size float64) {
	total := 0.0
	for _, c := range cols {
		total += c.weight
	}
	widths := make([]float64, len(cols))
	for i, c := range cols {
		widths[i] = (w.right - w.left) * c.weight / total
	}
	headH := 0.0
	w.font("B", size-0.5)
	for i, c := range cols {
		headH = max(headH, w.paraHeight(c.title, widths[i]-2*pad)+2*pad)
	}
	drawHead := func() {
		x := w.left
		w.font("B", size-0.5)
		for i, c := range cols {
			w.pdf.SetFillColor(225, 225, 225)
			w.pdf.Rect(x, w.y, widths[i], headH, "FD")
			w.pdf.SetFillColor(0, 0, 0)
			w.para(x+pad, w.y+pad, widths[i]-2*pad, c.title, "L")
			x += widths[i]
		}
		w.y += headH
	}
	rowStyle := func(r trow) {
		if r.bold {
			w.font("B", size)
		} else {
			w.font("", size)
		}
	}
	heights := func(r trow) (float64, float64) {
		rowStyle(r)
		h := lineH(size)
		for i := range cols {
			if i < len(r.cells) {
				h = max(h, w.paraHeight(r.cells[i], widths[i]-2*pad))
			}
		}
		noteH := 0.0
		if r.note != "" {
			w.font("I", size-0.5)
			noteH = w.paraHeight(r.note, w.right-w.left-2*pad-4) + pad
		}
		return h + 2*pad, noteH
	}
	first := true
	for _, r := range rows {
		h, noteH := heights(r)
		if first {
			w.need(headH + h + noteH)
			drawHead()
			first = false
		} else if w.y+h+noteH > w.bottom {
			w.newPage()
			drawHead()
		}
		x := w.left
		for i := range cols {
			if r.shaded {
				w.pdf.SetFillColor(238, 238, 238)
				w.pdf.Rect(x, w.y, widths[i], h+noteH, "F")
				w.pdf.SetFillColor(0, 0, 0)
			}
			x += widths[i]
		}
		x = w.left
		rowStyle(r)
		for i, c := range cols {
			w.pdf.SetLineWidth(0.2)
			w.pdf.Rect(x, w.y, widths[i], h, "D")
			if i < len(r.cells) {
				w.para(x+pad, w.y+pad, widths[i]-2*pad, r.cells[i], c.align)
			}
			x += widths[i]
		}
		if r.ref != "" {
			w.ref(r.ref)
		}
		w.y += h
		if r.note != "" {
			w.pdf.Rect(w.left, w.y, w.right-w.left, noteH, "D")
			w.font("I", size-0.5)
			w.para(w.left+pad+4, w.y+pad/2, w.right-w.left-2*pad-4, r.note, "L")
			w.y += noteH
		}
	}
	if first { // no rows: still show the titles
		w.need(headH)
		drawHead()
	}
}

// signatureBoxes draws side-by-side boxes, each with a title and the given
// lines to fill (name, time, signature).
func (w *writer) signatureBoxes(h float64, titles ...string) {
	w.need(h)
	bw := (w.right - w.left) / float64(len(titles))
	for i, t := range titles {
		x := w.left + float64(i)*bw
		w.pdf.SetLineWidth(0.3)
		w.pdf.Rect(x, w.y, bw, h, "D")
		w.font("B", 8.5)
		th := w.para(x+pad, w.y+pad, bw-2*pad, t, "L")
		w.font("", 8)
		w.para(x+pad, w.y+pad+th+1, bw-2*pad, w.t("sl.sign_lines"), "L")
	}
	w.y += h
}
