package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/fhir"
	"github.com/relais-onco/relais/internal/testdb"
	"github.com/relais-onco/relais/sqlstore"
	"github.com/relais-onco/relais/web"
)

// accClock is a clock the tests move by hand.
type accClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *accClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *accClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// accEnv is a server with one account per role (password "password-" +
// role), on a database the test can reopen.
type accEnv struct {
	t     testing.TB
	dsn   string
	db    *sqlstore.DB
	srv   *web.Server
	ts    *httptest.Server
	clock *accClock
	users map[relais.Role]relais.User
	log   *slog.Logger // the server's log (default: discarded)
}

// accGenerous are rate limits no functional test reaches.
var accGenerous = web.RateLimits{SignInBurst: 1000, SignInIPBurst: 10000, APIBurst: 100000, APIPerSecond: 10000}

func newAccEnv(t testing.TB, dsn string, cfg web.AuthConfig) *accEnv {
	t.Helper()
	e := &accEnv{t: t, dsn: dsn, clock: &accClock{t: time.Now()}, users: map[relais.Role]relais.User{}}
	e.db = accOpen(t, dsn)
	ctx := relais.WithActor(context.Background(), relais.SystemActor("chu-test"))
	for _, r := range relais.Roles {
		u, err := e.db.CreateUser(ctx, relais.User{Username: string(r), Name: "Test " + string(r), Role: r}, "password-"+string(r))
		if err != nil {
			t.Fatal(err)
		}
		e.users[r] = u
	}
	e.start(cfg)
	return e
}

func accOpen(t testing.TB, dsn string) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), dsn, sqlstore.Options{Site: "chu-test", Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// start (re)starts the HTTP server on the same database.
func (e *accEnv) start(cfg web.AuthConfig) {
	e.t.Helper()
	if e.ts != nil {
		e.ts.Close()
	}
	if cfg.Now == nil {
		cfg.Now = e.clock.Now
	}
	if cfg.RateLimits == (web.RateLimits{}) {
		cfg.RateLimits = accGenerous
	}
	log := e.log
	if log == nil {
		log = quiet
	}
	e.srv = web.New("chu-test", web.Services{Users: e.db, Patients: e.db, Catalogue: e.db, Protocols: e.db, Treatments: e.db, Production: e.db}, log)
	e.ts = httptest.NewUnstartedServer(e.srv.Handler())
	e.ts.Start()
	if cfg.PublicURL == "listen" {
		cfg.PublicURL = strings.Replace(e.ts.URL, "127.0.0.1", "localhost", 1)
	}
	if err := e.srv.ConfigureAuth(context.Background(), cfg); err != nil {
		e.t.Fatal(err)
	}
	e.srv.SetReady()
	e.t.Cleanup(e.ts.Close)
}

// accClient is a browser: a cookie jar, redirects not followed.
type accClient struct {
	t  testing.TB
	e  *accEnv
	hc *http.Client
}

func (e *accEnv) client() *accClient {
	jar, _ := cookiejar.New(nil)
	return &accClient{t: e.t, e: e, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type accResp struct {
	status int
	body   string
	header http.Header
}

func (r accResp) problem(t testing.TB) web.Problem {
	t.Helper()
	var p web.Problem
	if !strings.HasPrefix(r.header.Get("Content-Type"), "application/problem+json") {
		t.Fatalf("status %d, %s: not a problem: %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	if err := json.Unmarshal([]byte(r.body), &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// do sends a request; hdr are header name/value pairs.
func (c *accClient) do(method, path, body string, hdr ...string) accResp {
	c.t.Helper()
	req, err := http.NewRequest(method, c.e.ts.URL+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return accResp{status: resp.StatusCode, body: string(b), header: resp.Header}
}

// signIn signs the client in through the API as role's account.
func (c *accClient) signIn(role relais.Role) *accClient {
	c.t.Helper()
	r := c.do("POST", "/api/v1/session", `{"username":"`+string(role)+`","password":"password-`+string(role)+`"}`)
	if r.status != http.StatusOK {
		c.t.Fatalf("sign-in as %s: %d %s", role, r.status, r.body)
	}
	return c
}

func accJSON[T any](t testing.TB, r accResp) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(r.body), &v); err != nil {
		t.Fatalf("status %d: %v: %s", r.status, err, r.body)
	}
	return v
}

func TestSessionCookieAndTimeouts(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		e := newAccEnv(t, dsn, web.AuthConfig{SessionIdle: 30 * time.Minute, SessionMax: 12 * time.Hour})
		c := e.client()
		r := c.do("POST", "/api/v1/session", `{"username":"nurse","password":"password-nurse"}`)
		if r.status != 200 {
			t.Fatalf("sign-in: %d %s", r.status, r.body)
		}
		set := r.header.Get("Set-Cookie")
		for _, want := range []string{"relais_session=rs_", "HttpOnly", "SameSite=Strict", "Path=/"} {
			if !strings.Contains(set, want) {
				t.Errorf("cookie %q lacks %s", set, want)
			}
		}
		if strings.Contains(set, "Secure") || strings.Contains(set, "Max-Age") {
			t.Errorf("cookie %q: Secure over plain HTTP, or a Max-Age", set)
		}
		if r := c.do("GET", "/api/v1/me", ""); r.status != 200 || !strings.Contains(r.body, `"role":"nurse"`) {
			t.Fatalf("me: %d %s", r.status, r.body)
		}
		// Idle: 29 minutes apart, twice, keeps it alive; then 31 minutes of
		// silence ends it.
		e.clock.Add(29 * time.Minute)
		if r := c.do("GET", "/api/v1/me", ""); r.status != 200 {
			t.Fatalf("after 29 min: %d", r.status)
		}
		e.clock.Add(29 * time.Minute)
		if r := c.do("GET", "/api/v1/me", ""); r.status != 200 {
			t.Fatalf("after 2×29 min of activity: %d", r.status)
		}
		e.clock.Add(31 * time.Minute)
		if r := c.do("GET", "/api/v1/me", ""); r.status != 401 {
			t.Fatalf("after 31 idle minutes: %d", r.status)
		}
		// Absolute: active every 20 minutes, still ends after 12 hours.
		c = e.client().signIn(relais.RoleNurse)
		for i := 0; i < 35; i++ { // 35 × 20 min = 11 h 40
			e.clock.Add(20 * time.Minute)
			if r := c.do("GET", "/api/v1/me", ""); r.status != 200 {
				t.Fatalf("after %d min of activity: %d", (i+1)*20, r.status)
			}
		}
		e.clock.Add(21 * time.Minute)
		if r := c.do("GET", "/api/v1/me", ""); r.status != 401 {
			t.Fatalf("after 12 h: %d", r.status)
		}
	})
}

func TestSessionsSurviveARestart(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		e := newAccEnv(t, dsn, web.AuthConfig{})
		c := e.client().signIn(relais.RolePharmacist)
		e.db.Close()
		e.db = accOpen(t, dsn)
		e.start(web.AuthConfig{}) // a new process: nothing in memory
		if r := c.do("GET", "/api/v1/me", ""); r.status != 200 || !strings.Contains(r.body, `"role":"pharmacist"`) {
			t.Fatalf("after restart: %d %s", r.status, r.body)
		}
		// Signing out ends it for good.
		if r := c.do("DELETE", "/api/v1/session", ""); r.status != 204 {
			t.Fatalf("sign out: %d", r.status)
		}
		if r := c.do("GET", "/api/v1/me", ""); r.status != 401 {
			t.Fatalf("after sign-out: %d", r.status)
		}
	})
}

func TestDisabledAccountLosesItsSession(t *testing.T) {
	e := newAccEnv(t, testdb.SQLite(t), web.AuthConfig{})
	nurse := e.client().signIn(relais.RoleNurse)
	admin := e.client().signIn(relais.RoleITAdmin)
	if r := admin.do("POST", "/api/v1/users/"+string(e.users[relais.RoleNurse].ID)+"/disable", ""); r.status != 200 {
		t.Fatalf("disable: %d %s", r.status, r.body)
	}
	if r := nurse.do("GET", "/api/v1/me", ""); r.status != 401 {
		t.Fatalf("disabled account still signed in: %d", r.status)
	}
	if r := e.client().do("POST", "/api/v1/session", `{"username":"nurse","password":"password-nurse"}`); r.status != 401 || !strings.Contains(r.body, "disabled") {
		t.Fatalf("disabled account signs in: %d %s", r.status, r.body)
	}
}

func TestLockOutSaysSoOnTheAPIAndThePage(t *testing.T) {
	e := newAccEnv(t, testdb.SQLite(t), web.AuthConfig{})
	c := e.client()
	for i := 0; i < relais.LockoutAfter-1; i++ {
		if r := c.do("POST", "/api/v1/session", `{"username":"nurse","password":"wrong"}`); r.status != 401 || strings.Contains(r.body, "locked") {
			t.Fatalf("failure %d: %d %s", i+1, r.status, r.body)
		}
	}
	r := c.do("POST", "/api/v1/session", `{"username":"nurse","password":"wrong"}`)
	if p := r.problem(t); r.status != 401 || !strings.Contains(p.Detail, "locked after 5 failed sign-ins") || !strings.Contains(p.Detail, "administrator") {
		t.Fatalf("lock-out: %d %s", r.status, r.body)
	}
	// The page says it in the person's language.
	form := "username=nurse&password=password-nurse"
	req, _ := http.NewRequest("POST", e.ts.URL+"/login", strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept-Language", "fr")
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.Contains(string(b), "verrouillé après 5 échecs") {
		t.Fatalf("login page while locked: %d %s", resp.StatusCode, b)
	}
	// An administrator unlocks it.
	admin := e.client().signIn(relais.RolePharmAdmin)
	if r := admin.do("POST", "/api/v1/users/"+string(e.users[relais.RoleNurse].ID)+"/unlock", ""); r.status != 200 {
		t.Fatalf("unlock: %d %s", r.status, r.body)
	}
	e.client().signIn(relais.RoleNurse)
}

func TestSignInIsRateLimited(t *testing.T) {
	e := newAccEnv(t, testdb.SQLite(t), web.AuthConfig{RateLimits: web.RateLimits{SignInBurst: 3, SignInPerMin: 1,
		SignInIPBurst: 1000, APIBurst: 100000, APIPerSecond: 10000}})
	c := e.client()
	// Three failures for an unknown account (no lock-out to hide behind).
	for i := 0; i < 3; i++ {
		if r := c.do("POST", "/api/v1/session", `{"username":"ghost","password":"wrong"}`); r.status != 401 {
			t.Fatalf("attempt %d: %d", i+1, r.status)
		}
	}
	r := c.do("POST", "/api/v1/session", `{"username":"ghost","password":"wrong"}`)
	p := r.problem(t)
	retry, err := strconv.Atoi(r.header.Get("Retry-After"))
	if r.status != 429 || p.Kind != "rate_limited" || err != nil || retry < 1 || retry > 60 || !strings.Contains(p.Detail, "wait") {
		t.Fatalf("4th attempt: %d Retry-After %q %s", r.status, r.header.Get("Retry-After"), r.body)
	}
	// Another account from the same address is not blocked by this one.
	c.signIn(relais.RoleNurse)
	// A minute later one more try is allowed.
	e.clock.Add(61 * time.Second)
	if r := c.do("POST", "/api/v1/session", `{"username":"ghost","password":"wrong"}`); r.status != 401 {
		t.Fatalf("after a minute: %d", r.status)
	}
}

func TestAPIIsRateLimitedPerClient(t *testing.T) {
	e := newAccEnv(t, testdb.SQLite(t), web.AuthConfig{RateLimits: web.RateLimits{APIBurst: 5, APIPerSecond: 1}})
	a := e.client().signIn(relais.RoleNurse) // the sign-in itself is an API request of the address
	b := e.client().signIn(relais.RolePharmacist)
	for i := 0; i < 5; i++ {
		if r := a.do("GET", "/api/v1/me", ""); r.status != 200 {
			t.Fatalf("request %d: %d", i+1, r.status)
		}
	}
	if r := a.do("GET", "/api/v1/me", ""); r.status != 429 || r.header.Get("Retry-After") != "1" {
		t.Fatalf("6th request: %d %v", r.status, r.header)
	}
	if r := b.do("GET", "/api/v1/me", ""); r.status != 200 {
		t.Fatalf("another session was limited too: %d", r.status)
	}
}

func TestAPITokensAreScopedAndVersioned(t *testing.T) {
	e := newAccEnv(t, testdb.SQLite(t), web.AuthConfig{})
	admin := e.client().signIn(relais.RoleITAdmin)
	body := `{"user_id":"` + string(e.users[relais.RolePharmacist].ID) + `","name":"nightly export","permissions":["catalogue.read"],"expires_in_days":30}`
	r := admin.do("POST", "/api/v1/tokens", body)
	if r.status != 201 {
		t.Fatalf("create token: %d %s", r.status, r.body)
	}
	tok := accJSON[web.NewToken](t, r)
	if !strings.HasPrefix(tok.Secret, "relais_tok_") {
		t.Fatalf("token = %+v", tok)
	}
	if r := admin.do("GET", "/api/v1/tokens", ""); strings.Contains(r.body, tok.Secret) {
		t.Fatal("the token list shows a secret")
	}
	prog := e.client()
	bearer := func(method, path string, hdr ...string) accResp {
		return prog.do(method, path, "", append([]string{"Authorization", "Bearer " + tok.Secret}, hdr...)...)
	}
	v := []string{web.ClientVersionHeader, relais.APIVersion}
	if r := bearer("GET", "/api/v1/drugs", v...); r.status != 200 {
		t.Fatalf("in scope: %d %s", r.status, r.body)
	}
	if r := bearer("GET", "/api/v1/protocols", v...); r.status != 403 || !strings.Contains(r.problem(t).Detail, "scope") {
		t.Fatalf("out of scope (the account could): %d %s", r.status, r.body)
	}
	// A program must say which version it speaks; an old one is refused
	// naming both versions.
	if r := bearer("GET", "/api/v1/drugs"); r.status != 426 || !strings.Contains(r.body, relais.APIVersion) {
		t.Fatalf("no version: %d %s", r.status, r.body)
	}
	if r := bearer("GET", "/api/v1/drugs", web.ClientVersionHeader, "0.9"); r.status != 426 ||
		!strings.Contains(r.body, "0.9") || !strings.Contains(r.body, relais.APIVersion) {
		t.Fatalf("old client: %d %s", r.status, r.body)
	}
	// Tokens are for the API, not for pages.
	if r := bearer("GET", "/"); r.status != 401 {
		t.Fatalf("token on a page: %d", r.status)
	}
	if r := admin.do("POST", "/api/v1/tokens/"+string(tok.ID)+"/revoke", ""); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	if r := bearer("GET", "/api/v1/drugs", v...); r.status != 401 || !strings.Contains(r.body, "revoked") {
		t.Fatalf("revoked token: %d %s", r.status, r.body)
	}
}

func TestPasswordResetThroughTheAPI(t *testing.T) {
	e := newAccEnv(t, testdb.SQLite(t), web.AuthConfig{PublicURL: "https://relais.chu-test.fr"})
	admin := e.client().signIn(relais.RolePharmAdmin)
	r := admin.do("POST", "/api/v1/users/"+string(e.users[relais.RoleTechnician].ID)+"/password-reset", "")
	if r.status != 201 {
		t.Fatalf("issue: %d %s", r.status, r.body)
	}
	link := accJSON[web.ResetLink](t, r)
	base, secret, ok := strings.Cut(link.Link, "#")
	if !ok || base != "https://relais.chu-test.fr/reset" || !strings.HasPrefix(secret, "rr_") {
		t.Fatalf("link = %q: the secret must be after # (never sent to a server)", link.Link)
	}
	c := e.client()
	if r := c.do("POST", "/api/v1/password-reset", `{"token":"`+secret+`","password":"a new passphrase"}`); r.status != 200 {
		t.Fatalf("reset: %d %s", r.status, r.body)
	}
	if r := c.do("POST", "/api/v1/session", `{"username":"technician","password":"a new passphrase"}`); r.status != 200 {
		t.Fatalf("sign in with the new password: %d %s", r.status, r.body)
	}
	if r := c.do("POST", "/api/v1/password-reset", `{"token":"`+secret+`","password":"another passphrase"}`); r.status != 401 {
		t.Fatalf("link used twice: %d %s", r.status, r.body)
	}
}

func TestSecurityHeaders(t *testing.T) {
	e := newAccEnv(t, testdb.SQLite(t), web.AuthConfig{})
	for _, path := range []string{"/login", "/api/v1/version"} {
		r := e.client().do("GET", path, "")
		csp := r.header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "script-src 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %s", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: CSP allows inline script: %q", path, csp)
		}
		if r.header.Get("X-Content-Type-Options") != "nosniff" || r.header.Get("Strict-Transport-Security") != "" {
			t.Errorf("%s: headers %v (no HSTS over plain HTTP)", path, r.header)
		}
	}
	// Over TLS: HSTS, and the session cookie is Secure with the __Host- prefix.
	db := accOpen(t, testdb.SQLite(t))
	ctx := relais.WithActor(context.Background(), relais.SystemActor("chu-test"))
	if _, err := db.CreateUser(ctx, relais.User{Username: "nurse", Name: "Nurse", Role: relais.RoleNurse}, "password-nurse"); err != nil {
		t.Fatal(err)
	}
	srv := web.New("chu-test", web.Services{Users: db}, quiet)
	ts := httptest.NewTLSServer(srv.Handler())
	defer ts.Close()
	resp, err := ts.Client().Post(ts.URL+"/api/v1/session", "application/json", strings.NewReader(`{"username":"nurse","password":"password-nurse"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	set := resp.Header.Get("Set-Cookie")
	if resp.Header.Get("Strict-Transport-Security") == "" || !strings.HasPrefix(set, "__Host-relais_session=") || !strings.Contains(set, "Secure") {
		t.Fatalf("over TLS: HSTS %q, cookie %q", resp.Header.Get("Strict-Transport-Security"), set)
	}
}

func TestCrossOriginWritesAreRefused(t *testing.T) {
	e := newAccEnv(t, testdb.SQLite(t), web.AuthConfig{})
	c := e.client().signIn(relais.RoleITAdmin)
	body := `{"username":"new.user","name":"New User","role":"nurse"}`
	// A page of another site posting with the browser's cookie.
	r := c.do("POST", "/api/v1/users", body, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example")
	if r.status != 403 || !strings.Contains(r.problem(t).Detail, "cross-origin") {
		t.Fatalf("cross-site POST: %d %s", r.status, r.body)
	}
	users, _ := e.db.Users(context.Background())
	for _, u := range users {
		if u.Username == "new.user" {
			t.Fatal("the cross-site request created an account")
		}
	}
	// The same request from Relais's own page is served.
	if r := c.do("POST", "/api/v1/users", body, "Sec-Fetch-Site", "same-origin"); r.status != 201 {
		t.Fatalf("same-origin POST: %d %s", r.status, r.body)
	}
}

// No password, token or session secret reaches the server's log, whatever
// happens: sign-ins right and wrong (with the password typed in the
// username field), tokens, reset links, lock-out.
func TestNoSecretInTheLog(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	e := newAccEnv(t, testdb.SQLite(t), web.AuthConfig{})
	e.log = slog.New(slog.NewTextHandler(lockedWriter{&buf, &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.start(web.AuthConfig{})
	secrets := []string{"password-nurse", "password-it_admin", "Tr0ub4dor&3-typed-as-username", "wrong-password-1"}
	c := e.client()
	c.do("POST", "/api/v1/session", `{"username":"Tr0ub4dor&3-typed-as-username","password":"x"}`)
	for i := 0; i < relais.LockoutAfter; i++ {
		c.do("POST", "/api/v1/session", `{"username":"nurse","password":"wrong-password-1"}`)
	}
	admin := e.client().signIn(relais.RoleITAdmin)
	for _, ck := range admin.hc.Jar.Cookies(mustURL(t, e.ts.URL)) {
		secrets = append(secrets, ck.Value)
	}
	r := admin.do("POST", "/api/v1/tokens", `{"user_id":"`+string(e.users[relais.RoleNurse].ID)+`","name":"t","permissions":["patient.read"],"expires_in_days":1}`)
	tok := accJSON[web.NewToken](t, r)
	secrets = append(secrets, tok.Secret)
	c.do("GET", "/api/v1/me", "", "Authorization", "Bearer "+tok.Secret)
	c.do("GET", "/api/v1/me", "", "Authorization", "Bearer "+tok.Secret+"x", web.ClientVersionHeader, "1.0")
	r = admin.do("POST", "/api/v1/users/"+string(e.users[relais.RoleNurse].ID)+"/password-reset", "")
	link := accJSON[web.ResetLink](t, r)
	_, reset, _ := strings.Cut(link.Link, "#")
	secrets = append(secrets, reset)
	c.do("POST", "/api/v1/password-reset", `{"token":"`+reset+`","password":"brand-new-passphrase"}`)
	c.do("POST", "/api/v1/password-reset", `{"token":"`+reset+`","password":"brand-new-passphrase"}`)
	secrets = append(secrets, "brand-new-passphrase")
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(buf.String(), "signed in") {
		t.Fatalf("the log is empty, the test proves nothing: %q", buf.String())
	}
	for _, s := range secrets {
		if strings.Contains(buf.String(), s) {
			t.Errorf("the log contains the secret %q:\n%s", s, buf.String())
		}
	}
}

type lockedWriter struct {
	b  *bytes.Buffer
	mu *sync.Mutex
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func mustURL(t testing.TB, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// An API token's scope holds on the FHIR API too, which checks permissions
// itself: a catalogue-only token of a pharmacist reads no patient there.
func TestTokenScopeHoldsOnFHIR(t *testing.T) {
	e := newAccEnv(t, testdb.SQLite(t), web.AuthConfig{})
	e.srv.EnableFHIR(&fhir.Server{Site: "chu-test", Patients: e.db, Treatments: e.db, Protocols: e.db, Catalogue: e.db, Production: e.db})
	admin := e.client().signIn(relais.RoleITAdmin)
	token := func(perms string) string {
		r := admin.do("POST", "/api/v1/tokens", `{"user_id":"`+string(e.users[relais.RolePharmacist].ID)+`","name":"fhir","permissions":[`+perms+`],"expires_in_days":1}`)
		if r.status != 201 {
			t.Fatalf("token: %d %s", r.status, r.body)
		}
		return accJSON[web.NewToken](t, r).Secret
	}
	narrow, wide := token(`"catalogue.read"`), token(`"patient.read","catalogue.read"`)
	c := e.client()
	if r := c.do("GET", "/fhir/r4/Patient?_id="+string(relais.NewID()), "", "Authorization", "Bearer "+narrow); r.status != 403 {
		t.Fatalf("catalogue-only token reads patients over FHIR: %d %s", r.status, r.body)
	}
	if r := c.do("GET", "/fhir/r4/Medication", "", "Authorization", "Bearer "+narrow); r.status != 200 {
		t.Fatalf("catalogue-only token reads medications: %d %s", r.status, r.body)
	}
	if r := c.do("GET", "/fhir/r4/Patient?_id="+string(relais.NewID()), "", "Authorization", "Bearer "+wide); r.status != 200 {
		t.Fatalf("patient.read token: %d %s", r.status, r.body)
	}
}
