package web

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/auth"
)

// Single sign-on pages: the redirect to the identity provider and the
// callback. The flow (state, nonce, PKCE verifier) waits in memory for ten
// minutes under its state, bound to the browser by a flow cookie holding a
// secret whose hash the flow keeps: a callback carrying someone else's state
// (login CSRF) is refused.
//
// The flow cookie is SameSite=Lax because the provider's redirect back is a
// cross-site navigation, on which a Strict cookie is not sent. The session
// cookie stays Strict: the callback sets it and answers a small page that
// moves on to the application by a same-site navigation (a meta refresh, no
// script), on which the browser sends it.

const (
	oidcFlowCookie = "relais_oidc"
	oidcFlowTTL    = 10 * time.Minute
)

// oidcPending is a sign-in waiting for its callback.
type oidcPending struct {
	flow    auth.OIDCFlow
	binding string // hash of the flow cookie's secret
}

// continueView is the page that moves on after single sign-on.
type continueView struct{ Next string }

func (s *Server) oidcPages() {
	s.handlePage("GET /auth/oidc/login", relais.PermPublic, func(w http.ResponseWriter, r *http.Request, p *page) error {
		o := s.auth.oidc
		if o == nil {
			return relais.E("oidc", relais.KindNotFound, "single sign-on is not configured")
		}
		flow, authURL := o.Begin(safeNext(r.URL.Query().Get("next")))
		secret, hash := auth.NewSecret("ro_")
		if !s.auth.flows.put(flow.State, oidcPending{flow: flow, binding: hash}, oidcFlowTTL) {
			return relais.E("oidc", relais.KindUnavailable, "too many sign-ins in progress: try again in a minute")
		}
		http.SetCookie(w, &http.Cookie{Name: oidcFlowCookie, Value: secret, Path: "/auth/oidc/", MaxAge: int(oidcFlowTTL.Seconds()),
			HttpOnly: true, Secure: s.secure(r), SameSite: http.SameSiteLaxMode})
		http.Redirect(w, r, authURL, http.StatusFound)
		return nil
	})
	s.handlePage("GET /auth/oidc/callback", relais.PermPublic, func(w http.ResponseWriter, r *http.Request, p *page) error {
		o := s.auth.oidc
		if o == nil {
			return relais.E("oidc", relais.KindNotFound, "single sign-on is not configured")
		}
		http.SetCookie(w, &http.Cookie{Name: oidcFlowCookie, Value: "", Path: "/auth/oidc/", MaxAge: -1,
			HttpOnly: true, Secure: s.secure(r), SameSite: http.SameSiteLaxMode})
		q := r.URL.Query()
		fail := func(status int, key string, detail string) error {
			s.loginPage(w, r, p, status, loginView{Message: p.T(key), Detail: detail})
			return nil
		}
		if e := q.Get("error"); e != "" {
			s.Log.Info("single sign-on refused by the provider", "error", truncateHeader(e), "ip", s.clientIP(r))
			return fail(http.StatusUnauthorized, "signin.sso_refused", truncateHeader(e))
		}
		pending, ok := s.auth.flows.take(q.Get("state"))
		c, err := r.Cookie(oidcFlowCookie)
		if !ok || err != nil || auth.HashSecret(c.Value) != pending.binding {
			return fail(http.StatusBadRequest, "signin.sso_stale", "")
		}
		res, err := o.Finish(r.Context(), pending.flow, q.Get("code"))
		if err != nil {
			var re *auth.RoleError
			if errors.As(err, &re) {
				return fail(http.StatusForbidden, "signin.sso_norole", re.Message)
			}
			s.Log.Warn("single sign-on failed", "err", err, "ip", s.clientIP(r))
			return fail(http.StatusBadGateway, "signin.sso_failed", "")
		}
		u, err := s.Users.ExternalSignIn(r.Context(), res.Identity)
		if err != nil {
			if errors.Is(err, relais.ErrAccountDisabled) {
				return fail(http.StatusForbidden, "signin.disabled", "")
			}
			if k := relais.ErrorKind(err); k == relais.KindConflict || k == relais.KindInvalid {
				return fail(http.StatusConflict, "signin.sso_failed", relais.ErrorMessage(err))
			}
			return err
		}
		if _, err := s.startSession(w, r, u, relais.MethodOIDC, false, res.Identity.Subject, res.RefreshToken); err != nil {
			return err
		}
		p.Title = p.T("signin.title")
		p.Data = continueView{Next: pending.flow.Next}
		s.render(w, r, "signin_continue", http.StatusOK, *p)
		return nil
	})
}

// ssoURL is the sign-in button's link.
func ssoURL(next string) string {
	return "/auth/oidc/login?next=" + url.QueryEscape(safeNext(next))
}
