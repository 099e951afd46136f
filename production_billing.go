package relais

import (
	"encoding/csv"
	"io"
	"regexp"
	"strconv"
	"time"
)

// Billing of "liste en sus" drugs: each administration of such a drug is
// billed on top of the hospital stay, per UCD unit administered, with the
// indication it was given for (a code I + 6 digits, mandatory). The month's
// lines are exported for the medical information department (DIM) in the
// fields of ATIH's FICHCOMP "médicaments" file; docs/fichcomp.md says which
// fields, in which order, and what is not certain about that layout.

var indicationCode = regexp.MustCompile(`^I\d{6}$`)

// ValidateIndicationCode checks a liste-en-sus indication code.
func ValidateIndicationCode(field, code string) error {
	if !indicationCode.MatchString(code) {
		return Invalid("billing.indication", field, "%q is not an indication code: it is I followed by 6 digits, e.g. I000123 (see the liste en sus indications)", truncate(code, 20))
	}
	return nil
}

// BillingLine is one liste-en-sus product administered.
type BillingLine struct {
	ID               ID     `json:"id"`
	Site             string `json:"site"`
	AdministrationID ID     `json:"administration_id"`
	PreparationID    ID     `json:"preparation_id"`
	RegisterNumber   string `json:"register_number,omitempty"`
	PatientID        ID     `json:"patient_id"`
	IPP              string `json:"ipp"`
	ProductID        ID     `json:"product_id"`
	Brand            string `json:"brand"`
	UCD              string `json:"ucd"`
	UCDDemo          bool   `json:"ucd_demo,omitempty"`
	// Quantity is the number of UCD units administered, to 3 decimals:
	// the drug drawn from the product's vials ÷ its strength, times the
	// fraction of the preparation's volume given.
	Quantity       float64   `json:"quantity"`
	IndicationCode string    `json:"indication_code"`
	AdministeredOn Date      `json:"administered_on"`
	Month          string    `json:"month"` // YYYY-MM
	CreatedAt      time.Time `json:"created_at"`
}

// ParseMonth checks a YYYY-MM month.
func ParseMonth(field, s string) (string, error) {
	if _, err := time.Parse("2006-01", s); err != nil {
		return "", Invalid("billing.month", field, "%q is not a month: write it as YYYY-MM, e.g. 2026-11", truncate(s, 20))
	}
	return s, nil
}

// FICHCOMPColumns are the CSV's columns, in order (docs/fichcomp.md).
var FICHCOMPColumns = []string{"finess", "ipp", "date_administration", "ucd", "nombre_administre", "code_indication",
	"numero_ordonnancier", "libelle"}

// WriteFICHCOMP writes the month's lines as CSV (semicolon separated, as
// French spreadsheet and DIM tools read it; decimal point), with a header
// line. Lines with a demonstration UCD code are refused, never exported.
func WriteFICHCOMP(w io.Writer, finess string, lines []BillingLine) error {
	const op = "billing.export"
	if finess != "" && !regexp.MustCompile(`^[0-9A-B]{9}$`).MatchString(finess) {
		return Invalid(op, "finess", "a FINESS number has 9 characters (digits, 2A/2B for Corsica), not %q", truncate(finess, 20))
	}
	for _, l := range lines {
		if l.UCDDemo {
			return Invalid(op, "ucd", "%s (%s) has a demonstration UCD code: it cannot be sent to billing; correct the product's UCD in the catalogue", l.Brand, l.UCD)
		}
	}
	cw := csv.NewWriter(w)
	cw.Comma = ';'
	cw.UseCRLF = true
	if err := cw.Write(FICHCOMPColumns); err != nil {
		return err
	}
	for _, l := range lines {
		rec := []string{finess, l.IPP, pmsiDate(l.AdministeredOn), l.UCD,
			strconv.FormatFloat(l.Quantity, 'f', 3, 64), l.IndicationCode, l.RegisterNumber, l.Brand}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// pmsiDate writes a date as the PMSI files do: JJMMAAAA.
func pmsiDate(d Date) string {
	t := d.Time()
	if t.IsZero() {
		return ""
	}
	return t.Format("02012006")
}
