package sqlstore_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/clinical"
	"github.com/relais-onco/relais/internal/testdb"
	"github.com/relais-onco/relais/sqlstore"
)

// seedCatalogue adds the drugs and diluents of ABVD. inns is the order to
// add the drugs in: two sites adding them in another order get other ids.
func seedCatalogue(t *testing.T, db *sqlstore.DB, inns ...string) {
	t.Helper()
	ctx := asRole(relais.RolePharmAdmin, "catalogue")
	classes := map[string]relais.DrugClass{"doxorubicine": relais.ClassAnthracycline, "bléomycine": relais.ClassBleomycin,
		"vinblastine": relais.ClassVincaAlkaloid, "dacarbazine": relais.ClassAlkylating, "ondansétron": relais.ClassSupportive}
	if len(inns) == 0 {
		inns = []string{"doxorubicine", "bléomycine", "vinblastine", "dacarbazine", "ondansétron"}
	}
	for _, inn := range inns {
		if _, err := db.CreateDrug(ctx, relais.Drug{INN: inn, Class: classes[inn], Cytotoxic: classes[inn] != relais.ClassSupportive}); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []relais.Diluent{{Name: "NaCl 0.9%", VolumesML: []float64{50, 100, 250, 500}}, {Name: "G5%", VolumesML: []float64{100, 250, 500}}} {
		if _, err := db.CreateDiluent(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
}

func perM2(dose float64, unit string) clinical.Rule {
	return clinical.Rule{Kind: "per_m2", Dose: dose, Unit: unit}
}

// abvd is ABVD as published: doxorubicin 25 mg/m², bleomycin 10 U/m²,
// vinblastine 6 mg/m², dacarbazine 375 mg/m², days 1 and 15, every 28 days
// (Canellos GP et al., N Engl J Med 1992;327:1478–84).
func abvd() relais.ProtocolContent {
	days := []int{1, 15}
	return relais.ProtocolContent{
		Cycles: relais.Cycles{Count: 6, LengthDays: 28},
		Days:   days,
		Lines: []relais.ProtocolLine{
			{Seq: 1, Kind: relais.LineChemo, INN: "doxorubicine", Dose: perM2(25, "mg"), Route: relais.RouteIV, Days: days, Vehicle: "NaCl 0.9%", VolumeML: 100, DurationMin: 15},
			{Seq: 2, Kind: relais.LineChemo, INN: "bléomycine", Dose: perM2(10, "U"), Route: relais.RouteIV, Days: days, Vehicle: "NaCl 0.9%", VolumeML: 100, DurationMin: 15},
			{Seq: 3, Kind: relais.LineChemo, INN: "vinblastine", Dose: perM2(6, "mg"), Route: relais.RouteIV, Days: days, Vehicle: "NaCl 0.9%", VolumeML: 50, DurationMin: 10},
			{Seq: 4, Kind: relais.LineChemo, INN: "dacarbazine", Dose: perM2(375, "mg"), Route: relais.RouteIV, Days: days, Vehicle: "G5%", VolumeML: 250, DurationMin: 60},
		},
		Criteria: []relais.Criterion{{Lab: "neutrophils", Op: ">=", Value: 1, Unit: "G/L"}, {Lab: "platelets", Op: ">=", Value: 100, Unit: "G/L"}},
		CumulativeLimits: []relais.CumulativeLimit{{Class: relais.ClassAnthracycline, Limit: 450, Unit: "mg/m²"},
			{INN: "bléomycine", Limit: 400, Unit: "U"}},
		Source: "Canellos GP et al. N Engl J Med 1992;327:1478-84",
	}
}

func newABVD(t *testing.T, db *sqlstore.DB, ctx context.Context) relais.ProtocolDetail {
	t.Helper()
	p, err := db.CreateProtocol(ctx, relais.NewProtocol{Code: "ABVD", Name: "ABVD", Indication: "Hodgkin lymphoma",
		Population: relais.Adult, Content: abvd()})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestProtocolLifecycle(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		db := open(t, dsn)
		seedCatalogue(t, db)
		author := asRole(relais.RolePharmacist, "ph.author")
		approver := asRole(relais.RolePharmAdmin, "ph.approver")
		nurse := asRole(relais.RoleNurse, "ide")

		p := newABVD(t, db, author)
		v := p.Versions[0]
		if v.Number != 1 || v.Status != relais.VersionDraft || v.Author.Username != "ph.author" || v.Revision != 1 {
			t.Fatalf("version 1: %+v", v)
		}
		for _, l := range v.Content.Lines {
			if l.ID == "" || l.DrugID == "" {
				t.Fatalf("line not resolved: %+v", l)
			}
		}
		if _, err := db.CreateProtocol(author, relais.NewProtocol{Code: "abvd", Name: "x", Indication: "x", Population: relais.Adult, Content: abvd()}); relais.ErrorKind(err) != relais.KindConflict || !hasField(err, "code") {
			t.Fatalf("duplicate code in another case: %v", err)
		}

		// Edit the draft: keep line ids, change a dose.
		c := v.Content
		c.Lines[2].Dose.Dose = 6
		c.Comments = "first edit"
		v, err := db.UpdateDraft(author, v.ID, relais.DraftUpdate{Revision: 1, Content: c})
		if err != nil || v.Revision != 2 || v.Content.Comments != "first edit" {
			t.Fatalf("edit: %v", err)
		}
		if _, err := db.UpdateDraft(author, v.ID, relais.DraftUpdate{Revision: 1, Content: c}); relais.ErrorKind(err) != relais.KindConflict || !hasField(err, "revision") {
			t.Fatalf("stale edit: %v", err)
		}

		step := func(ctx context.Context, to relais.VersionStatus, comment string) (relais.ProtocolVersion, error) {
			return db.TransitionVersion(ctx, v.ID, relais.VersionTransition{To: to, Comment: comment})
		}
		if _, err := step(author, relais.VersionActive, ""); relais.ErrorKind(err) != relais.KindTransition || !strings.Contains(err.Error(), "draft") {
			t.Fatalf("draft → active: %v", err)
		}
		if _, err := step(nurse, relais.VersionInTest, ""); relais.ErrorKind(err) != relais.KindForbidden {
			t.Fatalf("nurse submits: %v", err)
		}
		if v, err = step(author, relais.VersionInTest, "ready for test"); err != nil || v.Status != relais.VersionInTest {
			t.Fatalf("submit: %v", err)
		}
		// Frozen: an edit names the status.
		if _, err := db.UpdateDraft(author, v.ID, relais.DraftUpdate{Revision: v.Revision, Content: c}); relais.ErrorKind(err) != relais.KindConflict || !strings.Contains(err.Error(), "in_test") {
			t.Fatalf("edit in test: %v", err)
		}
		if _, err := step(approver, relais.VersionDraft, ""); !hasField(err, "comment") {
			t.Fatalf("back to draft without a reason: %v", err)
		}
		if v, err = step(approver, relais.VersionDraft, "vinblastine line: add the flush"); err != nil || v.Status != relais.VersionDraft {
			t.Fatalf("back to draft: %v", err)
		}
		if v, err = step(author, relais.VersionInTest, ""); err != nil {
			t.Fatal(err)
		}
		// Four-eyes: the author cannot approve, nor can anyone who edited.
		if _, err := step(author, relais.VersionActive, ""); relais.ErrorKind(err) != relais.KindForbidden || !strings.Contains(err.Error(), "four-eyes") {
			t.Fatalf("author approves: %v", err)
		}
		if _, err := step(relais.WithActor(context.Background(), relais.SystemActor("chu-test")), relais.VersionActive, ""); relais.ErrorKind(err) != relais.KindForbidden {
			t.Fatalf("Relais approves: %v", err)
		}
		if v, err = step(approver, relais.VersionActive, "approved"); err != nil {
			t.Fatal(err)
		}
		if v.Status != relais.VersionActive || v.Approver == nil || v.Approver.Username != "ph.approver" {
			t.Fatalf("active: %+v", v)
		}
		if _, err := db.UpdateDraft(author, v.ID, relais.DraftUpdate{Revision: v.Revision, Content: c}); relais.ErrorKind(err) != relais.KindConflict || !strings.Contains(err.Error(), "active") {
			t.Fatalf("edit active: %v", err)
		}
		v1 := v

		// Version 2: a copy, edited by someone else, approved by the author
		// of version 1 (who did not touch version 2).
		editor := asRole(relais.RolePharmacist, "ph.editor")
		v2, err := db.NewVersion(editor, p.ID, 1)
		if err != nil || v2.Number != 2 || v2.Status != relais.VersionDraft || v2.CopiedFrom != v1.ID {
			t.Fatalf("copy: %+v %v", v2, err)
		}
		for i := range v2.Content.Lines {
			if v2.Content.Lines[i].ID == v1.Content.Lines[i].ID {
				t.Fatal("a copied version shares line ids with its source")
			}
		}
		c2 := v2.Content
		c2.Lines[0].DurationMin = 10
		if v2, err = db.UpdateDraft(approver, v2.ID, relais.DraftUpdate{Revision: v2.Revision, Content: c2}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.TransitionVersion(editor, v2.ID, relais.VersionTransition{To: relais.VersionInTest}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.TransitionVersion(approver, v2.ID, relais.VersionTransition{To: relais.VersionActive}); relais.ErrorKind(err) != relais.KindForbidden || !strings.Contains(err.Error(), "edited") {
			t.Fatalf("an editor approves: %v", err)
		}
		if v2, err = db.TransitionVersion(author, v2.ID, relais.VersionTransition{To: relais.VersionActive}); err != nil {
			t.Fatal(err)
		}
		// Version 1 was retired by the activation of version 2.
		got, err := db.Protocol(context.Background(), p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Versions[0].Status != relais.VersionRetired || got.Versions[1].Status != relais.VersionActive || got.Active().Number != 2 {
			t.Fatalf("statuses %s %s", got.Versions[0].Status, got.Versions[1].Status)
		}
		ev := got.Versions[0].Events[len(got.Versions[0].Events)-1]
		if ev.Action != relais.EventRetired || !strings.Contains(ev.Comment, "version 2") {
			t.Fatalf("retirement event %+v", ev)
		}
		// The retired version is exactly what was approved.
		if !reflect.DeepEqual(got.Versions[0].Content, v1.Content) || got.Versions[0].ContentHash != v1.ContentHash {
			t.Fatal("the retired version's content changed")
		}
		if _, err := db.TransitionVersion(approver, v1.ID, relais.VersionTransition{To: relais.VersionActive}); relais.ErrorKind(err) != relais.KindTransition || !strings.Contains(err.Error(), "retired") {
			t.Fatalf("retired → active: %v", err)
		}
		if _, err := db.TransitionVersion(approver, v2.ID, relais.VersionTransition{To: relais.VersionRetired}); !hasField(err, "comment") {
			t.Fatalf("retire without a reason: %v", err)
		}

		// Diff v1 → v2: the one change, by line number.
		d := relais.DiffVersions(got.Versions[0], got.Versions[1])
		if len(d) != 1 || d[0].String() != "lines[1].duration_min: 15 → 10" {
			t.Fatalf("diff = %v", d)
		}

		list, err := db.Protocols(context.Background(), relais.ProtocolFilter{Population: relais.Adult, Status: relais.VersionActive})
		if err != nil || len(list) != 1 || list[0].ActiveVersion != 2 || len(list[0].Versions) != 2 {
			t.Fatalf("list: %+v %v", list, err)
		}
		if list, _ := db.Protocols(context.Background(), relais.ProtocolFilter{Population: relais.Paediatric}); len(list) != 0 {
			t.Fatalf("paediatric list: %+v", list)
		}
		checkAfterImages(t, db)
	})
}

// The database itself refuses to change a frozen version or delete one, and
// a content changed behind Relais's back is detected on read.
func TestFrozenVersionGuards(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		db := open(t, dsn)
		seedCatalogue(t, db)
		author := asRole(relais.RolePharmacist, "a")
		p := newABVD(t, db, author)
		v := p.Versions[0]
		if _, err := db.TransitionVersion(author, v.ID, relais.VersionTransition{To: relais.VersionInTest}); err != nil {
			t.Fatal(err)
		}
		q := func(s string) string {
			if db.Engine == sqlstore.Postgres {
				return strings.ReplaceAll(s, "?", "$1")
			}
			return s
		}
		ctx := context.Background()
		if _, err := db.SQL().ExecContext(ctx, q("UPDATE protocol_version SET content = '{}' WHERE id = ?"), v.ID); err == nil || !strings.Contains(err.Error(), "frozen") {
			t.Fatalf("direct update of a frozen version: %v", err)
		}
		if _, err := db.SQL().ExecContext(ctx, q("DELETE FROM protocol_version WHERE id = ?"), v.ID); err == nil || !strings.Contains(err.Error(), "never deleted") {
			t.Fatalf("direct delete: %v", err)
		}
		// A draft changed outside Relais no longer matches its hash.
		v2, err := db.NewVersion(author, p.ID, 1)
		if err != nil {
			t.Fatal(err)
		}
		tampered := strings.Replace(mustMarshal(t, v2.Content), `"dose":25`, `"dose":250`, 1)
		if _, err := db.SQL().ExecContext(ctx, q("UPDATE protocol_version SET content = '"+tampered+"' WHERE id = ?"), v2.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ProtocolVersion(ctx, v2.ID); relais.ErrorKind(err) != relais.KindIntegrity {
			t.Fatalf("tampered draft read: %v", err)
		}
	})
}

func TestProtocolFaultsAreAllReported(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		db := open(t, dsn)
		seedCatalogue(t, db)
		c := abvd()
		c.Days = []int{1, 15, 29}            // day 29 of a 28-day cycle
		c.Lines[1].Dose.Kind = "per_m3"      // unknown rule kind
		c.Lines[2].Days = []int{8}           // not a day of the version
		c.Lines[3].INN = "dacarbazin"        // not in the catalogue
		c.Lines[0].Vehicle = "NaCl 0,9 %"    // not a catalogue diluent
		c.Criteria[0].Unit = "/mm3"          // neutrophils are in G/L
		c.CumulativeLimits[0].Unit = "mg/m2" // not a known unit
		c.Lines = append(c.Lines, relais.ProtocolLine{Seq: 4, Kind: relais.LineSupportive, INN: "ondansétron",
			Dose: clinical.Rule{Kind: "flat", Dose: 8, Unit: "mg"}, Route: relais.RoutePO, Days: []int{1}}) // seq 4 twice
		_, err := db.CreateProtocol(asRole(relais.RolePharmacist, "a"), relais.NewProtocol{Code: "ABVD", Name: "ABVD",
			Indication: "Hodgkin", Population: relais.Adult, Content: c})
		// The content's faults and the catalogue's, together.
		want := []string{"content.days[2]", "content.lines[1].dose.kind", "content.lines[2].days[0]",
			"content.criteria[0].unit", "content.cumulative_limits[0].unit", "content.lines[4].seq",
			"content.lines[3].inn", "content.lines[0].vehicle"}
		for _, f := range want {
			if !hasField(err, f) {
				t.Errorf("%s not reported in %v", f, fieldsOf(err))
			}
		}
		if list, _ := db.Protocols(context.Background(), relais.ProtocolFilter{}); len(list) != 0 {
			t.Fatalf("a refused protocol was written: %+v", list)
		}
	})
}

// Export at one site, import at another whose drug ids differ: the same
// content; a second import makes a new draft version.
func TestExportImportRoundTrip(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		a := open(t, dsn)
		seedCatalogue(t, a)
		author, approver := asRole(relais.RolePharmacist, "a"), asRole(relais.RolePharmAdmin, "b")
		p := newABVD(t, a, author)
		v := p.Versions[0]
		for _, to := range []relais.VersionStatus{relais.VersionInTest, relais.VersionActive} {
			ctx := author
			if to == relais.VersionActive {
				ctx = approver
			}
			var err error
			if v, err = a.TransitionVersion(ctx, v.ID, relais.VersionTransition{To: to}); err != nil {
				t.Fatal(err)
			}
		}
		doc, err := a.ExportVersion(author, v.ID)
		if err != nil {
			t.Fatal(err)
		}
		if doc.Origin == nil || doc.Origin.Site != "chu-test" || doc.Origin.Status != relais.VersionActive || doc.Origin.ContentHash != v.ContentHash {
			t.Fatalf("origin %+v", doc.Origin)
		}
		data, err := relais.MarshalDocument(doc)
		if err != nil {
			t.Fatal(err)
		}

		// The second site: its own database, drugs added in another order.
		b, err := sqlstore.Open(context.Background(), secondDSN(t, dsn), sqlstore.Options{Site: "chg-test", Log: quiet})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		seedCatalogue(t, b, "ondansétron", "dacarbazine", "vinblastine", "bléomycine", "doxorubicine")
		parsed, err := relais.ParseDocument(data)
		if err != nil {
			t.Fatal(err)
		}
		res, err := b.ImportProtocol(asRole(relais.RolePharmacist, "c"), parsed)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Created || res.Version.Number != 1 || res.Version.Status != relais.VersionDraft || res.Protocol.Site != "chg-test" {
			t.Fatalf("import: %+v", res)
		}
		if !reflect.DeepEqual(res.Version.Content.Portable(), v.Content.Portable()) {
			t.Fatalf("imported content differs:\n%s\n%s", mustMarshal(t, res.Version.Content.Portable()), mustMarshal(t, v.Content.Portable()))
		}
		if res.Version.Content.Lines[0].DrugID == v.Content.Lines[0].DrugID {
			t.Fatal("the imported line points at the first site's drug id")
		}
		if res.Version.Origin == nil || res.Version.Origin.Site != "chu-test" {
			t.Fatalf("origin not kept: %+v", res.Version.Origin)
		}
		again, err := b.ImportProtocol(asRole(relais.RolePharmacist, "c"), parsed)
		if err != nil || again.Created || again.Version.Number != 2 {
			t.Fatalf("second import: %+v %v", again, err)
		}
		checkAfterImages(t, b)
	})
}

// An import with faults is refused whole: every fault named by its path in
// the document, and nothing written.
func TestImportWithErrorsWritesNothing(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		db := open(t, dsn)
		seedCatalogue(t, db, "doxorubicine", "vinblastine", "dacarbazine") // no bleomycin here
		ctx := asRole(relais.RolePharmAdmin, "admin")
		// The catalogue says dacarbazine is "other" here: a class mismatch.
		dac, err := db.DrugByINN(ctx, "dacarbazine")
		if err != nil {
			t.Fatal(err)
		}
		dac.Class = relais.ClassOther
		if _, err := db.UpdateDrug(ctx, dac); err != nil {
			t.Fatal(err)
		}
		p := relais.Protocol{Code: "ABVD", Name: "ABVD", Indication: "Hodgkin lymphoma", Population: relais.Adult}
		doc := relais.NewDocument(p, relais.ProtocolVersion{Content: abvd()}, map[string]relais.DrugClass{
			"doxorubicine": relais.ClassAnthracycline, "bléomycine": relais.ClassBleomycin,
			"vinblastine": relais.ClassVincaAlkaloid, "dacarbazine": relais.ClassAlkylating}, nil)
		doc.Lines[3].Vehicle = "Glucose 5 %"
		doc.Lines[2].Dose.Kind = "per_m3" // a fault of the document itself
		before, _ := db.JournalEntries(context.Background(), db.Site, 0, 0)

		_, err = db.ImportProtocol(asRole(relais.RolePharmacist, "a"), doc)
		for _, f := range []string{"lines[1].inn", "cumulative_limits[1].inn", "lines[3].vehicle", "drugs[1].class", "lines[2].dose.kind"} {
			if !hasField(err, f) {
				t.Errorf("%s not reported in %v", f, fieldsOf(err))
			}
		}
		if !strings.Contains(err.Error(), "bléomycine") {
			t.Errorf("the message does not name the missing drug: %v", err)
		}
		after, _ := db.JournalEntries(context.Background(), db.Site, 0, 0)
		if len(after) != len(before) {
			t.Fatalf("%d journal entries written by a refused import", len(after)-len(before))
		}
		if list, _ := db.Protocols(context.Background(), relais.ProtocolFilter{}); len(list) != 0 {
			t.Fatalf("a refused import wrote %+v", list)
		}
	})
}

// secondDSN is another fresh database on the same engine as dsn.
func secondDSN(t *testing.T, dsn string) string {
	if strings.HasPrefix(dsn, "postgres") {
		return testdb.Postgres(t)
	}
	return testdb.SQLite(t)
}

func mustMarshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
