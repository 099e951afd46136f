package web

import (
	"math"
	"net/http"
	"sort"

	"github.com/relais-onco/relais"
)

// Pharmaceutical validation: the queue, and one screen with everything a
// pharmacist checks — the order's elements, the previous cycle's doses
// beside this one's, the latest labs with their age, the cumulative doses,
// the earlier interventions — and a decision per line (accept, accept with
// an intervention, refuse with a comment), applied in place with htmx.

func (s *Server) validationPages() {
	s.handlePage("GET /validation", relais.PermValidate, s.validationQueuePage)
	s.handlePage("GET /prescriptions/{id}/validation", relais.PermValidate, s.validationPage)
	s.handlePage("POST /prescriptions/{id}/lines/{line}/validate", relais.PermValidate, s.validateLine)
}

func (s *Server) validationQueuePage(w http.ResponseWriter, r *http.Request, p *page) error {
	var q []relais.QueueItem
	if ws, ok := s.Treatments.(relais.WorklistService); ok {
		wl, err := ws.Worklist(r.Context(), relais.WorklistRequest{On: relais.Today(), Lists: []string{relais.WorklistToValidate}})
		if err != nil {
			return err
		}
		q = queueOf(wl.ToValidate)
	} else {
		var err error
		if q, err = s.Treatments.ValidationQueue(r.Context()); err != nil {
			return err
		}
		sort.SliceStable(q, func(i, j int) bool { return q[i].Date < q[j].Date })
	}
	p.Title = p.T("queue.title")
	p.Data = q
	s.renderTemplate(w, r, "queue", "layout", http.StatusOK, p)
	return nil
}

type validationView struct {
	*prescriptionView
	Previous      *relais.Prescription
	Rows          []lineRow
	Labs          []measureRow
	Cumulative    []relais.CumulativeDose
	Interventions []intervention
	Remaining     int
}

// lineRow is a line on the validation screen, with the same line of the
// previous cycle. Page lets its template block translate on its own (an
// htmx answer renders the block alone).
type lineRow struct {
	Page           *page
	PrescriptionID relais.ID
	Line           relais.PrescriptionLine
	Prev           *relais.PrescriptionLine
	DayOK          bool
	Signed         bool
}

// intervention is a pharmacist's earlier decision worth reading again.
type intervention struct {
	Regimen string
	Cycle   int
	Line    relais.PrescriptionLine
}

func (s *Server) loadValidation(r *http.Request, p *page) (*validationView, error) {
	pv, err := s.loadPrescription(r, p)
	if err != nil {
		return nil, err
	}
	v := &validationView{prescriptionView: pv}
	h, err := s.Treatments.History(r.Context(), pv.P.PatientID)
	if err != nil {
		return nil, err
	}
	for i := range h.Prescriptions {
		o := h.Prescriptions[i]
		if o.TreatmentID == pv.P.TreatmentID && o.Cycle < pv.P.Cycle && o.Status != relais.PrescriptionCancelled &&
			o.Status != relais.PrescriptionDraft && (v.Previous == nil || o.Cycle > v.Previous.Cycle) {
			v.Previous = &h.Prescriptions[i]
		}
		for _, l := range o.Lines {
			if l.Validation != nil && (l.Validation.Intervention != "" || l.Validation.Decision == relais.DecisionRefuse) {
				v.Interventions = append(v.Interventions, intervention{Regimen: o.Regimen, Cycle: o.Cycle, Line: l})
			}
		}
	}
	sort.SliceStable(v.Interventions, func(i, j int) bool {
		return v.Interventions[i].Line.Validation.At.After(v.Interventions[j].Line.Validation.At)
	})
	for _, l := range pv.P.Lines {
		v.Rows = append(v.Rows, v.row(p, l))
		if l.Status == relais.LineProposed {
			v.Remaining++
		}
	}
	v.Labs = trends(pv.Current, nil, p)
	limits, err := s.cumulativeLimits(r, h)
	if err != nil {
		return nil, err
	}
	if v.Cumulative, err = relais.CumulativeTotals(h.Prescriptions, "", limits); err != nil {
		return nil, err
	}
	return v, nil
}

// row pairs a line with the previous cycle's: the same protocol line when
// the version is the same, else the same drug on the same day.
func (v *validationView) row(p *page, l relais.PrescriptionLine) lineRow {
	row := lineRow{Page: p, PrescriptionID: v.P.ID, Line: l, Signed: v.P.Status == relais.PrescriptionSigned}
	if d := v.P.DayOf(l.Day); d != nil {
		row.DayOK = d.OKToTreat != nil
	}
	if v.Previous != nil {
		for i := range v.Previous.Lines {
			o := &v.Previous.Lines[i]
			if (l.ProtocolLineID != "" && o.ProtocolLineID == l.ProtocolLineID) || (o.INN == l.INN && o.Day == l.Day) {
				row.Prev = o
				break
			}
		}
	}
	return row
}

func (s *Server) validationPage(w http.ResponseWriter, r *http.Request, p *page) error {
	return s.showValidation(w, r, p, http.StatusOK)
}

func (s *Server) showValidation(w http.ResponseWriter, r *http.Request, p *page, status int) error {
	v, err := s.loadValidation(r, p)
	if err != nil {
		return err
	}
	p.Title = p.Tf("validation.title", v.P.Regimen, v.P.Cycle) + " — " + v.Patient.DisplayName()
	p.Data = v
	s.renderTemplate(w, r, "validation", "layout", status, p)
	return nil
}

func (s *Server) validateLine(w http.ResponseWriter, r *http.Request, p *page) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	line, err := pathID(r, "line")
	if err != nil {
		return err
	}
	form := "validate-" + string(line)
	req := relais.ValidateLineRequest{Decision: r.PostFormValue("decision"), Comment: r.PostFormValue("comment"),
		Intervention: r.PostFormValue("intervention")}
	_, err = s.Treatments.ValidateLine(r.Context(), id, line, req)
	status := http.StatusOK
	if err != nil {
		if !refused(err) {
			return err
		}
		p.refuse(form, r.PostForm, err)
		status = http.StatusUnprocessableEntity
	}
	if !isHTMX(r) {
		if err != nil {
			return s.showValidation(w, r, p, status)
		}
		return done(w, r, "/prescriptions/"+string(id)+"/validation", "validated")
	}
	// htmx: answer the line alone, and the count of lines left out of band.
	v, lerr := s.loadValidation(r, p)
	if lerr != nil {
		return lerr
	}
	for _, row := range v.Rows {
		if row.Line.ID == line {
			p.Data = v
			s.renderBlock(w, r, "validation", "vline-answer", status, p, struct {
				Row       lineRow
				Remaining int
			}{row, v.Remaining})
			return nil
		}
	}
	return relais.E("page", relais.KindNotFound, "no such line")
}

// Delta is the change of dose from the previous cycle, in percent to a
// tenth ("+12.5 %"), or "" when the doses cannot be compared. It is a
// reading aid beside the two exact doses, never a dose itself.
func (row lineRow) Delta() string {
	if row.Prev == nil || row.Prev.Unit != row.Line.Unit || row.Prev.Dose <= 0 {
		return ""
	}
	pct := math.Round((row.Line.Dose-row.Prev.Dose)/row.Prev.Dose*1000) / 10
	if pct == 0 {
		return "="
	}
	s := row.Page.Num(pct) + " %"
	if pct > 0 {
		s = "+" + s
	}
	return s
}
