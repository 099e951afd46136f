package demo

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/sqlstore"
)

// The region: a whole regional network's history, for proof at scale
// (`relais demo --scale region`). Twelve sites — one university hospital and
// eleven general hospitals — each with its own database, as each hospital
// runs its own Relais; ten years of new patients (about 2,000 a year across
// the region) treated with the demo library's cited regimens, through the
// same services as real work: inclusion, measurements, prescription,
// signature, OK-to-treat, pharmaceutical validation, then the pharmacy's
// production (stock, worksheet and register number, production, check,
// release), delivery and administration. Everything written is journaled,
// so `relais check` and `relais audit verify` pass on every site's
// database, and dated on its day of the history (region_replay.go).
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
// drawn from the seed is what the services make themselves — identifiers
// (UUIDv7, from the clock and the system's randomness) — and the order the
// concurrent writes of one slot take. Dates of care (start dates, cycle
// days, measurement times, birth dates) and write times are all drawn or
// derived from them, so two runs with the same seed and the same --today
// hold the same domain content under different identifiers;
// TestRegionDeterministic compares them.

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
	Site           string        `json:"site"`
	Patients       int           `json:"patients"`
	Cycles         int           `json:"cycles"`
	Preparations   int           `json:"preparations"` // compounded in the pharmacy (isolator work)
	Dispensed      int           `json:"dispensed"`    // ready-made doses dispensed (oral, ready-to-use)
	Measurements   int           `json:"measurements"`
	OKToTreat      int           `json:"ok_to_treat"`
	Administered   int           `json:"administered"`    // preparations given at the bedside (the history's; today's are still to make)
	NotMade        int           `json:"not_made"`        // compounded preparations the catalogue cannot make as planned, cancelled
	Slips          int           `json:"slips"`           // delivery slips to the wards
	StabilityAdded int           `json:"stability_added"` // stability entries the catalogue lacked for the protocols' lines (completeStability)
	StockLots      int           `json:"stock_lots"`      // lots received (orders when the day's worksheets need vials)
	Writes         int           `json:"writes"`          // service calls that wrote (one transaction each)
	Elapsed        time.Duration `json:"elapsed_ns"`
	FirstDay       relais.Date   `json:"first_day"`
	LastDay        relais.Date   `json:"last_day"`
	WeekdayCycles  [7]int        `json:"weekday_cycles"` // day-1 dates by weekday, Sunday first
	MonthCycles    [12]int       `json:"month_cycles"`   // day-1 dates by month, January first
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
	// The first site that fails stops the others.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, opts.Parallel)
	var wg sync.WaitGroup
	for k, idx := range idxs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			s := RegionSites[idx]
			if ctx.Err() != nil {
				errs[k] = fmt.Errorf("site %s: %w", s.ID, context.Cause(ctx))
				return
			}
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
				cancel(errs[k])
			}
		}()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return stats, err
	}
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

// GenerateSite fills one site's empty database, opened to be backdated
// (sqlstore.Options.Backdate): the region's sites, the demo accounts, the
// protocol library and the pharmacy a week before the history begins, then
// the site's history day by day (region_replay.go). progress is told of the
// patients admitted and the preparations made, day after day.
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
	today := day(opts.Today)
	setup := localTime(today.AddDate(-opts.Years, 0, -7), 9, 0)
	ctx = sqlstore.AsOf(relais.WithActor(ctx, relais.SystemActor(site.ID)), setup)
	for _, s := range RegionSites {
		if err := db.SaveSite(ctx, s.Site); err != nil {
			return st, err
		}
	}
	for _, u := range Users {
		made, err := db.CreateUser(ctx, u, Password)
		if err != nil {
			return st, err
		}
		if !made.CreatedAt.Equal(setup) {
			return st, fmt.Errorf("demo region: the database dates its writes %s, not %s: open it with sqlstore.Options{Backdate: true}",
				made.CreatedAt.Format(time.RFC3339), setup.Format(time.RFC3339))
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
	var who team
	for _, u := range users {
		switch u.Username {
		case "dr.martin":
			who.doc = relais.WithActor(ctx, u.Actor())
		case "ph.durand":
			who.ph = relais.WithActor(ctx, u.Actor())
		case "prep.bernard":
			who.tech = relais.WithActor(ctx, u.Actor())
		case "ide.petit":
			who.nurse = relais.WithActor(ctx, u.Actor())
		}
	}
	if who.doc == nil || who.ph == nil || who.tech == nil || who.nurse == nil {
		return st, fmt.Errorf("demo region: the demo accounts dr.martin, ph.durand, prep.bernard and ide.petit are needed")
	}
	if _, err := db.SetPharmacy(who.ph, relais.Pharmacy{Name: "PUI – " + site.Name, Address: "Pharmacie à usage intérieur, " + site.Name,
		Phone: "05 00 00 00 00"}); err != nil {
		return st, fmt.Errorf("pharmacy: %w", err)
	}
	st.Writes++
	protos, err := db.Protocols(who.doc, relais.ProtocolFilter{})
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
			full, err := db.ProtocolVersion(who.doc, v.ID)
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
	if st.StabilityAdded, err = completeStability(who.ph, db, append(append([]relais.ProtocolVersion(nil), adult...), paed...)); err != nil {
		return st, fmt.Errorf("stability: %w", err)
	}
	st.Writes += st.StabilityAdded
	rp := &replay{g: &regionGen{db: db, rng: siteRand(opts.Seed, idx, 2), today: today, site: site, idx: idx, st: &st},
		who: who, cap: relais.Now(), st: &st, enSus: map[relais.ID]bool{}, product: map[relais.ID]int{}}
	drugs, err := db.Drugs(who.ph)
	if err != nil {
		return st, err
	}
	for _, dr := range drugs {
		products, err := db.Products(who.ph, dr.ID)
		if err != nil {
			return st, err
		}
		for _, p := range products {
			rp.product[p.ID] = len(rp.product) + 1
			if p.ListeEnSus {
				rp.enSus[dr.ID] = true
			}
		}
	}
	// The plan first, patient after patient from the site's stream; then
	// the history, day after day.
	courses := make([]*course, len(plan))
	for i, p := range plan {
		pool := adult
		if p.Child {
			pool = paed
		}
		courses[i] = rp.g.plan(p, pool[p.Protocol%len(pool)])
	}
	err = rp.run(ctx, courses, func(patients, preps int) {
		st.Patients += patients
		if progress != nil {
			progress(patients, preps)
		}
	})
	st.Writes += int(rp.writes.Load())
	st.Elapsed = time.Since(began)
	if err != nil {
		return st, err
	}
	if len(plan) > 0 {
		st.FirstDay, st.LastDay = plan[0].Start, relais.Date(today.Format(time.DateOnly))
	}
	return st, nil
}

// defaultStabilitySource is the source of the demo catalogue's stability
// entries: the SmPC default for a sterile product once opened, diluted or
// reconstituted, when the preparation is not made under controlled and
// validated aseptic conditions.
const defaultStabilitySource = "Règle microbiologique par défaut des RCP (EMA, note CPMP/QWP/159/96) : au plus 24 h entre 2 et 8 °C " +
	"lorsque la préparation n'est pas faite en conditions aseptiques contrôlées et validées. La stabilité physico-chimique propre au " +
	"produit est dans son RCP, rubrique 6.3."

// completeStability gives the products the protocols' lines compound the
// stability their plans need and the demo catalogue lacks — after dilution
// in the vehicle a line prescribes, after opening (or reconstitution) for an
// undiluted syringe — with the catalogue's own default rule, as a site's
// pharmacy completes its catalogue before it compounds a regimen. Without
// it the catalogue's gaps (paclitaxel in NaCl 0.9 %, folinic acid in G5 %,
// fluorouracil in a syringe) would leave most of a FOLFOX or paclitaxel
// course unmade. It returns the entries added.
func completeStability(ph context.Context, db RegionStore, versions []relais.ProtocolVersion) (int, error) {
	type need struct {
		drug    relais.ID
		vehicle string
	}
	needs := map[need]bool{}
	var order []need
	for _, v := range versions {
		for _, l := range v.Content.Lines {
			if l.DrugID == "" || !l.Route.NeedsCompounding() {
				continue
			}
			n := need{l.DrugID, strings.TrimSpace(l.Vehicle)}
			if !needs[n] {
				needs[n] = true
				order = append(order, n)
			}
		}
	}
	added := 0
	for _, n := range order {
		products, err := db.Products(ph, n.drug)
		if err != nil {
			return added, err
		}
		for _, p := range products {
			if !p.Form.Injectable() {
				continue
			}
			want := relais.Stability{Condition: relais.AfterDilution, Diluent: n.vehicle, Storage: "2-8°C", DurationHours: 24, Source: defaultStabilitySource}
			if n.vehicle == "" {
				want.Condition, want.Diluent = relais.AfterOpening, ""
				if p.Form == relais.FormPowder {
					want.Condition = relais.AfterReconstitution
				}
			}
			has := false
			for _, s := range p.Stability {
				if s.Condition == want.Condition && (want.Condition != relais.AfterDilution || relais.SameDiluent(s.Diluent, n.vehicle)) {
					has = true
				}
			}
			if has {
				continue
			}
			if _, err := db.AddStability(ph, p.ID, want); err != nil {
				return added, fmt.Errorf("%s: %w", p.Brand, err)
			}
			added++
		}
	}
	return added, nil
}

// RegionStore is what generating a site needs: the demo's store, the
// production services and the catalogue (*sqlstore.DB, opened with
// Options.Backdate).
type RegionStore interface {
	Store
	relais.ProductionService
	Drugs(ctx context.Context) ([]relais.Drug, error)
	Products(ctx context.Context, drugID relais.ID) ([]relais.Product, error)
	AddStability(ctx context.Context, productID relais.ID, s relais.Stability) (relais.Product, error)
}

type regionGen struct {
	db    RegionStore
	rng   *rand.Rand
	today time.Time
	site  RegionSite
	idx   int
	st    *SiteStats
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
