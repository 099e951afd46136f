// Package web serves Relais over HTTP: the JSON API under /api/v1 (with its
// OpenAPI document), the pages, and the middleware that authenticates,
// authorizes and protects them. Handlers call the domain services; they hold
// no SQL.
package web

import (
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/relais-onco/relais"
)

// Services are what the server serves; cmd/relais fills them in.
type Services struct {
	Users      relais.UserService
	Patients   relais.PatientService
	Catalogue  relais.CatalogueService
	Protocols  relais.ProtocolService
	Treatments relais.TreatmentService
	Production relais.ProductionService
	// Hoods are the pharmacy's isolators and cabinets; when nil, New takes
	// them from Production if it provides them (the database does).
	Hoods relais.HoodService
	// Sessions, Tokens and Access keep sessions, API tokens and the access
	// log; when nil, New takes them from Users if it provides them (the
	// database does).
	Sessions relais.SessionService
	Tokens   relais.TokenService
	Access   relais.AccessLog
}

// Server is the HTTP side of one site's Relais.
type Server struct {
	Services
	Site string
	Log  *slog.Logger

	mux    *http.ServeMux
	routes []Route
	ready  atomic.Bool

	// Clients, when set, notes each client and the API version it sent
	// (relais upgrade check lists them).
	Clients ClientNoter

	auth  *authState  // sign-in configuration and machinery (auth.go)
	pages []PageRoute // page routes and their permissions (notePage)
}

// New builds a server and registers every route.
func New(site string, svc Services, log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	if svc.Sessions == nil {
		svc.Sessions, _ = svc.Users.(relais.SessionService)
	}
	if svc.Tokens == nil {
		svc.Tokens, _ = svc.Users.(relais.TokenService)
	}
	if svc.Access == nil {
		svc.Access, _ = svc.Users.(relais.AccessLog)
	}
	if svc.Hoods == nil {
		svc.Hoods, _ = svc.Production.(relais.HoodService)
	}
	s := &Server{Services: svc, Site: site, Log: log, mux: http.NewServeMux(), auth: newAuthState(AuthConfig{})}
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.Handle(Route{Method: "GET", Path: "/openapi.json", Perm: relais.PermPublic, Tag: "Meta",
		Summary: "This document"}, func(r *http.Request) (any, error) { return s.OpenAPI(), nil })
	s.Handle(Route{Method: "GET", Path: "/version", Perm: relais.PermPublic, Tag: "Meta",
		Summary: "Program, API and site", Out: VersionInfo{}}, func(r *http.Request) (any, error) {
		return VersionInfo{Program: relais.Version, API: relais.APIVersion, Site: s.Site}, nil
	})
	s.authRoutes()
	s.userRoutes()
	s.accessRoutes()
	s.patientRoutes()
	s.catalogueRoutes()
	s.protocolRoutes()
	s.treatmentRoutes()
	s.productionRoutes()
	s.hoodRoutes()
	s.continuityRoutes()
	s.networkRoutes()
	s.harmonizeRoutes() // api_harmonize.go: protocol harmonisation across the network
	s.aidRoutes()       // api_aid.go, page_aid.go: mutual aid between sites (issue 12)
	s.pageRoutes()
	return s
}

// VersionInfo answers GET /api/v1/version.
type VersionInfo struct {
	Program string `json:"program"`
	API     string `json:"api"`
	Site    string `json:"site"`
}

// SetReady marks the server ready: /healthz answers 200 from then on.
func (s *Server) SetReady() { s.ready.Store(true) }

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	if !s.ready.Load() {
		http.Error(w, "starting", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}

// Handler returns the server's handler with its middleware.
func (s *Server) Handler() http.Handler {
	var h http.Handler = s.mux
	h = s.pageVersion(h) // stale.go: writes from a page of another Relais are refused
	h = s.clientVersion(h)
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.problem(w, r, relais.E("http.csrf", relais.KindForbidden,
			"cross-origin request refused: a page of another site cannot act in Relais on your behalf"))
	}))
	// The EHR's page posts the contextual launch from its own origin; the
	// signed, single-use token is the proof there (interop.go).
	cop.AddInsecureBypassPattern("POST " + LaunchPath)
	h = cop.Handler(h)
	h = s.authenticate(h)
	h = s.securityHeaders(h)
	h = s.recoverer(h)
	return h
}

func (s *Server) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		if s.secure(r) { // over TLS, here or at the reverse proxy (--public-url https://…)
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.Log.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", v)
				s.problem(w, r, relais.E("http", relais.KindOther, "internal error"))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// ClientVersionHeader carries a client's API version.
const ClientVersionHeader = "Relais-Client-Version"

// ClientIDHeader names a client (a script, another site, a crisis node) for
// the clients-seen list of `relais upgrade check`.
const ClientIDHeader = "Relais-Client-Id"

// ClientNoter records the clients a server sees (sqlstore.ClientLog).
type ClientNoter interface {
	Note(id, apiVersion, agent string, refused bool)
}

// clientVersion refuses clients of an API major version this server does not
// speak, naming both versions, before they can do any harm (seed 004). The
// refusal touches nothing shared: other clients are served as before. Every
// client is noted (s.Clients) with the version it sent.
func (s *Server) clientVersion(next http.Handler) http.Handler {
	serverMajor, _, _ := strings.Cut(relais.APIVersion, ".")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := r.Header.Get(ClientVersionHeader)
		major, _, _ := strings.Cut(v, ".")
		refused := v != "" && major != serverMajor
		if s.Clients != nil {
			s.Clients.Note(clientID(r), truncateHeader(v), r.UserAgent(), refused)
		}
		if refused {
			s.problem(w, r, relais.E("http.version", relais.KindVersion,
				"this client speaks Relais API "+truncateHeader(v)+" but this server speaks "+relais.APIVersion+
					": update the client (or reload the page) before going on"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// clientID names the client of r: its Relais-Client-Id, else the signed-in
// user, else its address.
func clientID(r *http.Request) string {
	if id := r.Header.Get(ClientIDHeader); id != "" {
		return truncateHeader(id)
	}
	if a, ok := relais.ActorFrom(r.Context()); ok && a.Username != "" {
		return "user:" + a.Username
	}
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i > 0 {
		host = host[:i]
	}
	return "addr:" + host
}

func truncateHeader(v string) string {
	if len(v) > 20 {
		return v[:20] + "…"
	}
	return v
}

// authorize refuses a request whose actor lacks perm.
func (s *Server) authorize(perm relais.Permission, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if perm != relais.PermPublic {
			a, ok := relais.ActorFrom(r.Context())
			if !ok {
				s.problem(w, r, relais.E("http.auth", relais.KindUnauthorized, "sign in first"))
				return
			}
			if !a.Role.Can(perm) {
				s.problem(w, r, relais.E("http.auth", relais.KindForbidden,
					"your role ("+string(a.Role)+") does not allow this ("+string(perm)+")"))
				return
			}
			if _, ok := tokenFrom(r.Context()); ok && !relais.Allowed(r.Context(), perm) {
				s.problem(w, r, relais.E("http.auth", relais.KindForbidden,
					"this API token's scope does not include "+string(perm)+": ask an administrator for a token that does"))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// Actor returns the signed-in actor of r (routes behind authorize have one).
func Actor(r *http.Request) relais.Actor {
	a, _ := relais.ActorFrom(r.Context())
	return a
}
