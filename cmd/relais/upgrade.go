package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"filippo.io/age"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/continuity"
	"github.com/relais-onco/relais/sqlstore"
)

// relais upgrade: the pre-flight check before an upgrade, and the way back
// after one (continuity/upgrade.go, docs/operations/upgrade.md). The
// migration itself is done by relais serve, after a verified snapshot
// (openServing below).

var upgradeCommands = []struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}{
	{"check", "say whether this Relais can take over a database, and what to fix first (exit 0 ready, 1 not ready, 2 usage, 3 unreadable)", upgradeCheck},
	{"rollback", "restore the pre-upgrade snapshot, keeping aside what was written since", upgradeRollback},
}

func init() {
	register("upgrade", "pre-flight check before an upgrade, rollback after one", func(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
		return subcommand(ctx, "upgrade", args, upgradeCommands, stdout, stderr)
	})
}

// upgradeIdentities returns the --identity files, or the data directory's
// upgrade identity when there is one.
func upgradeIdentities(ids []string, data string) ([]age.Identity, error) {
	if len(ids) == 0 && data != "" {
		p := filepath.Join(data, continuity.UpgradeIdentityFile)
		if _, err := os.Stat(p); err == nil {
			ids = []string{p}
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	return continuity.ParseIdentities(ids)
}

func upgradeCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("upgrade check", stderr)
	dsn := fs.String("db", "", "database `DSN` to check: sqlite:PATH or postgres://USER@HOST:5432/DB (only read)")
	data := fs.String("data", "", "data `DIR` of the site (its upgrade identity, and the snapshots of a PostgreSQL site)")
	snapDir := fs.String("snapshot-dir", "", "`DIR` holding the snapshots (default: beside a SQLite file; DATA/snapshots for PostgreSQL)")
	var ids strList
	fs.Var(&ids, "identity", "age identity `FILE` to decrypt and rehearse the snapshot (default: DATA/"+continuity.UpgradeIdentityFile+")")
	var keys pubkeys
	fs.Var(&keys, "pubkey", "the site's public `KEY` (base64, or a site.pub file), to check the snapshot's origin")
	maxAge := fs.Duration("max-age", 24*time.Hour, "a snapshot older than this `DURATION` is not recent")
	window := fs.Duration("clients-since", time.Hour, "list the clients seen within this `DURATION`")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dsn == "" {
		return exitError{exitUsage, "relais upgrade check: --db DSN is required"}
	}
	if *snapDir == "" {
		if *data == "" && !strings.HasPrefix(*dsn, "sqlite:") && strings.Contains(*dsn, "://") {
			return exitError{exitUsage, "relais upgrade check: give --snapshot-dir DIR or --data DIR for a PostgreSQL database"}
		}
		*snapDir = continuity.SnapshotDirFor(*dsn, *data)
	}
	identities, err := upgradeIdentities(ids, *data)
	if err != nil {
		return exitError{exitUsage, err.Error()}
	}
	db, err := openReadOnly(ctx, *dsn, "")
	if err != nil {
		return exitError{exitNotRead, fmt.Sprintf("relais upgrade check: %v", err)}
	}
	defer db.Close()
	rep, err := continuity.CheckUpgrade(ctx, db, continuity.UpgradeCheckOptions{SnapshotDir: *snapDir, MaxAge: *maxAge,
		Identities: identities, Keys: []ed25519.PublicKey(keys), ClientWindow: *window, Progress: stderr})
	if err != nil {
		return exitError{exitNotRead, fmt.Sprintf("relais upgrade check: %v", err)}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
	} else {
		printUpgradeCheck(stdout, *dsn, rep, *window)
	}
	if !rep.OK() {
		return exitError{exitFaults, ""}
	}
	return nil
}

func printUpgradeCheck(w io.Writer, dsn string, rep continuity.UpgradeCheck, window time.Duration) {
	fmt.Fprintf(w, "Relais %s (schema %d, API %s) and the database %s (schema %d)\n\n",
		relais.Version, rep.Plan.Target, relais.APIVersion, sqlstore.Redacted(dsn), rep.Plan.Current)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if len(rep.Plan.Pending) > 0 {
		fmt.Fprintln(w, "Migrations that will run, in order:")
		fmt.Fprintln(tw, "  VERSION\tMIGRATION\tREVERSIBLE\tWHY")
		for _, m := range rep.Plan.Pending {
			rev := "yes"
			switch {
			case !m.Declared:
				rev = "UNDECLARED"
			case !m.Reversible:
				rev = "NO"
			}
			fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\n", m.Version, m.Name, rev, m.Reason)
		}
		tw.Flush()
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "Prerequisites:")
	fmt.Fprintln(tw, "  STATUS\tCHECK\tDETAIL")
	for _, p := range rep.Prereqs {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", strings.ToUpper(p.Status), p.Name, p.Detail)
	}
	tw.Flush()
	if len(rep.Clients) > 0 {
		fmt.Fprintf(w, "\nClients seen in the last %s:\n", window)
		fmt.Fprintln(tw, "  CLIENT\tAPI\tLAST SEEN (UTC)\tREQUESTS\tREFUSED\tAGENT")
		for _, c := range rep.Clients {
			api := c.APIVersion
			if api == "" {
				api = "-"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%d\t%s\n", c.ID, api, c.LastSeen.UTC().Format("2006-01-02 15:04:05"), c.Requests, c.Refused, c.Agent)
		}
		tw.Flush()
	}
	var fixes []string
	for _, p := range rep.Prereqs {
		if p.Status != continuity.StatusOK && p.Fix != "" {
			fixes = append(fixes, fmt.Sprintf("  - %s (%s): %s", p.Name, p.Status, p.Fix))
		}
	}
	if len(fixes) > 0 {
		fmt.Fprintf(w, "\nTo do before upgrading:\n%s\n", strings.Join(fixes, "\n"))
	}
	if rep.OK() {
		fmt.Fprintln(w, "\nReady: this Relais can take over the database. relais serve will snapshot it before migrating.")
	} else {
		fmt.Fprintln(w, "\nNOT READY: fix the failed checks above, then run relais upgrade check again. Nothing was changed.")
	}
}

func upgradeRollback(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("upgrade rollback", stderr)
	dsn := fs.String("db", "", "the upgraded database `DSN`")
	data := fs.String("data", "", "data `DIR` of the site: site.key and "+continuity.UpgradeIdentityFile)
	snapshot := fs.String("snapshot", "", "the snapshot `FILE` to restore (default: the one the last upgrade noted)")
	var ids strList
	fs.Var(&ids, "identity", "age identity `FILE` to decrypt the snapshot (default: DATA/"+continuity.UpgradeIdentityFile+")")
	keyFile := fs.String("key", "", "the site key `FILE` (default: DATA/site.key); needed on PostgreSQL, to set the replaced database aside as a snapshot")
	keepAside := fs.String("keep-aside", "", "write the journal entries made since the snapshot to `FILE` (journal export format) before restoring")
	discardEntries := fs.Bool("discard-entries", false, "restore even though the entries made since the snapshot are lost (they stay in the set-aside copy)")
	dryRun := fs.Bool("dry-run", false, "only list what would be lost")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dsn == "" {
		return exitError{exitUsage, "relais upgrade rollback: --db DSN is required"}
	}
	if *keepAside != "" && *discardEntries {
		return exitError{exitUsage, "relais upgrade rollback: --keep-aside and --discard-entries exclude each other"}
	}
	identities, err := upgradeIdentities(ids, *data)
	if err != nil {
		return exitError{exitUsage, err.Error()}
	}
	// The site key signs the snapshot of the replaced database (PostgreSQL);
	// the upgrade identity encrypts it.
	keys := continuity.UpgradeKeys{Identities: identities}
	if path, err := keyPath(*keyFile, *data); err == nil {
		if k, err := loadSiteKey(path); err == nil {
			keys.Key = k
		}
	}
	if keys.Key != nil && *data != "" {
		if _, err := os.Stat(filepath.Join(*data, continuity.UpgradeIdentityFile)); err == nil {
			if uk, err := continuity.LoadUpgradeKeys(*data, keys.Key); err == nil {
				keys.Recipients, keys.RecipientNames = uk.Recipients, uk.RecipientNames
			}
		}
	}
	if len(keys.Identities) == 0 {
		return exitError{exitUsage, "relais upgrade rollback: give --identity FILE or --data DIR holding " + continuity.UpgradeIdentityFile}
	}
	opts := continuity.RollbackOptions{Snapshot: *snapshot, Keys: keys, KeepAside: *keepAside, Discard: *discardEntries, Log: quietLogger(stderr), Progress: stderr}
	db, err := openReadOnly(ctx, *dsn, "")
	if err != nil {
		return exitError{exitNotRead, fmt.Sprintf("relais upgrade rollback: %v", err)}
	}
	plan, err := continuity.PlanRollback(ctx, db, opts)
	db.Close()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Rollback of %s (schema %d) to %s\n  snapshot of %s, schema %d, journal entry %d\n",
		sqlstore.Redacted(*dsn), plan.Current, plan.Snapshot, plan.Header.DataTime.Format("2006-01-02 15:04:05 MST"), plan.Header.Schema, plan.Header.HeadSeq)
	if len(plan.Lost) == 0 {
		fmt.Fprintln(stdout, "  no journal entry was made since the snapshot: nothing is lost")
	} else {
		fmt.Fprintf(stdout, "  %d journal entries were made since the snapshot and are not in it:\n", len(plan.Lost))
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "    ENTRY\tTIME (UTC)\tBY\tACTION\tENTITY")
		for i, e := range plan.Lost {
			if i == 50 {
				fmt.Fprintf(tw, "    … and %d more\t\t\t\t\n", len(plan.Lost)-50)
				break
			}
			fmt.Fprintf(tw, "    %d\t%s\t%s\t%s\t%s %s\n", e.Seq, e.Time.UTC().Format("2006-01-02 15:04:05"), e.Username, e.Action, e.Entity, e.EntityID)
		}
		tw.Flush()
	}
	if *dryRun {
		return nil
	}
	res, err := continuity.Rollback(ctx, *dsn, opts)
	if err != nil {
		if relais.ErrorKind(err) == relais.KindConflict && len(plan.Lost) > 0 {
			return exitError{exitFaults, "relais upgrade rollback: refused: " + err.Error()}
		}
		return err
	}
	fmt.Fprintf(stdout, "Restored: the database is at schema %d again, as of %s.\n", res.Header.Schema, res.Header.DataTime.Format("2006-01-02 15:04:05 MST"))
	if res.KeptAside != "" {
		fmt.Fprintf(stdout, "The %d entries made since are kept aside in %s (journal export format; the first links to entry %d, hash %s).\n",
			len(res.Lost), res.KeptAside, res.Header.HeadSeq, res.Header.HeadHash)
	}
	fmt.Fprintf(stdout, "The replaced database is kept at %s.\nStart the previous Relais on it now: this one would migrate it again (after a new snapshot).\n", res.SetAside)
	return nil
}

// openServing opens the database of relais serve: an older schema is
// migrated only after a verified, rehearsed snapshot beside it
// (continuity.OpenUpgrading).
func openServing(ctx context.Context, cfg serveConfig, log *slog.Logger) (*sqlstore.DB, error) {
	dsn := cfg.dsn()
	from, err := sqlstore.PeekSchema(ctx, dsn)
	if err != nil {
		return nil, err
	}
	if from == 0 || from >= sqlstore.SchemaVersion() {
		return sqlstore.Open(ctx, dsn, sqlstore.Options{Site: cfg.site, Log: log})
	}
	key, err := LoadOrCreateSiteKey(cfg.data)
	if err != nil {
		return nil, fmt.Errorf("the database needs migrating (schema %d → %d) and its snapshot needs the site key: %w", from, sqlstore.SchemaVersion(), err)
	}
	keys, err := continuity.LoadUpgradeKeys(cfg.data, key)
	if err != nil {
		return nil, err
	}
	db, rec, err := continuity.OpenUpgrading(ctx, dsn, continuity.UpgradeOpenOptions{Site: cfg.site, Log: log,
		SnapshotDir: continuity.SnapshotDirFor(dsn, cfg.data), Keys: keys, Progress: cfg.progress})
	if err != nil {
		return nil, err
	}
	if rec != nil {
		log.Info("upgraded; to go back: relais upgrade rollback", "from", rec.From, "to", rec.To, "snapshot", rec.Snapshot)
	}
	return db, nil
}
