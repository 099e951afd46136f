package outbox

import (
	"archive/zip"
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"mime"
	"mime/multipart"
	"net/textproto"
	"strings"
	"time"

	"github.com/relais-onco/relais"
)

// IHE XDM (ITI TF-1 §16, ITI TF-3 §4.2): the zip a secure health mail
// carries. Its folder IHE_XDM/SUBSET01 holds the document and METADATA.XML,
// the XDS metadata of the document entry and of the submission set; INDEX.HTM
// and README.TXT at the root say what it is to a person who opens it. MSSanté
// names the attachment IHE_XDM.ZIP.

// XDS metadata identifiers (ITI TF-3 §4.2.5).
const (
	xdsDocumentEntry     = "urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1"
	xdsDocUniqueID       = "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab"
	xdsDocPatientID      = "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427"
	xdsDocClassCode      = "urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a"
	xdsDocTypeCode       = "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983"
	xdsDocFormatCode     = "urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d"
	xdsSubmissionSet     = "urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd"
	xdsSubsetUniqueID    = "urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8"
	xdsSubsetSourceID    = "urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832"
	xdsSubsetPatientID   = "urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446"
	xdsSubsetContentType = "urn:uuid:aa543740-bdda-424e-8c96-df4873be8500"
	// XDMDocumentPath is where a PDF is in the zip, XDMCDAPath a CDA.
	XDMDocumentPath = "IHE_XDM/SUBSET01/DOC0001.PDF"
	XDMCDAPath      = "IHE_XDM/SUBSET01/DOC0001.XML"
	XDMMetadataPath = "IHE_XDM/SUBSET01/METADATA.XML"
	// Format codes (XDSDocumentEntry.formatCode, IHE coding scheme
	// 1.3.6.1.4.1.19376.1.2.3): a CDA whose body is a PDF is IHE XDS-SD's
	// « urn:ihe:iti:xds-sd:pdf:2008 »; a bare PDF is described by its mime
	// type alone (ITI TF-3 §4.2.3.2.12, « mimeTypeSufficient »).
	FormatCodeScheme         = "1.3.6.1.4.1.19376.1.2.3"
	FormatCodeXDSSDPDF       = "urn:ihe:iti:xds-sd:pdf:2008"
	FormatCodeMimeSufficient = "urn:ihe:iti:xds:2017:mimeTypeSufficient"
)

// xdmFile says where a file goes in the zip and how METADATA.XML describes
// it.
func xdmFile(f File) (path, uri, mimeType, formatCode, formatName string) {
	if f.Format == FormatCDA {
		return XDMCDAPath, "DOC0001.XML", "text/xml", FormatCodeXDSSDPDF, "Document à corps non structuré en PDF"
	}
	return XDMDocumentPath, "DOC0001.PDF", "application/pdf", FormatCodeMimeSufficient, "Format décrit par le type MIME"
}

// xdsPatientID writes a patient id in the CX form XDS uses: the INS of a
// qualified identity (NIR/NIA OID, type NH), else the IPP under the site's
// authority.
func xdsPatientID(p relais.Patient, ippAuthority string) string {
	if p.INS.Status == relais.IdentityQualified && p.INS.Matricule != "" {
		return p.INS.Matricule + "^^^&" + p.INS.OID + "&ISO^NH"
	}
	return p.IPP + "^^^&" + ippAuthority + "&ISO^PI"
}

func xmlEscape(s string) string {
	var b bytes.Buffer
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// metadata writes METADATA.XML.
func metadata(doc Document, f File, site, sourceOID, ippAuthority string) string {
	_, uri, mimeType, formatCode, formatName := xdmFile(f)
	sum := sha1.Sum(f.Data)
	ts := doc.CreatedAt.UTC().Format("20060102150405")
	slot := func(name string, vals ...string) string {
		var b strings.Builder
		fmt.Fprintf(&b, `<rim:Slot name="%s"><rim:ValueList>`, name)
		for _, v := range vals {
			fmt.Fprintf(&b, "<rim:Value>%s</rim:Value>", xmlEscape(v))
		}
		b.WriteString("</rim:ValueList></rim:Slot>")
		return b.String()
	}
	name := func(s string) string {
		return `<rim:Name><rim:LocalizedString value="` + xmlEscape(s) + `"/></rim:Name>`
	}
	class := func(scheme, obj, code, codingScheme, display string) string {
		return fmt.Sprintf(`<rim:Classification classificationScheme="%s" classifiedObject="%s" nodeRepresentation="%s" id="urn:uuid:%s">%s%s</rim:Classification>`,
			scheme, obj, xmlEscape(code), relais.NewID(), slot("codingScheme", codingScheme), name(display))
	}
	ext := func(scheme, obj, value, label string) string {
		return fmt.Sprintf(`<rim:ExternalIdentifier identificationScheme="%s" registryObject="%s" value="%s" id="urn:uuid:%s">%s</rim:ExternalIdentifier>`,
			scheme, obj, xmlEscape(value), relais.NewID(), name(label))
	}
	docObj, setObj := "Document01", "SubmissionSet01"
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<lcm:SubmitObjectsRequest xmlns:lcm="urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0" xmlns:rim="urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"><rim:RegistryObjectList>`)
	fmt.Fprintf(&b, `<rim:ExtrinsicObject id="%s" mimeType="%s" objectType="%s">`, docObj, mimeType, xdsDocumentEntry)
	b.WriteString(slot("creationTime", ts) + slot("hash", hex.EncodeToString(sum[:])) + slot("size", fmt.Sprint(len(f.Data))) +
		slot("URI", uri) + slot("languageCode", "fr-FR") + slot("sourcePatientId", doc.Patient.IPP+"^^^&"+ippAuthority+"&ISO^PI") +
		slot("sourcePatientInfo", "PID-5|"+doc.Patient.BirthName+"^"+strings.Join(doc.Patient.FirstNames, " ")+"^^^^^L",
			"PID-7|"+strings.ReplaceAll(string(doc.Patient.BirthDate), "-", ""), "PID-8|"+string(doc.Patient.Sex)))
	b.WriteString(name(doc.Title))
	b.WriteString(class(xdsDocClassCode, docObj, "11488-4", "LOINC", "Consultation note"))
	b.WriteString(class(xdsDocTypeCode, docObj, doc.TypeCode, "LOINC", doc.TypeName))
	b.WriteString(class(xdsDocFormatCode, docObj, formatCode, FormatCodeScheme, formatName))
	b.WriteString(ext(xdsDocPatientID, docObj, xdsPatientID(doc.Patient, ippAuthority), "XDSDocumentEntry.patientId"))
	b.WriteString(ext(xdsDocUniqueID, docObj, OID(f.ID), "XDSDocumentEntry.uniqueId"))
	b.WriteString(`</rim:ExtrinsicObject>`)
	fmt.Fprintf(&b, `<rim:RegistryPackage id="%s">`, setObj)
	b.WriteString(slot("submissionTime", ts) + name("Relais "+site))
	b.WriteString(class(xdsSubsetContentType, setObj, doc.TypeCode, "LOINC", doc.TypeName))
	b.WriteString(ext(xdsSubsetUniqueID, setObj, "2.25."+uuidDecimal(relais.NewID()), "XDSSubmissionSet.uniqueId"))
	b.WriteString(ext(xdsSubsetSourceID, setObj, sourceOID, "XDSSubmissionSet.sourceId"))
	b.WriteString(ext(xdsSubsetPatientID, setObj, xdsPatientID(doc.Patient, ippAuthority), "XDSSubmissionSet.patientId"))
	b.WriteString(`</rim:RegistryPackage>`)
	fmt.Fprintf(&b, `<rim:Classification classifiedObject="%s" classificationNode="%s" id="urn:uuid:%s"/>`, setObj, xdsSubmissionSet, relais.NewID())
	fmt.Fprintf(&b, `<rim:Association associationType="urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember" sourceObject="%s" targetObject="%s" id="urn:uuid:%s">%s</rim:Association>`,
		setObj, docObj, relais.NewID(), slot("SubmissionSetStatus", "Original"))
	b.WriteString(`</rim:RegistryObjectList></lcm:SubmitObjectsRequest>` + "\n")
	return b.String()
}

// uuidDecimal writes a UUID as the decimal integer of its 128 bits, for an
// OID under 2.25 (ITU-T X.667).
func uuidDecimal(id relais.ID) string {
	h, _ := hex.DecodeString(strings.ReplaceAll(string(id), "-", ""))
	// 128-bit unsigned to decimal by repeated division.
	n := append([]byte(nil), h...)
	var digits []byte
	for {
		zero := true
		rem := 0
		for i := range n {
			v := rem*256 + int(n[i])
			n[i] = byte(v / 10)
			rem = v % 10
			if n[i] != 0 {
				zero = false
			}
		}
		digits = append(digits, byte('0'+rem))
		if zero {
			break
		}
	}
	for i, j := 0, len(digits)-1; i < j; i, j = i+1, j-1 {
		digits[i], digits[j] = digits[j], digits[i]
	}
	return string(digits)
}

// XDM builds the IHE_XDM.ZIP of a document's file (its PDF or its CDA).
func XDM(doc Document, f File, site, sourceOID, ippAuthority string) ([]byte, error) {
	path, uri, _, _, _ := xdmFile(f)
	var buf bytes.Buffer
	z := zip.NewWriter(&buf)
	add := func(name string, data []byte) error {
		w, err := z.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: doc.CreatedAt})
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	}
	index := "<html><head><meta charset=\"utf-8\"><title>IHE XDM</title></head><body><p>" + xmlEscape(doc.Title) +
		` — <a href="` + path + `">` + uri + `</a></p><p>Relais ` + xmlEscape(site) + "</p></body></html>\n"
	readme := "Relais " + relais.Version + " (" + site + ")\r\nIHE XDM: IHE_XDM/SUBSET01/METADATA.XML describes " + uri + ".\r\n"
	for _, f := range []struct {
		name string
		data []byte
	}{{"INDEX.HTM", []byte(index)}, {"README.TXT", []byte(readme)},
		{XDMMetadataPath, []byte(metadata(doc, f, site, sourceOID, ippAuthority))}, {path, f.Data}} {
		if err := add(f.name, f.data); err != nil {
			return nil, err
		}
	}
	if err := z.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Mail builds the e-mail of a document's file: a short text and
// IHE_XDM.ZIP.
func Mail(doc Document, f File, site, sourceOID, ippAuthority string, d Destination, now time.Time) ([]byte, error) {
	zipped, err := XDM(doc, f, site, sourceOID, ippAuthority)
	if err != nil {
		return nil, err
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	hdr := func(k, v string) string { return k + ": " + v + "\r\n" }
	var head strings.Builder
	head.WriteString(hdr("From", d.From))
	head.WriteString(hdr("To", strings.Join(d.To, ", ")))
	head.WriteString(hdr("Subject", mime.QEncoding.Encode("utf-8", doc.Title)))
	head.WriteString(hdr("Date", now.Format(time.RFC1123Z)))
	head.WriteString(hdr("Message-ID", "<"+string(f.ID)+"@"+site+".relais>"))
	head.WriteString(hdr("MIME-Version", "1.0"))
	head.WriteString(hdr("Content-Type", `multipart/mixed; boundary="`+mw.Boundary()+`"`))
	head.WriteString("\r\n")
	tp, _ := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"text/plain; charset=utf-8"}, "Content-Transfer-Encoding": {"8bit"}})
	fmt.Fprintf(tp, "%s\r\n\r\nDocument envoyé par Relais (%s) au format IHE XDM : voir la pièce jointe IHE_XDM.ZIP.\r\nDocument sent by Relais (%s) as IHE XDM: see the attachment IHE_XDM.ZIP.\r\n",
		doc.Title, site, site)
	zp, _ := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {`application/zip; name="IHE_XDM.ZIP"`},
		"Content-Disposition": {`attachment; filename="IHE_XDM.ZIP"`}, "Content-Transfer-Encoding": {"base64"}})
	enc := base64Lines(zipped)
	zp.Write([]byte(enc))
	mw.Close()
	return append([]byte(head.String()), body.Bytes()...), nil
}

// base64Lines is base64 in lines of 76 characters (RFC 2045).
func base64Lines(b []byte) string {
	s := base64Std(b)
	var out strings.Builder
	for len(s) > 76 {
		out.WriteString(s[:76] + "\r\n")
		s = s[76:]
	}
	out.WriteString(s + "\r\n")
	return out.String()
}
