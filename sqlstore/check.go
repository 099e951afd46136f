package sqlstore

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/internal/progress"
	"github.com/relais-onco/relais/journal"
)

// `relais check`: the integrity of a site's database after a crash, a
// restore, a crisis or a reintegration. It gathers, in one report:
//   - the journal (every chain, and every entity against its last entry:
//     VerifyJournal);
//   - the preparation register (no gap, no duplicate: CheckRegister);
//   - the leftover vials (no negative quantity, none drawn after its
//     expiry: CheckLeftovers);
//   - references: every foreign key resolves, and the references the
//     schema cannot declare (a preparation's line belongs to its
//     prescription, a treatment's protocol version exists, …);
//   - the database engine's own check (SQLite integrity_check).

// CheckReport is what Check found.
type CheckReport struct {
	Site    string         `json:"site"`
	Checked map[string]int `json:"checked"` // what was checked → how many
	// From lists the checkpoints the journal's chains were verified from
	// (CheckOptions.Since); empty when every chain was verified whole.
	From    []journal.Checkpoint `json:"from,omitempty"`
	Since   *time.Time           `json:"since,omitempty"` // CheckOptions.Since, when given
	Seconds map[string]float64   `json:"seconds"`         // how long each part took
	Faults  []relais.Fault       `json:"faults"`
}

// CheckOptions tune CheckWith.
type CheckOptions struct {
	// Since verifies the journal only from the last checkpoint signed at or
	// before it (VerifyOptions.Since): the quick check after a crash, when
	// the journal up to a known good moment has already been checked. The
	// other checks (the engine's, the register, the leftover vials, the
	// references, rows inserted outside Relais) stay whole.
	Since time.Time
	// PublicKeys verify the checkpoints instead of the site table's key
	// (VerifyOptions.PublicKeys).
	PublicKeys []ed25519.PublicKey
}

// OK reports whether nothing was found.
func (r CheckReport) OK() bool { return len(r.Faults) == 0 }

// checkPartAfter names, for the progress line, the part of a check that
// runs after each one.
var checkPartAfter = map[string]string{"engine": "journal", "journal": "registre", "register": "reliquats", "leftover_vials": "références"}

// Check runs every integrity check. The error is for a database that could
// not be read; what is wrong is in the report.
func (db *DB) Check(ctx context.Context) (CheckReport, error) {
	return db.CheckWith(ctx, CheckOptions{})
}

// CheckWith is Check with options.
func (db *DB) CheckWith(ctx context.Context, opts CheckOptions) (CheckReport, error) {
	rep := CheckReport{Site: db.Site, Checked: map[string]int{}, Seconds: map[string]float64{}, Faults: []relais.Fault{}}
	add := func(fs ...relais.Fault) { rep.Faults = append(rep.Faults, fs...) }
	start := time.Now()
	// On a terminal, a line says which of the five parts is running: the
	// journal's takes minutes at a large site.
	bar := progress.New(db.progress, "vérification", 5, "parties").Steps()
	defer bar.Done()
	bar.Extra("moteur")
	took := func(part string) {
		rep.Seconds[part] = math.Round(time.Since(start).Seconds()*10) / 10
		start = time.Now()
		bar.Extra(checkPartAfter[part])
		bar.Add(1)
	}

	if fs, n, err := db.checkEngine(ctx); err != nil {
		return rep, err
	} else {
		add(fs...)
		rep.Checked["engine"] = n
	}
	took("engine")
	audit, err := db.VerifyJournalWith(ctx, VerifyOptions{Since: opts.Since, PublicKeys: opts.PublicKeys})
	if err != nil {
		return rep, err
	}
	took("journal")
	if !opts.Since.IsZero() {
		rep.Since = &opts.Since
	}
	for _, c := range audit.Chains {
		if c.From != nil {
			rep.From = append(rep.From, *c.From)
		}
	}
	rep.Checked["journal.entries"] = int(audit.Entries())
	rep.Checked["journal.entities"] = int(audit.Entities)
	for _, f := range audit.Faults {
		id := f.EntityID
		entity := f.Entity
		if entity == "" {
			entity = f.Table
		}
		add(relais.Fault{Check: "journal." + string(f.Kind), Entity: entity, ID: id, Message: f.String()})
	}
	if has, err := db.hasTable(ctx, "register_entry"); err != nil {
		return rep, err
	} else if has {
		fs, err := db.CheckRegister(ctx)
		if err != nil {
			return rep, err
		}
		add(fs...)
		rep.Checked["register"] = db.count(ctx, "register_entry")
	}
	took("register")
	if has, err := db.hasTable(ctx, "leftover_vial"); err != nil {
		return rep, err
	} else if has {
		fs, err := db.CheckLeftovers(ctx)
		if err != nil {
			return rep, err
		}
		add(fs...)
		rep.Checked["leftover_vials"] = db.count(ctx, "leftover_vial")
	}
	took("leftover_vials")
	fs, n, err := db.checkReferences(ctx)
	if err != nil {
		return rep, err
	}
	add(fs...)
	rep.Checked["references"] = n
	took("references")
	sort.SliceStable(rep.Faults, func(i, j int) bool { return rep.Faults[i].Check < rep.Faults[j].Check })
	return rep, nil
}

func (db *DB) count(ctx context.Context, table string) int {
	var n int
	db.r.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(&n)
	return n
}

func (db *DB) hasTable(ctx context.Context, table string) (bool, error) {
	q := "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?"
	if db.Engine == Postgres {
		q = "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?"
	}
	var n int
	if err := db.r.QueryRowContext(ctx, db.rebind(q), table).Scan(&n); err != nil {
		return false, relais.E("check", mapErr(err))
	}
	return n > 0, nil
}

// checkEngine runs SQLite's own checks: the file's structure and the
// declared foreign keys (PostgreSQL enforces its constraints at every write
// and has no such after-the-fact check).
func (db *DB) checkEngine(ctx context.Context) ([]relais.Fault, int, error) {
	if db.Engine != SQLite {
		return nil, 0, nil
	}
	var faults []relais.Fault
	rows, err := db.r.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return nil, 0, relais.E("check", mapErr(err))
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return nil, 0, err
		}
		if s != "ok" {
			faults = append(faults, relais.Fault{Check: "engine.integrity", Message: "SQLite integrity_check: " + s})
		}
	}
	rows.Close()
	rows, err = db.r.QueryContext(ctx, "PRAGMA foreign_key_check")
	if err != nil {
		return nil, 0, relais.E("check", mapErr(err))
	}
	defer rows.Close()
	for rows.Next() {
		var table, parent string
		var rowid, fk any
		if err := rows.Scan(&table, &rowid, &parent, &fk); err != nil {
			return nil, 0, err
		}
		faults = append(faults, relais.Fault{Check: "reference.foreign_key", Entity: table, ID: fmt.Sprint(rowid),
			Message: fmt.Sprintf("a row of %s (rowid %v) refers to a row of %s that does not exist", table, rowid, parent)})
	}
	return faults, 2, rows.Err()
}

// softReference is a reference the schema does not declare (the target may
// be a row of another site, copied later), checked here instead.
type softReference struct {
	check, table, column, target, targetColumn string
	where                                      string // extra condition on the referring row
	what                                       string // the message, with %s for the row id and %s for the value
}

var softReferences = []softReference{
	{"reference.treatment_patient", "treatment", "patient_id", "patient", "id", "", "treatment %s names patient %s, who does not exist"},
	{"reference.treatment_version", "treatment", "protocol_version_id", "protocol_version", "id", aidCopyTreatment, "treatment %s names protocol version %s, which does not exist"},
	{"reference.prescription_patient", "prescription", "patient_id", "patient", "id", "", "prescription %s names patient %s, who does not exist"},
	{"reference.prescription_version", "prescription", "protocol_version_id", "protocol_version", "id", aidCopyPrescription, "prescription %s names protocol version %s, which does not exist"},
	{"reference.line_drug", "prescription_line", "drug_id", "drug", "id", "t.drug_id <> ''", "prescription line %s names drug %s, which is not in the catalogue"},
	{"reference.note_patient", "note", "patient_id", "patient", "id", "", "note %s is on patient %s, who does not exist"},
	{"reference.preparation_patient", "preparation", "patient_id", "patient", "id", "", "preparation %s is for patient %s, who does not exist"},
	{"reference.preparation_drug", "preparation", "drug_id", "drug", "id", "", "preparation %s is of drug %s, which is not in the catalogue"},
	{"reference.leftover_source", "leftover_vial", "source_preparation_id", "preparation", "id", "t.source_preparation_id <> ''", "leftover vial %s comes from preparation %s, which does not exist"},
	{"reference.leftover_use", "leftover_use", "preparation_id", "preparation", "id", "", "leftover draw %s was for preparation %s, which does not exist"},
	{"reference.register_preparation", "register_entry", "preparation_id", "preparation", "id", "t.kind = 'preparation'", "register entry %s names preparation %s, which does not exist"},
	{"reference.billing_preparation", "billing_line", "preparation_id", "preparation", "id", "", "billing line %s is for preparation %s, which does not exist"},
}

// checkReferences checks the undeclared references, and that each
// preparation's line belongs to its prescription.
func (db *DB) checkReferences(ctx context.Context) ([]relais.Fault, int, error) {
	var faults []relais.Fault
	n := 0
	for _, r := range softReferences {
		ok, err := db.hasTable(ctx, r.table)
		if err != nil {
			return nil, 0, err
		}
		if !ok {
			continue
		}
		n++
		q := "SELECT t.id, t." + r.column + " FROM " + r.table + " t WHERE NOT EXISTS (SELECT 1 FROM " + r.target +
			" x WHERE x." + r.targetColumn + " = t." + r.column + ")"
		if r.where != "" {
			q += " AND " + r.where
		}
		pairs, err := db.pairs(ctx, q+" ORDER BY t.id")
		if err != nil {
			return nil, 0, err
		}
		for _, p := range pairs {
			faults = append(faults, relais.Fault{Check: r.check, Entity: r.table, ID: p[0], Message: fmt.Sprintf(r.what, p[0], p[1])})
		}
	}
	if ok, err := db.hasTable(ctx, "preparation"); err != nil {
		return nil, 0, err
	} else if ok {
		n++
		pairs, err := db.pairs(ctx, `SELECT p.id, p.line_id FROM preparation p WHERE NOT EXISTS (
			SELECT 1 FROM prescription_line l WHERE l.id = p.line_id AND l.prescription_id = p.prescription_id) ORDER BY p.id`)
		if err != nil {
			return nil, 0, err
		}
		for _, p := range pairs {
			faults = append(faults, relais.Fault{Check: "reference.preparation_line", Entity: "preparation", ID: p[0],
				Message: fmt.Sprintf("preparation %s is for line %s, which is not a line of its prescription", p[0], p[1])})
		}
	}
	return faults, n, nil
}

func (db *DB) pairs(ctx context.Context, q string) ([][2]string, error) {
	rows, err := db.r.QueryContext(ctx, q)
	if err != nil {
		return nil, relais.E("check", mapErr(err))
	}
	defer rows.Close()
	var out [][2]string
	for rows.Next() {
		var a, b string
		if err := rows.Scan(&a, &b); err != nil {
			return nil, err
		}
		out = append(out, [2]string{a, b})
	}
	return out, rows.Err()
}

// String writes the report for a terminal: one line per fault.
func (r CheckReport) String() string {
	var b strings.Builder
	keys := make([]string, 0, len(r.Checked))
	for k := range r.Checked {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintf(&b, "Site %s checked:", r.Site)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s %d;", k, r.Checked[k])
	}
	b.WriteString("\n")
	for _, c := range r.From {
		fmt.Fprintf(&b, "Journal of site %s verified from entry %d, vouched for by the checkpoint signed at %s (the entries before it were not read again).\n",
			c.Site, c.Seq, c.Time.UTC().Format(time.RFC3339))
	}
	if r.Since != nil && len(r.From) == 0 {
		fmt.Fprintf(&b, "No checkpoint signed at or before %s verifies with the site's key (relais keys publish, or --pubkey): the journal was verified whole.\n",
			r.Since.UTC().Format(time.RFC3339))
	}
	if r.OK() {
		b.WriteString("No fault found.\n")
		return b.String()
	}
	fmt.Fprintf(&b, "%d fault(s):\n", len(r.Faults))
	for _, f := range r.Faults {
		fmt.Fprintf(&b, "  FAULT %s\n", f)
	}
	return b.String()
}
