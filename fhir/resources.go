// Package fhir maps the treatment record to FHIR R4 resources and serves
// them read-only under /fhir/r4: Patient, Medication, MedicationRequest,
// MedicationAdministration, PlanDefinition (a protocol version, with the
// day-of-cycle timing of each line) and CarePlan (a treatment), searchable
// by the patient's identifiers (INS, IPP). It is our own small mapping, not a
// general FHIR library: resources are built as JSON objects from the domain
// types, and the tests validate them against the official FHIR R4 JSON
// schema and read them back with a FHIR client written by others.
package fhir

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/relais-onco/relais"
)

// Resource is a FHIR resource as JSON.
type Resource = map[string]any

// Systems of identifiers and codes.
const (
	// SystemINSNIR and SystemINSNIA are the INS systems (Référentiel INS,
	// ANS): the OIDs of the NIR and the NIA as URNs.
	SystemINSNIR = "urn:oid:" + relais.OIDNIR
	SystemINSNIA = "urn:oid:" + relais.OIDNIA
	// SystemIdentifierType is HL7's table 0203 of identifier types (PI:
	// patient internal identifier, the IPP); FR Core's extension adds the
	// INS types.
	SystemIdentifierType   = "http://terminology.hl7.org/CodeSystem/v2-0203"
	SystemFRIdentifierType = "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203"
	// ExtIdentityStatus carries the RNIV identity status (provisional,
	// recovered, validated, qualified): a receiver must know whether the
	// identity was checked.
	ExtIdentityStatus = "https://relais-onco.org/fhir/StructureDefinition/identity-status"
	// ExtBirthPlace is FHIR's core extension for the birthplace; the INSEE
	// code goes in its address's extension, as FR Core writes it.
	ExtBirthPlace     = "http://hl7.org/fhir/StructureDefinition/patient-birthPlace"
	ExtInseeCode      = "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-address-insee-code"
	SystemInseeCommun = "https://mos.esante.gouv.fr/NOS/TRE_R13-CommuneOM/FHIR/TRE-R13-CommuneOM"
	SystemUCUM        = "http://unitsofmeasure.org"
)

// insSystem returns the system of an INS OID.
func insSystem(oid string) string { return "urn:oid:" + oid }

func instant(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func ref(kind string, id relais.ID) Resource { return Resource{"reference": kind + "/" + string(id)} }

// Patient maps a patient. The INS is given only for a qualified identity:
// the Référentiel INS allows exchanging it only then.
func Patient(p relais.Patient, ippSystem string) Resource {
	ids := []any{Resource{"use": "usual", "type": Resource{"coding": []any{Resource{"system": SystemIdentifierType, "code": "PI"}}},
		"system": ippSystem, "value": p.IPP}}
	for _, f := range p.FormerIPPs {
		ids = append(ids, Resource{"use": "old", "system": ippSystem, "value": f.IPP, "period": Resource{"end": instant(f.Until)}})
	}
	if p.INS.Status == relais.IdentityQualified && p.INS.Matricule != "" {
		code := "INS-NIR"
		if p.INS.OID == relais.OIDNIA || p.INS.OID == relais.OIDNIATest {
			code = "INS-NIA"
		}
		ids = append(ids, Resource{"use": "official", "type": Resource{"coding": []any{Resource{"system": SystemFRIdentifierType, "code": code}}},
			"system": insSystem(p.INS.OID), "value": p.INS.Matricule})
	}
	names := []any{Resource{"use": "official", "family": p.BirthName, "given": p.FirstNames}}
	if p.UsedName != "" {
		n := Resource{"use": "usual", "family": p.UsedName}
		if len(p.FirstNames) > 0 {
			n["given"] = p.FirstNames[:1]
		}
		names = append(names, n)
	}
	r := Resource{"resourceType": "Patient", "id": string(p.ID),
		"meta":       Resource{"lastUpdated": instant(p.UpdatedAt)},
		"identifier": ids, "active": p.Status == relais.PatientActive, "name": names,
		"gender": gender(p.Sex), "birthDate": string(p.BirthDate),
		"extension": []any{Resource{"url": ExtIdentityStatus, "valueCode": string(p.INS.Status)}},
	}
	if p.BirthplaceCode != "" {
		r["extension"] = append(r["extension"].([]any), Resource{"url": ExtBirthPlace, "valueAddress": Resource{
			"extension": []any{Resource{"url": ExtInseeCode, "valueCoding": Resource{"system": SystemInseeCommun, "code": p.BirthplaceCode}}}}})
	}
	if p.Status == relais.PatientMerged {
		r["link"] = []any{Resource{"other": ref("Patient", p.MergedInto), "type": "replaced-by"}}
	}
	for _, m := range p.MergedFrom {
		links, _ := r["link"].([]any)
		r["link"] = append(links, Resource{"other": ref("Patient", m), "type": "replaces"})
	}
	return r
}

func gender(s relais.Sex) string {
	switch s {
	case relais.SexMale:
		return "male"
	case relais.SexFemale:
		return "female"
	}
	return "unknown"
}

// Medication maps a drug of the catalogue, named by its INN.
func Medication(d relais.Drug) Resource {
	r := Resource{"resourceType": "Medication", "id": string(d.ID), "meta": Resource{"lastUpdated": instant(d.UpdatedAt)},
		"code": Resource{"text": d.INN}, "status": "active"}
	return r
}

// MedicationRequestID names a prescription line: the prescription, the
// line's day and its number on that day ("…-d8-2": J8, second line).
func MedicationRequestID(prescriptionID relais.ID, l relais.PrescriptionLine) string {
	return string(prescriptionID) + "-d" + strconv.Itoa(l.Day) + "-" + strconv.Itoa(l.Seq)
}

// ParsePrescriptionOf returns the prescription a MedicationRequest id
// names.
func ParsePrescriptionOf(id string) (relais.ID, bool) {
	if len(id) < 40 || id[36] != '-' || id[37] != 'd' {
		return "", false
	}
	pid, err := relais.ParseID("id", id[:36])
	return pid, err == nil
}

// requestStatus is the FHIR status of a line of a prescription.
func requestStatus(p relais.Prescription, l relais.PrescriptionLine) string {
	switch {
	case p.Status == relais.PrescriptionCancelled || l.Status == relais.LineCancelled:
		return "cancelled"
	case p.Status == relais.PrescriptionDraft:
		return "draft"
	case p.Status == relais.PrescriptionCompleted:
		return "completed"
	case l.Status == relais.LineRefused:
		return "on-hold"
	}
	return "active"
}

// MedicationRequests maps the lines of a cycle prescription: one request a
// line, grouped by the prescription. The dose is the one prescribed (after
// any modification), in the prescription's unit, unrounded.
func MedicationRequests(p relais.Prescription) []Resource {
	var out []Resource
	for _, l := range p.Lines {
		dosage := Resource{"sequence": l.Seq, "text": dosageText(l),
			"timing":      Resource{"event": []any{string(l.Date)}},
			"route":       Resource{"text": l.Route},
			"doseAndRate": []any{Resource{"doseQuantity": quantity(l.Dose, l.Unit)}}}
		if l.RateMLH > 0 {
			dosage["doseAndRate"].([]any)[0].(Resource)["rateQuantity"] = Resource{"value": l.RateMLH, "unit": "mL/h", "system": SystemUCUM, "code": "mL/h"}
		}
		r := Resource{"resourceType": "MedicationRequest", "id": MedicationRequestID(p.ID, l),
			"meta":                      Resource{"lastUpdated": instant(p.UpdatedAt)},
			"status":                    requestStatus(p, l),
			"intent":                    "order",
			"medicationCodeableConcept": Resource{"text": l.INN},
			"subject":                   ref("Patient", p.PatientID),
			"authoredOn":                instant(authored(p)),
			"groupIdentifier":           Resource{"system": "urn:ietf:rfc:3986", "value": "urn:uuid:" + string(p.ID)},
			"dosageInstruction":         []any{dosage},
		}
		if p.PrescriberName != "" {
			r["requester"] = Resource{"display": p.PrescriberName}
		}
		if l.DrugID != "" {
			r["medicationReference"] = ref("Medication", l.DrugID)
			delete(r, "medicationCodeableConcept")
			r["medicationReference"].(Resource)["display"] = l.INN
		}
		var notes []any
		if l.Modification != nil {
			notes = append(notes, Resource{"text": fmt.Sprintf("Dose modifiée / dose modified (calculée / computed %v %s): %s",
				l.Modification.ComputedDose, l.Unit, l.Modification.Reason)})
		}
		if l.Validation != nil {
			notes = append(notes, Resource{"text": "Validation pharmaceutique / pharmaceutical validation: " + l.Validation.Decision +
				" (" + l.Validation.By + ")"})
		}
		if notes != nil {
			r["note"] = notes
		}
		out = append(out, r)
	}
	return out
}

func authored(p relais.Prescription) time.Time {
	if !p.SignedAt.IsZero() {
		return p.SignedAt
	}
	return p.CreatedAt
}

func dosageText(l relais.PrescriptionLine) string {
	s := fmt.Sprintf("J%d (%s) : %s %v %s %s", l.Day, l.Date, l.INN, l.Dose, l.Unit, l.Route)
	if l.Vehicle != "" {
		s += fmt.Sprintf(" dans / in %s", l.Vehicle)
		if l.VolumeML > 0 {
			s += fmt.Sprintf(" %v mL", l.VolumeML)
		}
	}
	if l.DurationMin > 0 {
		s += fmt.Sprintf(", %d min", l.DurationMin)
	}
	return s
}

// quantity writes a dose: UCUM coded when the unit is one of the usual
// ones, as text otherwise (never converted).
func quantity(v float64, unit string) Resource {
	q := Resource{"value": v, "unit": unit}
	ucum := map[string]string{"mg": "mg", "g": "g", "µg": "ug", "mcg": "ug", "mL": "mL", "ml": "mL", "UI": "[iU]", "IU": "[iU]", "U": "[U]", "mmol": "mmol"}
	if c, ok := ucum[unit]; ok {
		q["system"], q["code"] = SystemUCUM, c
	}
	return q
}

// MedicationAdministration maps what the nurse recorded for a preparation;
// requestID is the MedicationRequest of the line it carried out ("" when
// unknown).
func MedicationAdministration(a relais.Administration, prep relais.Preparation, requestID string) Resource {
	r := Resource{"resourceType": "MedicationAdministration", "id": string(prep.ID),
		"meta":                      Resource{"lastUpdated": instant(a.RecordedAt)},
		"medicationCodeableConcept": Resource{"text": prep.INN},
		"subject":                   ref("Patient", a.PatientID),
		"performer":                 []any{Resource{"actor": Resource{"display": a.RecordedBy}}},
	}
	if requestID != "" {
		r["request"] = Resource{"reference": "MedicationRequest/" + requestID}
	}
	if prep.RegisterNumber != "" {
		r["identifier"] = []any{Resource{"system": "urn:relais:preparation-register", "value": prep.RegisterNumber}}
	}
	if a.Outcome == relais.OutcomeAdministered {
		r["status"] = "completed"
		period := Resource{"start": instant(a.StartedAt)}
		if !a.EndedAt.IsZero() {
			period["end"] = instant(a.EndedAt)
		}
		r["effectivePeriod"] = period
		dosage := Resource{"route": Resource{"text": prep.Route}, "dose": quantity(prep.Dose, prep.Unit)}
		if a.RateMLH > 0 {
			dosage["rateQuantity"] = Resource{"value": a.RateMLH, "unit": "mL/h", "system": SystemUCUM, "code": "mL/h"}
		}
		r["dosage"] = dosage
		var notes []any
		for _, inc := range a.Incidents {
			notes = append(notes, Resource{"time": instant(inc.At), "text": "Incident (" + inc.Kind + "): " + inc.Description})
		}
		if a.VolumeGivenML > 0 {
			notes = append(notes, Resource{"text": fmt.Sprintf("Volume administré / volume given: %v mL", a.VolumeGivenML)})
		}
		if notes != nil {
			r["note"] = notes
		}
	} else {
		r["status"] = "not-done"
		r["effectiveDateTime"] = instant(a.RecordedAt)
		r["statusReason"] = []any{Resource{"text": a.Outcome + ": " + a.Reason}}
	}
	return r
}

// PlanDefinition maps a protocol version. Its first action is the cycle
// (how many, how long: timingTiming); each line is an action whose
// sub-actions are its days, each timed as the time from the cycle's first
// day (J1 = 0 d, J8 = 7 d: timingDuration).
func PlanDefinition(pr relais.Protocol, v relais.ProtocolVersion) Resource {
	status := map[relais.VersionStatus]string{relais.VersionDraft: "draft", relais.VersionInTest: "draft",
		relais.VersionActive: "active", relais.VersionRetired: "retired"}[v.Status]
	c := v.Content
	actions := []any{Resource{"id": "cycle", "title": fmt.Sprintf("%d cycles de %d jours / %d cycles of %d days", c.Cycles.Count, c.Cycles.LengthDays, c.Cycles.Count, c.Cycles.LengthDays),
		"timingTiming": Resource{"repeat": Resource{"count": c.Cycles.Count, "period": c.Cycles.LengthDays, "periodUnit": "d"}}}}
	for _, l := range c.Lines {
		var days []any
		for _, d := range l.Days {
			days = append(days, Resource{"id": fmt.Sprintf("line-%d-day-%d", l.Seq, d), "title": fmt.Sprintf("J%d / day %d", d, d),
				"timingDuration": Resource{"value": d - 1, "unit": "d", "system": SystemUCUM, "code": "d"}})
		}
		a := Resource{"id": fmt.Sprintf("line-%d", l.Seq), "prefix": strconv.Itoa(l.Seq), "title": l.INN,
			"description": lineDescription(l), "code": []any{Resource{"text": string(l.Kind)}}, "action": days}
		if l.INN == "" {
			a["title"] = string(l.Kind)
		}
		actions = append(actions, a)
	}
	r := Resource{"resourceType": "PlanDefinition", "id": string(v.ID),
		"meta":    Resource{"lastUpdated": instant(v.UpdatedAt)},
		"version": strconv.Itoa(v.Number), "name": computableName(pr.Code), "title": pr.Code + " — " + pr.Name,
		"type": Resource{"coding": []any{Resource{"system": "http://terminology.hl7.org/CodeSystem/plan-definition-type",
			"code": "clinical-protocol"}}},
		"status": status, "description": pr.Indication, "action": actions,
		"useContext": []any{Resource{"code": Resource{"system": "http://terminology.hl7.org/CodeSystem/usage-context-type", "code": "age"},
			"valueCodeableConcept": Resource{"text": string(pr.Population)}}},
	}
	if c.Source != "" {
		r["relatedArtifact"] = []any{Resource{"type": "citation", "citation": c.Source}}
	}
	if pr.Indication == "" {
		delete(r, "description")
	}
	return r
}

func lineDescription(l relais.ProtocolLine) string {
	s := string(l.Route)
	switch l.Dose.Kind {
	case "per_m2":
		s = fmt.Sprintf("%v %s/m² %s", l.Dose.Dose, l.Dose.Unit, l.Route)
	case "per_kg":
		s = fmt.Sprintf("%v %s/kg %s", l.Dose.Dose, l.Dose.Unit, l.Route)
	case "auc":
		s = fmt.Sprintf("AUC %v mg/mL·min (Calvert) %s", l.Dose.AUC, l.Route)
	case "flat":
		s = fmt.Sprintf("%v %s %s", l.Dose.Dose, l.Dose.Unit, l.Route)
	case "":
	default:
		s = l.Dose.Kind + " " + s
	}
	if l.Vehicle != "" {
		s += " — " + l.Vehicle
	}
	if l.DurationMin > 0 {
		s += fmt.Sprintf(", %d min", l.DurationMin)
	}
	return strings.TrimSpace(s)
}

// computableName makes PlanDefinition.name (a computer-friendly name:
// letters, digits and underscores, starting with a capital).
func computableName(code string) string {
	var b strings.Builder
	for _, r := range code {
		switch {
		case r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	s := b.String()
	if s == "" || !(s[0] >= 'A' && s[0] <= 'Z') {
		s = "P" + s
	}
	return s
}

// CarePlan maps a treatment: the patient in a protocol version, its
// period, and its cycles' prescription lines as activities.
func CarePlan(t relais.Treatment, prescriptions []relais.Prescription) Resource {
	status := map[relais.TreatmentStatus]string{relais.TreatmentPlanned: "draft", relais.TreatmentActive: "active",
		relais.TreatmentCompleted: "completed", relais.TreatmentStopped: "revoked"}[t.Status]
	r := Resource{"resourceType": "CarePlan", "id": string(t.ID),
		"meta":                  Resource{"lastUpdated": instant(t.UpdatedAt)},
		"status":                status,
		"intent":                "plan",
		"title":                 fmt.Sprintf("%s v%d", t.ProtocolCode, t.VersionNumber),
		"description":           t.ProtocolName + " — " + t.Intent,
		"subject":               ref("Patient", t.PatientID),
		"period":                Resource{"start": string(t.StartDate)},
		"created":               instant(t.CreatedAt),
		"instantiatesCanonical": []any{"PlanDefinition/" + string(t.ProtocolVersionID)},
	}
	if t.StatusReason != "" {
		r["note"] = []any{Resource{"text": t.StatusReason}}
	}
	var acts []any
	for _, p := range prescriptions {
		if p.TreatmentID != t.ID {
			continue
		}
		for _, l := range p.Lines {
			acts = append(acts, Resource{"reference": Resource{"reference": "MedicationRequest/" + MedicationRequestID(p.ID, l),
				"display": fmt.Sprintf("C%d J%d %s", p.Cycle, l.Day, l.INN)}})
		}
	}
	if acts != nil {
		r["activity"] = acts
	}
	return r
}
