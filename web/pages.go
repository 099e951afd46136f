package web

import (
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"sync"

	"github.com/relais-onco/relais"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

//go:embed i18n/*.json
var i18nFS embed.FS

// Languages, French first.
var Languages = []string{"fr", "en"}

var catalogs = sync.OnceValue(func() map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, lang := range Languages {
		b, err := i18nFS.ReadFile("i18n/" + lang + ".json")
		if err != nil {
			panic(err)
		}
		m := map[string]string{}
		if err := json.Unmarshal(b, &m); err != nil {
			panic(fmt.Sprintf("web: i18n/%s.json: %v", lang, err))
		}
		out[lang] = m
	}
	return out
})

// Translate returns the text of key in lang, falling back to French, then to
// the key itself (so a missing text shows, rather than a blank).
func Translate(lang, key string) string {
	if s, ok := catalogs()[lang][key]; ok {
		return s
	}
	if s, ok := catalogs()["fr"][key]; ok {
		return s
	}
	return key
}

// lang picks the language: ?lang=, then the lang cookie, then
// Accept-Language, then French.
func lang(w http.ResponseWriter, r *http.Request) string {
	if l := r.URL.Query().Get("lang"); l == "fr" || l == "en" {
		http.SetCookie(w, &http.Cookie{Name: "lang", Value: l, Path: "/", SameSite: http.SameSiteLaxMode, MaxAge: 365 * 24 * 3600})
		return l
	}
	if c, err := r.Cookie("lang"); err == nil && (c.Value == "fr" || c.Value == "en") {
		return c.Value
	}
	if al := r.Header.Get("Accept-Language"); strings.HasPrefix(al, "en") {
		return "en"
	}
	return "fr"
}

// page is what every template sees.
type page struct {
	Lang  string
	Title string
	Site  string
	User  *relais.User
	Error string
	Data  any
}

func (p page) T(key string) string { return Translate(p.Lang, key) }

var pageTemplates = sync.OnceValue(func() map[string]*template.Template {
	out := map[string]*template.Template{}
	entries, _ := fs.Glob(templateFS, "templates/*.html")
	for _, e := range entries {
		name := strings.TrimSuffix(strings.TrimPrefix(e, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		out[name] = template.Must(template.ParseFS(templateFS, "templates/layout.html", e))
	}
	return out
})

func (s *Server) render(w http.ResponseWriter, r *http.Request, name string, status int, p page) {
	p.Site = s.Site
	if p.Lang == "" {
		p.Lang = lang(w, r)
	}
	t, ok := pageTemplates()[name]
	if !ok {
		s.Log.Error("no such template", "name", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	var buf strings.Builder
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		s.Log.Error("render", "template", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write([]byte(buf.String()))
}

func (s *Server) pageRoutes() {
	static, _ := fs.Sub(staticFS, "static")
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	s.mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		l := lang(w, r)
		s.render(w, r, "login", http.StatusOK, page{Lang: l, Title: Translate(l, "signin.title")})
	})
	s.mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		l := lang(w, r)
		u, err := s.Users.Authenticate(r.Context(), r.PostFormValue("username"), r.PostFormValue("password"))
		if err != nil {
			s.render(w, r, "login", http.StatusUnauthorized, page{Lang: l, Title: Translate(l, "signin.title"), Error: Translate(l, "signin.failed")})
			return
		}
		s.signIn(w, r, u)
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	s.mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie(sessionCookie); err == nil {
			s.sessions.delete(c.Value)
		}
		http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1})
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	})
	s.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		a, ok := relais.ActorFrom(r.Context())
		if !ok {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		u := relais.User{ID: a.UserID, Username: a.Username, Name: a.Name, Role: a.Role, Site: a.Site}
		l := lang(w, r)
		s.render(w, r, "home", http.StatusOK, page{Lang: l, Title: Translate(l, "home.title"), User: &u})
	})
}
