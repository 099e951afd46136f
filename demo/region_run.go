package demo

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/relais-onco/relais/internal/progress"
	"github.com/relais-onco/relais/sqlstore"
)

// RegionRun is `relais demo --scale region`: where to write and how big.
type RegionRun struct {
	RegionOptions
	// Data is the directory holding one SQLite database per site,
	// Data/<site>/relais.db, each made afresh.
	Data string
	// DSN, when set, is the one database to fill (PostgreSQL or SQLite):
	// only one site then (RegionOptions.Only).
	DSN string
	Log *slog.Logger
	// Seal, when set, is called on each site's database once the whole
	// history is generated, with the directory for its keys (Data/<site>,
	// or Data with DSN; not called with DSN and no Data): `relais demo`
	// makes the site's key there and signs its journal, as a site that
	// ran those ten years would have.
	Seal func(ctx context.Context, db *sqlstore.DB, dir string) error
}

// site returns a site's database and the directory of its keys: the one
// DSN and Data, or Data/<site>/relais.db and Data/<site>.
func (run RegionRun) site(id string) (dsn, dir string) {
	if run.DSN != "" {
		return run.DSN, run.Data
	}
	return SiteDSN(run.Data, id), filepath.Join(run.Data, id)
}

// SiteDSN is where a site's database goes under data.
func SiteDSN(data, site string) string {
	return "sqlite:" + filepath.Join(data, site, "relais.db")
}

// RunRegion generates the region, shows progress on stderr when it is a
// terminal, and prints what was made and how fast to stdout.
func RunRegion(ctx context.Context, run RegionRun, stdout, stderr io.Writer) ([]SiteStats, error) {
	opts := run.RegionOptions
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	if run.DSN != "" && opts.Only == "" {
		return nil, fmt.Errorf("demo region: --db names one database: choose its site with --site (one of %s), or use --data DIR for one database per site", regionSiteIDs())
	}
	log := run.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	total, err := PlannedPatients(opts)
	if err != nil {
		return nil, err
	}
	bar := progress.New(stderr, "région", int64(total), "patients")
	began := time.Now()
	opts.Progress = func(patients, preps int64) {
		bar.Extra(fmt.Sprintf("%d préparations (%.0f/s)", preps, float64(preps)/time.Since(began).Seconds()))
		bar.Set(patients)
	}
	var dsns []string
	open := func(ctx context.Context, s RegionSite) (RegionStore, func() error, error) {
		dsn, _ := run.site(s.ID)
		if run.DSN == "" {
			path := strings.TrimPrefix(dsn, "sqlite:")
			if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
				return nil, nil, err
			}
			for _, suffix := range []string{"", "-wal", "-shm"} { // a demo starts fresh
				os.Remove(path + suffix)
			}
		}
		db, err := sqlstore.Open(ctx, dsn, sqlstore.Options{Site: s.ID, Log: log, Backdate: true})
		if err != nil {
			return nil, nil, err
		}
		return db, db.Close, nil
	}
	fmt.Fprintf(stdout, "Generating the region (seed %d, %d years to %s, fraction %g): %d new patients …\n",
		opts.Seed, opts.Years, opts.Today.Format(time.DateOnly), opts.Fraction, total)
	stats, err := GenerateRegion(ctx, opts, open)
	bar.Done()
	if err != nil {
		return stats, err
	}
	el := time.Since(began)
	var sum SiteStats
	fmt.Fprintf(stdout, "\n%-22s %9s %8s %13s %10s %13s %9s %8s %9s\n", "site", "patients", "cycles", "preparations", "dispensed", "administered", "writes", "time", "writes/s")
	for _, s := range stats {
		sum.Patients += s.Patients
		sum.Cycles += s.Cycles
		sum.Preparations += s.Preparations
		sum.Dispensed += s.Dispensed
		sum.Administered += s.Administered
		sum.Writes += s.Writes
		fmt.Fprintf(stdout, "%-22s %9d %8d %13d %10d %13d %9d %8s %9.0f\n", s.Site, s.Patients, s.Cycles, s.Preparations, s.Dispensed, s.Administered, s.Writes,
			progress.Round(s.Elapsed), float64(s.Writes)/s.Elapsed.Seconds())
		if run.DSN == "" {
			dsns = append(dsns, SiteDSN(run.Data, s.Site))
		} else {
			dsns = append(dsns, sqlstore.Redacted(run.DSN))
		}
	}
	fmt.Fprintf(stdout, "%-22s %9d %8d %13d %10d %13d %9d %8s %9.0f\n", "region", sum.Patients, sum.Cycles, sum.Preparations, sum.Dispensed, sum.Administered, sum.Writes,
		progress.Round(el), float64(sum.Writes)/el.Seconds())
	years := float64(opts.Years)
	fmt.Fprintf(stdout, "\n%.0f compounded preparations and %.0f new patients a year over %d years (the last year's courses are still running).\n",
		float64(sum.Preparations)/years, float64(sum.Patients)/years, opts.Years)
	fmt.Fprintf(stdout, "%.1f preparations/s, %.1f patients/s, %.0f writes/s (wall clock, %d site(s) at a time)\n",
		float64(sum.Preparations)/el.Seconds(), float64(sum.Patients)/el.Seconds(), float64(sum.Writes)/el.Seconds(), min(opts.Parallel, len(stats)))
	if run.Seal != nil {
		for _, st := range stats {
			dsn, dir := run.site(st.Site)
			if dir == "" {
				continue
			}
			db, err := sqlstore.Open(ctx, dsn, sqlstore.Options{Site: st.Site, Log: log})
			if err != nil {
				return stats, err
			}
			err = run.Seal(ctx, db, dir)
			if cerr := db.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return stats, fmt.Errorf("site %s: signing its journal: %w", st.Site, err)
			}
		}
	}
	fmt.Fprintln(stdout, "\nDatabases (check each with `relais check --db DSN` and `relais audit verify --db DSN`):")
	for _, d := range dsns {
		fmt.Fprintln(stdout, "  "+d)
	}
	return stats, nil
}
