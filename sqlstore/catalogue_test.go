package sqlstore_test

import (
	"context"
	"strings"
	"testing"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/internal/testdb"
	"github.com/relais-onco/relais/journal"
	"github.com/relais-onco/relais/sqlstore"
)

// asRole is a context acting as a fresh user with role.
func asRole(role relais.Role, username string) context.Context {
	return relais.WithActor(context.Background(), relais.Actor{UserID: relais.NewID(), Username: username,
		Name: "Test " + username, Role: role, Site: "chu-test"})
}

// fieldsOf lists the fields an error names.
func fieldsOf(err error) []string {
	var out []string
	for _, f := range relais.FieldErrors(err) {
		out = append(out, f.Field)
	}
	return out
}

func hasField(err error, field string) bool {
	for _, f := range fieldsOf(err) {
		if f == field {
			return true
		}
	}
	return false
}

// A valid UCD code: 34008 + 9123456 + check digit. Check digit by hand
// (GS1 weights 1,3,1,3… from the left): 3+12+0+0+8+27+1+6+3+12+5+18 = 95
// for 340089123456 → 5; the same way 340089123457 → 2.
const (
	ucdA = "3400891234565"
	ucdB = "3400891234572"
)

func doxorubicinProduct(drugID relais.ID) relais.Product {
	return relais.Product{DrugID: drugID, Brand: "Doxorubicine test 2 mg/mL, 25 mL", UCD: ucdA, UCDDemo: true,
		Form: relais.FormSolution, Strength: 50, StrengthUnit: "mg", VolumeML: 25, Concentration: 2, DensityGML: 1.0,
		Stability: []relais.Stability{{Condition: relais.AfterOpening, Storage: "2-8°C", ProtectFromLight: true,
			DurationHours: 24, Source: "test entry"}}}
}

func TestCatalogue(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		db := open(t, dsn)
		ctx := asRole(relais.RolePharmAdmin, "admin")

		dox, err := db.CreateDrug(ctx, relais.Drug{INN: " Doxorubicine ", Class: relais.ClassAnthracycline, Cytotoxic: true})
		if err != nil {
			t.Fatal(err)
		}
		if dox.INN != "doxorubicine" || dox.Revision != 1 || dox.Site != "chu-test" {
			t.Fatalf("created %+v", dox)
		}
		// Same INN in another case: refused, naming inn.
		if _, err := db.CreateDrug(ctx, relais.Drug{INN: "DOXORUBICINE", Class: relais.ClassAnthracycline}); relais.ErrorKind(err) != relais.KindConflict || !hasField(err, "inn") {
			t.Fatalf("duplicate INN: %v", err)
		}
		if _, err := db.CreateDrug(ctx, relais.Drug{INN: "x", Class: "anthra"}); !hasField(err, "class") {
			t.Fatalf("bad class: %v", err)
		}
		// A nurse may not write the catalogue, whatever the caller.
		if _, err := db.CreateDrug(asRole(relais.RoleNurse, "ide"), relais.Drug{INN: "y", Class: relais.ClassOther}); relais.ErrorKind(err) != relais.KindForbidden {
			t.Fatalf("nurse: %v", err)
		}

		// Updates name the revision they read.
		dox.Comment = "anthracycline"
		up, err := db.UpdateDrug(ctx, dox)
		if err != nil || up.Revision != 2 || up.Comment != "anthracycline" {
			t.Fatalf("update: %+v %v", up, err)
		}
		if _, err := db.UpdateDrug(ctx, dox); relais.ErrorKind(err) != relais.KindConflict || !strings.Contains(err.Error(), "revision 1") {
			t.Fatalf("stale update: %v", err)
		}
		up.INN = "epirubicine"
		if _, err := db.UpdateDrug(ctx, up); !hasField(err, "inn") {
			t.Fatalf("INN change: %v", err)
		}

		// Products: every fault at once.
		bad := doxorubicinProduct(dox.ID)
		bad.UCD = "3400891234566"                                                                                                    // wrong check digit
		bad.Concentration = 20                                                                                                       // 50 mg in 25 mL is 2 mg/mL
		bad.Stability = append(bad.Stability, relais.Stability{Condition: relais.AfterDilution, Storage: "25°C", DurationHours: 48}) // no diluent, no source
		_, err = db.CreateProduct(ctx, bad)
		for _, f := range []string{"ucd", "concentration", "stability[1].diluent", "stability[1].source"} {
			if !hasField(err, f) {
				t.Errorf("bad product: %v does not name %s", err, f)
			}
		}
		p, err := db.CreateProduct(ctx, doxorubicinProduct(dox.ID))
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Stability) != 1 || p.Stability[0].ID == "" || p.DensityGML != 1.0 {
			t.Fatalf("product %+v", p)
		}
		dup := doxorubicinProduct(dox.ID)
		if _, err := db.CreateProduct(ctx, dup); relais.ErrorKind(err) != relais.KindConflict || !hasField(err, "ucd") {
			t.Fatalf("duplicate UCD: %v", err)
		}
		other := doxorubicinProduct(relais.NewID())
		other.UCD = ucdB
		if _, err := db.CreateProduct(ctx, other); !hasField(err, "drug_id") {
			t.Fatalf("unknown drug: %v", err)
		}

		// Stability entries: added and corrected one by one, never dropped
		// by a product update.
		p, err = db.AddStability(ctx, p.ID, relais.Stability{Condition: relais.AfterDilution, Storage: "2-8°C",
			DurationHours: 48, Diluent: "NaCl 0.9%", MinConcentration: 0.1, MaxConcentration: 2, Source: "test SmPC"})
		if err != nil || len(p.Stability) != 2 {
			t.Fatalf("add stability: %v", err)
		}
		if _, err := db.AddStability(ctx, p.ID, relais.Stability{Condition: "after_thawing", Storage: "x", DurationHours: 1, Source: "s"}); !hasField(err, "condition") {
			t.Fatalf("bad condition: %v", err)
		}
		fix := p.Stability[1]
		fix.DurationHours = 24
		if p, err = db.UpdateStability(ctx, p.ID, fix); err != nil || p.Stability[1].DurationHours != 24 {
			t.Fatalf("correct stability: %v", err)
		}
		p.Stability = p.Stability[:1]
		if _, err := db.UpdateProduct(ctx, p); !hasField(err, "stability") {
			t.Fatalf("an update dropping a stability entry: %v", err)
		}
		p.Stability = nil
		p.Brand = "Doxorubicine test (renamed)"
		if p, err = db.UpdateProduct(ctx, p); err != nil || len(p.Stability) != 2 || p.Brand != "Doxorubicine test (renamed)" {
			t.Fatalf("update product: %+v %v", p, err)
		}
		if list, err := db.Products(context.Background(), dox.ID); err != nil || len(list) != 1 {
			t.Fatalf("products of drug: %d %v", len(list), err)
		}

		// Diluents.
		d, err := db.CreateDiluent(ctx, relais.Diluent{Name: "NaCl 0.9%", VolumesML: []float64{50, 100, 250, 500}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.CreateDiluent(ctx, relais.Diluent{Name: "G5%", VolumesML: []float64{100, -1}}); !hasField(err, "volumes_ml[1]") {
			t.Fatalf("bad volume: %v", err)
		}
		d.VolumesML = append(d.VolumesML, 1000)
		if d, err = db.UpdateDiluent(ctx, d); err != nil || len(d.VolumesML) != 5 {
			t.Fatalf("update diluent: %v", err)
		}

		checkAfterImages(t, db)
	})
}

// checkAfterImages checks that the latest journal entry of every entity
// describes it exactly as it reads back now — what `relais audit verify`
// relies on.
func checkAfterImages(t *testing.T, db *sqlstore.DB) {
	t.Helper()
	entries, err := db.JournalEntries(context.Background(), db.Site, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	last := map[string]journal.Entry{}
	for _, e := range entries {
		last[e.Entity+"/"+e.EntityID] = e
	}
	if len(last) == 0 {
		t.Fatal("no journal entries")
	}
	err = db.Read(context.Background(), func(tx *sqlstore.Tx) error {
		for _, e := range last {
			v, ok, err := tx.LoadEntity(e.Entity, relais.ID(e.EntityID))
			if !ok {
				t.Errorf("entity %s is journaled but has no loader", e.Entity)
				continue
			}
			if err != nil {
				return err
			}
			got, err := journal.Marshal(v)
			if err != nil {
				return err
			}
			if string(got) != string(e.After) {
				t.Errorf("%s %s: journal after-image\n%s\ndiffers from the stored entity\n%s", e.Entity, e.EntityID, e.After, got)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
