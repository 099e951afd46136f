package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/auth"
)

// How people and programs sign in: configuration, the session API, and the
// registry of pages with their permissions (for the route-walk test).

// AuthConfig configures sign-in. The zero value works (local accounts,
// default timeouts and limits), for tests and the demo.
type AuthConfig struct {
	// PublicURL is the address people type, e.g. https://relais.chu.fr
	// (behind a reverse proxy, the proxy's). It gives passkeys their
	// relying party, single sign-on its callback, reset links their host,
	// and — when https — makes cookies Secure.
	PublicURL string
	// SessionIdle and SessionMax end sessions after inactivity, and after
	// sign-in whatever the activity.
	SessionIdle, SessionMax time.Duration
	// DisableLocalLogin turns password sign-in off: single sign-on becomes
	// the only way in for people (API tokens still work for programs).
	DisableLocalLogin bool
	// OIDC configures single sign-on (nil: none).
	OIDC *auth.OIDCConfig
	// ResetTTL is how long a password-reset link works (default 24 h).
	ResetTTL time.Duration
	// RateLimits tune the sign-in and API limits.
	RateLimits RateLimits
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed (for rate limits and the access log).
	TrustedProxies []netip.Prefix
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// authState is the server's sign-in machinery.
type authState struct {
	cfg      AuthConfig
	oidc     *auth.OIDC
	passkeys *auth.Passkeys

	signIn, signInIP, api *limiter

	// Passkey ceremonies between their two steps, by session hash; single
	// sign-on flows between the redirect and the callback, by state. Both
	// are short-lived and kept in memory: a restart only makes someone
	// click again.
	ceremonies ttlCache[*auth.PasskeyCeremony]
	flows      ttlCache[oidcPending]
}

func newAuthState(cfg AuthConfig) *authState {
	if cfg.SessionIdle <= 0 {
		cfg.SessionIdle = DefaultSessionIdle
	}
	if cfg.SessionMax <= 0 {
		cfg.SessionMax = DefaultSessionMax
	}
	if cfg.ResetTTL <= 0 {
		cfg.ResetTTL = 24 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	l := cfg.RateLimits.withDefaults()
	cfg.RateLimits = l
	a := &authState{cfg: cfg}
	a.signIn = newLimiter(l.SignInBurst, l.SignInPerMin/60, cfg.Now)
	a.signInIP = newLimiter(l.SignInIPBurst, l.SignInIPPerMin/60, cfg.Now)
	a.api = newLimiter(l.APIBurst, l.APIPerSecond, cfg.Now)
	a.ceremonies.now, a.flows.now = cfg.Now, cfg.Now
	return a
}

// ConfigureAuth applies cfg: it discovers the single sign-on provider and
// prepares passkeys. Call it before serving.
func (s *Server) ConfigureAuth(ctx context.Context, cfg AuthConfig) error {
	a := newAuthState(cfg)
	if a.cfg.PublicURL != "" {
		pk, err := auth.NewPasskeys(a.cfg.PublicURL, "Relais "+s.Site)
		if err != nil {
			return err
		}
		a.passkeys = pk
	}
	if cfg.OIDC != nil {
		oc := *cfg.OIDC
		if oc.RedirectURL == "" && a.cfg.PublicURL != "" {
			oc.RedirectURL = a.cfg.PublicURL + "/auth/oidc/callback"
		}
		o, err := auth.NewOIDC(ctx, oc)
		if err != nil {
			return err
		}
		a.oidc = o
	}
	if a.cfg.DisableLocalLogin && a.oidc == nil {
		return fmt.Errorf("password sign-in cannot be turned off without single sign-on (--oidc-issuer): no one could sign in")
	}
	s.auth = a
	return nil
}

func (s *Server) now() time.Time { return s.auth.cfg.Now().UTC() }

// ttlCache holds short-lived values by key.
type ttlCache[V any] struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[string]ttlItem[V]
}

type ttlItem[V any] struct {
	v   V
	end time.Time
}

// maxPending bounds the ceremonies or flows waiting at once, so that a
// flood of sign-in starts cannot fill the memory.
const maxPending = 10000

// put keeps v under key for ttl; it refuses (false) when maxPending values
// are already waiting.
func (c *ttlCache[V]) put(key string, v V, ttl time.Duration) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if c.m == nil {
		c.m = map[string]ttlItem[V]{}
	}
	for k, it := range c.m {
		if now.After(it.end) {
			delete(c.m, k)
		}
	}
	if len(c.m) >= maxPending {
		return false
	}
	c.m[key] = ttlItem[V]{v, now.Add(ttl)}
	return true
}

// take returns and forgets the value: each is used once.
func (c *ttlCache[V]) take(key string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	it, ok := c.m[key]
	delete(c.m, key)
	if !ok || c.now().After(it.end) {
		var zero V
		return zero, false
	}
	return it.v, true
}

// PageRoute is a page (HTML) route and the permission it needs.
type PageRoute struct {
	Method string
	Path   string
	Perm   relais.Permission
}

// notePage records a page route; a page without a permission cannot be
// registered (as for API routes).
func (s *Server) notePage(pattern string, perm relais.Permission) {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		method, path = "", pattern
	}
	if perm == "" {
		panic(fmt.Sprintf("web: page %s declares no permission", pattern))
	}
	s.pages = append(s.pages, PageRoute{Method: method, Path: path, Perm: perm})
}

// Pages returns the registered page routes (for the permission test).
func (s *Server) Pages() []PageRoute { return append([]PageRoute(nil), s.pages...) }

// SignInRequest is the body of POST /api/v1/session.
type SignInRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// SignInResult answers a sign-in: the account, and whether a passkey must
// still be used (then the session is not signed in until it is).
type SignInResult struct {
	User         relais.User `json:"user"`
	SecondFactor string      `json:"second_factor,omitempty" doc:"\"passkey\": finish with POST /session/passkey/begin and /finish"`
}

// passwordSignIn checks a password sign-in with the rate limits, and starts
// a session — half-signed-in when the account has a passkey.
func (s *Server) passwordSignIn(w http.ResponseWriter, r *http.Request, username, password string) (SignInResult, error) {
	const op = "session.create"
	if s.auth.cfg.DisableLocalLogin {
		return SignInResult{}, relais.E(op, relais.KindForbidden, "password sign-in is off on this server: use single sign-on")
	}
	u, err := s.Users.Authenticate(r.Context(), username, password)
	if err != nil {
		if relais.ErrorKind(err) == relais.KindUnauthorized {
			s.signInFailed(r, username)
			// Not the username: people type their password in it by mistake.
			s.Log.Info("sign-in refused", "ip", s.clientIP(r))
		}
		return SignInResult{}, err
	}
	keys, err := s.Users.Passkeys(r.Context(), u.ID)
	if err != nil {
		return SignInResult{}, err
	}
	pending := len(keys) > 0
	if pending && s.auth.passkeys == nil {
		return SignInResult{}, relais.E(op, relais.KindUnavailable,
			"this account has a passkey but passkeys are not configured on this server (--public-url): ask IT")
	}
	if _, err := s.startSession(w, r, u, relais.MethodPassword, pending, "", ""); err != nil {
		return SignInResult{}, err
	}
	res := SignInResult{User: u}
	if pending {
		res.SecondFactor = "passkey"
	}
	return res, nil
}

func (s *Server) authRoutes() {
	const tag = "Session"
	s.HandleRaw(Route{Method: "POST", Path: "/session", Perm: relais.PermPublic, Tag: tag,
		Summary: "Sign in with a username and password; sets the session cookie (then a passkey, when the account has one)",
		In:      SignInRequest{}, Out: SignInResult{}},
		func(w http.ResponseWriter, r *http.Request) {
			var in SignInRequest
			if err := Decode(r, &in); err != nil {
				s.problem(w, r, err)
				return
			}
			if !s.signInAllowed(w, r, in.Username) {
				return
			}
			res, err := s.passwordSignIn(w, r, in.Username, in.Password)
			if err != nil {
				s.problem(w, r, err)
				return
			}
			writeJSON(w, http.StatusOK, res)
		})
	s.HandleRaw(Route{Method: "DELETE", Path: "/session", Perm: relais.PermPublic, Tag: tag,
		Summary: "Sign out: ends the session and clears its cookie", Status: http.StatusNoContent},
		func(w http.ResponseWriter, r *http.Request) {
			s.endSession(w, r)
			w.WriteHeader(http.StatusNoContent)
		})
	s.Handle(Route{Method: "GET", Path: "/me", Perm: relais.PermSignedIn, Tag: tag,
		Summary: "Who is signed in", Out: relais.Actor{}}, func(r *http.Request) (any, error) {
		return Actor(r), nil
	})
	s.HandleRaw(Route{Method: "POST", Path: "/password-reset", Perm: relais.PermPublic, Tag: tag,
		Summary: "Choose a new password with a one-time reset link's secret (then sign in)", In: ResetRequest{}, Out: relais.User{}},
		func(w http.ResponseWriter, r *http.Request) {
			var in ResetRequest
			if err := Decode(r, &in); err != nil {
				s.problem(w, r, err)
				return
			}
			u, err := s.resetPassword(w, r, in)
			if err != nil {
				if err != errAnswered {
					s.problem(w, r, err)
				}
				return
			}
			writeJSON(w, http.StatusOK, u)
		})
	s.passkeyRoutes()
}

// ResetRequest is the body of POST /api/v1/password-reset.
type ResetRequest struct {
	Token    string `json:"token" doc:"the secret after # in the reset link"`
	Password string `json:"password" doc:"at least 8 characters"`
}

// errAnswered says the request was already answered (e.g. 429).
var errAnswered = fmt.Errorf("web: answered")

// resetKey is the rate-limit username of password resets.
const resetKey = "(password reset)"

// resetPassword uses a reset secret, rate-limited like a sign-in (a guessed
// secret is a failed sign-in).
func (s *Server) resetPassword(w http.ResponseWriter, r *http.Request, in ResetRequest) (relais.User, error) {
	const key = resetKey
	if !s.signInAllowed(w, r, key) {
		return relais.User{}, errAnswered
	}
	u, err := s.Users.ResetPassword(r.Context(), strings.TrimSpace(in.Token), in.Password)
	if err != nil {
		if relais.ErrorKind(err) == relais.KindUnauthorized {
			s.signInFailed(r, key)
		}
		return relais.User{}, err
	}
	s.Log.Info("password reset", "user", u.Username, "ip", s.clientIP(r))
	return u, nil
}

// readBody reads a body that is not decoded into a struct (a WebAuthn
// answer), with the same bounds as Decode.
func readBody(r *http.Request, max int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, max+1))
	if err != nil {
		return nil, relais.E("request.read", relais.KindInvalid, "the request body could not be read", err)
	}
	if int64(len(b)) > max {
		return nil, relais.E("request.read", relais.KindInvalid, fmt.Sprintf("the request body is larger than %d KiB", max>>10))
	}
	return b, nil
}
