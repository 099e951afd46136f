package sqlstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/internal/testdb"
)

func TestAccessLogIsAppendOnly(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		db := open(t, dsn)
		ctx, admin := adminCtx(t, db)
		patient := relais.NewID()
		t0 := relais.Now().Add(-time.Minute)
		var es []relais.AccessEntry
		for i, purpose := range []string{"care", "pharmacy", "care"} {
			es = append(es, relais.AccessEntry{At: t0.Add(time.Duration(i) * time.Second), UserID: admin.ID, Username: admin.Username,
				Role: admin.Role, UserSite: "chu-test", PatientID: patient, Purpose: purpose, Route: "GET /api/v1/patients/{id}", RemoteAddr: "10.0.0.1"})
		}
		if err := db.RecordAccess(ctx, es...); err != nil {
			t.Fatal(err)
		}
		got, err := db.PatientAccessLog(ctx, patient, time.Time{}, 0)
		if err != nil || len(got) != 3 || got[0].Purpose != "care" || got[1].Purpose != "pharmacy" || got[0].Site != "chu-test" {
			t.Fatalf("log = %+v, %v", got, err)
		}
		if page, _ := db.PatientAccessLog(ctx, patient, got[0].At, 1); len(page) != 1 || page[0].ID != got[1].ID {
			t.Fatalf("paging back: %+v", page)
		}
		// Whoever asks, the database refuses to change or remove an entry.
		for _, q := range []string{"UPDATE access_log SET purpose = 'audit'", "DELETE FROM access_log"} {
			if _, err := db.SQL().Exec(q); err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Fatalf("%s: %v", q, err)
			}
		}
		if got, _ := db.PatientAccessLog(ctx, patient, time.Time{}, 0); len(got) != 3 {
			t.Fatalf("entries changed: %+v", got)
		}
		// All or nothing: one bad entry, none recorded.
		bad := es[0]
		bad.PatientID = ""
		if err := db.RecordAccess(ctx, es[0], bad); err == nil {
			t.Fatal("an entry without a patient was recorded")
		}
		if got, _ := db.PatientAccessLog(ctx, patient, time.Time{}, 0); len(got) != 3 {
			t.Fatalf("half a batch recorded: %d", len(got))
		}
	})
}

func TestBreakTheGlass(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		db := open(t, dsn)
		adm, _ := adminCtx(t, db)
		doc := newUser(t, db, adm, "dr.urgences", relais.RolePrescriber, "")
		ctx := relais.WithActor(context.Background(), doc.Actor())
		patient := relais.NewID()
		if _, err := db.BreakGlass(ctx, patient, "urgent"); relais.ErrorKind(err) != relais.KindInvalid {
			t.Fatalf("a 6-character reason: %v", err)
		}
		if _, err := db.BreakGlass(ctx, "' OR 1=1 --", "admitted to our emergency ward tonight"); relais.ErrorKind(err) != relais.KindInvalid {
			t.Fatalf("a bad patient id: %v", err)
		}
		g, err := db.BreakGlass(ctx, patient, "admitted to our emergency ward tonight")
		if err != nil {
			t.Fatal(err)
		}
		if d := g.ExpiresAt.Sub(g.CreatedAt); d != relais.BreakGlassFor || g.Username != "dr.urgences" {
			t.Fatalf("grant = %+v", g)
		}
		if a, ok, err := db.ActiveGrant(ctx, doc.ID, patient, relais.Now()); err != nil || !ok || a.ID != g.ID {
			t.Fatalf("active grant: %+v %v %v", a, ok, err)
		}
		if _, ok, _ := db.ActiveGrant(ctx, doc.ID, patient, g.ExpiresAt.Add(time.Second)); ok {
			t.Fatal("a grant outlives its end")
		}
		if _, ok, _ := db.ActiveGrant(ctx, doc.ID, relais.NewID(), relais.Now()); ok {
			t.Fatal("a grant opens another patient")
		}
		pending, err := db.AccessGrants(ctx, true)
		if err != nil || len(pending) != 1 {
			t.Fatalf("pending = %+v, %v", pending, err)
		}
		if _, err := db.ReviewGrant(ctx, g.ID, "I reviewed myself"); relais.ErrorKind(err) != relais.KindForbidden {
			t.Fatalf("self-review: %v", err)
		}
		r, err := db.ReviewGrant(adm, g.ID, "justified: emergency admission")
		if err != nil || r.ReviewedBy != "admin.pharma" || r.ReviewedAt.IsZero() {
			t.Fatalf("review = %+v, %v", r, err)
		}
		if _, err := db.ReviewGrant(adm, g.ID, "again"); relais.ErrorKind(err) != relais.KindConflict {
			t.Fatalf("second review: %v", err)
		}
		if pending, _ := db.AccessGrants(ctx, true); len(pending) != 0 {
			t.Fatalf("still pending: %+v", pending)
		}
		if all, _ := db.AccessGrants(ctx, false); len(all) != 1 {
			t.Fatalf("all = %+v", all)
		}
		acts := actions(t, db)
		if !contains(acts, "access.break_glass") || !contains(acts, "access.review") {
			t.Fatalf("journal: %v", acts)
		}
		auditOK(t, db)
	})
}
