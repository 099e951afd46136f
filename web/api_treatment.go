package web

import (
	"net/http"

	"github.com/relais-onco/relais"
)

// Treatments and cycle prescriptions: inclusion, prescribing, signing,
// OK-to-treat and pharmaceutical validation.
func (s *Server) treatmentRoutes() {
	const tag = "Treatments"
	s.Handle(Route{Method: "POST", Path: "/treatments", Perm: relais.PermTreatmentWrite, Tag: tag, Status: http.StatusCreated,
		Summary: "Include a patient in an active protocol version", In: relais.IncludeRequest{}, Out: relais.Treatment{}},
		func(r *http.Request) (any, error) {
			var in relais.IncludeRequest
			if err := Decode(r, &in); err != nil {
				return nil, err
			}
			return s.Treatments.Include(r.Context(), in)
		})
	s.Handle(Route{Method: "GET", Path: "/treatments/{id}", Perm: relais.PermPatientRead, Tag: tag,
		Summary: "One treatment", Out: relais.Treatment{}},
		func(r *http.Request) (any, error) {
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			t, err := s.Treatments.Treatment(r.Context(), id)
			if err != nil {
				return nil, err
			}
			return t, s.recordAccess(r, t.PatientID) // access log (access.go)
		})
	s.Handle(Route{Method: "GET", Path: "/patients/{id}/treatments", Perm: relais.PermPatientRead, Tag: tag,
		Summary: "A patient's treatments, oldest first", Out: []relais.Treatment{}},
		func(r *http.Request) (any, error) {
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			if err := s.recordAccess(r, id); err != nil { // access log (access.go)
				return nil, err
			}
			return s.Treatments.PatientTreatments(r.Context(), id)
		})
	s.Handle(Route{Method: "GET", Path: "/patients/{id}/history", Perm: relais.PermPatientRead, Tag: tag,
		Summary: "A patient's whole treatment history with cumulative doses", Out: relais.History{}},
		func(r *http.Request) (any, error) {
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			if err := s.recordAccess(r, id); err != nil { // access log (access.go)
				return nil, err
			}
			return s.Treatments.History(r.Context(), id)
		})
	s.Handle(Route{Method: "POST", Path: "/treatments/{id}/stop", Perm: relais.PermTreatmentWrite, Tag: tag,
		Summary: "Stop a treatment, with a reason", In: relais.ReasonRequest{}, Out: relais.Treatment{}},
		func(r *http.Request) (any, error) {
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			var in relais.ReasonRequest
			if err := Decode(r, &in); err != nil {
				return nil, err
			}
			return s.Treatments.StopTreatment(r.Context(), id, in.Reason)
		})
	s.Handle(Route{Method: "POST", Path: "/treatments/{id}/prescriptions", Perm: relais.PermPrescribe, Tag: tag, Status: http.StatusCreated,
		Summary: "Prescribe a cycle: doses computed from the latest measurements, with their derivation and the checks", In: relais.PrescribeRequest{}, Out: relais.Prescription{}},
		func(r *http.Request) (any, error) {
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			var in relais.PrescribeRequest
			if err := Decode(r, &in); err != nil {
				return nil, err
			}
			return s.Treatments.Prescribe(r.Context(), id, in)
		})
	s.Handle(Route{Method: "GET", Path: "/prescriptions/{id}", Perm: relais.PermPatientRead, Tag: tag,
		Summary: "One cycle prescription with its lines, days and checks", Out: relais.Prescription{}},
		func(r *http.Request) (any, error) {
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			p, err := s.Treatments.Prescription(r.Context(), id)
			if err != nil {
				return nil, err
			}
			return p, s.recordAccess(r, p.PatientID) // access log (access.go)
		})
	s.Handle(Route{Method: "POST", Path: "/prescriptions/{id}/lines/{line}/modify", Perm: relais.PermPrescribe, Tag: tag,
		Summary: "Change a line's dose by a percentage or to a value, with a reason", In: relais.ModifyLineRequest{}, Out: relais.Prescription{}},
		func(r *http.Request) (any, error) {
			id, line, err := twoIDs(r, "id", "line")
			if err != nil {
				return nil, err
			}
			var in relais.ModifyLineRequest
			if err := Decode(r, &in); err != nil {
				return nil, err
			}
			return s.Treatments.ModifyLine(r.Context(), id, line, in)
		})
	s.Handle(Route{Method: "POST", Path: "/prescriptions/{id}/postpone", Perm: relais.PermPrescribe, Tag: tag,
		Summary: "Postpone a day of the cycle", In: relais.PostponeRequest{}, Out: relais.Prescription{}},
		func(r *http.Request) (any, error) {
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			var in relais.PostponeRequest
			if err := Decode(r, &in); err != nil {
				return nil, err
			}
			return s.Treatments.Postpone(r.Context(), id, in)
		})
	s.Handle(Route{Method: "POST", Path: "/prescriptions/{id}/acknowledge", Perm: relais.PermPrescribe, Tag: tag,
		Summary: "Acknowledge a warning, with a reason", In: relais.AcknowledgeRequest{}, Out: relais.Prescription{}},
		func(r *http.Request) (any, error) {
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			var in relais.AcknowledgeRequest
			if err := Decode(r, &in); err != nil {
				return nil, err
			}
			return s.Treatments.Acknowledge(r.Context(), id, in)
		})
	s.Handle(Route{Method: "POST", Path: "/prescriptions/{id}/sign", Perm: relais.PermPrescriptionSign, Tag: tag,
		Summary: "Sign a draft (refused, with every reason, while a check blocks or an order element is missing)", Out: relais.Prescription{}},
		func(r *http.Request) (any, error) {
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			return s.Treatments.Sign(r.Context(), id)
		})
	s.Handle(Route{Method: "POST", Path: "/prescriptions/{id}/ok-to-treat", Perm: relais.PermOKToTreat, Tag: tag,
		Summary: "Give a day's OK-to-treat; the latest lab values are recorded as seen", In: relais.OKToTreatRequest{}, Out: relais.Prescription{}},
		func(r *http.Request) (any, error) {
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			var in relais.OKToTreatRequest
			if err := Decode(r, &in); err != nil {
				return nil, err
			}
			return s.Treatments.GiveOKToTreat(r.Context(), id, in)
		})
	s.Handle(Route{Method: "POST", Path: "/prescriptions/{id}/lines/{line}/validate", Perm: relais.PermValidate, Tag: tag,
		Summary: "Pharmaceutical validation of a line: accept, accept with an intervention, or refuse", In: relais.ValidateLineRequest{}, Out: relais.Prescription{}},
		func(r *http.Request) (any, error) {
			id, line, err := twoIDs(r, "id", "line")
			if err != nil {
				return nil, err
			}
			var in relais.ValidateLineRequest
			if err := Decode(r, &in); err != nil {
				return nil, err
			}
			return s.Treatments.ValidateLine(r.Context(), id, line, in)
		})
	s.Handle(Route{Method: "POST", Path: "/prescriptions/{id}/validate", Perm: relais.PermValidate, Tag: tag,
		Summary: "Pharmaceutical validation of several lines at once (all applied or none)", In: relais.ValidateLinesRequest{}, Out: relais.Prescription{}},
		func(r *http.Request) (any, error) {
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			var in relais.ValidateLinesRequest
			if err := Decode(r, &in); err != nil {
				return nil, err
			}
			return s.Treatments.ValidateLines(r.Context(), id, in)
		})
	s.Handle(Route{Method: "POST", Path: "/prescriptions/{id}/cancel", Perm: relais.PermPrescribe, Tag: tag,
		Summary: "Cancel a prescription, with a reason (nothing is deleted)", In: relais.ReasonRequest{}, Out: relais.Prescription{}},
		func(r *http.Request) (any, error) {
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			var in relais.ReasonRequest
			if err := Decode(r, &in); err != nil {
				return nil, err
			}
			return s.Treatments.CancelPrescription(r.Context(), id, in.Reason)
		})
	s.Handle(Route{Method: "GET", Path: "/validation-queue", Perm: relais.PermValidate, Tag: tag,
		Summary: "Days of signed prescriptions, with their OK-to-treat, whose lines wait for a pharmacist", Out: []relais.QueueItem{}},
		func(r *http.Request) (any, error) {
			q, err := s.Treatments.ValidationQueue(r.Context())
			if err != nil {
				return nil, err
			}
			ids := make([]relais.ID, len(q))
			for i, it := range q {
				ids[i] = it.PatientID
			}
			return q, s.recordPatientIDs(r, ids) // access log (access.go)
		})
}

func twoIDs(r *http.Request, a, b string) (relais.ID, relais.ID, error) {
	x, err := PathID(r, a)
	if err != nil {
		return "", "", err
	}
	y, err := PathID(r, b)
	return x, y, err
}
