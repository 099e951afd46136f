// Package web serves Relais over HTTP: the JSON API under /api/v1 (with its
// OpenAPI document), the pages, and the middleware that authenticates,
// authorizes and protects them. Handlers call the domain services; they hold
// no SQL.
package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

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
}

// Server is the HTTP side of one site's Relais.
type Server struct {
	Services
	Site string
	Log  *slog.Logger

	mux    *http.ServeMux
	routes []Route
	ready  atomic.Bool

	sessions sessionStore
}

// New builds a server and registers every route.
func New(site string, svc Services, log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	s := &Server{Services: svc, Site: site, Log: log, mux: http.NewServeMux()}
	s.sessions.m = map[string]*session{}
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.Handle(Route{Method: "GET", Path: "/openapi.json", Perm: relais.PermPublic, Tag: "Meta",
		Summary: "This document"}, func(r *http.Request) (any, error) { return s.OpenAPI(), nil })
	s.Handle(Route{Method: "GET", Path: "/version", Perm: relais.PermPublic, Tag: "Meta",
		Summary: "Program, API and site", Out: VersionInfo{}}, func(r *http.Request) (any, error) {
		return VersionInfo{Program: relais.Version, API: relais.APIVersion, Site: s.Site}, nil
	})
	s.authRoutes()
	s.patientRoutes()
	s.catalogueRoutes()
	s.protocolRoutes()
	s.treatmentRoutes()
	s.productionRoutes()
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
	h = s.clientVersion(h)
	h = http.NewCrossOriginProtection().Handler(h)
	h = s.authenticate(h)
	h = securityHeaders(h)
	h = s.recoverer(h)
	return h
}

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		if r.TLS != nil {
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

// clientVersion refuses clients of an API major version this server does not
// speak, naming both versions, before they can do any harm (seed 004).
func (s *Server) clientVersion(next http.Handler) http.Handler {
	serverMajor, _, _ := strings.Cut(relais.APIVersion, ".")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := r.Header.Get(ClientVersionHeader); v != "" {
			major, _, _ := strings.Cut(v, ".")
			if major != serverMajor {
				s.problem(w, r, relais.E("http.version", relais.KindVersion,
					"this client speaks Relais API "+truncateHeader(v)+" but this server speaks "+relais.APIVersion+
						": update the client (or reload the page) before going on"))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func truncateHeader(v string) string {
	if len(v) > 20 {
		return v[:20] + "…"
	}
	return v
}

// Sessions. They live in memory for now: a restart signs everyone out.

const sessionCookie = "relais_session"

const (
	sessionIdle     = 30 * time.Minute
	sessionAbsolute = 12 * time.Hour
)

type session struct {
	user     relais.User
	created  time.Time
	lastSeen time.Time
}

type sessionStore struct {
	mu sync.Mutex
	m  map[string]*session
}

func (st *sessionStore) create(u relais.User) string {
	b := make([]byte, 32)
	rand.Read(b)
	id := hex.EncodeToString(b)
	now := time.Now()
	st.mu.Lock()
	st.m[id] = &session{user: u, created: now, lastSeen: now}
	st.mu.Unlock()
	return id
}

func (st *sessionStore) get(id string) (relais.User, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	s, ok := st.m[id]
	if !ok {
		return relais.User{}, false
	}
	now := time.Now()
	if now.Sub(s.lastSeen) > sessionIdle || now.Sub(s.created) > sessionAbsolute {
		delete(st.m, id)
		return relais.User{}, false
	}
	s.lastSeen = now
	return s.user, true
}

func (st *sessionStore) delete(id string) {
	st.mu.Lock()
	delete(st.m, id)
	st.mu.Unlock()
}

// authenticate puts the actor in the request context, from the session cookie
// or HTTP Basic credentials (scripts). It does not refuse anyone: authorize
// does, per route.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie(sessionCookie); err == nil {
			if u, ok := s.sessions.get(c.Value); ok {
				r = r.WithContext(relais.WithActor(r.Context(), u.Actor()))
			}
		} else if name, pass, ok := r.BasicAuth(); ok && s.Users != nil {
			u, err := s.Users.Authenticate(r.Context(), name, pass)
			if err != nil {
				s.problem(w, r, err)
				return
			}
			r = r.WithContext(relais.WithActor(r.Context(), u.Actor()))
		}
		next.ServeHTTP(w, r)
	})
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
		}
		next.ServeHTTP(w, r)
	})
}

// Actor returns the signed-in actor of r (routes behind authorize have one).
func Actor(r *http.Request) relais.Actor {
	a, _ := relais.ActorFrom(r.Context())
	return a
}

var _ = context.Background
