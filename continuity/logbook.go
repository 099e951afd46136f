package continuity

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/go-pdf/fpdf"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/sqlstore"
)

// The crisis logbook printed (seed 004: the logbook is kept and shown to
// the direction and the inspectors afterwards): one A4 PDF, the crisis's
// declaration on top, then every entry in time order with its role, kind
// and author.

var roleNames = map[string]string{"pilot": "Pilote", "editor": "Rédacteur", "coordinator": "Coordinateur", "pharmacist": "Pharmacien", "other": "Autre"}
var kindNames = map[string]string{"declaration": "Déclaration", "entry": "Note", "decision": "Décision", "communication": "Communication", "end": "Fin"}

// LogbookPDF writes the logbook of crisis c as a PDF.
func LogbookPDF(ctx context.Context, db *sqlstore.DB, c sqlstore.Crisis, w io.Writer) error {
	entries, err := db.Logbook(ctx, c.ID)
	if err != nil {
		return err
	}
	pdf := fpdf.New("P", "mm", "A4", "")
	tr := pdf.UnicodeTranslatorFromDescriptor("") // cp1252: French accents in the core fonts
	pdf.SetTitle("Journal de bord de crise "+c.Site, true)
	pdf.SetCreationDate(c.DeclaredAt)
	pdf.SetModificationDate(c.DeclaredAt)
	pdf.SetAutoPageBreak(true, 15)
	pdf.SetFooterFunc(func() {
		pdf.SetY(-12)
		pdf.SetFont("Helvetica", "", 8)
		pdf.CellFormat(0, 5, tr(fmt.Sprintf("Relais %s — journal de bord %s — page %d", relais.Version, c.Site, pdf.PageNo())), "", 0, "C", false, 0, "")
	})
	pdf.AddPage()
	pdf.SetFont("Helvetica", "B", 14)
	pdf.MultiCell(0, 7, tr("Journal de bord de crise / Crisis logbook"), "", "L", false)
	pdf.SetFont("Helvetica", "", 10)
	zone := relais.DisplayZone
	head := fmt.Sprintf("Site : %s — chaîne de crise : %s\nDéclarée le %s par %s\nMotif : %s\nDonnées au %s (entrée %d du journal du site)\nStatut : %s",
		c.SourceSite, c.Site, c.DeclaredAt.In(zone).Format("02/01/2006 15:04:05"), c.DeclaredBy, c.Reason,
		c.DataTime.In(zone).Format("02/01/2006 15:04:05"), c.SourceSeq, c.Status)
	pdf.MultiCell(0, 5, tr(head), "", "L", false)
	pdf.Ln(4)
	widths := []float64{30, 26, 28, 106}
	header := []string{"Heure", "Rôle", "Type", "Texte — auteur"}
	pdf.SetFont("Helvetica", "B", 9)
	for i, h := range header {
		pdf.CellFormat(widths[i], 6, tr(h), "1", 0, "L", false, 0, "")
	}
	pdf.Ln(-1)
	pdf.SetFont("Helvetica", "", 9)
	for _, e := range entries {
		text := e.Text + " — " + e.AuthorName
		lines := pdf.SplitLines([]byte(tr(text)), widths[3]-2) // bytes: the text is cp1252 now
		h := float64(max(1, len(lines))) * 4.5
		if pdf.GetY()+h > 280 {
			pdf.AddPage()
		}
		x, y := pdf.GetXY()
		cells := []string{e.At.In(zone).Format("02/01 15:04:05"), roleNames[e.Role], kindNames[e.Kind]}
		for i, s := range cells {
			pdf.Rect(x, y, widths[i], h, "D")
			pdf.SetXY(x+1, y)
			pdf.CellFormat(widths[i]-2, 4.5, tr(s), "", 0, "L", false, 0, "")
			x += widths[i]
		}
		pdf.Rect(x, y, widths[3], h, "D")
		pdf.SetXY(x+1, y)
		pdf.MultiCell(widths[3]-2, 4.5, string(bytes.Join(lines, []byte("\n"))), "", "L", false)
		pdf.SetXY(pdf.GetX(), y+h)
	}
	if err := pdf.Error(); err != nil {
		return err
	}
	return pdf.Output(w)
}
