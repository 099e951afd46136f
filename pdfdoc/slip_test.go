package pdfdoc

import (
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/relais-onco/relais"
)

func TestDeliverySlip(t *testing.T) {
	for _, n := range []int{3, 40} { // one page, and a slip that runs over two
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			d := testSlip(n)
			pdf := render(t, func(w io.Writer) error { return DeliverySlip(w, d) })
			pages := pdfPages(t, pdf)
			all := strings.Join(pages, "\n")
			assertContains(t, "slip", all,
				"BORDEREAU DE LIVRAISON", "BL-2026-0412", "Hématologie-oncologie pédiatrique (HDJ)", "23/11/2026 · matin",
				fmt.Sprintf("Total : %d préparation(s) pour %d patient(s)", n, n),
				"Remise au service le", "Pharmacie (expéditeur)", "Service (destinataire)", "Signature",
				"N° ordonnancier", "Patient (nom, prénom, né(e) le, IPP)", "DCI", "Dose", "Volume", "Voie", "Reçu")
			flat := oneLine(all)
			for i := 0; i < n; i++ {
				reg := fmt.Sprintf("2026-%06d", 123+i)
				if c := strings.Count(flat, reg+" LE GOFF (MARTIN) Maëlys, né(e) le 14/03/2019, IPP "+fmt.Sprintf("IPP-%08d", 482913+i)); c != 1 {
					t.Errorf("preparation %s with its patient is listed %d times, want once", reg, c)
				}
			}
			// Each page's footer names the register numbers on that page.
			first := 123
			for i, p := range pages {
				p = oneLine(p)
				if !strings.Contains(p, fmt.Sprintf("N° ordonnancier 2026-%06d", first)) {
					t.Errorf("page %d's footer does not start at 2026-%06d:\n%s", i+1, first, p)
				}
				for first < 123+n && strings.Contains(p, fmt.Sprintf("2026-%06d LE GOFF", first)) {
					first++
				}
			}
			if first != 123+n {
				t.Errorf("the pages list preparations up to 2026-%06d, want all %d", first-1, n)
			}
			assertFooters(t, pages)
		})
	}
}

func TestDeliverySlipHandoverTimeAndEnglish(t *testing.T) {
	d := testSlip(2)
	d.HandoverAt = at("2026-11-23 10:47")
	d.Round = RoundAfternoon
	d.Stamp.Lang = "en"
	pdf := render(t, func(w io.Writer) error { return DeliverySlip(w, d) })
	assertContains(t, "slip", pdfPages(t, pdf)[0], "DELIVERY SLIP", "2026-11-23 · afternoon",
		"Handed over on 2026-11-23 10:47", "Pharmacy (sender)", "Ward (receiver)",
		"Total: 2 preparation(s) for 2 patient(s)", "Register no. 2026-000123 to 2026-000124 (2)")
}

func TestDeliverySlipRefusesBadInput(t *testing.T) {
	d := testSlip(2)
	d.Items[1].RegisterNumber = d.Items[0].RegisterNumber
	d.Items[0].Volume = ""
	d.Round = "nuit"
	err := DeliverySlip(io.Discard, d)
	got := map[string]bool{}
	for _, fe := range relais.FieldErrors(err) {
		got[fe.Field] = true
	}
	for _, f := range []string{"items[1].register_number", "items[0].volume", "round"} {
		if !got[f] {
			t.Errorf("the error does not name %s: %v", f, err)
		}
	}
}
