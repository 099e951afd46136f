package sqlstore

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/internal/testdb"
)

// relais check names what was broken outside Relais: each case tampers with
// a clean database the way someone with SQL access (or a crash of another
// program) would, and expects the fault's name.
func TestCheckNamesEachFault(t *testing.T) {
	now := T(relais.Now())
	cases := []struct {
		name   string
		tamper []string
		want   []string // fault checks that must be reported
	}{
		{"clean", nil, nil},
		{"register gap and counter behind", []string{
			`INSERT INTO register_counter (site, year, last_seq) VALUES ('chu-check', 2026, 1)`,
			`INSERT INTO register_entry (id, site, year, seq, number, kind, status, issued_at, issued_by, reason, annotations, updated_at)
			 VALUES ('r1', 'chu-check', 2026, 1, '2026-000001', 'reserved', 'open', ?, 'x', 'test', '[]', ?)`,
			`INSERT INTO register_entry (id, site, year, seq, number, kind, status, issued_at, issued_by, reason, annotations, updated_at)
			 VALUES ('r3', 'chu-check', 2026, 3, '2026-000003', 'reserved', 'open', ?, 'x', 'test', '[]', ?)`,
		}, []string{"register.gap", "register.counter", "journal.inserted"}},
		{"negative leftover", []string{
			`INSERT INTO drug (id, site, inn, class, cytotoxic, comment, revision, created_at, updated_at) VALUES ('d1', 'chu-check', 'testine', 'other', FALSE, '', 1, ?, ?)`,
			`INSERT INTO product (id, site, drug_id, brand, ucd, form, strength, strength_unit, revision, created_at, updated_at)
			 VALUES ('p1', 'chu-check', 'd1', 'Testine', '3400000000001', 'solution', 10, 'mg', 1, ?, ?)`,
			`INSERT INTO leftover_vial (id, site, drug_id, inn, product_id, brand, lot, lot_expiry, unit, concentration, initial_quantity,
			 initial_volume_ml, remaining_quantity, remaining_volume_ml, opened_at, storage, condition, stability_hours, stability_source, expiry,
			 status, recorded_by, recorded_by_id, created_at, updated_at)
			 VALUES ('l1', 'chu-check', 'd1', 'testine', 'p1', 'Testine', 'L1', '2030-01-01', 'mg', 2, 20, 10, -4, -2, ?, '2-8°C', 'after_opening', 24, 'test', ?,
			 'partly_used', 'x', 'x', ?, ?)`,
		}, []string{"leftover.negative", "journal.inserted"}},
		{"dangling reference", []string{
			`INSERT INTO treatment (id, site, patient_id, protocol_id, protocol_version_id, protocol_code, protocol_name, version_number, intent,
			 start_date, planned_cycles, cycle_length_days, status, created_at, created_by, updated_at)
			 VALUES ('t1', 'chu-check', 'nobody', 'pr', 'pv', 'X', 'X', 1, 'curative', '2026-01-01', 1, 21, 'active', ?, 'x', ?)`,
		}, []string{"reference.treatment_patient", "reference.treatment_version", "journal.inserted"}},
	}
	testdb.Each(t, func(t *testing.T, dsn string) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				ctx := context.Background()
				fresh := testdb.SQLite(t)
				if strings.HasPrefix(dsn, "postgres") {
					fresh = testdb.Postgres(t)
				}
				db, err := Open(ctx, fresh, Options{Site: "chu-check", Log: slog.New(slog.DiscardHandler)})
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				sys := relais.WithActor(ctx, relais.SystemActor("chu-check"))
				if err := db.SaveSite(sys, relais.Site{ID: "chu-check", Name: "CHU Check", Kind: "chu"}); err != nil {
					t.Fatal(err)
				}
				for _, q := range c.tamper {
					args := make([]any, strings.Count(q, "?"))
					for i := range args {
						args[i] = now
					}
					if _, err := db.w.ExecContext(ctx, db.rebind(q), args...); err != nil {
						t.Fatalf("tampering: %v\n%s", err, q)
					}
				}
				rep, err := db.Check(ctx)
				if err != nil {
					t.Fatal(err)
				}
				got := map[string]bool{}
				for _, f := range rep.Faults {
					got[f.Check] = true
				}
				for _, w := range c.want {
					if !got[w] {
						t.Errorf("fault %s not reported:\n%s", w, rep)
					}
				}
				if len(c.want) == 0 && !rep.OK() {
					t.Errorf("a clean database has faults:\n%s", rep)
				}
				if len(c.want) > 0 && rep.OK() {
					t.Error("no fault reported")
				}
			})
		}
	})
}
