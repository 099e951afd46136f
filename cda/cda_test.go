package cda

import (
	"bytes"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/relais-onco/relais"
)

// publishedNIR: « 2 06 12 75 111 005 … sa clé est : 64 » (lbcd78.fr,
// « Calcul de la clé du n° de sécurité sociale », 2007).
const publishedNIR = "206127511100564"

// A PDF body: the smallest file pdftotext accepts is not needed here (the
// outbox tests carry real documents); the bytes only have to come back
// unchanged, including bytes that are not UTF-8.
var testPDF = []byte("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n")

func testDocument() Document {
	paris, _ := time.LoadLocation("Europe/Paris")
	at := time.Date(2025, 3, 13, 17, 0, 0, 0, time.UTC)
	site := "1.2.250.1.999.1"
	dr := Person{IDRoot: site, ID: "0195a2b3-c4d5-7e6f-8081-92a3b4c5d6e7", Name: "Dr Claire Martin"}
	return Document{
		ID: "2.25.1234567890", SetID: "2.25.987654321", Version: 2,
		Type:          Code{Code: "18776-5", System: SystemLOINC, Display: "Plan of care note"},
		Title:         "Plan de traitement ABVD v1 cycle 2",
		EffectiveTime: at,
		Patient: Patient{INS: publishedNIR, INSOID: OIDINSNIR, LocalID: "7001", LocalIDRoot: "1.2.250.1.999.2",
			BirthName: "NOËL", UsedName: "MARTIN", FirstNames: []string{"Zoé", "Anne"}, Sex: "F", BirthDate: "2006-12-14"},
		Author: dr, AuthorTime: at, Device: "Relais 0.1.0",
		Organization:       Organization{IDRoot: site, Name: "CHU de Test & Cie <PUI>"},
		LegalAuthenticator: Authentication{Person: dr, Time: at},
		Authenticators: []Authentication{{Person: Person{IDRoot: site, ID: "ph-1", Name: "Dr Yann Morvan"},
			Time: at.Add(time.Hour)}},
		ServiceStart: time.Date(2025, 3, 14, 0, 0, 0, 0, paris), ServiceEnd: time.Date(2025, 3, 28, 0, 0, 0, 0, paris),
		Performer:       dr,
		PracticeSetting: Code{Code: "ETABLISSEMENT", System: "1.2.250.1.213.1.1.4.9", Display: "Etablissement de santé"},
		FacilityType:    Code{Code: "SA01", System: "1.2.250.1.71.4.2.4", Display: "Etablissement Public de santé"},
		PDF:             testPDF,
	}
}

func TestEncodeHeaderAndBody(t *testing.T) {
	b, err := Encode(testDocument())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte(`<?xml version="1.0" encoding="UTF-8"?>`)) {
		t.Errorf("no XML declaration with UTF-8: %.60s", b)
	}
	cd, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if cd.XMLName.Space != Namespace {
		t.Errorf("root namespace %q", cd.XMLName.Space)
	}
	if cd.RealmCode.Code != "FR" || cd.TypeID.Root != TypeIDRoot || cd.TypeID.Extension != TypeIDExtension || cd.LanguageCode.Code != "fr-FR" {
		t.Errorf("realm/typeId/language: %+v %+v %+v", cd.RealmCode, cd.TypeID, cd.LanguageCode)
	}
	roots := map[string]bool{}
	for _, id := range cd.TemplateIDs {
		roots[id.Root] = true
	}
	for _, want := range []string{TemplateHL7France, TemplateCISIS, TemplateXDSSD} {
		if !roots[want] {
			t.Errorf("templateId %s missing: %v", want, cd.TemplateIDs)
		}
	}
	if cd.ID.Root != "2.25.1234567890" || cd.SetID.Root != "2.25.987654321" || cd.VersionNumber.Value != 2 {
		t.Errorf("id %+v setId %+v version %+v", cd.ID, cd.SetID, cd.VersionNumber)
	}
	if cd.Code.Code != "18776-5" || cd.Code.CodeSystem != SystemLOINC || cd.Confidentiality.Code != "N" ||
		cd.Confidentiality.CodeSystem != SystemConfidentiality {
		t.Errorf("code %+v confidentiality %+v", cd.Code, cd.Confidentiality)
	}
	// 17:00 UTC in March is 18:00 in Paris (UTC+1).
	if cd.EffectiveTime.Value != "20250313180000+0100" {
		t.Errorf("effectiveTime %q", cd.EffectiveTime.Value)
	}
	role := cd.RecordTarget.PatientRole
	if len(role.IDs) != 2 || role.IDs[0].Root != OIDINSNIR || role.IDs[0].Extension != publishedNIR ||
		role.IDs[1].Root != "1.2.250.1.999.2" || role.IDs[1].Extension != "7001" {
		t.Errorf("patientRole/id = %+v, want the INS under %s then the IPP", role.IDs, OIDINSNIR)
	}
	n := role.Patient.Name
	if len(n.Family) != 2 || n.Family[0] != (Part{"BR", "NOËL"}) || n.Family[1] != (Part{"SP", "MARTIN"}) ||
		len(n.Given) != 2 || n.Given[0].Value != "Zoé" {
		t.Errorf("patient name %+v", n)
	}
	if role.Patient.Gender.Code != "F" || role.Patient.BirthTime.Value != "20061214" {
		t.Errorf("gender %+v birth %+v", role.Patient.Gender, role.Patient.BirthTime)
	}
	if len(cd.Authors) != 2 || cd.Authors[0].AssignedAuthor.Person == nil || cd.Authors[1].AssignedAuthor.Device == nil ||
		cd.Authors[0].AssignedAuthor.Person.Name.Family[0].Value != "Dr Claire Martin" {
		t.Errorf("authors %+v", cd.Authors)
	}
	if o := cd.Custodian.Assigned.Org; o.Name != "CHU de Test & Cie <PUI>" || o.IDs[0].Root != "1.2.250.1.999.1" {
		t.Errorf("custodian %+v", o)
	}
	if la := cd.LegalAuthenticator; la.Signature.Code != "S" || la.Entity.IDs[0].Extension != "0195a2b3-c4d5-7e6f-8081-92a3b4c5d6e7" {
		t.Errorf("legalAuthenticator %+v", la)
	}
	if len(cd.Authenticators) != 1 || cd.Authenticators[0].Entity.Person.Name.Family[0].Value != "Dr Yann Morvan" {
		t.Errorf("authenticators %+v", cd.Authenticators)
	}
	se := cd.DocumentationOf[0].ServiceEvent
	if se.EffectiveTime.Low.Value != "20250314000000+0100" || se.EffectiveTime.High.Value != "20250328000000+0100" ||
		se.Performer[0].TypeCode != "PRF" || se.Performer[0].Entity.Organization.IndustryClass.Code != "ETABLISSEMENT" {
		t.Errorf("serviceEvent %+v", se)
	}
	if cd.ComponentOf.Encounter.Location.Facility.Code.Code != "SA01" {
		t.Errorf("encounter %+v", cd.ComponentOf.Encounter)
	}
	pdf, err := cd.PDF()
	if err != nil || !bytes.Equal(pdf, testPDF) {
		t.Errorf("the PDF does not come back from nonXMLBody: %v", err)
	}
	wellFormed(t, b)
}

// A patient without a qualified identity has no INS in the document: only
// the local id.
func TestNoINSWithoutQualifiedIdentity(t *testing.T) {
	d := testDocument()
	d.Patient.INS, d.Patient.INSOID = "", ""
	b, err := Encode(d)
	if err != nil {
		t.Fatal(err)
	}
	cd, _ := Decode(b)
	if ids := cd.RecordTarget.PatientRole.IDs; len(ids) != 1 || ids[0].Extension != "7001" {
		t.Errorf("patientRole/id = %+v", ids)
	}
	if strings.Contains(string(b), "1.2.250.1.213.1.4.") {
		t.Error("an INS OID is written for a patient without INS")
	}
}

func TestEncodeRefusesBadInput(t *testing.T) {
	d := testDocument()
	d.ID = "urn:uuid:1234"
	d.Version = 0
	d.Patient.INS = "12345"
	d.Patient.INSOID = "1.2.3"
	d.Patient.Sex = "X"
	d.Patient.FirstNames = nil
	d.Organization.IDRoot = ""
	d.Title = "bad \x01 title"
	d.PDF = []byte("<html>")
	b, err := Encode(d)
	if b != nil {
		t.Error("a document was written despite the faults")
	}
	got := map[string]bool{}
	for _, fe := range relais.FieldErrors(err) {
		got[fe.Field] = true
	}
	for _, f := range []string{"id", "version", "patient.ins", "patient.ins_oid", "patient.sex", "patient.first_names",
		"organization.id_root", "title", "pdf"} {
		if !got[f] {
			t.Errorf("the error does not name %s: %v", f, err)
		}
	}
	d = testDocument()
	d.Patient.INS, d.Patient.LocalID = "", ""
	if _, err := Encode(d); !hasField(err, "patient.id") {
		t.Errorf("a patient with no id at all: %v", err)
	}
}

func hasField(err error, f string) bool {
	for _, fe := range relais.FieldErrors(err) {
		if fe.Field == f {
			return true
		}
	}
	return false
}

// The element order is the CDA R2 schema's (an XSD-validating receiver
// rejects another order): the header elements come in this order.
func TestHeaderElementOrder(t *testing.T) {
	b, err := Encode(testDocument())
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(b))
	var order []string
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch x := tok.(type) {
		case xml.StartElement:
			depth++
			if depth == 2 && (len(order) == 0 || order[len(order)-1] != x.Name.Local) {
				order = append(order, x.Name.Local)
			}
			if x.Name.Space != Namespace {
				t.Errorf("element %s is in namespace %q", x.Name.Local, x.Name.Space)
			}
		case xml.EndElement:
			depth--
		}
	}
	want := "realmCode typeId templateId id code title effectiveTime confidentialityCode languageCode setId versionNumber " +
		"recordTarget author custodian legalAuthenticator authenticator documentationOf componentOf component"
	if got := strings.Join(order, " "); got != want {
		t.Errorf("order:\n got %s\nwant %s", got, want)
	}
}

// wellFormed has libxml2's xmllint read the document (Debian package
// libxml2-utils; .ci/run installs it): not well-formed XML fails the test.
func wellFormed(t *testing.T, doc []byte) {
	t.Helper()
	bin, err := exec.LookPath("xmllint")
	if err != nil {
		t.Log("xmllint is not installed (apt-get install libxml2-utils): well-formedness checked by encoding/xml only")
		return
	}
	f := filepath.Join(t.TempDir(), "doc.xml")
	os.WriteFile(f, doc, 0o644)
	if out, err := exec.Command(bin, "--noout", "--huge", f).CombinedOutput(); err != nil {
		t.Fatalf("xmllint: the CDA is not well-formed: %v\n%s", err, out)
	}
}

func TestWellFormedCatchesBadXML(t *testing.T) {
	if _, err := exec.LookPath("xmllint"); err != nil {
		t.Skip("xmllint is not installed (apt-get install libxml2-utils)")
	}
	f := filepath.Join(t.TempDir(), "bad.xml")
	os.WriteFile(f, []byte(`<?xml version="1.0"?><ClinicalDocument><title>a & b</title></ClinicalDocument>`), 0o644)
	if err := exec.Command("xmllint", "--noout", f).Run(); err == nil {
		t.Fatal("xmllint accepts an unescaped &: the well-formedness check would check nothing")
	}
}
