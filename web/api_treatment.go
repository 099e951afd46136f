package web

import (
	"net/http"

	"github.com/relais-onco/relais"
)

// Treatments and cycle prescriptions: inclusion, prescribing, signing,
// OK-to-treat and pharmaceutical validation.
func (s *Server) treatmentRoutes() {
	const tag = "Treatments"
	t := s.Treatments
	if t == nil { // a server built for a part of Relais only (tests)
		return
	}
	s.Handle(Route{Method: "POST", Path: "/treatments", Perm: relais.PermTreatmentWrite, Tag: tag, Status: http.StatusCreated,
		Summary: "Include a patient in an active protocol version", In: relais.IncludeRequest{}, Out: relais.Treatment{}},
		body(t.Include))
	s.Handle(Route{Method: "GET", Path: "/treatments/{id}", Perm: relais.PermPatientRead, Tag: tag,
		Summary: "One treatment", Out: relais.Treatment{}},
		readOf(s, t.Treatment, func(t relais.Treatment) relais.ID { return t.PatientID }))
	s.Handle(Route{Method: "GET", Path: "/patients/{id}/treatments", Perm: relais.PermPatientRead, Tag: tag,
		Summary: "A patient's treatments, oldest first", Out: []relais.Treatment{}},
		patientRead(s, t.PatientTreatments))
	s.Handle(Route{Method: "GET", Path: "/patients/{id}/history", Perm: relais.PermPatientRead, Tag: tag,
		Summary: "A patient's whole treatment history with cumulative doses", Out: relais.History{}},
		patientRead(s, t.History))
	s.Handle(Route{Method: "POST", Path: "/treatments/{id}/stop", Perm: relais.PermTreatmentWrite, Tag: tag,
		Summary: "Stop a treatment, with a reason", In: relais.ReasonRequest{}, Out: relais.Treatment{}},
		reason(t.StopTreatment))
	s.Handle(Route{Method: "POST", Path: "/treatments/{id}/prescriptions", Perm: relais.PermPrescribe, Tag: tag, Status: http.StatusCreated,
		Summary: "Prescribe a cycle: doses computed from the latest measurements, with their derivation and the checks", In: relais.PrescribeRequest{}, Out: relais.Prescription{}},
		idBody(t.Prescribe))
	s.Handle(Route{Method: "GET", Path: "/prescriptions/{id}", Perm: relais.PermPatientRead, Tag: tag,
		Summary: "One cycle prescription with its lines, days and checks", Out: relais.Prescription{}},
		readOf(s, t.Prescription, func(p relais.Prescription) relais.ID { return p.PatientID }))
	s.Handle(Route{Method: "POST", Path: "/prescriptions/{id}/lines/{line}/modify", Perm: relais.PermPrescribe, Tag: tag,
		Summary: "Change a line's dose by a percentage or to a value, with a reason", In: relais.ModifyLineRequest{}, Out: relais.Prescription{}},
		idLineBody(t.ModifyLine))
	s.Handle(Route{Method: "POST", Path: "/prescriptions/{id}/postpone", Perm: relais.PermPrescribe, Tag: tag,
		Summary: "Postpone a day of the cycle", In: relais.PostponeRequest{}, Out: relais.Prescription{}},
		idBody(t.Postpone))
	s.Handle(Route{Method: "POST", Path: "/prescriptions/{id}/acknowledge", Perm: relais.PermPrescribe, Tag: tag,
		Summary: "Acknowledge a warning, with a reason", In: relais.AcknowledgeRequest{}, Out: relais.Prescription{}},
		idBody(t.Acknowledge))
	s.Handle(Route{Method: "POST", Path: "/prescriptions/{id}/sign", Perm: relais.PermPrescriptionSign, Tag: tag,
		Summary: "Sign a draft (refused, with every reason, while a check blocks or an order element is missing)", Out: relais.Prescription{}},
		byID(t.Sign))
	s.Handle(Route{Method: "POST", Path: "/prescriptions/{id}/ok-to-treat", Perm: relais.PermOKToTreat, Tag: tag,
		Summary: "Give a day's OK-to-treat; the latest lab values are recorded as seen", In: relais.OKToTreatRequest{}, Out: relais.Prescription{}},
		idBody(t.GiveOKToTreat))
	s.Handle(Route{Method: "POST", Path: "/prescriptions/{id}/lines/{line}/validate", Perm: relais.PermValidate, Tag: tag,
		Summary: "Pharmaceutical validation of a line: accept, accept with an intervention, or refuse", In: relais.ValidateLineRequest{}, Out: relais.Prescription{}},
		idLineBody(t.ValidateLine))
	s.Handle(Route{Method: "POST", Path: "/prescriptions/{id}/validate", Perm: relais.PermValidate, Tag: tag,
		Summary: "Pharmaceutical validation of several lines at once (all applied or none)", In: relais.ValidateLinesRequest{}, Out: relais.Prescription{}},
		idBody(t.ValidateLines))
	s.Handle(Route{Method: "POST", Path: "/prescriptions/{id}/cancel", Perm: relais.PermPrescribe, Tag: tag,
		Summary: "Cancel a prescription, with a reason (nothing is deleted)", In: relais.ReasonRequest{}, Out: relais.Prescription{}},
		reason(t.CancelPrescription))
	s.Handle(Route{Method: "GET", Path: "/validation-queue", Perm: relais.PermValidate, Tag: tag,
		Summary: "Days of signed prescriptions, with their OK-to-treat, whose lines wait for a pharmacist", Out: []relais.QueueItem{}},
		func(r *http.Request) (any, error) {
			q, err := t.ValidationQueue(r.Context())
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
