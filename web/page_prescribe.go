package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/relais-onco/relais"
)

// Prescribing, first step: include the patient in a protocol version if
// need be, then choose the treatment, the cycle and its first day. The
// draft that results (doses computed, checks run) opens on the
// prescription page.

type prescribeView struct {
	Patient    relais.Patient
	Current    relais.CurrentValues
	Open       []treatmentBlock
	Versions   []versionOption
	Intents    []string
	Today      relais.Date
	Selected   relais.ID
	CanInclude bool
}

func (s *Server) prescribePage(w http.ResponseWriter, r *http.Request, p *page) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	return s.showPrescribe(w, r, p, id, http.StatusOK)
}

func (s *Server) showPrescribe(w http.ResponseWriter, r *http.Request, p *page, patientID relais.ID, status int) error {
	ctx := r.Context()
	pt, err := s.readPatient(r, patientID)
	if err != nil {
		return err
	}
	v := prescribeView{Patient: pt, Intents: relais.Intents, Today: relais.Today(),
		Selected: relais.ID(r.URL.Query().Get("treatment")), CanInclude: p.Can(string(relais.PermTreatmentWrite))}
	if v.Current, err = s.Patients.CurrentValues(ctx, patientID); err != nil {
		return err
	}
	h, err := s.Treatments.History(ctx, patientID)
	if err != nil {
		return err
	}
	for _, b := range timeline(h, p) {
		if b.Treatment.Status == relais.TreatmentPlanned || b.Treatment.Status == relais.TreatmentActive {
			v.Open = append(v.Open, b)
		}
	}
	if v.CanInclude {
		if v.Versions, err = s.activeVersions(r); err != nil {
			return err
		}
	}
	p.Title = p.T("prescribe.title") + " — " + pt.DisplayName()
	p.Data = v
	s.renderTemplate(w, r, "prescribe", "layout", status, p)
	return nil
}

func (s *Server) includePatient(w http.ResponseWriter, r *http.Request, p *page) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	const op = "treatment.include"
	req := relais.IncludeRequest{PatientID: id, ProtocolVersionID: relais.ID(r.PostFormValue("protocol_version_id")),
		Intent: r.PostFormValue("intent"), Arm: r.PostFormValue("arm")}
	d, err := parseDateField("start_date", r.PostFormValue("start_date"))
	if err == nil {
		req.StartDate = d
		var t relais.Treatment
		t, err = s.Treatments.Include(r.Context(), req)
		if err == nil {
			return done(w, r, "/patients/"+string(id)+"/prescribe?treatment="+string(t.ID), "included")
		}
	}
	if !refused(err) {
		return err
	}
	p.refuse("include", r.PostForm, relais.E(op, err))
	return s.showPrescribe(w, r, p, id, http.StatusUnprocessableEntity)
}

func (s *Server) prescribeCycle(w http.ResponseWriter, r *http.Request, p *page) error {
	tid, err := pathID(r, "id")
	if err != nil {
		return err
	}
	t, err := s.Treatments.Treatment(r.Context(), tid)
	if err != nil {
		return err
	}
	const op = "prescription.prescribe"
	var errs []error
	req := relais.PrescribeRequest{}
	if n, err := strconv.Atoi(strings.TrimSpace(r.PostFormValue("cycle"))); err != nil || n < 1 {
		errs = append(errs, relais.Invalid(op, "cycle", "the cycle is a whole number from 1"))
	} else {
		req.Cycle = n
	}
	if d, err := parseDateField("start_date", r.PostFormValue("start_date")); err != nil {
		errs = append(errs, err)
	} else {
		req.StartDate = d
	}
	err = relais.Errors(op, errs)
	if err == nil {
		var pr relais.Prescription
		if pr, err = s.Treatments.Prescribe(r.Context(), tid, req); err == nil {
			return done(w, r, "/prescriptions/"+string(pr.ID), "drafted")
		}
	}
	if !refused(err) {
		return err
	}
	p.refuse("prescribe-"+string(tid), r.PostForm, err)
	return s.showPrescribe(w, r, p, t.PatientID, http.StatusUnprocessableEntity)
}
