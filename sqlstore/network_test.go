package sqlstore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/internal/testdb"
	"github.com/relais-onco/relais/journal"
	"github.com/relais-onco/relais/sqlstore"
)

// Shares: bad input is refused naming its field; a share is revoked, never
// deleted; shares and links replay exactly (standby, reintegration) and
// pass the audit.
func TestSharesAndLinks(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		const here, there = "chu-aquitaine", "chg-landes"
		db, err := sqlstore.Open(ctx, dsn, sqlstore.Options{Site: here, Log: quiet})
		mustT(t, err)
		defer db.Close()
		sys := relais.WithActor(ctx, relais.SystemActor(here))
		mustT(t, db.SaveSite(sys, relais.Site{ID: there, Name: "CH des Landes", Kind: "chg"}))
		doc := relais.WithActor(ctx, relais.Actor{UserID: relais.NewID(), Username: "dr.martin", Name: "Dr Claire Martin", Role: relais.RolePrescriber, Site: here})
		p, err := db.CreatePatient(doc, relais.PatientInput{IPP: "NET-1", BirthName: "Moreau", FirstNames: []string{"Lucas"}, BirthDate: "2016-09-12",
			Sex: relais.SexMale, INS: relais.INS{Status: relais.IdentityProvisional}})
		mustT(t, err)
		good := relais.ShareInput{ToSite: there, InformedBy: "Dr Claire Martin", InformedAt: time.Now().Add(-time.Hour), InformationNote: "livret remis"}
		for _, c := range []struct {
			name, field string
			in          func(in relais.ShareInput) relais.ShareInput
		}{
			{"no site", "to_site", func(in relais.ShareInput) relais.ShareInput { in.ToSite = " "; return in }},
			{"unknown site", "to_site", func(in relais.ShareInput) relais.ShareInput { in.ToSite = "chg-nowhere"; return in }},
			{"this site", "to_site", func(in relais.ShareInput) relais.ShareInput { in.ToSite = here; return in }},
			{"nobody informed", "informed_by", func(in relais.ShareInput) relais.ShareInput { in.InformedBy = ""; return in }},
			{"no time", "informed_at", func(in relais.ShareInput) relais.ShareInput { in.InformedAt = time.Time{}; return in }},
			{"in the future", "informed_at", func(in relais.ShareInput) relais.ShareInput { in.InformedAt = time.Now().Add(time.Hour); return in }},
			{"before birth", "informed_at", func(in relais.ShareInput) relais.ShareInput {
				in.InformedAt = time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC)
				return in
			}},
		} {
			_, err := db.SharePatientCare(doc, p.ID, c.in(good))
			if relais.ErrorKind(err) != relais.KindInvalid {
				t.Errorf("%s: %v, want invalid", c.name, err)
				continue
			}
			named := false
			for _, fe := range relais.FieldErrors(err) {
				named = named || fe.Field == c.field
			}
			if !named {
				t.Errorf("%s: the error does not name %s: %v", c.name, c.field, err)
			}
		}
		s1, err := db.SharePatientCare(doc, p.ID, good)
		mustT(t, err)
		if _, err := db.SharePatientCare(doc, p.ID, good); relais.ErrorKind(err) != relais.KindConflict {
			t.Errorf("shared twice: %v", err)
		}
		if _, err := db.RevokeShare(doc, s1.ID, ""); relais.ErrorKind(err) != relais.KindInvalid {
			t.Errorf("revoked without a reason: %v", err)
		}
		_, err = db.RevokeShare(doc, s1.ID, "les parents retirent leur accord")
		mustT(t, err)
		if _, err := db.RevokeShare(doc, s1.ID, "encore"); relais.ErrorKind(err) != relais.KindTransition {
			t.Errorf("revoked twice: %v", err)
		}
		_, err = db.SharePatientCare(doc, p.ID, good) // shared again: a new share
		mustT(t, err)
		shares, err := db.Shares(ctx, p.ID)
		mustT(t, err)
		if len(shares) != 2 || shares[0].Revoked == nil || shares[0].Revoked.Reason != "les parents retirent leur accord" || shares[1].Revoked != nil {
			t.Errorf("history of shares: %+v", shares)
		}
		if sites, _ := db.ActiveShareSites(ctx, p.ID); len(sites) != 1 || sites[0] != there {
			t.Errorf("active share sites: %v", sites)
		}

		// A patient of Landes with the same traits and no qualified INS:
		// a proposal, decided by a pharmacist.
		rp := relais.Patient{ID: relais.NewID(), Site: there, IPP: "L-1", INS: relais.INS{Status: relais.IdentityValidated}, BirthName: "MOREAU",
			FirstNames: []string{"Lucas"}, BirthDate: "2016-09-12", Sex: relais.SexMale, Status: relais.PatientActive}
		after, _ := json.Marshal(rp)
		e := journal.Entry{ID: string(relais.NewID()), Time: time.Now().UTC(), Site: there, Action: "patient.create", Entity: "patient", EntityID: string(rp.ID), After: after}
		mustT(t, e.Seal(0, journal.GenesisHash))
		res, err := db.ApplyRemote(ctx, there, e)
		mustT(t, err)
		if again, _ := db.ApplyRemote(ctx, there, e); !res.Stored || again.Stored {
			t.Errorf("applied %v then %v: the copy must be idempotent", res.Stored, again.Stored)
		}
		altered := e
		altered.ID, altered.Seq = string(relais.NewID()), 2
		altered.Prev = e.Hash
		altered.After = json.RawMessage(bytes.Replace(after, []byte("MOREAU"), []byte("MOREL"), 1))
		if _, err := db.ApplyRemote(ctx, there, altered); relais.ErrorKind(err) != relais.KindIntegrity {
			t.Errorf("an entry whose hash does not match was accepted: %v", err)
		}
		made, err := db.MatchRemotePatients(ctx)
		mustT(t, err)
		if len(made) != 1 || made[0].Status != relais.LinkProposed || made[0].LocalPatientID != p.ID {
			t.Fatalf("match: %+v", made)
		}
		if again, _ := db.MatchRemotePatients(ctx); len(again) != 0 {
			t.Errorf("matching again made %d more links", len(again))
		}
		ph := relais.WithActor(ctx, relais.Actor{UserID: relais.NewID(), Username: "ph.durand", Name: "Dr Paul Durand", Role: relais.RolePharmacist, Site: here})
		if _, err := db.DecideLink(ph, made[0].ID, relais.LinkDecision{Accept: false}); relais.ErrorKind(err) != relais.KindInvalid {
			t.Errorf("a rejection without a reason: %v", err)
		}
		l, err := db.DecideLink(ph, made[0].ID, relais.LinkDecision{Accept: true, Note: "mêmes parents"})
		mustT(t, err)
		if l.Status != relais.LinkAccepted || l.DecidedBy == nil || l.DecidedBy.Name != "Dr Paul Durand" {
			t.Errorf("decided link: %+v", l)
		}

		// Audit, and an exact replay in a fresh database.
		rep, err := db.VerifyJournal(ctx)
		mustT(t, err)
		if !rep.OK() {
			t.Errorf("audit: %+v", rep.Faults)
		}
		dst, err := sqlstore.Open(ctx, testdb.SQLite(t), sqlstore.Options{Site: here, Log: quiet})
		mustT(t, err)
		defer dst.Close()
		copyChain(t, db, dst)
		for _, x := range []struct {
			entity string
			id     relais.ID
		}{{"network_share", s1.ID}, {"network_share", shares[1].ID}, {"network_link", l.ID}} {
			want, err := db.LoadEntityJSON(ctx, x.entity, x.id)
			mustT(t, err)
			got, err := dst.LoadEntityJSON(ctx, x.entity, x.id)
			mustT(t, err)
			if !bytes.Equal(want, got) {
				t.Errorf("%s differs in the copy:\n%s\n%s", x.entity, want, got)
			}
		}
	})
}
