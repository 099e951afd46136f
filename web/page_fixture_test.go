package web_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/clinical"
	"github.com/relais-onco/relais/demo"
	"github.com/relais-onco/relais/sqlstore"
	"github.com/relais-onco/relais/web"
)

// The pages' fixture: one adult patient treated with R-CHOP-21 as published
// by Coiffier B et al., N Engl J Med 2002;346:235–42 (rituximab 375 mg/m²,
// cyclophosphamide 750 mg/m², doxorubicin 50 mg/m², vincristine 1.4 mg/m²
// capped at 2 mg, day 1 every 21 days, 8 cycles). The patient is 180 cm and
// 80 kg: Mosteller BSA = √(180 × 80 / 3600) = √4 = 2 m² (Mosteller RD,
// N Engl J Med 1987;317:1098), so doxorubicin is 100 mg, cyclophosphamide
// 1500 mg, rituximab 750 mg and vincristine 2.8 mg capped to 2 mg.
//
// The anthracycline limit is 450 mg/m² of doxorubicin, the lower bound of
// the 450–550 mg/m² the doxorubicin SmPC warns about (Résumé des
// caractéristiques du produit, Doxorubicine Accord 2 mg/mL, ANSM, section
// 4.4). Cycle 1 was given three weeks ago, so the history holds 100 mg /
// 2 m² = 50 mg/m² of doxorubicin.
//
// Version 2 of the protocol (a draft) has 6 cycles instead of 8, as in the
// RICOVER-60 trial (Pfreundschuh M et al., Lancet Oncol 2008;9:105–16):
// the diff view shows that one change.
//
// The products are the marketed presentations as their SmPCs give them:
// MabThera 500 mg/50 mL (10 mg/mL; diluted to 1–4 mg/mL in NaCl 0.9 %, SmPC
// MabThera, EMA, 6.6), Endoxan 1000 mg powder reconstituted with 50 mL
// (20 mg/mL, SmPC Endoxan 6.6), doxorubicin 50 mg/25 mL (2 mg/mL, SmPC
// Doxorubicine Accord 6.5), vincristine 2 mg/2 mL (1 mg/mL, SmPC
// Vincristine Hospira 6.5). Their stability entries marked "fixture" are
// made up for the tests, not published values; the UCD codes are
// fictitious (with a valid check digit).

type pageFixture struct {
	db        *sqlstore.DB
	srv       *web.Server
	ts        *httptest.Server
	patient   relais.Patient
	child     relais.Patient
	treatment relais.Treatment
	protocol  relais.ProtocolDetail
	cycle1    relais.Prescription
}

// quietLog discards the server's log; RELAIS_TEST_LOG=1 shows it (to see
// why a page answered 500).
// The fixture's site and people carry the demo's names, so that the
// screenshots the user guide shows look like the demo.
const fixtureSite = "chu-aquitaine"

var fixtureNames = func() map[relais.Role]string {
	m := map[relais.Role]string{}
	for _, u := range demo.Users {
		if _, ok := m[u.Role]; !ok {
			m[u.Role] = u.Name
		}
	}
	return m
}()

var quietLog = func() *slog.Logger {
	if os.Getenv("RELAIS_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.DiscardHandler)
}()

func actorCtx(u relais.User) context.Context {
	return relais.WithActor(context.Background(), u.Actor())
}

// newPageFixture opens a database at dsn, fills it, and serves it.
func newPageFixture(t testing.TB, dsn string) *pageFixture {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), dsn, sqlstore.Options{Site: fixtureSite, Log: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := &pageFixture{db: db}
	loadPageFixture(t, db, f)
	f.srv = web.New(fixtureSite, web.Services{Users: db, Patients: db, Catalogue: db, Protocols: db, Treatments: db, Production: db}, quietLog)
	f.srv.SetReady()
	f.ts = httptest.NewServer(f.srv.Handler())
	t.Cleanup(f.ts.Close)
	return f
}

// must returns v, or panics with err; loadPageFixture turns the panic
// into the test's failure.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func loadPageFixture(t testing.TB, db *sqlstore.DB, f *pageFixture) {
	t.Helper()
	defer func() {
		if v := recover(); v != nil {
			t.Fatalf("loading the fixture: %v", v)
		}
	}()
	sys := relais.WithActor(context.Background(), relais.SystemActor(fixtureSite))
	users := map[relais.Role]context.Context{}
	for _, r := range relais.Roles {
		u := must(db.CreateUser(sys, relais.User{Username: string(r), Name: fixtureNames[r], Role: r}, "password-"+string(r)))
		users[r] = actorCtx(u)
	}
	doctor, pharma, admin := users[relais.RolePrescriber], users[relais.RolePharmacist], users[relais.RolePharmAdmin]
	for _, d := range []relais.Drug{
		{INN: "rituximab", Class: relais.ClassAntibody},
		{INN: "cyclophosphamide", Class: relais.ClassAlkylating, Cytotoxic: true},
		{INN: "doxorubicine", Class: relais.ClassAnthracycline, Cytotoxic: true},
		{INN: "vincristine", Class: relais.ClassVincaAlkaloid, Cytotoxic: true},
	} {
		must(db.CreateDrug(admin, d))
	}
	must(db.CreateDiluent(admin, relais.Diluent{Name: "NaCl 0.9%", VolumesML: []float64{50, 100, 250, 500}}))
	drugs := must(db.Drugs(admin))
	drugID := map[string]relais.ID{}
	for _, d := range drugs {
		drugID[d.INN] = d.ID
	}
	stab := func(cond relais.StabilityCondition, diluent string, min, max float64, source string) relais.Stability {
		return relais.Stability{Condition: cond, Storage: "2-8°C", DurationHours: 24, Diluent: diluent, MinConcentration: min, MaxConcentration: max, Source: source}
	}
	const madeUp = "fixture (not a published value)"
	for i, p := range []struct {
		inn, brand       string
		form             relais.ProductForm
		strength, volume float64
		recon            string
		density          float64
		stability        []relais.Stability
	}{
		{"rituximab", "MabThera 500 mg/50 mL", relais.FormSolution, 500, 50, "", 0,
			[]relais.Stability{stab(relais.AfterDilution, "NaCl 0.9%", 1, 4, "SmPC MabThera (EMA), 6.3 and 6.6")}},
		{"cyclophosphamide", "Endoxan 1000 mg", relais.FormPowder, 1000, 50, "50 mL de NaCl 0,9 %", 0,
			[]relais.Stability{stab(relais.AfterReconstitution, "", 0, 0, madeUp), stab(relais.AfterDilution, "NaCl 0.9%", 0, 0, madeUp)}},
		{"doxorubicine", "Doxorubicine 50 mg/25 mL", relais.FormSolution, 50, 25, "", 1.0,
			[]relais.Stability{stab(relais.AfterOpening, "", 0, 0, madeUp), stab(relais.AfterDilution, "NaCl 0.9%", 0, 0, madeUp)}},
		{"vincristine", "Vincristine 2 mg/2 mL", relais.FormSolution, 2, 2, "", 0,
			[]relais.Stability{stab(relais.AfterOpening, "", 0, 0, madeUp), stab(relais.AfterDilution, "NaCl 0.9%", 0, 0, madeUp)}},
	} {
		ucd := fmt.Sprintf("34008%07d", 9100001+i)
		prod := must(db.CreateProduct(admin, relais.Product{DrugID: drugID[p.inn], Brand: p.brand, UCD: ucd + string(relais.EAN13CheckDigit(ucd)),
			Form: p.form, Strength: p.strength, StrengthUnit: "mg", VolumeML: p.volume, Concentration: p.strength / p.volume,
			Reconstitution: p.recon, DensityGML: p.density, Stability: p.stability}))
		must(db.ReceiveStock(pharma, relais.StockReceipt{ProductID: prod.ID, Lot: fmt.Sprintf("L%02d-%s", i+1, strings.ToUpper(p.inn[:3])),
			Expiry: today().AddDays(365), Quantity: 100}))
	}
	must(db.SetPharmacy(admin, relais.Pharmacy{Name: "PUI – CHU de Test", Address: "1 rue de l'Hôpital\n35000 Rennes", Phone: "02 99 00 00 00"}))
	perM2 := func(d float64) clinical.Rule { return clinical.Rule{Kind: "per_m2", Dose: d, Unit: "mg"} }
	vcr := perM2(1.4)
	vcr.MaxDose = 2
	content := relais.ProtocolContent{
		Cycles: relais.Cycles{Count: 8, LengthDays: 21},
		Days:   []int{1},
		Lines: []relais.ProtocolLine{
			{Seq: 1, Kind: relais.LineChemo, INN: "rituximab", Dose: perM2(375), Route: relais.RouteIV, Days: []int{1}, Vehicle: "NaCl 0.9%", VolumeML: 500, DurationMin: 240},
			{Seq: 2, Kind: relais.LineChemo, INN: "cyclophosphamide", Dose: perM2(750), Route: relais.RouteIV, Days: []int{1}, Vehicle: "NaCl 0.9%", VolumeML: 250, DurationMin: 60},
			{Seq: 3, Kind: relais.LineChemo, INN: "doxorubicine", Dose: perM2(50), Route: relais.RouteIVL, Days: []int{1}, DurationMin: 15},
			{Seq: 4, Kind: relais.LineChemo, INN: "vincristine", Dose: vcr, Route: relais.RouteIV, Days: []int{1}, Vehicle: "NaCl 0.9%", VolumeML: 50, DurationMin: 10},
		},
		Criteria: []relais.Criterion{
			{Lab: "neutrophils", Op: ">=", Value: 1.5, Unit: "G/L"},
			{Lab: "platelets", Op: ">=", Value: 100, Unit: "G/L"},
		},
		CumulativeLimits: []relais.CumulativeLimit{{Class: relais.ClassAnthracycline, Limit: 450, Unit: "mg/m²"}},
		Source:           "Coiffier B et al., N Engl J Med 2002;346:235–42",
	}
	pd := must(db.CreateProtocol(admin, relais.NewProtocol{Code: "R-CHOP-21", Name: "R-CHOP 21", Indication: "Lymphome B diffus à grandes cellules", Population: relais.Adult, Content: content}))
	v1 := pd.Versions[0]
	must(db.TransitionVersion(admin, v1.ID, relais.VersionTransition{To: relais.VersionInTest}))
	must(db.TransitionVersion(pharma, v1.ID, relais.VersionTransition{To: relais.VersionActive, Comment: "Relu et testé"}))
	v2 := must(db.NewVersion(admin, pd.ID, 1))
	c2 := v2.Content
	c2.Cycles.Count = 6
	must(db.UpdateDraft(admin, v2.ID, relais.DraftUpdate{Revision: v2.Revision, Content: c2}))
	f.protocol = must(db.Protocol(admin, pd.ID))

	f.patient = must(db.CreatePatient(doctor, relais.PatientInput{IPP: "IPP-2001", INS: relais.INS{Status: relais.IdentityValidated},
		BirthName: "Le Gall", FirstNames: []string{"Jean-Pierre"}, BirthDate: "1958-05-04", Sex: relais.SexMale}))
	f.child = must(db.CreatePatient(doctor, relais.PatientInput{IPP: "IPP-2002", INS: relais.INS{Status: relais.IdentityProvisional},
		BirthName: "Noël-Müller", FirstNames: []string{"Zoé"}, BirthDate: "2015-03-12", Sex: relais.SexFemale}))
	must(db.AddAllergy(doctor, f.patient.ID, relais.AllergyInput{Substance: "amoxicilline", Reaction: "urticaire", Severity: relais.SeverityModerate}))

	now := time.Now()
	start1 := relais.Date(now.In(relais.DisplayZone).AddDate(0, 0, -21).Format(time.DateOnly))
	measure := func(kind string, v float64, at time.Time) {
		must(db.RecordMeasurement(doctor, f.patient.ID, relais.MeasurementInput{Kind: kind, Value: &v, MeasuredAt: at}))
	}
	before1 := now.AddDate(0, 0, -22)
	measure("height_cm", 180, before1)
	measure("weight_kg", 80, before1)
	measure("neutrophils_g_l", 2.4, before1)
	measure("platelets_g_l", 210, before1)
	f.treatment = must(db.Include(doctor, relais.IncludeRequest{PatientID: f.patient.ID, ProtocolVersionID: v1.ID, Intent: "curative", StartDate: start1}))
	p := must(db.Prescribe(doctor, f.treatment.ID, relais.PrescribeRequest{Cycle: 1, StartDate: start1}))
	for _, c := range p.Blocking() {
		p = must(db.Acknowledge(doctor, p.ID, relais.AcknowledgeRequest{Code: c.Code, LineID: c.LineID, Reason: "Vu en consultation"}))
	}
	p = must(db.Sign(doctor, p.ID))
	p = must(db.GiveOKToTreat(doctor, p.ID, relais.OKToTreatRequest{Day: 1}))
	for _, l := range p.Lines {
		p = must(db.ValidateLine(pharma, p.ID, l.ID, relais.ValidateLineRequest{Decision: relais.DecisionAccept}))
	}
	f.cycle1 = p
	// Today's values, for cycle 2.
	yesterday := now.Add(-20 * time.Hour)
	measure("weight_kg", 80, yesterday)
	measure("neutrophils_g_l", 2.1, yesterday)
	measure("platelets_g_l", 190, yesterday)
}

// client is a browser of one role: a cookie jar signed in through the
// session API.
type pageClient struct {
	t    testing.TB
	base string
	hc   *http.Client
	lang string
}

func (f *pageFixture) as(t testing.TB, role relais.Role) *pageClient {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &pageClient{t: t, base: f.ts.URL, lang: "fr", hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
	if role != "" {
		body := `{"username":"` + string(role) + `","password":"password-` + string(role) + `"}`
		resp, err := c.hc.Post(f.ts.URL+"/api/v1/session", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("sign-in as %s: %d", role, resp.StatusCode)
		}
	}
	return c
}

// response is what a page answered.
type response struct {
	status   int
	body     string
	location string
	header   http.Header
}

func (c *pageClient) do(method, path string, form url.Values, hdr ...string) response {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, c.base+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Accept-Language", c.lang)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, body: string(b), location: resp.Header.Get("Location"), header: resp.Header}
}

func (c *pageClient) get(path string) response { c.t.Helper(); return c.do("GET", path, nil) }

func (c *pageClient) post(path string, form url.Values, hdr ...string) response {
	c.t.Helper()
	return c.do("POST", path, form, hdr...)
}

// actor returns a context acting as the fixture's user of role.
func (f *pageFixture) actor(t testing.TB, role relais.Role) context.Context {
	t.Helper()
	us, err := f.db.Users(relais.WithActor(context.Background(), relais.SystemActor(fixtureSite)))
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range us {
		if u.Role == role {
			return actorCtx(u)
		}
	}
	t.Fatalf("no %s in the fixture", role)
	return nil
}

// cycle2 prescribes, signs, gives the OK-to-treat and validates cycle 2,
// today, through the services: its lines become preparations.
func (f *pageFixture) cycle2(t testing.TB) relais.Prescription {
	t.Helper()
	doctor, pharma := f.actor(t, relais.RolePrescriber), f.actor(t, relais.RolePharmacist)
	p, err := f.db.Prescribe(doctor, f.treatment.ID, relais.PrescribeRequest{Cycle: 2, StartDate: today()})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range p.Blocking() {
		if p, err = f.db.Acknowledge(doctor, p.ID, relais.AcknowledgeRequest{Code: c.Code, LineID: c.LineID, Reason: "Vu"}); err != nil {
			t.Fatal(err)
		}
	}
	if p, err = f.db.Sign(doctor, p.ID); err != nil {
		t.Fatal(err)
	}
	if p, err = f.db.GiveOKToTreat(doctor, p.ID, relais.OKToTreatRequest{Day: 1}); err != nil {
		t.Fatal(err)
	}
	for _, l := range p.Lines {
		if p, err = f.db.ValidateLine(pharma, p.ID, l.ID, relais.ValidateLineRequest{Decision: relais.DecisionAccept}); err != nil {
			t.Fatal(err)
		}
	}
	return p
}
