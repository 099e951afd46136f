package relais

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestPreparationTransitions(t *testing.T) {
	type tr struct {
		mode     PreparationMode
		from, to PreparationStatus
		ok       bool
	}
	cases := []tr{
		{ModeCompounded, PrepToPrepare, PrepWorksheetIssued, true},
		{ModeCompounded, PrepToPrepare, PrepPrepared, false}, // no worksheet, no production
		{ModeCompounded, PrepWorksheetIssued, PrepPrepared, true},
		{ModeCompounded, PrepPrepared, PrepReleased, false}, // the second check comes first
		{ModeCompounded, PrepPrepared, PrepChecked, true},
		{ModeCompounded, PrepChecked, PrepReleased, true},
		{ModeCompounded, PrepChecked, PrepRejected, true},
		{ModeCompounded, PrepReleased, PrepCancelled, false}, // released: returned or destroyed, never cancelled
		{ModeCompounded, PrepReleased, PrepDispensed, true},
		{ModeCompounded, PrepRejected, PrepReleased, false},
		{ModeCompounded, PrepCancelled, PrepToPrepare, false},
		{ModeCompounded, PrepDispensed, PrepAdministered, true},
		{ModeCompounded, PrepAdministered, PrepNotAdministered, false},
		{ModeDispensed, PrepToPrepare, PrepDispensed, true},
		{ModeDispensed, PrepToPrepare, PrepWorksheetIssued, false},
		{ModeDispensed, PrepDispensed, PrepNotAdministered, true},
	}
	for _, c := range cases {
		if got := c.mode.CanMove(c.from, c.to); got != c.ok {
			t.Errorf("%s: %s → %s = %v; want %v", c.mode, c.from, c.to, got, c.ok)
		}
	}
}

func TestPreparationStepsRefuseWithReasons(t *testing.T) {
	tech := Actor{UserID: "u-tech", Name: "Technicien", Role: RoleTechnician}
	ph := Actor{UserID: "u-ph", Name: "Pharmacienne", Role: RolePharmacist}
	now := planAt
	p := Preparation{ID: "p1", INN: "doxorubicine", Mode: ModeCompounded, Status: PrepToPrepare, Dose: 85, Unit: "mg"}
	err := p.ReleaseBy(ReleaseRequest{}, ph, now)
	if ErrorKind(err) != KindTransition || !strings.Contains(err.Error(), "to_prepare: it cannot become released") {
		t.Fatalf("release of a preparation to prepare: %v", err)
	}
	blocked := CompoundingPlan{Blocked: true, Reasons: []string{"outside the stability range"}}
	if err := p.IssueWorksheet(blocked, "2026-000001", ph, now); ErrorKind(err) != KindConflict || !strings.Contains(err.Error(), "stability range") {
		t.Fatalf("worksheet of a blocked plan: %v", err)
	}
	plan := ProposeCompounding(PlanInput{Dose: 85, Unit: "mg", Products: []Product{doxo10, doxo50}, At: now})
	if err := p.IssueWorksheet(plan, "2026-000001", ph, now); err != nil {
		t.Fatal(err)
	}
	if p.RegisterNumber != "2026-000001" || !p.Expiry.Equal(now.Add(24*time.Hour)) {
		t.Fatalf("after the worksheet: %q, expiry %v", p.RegisterNumber, p.Expiry)
	}
	if err := p.RecordProduction(ProductionRecord{Control: Control{Within: true}}, tech, now); err != nil {
		t.Fatal(err)
	}
	if err := p.CheckBy("", tech, now); ErrorKind(err) != KindForbidden {
		t.Fatalf("the technician checking their own preparation: %v", err)
	}
	if err := p.CheckBy("", ph, now); err != nil {
		t.Fatal(err)
	}
	if err := p.ReleaseBy(ReleaseRequest{IndicationCode: "I12345"}, ph, now); ErrorKind(err) != KindInvalid {
		t.Fatalf("a malformed indication code: %v", err)
	}
	if err := p.Reject(" ", ph, now); ErrorKind(err) != KindInvalid {
		t.Fatalf("rejection without a reason: %v", err)
	}
	if err := p.ReleaseBy(ReleaseRequest{IndicationCode: "I000123"}, ph, now.Add(25*time.Hour)); ErrorKind(err) != KindConflict || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("release after expiry: %v", err)
	}
	if err := p.ReleaseBy(ReleaseRequest{IndicationCode: "I000123"}, ph, now); err != nil || p.Status != PrepReleased || p.IndicationCode != "I000123" {
		t.Fatalf("release: %v %+v", err, p)
	}
	if err := p.Cancel("prescription cancelled", ph, now); ErrorKind(err) != KindTransition {
		t.Fatalf("cancelling a released preparation: %v", err)
	}
}

func TestOutOfToleranceBlocksRelease(t *testing.T) {
	ph := Actor{UserID: "u-ph", Name: "Pharmacienne", Role: RolePharmacist}
	p := Preparation{ID: "p1", RegisterNumber: "2026-000007", Mode: ModeCompounded, Status: PrepChecked,
		Production: &ProductionRecord{Control: Control{Within: false, Detail: "89.8 mg drawn for 85 mg validated: +5.65 % (tolerance ±5 %)"}}}
	err := p.ReleaseBy(ReleaseRequest{}, ph, planAt)
	if ErrorKind(err) != KindConflict || !strings.Contains(err.Error(), "+5.65 %") {
		t.Fatalf("release out of tolerance: %v", err)
	}
	if p.Status != PrepChecked {
		t.Fatalf("status moved to %s", p.Status)
	}
}

func TestComputeControl(t *testing.T) {
	// Doxorubicin 2 mg/mL; the density is taken as 1.0 g/mL for this test
	// (an assumption, not a published value). 85 mg = 42.5 mL = 42.5 g
	// expected. Weighed 25.0 g + 18.6 g = 43.6 g → 43.6 mL → 87.2 mg:
	// +2.59 %, within ±5 %. Weighed 25.0 g + 19.9 g → 89.8 mg: +5.65 %.
	vial := func(mass float64) UsedVial {
		v := UsedVial{Brand: "Doxorubicine 50 mg/25 mL", Concentration: 2, DensityGML: 1.0}
		if err := MeasureVial(&v, UsedVialInput{MassG: &mass}, "vials[0]"); err != nil {
			t.Fatal(err)
		}
		return v
	}
	c := ComputeControl(85, "mg", []UsedVial{vial(25), vial(18.6)}, DefaultTolerancePercent)
	if c.Method != "gravimetric" || !near(c.ExpectedMassG, 42.5) || !near(c.MeasuredMassG, 43.6) || !near(c.Measured, 87.2) ||
		c.DeviationPercent != 2.59 || !c.Within {
		t.Fatalf("control = %+v", c)
	}
	c = ComputeControl(85, "mg", []UsedVial{vial(25), vial(19.9)}, DefaultTolerancePercent)
	if c.Within || c.DeviationPercent != 5.65 || !strings.Contains(c.Detail, "OUT OF TOLERANCE") || !strings.Contains(c.Detail, "expected mass 42.5 g, weighed 44.9 g") {
		t.Fatalf("control = %+v", c)
	}
	// A tolerance of ±6 % for this drug accepts it.
	if c = ComputeControl(85, "mg", []UsedVial{vial(25), vial(19.9)}, 6); !c.Within {
		t.Fatalf("control at ±6 %% = %+v", c)
	}
	// Without a density, a mass cannot be used.
	v := UsedVial{Brand: "X", Concentration: 2}
	m := 10.0
	if err := MeasureVial(&v, UsedVialInput{MassG: &m}, "vials[1]"); ErrorKind(err) != KindInvalid || !strings.Contains(err.Error(), "no density") {
		t.Fatalf("mass without density: %v", err)
	}
}

func TestLeftoverExpiryAndUse(t *testing.T) {
	tech := Actor{UserID: "u-tech", Name: "Technicien", Role: RoleTechnician}
	drug := Drug{ID: "drug", INN: "doxorubicine"}
	opened := planAt
	l, err := NewLeftover(LeftoverInput{Lot: "A123", RemainingVolumeML: 12.5, Storage: "2 – 8 °C"}, doxo50, drug, "2027-06-30", tech, opened)
	if err != nil {
		t.Fatal(err)
	}
	// 12.5 mL at 2 mg/mL = 25 mg; 24 h after opening (fixture stability).
	if l.RemainingQuantity != 25 || !l.Expiry.Equal(opened.Add(24*time.Hour)) || l.Status != LeftoverOpen {
		t.Fatalf("leftover = %+v", l)
	}
	// No data at 25 °C: refused, saying which storages have data.
	_, err = NewLeftover(LeftoverInput{Lot: "A123", RemainingVolumeML: 12.5, Storage: "25°C"}, doxo50, drug, "2027-06-30", tech, opened)
	if ErrorKind(err) != KindInvalid || !strings.Contains(err.Error(), "no stability data after opening at 25°C") || !strings.Contains(err.Error(), "2-8°C") {
		t.Fatalf("leftover at 25 °C: %v", err)
	}
	// The lot expires before the stability ends: the lot wins (end of
	// 22/11/2026 in Paris = 23:00 UTC).
	short, err := NewLeftover(LeftoverInput{Lot: "B9", RemainingVolumeML: 5, Storage: "2-8°C"}, doxo50, drug, "2026-11-22", tech, opened)
	if err != nil || !short.Expiry.Equal(time.Date(2026, 11, 22, 23, 0, 0, 0, time.UTC)) {
		t.Fatalf("lot-capped expiry: %v %v", short.Expiry, err)
	}
	if _, err := l.Use("prep-1", 5, tech, opened.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if l.Status != LeftoverPartlyUsed || l.RemainingVolumeML != 7.5 || l.RemainingQuantity != 15 {
		t.Fatalf("after 5 mL: %+v", l)
	}
	if _, err := l.Use("prep-2", 8, tech, opened.Add(2*time.Hour)); ErrorKind(err) != KindConflict {
		t.Fatalf("drawing more than is left: %v", err)
	}
	if _, err := l.Use("prep-2", 2, tech, opened.Add(24*time.Hour)); ErrorKind(err) != KindConflict || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("using an expired leftover: %v", err)
	}
	if err := l.Expire(opened.Add(23 * time.Hour)); ErrorKind(err) != KindTransition {
		t.Fatalf("expiring too early: %v", err)
	}
	if err := l.Expire(opened.Add(24 * time.Hour)); err != nil || l.Status != LeftoverExpired {
		t.Fatalf("expire: %v %s", err, l.Status)
	}
	if err := l.DiscardBy("", tech, opened.Add(25*time.Hour)); ErrorKind(err) != KindInvalid {
		t.Fatalf("discard without reason: %v", err)
	}
	if err := l.DiscardBy("expired", tech, opened.Add(25*time.Hour)); err != nil || l.Status != LeftoverDiscarded {
		t.Fatalf("discard: %v", err)
	}
	if _, err := l.Use("prep-3", 1, tech, opened); ErrorKind(err) != KindTransition {
		t.Fatalf("using a discarded vial: %v", err)
	}
	// Drawing all that is left uses it up.
	u, _ := NewLeftover(LeftoverInput{Lot: "C1", RemainingVolumeML: 3, Storage: "2-8°C"}, doxo10, drug, "2027-01-01", tech, opened)
	if _, err := u.Use("prep-4", 3, tech, opened); err != nil || u.Status != LeftoverUsedUp || u.RemainingQuantity != 0 {
		t.Fatalf("use up: %v %+v", err, u)
	}
}

func TestRegisterEntryIsFrozenAfterRelease(t *testing.T) {
	now := planAt
	e := RegisterEntry{Number: FormatRegisterNumber(2026, 42), Kind: RegisterPreparation, Status: RegisterInProgress}
	if e.Number != "2026-000042" {
		t.Fatalf("number %s", e.Number)
	}
	if y, n, err := ParseRegisterNumber("n", "2026-000042"); err != nil || y != 2026 || n != 42 {
		t.Fatalf("parse: %d %d %v", y, n, err)
	}
	if _, _, err := ParseRegisterNumber("n", "2026-42"); ErrorKind(err) != KindInvalid {
		t.Fatalf("parse 2026-42: %v", err)
	}
	if err := e.SetStatus(RegisterReleased, now); err != nil {
		t.Fatal(err)
	}
	if err := e.SetStatus(RegisterCancelled, now); ErrorKind(err) != KindConflict || !strings.Contains(err.Error(), "annotation") {
		t.Fatalf("changing a released entry: %v", err)
	}
	if err := e.Annotate("dose corrigée sur l'étiquette : 85 mg", Actor{Name: "Dr Ph"}, now); err != nil || len(e.Annotations) != 1 {
		t.Fatalf("annotate: %v", err)
	}
	r := RegisterEntry{Number: "2026-000100", Kind: RegisterReserved}
	if err := e.Void("unused", now); ErrorKind(err) != KindTransition {
		t.Fatalf("voiding a preparation's number: %v", err)
	}
	if err := r.Void("crisis over, number not used", now); err != nil || r.Kind != RegisterVoided {
		t.Fatalf("void: %v", err)
	}
	// The register year is the year in Paris: 31/12 23:30 UTC is already
	// the next year there.
	if y := RegisterYear(time.Date(2026, 12, 31, 23, 30, 0, 0, time.UTC)); y != 2027 {
		t.Fatalf("register year %d", y)
	}
}

func TestCheckScan(t *testing.T) {
	p := Preparation{ID: "0190f5e2-7c3a-7b4e-9a1d-2f6c8e0b1a23", RegisterNumber: "2026-000012", INN: "carboplatine", Dose: 250, Unit: "mg"}
	pt := Patient{IPP: "8001", BirthName: "Le Gall", FirstNames: []string{"Maëlle"}, BirthDate: "2015-03-12"}
	if err := CheckScan(p, pt, "RLS:PREP:0190f5e2-7c3a-7b4e-9a1d-2f6c8e0b1a23", "8001"); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ label, ipp, field, want string }{
		{"RLS:PREP:0190f5e2-7c3a-7b4e-9a1d-2f6c8e0b1a24", "8001", "scanned_label", "MISMATCH: the label scanned is preparation 0190f5e2-7c3a-7b4e-9a1d-2f6c8e0b1a24, not 2026-000012"},
		{"3400893826591", "8001", "scanned_label", "not a Relais preparation label"},
		{"RLS:PREP:0190f5e2-7c3a-7b4e-9a1d-2f6c8e0b1a23", "8002", "patient_ipp", "is for LE GALL Maëlle (IPP 8001"},
	}
	for _, c := range cases {
		err := CheckScan(p, pt, c.label, c.ipp)
		var e *Error
		if !asError(err, &e) || e.Field != c.field || !strings.Contains(e.Message, c.want) || e.Kind != KindConflict {
			t.Errorf("scan %q / %q: %v; want %s: %q", c.label, c.ipp, err, c.field, c.want)
		}
	}
}

func TestBuildAdministrationPlan(t *testing.T) {
	start := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	pres := Prescription{ID: "pr1", Regimen: "R-CHOP-21 v1", Cycle: 2, StartDate: "2026-11-22"}
	doxo := &Preparation{ID: "prep-d", RegisterNumber: "2026-000003", Status: PrepDispensed, Plan: &CompoundingPlan{FinalVolumeML: 50}}
	lines := []PlanLine{
		{Prescription: pres, Line: PrescriptionLine{ID: "l3", Seq: 3, Day: 1, Kind: "chemo", INN: "doxorubicine", Dose: 100, Unit: "mg", Route: "IVL", DurationMin: 15}, Preparation: doxo},
		{Prescription: pres, Line: PrescriptionLine{ID: "l1", Seq: 1, Day: 1, Kind: "premedication", INN: "ondansétron", Dose: 8, Unit: "mg", Route: "IV", Vehicle: "NaCl 0.9%", VolumeML: 50, DurationMin: 15}},
		{Prescription: pres, Line: PrescriptionLine{ID: "l2", Seq: 2, Day: 1, Kind: "hydration", INN: "NaCl 0.9%", Route: "IV", VolumeML: 500, RateMLH: 250}},
	}
	pl := BuildAdministrationPlan("pat", "2026-11-22", start, lines)
	if len(pl.Items) != 3 || pl.Cycle != "C2 J1" {
		t.Fatalf("plan = %+v", pl)
	}
	// Ondansetron 8:00–8:15 at 50 mL / 0.25 h = 200 mL/h; hydration 500 mL
	// at 250 mL/h = 2 h, 8:15–10:15; doxorubicin 10:15–10:30, 50 mL in
	// 15 min = 200 mL/h.
	want := []struct {
		inn        string
		start, end string
		rate       float64
		status     string
	}{
		{"ondansétron", "08:00", "08:15", 200, "ward_stock"},
		{"NaCl 0.9%", "08:15", "10:15", 250, "ward_stock"},
		{"doxorubicine", "10:15", "10:30", 200, "dispensed"},
	}
	for i, w := range want {
		it := pl.Items[i]
		if it.INN != w.inn || it.Start.Format("15:04") != w.start || it.End.Format("15:04") != w.end || it.RateMLH != w.rate || it.Status != w.status {
			t.Errorf("item %d = %s %s–%s %v mL/h %s; want %+v", i, it.INN, it.Start.Format("15:04"), it.End.Format("15:04"), it.RateMLH, it.Status, w)
		}
	}
	if pl.Items[2].RegisterNumber != "2026-000003" {
		t.Errorf("the doxorubicin item lacks its register number")
	}
}

func TestIndicationCodeAndFICHCOMP(t *testing.T) {
	for code, ok := range map[string]bool{"I000123": true, "I12345": false, "i000123": false, "I0001234": false, "X000123": false} {
		if err := ValidateIndicationCode("indication_code", code); (err == nil) != ok {
			t.Errorf("%s: %v", code, err)
		}
	}
	var b bytes.Buffer
	lines := []BillingLine{{IPP: "8001", AdministeredOn: "2026-11-22", UCD: ucd("9271341"), Quantity: 1.5, IndicationCode: "I000123",
		RegisterNumber: "2026-000012", Brand: "MabThera 500 mg/50 mL"}}
	if err := WriteFICHCOMP(&b, "330781196", lines); err != nil {
		t.Fatal(err)
	}
	want := "finess;ipp;date_administration;ucd;nombre_administre;code_indication;numero_ordonnancier;libelle\r\n" +
		"330781196;8001;22112026;" + ucd("9271341") + ";1.500;I000123;2026-000012;MabThera 500 mg/50 mL\r\n"
	if b.String() != want {
		t.Fatalf("CSV =\n%q\nwant\n%q", b.String(), want)
	}
	lines[0].UCDDemo = true
	if err := WriteFICHCOMP(&bytes.Buffer{}, "", lines); ErrorKind(err) != KindInvalid {
		t.Fatalf("a demonstration UCD exported: %v", err)
	}
}

func TestPreparationModeFor(t *testing.T) {
	cyto := Drug{INN: "doxorubicine", Cytotoxic: true}
	mab := Drug{INN: "rituximab"}
	antiemetic := Drug{INN: "ondansétron"}
	// Rituximab SC 1400 mg/11.7 mL is a fixed-dose, ready-to-use vial
	// (SmPC MabThera 1400 mg solution for subcutaneous injection, 2).
	sc := Product{Brand: "MabThera SC 1400 mg", Form: FormSolution, Strength: 1400, StrengthUnit: "mg"}
	cases := []struct {
		name   string
		line   PrescriptionLine
		drug   Drug
		mode   PreparationMode
		making bool
	}{
		{"oral", PrescriptionLine{Route: "PO", Kind: "chemo", Dose: 80, Unit: "mg"}, Drug{INN: "prednisone"}, ModeDispensed, true},
		{"cytotoxic IV", PrescriptionLine{Route: "IV", Kind: "chemo", Dose: 100, Unit: "mg"}, cyto, ModeCompounded, true},
		{"cytotoxic even as a single whole vial", PrescriptionLine{Route: "IVL", Kind: "chemo", Dose: 50, Unit: "mg"}, cyto, ModeCompounded, true},
		{"premedication from the ward", PrescriptionLine{Route: "IV", Kind: "premedication", Dose: 8, Unit: "mg"}, antiemetic, "", false},
		{"antibody in a bag", PrescriptionLine{Route: "IV", Kind: "chemo", Dose: 750, Unit: "mg", Vehicle: "NaCl 0.9%"}, mab, ModeCompounded, true},
		{"ready-to-use SC", PrescriptionLine{Route: "SC", Kind: "chemo", Dose: 1400, Unit: "mg"}, mab, ModeDispensed, true},
	}
	for _, c := range cases {
		mode, why, ok := PreparationModeFor(c.line, c.drug, []Product{sc, doxo50})
		if mode != c.mode || ok != c.making || why == "" {
			t.Errorf("%s: %q %v (%s); want %q %v", c.name, mode, ok, why, c.mode, c.making)
		}
	}
}
