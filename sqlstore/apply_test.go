package sqlstore_test

import (
	"bytes"
	"context"
	"sort"
	"testing"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/continuity"
	"github.com/relais-onco/relais/demo"
	"github.com/relais-onco/relais/internal/testdb"
	"github.com/relais-onco/relais/journal"
	"github.com/relais-onco/relais/sqlstore"
)

// The appliers' contract: replaying a site's whole journal into a fresh
// database (each entry's after-image, in chain order, as a standby does)
// gives back every entity exactly — each loader reads the same canonical
// JSON from the copy as from the original — and the copy's audit finds
// nothing wrong.

func mustT(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// richSite fills db with work touching every kind of entity the services
// can make: the demo (sites, accounts, protocol library, patients with
// cycles of history) and then the rarer transitions (voidings, merges,
// corrections, tokens, passkeys, break-the-glass, resets, sign-on links).
func richSite(t *testing.T, db *sqlstore.DB) {
	t.Helper()
	ctx := context.Background()
	mustT(t, continuity.LoadSite(ctx, db))
	users, err := db.Users(ctx)
	mustT(t, err)
	as := map[string]context.Context{}
	byName := map[string]relais.User{}
	for _, u := range users {
		as[u.Username] = relais.WithActor(ctx, u.Actor())
		byName[u.Username] = u
	}
	doc, admin := as["dr.martin"], as["admin.pharma"]

	// A day of production: preparations released, delivered, given, a
	// tolerance set, a leftover vial recorded.
	team, err := continuity.NewTeam(ctx, db)
	mustT(t, err)
	regs, err := continuity.Regimens(ctx, db, team)
	mustT(t, err)
	var released []relais.Preparation
	for i := 0; i < 8 && len(released) < 3; i++ {
		preps, err := continuity.TreatPatient(ctx, db, team, regs[i%len(regs)], i)
		if err != nil {
			t.Logf("regimen %s: %v", regs[i%len(regs)].Code, err)
			continue
		}
		for _, p := range preps {
			if p.Mode == relais.ModeCompounded && p.Status == relais.PrepToPrepare && len(released) < 3 {
				got, err := continuity.Produce(ctx, db, team, p.ID)
				if err != nil {
					t.Logf("preparation %s: %v", p.ID, err)
					continue
				}
				released = append(released, got)
			}
		}
	}
	if len(released) < 2 {
		t.Fatalf("the fixture released %d preparations, want at least 2", len(released))
	}
	_, err = continuity.Deliver(ctx, db, team, released[:1])
	mustT(t, err)
	_, err = db.SetTolerance(team.Pharmacist, released[0].DrugID, 5)
	mustT(t, err)
	if lots, err := db.StockLots(team.Technician, released[0].Plan.Draws[0].ProductID); err == nil && len(lots) > 0 {
		p, _ := db.Product(ctx, lots[0].ProductID)
		storage := ""
		if len(p.Stability) > 0 {
			storage = p.Stability[0].Storage
		}
		if _, err := db.RecordLeftover(team.Technician, relais.LeftoverInput{LotID: lots[0].ID, RemainingVolumeML: 1, Storage: storage}); err != nil {
			t.Logf("leftover not recorded: %v", err)
		}
	}

	// Patients: identity changes, allergies, sharing, merges.
	in := func(ipp, name string) relais.PatientInput {
		return relais.PatientInput{IPP: ipp, BirthName: name, FirstNames: []string{"Léa", "Marie"}, BirthDate: "2015-03-02",
			Sex: relais.SexFemale, INS: relais.INS{Status: relais.IdentityProvisional}}
	}
	a, err := db.CreatePatient(doc, in("APPLY-1", "Dupont"))
	mustT(t, err)
	b, err := db.CreatePatient(doc, in("APPLY-2", "Dupond"))
	mustT(t, err)
	_, err = db.AddAllergy(doc, a.ID, relais.AllergyInput{Substance: "Pénicilline", Reaction: "urticaire", Severity: relais.SeverityModerate})
	mustT(t, err)
	pb, err := db.AddAllergy(doc, b.ID, relais.AllergyInput{Substance: "Iode", Severity: relais.SeverityUnknown})
	mustT(t, err)
	_, err = db.AddAllergy(doc, b.ID, relais.AllergyInput{Substance: "Latex", Severity: relais.SeveritySevere})
	mustT(t, err)
	_, err = db.VoidAllergy(doc, b.ID, pb.Allergies[0].ID, "saisie sur le mauvais patient")
	mustT(t, err)
	_, err = db.SharePatient(doc, b.ID, relais.SharingInput{Site: "chg-landes", InformationGivenAt: relais.Now().Add(-time.Hour), InformationGivenBy: "Dr Martin"})
	mustT(t, err)
	_, err = db.ChangePatientIPP(doc, a.ID, "APPLY-1B", "HL7 A47")
	mustT(t, err)
	used := "Martin"
	_, err = db.UpdatePatient(doc, a.ID, relais.PatientUpdate{UsedName: &used})
	mustT(t, err)
	_, err = db.MergePatients(doc, a.ID, b.ID, "doublon confirmé par l'identitovigilance")
	mustT(t, err)

	// Measurements and notes.
	w := 21.5
	m, err := db.RecordMeasurement(doc, a.ID, relais.MeasurementInput{Kind: "weight_kg", Value: &w, MeasuredAt: relais.Now().Add(-time.Hour)})
	mustT(t, err)
	_, err = db.VoidMeasurement(doc, m.ID, "pesée avec les vêtements")
	mustT(t, err)
	n, err := db.AddNote(doc, relais.NoteInput{PatientID: a.ID, TargetKind: "patient", Text: "Parents joignables au 06…", Shareable: true})
	mustT(t, err)
	_, err = db.AddNote(doc, relais.NoteInput{PatientID: a.ID, TargetKind: "patient", Text: "Parents joignables le soir", Corrects: n.ID})
	mustT(t, err)

	// Catalogue changes.
	drugs, err := db.Drugs(ctx)
	mustT(t, err)
	if len(drugs) > 0 {
		d := drugs[0]
		d.Comment = "relu par la pharmacie"
		_, err = db.UpdateDrug(admin, d)
		mustT(t, err)
	}
	dils, err := db.Diluents(ctx)
	mustT(t, err)
	if len(dils) > 0 {
		d := dils[0]
		d.Comment = "poches de 50 mL en rupture"
		_, err = db.UpdateDiluent(admin, d)
		mustT(t, err)
	}

	// Accounts: changes, tokens, passkeys, resets, single sign-on, break-the-glass.
	nurse := byName["ide.petit"]
	name := "Sophie Petit-Durand (IDE)"
	_, err = db.UpdateUser(admin, nurse.ID, relais.UserUpdate{Name: &name})
	mustT(t, err)
	_, err = db.SetUserDisabled(admin, byName["consult.reg"].ID, true)
	mustT(t, err)
	tok, _, err := db.CreateToken(admin, relais.TokenInput{UserID: byName["admin.dsi"].ID, Name: "standby", Permissions: []relais.Permission{relais.PermJournalRead}, ExpiresIn: 30})
	mustT(t, err)
	_, err = db.RevokeToken(admin, tok.ID)
	mustT(t, err)
	_, _, err = db.CreateToken(admin, relais.TokenInput{UserID: byName["admin.dsi"].ID, Name: "export", Permissions: []relais.Permission{relais.PermJournalRead}, ExpiresIn: 10})
	mustT(t, err)
	pk, err := db.AddPasskey(as["ide.petit"], relais.Passkey{UserID: nurse.ID, Name: "badge", CredentialID: "Y3JlZC0x", PublicKey: "cGstMQ", Credential: []byte(`{"id":"x"}`)})
	mustT(t, err)
	_, err = db.AddPasskey(as["ide.petit"], relais.Passkey{UserID: nurse.ID, Name: "clé USB", CredentialID: "Y3JlZC0y", PublicKey: "cGstMg", Credential: []byte(`{"id":"y"}`)})
	mustT(t, err)
	mustT(t, db.RemovePasskey(as["ide.petit"], nurse.ID, pk.ID))
	_, secret, err := db.IssuePasswordReset(admin, byName["prep.bernard"].ID, time.Hour)
	mustT(t, err)
	_, err = db.ResetPassword(ctx, secret, "un mot de passe assez long")
	mustT(t, err)
	_, _, err = db.IssuePasswordReset(admin, byName["prep.bernard"].ID, time.Hour)
	mustT(t, err)
	_, err = db.ExternalSignIn(ctx, relais.ExternalIdentity{Issuer: "https://idp.example", Subject: "s-42", Username: "dr.sso", Name: "Dr SSO", Role: relais.RolePrescriber})
	mustT(t, err)
	g, err := db.BreakGlass(as["ide.petit"], a.ID, "urgence de nuit")
	if err == nil {
		_, err = db.ReviewGrant(admin, g.ID, "justifié")
		mustT(t, err)
	} else {
		t.Logf("break-the-glass not exercised: %v", err)
	}
}

// copyChain replays site's chain from src into dst by pages, as a standby
// does.
func copyChain(t *testing.T, src, dst *sqlstore.DB) {
	t.Helper()
	ctx := context.Background()
	var after int64
	for {
		page, err := src.JournalEntries(ctx, src.Site, after, 500)
		mustT(t, err)
		if len(page) == 0 {
			return
		}
		if _, err := dst.ApplyChain(ctx, src.Site, page); err != nil {
			t.Fatalf("applying entries %d–%d: %v", page[0].Seq, page[len(page)-1].Seq, err)
		}
		after = page[len(page)-1].Seq
	}
}

func TestAppliersReproduceEveryEntity(t *testing.T) {
	if missing := sqlstore.EntitiesWithoutApplier(); len(missing) > 0 {
		t.Errorf("entities without an applier (a standby or a reintegration cannot reproduce them): %v", missing)
	}
	testdb.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		src, err := sqlstore.Open(ctx, dsn, sqlstore.Options{Site: demo.MainSite.ID, Log: quiet})
		mustT(t, err)
		defer src.Close()
		richSite(t, src)

		dst, err := sqlstore.Open(ctx, testdb.SQLite(t), sqlstore.Options{Site: demo.MainSite.ID, Log: quiet})
		mustT(t, err)
		defer dst.Close()
		copyChain(t, src, dst)

		// Every entity the journal describes reads back the same.
		entries, err := src.JournalEntries(ctx, src.Site, 0, 0)
		mustT(t, err)
		last := map[string]journal.Entry{}
		kinds := map[string]int{}
		for _, e := range entries {
			last[e.Entity+"\x00"+e.EntityID] = e
		}
		for _, e := range last {
			kinds[e.Entity]++
			want, werr := src.LoadEntityJSON(ctx, e.Entity, relais.ID(e.EntityID))
			got, gerr := dst.LoadEntityJSON(ctx, e.Entity, relais.ID(e.EntityID))
			if (werr == nil) != (gerr == nil) {
				t.Errorf("%s %s: read back from the original: %v; from the copy: %v", e.Entity, e.EntityID, werr, gerr)
				continue
			}
			if !bytes.Equal(want, got) {
				t.Errorf("%s %s differs in the copy:\noriginal: %s\ncopy:     %s", e.Entity, e.EntityID, want, got)
			}
		}
		var names []string
		for k, n := range kinds {
			names = append(names, k)
			_ = n
		}
		sort.Strings(names)
		t.Logf("%d entries, %d entities of %d kinds compared: %v", len(entries), len(last), len(kinds), names)
		for _, k := range sqlstore.RegisteredEntities() {
			if kinds[k] == 0 {
				t.Logf("entity %s is not exercised by this fixture", k)
			}
		}

		// The copy's audit is clean, and applying the same pages again
		// changes nothing (replay is idempotent).
		rep, err := dst.VerifyJournal(ctx)
		mustT(t, err)
		for _, f := range rep.Faults {
			t.Errorf("audit of the copy: %s", f)
		}
		chk, err := dst.Check(ctx)
		mustT(t, err)
		if !chk.OK() {
			t.Errorf("the copy does not pass relais check: %s", chk)
		}
		res, err := dst.ApplyChain(ctx, src.Site, entries)
		mustT(t, err)
		if res.Applied != 0 || res.Skipped != len(entries) {
			t.Errorf("replaying the whole chain again applied %d and skipped %d entries, want 0 and %d", res.Applied, res.Skipped, len(entries))
		}
	})
}

// A copy never continues from a chain it cannot vouch for: an altered
// entry is refused, and nothing of its page is applied.
func TestApplyChainRefusesAnAlteredEntry(t *testing.T) {
	ctx := context.Background()
	src, err := sqlstore.Open(ctx, testdb.SQLite(t), sqlstore.Options{Site: "chu-src", Log: quiet})
	mustT(t, err)
	defer src.Close()
	sys := relais.WithActor(ctx, relais.SystemActor("chu-src"))
	for _, s := range []relais.Site{{ID: "chg-a", Name: "CH A", Kind: "chg"}, {ID: "chg-b", Name: "CH B", Kind: "chg"}} {
		mustT(t, src.SaveSite(sys, s))
	}
	entries, err := src.JournalEntries(ctx, "chu-src", 0, 0)
	mustT(t, err)
	dst, err := sqlstore.Open(ctx, testdb.SQLite(t), sqlstore.Options{Site: "chu-src", Log: quiet})
	mustT(t, err)
	defer dst.Close()
	bad := append([]journal.Entry(nil), entries...)
	bad[1].After = []byte(`{"id":"chg-b","kind":"chg","name":"CH B (forged)"}`)
	if _, err := dst.ApplyChain(ctx, "chu-src", bad); err == nil || relais.ErrorKind(err) != relais.KindIntegrity {
		t.Fatalf("an altered entry was applied (err %v)", err)
	}
	h, err := dst.Head(ctx, "chu-src")
	mustT(t, err)
	if h.Seq != 0 {
		t.Errorf("after a refused page the copy's head is at %d, want 0: nothing of the page may be applied", h.Seq)
	}
	sites, err := dst.Sites(ctx)
	mustT(t, err)
	for _, s := range sites {
		if s.ID == "chg-a" || s.ID == "chg-b" {
			t.Errorf("site %s was applied from a refused page", s.ID)
		}
	}
}
