package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/relais-onco/relais"
)

// The prescription page: a cycle's lines with each dose and, one click
// away, its derivation; the checks grouped by level with their
// acknowledgement forms; dose changes with a reason; signature (refused,
// with every reason listed, while something blocks); then each day's
// OK-to-treat.

func (s *Server) prescriptionPages() {
	s.handlePage("GET /prescriptions/{id}", relais.PermPatientRead, s.prescriptionPage)
	s.handlePage("POST /prescriptions/{id}/lines/{line}/modify", relais.PermPrescribe, s.modifyLine)
	s.handlePage("POST /prescriptions/{id}/acknowledge", relais.PermPrescribe, s.acknowledgeCheck)
	s.handlePage("POST /prescriptions/{id}/sign", relais.PermPrescriptionSign, s.signPrescription)
	s.handlePage("POST /prescriptions/{id}/ok-to-treat", relais.PermOKToTreat, s.okToTreat)
	s.handlePage("POST /prescriptions/{id}/postpone", relais.PermPrescribe, s.postponeDay)
	s.handlePage("POST /prescriptions/{id}/cancel", relais.PermPrescribe, s.cancelPrescription)
}

type prescriptionView struct {
	P         relais.Prescription
	Patient   relais.Patient
	Treatment relais.Treatment
	Current   relais.CurrentValues
	Days      []dayView
	// Checks by level, blocking first.
	Blocking    []relais.Check
	Acknowledge []relais.Check
	Info        []relais.Check
	// SignBlockers are the reasons the draft cannot be signed yet.
	SignBlockers []string
	Lines        map[relais.ID]string // line id → "J1 · doxorubicine", for the checks
	Notes        []relais.NoteThread
	Today        relais.Date
}

// dayView is a day of the cycle with its lines.
type dayView struct {
	relais.PrescriptionDay
	Lines []relais.PrescriptionLine
	Due   bool // signed, no OK-to-treat yet
}

func (s *Server) loadPrescription(r *http.Request, p *page) (*prescriptionView, error) {
	ctx := r.Context()
	id, err := pathID(r, "id")
	if err != nil {
		return nil, err
	}
	pr, err := s.Treatments.Prescription(ctx, id)
	if err != nil {
		return nil, err
	}
	v := &prescriptionView{P: pr, Lines: map[relais.ID]string{}, Today: relais.Today()}
	if v.Patient, err = s.readPatient(r, pr.PatientID); err != nil {
		return nil, err
	}
	if v.Treatment, err = s.Treatments.Treatment(ctx, pr.TreatmentID); err != nil {
		return nil, err
	}
	if v.Current, err = s.Patients.CurrentValues(ctx, pr.PatientID); err != nil {
		return nil, err
	}
	for _, d := range pr.Days {
		dv := dayView{PrescriptionDay: d, Due: pr.Status == relais.PrescriptionSigned && d.OKToTreat == nil}
		for _, l := range pr.Lines {
			if l.Day == d.Day {
				dv.Lines = append(dv.Lines, l)
			}
		}
		v.Days = append(v.Days, dv)
	}
	for _, l := range pr.Lines {
		v.Lines[l.ID] = p.Tf("cycle.day.short", l.Day) + " · " + l.INN
	}
	for _, c := range pr.Checks {
		switch c.Level {
		case relais.LevelBlocking:
			v.Blocking = append(v.Blocking, c)
		case relais.LevelAcknowledge:
			v.Acknowledge = append(v.Acknowledge, c)
		default:
			v.Info = append(v.Info, c)
		}
	}
	if pr.Status == relais.PrescriptionDraft {
		for _, c := range pr.Blocking() {
			prefix := ""
			if c.Level == relais.LevelAcknowledge {
				prefix = p.T("sign.blocker.ack") + " "
			}
			v.SignBlockers = append(v.SignBlockers, prefix+p.Check(c))
		}
		for _, e := range relais.OrderElements(&pr) {
			v.SignBlockers = append(v.SignBlockers, userMessage(p.Lang, e))
		}
	}
	if v.Notes, err = s.Patients.Notes(ctx, pr.PatientID, relais.NoteFilter{TargetKind: relais.NoteOnPrescription, TargetID: pr.ID}); err != nil {
		return nil, err
	}
	return v, nil
}

func (s *Server) prescriptionPage(w http.ResponseWriter, r *http.Request, p *page) error {
	return s.showPrescription(w, r, p, http.StatusOK)
}

func (s *Server) showPrescription(w http.ResponseWriter, r *http.Request, p *page, status int) error {
	v, err := s.loadPrescription(r, p)
	if err != nil {
		return err
	}
	p.Title = p.Tf("prescription.title", v.P.Regimen, v.P.Cycle) + " — " + v.Patient.DisplayName()
	p.Data = v
	s.renderTemplate(w, r, "prescription", "layout", status, p)
	return nil
}

// prescriptionAction applies one transition and redirects back, or shows
// the page again with the form's errors.
func (s *Server) prescriptionAction(w http.ResponseWriter, r *http.Request, p *page, form string, apply func(id relais.ID) error, flash string) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := apply(id); err != nil {
		if !refused(err) {
			return err
		}
		p.refuse(form, r.PostForm, err)
		return s.showPrescription(w, r, p, http.StatusUnprocessableEntity)
	}
	return done(w, r, "/prescriptions/"+string(id), flash)
}

func (s *Server) modifyLine(w http.ResponseWriter, r *http.Request, p *page) error {
	line, err := pathID(r, "line")
	if err != nil {
		return err
	}
	return s.prescriptionAction(w, r, p, "modify-"+string(line), func(id relais.ID) error {
		const op = "prescription.modify_line"
		req := relais.ModifyLineRequest{Reason: r.PostFormValue("reason")}
		field := "value"
		if r.PostFormValue("mode") == "percent" {
			field = "percent"
		}
		v, err := parseNumber(op, field, r.PostFormValue("amount"))
		if err != nil {
			return err
		}
		if field == "percent" {
			req.Percent = &v
		} else {
			req.Value = &v
		}
		_, err = s.Treatments.ModifyLine(r.Context(), id, line, req)
		return err
	}, "modified")
}

func (s *Server) acknowledgeCheck(w http.ResponseWriter, r *http.Request, p *page) error {
	code, line := r.PostFormValue("code"), relais.ID(r.PostFormValue("line_id"))
	return s.prescriptionAction(w, r, p, "ack-"+code+"-"+string(line), func(id relais.ID) error {
		_, err := s.Treatments.Acknowledge(r.Context(), id, relais.AcknowledgeRequest{Code: code, LineID: line, Reason: r.PostFormValue("reason")})
		return err
	}, "acknowledged")
}

func (s *Server) signPrescription(w http.ResponseWriter, r *http.Request, p *page) error {
	return s.prescriptionAction(w, r, p, "sign", func(id relais.ID) error {
		_, err := s.Treatments.Sign(r.Context(), id)
		return err
	}, "signed")
}

func (s *Server) okToTreat(w http.ResponseWriter, r *http.Request, p *page) error {
	day, _ := strconv.Atoi(r.PostFormValue("day"))
	return s.prescriptionAction(w, r, p, "oktt-"+strconv.Itoa(day), func(id relais.ID) error {
		_, err := s.Treatments.GiveOKToTreat(r.Context(), id, relais.OKToTreatRequest{Day: day,
			Comment: r.PostFormValue("comment"), Override: r.PostFormValue("override") == "on"})
		return err
	}, "ok_to_treat")
}

func (s *Server) postponeDay(w http.ResponseWriter, r *http.Request, p *page) error {
	day, _ := strconv.Atoi(r.PostFormValue("day"))
	return s.prescriptionAction(w, r, p, "postpone-"+strconv.Itoa(day), func(id relais.ID) error {
		to, err := parseDateField("to", r.PostFormValue("to"))
		if err != nil {
			return err
		}
		_, err = s.Treatments.Postpone(r.Context(), id, relais.PostponeRequest{Day: day, To: to, Reason: r.PostFormValue("reason")})
		return err
	}, "postponed")
}

func (s *Server) cancelPrescription(w http.ResponseWriter, r *http.Request, p *page) error {
	return s.prescriptionAction(w, r, p, "cancel", func(id relais.ID) error {
		_, err := s.Treatments.CancelPrescription(r.Context(), id, strings.TrimSpace(r.PostFormValue("reason")))
		return err
	}, "cancelled")
}
