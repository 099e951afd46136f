package outbox

import (
	"bytes"
	"fmt"
	"strings"
	"time"
)

// A minimal PDF writer for the documents sent to the EHRs: pages of text
// lines in Helvetica (WinAnsiEncoding, so French accents print), A4,
// deterministic bytes for the same content and time. pdfdoc has no document
// for a whole cycle's treatment plan or a single administration; these two
// are plain lists, which this is enough for.

type pdfLine struct {
	text string
	bold bool
	size float64
}

type textDoc struct {
	title string
	lines []pdfLine
}

func (d *textDoc) heading(s string)         { d.lines = append(d.lines, pdfLine{s, true, 13}) }
func (d *textDoc) line(s string)            { d.lines = append(d.lines, pdfLine{s, false, 10}) }
func (d *textDoc) strong(s string)          { d.lines = append(d.lines, pdfLine{s, true, 10}) }
func (d *textDoc) blank()                   { d.lines = append(d.lines, pdfLine{"", false, 6}) }
func (d *textDoc) linef(f string, a ...any) { d.line(fmt.Sprintf(f, a...)) }

// winAnsi maps the characters of WinAnsiEncoding beyond Latin-1's
// positions; other characters outside it print as "?" (names are Latin
// here; a sign outside it is rare and shows as such rather than vanishing).
var winAnsi = map[rune]byte{'€': 0x80, '‚': 0x82, 'ƒ': 0x83, '„': 0x84, '…': 0x85, '†': 0x86, '‡': 0x87, 'ˆ': 0x88, '‰': 0x89,
	'Š': 0x8A, '‹': 0x8B, 'Œ': 0x8C, 'Ž': 0x8E, '‘': 0x91, '’': 0x92, '“': 0x93, '”': 0x94, '•': 0x95, '–': 0x96, '—': 0x97,
	'˜': 0x98, '™': 0x99, 'š': 0x9A, '›': 0x9B, 'œ': 0x9C, 'ž': 0x9E, 'Ÿ': 0x9F}

func pdfString(s string) string {
	var b strings.Builder
	b.WriteByte('(')
	for _, r := range s {
		var c byte
		switch {
		case r == '(' || r == ')' || r == '\\':
			b.WriteByte('\\')
			c = byte(r)
		case r < 0x20:
			c = ' '
		case r < 0x80 || (r >= 0xA0 && r <= 0xFF):
			c = byte(r)
		default:
			if x, ok := winAnsi[r]; ok {
				c = x
			} else {
				c = '?'
			}
		}
		if c >= 0x80 {
			fmt.Fprintf(&b, "\\%03o", c)
		} else {
			b.WriteByte(c)
		}
	}
	b.WriteByte(')')
	return b.String()
}

// wrap cuts a line into pieces of at most n characters at spaces (never
// dropping a character).
func wrap(s string, n int) []string {
	r := []rune(s)
	var out []string
	for len(r) > n {
		cut := n
		for i := n; i > n/2; i-- {
			if r[i] == ' ' {
				cut = i
				break
			}
		}
		out = append(out, string(r[:cut]))
		r = r[cut:]
		for len(r) > 0 && r[0] == ' ' {
			r = r[1:]
		}
	}
	return append(out, string(r))
}

// render writes the document as a PDF created at t.
func (d *textDoc) render(t time.Time, footer string) []byte {
	const top, bottom, left = 800.0, 60.0, 50.0
	var pages [][]string
	var cur []string
	y := top
	for _, l := range d.lines {
		font := "/F1"
		if l.bold {
			font = "/F2"
		}
		width := 95
		if l.size > 10 {
			width = 70
		}
		for _, piece := range wrap(l.text, width) {
			if y < bottom {
				pages = append(pages, cur)
				cur, y = nil, top
			}
			cur = append(cur, fmt.Sprintf("BT %s %.0f Tf %.0f %.0f Td %s Tj ET", font, l.size, left, y, pdfString(piece)))
			y -= l.size + 4
		}
	}
	pages = append(pages, cur)
	var b bytes.Buffer
	var offs []int
	obj := func(body string) {
		offs = append(offs, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(offs), body)
	}
	b.WriteString("%PDF-1.4\n%\xE2\xE3\xCF\xD3\n")
	n := len(pages)
	// 1 catalog, 2 pages, 3 font, 4 bold font, 5 info, then per page: page, content.
	obj("<< /Type /Catalog /Pages 2 0 R >>")
	var kids []string
	for i := range pages {
		kids = append(kids, fmt.Sprintf("%d 0 R", 6+2*i))
	}
	obj(fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), n))
	obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
	obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>")
	obj(fmt.Sprintf("<< /Title %s /Producer (Relais) /CreationDate (D:%s) >>", pdfString(d.title), t.UTC().Format("20060102150405Z")))
	for i, p := range pages {
		content := strings.Join(p, "\n") + "\n" + fmt.Sprintf("BT /F1 8 Tf %.0f 30 Td %s Tj ET", left, pdfString(fmt.Sprintf("%s — %d/%d", footer, i+1, n)))
		obj(fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents %d 0 R >>", 7+2*i))
		obj(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content))
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(offs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R /Info 5 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offs)+1, xref)
	return b.Bytes()
}
