package web

import (
	"net/http"
	"strconv"

	"github.com/relais-onco/relais"
)

// Patients: identity, allergies, sharing, identity transitions (merge,
// identifier change), measurements, current values, notes.
//
// Read-access log (issue 6): every handler below that shows a patient's data
// calls s.recordAccess (access.go), which applies the scope rule and records
// who read which patient, by which route, when and for what purpose.

func (s *Server) patientRoutes() {
	const tag = "Patients"
	s.Handle(Route{Method: "POST", Path: "/patients", Perm: relais.PermPatientWrite, Tag: tag, Status: http.StatusCreated,
		Summary: "Create a patient at this site", In: relais.PatientInput{}, Out: relais.Patient{}},
		func(r *http.Request) (any, error) {
			var in relais.PatientInput
			if err := Decode(r, &in); err != nil {
				return nil, err
			}
			return s.Patients.CreatePatient(r.Context(), in)
		})
	s.Handle(Route{Method: "GET", Path: "/patients", Perm: relais.PermPatientRead, Tag: tag,
		Summary: "Search patients by name, birth date (DD/MM/YYYY or YYYY-MM-DD), IPP or INS; terms combine",
		Out:     []relais.Patient{},
		Query: []Param{{Name: "q", Description: `e.g. "dupont 12/03/2015", "le-gall", an IPP or an INS`, Required: true},
			{Name: "limit", Description: "at most this many patients (20 by default, 200 at most)"}}},
		func(r *http.Request) (any, error) {
			limit := 0
			if v := r.URL.Query().Get("limit"); v != "" {
				n, err := strconv.Atoi(v)
				if err != nil || n < 1 {
					return nil, relais.Invalid("patient.search", "limit", "limit must be a positive whole number")
				}
				limit = n
			}
			// A search shows identities: each patient found is a read
			// (those outside the reader's scope are left out).
			found, err := s.Patients.SearchPatients(r.Context(), r.URL.Query().Get("q"), limit)
			if err != nil {
				return nil, err
			}
			return s.recordPatients(r, found, true)
		})
	s.Handle(Route{Method: "GET", Path: "/patients/{id}", Perm: relais.PermPatientRead, Tag: tag,
		Summary: "A patient, with allergies, sharing and former IPPs (a merged patient names its survivor)", Out: relais.Patient{}},
		func(r *http.Request) (any, error) {
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			p, err := s.Patients.Patient(r.Context(), id)
			if err != nil {
				return nil, err
			}
			return p, s.recordRead(r, p)
		})
	s.Handle(Route{Method: "POST", Path: "/patients/{id}", Perm: relais.PermPatientWrite, Tag: tag,
		Summary: "Change identity traits (only the fields sent); the IPP changes through /patients/{id}/ipp",
		In:      relais.PatientUpdate{}, Out: relais.Patient{}},
		func(r *http.Request) (any, error) {
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			var in relais.PatientUpdate
			if err := Decode(r, &in); err != nil {
				return nil, err
			}
			return s.Patients.UpdatePatient(r.Context(), id, in)
		})
	s.Handle(Route{Method: "POST", Path: "/patients/{id}/allergies", Perm: relais.PermPatientWrite, Tag: tag,
		Summary: "Record an allergy", In: relais.AllergyInput{}, Out: relais.Patient{}},
		func(r *http.Request) (any, error) {
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			var in relais.AllergyInput
			if err := Decode(r, &in); err != nil {
				return nil, err
			}
			return s.Patients.AddAllergy(r.Context(), id, in)
		})
	s.Handle(Route{Method: "POST", Path: "/patients/{id}/allergies/{allergy_id}/void", Perm: relais.PermPatientWrite, Tag: tag,
		Summary: "Void an allergy entered in error (it stays, struck through)", In: relais.ReasonRequest{}, Out: relais.Patient{}},
		func(r *http.Request) (any, error) {
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			aid, err := PathID(r, "allergy_id")
			if err != nil {
				return nil, err
			}
			var in relais.ReasonRequest
			if err := Decode(r, &in); err != nil {
				return nil, err
			}
			return s.Patients.VoidAllergy(r.Context(), id, aid, in.Reason)
		})
	s.Handle(Route{Method: "POST", Path: "/patients/{id}/sharing", Perm: relais.PermPatientWrite, Tag: tag,
		Summary: "Share the care with a site of the network, once the patient or parents were told",
		In:      relais.SharingInput{}, Out: relais.Patient{}},
		func(r *http.Request) (any, error) {
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			var in relais.SharingInput
			if err := Decode(r, &in); err != nil {
				return nil, err
			}
			return s.Patients.SharePatient(r.Context(), id, in)
		})
	s.Handle(Route{Method: "POST", Path: "/patients/{id}/ipp", Perm: relais.PermPatientWrite, Tag: tag,
		Summary: "Change the local id (HL7 A47); the old one is kept", In: relais.ChangeIPPRequest{}, Out: relais.Patient{}},
		func(r *http.Request) (any, error) {
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			var in relais.ChangeIPPRequest
			if err := Decode(r, &in); err != nil {
				return nil, err
			}
			return s.Patients.ChangePatientIPP(r.Context(), id, in.IPP, in.Reason)
		})
	s.Handle(Route{Method: "POST", Path: "/patients/{id}/merge", Perm: relais.PermPatientWrite, Tag: tag,
		Summary: "Merge a duplicate into this patient (HL7 A40); nothing is deleted", In: relais.MergeRequest{}, Out: relais.Patient{}},
		func(r *http.Request) (any, error) {
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			var in relais.MergeRequest
			if err := Decode(r, &in); err != nil {
				return nil, err
			}
			if _, err := relais.ParseID("duplicate_id", string(in.DuplicateID)); err != nil {
				return nil, err
			}
			return s.Patients.MergePatients(r.Context(), id, in.DuplicateID, in.Reason)
		})

	s.Handle(Route{Method: "GET", Path: "/measurement-kinds", Perm: relais.PermPatientRead, Tag: tag,
		Summary: "The kinds of measurement, with their units and plausibility bounds", Out: []relais.MeasurementKind{}},
		func(r *http.Request) (any, error) { return relais.MeasurementKinds, nil })
	s.Handle(Route{Method: "POST", Path: "/patients/{id}/measurements", Perm: relais.PermPatientWrite, Tag: tag, Status: http.StatusCreated,
		Summary: "Record a measurement (height, weight, lab value)", In: relais.MeasurementInput{}, Out: relais.Measurement{}},
		func(r *http.Request) (any, error) {
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			var in relais.MeasurementInput
			if err := Decode(r, &in); err != nil {
				return nil, err
			}
			return s.Patients.RecordMeasurement(r.Context(), id, in)
		})
	s.Handle(Route{Method: "POST", Path: "/measurements/{id}/void", Perm: relais.PermPatientWrite, Tag: tag,
		Summary: "Void a measurement entered in error (it stays, struck through)", In: relais.ReasonRequest{}, Out: relais.Measurement{}},
		func(r *http.Request) (any, error) {
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			var in relais.ReasonRequest
			if err := Decode(r, &in); err != nil {
				return nil, err
			}
			return s.Patients.VoidMeasurement(r.Context(), id, in.Reason)
		})
	s.Handle(Route{Method: "GET", Path: "/patients/{id}/measurements", Perm: relais.PermPatientRead, Tag: tag,
		Summary: "A patient's measurements, newest first, voided ones included",
		Out:     []relais.Measurement{}, Query: []Param{{Name: "kind", Description: "only this kind, e.g. weight_kg"}}},
		func(r *http.Request) (any, error) {
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			// The query is checked first (its faults come before the
			// patient's scope); nothing is answered unless the read is logged.
			out, err := s.Patients.Measurements(r.Context(), id, r.URL.Query().Get("kind"))
			if err != nil {
				return nil, err
			}
			return out, s.recordAccess(r, id)
		})
	s.Handle(Route{Method: "GET", Path: "/patients/{id}/current", Perm: relais.PermPatientRead, Tag: tag,
		Summary: "Current values: latest measurement of each kind, BSA and GFR with their derivations, each with its age",
		Out:     relais.CurrentValues{}},
		func(r *http.Request) (any, error) {
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			// The query is checked first (its faults come before the
			// patient's scope); nothing is answered unless the read is logged.
			out, err := s.Patients.CurrentValues(r.Context(), id)
			if err != nil {
				return nil, err
			}
			return out, s.recordAccess(r, id)
		})

	s.Handle(Route{Method: "POST", Path: "/notes", Perm: relais.PermNoteWrite, Tag: tag, Status: http.StatusCreated,
		Summary: "Write a note on a patient, prescription or preparation; with corrects, a correction of your own note",
		In:      relais.NoteInput{}, Out: relais.Note{}},
		func(r *http.Request) (any, error) {
			var in relais.NoteInput
			if err := Decode(r, &in); err != nil {
				return nil, err
			}
			return s.Patients.AddNote(r.Context(), in)
		})
	s.Handle(Route{Method: "GET", Path: "/patients/{id}/notes", Perm: relais.PermPatientRead, Tag: tag,
		Summary: "Notes on a patient, each at its latest version with its history",
		Out:     []relais.NoteThread{},
		Query: []Param{{Name: "target_kind", Description: "patient, prescription or preparation"},
			{Name: "target_id", Description: "only the notes on this prescription or preparation"}}},
		func(r *http.Request) (any, error) {
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			f := relais.NoteFilter{TargetKind: r.URL.Query().Get("target_kind")}
			switch f.TargetKind {
			case "", relais.NoteOnPatient, relais.NoteOnPrescription, relais.NoteOnPreparation:
			default:
				return nil, relais.Invalid("note.list", "target_kind", "target_kind must be patient, prescription or preparation")
			}
			if v := r.URL.Query().Get("target_id"); v != "" {
				if f.TargetID, err = relais.ParseID("target_id", v); err != nil {
					return nil, err
				}
			}
			// The query is checked first (its faults come before the
			// patient's scope); nothing is answered unless the read is logged.
			out, err := s.Patients.Notes(r.Context(), id, f)
			if err != nil {
				return nil, err
			}
			return out, s.recordAccess(r, id)
		})
}
