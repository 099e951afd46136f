package network_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/demo"
	"github.com/relais-onco/relais/internal/natstest"
	"github.com/relais-onco/relais/internal/testdb"
	"github.com/relais-onco/relais/journal"
	"github.com/relais-onco/relais/network"
	"github.com/relais-onco/relais/sqlstore"
)

// The three sites of the tests: the demo region's university hospital and
// two general hospitals.
const (
	siteA = "chu-aquitaine"
	siteB = "chg-landes"
	siteC = "chg-dordogne"
)

type site struct {
	id   string
	db   *sqlstore.DB
	key  ed25519.PrivateKey
	leaf *natstest.Server
	node *network.Node
}

type region struct {
	hub   *natstest.Server
	sites map[string]*site
	cfg   network.Config
	// A's leaf is restarted on the same port and store.
	aPort  int
	aStore string
}

func each(t *testing.T, fn func(t *testing.T, open func(testing.TB) string)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, testdb.SQLite) })
	t.Run("postgres", func(t *testing.T) { fn(t, testdb.Postgres) })
}

// newRegion starts a hub, a leaf node per site with its own JetStream
// domain, a database per site (A with the demo's patients), and the
// network node of each site.
func newRegion(t *testing.T, open func(testing.TB) string) *region {
	t.Helper()
	ctx := context.Background()
	r := &region{sites: map[string]*site{}}
	r.hub = natstest.Start(t, natstest.Options{Name: "hub", Domain: "hub", LeafListen: true})
	r.aPort, r.aStore = natstest.FreePort(t), t.TempDir()
	for _, id := range []string{siteA, siteB, siteC} {
		s := &site{id: id}
		o := natstest.Options{Name: "leaf-" + id, Domain: id, LeafRemotes: []string{natstest.LeafURL(t, r.hub)}}
		if id == siteA {
			o.Port, o.StoreDir = r.aPort, r.aStore
		}
		s.leaf = natstest.Start(t, o)
		var err error
		if s.db, err = sqlstore.Open(ctx, open(t), sqlstore.Options{Site: id, Log: quiet}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.db.Close() })
		if _, s.key, err = ed25519.GenerateKey(rand.Reader); err != nil {
			t.Fatal(err)
		}
		r.sites[id] = s
		r.cfg.Sites = append(r.cfg.Sites, network.SiteConfig{ID: id, Name: "Site " + id,
			PublicKey: journal.EncodePublicKey(s.key.Public().(ed25519.PublicKey))})
	}
	natstest.WaitLeafs(t, r.hub, 3)
	if _, err := demo.Load(ctx, r.sites[siteA].db, demo.Options{Patients: 8, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{siteA, siteB, siteC} {
		r.start(t, id)
	}
	return r
}

func (r *region) start(t *testing.T, id string) {
	t.Helper()
	s := r.sites[id]
	cfg := r.cfg
	cfg.Site, cfg.NATSURL = id, s.leaf.ClientURL()
	n, err := network.Start(context.Background(), network.Options{Config: cfg, DB: s.db, Key: s.key,
		Poll: 100 * time.Millisecond, MatchEvery: 500 * time.Millisecond})
	if err != nil {
		t.Fatalf("start %s: %v", id, err)
	}
	s.node = n
	t.Cleanup(n.Close)
}

func actor(site string, role relais.Role, name string) context.Context {
	return relais.WithActor(context.Background(), relais.Actor{UserID: relais.NewID(), Username: name, Name: name, Role: role, Site: site})
}

func waitFor(t *testing.T, what string, d time.Duration, ok func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		good, state := ok()
		if good {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s, %s: %s", d, what, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// remoteIDs lists the entry ids site s holds from site from about a patient.
func remoteIDs(t *testing.T, s *site, from string, patient relais.ID) []string {
	t.Helper()
	rows, err := s.db.SQL().Query(rebind(s.db, "SELECT entry_id FROM remote_event WHERE site = ? AND patient_id = ? ORDER BY entry_id"), from, patient)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		rows.Scan(&id)
		out = append(out, id)
	}
	return out
}

func countRemote(t *testing.T, s *site) int {
	t.Helper()
	var n int
	if err := s.db.SQL().QueryRow("SELECT COUNT(*) FROM remote_event").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func rebind(db *sqlstore.DB, q string) string {
	if db.Engine != sqlstore.Postgres {
		return q
	}
	out, n := "", 0
	for _, c := range q {
		if c == '?' {
			n++
			out += fmt.Sprintf("$%d", n)
			continue
		}
		out += string(c)
	}
	return out
}

// expectedIDs lists the entries A must send B about a patient: every entry
// about the patient of the shared entities, notes marked shareable only,
// and B's own share.
func expectedIDs(t *testing.T, a *site, patient relais.ID, to string) []string {
	t.Helper()
	es, err := a.db.PatientEntries(context.Background(), patient, 0, 1<<62)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		if _, dest, ok := relais.SharedPatientOf(e.Entity, relais.ID(e.EntityID), e.After); ok && (e.Entity != "network_share" || dest == to) {
			out = append(out, e.ID)
		}
	}
	sort.Strings(out)
	return out
}

// pickPatients returns a qualified patient of A treated with an
// anthracycline, and a patient whose identity is not qualified.
func pickPatients(t *testing.T, a *site) (qualified, weak relais.Patient, cumul []relais.CumulativeDose) {
	t.Helper()
	ctx := actor(siteA, relais.RolePharmacist, "ph.a")
	rows, err := a.db.SQL().Query("SELECT id FROM patient ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	var ids []relais.ID
	for rows.Next() {
		var id relais.ID
		rows.Scan(&id)
		ids = append(ids, id)
	}
	rows.Close()
	for _, id := range ids {
		p, err := a.db.Patient(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		h, err := a.db.History(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		c, err := relais.CumulativeTotals(h.Prescriptions, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		anth := len(c) > 0 && c[0].Class == "anthracycline" && c[0].Total > 0
		switch {
		case qualified.ID == "" && p.INS.Status == relais.IdentityQualified && anth:
			qualified, cumul = p, c
		case weak.ID == "" && p.INS.Status != relais.IdentityQualified:
			weak = p
		}
	}
	if qualified.ID == "" || weak.ID == "" {
		t.Fatalf("the demo has no qualified patient treated with an anthracycline (%v) or no unqualified one (%v)", qualified.ID, weak.ID)
	}
	return qualified, weak, cumul
}

// localCopy creates at s a patient with the same identity (the same child
// registered at the other hospital), with the given identity status.
func localCopy(t *testing.T, s *site, p relais.Patient, ins relais.INS, ipp string) relais.Patient {
	t.Helper()
	in := relais.PatientInput{IPP: ipp, INS: ins, BirthName: p.BirthName, UsedName: p.UsedName, FirstNames: p.FirstNames,
		BirthDate: p.BirthDate, Sex: p.Sex, BirthplaceCode: p.BirthplaceCode}
	q, err := s.db.CreatePatient(actor(s.id, relais.RolePrescriber, "dr.local"), in)
	if err != nil {
		t.Fatalf("local patient at %s: %v", s.id, err)
	}
	return q
}

func TestSharedPatientReachesOnlyItsSite(t *testing.T) {
	each(t, func(t *testing.T, open func(testing.TB) string) {
		r := newRegion(t, open)
		a, b, c := r.sites[siteA], r.sites[siteB], r.sites[siteC]
		p, weak, cumulA := pickPatients(t, a)
		// The same child is registered at B (qualified INS too) and at C,
		// whose care is never shared.
		q := localCopy(t, b, p, p.INS, "B0001")
		localCopy(t, c, p, p.INS, "C0001")
		docA := actor(siteA, relais.RolePrescriber, "dr.martin")

		start := time.Now()
		share, err := a.db.SharePatientCare(docA, p.ID, relais.ShareInput{ToSite: siteB, InformedBy: "Dr Claire Martin",
			InformedAt: time.Now().Add(-time.Hour), InformationNote: "information leaflet given to both parents"})
		if err != nil {
			t.Fatal(err)
		}
		want := expectedIDs(t, a, p.ID, siteB)
		waitFor(t, "B has P's whole history", 10*time.Second, func() (bool, string) {
			got := remoteIDs(t, b, siteA, p.ID)
			return fmt.Sprint(got) == fmt.Sprint(want), fmt.Sprintf("%d of %d entries", len(got), len(want))
		})
		t.Logf("%d entries of P's history at B %s after the share", len(want), time.Since(start).Round(time.Millisecond))
		// Then what is written at A reaches B within 2 s (issue 8).
		start = time.Now()
		first, err := a.db.AddNote(docA, relais.NoteInput{PatientID: p.ID, TargetKind: relais.NoteOnPatient, Shareable: true,
			Text: "Cycle bien toléré, pas de mucite."})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the note reaches B", 10*time.Second, func() (bool, string) {
			var n int
			b.db.SQL().QueryRow(rebind(b.db, "SELECT COUNT(*) FROM remote_event WHERE entity_id = ?"), first.ID).Scan(&n)
			return n == 1, "not yet"
		})
		if lag := time.Since(start); lag > 2*time.Second {
			t.Errorf("a shareable note written at A reached B after %s, want under 2 s", lag)
		} else {
			t.Logf("a new entry at A reached B in %s", lag.Round(time.Millisecond))
		}
		want = expectedIDs(t, a, p.ID, siteB)

		// Qualified INS on both sides: linked automatically.
		waitFor(t, "B links P to its own patient", 5*time.Second, func() (bool, string) {
			ls, err := b.db.PatientLinks(context.Background(), "")
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range ls {
				if l.RemotePatientID == p.ID && l.LocalPatientID == q.ID {
					return l.Status == relais.LinkAuto, l.Status
				}
			}
			return false, fmt.Sprintf("%d links", len(ls))
		})

		// B's patient page: A's history, and A's anthracycline doses in the
		// cumulative total (B gave none).
		h, err := b.db.NetworkHistory(actor(siteB, relais.RolePrescriber, "dr.b"), q.ID)
		if err != nil {
			t.Fatal(err)
		}
		remote := 0
		for _, e := range h.Entries {
			if e.Site == siteA {
				remote++
			}
		}
		if remote != len(want) {
			t.Errorf("B's network history shows %d entries of A, want %d", remote, len(want))
		}
		cumulB, err := relais.CumulativeTotals(h.RemotePrescriptions, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(cumulB) == 0 || cumulB[0].Total != cumulA[0].Total || cumulB[0].Unit != cumulA[0].Unit {
			t.Errorf("cumulative anthracycline dose at B = %+v, at A = %+v: B must count A's doses", cumulB, cumulA)
		}
		if len(h.Sites) != 1 || h.Sites[0].Site != siteA || h.Sites[0].ReceivedAt.IsZero() {
			t.Errorf("data age of A at B: %+v", h.Sites)
		}

		// C sees nothing of P, though C has the same child.
		time.Sleep(300 * time.Millisecond)
		if n := countRemote(t, c); n != 0 {
			t.Errorf("C received %d entries of a patient not shared with it", n)
		}
		if rps, _ := c.db.RemotePatients(context.Background()); len(rps) != 0 {
			t.Errorf("C lists %d remote patients", len(rps))
		}

		// A's link goes down; A keeps working; B catches up when it
		// comes back, with nothing lost or duplicated.
		a.leaf.Shutdown()
		a.leaf.WaitForShutdown()
		shareable, err := a.db.AddNote(docA, relais.NoteInput{PatientID: p.ID, TargetKind: relais.NoteOnPatient, Text: "Échographie cardiaque normale (FEVG 64 %).", Shareable: true})
		if err != nil {
			t.Fatalf("A must keep working while its link is down: %v", err)
		}
		private, err := a.db.AddNote(docA, relais.NoteInput{PatientID: p.ID, TargetKind: relais.NoteOnPatient, Text: "Note interne au service."})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
		if got := remoteIDs(t, b, siteA, p.ID); len(got) != len(want) {
			t.Fatalf("B received %d entries while A was down, had %d", len(got), len(want))
		}
		back := time.Now()
		a.leaf = natstest.Start(t, natstest.Options{Name: "leaf-a-again", Domain: siteA, Port: r.aPort, StoreDir: r.aStore,
			LeafRemotes: []string{natstest.LeafURL(t, r.hub)}})
		want = expectedIDs(t, a, p.ID, siteB)
		waitFor(t, "B catches up after A's link is back", 60*time.Second, func() (bool, string) {
			got := remoteIDs(t, b, siteA, p.ID)
			return fmt.Sprint(got) == fmt.Sprint(want), fmt.Sprintf("%d of %d entries", len(got), len(want))
		})
		t.Logf("B caught up %s after A's link came back", time.Since(back).Round(time.Millisecond))
		got := remoteIDs(t, b, siteA, p.ID)
		has := map[string]bool{}
		for _, id := range got {
			has[id] = true
		}
		if len(has) != len(got) {
			t.Errorf("duplicated entries at B")
		}
		for _, e := range mustEntries(t, a, p.ID) {
			if e.Entity == "note" && e.EntityID == string(shareable.ID) && !has[e.ID] {
				t.Errorf("the shareable note written while the link was down never reached B")
			}
		}
		var leaked int
		b.db.SQL().QueryRow(rebind(b.db, "SELECT COUNT(*) FROM remote_event WHERE entity_id = ?"), private.ID).Scan(&leaked)
		if leaked != 0 {
			t.Errorf("a note not marked shareable reached B")
		}

		// B cannot change A's data: a forged entry published as A (B does
		// not hold A's key) is refused, and A's prescription stays as it is.
		forge(t, r, p.ID)

		// A weaker identity: proposed to a pharmacist, never linked alone.
		wq := localCopy(t, b, weak, relais.INS{Status: relais.IdentityProvisional}, "B0002")
		if _, err := a.db.SharePatientCare(docA, weak.ID, relais.ShareInput{ToSite: siteB, InformedBy: "Dr Claire Martin",
			InformedAt: time.Now().Add(-time.Minute)}); err != nil {
			t.Fatal(err)
		}
		var proposal relais.PatientLink
		waitFor(t, "B proposes the weaker match", 10*time.Second, func() (bool, string) {
			ls, _ := b.db.PatientLinks(context.Background(), relais.LinkProposed)
			for _, l := range ls {
				if l.RemotePatientID == weak.ID && l.LocalPatientID == wq.ID {
					proposal = l
					return true, ""
				}
			}
			return false, fmt.Sprintf("%d proposals", len(ls))
		})
		hw, err := b.db.NetworkHistory(context.Background(), wq.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(hw.Links) != 0 || len(hw.RemotePrescriptions) != 0 {
			t.Errorf("a proposed link must not show the remote history before a pharmacist accepts it: %+v", hw.Links)
		}
		ph := actor(siteB, relais.RolePharmacist, "ph.b")
		if _, err := b.db.DecideLink(ph, proposal.ID, relais.LinkDecision{Accept: true, Note: "même date de naissance et mêmes parents"}); err != nil {
			t.Fatal(err)
		}
		if hw, _ = b.db.NetworkHistory(context.Background(), wq.ID); len(hw.Links) != 1 {
			t.Errorf("after acceptance, links = %+v", hw.Links)
		}

		// A read at B is logged at B, and sent to A.
		read := relais.RemoteRead{At: relais.Now(), UserID: "u-b", Username: "dr.b", Role: relais.RolePrescriber, OwnerSite: siteA,
			PatientID: p.ID, Purpose: "care", Route: "GET /patients/{id}"}
		if err := b.db.RecordRemoteReads(context.Background(), read); err != nil {
			t.Fatal(err)
		}
		if log, _ := b.db.PatientAccessLog(context.Background(), p.ID, time.Time{}, 10); len(log) != 1 || log[0].Username != "dr.b" {
			t.Errorf("B's access log: %+v", log)
		}
		b.node.Wake()
		waitFor(t, "A records B's read", 10*time.Second, func() (bool, string) {
			log, _ := a.db.PatientAccessLog(context.Background(), p.ID, time.Time{}, 50)
			for _, e := range log {
				if e.Username == "dr.b" && e.UserSite == siteB {
					return true, ""
				}
			}
			return false, fmt.Sprintf("%d reads", len(log))
		})

		// A revokes: B keeps the copy but no longer shows it.
		if _, err := a.db.RevokeShare(docA, share.ID, "the parents withdrew their consent"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "B hides the revoked patient", 10*time.Second, func() (bool, string) {
			_, _, err := b.db.RemotePatient(context.Background(), siteA, p.ID)
			return relais.ErrorKind(err) == relais.KindForbidden, fmt.Sprint(err)
		})
		if h, _ := b.db.NetworkHistory(context.Background(), q.ID); len(h.RemotePrescriptions) != 0 {
			t.Errorf("B still shows A's prescriptions after the revocation")
		}
		shares, _ := a.db.Shares(context.Background(), p.ID)
		if len(shares) != 1 || shares[0].Revoked == nil || shares[0].InformationNote == "" {
			t.Errorf("the revoked share must stay in the history: %+v", shares)
		}

		// Everything journaled at A and B still verifies.
		for _, s := range []*site{a, b} {
			rep, err := s.db.VerifyJournal(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if !rep.OK() {
				t.Errorf("audit at %s: %+v", s.id, rep)
			}
		}
	})
}

func mustEntries(t *testing.T, s *site, p relais.ID) []journal.Entry {
	t.Helper()
	es, err := s.db.PatientEntries(context.Background(), p, 0, 1<<62)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// forge publishes, from B's leaf node, A's latest prescription entry with a
// dose changed, on A's subject for B, once signed with B's key and once
// with a recomputed hash: B refuses both; its copy and A's rows stay.
func forge(t *testing.T, r *region, patient relais.ID) {
	t.Helper()
	a, b := r.sites[siteA], r.sites[siteB]
	var orig journal.Entry
	for _, e := range mustEntries(t, a, patient) {
		if e.Entity == "prescription" {
			orig = e
		}
	}
	if orig.ID == "" {
		t.Fatal("no prescription to forge")
	}
	var img map[string]any
	json.Unmarshal(orig.After, &img)
	lines := img["lines"].([]any)
	lines[0].(map[string]any)["dose"] = 9999
	forged := orig
	forged.ID = string(relais.NewID())
	forged.Seq = orig.Seq + 100000
	forged.After, _ = journal.Marshal(img)
	forged.Hash, _ = forged.ComputeHash()
	body, _ := json.Marshal(forged)
	nc, err := nats.Connect(b.leaf.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	before, _ := b.db.Peers(context.Background())
	m := nats.NewMsg(network.Subject(siteA, siteB, "prescription"))
	m.Data = body
	m.Header.Set(network.HeaderFrom, siteA)
	m.Header.Set(network.HeaderTo, siteB)
	m.Header.Set(network.HeaderKind, "entry")
	m.Header.Set(network.HeaderSig, "AAAA")
	if err := nc.PublishMsg(m); err != nil {
		t.Fatal(err)
	}
	nc.Flush()
	waitFor(t, "B refuses the forged entry", 10*time.Second, func() (bool, string) {
		ps, _ := b.db.Peers(context.Background())
		return len(ps) == 1 && len(before) == 1 && ps[0].Rejected > before[0].Rejected, fmt.Sprintf("%+v", ps)
	})
	var n int
	b.db.SQL().QueryRow(rebind(b.db, "SELECT COUNT(*) FROM remote_event WHERE entry_id = ?"), forged.ID).Scan(&n)
	if n != 0 {
		t.Errorf("the forged entry was stored at B")
	}
	now, err := a.db.JournalEntries(context.Background(), orig.Site, orig.Seq-1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(now) != 1 || now[0].ID != orig.ID || string(now[0].After) != string(orig.After) {
		t.Errorf("A's journal changed")
	}
	pr, err := a.db.Prescription(actor(siteA, relais.RolePharmacist, "ph.a"), relais.ID(orig.EntityID))
	if err != nil {
		t.Fatal(err)
	}
	if pr.Lines[0].Dose == 9999 {
		t.Errorf("A's prescription was changed from B")
	}
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))
