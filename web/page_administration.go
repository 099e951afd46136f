package web

import (
	"net/http"
	"strings"

	"github.com/relais-onco/relais"
)

// Administration at the bedside: a patient's plan of the day in sequence,
// and for each preparation delivered the record of what was given — after
// the second check (the label's DataMatrix and the wristband scanned) —
// with its times, volume and any incident; or why it was not given.

func (s *Server) administrationPages() {
	s.handlePage("GET /patients/{id}/administration", relais.PermProductionRead, s.administrationPage)
	s.handlePage("POST /preparations/{id}/administration", relais.PermAdministerRecord, s.recordAdministration)
	s.handlePage("POST /preparations/{id}/not-administered", relais.PermAdministerRecord, s.recordNotAdministered)
}

type administrationView struct {
	Patient  relais.Patient
	Plan     relais.AdministrationPlan
	Day      relais.Date
	NowLocal string
	Records  map[relais.ID]*relais.Administration
	Kinds    []string
}

func (s *Server) administrationPage(w http.ResponseWriter, r *http.Request, p *page) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	return s.showAdministration(w, r, p, id, http.StatusOK)
}

func (s *Server) showAdministration(w http.ResponseWriter, r *http.Request, p *page, patientID relais.ID, status int) error {
	ctx := r.Context()
	day, err := dateParam(r, "day")
	if err != nil {
		day = relais.Today()
	}
	if d := r.Form.Get("day"); d != "" {
		if pd, err := parseDateField("day", d); err == nil {
			day = pd
		}
	}
	v := administrationView{Day: day, NowLocal: p.Now.In(relais.DisplayZone).Format("2006-01-02T15:04"),
		Records: map[relais.ID]*relais.Administration{},
		Kinds:   []string{relais.IncidentExtravasation, relais.IncidentReaction, relais.IncidentOther}}
	if v.Patient, err = s.readPatient(r, patientID); err != nil {
		return err
	}
	if v.Plan, err = s.Production.AdministrationPlan(ctx, patientID, day); err != nil {
		return err
	}
	for _, it := range v.Plan.Items {
		if it.PreparationID == "" || (it.Status != string(relais.PrepAdministered) && it.Status != string(relais.PrepNotAdministered)) {
			continue
		}
		a, err := s.Production.Administration(ctx, it.PreparationID)
		if err != nil {
			if relais.ErrorKind(err) == relais.KindNotFound {
				continue
			}
			return err
		}
		v.Records[it.PreparationID] = &a
	}
	p.Title = p.T("admin.title") + " — " + v.Patient.DisplayName()
	p.Data = v
	s.renderTemplate(w, r, "administration", "layout", status, p)
	return nil
}

// adminForm applies a nurse's record and goes back to the patient's plan.
func (s *Server) adminForm(w http.ResponseWriter, r *http.Request, p *page, form string, apply func(prep relais.Preparation) error) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	prep, err := s.Production.Preparation(r.Context(), id)
	if err != nil {
		return err
	}
	back := "/patients/" + string(prep.PatientID) + "/administration?day=" + string(prep.AdministrationDate)
	if err := apply(prep); err != nil {
		if !refused(err) {
			return err
		}
		p.refuse(form+"-"+string(id), r.PostForm, err)
		r.Form.Set("day", string(prep.AdministrationDate))
		return s.showAdministration(w, r, p, prep.PatientID, http.StatusUnprocessableEntity)
	}
	return done(w, r, back, form)
}

func (s *Server) recordAdministration(w http.ResponseWriter, r *http.Request, p *page) error {
	return s.adminForm(w, r, p, "administered", func(prep relais.Preparation) error {
		const op = "administration.record"
		f := r.PostForm
		req := relais.AdministrationRequest{ScannedLabel: strings.TrimSpace(f.Get("scanned_label")), PatientIPP: strings.TrimSpace(f.Get("patient_ipp")),
			SecondNurse: strings.TrimSpace(f.Get("second_nurse")), Comment: f.Get("comment"), IndicationCode: strings.TrimSpace(f.Get("indication_code"))}
		var errs []error
		var err error
		if req.StartedAt, err = parseLocalTime(op, "started_at", f.Get("started_at")); err != nil {
			errs = append(errs, err)
		}
		if req.EndedAt, err = parseLocalTime(op, "ended_at", f.Get("ended_at")); err != nil {
			errs = append(errs, err)
		}
		if req.VolumeGivenML, err = parseNumber(op, "volume_given_ml", f.Get("volume_given_ml")); err != nil {
			errs = append(errs, err)
		}
		if v := strings.TrimSpace(f.Get("rate_ml_h")); v != "" {
			if req.RateMLH, err = parseNumber(op, "rate_ml_h", v); err != nil {
				errs = append(errs, err)
			}
		}
		if k := f.Get("incident_kind"); k != "" {
			in := relais.Incident{Kind: k, Description: strings.TrimSpace(f.Get("incident_description")), Action: strings.TrimSpace(f.Get("incident_action"))}
			if in.At, err = parseLocalTime(op, "incidents[0].at", f.Get("incident_at")); err != nil {
				errs = append(errs, err)
			}
			req.Incidents = append(req.Incidents, in)
		}
		if err := relais.Errors(op, errs); err != nil {
			return err
		}
		_, err = s.Production.RecordAdministration(r.Context(), prep.ID, req)
		return err
	})
}

func (s *Server) recordNotAdministered(w http.ResponseWriter, r *http.Request, p *page) error {
	return s.adminForm(w, r, p, "not_administered", func(prep relais.Preparation) error {
		const op = "administration.not_administered"
		req := relais.NotAdministeredRequest{Outcome: r.PostFormValue("outcome"), Reason: r.PostFormValue("reason")}
		if v := strings.TrimSpace(r.PostFormValue("cost_eur")); v != "" {
			c, err := parseNumber(op, "cost_eur", v)
			if err != nil {
				return err
			}
			req.CostEUR = c
		}
		_, err := s.Production.RecordNotAdministered(r.Context(), prep.ID, req)
		return err
	})
}
