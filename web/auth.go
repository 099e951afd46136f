package web

import (
	"net/http"

	"github.com/relais-onco/relais"
)

// SignInRequest is the body of POST /api/v1/session.
type SignInRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

func (s *Server) authRoutes() {
	s.HandleRaw(Route{Method: "POST", Path: "/session", Perm: relais.PermPublic, Tag: "Session",
		Summary: "Sign in with a username and password; sets the session cookie", In: SignInRequest{}, Out: relais.User{}},
		func(w http.ResponseWriter, r *http.Request) {
			var in SignInRequest
			if err := Decode(r, &in); err != nil {
				s.problem(w, r, err)
				return
			}
			u, err := s.Users.Authenticate(r.Context(), in.Username, in.Password)
			if err != nil {
				s.problem(w, r, err)
				return
			}
			s.signIn(w, r, u)
			writeJSON(w, http.StatusOK, u)
		})
	s.Handle(Route{Method: "GET", Path: "/me", Perm: relais.PermSignedIn, Tag: "Session",
		Summary: "Who is signed in", Out: relais.Actor{}}, func(r *http.Request) (any, error) {
		return Actor(r), nil
	})
}

// signIn starts a session for u on w.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request, u relais.User) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: s.sessions.create(u), Path: "/",
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode, MaxAge: int(sessionAbsolute.Seconds())})
}
