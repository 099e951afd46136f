package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/relais-onco/relais/journal"
	"github.com/relais-onco/relais/sqlstore"
)

// Exit codes of `relais audit verify`, documented in docs/audit.md.
const (
	exitIntact   = 0 // the journal and the data it describes match
	exitFaults   = 1 // something was changed, deleted or inserted outside Relais
	exitUsage    = 2 // wrong flags
	exitNotRead  = 3 // the database or file could not be read: nothing was concluded
	auditSummary = "verify the journal, sign checkpoints, export the journal for an inspector"
)

var auditCommands = []struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}{
	{"verify", "check the journal and the data it describes (exit 0 intact, 1 faults, 2 usage, 3 unreadable)", auditVerify},
	{"checkpoint", "sign the head of the journal with the site key now", auditCheckpoint},
	{"export", "write the journal and its checkpoints to a file an inspector can verify", auditExport},
}

func init() {
	register("audit", auditSummary, func(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
		if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
			auditUsage(stderr)
			if len(args) == 0 {
				return exitError{exitUsage, ""}
			}
			return flag.ErrHelp
		}
		for _, c := range auditCommands {
			if c.name == args[0] {
				return c.run(ctx, args[1:], stdout, stderr)
			}
		}
		fmt.Fprintf(stderr, "relais audit: unknown command %q\n\n", args[0])
		auditUsage(stderr)
		return exitError{exitUsage, ""}
	})
}

func auditUsage(w io.Writer) {
	fmt.Fprintf(w, "relais audit — %s\n\nUsage: relais audit COMMAND [flags]\n\nCommands:\n", auditSummary)
	for _, c := range auditCommands {
		fmt.Fprintf(w, "  %-11s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'relais audit COMMAND -h' for a command's flags. See docs/audit.md.\n")
}

// parseFlags parses args, turning a flag error into the usage exit code (the
// flag package has already said what is wrong).
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return flagError(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return exitError{exitUsage, ""}
	}
	return nil
}

// flagError is what a command returns when its flags do not parse (the flag
// package has already said why): -h is help, anything else a usage error.
func flagError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	return exitError{exitUsage, ""}
}

func usageError(cmd, format string, args ...any) error {
	return exitError{exitUsage, fmt.Sprintf("relais audit %s: %s", cmd, fmt.Sprintf(format, args...))}
}

// pubkeys collects repeated --pubkey flags.
type pubkeys []ed25519.PublicKey

func (p *pubkeys) String() string { return "" }

func (p *pubkeys) Set(s string) error {
	k, err := parsePublicKeyArg(s)
	if err != nil {
		return err
	}
	*p = append(*p, k)
	return nil
}

func auditVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("audit verify", stderr)
	dsn := fs.String("db", "", "database `DSN` to verify: sqlite:PATH or postgres://USER@HOST:5432/DB (opened read-only)")
	site := fs.String("site", "", "the site `ID` the database must belong to (optional)")
	file := fs.String("file", "", "verify an export `FILE` (relais audit export) instead of a database")
	var keys pubkeys
	fs.Var(&keys, "pubkey", "the site's public `KEY` (base64, or a site.pub file), obtained from the site itself; repeat for older keys")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case (*dsn == "") == (*file == ""):
		return usageError("verify", "give either --db DSN or --file FILE")
	case *file != "" && len(keys) == 0:
		return usageError("verify", "--file needs --pubkey: the site's public key, obtained from the site (relais keys show), not from the file")
	case *file != "":
		return verifyFile(*file, keys, stdout)
	}
	db, err := openReadOnly(ctx, *dsn, *site)
	if err != nil {
		return exitError{exitNotRead, fmt.Sprintf("relais audit verify: %v\nNothing was verified.", err)}
	}
	defer db.Close()
	rep, err := db.VerifyJournalWith(ctx, sqlstore.VerifyOptions{PublicKeys: keys})
	if err != nil {
		return exitError{exitNotRead, fmt.Sprintf("relais audit verify: %v\nThe verification did not finish: nothing was concluded.", err)}
	}
	printReport(stdout, rep)
	if !rep.OK() {
		return exitError{exitFaults, fmt.Sprintf("relais audit verify: the journal of site %s does not verify: %d fault(s), the first at %s",
			rep.Site, len(rep.Faults), faultPlace(*rep.First()))}
	}
	return nil
}

func faultPlace(f sqlstore.AuditFault) string {
	if f.Seq > 0 {
		return fmt.Sprintf("journal entry %d", f.Seq)
	}
	return fmt.Sprintf("%s row %s", f.Table, f.EntityID)
}

func printReport(w io.Writer, rep sqlstore.Report) {
	if rep.OK() {
		fmt.Fprintf(w, "Journal of site %s: intact.\n", rep.Site)
	} else {
		fmt.Fprintf(w, "Journal of site %s: %d fault(s), earliest first:\n", rep.Site, len(rep.Faults))
		for _, f := range rep.Faults {
			fmt.Fprintf(w, "  %s\n", f)
		}
	}
	fmt.Fprintf(w, "Checked:\n")
	for _, c := range rep.Chains {
		printChain(w, c.ChainSummary, c.Remote, keySourceText(c.KeySource))
	}
	fmt.Fprintf(w, "  entities:        %d compared with the after-image of their last entry\n", rep.Entities)
	fmt.Fprintf(w, "  rows:            %d in %d journaled tables checked for an entry describing them\n", rep.Rows, len(rep.Tables))
	if len(rep.Unverifiable) > 0 {
		var parts []string
		for e, n := range rep.Unverifiable {
			parts = append(parts, fmt.Sprintf("%s (%d)", e, n))
		}
		fmt.Fprintf(w, "  not verifiable:  %s: this Relais cannot read these entities back; their entries are checked, not their rows\n",
			strings.Join(sortedStrings(parts), ", "))
	}
}

func printChain(w io.Writer, c journal.ChainSummary, remote bool, keyText string) {
	kind := "chain"
	if remote {
		kind = "replicated chain"
	}
	fmt.Fprintf(w, "  %s %s: %d entries, head entry %d (hash %s)\n", kind, c.Site, c.Entries, c.HeadSeq, c.HeadHash)
	switch {
	case c.Checkpoints == 0:
		fmt.Fprintf(w, "    checkpoints:   none signed yet: the chain is protected by its hashes only (relais audit checkpoint)\n")
	default:
		fmt.Fprintf(w, "    checkpoints:   %d of %d verified %s", c.CheckpointsVerified, c.Checkpoints, keyText)
		if c.CoveredSeq > 0 {
			fmt.Fprintf(w, "; the last covers entry %d", c.CoveredSeq)
			if n := c.Uncovered(); n > 0 {
				fmt.Fprintf(w, ", %d entries after it are not signed yet", n)
			}
		}
		fmt.Fprintln(w)
	}
}

func keySourceText(src string) string {
	switch src {
	case "given":
		return "with the key given by --pubkey"
	case "site table":
		return "with the site's key recorded in this database (give --pubkey for a check that does not trust the database)"
	default:
		return "only against the key each one carries: no key is known for this site (give --pubkey)"
	}
}

func sortedStrings(ss []string) []string {
	out := append([]string(nil), ss...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// verifyFile checks an export with only the public key.
func verifyFile(path string, keys []ed25519.PublicKey, stdout io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return exitError{exitNotRead, fmt.Sprintf("relais audit verify: %v", err)}
	}
	defer f.Close()
	rep, err := journal.VerifyExport(f, keys)
	if err != nil {
		return exitError{exitNotRead, fmt.Sprintf("relais audit verify: %s: %v", path, err)}
	}
	faults := rep.Faults()
	site := rep.Header.Site
	if len(faults) == 0 {
		fmt.Fprintf(stdout, "Journal export of site %s (exported %s): intact.\n", site, rep.Header.ExportedAt.Format(time.RFC3339))
	} else {
		fmt.Fprintf(stdout, "Journal export of site %s (exported %s): %d fault(s), earliest first:\n", site, rep.Header.ExportedAt.Format(time.RFC3339), len(faults))
		for _, c := range rep.Chains {
			for _, f := range c.Faults {
				fmt.Fprintf(stdout, "  %s\n", exportFault(c.Site, site, f))
			}
		}
	}
	fmt.Fprintf(stdout, "Checked:\n")
	for _, c := range rep.Chains {
		text := "with the key given by --pubkey"
		if c.Site != site {
			text = "only against the key each one carries (--pubkey is for site " + site + ")"
		}
		printChain(stdout, c, c.Site != site, text)
	}
	fmt.Fprintf(stdout, "The rows the journal describes are not in an export: only the journal was checked.\n")
	if len(faults) > 0 {
		return exitError{exitFaults, fmt.Sprintf("relais audit verify: the export does not verify: %d fault(s), the first at journal entry %d",
			len(faults), faults[0].Seq)}
	}
	return nil
}

func exportFault(chain, local string, f *journal.Fault) string {
	var b strings.Builder
	fmt.Fprintf(&b, "journal entry %d", f.Seq)
	if f.ID != "" {
		fmt.Fprintf(&b, " (%s)", f.ID)
	}
	if chain != local {
		fmt.Fprintf(&b, " of site %s", chain)
	}
	b.WriteString(": " + f.Reason)
	return b.String()
}

func auditCheckpoint(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("audit checkpoint", stderr)
	dsn := fs.String("db", "", "database `DSN`: sqlite:PATH or postgres://USER@HOST:5432/DB")
	keyFile := fs.String("key", "", "the site's private key `FILE` (default: DIR/site.key with --data)")
	data := fs.String("data", "", "data `DIR` holding site.key")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dsn == "" {
		return usageError("checkpoint", "--db DSN is required")
	}
	path, err := keyPath(*keyFile, *data)
	if err != nil {
		return usageError("checkpoint", "%v", err)
	}
	key, err := loadSiteKey(path)
	if err != nil {
		return err
	}
	db, err := openExisting(ctx, *dsn, sqlstore.Options{Log: quietLogger(stderr)})
	if err != nil {
		return err
	}
	defer db.Close()
	before, err := db.Checkpoints(ctx, db.Site)
	if err != nil {
		return err
	}
	cp, err := db.Checkpoint(ctx, key)
	if err != nil {
		return err
	}
	switch {
	case cp.Seq == 0:
		fmt.Fprintf(stdout, "The journal of site %s is empty: nothing to sign.\n", db.Site)
	case hasCheckpoint(before, cp):
		fmt.Fprintf(stdout, "No new entry since the checkpoint of entry %d signed at %s: nothing new signed.\n", cp.Seq, cp.Time.Format(time.RFC3339))
	default:
		fmt.Fprintf(stdout, "Signed the checkpoint of entry %d of site %s (hash %s) at %s.\nPublic key: %s\n",
			cp.Seq, cp.Site, cp.Hash, cp.Time.Format(time.RFC3339), cp.PublicKey)
	}
	return nil
}

func hasCheckpoint(cps []journal.Checkpoint, c journal.Checkpoint) bool {
	for _, x := range cps {
		if x.Seq == c.Seq && x.Signature == c.Signature {
			return true
		}
	}
	return false
}

func auditExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("audit export", stderr)
	dsn := fs.String("db", "", "database `DSN`: sqlite:PATH or postgres://USER@HOST:5432/DB")
	out := fs.String("out", "", "write the export to `FILE` (- for standard output); an existing file is not overwritten")
	keyFile := fs.String("key", "", "sign a checkpoint of the head with this private key `FILE` first, so the whole export is covered")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dsn == "" || *out == "" {
		return usageError("export", "--db DSN and --out FILE are required")
	}
	var db *sqlstore.DB
	var err error
	if *keyFile != "" {
		key, err := loadSiteKey(*keyFile)
		if err != nil {
			return err
		}
		if db, err = openExisting(ctx, *dsn, sqlstore.Options{Log: quietLogger(stderr)}); err != nil {
			return err
		}
		defer db.Close()
		if _, err := db.Checkpoint(ctx, key); err != nil {
			return err
		}
	} else {
		if db, err = openReadOnly(ctx, *dsn, ""); err != nil {
			return err
		}
		defer db.Close()
	}
	var w io.Writer = stdout
	var f *os.File
	if *out != "-" {
		// The journal holds personal health data: the file is for its
		// owner only, and an existing file is never replaced.
		f, err = os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("--out: %w", err)
		}
		w = f
	}
	h, err := db.ExportJournal(ctx, w)
	if f != nil {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(*out) // leave nothing half-written
		}
	}
	if err != nil {
		return err
	}
	msg := stdout
	if *out == "-" {
		msg = stderr
	}
	for _, hd := range h.Heads {
		fmt.Fprintf(msg, "Exported the chain of site %s up to entry %d (hash %s).\n", hd.Site, hd.Seq, hd.Hash)
	}
	fmt.Fprintf(msg, "An inspector verifies it with only the site's public key (relais keys show):\n  relais audit verify --file %s --pubkey KEY\n", *out)
	return nil
}

// openReadOnly opens a database for inspection: no migration, no write. On
// PostgreSQL every transaction of the session is also made read-only.
func openReadOnly(ctx context.Context, dsn, site string) (*sqlstore.DB, error) {
	return openReadOnlyWith(ctx, dsn, sqlstore.Options{Site: site})
}

// openReadOnlyWith is openReadOnly with options (a progress line).
func openReadOnlyWith(ctx context.Context, dsn string, opts sqlstore.Options) (*sqlstore.DB, error) {
	if err := checkSQLiteExists(dsn); err != nil {
		return nil, err
	}
	opts.ReadOnly, opts.Log = true, slog.New(slog.DiscardHandler)
	return sqlstore.Open(ctx, readOnlyDSN(dsn), opts)
}

// openExisting opens a database that must already exist (never creates one).
func openExisting(ctx context.Context, dsn string, opts sqlstore.Options) (*sqlstore.DB, error) {
	if err := checkSQLiteExists(dsn); err != nil {
		return nil, err
	}
	return sqlstore.Open(ctx, dsn, opts)
}

func checkSQLiteExists(dsn string) error {
	engine, path, err := sqlstore.ParseDSN(dsn)
	if err != nil {
		return err
	}
	if engine == sqlstore.SQLite {
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("no database at %s: %w", path, err)
		}
	}
	return nil
}

// readOnlyDSN asks PostgreSQL to refuse writes for the whole session
// (default_transaction_read_only), so that an inspection cannot change what
// it inspects even by mistake. SQLite DSNs are opened with mode=ro by Open.
func readOnlyDSN(dsn string) string {
	engine, _, err := sqlstore.ParseDSN(dsn)
	if err != nil || engine != sqlstore.Postgres {
		return dsn
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn
	}
	q := u.Query()
	q.Set("default_transaction_read_only", "on")
	u.RawQuery = q.Encode()
	return u.String()
}

func quietLogger(w io.Writer) *slog.Logger { return newLogger(w, slog.LevelWarn) }
