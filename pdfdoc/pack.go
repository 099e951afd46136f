package pdfdoc

import (
	"bytes"
	"io"

	"github.com/go-pdf/fpdf"
	"github.com/relais-onco/relais"
)

// Pack is one PDF made of several documents, each on its own pages with its
// own Stamp, footer and page numbering ("page 1/2" counts the document's
// pages, not the pack's): the downtime pack of the next 72 hours, a
// production day's worksheets and labels, a round's slips. The single
// document functions (Worksheet, Label, …) are packs of one.
//
// Each Add method checks its document whole before drawing it: a document
// with a bad field, or a label with no room for a mention, is refused with
// the error and the pack is left as it was. A Pack is not safe for
// concurrent use.
type Pack struct {
	w    *writer
	docs int
	done bool
}

// NewPack starts a pack. Its stamp's data time becomes the PDF's creation
// date (so the same documents give the same bytes); title is the PDF's
// title, e.g. "Dossier de continuité – 22/11/2026".
func NewPack(title string, st Stamp) (*Pack, error) {
	return newPack("pdfdoc.pack", title, st)
}

func newPack(op, title string, st Stamp) (*Pack, error) {
	c := &check{op: op}
	st.check(c, "stamp")
	c.text("title", title, need, 200)
	if err := c.err(); err != nil {
		return nil, err
	}
	return uncheckedPack(title, st), nil
}

// uncheckedPack makes a pack whose stamp the caller checks: a single
// document checks it with its other fields, to report all faults at once.
func uncheckedPack(title string, st Stamp) *Pack {
	pdf := fpdf.New("P", "mm", "A4", "")
	// Determinism: fixed dates, sorted resources; fpdf writes no random
	// file id. Compression (zlib, deterministic in Go's implementation for
	// a given input) keeps packs of hundreds of pages small.
	pdf.SetCatalogSort(true)
	pdf.SetCreationDate(st.DataTime.UTC())
	pdf.SetModificationDate(st.DataTime.UTC())
	pdf.SetCompression(false)
	pdf.SetProducer("Relais "+st.Version, true)
	pdf.SetCreator("Relais "+st.Version, true)
	pdf.SetAuthor(st.Pharmacy.Name, true)
	pdf.SetTitle(title, true)
	if st.Lang == "en" {
		pdf.SetLang("en")
	} else {
		pdf.SetLang("fr")
	}
	pdf.SetAutoPageBreak(false, 0) // pages are broken by the layouts
	pdf.SetMargins(0, 0, 0)
	pdf.SetCellMargin(0)
	return &Pack{w: &writer{pdf: pdf}}
}

// Pages is the number of pages so far.
func (p *Pack) Pages() int { return p.w.pdf.PageCount() }

// Documents is the number of documents added so far.
func (p *Pack) Documents() int { return p.docs }

// spoiled is said after a fault inside the PDF library left a document half
// drawn: such a pack can no longer be written.
const spoiled = "the pack holds a document that could not be drawn whole: start a new pack"

// add checks a document, then draws it. A document refused by check or by
// its layout (before any page is added) leaves the pack as it was.
func (p *Pack) add(op string, validate func(*check), render func(*writer) error) error {
	if p.done {
		return relais.E(op, relais.KindConflict, "the pack was already written: start a new pack")
	}
	if p.w.err != nil {
		return relais.E(op, relais.KindOther, spoiled, p.w.err)
	}
	c := &check{op: op}
	validate(c)
	if err := c.err(); err != nil {
		return err
	}
	before := p.w.pdf.PageCount()
	if err := render(p.w); err != nil {
		if p.w.pdf.PageCount() != before {
			p.w.fail(err)
		}
		return err
	}
	p.w.endDoc()
	if err := p.w.pdf.Error(); err != nil {
		p.w.fail(err)
	}
	if p.w.err != nil {
		return relais.E(op, relais.KindOther, p.w.err)
	}
	p.docs++
	return nil
}

// Output writes the PDF to out. Nothing is written unless the whole PDF
// could be made; a pack is written once.
func (p *Pack) Output(out io.Writer) error {
	const op = "pdfdoc.output"
	if p.done {
		return relais.E(op, relais.KindConflict, "the pack was already written: start a new pack")
	}
	if p.docs == 0 {
		return relais.E(op, relais.KindInvalid, "the pack holds no document: add at least one")
	}
	if p.w.err != nil {
		return relais.E(op, relais.KindOther, spoiled, p.w.err)
	}
	p.done = true
	var buf bytes.Buffer
	if err := p.w.pdf.Output(&buf); err != nil {
		return relais.E(op, relais.KindOther, err)
	}
	_, err := out.Write(buf.Bytes())
	return err
}

// one renders a single document as its own PDF; the document's check
// covers its stamp.
func one(out io.Writer, title string, st Stamp, add func(*Pack) error) error {
	p := uncheckedPack(title, st)
	if err := add(p); err != nil {
		return err
	}
	return p.Output(out)
}
