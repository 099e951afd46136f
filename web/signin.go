package web

import (
	"errors"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/relais-onco/relais"
)

// The sign-in pages: password (then passkey), single sign-on button, sign
// out, password reset by a one-time link, and one's own passkeys. The
// browser side of passkeys and of the reset link is static/auth.js (no
// inline script: the CSP forbids it).

// loginView is what login.html shows.
type loginView struct {
	Step     string // "password" or "passkey"
	Next     string
	Username string
	Message  string // what went wrong, for the person
	Detail   string // more, when useful (the provider's error, the missing role)
	Local    bool   // password sign-in is on
	SSOLabel string // the single sign-on button's text ("" when none)
	SSOURL   string
}

// resetView is what reset.html shows.
type resetView struct {
	Message string
	Done    bool
}

// passkeysView is what account_passkeys.html shows.
type passkeysView struct {
	Passkeys  []relais.Passkey
	Available bool // passkeys are configured on this server
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request, p *page, status int, v loginView) {
	if v.Step == "" {
		v.Step = "password"
	}
	if v.Next == "" {
		v.Next = safeNext(r.URL.Query().Get("next"))
	}
	v.Local = !s.auth.cfg.DisableLocalLogin
	if s.auth.oidc != nil {
		v.SSOLabel = s.auth.oidc.Config().Label
		v.SSOURL = ssoURL(v.Next)
	}
	p.Title = p.T("signin.title")
	p.Data = v
	p.User = nil
	s.render(w, r, "login", status, *p)
}

// signInPages are the sign-in, sign-out, reset and passkey pages, and the
// single sign-on redirect and callback.
func (s *Server) signInPages() {
	s.handlePage("GET /login", relais.PermPublic, func(w http.ResponseWriter, r *http.Request, p *page) error {
		next := safeNext(r.URL.Query().Get("next"))
		if _, ok := relais.ActorFrom(r.Context()); ok {
			http.Redirect(w, r, next, http.StatusSeeOther)
			return nil
		}
		v := loginView{Next: next}
		if as, ok := sessionFrom(r.Context()); ok && as.PendingSecondFactor {
			v.Step, v.Username = "passkey", as.user.Username
		}
		s.loginPage(w, r, p, http.StatusOK, v)
		return nil
	})
	s.handlePage("POST /login", relais.PermPublic, func(w http.ResponseWriter, r *http.Request, p *page) error {
		username := r.PostFormValue("username")
		v := loginView{Next: safeNext(r.PostFormValue("next")), Username: username}
		if ok, retry, _ := s.checkSignIn(r, username); !ok {
			secs := int(math.Ceil(retry.Seconds()))
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			v.Message = p.Tf("signin.too_many", secs)
			s.loginPage(w, r, p, http.StatusTooManyRequests, v)
			return nil
		}
		res, err := s.passwordSignIn(w, r, username, r.PostFormValue("password"))
		if err != nil {
			var le *relais.LockedError
			switch {
			case errors.As(err, &le):
				v.Message = p.Tf("signin.locked", relais.LockoutAfter, le.Until.In(relais.DisplayZone).Format("15:04"))
			case errors.Is(err, relais.ErrAccountDisabled):
				v.Message = p.T("signin.disabled")
			case relais.ErrorKind(err) == relais.KindForbidden:
				v.Message = p.T("signin.local_off")
			case relais.ErrorKind(err) == relais.KindUnauthorized:
				v.Message = p.T("signin.failed")
			default:
				return err
			}
			s.loginPage(w, r, p, http.StatusUnauthorized, v)
			return nil
		}
		if res.SecondFactor != "" {
			http.Redirect(w, r, "/login?next="+url.QueryEscape(v.Next), http.StatusSeeOther)
			return nil
		}
		http.Redirect(w, r, v.Next, http.StatusSeeOther)
		return nil
	})
	s.handlePage("POST /logout", relais.PermPublic, func(w http.ResponseWriter, r *http.Request, p *page) error {
		if a, ok := relais.ActorFrom(r.Context()); ok {
			s.Log.Info("signed out", "user", a.Username)
		}
		s.endSession(w, r)
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return nil
	})
	s.handlePage("GET /reset", relais.PermPublic, func(w http.ResponseWriter, r *http.Request, p *page) error {
		p.Title = p.T("reset.title")
		p.Data = resetView{}
		s.render(w, r, "reset", http.StatusOK, *p)
		return nil
	})
	s.handlePage("POST /reset", relais.PermPublic, func(w http.ResponseWriter, r *http.Request, p *page) error {
		p.Title = p.T("reset.title")
		v := resetView{}
		status := http.StatusOK
		pw := r.PostFormValue("password")
		switch ok, retry, _ := s.checkSignIn(r, resetKey); {
		case !ok:
			secs := int(math.Ceil(retry.Seconds()))
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			v.Message, status = p.Tf("signin.too_many", secs), http.StatusTooManyRequests
		case pw != r.PostFormValue("password2"):
			v.Message, status = p.T("reset.mismatch"), http.StatusUnprocessableEntity
		default:
			u, err := s.Users.ResetPassword(r.Context(), strings.TrimSpace(r.PostFormValue("token")), pw)
			switch {
			case err == nil:
				s.Log.Info("password reset", "user", u.Username, "ip", s.clientIP(r))
				v.Done = true
			case relais.ErrorKind(err) == relais.KindUnauthorized:
				s.signInFailed(r, resetKey)
				v.Message, status = p.T("reset.invalid"), http.StatusUnauthorized
			case relais.ErrorKind(err) == relais.KindInvalid:
				v.Message, status = p.T("reset.weak"), http.StatusUnprocessableEntity
			default:
				return err
			}
		}
		p.Data = v
		s.render(w, r, "reset", status, *p)
		return nil
	})
	s.handlePage("GET /account/passkeys", relais.PermSignedIn, func(w http.ResponseWriter, r *http.Request, p *page) error {
		keys, err := s.Users.Passkeys(r.Context(), Actor(r).UserID)
		if err != nil {
			return err
		}
		p.Title = p.T("passkeys.title")
		p.Data = passkeysView{Passkeys: keys, Available: s.auth.passkeys != nil}
		s.render(w, r, "account_passkeys", http.StatusOK, *p)
		return nil
	})
	s.handlePage("POST /account/passkeys/{id}/remove", relais.PermSignedIn, func(w http.ResponseWriter, r *http.Request, p *page) error {
		id, err := PathID(r, "id")
		if err != nil {
			return err
		}
		if err := s.Users.RemovePasskey(r.Context(), Actor(r).UserID, id); err != nil {
			return err
		}
		http.Redirect(w, r, "/account/passkeys", http.StatusSeeOther)
		return nil
	})
	s.oidcPages()
}
