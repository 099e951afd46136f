package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/clinical"
	"github.com/relais-onco/relais/internal/testdb"
	"github.com/relais-onco/relais/sqlstore"
	"github.com/relais-onco/relais/web"
)

// The production documents read back as a person's tools read them:
// pdftotext (Debian's poppler-utils) for the text, pdftoppm and dmtxread
// (dmtx-utils) for the DataMatrix. .ci/run installs them; a test that needs
// one skips, saying which package to install, only when it is missing.
//
// The regimen is R-CHOP-21 day 1 (Coiffier B et al., N Engl J Med
// 2002;346:235–42) for a patient of 180 cm and 80 kg: Mosteller BSA 2.00 m²
// (Mosteller RD, N Engl J Med 1987;317:1098), so doxorubicin 50 mg/m² ×
// 2 = 100 mg and vincristine 1.4 × 2 = 2.8 mg capped at 2 mg. Presentations
// are those of the SmPCs (doxorubicin 2 mg/mL in 10 mg/5 mL and 50 mg/25 mL
// vials, SmPC Doxorubicine Accord 6.5; vincristine 1 mg/mL in 1 and 2 mL
// vials, SmPC Vincristine Hospira 6.5); stability entries marked "fixture",
// the UCD codes and the lots are made up for the test.

type docEnv struct {
	ts                    *httptest.Server
	db                    *sqlstore.DB
	srv                   *web.Server
	admin, doctor, pharma context.Context
	tech, tech2, nurseCtx context.Context
	versionID             relais.ID
	lots                  map[string]relais.StockLot
	patients              int
}

func newDocEnv(t testing.TB, dsn string) *docEnv {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), dsn, sqlstore.Options{Site: "chu-test", Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	sys := relais.WithActor(context.Background(), relais.SystemActor("chu-test"))
	e := &docEnv{db: db, lots: map[string]relais.StockLot{}}
	users := map[string]context.Context{}
	for _, u := range []struct {
		name string
		role relais.Role
	}{{"pharm_admin", relais.RolePharmAdmin}, {"prescriber", relais.RolePrescriber}, {"pharmacist", relais.RolePharmacist},
		{"technician", relais.RoleTechnician}, {"technician2", relais.RoleTechnician}, {"nurse", relais.RoleNurse}} {
		nu, err := db.CreateUser(sys, relais.User{Username: u.name, Name: "Test " + u.name, Role: u.role}, "password-"+u.name)
		if err != nil {
			t.Fatal(err)
		}
		users[u.name] = relais.WithActor(context.Background(), nu.Actor())
	}
	e.admin, e.doctor, e.pharma = users["pharm_admin"], users["prescriber"], users["pharmacist"]
	e.tech, e.tech2, e.nurseCtx = users["technician"], users["technician2"], users["nurse"]
	e.srv = web.New("chu-test", web.Services{Users: db, Patients: db, Catalogue: db, Protocols: db, Treatments: db, Production: db}, quiet)
	e.srv.SetReady()
	e.ts = httptest.NewServer(e.srv.Handler())
	t.Cleanup(e.ts.Close)

	drugs := map[string]relais.Drug{}
	for _, d := range []relais.Drug{{INN: "doxorubicine", Class: relais.ClassAnthracycline, Cytotoxic: true},
		{INN: "vincristine", Class: relais.ClassVincaAlkaloid, Cytotoxic: true}} {
		if drugs[d.INN], err = db.CreateDrug(e.admin, d); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.CreateDiluent(e.admin, relais.Diluent{Name: "NaCl 0.9%", VolumesML: []float64{50, 100, 250}}); err != nil {
		t.Fatal(err)
	}
	fixture := func(cond relais.StabilityCondition, diluent string) relais.Stability {
		return relais.Stability{Condition: cond, Storage: "2-8°C", ProtectFromLight: true, DurationHours: 24, Diluent: diluent, Source: "fixture (not a published value)"}
	}
	for i, p := range []struct {
		key, inn, brand  string
		strength, volume float64
	}{{"doxo10", "doxorubicine", "Doxorubicine 10 mg/5 mL", 10, 5}, {"doxo50", "doxorubicine", "Doxorubicine 50 mg/25 mL", 50, 25},
		{"vcr1", "vincristine", "Vincristine 1 mg/1 mL", 1, 1}, {"vcr2", "vincristine", "Vincristine 2 mg/2 mL", 2, 2}} {
		code := fmt.Sprintf("34008%07d", 9100001+i)
		prod, err := db.CreateProduct(e.admin, relais.Product{DrugID: drugs[p.inn].ID, Brand: p.brand, UCD: code + string(relais.EAN13CheckDigit(code)),
			UCDDemo: true, Form: relais.FormSolution, Strength: p.strength, StrengthUnit: "mg", VolumeML: p.volume, Concentration: p.strength / p.volume,
			Stability: []relais.Stability{fixture(relais.AfterOpening, ""), fixture(relais.AfterDilution, "NaCl 0.9%")}})
		if err != nil {
			t.Fatal(err)
		}
		if e.lots[p.key], err = db.ReceiveStock(e.pharma, relais.StockReceipt{ProductID: prod.ID, Lot: "LOT-" + strings.ToUpper(p.key),
			Expiry: relais.LocalDate(time.Now()).AddDays(400), Quantity: 5000}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.SetPharmacy(e.admin, relais.Pharmacy{Name: "PUI CHU de Test", Address: "1 rue de l'Hôpital, 35000 Rennes", Phone: "02 99 00 00 00"}); err != nil {
		t.Fatal(err)
	}
	vcr := clinical.Rule{Kind: "per_m2", Dose: 1.4, Unit: "mg", MaxDose: 2}
	content := relais.ProtocolContent{Cycles: relais.Cycles{Count: 8, LengthDays: 21}, Days: []int{1},
		Lines: []relais.ProtocolLine{
			{Seq: 1, Kind: relais.LineChemo, INN: "doxorubicine", Dose: clinical.Rule{Kind: "per_m2", Dose: 50, Unit: "mg"}, Route: relais.RouteIVL, Days: []int{1}, DurationMin: 15},
			{Seq: 2, Kind: relais.LineChemo, INN: "vincristine", Dose: vcr, Route: relais.RouteIV, Days: []int{1}, Vehicle: "NaCl 0.9%", VolumeML: 50, DurationMin: 10},
		}, Source: "Coiffier B et al., N Engl J Med 2002;346:235–42"}
	pd, err := db.CreateProtocol(e.admin, relais.NewProtocol{Code: "CHOP-TEST", Name: "R-CHOP 21 (day 1, test subset)", Indication: "DLBCL", Population: relais.Adult, Content: content})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.TransitionVersion(e.admin, pd.Versions[0].ID, relais.VersionTransition{To: relais.VersionInTest}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.TransitionVersion(e.pharma, pd.Versions[0].ID, relais.VersionTransition{To: relais.VersionActive}); err != nil {
		t.Fatal(err)
	}
	e.versionID = pd.Versions[0].ID
	return e
}

// treat makes a new patient and takes cycles cycles, all starting today
// (one treatment per cycle: a cycle each of separate inclusions), to
// released preparations; it returns the patient and the preparation ids.
func (e *docEnv) treat(t testing.TB, cycles int) (relais.Patient, []relais.ID) {
	t.Helper()
	e.patients++
	pat, err := e.db.CreatePatient(e.doctor, relais.PatientInput{IPP: fmt.Sprintf("IPP-%05d", e.patients), INS: relais.INS{Status: relais.IdentityProvisional},
		BirthName: "Le Gall", UsedName: "Martin", FirstNames: []string{"Maëlle"}, BirthDate: "1962-03-12", Sex: relais.SexFemale})
	if err != nil {
		t.Fatal(err)
	}
	for kind, v := range map[string]float64{"height_cm": 180, "weight_kg": 80} {
		if _, err := e.db.RecordMeasurement(e.doctor, pat.ID, relais.MeasurementInput{Kind: kind, Value: &v, MeasuredAt: time.Now().Add(-24 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	today := relais.LocalDate(time.Now())
	var ids []relais.ID
	for c := 0; c < cycles; c++ {
		tr, err := e.db.Include(e.doctor, relais.IncludeRequest{PatientID: pat.ID, ProtocolVersionID: e.versionID, Intent: "curative", StartDate: today})
		if err != nil {
			t.Fatal(err)
		}
		p, err := e.db.Prescribe(e.doctor, tr.ID, relais.PrescribeRequest{Cycle: 1, StartDate: today})
		if err != nil {
			t.Fatal(err)
		}
		for _, ck := range p.Checks {
			if ck.Level == relais.LevelAcknowledge && ck.Ack == nil {
				if p, err = e.db.Acknowledge(e.doctor, p.ID, relais.AcknowledgeRequest{Code: ck.Code, LineID: ck.LineID, Reason: "test"}); err != nil {
					t.Fatal(err)
				}
			}
		}
		if p, err = e.db.Sign(e.doctor, p.ID); err != nil {
			t.Fatal(err)
		}
		if p, err = e.db.GiveOKToTreat(e.doctor, p.ID, relais.OKToTreatRequest{Day: 1}); err != nil {
			t.Fatal(err)
		}
		for _, l := range p.Lines {
			if p, err = e.db.ValidateLine(e.pharma, p.ID, l.ID, relais.ValidateLineRequest{Decision: relais.DecisionAccept}); err != nil {
				t.Fatal(err)
			}
		}
		preps, err := e.db.Preparations(e.pharma, relais.PreparationFilter{PatientID: pat.ID, Status: relais.PrepToPrepare})
		if err != nil {
			t.Fatal(err)
		}
		for _, pr := range preps {
			ids = append(ids, e.release(t, pr.ID))
		}
	}
	return pat, ids
}

// release issues, records as planned, checks and releases a preparation.
func (e *docEnv) release(t testing.TB, id relais.ID) relais.ID {
	t.Helper()
	p, err := e.db.IssueWorksheet(e.tech, id)
	if err != nil {
		t.Fatal(err)
	}
	var req relais.ProductionRequest
	for _, d := range p.Plan.Draws {
		req.Vials = append(req.Vials, relais.UsedVialInput{LotID: d.LotID, VolumeML: d.VolumeML})
	}
	if _, err := e.db.RecordProduction(e.tech, id, req); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.CheckPreparation(e.tech2, id, relais.CheckRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.ReleasePreparation(e.pharma, id, relais.ReleaseRequest{}); err != nil {
		t.Fatal(err)
	}
	return id
}

func (e *docEnv) get(t testing.TB, user, path string) (int, []byte, string) {
	t.Helper()
	return e.call(t, user, "GET", path, "")
}

func (e *docEnv) call(t testing.TB, user, method, path, body string) (int, []byte, string) {
	t.Helper()
	req, _ := http.NewRequest(method, e.ts.URL+path, strings.NewReader(body))
	req.SetBasicAuth(user, "password-"+user)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header.Get("Content-Type")
}

func needTool(t testing.TB, name, pkg string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s is not installed (Debian package %s): install it to read the PDFs this test checks", name, pkg)
	}
}

func writePDFFile(t testing.TB, pdf []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "doc.pdf")
	if err := os.WriteFile(path, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// pdfText is the text of the PDF as pdftotext reads it, white space
// flattened.
func pdfText(t testing.TB, pdf []byte) string {
	t.Helper()
	needTool(t, "pdftotext", "poppler-utils")
	out, err := exec.Command("pdftotext", "-raw", "-enc", "UTF-8", writePDFFile(t, pdf), "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return strings.Join(strings.Fields(strings.ReplaceAll(string(out), "\u00a0", " ")), " ")
}

// dataMatrix renders page 1 at 300 dpi (only the area x, y, w, h in mm
// when w > 0: decoding a whole A4 page is slow) and returns what dmtxread
// decodes.
func dataMatrix(t testing.TB, pdf []byte, area ...float64) string {
	t.Helper()
	needTool(t, "pdftoppm", "poppler-utils")
	needTool(t, "dmtxread", "dmtx-utils")
	dir := t.TempDir()
	args := []string{"-r", "300", "-png", "-f", "1", "-l", "1", "-singlefile"}
	if len(area) == 4 {
		px := func(mm float64) string { return fmt.Sprint(int(mm / 25.4 * 300)) }
		args = append(args, "-x", px(area[0]), "-y", px(area[1]), "-W", px(area[2]), "-H", px(area[3]))
	}
	args = append(args, writePDFFile(t, pdf), filepath.Join(dir, "page"))
	if out, err := exec.Command("pdftoppm", args...).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v: %s", err, out)
	}
	out, err := exec.Command("dmtxread", "-N1", "-m", "20000", filepath.Join(dir, "page.png")).Output()
	if err != nil {
		t.Fatalf("dmtxread found no DataMatrix: %v", err)
	}
	return strings.TrimSpace(string(out))
}

func wantText(t *testing.T, what, text string, mentions ...string) {
	t.Helper()
	for _, m := range mentions {
		if !strings.Contains(text, m) {
			t.Errorf("%s: %q is missing from:\n%s", what, m, text)
		}
	}
}

func TestProductionDocuments(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		e := newDocEnv(t, dsn)
		pat, ids := e.treat(t, 1)
		if len(ids) != 2 {
			t.Fatalf("%d preparations", len(ids))
		}
		preps := map[string]relais.Preparation{}
		for _, id := range ids {
			p, _ := e.db.Preparation(e.pharma, id)
			preps[p.INN] = p
		}
		doxo, vcr := preps["doxorubicine"], preps["vincristine"]
		year := relais.RegisterYear(time.Now())
		version := "Relais " + relais.Version

		// The worksheet: patient with two identifiers, prescription, drug
		// and dose, vials with lots, volumes, expiry, register number, steps.
		code, ws, ctype := e.get(t, "technician", "/api/v1/preparations/"+string(doxo.ID)+"/worksheet.pdf")
		if code != 200 || ctype != "application/pdf" {
			t.Fatalf("worksheet: %d %s %s", code, ctype, ws)
		}
		text := pdfText(t, ws)
		// 100 mg = 2 vials of 50 mg drawn whole, 25 mL each.
		wantText(t, "worksheet", text, "FICHE DE FABRICATION", doxo.RegisterNumber, "LE GALL", "MARTIN", "Maëlle", "12/03/1962", pat.IPP,
			"DOXORUBICINE", "100 mg", "LOT-DOXO50", "25 mL", "50 mL", "CHOP-TEST v1", version, "Doxorubicine 50 mg/25 mL",
			"Conserver à 2-8°C, à l'abri de la lumière")
		if doxo.RegisterNumber != relais.FormatRegisterNumber(year, 1) {
			t.Errorf("doxorubicin number %s", doxo.RegisterNumber)
		}
		// The worksheet's DataMatrix is in its top right corner.
		if got := dataMatrix(t, ws, 140, 0, 70, 70); got != relais.PreparationCode(doxo.ID) {
			t.Errorf("worksheet DataMatrix = %q; want %q", got, relais.PreparationCode(doxo.ID))
		}
		// The same data give the same bytes.
		if _, again, _ := e.get(t, "technician", "/api/v1/preparations/"+string(doxo.ID)+"/worksheet.pdf"); !bytes.Equal(ws, again) {
			t.Error("the same worksheet printed twice gives different bytes")
		}

		// The label, at 100×50 mm and 80×40 mm: every mention and the
		// DataMatrix of the preparation.
		labels := map[string][]byte{}
		for _, size := range []string{"100x50", "80x40"} {
			code, lb, _ := e.get(t, "technician", "/api/v1/preparations/"+string(vcr.ID)+"/label.pdf?size="+size)
			if code != 200 {
				t.Fatalf("label %s: %d %s", size, code, lb)
			}
			labels[size] = lb
			wantText(t, "label "+size, pdfText(t, lb), "LE GALL", "Maëlle", "12/03/1962", pat.IPP, "VINCRISTINE", "2 mg", "52 mL",
				"NaCl 0.9%", "IV", vcr.RegisterNumber, "PUI CHU de Test", "Conserver à 2-8°C")
		}
		scanned := dataMatrix(t, labels["100x50"])
		if scanned != relais.PreparationCode(vcr.ID) {
			t.Fatalf("label DataMatrix = %q", scanned)
		}
		if code, b, _ := e.get(t, "technician", "/api/v1/preparations/"+string(vcr.ID)+"/label.pdf?size=5x5"); code != 422 || !strings.Contains(string(b), "size") {
			t.Errorf("unknown label size: %d %s", code, b)
		}

		// Dispensing: the slip lists the two with their register numbers.
		slipBody, _ := json.Marshal(relais.SlipRequest{Ward: "Hématologie HDJ", RoundDate: relais.LocalDate(time.Now()), Round: relais.RoundMorning, PreparationIDs: ids})
		code, b, _ := e.call(t, "technician", "POST", "/api/v1/slips", string(slipBody))
		if code != 201 {
			t.Fatalf("slip: %d %s", code, b)
		}
		var slip relais.DeliverySlip
		json.Unmarshal(b, &slip)
		if code, b, _ = e.call(t, "nurse", "POST", "/api/v1/slips/"+string(slip.ID)+"/receipt", `{}`); code != 200 {
			t.Fatalf("receipt: %d %s", code, b)
		}
		code, sp, _ := e.get(t, "nurse", "/api/v1/slips/"+string(slip.ID)+"/slip.pdf")
		if code != 200 {
			t.Fatalf("slip pdf: %d %s", code, sp)
		}
		wantText(t, "slip", pdfText(t, sp), slip.Number, "Hématologie HDJ", doxo.RegisterNumber, vcr.RegisterNumber, "DOXORUBICINE", "VINCRISTINE", version)

		// The administration plan, on screen and on paper.
		day := string(relais.LocalDate(time.Now()))
		code, b, _ = e.get(t, "nurse", "/api/v1/patients/"+string(pat.ID)+"/administration-plan?day="+day)
		var plan relais.AdministrationPlan
		if code != 200 || json.Unmarshal(b, &plan) != nil || len(plan.Items) != 2 {
			t.Fatalf("plan: %d %s", code, b)
		}
		code, pp, _ := e.get(t, "nurse", "/api/v1/patients/"+string(pat.ID)+"/administration-plan.pdf?day="+day+"&ward=HDJ")
		if code != 200 {
			t.Fatalf("plan pdf: %d %s", code, pp)
		}
		// Doxorubicin 09:00–09:15, then vincristine at 09:15, 52 mL in
		// 10 min = 312 mL/h.
		wantText(t, "plan", pdfText(t, pp), "09:00", "09:15", "DOXORUBICINE", "VINCRISTINE", "312 mL/h", "10 min", vcr.RegisterNumber)

		// The bedside: the label's DataMatrix as scanned names this
		// preparation; the other's does not and is refused.
		at := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
		adm := func(label string) string {
			return fmt.Sprintf(`{"scanned_label":%q,"patient_ipp":%q,"started_at":%q,"ended_at":%q,"volume_given_ml":52}`, label, pat.IPP, at, at)
		}
		code, b, _ = e.call(t, "nurse", "POST", "/api/v1/preparations/"+string(doxo.ID)+"/administration", adm(scanned))
		if code != 409 || !strings.Contains(string(b), "MISMATCH") || !strings.Contains(string(b), `"field":"scanned_label"`) {
			t.Fatalf("mismatched scan: %d %s", code, b)
		}
		if code, b, _ = e.call(t, "nurse", "POST", "/api/v1/preparations/"+string(vcr.ID)+"/administration", adm(scanned)); code != 201 {
			t.Fatalf("matching scan: %d %s", code, b)
		}

		// The register, for inspectors.
		code, rp, _ := e.get(t, "pharmacist", "/api/v1/register.pdf?from="+day+"&to="+day)
		if code != 200 {
			t.Fatalf("register pdf: %d %s", code, rp)
		}
		wantText(t, "register", pdfText(t, rp), doxo.RegisterNumber, vcr.RegisterNumber, "LE GALL", "DOXORUBICINE", version)

		// A nurse cannot issue a worksheet; a technician cannot release.
		if code, _, _ := e.call(t, "nurse", "POST", "/api/v1/preparations/"+string(doxo.ID)+"/worksheet", ""); code != 403 {
			t.Errorf("nurse issuing a worksheet: %d", code)
		}
		if code, _, _ := e.call(t, "technician", "POST", "/api/v1/preparations/"+string(doxo.ID)+"/release", `{}`); code != 403 {
			t.Errorf("technician releasing: %d", code)
		}
	})
}

func TestFICHCOMPExportOverHTTP(t *testing.T) {
	e := newDocEnv(t, testdb.SQLite(t))
	code, b, _ := e.get(t, "pharmacist", "/api/v1/billing/fichcomp.csv?month=2026-13")
	if code != 422 || !strings.Contains(string(b), "month") {
		t.Fatalf("bad month: %d %s", code, b)
	}
	code, b, ctype := e.get(t, "pharmacist", "/api/v1/billing/fichcomp.csv?month=2026-11")
	if code != 200 || ctype != "text/csv; charset=utf-8" || !strings.HasPrefix(string(b), strings.Join(relais.FICHCOMPColumns, ";")) {
		t.Fatalf("empty month: %d %s %q", code, ctype, b)
	}
	if code, _, _ := e.get(t, "nurse", "/api/v1/billing/fichcomp.csv?month=2026-11"); code != 403 {
		t.Fatalf("a nurse exporting billing: %d", code)
	}
}

// BenchmarkProductionDay300 makes the documents of a large unit's day from
// the database: 300 preparations' worksheets and labels and their delivery
// slips, in one PDF (the production day pack). The 300 preparations are
// made before the timer starts.
func BenchmarkProductionDay300(b *testing.B) {
	e := newDocEnv(b, testdb.SQLite(b))
	var ids []relais.ID
	for len(ids) < 300 {
		_, more := e.treat(b, 5) // 10 preparations a patient
		ids = append(ids, more...)
	}
	day := relais.LocalDate(time.Now())
	for i := 0; i < len(ids); i += 30 {
		end := min(i+30, len(ids))
		if _, err := e.db.CreateSlip(e.tech, relais.SlipRequest{Ward: fmt.Sprintf("Unité %d", i/30+1), RoundDate: day, Round: relais.RoundMorning,
			PreparationIDs: ids[i:end]}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	var size int
	for i := 0; i < b.N; i++ {
		var buf bytes.Buffer
		if err := e.srv.ProductionDay(e.pharma, &buf, day, "fr"); err != nil {
			b.Fatal(err)
		}
		size = buf.Len()
	}
	b.ReportMetric(float64(len(ids)), "preparations")
	b.ReportMetric(float64(size)/1e6, "MB")
}
