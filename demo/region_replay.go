package demo

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/sqlstore"
)

// The region's history is written in time order. First every patient's
// course is planned — identity, cycle days, measurements, dose reductions —
// from the site's stream, patient after patient, so the plan does not
// depend on how the writes are scheduled. Then the site is replayed day by
// day, and each day in slots, the way a day hospital and its pharmacy work:
//
//	07:00  admissions (patient created, included in the protocol)
//	07:20  the day's measurements entered
//	07:40  cycle prescribed (dose reduction, warnings acknowledged) and signed
//	08:00  OK-to-treat for each treatment day of the date
//	08:30  pharmaceutical validation: the preparations are made
//	08:45  stock received when the day's worksheets need more vials
//	09:00  worksheets issued (register number)      ─┐
//	10:00  production recorded                       │ history only:
//	10:30  second person's check                     │ today's preparations
//	10:45  release                                   │ are left to prepare,
//	11:00  delivery slips to the wards               │ today's work
//	11:15  slips received                            │
//	16:00  administrations recorded at the bedside  ─┘
//
// Every write of a slot is dated with the slot's time (sqlstore.AsOf on a
// database opened with Options.Backdate), and a slot ends before the next
// starts: the journal stays a chain in time. Within a slot the patients'
// writes are independent and run at the same time (a bounded pool), so
// SQLite's group commit puts them in one transaction and one fsync.

// slotWorkers bounds the writes in flight in one slot: enough to fill a
// group commit (sqlstore's maxGroup is 64).
const slotWorkers = 64

// regionIndicationCode is the liste-en-sus indication code the region's
// nurses give for a product billed per administration. It is a placeholder
// of the right form (I + 6 digits), not a real ATIH code: the demo catalogue
// holds no product's indications, so a region database's billing export is
// not to be sent anywhere.
const regionIndicationCode = "I999999"

var measurementKinds = [6]string{"height_cm", "weight_kg", "creatinine_umol_l", "neutrophils_g_l", "platelets_g_l", "haemoglobin_g_dl"}

// course is one patient's course as planned, and what the replay has made
// of it so far.
type course struct {
	pp     PlannedPatient
	v      relais.ProtocolVersion
	in     relais.PatientInput
	start  time.Time // day 1 of cycle 1, moved to a working day
	cycles []plannedCycle

	// Made by the replay.
	patientID, treatmentID relais.ID
	pending                []okDay // OK-to-treat given today, lines to validate
}

type plannedCycle struct {
	n        int
	day1     time.Time
	measured time.Time
	values   [6]float64 // in the order of measurementKinds
	reduce   bool       // a dose reduction at this cycle
}

// okDay is a treatment day of a signed prescription, due on a date.
type okDay struct {
	c     *course
	presc relais.ID
	day   int
	pr    relais.Prescription // after the OK-to-treat
}

// team is who acts, each context carrying the slot's time.
type team struct {
	doc, ph, tech, nurse context.Context
}

func (t team) at(when time.Time) team {
	return team{sqlstore.AsOf(t.doc, when), sqlstore.AsOf(t.ph, when), sqlstore.AsOf(t.tech, when), sqlstore.AsOf(t.nurse, when)}
}

// plan draws a patient's course: the same draws, in the same order, as the
// patient-by-patient generator had, so a seed keeps its region.
func (g *regionGen) plan(pp PlannedPatient, v relais.ProtocolVersion) *course {
	rng := g.rng
	start := pp.Start.Time()
	birth := start.AddDate(-int(pp.Age), -int(math.Mod(pp.Age, 1)*12), -rng.IntN(28))
	names := firstBoys
	if pp.Sex == relais.SexFemale {
		names = firstGirls
	}
	first := names[rng.IntN(len(names))]
	if pp.Child {
		first = names[rng.IntN(10)]
	}
	serial := g.idx*1_000_000 + pp.N
	c := &course{pp: pp, v: v}
	c.in = relais.PatientInput{
		IPP:        fmt.Sprintf("R%02d%07d", g.idx+1, pp.N+1),
		INS:        relais.INS{Status: relais.IdentityProvisional},
		BirthName:  lastNames[rng.IntN(len(lastNames))],
		FirstNames: []string{first},
		BirthDate:  relais.Date(birth.Format(time.DateOnly)),
		Sex:        pp.Sex,
	}
	if rng.IntN(3) == 0 {
		c.in.INS = regionINS(pp.Sex, birth, serial)
	}
	run := consecutiveRun(v.Content.Days)
	c.start = workingStart(start, run) // a regimen of consecutive days starts early enough to end by Friday
	length := v.Content.Cycles.LengthDays
	if length <= 0 {
		length = 21
	}
	count := v.Content.Cycles.Count
	if pp.StopAfter > 0 && pp.StopAfter < count {
		count = pp.StopAfter
	}
	height, weight := size(rng, pp.Child, pp.Age, pp.Sex)
	tomorrow := g.today.AddDate(0, 0, 1)
	day1 := c.start
	for cycle := 1; cycle <= count; cycle++ {
		if cycle > 1 {
			day1 = cycleDay(day1.AddDate(0, 0, length), run, rng)
		}
		if !day1.Before(tomorrow) {
			break // the rest of the course is still to come
		}
		g.st.Cycles++
		g.st.WeekdayCycles[day1.Weekday()]++
		g.st.MonthCycles[day1.Month()-1]++
		measured := day1.Add(-20 * time.Hour).Add(time.Duration(rng.IntN(120)) * time.Minute)
		weight *= 1 + (rng.Float64()-0.6)*0.04
		weight = math.Round(weight*10) / 10
		values := [6]float64{height, weight, creatinine(rng, pp.Child, pp.Age),
			1.6 + math.Round(rng.Float64()*30)/10, math.Round(120 + rng.Float64()*250), 9 + math.Round(rng.Float64()*40)/10}
		reduce := cycle >= 2 && rng.Float64() < 0.08
		c.cycles = append(c.cycles, plannedCycle{n: cycle, day1: day1, measured: measured, values: values, reduce: reduce})
	}
	return c
}

// replay writes a planned site day by day.
type replay struct {
	g       *regionGen
	who     team
	cap     time.Time // no write is dated after the generation began
	writes  atomic.Int64
	enSus   map[relais.ID]bool // drugs with a product billed per administration
	product map[relais.ID]int  // a product's place in the catalogue, for lot numbers

	admissions map[relais.Date][]*course
	starts     map[relais.Date][]cycleRef
	oks        map[relais.Date][]*okDay
	usage      map[relais.ID][]dayUse         // new vials used, by product, for the orders
	lots       map[relais.ID]*relais.StockLot // the lots in stock, as the pharmacy counts them
	patients   map[relais.ID]*course          // by patient id, once admitted

	mu sync.Mutex // guards the counters below and the fields tasks set
	st *SiteStats
}

type cycleRef struct {
	c     *course
	cycle int // index in c.cycles
}

type dayUse struct {
	day   time.Time
	vials int
}

// wrote counts one service call that wrote.
func (r *replay) wrote() { r.writes.Add(1) }

// slot runs n tasks at time when, at most slotWorkers at once, and returns
// when all have ended: the next slot's writes come after this one's.
func (r *replay) slot(ctx context.Context, when time.Time, n int, task func(a team, i int) error) error {
	if n == 0 {
		return nil
	}
	if when.After(r.cap) {
		when = r.cap
	}
	a := r.who.at(when)
	var wg sync.WaitGroup
	var once sync.Once
	var failed atomic.Bool
	var first error
	sem := make(chan struct{}, slotWorkers)
	for i := 0; i < n && !failed.Load() && ctx.Err() == nil; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := task(a, i); err != nil {
				once.Do(func() { first = err })
				failed.Store(true)
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}

// localTime is h:m local time on the day d (a UTC midnight).
func localTime(d time.Time, h, m int) time.Time {
	return time.Date(d.Year(), d.Month(), d.Day(), h, m, 0, 0, relais.DisplayZone)
}

func dateOf(d time.Time) relais.Date { return relais.Date(d.Format(time.DateOnly)) }

// run replays the site from the first admission to today.
func (r *replay) run(ctx context.Context, courses []*course, progress func(patients, preparations int)) error {
	r.admissions = map[relais.Date][]*course{}
	r.starts = map[relais.Date][]cycleRef{}
	r.oks = map[relais.Date][]*okDay{}
	r.usage = map[relais.ID][]dayUse{}
	r.lots = map[relais.ID]*relais.StockLot{}
	r.patients = map[relais.ID]*course{}
	if len(courses) == 0 {
		return nil
	}
	first := courses[0].start
	for _, c := range courses {
		r.admissions[dateOf(c.start)] = append(r.admissions[dateOf(c.start)], c)
		for i, cy := range c.cycles {
			r.starts[dateOf(cy.day1)] = append(r.starts[dateOf(cy.day1)], cycleRef{c, i})
		}
		if c.start.Before(first) {
			first = c.start
		}
	}
	for d := first; !d.After(r.g.today); d = d.AddDate(0, 0, 1) {
		if err := ctx.Err(); err != nil {
			return err
		}
		admitted, made, err := r.day(ctx, d)
		if err != nil {
			return fmt.Errorf("%s: %w", d.Format(time.DateOnly), err)
		}
		if progress != nil && (admitted > 0 || made > 0) {
			progress(admitted, made)
		}
	}
	return nil
}

// day replays one day; it returns the patients admitted and the
// preparations made that day.
func (r *replay) day(ctx context.Context, d time.Time) (admitted, made int, err error) {
	date := dateOf(d)
	// Admissions: the patient is created and included in the protocol.
	adm := r.admissions[date]
	delete(r.admissions, date)
	if err := r.slot(ctx, localTime(d, 7, 0), len(adm), func(a team, i int) error {
		c := adm[i]
		p, err := r.g.db.CreatePatient(a.doc, c.in)
		if err != nil {
			return fmt.Errorf("patient %d: %w", c.pp.N+1, err)
		}
		r.wrote()
		tr, err := r.g.db.Include(a.doc, relais.IncludeRequest{PatientID: p.ID, ProtocolVersionID: c.v.ID, Intent: "curative", StartDate: dateOf(c.start)})
		if err != nil {
			return fmt.Errorf("patient %d (protocol version %s): %w", c.pp.N+1, c.v.ID, err)
		}
		r.wrote()
		c.patientID, c.treatmentID = p.ID, tr.ID
		r.mu.Lock()
		r.patients[p.ID] = c
		r.mu.Unlock()
		return nil
	}); err != nil {
		return 0, 0, err
	}
	// The measurements of the cycles starting today, each its own write.
	starts := r.starts[date]
	delete(r.starts, date)
	if err := r.slot(ctx, localTime(d, 7, 20), len(starts)*len(measurementKinds), func(a team, i int) error {
		ref, k := starts[i/len(measurementKinds)], i%len(measurementKinds)
		cy := ref.c.cycles[ref.cycle]
		v := cy.values[k]
		if _, err := r.g.db.RecordMeasurement(a.doc, ref.c.patientID, relais.MeasurementInput{Kind: measurementKinds[k], Value: &v,
			MeasuredAt: cy.measured, Source: relais.SourceLab}); err != nil {
			return fmt.Errorf("patient %d, %s: %w", ref.c.pp.N+1, measurementKinds[k], err)
		}
		r.wrote()
		return nil
	}); err != nil {
		return 0, 0, err
	}
	r.mu.Lock()
	r.st.Measurements += len(starts) * len(measurementKinds)
	r.mu.Unlock()
	// The cycle prescribed, a dose reduced now and then, the warnings
	// acknowledged, signed.
	signed := make([]relais.Prescription, len(starts))
	if err := r.slot(ctx, localTime(d, 7, 40), len(starts), func(a team, i int) error {
		ref := starts[i]
		pr, err := r.prescribe(a, ref.c, ref.c.cycles[ref.cycle])
		if err != nil {
			return fmt.Errorf("patient %d, cycle %d: %w", ref.c.pp.N+1, ref.c.cycles[ref.cycle].n, err)
		}
		signed[i] = pr
		return nil
	}); err != nil {
		return 0, 0, err
	}
	for i, pr := range signed {
		for _, pd := range pr.Days {
			if pd.Date.Time().After(r.g.today) {
				continue // future days get their OK-to-treat on the day
			}
			r.oks[pd.Date] = append(r.oks[pd.Date], &okDay{c: starts[i].c, presc: pr.ID, day: pd.Day})
		}
	}
	// OK-to-treat for each treatment day of the date, then validation.
	oks := r.oks[date]
	delete(r.oks, date)
	byPatient := groupOK(oks)
	if err := r.slot(ctx, localTime(d, 8, 0), len(byPatient), func(a team, i int) error {
		for _, ok := range byPatient[i] {
			pr, err := r.g.db.GiveOKToTreat(a.doc, ok.presc, relais.OKToTreatRequest{Day: ok.day})
			if relais.ErrorKind(err) == relais.KindConflict { // a criterion not met: the prescriber decides
				pr, err = r.g.db.GiveOKToTreat(a.doc, ok.presc, relais.OKToTreatRequest{Day: ok.day, Override: true,
					Comment: "Critère limite, vu avec le patient : feu vert maintenu"})
			}
			if err != nil {
				return fmt.Errorf("patient %d, OK-to-treat day %d: %w", ok.c.pp.N+1, ok.day, err)
			}
			r.wrote()
			ok.pr = pr
		}
		return nil
	}); err != nil {
		return 0, 0, err
	}
	r.mu.Lock()
	r.st.OKToTreat += len(oks)
	r.mu.Unlock()
	if err := r.slot(ctx, localTime(d, 8, 30), len(byPatient), func(a team, i int) error {
		for _, ok := range byPatient[i] {
			var req relais.ValidateLinesRequest
			for _, l := range ok.pr.Lines {
				if l.Day == ok.day && l.Status == relais.LineProposed {
					req.Lines = append(req.Lines, relais.LineDecision{LineID: l.ID, ValidateLineRequest: relais.ValidateLineRequest{Decision: relais.DecisionAccept}})
				}
			}
			if len(req.Lines) == 0 {
				continue
			}
			if _, err := r.g.db.ValidateLines(a.ph, ok.presc, req); err != nil {
				return fmt.Errorf("patient %d, validation of day %d: %w", ok.c.pp.N+1, ok.day, err)
			}
			r.wrote()
		}
		return nil
	}); err != nil {
		return 0, 0, err
	}
	if len(oks) == 0 {
		return len(adm), 0, nil
	}
	preps, err := r.g.db.Preparations(r.who.ph, relais.PreparationFilter{Date: date})
	if err != nil {
		return 0, 0, err
	}
	ipp := r.patients
	var compounded, dispensed []relais.Preparation
	for _, p := range preps {
		if p.Status != relais.PrepToPrepare || ipp[p.PatientID] == nil {
			continue
		}
		if p.Mode == relais.ModeCompounded {
			compounded = append(compounded, p)
		} else {
			dispensed = append(dispensed, p)
		}
	}
	// In the plan's order of patients, whatever order the writes of the
	// morning took: the lots taken and the slips follow it.
	byPlan := func(x, y relais.Preparation) int {
		return cmp.Or(cmp.Compare(ipp[x.PatientID].pp.N, ipp[y.PatientID].pp.N), cmp.Compare(x.INN, y.INN), cmp.Compare(x.Dose, y.Dose))
	}
	slices.SortStableFunc(compounded, byPlan)
	slices.SortStableFunc(dispensed, byPlan)
	r.mu.Lock()
	r.st.Preparations += len(compounded)
	r.st.Dispensed += len(dispensed)
	r.mu.Unlock()
	made = len(compounded)
	if !d.Before(r.g.today) {
		return len(adm), made, nil // today's preparations are today's work
	}
	if err := r.production(ctx, d, compounded, dispensed, ipp); err != nil {
		return 0, 0, err
	}
	return len(adm), made, nil
}

// groupOK groups a date's treatment days by patient, in the plan's order:
// one patient's days are given one after the other.
func groupOK(oks []*okDay) [][]*okDay {
	var out [][]*okDay
	at := map[*course]int{}
	for _, ok := range oks {
		i, seen := at[ok.c]
		if !seen {
			i = len(out)
			at[ok.c] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], ok)
	}
	return out
}

// prescribe writes a cycle's prescription and signs it.
func (r *replay) prescribe(a team, c *course, cy plannedCycle) (relais.Prescription, error) {
	db := r.g.db
	pr, err := db.Prescribe(a.doc, c.treatmentID, relais.PrescribeRequest{Cycle: cy.n, StartDate: dateOf(cy.day1)})
	if err != nil {
		return pr, err
	}
	r.wrote()
	if cy.reduce { // a dose reduction, with its reason
		for _, l := range pr.Lines {
			if l.Kind == string(relais.LineChemo) && l.Rule.Kind != "" {
				pct := -20.0
				if pr, err = db.ModifyLine(a.doc, pr.ID, l.ID, relais.ModifyLineRequest{Percent: &pct, Reason: "Neutropénie fébrile à la cure précédente"}); err != nil {
					return pr, err
				}
				r.wrote()
				break
			}
		}
	}
	for _, ch := range pr.Checks {
		if ch.Level == relais.LevelAcknowledge && ch.Ack == nil {
			if pr, err = db.Acknowledge(a.doc, pr.ID, relais.AcknowledgeRequest{Code: ch.Code, LineID: ch.LineID, Reason: "Vu en consultation"}); err != nil {
				return pr, err
			}
			r.wrote()
		}
	}
	if pr, err = db.Sign(a.doc, pr.ID); err != nil {
		return pr, err
	}
	r.wrote()
	return pr, nil
}

// production takes a past day's preparations through the pharmacy and to
// the bedside: stock, worksheet, production, check, release, delivery,
// administration.
func (r *replay) production(ctx context.Context, d time.Time, compounded, dispensed []relais.Preparation, of map[relais.ID]*course) error {
	db := r.g.db
	date := dateOf(d)
	if err := r.restock(ctx, d, compounded); err != nil {
		return err
	}
	step := func(when time.Time, name string, f func(a team, p relais.Preparation) (relais.Preparation, error)) error {
		return r.slot(ctx, when, len(compounded), func(a team, i int) error {
			p, err := f(a, compounded[i])
			if err != nil {
				return fmt.Errorf("patient %d, %s of %s %g %s: %w", of[compounded[i].PatientID].pp.N+1, name, compounded[i].INN,
					compounded[i].Dose, compounded[i].Unit, err)
			}
			r.wrote()
			compounded[i] = p
			return nil
		})
	}
	// A plan that cannot be made (the catalogue lacks what it needs: a
	// stability after dilution, a product) is not made: the pharmacist
	// cancels the preparation with the plan's reasons, as the worklist
	// shows them.
	var blocked []relais.Preparation
	compounded = slices.DeleteFunc(compounded, func(p relais.Preparation) bool {
		if p.Plan != nil && !p.Plan.Blocked {
			return false
		}
		blocked = append(blocked, p)
		return true
	})
	if err := r.slot(ctx, localTime(d, 9, 0), len(blocked), func(a team, i int) error {
		p := blocked[i]
		reason := "Préparation impossible"
		if p.Plan != nil && len(p.Plan.Reasons) > 0 {
			reason += " : " + strings.Join(p.Plan.Reasons, " ; ")
		}
		if _, err := db.CancelPreparation(a.ph, p.ID, reason); err != nil {
			return fmt.Errorf("patient %d, cancelling %s: %w", of[p.PatientID].pp.N+1, p.INN, err)
		}
		r.wrote()
		return nil
	}); err != nil {
		return err
	}
	r.mu.Lock()
	r.st.NotMade += len(blocked)
	r.mu.Unlock()
	if err := step(localTime(d, 9, 0), "worksheet", func(a team, p relais.Preparation) (relais.Preparation, error) {
		return db.IssueWorksheet(a.tech, p.ID)
	}); err != nil {
		return err
	}
	// The technician takes each new vial from the shelf: the lot that
	// expires first (the worksheet proposed one, but several worksheets of
	// the day may have proposed the same last vials).
	reqs := make([]relais.ProductionRequest, len(compounded))
	for i, p := range compounded {
		reqs[i].FinalVolumeML = p.Plan.FinalVolumeML
		for _, dr := range p.Plan.Draws {
			if dr.Leftover {
				reqs[i].Vials = append(reqs[i].Vials, relais.UsedVialInput{LeftoverID: dr.LeftoverID, VolumeML: dr.VolumeML})
				continue
			}
			lot := r.take(dr.ProductID, date)
			if lot == "" {
				return fmt.Errorf("no lot of %s in stock for %s %g %s", dr.Brand, p.INN, p.Dose, p.Unit)
			}
			reqs[i].Vials = append(reqs[i].Vials, relais.UsedVialInput{LotID: lot, VolumeML: dr.VolumeML})
			r.usage[dr.ProductID] = append(r.usage[dr.ProductID], dayUse{d, 1})
		}
	}
	at := map[relais.ID]int{}
	for i, p := range compounded {
		at[p.ID] = i
	}
	if err := step(localTime(d, 10, 0), "production", func(a team, p relais.Preparation) (relais.Preparation, error) {
		return db.RecordProduction(a.tech, p.ID, reqs[at[p.ID]])
	}); err != nil {
		return err
	}
	if err := step(localTime(d, 10, 30), "check", func(a team, p relais.Preparation) (relais.Preparation, error) {
		return db.CheckPreparation(a.ph, p.ID, relais.CheckRequest{})
	}); err != nil {
		return err
	}
	if err := step(localTime(d, 10, 45), "release", func(a team, p relais.Preparation) (relais.Preparation, error) {
		return db.ReleasePreparation(a.ph, p.ID, relais.ReleaseRequest{})
	}); err != nil {
		return err
	}
	// Delivery: the day's released and dispensed preparations, by ward,
	// at most ten on a slip, in the plan's order of patients.
	ready := append(append([]relais.Preparation(nil), compounded...), dispensed...)
	slices.SortStableFunc(ready, func(x, y relais.Preparation) int {
		cx, cy := of[x.PatientID], of[y.PatientID]
		return cmp.Or(cmp.Compare(ward(cx), ward(cy)), cmp.Compare(cx.pp.N, cy.pp.N), cmp.Compare(x.INN, y.INN), cmp.Compare(x.Dose, y.Dose))
	})
	var slips []relais.SlipRequest
	for _, p := range ready {
		w := ward(of[p.PatientID])
		if n := len(slips); n == 0 || slips[n-1].Ward != w || len(slips[n-1].PreparationIDs) == 10 {
			slips = append(slips, relais.SlipRequest{Ward: w, RoundDate: date, Round: "morning"})
		}
		s := &slips[len(slips)-1]
		s.PreparationIDs = append(s.PreparationIDs, p.ID)
	}
	made := make([]relais.ID, len(slips))
	if err := r.slot(ctx, localTime(d, 11, 0), len(slips), func(a team, i int) error {
		s, err := db.CreateSlip(a.tech, slips[i])
		if err != nil {
			return fmt.Errorf("delivery slip for %s: %w", slips[i].Ward, err)
		}
		r.wrote()
		made[i] = s.ID
		return nil
	}); err != nil {
		return err
	}
	if err := r.slot(ctx, localTime(d, 11, 15), len(made), func(a team, i int) error {
		if _, err := db.ReceiveSlip(a.nurse, made[i], relais.ReceiptRequest{}); err != nil {
			return fmt.Errorf("receipt of a slip: %w", err)
		}
		r.wrote()
		return nil
	}); err != nil {
		return err
	}
	// At the bedside: each of a patient's bags after the other from 11:00,
	// an hour each, recorded at the end of the afternoon.
	rank := map[relais.ID]int{}
	startAt := make([]time.Time, len(ready))
	for i, p := range ready {
		k := min(rank[p.PatientID], 8)
		rank[p.PatientID]++
		startAt[i] = localTime(d, 11, 0).Add(time.Duration(k) * 30 * time.Minute)
	}
	if err := r.slot(ctx, localTime(d, 16, 0), len(ready), func(a team, i int) error {
		p := ready[i]
		req := relais.AdministrationRequest{ScannedLabel: relais.PreparationCode(p.ID), PatientIPP: of[p.PatientID].in.IPP,
			StartedAt: startAt[i], EndedAt: startAt[i].Add(time.Hour)}
		if p.Mode == relais.ModeCompounded {
			req.VolumeGivenML = p.Plan.FinalVolumeML
			if p.Production != nil && p.Production.FinalVolumeML > 0 {
				req.VolumeGivenML = p.Production.FinalVolumeML
			}
		}
		if r.enSus[p.DrugID] {
			req.IndicationCode = regionIndicationCode
		}
		if _, err := db.RecordAdministration(a.nurse, p.ID, req); err != nil {
			return fmt.Errorf("patient %d, administration of %s %g %s: %w", of[p.PatientID].pp.N+1, p.INN, p.Dose, p.Unit, err)
		}
		r.wrote()
		return nil
	}); err != nil {
		return err
	}
	r.mu.Lock()
	r.st.Administered += len(ready)
	r.st.Slips += len(slips)
	r.mu.Unlock()
	return nil
}

func ward(c *course) string {
	if c.pp.Child {
		return "Oncologie pédiatrique"
	}
	return "Hôpital de jour oncologie"
}

// take takes a vial of a product from the lot in stock that expires first.
func (r *replay) take(product relais.ID, day relais.Date) relais.ID {
	var best *relais.StockLot
	for _, l := range r.lots {
		if l.ProductID != product || l.QuantityRemaining <= 0 || l.Expiry < day {
			continue
		}
		if best == nil || l.Expiry < best.Expiry || l.Expiry == best.Expiry && l.Lot < best.Lot {
			best = l
		}
	}
	if best == nil {
		return ""
	}
	best.QuantityRemaining--
	return best.ID
}

// restock receives, before the worksheets, a lot of every product the day
// needs more vials of than the stock holds (unexpired, counted as the
// lots were received and their vials used): what is missing and
// about four weeks of use, in boxes of ten, expiring a year later — the
// pharmacy's order to the wholesaler.
func (r *replay) restock(ctx context.Context, d time.Time, compounded []relais.Preparation) error {
	need := map[relais.ID]int{}
	for _, p := range compounded {
		if p.Plan == nil {
			continue
		}
		for _, dr := range p.Plan.Draws {
			if !dr.Leftover {
				need[dr.ProductID]++
			}
		}
	}
	if len(need) == 0 {
		return nil
	}
	date := dateOf(d)
	have := map[relais.ID]int{}
	for id, l := range r.lots {
		if l.Expiry < date || l.QuantityRemaining <= 0 {
			delete(r.lots, id) // expired or used up: out of the count
			continue
		}
		have[l.ProductID] += l.QuantityRemaining
	}
	var orders []relais.StockReceipt
	for id, n := range need {
		if have[id] >= n {
			continue
		}
		month := 0
		keep := r.usage[id][:0]
		for _, u := range r.usage[id] {
			if d.Sub(u.day) <= 28*24*time.Hour {
				month += u.vials
				keep = append(keep, u)
			}
		}
		r.usage[id] = keep
		q := (n - have[id] + max(month, 10) + 9) / 10 * 10
		orders = append(orders, relais.StockReceipt{ProductID: id, Lot: fmt.Sprintf("R%s-%02d", d.Format("060102"), r.product[id]),
			Expiry: dateOf(d.AddDate(1, 0, 0)), Quantity: q, Supplier: "Grossiste-répartiteur (démo)"})
	}
	slices.SortFunc(orders, func(x, y relais.StockReceipt) int { return cmp.Compare(x.Lot, y.Lot) })
	if err := r.slot(ctx, localTime(d, 8, 45), len(orders), func(a team, i int) error {
		l, err := r.g.db.ReceiveStock(a.tech, orders[i])
		if err != nil {
			return fmt.Errorf("stock of %s: %w", orders[i].ProductID, err)
		}
		r.wrote()
		r.mu.Lock()
		r.lots[l.ID] = &l
		r.mu.Unlock()
		return nil
	}); err != nil {
		return err
	}
	r.mu.Lock()
	r.st.StockLots += len(orders)
	r.mu.Unlock()
	return nil
}
