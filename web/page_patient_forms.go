package web

import (
	"net/http"
	"strings"

	"github.com/relais-onco/relais"
)

// The patient page's forms: a measurement, an allergy, a note, and voiding
// what was entered in error. Each applies through the patient service and
// redirects back (post/redirect/get); a refused form is shown again with
// its errors beside the fields.

func (s *Server) patientForm(w http.ResponseWriter, r *http.Request, p *page, form string, apply func(id relais.ID) error, flash string) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := apply(id); err != nil {
		if !refused(err) {
			return err
		}
		p.refuse(form, r.PostForm, err)
		return s.showPatient(w, r, p, http.StatusUnprocessableEntity)
	}
	return done(w, r, "/patients/"+string(id), flash)
}

func (s *Server) recordMeasurement(w http.ResponseWriter, r *http.Request, p *page) error {
	return s.patientForm(w, r, p, "measurement", func(id relais.ID) error {
		const op = "measurement.record"
		in := relais.MeasurementInput{Kind: r.PostFormValue("kind"), Source: relais.SourceManual}
		var errs []error
		if v, err := parseNumber(op, "value", r.PostFormValue("value")); err != nil {
			errs = append(errs, err)
		} else {
			in.Value = &v
		}
		if t, err := parseLocalTime(op, "measured_at", r.PostFormValue("measured_at")); err != nil {
			errs = append(errs, err)
		} else {
			in.MeasuredAt = t
		}
		if err := relais.Errors(op, errs); err != nil {
			return err
		}
		_, err := s.Patients.RecordMeasurement(r.Context(), id, in)
		return err
	}, "measurement")
}

func (s *Server) voidMeasurement(w http.ResponseWriter, r *http.Request, p *page) error {
	mid, err := pathID(r, "mid")
	if err != nil {
		return err
	}
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if _, err := s.Patients.VoidMeasurement(r.Context(), mid, r.PostFormValue("reason")); err != nil {
		if !refused(err) {
			return err
		}
		p.refuse("void-"+string(mid), r.PostForm, err)
		return s.showMeasurements(w, r, p, http.StatusUnprocessableEntity)
	}
	return done(w, r, "/patients/"+string(id)+"/measurements", "voided")
}

func (s *Server) addAllergy(w http.ResponseWriter, r *http.Request, p *page) error {
	return s.patientForm(w, r, p, "allergy", func(id relais.ID) error {
		_, err := s.Patients.AddAllergy(r.Context(), id, relais.AllergyInput{Substance: r.PostFormValue("substance"),
			Reaction: r.PostFormValue("reaction"), Severity: r.PostFormValue("severity")})
		return err
	}, "allergy")
}

func (s *Server) voidAllergy(w http.ResponseWriter, r *http.Request, p *page) error {
	aid, err := pathID(r, "aid")
	if err != nil {
		return err
	}
	return s.patientForm(w, r, p, "void-"+string(aid), func(id relais.ID) error {
		_, err := s.Patients.VoidAllergy(r.Context(), id, aid, r.PostFormValue("reason"))
		return err
	}, "voided")
}

func (s *Server) addNote(w http.ResponseWriter, r *http.Request, p *page) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	form := "note"
	if c := r.PostFormValue("corrects"); c != "" {
		form = "note-" + c
	}
	in := relais.NoteInput{PatientID: id, TargetKind: relais.NoteOnPatient, Text: r.PostFormValue("text"),
		Corrects: relais.ID(strings.TrimSpace(r.PostFormValue("corrects"))), Shareable: r.PostFormValue("shareable") == "on"}
	back := "/patients/" + string(id)
	if r.PostFormValue("target_kind") == relais.NoteOnPrescription {
		in.TargetKind, in.TargetID = relais.NoteOnPrescription, relais.ID(r.PostFormValue("target_id"))
		if _, err := relais.ParseID("target_id", string(in.TargetID)); err != nil {
			return relais.E("page", relais.KindNotFound, err)
		}
		back = "/prescriptions/" + string(in.TargetID)
	}
	if _, err := s.Patients.AddNote(r.Context(), in); err != nil {
		if !refused(err) {
			return err
		}
		p.refuse(form, r.PostForm, err)
		if in.TargetKind == relais.NoteOnPrescription {
			r.SetPathValue("id", string(in.TargetID))
			return s.showPrescription(w, r, p, http.StatusUnprocessableEntity)
		}
		return s.showPatient(w, r, p, http.StatusUnprocessableEntity)
	}
	return done(w, r, back, "note")
}
