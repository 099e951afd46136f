package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/relais-onco/relais/demo"
	"github.com/relais-onco/relais/sqlstore"
)

func init() {
	register("demo", "create a demo region and serve it (accepts every flag of serve)", func(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
		var cfg serveConfig
		fs := newFlags("demo", stderr)
		cfg.flags(fs, filepath.Join(os.TempDir(), "relais-demo"))
		noServe := fs.Bool("no-serve", false, "create the demo database, print its path, and exit")
		if err := fs.Parse(args); err != nil {
			return err
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
