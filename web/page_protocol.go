package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/relais-onco/relais"
)

// The protocol library: the list, a protocol with its versions, a version
// with its content and lifecycle buttons, the content editor of a draft,
// and the diff between two versions.

func (s *Server) protocolPages() {
	s.handlePage("GET /protocols", relais.PermProtocolRead, s.protocolListPage)
	s.handlePage("GET /protocols/{id}", relais.PermProtocolRead, s.protocolPage)
	s.handlePage("GET /protocols/{id}/versions/{n}", relais.PermProtocolRead, s.versionPage)
	s.handlePage("GET /protocols/{id}/diff", relais.PermProtocolRead, s.diffPage)
	s.handlePage("POST /protocols/import", relais.PermProtocolWrite, s.startImport)
	s.handlePage("POST /protocols/{id}/versions", relais.PermProtocolWrite, s.newVersion)
	s.handlePage("POST /protocols/{id}/versions/{n}/content", relais.PermProtocolWrite, s.editDraft)
	s.handlePage("POST /protocols/{id}/versions/{n}/transition", relais.PermProtocolApprove, s.transitionVersion)
}

type protocolListView struct {
	Protocols   []relais.ProtocolSummary
	Query       string
	Population  string
	Status      string
	Populations []relais.Population
	Statuses    []relais.VersionStatus
}

func (s *Server) protocolListPage(w http.ResponseWriter, r *http.Request, p *page) error {
	return s.showProtocolList(w, r, p, http.StatusOK)
}

func (s *Server) showProtocolList(w http.ResponseWriter, r *http.Request, p *page, status int) error {
	q := r.URL.Query()
	v := protocolListView{Query: q.Get("q"), Population: q.Get("population"), Status: q.Get("status"),
		Populations: []relais.Population{relais.Paediatric, relais.Adult}, Statuses: relais.VersionStatuses}
	f := relais.ProtocolFilter{Query: v.Query}
	if pop := relais.Population(v.Population); pop.Valid() {
		f.Population = pop
	}
	if st := relais.VersionStatus(v.Status); st.Valid() {
		f.Status = st
	}
	ps, err := s.Protocols.Protocols(r.Context(), f)
	if err != nil {
		return err
	}
	v.Protocols = ps
	p.Title = p.T("protocols.title")
	p.Data = v
	s.renderTemplate(w, r, "protocols", "layout", status, p)
	return nil
}

type protocolView struct {
	relais.ProtocolDetail
}

func (s *Server) protocolPage(w http.ResponseWriter, r *http.Request, p *page) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	d, err := s.Protocols.Protocol(r.Context(), id)
	if err != nil {
		return err
	}
	p.Title = d.Code + " — " + d.Name
	p.Data = protocolView{d}
	s.renderTemplate(w, r, "protocol", "layout", http.StatusOK, p)
	return nil
}

type versionView struct {
	Protocol relais.Protocol
	Version  relais.ProtocolVersion
	Numbers  []int
	// Content is the draft's content as JSON, for the editor.
	Content string
	Next    []relais.VersionStatus
}

func (s *Server) loadVersion(r *http.Request) (*versionView, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 1 {
		return nil, relais.E("page", relais.KindNotFound, "no such version")
	}
	d, err := s.Protocols.Protocol(r.Context(), id)
	if err != nil {
		return nil, err
	}
	v := &versionView{Protocol: d.Protocol}
	found := false
	for _, ver := range d.Versions {
		v.Numbers = append(v.Numbers, ver.Number)
		if ver.Number == n {
			v.Version, found = ver, true
		}
	}
	if !found {
		return nil, relais.E("page", relais.KindNotFound, "no such version")
	}
	b, err := json.MarshalIndent(v.Version.Content, "", "  ")
	if err != nil {
		return nil, err
	}
	v.Content = string(b)
	v.Next = v.Version.Status.Next()
	return v, nil
}

func (s *Server) versionPage(w http.ResponseWriter, r *http.Request, p *page) error {
	return s.showVersion(w, r, p, http.StatusOK)
}

func (s *Server) showVersion(w http.ResponseWriter, r *http.Request, p *page, status int) error {
	v, err := s.loadVersion(r)
	if err != nil {
		return err
	}
	p.Title = v.Version.Label(v.Protocol.Code) + " — " + v.Protocol.Name
	p.Data = v
	s.renderTemplate(w, r, "version", "layout", status, p)
	return nil
}

func (s *Server) versionForm(w http.ResponseWriter, r *http.Request, p *page, form string, apply func(v *versionView) (string, error), flash string) error {
	v, err := s.loadVersion(r)
	if err != nil {
		return err
	}
	to, err := apply(v)
	if err != nil {
		if !refused(err) {
			return err
		}
		p.refuse(form, r.PostForm, err)
		return s.showVersion(w, r, p, http.StatusUnprocessableEntity)
	}
	return done(w, r, to, flash)
}

func versionPath(pr relais.Protocol, n int) string {
	return "/protocols/" + string(pr.ID) + "/versions/" + strconv.Itoa(n)
}

func (s *Server) transitionVersion(w http.ResponseWriter, r *http.Request, p *page) error {
	return s.versionForm(w, r, p, "transition", func(v *versionView) (string, error) {
		_, err := s.Protocols.TransitionVersion(r.Context(), v.Version.ID, relais.VersionTransition{
			To: relais.VersionStatus(r.PostFormValue("to")), Comment: strings.TrimSpace(r.PostFormValue("comment"))})
		return versionPath(v.Protocol, v.Version.Number), err
	}, "transition")
}

func (s *Server) editDraft(w http.ResponseWriter, r *http.Request, p *page) error {
	return s.versionForm(w, r, p, "content", func(v *versionView) (string, error) {
		const op = "protocol.edit"
		rev, err := strconv.Atoi(r.PostFormValue("revision"))
		if err != nil {
			return "", relais.Invalid(op, "revision", "reload the page: the form lost the draft's revision")
		}
		var c relais.ProtocolContent
		dec := json.NewDecoder(bytes.NewReader([]byte(r.PostFormValue("content"))))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return "", relais.Invalid(op, "content", "the content is not the JSON expected: %s", err.Error())
		}
		_, err = s.Protocols.UpdateDraft(r.Context(), v.Version.ID, relais.DraftUpdate{Revision: rev, Content: c})
		return versionPath(v.Protocol, v.Version.Number), err
	}, "saved")
}

func (s *Server) newVersion(w http.ResponseWriter, r *http.Request, p *page) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	from, _ := strconv.Atoi(r.PostFormValue("from"))
	nv, err := s.Protocols.NewVersion(r.Context(), id, from)
	if err != nil {
		return err
	}
	return done(w, r, "/protocols/"+string(id)+"/versions/"+strconv.Itoa(nv.Number), "new_version")
}

type diffView struct {
	Protocol relais.ProtocolDetail
	From, To int
	Diff     *relais.VersionDiff
}

func (s *Server) diffPage(w http.ResponseWriter, r *http.Request, p *page) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	d, err := s.Protocols.Protocol(r.Context(), id)
	if err != nil {
		return err
	}
	v := diffView{Protocol: d}
	v.From, _ = strconv.Atoi(r.URL.Query().Get("from"))
	v.To, _ = strconv.Atoi(r.URL.Query().Get("to"))
	if n := len(d.Versions); n >= 2 && v.From == 0 && v.To == 0 {
		v.From, v.To = d.Versions[n-2].Number, d.Versions[n-1].Number
	}
	var a, b *relais.ProtocolVersion
	for i := range d.Versions {
		if d.Versions[i].Number == v.From {
			a = &d.Versions[i]
		}
		if d.Versions[i].Number == v.To {
			b = &d.Versions[i]
		}
	}
	if a != nil && b != nil {
		vd := relais.NewVersionDiff(d.Protocol, *a, d.Protocol, *b)
		v.Diff = &vd
	}
	p.Title = p.Tf("diff.title", d.Code, v.From, v.To)
	p.Data = v
	s.renderTemplate(w, r, "diff", "layout", http.StatusOK, p)
	return nil
}

var linePath = regexp.MustCompile(`^lines\[(\d+)\]`)

// DiffPath writes a change's path for a reader: "lines[2].dose.dose" →
// "Ligne 2 › dose › dose".
func (p *page) DiffPath(path string) string {
	path = linePath.ReplaceAllString(path, p.T("diff.line")+" $1")
	return strings.ReplaceAll(path, ".", " › ")
}
