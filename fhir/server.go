package fhir

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"

	"github.com/relais-onco/relais"
)

// Base is where the API is mounted.
const Base = "/fhir/r4"

// Server serves the read API. It expects the request's actor in its
// context (web's authentication puts it there) and checks each resource's
// permission itself; reads of a patient's data go through RecordAccess, the
// access log, which also refuses a patient outside the reader's scope.
type Server struct {
	Site string
	// IPPSystem is the identifier system of the site's IPPs: the hospital's
	// assigning authority as a URI (urn:oid:… of its IPP domain).
	IPPSystem  string
	Patients   relais.PatientService
	Treatments relais.TreatmentService
	Protocols  relais.ProtocolService
	Catalogue  relais.CatalogueService
	Production relais.ProductionService // nil: no MedicationAdministration
	// RecordAccess logs the reads of patients' data and refuses those out
	// of the actor's scope.
	RecordAccess func(r *http.Request, patientIDs []relais.ID) error
	Log          *slog.Logger

	mux *http.ServeMux
}

// DefaultIPPSystem is the IPP system when the site configures none.
func DefaultIPPSystem(site string) string { return "urn:relais:" + site + ":ipp" }

// Handler returns the server's handler (routes under Base).
func (s *Server) Handler() http.Handler {
	if s.mux != nil {
		return s.mux
	}
	if s.IPPSystem == "" {
		s.IPPSystem = DefaultIPPSystem(s.Site)
	}
	if s.Log == nil {
		s.Log = slog.Default()
	}
	m := http.NewServeMux()
	m.HandleFunc("GET "+Base+"/metadata", s.metadata)
	m.HandleFunc("GET "+Base+"/Patient/{id}", s.with(relais.PermPatientRead, s.patient))
	m.HandleFunc("GET "+Base+"/Patient", s.with(relais.PermPatientRead, s.patients))
	m.HandleFunc("GET "+Base+"/Medication/{id}", s.with(relais.PermCatalogueRead, s.medication))
	m.HandleFunc("GET "+Base+"/Medication", s.with(relais.PermCatalogueRead, s.medications))
	m.HandleFunc("GET "+Base+"/MedicationRequest/{id}", s.with(relais.PermPatientRead, s.medicationRequest))
	m.HandleFunc("GET "+Base+"/MedicationRequest", s.with(relais.PermPatientRead, s.medicationRequests))
	m.HandleFunc("GET "+Base+"/MedicationAdministration/{id}", s.with(relais.PermPatientRead, s.medicationAdministration))
	m.HandleFunc("GET "+Base+"/MedicationAdministration", s.with(relais.PermPatientRead, s.medicationAdministrations))
	m.HandleFunc("GET "+Base+"/PlanDefinition/{id}", s.with(relais.PermProtocolRead, s.planDefinition))
	m.HandleFunc("GET "+Base+"/PlanDefinition", s.with(relais.PermProtocolRead, s.planDefinitions))
	m.HandleFunc("GET "+Base+"/CarePlan/{id}", s.with(relais.PermPatientRead, s.carePlan))
	m.HandleFunc("GET "+Base+"/CarePlan", s.with(relais.PermPatientRead, s.carePlans))
	m.HandleFunc(Base+"/", func(w http.ResponseWriter, r *http.Request) {
		s.outcome(w, http.StatusNotFound, "not-supported", "this Relais serves Patient, Medication, MedicationRequest, MedicationAdministration, PlanDefinition and CarePlan, read-only (GET)")
	})
	s.mux = m
	return m
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.Handler().ServeHTTP(w, r) }

type handler func(r *http.Request) (any, error)

func (s *Server) with(perm relais.Permission, h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a, ok := relais.ActorFrom(r.Context())
		if !ok {
			w.Header().Set("WWW-Authenticate", `Basic realm="Relais", Bearer`)
			s.outcome(w, http.StatusUnauthorized, "login", "sign in first (HTTP Basic or an API token)")
			return
		}
		if !relais.Allowed(r.Context(), perm) { // the role, and an API token's scope
			s.outcome(w, http.StatusForbidden, "forbidden", "your role ("+string(a.Role)+") does not allow this ("+string(perm)+")")
			return
		}
		out, err := h(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/fhir+json; charset=utf-8")
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		enc.Encode(out)
	}
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch relais.ErrorKind(err) {
	case relais.KindNotFound:
		s.outcome(w, http.StatusNotFound, "not-found", relais.ErrorMessage(err))
	case relais.KindInvalid:
		s.outcome(w, http.StatusBadRequest, "invalid", relais.ErrorMessage(err))
	case relais.KindForbidden:
		s.outcome(w, http.StatusForbidden, "forbidden", relais.ErrorMessage(err))
	case relais.KindUnauthorized:
		s.outcome(w, http.StatusUnauthorized, "login", relais.ErrorMessage(err))
	case relais.KindUnavailable:
		s.outcome(w, http.StatusServiceUnavailable, "transient", relais.ErrorMessage(err))
	default:
		s.Log.Error("fhir: request failed", "path", r.URL.Path, "err", err)
		s.outcome(w, http.StatusInternalServerError, "exception", "internal error: the administrators can find it in the server log")
	}
}

// outcome answers an OperationOutcome.
func (s *Server) outcome(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/fhir+json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(Resource{"resourceType": "OperationOutcome",
		"issue": []any{Resource{"severity": "error", "code": code, "diagnostics": msg}}})
}

func notFound(kind, id string) error {
	return relais.E("fhir.read", relais.KindNotFound, kind+"/"+id+" does not exist here")
}

func invalid(format string) error { return relais.E("fhir.search", relais.KindInvalid, format) }

// bundle answers a search.
func bundle(r *http.Request, rs []Resource) Resource {
	entries := make([]any, 0, len(rs))
	base := "http://" + r.Host
	if r.TLS != nil {
		base = "https://" + r.Host
	}
	for _, x := range rs {
		entries = append(entries, Resource{"fullUrl": base + Base + "/" + x["resourceType"].(string) + "/" + x["id"].(string),
			"resource": x, "search": Resource{"mode": "match"}})
	}
	return Resource{"resourceType": "Bundle", "type": "searchset", "total": len(rs), "entry": entries,
		"link": []any{Resource{"relation": "self", "url": base + r.URL.RequestURI()}}}
}

func (s *Server) metadata(w http.ResponseWriter, r *http.Request) {
	res := func(t string, params ...string) Resource {
		var sp []any
		for _, p := range params {
			typ := "reference"
			if p == "identifier" || p == "patient.identifier" {
				typ = "token"
			}
			sp = append(sp, Resource{"name": p, "type": typ})
		}
		x := Resource{"type": t, "interaction": []any{Resource{"code": "read"}, Resource{"code": "search-type"}}}
		if sp != nil {
			x["searchParam"] = sp
		}
		return x
	}
	cs := Resource{"resourceType": "CapabilityStatement", "status": "active", "date": "2025-01-01", "kind": "instance",
		"fhirVersion": "4.0.1", "format": []any{"json"},
		"software":       Resource{"name": "Relais", "version": relais.Version},
		"implementation": Resource{"description": "Relais " + s.Site + " — lecture seule / read-only"},
		"rest": []any{Resource{"mode": "server", "resource": []any{
			res("Patient", "identifier"), res("Medication"), res("MedicationRequest", "patient", "patient.identifier"),
			res("MedicationAdministration", "patient", "patient.identifier"), res("PlanDefinition"), res("CarePlan", "patient", "patient.identifier"),
		}}}}
	w.Header().Set("Content-Type", "application/fhir+json; charset=utf-8")
	json.NewEncoder(w).Encode(cs)
}

// Patients.

func (s *Server) patient(r *http.Request) (any, error) {
	id, err := relais.ParseID("id", r.PathValue("id"))
	if err != nil {
		return nil, notFound("Patient", r.PathValue("id"))
	}
	p, err := s.Patients.Patient(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if err := s.RecordAccess(r, []relais.ID{p.ID}); err != nil {
		return nil, err
	}
	return Patient(p, s.IPPSystem), nil
}

// byIdentifier finds the patients an identifier token names: system|value
// with the INS systems (NIR, NIA) or the IPP system; a value alone is
// looked up as either.
func (s *Server) byIdentifier(r *http.Request, token string) ([]relais.Patient, error) {
	system, value, hasSystem := strings.Cut(token, "|")
	if !hasSystem {
		value, system = token, ""
	}
	value = strings.TrimSpace(value)
	if value == "" {
		return nil, invalid("identifier needs a value: system|value, e.g. " + SystemINSNIR + "|" + "206127511100564")
	}
	isINS := system == SystemINSNIR || system == SystemINSNIA || system == insSystem(relais.OIDNIRTest) || system == insSystem(relais.OIDNIATest)
	if system != "" && !isINS && system != s.IPPSystem {
		return nil, invalid("unknown identifier system " + system + ": use " + SystemINSNIR + " (INS), " + SystemINSNIA + " or " + s.IPPSystem + " (IPP)")
	}
	ps, err := s.Patients.SearchPatients(r.Context(), value, 50)
	if err != nil {
		return nil, err
	}
	var out []relais.Patient
	for _, p := range ps {
		switch {
		case isINS:
			if p.INS.Status == relais.IdentityQualified && p.INS.Matricule == relais.CleanMatricule(value) && system == insSystem(p.INS.OID) {
				out = append(out, p)
			}
		case system == s.IPPSystem:
			if carriesIPP(p, value) {
				out = append(out, p)
			}
		default:
			if carriesIPP(p, value) || (p.INS.Status == relais.IdentityQualified && p.INS.Matricule == relais.CleanMatricule(value)) {
				out = append(out, p)
			}
		}
	}
	return out, nil
}

func carriesIPP(p relais.Patient, ipp string) bool {
	if p.IPP == ipp {
		return true
	}
	for _, f := range p.FormerIPPs {
		if f.IPP == ipp {
			return true
		}
	}
	return false
}

func (s *Server) patients(r *http.Request) (any, error) {
	q := r.URL.Query()
	var ps []relais.Patient
	switch {
	case q.Get("identifier") != "":
		var err error
		if ps, err = s.byIdentifier(r, q.Get("identifier")); err != nil {
			return nil, err
		}
	case q.Get("_id") != "":
		id, err := relais.ParseID("_id", q.Get("_id"))
		if err != nil {
			return bundle(r, nil), nil
		}
		p, err := s.Patients.Patient(r.Context(), id)
		if err != nil && relais.ErrorKind(err) != relais.KindNotFound {
			return nil, err
		}
		if err == nil {
			ps = []relais.Patient{p}
		}
	default:
		return nil, invalid("search Patient by identifier (system|value: the INS or the IPP) or _id")
	}
	ids := make([]relais.ID, len(ps))
	out := make([]Resource, len(ps))
	for i, p := range ps {
		ids[i], out[i] = p.ID, Patient(p, s.IPPSystem)
	}
	if len(ids) > 0 {
		if err := s.RecordAccess(r, ids); err != nil {
			return nil, err
		}
	}
	return bundle(r, out), nil
}

// subjectOf reads the patient of a search (patient=, subject=, or
// patient.identifier=) and logs the read.
func (s *Server) subjectOf(r *http.Request) (relais.Patient, bool, error) {
	q := r.URL.Query()
	var p relais.Patient
	switch {
	case q.Get("patient") != "" || q.Get("subject") != "":
		v := q.Get("patient")
		if v == "" {
			v = q.Get("subject")
		}
		id, err := relais.ParseID("patient", strings.TrimPrefix(v, "Patient/"))
		if err != nil {
			return p, false, nil
		}
		if p, err = s.Patients.Patient(r.Context(), id); err != nil {
			if relais.ErrorKind(err) == relais.KindNotFound {
				return p, false, nil
			}
			return p, false, err
		}
	case q.Get("patient.identifier") != "":
		ps, err := s.byIdentifier(r, q.Get("patient.identifier"))
		if err != nil {
			return p, false, err
		}
		if len(ps) == 0 {
			return p, false, nil
		}
		if len(ps) > 1 {
			return p, false, invalid("this identifier names several patients: search by patient id")
		}
		p = ps[0]
	default:
		return p, false, invalid("search by patient (an id), subject or patient.identifier (system|value)")
	}
	if err := s.RecordAccess(r, []relais.ID{p.ID}); err != nil {
		return p, false, err
	}
	return p, true, nil
}

// Medications.

func (s *Server) medication(r *http.Request) (any, error) {
	id, err := relais.ParseID("id", r.PathValue("id"))
	if err != nil {
		return nil, notFound("Medication", r.PathValue("id"))
	}
	d, err := s.Catalogue.Drug(r.Context(), id)
	if err != nil {
		return nil, err
	}
	return Medication(d), nil
}

func (s *Server) medications(r *http.Request) (any, error) {
	ds, err := s.Catalogue.Drugs(r.Context())
	if err != nil {
		return nil, err
	}
	code := strings.ToLower(r.URL.Query().Get("code"))
	var out []Resource
	for _, d := range ds {
		if code == "" || strings.Contains(strings.ToLower(d.INN), code) {
			out = append(out, Medication(d))
		}
	}
	return bundle(r, out), nil
}

// Prescription lines.

func (s *Server) medicationRequest(r *http.Request) (any, error) {
	pid, ok := ParsePrescriptionOf(r.PathValue("id"))
	if !ok {
		return nil, notFound("MedicationRequest", r.PathValue("id"))
	}
	p, err := s.Treatments.Prescription(r.Context(), pid)
	if err != nil {
		return nil, err
	}
	if err := s.RecordAccess(r, []relais.ID{p.PatientID}); err != nil {
		return nil, err
	}
	for _, x := range MedicationRequests(p) {
		if x["id"] == r.PathValue("id") {
			return x, nil
		}
	}
	return nil, notFound("MedicationRequest", r.PathValue("id"))
}

func (s *Server) medicationRequests(r *http.Request) (any, error) {
	p, ok, err := s.subjectOf(r)
	if err != nil || !ok {
		return bundle(r, nil), err
	}
	h, err := s.Treatments.History(r.Context(), p.ID)
	if err != nil {
		return nil, err
	}
	var out []Resource
	for _, pr := range h.Prescriptions {
		out = append(out, MedicationRequests(pr)...)
	}
	return bundle(r, out), nil
}

// Administrations.

func (s *Server) medicationAdministration(r *http.Request) (any, error) {
	if s.Production == nil {
		return nil, notFound("MedicationAdministration", r.PathValue("id"))
	}
	id, err := relais.ParseID("id", r.PathValue("id"))
	if err != nil {
		return nil, notFound("MedicationAdministration", r.PathValue("id"))
	}
	prep, err := s.Production.Preparation(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if err := s.RecordAccess(r, []relais.ID{prep.PatientID}); err != nil {
		return nil, err
	}
	a, err := s.Production.Administration(r.Context(), id)
	if err != nil {
		return nil, err
	}
	return MedicationAdministration(a, prep, s.requestOf(r, prep)), nil
}

// requestOf names the MedicationRequest a preparation carries out.
func (s *Server) requestOf(r *http.Request, prep relais.Preparation) string {
	p, err := s.Treatments.Prescription(r.Context(), prep.PrescriptionID)
	if err != nil {
		return ""
	}
	if l := p.Line(prep.LineID); l != nil {
		return MedicationRequestID(p.ID, *l)
	}
	return ""
}

func (s *Server) medicationAdministrations(r *http.Request) (any, error) {
	p, ok, err := s.subjectOf(r)
	if err != nil || !ok || s.Production == nil {
		return bundle(r, nil), err
	}
	preps, err := s.Production.Preparations(r.Context(), relais.PreparationFilter{PatientID: p.ID})
	if err != nil {
		return nil, err
	}
	var out []Resource
	for _, prep := range preps {
		a, err := s.Production.Administration(r.Context(), prep.ID)
		if err != nil {
			if relais.ErrorKind(err) == relais.KindNotFound {
				continue // not administered (yet)
			}
			return nil, err
		}
		out = append(out, MedicationAdministration(a, prep, s.requestOf(r, prep)))
	}
	return bundle(r, out), nil
}

// Protocols.

func (s *Server) planDefinition(r *http.Request) (any, error) {
	id, err := relais.ParseID("id", r.PathValue("id"))
	if err != nil {
		return nil, notFound("PlanDefinition", r.PathValue("id"))
	}
	v, err := s.Protocols.ProtocolVersion(r.Context(), id)
	if err != nil {
		return nil, err
	}
	pr, err := s.Protocols.Protocol(r.Context(), v.ProtocolID)
	if err != nil {
		return nil, err
	}
	return PlanDefinition(pr.Protocol, v), nil
}

// planDefinitions lists the active version of each protocol (status=active,
// the default) or every version (status=all).
func (s *Server) planDefinitions(r *http.Request) (any, error) {
	all := r.URL.Query().Get("status") == "all"
	sums, err := s.Protocols.Protocols(r.Context(), relais.ProtocolFilter{Query: r.URL.Query().Get("name")})
	if err != nil {
		return nil, err
	}
	var out []Resource
	for _, sum := range sums {
		if !all && sum.ActiveVersion == 0 {
			continue
		}
		d, err := s.Protocols.Protocol(r.Context(), sum.ID)
		if err != nil {
			return nil, err
		}
		for _, v := range d.Versions {
			if all || v.Status == relais.VersionActive {
				out = append(out, PlanDefinition(d.Protocol, v))
			}
		}
	}
	return bundle(r, out), nil
}

// Treatments.

func (s *Server) carePlan(r *http.Request) (any, error) {
	id, err := relais.ParseID("id", r.PathValue("id"))
	if err != nil {
		return nil, notFound("CarePlan", r.PathValue("id"))
	}
	t, err := s.Treatments.Treatment(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if err := s.RecordAccess(r, []relais.ID{t.PatientID}); err != nil {
		return nil, err
	}
	h, err := s.Treatments.History(r.Context(), t.PatientID)
	if err != nil {
		return nil, err
	}
	return CarePlan(t, h.Prescriptions), nil
}

func (s *Server) carePlans(r *http.Request) (any, error) {
	p, ok, err := s.subjectOf(r)
	if err != nil || !ok {
		return bundle(r, nil), err
	}
	h, err := s.Treatments.History(r.Context(), p.ID)
	if err != nil {
		return nil, err
	}
	var out []Resource
	for _, t := range h.Treatments {
		out = append(out, CarePlan(t, h.Prescriptions))
	}
	return bundle(r, out), nil
}
