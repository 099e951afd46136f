package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/relais-onco/relais/continuity"
	"github.com/relais-onco/relais/sqlstore"
)

// relais snapshot: signed, encrypted copies of a whole database that travel
// on a USB key (docs/continuity.md).

var snapshotCommands = []struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}{
	{"create", "write a consistent, signed and encrypted copy of a database to a file", snapshotCreate},
	{"verify", "check a snapshot: signature, decryption, restore, integrity (exit 0 sound, 1 faults, 2 usage, 3 unreadable)", snapshotVerify},
	{"restore", "restore a snapshot into a new database", snapshotRestore},
}

func init() {
	register("snapshot", "create, verify and restore signed, encrypted database snapshots", func(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
		return subcommand(ctx, "snapshot", args, snapshotCommands, stdout, stderr)
	})
}

// subcommand dispatches args to one of cmds.
func subcommand(ctx context.Context, name string, args []string, cmds []struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}, stdout, stderr io.Writer) error {
	usage := func() {
		fmt.Fprintf(stderr, "Usage: relais %s COMMAND [flags]\n\nCommands:\n", name)
		for _, c := range cmds {
			fmt.Fprintf(stderr, "  %-12s %s\n", c.name, c.summary)
		}
		fmt.Fprintf(stderr, "\nRun 'relais %s COMMAND -h' for a command's flags. See docs/continuity.md.\n", name)
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage()
		if len(args) == 0 {
			return exitError{exitUsage, ""}
		}
		return flag.ErrHelp
	}
	for _, c := range cmds {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "relais %s: unknown command %q\n\n", name, args[0])
	usage()
	return exitError{exitUsage, ""}
}

// strList collects a repeated flag.
type strList []string

func (s *strList) String() string     { return strings.Join(*s, ",") }
func (s *strList) Set(v string) error { *s = append(*s, v); return nil }

func snapshotCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("snapshot create", stderr)
	dsn := fs.String("db", "", "database `DSN` to copy: sqlite:PATH or postgres://USER@HOST:5432/DB")
	out := fs.String("out", "", "snapshot `FILE` to write")
	var recipients strList
	fs.Var(&recipients, "recipient", "age public `KEY` (age1…) or a file of them to encrypt to; repeat for several")
	keyFile := fs.String("key", "", "the site key `FILE` that signs (default: DIR/site.key with --data)")
	data := fs.String("data", "", "data `DIR` holding site.key")
	portable := fs.Bool("portable", false, "write the portable format (JSON lines) even from SQLite")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dsn == "" || *out == "" || len(recipients) == 0 {
		return exitError{exitUsage, "relais snapshot create: --db DSN, --out FILE and --recipient AGE_PUBKEY are required"}
	}
	rs, names, err := continuity.ParseRecipients(recipients)
	if err != nil {
		return err
	}
	path, err := keyPath(*keyFile, *data)
	if err != nil {
		return exitError{exitUsage, "relais snapshot create: " + err.Error()}
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
	h, err := continuity.Create(ctx, db, *out, continuity.CreateOptions{Recipients: rs, RecipientNames: names, Key: key, Portable: *portable, Progress: stderr})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Wrote %s: site %s, data of %s, journal entry %d (%s…), %s payload, %d bytes encrypted to %d recipient(s), signed by %s.\n",
		*out, h.Site, h.DataTime.Format("2006-01-02 15:04:05 MST"), h.HeadSeq, short(h.HeadHash), h.Payload, h.CiphertextSize, len(h.Recipients), h.PublicKey)
	return nil
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func snapshotVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("snapshot verify", stderr)
	var ids strList
	fs.Var(&ids, "identity", "age identity `FILE` (AGE-SECRET-KEY-1…) to decrypt with; repeat for several")
	var keys pubkeys
	fs.Var(&keys, "pubkey", "the site's public `KEY` (base64, or a site.pub file), obtained from the site itself")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	file, err := parseWithFile(fs, args)
	if err != nil {
		return err
	}
	if file == "" || len(ids) == 0 {
		return exitError{exitUsage, "relais snapshot verify: give the snapshot FILE and --identity AGE_KEY_FILE"}
	}
	identities, err := continuity.ParseIdentities(ids)
	if err != nil {
		return exitError{exitUsage, err.Error()}
	}
	rep, err := continuity.Verify(ctx, file, identities, []ed25519.PublicKey(keys), stderr)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
	}
	if err != nil {
		return exitError{exitFaults, fmt.Sprintf("relais snapshot verify: %s: %v", file, err)}
	}
	if !*asJSON {
		trust := "the key the file carries (integrity only: give --pubkey to check its origin)"
		if rep.Signature.Trusted {
			trust = "the site key given"
		}
		fmt.Fprintf(stdout, "Snapshot %s\n  site %s, data of %s, journal entry %d, schema %d\n  signature: valid, by %s\n  %s",
			file, rep.Header.Site, rep.Header.DataTime.Format("2006-01-02 15:04:05 MST"), rep.Header.HeadSeq, rep.Header.Schema, trust, rep.Check.String())
	}
	if !rep.OK() {
		return exitError{exitFaults, ""}
	}
	return nil
}

// parseWithFile parses fs's flags and takes the one snapshot FILE from
// wherever it stands among them: `verify FILE --identity K`, `verify
// --identity K FILE` and `verify --json FILE --identity K` all work (the
// flag package alone stops at the first word that is not a flag).
func parseWithFile(fs *flag.FlagSet, args []string) (string, error) {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		return args[0], parseFlags(fs, args[1:])
	}
	if err := fs.Parse(args); err != nil {
		return "", flagError(err)
	}
	if fs.NArg() == 0 {
		return "", nil
	}
	return fs.Arg(0), parseFlags(fs, fs.Args()[1:])
}

func snapshotRestore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("snapshot restore", stderr)
	var ids strList
	fs.Var(&ids, "identity", "age identity `FILE` to decrypt with")
	var keys pubkeys
	fs.Var(&keys, "pubkey", "the site's public `KEY` (base64, or a site.pub file)")
	dsn := fs.String("db", "", "the new database `DSN` (a SQLite file that does not exist yet, or an empty PostgreSQL schema)")
	file, err := parseWithFile(fs, args)
	if err != nil {
		return err
	}
	if file == "" || len(ids) == 0 || *dsn == "" {
		return exitError{exitUsage, "relais snapshot restore: give the snapshot FILE, --identity AGE_KEY_FILE and --db DSN"}
	}
	identities, err := continuity.ParseIdentities(ids)
	if err != nil {
		return exitError{exitUsage, err.Error()}
	}
	db, h, sig, err := continuity.Restore(ctx, file, identities, []ed25519.PublicKey(keys), *dsn, sqlstore.Options{Log: quietLogger(stderr), Progress: stderr})
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Fprintf(stdout, "Restored site %s (data of %s, journal entry %d) into %s; signature valid (trusted key: %v).\nRun relais check --db %s before using it.\n",
		h.Site, h.DataTime.Format("2006-01-02 15:04:05 MST"), h.HeadSeq, sqlstore.Redacted(*dsn), sig.Trusted, sqlstore.Redacted(*dsn))
	return nil
}
