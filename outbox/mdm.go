package outbox

import (
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/hl7"
)

// MDM builds the HL7 v2.5 MDM^T02 message that files a document in the
// EHR, as the French specification for sending documents in HL7 v2 does
// (CI-SIS, « Transmission de documents en HL7 v2.5 »): the patient in PID
// (IPP, and the INS of a qualified identity, with PID-32), a TXA naming the
// document (type, unique id, author, status), and one OBX of type ED whose
// OBX-5 carries the file in Base64: a CDA document as the ANS
// specification « Transmission de documents CDA en HL7 v2 » writes it
// (^TEXT^XML^Base64^…), a bare PDF as ^application^pdf^Base64^… (that
// specification carries CDA only; the PDF case is Relais's, see
// docs/integration/documents.md).
func MDM(doc Document, f File, site string, dest Destination, sendingApp string, now time.Time) ([]byte, error) {
	if sendingApp == "" {
		sendingApp = "RELAIS"
	}
	m := hl7.NewMessage()
	msh := m.MSH()
	msh.Set(3, sendingApp)
	msh.Set(4, site)
	msh.Set(5, dest.ReceivingApp)
	msh.Set(6, dest.ReceivingFacility)
	ts := now.In(relais.DisplayZone).Format(hl7.TimeFormat)
	msh.Set(7, ts)
	msh.SetComps(9, "MDM", "T02", "MDM_T02")
	msh.Set(10, ControlID(f.ID))
	msh.Set(11, "P")
	msh.Set(12, "2.5")
	msh.Set(17, "FRA")
	msh.Set(18, hl7.CharsetUTF8)
	evn := m.Add("EVN")
	evn.Set(2, ts)
	addPID(m, doc.Patient, dest.IPPAuthority)
	pv1 := m.Add("PV1")
	pv1.Set(2, "N") // patient class: not applicable (a document, not a stay)
	txa := m.Add("TXA")
	txa.Set(1, "1")
	txa.SetComps(2, doc.TypeCode, doc.TypeName, "LN")
	txa.Set(3, "AP")
	created := doc.CreatedAt.In(relais.DisplayZone).Format(hl7.TimeFormat)
	txa.Set(4, created)
	txa.Set(6, created)
	txa.SetComps(9, "", doc.Author.Name)
	txa.SetComps(12, string(f.ID), sendingApp)
	txa.Set(17, "AU")
	obx := m.Add("OBX")
	obx.Set(1, "1")
	obx.Set(2, "ED")
	obx.SetComps(3, doc.TypeCode, doc.TypeName, "LN")
	switch f.Format {
	case FormatCDA:
		obx.SetComps(5, "", "TEXT", "XML", "Base64", base64.StdEncoding.EncodeToString(f.Data))
	case FormatPDF:
		obx.SetComps(5, "", "application", "pdf", "Base64", base64.StdEncoding.EncodeToString(f.Data))
	default:
		return nil, fmt.Errorf("outbox: unknown file format %q", f.Format)
	}
	obx.Set(11, "F")
	obx.Set(14, created)
	return m.Encode()
}

// ControlID is the MSH-10 of the message of a document: 20 characters at
// most (HL7 v2.5's length for MSH-10), unique per document.
func ControlID(id relais.ID) string {
	s := strings.ReplaceAll(string(id), "-", "")
	if len(s) > 20 {
		s = s[:20]
	}
	return s
}

func addPID(m *hl7.Message, p relais.Patient, authority string) {
	pid := m.Add("PID")
	ids := hl7.Field{hl7.Repetition{{p.IPP}, {""}, {""}, {authority}, {"PI"}}}
	if p.INS.Status == relais.IdentityQualified && p.INS.Matricule != "" {
		ns := "ASIP-SANTE-INS-NIR"
		if p.INS.OID == relais.OIDNIA || p.INS.OID == relais.OIDNIATest {
			ns = "ASIP-SANTE-INS-NIA"
		}
		ids = append(ids, hl7.Repetition{{p.INS.Matricule}, {""}, {""}, {ns, p.INS.OID, "ISO"}, {"INS"}})
	}
	pid.SetField(3, ids)
	first := ""
	if len(p.FirstNames) > 0 {
		first = p.FirstNames[0]
	}
	names := hl7.Field{hl7.Repetition{{p.BirthName}, {first}, {strings.Join(p.FirstNames, " ")}, {""}, {""}, {""}, {"L"}}}
	if p.UsedName != "" {
		names = append(names, hl7.Repetition{{p.UsedName}, {first}, {""}, {""}, {""}, {""}, {"D"}})
	}
	pid.SetField(5, names)
	pid.Set(7, strings.ReplaceAll(string(p.BirthDate), "-", ""))
	pid.Set(8, string(p.Sex))
	if p.BirthplaceCode != "" {
		pid.SetComps(11, "", "", "", "", "", "", "BDL", "", p.BirthplaceCode)
	}
	status := map[relais.IdentityStatus]string{relais.IdentityProvisional: "PROV", relais.IdentityRecovered: "RECUP",
		relais.IdentityValidated: "VALI", relais.IdentityQualified: "QUAL"}[p.INS.Status]
	pid.Set(32, status)
}
