package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/clinical"
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
	s.protocolEditorPages()
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

// The protocol editor as a form: a draft version's cycles, days, lines
// (drug, dose rule, route, vehicle and volume, duration, sequence, kind,
// comments), OK-to-treat criteria and cumulative limits; a new protocol is
// written the same way with its header. Lines, criteria and limits are
// added and removed in place (htmx partials) or, without script, by
// buttons that show the form again. Saving goes through the protocol
// service, whose errors come back beside their fields. Each line previews
// the dose its rule gives a sample patient, computed by the same engine as
// `relais calc` (clinical.Dose), with its derivation.

func (s *Server) protocolEditorPages() {
	s.handlePage("GET /protocols/new", relais.PermProtocolWrite, s.newProtocolPage)
	s.handlePage("POST /protocols/new", relais.PermProtocolWrite, s.saveNewProtocol)
	s.handlePage("GET /protocols/{id}/versions/{n}/edit", relais.PermProtocolWrite, s.editVersionPage)
	s.handlePage("POST /protocols/{id}/versions/{n}/edit", relais.PermProtocolWrite, s.saveVersionForm)
	s.handlePage("POST /protocols/editor/line", relais.PermProtocolWrite, s.editorPart("line"))
	s.handlePage("POST /protocols/editor/criterion", relais.PermProtocolWrite, s.editorPart("criterion"))
	s.handlePage("POST /protocols/editor/limit", relais.PermProtocolWrite, s.editorPart("limit"))
	s.handlePage("POST /protocols/editor/remove", relais.PermProtocolWrite, s.editorRemove)
	s.handlePage("POST /protocols/editor/preview", relais.PermProtocolWrite, s.editorPreview)
}

// editorView is the editor: the content being written, with the lists the
// selects offer.
type editorView struct {
	New      bool
	Protocol relais.Protocol
	Version  relais.ProtocolVersion
	Header   relais.NewProtocol // a new protocol's header (its Content unused)
	Content  relais.ProtocolContent
	Rows     []editorLine
	Sample   sampleView
	Action   string
	// NextLine, NextCrit and NextLim are the indices the add buttons give
	// the next item.
	NextLine, NextCrit, NextLim int

	Drugs       []relais.Drug
	Diluents    []relais.Diluent
	Kinds       []relais.LineKind
	Routes      []relais.AdminRoute
	RuleKinds   []string
	Units       []string
	Formulas    []string
	Labs        []string
	Ops         []string
	LabUnits    []string
	CumulUnits  []string
	Classes     []relais.DrugClass
	Populations []relais.Population
}

// editorLine is one line of the form, with the rule's fields that have no
// box of their own, as relais calc reads them (JSON).
type editorLine struct {
	I     int
	Line  relais.ProtocolLine
	Extra string
}

// sampleView is the sample patient the previews compute for.
type sampleView struct {
	HeightCm, WeightKg, AgeYears, CreatinineUmolL string
	Sex                                           string
}

var defaultSample = sampleView{HeightCm: "140", WeightKg: "32", AgeYears: "10", CreatinineUmolL: "45", Sex: "M"}

func (s *Server) editorLists(ctx *http.Request, v *editorView) error {
	var err error
	if v.Drugs, err = s.Catalogue.Drugs(ctx.Context()); err != nil {
		return err
	}
	if v.Diluents, err = s.Catalogue.Diluents(ctx.Context()); err != nil {
		return err
	}
	v.Kinds, v.Routes = relais.LineKinds, relais.AdminRoutes
	v.RuleKinds = []string{"per_m2", "per_kg", "auc", "flat", "age_band"}
	v.Units = relais.DoseUnits
	v.Formulas = clinical.BSAFormulas
	for lab := range relais.LabUnits {
		v.Labs = append(v.Labs, lab)
	}
	sort.Strings(v.Labs)
	v.Ops = []string{">=", ">", "<=", "<"}
	seen := map[string]bool{}
	for _, lab := range v.Labs {
		for _, u := range relais.LabUnits[lab] {
			if !seen[u] {
				seen[u] = true
				v.LabUnits = append(v.LabUnits, u)
			}
		}
	}
	v.CumulUnits = relais.CumulativeUnits
	v.Classes = relais.DrugClasses
	v.Populations = []relais.Population{relais.Paediatric, relais.Adult}
	return nil
}

func editorRows(c relais.ProtocolContent) []editorLine {
	rows := make([]editorLine, len(c.Lines))
	for i, l := range c.Lines {
		rows[i] = editorLine{I: i, Line: l, Extra: ruleExtra(l.Dose)}
	}
	return rows
}

// ruleExtra is the JSON of a rule's fields that have no box of their own
// ("" when none).
func ruleExtra(r clinical.Rule) string {
	r.Kind, r.Dose, r.Unit, r.AUC, r.MaxDose, r.RoundingStep, r.BSACapM2, r.BSAFormula = "", 0, "", 0, 0, 0, 0, ""
	b, err := json.Marshal(r)
	if err != nil {
		return ""
	}
	if s := string(b); s != `{"kind":"","unit":""}` {
		var m map[string]any
		if json.Unmarshal(b, &m) == nil {
			delete(m, "kind")
			delete(m, "unit")
			if len(m) == 0 {
				return ""
			}
			out, _ := json.Marshal(m)
			return string(out)
		}
	}
	return ""
}

func (s *Server) newProtocolPage(w http.ResponseWriter, r *http.Request, p *page) error {
	v := &editorView{New: true, Action: "/protocols/new", Sample: defaultSample,
		Header:  relais.NewProtocol{Population: relais.Paediatric},
		Content: relais.ProtocolContent{Cycles: relais.Cycles{Count: 1, LengthDays: 21}, Days: []int{1}}}
	v.Content.Lines = []relais.ProtocolLine{{Seq: 1, Kind: relais.LineChemo, Route: relais.RouteIV, Days: []int{1}}}
	v.Rows = editorRows(v.Content)
	return s.showEditor(w, r, p, v, http.StatusOK)
}

func (s *Server) showEditor(w http.ResponseWriter, r *http.Request, p *page, v *editorView, status int) error {
	if err := s.editorLists(r, v); err != nil {
		return err
	}
	v.NextLine, v.NextCrit, v.NextLim = 0, len(v.Content.Criteria), len(v.Content.CumulativeLimits)
	for _, r := range v.Rows {
		v.NextLine = max(v.NextLine, r.I+1)
	}
	if v.New {
		p.Title = p.T("ped.new_title")
	} else {
		p.Title = p.Tf("ped.edit_title", v.Version.Label(v.Protocol.Code))
	}
	p.Data = v
	s.renderTemplate(w, r, "protocol_edit", "layout", status, p)
	return nil
}

func (s *Server) editVersionPage(w http.ResponseWriter, r *http.Request, p *page) error {
	vv, err := s.loadVersion(r)
	if err != nil {
		return err
	}
	if vv.Version.Status != relais.VersionDraft {
		return relais.E("protocol.edit", relais.KindTransition, fmt.Sprintf(
			"version %d is %s: only a draft is edited; make a new version from it", vv.Version.Number, vv.Version.Status))
	}
	v := &editorView{Protocol: vv.Protocol, Version: vv.Version, Content: vv.Version.Content, Sample: defaultSample,
		Action: versionPath(vv.Protocol, vv.Version.Number) + "/edit"}
	v.Rows = editorRows(v.Content)
	return s.showEditor(w, r, p, v, http.StatusOK)
}

// formContent reads the editor's form into a content. Numbers that are not
// numbers and malformed extra rules are errors beside their fields; the
// rest is left to the protocol service.
func formContent(f url.Values) (relais.ProtocolContent, []editorLine, []error) {
	const op = "protocol.edit"
	var c relais.ProtocolContent
	var errs []error
	integer := func(field string) int {
		v := strings.TrimSpace(f.Get(field))
		if v == "" {
			return 0
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			errs = append(errs, relais.Invalid(op, field, "a whole number is expected, e.g. 21"))
		}
		return n
	}
	num := func(field string) float64 {
		n, err := optNumber(op, field, f.Get(field))
		if err != nil {
			errs = append(errs, err)
		}
		return n
	}
	days := func(field string) []int {
		var out []int
		for _, part := range strings.FieldsFunc(f.Get(field), func(r rune) bool { return r == ',' || r == ';' || r == ' ' }) {
			part = strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(part), "J"), "D")
			n, err := strconv.Atoi(part)
			if err != nil {
				errs = append(errs, relais.Invalid(op, field, "list days as whole numbers separated by commas, e.g. 1, 8, 15"))
				return out
			}
			out = append(out, n)
		}
		return out
	}
	c.Cycles.Count = integer("cycles.count")
	c.Cycles.LengthDays = integer("cycles.length_days")
	c.Days = days("days")
	c.Source = strings.TrimSpace(f.Get("source"))
	c.Comments = strings.TrimSpace(f.Get("comments"))
	var rows []editorLine
	for _, i := range indices(f, "lines") {
		k := fmt.Sprintf("lines[%d].", i)
		l := relais.ProtocolLine{ID: relais.ID(f.Get(k + "id")), Seq: integer(k + "seq"), Kind: relais.LineKind(f.Get(k + "kind")),
			INN: strings.TrimSpace(f.Get(k + "inn")), Route: relais.AdminRoute(f.Get(k + "route")), Days: days(k + "days"),
			Vehicle: strings.TrimSpace(f.Get(k + "vehicle")), VolumeML: num(k + "volume_ml"), DurationMin: integer(k + "duration_min"),
			RateMLH: num(k + "rate_ml_h"), Comments: strings.TrimSpace(f.Get(k + "comments"))}
		extra := strings.TrimSpace(f.Get(k + "dose.extra"))
		if extra != "" {
			dec := json.NewDecoder(strings.NewReader(extra))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&l.Dose); err != nil {
				errs = append(errs, relais.Invalid(op, k+"dose.extra", "not the JSON of a dose rule as relais calc reads it: %s", err.Error()))
			}
		}
		l.Dose.Kind = f.Get(k + "dose.kind")
		l.Dose.Unit = f.Get(k + "dose.unit")
		l.Dose.Dose = num(k + "dose.dose")
		l.Dose.AUC = num(k + "dose.auc")
		l.Dose.MaxDose = num(k + "dose.max_dose")
		l.Dose.RoundingStep = num(k + "dose.rounding_step")
		l.Dose.BSACapM2 = num(k + "dose.bsa_cap_m2")
		l.Dose.BSAFormula = f.Get(k + "dose.bsa_formula")
		if l.Dose.Kind == "" {
			l.Dose = clinical.Rule{}
		}
		rows = append(rows, editorLine{I: i, Line: l, Extra: extra})
		c.Lines = append(c.Lines, l)
	}
	for _, i := range indices(f, "criteria") {
		k := fmt.Sprintf("criteria[%d].", i)
		c.Criteria = append(c.Criteria, relais.Criterion{Lab: f.Get(k + "lab"), Op: f.Get(k + "op"), Value: num(k + "value"),
			Unit: f.Get(k + "unit"), Days: days(k + "days"), Comment: strings.TrimSpace(f.Get(k + "comment"))})
	}
	for _, i := range indices(f, "cumulative_limits") {
		k := fmt.Sprintf("cumulative_limits[%d].", i)
		c.CumulativeLimits = append(c.CumulativeLimits, relais.CumulativeLimit{Class: relais.DrugClass(f.Get(k + "class")),
			INN: strings.TrimSpace(f.Get(k + "inn")), Limit: num(k + "limit"), Unit: f.Get(k + "unit"), Comment: strings.TrimSpace(f.Get(k + "comment"))})
	}
	return c, rows, errs
}

var dayItem = regexp.MustCompile(`days\[\d+\]$`)

var indexedField = regexp.MustCompile(`^([a-z_]+)\[(\d{1,3})\]\.`)

// indices lists, in increasing order, the indices of list's items present
// in the form (items removed in the page leave gaps).
func indices(f url.Values, list string) []int {
	seen := map[int]bool{}
	var out []int
	for k := range f {
		m := indexedField.FindStringSubmatch(k)
		if m == nil || m[1] != list {
			continue
		}
		n, _ := strconv.Atoi(m[2])
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Ints(out)
	return out
}

// renumber maps the service's field paths, which count the lines sent
// (lines[0], lines[1]…), back to the form's indices (which keep gaps), and
// drops the "content." prefix.
func renumber(op string, err error, rows []editorLine) error {
	fes := relais.FieldErrors(err)
	if len(fes) == 0 {
		return err
	}
	var out []error
	for _, fe := range fes {
		field := strings.TrimPrefix(fe.Field, "content.")
		if m := indexedField.FindStringSubmatch(field); m != nil {
			n, _ := strconv.Atoi(m[2])
			// Criteria and limits are shown again in the order sent (their
			// indices are the service's); lines keep their form index.
			var idx []int
			if m[1] == "lines" {
				for _, r := range rows {
					idx = append(idx, r.I)
				}
			}
			if n < len(idx) {
				field = fmt.Sprintf("%s[%d].", m[1], idx[n]) + field[len(m[0]):]
			}
		}
		// A day of a list is refused beside the list.
		field = dayItem.ReplaceAllString(field, "days")
		// A dose rule's own fields without a box are in the extra JSON.
		if i := strings.Index(field, ".dose."); i >= 0 {
			switch field[i+len(".dose."):] {
			case "kind", "dose", "unit", "auc", "max_dose", "rounding_step", "bsa_cap_m2", "bsa_formula", "extra":
			default:
				field = field[:i] + ".dose.extra"
			}
		}
		e := *fe
		e.Field = field
		out = append(out, &e)
	}
	return relais.Errors(op, out)
}

func (s *Server) saveEditor(w http.ResponseWriter, r *http.Request, p *page, v *editorView, save func(c relais.ProtocolContent) (string, error)) error {
	const op = "protocol.edit"
	f := r.PostForm
	// Without script, the add and remove buttons submit the whole form:
	// it comes back with the item added or removed, nothing saved.
	if item := f.Get("remove"); item != "" {
		for k := range f {
			if strings.HasPrefix(k, item+".") {
				delete(f, k)
			}
		}
	}
	c, rows, errs := formContent(f)
	v.Content, v.Rows = c, rows
	v.Sample = sampleFrom(f)
	if add := f.Get("add"); add != "" || f.Get("remove") != "" {
		next := func(list string) int {
			ix := indices(f, list)
			if len(ix) == 0 {
				return 0
			}
			return ix[len(ix)-1] + 1
		}
		switch add {
		case "lines":
			n := next("lines")
			v.Rows = append(v.Rows, editorLine{I: n, Line: relais.ProtocolLine{Seq: len(v.Rows) + 1, Kind: relais.LineChemo, Route: relais.RouteIV}})
		case "criteria":
			v.Content.Criteria = append(v.Content.Criteria, relais.Criterion{Op: ">="})
		case "cumulative_limits":
			v.Content.CumulativeLimits = append(v.Content.CumulativeLimits, relais.CumulativeLimit{})
		}
		return s.showEditor(w, r, p, v, http.StatusOK)
	}
	to := ""
	var err error
	if len(errs) > 0 {
		err = relais.Errors(op, errs)
	} else {
		to, err = save(c)
		if err != nil {
			err = renumber(op, err, rows)
		}
	}
	if err != nil {
		if !refused(err) {
			return err
		}
		p.refuseIn("ped.", "editor", f, err)
		for i, e := range p.Form.Errors {
			p.Form.Errors[i].Label = p.editorLabel(e.Field)
		}
		return s.showEditor(w, r, p, v, StatusOf(relais.ErrorKind(err)))
	}
	return done(w, r, to, "saved")
}

// editorLabel names a field of the editor for the error summary: "Ligne 2
// › Dose".
func (p *page) editorLabel(field string) string {
	if m := indexedField.FindStringSubmatch(field); m != nil {
		n, _ := strconv.Atoi(m[2])
		rest := field[len(m[0]):]
		name := rest
		if hasText("ped.f." + rest) {
			name = p.T("ped.f." + rest)
		}
		return p.Tf("ped.item."+m[1], n+1) + " › " + name
	}
	if hasText("ped.f." + field) {
		return p.T("ped.f." + field)
	}
	return field
}

func (s *Server) saveNewProtocol(w http.ResponseWriter, r *http.Request, p *page) error {
	f := r.PostForm
	v := &editorView{New: true, Action: "/protocols/new", Header: relais.NewProtocol{Code: strings.TrimSpace(f.Get("code")),
		Name: strings.TrimSpace(f.Get("name")), Indication: strings.TrimSpace(f.Get("indication")), Population: relais.Population(f.Get("population"))}}
	return s.saveEditor(w, r, p, v, func(c relais.ProtocolContent) (string, error) {
		req := v.Header
		req.Content = c
		d, err := s.Protocols.CreateProtocol(r.Context(), req)
		if err != nil {
			return "", err
		}
		return "/protocols/" + string(d.ID), nil
	})
}

func (s *Server) saveVersionForm(w http.ResponseWriter, r *http.Request, p *page) error {
	vv, err := s.loadVersion(r)
	if err != nil {
		return err
	}
	v := &editorView{Protocol: vv.Protocol, Version: vv.Version, Action: versionPath(vv.Protocol, vv.Version.Number) + "/edit"}
	return s.saveEditor(w, r, p, v, func(c relais.ProtocolContent) (string, error) {
		rev, err := strconv.Atoi(r.PostFormValue("revision"))
		if err != nil {
			return "", relais.Invalid("protocol.edit", "revision", "reload the page: the form lost the draft's revision")
		}
		_, err = s.Protocols.UpdateDraft(r.Context(), vv.Version.ID, relais.DraftUpdate{Revision: rev, Content: c})
		return versionPath(vv.Protocol, vv.Version.Number), err
	})
}

// editorPartView is what a partial (a new line, criterion or limit)
// renders with.
type editorPartView struct {
	P    *page
	V    *editorView
	Row  editorLine
	I    int
	Next int
	Crit relais.Criterion
	Lim  relais.CumulativeLimit
}

// editorPart answers the "add" buttons: a blank item at index ?i=, and the
// button again for the next index (out of band).
func (s *Server) editorPart(kind string) pageFunc {
	return func(w http.ResponseWriter, r *http.Request, p *page) error {
		i, err := strconv.Atoi(r.URL.Query().Get("i"))
		if err != nil || i < 0 || i > 999 {
			return relais.E("protocol.editor", relais.KindInvalid, "the item number is missing: reload the page")
		}
		v := &editorView{}
		if err := s.editorLists(r, v); err != nil {
			return err
		}
		pv := editorPartView{P: p, V: v, I: i, Next: i + 1}
		switch kind {
		case "line":
			pv.Row = editorLine{I: i, Line: relais.ProtocolLine{Seq: i + 1, Kind: relais.LineChemo, Route: relais.RouteIV}}
		case "criterion":
			pv.Crit = relais.Criterion{Op: ">="}
		}
		s.renderBlock(w, r, "protocol_edit", "part-"+kind, http.StatusOK, p, pv)
		return nil
	}
}

// editorRemove answers a "remove" button in place: nothing, so that htmx
// swaps the item out. Without script the button submits the whole form,
// which the save handler never sees (see the template).
func (s *Server) editorRemove(w http.ResponseWriter, r *http.Request, p *page) error {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	return nil
}

func sampleFrom(f url.Values) sampleView {
	sv := sampleView{HeightCm: f.Get("sample.height_cm"), WeightKg: f.Get("sample.weight_kg"), AgeYears: f.Get("sample.age_years"),
		CreatinineUmolL: f.Get("sample.creatinine_umol_l"), Sex: f.Get("sample.sex")}
	if sv == (sampleView{}) {
		return defaultSample
	}
	return sv
}

// previewView is one line's dose for the sample patient.
type previewView struct {
	P      *page
	I      int
	Result *clinical.Result
	Error  string
	Rule   string // the rule as relais calc reads it
}

// editorPreview computes line ?i='s dose for the sample patient.
func (s *Server) editorPreview(w http.ResponseWriter, r *http.Request, p *page) error {
	const op = "protocol.preview"
	i, _ := strconv.Atoi(r.URL.Query().Get("i"))
	f := r.PostForm
	pv := previewView{P: p, I: i}
	_, rows, errs := formContent(f)
	var row *editorLine
	for k := range rows {
		if rows[k].I == i {
			row = &rows[k]
		}
	}
	var pt clinical.Patient
	sv := sampleFrom(f)
	var perr []error
	var err error
	if pt.HeightCm, err = parseNumber(op, "sample.height_cm", sv.HeightCm); err != nil {
		perr = append(perr, err)
	}
	if pt.WeightKg, err = parseNumber(op, "sample.weight_kg", sv.WeightKg); err != nil {
		perr = append(perr, err)
	}
	if a := strings.TrimSpace(sv.AgeYears); a != "" {
		age, err := parseNumber(op, "sample.age_years", a)
		if err != nil {
			perr = append(perr, err)
		}
		pt.AgeYears = &age
	}
	if c := strings.TrimSpace(sv.CreatinineUmolL); c != "" {
		if pt.CreatinineUmolL, err = parseNumber(op, "sample.creatinine_umol_l", c); err != nil {
			perr = append(perr, err)
		}
	}
	pt.Sex = sv.Sex
	switch {
	case row == nil:
		pv.Error = p.T("ped.preview.no_line")
	case row.Line.Dose.Kind == "":
		pv.Error = p.T("ped.preview.no_rule")
	case len(perr) > 0:
		pv.Error = userMessage(p.Lang, perr[0])
	default:
		for _, e := range errs {
			for _, fe := range relais.FieldErrors(e) {
				if strings.HasPrefix(fe.Field, fmt.Sprintf("lines[%d].dose", i)) {
					pv.Error = userMessage(p.Lang, fe)
				}
			}
		}
		if pv.Error == "" {
			b, _ := json.Marshal(row.Line.Dose)
			pv.Rule = string(b)
			res, err := clinical.Dose(row.Line.Dose, pt)
			if err != nil {
				pv.Error = err.Error()
			} else {
				pv.Result = &res
			}
		}
	}
	s.renderBlock(w, r, "protocol_edit", "preview", http.StatusOK, p, pv)
	return nil
}

// Ints writes days as typed in the editor: "1, 8, 15".
func (p *page) Ints(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}

// IntOpt writes an optional whole number ("" for 0).
func (p *page) IntOpt(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}
