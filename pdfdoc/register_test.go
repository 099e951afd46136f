package pdfdoc

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/relais-onco/relais"
)

func TestRegister(t *testing.T) {
	pdf := render(t, func(w io.Writer) error { return Register(w, testRegister()) })
	pages := pdfPages(t, pdf)
	all := oneLine(strings.Join(pages, "\n"))
	assertContains(t, "register", all,
		"ORDONNANCIER DES PRÉPARATIONS du 22/11/2026 au 22/11/2026",
		"5 entrée(s), dont 2 libérée(s), 1 refusée(s), 1 annulée(s), 1 en cours",
		"N° Date Patient (nom, prénom, né(e) le, IPP) DCI Dose Statut",
		"2026-000123 22/11/2026 08:00 LE GOFF (MARTIN) Maëlys, né(e) le 14/03/2019, IPP IPP-00482913 VINCRISTINE 1,11 mg libérée",
		// a cancelled entry keeps its number, says so, and carries its annotation under it
		"2026-000125 22/11/2026 08:40 LE GOFF (MARTIN) Maëlys, né(e) le 14/03/2019, IPP IPP-00482913 VINCRISTINE 1,11 mg ANNULÉE "+
			"Annotation du 22/11/2026 09:10 par Dr Yann Morvan : Annulée : cure reportée (neutropénie), fiche détruite "+
			"2026-000126",
		"refusée", "en cours")
	assertFooters(t, pages, "N° ordonnancier 2026-000123 à 2026-000127 (5)")
}

// A long register runs over pages: every page repeats the title and the
// column titles, every number appears once, and each footer gives the
// numbers on its page.
func TestRegisterManyPages(t *testing.T) {
	d := testRegister()
	d.From, d.To = "2026-11-01", "2026-11-30"
	d.Entries = nil
	start := at("2026-11-01 08:00")
	const n = 150
	for i := 0; i < n; i++ {
		e := RegisterEntry{
			Number: fmt.Sprintf("2026-%06d", 1000+i), Date: start.Add(time.Duration(i) * 4 * time.Hour),
			Patient: testPatient(), INN: "CYTARABINE", Dose: "1480 mg", Status: StatusReleased,
		}
		if i%10 == 3 {
			e.Annotations = []Annotation{{At: e.Date.Add(time.Hour), By: "Dr Yann Morvan",
				Text: fmt.Sprintf("Correction du lot du flacon n° %d après contrôle", i)}}
		}
		d.Entries = append(d.Entries, e)
	}
	pdf := render(t, func(w io.Writer) error { return Register(w, d) })
	pages := pdfPages(t, pdf)
	if len(pages) < 3 {
		t.Fatalf("%d pages for %d entries: expected several", len(pages), n)
	}
	// A row reads: number, date and time (Paris), patient.
	row := func(i int) string {
		return fmt.Sprintf("2026-%06d %s LE GOFF", 1000+i, start.Add(time.Duration(i)*4*time.Hour).In(paris).Format("02/01/2006 15:04"))
	}
	next := 0
	for i, p := range pages {
		p = oneLine(p)
		assertContains(t, fmt.Sprintf("page %d", i+1), p, "ORDONNANCIER DES PRÉPARATIONS du 01/11/2026 au 30/11/2026",
			"N° Date Patient (nom, prénom, né(e) le, IPP) DCI Dose Statut")
		firstOnPage := next
		for next < n && strings.Contains(p, row(next)) {
			next++
		}
		if next == firstOnPage {
			t.Fatalf("page %d lists no entry from %s on", i+1, row(firstOnPage))
		}
		assertContains(t, fmt.Sprintf("footer of page %d", i+1), p,
			fmt.Sprintf("N° ordonnancier 2026-%06d à 2026-%06d (%d)", 1000+firstOnPage, 1000+next-1, next-firstOnPage))
	}
	if next != n {
		t.Errorf("the pages list entries up to %s, want all %d", row(next-1), n)
	}
	all := oneLine(strings.Join(pages, " "))
	for i := 0; i < n; i++ {
		if c := strings.Count(all, row(i)); c != 1 {
			t.Errorf("entry %s appears %d times, want once", row(i), c)
		}
	}
	assertContains(t, "register", all, "Correction du lot du flacon n° 143 après contrôle")
	assertFooters(t, pages)
}

func TestRegisterEmptyRange(t *testing.T) {
	d := testRegister()
	d.Entries = nil
	pdf := render(t, func(w io.Writer) error { return Register(w, d) })
	pages := pdfPages(t, pdf)
	assertContains(t, "register", pages[0], "Aucune entrée sur cette période.", "0 entrée(s)")
	assertFooters(t, pages, "N° ordonnancier : aucun sur cette page")
}

func TestRegisterRefusesBadInput(t *testing.T) {
	d := testRegister()
	d.Entries[1].Number = d.Entries[0].Number
	d.Entries[2].Date = at("2026-11-23 08:00")
	d.Entries[3].Status = "void"
	err := Register(io.Discard, d)
	got := map[string]bool{}
	for _, fe := range relais.FieldErrors(err) {
		got[fe.Field] = true
	}
	for _, f := range []string{"entries[1].number", "entries[2].date", "entries[3].status"} {
		if !got[f] {
			t.Errorf("the error does not name %s: %v", f, err)
		}
	}
}
