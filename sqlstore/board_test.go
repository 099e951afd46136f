package sqlstore_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/internal/testdb"
)

// PatientsByID reads many patients at once as Patient reads each — names,
// sites, merged records and the sharing of all of them — without their
// allergies; an unknown id is left out.
func TestPatientsByIDReadsAsPatientDoes(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		db := open(t, dsn)
		ctx := actorCtx()
		for _, s := range []relais.Site{{ID: "chg-landes", Name: "CH de Mont-de-Marsan", Kind: "chg"}, {ID: "chg-bayonne", Name: "CH de Bayonne", Kind: "chg"}} {
			if err := db.SaveSite(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
		survivor := mustCreate(t, db, ctx, newPatient("8001", "Martin", []string{"Léa"}, "2015-03-12", relais.SexFemale))
		dup := mustCreate(t, db, ctx, newPatient("9001", "MARTIN", []string{"Lea"}, "2015-03-12", relais.SexFemale))
		other := mustCreate(t, db, ctx, newPatient("8002", "Le Gall", []string{"Maëlle", "Anne"}, "2016-01-02", relais.SexFemale))
		told := time.Date(2025, 1, 10, 14, 0, 0, 0, time.UTC)
		if _, err := db.SharePatient(ctx, dup.ID, relais.SharingInput{Site: "chg-landes", InformationGivenAt: told, InformationGivenBy: "Dr Martin"}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.SharePatient(ctx, other.ID, relais.SharingInput{Site: "chg-bayonne", InformationGivenAt: told, InformationGivenBy: "Dr Roux"}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.AddAllergy(ctx, other.ID, relais.AllergyInput{Substance: "Latex", Severity: relais.SeveritySevere}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.MergePatients(ctx, survivor.ID, dup.ID, "HL7 A40 from the EHR"); err != nil {
			t.Fatal(err)
		}
		got, err := db.PatientsByID(context.Background(), []relais.ID{other.ID, survivor.ID, "no-such-patient", other.ID, dup.ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 3 {
			t.Fatalf("%d patients read, want 3 (an unknown id left out): %v", len(got), got)
		}
		for _, id := range []relais.ID{survivor.ID, dup.ID, other.ID} {
			want, err := db.Patient(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			want.Allergies, want.FormerIPPs = nil, nil
			p := got[id]
			if len(p.MergedFrom) == 0 {
				p.MergedFrom = want.MergedFrom // nil or empty
			}
			if !reflect.DeepEqual(p, want) {
				t.Errorf("patient %s:\n got %+v\nwant %+v", want.IPP, p, want)
			}
		}
		if s := got[survivor.ID].SharedWith; len(s) != 1 || s[0].Site != "chg-landes" {
			t.Errorf("the survivor shares its duplicate's care with chg-landes: %+v", s)
		}
	})
}
