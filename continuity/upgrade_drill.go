package continuity

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/sqlstore"
)

// `relais drill --upgrade`: the rehearsal of an upgrade on a copy of the
// database, timed step by step: pre-flight check → snapshot (written,
// restored and rehearsed) → migrate → check (relais check, which includes
// relais audit verify) → rollback to the snapshot. The source is only
// read; the copy, its keys and its snapshot live in a temporary directory
// removed at the end.

// UpgradeDrillOptions tune UpgradeDrill.
type UpgradeDrillOptions struct {
	Source   string // the database to rehearse on (only read)
	Log      *slog.Logger
	Progress io.Writer // each step as it ends, when set
	// KeepDir keeps the temporary directory (for inspection).
	KeepDir bool
}

// UpgradeDrillStep is one timed step.
type UpgradeDrillStep struct {
	Name   string        `json:"name"`
	OK     bool          `json:"ok"`
	Took   time.Duration `json:"took_ns"`
	Detail string        `json:"detail"`
}

// UpgradeDrillReport is the rehearsal's record.
type UpgradeDrillReport struct {
	From  int                `json:"from"`
	To    int                `json:"to"`
	Steps []UpgradeDrillStep `json:"steps"`
	Dir   string             `json:"dir,omitempty"`
}

// OK reports whether every step succeeded.
func (r UpgradeDrillReport) OK() bool {
	for _, s := range r.Steps {
		if !s.OK {
			return false
		}
	}
	return len(r.Steps) == 5
}

// Total is the time of all the steps.
func (r UpgradeDrillReport) Total() time.Duration {
	var t time.Duration
	for _, s := range r.Steps {
		t += s.Took
	}
	return t
}

func (r UpgradeDrillReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Upgrade rehearsal on a copy: schema %d → %d\n", r.From, r.To)
	for _, s := range r.Steps {
		fmt.Fprintf(&b, "  %-9s %-4s %10s  %s\n", s.Name, okText(s.OK), s.Took.Round(time.Millisecond), s.Detail)
	}
	fmt.Fprintf(&b, "  %-9s %-4s %10s\n", "total", okText(r.OK()), r.Total().Round(time.Millisecond))
	return b.String()
}

func okText(ok bool) string {
	if ok {
		return "ok"
	}
	return "FAIL"
}

// UpgradeDrill rehearses the upgrade of o.Source on a copy.
func UpgradeDrill(ctx context.Context, o UpgradeDrillOptions) (UpgradeDrillReport, error) {
	const op = "drill.upgrade"
	var rep UpgradeDrillReport
	if o.Log == nil {
		o.Log = discard()
	}
	if o.Source == "" {
		return rep, relais.Invalid(op, "db", "give the database to rehearse on with --db DSN (it is only read)")
	}
	dir, err := os.MkdirTemp("", "relais-upgrade-drill-")
	if err != nil {
		return rep, relais.E(op, err)
	}
	if o.KeepDir {
		rep.Dir = dir
	} else {
		defer os.RemoveAll(dir)
	}
	step := func(name string, start time.Time, ok bool, detail string) {
		s := UpgradeDrillStep{Name: name, OK: ok, Took: time.Since(start), Detail: detail}
		rep.Steps = append(rep.Steps, s)
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "  %-9s %-4s %10s  %s\n", s.Name, okText(s.OK), s.Took.Round(time.Millisecond), s.Detail)
		}
	}

	// The copy, at the source's schema, with keys of its own.
	if rep.From, err = sqlstore.PeekSchema(ctx, o.Source); err != nil {
		return rep, err
	}
	if rep.From == 0 {
		return rep, relais.Invalid(op, "db", "%s holds no Relais database", sqlstore.Redacted(o.Source))
	}
	rep.To = sqlstore.SchemaVersion()
	copyDSN := "sqlite:" + filepath.Join(dir, "copy", "relais.db")
	if err := copyAtSchema(ctx, o.Source, copyDSN, rep.From, o.Log); err != nil {
		return rep, relais.E(op, "the copy could not be made", err)
	}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return rep, err
	}
	keys, err := LoadUpgradeKeys(dir, key)
	if err != nil {
		return rep, err
	}
	uo := UpgradeOpenOptions{Log: o.Log, SnapshotDir: filepath.Join(dir, "snapshots"), Keys: keys}
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, "Upgrade rehearsal on a copy of %s: schema %d → %d\n", sqlstore.Redacted(o.Source), rep.From, rep.To)
	}

	// 1. Pre-flight.
	start := time.Now()
	ro, err := sqlstore.Open(ctx, copyDSN, sqlstore.Options{ReadOnly: true, Log: o.Log})
	if err != nil {
		return rep, err
	}
	chk, err := CheckUpgrade(ctx, ro, UpgradeCheckOptions{SnapshotDir: uo.SnapshotDir, skipSnapshot: true})
	ro.Close()
	if err != nil {
		return rep, err
	}
	var fails []string
	for _, p := range chk.Prereqs {
		if p.Status == StatusFail {
			fails = append(fails, p.Name+": "+p.Detail)
		}
	}
	detail := fmt.Sprintf("%d migration(s) to run", len(chk.Plan.Pending))
	if len(fails) > 0 {
		detail = strings.Join(fails, "; ")
	}
	step("check", start, chk.OK(), detail)
	if !chk.OK() {
		return rep, nil
	}

	// 2. Snapshot, verified and rehearsed.
	start = time.Now()
	path, h, err := PreUpgradeSnapshot(ctx, copyDSN, rep.From, rep.To, uo)
	if err != nil {
		step("snapshot", start, false, err.Error())
		return rep, nil
	}
	st, _ := os.Stat(path)
	step("snapshot", start, true, fmt.Sprintf("%s, %d bytes, journal entry %d; restored, migrated and checked on a second copy", filepath.Base(path), st.Size(), h.HeadSeq))

	// 3. Migrate.
	start = time.Now()
	db, err := sqlstore.Open(ctx, copyDSN, sqlstore.Options{Log: o.Log})
	if err != nil {
		step("migrate", start, false, err.Error())
		return rep, nil
	}
	v, _ := db.CurrentSchema(ctx)
	err = db.RecordUpgrade(ctx, sqlstore.UpgradeRecord{From: rep.From, To: v, At: relais.Now(), Snapshot: path, Chain: h.Site, HeadSeq: h.HeadSeq, Program: relais.Version})
	step("migrate", start, err == nil && v == rep.To, fmt.Sprintf("schema %d → %d", rep.From, v))

	// 4. Check the migrated database.
	start = time.Now()
	cr, err := db.Check(ctx)
	db.Close()
	switch {
	case err != nil:
		step("check", start, false, err.Error())
	case !cr.OK():
		step("check", start, false, fmt.Sprintf("%d fault(s), first: %s", len(cr.Faults), cr.Faults[0].Message))
	default:
		step("check", start, true, fmt.Sprintf("relais check and relais audit verify: %d entries, %d entities, no fault", cr.Checked["journal.entries"], cr.Checked["journal.entities"]))
	}

	// 5. Roll back to the snapshot.
	start = time.Now()
	res, err := Rollback(ctx, copyDSN, RollbackOptions{Keys: keys, Log: o.Log})
	if err != nil {
		step("rollback", start, false, err.Error())
		return rep, nil
	}
	back, err := sqlstore.PeekSchema(ctx, copyDSN)
	ok := err == nil && back == rep.From
	step("rollback", start, ok, fmt.Sprintf("schema %d again, %d entries lost; the migrated copy set aside", back, len(res.Lost)))
	return rep, nil
}

// copyAtSchema copies src into the new SQLite database dst, at schema:
// through the portable dump, so that src is only read and dst is not
// migrated.
func copyAtSchema(ctx context.Context, src, dst string, schema int, log *slog.Logger) error {
	s, err := sqlstore.Open(ctx, src, sqlstore.Options{ReadOnly: true, Log: log})
	if err != nil {
		return err
	}
	var dump bytes.Buffer
	_, err = s.WriteSnapshot(ctx, &dump, true)
	s.Close()
	if err != nil {
		return err
	}
	d, _, err := sqlstore.RestoreSnapshot(ctx, &dump, sqlstore.PayloadJSONL, dst, sqlstore.Options{MigrateTo: schema, Log: log})
	if err != nil {
		return err
	}
	return d.Close()
}
