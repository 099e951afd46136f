package demo_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/demo"
	"github.com/relais-onco/relais/internal/testdb"
	"github.com/relais-onco/relais/sqlstore"
)

var regionToday = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)

// The plan of the whole region, ten years, drawn without a database: the
// volume the issue asks for (about 2,000 new patients a year), and a day
// hospital's rhythm — no first cycle at weekends or on public holidays,
// Monday and Tuesday the busiest days, August and the Christmas fortnight
// the quietest.
func TestRegionPlanRhythm(t *testing.T) {
	opts := demo.RegionOptions{Seed: 7, Today: regionToday}
	var weekday [7]int
	var month [12]int
	var christmas, total, children int
	for i := range demo.RegionSites {
		plan, err := demo.PlanSite(opts, i)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range plan {
			d := p.Start.Time()
			weekday[d.Weekday()]++
			month[d.Month()-1]++
			if d.Month() == time.December && d.Day() >= 20 || d.Month() == time.January && d.Day() <= 3 {
				christmas++
			}
			if d.Month() == time.December && d.Day() == 25 || d.Month() == time.May && d.Day() == 1 {
				t.Errorf("a first cycle on a public holiday: %s", p.Start)
			}
			if p.Child {
				children++
			}
			total++
		}
	}
	if perYear := total / 10; perYear < 1900 || perYear > 2100 {
		t.Errorf("%d new patients a year; want about 2,000", perYear)
	}
	if weekday[time.Saturday]+weekday[time.Sunday] != 0 {
		t.Errorf("%d first cycles at weekends; day hospitals are closed", weekday[time.Saturday]+weekday[time.Sunday])
	}
	if !(weekday[time.Monday] > weekday[time.Wednesday] && weekday[time.Tuesday] > weekday[time.Wednesday] && weekday[time.Wednesday] > weekday[time.Friday]) {
		t.Errorf("weekday counts %v: want Monday and Tuesday peaks, Friday the quietest", weekday)
	}
	avg := float64(total) / 12
	if float64(month[time.August-1]) > 0.75*avg {
		t.Errorf("August: %d first cycles against %.0f a month on average; want a trough", month[time.August-1], avg)
	}
	// The 15 days from 20 December to 3 January hold fewer than 15 average days.
	if float64(christmas) > 0.7*15*float64(total)/365 {
		t.Errorf("%d first cycles over Christmas; want a trough", christmas)
	}
	if share := float64(children) / float64(total); share < 0.05 || share > 0.15 {
		t.Errorf("%.1f %% children; want the region's mix (about a tenth)", 100*share)
	}
}

// A small region, generated twice with the same seed, holds the same domain
// content: the same patients, courses, prescriptions, measurements and
// preparations. Identifiers and write times come from the clock and the
// system's randomness (UUIDv7), so the comparison leaves them out and
// compares everything else, in a stable order. Every site's database passes
// `relais check` and `relais audit verify`, and a different seed plans a
// different region.
func TestRegionDeterministic(t *testing.T) {
	if testing.Short() {
		t.Skip("generates a region three times")
	}
	testdb.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		opts := demo.RegionOptions{Seed: 42, Years: 1, Only: "chg-landes", Fraction: 0.05, Today: regionToday}
		gen := func(dsn string, seed uint64) (demo.SiteStats, []string) {
			opts := opts
			opts.Seed = seed
			var db *sqlstore.DB
			open := func(ctx context.Context, s demo.RegionSite) (demo.RegionStore, func() error, error) {
				var err error
				db, err = sqlstore.Open(ctx, dsn, sqlstore.Options{Site: s.ID, Log: slog.New(slog.DiscardHandler), Backdate: true})
				return db, func() error { return nil }, err
			}
			stats, err := demo.GenerateRegion(ctx, opts, open)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			rep, err := db.Check(ctx)
			if err != nil || !rep.OK() {
				t.Fatalf("relais check: %v %v", err, rep.Faults)
			}
			audit, err := db.VerifyJournal(ctx)
			if err != nil || len(audit.Faults) > 0 {
				t.Fatalf("relais audit verify: %v %v", err, audit.Faults)
			}
			return stats[0], content(t, db)
		}
		again := testdb.SQLite
		if strings.HasPrefix(dsn, "postgres") {
			again = testdb.Postgres
		}
		st1, c1 := gen(dsn, 42)
		st2, c2 := gen(again(t), 42)
		if st1.Patients < 5 || st1.Preparations < 20 {
			t.Fatalf("a twentieth of a site's year made %d patients and %d preparations; want several and tens", st1.Patients, st1.Preparations)
		}
		if st1.WeekdayCycles[time.Saturday]+st1.WeekdayCycles[time.Sunday] != 0 {
			t.Errorf("cycles starting at weekends: %v (Sunday first); day hospitals are closed", st1.WeekdayCycles)
		}
		st1.Elapsed, st2.Elapsed = 0, 0
		if st1 != st2 {
			t.Errorf("same seed, different counts:\n%+v\n%+v", st1, st2)
		}
		if !slices.Equal(c1, c2) {
			for i := range min(len(c1), len(c2)) {
				if c1[i] != c2[i] {
					t.Fatalf("same seed, different content (%d against %d rows), first difference:\n%s\n%s", len(c1), len(c2), c1[i], c2[i])
				}
			}
			t.Fatalf("same seed, %d against %d rows", len(c1), len(c2))
		}
		p42, _ := demo.PlanSite(opts, 1)
		opts.Seed = 43
		p43, _ := demo.PlanSite(opts, 1)
		if slices.Equal(p42, p43) {
			t.Errorf("another seed gave the same plan")
		}
		t.Logf("%+v", st1)
	})
}

// content exports a site's domain rows without their ids and write times,
// sorted: what two generations with the same seed must share.
func content(t *testing.T, db *sqlstore.DB) []string {
	t.Helper()
	queries := map[string]string{
		"patient":      `SELECT ipp, birth_name, first_names, birth_date, sex, identity_status, COALESCE(ins_matricule, '') FROM patient`,
		"treatment":    `SELECT p.ipp, t.protocol_code, t.version_number, t.start_date, t.status FROM treatment t JOIN patient p ON p.id = t.patient_id`,
		"measurement":  `SELECT p.ipp, m.kind, m.value, m.measured_at FROM measurement m JOIN patient p ON p.id = m.patient_id`,
		"prescription": `SELECT p.ipp, r.cycle, r.start_date, r.status FROM prescription r JOIN patient p ON p.id = r.patient_id`,
		"line": `SELECT p.ipp, r.cycle, l.day, l.inn, l.dose, l.unit, l.status FROM prescription_line l
			JOIN prescription r ON r.id = l.prescription_id JOIN patient p ON p.id = r.patient_id`,
		"preparation": `SELECT p.ipp, x.inn, x.dose, x.unit, x.administration_date, x.mode, x.status FROM preparation x
			JOIN patient p ON p.id = x.patient_id`,
	}
	var out []string
	ctx := relais.WithActor(context.Background(), relais.SystemActor(db.Site))
	err := db.Read(ctx, func(tx *sqlstore.Tx) error {
		for name, q := range queries {
			rows, err := tx.Query(q)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			cols, _ := rows.Columns()
			for rows.Next() {
				vals := make([]sql.NullString, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				if err := rows.Scan(ptrs...); err != nil {
					rows.Close()
					return err
				}
				var b strings.Builder
				b.WriteString(name)
				for _, v := range vals {
					b.WriteString("|" + v.String)
				}
				out = append(out, b.String())
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// The history is produced and dated on its days, not on the day it was
// generated: every preparation of a past day was made, checked, released,
// delivered and given, with its register number issued, its release
// decided and its administration recorded on its administration day; the
// register of each year is numbered from 1 without a gap, each number once;
// today's preparations are left to prepare (today's work); and the journal
// runs forward in time and ends by today.
func TestRegionHistoryDated(t *testing.T) {
	if testing.Short() {
		t.Skip("generates a site's year")
	}
	testdb.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		opts := demo.RegionOptions{Seed: 5, Years: 1, Only: "chg-dordogne", Fraction: 0.05, Today: regionToday}
		var db *sqlstore.DB
		open := func(ctx context.Context, s demo.RegionSite) (demo.RegionStore, func() error, error) {
			var err error
			db, err = sqlstore.Open(ctx, dsn, sqlstore.Options{Site: s.ID, Log: slog.New(slog.DiscardHandler), Backdate: true})
			return db, func() error { return nil }, err
		}
		stats, err := demo.GenerateRegion(ctx, opts, open)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		st := stats[0]
		ph := relais.WithActor(ctx, relais.SystemActor(db.Site))
		today := relais.Date(regionToday.Format(time.DateOnly))
		local := func(at time.Time) relais.Date { return relais.LocalDate(at) }

		preps, err := db.Preparations(ph, relais.PreparationFilter{})
		if err != nil {
			t.Fatal(err)
		}
		var made, given, left int
		for _, p := range preps {
			if p.AdministrationDate == today {
				if p.Status != relais.PrepToPrepare {
					t.Errorf("today's %s %s is %s; want it left to prepare", p.INN, p.AdministrationDate, p.Status)
				}
				left++
				continue
			}
			switch p.Status {
			case relais.PrepAdministered:
			case relais.PrepCancelled: // a plan the catalogue cannot make
				continue
			default:
				t.Errorf("%s of %s is %s; a past day's preparation is given", p.INN, p.AdministrationDate, p.Status)
				continue
			}
			given++
			if p.Dispensing == nil || local(p.Dispensing.At) != p.AdministrationDate {
				t.Errorf("%s of %s dispensed %v; want on its day", p.INN, p.AdministrationDate, p.Dispensing)
			}
			a, err := db.Administration(ph, p.ID)
			if err != nil {
				t.Fatal(err)
			}
			if local(a.RecordedAt) != p.AdministrationDate || local(a.StartedAt) != p.AdministrationDate || a.RecordedAt.Before(a.EndedAt) {
				t.Errorf("%s of %s: administration %s–%s recorded %s; want on its day, recorded after it ended", p.INN, p.AdministrationDate,
					a.StartedAt, a.EndedAt, a.RecordedAt)
			}
			if p.Mode != relais.ModeCompounded {
				continue
			}
			made++
			if p.Worksheet == nil || p.Production == nil || p.Check == nil || p.Release == nil {
				t.Fatalf("%s of %s given without its worksheet, production, check or release", p.INN, p.AdministrationDate)
			}
			for _, at := range []time.Time{p.Worksheet.At, p.Production.At, p.Check.At, p.Release.At, p.CreatedAt, p.UpdatedAt} {
				if local(at) != p.AdministrationDate {
					t.Errorf("%s of %s: a step dated %s; want its day", p.INN, p.AdministrationDate, at)
				}
			}
			if !(p.Worksheet.At.Before(p.Production.At) && p.Production.At.Before(p.Check.At) && p.Check.At.Before(p.Release.At) &&
				p.Release.At.Before(p.Dispensing.At) && p.Dispensing.At.Before(a.RecordedAt)) {
				t.Errorf("%s of %s: steps out of order", p.INN, p.AdministrationDate)
			}
			if p.RegisterNumber == "" {
				t.Errorf("%s of %s made without a register number", p.INN, p.AdministrationDate)
			}
		}
		if made < 20 || given < 2*made/3 || left == 0 {
			t.Fatalf("%d compounded preparations made and %d given in the history, %d left for today; want tens made, most given, some today", made, given, left)
		}

		entries, err := db.Register(ph, "2000-01-01", today)
		if err != nil {
			t.Fatal(err)
		}
		bySeq := map[int][]int{}
		numbers := map[string]bool{}
		byPrep := map[relais.ID]relais.RegisterEntry{}
		for _, e := range entries {
			if numbers[e.Number] {
				t.Errorf("register number %s twice", e.Number)
			}
			numbers[e.Number] = true
			bySeq[e.Year] = append(bySeq[e.Year], e.Seq)
			byPrep[e.PreparationID] = e
			if e.Year != e.IssuedAt.In(relais.DisplayZone).Year() || local(e.IssuedAt) >= today {
				t.Errorf("register number %s issued %s: want a past day of its year", e.Number, e.IssuedAt)
			}
		}
		if len(bySeq) < 2 {
			t.Errorf("register years %v; a year to %s crosses a new year", slices.Sorted(maps.Keys(bySeq)), today)
		}
		for year, seqs := range bySeq {
			slices.Sort(seqs)
			for i, s := range seqs {
				if s != i+1 {
					t.Fatalf("register %d: number %d at place %d; want 1 to %d without a gap", year, s, i+1, len(seqs))
				}
			}
		}
		for _, p := range preps {
			if p.RegisterNumber == "" {
				continue
			}
			e, ok := byPrep[p.ID]
			if !ok || e.Number != p.RegisterNumber || local(e.IssuedAt) != p.AdministrationDate {
				t.Errorf("%s of %s: register entry %+v; want its number, issued on its day", p.INN, p.AdministrationDate, e)
			}
		}
		if st.Administered != given || len(entries) != made {
			t.Errorf("stats say %d given and %d registered; the database holds %d and %d", st.Administered, len(entries), given, made)
		}

		// The journal runs forward in time, from before the first patient to today.
		var last time.Time
		var n int
		err = db.Read(ph, func(tx *sqlstore.Tx) error {
			rows, err := tx.Query("SELECT time FROM journal WHERE site = ? ORDER BY seq", db.Site)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var at time.Time
				if err := rows.Scan(sqlstore.ScanTime(&at)); err != nil {
					return err
				}
				if at.Before(last) {
					t.Errorf("journal entry %d dated %s after one dated %s", n+1, at, last)
				}
				last = at
				n++
			}
			return rows.Err()
		})
		if err != nil {
			t.Fatal(err)
		}
		if local(last) != today {
			t.Errorf("the journal ends %s; want today %s (the history's last day)", last, today)
		}
		t.Logf("%d journal entries; %d compounded preparations made, %d given, %d left for today; register %v", n, made, given, left, len(entries))
	})
}
