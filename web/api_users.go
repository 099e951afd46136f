package web

import (
	"net/http"

	"github.com/relais-onco/relais"
)

// Accounts and API tokens, for administrators (user.admin): no more
// accounts kept by hand in a spreadsheet (seed 000). With single sign-on,
// people's accounts are made at their first sign-in; these routes are for
// local accounts, service accounts and tokens.

// CreateUserRequest creates a local account. It has no password: issue a
// password-reset link for the person to choose one.
type CreateUserRequest struct {
	Username string      `json:"username" doc:"lower-case letters, digits, . _ @ -; e.g. dr.martin"`
	Name     string      `json:"name" doc:"as shown on screens and documents, e.g. \"Dr Claire Martin\""`
	Role     relais.Role `json:"role"`
}

// ResetLink answers the issue of a password-reset link: shown once.
type ResetLink struct {
	relais.PasswordReset
	Link string `json:"link" doc:"give it to the person (it is shown only now); the secret is after #, so it never reaches a server log"`
}

// NewToken answers the creation of an API token: its secret is shown once.
type NewToken struct {
	relais.APIToken
	Secret string `json:"secret" doc:"send it as Authorization: Bearer …; shown only now"`
}

func (s *Server) userRoutes() {
	const tag = "Accounts"
	s.Handle(Route{Method: "GET", Path: "/users", Perm: relais.PermUserAdmin, Tag: tag,
		Summary: "The accounts of this site", Out: []relais.User{}},
		func(r *http.Request) (any, error) { return s.Users.Users(r.Context()) })
	s.Handle(Route{Method: "POST", Path: "/users", Perm: relais.PermUserAdmin, Tag: tag, Status: http.StatusCreated,
		Summary: "Create a local account (then issue it a password-reset link)", In: CreateUserRequest{}, Out: relais.User{}},
		func(r *http.Request) (any, error) {
			var in CreateUserRequest
			if err := Decode(r, &in); err != nil {
				return nil, err
			}
			return s.Users.CreateUser(r.Context(), relais.User{Username: in.Username, Name: in.Name, Role: in.Role}, "")
		})
	s.Handle(Route{Method: "POST", Path: "/users/{id}", Perm: relais.PermUserAdmin, Tag: tag,
		Summary: "Change an account's name or role (only the fields sent)", In: relais.UserUpdate{}, Out: relais.User{}},
		func(r *http.Request) (any, error) {
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			var in relais.UserUpdate
			if err := Decode(r, &in); err != nil {
				return nil, err
			}
			return s.Users.UpdateUser(r.Context(), id, in)
		})
	for _, a := range []struct {
		path, summary string
		disabled      bool
	}{
		{"/users/{id}/disable", "Disable an account: its sessions end at once, its tokens stop working", true},
		{"/users/{id}/enable", "Enable a disabled account again", false},
	} {
		s.Handle(Route{Method: "POST", Path: a.path, Perm: relais.PermUserAdmin, Tag: tag, Summary: a.summary, Out: relais.User{}},
			func(r *http.Request) (any, error) {
				id, err := PathID(r, "id")
				if err != nil {
					return nil, err
				}
				return s.Users.SetUserDisabled(r.Context(), id, a.disabled)
			})
	}
	s.Handle(Route{Method: "POST", Path: "/users/{id}/unlock", Perm: relais.PermUserAdmin, Tag: tag,
		Summary: "Lift a lock-out after failed sign-ins", Out: relais.User{}},
		func(r *http.Request) (any, error) {
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			return s.Users.UnlockUser(r.Context(), id)
		})
	s.Handle(Route{Method: "POST", Path: "/users/{id}/password-reset", Perm: relais.PermUserAdmin, Tag: tag, Status: http.StatusCreated,
		Summary: "Issue a one-time password-reset link (any earlier one stops working)", Out: ResetLink{}},
		func(r *http.Request) (any, error) {
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			pr, secret, err := s.Users.IssuePasswordReset(r.Context(), id, s.auth.cfg.ResetTTL)
			if err != nil {
				return nil, err
			}
			return ResetLink{PasswordReset: pr, Link: s.baseURL(r) + "/reset#" + secret}, nil
		})

	s.Handle(Route{Method: "GET", Path: "/tokens", Perm: relais.PermUserAdmin, Tag: tag,
		Summary: "API tokens, newest first (never their secrets)", Out: []relais.APIToken{}},
		func(r *http.Request) (any, error) { return s.Tokens.Tokens(r.Context()) })
	s.Handle(Route{Method: "POST", Path: "/tokens", Perm: relais.PermUserAdmin, Tag: tag, Status: http.StatusCreated,
		Summary: "Create an API token for an account, limited to some of its permissions; the secret is shown once",
		In:      relais.TokenInput{}, Out: NewToken{}},
		func(r *http.Request) (any, error) {
			var in relais.TokenInput
			if err := Decode(r, &in); err != nil {
				return nil, err
			}
			t, secret, err := s.Tokens.CreateToken(r.Context(), in)
			if err != nil {
				return nil, err
			}
			return NewToken{APIToken: t, Secret: secret}, nil
		})
	s.Handle(Route{Method: "POST", Path: "/tokens/{id}/revoke", Perm: relais.PermUserAdmin, Tag: tag,
		Summary: "Revoke an API token at once", Out: relais.APIToken{}},
		func(r *http.Request) (any, error) {
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			return s.Tokens.RevokeToken(r.Context(), id)
		})
}

// baseURL is the public address, or the request's own when none is set.
func (s *Server) baseURL(r *http.Request) string {
	if s.auth.cfg.PublicURL != "" {
		return s.auth.cfg.PublicURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
