package web

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/auth"
)

// Sessions. A session is a random secret in a cookie; the database keeps
// its SHA-256 with the account, the sign-in method and the times, so that
// sessions survive a restart and a copy of the database signs no one in.
//
// The cookie is HttpOnly (no script reads it), SameSite=Strict (no other
// site's page can make the browser send it), Secure and named with the
// __Host- prefix whenever Relais is reached over HTTPS (directly, or behind
// a reverse proxy: --public-url https://…). It has no Max-Age: closing the
// browser ends it, which suits shared ward workstations; the server ends it
// anyway after SessionIdle without activity or SessionMax after sign-in.
//
// Single sign-on does not need SameSite=Lax for the session cookie: the
// provider's redirect back (a cross-site navigation) carries only the
// short-lived sign-in flow cookie, which is Lax; the session cookie is set
// on that answer and first sent by the same-site navigation that follows
// (see oidc.go).

const (
	sessionCookie       = "relais_session"
	secureSessionCookie = "__Host-relais_session"
)

// Default session timeouts: 30 minutes idle (an unattended ward workstation
// must not stay signed in for long), 12 hours absolute (a shift).
const (
	DefaultSessionIdle = 30 * time.Minute
	DefaultSessionMax  = 12 * time.Hour
)

// touchEvery bounds how often a session's activity is written: once a
// minute is precise enough for a 30-minute idle timeout.
const touchEvery = time.Minute

type ctxKey int

const (
	sessionKey ctxKey = iota // *activeSession of a signed-in or half-signed-in browser
	tokenKey                 // relais.APIToken of a program
)

// activeSession is the request's session.
type activeSession struct {
	secret string
	relais.Session
	user relais.User
}

func sessionFrom(ctx context.Context) (*activeSession, bool) {
	s, ok := ctx.Value(sessionKey).(*activeSession)
	return s, ok
}

func tokenFrom(ctx context.Context) (relais.APIToken, bool) {
	t, ok := ctx.Value(tokenKey).(relais.APIToken)
	return t, ok
}

// secure reports whether cookies must be Secure: the request came over TLS,
// or the public address is HTTPS (TLS ends at a reverse proxy).
func (s *Server) secure(r *http.Request) bool {
	return r.TLS != nil || strings.HasPrefix(s.auth.cfg.PublicURL, "https://")
}

func (s *Server) cookieName(r *http.Request) string {
	if s.secure(r) {
		return secureSessionCookie
	}
	return sessionCookie
}

// startSession signs u in on w: a new secret (never one the browser
// brought, so no session fixation), stored hashed.
//
// For single sign-on, subject and refreshToken (if the provider gave one)
// are sealed into the session for its periodic revalidation.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, u relais.User, method string, pending bool, subject, refreshToken string) (*activeSession, error) {
	if s.Sessions == nil {
		return nil, relais.E("session.create", relais.KindUnavailable, "sessions are not available on this server")
	}
	secret, hash := auth.NewSecret(auth.PrefixSession)
	now := s.now()
	sess := relais.Session{IDHash: hash, UserID: u.ID, Method: method, CreatedAt: now, LastSeenAt: now,
		ExpiresAt: now.Add(s.auth.cfg.SessionMax), PendingSecondFactor: pending,
		RemoteAddr: s.clientIP(r), UserAgent: r.UserAgent()}
	if pending {
		// A half-signed-in session waits a few minutes for the passkey.
		sess.ExpiresAt = now.Add(5 * time.Minute)
	}
	if method == relais.MethodOIDC {
		sess.RevalidateAt = now.Add(s.auth.oidc.Config().Revalidate)
		if refreshToken != "" {
			sealed, err := auth.Seal(secret, "oidc-refresh", subject+"\x00"+refreshToken)
			if err != nil {
				return nil, relais.E("session.create", err)
			}
			sess.SealedRefresh = sealed
		}
	}
	if err := s.Sessions.CreateSession(r.Context(), sess); err != nil {
		return nil, err
	}
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(r), Value: secret, Path: "/",
		HttpOnly: true, Secure: s.secure(r), SameSite: http.SameSiteStrictMode})
	s.Log.Info("signed in", "user", u.Username, "method", method, "pending_second_factor", pending, "ip", sess.RemoteAddr)
	return &activeSession{secret: secret, Session: sess, user: u}, nil
}

// endSession removes the request's session (if any) and clears the cookie.
func (s *Server) endSession(w http.ResponseWriter, r *http.Request) {
	if as, ok := sessionFrom(r.Context()); ok && s.Sessions != nil {
		if err := s.Sessions.DeleteSession(r.Context(), as.IDHash); err != nil {
			s.Log.Error("sign out", "err", err)
		}
	} else if c, err := r.Cookie(s.cookieName(r)); err == nil && s.Sessions != nil {
		s.Sessions.DeleteSession(r.Context(), auth.HashSecret(c.Value))
	}
	s.clearCookie(w, r)
}

func (s *Server) clearCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(r), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.secure(r), SameSite: http.SameSiteStrictMode})
}

// errNoSession: the cookie names no live session; the request goes on
// signed out.
var errNoSession = errors.New("no session")

// loadSession finds the request's session and checks it is still live:
// idle and absolute timeouts, the account enabled, and for single sign-on
// a periodic check with the identity provider.
func (s *Server) loadSession(w http.ResponseWriter, r *http.Request) (*activeSession, error) {
	c, err := r.Cookie(s.cookieName(r))
	if err != nil || s.Sessions == nil {
		return nil, errNoSession
	}
	if !auth.LooksLike(c.Value, auth.PrefixSession) {
		s.clearCookie(w, r)
		return nil, errNoSession
	}
	ctx := r.Context()
	hash := auth.HashSecret(c.Value)
	sess, u, err := s.Sessions.SessionByHash(ctx, hash)
	if err != nil {
		if relais.ErrorKind(err) == relais.KindNotFound {
			s.clearCookie(w, r)
			return nil, errNoSession
		}
		return nil, err
	}
	now := s.now()
	end := ""
	switch {
	case u.Disabled:
		end = "account disabled"
	case now.Sub(sess.LastSeenAt) > s.auth.cfg.SessionIdle:
		end = "idle timeout"
	case !now.Before(sess.ExpiresAt):
		end = "absolute timeout"
	}
	if end != "" {
		s.Log.Info("session ended", "user", u.Username, "why", end)
		if err := s.Sessions.DeleteSession(ctx, hash); err != nil {
			return nil, err
		}
		s.clearCookie(w, r)
		return nil, errNoSession
	}
	as := &activeSession{secret: c.Value, Session: sess, user: u}
	if sess.Method == relais.MethodOIDC && !now.Before(sess.RevalidateAt) {
		if err := s.revalidate(r, as); err != nil {
			if errors.Is(err, errNoSession) {
				s.clearCookie(w, r)
			}
			return nil, err
		}
	}
	if now.Sub(sess.LastSeenAt) >= touchEvery {
		if err := s.Sessions.TouchSession(ctx, hash, now); err != nil {
			return nil, err
		}
	}
	return as, nil
}

// revalidate checks a single sign-on session with the identity provider,
// using the refresh token sealed with the session's secret. A refusal (the
// account was disabled there, its sessions revoked, its role removed) ends
// the session. If the provider cannot be reached, the session goes on — a
// down identity provider must not stop a ward's work — and the check is
// tried again a minute later; the absolute timeout still applies.
func (s *Server) revalidate(r *http.Request, as *activeSession) error {
	ctx := r.Context()
	end := func(why string) error {
		s.Log.Info("session ended", "user", as.user.Username, "why", why)
		if err := s.Sessions.DeleteSession(ctx, as.IDHash); err != nil {
			return err
		}
		return errNoSession
	}
	o := s.auth.oidc
	if o == nil {
		return end("single sign-on is no longer configured")
	}
	if as.SealedRefresh == "" {
		return end("the identity provider gave no refresh token: sign in again")
	}
	opened, err := auth.Open(as.secret, "oidc-refresh", as.SealedRefresh)
	subject, rt, ok := strings.Cut(opened, "\x00")
	if err != nil || !ok {
		return end("sealed refresh token unreadable")
	}
	res, err := o.Refresh(ctx, subject, rt)
	var re *auth.RoleError
	switch {
	case errors.Is(err, auth.ErrRevoked), errors.As(err, &re):
		return end("identity provider: " + err.Error())
	case err != nil:
		s.Log.Warn("identity provider unreachable; session kept", "user", as.user.Username, "err", err)
		return s.Sessions.RevalidatedSession(ctx, as.IDHash, s.now().Add(time.Minute), "")
	}
	u, err := s.Users.ExternalSignIn(ctx, res.Identity)
	if err != nil {
		if k := relais.ErrorKind(err); k == relais.KindUnauthorized || k == relais.KindInvalid || k == relais.KindConflict {
			return end(relais.ErrorMessage(err))
		}
		return err
	}
	sealed := ""
	if res.RefreshToken != "" {
		if sealed, err = auth.Seal(as.secret, "oidc-refresh", subject+"\x00"+res.RefreshToken); err != nil {
			return err
		}
	}
	as.user = u
	return s.Sessions.RevalidatedSession(ctx, as.IDHash, s.now().Add(o.Config().Revalidate), sealed)
}

// authenticate puts the actor in the request context, from an API token
// (Authorization: Bearer), the session cookie, or HTTP Basic credentials
// (kept for scripts written before tokens; refused for accounts with a
// passkey, and when local sign-in is off). It refuses a bad credential with
// 401, and rate-limits: sign-in failures per address and username, API
// requests per token, session or address. Routes without a credential go on
// signed out: authorize decides, per route.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		ip := s.clientIP(r)
		limitKey := "ip:" + ip
		authz := r.Header.Get("Authorization")
		switch {
		case strings.HasPrefix(authz, "Bearer "):
			if s.Tokens == nil {
				s.problem(w, r, relais.E("http.auth", relais.KindUnauthorized, "API tokens are not available on this server"))
				return
			}
			if ok, retry := s.auth.signInIP.blocked("ip:" + ip); !ok {
				s.tooMany(w, r, retry, "too many failed sign-ins from this address")
				return
			}
			if !isAPIPath(r.URL.Path) {
				s.problem(w, r, relais.E("http.auth", relais.KindUnauthorized, "API tokens work only for the APIs (/api/v1, /fhir/r4): people sign in on the sign-in page"))
				return
			}
			t, u, err := s.Tokens.AuthenticateToken(ctx, strings.TrimSpace(strings.TrimPrefix(authz, "Bearer ")))
			if err != nil {
				if relais.ErrorKind(err) == relais.KindUnauthorized {
					s.auth.signInIP.take("ip:" + ip)
				}
				s.problem(w, r, err)
				return
			}
			// Programs must say which API version they speak (seed 004: an
			// old client that did not brought the server down). FHIR
			// clients speak FHIR R4, versioned by its path.
			if strings.HasPrefix(r.URL.Path, "/api/") && r.Header.Get(ClientVersionHeader) == "" {
				s.problem(w, r, relais.E("http.version", relais.KindVersion,
					"send your client's API version in the "+ClientVersionHeader+" header: this server speaks Relais API "+relais.APIVersion))
				return
			}
			ctx = context.WithValue(ctx, tokenKey, t)
			ctx = relais.WithActor(ctx, u.Actor())
			ctx = relais.WithScope(ctx, t.Permissions)
			limitKey = "tok:" + string(t.ID)
		case hasCookie(r, s.cookieName(r)):
			as, err := s.loadSession(w, r)
			switch {
			case err == nil:
				ctx = context.WithValue(ctx, sessionKey, as)
				if !as.PendingSecondFactor {
					ctx = relais.WithActor(ctx, as.user.Actor())
				}
				limitKey = "ses:" + as.IDHash[:16]
			case errors.Is(err, errNoSession):
			default:
				s.problem(w, r, relais.E("http.auth", relais.KindUnavailable, "your session could not be checked; try again", err))
				return
			}
		default:
			if name, pass, ok := r.BasicAuth(); ok && s.Users != nil {
				u, err := s.basicSignIn(w, r, name, pass)
				if err != nil {
					return // answered
				}
				ctx = relais.WithActor(ctx, u.Actor())
				limitKey = "usr:" + u.Username
			}
		}
		if isAPIPath(r.URL.Path) {
			if ok, retry := s.auth.api.allow(limitKey); !ok {
				s.tooMany(w, r, retry, "too many API requests")
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// isAPIPath reports whether a path belongs to an API (JSON or FHIR) rather
// than to the pages.
func isAPIPath(p string) bool {
	return strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/fhir/")
}

func hasCookie(r *http.Request, name string) bool {
	_, err := r.Cookie(name)
	return err == nil
}

// basicSignIn checks HTTP Basic credentials, answering the request itself
// when they are refused.
func (s *Server) basicSignIn(w http.ResponseWriter, r *http.Request, name, pass string) (relais.User, error) {
	if s.auth.cfg.DisableLocalLogin {
		err := relais.E("http.auth", relais.KindUnauthorized, "password sign-in is off on this server: use single sign-on, or an API token for a program")
		s.problem(w, r, err)
		return relais.User{}, err
	}
	key := signInKey(s.clientIP(r), name)
	if ok, retry := s.auth.signIn.blocked(key); !ok {
		s.tooMany(w, r, retry, "too many failed sign-ins for this account from this address")
		return relais.User{}, errNoSession
	}
	u, err := s.Users.Authenticate(r.Context(), name, pass)
	if err != nil {
		if relais.ErrorKind(err) == relais.KindUnauthorized {
			s.auth.signIn.take(key)
		}
		s.problem(w, r, err)
		return relais.User{}, err
	}
	keys, err := s.Users.Passkeys(r.Context(), u.ID)
	if err != nil {
		s.problem(w, r, err)
		return relais.User{}, err
	}
	if len(keys) > 0 {
		err := relais.E("http.auth", relais.KindUnauthorized,
			"this account has a passkey, so a password alone does not sign it in: use the sign-in page, or an API token for a program")
		s.problem(w, r, err)
		return relais.User{}, err
	}
	return u, nil
}

// SweepSessions removes expired sessions every interval until ctx ends (they
// are refused anyway; this keeps the table small).
func (s *Server) SweepSessions(ctx context.Context, every time.Duration) {
	if s.Sessions == nil {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			now := s.now()
			n, err := s.Sessions.DeleteExpiredSessions(ctx, now.Add(-s.auth.cfg.SessionIdle), now)
			if err != nil {
				s.Log.Warn("sweeping expired sessions", "err", err)
			} else if n > 0 {
				s.Log.Info("expired sessions swept", "n", n)
			}
		}
	}
}
