package loadtest

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/url"
	"time"

	"github.com/relais-onco/relais"
)

// person is one simulated member of staff: an account, a session, and a
// day's habits by role.
type person struct {
	l    *load
	acct account
	c    *client
	rng  *rand.Rand
}

func (p *person) signIn(ctx context.Context) error {
	return signIn(ctx, p.c, p.acct.Username, p.l.pass)
}

// think pauses like a person reading a screen: exponential around the
// mean, at most four times it.
func (p *person) think(ctx context.Context, scale float64) bool {
	mean := float64(p.l.cfg.Think) * scale
	d := time.Duration(math.Min(p.rng.ExpFloat64()*mean, 4*mean))
	return sleep(ctx, d)
}

// work repeats the role's turns until ctx ends.
func (p *person) work(ctx context.Context) {
	for ctx.Err() == nil {
		// A failed turn's error is already counted by the client; the
		// person goes back to their worklist and carries on, as people do.
		switch p.acct.Role {
		case relais.RolePrescriber:
			_ = p.prescriberTurn(ctx)
		case relais.RolePharmacist:
			_ = p.pharmacistTurn(ctx)
		case relais.RoleTechnician:
			_ = p.technicianTurn(ctx)
		case relais.RoleNurse:
			_ = p.nurseTurn(ctx)
		}
		if !p.think(ctx, 1) {
			return
		}
	}
}

// withClaim runs f on a piece of work only this person takes; when f is
// cut by a crash, the claim is given back once the server is up again
// (another person, reading the board afresh, then takes it over).
func (p *person) withClaim(ctx context.Context, key string, f func() error) (bool, error) {
	if !p.l.claim(key) {
		return false, nil
	}
	err := f()
	if err != nil {
		go func() {
			if _, werr := p.l.gate.wait(ctx); werr == nil {
				p.l.unclaim(key)
			}
		}()
	}
	return true, err
}

var lastNames = []string{"Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau", "Simon", "Laurent",
	"Lefèvre", "Michel", "Garcia", "David", "Bertrand", "Roux", "Vincent", "Fournier", "Morel", "Girard", "Le Gall", "Nguyen"}
var firstNames = []string{"Lucas", "Emma", "Hugo", "Jade", "Louis", "Louise", "Gabriel", "Alice", "Arthur", "Chloé", "Michel", "Nathalie"}

// loadIndicationCode is the liste-en-sus indication code the load's
// pharmacists give at release. It is a placeholder of the right form
// (I + 6 digits), not a real ATIH code: Relais has no table of a product's
// indications to choose from, so a load database's FICHCOMP export is not
// to be sent anywhere.
const loadIndicationCode = "I999999"

var wards = []string{"Oncologie pédiatrique", "Hématologie 3e", "Hôpital de jour", "Oncologie médicale"}

// browse is what everyone does between tasks: search a patient, open the
// patient's page, read the history.
func (p *person) browse(ctx context.Context) error {
	q := lastNames[p.rng.IntN(len(lastNames))]
	var found []relais.Patient
	if err := p.c.api(ctx, "patient.search", "GET", "/patients?q="+url.QueryEscape(q), nil, &found); err != nil {
		return err
	}
	pt, ok := p.l.randomPatient(p.rng)
	if len(found) > 0 && p.rng.IntN(2) == 0 {
		pt, ok = patientRef{found[0].ID, found[0].IPP}, true
	}
	if !ok {
		return nil
	}
	if !p.think(ctx, 0.5) {
		return ctx.Err()
	}
	if err := p.c.page(ctx, "page.patient", "/patients/"+string(pt.ID)); err != nil {
		return err
	}
	var h relais.History
	return p.c.api(ctx, "patient.history", "GET", "/patients/"+string(pt.ID)+"/history", nil, &h)
}

// prescriberTurn: a new patient starts a protocol — admission, the
// measurements of the day, inclusion, cycle 1 prescribed, warnings
// acknowledged, signed, and day 1's OK-to-treat.
func (p *person) prescriberTurn(ctx context.Context) error {
	l := p.l
	if p.rng.IntN(3) > 0 {
		if err := p.browse(ctx); err != nil {
			return err
		}
		if !p.think(ctx, 0.5) {
			return ctx.Err()
		}
	}
	if err := p.c.page(ctx, "page.home", "/"); err != nil {
		return err
	}
	child := p.rng.IntN(2) == 0
	age := 25 + p.rng.Float64()*55
	pop := relais.Adult
	if child {
		age, pop = 2+p.rng.Float64()*14, relais.Paediatric
	}
	sex := relais.SexMale
	if p.rng.IntN(2) == 0 {
		sex = relais.SexFemale
	}
	birth := time.Now().AddDate(-int(age), -int(math.Mod(age, 1)*12), -p.rng.IntN(28))
	in := relais.PatientInput{IPP: l.nextIPP(), INS: relais.INS{Status: relais.IdentityProvisional},
		BirthName: lastNames[p.rng.IntN(len(lastNames))], FirstNames: []string{firstNames[p.rng.IntN(len(firstNames))]},
		BirthDate: relais.Date(birth.Format(time.DateOnly)), Sex: sex}
	var pt relais.Patient
	if err := p.c.api(ctx, "patient.create", "POST", "/patients", in, &pt); err != nil {
		return err
	}
	l.ledger.record(ack{Kind: kindPatient, ID: pt.ID, State: "exists", Rank: 1})
	l.addPatient(patientRef{pt.ID, pt.IPP})
	if err := p.c.page(ctx, "page.patient", "/patients/"+string(pt.ID)); err != nil {
		return err
	}
	// The day's measurements: growth by the demo's rules of thumb (APLS
	// weight, Weech height for children; adult ranges), labs in normal
	// ranges so that the OK-to-treat is usually given without override.
	height, weight := 160+p.rng.Float64()*30, 55+p.rng.Float64()*35
	if child {
		height, weight = 6*age+77, 2*(age+4)
		if age > 10 {
			weight = 3.3 * age
		}
	}
	creat := 60 + p.rng.Float64()*30
	if child {
		creat = 20 + age*3
	}
	at := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	for _, m := range []struct {
		kind string
		v    float64
	}{{"height_cm", math.Round(height)}, {"weight_kg", math.Round(weight*10) / 10}, {"creatinine_umol_l", math.Round(creat)},
		{"neutrophils_g_l", round2(2 + p.rng.Float64()*3)}, {"platelets_g_l", math.Round(180 + p.rng.Float64()*200)},
		{"haemoglobin_g_dl", round2(10.5 + p.rng.Float64()*3)}} {
		v := m.v
		var out relais.Measurement
		if err := p.c.api(ctx, "measurement.record", "POST", "/patients/"+string(pt.ID)+"/measurements",
			relais.MeasurementInput{Kind: m.kind, Value: &v, MeasuredAt: at, Source: relais.SourceLab}, &out); err != nil {
			return err
		}
		l.ledger.record(ack{Kind: kindMeasurement, ID: out.ID, Parent: pt.ID, State: "exists", Rank: 1})
	}
	if !p.think(ctx, 0.5) {
		return ctx.Err()
	}
	versions := l.versions[pop]
	var tr relais.Treatment
	if err := p.c.api(ctx, "treatment.include", "POST", "/treatments", relais.IncludeRequest{PatientID: pt.ID,
		ProtocolVersionID: versions[p.rng.IntN(len(versions))], Intent: "curative", StartDate: l.today}, &tr); err != nil {
		return err
	}
	l.ledger.record(ack{Kind: kindTreatment, ID: tr.ID, State: string(tr.Status), Rank: 1})
	if err := p.c.page(ctx, "page.prescribe", "/patients/"+string(pt.ID)+"/prescribe"); err != nil {
		return err
	}
	var pr relais.Prescription
	if err := p.c.api(ctx, "prescription.create", "POST", "/treatments/"+string(tr.ID)+"/prescriptions",
		relais.PrescribeRequest{Cycle: 1, StartDate: l.today}, &pr); err != nil {
		return err
	}
	l.ledger.record(prescriptionAck(pr, "draft"))
	if err := p.c.page(ctx, "page.prescription", "/prescriptions/"+string(pr.ID)); err != nil {
		return err
	}
	if !p.think(ctx, 1) {
		return ctx.Err()
	}
	for _, c := range pr.Checks {
		if c.Level == relais.LevelBlocking {
			l.flowDone("prescription_blocked") // the prescriber sees why and leaves it for the team
			return nil
		}
		if c.Level == relais.LevelAcknowledge && c.Ack == nil {
			if err := p.c.api(ctx, "prescription.acknowledge", "POST", "/prescriptions/"+string(pr.ID)+"/acknowledge",
				relais.AcknowledgeRequest{Code: c.Code, LineID: c.LineID, Reason: "Vu en consultation"}, &pr); err != nil {
				return err
			}
		}
	}
	if err := p.c.api(ctx, "prescription.sign", "POST", "/prescriptions/"+string(pr.ID)+"/sign", nil, &pr); err != nil {
		return err
	}
	l.ledger.record(prescriptionAck(pr, "signed"))
	if !p.think(ctx, 0.5) {
		return ctx.Err()
	}
	err := p.c.api(ctx, "prescription.ok_to_treat", "POST", "/prescriptions/"+string(pr.ID)+"/ok-to-treat",
		relais.OKToTreatRequest{Day: 1}, &pr, 409)
	if isStatus(err, 409) { // a criterion not met: the prescriber decides, and says why
		err = p.c.api(ctx, "prescription.ok_to_treat_override", "POST", "/prescriptions/"+string(pr.ID)+"/ok-to-treat",
			relais.OKToTreatRequest{Day: 1, Override: true, Comment: "Critère limite, vu en consultation : feu vert maintenu"}, &pr)
	}
	if err != nil {
		return err
	}
	l.ledger.record(prescriptionAck(pr, "ok_to_treat"))
	l.flowDone("cycle_prescribed")
	return nil
}

// pharmacistTurn: the validation queue first, then the preparations to
// check or release, then a delivery slip for what is released.
func (p *person) pharmacistTurn(ctx context.Context) error {
	l := p.l
	switch p.rng.IntN(5) {
	case 0:
		return p.browse(ctx)
	case 1:
		if err := p.c.page(ctx, "page.home", "/"); err != nil {
			return err
		}
	}
	// What is furthest down the circuit first: a patient waits for it.
	if done, err := p.productionStep(ctx, relais.PrepChecked, "release:", func(pr relais.Preparation) error {
		if err := p.c.page(ctx, "page.preparation", "/preparations/"+string(pr.ID)); err != nil {
			return err
		}
		var req relais.ReleaseRequest
		if l.billedPerAdministration(pr) {
			req.IndicationCode = loadIndicationCode
		}
		var out relais.Preparation
		if err := p.c.api(ctx, "preparation.release", "POST", "/preparations/"+string(pr.ID)+"/release", req, &out); err != nil {
			return err
		}
		l.ledger.record(preparationAck(out))
		l.flowDone("preparation_released")
		return nil
	}); done || err != nil {
		return err
	}
	if done, err := p.makeSlip(ctx); done || err != nil {
		return err
	}
	if p.rng.IntN(2) == 0 {
		if done, err := p.checkStep(ctx); done || err != nil {
			return err
		}
	}
	var queue []relais.QueueItem
	if err := p.c.api(ctx, "validation.queue", "GET", "/validation-queue", nil, &queue); err != nil {
		return err
	}
	for _, it := range queue {
		if it.Date != l.today {
			continue
		}
		took, err := p.withClaim(ctx, fmt.Sprintf("validate:%s:%d", it.PrescriptionID, it.Day), func() error { return p.validate(ctx, it) })
		if took {
			return err
		}
	}
	return nil
}

func (p *person) validate(ctx context.Context, it relais.QueueItem) error {
	l := p.l
	if err := p.c.page(ctx, "page.validation", "/prescriptions/"+string(it.PrescriptionID)+"/validation"); err != nil {
		return err
	}
	var pr relais.Prescription
	if err := p.c.api(ctx, "prescription.read", "GET", "/prescriptions/"+string(it.PrescriptionID), nil, &pr); err != nil {
		return err
	}
	if !p.think(ctx, 1.5) {
		return ctx.Err()
	}
	var day relais.ValidateLinesRequest
	for _, ln := range pr.Lines {
		if ln.Day == it.Day && ln.Status == relais.LineProposed {
			day.Lines = append(day.Lines, relais.LineDecision{LineID: ln.ID, ValidateLineRequest: relais.ValidateLineRequest{Decision: relais.DecisionAccept}})
		}
	}
	if len(day.Lines) == 0 {
		return nil
	}
	if err := p.c.api(ctx, "prescription.validate", "POST", "/prescriptions/"+string(pr.ID)+"/validate", day, &pr); err != nil {
		return err
	}
	if it.Day == 1 {
		l.ledger.record(prescriptionAck(pr, "validated"))
	}
	l.flowDone("day_validated")
	return nil
}

// productionStep takes the first unclaimed preparation of today in status
// and applies f to it.
func (p *person) productionStep(ctx context.Context, status relais.PreparationStatus, claim string, f func(relais.Preparation) error) (bool, error) {
	var preps []relais.Preparation
	if err := p.c.api(ctx, "preparation.list", "GET", "/preparations?date="+string(p.l.today)+"&status="+string(status), nil, &preps); err != nil {
		return false, err
	}
	for _, pr := range preps {
		if took, err := p.withClaim(ctx, claim+string(pr.ID), func() error {
			fresh, ok, err := p.current(ctx, pr.ID, status)
			if err != nil || !ok {
				return err
			}
			return f(fresh)
		}); took {
			return true, err
		}
	}
	return false, nil
}

// current reads a preparation afresh (a list read a moment ago may be
// stale); ok is false when it is no longer in status.
func (p *person) current(ctx context.Context, id relais.ID, status ...relais.PreparationStatus) (relais.Preparation, bool, error) {
	var pr relais.Preparation
	if err := p.c.api(ctx, "preparation.read", "GET", "/preparations/"+string(id), nil, &pr); err != nil {
		return pr, false, err
	}
	for _, st := range status {
		if pr.Status == st {
			return pr, true, nil
		}
	}
	return pr, false, nil
}

// checkStep: the second person's check of a preparation someone else made.
func (p *person) checkStep(ctx context.Context) (bool, error) {
	var preps []relais.Preparation
	if err := p.c.api(ctx, "preparation.list", "GET", "/preparations?date="+string(p.l.today)+"&status=prepared", nil, &preps); err != nil {
		return false, err
	}
	for _, pr := range preps {
		if pr.Production != nil && pr.Production.ByID == p.c.userID {
			continue
		}
		took, err := p.withClaim(ctx, "check:"+string(pr.ID), func() error {
			if err := p.c.page(ctx, "page.preparation", "/preparations/"+string(pr.ID)); err != nil {
				return err
			}
			if _, ok, err := p.current(ctx, pr.ID, relais.PrepPrepared); err != nil || !ok {
				return err
			}
			var out relais.Preparation
			if err := p.c.api(ctx, "preparation.check", "POST", "/preparations/"+string(pr.ID)+"/check", relais.CheckRequest{}, &out); err != nil {
				return err
			}
			p.l.ledger.record(preparationAck(out))
			return nil
		})
		if took {
			return true, err
		}
	}
	return false, nil
}

// makeSlip hands today's released preparations (and those dispensed as
// they are) to a ward, at most ten on a slip.
func (p *person) makeSlip(ctx context.Context) (bool, error) {
	l := p.l
	var ready []relais.Preparation
	for _, st := range []relais.PreparationStatus{relais.PrepReleased, relais.PrepToPrepare} {
		var preps []relais.Preparation
		if err := p.c.api(ctx, "preparation.list", "GET", "/preparations?date="+string(l.today)+"&status="+string(st), nil, &preps); err != nil {
			return false, err
		}
		for _, pr := range preps {
			if st == relais.PrepToPrepare && pr.Mode != relais.ModeDispensed {
				continue
			}
			ready = append(ready, pr)
		}
	}
	var ids []relais.ID
	for _, pr := range ready {
		if len(ids) == 10 {
			break
		}
		if l.claim("slip:" + string(pr.ID)) {
			ids = append(ids, pr.ID)
		}
	}
	if len(ids) == 0 {
		return false, nil
	}
	var slip relais.DeliverySlip
	err := p.c.api(ctx, "slip.create", "POST", "/slips", relais.SlipRequest{Ward: wards[p.rng.IntN(len(wards))], RoundDate: l.today,
		Round: []string{"morning", "afternoon"}[p.rng.IntN(2)], PreparationIDs: ids}, &slip)
	if err != nil {
		go func() {
			if _, werr := l.gate.wait(ctx); werr == nil {
				for _, id := range ids {
					l.unclaim("slip:" + string(id))
				}
			}
		}()
		return true, err
	}
	l.ledger.record(ack{Kind: kindSlip, ID: slip.ID, State: "made", Rank: slipRank["made"]})
	for _, id := range ids {
		l.ledger.record(ack{Kind: kindPreparation, ID: id, State: string(relais.PrepDispensed), Rank: preparationRank[relais.PrepDispensed]})
	}
	l.flowDone("slip_made")
	return true, nil
}

// technicianTurn: the production board; issue a worksheet and record the
// production of a preparation to make, or check one a colleague made.
func (p *person) technicianTurn(ctx context.Context) error {
	l := p.l
	switch p.rng.IntN(6) {
	case 0:
		return p.browse(ctx)
	case 1, 2:
		if err := p.c.page(ctx, "page.production", "/production"); err != nil {
			return err
		}
	}
	usable := func(pr relais.Preparation) bool {
		return pr.Mode == relais.ModeCompounded && pr.Plan != nil && !pr.Plan.Blocked
	}
	make := func(pr relais.Preparation) error {
		if err := p.c.page(ctx, "page.preparation", "/preparations/"+string(pr.ID)); err != nil {
			return err
		}
		pr, ok, err := p.current(ctx, pr.ID, relais.PrepToPrepare, relais.PrepWorksheetIssued)
		if err != nil || !ok || !usable(pr) {
			return err
		}
		if pr.Status == relais.PrepToPrepare {
			if err := p.c.api(ctx, "preparation.worksheet", "POST", "/preparations/"+string(pr.ID)+"/worksheet", nil, &pr); err != nil {
				return err
			}
			l.ledger.record(preparationAck(pr))
		}
		if !p.think(ctx, 2) { // in the isolator
			return ctx.Err()
		}
		var req relais.ProductionRequest
		for _, d := range pr.Plan.Draws {
			in := relais.UsedVialInput{LotID: d.LotID, VolumeML: d.VolumeML}
			if d.Leftover {
				in = relais.UsedVialInput{LeftoverID: d.LeftoverID, VolumeML: d.VolumeML}
			}
			req.Vials = append(req.Vials, in)
		}
		if err := p.c.api(ctx, "preparation.production", "POST", "/preparations/"+string(pr.ID)+"/production", req, &pr); err != nil {
			return err
		}
		l.ledger.record(preparationAck(pr))
		l.flowDone("preparation_made")
		return nil
	}
	// A colleague's preparation waiting for its check comes first.
	if done, err := p.checkStep(ctx); done || err != nil {
		return err
	}
	for _, st := range []relais.PreparationStatus{relais.PrepWorksheetIssued, relais.PrepToPrepare} {
		var preps []relais.Preparation
		if err := p.c.api(ctx, "preparation.list", "GET", "/preparations?date="+string(l.today)+"&status="+string(st), nil, &preps); err != nil {
			return err
		}
		for _, pr := range preps {
			if !usable(pr) {
				continue
			}
			if took, err := p.withClaim(ctx, "make:"+string(pr.ID), func() error { return make(pr) }); took {
				return err
			}
		}
	}
	return nil
}

// nurseTurn: the ward's slips to receive, today's administrations, one
// recorded at the bedside after scanning the label and the wristband.
func (p *person) nurseTurn(ctx context.Context) error {
	l := p.l
	switch p.rng.IntN(4) {
	case 0:
		return p.browse(ctx)
	case 1:
		if err := p.c.page(ctx, "page.home", "/"); err != nil {
			return err
		}
	}
	var slips []relais.DeliverySlip
	if err := p.c.api(ctx, "slip.list", "GET", "/slips?date="+string(l.today), nil, &slips); err != nil {
		return err
	}
	for _, s := range slips {
		if s.Receipt != nil {
			continue
		}
		took, err := p.withClaim(ctx, "receive:"+string(s.ID), func() error {
			var out relais.DeliverySlip
			if err := p.c.api(ctx, "slip.receive", "POST", "/slips/"+string(s.ID)+"/receipt", relais.ReceiptRequest{}, &out); err != nil {
				return err
			}
			l.ledger.record(ack{Kind: kindSlip, ID: s.ID, State: "received", Rank: slipRank["received"]})
			return nil
		})
		if took {
			if err != nil {
				return err
			}
			break
		}
	}
	var preps []relais.Preparation
	if err := p.c.api(ctx, "preparation.list", "GET", "/preparations?date="+string(l.today)+"&status=dispensed", nil, &preps); err != nil {
		return err
	}
	for _, pr := range preps {
		took, err := p.withClaim(ctx, "administer:"+string(pr.ID), func() error { return p.administer(ctx, pr) })
		if took {
			return err
		}
	}
	return nil
}

func (p *person) administer(ctx context.Context, pr relais.Preparation) error {
	l := p.l
	pr, ok, err := p.current(ctx, pr.ID, relais.PrepDispensed)
	if err != nil || !ok {
		return err
	}
	var pt relais.Patient
	if err := p.c.api(ctx, "patient.read", "GET", "/patients/"+string(pr.PatientID), nil, &pt); err != nil {
		return err
	}
	var plan relais.AdministrationPlan
	if err := p.c.api(ctx, "administration.plan", "GET", "/patients/"+string(pr.PatientID)+"/administration-plan?day="+string(l.today), nil, &plan); err != nil {
		return err
	}
	if err := p.c.page(ctx, "page.administration", "/patients/"+string(pr.PatientID)+"/administration"); err != nil {
		return err
	}
	if !p.think(ctx, 2) { // at the bedside
		return ctx.Err()
	}
	end := time.Now().UTC().Truncate(time.Second)
	vol := 0.0
	if pr.Plan != nil {
		vol = pr.Plan.FinalVolumeML
	}
	req := relais.AdministrationRequest{ScannedLabel: relais.PreparationCode(pr.ID), PatientIPP: pt.IPP,
		StartedAt: end.Add(-30 * time.Minute), EndedAt: end, VolumeGivenML: vol}
	if pr.IndicationCode == "" && l.billedPerAdministration(pr) {
		req.IndicationCode = loadIndicationCode // not given at release
	}
	var out relais.Administration
	if err := p.c.api(ctx, "administration.record", "POST", "/preparations/"+string(pr.ID)+"/administration", req, &out); err != nil {
		return err
	}
	l.ledger.record(ack{Kind: kindAdministration, ID: pr.ID, State: "recorded", Rank: 1})
	l.ledger.record(ack{Kind: kindPreparation, ID: pr.ID, State: string(relais.PrepAdministered), Rank: preparationRank[relais.PrepAdministered]})
	l.flowDone("administration_recorded")
	return nil
}
