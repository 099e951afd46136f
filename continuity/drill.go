package continuity

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"filippo.io/age"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/sqlstore"
	"github.com/relais-onco/relais/web"
)

// A drill is a whole crisis exercise on temporary copies, timed:
//
//  1. a main site (a demo site, or a snapshot of a real one) serves on a
//     loopback port and keeps working (a preparation released every
//     WorkEvery) while a standby follows it;
//  2. a signed, encrypted snapshot of the site is written and verified;
//  3. the site is cut off (its server stops mid-work); a pharmacist
//     declares the crisis on the standby — RPO is the age of the standby's
//     data at that moment, and the entries it never received are counted;
//  4. the crisis node works: patients included, prescribed, validated, and
//     the preparations made, checked and released — RTO is the machine time
//     from the declaration to the first released preparation;
//  5. the site comes back; the crisis work is reintegrated into it, timed;
//  6. `relais check` runs on both.
//
// Nothing here touches a real site: every database is in a temporary
// directory that is removed at the end.

// DrillOptions tune a drill.
type DrillOptions struct {
	Dir          string        // working directory (a temporary one when empty)
	Source       string        // a database DSN to drill on (a snapshot of it is taken); empty: a demo site
	Preparations int           // released on the crisis node (default 20)
	Reserve      int           // register numbers reserved (default Preparations + 10)
	WorkEvery    time.Duration // the site's pace before the cut (default 300 ms)
	WorkFor      time.Duration // how long the site works while followed (default 3 s)
	Wait         time.Duration // the standby's long-poll (default 2 s)
	Log          *slog.Logger
	Progress     io.Writer // step by step, when set
}

// DrillReport is what a drill measured.
type DrillReport struct {
	Site string `json:"site"`

	SnapshotCreate time.Duration `json:"snapshot_create"`
	SnapshotVerify time.Duration `json:"snapshot_verify"`
	SnapshotBytes  int64         `json:"snapshot_bytes"`

	StandbyApplied int64         `json:"standby_applied"` // entries the standby held at the cut
	SiteHead       int64         `json:"site_head"`       // entries the site had at the cut
	EntriesLost    int64         `json:"entries_lost"`    // written at the site, never received
	RPO            time.Duration `json:"rpo"`             // data age at the declaration
	RTO            time.Duration `json:"rto"`             // declaration → first released preparation
	Declare        time.Duration `json:"declare"`         // of which the declaration itself
	CrisisWork     time.Duration `json:"crisis_work"`     // all the crisis preparations
	Released       int           `json:"released"`        // preparations released in crisis
	CrisisEntries  int           `json:"crisis_entries"`  // entries of the crisis chain
	Reintegration  time.Duration `json:"reintegration"`   // replay + voiding
	Replayed       int           `json:"replayed"`        // entries replayed
	Unchanged      int           `json:"unchanged"`       // already as in crisis
	Queued         int           `json:"queued"`          // conflicts
	Voided         int           `json:"voided"`          // unused reserved numbers
	Duplicates     int           `json:"duplicates"`      // register numbers used twice (check)
	Gaps           int           `json:"gaps"`            // register gaps (check)
	SiteFaults     []string      `json:"site_faults"`     // relais check at the site afterwards
	NodeFaults     []string      `json:"node_faults"`     // relais check on the crisis node
	Total          time.Duration `json:"total"`
	Errors         []string      `json:"errors,omitempty"` // work that failed during the drill
}

// OK reports whether the drill met its targets of correctness: everything
// replayed or queued, no duplicate, no gap, both checks clean.
func (r DrillReport) OK() bool {
	return r.Replayed+r.Unchanged+r.Queued == r.CrisisEntries && r.Duplicates == 0 && r.Gaps == 0 &&
		len(r.SiteFaults) == 0 && len(r.NodeFaults) == 0
}

func (o *DrillOptions) defaults() {
	if o.Preparations == 0 {
		o.Preparations = 20
	}
	if o.Reserve == 0 {
		o.Reserve = o.Preparations + 10
	}
	if o.WorkEvery == 0 {
		o.WorkEvery = 300 * time.Millisecond
	}
	if o.WorkFor == 0 {
		o.WorkFor = 3 * time.Second
	}
	if o.Wait == 0 {
		o.Wait = 2 * time.Second
	}
	if o.Log == nil {
		o.Log = discard()
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
}

// Drill runs a whole exercise.
func Drill(ctx context.Context, o DrillOptions) (DrillReport, error) {
	o.defaults()
	var rep DrillReport
	start := time.Now()
	say := func(format string, args ...any) { fmt.Fprintf(o.Progress, format+"\n", args...) }
	dir := o.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "relais-drill-")
		if err != nil {
			return rep, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return rep, err
	}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return rep, err
	}

	// 1. The site.
	siteDSN := "sqlite:" + filepath.Join(dir, "site", "relais.db")
	var site *sqlstore.DB
	if o.Source != "" {
		say("Copying %s …", sqlstore.Redacted(o.Source))
		src, err := sqlstore.Open(ctx, o.Source, sqlstore.Options{ReadOnly: true, Log: o.Log})
		if err != nil {
			return rep, err
		}
		p := filepath.Join(dir, "source.snapshot")
		_, err = Create(ctx, src, p, CreateOptions{Recipients: []age.Recipient{id.Recipient()}, Key: key})
		src.Close()
		if err != nil {
			return rep, err
		}
		if site, _, _, err = Restore(ctx, p, []age.Identity{id}, nil, siteDSN, sqlstore.Options{Log: o.Log}); err != nil {
			return rep, err
		}
	} else {
		say("Building a demo site …")
		site, err = sqlstore.Open(ctx, siteDSN, sqlstore.Options{Site: "chu-aquitaine", Log: o.Log})
		if err != nil {
			return rep, err
		}
		if err := LoadSite(ctx, site); err != nil {
			site.Close()
			return rep, err
		}
	}
	defer site.Close()
	rep.Site = site.Site
	team, err := NewTeam(ctx, site)
	if err != nil {
		return rep, err
	}
	if err := Restock(ctx, site, team, 20*o.Preparations+100); err != nil {
		return rep, err
	}
	if _, err := site.ReserveRegisterBlock(team.Pharmacist, o.Reserve, "crise : numéros réservés pour le nœud de secours (exercice)"); err != nil {
		return rep, fmt.Errorf("reserving numbers: %w", err)
	}
	regs, err := Regimens(ctx, site, team)
	if err != nil || len(regs) == 0 {
		return rep, fmt.Errorf("the site has no active adult protocol to prescribe from (%v)", err)
	}
	token, err := drillToken(ctx, site)
	if err != nil {
		return rep, err
	}
	// The site's own log would report the standby's cut-off polls: not the
	// drill's business.
	srv := web.New(site.Site, web.Services{Users: site, Patients: site, Catalogue: site, Protocols: site, Treatments: site, Production: site}, discard())
	srv.SetReady()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return rep, err
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	defer hs.Close()

	// 2. The snapshot.
	t0 := time.Now()
	snap := filepath.Join(dir, "site.snapshot")
	h, err := Create(ctx, site, snap, CreateOptions{Recipients: []age.Recipient{id.Recipient()}, RecipientNames: []string{id.Recipient().String()}, Key: key})
	if err != nil {
		return rep, err
	}
	rep.SnapshotCreate, rep.SnapshotBytes = time.Since(t0), h.CiphertextSize
	t0 = time.Now()
	vr, err := Verify(ctx, snap, []age.Identity{id}, []ed25519.PublicKey{key.Public().(ed25519.PublicKey)}, nil)
	if err != nil {
		return rep, err
	}
	if !vr.OK() {
		return rep, fmt.Errorf("the drill's snapshot does not verify: %s", vr.Check)
	}
	rep.SnapshotVerify = time.Since(t0)
	say("Snapshot: %d bytes, written in %s, verified in %s", rep.SnapshotBytes, rep.SnapshotCreate.Round(time.Millisecond), rep.SnapshotVerify.Round(time.Millisecond))

	// 1 (cont.). The standby follows while the site works.
	sbDir := filepath.Join(dir, "standby")
	sb, err := OpenStandby(ctx, StandbyConfig{Source: "http://" + ln.Addr().String(), Token: token, Dir: sbDir, Wait: o.Wait, Log: o.Log,
		PackDebounce: time.Hour, PackEvery: 1000 * time.Hour})
	if err != nil {
		return rep, err
	}
	defer sb.DB.Close()
	follow, stopFollow := context.WithCancel(ctx)
	defer stopFollow()
	var followed sync.WaitGroup
	followed.Add(1)
	go func() {
		defer followed.Done()
		for follow.Err() == nil {
			if _, err := sb.PullOnce(follow, o.Wait); err != nil {
				select {
				case <-follow.Done():
				case <-time.After(200 * time.Millisecond):
				}
			}
		}
	}()
	say("Standby following; the site works for %s …", o.WorkFor)
	workEnd := time.Now().Add(o.WorkFor)
	for i := 0; time.Now().Before(workEnd); i++ {
		if _, err := releaseOne(ctx, site, team, regs, 1000+i); err != nil {
			rep.Errors = append(rep.Errors, "site: "+err.Error())
		}
		time.Sleep(o.WorkEvery)
	}
	// 3. The cut: the site's server stops mid-work; the standby keeps
	// trying until the declaration.
	hs.Close()
	siteHead, err := site.Head(ctx, site.Site)
	if err != nil {
		return rep, err
	}
	time.Sleep(o.Wait) // the standby notices
	stopFollow()
	followed.Wait()
	declared := time.Now()
	f, err := sb.DB.FollowStateOf(ctx, sb.DB.Site)
	if err != nil {
		return rep, err
	}
	rep.SiteHead, rep.StandbyApplied = siteHead.Seq, f.AppliedSeq
	rep.EntriesLost = siteHead.Seq - f.AppliedSeq
	node := sb.DB
	c, err := node.StartCrisis(ctx, sqlstore.CrisisDeclaration{Pharmacist: "ph.durand", Reason: "exercice : site injoignable (cyberattaque simulée)", DataTime: f.SyncedAt})
	if err != nil {
		return rep, err
	}
	rep.Declare = time.Since(declared)
	rep.RPO = c.DeclaredAt.Sub(c.DataTime)
	say("Crisis declared in %s; data age (RPO) %s; %d entries of the site never reached the standby", rep.Declare.Round(time.Millisecond), rep.RPO.Round(time.Millisecond), rep.EntriesLost)

	// 4. The crisis node works.
	crew, err := NewTeam(ctx, node)
	if err != nil {
		return rep, err
	}
	node.WriteLog(crew.Pharmacist, "pilot", "communication", "DSI et direction prévenues ; éditeur contacté (exercice)")
	node.WriteLog(crew.Pharmacist, "coordinator", "decision", "Les services appellent la pharmacie au poste 4321 (exercice)")
	workStart := time.Now()
	for i := 0; rep.Released < o.Preparations && i < 6*o.Preparations; i++ {
		preps, err := TreatPatient(ctx, node, crew, regs[i%len(regs)], i)
		if err != nil {
			rep.Errors = append(rep.Errors, "crisis: "+err.Error())
			continue
		}
		var made []relais.Preparation
		for _, p := range preps {
			if rep.Released >= o.Preparations || p.Mode != relais.ModeCompounded || p.Status != relais.PrepToPrepare {
				continue
			}
			got, err := Produce(ctx, node, crew, p.ID)
			if err != nil {
				rep.Errors = append(rep.Errors, "crisis: "+err.Error())
				continue
			}
			if rep.Released == 0 {
				rep.RTO = time.Since(declared)
			}
			rep.Released++
			made = append(made, got)
		}
		if len(made) > 0 {
			if _, err := Deliver(ctx, node, crew, made); err != nil {
				rep.Errors = append(rep.Errors, "crisis: "+err.Error())
			}
		}
	}
	rep.CrisisWork = time.Since(workStart)
	say("Crisis node: %d preparations released in %s; first one %s after the declaration (RTO)", rep.Released, rep.CrisisWork.Round(time.Millisecond), rep.RTO.Round(time.Millisecond))
	if rep.Released < o.Preparations {
		return rep, fmt.Errorf("only %d of %d preparations could be released in crisis: %s", rep.Released, o.Preparations, strings.Join(lastN(rep.Errors, 3), "; "))
	}
	entries, err := node.JournalEntries(ctx, node.ChainSite(), 0, 0)
	if err != nil {
		return rep, err
	}
	rep.CrisisEntries = len(entries)

	// 5. The site is back: reintegration.
	t0 = time.Now()
	rr, err := site.Reintegrate(team.Pharmacist, node.ChainSite(), entries)
	if err != nil {
		return rep, err
	}
	rep.Reintegration = time.Since(t0)
	rep.Replayed, rep.Unchanged, rep.Queued, rep.Voided = rr.Replayed, rr.Unchanged, rr.Queued, len(rr.Voided)
	say("Reintegrated %d entries in %s: %d replayed, %d unchanged, %d queued, %d numbers voided",
		rep.CrisisEntries, rep.Reintegration.Round(time.Millisecond), rep.Replayed, rep.Unchanged, rep.Queued, rep.Voided)

	// 6. Both check.
	for _, x := range []struct {
		db     *sqlstore.DB
		faults *[]string
	}{{site, &rep.SiteFaults}, {node, &rep.NodeFaults}} {
		chk, err := x.db.Check(ctx)
		if err != nil {
			return rep, err
		}
		*x.faults = []string{}
		for _, f := range chk.Faults {
			*x.faults = append(*x.faults, f.String())
			switch f.Check {
			case "register.duplicate":
				rep.Duplicates++
			case "register.gap":
				rep.Gaps++
			}
		}
	}
	rep.Total = time.Since(start)
	return rep, nil
}

func lastN(ss []string, n int) []string {
	if len(ss) > n {
		return ss[len(ss)-n:]
	}
	return ss
}

// releaseOne treats a patient and releases their first compounded
// preparation.
func releaseOne(ctx context.Context, db *sqlstore.DB, t Team, regs []Regimen, i int) (relais.Preparation, error) {
	var lastErr error
	for k := 0; k < len(regs); k++ {
		preps, err := TreatPatient(ctx, db, t, regs[(i+k)%len(regs)], i*10+k)
		if err != nil {
			lastErr = err
			continue
		}
		for _, p := range preps {
			if p.Mode == relais.ModeCompounded && p.Status == relais.PrepToPrepare {
				return Produce(ctx, db, t, p.ID)
			}
		}
	}
	return relais.Preparation{}, fmt.Errorf("no preparation could be released: %v", lastErr)
}

// drillToken makes an API token with journal.read for the standby.
func drillToken(ctx context.Context, db *sqlstore.DB) (string, error) {
	users, err := db.Users(ctx)
	if err != nil {
		return "", err
	}
	var admin, dsi relais.User
	for _, u := range users {
		switch u.Role {
		case relais.RolePharmAdmin:
			admin = u
		case relais.RoleITAdmin:
			dsi = u
		}
	}
	if admin.ID == "" || dsi.ID == "" {
		return "", fmt.Errorf("the drill needs a pharmacy administrator and an IT administrator account")
	}
	_, secret, err := db.CreateToken(relais.WithActor(ctx, admin.Actor()), relais.TokenInput{UserID: dsi.ID, Name: "drill standby",
		Permissions: []relais.Permission{relais.PermJournalRead}, ExpiresIn: 1})
	return secret, err
}

// String writes the report as the drill prints it.
func (r DrillReport) String() string {
	var b strings.Builder
	ms := func(d time.Duration) string { return d.Round(time.Millisecond).String() }
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "MISSED"
	}
	fmt.Fprintf(&b, "Drill of site %s\n", r.Site)
	fmt.Fprintf(&b, "  snapshot: %d bytes, created in %s, verified in %s\n", r.SnapshotBytes, ms(r.SnapshotCreate), ms(r.SnapshotVerify))
	fmt.Fprintf(&b, "  RPO (data age at the declaration): %s — target ≤ 10 s: %s; %d of %d entries never reached the standby\n",
		ms(r.RPO), verdict(r.RPO <= 10*time.Second), r.EntriesLost, r.SiteHead)
	fmt.Fprintf(&b, "  RTO (declaration → first released preparation): %s — target ≤ 60 s: %s (declaration itself %s)\n",
		ms(r.RTO), verdict(r.RTO > 0 && r.RTO <= 60*time.Second), ms(r.Declare))
	fmt.Fprintf(&b, "  crisis work: %d preparations released in %s; %d journal entries\n", r.Released, ms(r.CrisisWork), r.CrisisEntries)
	pct := 0.0
	if r.CrisisEntries > 0 {
		pct = 100 * float64(r.Replayed+r.Unchanged) / float64(r.CrisisEntries)
	}
	fmt.Fprintf(&b, "  reintegration: %s — %d replayed, %d unchanged (%.1f %%), %d queued for review, %d reserved numbers voided\n",
		ms(r.Reintegration), r.Replayed, r.Unchanged, pct, r.Queued, r.Voided)
	fmt.Fprintf(&b, "  register: %d duplicates, %d gaps; relais check: site %d faults, crisis node %d faults\n", r.Duplicates, r.Gaps, len(r.SiteFaults), len(r.NodeFaults))
	for _, f := range r.SiteFaults {
		fmt.Fprintf(&b, "    site FAULT %s\n", f)
	}
	for _, f := range r.NodeFaults {
		fmt.Fprintf(&b, "    node FAULT %s\n", f)
	}
	if len(r.Errors) > 0 {
		fmt.Fprintf(&b, "  %d steps of simulated work failed (the drill goes on): %s\n", len(r.Errors), strings.Join(lastN(r.Errors, 3), "; "))
	}
	fmt.Fprintf(&b, "  total %s — %s\n", ms(r.Total), map[bool]string{true: "PASSED", false: "FAILED"}[r.OK()])
	return b.String()
}
