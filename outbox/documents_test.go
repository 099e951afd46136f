package outbox

import (
	"archive/zip"
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/cda"
	"github.com/relais-onco/relais/clinical"
	"github.com/relais-onco/relais/hl7"
)

// publishedNIR: « 2 06 12 75 111 005 … sa clé est : 64 » (lbcd78.fr,
// « Calcul de la clé du n° de sécurité sociale », 2007).
const publishedNIR = "206127511100564"

const (
	testSiteOID = "1.2.250.1.999.1"
	testIPPOID  = "1.2.250.1.999.2"
)

func testPatient(status relais.IdentityStatus) relais.Patient {
	p := relais.Patient{ID: relais.NewID(), Site: "chu-test", IPP: "7001", BirthName: "NOËL", UsedName: "MARTIN",
		FirstNames: []string{"Zoé", "Anne"}, BirthDate: "2006-12-14", Sex: relais.SexFemale, BirthplaceCode: "75111",
		INS: relais.INS{Status: status}}
	if status.HasINS() {
		p.INS.Matricule, p.INS.OID = publishedNIR, relais.OIDNIR
	}
	return p
}

func testPharmacy() relais.Pharmacy {
	return relais.Pharmacy{Site: "chu-test", Name: "PUI – CHU de Test", Address: "1 rue de l'Hôpital\n35000 Rennes", Phone: "02 99 00 00 00"}
}

// A cycle of doxorubicin 25 mg/m² at BSA 1.23 m² = 30.75 mg (ABVD as
// published: Bonadonna G et al., Cancer 1975;36:252–9 — doxorubicin 25
// mg/m² days 1 and 15), BSA by Mosteller's formula √(150 × 36.3 / 3600) =
// 1.2298 m², 1.23 m² (Mosteller RD, N Engl J Med 1987;317:1098). The dose
// is printed as computed, with its derivation, not rounded again.
// Ondansetron 5 mg/m² before chemotherapy (Zophren SmPC, 4.2, children) ×
// 1.23 m² = 6.15 mg, the supportive care of day 1.
func testPrescription(p relais.Patient) relais.Prescription {
	signed := time.Date(2025, 3, 13, 17, 0, 0, 0, time.UTC)
	validated := time.Date(2025, 3, 14, 8, 30, 0, 0, time.UTC)
	calc := clinical.Result{Value: 30.75, Unit: "mg", Steps: []clinical.Step{
		{Code: "bsa.mosteller", FR: "Surface corporelle (Mosteller) : √(150 cm × 36,3 kg / 3600) = 1,23 m²"},
		{Code: "dose.per_m2", FR: "25 mg/m² × 1,23 m² = 30,75 mg"}}}
	return relais.Prescription{ID: relais.NewID(), Site: "chu-test", PatientID: p.ID, Cycle: 2, StartDate: "2025-03-14",
		Status: relais.PrescriptionSigned, Regimen: "ABVD v1", PrescriberName: "Dr Claire Martin", PrescriberID: relais.NewID(),
		SignedAt:     signed,
		Measurements: relais.UsedMeasurements{HeightCm: 150, WeightKg: 36.3, BSAM2: 1.23},
		Lines: []relais.PrescriptionLine{
			{ID: relais.NewID(), Seq: 2, Day: 1, Date: "2025-03-14", INN: "doxorubicine", Kind: "chemo", Route: "IV", Dose: 30.75, Unit: "mg",
				Calculation: calc, Vehicle: "NaCl 0,9 %", VolumeML: 100, DurationMin: 30, Status: relais.LineValidated,
				Validation: &relais.LineValidation{Decision: relais.DecisionAccept, By: "Dr Yann Morvan", ByID: "ph-1", At: validated}},
			{ID: relais.NewID(), Seq: 1, Day: 1, Date: "2025-03-14", INN: "ondansétron", Kind: "premedication", Route: "IV", Dose: 6.15,
				Unit: "mg", Vehicle: "NaCl 0,9 %", VolumeML: 50, DurationMin: 15, Status: relais.LineValidated,
				Validation: &relais.LineValidation{Decision: relais.DecisionAccept, By: "Dr Yann Morvan", ByID: "ph-1", At: validated}},
			{ID: relais.NewID(), Seq: 1, Day: 15, Date: "2025-03-28", INN: "doxorubicine", Kind: "chemo", Route: "IV", Dose: 30.75, Unit: "mg",
				Calculation: calc, Status: relais.LineProposed},
		},
		Checks: []relais.Check{{Code: "weight.age", Level: relais.LevelAcknowledge, FR: "Poids mesuré il y a 9 jours",
			Ack: &relais.CheckAck{By: "Dr Claire Martin", At: signed.Add(-time.Minute), Reason: "poids stable, pesée du jour identique"}}},
	}
}

func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	bin, err := exec.LookPath("pdftotext")
	if err != nil {
		t.Skip("pdftotext is not installed (apt-get install poppler-utils)")
	}
	f := filepath.Join(t.TempDir(), "doc.pdf")
	os.WriteFile(f, pdf, 0o644)
	out, err := exec.Command(bin, "-raw", "-enc", "UTF-8", f, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext cannot read the document: %v\n%s", err, out)
	}
	return strings.Join(strings.Fields(string(out)), " ")
}

func mustContain(t *testing.T, what, text string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(text, want) {
			t.Errorf("%s does not say %q:\n%s", what, want, text)
		}
	}
}

func testPlan(t *testing.T, status relais.IdentityStatus) Document {
	t.Helper()
	p := testPatient(status)
	doc, err := TreatmentPlan(p, testPrescription(p), testPharmacy(), time.Date(2025, 3, 14, 8, 30, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestTreatmentPlanReads(t *testing.T) {
	doc := testPlan(t, relais.IdentityQualified)
	if doc.Version != 2 || len(doc.Authenticators) != 1 || doc.Author.Name != "Dr Claire Martin" {
		t.Errorf("version %d (signature, then one validation: 2), authenticators %+v", doc.Version, doc.Authenticators)
	}
	mustContain(t, "the plan", pdfText(t, doc.PDF),
		"PLAN DE TRAITEMENT", "NOËL", "MARTIN", "Zoé", "14/12/2006", "7001", publishedNIR+" (OID 1.2.250.1.213.1.4.8)",
		"ABVD v1", "Cure 2", "14/03/2025", "36,3 kg", "150 cm", "1,23 m²",
		"Dr Claire Martin, le 13/03/2025 18:00", "2 (après validation pharmaceutique)",
		"Prémédication ONDANSÉTRON 6,15 mg IV NaCl 0,9 % 50 mL 15 min validée",
		"Chimiothérapie DOXORUBICINE 30,75 mg IV NaCl 0,9 % 100 mL 30 min validée",
		"Calcul de la dose : Surface corporelle (Mosteller) : racine(150 cm × 36,3 kg / 3600) = 1,23 m² ; 25 mg/m² × 1,23 m² = 30,75 mg",
		"Validation pharmaceutique : acceptée par Dr Yann Morvan le 14/03/2025 09:30",
		"J15 28/03/2025", "proposée",
		"Poids mesuré il y a 9 jours", "poids stable, pesée du jour identique")
}

// Only a qualified identity's INS is shared (Référentiel INS).
func TestReportsWithholdINSOfUnqualifiedIdentity(t *testing.T) {
	doc := testPlan(t, relais.IdentityRecovered)
	text := pdfText(t, doc.PDF)
	if strings.Contains(text, publishedNIR) {
		t.Error("the INS of a recovered (not qualified) identity is printed")
	}
	mustContain(t, "the plan", text, "non transmis (identité non qualifiée)")
}

func testAdministration(prep relais.Preparation, p relais.Patient) relais.Administration {
	start := time.Date(2025, 3, 14, 9, 2, 0, 0, time.UTC)
	return relais.Administration{ID: relais.NewID(), PreparationID: prep.ID, PatientID: p.ID, Outcome: relais.OutcomeAdministered,
		StartedAt: start, EndedAt: start.Add(38 * time.Minute), VolumeGivenML: 100, RateMLH: 200,
		Interruptions: []relais.Interruption{{From: start.Add(10 * time.Minute), To: start.Add(18 * time.Minute), Reason: "douleur au point de ponction"}},
		Incidents: []relais.Incident{{Kind: relais.IncidentExtravasation, At: start.Add(10 * time.Minute),
			Description: "suspicion d'extravasation", Action: "arrêt, aspiration, froid, avis médical"}},
		Scan:        &relais.ScanCheck{PatientIPP: "7001", At: start.Add(-2 * time.Minute), Matched: true},
		SecondNurse: "Léa Bernard", RecordedBy: "Marc Le Bihan", RecordedByID: "nurse-1", RecordedAt: start.Add(45 * time.Minute)}
}

func testPreparation(pr relais.Prescription) relais.Preparation {
	l := pr.Lines[0]
	return relais.Preparation{ID: relais.NewID(), PrescriptionID: pr.ID, LineID: l.ID, INN: l.INN, Route: "IV", Dose: 30.75, Unit: "mg",
		AdministrationDate: "2025-03-14", RegisterNumber: "2025-000042", Plan: &relais.CompoundingPlan{FinalVolumeML: 100}}
}

func TestAdministrationReportReads(t *testing.T) {
	p := testPatient(relais.IdentityQualified)
	pr := testPrescription(p)
	prep := testPreparation(pr)
	a := testAdministration(prep, p)
	doc, err := AdministrationReport(p, prep, pr, a, testPharmacy(), a.RecordedAt)
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, "the report", pdfText(t, doc.PDF),
		"COMPTE RENDU D'ADMINISTRATION", "NOËL", publishedNIR, "DOXORUBICINE", "30,75 mg", "100 mL", "2025-000042", "ABVD v1", "Cure 2 · J1",
		"administrée", "14/03/2025 10:02", "14/03/2025 10:40", "30,75 mg (totalité de la préparation)", "200 mL/h",
		"bracelet concordant (IPP 7001)", "Léa Bernard", "douleur au point de ponction",
		"extravasation", "suspicion d'extravasation", "arrêt, aspiration, froid, avis médical", "Marc Le Bihan, le 14/03/2025 10:47")

	// Part of the bag given: the volumes are reported, no dose is computed.
	a.VolumeGivenML = 80
	doc, err = AdministrationReport(p, prep, pr, a, testPharmacy(), a.RecordedAt)
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, "the report of a partial administration", pdfText(t, doc.PDF),
		"partielle : 80 mL administrés sur 100 mL préparés (dose prévue 30,75 mg)")
}

func TestMDM(t *testing.T) {
	for _, status := range []relais.IdentityStatus{relais.IdentityQualified, relais.IdentityRecovered} {
		doc := testPlan(t, status)
		raw, err := MDM(doc, doc.PDFFile(), "chu-test", Destination{ReceivingApp: "DPI", ReceivingFacility: "CHG", IPPAuthority: "CHGL"}, "", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		m, err := hl7.Parse(raw)
		if err != nil {
			t.Fatalf("the MDM does not parse: %v", err)
		}
		if h := m.Header(); h.Event() != "MDM^T02" || len(h.ControlID) > 20 || h.ReceivingApp != "DPI" {
			t.Errorf("header %+v", h)
		}
		pid := m.Segment("PID")
		ins := false
		for _, r := range pid.Field(3) {
			if r.Comp(5) == "INS" {
				ins = r.Comp(1) == publishedNIR && r.Sub(4, 2) == relais.OIDNIR
			}
		}
		if ins != (status == relais.IdentityQualified) {
			t.Errorf("%s identity: INS sent = %v (only a qualified identity's INS may be shared)", status, ins)
		}
		if pid.Field(5)[0].Comp(1) != "NOËL" || pid.Field(5)[1].Comp(1) != "MARTIN" || pid.Get(32) == "" {
			t.Errorf("PID = %s", m)
		}
		obx := m.Segment("OBX")
		pdf, err := base64.StdEncoding.DecodeString(obx.Comp(5, 5))
		if err != nil || !bytes.Equal(pdf, doc.PDF) || obx.Get(2) != "ED" || obx.Comp(5, 2) != "application" || obx.Comp(5, 3) != "pdf" {
			t.Errorf("OBX-5 does not carry the PDF: %v", err)
		}
		if m.Segment("TXA").Comp(12, 1) != string(doc.ID) {
			t.Errorf("TXA-12 = %q", m.Segment("TXA").Comp(12, 1))
		}
	}
}

// checkCDA reads a CDA as a receiver would and checks the header against
// the document, the INS and OIDs where the CI-SIS puts them, and the PDF in
// nonXMLBody read back by pdftotext with the doses.
func checkCDA(t *testing.T, raw []byte, doc Document, doses ...string) {
	t.Helper()
	cd, err := cda.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	roots := map[string]bool{}
	for _, id := range cd.TemplateIDs {
		roots[id.Root] = true
	}
	if !roots["1.2.250.1.213.1.1.1.1"] || !roots["2.16.840.1.113883.2.8.2.1"] || !roots["1.3.6.1.4.1.19376.1.2.20"] || cd.RealmCode.Code != "FR" {
		t.Errorf("the CI-SIS, HL7 France and XDS-SD templates are not all declared: %+v", cd.TemplateIDs)
	}
	if cd.Code.Code != doc.TypeCode || cd.Code.CodeSystem != "2.16.840.1.113883.6.1" {
		t.Errorf("code %+v, want LOINC %s", cd.Code, doc.TypeCode)
	}
	if cd.SetID.Root != OID(doc.SetID) || cd.VersionNumber.Value != doc.Version {
		t.Errorf("setId %+v version %d, want %s and %d", cd.SetID, cd.VersionNumber.Value, OID(doc.SetID), doc.Version)
	}
	ids := cd.RecordTarget.PatientRole.IDs
	qualified := doc.Patient.INS.Status == relais.IdentityQualified
	if qualified && (len(ids) != 2 || ids[0].Root != "1.2.250.1.213.1.4.8" || ids[0].Extension != publishedNIR) {
		t.Errorf("patientRole/id = %+v, want the INS under the NIR OID 1.2.250.1.213.1.4.8 first", ids)
	}
	if !qualified && (len(ids) != 1 || ids[0].Root == "1.2.250.1.213.1.4.8") {
		t.Errorf("patientRole/id of an unqualified identity = %+v: only the IPP may be sent", ids)
	}
	if last := ids[len(ids)-1]; last.Root != testIPPOID || last.Extension != doc.Patient.IPP {
		t.Errorf("the IPP is not under its domain's OID: %+v", last)
	}
	if o := cd.Custodian.Assigned.Org; len(o.IDs) == 0 || o.IDs[0].Root != testSiteOID || o.Name != testPharmacy().Name {
		t.Errorf("custodian = %+v, want the site %s", o, testSiteOID)
	}
	if la := cd.LegalAuthenticator.Entity; la.Person == nil || la.Person.Name.Family[0].Value != doc.Author.Name || la.IDs[0].Root != testSiteOID {
		t.Errorf("legalAuthenticator = %+v", la)
	}
	pdf, err := cd.PDF()
	if err != nil || !bytes.Equal(pdf, doc.PDF) {
		t.Fatalf("nonXMLBody does not hold the document's PDF: %v", err)
	}
	mustContain(t, "the PDF in the CDA", pdfText(t, pdf), doses...)
	xmllintWellFormed(t, raw)
}

// xmllintWellFormed has libxml2's xmllint (Debian libxml2-utils, installed
// by .ci/run) read the XML; skipped when absent.
func xmllintWellFormed(t *testing.T, doc []byte) {
	t.Helper()
	bin, err := exec.LookPath("xmllint")
	if err != nil {
		t.Log("xmllint is not installed (apt-get install libxml2-utils): well-formedness not checked by libxml2")
		return
	}
	f := filepath.Join(t.TempDir(), "doc.xml")
	os.WriteFile(f, doc, 0o644)
	if out, err := exec.Command(bin, "--noout", "--huge", f).CombinedOutput(); err != nil {
		t.Fatalf("xmllint: not well-formed: %v\n%s", err, out)
	}
}

func TestMDMWithCDA(t *testing.T) {
	for _, status := range []relais.IdentityStatus{relais.IdentityQualified, relais.IdentityRecovered} {
		doc := testPlan(t, status)
		f, err := CDA(doc, testSiteOID, testIPPOID, CDAOptions{})
		if err != nil {
			t.Fatal(err)
		}
		raw, err := MDM(doc, f, "chu-test", Destination{ReceivingApp: "DPI", IPPAuthority: "CHGL"}, "", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		m, err := hl7.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		obx := m.Segment("OBX")
		if obx.Get(2) != "ED" || obx.Comp(5, 2) != "TEXT" || obx.Comp(5, 3) != "XML" || obx.Comp(5, 4) != "Base64" {
			t.Errorf("OBX-5 is not ^TEXT^XML^Base64^…: %q %q %q", obx.Comp(5, 2), obx.Comp(5, 3), obx.Comp(5, 4))
		}
		if m.Segment("TXA").Comp(12, 1) != string(f.ID) || m.Header().ControlID != ControlID(f.ID) || f.ID == doc.ID {
			t.Error("the CDA is not its own document (TXA-12, MSH-10)")
		}
		xmlDoc, err := base64.StdEncoding.DecodeString(obx.Comp(5, 5))
		if err != nil {
			t.Fatal(err)
		}
		checkCDA(t, xmlDoc, doc, "30,75 mg", "6,15 mg", "25 mg/m² × 1,23 m² = 30,75 mg")
	}
}

// readXDM opens an IHE_XDM.ZIP as a receiver would and checks that the
// metadata describe the document it holds; it returns the document, its
// mime type and format code.
func readXDM(t *testing.T, zipped []byte) (file []byte, mimeType, formatCode, meta string) {
	t.Helper()
	z, err := zip.NewReader(bytes.NewReader(zipped), int64(len(zipped)))
	if err != nil {
		t.Fatalf("not a zip: %v", err)
	}
	files := map[string][]byte{}
	for _, f := range z.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		files[f.Name], _ = io.ReadAll(rc)
		rc.Close()
	}
	for _, name := range []string{"INDEX.HTM", "README.TXT", XDMMetadataPath} {
		if _, ok := files[name]; !ok {
			t.Fatalf("the XDM zip lacks %s", name)
		}
	}
	var req struct {
		Objects []struct {
			ID       string `xml:"id,attr"`
			MimeType string `xml:"mimeType,attr"`
			Slots    []struct {
				Name   string   `xml:"name,attr"`
				Values []string `xml:"ValueList>Value"`
			} `xml:"Slot"`
			Class []struct {
				Scheme string `xml:"classificationScheme,attr"`
				Node   string `xml:"nodeRepresentation,attr"`
			} `xml:"Classification"`
		} `xml:"RegistryObjectList>ExtrinsicObject"`
		Packages []struct {
			ID string `xml:"id,attr"`
		} `xml:"RegistryObjectList>RegistryPackage"`
	}
	if err := xml.Unmarshal(files[XDMMetadataPath], &req); err != nil {
		t.Fatalf("METADATA.XML is not XML: %v", err)
	}
	if len(req.Objects) != 1 || len(req.Packages) != 1 {
		t.Fatalf("METADATA.XML has %d documents and %d submission sets", len(req.Objects), len(req.Packages))
	}
	slots := map[string]string{}
	for _, s := range req.Objects[0].Slots {
		if len(s.Values) > 0 {
			slots[s.Name] = s.Values[0]
		}
	}
	file, ok := files["IHE_XDM/SUBSET01/"+slots["URI"]]
	if !ok {
		t.Fatalf("the zip has no file %q, the URI of the metadata", slots["URI"])
	}
	sum := sha1.Sum(file)
	if slots["hash"] != hex.EncodeToString(sum[:]) || slots["size"] != strconv.Itoa(len(file)) {
		t.Errorf("metadata do not describe the document: %v", slots)
	}
	for _, c := range req.Objects[0].Class {
		if c.Scheme == xdsDocFormatCode {
			formatCode = c.Node
		}
	}
	xmllintWellFormed(t, files[XDMMetadataPath])
	return file, req.Objects[0].MimeType, formatCode, string(files[XDMMetadataPath])
}

func TestXDM(t *testing.T) {
	doc := testPlan(t, relais.IdentityQualified)
	zipped, err := XDM(doc, doc.PDFFile(), "chu-test", testSiteOID, testIPPOID)
	if err != nil {
		t.Fatal(err)
	}
	pdf, mimeType, formatCode, meta := readXDM(t, zipped)
	if !bytes.Equal(pdf, doc.PDF) || mimeType != "application/pdf" || formatCode != FormatCodeMimeSufficient {
		t.Errorf("the zip's PDF: %d bytes, %s, %s", len(pdf), mimeType, formatCode)
	}
	if !strings.Contains(meta, publishedNIR+"^^^&amp;"+relais.OIDNIR+"&amp;ISO^NH") {
		t.Errorf("the patient id is not the INS:\n%s", meta)
	}

	f, err := CDA(doc, testSiteOID, testIPPOID, CDAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	zipped, err = XDM(doc, f, "chu-test", testSiteOID, testIPPOID)
	if err != nil {
		t.Fatal(err)
	}
	xmlDoc, mimeType, formatCode, meta := readXDM(t, zipped)
	if mimeType != "text/xml" || formatCode != "urn:ihe:iti:xds-sd:pdf:2008" {
		t.Errorf("a CDA with a PDF body is described as %s, %s", mimeType, formatCode)
	}
	cd, err := cda.Decode(xmlDoc)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(meta, `value="`+cd.ID.Root+`"`) {
		t.Errorf("XDSDocumentEntry.uniqueId is not the CDA's id %s", cd.ID.Root)
	}
}

func TestBackoff(t *testing.T) {
	b := Backoff{First: 30 * time.Second, Max: time.Hour, StuckAfter: 4}
	// 30 s doubled: 30 s, 1 min, 2 min, …; after the 8th, 30 s × 2⁷ = 64 min, capped at 1 h.
	for n, want := range map[int]time.Duration{1: 30 * time.Second, 2: time.Minute, 3: 2 * time.Minute, 7: 32 * time.Minute, 8: time.Hour, 20: time.Hour} {
		if got := b.Next(n); got != want {
			t.Errorf("after failure %d: %s, want %s", n, got, want)
		}
	}
	if b.stuck(3) || !b.stuck(4) {
		t.Error("stuck after 4 failures")
	}
}

func TestConfigCheck(t *testing.T) {
	err := Config{Destinations: []Destination{{Name: "a", Transport: "ftp"}, {Name: "b", Transport: "smtp"},
		{Name: "b", Transport: "mllp", Addr: "x:1", DocumentFormat: "docx"}},
		CDA: CDAOptions{FacilityType: CodeConfig{Code: "SA01"}}}.Check()
	var fields []string
	for _, f := range relais.FieldErrors(err) {
		fields = append(fields, f.Field)
	}
	got := strings.Join(fields, ",")
	for _, want := range []string{"destinations[0].transport", "destinations[1].smtp_addr", "destinations[1].from", "destinations[1].to",
		"destinations[2].name", "destinations[2].document_format", "cda.facility_type"} {
		if !strings.Contains(got, want) {
			t.Errorf("no fault at %s: %s", want, got)
		}
	}
	c := Config{Destinations: []Destination{{Name: "dpi", Transport: "mllp", Addr: "x:1", DocumentFormat: FormatBoth}}}
	if err := c.Check(); err != nil {
		t.Fatal(err)
	}
	err = c.CheckCDA("", "CHGL")
	fields = nil
	for _, f := range relais.FieldErrors(err) {
		fields = append(fields, f.Field)
	}
	if strings.Join(fields, ",") != "site-oid,ipp-oid" {
		t.Errorf("CDA without the site's and the IPP domain's OIDs: %v", err)
	}
	if err := c.CheckCDA(testSiteOID, testIPPOID); err != nil {
		t.Error(err)
	}
	if got := c.Destinations[0].Formats(); strings.Join(got, ",") != "pdf,cda" {
		t.Errorf("both = %v", got)
	}
}

func base64Decode(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }
