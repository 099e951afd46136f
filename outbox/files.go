package outbox

import (
	"fmt"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/cda"
)

// Document formats a destination takes (Destination.DocumentFormat).
const (
	FormatPDF  = "pdf"  // the PDF as is (the default)
	FormatCDA  = "cda"  // a CDA R2 document with the PDF as its non-structured body
	FormatBoth = "both" // the two, as two messages
)

// File is one rendition of a document as sent: the PDF, or the CDA that
// wraps it. Each has its own id (TXA-12, MSH-10, XDS uniqueId, CDA id).
type File struct {
	Format string // FormatPDF or FormatCDA
	ID     relais.ID
	Data   []byte
}

// PDFFile is the document's PDF.
func (doc Document) PDFFile() File { return File{Format: FormatPDF, ID: doc.ID, Data: doc.PDF} }

// OID writes an id of Relais as an OID under 2.25 (ITU-T X.667: a UUID as
// a decimal integer), the form CDA ids and XDS uniqueIds take.
func OID(id relais.ID) string { return "2.25." + uuidDecimal(id) }

// CDAOptions are the CI-SIS codes of the CDA header that depend on the
// site; the defaults suit a public hospital.
type CDAOptions struct {
	// FacilityType is componentOf/encompassingEncounter/location/
	// healthCareFacility/code (CI-SIS value set of healthcareFacilityTypeCode).
	FacilityType CodeConfig `json:"facility_type,omitzero"`
	// PracticeSetting is the performer's organization's
	// standardIndustryClassCode (CI-SIS value set of practiceSettingCode).
	PracticeSetting CodeConfig `json:"practice_setting,omitzero"`
}

// CodeConfig is a code of a value set.
type CodeConfig struct {
	Code    string `json:"code"`
	System  string `json:"system"`
	Display string `json:"display"`
}

// Default CI-SIS codes. They are the values of the CI-SIS value sets for a
// public hospital as Relais's authors read them; docs/integration/cda.md
// says they are not verified against the ANS validator: a site sets its
// own in the configuration.
var (
	DefaultFacilityType    = CodeConfig{Code: "SA01", System: "1.2.250.1.71.4.2.4", Display: "Etablissement public de santé"}
	DefaultPracticeSetting = CodeConfig{Code: "ETABLISSEMENT", System: "1.2.250.1.213.1.1.4.9", Display: "Etablissement de santé"}
)

func (c CodeConfig) or(def CodeConfig) cda.Code {
	if c.Code == "" {
		c = def
	}
	return cda.Code{Code: c.Code, System: c.System, Display: c.Display}
}

// CDA wraps the document's PDF in a CDA R2 document (CI-SIS header,
// non-structured body). siteOID identifies the site (custodian, and the
// root of its users' ids); ippOID the hospital's IPP domain.
func CDA(doc Document, siteOID, ippOID string, opts CDAOptions) (File, error) {
	const op = "outbox.cda"
	p := doc.Patient
	cp := cda.Patient{LocalID: p.IPP, LocalIDRoot: ippOID, BirthName: p.BirthName, UsedName: p.UsedName,
		FirstNames: p.FirstNames, BirthDate: p.BirthDate}
	if sharesINS(p) {
		cp.INS, cp.INSOID = p.INS.Matricule, p.INS.OID
	}
	switch p.Sex {
	case relais.SexFemale:
		cp.Sex = "F"
	case relais.SexMale:
		cp.Sex = "M"
	default:
		cp.Sex = "U"
	}
	person := func(x Party) cda.Person {
		id := string(x.ID)
		if id == "" {
			id = x.Name // an account without id (imported data): its name in the site's directory
		}
		return cda.Person{IDRoot: siteOID, ID: id, Name: x.Name}
	}
	id := relais.NewID()
	d := cda.Document{
		ID: OID(id), SetID: OID(doc.SetID), Version: doc.Version,
		Type:  cda.Code{Code: doc.TypeCode, System: cda.SystemLOINC, Display: doc.TypeName},
		Title: doc.Title, EffectiveTime: doc.CreatedAt, Patient: cp,
		Author: person(doc.Author), AuthorTime: doc.Author.At, Device: "Relais " + relais.Version,
		Organization:       cda.Organization{IDRoot: siteOID, Name: doc.Issuer},
		LegalAuthenticator: cda.Authentication{Person: person(doc.Author), Time: doc.Author.At},
		ServiceStart:       doc.ServiceStart, ServiceEnd: doc.ServiceEnd, Performer: person(doc.Author),
		PracticeSetting: opts.PracticeSetting.or(DefaultPracticeSetting), FacilityType: opts.FacilityType.or(DefaultFacilityType),
		PDF: doc.PDF,
	}
	for _, a := range doc.Authenticators {
		d.Authenticators = append(d.Authenticators, cda.Authentication{Person: person(a), Time: a.At})
	}
	b, err := cda.Encode(d)
	if err != nil {
		return File{}, relais.E(op, fmt.Sprintf("the CDA of %s %s cannot be made", doc.Kind, doc.SubjectID), err)
	}
	return File{Format: FormatCDA, ID: id, Data: b}, nil
}
