package web

import (
	"context"
	"html/template"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/relais-onco/relais"
)

// The patient search and the patient page: identity with its INS status,
// measurements with their age and trend, allergies, the whole treatment
// history as a timeline, the cumulative anthracycline chart, and notes.

func (s *Server) patientPages() {
	s.handlePage("GET /patients", relais.PermPatientRead, s.patientSearchPage)
	s.handlePage("GET /patients/{id}", relais.PermPatientRead, s.patientPage)
	s.handlePage("POST /patients/{id}/measurements", relais.PermPatientWrite, s.recordMeasurement)
	s.handlePage("GET /patients/{id}/measurements", relais.PermPatientRead, s.measurementsPage)
	s.handlePage("POST /patients/{id}/measurements/{mid}/void", relais.PermPatientWrite, s.voidMeasurement)
	s.handlePage("POST /patients/{id}/allergies", relais.PermPatientWrite, s.addAllergy)
	s.handlePage("POST /patients/{id}/allergies/{aid}/void", relais.PermPatientWrite, s.voidAllergy)
	s.handlePage("POST /patients/{id}/notes", relais.PermNoteWrite, s.addNote)
	s.handlePage("GET /patients/{id}/prescribe", relais.PermPrescribe, s.prescribePage)
	s.handlePage("POST /patients/{id}/treatments", relais.PermTreatmentWrite, s.includePatient)
	s.handlePage("POST /treatments/{id}/prescriptions", relais.PermPrescribe, s.prescribeCycle)
}

type searchView struct {
	Query    string
	Searched bool
	Results  []relais.Patient
}

// searchLimit bounds the patients a search lists: past it, the user types
// more (a birth date) rather than scroll.
const searchLimit = 50

func (s *Server) patientSearchPage(w http.ResponseWriter, r *http.Request, p *page) error {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	v := searchView{Query: q}
	if q != "" {
		v.Searched = true
		res, err := s.Patients.SearchPatients(r.Context(), q, searchLimit)
		if err != nil {
			if !refused(err) {
				return err
			}
			p.refuse("search", r.URL.Query(), err)
		} else if res, err = s.recordPatients(r, res, true); err != nil { // access log: out-of-scope patients left out
			return err
		}
		v.Results = res
	}
	p.Title = p.T("search.title")
	p.Data = v
	if isHTMX(r) {
		s.renderFragment(w, r, "patients", "results", http.StatusOK, p)
		return nil
	}
	s.renderTemplate(w, r, "patients", "layout", http.StatusOK, p)
	return nil
}

type patientView struct {
	Patient      relais.Patient
	Current      relais.CurrentValues
	Rows         []measureRow
	All          []relais.Measurement
	Kinds        []relais.MeasurementKind
	Allergies    []relais.Allergy
	Voided       []relais.Allergy
	Timeline     []treatmentBlock
	Cumulative   []relais.CumulativeDose
	Chart        *anthraChart
	Notes        []relais.NoteThread
	Versions     []versionOption
	Intents      []string
	Today        relais.Date
	NowLocal     string
	Severities   []string
	OpenAnything bool
	Network      *networkSection // shares and the history across the network (page_network.go)
	// AllHistory is set when the page shows every cycle in detail
	// (?history=all); else each treatment shows its recentCycles latest
	// cycles in detail and the earlier ones one line each.
	AllHistory bool
}

// recentCycles is how many of a treatment's latest cycles the patient page
// shows in detail (lines, doses given, events); the earlier ones are one
// line each, linked to their prescription, and the whole history in detail
// is one link away (?history=all). A ten-year history would otherwise be
// hundreds of tables on a page opened many times a day.
const recentCycles = 3

// measureRow is a current value with its trend against the one before.
type measureRow struct {
	relais.CurrentMeasurement
	Label    string
	Trend    string // up, down, same, or "" when there is no earlier value
	Previous *relais.Measurement
	Stale    bool // older than the checks accept for a dose calculation
}

func (s *Server) loadPatient(r *http.Request, p *page) (*patientView, error) {
	ctx := r.Context()
	id, err := pathID(r, "id")
	if err != nil {
		return nil, err
	}
	pt, err := s.readPatient(r, id)
	if err != nil {
		return nil, err
	}
	v := &patientView{Patient: pt, Kinds: relais.MeasurementKinds, Intents: relais.Intents, Today: relais.Today(),
		NowLocal:   time.Now().In(relais.DisplayZone).Format("2006-01-02T15:04"),
		Severities: []string{relais.SeveritySevere, relais.SeverityModerate, relais.SeverityMild, relais.SeverityUnknown}}
	for _, a := range pt.Allergies {
		if a.Voided != nil {
			v.Voided = append(v.Voided, a)
		} else {
			v.Allergies = append(v.Allergies, a)
		}
	}
	if v.Current, err = s.Patients.CurrentValues(ctx, id); err != nil {
		return nil, err
	}
	if v.All, err = s.Patients.Measurements(ctx, id, ""); err != nil {
		return nil, err
	}
	v.Rows = trends(v.Current, v.All, p)
	h, err := s.Treatments.History(ctx, id)
	if err != nil {
		return nil, err
	}
	limits, err := s.cumulativeLimits(r, h)
	if err != nil {
		return nil, err
	}
	if v.Cumulative, err = relais.CumulativeTotals(h.Prescriptions, "", limits); err != nil {
		return nil, err
	}
	v.Timeline = timeline(h, p)
	v.AllHistory = r.URL.Query().Get("history") == "all"
	if !v.AllHistory {
		for i := range v.Timeline {
			b := &v.Timeline[i]
			if n := len(b.Cycles) - recentCycles; n > 0 {
				b.Older, b.Cycles = b.Cycles[:n:n], b.Cycles[n:]
			}
		}
	}
	if s.Production != nil {
		if err := s.addAdministrations(r, id, v.Timeline, p); err != nil {
			return nil, err
		}
	}
	rows(v.Timeline, p)
	v.Chart = anthracyclineChart(h, limits)
	if err := s.addNetwork(r, v, h, limits, p); err != nil {
		return nil, err
	}
	if v.Notes, err = s.Patients.Notes(ctx, id, relais.NoteFilter{}); err != nil {
		return nil, err
	}
	return v, nil
}

func (s *Server) patientPage(w http.ResponseWriter, r *http.Request, p *page) error {
	return s.showPatient(w, r, p, http.StatusOK)
}

func (s *Server) showPatient(w http.ResponseWriter, r *http.Request, p *page, status int) error {
	v, err := s.loadPatient(r, p)
	if err != nil {
		return err
	}
	if p.Can(string(relais.PermTreatmentWrite)) {
		if v.Versions, err = s.activeVersions(r); err != nil {
			return err
		}
	}
	p.Title = v.Patient.DisplayName()
	p.Data = v
	s.renderTemplate(w, r, "patient", "layout", status, p)
	return nil
}

type measurementsView struct {
	Patient relais.Patient
	All     []relais.Measurement
}

// measurementsPage lists every measurement, voided ones struck through,
// each with its void form.
func (s *Server) measurementsPage(w http.ResponseWriter, r *http.Request, p *page) error {
	return s.showMeasurements(w, r, p, http.StatusOK)
}

func (s *Server) showMeasurements(w http.ResponseWriter, r *http.Request, p *page, status int) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var v measurementsView
	if v.Patient, err = s.readPatient(r, id); err != nil {
		return err
	}
	if v.All, err = s.Patients.Measurements(r.Context(), id, ""); err != nil {
		return err
	}
	p.Title = p.Tf("measure.all_of", v.Patient.DisplayName())
	p.Data = v
	s.renderTemplate(w, r, "measurements", "layout", status, p)
	return nil
}

// trends pairs each current value with the valid value before it.
func trends(cv relais.CurrentValues, all []relais.Measurement, p *page) []measureRow {
	var rows []measureRow
	for _, c := range cv.Values {
		row := measureRow{CurrentMeasurement: c, Stale: p.Stale(c.Kind, c.MeasuredAt, cv.Age.Years)}
		if k, ok := relais.MeasurementKindOf(c.Kind); ok {
			row.Label = p.Bi(k.Label)
		}
		// all is newest first: the first valid one older than c is the
		// previous value.
		for i := range all {
			m := all[i]
			if m.Kind != c.Kind || m.Voided != nil || m.ID == c.ID || m.MeasuredAt.After(c.MeasuredAt) {
				continue
			}
			row.Previous = &m
			switch {
			case c.Value > m.Value:
				row.Trend = "up"
			case c.Value < m.Value:
				row.Trend = "down"
			default:
				row.Trend = "same"
			}
			break
		}
		rows = append(rows, row)
	}
	return rows
}

// cumulativeLimits gathers the cumulative limits of the protocol versions
// a patient was treated with; for one class, the lowest limit wins.
func (s *Server) cumulativeLimits(r *http.Request, h relais.History) ([]relais.CumulativeLimit, error) {
	best := map[string]relais.CumulativeLimit{}
	seen := map[relais.ID]bool{}
	for _, t := range h.Treatments {
		if seen[t.ProtocolVersionID] {
			continue
		}
		seen[t.ProtocolVersionID] = true
		v, err := s.Protocols.ProtocolVersion(r.Context(), t.ProtocolVersionID)
		if err != nil {
			return nil, err
		}
		for _, l := range v.Content.CumulativeLimits {
			if l.Class == "" {
				continue
			}
			k := string(l.Class) + "|" + l.Unit
			if b, ok := best[k]; !ok || l.Limit < b.Limit {
				best[k] = l
			}
		}
	}
	out := make([]relais.CumulativeLimit, 0, len(best))
	for _, l := range best {
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Class < out[j].Class })
	return out, nil
}

// treatmentBlock is one treatment in the timeline, with its cycles.
type treatmentBlock struct {
	Treatment relais.Treatment
	Cycles    []cycleBlock
	// Older are the cycles before the recent ones, shown one line each
	// (only Prescription, Title, Date and Status are set).
	Older     []cycleBlock
	NextCycle int
	NextDate  relais.Date
}

type cycleBlock struct {
	Prescription relais.Prescription
	Events       []event
	// Given is what happened to each line's preparation, by line id (when
	// this server runs the pharmacy chain).
	Given map[relais.ID]*relais.Preparation
	// What the page shows, written once (see rows): a long history is
	// many rows, and the template then only copies text.
	Title, Date string
	Status      template.HTML
	Rows        []timelineLine
	EventRows   []timelineEvent
}

// timelineLine is a line of a cycle in the history, ready to show.
type timelineLine struct {
	Day, INN, Planned, Prescribed, Reason string
	Modified                              bool
	Given, Status                         template.HTML
}

// timelineEvent is a dated event of a cycle, ready to show.
type timelineEvent struct {
	ISO, When, What, By, Text string
}

// rows writes the timeline's cycles for the page, once the
// administrations are known.
func rows(tl []treatmentBlock, p *page) {
	for ti := range tl {
		for ci := range tl[ti].Older {
			c := &tl[ti].Older[ci]
			c.Title, c.Date, c.Status = p.Tf("cycle.n", c.Prescription.Cycle), p.Date(c.Prescription.StartDate), p.Badge("status.prescription", c.Prescription.Status)
		}
		for ci := range tl[ti].Cycles {
			c := &tl[ti].Cycles[ci]
			pr := c.Prescription
			c.Title, c.Date, c.Status = p.Tf("cycle.n", pr.Cycle), p.Date(pr.StartDate), p.Badge("status.prescription", pr.Status)
			c.Rows = make([]timelineLine, 0, len(pr.Lines))
			for _, l := range pr.Lines {
				row := timelineLine{Day: p.Tf("cycle.day.short", l.Day), INN: l.INN, Prescribed: p.Num(l.Dose) + " " + l.Unit,
					Status: p.Badge("status.line", l.Status), Given: template.HTML(`<span class="muted">—</span>`)}
				row.Planned = row.Prescribed
				if m := l.Modification; m != nil {
					row.Planned, row.Modified, row.Reason = p.Num(m.ComputedDose)+" "+l.Unit, true, m.Reason
				}
				if g := c.Given[l.ID]; g != nil {
					if g.Status == relais.PrepAdministered {
						row.Given = template.HTML(`<span class="num">`+template.HTMLEscapeString(p.Num(g.Dose)+" "+g.Unit)+`</span> <span class="badge b-ok"><span aria-hidden="true">✔</span> `) +
							template.HTML(template.HTMLEscapeString(p.Enum("status.prep", g.Status))+`</span>`)
					} else {
						row.Given = p.Badge("status.prep", g.Status)
					}
				}
				c.Rows = append(c.Rows, row)
			}
			c.EventRows = make([]timelineEvent, 0, len(c.Events))
			for _, e := range c.Events {
				c.EventRows = append(c.EventRows, timelineEvent{ISO: p.ISOTime(e.At), When: p.Time(e.At), What: p.T(e.Key), By: e.By, Text: e.Text})
			}
		}
	}
}

// event is one dated step in a cycle's life.
type event struct {
	At   time.Time
	Key  string // i18n key of what happened
	By   string
	Text string // reason, comment, drug…
}

// timeline builds the treatments with their cycles and each cycle's
// events in order.
func timeline(h relais.History, p *page) []treatmentBlock {
	var out []treatmentBlock
	for _, t := range h.Treatments {
		b := treatmentBlock{Treatment: t, NextCycle: 1, NextDate: t.StartDate}
		for _, pr := range h.Prescriptions {
			if pr.TreatmentID != t.ID {
				continue
			}
			b.Cycles = append(b.Cycles, cycleBlock{Prescription: pr, Events: cycleEvents(pr, p)})
			if pr.Status != relais.PrescriptionCancelled && pr.Cycle >= b.NextCycle {
				b.NextCycle = pr.Cycle + 1
				b.NextDate = pr.StartDate.AddDays(t.CycleLengthDays)
			}
		}
		out = append(out, b)
	}
	// Newest treatment first: the one under way is what people look for.
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

func cycleEvents(pr relais.Prescription, p *page) []event {
	ev := []event{{At: pr.CreatedAt, Key: "event.prescribed", By: pr.PrescriberName}}
	for _, c := range pr.Checks {
		if c.Ack != nil {
			ev = append(ev, event{At: c.Ack.At, Key: "event.acknowledged", By: c.Ack.By, Text: p.Check(c) + " — " + c.Ack.Reason})
		}
	}
	for _, l := range pr.Lines {
		if m := l.Modification; m != nil {
			ev = append(ev, event{At: m.At, Key: "event.modified", By: m.By,
				Text: l.INN + " : " + p.Num(m.ComputedDose) + " → " + p.Num(l.Dose) + " " + l.Unit + " — " + m.Reason})
		}
		if v := l.Validation; v != nil {
			txt := l.INN
			if v.Intervention != "" {
				txt += " — " + v.Intervention
			}
			if v.Comment != "" {
				txt += " — " + v.Comment
			}
			ev = append(ev, event{At: v.At, Key: "event.decision." + v.Decision, By: v.By, Text: txt})
		}
	}
	if !pr.SignedAt.IsZero() {
		ev = append(ev, event{At: pr.SignedAt, Key: "event.signed", By: pr.PrescriberName})
	}
	for _, d := range pr.Days {
		if d.Postponed != nil {
			ev = append(ev, event{At: d.Postponed.At, Key: "event.postponed", By: d.Postponed.By,
				Text: p.Tf("event.postponed.text", d.Day, p.Date(d.Postponed.From), p.Date(d.Date), d.Postponed.Reason)})
		}
		if ok := d.OKToTreat; ok != nil {
			txt := p.Tf("cycle.day", d.Day)
			if len(ok.Unmet) > 0 {
				txt += " — " + p.T("oktt.override") + " : " + strings.Join(ok.Unmet, "; ")
			}
			if ok.Comment != "" {
				txt += " — " + ok.Comment
			}
			ev = append(ev, event{At: ok.At, Key: "event.ok_to_treat", By: ok.By, Text: txt})
		}
	}
	if pr.Status == relais.PrescriptionCancelled {
		ev = append(ev, event{At: pr.UpdatedAt, Key: "event.cancelled", Text: pr.CancelReason})
	}
	sort.SliceStable(ev, func(i, j int) bool { return ev[i].At.Before(ev[j].At) })
	return ev
}

// versionOption is an active protocol version a patient may be included in.
type versionOption struct {
	ID    relais.ID
	Label string
	Name  string
}

func (s *Server) activeVersions(r *http.Request) ([]versionOption, error) {
	ps, err := s.Protocols.Protocols(r.Context(), relais.ProtocolFilter{Status: relais.VersionActive})
	if err != nil {
		return nil, err
	}
	var out []versionOption
	for _, pr := range ps {
		for _, vr := range pr.Versions {
			if vr.Status == relais.VersionActive {
				out = append(out, versionOption{ID: vr.ID, Label: pr.Code + " v" + itoa(vr.Number), Name: pr.Name})
			}
		}
	}
	return out, nil
}

// addAdministrations puts the preparations of a patient's lines beside
// them (dose given against dose planned) and their administration
// incidents among the cycle's events.
func (s *Server) addAdministrations(r *http.Request, patientID relais.ID, tl []treatmentBlock, p *page) error {
	var preps []relais.Preparation
	var err error
	if h, ok := s.Production.(interface {
		HistoryPreparations(ctx context.Context, patientID relais.ID) ([]relais.Preparation, error)
	}); ok {
		preps, err = h.HistoryPreparations(r.Context(), patientID) // without their plans and records
	} else {
		preps, err = s.listPreparations(r.Context(), relais.PreparationFilter{PatientID: patientID})
	}
	if err != nil {
		return err
	}
	byLine := map[relais.ID]*relais.Preparation{}
	for i := range preps {
		pr := &preps[i]
		// A remade preparation replaces the rejected one on its line.
		if old, ok := byLine[pr.LineID]; !ok || pr.CreatedAt.After(old.CreatedAt) {
			byLine[pr.LineID] = pr
		}
	}
	// What was recorded at the bedside, read in one go when the store can,
	// for the cycles shown in detail only: ten years of a patient's
	// administrations, most of them in cycles shown one line each, were
	// a third of the page's time.
	shown := map[relais.ID]bool{}
	for ti := range tl {
		for _, c := range tl[ti].Cycles {
			for _, l := range c.Prescription.Lines {
				shown[l.ID] = true
			}
		}
	}
	var given []relais.ID
	for lineID, pr := range byLine {
		if shown[lineID] && (pr.Status == relais.PrepAdministered || pr.Status == relais.PrepNotAdministered) {
			given = append(given, pr.ID)
		}
	}
	admins, batched := map[relais.ID]relais.Administration{}, false
	if b, ok := s.Production.(interface {
		AdministrationsOf(ctx context.Context, preparationIDs []relais.ID) (map[relais.ID]relais.Administration, error)
	}); ok && len(given) > 0 {
		if admins, err = b.AdministrationsOf(r.Context(), given); err != nil {
			return err
		}
		batched = true
	}
	for ti := range tl {
		for ci := range tl[ti].Cycles {
			c := &tl[ti].Cycles[ci]
			c.Given = map[relais.ID]*relais.Preparation{}
			for _, l := range c.Prescription.Lines {
				pr, ok := byLine[l.ID]
				if !ok {
					continue
				}
				c.Given[l.ID] = pr
				if pr.Status != relais.PrepAdministered && pr.Status != relais.PrepNotAdministered {
					continue
				}
				a, ok := admins[pr.ID]
				if !batched {
					var err error
					if a, err = s.Production.Administration(r.Context(), pr.ID); err != nil {
						if relais.ErrorKind(err) == relais.KindNotFound {
							continue
						}
						return err
					}
				} else if !ok {
					continue
				}
				c.Events = append(c.Events, event{At: a.RecordedAt, Key: "event.outcome." + a.Outcome, By: a.RecordedBy, Text: l.INN + adminText(a)})
				for _, in := range a.Incidents {
					c.Events = append(c.Events, event{At: in.At, Key: "event.incident", By: a.RecordedBy,
						Text: l.INN + " — " + p.Enum("incident", in.Kind) + " : " + in.Description})
				}
			}
			sort.SliceStable(c.Events, func(i, j int) bool { return c.Events[i].At.Before(c.Events[j].At) })
		}
	}
	return nil
}

func adminText(a relais.Administration) string {
	if a.Reason != "" {
		return " — " + a.Reason
	}
	return ""
}
