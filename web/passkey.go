package web

import (
	"net/http"
	"strings"
	"time"

	"github.com/relais-onco/relais"
)

// Passkeys: registering them (signed in, from a browser) and using them as
// the second factor of a password sign-in. The browser side is
// static/auth.js; the checks are auth.Passkeys.

// maxWebAuthnBody bounds a WebAuthn answer (a few kilobytes in practice).
const maxWebAuthnBody = 64 << 10

// ceremonyTTL is how long a passkey ceremony waits for its second step.
const ceremonyTTL = 5 * time.Minute

// PasskeyRemoved answers the removal of a passkey.
type PasskeyRemoved struct {
	Removed relais.ID `json:"removed"`
}

func (s *Server) passkeyRoutes() {
	const tag = "Passkeys"
	s.HandleRaw(Route{Method: "POST", Path: "/session/passkey/begin", Perm: relais.PermPublic, Tag: "Session",
		Summary: "Second factor: the options for navigator.credentials.get, after a password sign-in that asked for a passkey"},
		func(w http.ResponseWriter, r *http.Request) {
			as, err := s.pendingSession(r)
			if err != nil {
				s.problem(w, r, err)
				return
			}
			keys, err := s.Users.Passkeys(r.Context(), as.user.ID)
			if err != nil {
				s.problem(w, r, err)
				return
			}
			opts, cer, err := s.auth.passkeys.BeginLogin(as.user, keys)
			if err != nil {
				s.problem(w, r, relais.E("passkey.begin", relais.KindConflict, err.Error()))
				return
			}
			if !s.auth.ceremonies.put("login:"+as.IDHash, cer, ceremonyTTL) {
				s.problem(w, r, relais.E("passkey.begin", relais.KindUnavailable, "too many passkey requests in progress: try again in a minute"))
				return
			}
			writeJSON(w, http.StatusOK, opts)
		})
	s.HandleRaw(Route{Method: "POST", Path: "/session/passkey/finish", Perm: relais.PermPublic, Tag: "Session",
		Summary: "Second factor: the authenticator's answer; on success the session is signed in (with a new cookie)", Out: SignInResult{}},
		func(w http.ResponseWriter, r *http.Request) {
			as, err := s.pendingSession(r)
			if err != nil {
				s.problem(w, r, err)
				return
			}
			if !s.signInAllowed(w, r, as.user.Username) {
				return
			}
			body, err := readBody(r, maxWebAuthnBody)
			if err != nil {
				s.problem(w, r, err)
				return
			}
			cer, ok := s.auth.ceremonies.take("login:" + as.IDHash)
			if !ok {
				s.problem(w, r, relais.E("passkey.finish", relais.KindConflict, "no passkey request is waiting (it lasts 5 minutes): start again"))
				return
			}
			keys, err := s.Users.Passkeys(r.Context(), as.user.ID)
			if err != nil {
				s.problem(w, r, err)
				return
			}
			id, rec, err := s.auth.passkeys.FinishLogin(as.user, keys, cer, body)
			if err != nil {
				s.signInFailed(r, as.user.Username)
				s.Log.Info("passkey refused", "user", as.user.Username, "err", err, "ip", s.clientIP(r))
				s.problem(w, r, relais.E("passkey.finish", relais.KindUnauthorized, "the passkey was not accepted: try again, or use another of your passkeys"))
				return
			}
			if err := s.Users.PasskeyUsed(r.Context(), id, rec); err != nil {
				s.problem(w, r, err)
				return
			}
			// A new session for the signed-in state: the half-signed-in
			// secret is retired.
			if err := s.Sessions.DeleteSession(r.Context(), as.IDHash); err != nil {
				s.problem(w, r, err)
				return
			}
			if _, err := s.startSession(w, r, as.user, relais.MethodPasskey, false, "", ""); err != nil {
				s.problem(w, r, err)
				return
			}
			writeJSON(w, http.StatusOK, SignInResult{User: as.user})
		})

	s.Handle(Route{Method: "GET", Path: "/passkeys", Perm: relais.PermSignedIn, Tag: tag,
		Summary: "Your passkeys", Out: []relais.Passkey{}},
		func(r *http.Request) (any, error) { return s.Users.Passkeys(r.Context(), Actor(r).UserID) })
	s.HandleRaw(Route{Method: "POST", Path: "/passkeys/register/begin", Perm: relais.PermSignedIn, Tag: tag,
		Summary: "Start adding a passkey to your account: the options for navigator.credentials.create"},
		func(w http.ResponseWriter, r *http.Request) {
			as, u, err := s.passkeyOwner(r)
			if err != nil {
				s.problem(w, r, err)
				return
			}
			keys, err := s.Users.Passkeys(r.Context(), u.ID)
			if err != nil {
				s.problem(w, r, err)
				return
			}
			opts, cer, err := s.auth.passkeys.BeginRegistration(u, keys)
			if err != nil {
				s.problem(w, r, relais.E("passkey.register", err))
				return
			}
			if !s.auth.ceremonies.put("register:"+as.IDHash, cer, ceremonyTTL) {
				s.problem(w, r, relais.E("passkey.register", relais.KindUnavailable, "too many passkey requests in progress: try again in a minute"))
				return
			}
			writeJSON(w, http.StatusOK, opts)
		})
	s.HandleRaw(Route{Method: "POST", Path: "/passkeys/register/finish", Perm: relais.PermSignedIn, Tag: tag, Status: http.StatusCreated,
		Summary: "Finish adding a passkey: the authenticator's answer", Out: relais.Passkey{},
		Query: []Param{{Name: "name", Description: `what you call it, e.g. "YubiKey bleue"`}}},
		func(w http.ResponseWriter, r *http.Request) {
			as, u, err := s.passkeyOwner(r)
			if err != nil {
				s.problem(w, r, err)
				return
			}
			body, err := readBody(r, maxWebAuthnBody)
			if err != nil {
				s.problem(w, r, err)
				return
			}
			cer, ok := s.auth.ceremonies.take("register:" + as.IDHash)
			if !ok {
				s.problem(w, r, relais.E("passkey.register", relais.KindConflict, "no passkey registration is waiting (it lasts 5 minutes): start again"))
				return
			}
			keys, err := s.Users.Passkeys(r.Context(), u.ID)
			if err != nil {
				s.problem(w, r, err)
				return
			}
			pk, err := s.auth.passkeys.FinishRegistration(u, keys, cer, strings.TrimSpace(r.URL.Query().Get("name")), body)
			if err != nil {
				s.Log.Info("passkey registration refused", "user", u.Username, "err", err)
				s.problem(w, r, relais.E("passkey.register", relais.KindInvalid, "the passkey was not accepted: try again"))
				return
			}
			pk, err = s.Users.AddPasskey(r.Context(), pk)
			if err != nil {
				s.problem(w, r, err)
				return
			}
			writeJSON(w, http.StatusCreated, pk)
		})
	s.Handle(Route{Method: "POST", Path: "/passkeys/{id}/remove", Perm: relais.PermSignedIn, Tag: tag,
		Summary: "Remove one of your passkeys", Out: PasskeyRemoved{}},
		func(r *http.Request) (any, error) {
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			if err := s.Users.RemovePasskey(r.Context(), Actor(r).UserID, id); err != nil {
				return nil, err
			}
			return PasskeyRemoved{Removed: id}, nil
		})
}

// pendingSession is the half-signed-in session waiting for its passkey.
func (s *Server) pendingSession(r *http.Request) (*activeSession, error) {
	if s.auth.passkeys == nil {
		return nil, relais.E("passkey", relais.KindUnavailable, "passkeys are not configured on this server (--public-url)")
	}
	as, ok := sessionFrom(r.Context())
	if !ok || !as.PendingSecondFactor {
		return nil, relais.E("passkey", relais.KindUnauthorized, "no sign-in is waiting for a passkey: sign in with your password first")
	}
	return as, nil
}

// passkeyOwner is the signed-in browser adding a passkey to its account.
func (s *Server) passkeyOwner(r *http.Request) (*activeSession, relais.User, error) {
	if s.auth.passkeys == nil {
		return nil, relais.User{}, relais.E("passkey", relais.KindUnavailable, "passkeys are not configured on this server (--public-url)")
	}
	as, ok := sessionFrom(r.Context())
	if !ok || as.PendingSecondFactor {
		return nil, relais.User{}, relais.E("passkey", relais.KindConflict, "a passkey is added from a signed-in browser, not with a password or a token")
	}
	return as, as.user, nil
}
