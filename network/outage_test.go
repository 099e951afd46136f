package network_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/relais-onco/relais"
)

// The receiving site's outage (issue 8: "B cut off for a while then
// restored catches up with nothing lost or duplicated"; "the local copy of
// another site's history stays readable while that site is down"): B's leaf
// node is shut down while A keeps writing about a patient shared with B. B
// keeps working and still shows A's history as it had it; when B's link is
// back, B receives what A wrote meanwhile — every shareable entry, once,
// and nothing that is not shared. Then A's leaf node goes down: B still
// shows A's whole history, with its age.
func TestReceiverOutageCatchesUp(t *testing.T) {
	each(t, func(t *testing.T, open func(testing.TB) string) {
		ctx := context.Background()
		p := newPair(t, open, 100*time.Millisecond)
		a, b := p.sites[siteA], p.sites[siteB]
		docA := actor(siteA, relais.RolePrescriber, "dr.martin")
		docB := actor(siteB, relais.RolePrescriber, "dr.bernard")

		// The same child at both hospitals, identity qualified on both
		// sides with the same INS (a published NIR: « 2 06 12 75 111 005 …
		// sa clé est : 64 », lbcd78.fr, 2007): B links the two records.
		ins := relais.INS{Matricule: "206127511100564", OID: relais.OIDNIR, Status: relais.IdentityQualified}
		in := relais.PatientInput{IPP: "A0042", INS: ins, BirthName: "Lefèvre", FirstNames: []string{"Inès"},
			BirthDate: "2006-12-01", Sex: relais.SexFemale}
		pat, err := a.db.CreatePatient(docA, in)
		if err != nil {
			t.Fatal(err)
		}
		in.IPP = "B0042"
		q, err := b.db.CreatePatient(docB, in)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.db.SharePatientCare(docA, pat.ID, relais.ShareInput{ToSite: siteB, InformedBy: "Dr Claire Martin",
			InformedAt: time.Now().Add(-time.Hour), InformationNote: "information leaflet given to the patient and her parents"}); err != nil {
			t.Fatal(err)
		}
		note := func(text string, shareable bool) relais.Note {
			t.Helper()
			n, err := a.db.AddNote(docA, relais.NoteInput{PatientID: pat.ID, TargetKind: relais.NoteOnPatient, Text: text, Shareable: shareable})
			if err != nil {
				t.Fatalf("A must keep working: %v", err)
			}
			return n
		}
		note("Bilan pré-thérapeutique complet.", true)
		want := expectedIDs(t, a, pat.ID, siteB)
		waitFor(t, "B has the patient's history", 20*time.Second, func() (bool, string) {
			got := remoteIDs(t, b, siteA, pat.ID)
			return fmt.Sprint(got) == fmt.Sprint(want), fmt.Sprintf("%d of %d entries", len(got), len(want))
		})
		waitFor(t, "B links the patient to its own record", 10*time.Second, func() (bool, string) {
			h, err := b.db.NetworkHistory(docB, q.ID)
			return err == nil && len(h.Links) == 1, fmt.Sprint(err)
		})
		fromA := func(h relais.NetworkHistory) int {
			n := 0
			for _, e := range h.Entries {
				if e.Site == siteA {
					n++
				}
			}
			return n
		}

		// B is cut off. A keeps writing: shareable notes and one that is not.
		p.stopLeaf(siteB)
		var sentDuring []relais.ID
		for i := range 5 {
			sentDuring = append(sentDuring, note(fmt.Sprintf("J%d : pas de fièvre, NFS correcte.", i+1), true).ID)
		}
		private := note("Note interne au service, non partagée.", false)
		// A's publisher hands them to A's own stream (A's link is up).
		a.node.Wake()
		time.Sleep(time.Second)
		// B keeps working, and still shows A's history as it had it.
		if _, err := b.db.AddNote(docB, relais.NoteInput{PatientID: q.ID, TargetKind: relais.NoteOnPatient, Text: "Vue en consultation de proximité."}); err != nil {
			t.Fatalf("B must keep working while cut off: %v", err)
		}
		h, err := b.db.NetworkHistory(docB, q.ID)
		if err != nil {
			t.Fatalf("B's copy of A's history must stay readable while B is cut off: %v", err)
		}
		if n := fromA(h); n != len(want) {
			t.Errorf("while B is cut off, its timeline shows %d of A's entries, want the %d it had", n, len(want))
		}
		if _, evs, err := b.db.RemotePatient(docB, siteA, pat.ID); err != nil || len(evs) != len(want) {
			t.Errorf("while B is cut off, its copy of A's patient: %d entries, %v", len(evs), err)
		}

		// B's link is back: it catches up with what A wrote meanwhile.
		back := time.Now()
		p.startLeaf(t, siteB)
		want = expectedIDs(t, a, pat.ID, siteB)
		waitFor(t, "B catches up after its link is back", 60*time.Second, func() (bool, string) {
			got := remoteIDs(t, b, siteA, pat.ID)
			return fmt.Sprint(got) == fmt.Sprint(want), fmt.Sprintf("%d of %d entries", len(got), len(want))
		})
		t.Logf("B caught up %s after its link came back", time.Since(back).Round(time.Millisecond))
		// Nothing lost: each note written during the outage is there once.
		for _, id := range sentDuring {
			var n int
			b.db.SQL().QueryRow(rebind(b.db, "SELECT COUNT(*) FROM remote_event WHERE entity = 'note' AND entity_id = ?"), id).Scan(&n)
			if n != 1 {
				t.Errorf("note %s written during B's outage is at B %d times, want once", id, n)
			}
		}
		// Nothing duplicated, nothing not shared.
		var rows, distinct int
		b.db.SQL().QueryRow("SELECT COUNT(*), COUNT(DISTINCT entry_id) FROM remote_event").Scan(&rows, &distinct)
		if rows != distinct || rows != len(want) {
			t.Errorf("B holds %d entries (%d distinct), want %d", rows, distinct, len(want))
		}
		var leaked int
		b.db.SQL().QueryRow(rebind(b.db, "SELECT COUNT(*) FROM remote_event WHERE entity_id = ?"), private.ID).Scan(&leaked)
		if leaked != 0 {
			t.Errorf("a note not marked shareable reached B")
		}

		// A is down now: B still shows A's whole history, with its age.
		p.stopLeaf(siteA)
		time.Sleep(300 * time.Millisecond)
		h, err = b.db.NetworkHistory(docB, q.ID)
		if err != nil {
			t.Fatalf("B's copy of A's history must stay readable while A is down: %v", err)
		}
		if n := fromA(h); n != len(want) {
			t.Errorf("while A is down, B's timeline shows %d of A's entries, want %d", n, len(want))
		}
		if len(h.Sites) != 1 || h.Sites[0].Site != siteA || h.Sites[0].ReceivedAt.IsZero() || time.Since(h.Sites[0].ReceivedAt) < 0 {
			t.Errorf("while A is down, the age of A's data at B: %+v", h.Sites)
		}
		var text bool
		for _, e := range h.Entries {
			text = text || (e.Site == siteA && e.Entity == "note" && e.Summary.Text == "J5 : pas de fièvre, NFS correcte.")
		}
		if !text {
			t.Errorf("while A is down, B's timeline does not show the last note A wrote during B's outage")
		}

		for _, s := range []*site{a, b} {
			rep, err := s.db.VerifyJournal(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !rep.OK() {
				t.Errorf("audit at %s: %+v", s.id, rep)
			}
		}
	})
}
