package web

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/fhir"
	"github.com/relais-onco/relais/hl7/adt"
	"github.com/relais-onco/relais/launch"
	"github.com/relais-onco/relais/outbox"
)

// The HTTP side of the interoperability kit: the contextual launch (POST
// /launch), the inbound HL7 log and its replay, the FHIR R4 read API. Each
// is switched on by cmd/relais when configured (Enable…), after New and
// before serving; the packages that do the work are launch, hl7/adt and fhir.

// MethodLaunch is the sign-in method of a session opened by a contextual
// launch.
const MethodLaunch = "launch"

// LaunchPath is where an EHR posts its launch token (form field "token").
const LaunchPath = "/launch"

// Launcher carries out contextual launches (launch.Service).
type Launcher interface {
	Launch(ctx context.Context, raw, remote string) (launch.Result, error)
}

// EnableLaunch serves POST /launch: the EHR's page (or its browser helper)
// posts the token; Relais verifies it, signs the user in without a prompt,
// logs the access, and moves on to the patient's page by a same-site
// navigation (the session cookie is SameSite=Strict, which a cross-site
// post's answer may set but whose redirect would not carry: see oidc.go).
// The route is exempt from the cross-origin check (server.go): the token,
// signed, single-use, short-lived and addressed to this site, is what
// proves the request.
func (s *Server) EnableLaunch(l Launcher) {
	s.handlePage("POST "+LaunchPath, relais.PermPublic, func(w http.ResponseWriter, r *http.Request, p *page) error {
		res, err := l.Launch(r.Context(), r.PostFormValue("token"), s.clientIP(r))
		if err != nil {
			s.Log.Warn("contextual launch refused", "err", err, "ip", s.clientIP(r))
			return s.launchRefused(w, r, p, err)
		}
		a := res.User.Actor()
		if !inScope(a, res.Patient) {
			return relais.E("launch", relais.KindForbidden, "this patient's record is kept by "+res.Patient.Site+
				" and not shared with "+a.Site+": a launch does not break the glass")
		}
		if _, err := s.startSession(w, r, res.User, MethodLaunch, false, "", ""); err != nil {
			return err
		}
		if s.Access == nil {
			return relais.E("launch", relais.KindUnavailable, "the access log is not available: the launch is refused until it is")
		}
		if err := s.Access.RecordAccess(r.Context(), relais.AccessEntry{At: relais.Now(), UserID: a.UserID, Username: a.Username,
			Role: a.Role, UserSite: a.Site, PatientID: res.Patient.ID, Purpose: res.Purpose, Route: "POST " + LaunchPath + " (" + res.EHR + ")",
			RemoteAddr: s.clientIP(r)}); err != nil {
			return relais.E("launch", relais.KindUnavailable, "the access could not be logged, so it is refused; launch again", err)
		}
		s.Log.Info("contextual launch", "ehr", res.EHR, "user", res.User.Username, "patient", res.Patient.ID,
			"created", res.PatientCreated, "jti", res.TokenID)
		p.User = &res.User
		p.Title = p.T("signin.title")
		p.Data = continueView{Next: "/patients/" + string(res.Patient.ID)}
		s.render(w, r, "signin_continue", http.StatusOK, *p)
		return nil
	})
}

// launchRefused shows why a launch did not open Relais: the person who
// clicked in the EHR, and the integrator testing it, read what to check
// (expired, already used, identity mismatch…), never a bare sign-in page.
func (s *Server) launchRefused(w http.ResponseWriter, r *http.Request, p *page, err error) error {
	kind := relais.ErrorKind(err)
	if kind == relais.KindOther {
		return err
	}
	p.Title = p.T("error.refused.title")
	p.Data = errorView{Key: "refused", Status: StatusOf(kind), Detail: userMessage(p.Lang, err)}
	s.renderTemplate(w, r, "error", "layout", StatusOf(kind), p)
	return nil
}

// HL7Log is the inbound HL7 log (hl7/adt.Receiver).
type HL7Log interface {
	Messages(ctx context.Context, f adt.LogFilter) ([]adt.LogEntry, error)
	Message(ctx context.Context, id relais.ID) (adt.LogEntry, error)
	Replay(ctx context.Context, id relais.ID) (adt.LogEntry, error)
}

// EnableHL7Log serves the inbound HL7 log to IT: search, detail, replay.
func (s *Server) EnableHL7Log(l HL7Log) {
	s.Handle(Route{Method: "GET", Path: "/hl7/messages", Perm: relais.PermInterfaceAdmin, Tag: "Interfaces",
		Summary: "HL7 messages received, newest first", Out: []adt.LogEntry{}, Query: []Param{
			{Name: "q", Description: "words of the control id, sender, event, IPP, names or errors (accents ignored)"},
			{Name: "status", Description: "applied, error or rejected"},
			{Name: "before", Description: "received before this time (RFC 3339), to page back"},
			{Name: "limit", Description: "at most this many (100 by default, 500 at most)"}}},
		func(r *http.Request) (any, error) {
			q := r.URL.Query()
			f := adt.LogFilter{Query: q.Get("q"), Status: q.Get("status")}
			if b := q.Get("before"); b != "" {
				t, err := time.Parse(time.RFC3339Nano, b)
				if err != nil {
					return nil, relais.Invalid("hl7.log", "before", "%q is not a time: write it as 2025-03-14T08:30:00Z", b)
				}
				f.Before = t
			}
			if n := q.Get("limit"); n != "" {
				v, err := strconv.Atoi(n)
				if err != nil || v < 1 {
					return nil, relais.Invalid("hl7.log", "limit", "limit is a positive number")
				}
				f.Limit = v
			}
			return l.Messages(r.Context(), f)
		})
	s.Handle(Route{Method: "GET", Path: "/hl7/messages/{id}", Perm: relais.PermInterfaceAdmin, Tag: "Interfaces",
		Summary: "One HL7 message received, with its text and how it was answered", Out: adt.LogEntry{}},
		func(r *http.Request) (any, error) {
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			return l.Message(r.Context(), id)
		})
	s.Handle(Route{Method: "POST", Path: "/hl7/messages/{id}/replay", Perm: relais.PermInterfaceAdmin, Tag: "Interfaces",
		Summary: "Apply a message in error (or rejected) again, once its cause is fixed", Out: adt.LogEntry{}},
		func(r *http.Request) (any, error) {
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			return l.Replay(r.Context(), id)
		})
}

// EnableFHIR serves the FHIR R4 read API under /fhir/r4, behind the same
// authentication as the rest (session, HTTP Basic, API token), each read of
// a patient's data in the access log.
func (s *Server) EnableFHIR(f *fhir.Server) {
	f.RecordAccess = s.recordPatientIDs
	if f.Log == nil {
		f.Log = s.Log
	}
	s.mux.Handle(fhir.Base+"/", f.Handler())
}

// Outbox is the queue of documents sent to the hospitals' systems.
type Outbox interface {
	OutboxMessages(ctx context.Context, f outbox.Filter) ([]outbox.Message, error)
	RetryNow(ctx context.Context, id relais.ID) (outbox.Message, error)
}

// EnableOutbox serves the outbox to IT: what is pending, sent or stuck,
// and a retry once a destination is fixed (wake, when not nil, makes the
// worker try at once).
func (s *Server) EnableOutbox(o Outbox, wake func()) {
	s.Handle(Route{Method: "GET", Path: "/outbox", Perm: relais.PermInterfaceAdmin, Tag: "Interfaces",
		Summary: "Documents queued for the EHRs and MSSanté mailboxes, newest first", Out: []outbox.Message{}, Query: []Param{
			{Name: "status", Description: "pending, sent or stuck (stuck: failed many times, shown here, still retried)"},
			{Name: "limit", Description: "at most this many (100 by default, 500 at most)"}}},
		func(r *http.Request) (any, error) {
			f := outbox.Filter{Status: r.URL.Query().Get("status")}
			if n := r.URL.Query().Get("limit"); n != "" {
				v, err := strconv.Atoi(n)
				if err != nil || v < 1 {
					return nil, relais.Invalid("outbox.list", "limit", "limit is a positive number")
				}
				f.Limit = v
			}
			return o.OutboxMessages(r.Context(), f)
		})
	s.Handle(Route{Method: "POST", Path: "/outbox/{id}/retry", Perm: relais.PermInterfaceAdmin, Tag: "Interfaces",
		Summary: "Try to send a pending or stuck document now", Out: outbox.Message{}},
		func(r *http.Request) (any, error) {
			id, err := PathID(r, "id")
			if err != nil {
				return nil, err
			}
			m, err := o.RetryNow(r.Context(), id)
			if err == nil && wake != nil {
				wake()
			}
			return m, err
		})
}
