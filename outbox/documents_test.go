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
	"github.com/relais-onco/relais/hl7"
)

// publishedNIR: « 2 06 12 75 111 005 … sa clé est : 64 » (lbcd78.fr,
// « Calcul de la clé du n° de sécurité sociale », 2007).
const publishedNIR = "206127511100564"

func testPatient(status relais.IdentityStatus) relais.Patient {
	p := relais.Patient{ID: relais.NewID(), Site: "chu-test", IPP: "7001", BirthName: "NOËL", UsedName: "MARTIN",
		FirstNames: []string{"Zoé", "Anne"}, BirthDate: "2006-12-14", Sex: relais.SexFemale, BirthplaceCode: "75111",
		INS: relais.INS{Status: status}}
	if status.HasINS() {
		p.INS.Matricule, p.INS.OID = publishedNIR, relais.OIDNIR
	}
	return p
}

// A cycle of doxorubicin 25 mg/m² at BSA 1.23 m² = 30.75 mg (ABVD as
// published: Bonadonna G et al., Cancer 1975;36:252–9 — doxorubicin 25
// mg/m² days 1 and 15): the dose is printed as computed, not rounded.
func testPrescription(p relais.Patient) relais.Prescription {
	return relais.Prescription{ID: relais.NewID(), Site: "chu-test", PatientID: p.ID, Cycle: 2, StartDate: "2025-03-14",
		Status: relais.PrescriptionSigned, Regimen: "ABVD v1", PrescriberName: "Dr Claire Martin",
		SignedAt:     time.Date(2025, 3, 13, 17, 0, 0, 0, time.UTC),
		Measurements: relais.UsedMeasurements{HeightCm: 150, WeightKg: 36.3, BSAM2: 1.23},
		Lines: []relais.PrescriptionLine{
			{ID: relais.NewID(), Seq: 1, Day: 1, Date: "2025-03-14", INN: "doxorubicine", Route: "IV", Dose: 30.75, Unit: "mg",
				Vehicle: "NaCl 0,9 %", VolumeML: 100, DurationMin: 30},
			{ID: relais.NewID(), Seq: 1, Day: 15, Date: "2025-03-28", INN: "doxorubicine", Route: "IV", Dose: 30.75, Unit: "mg"},
		}}
}

func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	bin, err := exec.LookPath("pdftotext")
	if err != nil {
		t.Skip("pdftotext is not installed (apt-get install poppler-utils)")
	}
	f := filepath.Join(t.TempDir(), "doc.pdf")
	os.WriteFile(f, pdf, 0o644)
	out, err := exec.Command(bin, "-enc", "UTF-8", f, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext cannot read the document: %v\n%s", err, out)
	}
	return string(out)
}

func TestTreatmentPlanReads(t *testing.T) {
	p := testPatient(relais.IdentityQualified)
	doc := TreatmentPlan(p, testPrescription(p), time.Date(2025, 3, 13, 17, 0, 0, 0, time.UTC))
	text := pdfText(t, doc.PDF)
	for _, want := range []string{"MARTIN Zoé (né·e NOËL)", "30.75 mg IV", "J15 (2025-03-28)", "INS " + publishedNIR, "Dr Claire Martin", "ABVD v1, cycle 2"} {
		if !strings.Contains(strings.ReplaceAll(text, "\n", " "), want) {
			t.Errorf("the PDF does not say %q:\n%s", want, text)
		}
	}
}

func TestMDM(t *testing.T) {
	for _, status := range []relais.IdentityStatus{relais.IdentityQualified, relais.IdentityRecovered} {
		p := testPatient(status)
		doc := TreatmentPlan(p, testPrescription(p), time.Now())
		raw, err := MDM(doc, "chu-test", Destination{ReceivingApp: "DPI", ReceivingFacility: "CHG", IPPAuthority: "CHGL"}, "", time.Now())
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
		if err != nil || !bytes.Equal(pdf, doc.PDF) || obx.Get(2) != "ED" || obx.Comp(5, 3) != "pdf" {
			t.Errorf("OBX-5 does not carry the PDF: %v", err)
		}
		if m.Segment("TXA").Comp(12, 1) != string(doc.ID) {
			t.Errorf("TXA-12 = %q", m.Segment("TXA").Comp(12, 1))
		}
	}
}

// readXDM opens an IHE_XDM.ZIP as a receiver would and checks that the
// metadata describe the document it holds.
func readXDM(t *testing.T, zipped []byte) (pdf []byte, meta string) {
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
	for _, name := range []string{"INDEX.HTM", "README.TXT", XDMMetadataPath, XDMDocumentPath} {
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
			Ext []struct {
				Scheme string `xml:"identificationScheme,attr"`
				Value  string `xml:"value,attr"`
			} `xml:"ExternalIdentifier"`
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
	pdf = files[XDMDocumentPath]
	slots := map[string]string{}
	for _, s := range req.Objects[0].Slots {
		if len(s.Values) > 0 {
			slots[s.Name] = s.Values[0]
		}
	}
	sum := sha1.Sum(pdf)
	if slots["hash"] != hex.EncodeToString(sum[:]) || slots["size"] != strconv.Itoa(len(pdf)) || slots["URI"] != "DOC0001.PDF" || req.Objects[0].MimeType != "application/pdf" {
		t.Errorf("metadata do not describe the document: %v", slots)
	}
	return pdf, string(files[XDMMetadataPath])
}

func TestXDM(t *testing.T) {
	p := testPatient(relais.IdentityQualified)
	doc := TreatmentPlan(p, testPrescription(p), time.Now())
	zipped, err := XDM(doc, "chu-test", "1.2.250.1.999.1", "1.2.250.1.999.2")
	if err != nil {
		t.Fatal(err)
	}
	pdf, meta := readXDM(t, zipped)
	if !bytes.Equal(pdf, doc.PDF) {
		t.Error("the zip's document is not the one sent")
	}
	if !strings.Contains(meta, publishedNIR+"^^^&amp;"+relais.OIDNIR+"&amp;ISO^NH") {
		t.Errorf("the patient id is not the INS:\n%s", meta)
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
	err := Config{Destinations: []Destination{{Name: "a", Transport: "ftp"}, {Name: "b", Transport: "smtp"}, {Name: "b", Transport: "mllp", Addr: "x:1"}}}.Check()
	var fields []string
	for _, f := range relais.FieldErrors(err) {
		fields = append(fields, f.Field)
	}
	got := strings.Join(fields, ",")
	for _, want := range []string{"destinations[0].transport", "destinations[1].smtp_addr", "destinations[1].from", "destinations[1].to", "destinations[2].name"} {
		if !strings.Contains(got, want) {
			t.Errorf("no fault at %s: %s", want, got)
		}
	}
}

func base64Decode(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }
