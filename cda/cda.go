// Package cda writes HL7 CDA R2 documents the way the French CI-SIS asks
// for a document whose body is a PDF: the header of the « Volet
// Structuration minimale des documents de santé » (realm FR, the HL7 France
// and CI-SIS conformance templates, the patient with the INS, author,
// custodian, legal authenticator, documented act, encounter) and a
// non-structured body (nonXMLBody) holding the PDF in Base64, as the IHE
// XDS-SD content module does (ITI TF-3 §5.2).
//
// It has plain input structs (Document, Patient, Person, Organization) that
// the caller fills, checks them whole (every faulty field named, nothing
// written), and writes the XML with encoding/xml. Decode reads a document
// back into the same XML structs, for tests and for receivers.
//
// docs/integration/cda.md says which rules were followed, where they come
// from, and what is not verified against the ANS validator.
package cda

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/relais-onco/relais"
)

// Namespace is the CDA R2 (HL7 v3) XML namespace.
const Namespace = "urn:hl7-org:v3"

// OIDs used in the header.
const (
	// Conformance templates of a CI-SIS document with a PDF body
	// (ClinicalDocument/templateId, [3..*]).
	TemplateHL7France = "2.16.840.1.113883.2.8.2.1" // HL7 France CDA header guide
	TemplateCISIS     = "1.2.250.1.213.1.1.1.1"     // CI-SIS, Volet Structuration minimale
	TemplateXDSSD     = "1.3.6.1.4.1.19376.1.2.20"  // IHE XDS-SD: non-structured body

	TypeIDRoot      = "2.16.840.1.113883.1.3" // HL7 registered models
	TypeIDExtension = "POCD_HD000040"         // CDA R2 ClinicalDocument

	SystemLOINC           = "2.16.840.1.113883.6.1"
	SystemConfidentiality = "2.16.840.1.113883.5.25" // HL7 Confidentiality
	SystemGender          = "2.16.840.1.113883.5.1"  // HL7 AdministrativeGender

	// INS: the national health identifier, a NIR or a NIA (Référentiel
	// INS), and their test OIDs.
	OIDINSNIR     = "1.2.250.1.213.1.4.8"
	OIDINSNIA     = "1.2.250.1.213.1.4.10"
	OIDINSNIRTest = "1.2.250.1.213.1.4.9"
	OIDINSNIATest = "1.2.250.1.213.1.4.11"
)

// Confidentiality codes (HL7 Confidentiality, 2.16.840.1.113883.5.25).
const (
	ConfidentialityNormal     = "N"
	ConfidentialityRestricted = "R"
	ConfidentialityVery       = "V"
)

// Code is a coded value: code, its system (OID) and its display name.
type Code struct {
	Code, System, Display string
}

// Patient is the patient the document is about. The INS goes in
// patientRole/id only for a qualified identity (the caller decides: an
// empty INS is not sent); the local id (IPP) goes with the OID of the
// hospital's IPP domain.
type Patient struct {
	INS, INSOID          string // matricule INS (15 characters) and its OID
	LocalID, LocalIDRoot string // IPP and the OID of its domain
	BirthName            string // nom de naissance (family qualifier BR)
	UsedName             string // nom utilisé (family qualifier SP), when it differs
	FirstNames           []string
	Sex                  string // M, F or U
	BirthDate            relais.Date
}

// Person is a professional: the author, the legal authenticator, an
// authenticator, the performer of the act. Without a national id (RPPS),
// the id is the person's id in the site's directory: root is the site's
// OID, extension the local id.
type Person struct {
	IDRoot, ID string
	Name       string // as displayed, e.g. "Dr Claire Martin"
}

// Organization is the custodian and the represented organization: root is
// its OID (the site's), ID an optional extension.
type Organization struct {
	IDRoot, ID string
	Name       string
}

// Authentication is a person's attestation of the document at a time.
type Authentication struct {
	Person Person
	Time   time.Time
}

// Document is what the caller gives to write a CDA document with a PDF
// body. Times are written in the zone of Zone (Europe/Paris by default),
// to the second, with their offset.
type Document struct {
	// ID is the document's unique id: an OID (e.g. 2.25.<UUID as a
	// decimal>), written as id/@root. SetID identifies all the versions of
	// the same document; Version numbers them from 1.
	ID, SetID string
	Version   int
	Type      Code   // LOINC code of the document type
	Title     string // the document's title
	// EffectiveTime is when the document was made.
	EffectiveTime time.Time
	// Confidentiality is N (default when empty), R or V.
	Confidentiality string
	Patient         Patient
	// Author wrote the content, at AuthorTime; Device is the software that
	// made the document (a second author, assignedAuthoringDevice).
	Author     Person
	AuthorTime time.Time
	Device     string // e.g. "Relais 0.1.0"
	// Organization is the site: the custodian and the authors'
	// organization.
	Organization Organization
	// LegalAuthenticator is responsible for the document; Authenticators
	// attest parts of it (e.g. the pharmacists who validated the lines).
	LegalAuthenticator Authentication
	Authenticators     []Authentication
	// ServiceStart and ServiceEnd bound the act documented (the cycle, the
	// administration); Performer did it.
	ServiceStart, ServiceEnd time.Time
	Performer                Person
	// PracticeSetting is the performer's organization's practice setting
	// (standardIndustryClassCode); FacilityType the encounter's
	// healthCareFacility/code. Both from the CI-SIS value sets.
	PracticeSetting, FacilityType Code
	PDF                           []byte
	Zone                          *time.Location
}

var oidRE = regexp.MustCompile(`^[0-2](\.(0|[1-9][0-9]*))+$`)

// ValidOID reports whether s is an OID in dotted notation.
func ValidOID(s string) bool { return len(s) <= 64 && oidRE.MatchString(s) }

type checker struct {
	op   string
	errs []error
}

func (c *checker) add(field, format string, args ...any) {
	c.errs = append(c.errs, relais.Invalid(c.op, field, format, args...))
}

func (c *checker) text(field, s string, required bool) {
	if strings.TrimSpace(s) == "" {
		if required {
			c.add(field, "this element is required in the CDA header: fill it in")
		}
		return
	}
	if !utf8.ValidString(s) {
		c.add(field, "the text is not valid UTF-8")
		return
	}
	for _, r := range s {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0xFFFE || r == 0xFFFF {
			c.add(field, "the text holds a character XML cannot carry (%U): remove it", r)
			return
		}
	}
}

func (c *checker) oid(field, s string) {
	if !ValidOID(s) {
		c.add(field, "%q is not an OID (digits separated by dots, e.g. 1.2.250.1.71.4.2.2): configure the right one", s)
	}
}

func (c *checker) time(field string, t time.Time) {
	if t.IsZero() {
		c.add(field, "the time is missing")
	}
}

func (c *checker) person(field string, p Person) {
	c.oid(field+".id_root", p.IDRoot)
	c.text(field+".id", p.ID, true)
	c.text(field+".name", p.Name, true)
}

// Check names every fault of d.
func (d Document) Check() error {
	c := &checker{op: "cda.document"}
	c.oid("id", d.ID)
	c.oid("set_id", d.SetID)
	if d.Version < 1 {
		c.add("version", "the version number starts at 1, got %d", d.Version)
	}
	c.text("type.code", d.Type.Code, true)
	c.oid("type.system", d.Type.System)
	c.text("type.display", d.Type.Display, true)
	c.text("title", d.Title, true)
	c.time("effective_time", d.EffectiveTime)
	switch d.Confidentiality {
	case "", ConfidentialityNormal, ConfidentialityRestricted, ConfidentialityVery:
	default:
		c.add("confidentiality", "%q is not a confidentiality code: N, R or V", d.Confidentiality)
	}
	p := d.Patient
	if p.INS == "" && p.LocalID == "" {
		c.add("patient.id", "the patient has neither an INS (qualified identity) nor a local id: patientRole/id cannot be empty")
	}
	if p.INS != "" {
		if len(p.INS) != 15 {
			c.add("patient.ins", "the INS is 15 characters (NIR or NIA with its key), got %d", len(p.INS))
		}
		switch p.INSOID {
		case OIDINSNIR, OIDINSNIA, OIDINSNIRTest, OIDINSNIATest:
		default:
			c.add("patient.ins_oid", "%q is not an INS OID: %s (NIR) or %s (NIA)", p.INSOID, OIDINSNIR, OIDINSNIA)
		}
	}
	if p.LocalID != "" {
		c.text("patient.local_id", p.LocalID, true)
		c.oid("patient.local_id_root", p.LocalIDRoot)
	}
	c.text("patient.birth_name", p.BirthName, true)
	c.text("patient.used_name", p.UsedName, false)
	if len(p.FirstNames) == 0 {
		c.add("patient.first_names", "the patient's first name is required (given)")
	}
	for i, g := range p.FirstNames {
		c.text(fmt.Sprintf("patient.first_names[%d]", i), g, true)
	}
	switch p.Sex {
	case "M", "F", "U":
	default:
		c.add("patient.sex", "%q is not an administrative gender: M, F or U", p.Sex)
	}
	if _, err := time.Parse(time.DateOnly, string(p.BirthDate)); err != nil {
		c.add("patient.birth_date", "%q is not a date YYYY-MM-DD", string(p.BirthDate))
	}
	c.person("author", d.Author)
	c.time("author_time", d.AuthorTime)
	c.text("device", d.Device, true)
	c.oid("organization.id_root", d.Organization.IDRoot)
	c.text("organization.name", d.Organization.Name, true)
	c.person("legal_authenticator", d.LegalAuthenticator.Person)
	c.time("legal_authenticator.time", d.LegalAuthenticator.Time)
	for i, a := range d.Authenticators {
		f := fmt.Sprintf("authenticators[%d]", i)
		c.person(f, a.Person)
		c.time(f+".time", a.Time)
	}
	c.time("service_start", d.ServiceStart)
	if !d.ServiceEnd.IsZero() && d.ServiceEnd.Before(d.ServiceStart) {
		c.add("service_end", "the act cannot end before it starts")
	}
	c.person("performer", d.Performer)
	for f, code := range map[string]Code{"practice_setting": d.PracticeSetting, "facility_type": d.FacilityType} {
		c.text(f+".code", code.Code, true)
		c.oid(f+".system", code.System)
		c.text(f+".display", code.Display, true)
	}
	if !bytes.HasPrefix(d.PDF, []byte("%PDF-")) {
		c.add("pdf", "the body must be a PDF (it does not start with %%PDF-)")
	}
	return relais.Errors(c.op, c.errs)
}

// Encode checks d and writes it as a CDA R2 document, UTF-8, with its XML
// declaration. Nothing is written when a field is wrong.
func Encode(d Document) ([]byte, error) {
	if err := d.Check(); err != nil {
		return nil, err
	}
	cd := build(d)
	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", "  ")
	if err := enc.Encode(cd); err != nil {
		return nil, relais.E("cda.encode", err)
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// Decode reads a CDA document written by Encode (or any CDA R2 document
// whose elements it knows; others are ignored).
func Decode(b []byte) (*ClinicalDocument, error) {
	var cd ClinicalDocument
	if err := xml.Unmarshal(b, &cd); err != nil {
		return nil, relais.E("cda.decode", relais.KindInvalid, "the document is not CDA XML: "+err.Error())
	}
	return &cd, nil
}

// PDF returns the PDF of a non-structured body.
func (cd *ClinicalDocument) PDF() ([]byte, error) {
	t := cd.Component.NonXMLBody.Text
	if t.MediaType != "application/pdf" || t.Representation != "B64" {
		return nil, fmt.Errorf("the body is %q in %q, not a PDF in Base64", t.MediaType, t.Representation)
	}
	return base64.StdEncoding.DecodeString(strings.Join(strings.Fields(t.Value), ""))
}

// TimeFormat is the HL7 v3 TS format Relais writes: local time to the
// second with its offset.
const TimeFormat = "20060102150405-0700"

func ts(t time.Time, zone *time.Location) *TS {
	if t.IsZero() {
		return &TS{NullFlavor: "UNK"}
	}
	return &TS{Value: t.In(zone).Format(TimeFormat)}
}

func build(d Document) *ClinicalDocument {
	zone := d.Zone
	if zone == nil {
		zone = relais.DisplayZone
	}
	conf := d.Confidentiality
	if conf == "" {
		conf = ConfidentialityNormal
	}
	p := d.Patient
	role := PatientRole{}
	if p.INS != "" {
		role.IDs = append(role.IDs, II{Root: p.INSOID, Extension: p.INS})
	}
	if p.LocalID != "" {
		role.IDs = append(role.IDs, II{Root: p.LocalIDRoot, Extension: p.LocalID})
	}
	role.Addr = &Null{NullFlavor: "UNK"}
	role.Telecom = &Null{NullFlavor: "UNK"}
	name := PN{Family: []Part{{Qualifier: "BR", Value: p.BirthName}}}
	if p.UsedName != "" && p.UsedName != p.BirthName {
		name.Family = append(name.Family, Part{Qualifier: "SP", Value: p.UsedName})
	}
	for _, g := range p.FirstNames {
		name.Given = append(name.Given, Part{Value: g})
	}
	role.Patient = PatientEntity{Name: name,
		Gender:    CE{Code: p.Sex, CodeSystem: SystemGender},
		BirthTime: TS{Value: strings.ReplaceAll(string(p.BirthDate), "-", "")}}
	org := &Org{IDs: []II{{Root: d.Organization.IDRoot, Extension: d.Organization.ID}}, Name: d.Organization.Name}
	person := func(x Person) AssignedEntity {
		return AssignedEntity{IDs: []II{{Root: x.IDRoot, Extension: x.ID}}, Person: &PersonEntity{Name: PN{Text: x.Name}}}
	}
	cd := &ClinicalDocument{
		RealmCode:       CS{Code: "FR"},
		TypeID:          II{Root: TypeIDRoot, Extension: TypeIDExtension},
		TemplateIDs:     []II{{Root: TemplateHL7France}, {Root: TemplateCISIS}, {Root: TemplateXDSSD}},
		ID:              II{Root: d.ID},
		Code:            CE{Code: d.Type.Code, CodeSystem: d.Type.System, DisplayName: d.Type.Display},
		Title:           d.Title,
		EffectiveTime:   *ts(d.EffectiveTime, zone),
		Confidentiality: CE{Code: conf, CodeSystem: SystemConfidentiality},
		LanguageCode:    CS{Code: "fr-FR"},
		SetID:           II{Root: d.SetID},
		VersionNumber:   INT{Value: d.Version},
		RecordTarget:    RecordTarget{PatientRole: role},
		Authors: []Author{
			{Time: *ts(d.AuthorTime, zone), AssignedAuthor: AssignedAuthor{IDs: []II{{Root: d.Author.IDRoot, Extension: d.Author.ID}},
				Person: &PersonEntity{Name: PN{Text: d.Author.Name}}, Organization: org}},
			{Time: *ts(d.EffectiveTime, zone), AssignedAuthor: AssignedAuthor{IDs: []II{{Root: d.Organization.IDRoot, Extension: "RELAIS"}},
				Device: &Device{Model: "Relais", Software: d.Device}, Organization: org}},
		},
		Custodian: Custodian{Assigned: AssignedCustodian{Org: CustodianOrg{IDs: org.IDs, Name: org.Name}}},
		LegalAuthenticator: LegalAuthenticator{Time: *ts(d.LegalAuthenticator.Time, zone), Signature: CS{Code: "S"},
			Entity: person(d.LegalAuthenticator.Person)},
		DocumentationOf: []DocumentationOf{{ServiceEvent: ServiceEvent{
			EffectiveTime: IVL{Low: ts(d.ServiceStart, zone), High: optTS(d.ServiceEnd, zone)},
			Performer: []Performer{{TypeCode: "PRF", Entity: func() AssignedEntity {
				e := person(d.Performer)
				e.Organization = &Org{IDs: org.IDs, Name: org.Name, IndustryClass: &CE{Code: d.PracticeSetting.Code,
					CodeSystem: d.PracticeSetting.System, DisplayName: d.PracticeSetting.Display}}
				return e
			}()}}}}},
		ComponentOf: ComponentOf{Encounter: Encounter{
			EffectiveTime: IVL{Low: ts(d.ServiceStart, zone), High: optTS(d.ServiceEnd, zone)},
			Location: Location{Facility: Facility{Code: CE{Code: d.FacilityType.Code, CodeSystem: d.FacilityType.System,
				DisplayName: d.FacilityType.Display}}}}},
		Component: Component{NonXMLBody: NonXMLBody{Text: ED{MediaType: "application/pdf", Representation: "B64",
			Value: base64.StdEncoding.EncodeToString(d.PDF)}}},
	}
	for _, a := range d.Authenticators {
		cd.Authenticators = append(cd.Authenticators, Authenticator{Time: *ts(a.Time, zone), Signature: CS{Code: "S"},
			Entity: person(a.Person)})
	}
	return cd
}

func optTS(t time.Time, zone *time.Location) *TS {
	if t.IsZero() {
		return nil
	}
	return ts(t, zone)
}
