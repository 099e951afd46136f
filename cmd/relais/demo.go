package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/relais-onco/relais/demo"
	"github.com/relais-onco/relais/internal/progress"
	"github.com/relais-onco/relais/sqlstore"
)

func init() {
	register("demo", "create a demo region and serve it (accepts every flag of serve)", func(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
		var cfg serveConfig
		fs := newFlags("demo", stderr)
		cfg.flags(fs, filepath.Join(os.TempDir(), "relais-demo"))
		noServe := fs.Bool("no-serve", false, "create the demo database, print its path, and exit")
		scale := fs.String("scale", "small", "`small`: one site, 40 patients, served; region: the whole region's history, one database per site in --data DIR/<site>/relais.db (or the one --site into --db), not served (docs/scale.md)")
		var region demo.RegionRun
		fs.Uint64Var(&region.Seed, "seed", 1, "region: the `N` that makes the same region again")
		fs.IntVar(&region.Years, "years", 10, "region: `YEARS` of history ending --today")
		fs.IntVar(&region.Sites, "sites", len(demo.RegionSites), "region: how many `SITES` of the region, from the university hospital")
		fs.Float64Var(&region.Fraction, "fraction", 1, "region: `F` × the region's 2,000 new patients a year (0.01 for a quick run)")
		today := fs.String("today", "", "region: the last `DATE` of the history, YYYY-MM-DD (default: today); part of what --seed reproduces")
		fs.IntVar(&region.Parallel, "parallel", runtime.GOMAXPROCS(0), "region: sites generated at the same time (`N`)")
		if err := fs.Parse(args); err != nil {
			return err
		}
		if *scale == "region" {
			region.Data, region.DSN, region.Only = cfg.data, cfg.db, cfg.site
			if region.Fraction <= 0 {
				return fmt.Errorf("--fraction: %g: give a positive fraction of the region (0.01 for a quick run, 1 for the whole region)", region.Fraction)
			}
			region.Today = time.Now().UTC()
			if *today != "" {
				t, err := time.Parse(time.DateOnly, *today)
				if err != nil {
					return fmt.Errorf("--today: %q is not a date: write it as YYYY-MM-DD", *today)
				}
				region.Today = t
			}
			region.Seal = func(ctx context.Context, db *sqlstore.DB, dir string) error {
				return sealSite(ctx, db, dir, stdout)
			}
			_, err := demo.RunRegion(ctx, region, stdout, stderr)
			return err
		} else if *scale != "small" {
			return fmt.Errorf("--scale: %q is not small or region", *scale)
		}
		if cfg.site == "" {
			cfg.site = demo.MainSite.ID
		}
		log, err := cfg.logger(stderr)
		if err != nil {
			return err
		}
		dsn := cfg.dsn()
		if cfg.db == "" {
			// A demo starts fresh each time: remove the previous demo's files.
			if err := os.MkdirAll(cfg.data, 0o750); err != nil {
				return err
			}
			for _, suffix := range []string{"", "-wal", "-shm"} {
				os.Remove(filepath.Join(cfg.data, "relais.db"+suffix))
			}
		}
		db, err := sqlstore.Open(ctx, dsn, sqlstore.Options{Site: cfg.site, Log: log})
		if err != nil {
			return err
		}
		defer db.Close()
		fmt.Fprintf(stdout, "Loading the demo into %s …\n", sqlstore.Redacted(dsn))
		logins, err := demo.Load(ctx, db, demo.Options{})
		if err != nil {
			return fmt.Errorf("loading the demo: %w", err)
		}
		if *noServe {
			fmt.Fprintf(stdout, "Demo database: %s\n", sqlstore.Redacted(dsn))
			printLogins(stdout, logins)
			return nil
		}
		return serve(ctx, cfg, db, log, func(url string) {
			fmt.Fprintf(stdout, "\nRelais demo (site %s) is serving on %s\n", db.Site, url)
			printLogins(stdout, logins)
			fmt.Fprintln(stdout, "\nPress Ctrl-C to stop.")
		})
	})
}

func printLogins(w io.Writer, logins []demo.Login) {
	fmt.Fprintln(w, "\nDemo logins (username / password — role):")
	for _, l := range logins {
		fmt.Fprintf(w, "  %-12s / %-14s — %s (%s)\n", l.Username, l.Password, l.Role, l.Name)
	}
}

// sealSite makes a generated site's key pair in dir (or takes the one
// there), records its public key in the site table and signs the journal's
// head: a server or `relais check --since` opened on the database then
// starts from that checkpoint instead of verifying ten years first.
func sealSite(ctx context.Context, db *sqlstore.DB, dir string, stdout io.Writer) error {
	began := time.Now()
	key, err := LoadOrCreateSiteKey(dir)
	if err != nil {
		return err
	}
	if _, err := publishSiteKey(ctx, db, key.Public().(ed25519.PublicKey), false); err != nil {
		return err
	}
	cp, err := db.Checkpoint(ctx, key)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Site %s: journal signed at entry %d with the key in %s (%s).\n",
		db.Site, cp.Seq, filepath.Join(dir, siteKeyFile), progress.Round(time.Since(began)))
	return nil
}
