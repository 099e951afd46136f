package demo

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/relais-onco/relais"
)

// The region: a whole regional network's history, for proof at scale
// (`relais demo --scale region`). Twelve sites — one university hospital and
// eleven general hospitals — each with its own database, as each hospital
// runs its own Relais; ten years of new patients (about 2,000 a year across
// the region) treated with the demo library's cited regimens, through the
// same services as real work: inclusion, measurements, prescription,
// signature, OK-to-treat, pharmaceutical validation (which makes the
// preparations). Everything written is journaled, so `relais check` and
// `relais audit verify` pass on every site's database.
//
// The rhythm is a day hospital's: first cycles start on weekdays only, most
// on Monday and Tuesday (day-hospital admissions are planned at the start
// of the week; a regimen given on consecutive days starts early enough in
// the week to end by Friday); new patients are fewer in August and in the
// Christmas fortnight, and cycles due on a public holiday break, in the
// Christmas week or — for some — in the first three weeks of August are
// postponed to the next working day or week, as units do.
//
// Same seed, same region: every choice comes from one PCG stream per site,
// seeded from the seed and the site's place in RegionSites. What is not
// drawn from the seed is what the services make themselves: identifiers
// (UUIDv7, from the clock and the system's randomness) and the time of each
// write (the journal's clock). Dates of care (start dates, cycle days,
// measurement times, birth dates) are all drawn, so two runs with the same
// seed and the same --today hold the same domain content under different
// identifiers; TestRegionDeterministic compares them.

// RegionSite is a site of the region with its share of the activity.
type RegionSite struct {
	relais.Site
	// Share of the region's new patients treated here.
	Share float64
	// Paediatric is the fraction of this site's patients who are children
	// (paediatric oncology is concentrated at the university hospital; the
	// general hospitals give shared care near home).
	Paediatric float64
}

// RegionSites are the twelve sites of the region (fictitious names for real
// kinds of hospital). The first four are the small demo's sites.
var RegionSites = []RegionSite{
	{relais.Site{ID: "chu-aquitaine", Name: "CHU Aquitaine (démo)", Kind: "chu"}, 0.24, 0.25},
	{relais.Site{ID: "chg-landes", Name: "CH des Landes (démo)", Kind: "chg"}, 0.08, 0.04},
	{relais.Site{ID: "chg-dordogne", Name: "CH de Dordogne (démo)", Kind: "chg"}, 0.08, 0.04},
	{relais.Site{ID: "chg-charente", Name: "CH de Charente (démo)", Kind: "chg"}, 0.07, 0.03},
	{relais.Site{ID: "chg-bearn", Name: "CH du Béarn (démo)", Kind: "chg"}, 0.08, 0.04},
	{relais.Site{ID: "chg-pays-basque", Name: "CH du Pays basque (démo)", Kind: "chg"}, 0.08, 0.04},
	{relais.Site{ID: "chg-lot-et-garonne", Name: "CH de Lot-et-Garonne (démo)", Kind: "chg"}, 0.07, 0.03},
	{relais.Site{ID: "chg-gironde-nord", Name: "CH du Nord-Gironde (démo)", Kind: "chg"}, 0.06, 0.03},
	{relais.Site{ID: "chg-charente-maritime", Name: "CH de Charente-Maritime (démo)", Kind: "chg"}, 0.08, 0.03},
	{relais.Site{ID: "chg-deux-sevres", Name: "CH des Deux-Sèvres (démo)", Kind: "chg"}, 0.06, 0.03},
	{relais.Site{ID: "chg-correze", Name: "CH de Corrèze (démo)", Kind: "chg"}, 0.05, 0.03},
	{relais.Site{ID: "chg-medoc", Name: "CH du Médoc (démo)", Kind: "chg"}, 0.05, 0.02},
}

// NewPatientsPerYear is the region's rate of new patients at full scale.
const NewPatientsPerYear = 2000

// RegionOptions choose the size of the region.
type RegionOptions struct {
	Seed uint64 // 1 when zero
	// Years of history ending on Today (10 when zero).
	Years int
	// Sites is how many of RegionSites to generate, from the first (12 when
	// zero); Only, when set, generates that one site instead.
	Sites int
	Only  string
	// Fraction scales the number of new patients (1 when zero): 0.01 is a
	// hundredth of the region, for tests and CI.
	Fraction float64
	// Today is the last day of the history (required: it is part of what
	// the seed reproduces).
	Today time.Time
	// Parallel is how many sites are generated at once (1 when zero).
	Parallel int
	// Progress, when set, is called after each patient with the totals so
	// far (patients, preparations) across the region.
	Progress func(patients, preparations int64)
}

func (o *RegionOptions) defaults() error {
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Years == 0 {
		o.Years = 10
	}
	if o.Sites == 0 {
		o.Sites = len(RegionSites)
	}
	if o.Fraction == 0 {
		o.Fraction = 1
	}
	if o.Parallel <= 0 {
		o.Parallel = 1
	}
	switch {
	case o.Years < 0 || o.Years > 30:
		return relais.Invalid("demo.region", "years", "%d years: give between 1 and 30", o.Years)
	case o.Sites < 0 || o.Sites > len(RegionSites):
		return relais.Invalid("demo.region", "sites", "%d sites: the region has between 1 and %d", o.Sites, len(RegionSites))
	case o.Fraction < 0 || o.Fraction > 10 || math.IsNaN(o.Fraction):
		return relais.Invalid("demo.region", "fraction", "%g: give a fraction of the region between 0 and 10 (1 is the whole region)", o.Fraction)
	case o.Today.IsZero():
		return relais.Invalid("demo.region", "today", "the last day of the history is required")
	}
	if o.Only != "" {
		if _, ok := RegionSiteByID(o.Only); !ok {
			return relais.Invalid("demo.region", "site", "%q is not a site of the region: use one of %s", o.Only, regionSiteIDs())
		}
	}
	return nil
}

// RegionSiteByID finds a site of the region.
func RegionSiteByID(id string) (RegionSite, bool) {
	for _, s := range RegionSites {
		if s.ID == id {
			return s, true
		}
	}
	return RegionSite{}, false
}

func regionSiteIDs() string {
	var ids []string
	for _, s := range RegionSites {
		ids = append(ids, s.ID)
	}
	return fmt.Sprint(ids)
}

// SiteStats is what was generated at one site.
type SiteStats struct {
	Site          string        `json:"site"`
	Patients      int           `json:"patients"`
	Cycles        int           `json:"cycles"`
	Preparations  int           `json:"preparations"` // compounded in the pharmacy (isolator work)
	Dispensed     int           `json:"dispensed"`    // ready-made doses dispensed (oral, ready-to-use)
	Measurements  int           `json:"measurements"`
	OKToTreat     int           `json:"ok_to_treat"`
	Writes        int           `json:"writes"` // service calls that wrote (one transaction each)
	Elapsed       time.Duration `json:"elapsed_ns"`
	FirstDay      relais.Date   `json:"first_day"`
	LastDay       relais.Date   `json:"last_day"`
	WeekdayCycles [7]int        `json:"weekday_cycles"` // day-1 dates by weekday, Sunday first
	MonthCycles   [12]int       `json:"month_cycles"`   // day-1 dates by month, January first
}

// PlannedPatient is one new patient of the plan: who, when, what.
type PlannedPatient struct {
	N        int // order of arrival at the site, from 0
	Child    bool
	Age      float64 // years at the first cycle
	Sex      relais.Sex
	Protocol int         // index among the site's protocols of that population (sorted by code)
	Start    relais.Date // day 1 of cycle 1
	// StopAfter: the course stops after this cycle (toxicity, progression,
	// a change of plan), or runs to the protocol's count when 0.
	StopAfter int
}

// PlanSite draws a site's new patients: how many, which days they start.
// It needs no database, so a plan can be counted before anything is written.
func PlanSite(opts RegionOptions, idx int) ([]PlannedPatient, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	s := RegionSites[idx]
	rng := siteRand(opts.Seed, idx, 1)
	today := day(opts.Today)
	first := today.AddDate(-opts.Years, 0, 1)
	// Arrival days, weighted by weekday and season.
	var days []time.Time
	var cum []float64
	total := 0.0
	for d := first; !d.After(today); d = d.AddDate(0, 0, 1) {
		w := arrivalWeight(d)
		if w == 0 {
			continue
		}
		total += w
		days = append(days, d)
		cum = append(cum, total)
	}
	n := int(math.Round(NewPatientsPerYear * float64(opts.Years) * opts.Fraction * s.Share))
	out := make([]PlannedPatient, 0, n)
	for i := 0; i < n; i++ {
		at := rng.Float64() * total
		d := days[min(len(days)-1, sortSearch(cum, at))]
		p := PlannedPatient{Child: rng.Float64() < s.Paediatric, Sex: relais.SexMale, Start: relais.Date(d.Format(time.DateOnly))}
		if rng.IntN(2) == 0 {
			p.Sex = relais.SexFemale
		}
		if p.Child {
			p.Age = 1.5 + rng.Float64()*15
		} else {
			p.Age = 25 + rng.Float64()*55
		}
		p.Protocol = rng.IntN(1 << 20)
		if rng.Float64() < 0.12 { // some courses stop early (toxicity, progression)
			p.StopAfter = 1 + rng.IntN(4)
		}
		out = append(out, p)
	}
	// Patients arrive in date order; ties keep their draw order.
	slices.SortStableFunc(out, func(a, b PlannedPatient) int {
		if a.Start < b.Start {
			return -1
		} else if a.Start > b.Start {
			return 1
		}
		return 0
	})
	for i := range out {
		out[i].N = i
	}
	return out, nil
}

func sortSearch(cum []float64, x float64) int {
	i, _ := slices.BinarySearch(cum, x)
	return i
}

// siteRand is the stream of one site for one purpose (1: the plan, 2: the
// patients' details): the same seed gives the same numbers.
func siteRand(seed uint64, idx int, purpose uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, uint64(idx+1)<<8|purpose))
}

func day(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// arrivalWeight is the relative chance that a new patient's first cycle
// falls on d: none at weekends and on public holidays, Monday and Tuesday
// busiest, fewer in August and at Christmas.
func arrivalWeight(d time.Time) float64 {
	if holiday(d) {
		return 0
	}
	w := [7]float64{0, 1.35, 1.25, 1.0, 0.85, 0.7, 0}[d.Weekday()]
	switch {
	case d.Month() == time.August:
		w *= 0.55
	case d.Month() == time.July && d.Day() >= 14:
		w *= 0.85
	case d.Month() == time.December && d.Day() >= 20, d.Month() == time.January && d.Day() <= 3:
		w *= 0.4
	}
	return w
}

// holiday reports the French public holidays with fixed dates, and Easter
// Monday, Ascension and Whit Monday.
func holiday(d time.Time) bool {
	switch [2]int{int(d.Month()), d.Day()} {
	case [2]int{1, 1}, [2]int{5, 1}, [2]int{5, 8}, [2]int{7, 14}, [2]int{8, 15}, [2]int{11, 1}, [2]int{11, 11}, [2]int{12, 25}:
		return true
	}
	e := easter(d.Year())
	for _, off := range []int{1, 39, 50} {
		if d.Equal(e.AddDate(0, 0, off)) {
			return true
		}
	}
	return false
}

// easter is Easter Sunday (the anonymous Gregorian algorithm, Meeus/Jones/
// Butcher).
func easter(y int) time.Time {
	a, b, c := y%19, y/100, y%100
	d, e := b/4, b%4
	f := (b + 8) / 25
	g := (b - f + 1) / 3
	h := (19*a + b - d - g + 15) % 30
	i, k := c/4, c%4
	l := (32 + 2*e + 2*i - h - k) % 7
	m := (a + 11*h + 22*l) / 451
	month := (h + l - 7*m + 114) / 31
	dd := (h+l-7*m+114)%31 + 1
	return time.Date(y, time.Month(month), dd, 0, 0, 0, 0, time.UTC)
}

// cycleDay moves a cycle's planned day 1 to a day the day hospital treats:
// off weekends and holidays; out of the Christmas week (to the first working
// day of January); and, for some cycles, a week later in the first three
// weeks of August (staff on leave). run is how many consecutive days the
// regimen gives from day 1: they must end by Friday.
func cycleDay(d time.Time, run int, rng *rand.Rand) time.Time {
	switch {
	case d.Month() == time.December && d.Day() >= 24 && rng.Float64() < 0.8:
		d = time.Date(d.Year()+1, time.January, 2, 0, 0, 0, 0, time.UTC)
	case d.Month() == time.January && d.Day() == 1:
		d = d.AddDate(0, 0, 1)
	}
	if d.Month() == time.August && d.Day() <= 21 && rng.Float64() < 0.25 {
		d = d.AddDate(0, 0, 7)
	}
	return workingStart(d, run)
}

// workingStart is the first day from d on which a run of that many
// consecutive treatment days starts on a working weekday and ends by
// Friday.
func workingStart(d time.Time, run int) time.Time {
	for i := 0; i < 14; i++ {
		wd := int(d.Weekday())
		if wd >= 1 && wd <= 5 && !holiday(d) && (run > 5 || wd+run-1 <= 5) {
			return d
		}
		d = d.AddDate(0, 0, 1)
	}
	return d
}

// consecutiveRun is how many consecutive days from day 1 a version treats
// on; a run longer than a working week (oral or continuous treatment at
// home) is not bound to weekdays.
func consecutiveRun(days []int) int {
	run := 0
	for i, d := range days {
		if d != i+1 {
			break
		}
		run++
	}
	return max(run, 1)
}

// GenerateRegion generates the region, one database per site: open is
// called with each site and returns that site's empty store and how to
// close it. Sites are generated Parallel at a time, each on its own stream,
// so the result does not depend on Parallel.
func GenerateRegion(ctx context.Context, opts RegionOptions, open func(ctx context.Context, s RegionSite) (RegionStore, func() error, error)) ([]SiteStats, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	var idxs []int
	for i, s := range RegionSites {
		if opts.Only != "" && s.ID != opts.Only || opts.Only == "" && i >= opts.Sites {
			continue
		}
		idxs = append(idxs, i)
	}
	stats := make([]SiteStats, len(idxs))
	errs := make([]error, len(idxs))
	var patients, preps atomic.Int64
	progress := func(dPatients, dPreps int) {
		p, q := patients.Add(int64(dPatients)), preps.Add(int64(dPreps))
		if opts.Progress != nil {
			opts.Progress(p, q)
		}
	}
	sem := make(chan struct{}, opts.Parallel)
	var wg sync.WaitGroup
	for k, idx := range idxs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			s := RegionSites[idx]
			db, closeDB, err := open(ctx, s)
			if err != nil {
				errs[k] = fmt.Errorf("site %s: %w", s.ID, err)
				return
			}
			stats[k], err = GenerateSite(ctx, db, opts, idx, progress)
			if cerr := closeDB(); err == nil && cerr != nil {
				err = cerr
			}
			if err != nil {
				errs[k] = fmt.Errorf("site %s: %w", s.ID, err)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return stats, err
		}
	}
	return stats, nil
}

// PlannedPatients counts the new patients a region of these options has,
// for a progress total.
func PlannedPatients(opts RegionOptions) (int, error) {
	if err := opts.defaults(); err != nil {
		return 0, err
	}
	n := 0
	for i, s := range RegionSites {
		if opts.Only != "" && s.ID != opts.Only || opts.Only == "" && i >= opts.Sites {
			continue
		}
		p, err := PlanSite(opts, i)
		if err != nil {
			return 0, err
		}
		n += len(p)
	}
	return n, nil
}

// GenerateSite fills one site's empty database: the region's sites, the demo
// accounts, the protocol library, then the site's patients in order of
// arrival. progress is told of each patient and its preparations.
func GenerateSite(ctx context.Context, db RegionStore, opts RegionOptions, idx int, progress func(patients, preparations int)) (SiteStats, error) {
	if err := opts.defaults(); err != nil {
		return SiteStats{}, err
	}
	site := RegionSites[idx]
	st := SiteStats{Site: site.ID}
	began := time.Now()
	plan, err := PlanSite(opts, idx)
	if err != nil {
		return st, err
	}
	ctx = relais.WithActor(ctx, relais.SystemActor(site.ID))
	for _, s := range RegionSites {
		if err := db.SaveSite(ctx, s.Site); err != nil {
			return st, err
		}
	}
	for _, u := range Users {
		if _, err := db.CreateUser(ctx, u, Password); err != nil {
			return st, err
		}
	}
	if err := LoadLibrary(ctx, db); err != nil {
		return st, fmt.Errorf("protocol library: %w", err)
	}
	st.Writes = len(RegionSites) + len(Users)
	users, err := db.Users(ctx)
	if err != nil {
		return st, err
	}
	var who Clinicians
	for _, u := range users {
		switch u.Username {
		case "dr.martin":
			who.Prescriber = relais.WithActor(ctx, u.Actor())
		case "ph.durand":
			who.Pharmacist = relais.WithActor(ctx, u.Actor())
		}
	}
	protos, err := db.Protocols(who.Prescriber, relais.ProtocolFilter{})
	if err != nil {
		return st, err
	}
	var paed, adult []relais.ProtocolVersion
	slices.SortFunc(protos, func(a, b relais.ProtocolSummary) int {
		if a.Code < b.Code {
			return -1
		}
		if a.Code > b.Code {
			return 1
		}
		return 0
	})
	for _, p := range protos {
		for _, v := range p.Versions {
			if v.Status != relais.VersionActive {
				continue
			}
			full, err := db.ProtocolVersion(who.Prescriber, v.ID)
			if err != nil {
				return st, err
			}
			if p.Population == relais.Paediatric {
				paed = append(paed, full)
			} else {
				adult = append(adult, full)
			}
		}
	}
	if len(paed) == 0 || len(adult) == 0 {
		return st, fmt.Errorf("demo region: the protocol library needs active paediatric and adult protocols (found %d and %d)", len(paed), len(adult))
	}
	rng := siteRand(opts.Seed, idx, 2)
	g := &regionGen{db: db, who: who, rng: rng, today: day(opts.Today), site: site, idx: idx, st: &st}
	for _, p := range plan {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		pool := adult
		if p.Child {
			pool = paed
		}
		before := st.Preparations
		if err := g.patient(p, pool[p.Protocol%len(pool)]); err != nil {
			return st, fmt.Errorf("patient %d (protocol version %s): %w", p.N+1, pool[p.Protocol%len(pool)].ID, err)
		}
		st.Patients++
		if progress != nil {
			progress(1, st.Preparations-before)
		}
	}
	if len(plan) > 0 {
		st.FirstDay, st.LastDay = plan[0].Start, relais.Date(g.today.Format(time.DateOnly))
	}
	st.Elapsed = time.Since(began)
	return st, nil
}

// RegionStore is what generating a site needs: the demo's store, and the
// preparations to count them.
type RegionStore interface {
	Store
	Preparations(ctx context.Context, f relais.PreparationFilter) ([]relais.Preparation, error)
}

type regionGen struct {
	db    RegionStore
	who   Clinicians
	rng   *rand.Rand
	today time.Time
	site  RegionSite
	idx   int
	st    *SiteStats
}

// patient creates one patient and walks the course through the circuit up
// to today.
func (g *regionGen) patient(pp PlannedPatient, v relais.ProtocolVersion) error {
	doc, ph, rng := g.who.Prescriber, g.who.Pharmacist, g.rng
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
	in := relais.PatientInput{
		IPP:        fmt.Sprintf("R%02d%07d", g.idx+1, pp.N+1),
		INS:        relais.INS{Status: relais.IdentityProvisional},
		BirthName:  lastNames[rng.IntN(len(lastNames))],
		FirstNames: []string{first},
		BirthDate:  relais.Date(birth.Format(time.DateOnly)),
		Sex:        pp.Sex,
	}
	if rng.IntN(3) == 0 {
		in.INS = regionINS(pp.Sex, birth, serial)
	}
	run := consecutiveRun(v.Content.Days)
	start = workingStart(start, run) // a regimen of consecutive days starts early enough to end by Friday
	p, err := g.db.CreatePatient(doc, in)
	if err != nil {
		return err
	}
	g.st.Writes++
	tr, err := g.db.Include(doc, relais.IncludeRequest{PatientID: p.ID, ProtocolVersionID: v.ID, Intent: "curative", StartDate: relais.Date(start.Format(time.DateOnly))})
	if err != nil {
		return err
	}
	g.st.Writes++
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
	day1 := start
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
		for _, m := range []struct {
			kind string
			v    float64
		}{{"height_cm", height}, {"weight_kg", weight}, {"creatinine_umol_l", creatinine(rng, pp.Child, pp.Age)},
			{"neutrophils_g_l", 1.6 + math.Round(rng.Float64()*30)/10}, {"platelets_g_l", math.Round(120 + rng.Float64()*250)}, {"haemoglobin_g_dl", 9 + math.Round(rng.Float64()*40)/10}} {
			if _, err := g.db.RecordMeasurement(doc, p.ID, relais.MeasurementInput{Kind: m.kind, Value: &m.v, MeasuredAt: measured, Source: relais.SourceLab}); err != nil {
				return fmt.Errorf("%s: %w", m.kind, err)
			}
			g.st.Measurements++
			g.st.Writes++
		}
		pr, err := g.db.Prescribe(doc, tr.ID, relais.PrescribeRequest{Cycle: cycle, StartDate: relais.Date(day1.Format(time.DateOnly))})
		if err != nil {
			return err
		}
		g.st.Writes++
		if cycle >= 2 && rng.Float64() < 0.08 { // a dose reduction, with its reason
			for _, l := range pr.Lines {
				if l.Kind == string(relais.LineChemo) && l.Rule.Kind != "" {
					pct := -20.0
					if pr, err = g.db.ModifyLine(doc, pr.ID, l.ID, relais.ModifyLineRequest{Percent: &pct, Reason: "Neutropénie fébrile à la cure précédente"}); err != nil {
						return err
					}
					g.st.Writes++
					break
				}
			}
		}
		for _, c := range pr.Checks {
			if c.Level == relais.LevelAcknowledge && c.Ack == nil {
				if pr, err = g.db.Acknowledge(doc, pr.ID, relais.AcknowledgeRequest{Code: c.Code, LineID: c.LineID, Reason: "Vu en consultation"}); err != nil {
					return err
				}
				g.st.Writes++
			}
		}
		if pr, err = g.db.Sign(doc, pr.ID); err != nil {
			return err
		}
		g.st.Writes++
		for _, d := range pr.Days {
			if !d.Date.Time().Before(tomorrow) {
				continue // future days get their OK-to-treat on the day
			}
			ok, err := g.db.GiveOKToTreat(doc, pr.ID, relais.OKToTreatRequest{Day: d.Day})
			if relais.ErrorKind(err) == relais.KindConflict { // a criterion not met: the prescriber decides
				ok, err = g.db.GiveOKToTreat(doc, pr.ID, relais.OKToTreatRequest{Day: d.Day, Override: true,
					Comment: "Critère limite, vu avec le patient : feu vert maintenu"})
			}
			if err != nil {
				return err
			}
			pr = ok
			g.st.OKToTreat++
			g.st.Writes++
			var req relais.ValidateLinesRequest
			for _, l := range pr.Lines {
				if l.Day == d.Day && l.Status == relais.LineProposed {
					req.Lines = append(req.Lines, relais.LineDecision{LineID: l.ID, ValidateLineRequest: relais.ValidateLineRequest{Decision: relais.DecisionAccept}})
				}
			}
			if len(req.Lines) == 0 {
				continue
			}
			if pr, err = g.db.ValidateLines(ph, pr.ID, req); err != nil {
				return err
			}
			g.st.Writes++
		}
	}
	preps, err := g.db.Preparations(ph, relais.PreparationFilter{PatientID: p.ID})
	if err != nil {
		return err
	}
	for _, x := range preps {
		if x.Mode == relais.ModeCompounded {
			g.st.Preparations++
		} else {
			g.st.Dispensed++
		}
	}
	return nil
}

// regionINS makes a qualified identity under the INS test OID
// (1.2.250.1.213.1.4.9, so no real person can be meant), with a valid NIR
// key; serial makes it unique in the region.
func regionINS(sex relais.Sex, birth time.Time, serial int) relais.INS {
	s := "1"
	if sex == relais.SexFemale {
		s = "2"
	}
	first13 := fmt.Sprintf("%s%02d%02d33%03d%03d", s, birth.Year()%100, int(birth.Month()), serial/1000%1000, serial%1000)
	key, err := relais.NIRKey(first13)
	if err != nil {
		return relais.INS{Status: relais.IdentityProvisional}
	}
	return relais.INS{Matricule: fmt.Sprintf("%s%02d", first13, key), OID: relais.OIDNIRTest, Status: relais.IdentityQualified}
}
