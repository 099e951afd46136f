package web

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"

	"github.com/relais-onco/relais"
)

// Stale pages (issue 11, seed 004). A browser keeps a page open across an
// upgrade: its forms and htmx requests then reach a server whose forms may
// mean something else. Every page therefore says which Relais rendered it,
// and the server refuses a write from a page of another version, with a
// page (or, for htmx, a banner) in the user's language naming both
// versions and saying to reload. Nothing is read from the form beyond the
// version, nothing is written, and the other users are served as before.
//
// The rule: a page is stale when the program version that rendered it
// (relais.Version) differs from the running one, whatever the difference —
// a page cannot tell whether its forms are still understood, and the
// schema only changes with the program. Stale pages may still read (GET,
// HEAD), so following a link or a polling fragment works; every other
// method from a stale page is refused with 409 Conflict. A request that
// says no version (a page from before this check, a browser without
// script, a test) is served as before. The JSON API has its own contract
// (Relais-Client-Version, clientVersion in server.go) and is not checked
// here; neither is signing out (always allowed), nor the EHR's contextual
// launch (not a Relais page).

// PageVersionHeader carries the program version of the page that made the
// request: htmx sends it on every request, from hx-headers on <body>.
const PageVersionHeader = "Relais-Page-Version"

// PageVersionField is the same version as a form field: static/relais.js
// adds it to every form a page posts. PagePathField, added beside it, is
// the page's own address, where the refusal's reload link leads.
const (
	PageVersionField = "relais_page_version"
	PagePathField    = "relais_page"
)

// PageVersion is the program version pages are rendered by (the layout
// puts it on <body>).
func (p *page) PageVersion() string { return relais.Version }

// PageHeaders is the JSON of the layout's hx-headers: the headers htmx adds
// to every request the page makes.
func (p *page) PageHeaders() string {
	b, _ := json.Marshal(map[string]string{PageVersionHeader: relais.Version})
	return string(b)
}

// staleView is what the refusal shows.
type staleView struct {
	Page, Server string
	// Reload is the page to load again (a path on this site).
	Reload string
}

// pageVersion refuses writes from pages rendered by another version of
// Relais (see the rule above).
func (s *Server) pageVersion(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !pageWrite(r) {
			next.ServeHTTP(w, r)
			return
		}
		v, from := pageVersionOf(r)
		if v == "" || v == relais.Version {
			next.ServeHTTP(w, r)
			return
		}
		s.refuseStalePage(w, r, truncateHeader(v), from)
	})
}

// pageWrite reports whether r is a write a page may make and this check
// covers.
func pageWrite(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	p := r.URL.Path
	return !strings.HasPrefix(p, "/api/") && p != LaunchPath && p != "/logout"
}

// pageVersionOf reads the version a request's page was rendered by, and
// the page's address: from the htmx header (and HX-Current-URL), else from
// the form's hidden fields. The body is read into memory up to
// MaxBodyBytes and given back untouched to the handler, which parses it as
// before (a larger one is left to the handler to refuse).
func pageVersionOf(r *http.Request) (version, from string) {
	if v := r.Header.Get(PageVersionHeader); v != "" {
		return v, r.Header.Get("HX-Current-URL")
	}
	ct, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || r.Body == nil || (ct != "application/x-www-form-urlencoded" && ct != "multipart/form-data") {
		return "", ""
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	r.Body = readCloser{io.MultiReader(bytes.NewReader(b), r.Body), r.Body}
	if err != nil || len(b) > MaxBodyBytes {
		return "", ""
	}
	if ct == "application/x-www-form-urlencoded" {
		q, _ := url.ParseQuery(string(b))
		return q.Get(PageVersionField), q.Get(PagePathField)
	}
	// relais.js puts its fields first in the form: they are the first
	// parts; a file part is skipped, never read.
	mr := multipart.NewReader(bytes.NewReader(b), params["boundary"])
	for {
		part, err := mr.NextPart()
		if err != nil {
			return version, from
		}
		switch part.FormName() {
		case PageVersionField:
			v, _ := io.ReadAll(io.LimitReader(part, 64))
			version = string(v)
		case PagePathField:
			v, _ := io.ReadAll(io.LimitReader(part, 2048))
			from = string(v)
		}
		if version != "" && from != "" {
			return version, from
		}
	}
}

type readCloser struct {
	io.Reader
	io.Closer
}

// reloadTarget is the page a stale request came from, as a path on this
// site; "/" when it is unknown or points elsewhere.
func reloadTarget(r *http.Request, from string) string {
	u, err := url.Parse(from)
	if err != nil || (u.Host != "" && u.Host != r.Host) || (u.Scheme != "" && u.Scheme != "http" && u.Scheme != "https") {
		return "/"
	}
	path := u.EscapedPath()
	if u.RawQuery != "" {
		path += "?" + u.RawQuery
	}
	return safeNext(path)
}

// refuseStalePage answers a write from a page of version v: 409 and the
// refusal, in place of the page (a form) or in the page's banner (htmx),
// so that what the user typed stays visible to copy.
func (s *Server) refuseStalePage(w http.ResponseWriter, r *http.Request, v, from string) {
	p := &page{Lang: lang(w, r), Path: r.URL.Path, Now: relais.Now()}
	if a, ok := relais.ActorFrom(r.Context()); ok {
		p.User = &relais.User{ID: a.UserID, Username: a.Username, Name: a.Name, Role: a.Role, Site: a.Site}
		p.Nav = navFor(a.Role, r.URL.Path, s.Production != nil)
	}
	p.Title = p.T("stalepage.title")
	p.Data = staleView{Page: v, Server: relais.Version, Reload: reloadTarget(r, from)}
	s.Log.Warn("write from a page of another version refused", "method", r.Method, "path", r.URL.Path,
		"page_version", v, "server_version", relais.Version, "client", clientID(r))
	if isHTMX(r) {
		w.Header().Set("HX-Retarget", "#stale")
		w.Header().Set("HX-Reswap", "innerHTML")
		s.renderFragment(w, r, "stale", "stale-alert", http.StatusConflict, p)
		return
	}
	s.renderTemplate(w, r, "stale", "layout", http.StatusConflict, p)
}
