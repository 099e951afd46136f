package web

import (
	"bytes"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/relais-onco/relais"
)

// The pages: server-rendered HTML (html/template), htmx for the few partial
// updates, every asset embedded. One file per page or action (page_*.go);
// this file holds what they share: templates, languages, the page wrapper
// that signs in, authorizes and turns errors into a page in the user's
// language.

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

//go:embed i18n/*.json
var i18nFS embed.FS

// Languages, French first.
var Languages = []string{"fr", "en"}

// catalogs reads i18n/<lang>.json and any i18n/<lang>.<part>.json beside it
// (a capability's own texts); a key defined twice is a mistake and panics.
var catalogs = sync.OnceValue(func() map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, lang := range Languages {
		files, _ := fs.Glob(i18nFS, "i18n/"+lang+".*json")
		if len(files) == 0 {
			panic("web: no i18n/" + lang + ".json")
		}
		m := map[string]string{}
		for _, f := range files {
			b, err := i18nFS.ReadFile(f)
			if err != nil {
				panic(err)
			}
			part := map[string]string{}
			if err := json.Unmarshal(b, &part); err != nil {
				panic(fmt.Sprintf("web: %s: %v", f, err))
			}
			for k, v := range part {
				if _, dup := m[k]; dup {
					panic(fmt.Sprintf("web: %s: key %q is already defined in another %s file", f, k, lang))
				}
				m[k] = v
			}
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

// hasText reports whether the catalogs know key.
func hasText(key string) bool {
	_, ok := catalogs()["fr"][key]
	return ok
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

	// Path is the request's path (the navigation marks where one is).
	Path string
	// LangURL is this page in the other language.
	LangURL string
	Nav     []navItem
	// Flash is a confirmation after a form was applied (post/redirect/get).
	Flash string
	// Form holds a refused form's values and errors, to show them again
	// beside the fields.
	Form *formState
	// Now is the time the page was made, for ages ("il y a 3 j").
	Now time.Time
	// Fragment is true when only a block is rendered (an htmx answer):
	// the block then shows its own error summary.
	Fragment bool
}

func (p *page) T(key string) string { return Translate(p.Lang, key) }

// Tf translates key and formats it with args (the catalog holds the
// format: "Cycle %d").
func (p *page) Tf(key string, args ...any) string {
	return fmt.Sprintf(Translate(p.Lang, key), args...)
}

// Can reports whether the signed-in user's role has a permission.
func (p *page) Can(perm string) bool {
	return p.User != nil && p.User.Role.Can(relais.Permission(perm))
}

// OtherLang is the language LangURL leads to.
func (p *page) OtherLang() string {
	if p.Lang == "fr" {
		return "en"
	}
	return "fr"
}

type navItem struct {
	Key, Href string
	Current   bool
}

// navFor lists the sections a role works in (production's only when this
// server runs the pharmacy chain).
func navFor(role relais.Role, path string, production bool) []navItem {
	items := []navItem{{Key: "nav.home", Href: "/"}}
	add := func(ok bool, key, href string) {
		if ok {
			items = append(items, navItem{Key: key, Href: href})
		}
	}
	add(role.Can(relais.PermPatientRead), "nav.patients", "/patients")
	add(role.Can(relais.PermValidate), "nav.validation", "/validation")
	add(production && role.Can(relais.PermProductionPrepare), "nav.production", "/production")
	add(production && role.Can(relais.PermProductionPrepare), "nav.leftovers", "/leftovers")
	add(production && (role.Can(relais.PermDispense) || role.Can(relais.PermAdministerRecord)), "nav.slips", "/slips")
	add(role.Can(relais.PermProtocolRead), "nav.protocols", "/protocols")
	add(role.Can(relais.PermProtocolCompare), "nav.harmonize", "/harmonize")
	add(role.Can(relais.PermPatientRead), "nav.network", "/network")
	add(production && role.Can(relais.PermAidHandOver), "nav.aid", "/aid")
	add(role.Can(relais.PermCatalogueWrite), "nav.catalogue", "/catalogue")
	add(role.Can(relais.PermUserAdmin), "nav.users", "/users")
	for i := range items {
		h := items[i].Href
		items[i].Current = path == h || (h != "/" && strings.HasPrefix(path, h+"/"))
	}
	return items
}

var pageTemplates = sync.OnceValue(func() map[string]*template.Template {
	out := map[string]*template.Template{}
	entries, _ := fs.Glob(templateFS, "templates/*.html")
	for _, e := range entries {
		name := strings.TrimSuffix(strings.TrimPrefix(e, "templates/"), ".html")
		if name == "layout" || name == "partials" {
			continue
		}
		t := template.New(name).Funcs(templateFuncs)
		out[name] = template.Must(t.ParseFS(templateFS, "templates/layout.html", "templates/partials.html", e))
	}
	return out
})

// render writes the page with the template name inside the layout.
func (s *Server) render(w http.ResponseWriter, r *http.Request, name string, status int, p page) {
	s.renderTemplate(w, r, name, "layout", status, &p)
}

// renderFragment writes only the template block (an htmx partial update).
func (s *Server) renderFragment(w http.ResponseWriter, r *http.Request, name, block string, status int, p *page) {
	s.renderTemplate(w, r, name, block, status, p)
}

func (s *Server) renderTemplate(w http.ResponseWriter, r *http.Request, name, block string, status int, p *page) {
	s.renderBlock(w, r, name, block, status, p, p)
}

// renderBlock executes block of template name with data (a fragment whose
// dot is not the page carries the page in a field).
func (s *Server) renderBlock(w http.ResponseWriter, r *http.Request, name, block string, status int, p *page, data any) {
	p.Site = s.Site
	p.Fragment = block != "layout"
	if p.Lang == "" {
		p.Lang = lang(w, r)
	}
	if p.LangURL == "" {
		p.LangURL = langURL(r, p.OtherLang())
	}
	if p.Now.IsZero() {
		p.Now = relais.Now()
	}
	t, ok := pageTemplates()[name]
	if !ok {
		s.Log.Error("no such template", "name", name)
		http.Error(w, Translate(p.Lang, "error.internal.title"), http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, block, data); err != nil {
		ref := errorRef()
		s.Log.Error("render", "template", name, "block", block, "err", err, "ref", ref)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, "%s (%s)\n", Translate(p.Lang, "error.internal.text"), ref)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// langURL is the request's URL with ?lang= set to l.
func langURL(r *http.Request, l string) string {
	q := r.URL.Query()
	q.Set("lang", l)
	if r.Method != http.MethodGet {
		q = url.Values{"lang": {l}}
	}
	return r.URL.Path + "?" + q.Encode()
}

// errorRef is a short reference shown to the user and written to the log,
// so that an administrator finds the fault a user reports.
func errorRef() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// pageFunc serves a page: it renders, or redirects, or returns an error
// that the wrapper turns into an error page.
type pageFunc func(w http.ResponseWriter, r *http.Request, p *page) error

// handlePage registers a page that needs perm. Without a session it sends
// the browser to the sign-in page; with a role that lacks perm, it answers
// a 403 page in the user's language.
func (s *Server) handlePage(pattern string, perm relais.Permission, h pageFunc) {
	s.notePage(pattern, perm)
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		p := &page{Lang: lang(w, r), Path: r.URL.Path, Now: relais.Now()}
		p.Site = s.Site
		p.LangURL = langURL(r, p.OtherLang())
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				ref := errorRef()
				s.Log.Error("panic serving page", "method", r.Method, "path", r.URL.Path, "panic", v, "ref", ref)
				s.errorPage(w, r, p, relais.E("page", relais.KindOther, fmt.Errorf("panic: %v (ref %s)", v, ref)))
			}
		}()
		a, ok := relais.ActorFrom(r.Context())
		if !ok && perm != relais.PermPublic {
			next := "/"
			if r.Method == http.MethodGet {
				next = r.URL.RequestURI()
			}
			http.Redirect(w, r, "/login?next="+url.QueryEscape(next), http.StatusSeeOther)
			return
		}
		if ok {
			p.User = &relais.User{ID: a.UserID, Username: a.Username, Name: a.Name, Role: a.Role, Site: a.Site}
			p.Nav = navFor(a.Role, r.URL.Path, s.Production != nil)
			if !a.Role.Can(perm) {
				s.errorPage(w, r, p, relais.E("page", relais.KindForbidden, string(perm)))
				return
			}
		}
		if k := r.URL.Query().Get("ok"); k != "" && hasText("flash."+k) {
			p.Flash = p.T("flash." + k)
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
			if err := r.ParseForm(); err != nil {
				s.errorPage(w, r, p, relais.E("page.form", relais.KindInvalid, "the form could not be read", err))
				return
			}
		}
		if err := h(w, r, p); err != nil {
			s.errorPage(w, r, p, err)
		}
	})
}

// errorPage answers an error as a page: a title and what to do next, in
// the user's language; never the error's internals.
func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, p *page, err error) {
	kind := relais.ErrorKind(err)
	status := StatusOf(kind)
	var key string
	switch kind {
	case relais.KindNotFound:
		key = "notfound"
	case relais.KindForbidden:
		key = "forbidden"
	case relais.KindUnauthorized:
		key = "unauthorized"
	case relais.KindInvalid, relais.KindConflict, relais.KindTransition:
		key = "refused"
	case relais.KindUnavailable:
		key = "unavailable"
	default:
		key = "internal"
	}
	e := errorView{Key: key, Status: status}
	if key == "refused" {
		e.Detail = userMessage(p.Lang, err)
	}
	if key == "forbidden" && p.User != nil {
		e.Detail = p.Tf("error.forbidden.role", p.T("role."+string(p.User.Role)))
	}
	if status >= 500 {
		e.Ref = errorRef()
		s.Log.Error("page failed", "method", r.Method, "path", r.URL.Path, "err", err, "ref", e.Ref)
	}
	p.Title = p.T("error." + key + ".title")
	p.Data = e
	p.Form = nil
	if r.Header.Get("HX-Request") == "true" {
		// htmx swaps error answers only when told to: show it in place.
		w.Header().Set("HX-Retarget", "#main")
		w.Header().Set("HX-Reswap", "innerHTML")
		s.renderFragment(w, r, "error", "content", status, p)
		return
	}
	s.renderTemplate(w, r, "error", "layout", status, p)
}

type errorView struct {
	Key    string
	Status int
	Detail string
	Ref    string
}

// notFound answers unknown paths: a page for people, problem+json under
// the API.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		s.problem(w, r, relais.E("http", relais.KindNotFound, "no such API route: see /api/v1/openapi.json"))
		return
	}
	p := &page{Lang: lang(w, r), Path: r.URL.Path}
	if a, ok := relais.ActorFrom(r.Context()); ok {
		p.User = &relais.User{ID: a.UserID, Username: a.Username, Name: a.Name, Role: a.Role, Site: a.Site}
		p.Nav = navFor(a.Role, r.URL.Path, s.Production != nil)
	}
	s.errorPage(w, r, p, relais.E("page", relais.KindNotFound, "no such page"))
}

func (s *Server) pageRoutes() {
	static, _ := fs.Sub(staticFS, "static")
	files := http.FileServerFS(static)
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Assets change only with the binary; a day's cache is plenty.
		w.Header().Set("Cache-Control", "public, max-age=86400")
		files.ServeHTTP(w, r)
	})))
	s.signInPages() // signin.go: sign-in, sign-out, reset, passkeys, single sign-on
	s.mux.HandleFunc("/", s.notFound)
	s.handlePage("GET /{$}", relais.PermSignedIn, s.homePage)
	s.patientPages()
	s.prescriptionPages()
	s.validationPages()
	s.protocolPages()
	s.adminPages()
	s.productionPages()
	s.jobPages()
}

// safeNext keeps a post-sign-in redirect on this site: a path, never
// another host.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return next
}

// isHTMX reports whether htmx made the request (it wants a fragment).
func isHTMX(r *http.Request) bool { return r.Header.Get("HX-Request") == "true" }

// done redirects after a form was applied (post/redirect/get), with a
// confirmation key the next page shows.
func done(w http.ResponseWriter, r *http.Request, path, flash string) error {
	if flash != "" {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		path += sep + "ok=" + url.QueryEscape(flash)
	}
	http.Redirect(w, r, path, http.StatusSeeOther)
	return nil
}

// pathID reads a {name} wildcard as an ID; a malformed one is "not found".
func pathID(r *http.Request, name string) (relais.ID, error) {
	id, err := relais.ParseID(name, r.PathValue(name))
	if err != nil {
		return "", relais.E("page", relais.KindNotFound, err)
	}
	return id, nil
}

// refused reports whether err is the user's to fix (a form shown again
// with the error beside the field), not a fault of the page.
func refused(err error) bool {
	switch relais.ErrorKind(err) {
	case relais.KindInvalid, relais.KindConflict, relais.KindTransition:
		return true
	}
	return false
}
