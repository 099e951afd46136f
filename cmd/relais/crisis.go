package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/continuity"
	"github.com/relais-onco/relais/sqlstore"
)

// relais crisis: reserve register numbers in advance, declare a crisis on a
// standby or a restored snapshot, keep the logbook, and bring the work back
// (docs/continuity.md).

var crisisCommands = []struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}{
	{"reserve", "at the site: set aside a block of register numbers for a crisis node", crisisReserve},
	{"start", "declare a crisis on a standby's copy or a snapshot, and serve it", crisisStart},
	{"log", "write in the crisis logbook (journal de bord)", crisisLog},
	{"logbook", "print the crisis logbook, or write it as PDF (--pdf FILE)", crisisLogbook},
	{"reintegrate", "at the recovered site: replay the crisis node's work, void unused numbers, queue conflicts", crisisReintegrate},
	{"conflicts", "list the reintegration review queue", crisisConflicts},
	{"resolve", "resolve a conflict: keep the site's version or take the crisis node's", crisisResolve},
}

func init() {
	register("crisis", "crisis mode: reserve numbers, declare, logbook, reintegrate", func(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
		return subcommand(ctx, "crisis", args, crisisCommands, stdout, stderr)
	})
}

// actingAs returns ctx with the account username of db as actor.
func actingAs(ctx context.Context, db *sqlstore.DB, username string) (context.Context, relais.User, error) {
	users, err := db.Users(ctx)
	if err != nil {
		return ctx, relais.User{}, err
	}
	for _, u := range users {
		if u.Username == strings.ToLower(strings.TrimSpace(username)) {
			if u.Disabled {
				return ctx, u, fmt.Errorf("account %s is disabled", u.Username)
			}
			return relais.WithActor(ctx, u.Actor()), u, nil
		}
	}
	return ctx, relais.User{}, fmt.Errorf("no account %q in this database", username)
}

func crisisReserve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("crisis reserve", stderr)
	dsn := fs.String("db", "", "the site's database `DSN`")
	size := fs.Int("size", 0, "how many numbers to reserve (a large unit makes ~300 preparations a day: 3 days ≈ 900)")
	as := fs.String("pharmacist", "", "the pharmacist `USERNAME` who reserves")
	reason := fs.String("reason", "crise : numéros réservés pour le nœud de secours de la pharmacie", "why")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dsn == "" || *size <= 0 || *as == "" {
		return exitError{exitUsage, "relais crisis reserve: --db DSN, --size N and --pharmacist USERNAME are required"}
	}
	db, err := openExisting(ctx, *dsn, sqlstore.Options{Log: quietLogger(stderr)})
	if err != nil {
		return err
	}
	defer db.Close()
	actx, _, err := actingAs(ctx, db, *as)
	if err != nil {
		return err
	}
	es, err := db.ReserveRegisterBlock(actx, *size, *reason)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Reserved %d register numbers, %s to %s, recorded in the register (standby nodes receive them with the journal).\n",
		len(es), es[0].Number, es[len(es)-1].Number)
	return nil
}

func crisisStart(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg serveConfig
	fs := newFlags("crisis start", stderr)
	cfg.flags(fs, "")
	fromStandby := fs.Bool("from-standby", false, "declare on the standby's copy in --data")
	snapshot := fs.String("snapshot", "", "or restore this snapshot `FILE` into --data first")
	var ids strList
	fs.Var(&ids, "identity", "age identity `FILE` to decrypt the snapshot")
	var keys pubkeys
	fs.Var(&keys, "pubkey", "the site's public `KEY` to check the snapshot's signature")
	pharmacist := fs.String("pharmacist", "", "the declaring pharmacist's `USERNAME`")
	reason := fs.String("reason", "", "why the crisis is declared")
	noServe := fs.Bool("no-serve", false, "declare, then exit without serving")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if cfg.data == "" || *pharmacist == "" || *reason == "" || *fromStandby == (*snapshot != "") {
		return exitError{exitUsage, "relais crisis start: --data DIR, --pharmacist NAME, --reason TEXT and one of --from-standby or --snapshot FILE are required"}
	}
	declared := time.Now()
	dsn := "sqlite:" + continuity.DBPath(cfg.data)
	cfg.db = dsn
	log, err := cfg.logger(stderr)
	if err != nil {
		return err
	}
	var db *sqlstore.DB
	var dataTime time.Time
	if *snapshot != "" {
		identities, err := continuity.ParseIdentities(ids)
		if err != nil {
			return exitError{exitUsage, err.Error()}
		}
		var h continuity.Header
		db, h, _, err = continuity.Restore(ctx, *snapshot, identities, []ed25519.PublicKey(keys), dsn, sqlstore.Options{Log: log, Progress: stderr})
		if err != nil {
			return err
		}
		dataTime = h.DataTime
	} else {
		if db, err = openExisting(ctx, dsn, sqlstore.Options{Log: log}); err != nil {
			return err
		}
		if f, err := db.FollowStateOf(ctx, db.Site); err == nil {
			dataTime = f.SyncedAt
		}
	}
	defer db.Close()
	c, err := db.StartCrisis(ctx, sqlstore.CrisisDeclaration{Pharmacist: *pharmacist, Reason: *reason, DataTime: dataTime})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "CRISIS DECLARED on %s by %s: %s\n  crisis chain %s; data of %s (age %s at the declaration)\n  %d reserved register numbers available%s\n  declared in %s\n",
		c.SourceSite, c.DeclaredBy, c.Reason, c.Site, c.DataTime.In(relais.DisplayZone).Format("02/01/2006 15:04:05"),
		c.DeclaredAt.Sub(c.DataTime).Round(time.Millisecond), len(c.Reserved), rangeOf(c.Reserved), time.Since(declared).Round(time.Millisecond))
	if len(c.Reserved) == 0 {
		fmt.Fprintln(stdout, "  WARNING: no reserved number: worksheets cannot be numbered here; use the paper register.")
	}
	if *noServe {
		return nil
	}
	return serve(ctx, cfg, db, log, func(url string) {
		fmt.Fprintf(stdout, "Crisis node serving on %s — logbook: relais crisis log --data %s --role pilot --as USERNAME \"…\"\n", url, cfg.data)
	})
}

func rangeOf(ns []string) string {
	if len(ns) == 0 {
		return ""
	}
	return fmt.Sprintf(" (%s to %s)", ns[0], ns[len(ns)-1])
}

// crisisDB opens the crisis node's database in --data (or --db).
func crisisDB(ctx context.Context, data, dsn string, stderr io.Writer) (*sqlstore.DB, error) {
	if dsn == "" {
		if data == "" {
			return nil, exitError{exitUsage, "give --data DIR (the crisis node's) or --db DSN"}
		}
		dsn = "sqlite:" + continuity.DBPath(data)
	}
	return openExisting(ctx, dsn, sqlstore.Options{Log: quietLogger(stderr)})
}

func crisisLog(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("crisis log", stderr)
	data := fs.String("data", "", "the crisis node's data `DIR`")
	dsn := fs.String("db", "", "or its database `DSN`")
	role := fs.String("role", "", "crisis role: pilot, editor, coordinator, pharmacist or other")
	kind := fs.String("kind", "entry", "entry, decision or communication")
	as := fs.String("as", "", "who writes (`USERNAME`)")
	text, rest := lastWord(args)
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	if *role == "" || *as == "" || text == "" {
		return exitError{exitUsage, "relais crisis log: --role ROLE --as USERNAME \"text\" are required"}
	}
	db, err := crisisDB(ctx, *data, *dsn, stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	actx, _, err := actingAs(ctx, db, *as)
	if err != nil {
		return err
	}
	e, err := db.WriteLog(actx, *role, *kind, text)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s  %-12s %-13s %s — %s\n", e.At.In(relais.DisplayZone).Format("02/01 15:04:05"), e.Role, e.Kind, e.Text, e.AuthorName)
	return nil
}

// lastWord takes a trailing free-text argument.
func lastWord(args []string) (string, []string) {
	if n := len(args); n > 0 && !strings.HasPrefix(args[n-1], "-") && (n == 1 || !strings.HasPrefix(args[n-2], "-") || strings.Contains(args[n-2], "=")) {
		return args[n-1], args[:n-1]
	}
	return "", args
}

func crisisLogbook(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("crisis logbook", stderr)
	data := fs.String("data", "", "the crisis node's data `DIR`")
	dsn := fs.String("db", "", "or its database `DSN`")
	pdf := fs.String("pdf", "", "write the logbook as a PDF `FILE`")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	db, err := crisisDB(ctx, *data, *dsn, stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	c, err := db.ActiveCrisis(ctx)
	if err != nil {
		return err
	}
	if *pdf != "" {
		f, err := os.Create(*pdf)
		if err != nil {
			return err
		}
		if err := continuity.LogbookPDF(ctx, db, c, f); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Wrote %s\n", *pdf)
		return nil
	}
	es, err := db.Logbook(ctx, c.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Crisis %s of %s, declared %s by %s: %s\n", c.Site, c.SourceSite, c.DeclaredAt.In(relais.DisplayZone).Format("02/01/2006 15:04"), c.DeclaredBy, c.Reason)
	for _, e := range es {
		fmt.Fprintf(stdout, "%s  %-12s %-13s %s — %s\n", e.At.In(relais.DisplayZone).Format("02/01 15:04:05"), e.Role, e.Kind, e.Text, e.AuthorName)
	}
	return nil
}

func crisisReintegrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("crisis reintegrate", stderr)
	dsn := fs.String("db", "", "the recovered site's database `DSN`")
	from := fs.String("crisis", "", "the crisis node's data `DIR` (or its database DSN)")
	as := fs.String("pharmacist", "", "the pharmacist `USERNAME` who reintegrates")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dsn == "" || *from == "" || *as == "" {
		return exitError{exitUsage, "relais crisis reintegrate: --db DSN, --crisis DIR and --pharmacist USERNAME are required"}
	}
	cdsn := *from
	if _, _, err := sqlstore.ParseDSN(cdsn); err != nil || !strings.Contains(cdsn, ":") {
		cdsn = "sqlite:" + continuity.DBPath(*from)
	}
	if st, err := os.Stat(*from); err == nil && st.IsDir() {
		cdsn = "sqlite:" + filepath.Join(*from, "relais.db")
	}
	node, err := openReadOnly(ctx, cdsn, "")
	if err != nil {
		return exitError{exitNotRead, err.Error()}
	}
	defer node.Close()
	if !node.InCrisis() {
		return fmt.Errorf("%s is not a crisis node", *from)
	}
	entries, err := node.JournalEntries(ctx, node.ChainSite(), 0, 0)
	if err != nil {
		return err
	}
	db, err := openExisting(ctx, *dsn, sqlstore.Options{Log: quietLogger(stderr), Progress: stderr})
	if err != nil {
		return err
	}
	defer db.Close()
	actx, _, err := actingAs(ctx, db, *as)
	if err != nil {
		return err
	}
	rep, err := db.Reintegrate(actx, node.ChainSite(), entries)
	if err != nil {
		return err
	}
	chk, err := db.Check(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(struct {
			Reintegration sqlstore.ReintegrationReport `json:"reintegration"`
			Check         sqlstore.CheckReport         `json:"check"`
		}{rep, chk})
	} else {
		fmt.Fprintf(stdout, "Reintegrated crisis chain %s into %s in %s:\n  %d entries: %d replayed, %d already as in crisis, %d already reintegrated, %d queued for a pharmacist\n  %d reserved numbers voided%s\n",
			rep.CrisisChain, db.Site, rep.Took.Round(time.Millisecond), rep.Entries, rep.Replayed, rep.Unchanged, rep.Skipped, rep.Queued, len(rep.Voided), rangeOf(rep.Voided))
		for _, c := range rep.Conflicts {
			fmt.Fprintf(stdout, "  QUEUED %s: crisis entry %d %s on %s %s — %s\n", c.ID, c.SourceSeq, c.Action, c.Entity, c.EntityID, c.Note)
		}
		fmt.Fprint(stdout, chk.String())
	}
	if !chk.OK() {
		return exitError{exitFaults, ""}
	}
	return nil
}

func crisisConflicts(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("crisis conflicts", stderr)
	dsn := fs.String("db", "", "the site's database `DSN`")
	all := fs.Bool("all", false, "resolved ones too")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dsn == "" {
		return exitError{exitUsage, "relais crisis conflicts: --db DSN is required"}
	}
	db, err := openReadOnly(ctx, *dsn, "")
	if err != nil {
		return exitError{exitNotRead, err.Error()}
	}
	defer db.Close()
	cs, err := db.Conflicts(ctx, *all)
	if err != nil {
		return err
	}
	if len(cs) == 0 {
		fmt.Fprintln(stdout, "The review queue is empty.")
	}
	for _, c := range cs {
		fmt.Fprintf(stdout, "%s [%s] crisis entry %d of %s: %s on %s %s — %s\n", c.ID, c.Status, c.SourceSeq, c.SourceSite, c.Action, c.Entity, c.EntityID, c.Note)
	}
	return nil
}

func crisisResolve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("crisis resolve", stderr)
	dsn := fs.String("db", "", "the site's database `DSN`")
	id := fs.String("id", "", "the conflict's `ID`")
	choice := fs.String("choice", "", "keep_main or take_crisis")
	note := fs.String("note", "", "why")
	as := fs.String("pharmacist", "", "the pharmacist `USERNAME` who decides")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dsn == "" || *id == "" || *choice == "" || *as == "" {
		return exitError{exitUsage, "relais crisis resolve: --db, --id, --choice, --note and --pharmacist are required"}
	}
	db, err := openExisting(ctx, *dsn, sqlstore.Options{Log: quietLogger(stderr)})
	if err != nil {
		return err
	}
	defer db.Close()
	actx, _, err := actingAs(ctx, db, *as)
	if err != nil {
		return err
	}
	c, err := db.ResolveConflict(actx, relais.ID(*id), *choice, *note)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Conflict %s: %s by %s.\n", c.ID, c.Status, c.ResolvedBy)
	return nil
}
