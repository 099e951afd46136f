package web_test

import (
	"bufio"
	"bytes"
	"context"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/auth"
	"github.com/relais-onco/relais/internal/testdb"
	"github.com/relais-onco/relais/web"
)

// Single sign-on against a real OpenID Connect provider: the oidc-provider
// package from the npm registry (web/testdata/oidc), run with node. The
// package is installed once into RELAIS_OIDC_PROVIDER_DIR (default
// $HOME/.cache/relais/oidc-provider); .ci/run installs it before the tests.

// oidcProvider is the running provider.
type oidcProvider struct {
	issuer string
	stdin  io.WriteCloser
	lines  chan string
}

func oidcProviderDir(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("single sign-on test skipped: node is not installed (it runs the oidc-provider package)")
	}
	dir := os.Getenv("RELAIS_OIDC_PROVIDER_DIR")
	if dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			t.Skipf("single sign-on test skipped: no cache directory for the provider: %v", err)
		}
		dir = filepath.Join(cache, "relais", "oidc-provider")
	}
	// The lock file pins every package; the install is redone when it
	// changes.
	pkg, err := os.ReadFile("testdata/oidc/package.json")
	if err != nil {
		t.Fatal(err)
	}
	lock, err := os.ReadFile("testdata/oidc/package-lock.json")
	if err != nil {
		t.Fatal(err)
	}
	have, _ := os.ReadFile(filepath.Join(dir, "package-lock.json"))
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "oidc-provider", "package.json")); err != nil || !bytes.Equal(lock, have) {
		if _, err := exec.LookPath("npm"); err != nil {
			t.Skip("single sign-on test skipped: npm is not installed (it installs the oidc-provider package)")
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "package.json"), pkg, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "package-lock.json"), lock, 0o644); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm ci (oidc-provider) in %s: %v\n%s", dir, err, out)
		}
	}
	script, err := os.ReadFile("testdata/oidc/provider.mjs")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "provider.mjs"), script, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func startOIDCProvider(t *testing.T, redirectURI string) *oidcProvider {
	t.Helper()
	dir := oidcProviderDir(t)
	cmd := exec.Command("node", "provider.mjs", redirectURI)
	cmd.Dir = dir
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	p := &oidcProvider{stdin: stdin, lines: make(chan string, 16)}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	deadline := time.After(30 * time.Second)
	for p.issuer == "" {
		select {
		case line, ok := <-p.lines:
			if !ok {
				t.Fatalf("the provider stopped: %s", stderr.String())
			}
			if port, found := strings.CutPrefix(line, "ready "); found {
				p.issuer = "http://127.0.0.1:" + port
			}
		case <-deadline:
			t.Fatalf("the provider did not start within 30 s\n%s", stderr.String())
		}
	}
	return p
}

// command sends a command to the provider and waits for its answer.
func (p *oidcProvider) command(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(p.stdin, line+"\n"); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case got := <-p.lines:
			switch {
			case strings.HasPrefix(got, "ok "):
				return
			case strings.HasPrefix(got, "unknown "):
				t.Fatalf("provider %q: %s", line, got)
			}
			// Other lines are the provider's notices.
		case <-deadline:
			t.Fatalf("provider %q: no answer", line)
		}
	}
}

// ssoBrowser follows redirects and fills the provider's login and consent
// forms, as a person would.
type ssoBrowser struct {
	t         *testing.T
	hc        *http.Client
	redirects []*url.URL
}

func newSSOBrowser(t *testing.T) *ssoBrowser {
	jar, _ := cookiejar.New(nil)
	b := &ssoBrowser{t: t}
	b.hc = &http.Client{Jar: jar, Timeout: 20 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		b.redirects = append(b.redirects, req.URL)
		if len(via) > 15 {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	return b
}

type ssoPage struct {
	url    *url.URL
	status int
	body   string
}

func (b *ssoBrowser) send(req *http.Request) ssoPage {
	b.t.Helper()
	resp, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return ssoPage{url: resp.Request.URL, status: resp.StatusCode, body: string(body)}
}

func (b *ssoBrowser) get(u string) ssoPage {
	req, _ := http.NewRequest("GET", u, nil)
	return b.send(req)
}

var (
	formTag  = regexp.MustCompile(`(?s)<form[^>]*action="([^"]*)"[^>]*method="post"[^>]*>(.*?)</form>`)
	inputTag = regexp.MustCompile(`<input[^>]*>`)
	attr     = regexp.MustCompile(`(name|value|type)="([^"]*)"`)
)

// signIn starts at Relais's sign-in link and answers the provider's pages
// as login, until the browser is back at Relais (or the provider stops
// offering a form).
func (b *ssoBrowser) signIn(start, login, relaisHost string) ssoPage {
	b.t.Helper()
	pg := b.get(start)
	for i := 0; i < 6 && pg.url.Host != relaisHost; i++ {
		m := formTag.FindStringSubmatch(pg.body)
		if m == nil {
			break
		}
		form := url.Values{}
		for _, in := range inputTag.FindAllString(m[2], -1) {
			a := map[string]string{}
			for _, kv := range attr.FindAllStringSubmatch(in, -1) {
				a[kv[1]] = html.UnescapeString(kv[2])
			}
			switch a["name"] {
			case "login":
				form.Set("login", login)
			case "password":
				form.Set("password", "any password: the development login checks none")
			case "":
			default:
				form.Set(a["name"], a["value"])
			}
		}
		action, err := pg.url.Parse(html.UnescapeString(m[1]))
		if err != nil {
			b.t.Fatal(err)
		}
		req, _ := http.NewRequest("POST", action.String(), strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		pg = b.send(req)
	}
	return pg
}

func TestSingleSignOnWithARealProvider(t *testing.T) {
	testdb.Each(t, func(t *testing.T, dsn string) {
		e := newAccEnv(t, dsn, web.AuthConfig{})
		public := strings.Replace(e.ts.URL, "127.0.0.1", "localhost", 1)
		relaisHost := strings.TrimPrefix(public, "http://")
		idp := startOIDCProvider(t, public+"/auth/oidc/callback")
		err := e.srv.ConfigureAuth(context.Background(), web.AuthConfig{
			PublicURL: public, Now: e.clock.Now, RateLimits: accGenerous,
			OIDC: &auth.OIDCConfig{Issuer: idp.issuer, ClientID: "relais", ClientSecret: "relais-test-secret",
				Scopes:    []string{"openid", "profile", "groups"},
				RoleClaim: "groups", RoleMap: map[string]relais.Role{"onco-prescripteurs": relais.RolePrescriber, "pharmacie": relais.RolePharmacist},
				Label: "IdP de test", Revalidate: 10 * time.Minute},
		})
		if err != nil {
			t.Fatal(err)
		}
		me := func(b *ssoBrowser) (int, relais.Actor) {
			pg := b.get(public + "/api/v1/me")
			var a relais.Actor
			if pg.status == 200 {
				a = accJSON[relais.Actor](t, accResp{status: pg.status, body: pg.body})
			}
			return pg.status, a
		}

		// The sign-in page offers the provider.
		if pg := newSSOBrowser(t).get(public + "/login"); !strings.Contains(pg.body, "IdP de test") {
			t.Fatalf("the sign-in page has no single sign-on button: %s", pg.body)
		}

		// Claire signs in: the account is made from her claims.
		claire := newSSOBrowser(t)
		pg := claire.signIn(public+"/auth/oidc/login?next=/patients", "claire", relaisHost)
		if pg.status != 200 || !strings.Contains(pg.body, `url=/patients`) {
			t.Fatalf("back at Relais: %d %s %s", pg.status, pg.url, pg.body)
		}
		authz := claire.redirects[0].Query()
		if authz.Get("code_challenge_method") != "S256" || len(authz.Get("code_challenge")) != 43 || authz.Get("state") == "" || authz.Get("nonce") == "" {
			t.Fatalf("authorization request without PKCE S256, state or nonce: %v", claire.redirects[0])
		}
		status, a := me(claire)
		if status != 200 || a.Username != "claire.martin" || a.Role != relais.RolePrescriber || a.Name != "Dr Claire Martin" {
			t.Fatalf("claire: %d %+v", status, a)
		}
		u, err := e.db.UserByID(context.Background(), a.UserID)
		if err != nil || u.IdentityProvider != idp.issuer {
			t.Fatalf("JIT account %+v, %v", u, err)
		}

		// Paul is a pharmacist; his groups change at the provider, and his
		// role follows at the next revalidation.
		paul := newSSOBrowser(t)
		paul.signIn(public+"/auth/oidc/login", "paul", relaisHost)
		if status, a := me(paul); status != 200 || a.Role != relais.RolePharmacist {
			t.Fatalf("paul: %d %+v", status, a)
		}
		idp.command(t, "groups paul onco-prescripteurs")

		// Claire is disabled at the provider: her session ends at the next
		// revalidation, and she cannot sign in again.
		idp.command(t, "disable claire")
		if status, _ := me(claire); status != 200 {
			t.Fatalf("claire before revalidation: %d", status)
		}
		e.clock.Add(11 * time.Minute)
		if status, _ := me(claire); status != 401 {
			t.Fatalf("claire after revalidation, disabled at the provider: %d", status)
		}
		if status, a := me(paul); status != 200 || a.Role != relais.RolePrescriber {
			t.Fatalf("paul after revalidation: %d %+v", status, a)
		}
		again := newSSOBrowser(t)
		again.signIn(public+"/auth/oidc/login", "claire", relaisHost)
		if status, _ := me(again); status != 401 {
			t.Fatalf("claire signs in again although disabled: %d", status)
		}

		// Bob's groups give no Relais role: refused, saying so.
		bob := newSSOBrowser(t)
		pg = bob.signIn(public+"/auth/oidc/login", "bob", relaisHost)
		if pg.status != 403 || !strings.Contains(pg.body, "visiteurs") {
			t.Fatalf("bob: %d %s", pg.status, pg.body)
		}
		if status, _ := me(bob); status != 401 {
			t.Fatalf("bob has a session: %d", status)
		}

		// A callback this browser did not start (login CSRF) is refused.
		if pg := newSSOBrowser(t).get(public + "/auth/oidc/callback?state=forged&code=forged"); pg.status != 400 {
			t.Fatalf("forged callback: %d", pg.status)
		}
	})
}
