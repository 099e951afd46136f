package sqlstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/clinical"
	"github.com/relais-onco/relais/sqlstore"
)

// The production fixture: R-CHOP-21 day 1 as published by Coiffier B et
// al., N Engl J Med 2002;346:235–42 (rituximab 375 mg/m², cyclophosphamide
// 750 mg/m², doxorubicin 50 mg/m², vincristine 1.4 mg/m² capped at 2 mg,
// prednisone 40 mg/m² orally), with an ondansetron premedication given from
// the ward's stock. The patient is 180 cm and 80 kg: Mosteller BSA
// √(180 × 80 / 3600) = 2.00 m² (Mosteller RD, N Engl J Med 1987;317:1098),
// so rituximab 750 mg, cyclophosphamide 1500 mg, doxorubicin 100 mg,
// vincristine 2 mg (2.8 mg capped), prednisone 80 mg.
//
// Products: presentations of the marketed products (strength, volume,
// concentration) as their SmPCs give them — MabThera 100 mg/10 mL and
// 500 mg/50 mL (10 mg/mL; diluted to 1–4 mg/mL in NaCl 0.9 %, SmPC
// MabThera, EMA, 6.6); Endoxan 500 mg and 1000 mg powders reconstituted
// with 25 and 50 mL (20 mg/mL, SmPC Endoxan 6.6); doxorubicin 2 mg/mL,
// 10 mg/5 mL and 50 mg/25 mL (SmPC Doxorubicine Accord 6.5); vincristine
// 1 mg/mL, 1 mg/1 mL and 2 mg/2 mL (SmPC Vincristine Hospira 6.5).
// Stability entries marked "fixture" and the densities are made up for the
// tests: they are not published values. The UCD codes are fictitious
// (valid check digit) and the indication code I000123 is made up.

type prodFixture struct {
	db                           *sqlstore.DB
	sys, admin, doctor           context.Context
	pharma, pharma2, tech, tech2 context.Context
	nurse                        context.Context
	versionID                    relais.ID
	patient                      relais.Patient
	drugs                        map[string]relais.Drug
	products                     map[string]relais.Product // by short name: rtx500, doxo50…
	lots                         map[string]relais.StockLot
	patientN                     int
}

func ucdOf(n int) string {
	s := fmt.Sprintf("34008%07d", n)
	return s + string(relais.EAN13CheckDigit(s))
}

func fixtureStab(cond relais.StabilityCondition, diluent string, min, max float64) relais.Stability {
	return relais.Stability{Condition: cond, Storage: "2-8°C", DurationHours: 24, Diluent: diluent, MinConcentration: min,
		MaxConcentration: max, Source: "fixture (not a published value)"}
}

func newProdFixture(t testing.TB, dsn string) *prodFixture {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), dsn, sqlstore.Options{Site: "chu-test", Log: quiet})
	if err != nil {
		t.Fatalf("open %s: %v", dsn, err)
	}
	t.Cleanup(func() { db.Close() })
	f := &prodFixture{db: db, sys: relais.WithActor(context.Background(), relais.SystemActor("chu-test")),
		drugs: map[string]relais.Drug{}, products: map[string]relais.Product{}, lots: map[string]relais.StockLot{}}
	mk := func(name string, role relais.Role) context.Context {
		u, err := db.CreateUser(f.sys, relais.User{Username: name, Name: name, Role: role}, "")
		if err != nil {
			t.Fatal(err)
		}
		return relais.WithActor(context.Background(), u.Actor())
	}
	f.admin, f.doctor = mk("admin.test", relais.RolePharmAdmin), mk("dr.test", relais.RolePrescriber)
	f.pharma, f.pharma2 = mk("ph.test", relais.RolePharmacist), mk("ph2.test", relais.RolePharmacist)
	f.tech, f.tech2, f.nurse = mk("prep.test", relais.RoleTechnician), mk("prep2.test", relais.RoleTechnician), mk("ide.test", relais.RoleNurse)
	for _, d := range []relais.Drug{
		{INN: "rituximab", Class: relais.ClassAntibody},
		{INN: "cyclophosphamide", Class: relais.ClassAlkylating, Cytotoxic: true},
		{INN: "doxorubicine", Class: relais.ClassAnthracycline, Cytotoxic: true},
		{INN: "vincristine", Class: relais.ClassVincaAlkaloid, Cytotoxic: true},
		{INN: "prednisone", Class: relais.ClassCorticosteroid},
		{INN: "ondansétron", Class: relais.ClassSupportive},
	} {
		out, err := db.CreateDrug(f.admin, d)
		if err != nil {
			t.Fatalf("drug %s: %v", d.INN, err)
		}
		f.drugs[d.INN] = out
	}
	if _, err := db.CreateDiluent(f.admin, relais.Diluent{Name: "NaCl 0.9%", VolumesML: []float64{50, 100, 250, 500}}); err != nil {
		t.Fatal(err)
	}
	type prod struct {
		key, inn, brand  string
		form             relais.ProductForm
		strength, volume float64
		recon            string
		enSus            bool
		density          float64
		stab             []relais.Stability
	}
	rtxStab := relais.Stability{Condition: relais.AfterDilution, Storage: "2-8°C", DurationHours: 24, Diluent: "NaCl 0.9%",
		MinConcentration: 1, MaxConcentration: 4, Source: "SmPC MabThera (EMA), 6.3 and 6.6"}
	opened := fixtureStab(relais.AfterOpening, "", 0, 0)
	recon := fixtureStab(relais.AfterReconstitution, "", 0, 0)
	nacl := fixtureStab(relais.AfterDilution, "NaCl 0.9%", 0, 0)
	for i, p := range []prod{
		{"rtx100", "rituximab", "MabThera 100 mg/10 mL", relais.FormSolution, 100, 10, "", true, 0, []relais.Stability{rtxStab}},
		{"rtx500", "rituximab", "MabThera 500 mg/50 mL", relais.FormSolution, 500, 50, "", true, 0, []relais.Stability{rtxStab}},
		{"cpm500", "cyclophosphamide", "Endoxan 500 mg", relais.FormPowder, 500, 25, "25 mL de NaCl 0,9 %", false, 0, []relais.Stability{recon, nacl}},
		{"cpm1000", "cyclophosphamide", "Endoxan 1000 mg", relais.FormPowder, 1000, 50, "50 mL de NaCl 0,9 %", false, 0, []relais.Stability{recon, nacl}},
		{"doxo10", "doxorubicine", "Doxorubicine 10 mg/5 mL", relais.FormSolution, 10, 5, "", false, 1.0, []relais.Stability{opened, nacl}},
		{"doxo50", "doxorubicine", "Doxorubicine 50 mg/25 mL", relais.FormSolution, 50, 25, "", false, 1.0, []relais.Stability{opened, nacl}},
		{"vcr1", "vincristine", "Vincristine 1 mg/1 mL", relais.FormSolution, 1, 1, "", false, 0, []relais.Stability{opened, nacl}},
		{"vcr2", "vincristine", "Vincristine 2 mg/2 mL", relais.FormSolution, 2, 2, "", false, 0, []relais.Stability{opened, nacl}},
	} {
		out, err := db.CreateProduct(f.admin, relais.Product{DrugID: f.drugs[p.inn].ID, Brand: p.brand, UCD: ucdOf(9000001 + i), Form: p.form,
			Strength: p.strength, StrengthUnit: "mg", VolumeML: p.volume, Concentration: p.strength / p.volume, Reconstitution: p.recon,
			ListeEnSus: p.enSus, DensityGML: p.density, Stability: p.stab})
		if err != nil {
			t.Fatalf("product %s: %v", p.brand, err)
		}
		f.products[p.key] = out
		lot, err := db.ReceiveStock(f.pharma, relais.StockReceipt{ProductID: out.ID, Lot: "L-" + p.key, Expiry: relais.LocalDate(time.Now()).AddDays(365), Quantity: 400})
		if err != nil {
			t.Fatalf("stock %s: %v", p.brand, err)
		}
		f.lots[p.key] = lot
	}
	if _, err := db.SetPharmacy(f.admin, relais.Pharmacy{Name: "PUI – CHU de Test", Address: "1 rue de l'Hôpital\n35000 Rennes", Phone: "02 99 00 00 00"}); err != nil {
		t.Fatal(err)
	}
	perM2 := func(d float64) clinical.Rule { return clinical.Rule{Kind: "per_m2", Dose: d, Unit: "mg"} }
	vcr := perM2(1.4)
	vcr.MaxDose = 2
	content := relais.ProtocolContent{
		Cycles: relais.Cycles{Count: 8, LengthDays: 21},
		Days:   []int{1},
		Lines: []relais.ProtocolLine{
			{Seq: 1, Kind: relais.LinePremedication, INN: "ondansétron", Dose: clinical.Rule{Kind: "flat", Dose: 8, Unit: "mg"}, Route: relais.RouteIV, Days: []int{1}, Vehicle: "NaCl 0.9%", VolumeML: 50, DurationMin: 15},
			{Seq: 2, Kind: relais.LineChemo, INN: "rituximab", Dose: perM2(375), Route: relais.RouteIV, Days: []int{1}, Vehicle: "NaCl 0.9%", VolumeML: 500, DurationMin: 240},
			{Seq: 3, Kind: relais.LineChemo, INN: "cyclophosphamide", Dose: perM2(750), Route: relais.RouteIV, Days: []int{1}, Vehicle: "NaCl 0.9%", VolumeML: 250, DurationMin: 60},
			{Seq: 4, Kind: relais.LineChemo, INN: "doxorubicine", Dose: perM2(50), Route: relais.RouteIVL, Days: []int{1}, DurationMin: 15},
			{Seq: 5, Kind: relais.LineChemo, INN: "vincristine", Dose: vcr, Route: relais.RouteIV, Days: []int{1}, Vehicle: "NaCl 0.9%", VolumeML: 50, DurationMin: 10},
			{Seq: 6, Kind: relais.LineChemo, INN: "prednisone", Dose: perM2(40), Route: relais.RoutePO, Days: []int{1}},
		},
		Source: "Coiffier B et al., N Engl J Med 2002;346:235–42",
	}
	pd, err := db.CreateProtocol(f.admin, relais.NewProtocol{Code: "R-CHOP-21", Name: "R-CHOP 21", Indication: "DLBCL", Population: relais.Adult, Content: content})
	if err != nil {
		t.Fatalf("protocol: %v", err)
	}
	v := pd.Versions[0]
	if _, err := db.TransitionVersion(f.admin, v.ID, relais.VersionTransition{To: relais.VersionInTest}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.TransitionVersion(f.pharma, v.ID, relais.VersionTransition{To: relais.VersionActive}); err != nil {
		t.Fatal(err)
	}
	f.versionID = v.ID
	f.patient = f.newPatient(t)
	return f
}

// newPatient makes a patient of 180 cm and 80 kg.
func (f *prodFixture) newPatient(t testing.TB) relais.Patient {
	t.Helper()
	f.patientN++
	p, err := f.db.CreatePatient(f.doctor, relais.PatientInput{IPP: fmt.Sprintf("IPP-%04d", 1000+f.patientN), INS: relais.INS{Status: relais.IdentityProvisional},
		BirthName: "Martin", FirstNames: []string{"Jean"}, BirthDate: "1960-05-04", Sex: relais.SexMale})
	if err != nil {
		t.Fatal(err)
	}
	for kind, v := range map[string]float64{"height_cm": 180, "weight_kg": 80} {
		if _, err := f.db.RecordMeasurement(f.doctor, p.ID, relais.MeasurementInput{Kind: kind, Value: &v,
			MeasuredAt: time.Now().Add(-24 * time.Hour)}); err != nil {
			t.Fatalf("measure %s: %v", kind, err)
		}
	}
	return p
}

// validatedCycles includes patient in the protocol and takes cycles 1..n
// (21 days apart, from today) to validated lines; it returns the
// prescriptions.
func (f *prodFixture) validatedCycles(t testing.TB, patient relais.Patient, n int) []relais.Prescription {
	t.Helper()
	start := relais.LocalDate(time.Now())
	tr, err := f.db.Include(f.doctor, relais.IncludeRequest{PatientID: patient.ID, ProtocolVersionID: f.versionID, Intent: "curative", StartDate: start})
	if err != nil {
		t.Fatal(err)
	}
	var out []relais.Prescription
	for c := 1; c <= n; c++ {
		out = append(out, f.validatedCycle(t, tr.ID, c, start.AddDays(21*(c-1))))
	}
	return out
}

// validatedCycle prescribes cycle c of a treatment from start and takes it
// to validated lines.
func (f *prodFixture) validatedCycle(t testing.TB, treatmentID relais.ID, c int, start relais.Date) relais.Prescription {
	t.Helper()
	p, err := f.db.Prescribe(f.doctor, treatmentID, relais.PrescribeRequest{Cycle: c, StartDate: start})
	if err != nil {
		t.Fatal(err)
	}
	for _, ck := range p.Checks {
		if ck.Level == relais.LevelAcknowledge && ck.Ack == nil {
			if p, err = f.db.Acknowledge(f.doctor, p.ID, relais.AcknowledgeRequest{Code: ck.Code, LineID: ck.LineID, Reason: "test"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if p, err = f.db.Sign(f.doctor, p.ID); err != nil {
		t.Fatalf("cycle %d: sign: %v", c, err)
	}
	if p, err = f.db.GiveOKToTreat(f.doctor, p.ID, relais.OKToTreatRequest{Day: 1}); err != nil {
		t.Fatalf("cycle %d: OK-to-treat: %v", c, err)
	}
	for _, l := range p.Lines {
		if p, err = f.db.ValidateLine(f.pharma, p.ID, l.ID, relais.ValidateLineRequest{Decision: relais.DecisionAccept}); err != nil {
			t.Fatalf("cycle %d: validate %s: %v", c, l.INN, err)
		}
	}
	return p
}

// preparationsOf returns the live preparations of a prescription, by INN.
func (f *prodFixture) preparationsOf(t testing.TB, presID relais.ID) map[string]relais.Preparation {
	t.Helper()
	all, err := f.db.Preparations(f.pharma, relais.PreparationFilter{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]relais.Preparation{}
	for _, p := range all {
		if p.PrescriptionID == presID && p.Status != relais.PrepRejected && p.Status != relais.PrepCancelled {
			out[p.INN] = p
		}
	}
	return out
}

// compounded returns the IDs of a prescription's compounded preparations.
func (f *prodFixture) compounded(t testing.TB, presID relais.ID) []relais.ID {
	var ids []relais.ID
	for _, p := range f.preparationsOf(t, presID) {
		if p.Mode == relais.ModeCompounded {
			ids = append(ids, p.ID)
		}
	}
	return ids
}

// produceAsPlanned records a preparation made exactly as its worksheet
// says, from the proposed lots, measured by volume.
func (f *prodFixture) produceAsPlanned(t testing.TB, id relais.ID) relais.Preparation {
	t.Helper()
	p, err := f.db.Preparation(f.tech, id)
	if err != nil {
		t.Fatal(err)
	}
	var req relais.ProductionRequest
	for _, d := range p.Plan.Draws {
		in := relais.UsedVialInput{VolumeML: d.VolumeML}
		if d.Leftover {
			in.LeftoverID = d.LeftoverID
		} else {
			in.LotID = d.LotID
		}
		req.Vials = append(req.Vials, in)
	}
	if p, err = f.db.RecordProduction(f.tech, id, req); err != nil {
		t.Fatalf("record %s: %v", id, err)
	}
	return p
}
