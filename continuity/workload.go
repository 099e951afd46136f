package continuity

import (
	"context"
	"fmt"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/demo"
	"github.com/relais-onco/relais/sqlstore"
)

// The work a drill does on a crisis node, through the same services as the
// screens: a patient created, included in a protocol of the library,
// prescribed, signed, given the day's OK-to-treat and validated; each of
// the day's preparations issued (worksheet and register number from the
// reserved block), produced from stock lots, checked, released, put on a
// delivery slip and given. Numbers used here are not clinical examples:
// measurements are plausible adult values, and doses are what the protocol
// library computes from them.

// Team is who acts in a drill: the demo's accounts by role.
type Team struct {
	Prescriber, Pharmacist, Technician, Nurse context.Context
	names                                     map[string]relais.User
}

// NewTeam finds the demo accounts (dr.martin, ph.durand, prep.bernard,
// ide.petit) in db.
func NewTeam(ctx context.Context, db *sqlstore.DB) (Team, error) {
	users, err := db.Users(ctx)
	if err != nil {
		return Team{}, err
	}
	t := Team{names: map[string]relais.User{}}
	for _, u := range users {
		t.names[u.Username] = u
	}
	as := func(name string) (context.Context, error) {
		u, ok := t.names[name]
		if !ok {
			return nil, fmt.Errorf("the drill needs the demo account %s", name)
		}
		return relais.WithActor(ctx, u.Actor()), nil
	}
	for _, x := range []struct {
		name string
		to   *context.Context
	}{{"dr.martin", &t.Prescriber}, {"ph.durand", &t.Pharmacist}, {"prep.bernard", &t.Technician}, {"ide.petit", &t.Nurse}} {
		if *x.to, err = as(x.name); err != nil {
			return t, err
		}
	}
	return t, nil
}

// LoadSite fills an empty database with the demo's sites, accounts and
// protocol library, the pharmacy's mentions and stock for every product.
func LoadSite(ctx context.Context, db *sqlstore.DB) error {
	sys := relais.WithActor(ctx, relais.SystemActor(db.Site))
	for _, s := range demo.Sites {
		if err := db.SaveSite(sys, s); err != nil {
			return err
		}
	}
	for _, u := range demo.Users {
		if _, err := db.CreateUser(sys, u, demo.Password); err != nil {
			return err
		}
	}
	if err := demo.LoadLibrary(ctx, db); err != nil {
		return fmt.Errorf("protocol library: %w", err)
	}
	t, err := NewTeam(ctx, db)
	if err != nil {
		return err
	}
	if _, err := db.SetPharmacy(t.Pharmacist, relais.Pharmacy{Name: "PUI du " + db.Site + " (démo)", Address: "1 place de l'Hôpital, 33000 Bordeaux",
		Phone: "05 56 00 00 00"}); err != nil {
		return fmt.Errorf("pharmacy: %w", err)
	}
	return Restock(ctx, db, t, 2000)
}

// Restock receives a lot of n vials of every product of the catalogue.
func Restock(ctx context.Context, db *sqlstore.DB, t Team, n int) error {
	drugs, err := db.Drugs(ctx)
	if err != nil {
		return err
	}
	expiry := relais.Date(relais.Now().AddDate(1, 0, 0).Format(time.DateOnly))
	for _, d := range drugs {
		ps, err := db.Products(ctx, d.ID)
		if err != nil {
			return err
		}
		for _, p := range ps {
			if _, err := db.ReceiveStock(t.Technician, relais.StockReceipt{ProductID: p.ID, Lot: "DRILL-" + relais.Now().Format("0102150405"),
				Expiry: expiry, Quantity: n, Supplier: "grossiste (exercice)"}); err != nil {
				return fmt.Errorf("stock of %s: %w", p.Brand, err)
			}
		}
	}
	return nil
}

// Regimen is an active protocol version a drill can prescribe from.
type Regimen struct {
	Code    string
	Version relais.ID
}

// Regimens lists the active adult protocol versions of the library.
func Regimens(ctx context.Context, db *sqlstore.DB, t Team) ([]Regimen, error) {
	ps, err := db.Protocols(t.Prescriber, relais.ProtocolFilter{})
	if err != nil {
		return nil, err
	}
	var out []Regimen
	for _, p := range ps {
		for _, v := range p.Versions {
			if v.Status == relais.VersionActive && p.Population == relais.Adult {
				out = append(out, Regimen{p.Code, v.ID})
			}
		}
	}
	return out, nil
}

// TreatPatient creates patient i, includes them in r starting today,
// prescribes cycle 1, signs it, gives today's OK-to-treat and validates
// today's lines: the validated lines become preparations. It returns them.
func TreatPatient(ctx context.Context, db *sqlstore.DB, t Team, r Regimen, i int) ([]relais.Preparation, error) {
	today := relais.Today()
	p, err := db.CreatePatient(t.Prescriber, relais.PatientInput{IPP: fmt.Sprintf("CRISE-%s-%04d", time.Now().Format("150405"), i),
		INS: relais.INS{Status: relais.IdentityProvisional}, BirthName: "EXERCICE", FirstNames: []string{fmt.Sprintf("Patient%d", i)},
		BirthDate: "1965-04-12", Sex: relais.SexFemale})
	if err != nil {
		return nil, err
	}
	measured := relais.Now().Add(-2 * time.Hour)
	for _, m := range []struct {
		kind string
		v    float64
	}{{"height_cm", 165}, {"weight_kg", 64}, {"creatinine_umol_l", 70}, {"neutrophils_g_l", 3.1}, {"platelets_g_l", 240}, {"haemoglobin_g_dl", 12.4}} {
		v := m.v
		if _, err := db.RecordMeasurement(t.Prescriber, p.ID, relais.MeasurementInput{Kind: m.kind, Value: &v, MeasuredAt: measured, Source: relais.SourceLab}); err != nil {
			return nil, fmt.Errorf("%s: %w", m.kind, err)
		}
	}
	tr, err := db.Include(t.Prescriber, relais.IncludeRequest{PatientID: p.ID, ProtocolVersionID: r.Version, Intent: "curative", StartDate: today})
	if err != nil {
		return nil, err
	}
	pr, err := db.Prescribe(t.Prescriber, tr.ID, relais.PrescribeRequest{Cycle: 1, StartDate: today})
	if err != nil {
		return nil, err
	}
	for _, c := range pr.Checks {
		if c.Level == relais.LevelAcknowledge && c.Ack == nil {
			if pr, err = db.Acknowledge(t.Prescriber, pr.ID, relais.AcknowledgeRequest{Code: c.Code, LineID: c.LineID, Reason: "Vu en consultation (exercice)"}); err != nil {
				return nil, err
			}
		}
	}
	if pr, err = db.Sign(t.Prescriber, pr.ID); err != nil {
		return nil, err
	}
	for _, d := range pr.Days {
		if d.Date != today {
			continue
		}
		if pr, err = db.GiveOKToTreat(t.Prescriber, pr.ID, relais.OKToTreatRequest{Day: d.Day}); err != nil {
			return nil, err
		}
		for _, l := range pr.Lines {
			if l.Day == d.Day && l.Status == relais.LineProposed {
				if pr, err = db.ValidateLine(t.Pharmacist, pr.ID, l.ID, relais.ValidateLineRequest{Decision: relais.DecisionAccept}); err != nil {
					return nil, err
				}
			}
		}
	}
	return db.Preparations(t.Pharmacist, relais.PreparationFilter{PatientID: p.ID})
}

// Produce takes a preparation from to-prepare to released: worksheet,
// production from the planned vials, check by a second person, release.
func Produce(ctx context.Context, db *sqlstore.DB, t Team, id relais.ID) (relais.Preparation, error) {
	p, err := PrepareAndCheck(ctx, db, t, id)
	if err != nil {
		return p, err
	}
	if p, err = db.ReleasePreparation(t.Pharmacist, id, relais.ReleaseRequest{Comment: "libération en mode crise"}); err != nil {
		return p, fmt.Errorf("release: %w", err)
	}
	return p, nil
}

// PrepareAndCheck takes a preparation from to-prepare to checked, ready for
// the pharmacist's release.
func PrepareAndCheck(ctx context.Context, db *sqlstore.DB, t Team, id relais.ID) (relais.Preparation, error) {
	p, err := db.IssueWorksheet(t.Technician, id)
	if err != nil {
		return p, fmt.Errorf("worksheet: %w", err)
	}
	if p.Plan == nil {
		return p, fmt.Errorf("preparation %s has no plan after its worksheet", p.ID)
	}
	var req relais.ProductionRequest
	for _, d := range p.Plan.Draws {
		v := relais.UsedVialInput{VolumeML: d.VolumeML}
		if d.Leftover {
			v.LeftoverID = d.LeftoverID
		} else {
			v.LotID = d.LotID
		}
		req.Vials = append(req.Vials, v)
	}
	req.FinalVolumeML = p.Plan.FinalVolumeML
	if p, err = db.RecordProduction(t.Technician, id, req); err != nil {
		return p, fmt.Errorf("production: %w", err)
	}
	if p, err = db.CheckPreparation(t.Pharmacist, id, relais.CheckRequest{Comment: "contrôle visuel et étiquette (exercice)"}); err != nil {
		return p, fmt.Errorf("check: %w", err)
	}
	return p, nil
}

// Deliver puts released preparations on a delivery slip for the day unit
// and records each one given at the bedside (label and wristband scanned,
// the whole bag given over an hour). It returns the slip.
func Deliver(ctx context.Context, db *sqlstore.DB, t Team, preps []relais.Preparation) (relais.DeliverySlip, error) {
	var ids []relais.ID
	for _, p := range preps {
		ids = append(ids, p.ID)
	}
	slip, err := db.CreateSlip(t.Technician, relais.SlipRequest{Ward: "Hôpital de jour oncologie", RoundDate: relais.Today(), Round: "morning", PreparationIDs: ids})
	if err != nil {
		return slip, fmt.Errorf("delivery slip: %w", err)
	}
	for _, p := range preps {
		pat, err := db.Patient(t.Nurse, p.PatientID)
		if err != nil {
			return slip, err
		}
		vol := 0.0
		if p.Plan != nil {
			vol = p.Plan.FinalVolumeML
		}
		start := relais.Now().Add(-time.Hour)
		if _, err := db.RecordAdministration(t.Nurse, p.ID, relais.AdministrationRequest{ScannedLabel: relais.PreparationCodePrefix + string(p.ID),
			PatientIPP: pat.IPP, StartedAt: start, EndedAt: start.Add(time.Hour), VolumeGivenML: vol, IndicationCode: indicationFor(p)}); err != nil {
			return slip, fmt.Errorf("administration of %s: %w", p.ID, err)
		}
	}
	return slip, nil
}

// indicationFor gives a liste-en-sus drug a well-formed indication code for
// the drill (I + 6 digits); the code is not a real indication.
func indicationFor(p relais.Preparation) string { return "I000001" }
