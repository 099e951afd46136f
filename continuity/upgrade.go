package continuity

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/journal"
	"github.com/relais-onco/relais/sqlstore"
)

// Upgrades that cannot strand a pharmacy (issue 11, seed 004). The night of
// seed 004 went wrong in four ways, each answered here:
//   - the prerequisites were not all met: CheckUpgrade says, before
//     anything changes, what would run and what is missing;
//   - the database was corrupted: OpenUpgrading migrates only after a
//     snapshot that was restored and rehearsed (migrated and checked on a
//     copy), and a failed migration leaves the database as it was;
//   - there was no way back: Rollback restores the pre-upgrade snapshot,
//     listing (and keeping aside) what was written since;
//   - an old client brought the server down: the server refuses it by
//     version (web/server.go), and CheckUpgrade lists the clients seen.
// docs/operations/upgrade.md is the procedure.

// PreUpgradePrefix starts the name of the snapshots OpenUpgrading writes.
const PreUpgradePrefix = "relais-pre-upgrade-"

// UpgradeIdentityFile is the age identity that pre-upgrade snapshots are
// encrypted to, in the data directory. It sits beside the database it
// protects a copy of, so it adds no exposure: what it decrypts is already
// there in clear.
const UpgradeIdentityFile = "upgrade-identity.age"

// UpgradeKeys sign, encrypt and decrypt pre-upgrade snapshots.
type UpgradeKeys struct {
	Key            ed25519.PrivateKey // the site key: signs
	Recipients     []age.Recipient    // encrypt to
	RecipientNames []string
	Identities     []age.Identity // decrypt with (to verify and restore)
}

// LoadUpgradeKeys returns the keys of dataDir: the site key given, and the
// upgrade identity dataDir/upgrade-identity.age, made when missing.
func LoadUpgradeKeys(dataDir string, siteKey ed25519.PrivateKey) (UpgradeKeys, error) {
	const op = "upgrade.keys"
	path := filepath.Join(dataDir, UpgradeIdentityFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		id, gerr := age.GenerateX25519Identity()
		if gerr != nil {
			return UpgradeKeys{}, relais.E(op, gerr)
		}
		if err := os.MkdirAll(dataDir, 0o750); err != nil {
			return UpgradeKeys{}, relais.E(op, err)
		}
		text := "# Relais: the identity pre-upgrade snapshots are encrypted to (docs/operations/upgrade.md)\n" + id.String() + "\n"
		f, ferr := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if ferr != nil {
			return UpgradeKeys{}, relais.E(op, ferr)
		}
		if _, err := f.WriteString(text); err != nil {
			f.Close()
			return UpgradeKeys{}, relais.E(op, err)
		}
		if err := f.Close(); err != nil {
			return UpgradeKeys{}, relais.E(op, err)
		}
		b = []byte(text)
	} else if err != nil {
		return UpgradeKeys{}, relais.E(op, err)
	}
	ids, err := age.ParseIdentities(bytes.NewReader(b))
	if err != nil || len(ids) != 1 {
		return UpgradeKeys{}, relais.Invalid(op, "identity", "%s holds no age identity (%v): move it aside and start again to make a new one", path, err)
	}
	x, ok := ids[0].(*age.X25519Identity)
	if !ok {
		return UpgradeKeys{}, relais.Invalid(op, "identity", "%s is not an X25519 age identity", path)
	}
	return UpgradeKeys{Key: siteKey, Recipients: []age.Recipient{x.Recipient()}, RecipientNames: []string{x.Recipient().String()},
		Identities: ids}, nil
}

// SnapshotDirFor is where pre-upgrade snapshots of dsn go: beside a SQLite
// file, in dataDir/snapshots for PostgreSQL.
func SnapshotDirFor(dsn, dataDir string) string {
	if engine, path, err := sqlstore.ParseDSN(dsn); err == nil && engine == sqlstore.SQLite {
		return filepath.Dir(path)
	}
	return filepath.Join(dataDir, "snapshots")
}

// VerifyForUpgrade checks a snapshot as an upgrade needs it: signature and
// payload hash, decryption, restore into a temporary SQLite database at the
// schema it was taken at (its journal head must be the signed one); then
// the rehearsal: that copy is migrated to this binary's schema and must
// pass every check of `relais check` (which includes `relais audit
// verify`). The report is the check of the migrated copy.
// The restore and the check draw their progress on progressTo when it is
// a terminal (nil: nowhere).
func VerifyForUpgrade(ctx context.Context, path string, ids []age.Identity, keys []ed25519.PublicKey, progressTo io.Writer) (Header, sqlstore.CheckReport, error) {
	var rep sqlstore.CheckReport
	h, _, err := CheckSignature(path, keys)
	if err != nil {
		return h, rep, err
	}
	dir, err := os.MkdirTemp("", "relais-upgrade-verify-")
	if err != nil {
		return h, rep, err
	}
	defer os.RemoveAll(dir)
	dsn := "sqlite:" + filepath.Join(dir, "copy.db")
	db, _, _, err := Restore(ctx, path, ids, keys, dsn, sqlstore.Options{Log: discard(), MigrateTo: h.Schema, Progress: progressTo})
	if err != nil {
		return h, rep, err
	}
	db.Close()
	db, err = sqlstore.Open(ctx, dsn, sqlstore.Options{Log: discard(), Progress: progressTo})
	if err != nil {
		return h, rep, relais.E("upgrade.verify", "the snapshot restores, but migrating the restored copy failed: this upgrade would fail the same way", err)
	}
	defer db.Close()
	rep, err = db.Check(ctx)
	return h, rep, err
}

// Prereq is one line of `relais upgrade check`.
type Prereq struct {
	Name   string `json:"name"`
	Status string `json:"status"` // ok, warn, fail
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"` // what to do, when not ok
}

// Prerequisite statuses.
const (
	StatusOK   = "ok"
	StatusWarn = "warn"
	StatusFail = "fail"
)

// UpgradeCheckOptions tune CheckUpgrade.
type UpgradeCheckOptions struct {
	SnapshotDir  string              // where to look for snapshots
	MaxAge       time.Duration       // a snapshot older than this is not recent (default 24 h)
	Identities   []age.Identity      // to decrypt and rehearse the snapshot
	Keys         []ed25519.PublicKey // the site's public keys, to check the snapshot's origin
	ClientWindow time.Duration       // clients seen within it are listed (default 1 h)
	Progress     io.Writer           // the rehearsal's progress line, when a terminal
	// Free returns the free bytes of the file system holding a directory
	// (tests replace it); default: the operating system's.
	Free func(dir string) (int64, error)
	// skipSnapshot: the drill takes its snapshot as its next step.
	skipSnapshot bool
}

// UpgradeCheck is the report of `relais upgrade check`.
type UpgradeCheck struct {
	Plan          sqlstore.UpgradePlan  `json:"plan"`
	Prereqs       []Prereq              `json:"prereqs"`
	Clients       []sqlstore.ClientSeen `json:"clients"`
	Snapshot      string                `json:"snapshot,omitempty"`
	SnapshotCheck *sqlstore.CheckReport `json:"snapshot_check,omitempty"`
	DatabaseSize  int64                 `json:"database_size"`
}

// OK reports whether no prerequisite failed.
func (c UpgradeCheck) OK() bool {
	for _, p := range c.Prereqs {
		if p.Status == StatusFail {
			return false
		}
	}
	return true
}

// CheckUpgrade says whether this binary can take over db. Open db read-only
// (sqlstore.Options.ReadOnly): it must not be migrated by looking at it.
// Nothing is written.
func CheckUpgrade(ctx context.Context, db *sqlstore.DB, opts UpgradeCheckOptions) (UpgradeCheck, error) {
	var c UpgradeCheck
	if opts.MaxAge <= 0 {
		opts.MaxAge = 24 * time.Hour
	}
	if opts.ClientWindow <= 0 {
		opts.ClientWindow = time.Hour
	}
	if opts.Free == nil {
		opts.Free = FreeSpace
	}
	add := func(name, status, detail, fix string) {
		c.Prereqs = append(c.Prereqs, Prereq{Name: name, Status: status, Detail: detail, Fix: fix})
	}
	var err error
	if c.Plan, err = db.Plan(ctx); err != nil {
		return c, err
	}
	// 1. Schema.
	switch {
	case c.Plan.Newer():
		add("schema", StatusFail, fmt.Sprintf("the database is at schema %d, newer than this Relais %s (schema %d)", c.Plan.Current, relais.Version, c.Plan.Target),
			"run the Relais version that wrote it; never open it with this one")
	case len(c.Plan.Pending) == 0:
		add("schema", StatusOK, fmt.Sprintf("schema %d: up to date, nothing to migrate", c.Plan.Current), "")
	default:
		irrev, undeclared := 0, 0
		for _, m := range c.Plan.Pending {
			if !m.Declared {
				undeclared++
			} else if !m.Reversible {
				irrev++
			}
		}
		switch {
		case undeclared > 0:
			add("schema", StatusFail, fmt.Sprintf("schema %d → %d: %d migration(s) do not say whether they are reversible", c.Plan.Current, c.Plan.Target, undeclared),
				"this build is incomplete: use an official release of Relais")
		case irrev > 0:
			add("schema", StatusWarn, fmt.Sprintf("schema %d → %d: %d migration(s), %d irreversible: the pre-upgrade snapshot is the only way back", c.Plan.Current, c.Plan.Target, len(c.Plan.Pending), irrev), "")
		default:
			add("schema", StatusOK, fmt.Sprintf("schema %d → %d: %d migration(s), all reversible", c.Plan.Current, c.Plan.Target, len(c.Plan.Pending)), "")
		}
	}
	// 2. Free disk against the database's size.
	if c.DatabaseSize, err = db.Size(ctx); err != nil {
		return c, err
	}
	need := map[string]int64{}
	if p := db.FilePath(); p != "" {
		need[filepath.Dir(p)] += 2 * c.DatabaseSize // the migration rewrites tables, and its WAL
	}
	if opts.SnapshotDir != "" {
		need[opts.SnapshotDir] += c.DatabaseSize // the pre-upgrade snapshot (compressed by nothing: count it whole)
	}
	dirs := make([]string, 0, len(need))
	for d := range need {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	for _, d := range dirs {
		free, err := opts.Free(existingParent(d)) // a snapshot dir made on first use
		switch {
		case err != nil:
			add("disk", StatusFail, fmt.Sprintf("free space of %s unknown: %v", d, err), "check that the directory exists and is readable")
		case free < need[d]:
			add("disk", StatusFail, fmt.Sprintf("%s has %s free; the upgrade needs %s (database %s)", d, bytesText(free), bytesText(need[d]), bytesText(c.DatabaseSize)),
				"free space on that file system, or put the snapshots elsewhere (--snapshot-dir)")
		default:
			add("disk", StatusOK, fmt.Sprintf("%s has %s free; the upgrade needs %s (database %s)", d, bytesText(free), bytesText(need[d]), bytesText(c.DatabaseSize)), "")
		}
	}
	if db.Engine == sqlstore.Postgres {
		add("disk", StatusWarn, fmt.Sprintf("PostgreSQL's data directory is on the database server: the migration needs about the database's size (%s) free there", bytesText(c.DatabaseSize)),
			"check it on the server (df on the data directory) before going on")
	}
	// 3. A recent, verified snapshot.
	if opts.skipSnapshot {
		add("snapshot", StatusOK, "taken, verified and rehearsed by the next step", "")
	} else {
		c.snapshotPrereq(ctx, db, opts, add)
	}
	// 4. The journal chain.
	chains, err := db.VerifyChains(ctx)
	if err != nil {
		return c, err
	}
	if chains.OK() {
		add("journal", StatusOK, fmt.Sprintf("%d chain(s), %d entries: links, hashes, checkpoints and head intact", len(chains.Chains), chains.Entries()), "")
	} else {
		add("journal", StatusFail, fmt.Sprintf("%d fault(s), first: %s", len(chains.Faults), chains.Faults[0].String()),
			"run relais check and relais audit verify, and settle every fault before upgrading")
	}
	// 5. Clients seen.
	since := relais.Now().Add(-opts.ClientWindow)
	clients, recorded, err := db.ClientsSince(ctx, since)
	if err != nil {
		return c, err
	}
	c.Clients = clients
	if c.Clients == nil {
		c.Clients = []sqlstore.ClientSeen{}
	}
	serverMajor, _, _ := strings.Cut(relais.APIVersion, ".")
	var wrong []string
	for _, cl := range clients {
		if major, _, _ := strings.Cut(cl.APIVersion, "."); cl.APIVersion != "" && major != serverMajor {
			wrong = append(wrong, cl.ID+" ("+cl.APIVersion+")")
		}
	}
	switch {
	case !recorded:
		add("clients", StatusWarn, "this database does not record its clients yet (schema before 14)",
			"check by hand that no station, script or crisis node is still connected")
	case len(wrong) > 0:
		add("clients", StatusFail, fmt.Sprintf("%d client(s) in the last %s speak an API this Relais refuses (%s): %s", len(wrong), opts.ClientWindow, relais.APIVersion, strings.Join(wrong, ", ")),
			"update or disconnect them before upgrading: they will be refused afterwards")
	case len(clients) > 0:
		add("clients", StatusWarn, fmt.Sprintf("%d client(s) seen in the last %s (listed below)", len(clients), opts.ClientWindow),
			"announce the stop; close the pages and stop the scripts and crisis nodes listed before the upgrade")
	default:
		add("clients", StatusOK, fmt.Sprintf("no client seen in the last %s", opts.ClientWindow), "")
	}
	return c, nil
}

func (c *UpgradeCheck) snapshotPrereq(ctx context.Context, db *sqlstore.DB, opts UpgradeCheckOptions, add func(name, status, detail, fix string)) {
	const name = "snapshot"
	if opts.SnapshotDir == "" {
		add(name, StatusFail, "no snapshot directory given", "give --snapshot-dir DIR (where relais snapshot create writes)")
		return
	}
	path, h, err := NewestSnapshot(opts.SnapshotDir, db.Site)
	if err != nil {
		add(name, StatusFail, err.Error(), "make one: relais snapshot create --db … --out "+filepath.Join(opts.SnapshotDir, "relais-YYYYMMDD.snap")+" --recipient …")
		return
	}
	c.Snapshot = path
	age := relais.Now().Sub(h.DataTime)
	if age > opts.MaxAge {
		add(name, StatusFail, fmt.Sprintf("the newest snapshot, %s, is %s old (more than %s)", filepath.Base(path), age.Round(time.Minute), opts.MaxAge),
			"make a fresh one with relais snapshot create, or say what recent means with --max-age")
		return
	}
	if len(opts.Identities) == 0 {
		add(name, StatusFail, fmt.Sprintf("%s (%s old) cannot be verified without its age identity", filepath.Base(path), age.Round(time.Minute)),
			"give --identity FILE (or --data DIR holding "+UpgradeIdentityFile+")")
		return
	}
	_, rep, err := VerifyForUpgrade(ctx, path, opts.Identities, opts.Keys, opts.Progress)
	if err != nil {
		add(name, StatusFail, fmt.Sprintf("%s does not verify: %v", filepath.Base(path), err), "make a fresh snapshot and check it with relais snapshot verify")
		return
	}
	c.SnapshotCheck = &rep
	if !rep.OK() {
		add(name, StatusFail, fmt.Sprintf("%s restores, but its migrated copy fails relais check: %d fault(s), first: %s", filepath.Base(path), len(rep.Faults), rep.Faults[0].Message),
			"settle those faults on the live database first (relais check), then snapshot again")
		return
	}
	add(name, StatusOK, fmt.Sprintf("%s: %s old, journal entry %d, signature valid; restored, migrated and checked on a copy", filepath.Base(path), age.Round(time.Minute), h.HeadSeq), "")
}

// NewestSnapshot finds, in dir, the snapshot of site with the latest data.
func NewestSnapshot(dir, site string) (string, Header, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", Header{}, fmt.Errorf("cannot read the snapshot directory %s: %v", dir, err)
	}
	var best string
	var bh Header
	for _, e := range ents {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		h, err := readHeaderFile(p)
		if err != nil || h.Site != site {
			continue
		}
		if best == "" || h.DataTime.After(bh.DataTime) {
			best, bh = p, h
		}
	}
	if best == "" {
		return "", bh, fmt.Errorf("no snapshot of site %s in %s", site, dir)
	}
	return best, bh, nil
}

func readHeaderFile(path string) (Header, error) {
	f, err := os.Open(path)
	if err != nil {
		return Header{}, err
	}
	defer f.Close()
	return ReadHeader(bufio.NewReader(f))
}

// existingParent is dir, or its nearest ancestor that exists.
func existingParent(dir string) string {
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil || d == filepath.Dir(d) {
			return d
		}
	}
}

func bytesText(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// UpgradeOpenOptions tune OpenUpgrading.
type UpgradeOpenOptions struct {
	Site        string
	Log         *slog.Logger
	SnapshotDir string
	Keys        UpgradeKeys
	// Progress is where the pre-upgrade snapshot and its rehearsal draw
	// their progress, when it is a terminal.
	Progress io.Writer
	// sqlOptions are passed to sqlstore.Open for the migration (tests).
	sqlOptions func(*sqlstore.Options)
}

// PreUpgradeSnapshot writes and verifies the snapshot of dsn (opened
// read-only: nothing changes) that an upgrade starts from. It is portable
// (JSON lines): restoring it needs no engine-specific tool, into SQLite or
// PostgreSQL, at the schema it was taken at.
func PreUpgradeSnapshot(ctx context.Context, dsn string, from, to int, o UpgradeOpenOptions) (string, Header, error) {
	const op = "upgrade.snapshot"
	ro, err := sqlstore.Open(ctx, dsn, sqlstore.Options{ReadOnly: true, Log: o.Log})
	if err != nil {
		return "", Header{}, err
	}
	if err := os.MkdirAll(o.SnapshotDir, 0o750); err != nil {
		ro.Close()
		return "", Header{}, relais.E(op, err)
	}
	name := fmt.Sprintf("%sschema%d-to-%d-%s.snap", PreUpgradePrefix, from, to, relais.Now().UTC().Format("20060102T150405Z"))
	path := filepath.Join(o.SnapshotDir, name)
	h, err := Create(ctx, ro, path, CreateOptions{Recipients: o.Keys.Recipients, RecipientNames: o.Keys.RecipientNames, Key: o.Keys.Key, Portable: true, Progress: o.Progress})
	ro.Close()
	if err != nil {
		return "", h, relais.E(op, "the pre-upgrade snapshot could not be written: nothing was migrated", err)
	}
	pub := o.Keys.Key.Public().(ed25519.PublicKey)
	_, rep, err := VerifyForUpgrade(ctx, path, o.Keys.Identities, []ed25519.PublicKey{pub}, o.Progress)
	if err != nil {
		return path, h, relais.E(op, fmt.Sprintf("the pre-upgrade snapshot %s did not verify: nothing was migrated", path), err)
	}
	if !rep.OK() {
		return path, h, relais.E(op, relais.KindIntegrity, fmt.Sprintf(
			"the rehearsal on the pre-upgrade snapshot %s found %d fault(s) after migrating (first: %s): nothing was migrated; run relais upgrade check",
			path, len(rep.Faults), rep.Faults[0].Message))
	}
	return path, h, nil
}

// OpenUpgrading opens dsn for `relais serve`. A database of an older schema
// is migrated only after a verified, rehearsed snapshot written beside it;
// the upgrade is then noted in the database for `relais upgrade rollback`.
// When a migration fails on SQLite after earlier ones were committed, the
// snapshot is restored in place: the database is left as it was, and the
// previous Relais starts on it. rec is nil when nothing was migrated.
func OpenUpgrading(ctx context.Context, dsn string, o UpgradeOpenOptions) (db *sqlstore.DB, rec *sqlstore.UpgradeRecord, err error) {
	const op = "upgrade.open"
	if o.Log == nil {
		o.Log = discard()
	}
	sqlOpts := sqlstore.Options{Site: o.Site, Log: o.Log}
	if o.sqlOptions != nil {
		o.sqlOptions(&sqlOpts)
	}
	from, err := sqlstore.PeekSchema(ctx, dsn)
	if err != nil {
		return nil, nil, err
	}
	to := sqlstore.SchemaVersion()
	if from == 0 || from >= to {
		// New, up to date, or newer (Open refuses it, naming both versions).
		db, err := sqlstore.Open(ctx, dsn, sqlOpts)
		return db, nil, err
	}
	if len(o.Keys.Key) != ed25519.PrivateKeySize || len(o.Keys.Recipients) == 0 || len(o.Keys.Identities) == 0 {
		return nil, nil, relais.E(op, relais.KindInvalid, fmt.Sprintf(
			"the database is at schema %d and this Relais %s needs %d, but no key to snapshot it first was given: nothing was migrated", from, relais.Version, to))
	}
	start := time.Now()
	o.Log.Info("older schema: snapshot before migrating", "from", from, "to", to, "dir", o.SnapshotDir)
	path, h, err := PreUpgradeSnapshot(ctx, dsn, from, to, o)
	if err != nil {
		return nil, nil, err
	}
	o.Log.Info("pre-upgrade snapshot written and verified", "file", path, "head", h.HeadSeq, "took", time.Since(start).Round(time.Millisecond))
	db, err = sqlstore.Open(ctx, dsn, sqlOpts)
	if err != nil {
		now, perr := sqlstore.PeekSchema(ctx, dsn)
		engine, _, _ := sqlstore.ParseDSN(dsn)
		if perr == nil && now != from && engine == sqlstore.SQLite {
			// Earlier migrations were committed: back to the snapshot.
			if rerr := restoreSQLiteInPlace(ctx, dsn, path, h, o.Keys); rerr != nil {
				return nil, nil, relais.E(op, fmt.Sprintf("the migration failed at schema %d and restoring %s failed too (%v): restore it by hand with relais upgrade rollback", now, path, rerr), err)
			}
			return nil, nil, relais.E(op, fmt.Sprintf("the migration failed; the database was restored from %s and is at schema %d again: the previous Relais starts on it", path, from), err)
		}
		return nil, nil, err
	}
	r := sqlstore.UpgradeRecord{From: from, To: to, At: relais.Now(), Snapshot: path, Chain: h.Site, HeadSeq: h.HeadSeq, Program: relais.Version}
	if err := db.RecordUpgrade(ctx, r); err != nil {
		o.Log.Warn("upgrade not noted in the database: give --snapshot to relais upgrade rollback", "err", err, "snapshot", path)
	}
	o.Log.Info("upgraded", "from", from, "to", to, "took", time.Since(start).Round(time.Millisecond))
	return db, &r, nil
}

// restoreSQLiteInPlace replaces the SQLite file of dsn by the snapshot,
// keeping the replaced file aside (name.replaced-TIME).
func restoreSQLiteInPlace(ctx context.Context, dsn, snapshot string, h Header, keys UpgradeKeys) error {
	_, path, err := sqlstore.ParseDSN(dsn)
	if err != nil {
		return err
	}
	tmp := path + ".restoring"
	for _, s := range []string{"", "-wal", "-shm"} {
		os.Remove(tmp + s)
	}
	pub := keys.Key.Public().(ed25519.PublicKey)
	db, _, _, err := Restore(ctx, snapshot, keys.Identities, []ed25519.PublicKey{pub}, "sqlite:"+tmp, sqlstore.Options{Log: discard(), MigrateTo: h.Schema})
	if err != nil {
		return err
	}
	if err := db.Close(); err != nil {
		return err
	}
	aside := path + ".replaced-" + relais.Now().UTC().Format("20060102T150405Z")
	for _, s := range []string{"", "-wal", "-shm"} {
		if _, err := os.Stat(path + s); err == nil {
			if err := os.Rename(path+s, aside+s); err != nil {
				return err
			}
		}
	}
	for _, s := range []string{"-wal", "-shm"} {
		os.Remove(tmp + s)
	}
	return os.Rename(tmp, path)
}

// RollbackOptions tune Rollback.
type RollbackOptions struct {
	Snapshot string // default: the one the last upgrade noted
	Keys     UpgradeKeys
	PubKeys  []ed25519.PublicKey // to check the snapshot's origin (default: the site key's)
	// KeepAside writes the journal entries made since the snapshot to this
	// file (journal export format) before restoring; Discard restores
	// without keeping them. One of them is needed when there are any.
	KeepAside string
	Discard   bool
	// SetAsideDir receives the PostgreSQL database's last state, as a
	// snapshot, before its tables are dropped (default: beside the
	// pre-upgrade snapshot). A SQLite file is renamed aside instead.
	SetAsideDir string
	Log         *slog.Logger
	Progress    io.Writer // the restores' progress lines, when a terminal
}

// RollbackPlan is what a rollback would do.
type RollbackPlan struct {
	Snapshot string          `json:"snapshot"`
	Header   Header          `json:"header"`
	Current  int             `json:"current_schema"`
	Lost     []journal.Entry `json:"lost"` // entries of the site's chain since the snapshot
}

// RollbackResult is what a rollback did.
type RollbackResult struct {
	RollbackPlan
	KeptAside string `json:"kept_aside,omitempty"`
	SetAside  string `json:"set_aside"` // where the replaced database is
}

// PlanRollback finds the pre-upgrade snapshot of db and the entries a
// rollback to it would lose. Nothing is written.
func PlanRollback(ctx context.Context, db *sqlstore.DB, o RollbackOptions) (RollbackPlan, error) {
	const op = "upgrade.rollback"
	var p RollbackPlan
	p.Snapshot = o.Snapshot
	if p.Snapshot == "" {
		r, ok, err := db.LastUpgrade(ctx)
		if err != nil {
			return p, err
		}
		if !ok {
			return p, relais.E(op, relais.KindNotFound, "this database records no upgrade: give the snapshot to restore with --snapshot FILE")
		}
		p.Snapshot = r.Snapshot
	}
	keys := o.PubKeys
	if len(keys) == 0 && len(o.Keys.Key) == ed25519.PrivateKeySize {
		keys = []ed25519.PublicKey{o.Keys.Key.Public().(ed25519.PublicKey)}
	}
	h, _, err := CheckSignature(p.Snapshot, keys)
	if err != nil {
		return p, err
	}
	p.Header = h
	if h.Site != db.Site {
		return p, relais.E(op, relais.KindConflict, fmt.Sprintf("the snapshot is of site %s, this database of %s", h.Site, db.Site))
	}
	if p.Current, err = db.CurrentSchema(ctx); err != nil {
		return p, err
	}
	// The snapshot must be an ancestor of this database: its journal head
	// is an entry of this chain.
	at, err := db.JournalEntries(ctx, h.Site, h.HeadSeq-1, 1)
	if err != nil {
		return p, err
	}
	if h.HeadSeq > 0 && (len(at) == 0 || at[0].Seq != h.HeadSeq || at[0].Hash != h.HeadHash) {
		return p, relais.E(op, relais.KindConflict, fmt.Sprintf(
			"the snapshot's journal ends at entry %d (%s…), which is not this database's entry %d: it is not this database's past; refusing", h.HeadSeq, short12(h.HeadHash), h.HeadSeq))
	}
	p.Lost, err = db.EntriesAfter(ctx, h.Site, h.HeadSeq)
	return p, err
}

func short12(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// Rollback restores the pre-upgrade snapshot into dsn. The database being
// replaced is kept aside (a SQLite file renamed; a PostgreSQL database
// snapshotted), and the entries since the snapshot are written to
// o.KeepAside first; without KeepAside or Discard, a rollback that would
// lose entries is refused, naming how many.
func Rollback(ctx context.Context, dsn string, o RollbackOptions) (RollbackResult, error) {
	const op = "upgrade.rollback"
	var res RollbackResult
	if o.Log == nil {
		o.Log = discard()
	}
	db, err := sqlstore.Open(ctx, dsn, sqlstore.Options{ReadOnly: true, Log: o.Log})
	if err != nil {
		return res, err
	}
	res.RollbackPlan, err = PlanRollback(ctx, db, o)
	if err != nil {
		db.Close()
		return res, err
	}
	h := res.Header
	if len(res.Lost) > 0 && o.KeepAside == "" && !o.Discard {
		db.Close()
		return res, relais.E(op, relais.KindConflict, fmt.Sprintf(
			"%d journal entries were made since the snapshot (entries %d to %d): they would be lost; give --keep-aside FILE to keep them for replay, or --discard-entries to lose them",
			len(res.Lost), res.Lost[0].Seq, res.Lost[len(res.Lost)-1].Seq))
	}
	if o.KeepAside != "" {
		if err := writeKeptAside(o.KeepAside, db.Site, res.Lost); err != nil {
			db.Close()
			return res, relais.E(op, fmt.Sprintf("the entries could not be kept aside in %s: nothing was restored", o.KeepAside), err)
		}
		res.KeptAside = o.KeepAside
	}
	pub := []ed25519.PublicKey{h.signingKey()}
	if len(o.PubKeys) > 0 {
		pub = o.PubKeys
	}
	stamp := relais.Now().UTC().Format("20060102T150405Z")
	switch db.Engine {
	case sqlstore.SQLite:
		path := db.FilePath()
		db.Close()
		tmp := path + ".restoring"
		for _, s := range []string{"", "-wal", "-shm"} {
			os.Remove(tmp + s)
		}
		rdb, _, _, err := Restore(ctx, res.Snapshot, o.Keys.Identities, pub, "sqlite:"+tmp, sqlstore.Options{Log: o.Log, MigrateTo: h.Schema, Progress: o.Progress})
		if err != nil {
			return res, relais.E(op, "the snapshot could not be restored: the database was not touched", err)
		}
		rdb.Close()
		res.SetAside = path + ".rolled-back-" + stamp
		for _, s := range []string{"", "-wal", "-shm"} {
			if _, err := os.Stat(path + s); err == nil {
				if err := os.Rename(path+s, res.SetAside+s); err != nil {
					return res, relais.E(op, err)
				}
			}
		}
		for _, s := range []string{"-wal", "-shm"} {
			os.Remove(tmp + s)
		}
		if err := os.Rename(tmp, path); err != nil {
			return res, relais.E(op, fmt.Sprintf("the restored database is %s and the replaced one %s: rename the first to %s by hand", tmp, res.SetAside, path), err)
		}
	case sqlstore.Postgres:
		dir := o.SetAsideDir
		if dir == "" {
			dir = filepath.Dir(res.Snapshot)
		}
		res.SetAside = filepath.Join(dir, "relais-rolled-back-"+stamp+".snap")
		if len(o.Keys.Key) != ed25519.PrivateKeySize || len(o.Keys.Recipients) == 0 {
			db.Close()
			return res, relais.E(op, relais.KindInvalid, "a PostgreSQL rollback first snapshots the database it replaces: give the site key and the upgrade identity (--data DIR)")
		}
		_, err := Create(ctx, db, res.SetAside, CreateOptions{Recipients: o.Keys.Recipients, RecipientNames: o.Keys.RecipientNames, Key: o.Keys.Key, Portable: true, Progress: o.Progress})
		db.Close()
		if err != nil {
			return res, relais.E(op, "the database could not be set aside: nothing was restored", err)
		}
		w, err := sqlstore.Open(ctx, dsn, sqlstore.Options{ReadOnly: true, Log: o.Log})
		if err != nil {
			return res, err
		}
		err = w.DropAll(ctx)
		w.Close()
		if err != nil {
			return res, relais.E(op, "the tables could not be dropped: nothing was restored", err)
		}
		rdb, _, _, err := Restore(ctx, res.Snapshot, o.Keys.Identities, pub, dsn, sqlstore.Options{Log: o.Log, MigrateTo: h.Schema, Progress: o.Progress})
		if err != nil {
			return res, relais.E(op, fmt.Sprintf("the tables were dropped but the snapshot could not be restored: restore %s (the state before the rollback) or %s with relais snapshot restore", res.SetAside, res.Snapshot), err)
		}
		rdb.Close()
	}
	return res, nil
}

// signingKey is the key the header carries (integrity, not origin).
func (h Header) signingKey() ed25519.PublicKey {
	k, err := journal.ParsePublicKey(h.PublicKey)
	if err != nil {
		return nil
	}
	return k
}

// writeKeptAside writes entries in the journal export format
// (journal.ExportWriter): a file an inspector verifies with the site's
// public key, and from which the work is re-entered after the rollback.
func writeKeptAside(path, site string, entries []journal.Entry) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	hdr := journal.ExportHeader{Site: site, ExportedAt: relais.Now()}
	if n := len(entries); n > 0 {
		hdr.Heads = []journal.Head{{Site: site, Seq: entries[n-1].Seq, Hash: entries[n-1].Hash}}
	}
	x, err := journal.NewExportWriter(f, hdr)
	if err != nil {
		f.Close()
		return err
	}
	for i := range entries {
		if err := x.Entry(&entries[i]); err != nil {
			f.Close()
			return err
		}
	}
	if c, ok := any(x).(interface{ Close() error }); ok {
		if err := c.Close(); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
