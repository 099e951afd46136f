package harmonize_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/demo"
	"github.com/relais-onco/relais/harmonize"
	"github.com/relais-onco/relais/internal/natstest"
	"github.com/relais-onco/relais/internal/testdb"
	"github.com/relais-onco/relais/sqlstore"
	"github.com/relais-onco/relais/web"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// The database is what harmonize.Run needs.
var _ harmonize.Store = (*sqlstore.DB)(nil)

const password = "harmonisation-test-1"

// testSite is one hospital's Relais: its database with the demo library,
// its leaf node of the hub, its publisher and follower, its web server.
type testSite struct {
	id  string
	db  *sqlstore.DB
	nc  *nats.Conn
	as  map[string]context.Context // by username
	ts  *httptest.Server
	pub *harmonize.Publisher
	fol *harmonize.Follower
}

var testUsers = []relais.User{
	{Username: "ph.durand", Name: "Dr Paul Durand", Role: relais.RolePharmacist},
	{Username: "ph.roux", Name: "Dr Anne Roux", Role: relais.RolePharmacist},
	{Username: "admin.pharma", Name: "Marc Leroy", Role: relais.RolePharmAdmin},
	{Username: "dr.martin", Name: "Dr Claire Martin", Role: relais.RolePrescriber},
	{Username: "ide.petit", Name: "Sophie Petit", Role: relais.RoleNurse},
}

func startSite(t *testing.T, ctx context.Context, id, dsn string, hub *natstest.Server) *testSite {
	t.Helper()
	db, err := sqlstore.Open(ctx, dsn, sqlstore.Options{Site: id, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	sys := relais.WithActor(ctx, relais.SystemActor(id))
	s := &testSite{id: id, db: db, as: map[string]context.Context{}}
	for _, u := range testUsers {
		got, err := db.CreateUser(sys, u, password)
		if err != nil {
			t.Fatal(err)
		}
		s.as[u.Username] = relais.WithActor(ctx, got.Actor())
	}
	// The demo library (catalogue and 13 regimens from cited sources), each
	// version 1 active, written by ph.durand and approved by admin.pharma.
	if err := demo.LoadLibrary(sys, db); err != nil {
		t.Fatal(err)
	}

	leaf := natstest.Start(t, natstest.Options{Name: id, Domain: id, LeafRemotes: []string{natstest.LeafURL(t, hub)}})
	nc, err := nats.Connect(leaf.ClientURL(), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	s.nc = nc
	// The bucket lives in the hub's JetStream domain, shared by every site.
	js, err := jetstream.NewWithDomain(nc, "hub")
	if err != nil {
		t.Fatal(err)
	}
	s.pub = harmonize.NewPublisher(js, id, db)
	s.pub.Log, s.pub.Interval = quiet, 500*time.Millisecond
	db.OnCommit(s.pub.OnCommit)
	s.fol = harmonize.NewFollower(js, id, db)
	s.fol.Log = quiet

	srv := web.New(id, web.Services{Users: db, Patients: db, Catalogue: db, Protocols: db, Treatments: db, Production: db}, quiet)
	s.ts = httptest.NewServer(srv.Handler())
	t.Cleanup(s.ts.Close)
	if err := srv.ConfigureAuth(ctx, web.AuthConfig{}); err != nil {
		t.Fatal(err)
	}
	srv.SetReady()
	return s
}

func (s *testSite) run(ctx context.Context) {
	go s.pub.Run(ctx)
	go s.fol.Run(ctx)
}

// client is a browser signed in as username at the site.
type client struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func (s *testSite) signIn(t *testing.T, username string) *client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &client{t: t, base: s.ts.URL, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	if st, body := c.do("POST", "/api/v1/session", "application/json", `{"username":"`+username+`","password":"`+password+`"}`); st != http.StatusOK {
		t.Fatalf("sign-in as %s at %s: %d %s", username, s.id, st, body)
	}
	return c
}

func (c *client) do(method, path, ctype, body string) (int, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Accept-Language", "fr")
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func getJSON[T any](c *client, path string) T {
	c.t.Helper()
	st, body := c.do("GET", path, "", "")
	if st != http.StatusOK {
		c.t.Fatalf("GET %s: %d %s", path, st, body)
	}
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		c.t.Fatalf("GET %s: %v: %s", path, err, body)
	}
	return v
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("after %s: %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

func remoteCount(t *testing.T, s *testSite, site string) int {
	t.Helper()
	vs, err := s.db.RemoteVersions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, v := range vs {
		if v.Site == site {
			n++
		}
	}
	return n
}

// divergeVAPreop gives site s its own VA-PREOP v2, through the lifecycle:
// vincristine 1.4 mg/m² instead of 1.5, infused over 15 min instead of 10
// (a deliberate divergence for the tests, not a regimen).
func divergeVAPreop(t *testing.T, b *testSite) relais.ProtocolDetail {
	t.Helper()
	va, err := b.db.ProtocolByCode(b.as["ph.durand"], "VA-PREOP")
	if err != nil {
		t.Fatal(err)
	}
	v2, err := b.db.NewVersion(b.as["ph.durand"], va.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	content := v2.Content.Clone()
	if content.Lines[0].INN != "vincristine" || content.Lines[0].Dose.Dose != 1.5 || content.Lines[0].DurationMin != 10 {
		t.Fatalf("the demo's VA-PREOP changed: line 1 is %s", relais.LineSummary(content.Lines[0]))
	}
	content.Lines[0].Dose.Dose = 1.4
	content.Lines[0].DurationMin = 15
	if v2, err = b.db.UpdateDraft(b.as["ph.durand"], v2.ID, relais.DraftUpdate{Revision: v2.Revision, Content: content}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.db.TransitionVersion(b.as["ph.durand"], v2.ID, relais.VersionTransition{To: relais.VersionInTest}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.db.TransitionVersion(b.as["admin.pharma"], v2.ID, relais.VersionTransition{To: relais.VersionActive}); err != nil {
		t.Fatal(err)
	}
	return va
}

// The harmonisation of seed 000, phase 3, on three sites linked by a hub.
// Site A (the university hospital) and site C run the demo library as
// published; site B rewrote VA-PREOP (preoperative vincristine and
// dactinomycin for Wilms tumour, SIOP WT 2001) with a vincristine dose of
// 1.4 mg/m² instead of 1.5 and an infusion of 15 min instead of 10: a
// deliberate divergence for the test — the kind of local drift the
// harmonisation page is there to find — not a regimen.
func TestHarmonisationAcrossThreeSites(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		fresh := func() string {
			if strings.HasSuffix(t.Name(), "/postgres") {
				return testdb.Postgres(t)
			}
			return testdb.SQLite(t)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		hub := natstest.Start(t, natstest.Options{Name: "hub", Domain: "hub", LeafListen: true})
		a := startSite(t, ctx, "chu-aquitaine", dsn, hub)
		b := startSite(t, ctx, "chg-landes", fresh(), hub)
		c := startSite(t, ctx, "chg-dordogne", fresh(), hub)
		natstest.WaitLeafs(t, hub, 3)

		va := divergeVAPreop(t, b)

		for _, s := range []*testSite{a, b, c} {
			s.run(ctx)
		}
		took := waitFor(t, 15*time.Second, "B did not receive A's and C's 13 active versions", func() bool {
			return remoteCount(t, b, a.id) == 13 && remoteCount(t, b, c.id) == 13
		})
		t.Logf("B holds A's and C's libraries %s after the publishers started", took.Round(time.Millisecond))
		waitFor(t, 15*time.Second, "A did not receive B's library", func() bool { return remoteCount(t, a, b.id) == 13 })

		// B's pharmacy administrator reads the harmonisation API: every
		// regimen matched by code, identical at the three sites but
		// VA-PREOP, which differs from A's and C's by exactly two fields.
		admin := b.signIn(t, "admin.pharma")
		checkDiffs := func(when string, regs []harmonize.Regimen) {
			t.Helper()
			if len(regs) != 13 {
				t.Fatalf("%s: %d regimens, want the 13 of the demo library", when, len(regs))
			}
			want := []relais.Change{
				{Path: "lines[1].dose.dose", Kind: relais.ChangeModified, From: "1.4", To: "1.5"},
				{Path: "lines[1].duration_min", Kind: relais.ChangeModified, From: "15", To: "10"},
			}
			for _, r := range regs {
				if r.Local == nil || len(r.Comparisons) != 2 {
					t.Fatalf("%s: %s: local %v, %d comparisons, want a local protocol and A's and C's versions", when, r.Code, r.Local != nil, len(r.Comparisons))
				}
				for _, cmp := range r.Comparisons {
					if cmp.Match == nil || cmp.Match.Kind != harmonize.MatchCode || cmp.Match.Proposed {
						t.Errorf("%s: %s from %s matched %+v, want by code", when, r.Code, cmp.Remote.Site, cmp.Match)
					}
					if r.Code != "VA-PREOP" {
						if !cmp.Same {
							t.Errorf("%s: %s from %s differs: %v", when, r.Code, cmp.Remote.Site, cmp.Changes)
						}
						continue
					}
					if !slices.Equal(cmp.Changes, want) {
						t.Errorf("%s: VA-PREOP from %s: changes %v, want exactly %v", when, cmp.Remote.Site, cmp.Changes, want)
					}
					if cmp.Local.Reference.Number != 2 || cmp.Remote.Number != 1 {
						t.Errorf("%s: compared B v%d with v%d, want B v2 with v1", when, cmp.Local.Reference.Number, cmp.Remote.Number)
					}
				}
			}
		}
		checkDiffs("hub up", getJSON[[]harmonize.Regimen](admin, "/api/v1/harmonize"))

		// The page says it too, in French.
		st, page := admin.do("GET", "/harmonize/version?site=chu-aquitaine&code=VA-PREOP&number=1", "", "")
		if st != http.StatusOK {
			t.Fatalf("harmonisation page: %d %s", st, page)
		}
		for _, want := range []string{"2 différence(s)", "<del>1.4</del>", "<ins>1.5</ins>", "<del>15</del>", "<ins>10</ins>", "même code", "Adopter comme nouvelle version de VA-PREOP"} {
			if !strings.Contains(page, want) {
				t.Errorf("the comparison page lacks %q", want)
			}
		}
		if st, list := admin.do("GET", "/harmonize", "", ""); st != http.StatusOK || !strings.Contains(list, "VA-PREOP") || strings.Count(list, "identique") != 24 {
			t.Errorf("harmonisation list: %d, %d identical comparisons (want 24)", st, strings.Count(list, "identique"))
		}

		// Who may look, who may adopt.
		prescriber := b.signIn(t, "dr.martin")
		if st, body := prescriber.do("GET", "/harmonize/version?site=chu-aquitaine&code=VA-PREOP&number=1", "", ""); st != http.StatusOK || strings.Contains(body, "Adopter") {
			t.Errorf("prescriber: %d, adopt button shown: %v", st, strings.Contains(body, "Adopter"))
		}
		if st, _ := b.signIn(t, "ide.petit").do("GET", "/api/v1/harmonize", "", ""); st != http.StatusForbidden {
			t.Errorf("nurse reading harmonisation: %d, want 403", st)
		}
		adoptBody := `{"site":"chu-aquitaine","code":"VA-PREOP","number":1}`
		if st, _ := prescriber.do("POST", "/api/v1/harmonize/adopt", "application/json", adoptBody); st != http.StatusForbidden {
			t.Errorf("prescriber adopting: %d, want 403", st)
		}
		if st, _ := b.signIn(t, "ph.durand").do("POST", "/api/v1/harmonize/adopt", "application/json", adoptBody); st != http.StatusForbidden {
			t.Errorf("pharmacist adopting: %d, want 403 (adoption is the pharmacy administrator's)", st)
		}

		// A state change is republished: A retires ABVD, B's copy loses it.
		abvd, err := a.db.ProtocolByCode(a.as["admin.pharma"], "ABVD")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.db.TransitionVersion(a.as["admin.pharma"], abvd.Versions[0].ID,
			relais.VersionTransition{To: relais.VersionRetired, Comment: "remplacé par le protocole régional"}); err != nil {
			t.Fatal(err)
		}
		took = waitFor(t, 5*time.Second, "B still holds A's retired ABVD", func() bool { return remoteCount(t, b, a.id) == 12 })
		t.Logf("A's retirement of ABVD reached B's copy in %s", took.Round(time.Millisecond))

		// The hub goes down: B's page works from its copy.
		hub.Shutdown()
		hub.WaitForShutdown()
		regs := getJSON[[]harmonize.Regimen](admin, "/api/v1/harmonize")
		var vaReg *harmonize.Regimen
		for i := range regs {
			if regs[i].Code == "VA-PREOP" {
				vaReg = &regs[i]
			}
		}
		if vaReg == nil || vaReg.Differing() != 2 {
			t.Fatalf("hub down: VA-PREOP %+v", vaReg)
		}

		// B adopts A's version as a new draft, hub down: it comes from the
		// local copy, through the import, with its origin.
		st, body := admin.do("POST", "/api/v1/harmonize/adopt", "application/json", adoptBody)
		if st != http.StatusCreated {
			t.Fatalf("adopt: %d %s", st, body)
		}
		var res relais.ImportResult
		if err := json.Unmarshal([]byte(body), &res); err != nil {
			t.Fatal(err)
		}
		v3 := res.Version
		if res.Created || res.Protocol.ID != va.ID || v3.Number != 3 || v3.Status != relais.VersionDraft {
			t.Fatalf("adopted as %s v%d (%s), created %v; want a new draft v3 of B's VA-PREOP", res.Protocol.Code, v3.Number, v3.Status, res.Created)
		}
		if o := v3.Origin; o == nil || o.Site != a.id || o.Version != 1 || o.Status != relais.VersionActive || o.Approver == "" {
			t.Fatalf("the draft's origin: %+v", v3.Origin)
		}
		if !strings.Contains(v3.Events[0].Comment, "chu-aquitaine") {
			t.Errorf("the draft's creation event does not say where it came from: %+v", v3.Events[0])
		}
		aVA, err := a.db.ProtocolByCode(a.as["admin.pharma"], "VA-PREOP")
		if err != nil {
			t.Fatal(err)
		}
		if d := relais.DiffVersions(*aVA.Active(), v3); len(d) != 0 {
			t.Fatalf("the adopted draft differs from A's version: %v", d)
		}
		if v3.Author.Username != "admin.pharma" {
			t.Errorf("the draft's author is %q, want the adopter", v3.Author.Username)
		}

		// Then the normal lifecycle: to test, and activation by a second
		// person only.
		if _, err := b.db.TransitionVersion(b.as["admin.pharma"], v3.ID, relais.VersionTransition{To: relais.VersionInTest}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.db.TransitionVersion(b.as["admin.pharma"], v3.ID, relais.VersionTransition{To: relais.VersionActive}); relais.ErrorKind(err) == relais.KindOther || err == nil {
			t.Fatalf("the adopter activated their own draft: %v", err)
		}
		if _, err := b.db.TransitionVersion(b.as["ph.roux"], v3.ID, relais.VersionTransition{To: relais.VersionActive}); err != nil {
			t.Fatal(err)
		}
		regs = getJSON[[]harmonize.Regimen](admin, "/api/v1/harmonize")
		for _, r := range regs {
			if r.Code == "VA-PREOP" && (r.Local.Reference.Number != 3 || r.Differing() != 0) {
				t.Errorf("after adoption: B's reference v%d, %d site(s) differ; want v3, none", r.Local.Reference.Number, r.Differing())
			}
		}

		// The adoption is journaled at B like any import.
		if err := b.db.Read(b.as["admin.pharma"], func(tx *sqlstore.Tx) error {
			var n int
			err := tx.QueryRow("SELECT COUNT(*) FROM journal WHERE entity = 'protocol_version' AND entity_id = ?", string(v3.ID)).Scan(&n)
			if err == nil && n != 3 { // created, submitted, activated
				err = fmt.Errorf("%d journal entries for the adopted version, want 3", n)
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
	})
}

// The page's adopt form, as a browser posts it.
func TestAdoptFormRedirectsToTheNewDraft(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hub := natstest.Start(t, natstest.Options{Name: "hub", Domain: "hub", LeafListen: true})
	a := startSite(t, ctx, "chu-aquitaine", testdb.SQLite(t), hub)
	b := startSite(t, ctx, "chg-landes", testdb.SQLite(t), hub)
	natstest.WaitLeafs(t, hub, 2)
	res, err := a.pub.Sync(ctx)
	if err != nil || res != (harmonize.SyncResult{Published: 13}) {
		t.Fatalf("first publication: %+v %v, want the 13 active versions published", res, err)
	}
	// A second round with nothing changed writes nothing.
	if res, err = a.pub.Sync(ctx); err != nil || res != (harmonize.SyncResult{Unchanged: 13}) {
		t.Fatalf("second publication: %+v %v, want 13 unchanged", res, err)
	}
	if err := b.fol.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if n := remoteCount(t, b, a.id); n != 13 {
		t.Fatalf("B holds %d of A's versions, want 13", n)
	}
	admin := b.signIn(t, "admin.pharma")
	st, _ := admin.do("POST", "/harmonize/adopt", "application/x-www-form-urlencoded", "site=chu-aquitaine&code=BEP&number=1")
	if st != http.StatusSeeOther {
		t.Fatalf("adopt form: %d", st)
	}
	req, _ := http.NewRequest("POST", admin.base+"/harmonize/adopt", bytes.NewBufferString("site=chu-aquitaine&code=BEP&number=1"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := admin.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	bep, err := b.db.ProtocolByCode(b.as["admin.pharma"], "BEP")
	if err != nil {
		t.Fatal(err)
	}
	if len(bep.Versions) != 3 || !strings.HasPrefix(loc, "/protocols/"+string(bep.ID)+"/versions/3?ok=adopted") {
		t.Fatalf("after two adoptions: %d versions, redirected to %q", len(bep.Versions), loc)
	}
	st, page := admin.do("GET", loc, "", "")
	if st != http.StatusOK || !strings.Contains(page, "Version adoptée comme nouveau brouillon") {
		t.Fatalf("the new draft's page: %d, flash shown %v", st, strings.Contains(page, "Version adoptée"))
	}
	// In English too (the language then sticks).
	st, en := admin.do("GET", "/harmonize/version?site=chu-aquitaine&code=BEP&number=1&lang=en", "", "")
	if st != http.StatusOK || !strings.Contains(en, "same code") || !strings.Contains(en, "No difference") || strings.Contains(en, "Adopt as") {
		t.Errorf("the English comparison of an identical version: %d, same code %v, no difference %v, adopt offered %v",
			st, strings.Contains(en, "same code"), strings.Contains(en, "No difference"), strings.Contains(en, "Adopt as"))
	}
}

// The other layout: the hub runs no JetStream of its own use; each site
// publishes into a bucket of its own domain and follows the others' in
// theirs. A site's bucket can only speak for that site.
func TestPerSiteBuckets(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		fresh := func() string {
			if strings.HasSuffix(t.Name(), "/postgres") {
				return testdb.Postgres(t)
			}
			return testdb.SQLite(t)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		hub := natstest.Start(t, natstest.Options{Name: "hub", LeafListen: true})
		a := startSite(t, ctx, "chu-aquitaine", dsn, hub)
		b := startSite(t, ctx, "chg-landes", fresh(), hub)
		natstest.WaitLeafs(t, hub, 2)
		sites := []string{a.id, b.id}
		go harmonize.RunPerSite(ctx, a.nc, a.id, sites, a.db, quiet)
		go harmonize.RunPerSite(ctx, b.nc, b.id, sites, b.db, quiet)
		waitFor(t, 15*time.Second, "B did not receive A's 13 versions from A's own bucket", func() bool { return remoteCount(t, b, a.id) == 13 })
		waitFor(t, 15*time.Second, "A did not receive B's 13 versions", func() bool { return remoteCount(t, a, b.id) == 13 })

		// A key of a third site slipped into A's bucket is not taken.
		ownJS, err := jetstream.NewWithDomain(a.nc, a.id)
		if err != nil {
			t.Fatal(err)
		}
		kv, err := ownJS.KeyValue(ctx, harmonize.Bucket)
		if err != nil {
			t.Fatal(err)
		}
		spoof := remoteOf("chg-dordogne", libraryDoc(t, "bep.json"), 1)
		raw, _ := json.Marshal(spoof)
		if _, err := kv.Put(ctx, harmonize.Key("chg-dordogne", "BEP", 1), raw); err != nil {
			t.Fatal(err)
		}
		// Then a real change after it, in the same bucket: once it is in,
		// the spoofed key was seen before it.
		abvd, err := a.db.ProtocolByCode(a.as["admin.pharma"], "ABVD")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.db.TransitionVersion(a.as["admin.pharma"], abvd.Versions[0].ID,
			relais.VersionTransition{To: relais.VersionRetired, Comment: "remplacé par le protocole régional"}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, "B still holds A's retired ABVD", func() bool { return remoteCount(t, b, a.id) == 12 })
		if n := remoteCount(t, b, "chg-dordogne"); n != 0 {
			t.Fatalf("B took %d version(s) of chg-dordogne from chu-aquitaine's bucket", n)
		}
	})
}
