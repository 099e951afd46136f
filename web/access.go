package web

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/relais-onco/relais"
)

// Who may read which patient, and the log of every read.
//
// Scope rule: a user may read a patient
//   - whose record their own site keeps (the patient's site), or
//   - whose care is shared with their site (the patient's sharing list), or
//   - whom their site refers (the patient's referring site).
//
// Anyone else with the permission to read patients must break the glass:
// POST /api/v1/patients/{id}/break-glass with a reason opens the record to
// them for relais.BreakGlassFor; every read they make meanwhile is logged as
// such, and the access waits for the pharmacy administrator's review.
//
// Handlers that show a patient's data call s.recordAccess (or
// s.recordPatients for lists) before answering: it applies the rule and
// appends the read to the access log — who, when, from which site, for what
// purpose, by which route. If the read cannot be logged, it is refused:
// an unlogged read is not allowed.

// PurposeHeader lets a client say why it reads (one of relais.Purposes);
// without it the purpose follows from the role.
const PurposeHeader = "Relais-Purpose"

func defaultPurpose(r relais.Role) string {
	switch r {
	case relais.RolePrescriber, relais.RoleNurse:
		return "care"
	case relais.RolePharmacist, relais.RoleTechnician:
		return "pharmacy"
	case relais.RoleConsultant:
		return "consultation"
	}
	return "administration"
}

// inScope applies the scope rule.
func inScope(a relais.Actor, p relais.Patient) bool {
	if a.Site == "" {
		return false
	}
	if p.Site == a.Site || p.ReferringSite == a.Site {
		return true
	}
	for _, sh := range p.SharedWith {
		if sh.Site == a.Site {
			return true
		}
	}
	return false
}

// recordAccess checks that the request's actor may read the patient and
// logs the read. Call it in every handler that answers with a patient's
// data, before answering.
func (s *Server) recordAccess(r *http.Request, patientID relais.ID) error {
	if s.Patients == nil {
		return relais.E("access", relais.KindUnavailable, "patients are not served here")
	}
	p, err := s.Patients.Patient(r.Context(), patientID)
	if err != nil {
		return err
	}
	_, err = s.recordPatients(r, []relais.Patient{p}, false)
	return err
}

// readPatient reads a patient for a page or an answer: the read is checked
// against the actor's scope and logged, like every read of patient data.
func (s *Server) readPatient(r *http.Request, id relais.ID) (relais.Patient, error) {
	p, err := s.Patients.Patient(r.Context(), id)
	if err != nil {
		return p, err
	}
	return p, s.recordRead(r, p)
}

// recordRead is recordAccess for a patient already read.
func (s *Server) recordRead(r *http.Request, p relais.Patient) error {
	_, err := s.recordPatients(r, []relais.Patient{p}, false)
	return err
}

// recordPatients logs the reads of several patients at once (a search, a
// work list). With filter, patients outside the actor's scope (and without a
// live break-the-glass access) are left out of the answer instead of
// refusing it; the rest are returned.
func (s *Server) recordPatients(r *http.Request, ps []relais.Patient, filter bool) ([]relais.Patient, error) {
	const op = "access"
	a, ok := relais.ActorFrom(r.Context())
	if !ok {
		return nil, relais.E(op, relais.KindUnauthorized, "sign in first")
	}
	if s.Access == nil {
		return nil, relais.E(op, relais.KindUnavailable, "the access log is not available: reads of patients are refused until it is")
	}
	purpose := r.Header.Get(PurposeHeader)
	if purpose == "" {
		purpose = defaultPurpose(a.Role)
	} else if !slices.Contains(relais.Purposes, purpose) {
		return nil, relais.E(op, relais.KindInvalid, relais.Field(PurposeHeader),
			"unknown purpose "+strconv.Quote(truncateHeader(purpose))+": use care, pharmacy, consultation, administration, audit or emergency")
	}
	now := relais.Now()
	out := make([]relais.Patient, 0, len(ps))
	entries := make([]relais.AccessEntry, 0, len(ps))
	for _, p := range ps {
		e := relais.AccessEntry{At: now, UserID: a.UserID, Username: a.Username, Role: a.Role, UserSite: a.Site,
			PatientID: p.ID, Purpose: purpose, Route: r.Pattern, RemoteAddr: s.clientIP(r)}
		if !inScope(a, p) {
			g, ok, err := s.Access.ActiveGrant(r.Context(), a.UserID, p.ID, now)
			if err != nil {
				return nil, err
			}
			if !ok {
				if filter {
					continue
				}
				return nil, relais.E(op, relais.KindForbidden, "this patient's record is kept by "+p.Site+
					" and not shared with your site ("+a.Site+"): if you must read it (an emergency), give your reason with POST /api/v1/patients/"+
					string(p.ID)+"/break-glass — the access will be reviewed by the pharmacy administrator")
			}
			e.BreakGlass, e.GrantID, e.Purpose = true, g.ID, "emergency"
		}
		entries = append(entries, e)
		out = append(out, p)
	}
	if err := s.Access.RecordAccess(r.Context(), entries...); err != nil {
		return nil, relais.E(op, relais.KindUnavailable, "the read could not be logged, so it is refused; try again", err)
	}
	return out, nil
}

// recordPatientIDs logs reads of patients known by id (work lists whose
// items name their patient), all in scope or refused.
func (s *Server) recordPatientIDs(r *http.Request, ids []relais.ID) error {
	_, err := s.patientNames(r, ids) // read in one go when the store can (page_production.go)
	return err
}

func (s *Server) accessRoutes() {
	const tag = "Access"
	s.Handle(Route{Method: "GET", Path: "/patients/{id}/access-log", Perm: relais.PermAccessLogRead, Tag: tag,
		Summary: "Who read this patient's data: when, from which site, for what purpose, by which route; newest first",
		Out:     []relais.AccessEntry{},
		Query: []Param{{Name: "before", Description: "only reads before this time (RFC 3339), to page back"},
			{Name: "limit", Description: "at most this many (1000 by default and at most)"}}},
		func(r *http.Request) (any, error) {
			const op = "access.list"
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			var before time.Time
			if v := r.URL.Query().Get("before"); v != "" {
				if before, err = time.Parse(time.RFC3339Nano, v); err != nil {
					return nil, relais.Invalid(op, "before", "before must be a time like 2026-03-14T09:30:00Z")
				}
			}
			limit := 0
			if v := r.URL.Query().Get("limit"); v != "" {
				if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > 1000 {
					return nil, relais.Invalid(op, "limit", "limit must be a whole number from 1 to 1000")
				}
			}
			if _, err := s.Patients.Patient(r.Context(), id); err != nil {
				return nil, err
			}
			return s.Access.PatientAccessLog(r.Context(), id, before, limit)
		})
	s.Handle(Route{Method: "POST", Path: "/patients/{id}/break-glass", Perm: relais.PermPatientRead, Tag: tag, Status: http.StatusCreated,
		Summary: "Break the glass: read a patient outside your site's scope, for a stated reason; flagged for review",
		In:      relais.BreakGlassRequest{}, Out: relais.AccessGrant{}},
		func(r *http.Request) (any, error) {
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			var in relais.BreakGlassRequest
			if err := Decode(r, &in); err != nil {
				return nil, err
			}
			p, err := s.Patients.Patient(r.Context(), id)
			if err != nil {
				return nil, err
			}
			if inScope(Actor(r), p) {
				return nil, relais.E("access.break_glass", relais.KindConflict, "this patient is in your site's care: you can read the record without breaking the glass")
			}
			g, err := s.Access.BreakGlass(r.Context(), id, in.Reason)
			if err == nil {
				s.Log.Warn("break the glass", "user", g.Username, "patient", g.PatientID, "grant", g.ID)
			}
			return g, err
		})
	s.Handle(Route{Method: "GET", Path: "/access/break-glass", Perm: relais.PermAccessLogRead, Tag: tag,
		Summary: "Break-the-glass accesses, newest first", Out: []relais.AccessGrant{},
		Query: []Param{{Name: "pending", Description: "true: only those not reviewed yet"}}},
		func(r *http.Request) (any, error) {
			pending := false
			switch v := r.URL.Query().Get("pending"); v {
			case "", "false":
			case "true":
				pending = true
			default:
				return nil, relais.Invalid("access.grants", "pending", "pending must be true or false")
			}
			return s.Access.AccessGrants(r.Context(), pending)
		})
	s.Handle(Route{Method: "POST", Path: "/access/break-glass/{id}/review", Perm: relais.PermAccessReview, Tag: tag,
		Summary: "Close the review of a break-the-glass access (someone other than its user)", In: relais.ReviewRequest{}, Out: relais.AccessGrant{}},
		func(r *http.Request) (any, error) {
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			var in relais.ReviewRequest
			if err := Decode(r, &in); err != nil {
				return nil, err
			}
			return s.Access.ReviewGrant(r.Context(), id, in.Note)
		})
}
