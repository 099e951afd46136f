package web

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/harmonize"
)

// The harmonisation pages: the other sites' versions matched with the
// local library, one comparison field by field, and the adoption of a
// version as a new local draft (docs/harmonisation.md).

func (s *Server) harmonizePages() {
	s.handlePage("GET /harmonize", relais.PermProtocolCompare, s.harmonizePage)
	s.handlePage("GET /harmonize/version", relais.PermProtocolCompare, s.harmonizeVersionPage)
	s.handlePage("POST /harmonize/adopt", relais.PermProtocolAdopt, s.adoptPage)
}

type harmonizeView struct {
	Regimens []harmonize.Regimen
	Sites    []string  // the other sites this copy holds versions of
	Versions int       // how many versions
	Received time.Time // the newest copy's time
}

func (s *Server) harmonizePage(w http.ResponseWriter, r *http.Request, p *page) error {
	remote, locals, err := s.harmonizeData(r.Context())
	if err != nil {
		return err
	}
	v := harmonizeView{Regimens: harmonize.Regimens(remote, locals), Versions: len(remote)}
	for _, rv := range remote {
		if !slices.Contains(v.Sites, rv.Site) {
			v.Sites = append(v.Sites, rv.Site)
		}
		if rv.ReceivedAt.After(v.Received) {
			v.Received = rv.ReceivedAt
		}
	}
	p.Title = p.T("harmonize.title")
	p.Data = v
	s.renderTemplate(w, r, "harmonize", "layout", http.StatusOK, p)
	return nil
}

type harmonizeVersionView struct {
	harmonize.Comparison
	// Lines of the other site's version, as a pharmacist writes them (shown
	// when there is nothing here to compare with).
	Lines []string
}

func (s *Server) harmonizeVersionPage(w http.ResponseWriter, r *http.Request, p *page) error {
	q := r.URL.Query()
	n, _ := strconv.Atoi(q.Get("number"))
	c, err := s.harmonizeComparison(r.Context(), q.Get("site"), q.Get("code"), n)
	if err != nil {
		return err
	}
	v := harmonizeVersionView{Comparison: c}
	for _, l := range c.Remote.Document.Lines {
		v.Lines = append(v.Lines, strconv.Itoa(l.Seq)+". "+relais.LineSummary(l))
	}
	p.Title = p.Tf("harmonize.version.title", c.Remote.Code, c.Remote.Number, c.Remote.Site)
	p.Data = v
	s.renderTemplate(w, r, "harmonize_version", "layout", http.StatusOK, p)
	return nil
}

func (s *Server) adoptPage(w http.ResponseWriter, r *http.Request, p *page) error {
	n, err := strconv.Atoi(r.PostFormValue("number"))
	if err != nil {
		return relais.Invalid("harmonize.adopt", "number", "the version number is missing or not a number")
	}
	res, err := s.adoptVersion(r.Context(), AdoptRequest{Site: r.PostFormValue("site"), Code: r.PostFormValue("code"),
		Number: n, Into: relais.ID(r.PostFormValue("into"))})
	if err != nil {
		return err
	}
	return done(w, r, "/protocols/"+string(res.Protocol.ID)+"/versions/"+strconv.Itoa(res.Version.Number), "adopted")
}
