package cda

import "encoding/xml"

// The XML structs of the CDA R2 elements Relais writes, in the order of the
// CDA R2 schema (POCD_MT000040). Elements have no namespace in their tags:
// the root declares urn:hl7-org:v3 as the default namespace, and reading
// matches them in any namespace.

// ClinicalDocument is the root of a CDA document.
type ClinicalDocument struct {
	XMLName            xml.Name           `xml:"urn:hl7-org:v3 ClinicalDocument"`
	RealmCode          CS                 `xml:"realmCode"`
	TypeID             II                 `xml:"typeId"`
	TemplateIDs        []II               `xml:"templateId"`
	ID                 II                 `xml:"id"`
	Code               CE                 `xml:"code"`
	Title              string             `xml:"title"`
	EffectiveTime      TS                 `xml:"effectiveTime"`
	Confidentiality    CE                 `xml:"confidentialityCode"`
	LanguageCode       CS                 `xml:"languageCode"`
	SetID              II                 `xml:"setId"`
	VersionNumber      INT                `xml:"versionNumber"`
	RecordTarget       RecordTarget       `xml:"recordTarget"`
	Authors            []Author           `xml:"author"`
	Custodian          Custodian          `xml:"custodian"`
	LegalAuthenticator LegalAuthenticator `xml:"legalAuthenticator"`
	Authenticators     []Authenticator    `xml:"authenticator"`
	DocumentationOf    []DocumentationOf  `xml:"documentationOf"`
	ComponentOf        ComponentOf        `xml:"componentOf"`
	Component          Component          `xml:"component"`
}

// II is an instance identifier: root (an OID) and extension.
type II struct {
	Root       string `xml:"root,attr,omitempty"`
	Extension  string `xml:"extension,attr,omitempty"`
	NullFlavor string `xml:"nullFlavor,attr,omitempty"`
}

// CS is a simple code.
type CS struct {
	Code string `xml:"code,attr"`
}

// CE is a coded element.
type CE struct {
	Code        string `xml:"code,attr,omitempty"`
	CodeSystem  string `xml:"codeSystem,attr,omitempty"`
	DisplayName string `xml:"displayName,attr,omitempty"`
	NullFlavor  string `xml:"nullFlavor,attr,omitempty"`
}

// TS is a point in time.
type TS struct {
	Value      string `xml:"value,attr,omitempty"`
	NullFlavor string `xml:"nullFlavor,attr,omitempty"`
}

// IVL is an interval of time.
type IVL struct {
	Low  *TS `xml:"low"`
	High *TS `xml:"high,omitempty"`
}

// INT is an integer.
type INT struct {
	Value int `xml:"value,attr"`
}

// Null is an element given only a nullFlavor (an address or telecom the
// CI-SIS header asks for that Relais does not hold).
type Null struct {
	NullFlavor string `xml:"nullFlavor,attr"`
}

// Part is a part of a name, with its qualifier (BR birth name, SP used
// name).
type Part struct {
	Qualifier string `xml:"qualifier,attr,omitempty"`
	Value     string `xml:",chardata"`
}

// PN is a person name: structured (family, given) for the patient; a
// professional's name as Relais keeps it (one display name) goes in family.
type PN struct {
	Family []Part `xml:"family"`
	Given  []Part `xml:"given"`
	Text   string `xml:"-"`
}

// MarshalXML writes a display name as the family part when no part is
// given.
func (n PN) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	type plain struct {
		Family []Part `xml:"family"`
		Given  []Part `xml:"given"`
	}
	p := plain{Family: n.Family, Given: n.Given}
	if len(p.Family) == 0 && n.Text != "" {
		p.Family = []Part{{Value: n.Text}}
	}
	return e.EncodeElement(p, start)
}

// RecordTarget is the patient.
type RecordTarget struct {
	PatientRole PatientRole `xml:"patientRole"`
}

// PatientRole holds the patient's ids (INS, IPP).
type PatientRole struct {
	IDs     []II          `xml:"id"`
	Addr    *Null         `xml:"addr,omitempty"`
	Telecom *Null         `xml:"telecom,omitempty"`
	Patient PatientEntity `xml:"patient"`
}

// PatientEntity is the patient's traits.
type PatientEntity struct {
	Name      PN `xml:"name"`
	Gender    CE `xml:"administrativeGenderCode"`
	BirthTime TS `xml:"birthTime"`
}

// Author is an author: a person or a device.
type Author struct {
	Time           TS             `xml:"time"`
	AssignedAuthor AssignedAuthor `xml:"assignedAuthor"`
}

// AssignedAuthor is the author's role.
type AssignedAuthor struct {
	IDs          []II          `xml:"id"`
	Person       *PersonEntity `xml:"assignedPerson,omitempty"`
	Device       *Device       `xml:"assignedAuthoringDevice,omitempty"`
	Organization *Org          `xml:"representedOrganization,omitempty"`
}

// PersonEntity is a person.
type PersonEntity struct {
	Name PN `xml:"name"`
}

// Device is the software that made the document.
type Device struct {
	Model    string `xml:"manufacturerModelName"`
	Software string `xml:"softwareName"`
}

// Org is an organization.
type Org struct {
	IDs           []II   `xml:"id"`
	Name          string `xml:"name,omitempty"`
	IndustryClass *CE    `xml:"standardIndustryClassCode,omitempty"`
}

// Custodian keeps the document.
type Custodian struct {
	Assigned AssignedCustodian `xml:"assignedCustodian"`
}

// AssignedCustodian is the custodian's role.
type AssignedCustodian struct {
	Org CustodianOrg `xml:"representedCustodianOrganization"`
}

// CustodianOrg is the custodian organization.
type CustodianOrg struct {
	IDs  []II   `xml:"id"`
	Name string `xml:"name"`
}

// LegalAuthenticator is responsible for the document.
type LegalAuthenticator struct {
	Time      TS             `xml:"time"`
	Signature CS             `xml:"signatureCode"`
	Entity    AssignedEntity `xml:"assignedEntity"`
}

// Authenticator attests the document (or part of it).
type Authenticator struct {
	Time      TS             `xml:"time"`
	Signature CS             `xml:"signatureCode"`
	Entity    AssignedEntity `xml:"assignedEntity"`
}

// AssignedEntity is a professional's role.
type AssignedEntity struct {
	IDs          []II          `xml:"id"`
	Person       *PersonEntity `xml:"assignedPerson,omitempty"`
	Organization *Org          `xml:"representedOrganization,omitempty"`
}

// DocumentationOf names the act documented.
type DocumentationOf struct {
	ServiceEvent ServiceEvent `xml:"serviceEvent"`
}

// ServiceEvent is the act documented, when and by whom.
type ServiceEvent struct {
	EffectiveTime IVL         `xml:"effectiveTime"`
	Performer     []Performer `xml:"performer"`
}

// Performer did the act.
type Performer struct {
	TypeCode string         `xml:"typeCode,attr"`
	Entity   AssignedEntity `xml:"assignedEntity"`
}

// ComponentOf is the encounter the document belongs to.
type ComponentOf struct {
	Encounter Encounter `xml:"encompassingEncounter"`
}

// Encounter is the patient's care episode.
type Encounter struct {
	EffectiveTime IVL      `xml:"effectiveTime"`
	Location      Location `xml:"location"`
}

// Location is where the care takes place.
type Location struct {
	Facility Facility `xml:"healthCareFacility"`
}

// Facility is the kind of facility.
type Facility struct {
	Code CE `xml:"code"`
}

// Component is the body.
type Component struct {
	NonXMLBody NonXMLBody `xml:"nonXMLBody"`
}

// NonXMLBody is a non-structured body.
type NonXMLBody struct {
	Text ED `xml:"text"`
}

// ED is encapsulated data.
type ED struct {
	MediaType      string `xml:"mediaType,attr"`
	Representation string `xml:"representation,attr"`
	Value          string `xml:",chardata"`
}
