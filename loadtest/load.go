// Package loadtest is Relais's load generator and crash campaign: simulated
// prescribers, pharmacists, technicians and nurses work the circuit through
// the real HTTP API and pages of a running server, from another process,
// with think times; it reports each operation's count, errors and latency
// percentiles, samples the server's resident memory, and records every
// write the server acknowledged so that a crash campaign (SIGKILL at
// seeded random points) can check that none was lost. `relais load` runs
// it; docs/campaigns.md explains it.
package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/relais-onco/relais"
)

// Config is one load run.
type Config struct {
	// Target is the server's base URL, e.g. http://127.0.0.1:8080.
	Target string
	// Users is how many people work at once; Duration how long they work
	// (after their sign-in), Think the mean pause between their actions.
	Users    int
	Duration time.Duration
	Think    time.Duration
	// RampUp spreads the sign-ins (default: a fifth of Duration, at most
	// 30 s): people do not all arrive in the same second, and each
	// password check costs the server 19 MiB for a moment.
	RampUp time.Duration
	// Seed makes the people's choices reproducible (the server's answers,
	// and so the exact interleaving, are not).
	Seed uint64
	// Admin and Password sign in the account that creates the load's
	// accounts (user.admin; the demo's admin.dsi by default).
	Admin, Password string
	// ServerPID is the server's process, whose RSS is sampled (0: none).
	ServerPID int
	// RSSLimitMB is the pass criterion on the server's RSS (default 300).
	RSSLimitMB float64
	// Force allows a target that is not on the loopback interface.
	Force bool
	// Progress, when not nil, receives a line of progress now and then.
	Progress io.Writer
}

func (c *Config) defaults() error {
	if c.Users <= 0 {
		c.Users = 10
	}
	if c.Users > 1000 {
		return relais.Invalid("load", "users", "at most 1000 simulated people (got %d): the load generator is bounded on purpose", c.Users)
	}
	if c.Duration <= 0 {
		c.Duration = 30 * time.Second
	}
	if c.Duration > 2*time.Hour {
		return relais.Invalid("load", "duration", "at most 2 h (got %s): the load generator is bounded on purpose", c.Duration)
	}
	if c.Think <= 0 {
		c.Think = 2 * time.Second
	}
	if c.RampUp <= 0 {
		c.RampUp = min(c.Duration/5, 30*time.Second)
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Admin == "" {
		c.Admin = "admin.dsi"
	}
	if c.Password == "" {
		c.Password = "relais-demo"
	}
	if c.RSSLimitMB <= 0 {
		c.RSSLimitMB = 300
	}
	return CheckLoopback(c.Target, c.Force)
}

// CheckLoopback refuses a target that is not on this machine's loopback
// interface, unless forced: a load run is not to be pointed at a hospital's
// production server by a typo.
func CheckLoopback(target string, force bool) error {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return relais.Invalid("load", "target", "give the server's address as http://127.0.0.1:PORT (got %q)", target)
	}
	if force {
		return nil
	}
	host := u.Hostname()
	ips := []net.IP{net.ParseIP(host)}
	if ips[0] == nil {
		addrs, err := net.LookupIP(host)
		if err != nil {
			return relais.Invalid("load", "target", "%s cannot be resolved: %v", host, err)
		}
		ips = addrs
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return relais.Invalid("load", "target", "%s is not on the loopback interface: the load runs against a server on this machine only (--force to override, never against a production server)", host)
		}
	}
	return nil
}

// Result is a run's report, written as JSON for the bench script.
type Result struct {
	Target     string         `json:"target"`
	Users      int            `json:"users"`
	Mix        map[string]int `json:"mix"`
	Seed       uint64         `json:"seed"`
	DurationS  float64        `json:"duration_s"`
	ThinkS     float64        `json:"think_s"`
	Started    time.Time      `json:"started"`
	Ended      time.Time      `json:"ended"`
	Total      OpResult       `json:"total"`
	PerSecond  float64        `json:"requests_per_second"`
	Operations []OpResult     `json:"operations"`
	// Flows are the people's completed pieces of work (a cycle prescribed
	// and signed, a preparation released, …).
	Flows        map[string]int `json:"flows"`
	Acknowledged int            `json:"acknowledged_writes"`
	// AckedEntities counts the entities with an acknowledged write, by kind.
	AckedEntities map[string]int `json:"acknowledged_entities"`
	RSS           *RSSReport     `json:"rss,omitempty"`
	ErrorSamples  []string       `json:"error_samples,omitempty"`
	Crash         *CrashReport   `json:"crash,omitempty"`
	Pass          bool           `json:"pass"`
	Failures      []string       `json:"failures,omitempty"`
}

// Run signs the people in, lets them work for cfg.Duration, and reports.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	l := newLoad(cfg)
	if err := l.setup(ctx); err != nil {
		return nil, err
	}
	l.rss.setPID(cfg.ServerPID)
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var sampling sync.WaitGroup
	if cfg.ServerPID > 0 {
		sampling.Add(1)
		go func() { defer sampling.Done(); l.rss.run(rctx, time.Second) }()
	}
	started := time.Now()
	l.rss.start = started
	work, stop := context.WithTimeout(rctx, cfg.RampUp+cfg.Duration)
	defer stop()
	l.progressEvery(work, 10*time.Second)
	l.people(work)
	cancel()
	sampling.Wait()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return l.result(started, time.Now()), nil
}

// load is one run's shared state.
type load struct {
	cfg    Config
	tr     *http.Transport
	rec    *recorder
	gate   *gate
	ledger *ledger
	rss    *rssSampler
	runID  string
	pass   string // the password of the load's accounts, this run

	mu       sync.Mutex
	claims   map[string]bool
	patients []patientRef
	versions map[relais.Population][]relais.ID
	enSus    map[relais.ID]bool // products on the liste en sus
	accounts []account
	flows    map[string]int
	ipp      int
	today    relais.Date
}

type patientRef struct {
	ID  relais.ID
	IPP string
}

type account struct {
	Username string
	Role     relais.Role
}

func newLoad(cfg Config) *load {
	tr := &http.Transport{Proxy: nil, MaxIdleConns: 2 * cfg.Users, MaxIdleConnsPerHost: 2 * cfg.Users, IdleConnTimeout: 90 * time.Second,
		DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext}
	rng := rand.New(rand.NewPCG(cfg.Seed, uint64(time.Now().UnixNano())))
	return &load{cfg: cfg, tr: tr, rec: newRecorder(), gate: newGate(), ledger: newLedger(), rss: &rssSampler{},
		runID: fmt.Sprintf("%06d", rng.IntN(1000000)), pass: fmt.Sprintf("load-%016x", rng.Uint64()),
		claims: map[string]bool{}, enSus: map[relais.ID]bool{}, versions: map[relais.Population][]relais.ID{}, flows: map[string]int{}, today: relais.Today()}
}

func (l *load) client(name string) *client {
	return newClient(l.cfg.Target, l.tr, l.rec, l.gate, name)
}

// mix shares n people among the roles: 30 % prescribers, 20 % pharmacists,
// 20 % technicians, 30 % nurses, at least one of each (and two
// technicians: a preparation is checked by someone other than its maker).
func mix(n int) []relais.Role {
	roles := []relais.Role{relais.RolePrescriber, relais.RolePharmacist, relais.RoleTechnician, relais.RoleTechnician, relais.RoleNurse}
	share := []struct {
		role relais.Role
		pct  float64
	}{{relais.RolePrescriber, 0.30}, {relais.RolePharmacist, 0.20}, {relais.RoleTechnician, 0.20}, {relais.RoleNurse, 0.30}}
	for len(roles) < n {
		// the role furthest below its share comes next
		best, gap := relais.RoleNurse, math.Inf(-1)
		for _, s := range share {
			have := 0
			for _, r := range roles {
				if r == s.role {
					have++
				}
			}
			if g := s.pct*float64(len(roles)+1) - float64(have); g > gap {
				best, gap = s.role, g
			}
		}
		roles = append(roles, best)
	}
	return roles[:max(n, 0)]
}

// setup signs the administrator in, makes (or resets) the load's accounts,
// receives stock for every product, and reads the protocol library.
func (l *load) setup(ctx context.Context) error {
	// Setup has its own recorder: its requests are not the people's.
	setupRec := newRecorder()
	mk := func() *client { return newClient(l.cfg.Target, l.tr, setupRec, newGate(), "setup") }
	admin := mk()
	if err := signIn(ctx, admin, l.cfg.Admin, l.cfg.Password); err != nil {
		return fmt.Errorf("signing in the administrator %s (--admin, --password): %w", l.cfg.Admin, err)
	}
	var users []relais.User
	if err := admin.api(ctx, "setup.users", "GET", "/users", nil, &users); err != nil {
		return fmt.Errorf("listing the accounts (the --admin account needs user.admin): %w", err)
	}
	byName := map[string]relais.User{}
	for _, u := range users {
		byName[u.Username] = u
	}
	count := map[relais.Role]int{}
	l.progress("setting up %d accounts (load-ROLE-NNN)…", l.cfg.Users)
	for _, role := range mix(l.cfg.Users) {
		count[role]++
		name := fmt.Sprintf("load-%s-%03d", strings.ReplaceAll(string(role), "_", "-"), count[role])
		u, ok := byName[name]
		if !ok {
			if err := admin.api(ctx, "setup.user", "POST", "/users", map[string]any{"username": name, "name": "Load " + name, "role": role}, &u); err != nil {
				return err
			}
		}
		var link struct {
			Link string `json:"link"`
		}
		if err := admin.api(ctx, "setup.reset", "POST", "/users/"+string(u.ID)+"/password-reset", nil, &link); err != nil {
			return err
		}
		_, secret, ok := strings.Cut(link.Link, "#")
		if !ok {
			return fmt.Errorf("the reset link of %s has no secret after #: %q", name, link.Link)
		}
		anon := mk()
		if err := anon.api(ctx, "setup.password", "POST", "/password-reset", map[string]string{"token": secret, "password": l.pass}, nil); err != nil {
			return err
		}
		l.accounts = append(l.accounts, account{Username: name, Role: role})
	}
	// A pharmacist receives a delivery of every product, and reads the
	// protocol library for the prescribers.
	ph := mk()
	for _, a := range l.accounts {
		if a.Role == relais.RolePharmacist {
			if err := signIn(ctx, ph, a.Username, l.pass); err != nil {
				return err
			}
			break
		}
	}
	var products []relais.Product
	if err := ph.api(ctx, "setup.products", "GET", "/products", nil, &products); err != nil {
		return err
	}
	expiry := relais.Date(time.Now().AddDate(1, 0, 0).Format(time.DateOnly))
	for i, p := range products {
		l.enSus[p.ID] = p.ListeEnSus
		in := relais.StockReceipt{ProductID: p.ID, Lot: fmt.Sprintf("LOAD-%s-%03d", l.runID, i), Expiry: expiry, Quantity: 100000, Supplier: "Load test"}
		if err := ph.api(ctx, "setup.stock", "POST", "/stock", in, nil); err != nil {
			return err
		}
	}
	var protos []relais.ProtocolSummary
	if err := ph.api(ctx, "setup.protocols", "GET", "/protocols?status=active", nil, &protos); err != nil {
		return err
	}
	for _, p := range protos {
		for _, v := range p.Versions {
			if v.Status == relais.VersionActive {
				l.versions[p.Population] = append(l.versions[p.Population], v.ID)
			}
		}
	}
	if len(l.versions[relais.Paediatric]) == 0 || len(l.versions[relais.Adult]) == 0 {
		return fmt.Errorf("the protocol library needs active paediatric and adult protocols (found %d and %d): load the demo first",
			len(l.versions[relais.Paediatric]), len(l.versions[relais.Adult]))
	}
	// The patients already there, for the people's searches.
	for _, q := range lastNames[:12] {
		var ps []relais.Patient
		if err := ph.api(ctx, "setup.patients", "GET", "/patients?limit=50&q="+url.QueryEscape(q), nil, &ps); err != nil {
			return err
		}
		for _, p := range ps {
			l.addPatient(patientRef{p.ID, p.IPP})
		}
	}
	l.progress("setup done: %d accounts, %d products received, %d active protocol versions, %d patients found",
		len(l.accounts), len(products), len(l.versions[relais.Paediatric])+len(l.versions[relais.Adult]), len(l.patients))
	return nil
}

// signIn opens a session for c.
func signIn(ctx context.Context, c *client, username, password string) error {
	var res struct {
		User         relais.User `json:"user"`
		SecondFactor string      `json:"second_factor"`
	}
	if err := c.api(ctx, "session.sign_in", "POST", "/session", map[string]string{"username": username, "password": password}, &res); err != nil {
		return err
	}
	if res.SecondFactor != "" {
		return fmt.Errorf("%s needs a %s as second factor: the load cannot sign it in", username, res.SecondFactor)
	}
	c.userID = res.User.ID
	return nil
}

// people starts every simulated person, spread over the ramp-up, and
// waits until ctx ends and they have all stopped.
func (l *load) people(ctx context.Context) {
	var wg sync.WaitGroup
	signIns := make(chan struct{}, 2) // at most two password checks at once
	n := len(l.accounts)
	for i, a := range l.accounts {
		delay := time.Duration(0)
		if n > 1 {
			delay = l.cfg.RampUp * time.Duration(i) / time.Duration(n)
		}
		p := &person{l: l, acct: a, c: l.client(a.Username), rng: rand.New(rand.NewPCG(l.cfg.Seed, uint64(i)+1))}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !sleep(ctx, delay) {
				return
			}
			select {
			case signIns <- struct{}{}:
			case <-ctx.Done():
				return
			}
			err := p.signIn(ctx)
			for errors.Is(err, errInterrupted) { // the server was killed meanwhile
				err = p.signIn(ctx)
			}
			<-signIns
			if err != nil {
				return
			}
			p.work(ctx)
		}()
	}
	wg.Wait()
}

func (l *load) progressEvery(ctx context.Context, every time.Duration) {
	if l.cfg.Progress == nil {
		return
	}
	start := time.Now()
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				_, all, _ := l.rec.results()
				l.progress("%4.0fs: %d requests, %d errors, p95 %.1f ms, %d writes acknowledged",
					time.Since(start).Seconds(), all.Count, all.Errors, all.P95MS, l.ledgerWrites())
			}
		}
	}()
}

func (l *load) ledgerWrites() int {
	l.ledger.mu.Lock()
	defer l.ledger.mu.Unlock()
	return l.ledger.writes
}

func (l *load) progress(format string, args ...any) {
	if l.cfg.Progress != nil {
		fmt.Fprintf(l.cfg.Progress, "relais load: "+format+"\n", args...)
	}
}

// claim takes a piece of work for one person (two pharmacists do not
// validate the same prescription at once: they see who is on it).
func (l *load) claim(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.claims[key] {
		return false
	}
	l.claims[key] = true
	return true
}

func (l *load) unclaim(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.claims, key)
}

func (l *load) claimed(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.claims[key]
}

func (l *load) addPatient(p patientRef) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.patients = append(l.patients, p)
}

func (l *load) randomPatient(rng *rand.Rand) (patientRef, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.patients) == 0 {
		return patientRef{}, false
	}
	return l.patients[rng.IntN(len(l.patients))], true
}

func (l *load) nextIPP() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ipp++
	return fmt.Sprintf("LT%s-%06d", l.runID, l.ipp)
}

// billedPerAdministration reports whether a preparation draws from a
// product on the liste en sus (its release then needs an indication code).
func (l *load) billedPerAdministration(p relais.Preparation) bool {
	if p.Plan == nil {
		return false
	}
	for _, d := range p.Plan.Draws {
		if l.enSus[d.ProductID] {
			return true
		}
	}
	return false
}

func (l *load) flowDone(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.flows[name]++
}

func (l *load) result(started, ended time.Time) *Result {
	ops, all, samples := l.rec.results()
	r := &Result{Target: l.cfg.Target, Users: len(l.accounts), Mix: map[string]int{}, Seed: l.cfg.Seed,
		DurationS: round2(l.cfg.Duration.Seconds()), ThinkS: round2(l.cfg.Think.Seconds()), Started: started.UTC(), Ended: ended.UTC(),
		Total: all, Operations: ops, ErrorSamples: samples, Flows: map[string]int{}, Acknowledged: l.ledgerWrites()}
	if s := ended.Sub(started).Seconds(); s > 0 {
		r.PerSecond = round2(float64(all.Count) / s)
	}
	for _, a := range l.accounts {
		r.Mix[string(a.Role)]++
	}
	r.AckedEntities = map[string]int{}
	for _, a := range l.ledger.snapshot() {
		r.AckedEntities[a.Kind]++
	}
	l.mu.Lock()
	for k, v := range l.flows {
		r.Flows[k] = v
	}
	l.mu.Unlock()
	if all.Errors > 0 {
		r.Failures = append(r.Failures, fmt.Sprintf("%d request(s) failed (0 allowed)", all.Errors))
	}
	if all.Count == 0 {
		r.Failures = append(r.Failures, "no request was made")
	}
	if l.cfg.ServerPID > 0 {
		rep, err := l.rss.result()
		rep.LimitMB = l.cfg.RSSLimitMB
		r.RSS = &rep
		switch {
		case err != nil:
			r.Failures = append(r.Failures, fmt.Sprintf("the server's RSS could not be read: %v", err))
		case rep.MaxMB >= l.cfg.RSSLimitMB:
			r.Failures = append(r.Failures, fmt.Sprintf("the server's RSS reached %.1f MB (limit %.0f MB)", rep.MaxMB, l.cfg.RSSLimitMB))
		}
	}
	r.Pass = len(r.Failures) == 0
	return r
}

// sleep waits d or until ctx ends; false when ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
