package outbox

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/pdfdoc"
)

// Document is a document to send: a PDF about one patient (pdfdoc's
// treatment plan or administration report), and what its CDA header needs.
type Document struct {
	Kind      string
	ID        relais.ID // unique per document (a new one for each version)
	SubjectID relais.ID // the prescription or preparation
	Patient   relais.Patient
	Title     string
	CreatedAt time.Time
	// Author wrote the content (the prescriber who signed the plan, the
	// nurse who recorded the administration): also the legal
	// authenticator. Authenticators attest part of it (the pharmacists who
	// validated lines).
	Author         Party
	Authenticators []Party
	// ServiceStart and ServiceEnd bound the act documented: the cycle's
	// days, the administration.
	ServiceStart, ServiceEnd time.Time
	// SetID groups the versions of the same document (the plan of one
	// cycle, sent at signature then after each validation); Version
	// numbers them from 1.
	SetID   relais.ID
	Version int
	// Issuer names the site (the pharmacy) as the documents' custodian.
	Issuer string
	// LOINC code and name of the document type (TXA-2, OBX-3, XDM typeCode,
	// CDA code).
	TypeCode, TypeName string
	PDF                []byte
}

// Party is a person named by a document.
type Party struct {
	Name string
	ID   relais.ID // the person's account id in Relais
	At   time.Time // when they acted
}

// Document types, by LOINC code (loinc.org).
const (
	loincPlanOfCare   = "18776-5" // Plan of care note
	loincMedAdminNarr = "29549-3" // Medication administered Narrative
)

// num writes a stored value as it is, at full precision (it was rounded by
// the dose rules when computed; nothing is rounded here), with the decimal
// comma.
func num(v float64) string {
	return strings.Replace(strconv.FormatFloat(v, 'f', -1, 64), ".", ",", 1)
}

func qty(v float64, unit string) string { return num(v) + " " + unit }

func when(t time.Time) string { return t.In(relais.DisplayZone).Format("02/01/2006 15:04") }

func stamp(ph relais.Pharmacy, at time.Time) pdfdoc.Stamp {
	return pdfdoc.Stamp{DataTime: at, Version: relais.Version,
		Pharmacy: pdfdoc.Pharmacy{Name: ph.Name, Address: ph.Address, Phone: ph.Phone}}
}

// docPatient maps the patient: the INS only for a qualified identity (the
// Référentiel INS allows sharing the INS of a qualified identity only).
func docPatient(p relais.Patient) (pdfdoc.Patient, string) {
	d := pdfdoc.Patient{BirthName: strings.ToUpper(p.BirthName), UsedName: strings.ToUpper(p.UsedName), BirthDate: p.BirthDate, LocalID: p.IPP}
	if len(p.FirstNames) > 0 {
		d.FirstName = p.FirstNames[0]
	}
	if sharesINS(p) {
		d.INS = p.INS.Matricule
		return d, p.INS.OID
	}
	return d, ""
}

func sharesINS(p relais.Patient) bool {
	return p.INS.Status == relais.IdentityQualified && p.INS.Matricule != ""
}

var lineKinds = map[string]pdfdoc.ItemKind{"chemo": pdfdoc.KindChemotherapy, "premedication": pdfdoc.KindPremedication,
	"supportive": pdfdoc.KindSupportive, "hydration": pdfdoc.KindHydration}

var lineStatus = map[relais.LineStatus]string{relais.LineProposed: "proposée", relais.LineValidated: "validée",
	relais.LineRefused: "refusée", relais.LineCancelled: "annulée"}

var decisions = map[string]string{relais.DecisionAccept: "acceptée", relais.DecisionRefuse: "refusée",
	relais.DecisionAcceptWithIntervention: "acceptée avec intervention pharmaceutique"}

var checkLevels = map[relais.CheckLevel]string{relais.LevelBlocking: "bloquante", relais.LevelAcknowledge: "à acquitter",
	relais.LevelInfo: "information"}

// spelled are the signs of the calculation's sentences that the PDF fonts
// (Windows-1252) lack, spelled out as on the worksheet; pdfdoc substitutes
// the others it knows (≤, →, −, κ…) and refuses the rest.
var spelled = strings.NewReplacer("√", "racine", "∞", "infini")

// derivation is how a line's dose was computed, one step a line, as the
// calculation recorded it.
func derivation(l relais.PrescriptionLine) string {
	var steps []string
	for _, st := range l.Calculation.Steps {
		steps = append(steps, st.FR)
	}
	s := spelled.Replace(strings.Join(steps, "\n"))
	if s == "" {
		s = "dose prescrite : " + qty(l.Dose, l.Unit)
	}
	return s
}

// planVersion numbers the plan of a cycle: 1 when signed, then one more
// for each validation made (each validation action records its own time).
func planVersion(pr relais.Prescription) int {
	seen := map[time.Time]bool{}
	for _, l := range pr.Lines {
		if l.Validation != nil {
			seen[l.Validation.At.UTC()] = true
		}
	}
	return 1 + len(seen)
}

// TreatmentPlan makes the document of a cycle, as signed and validated so
// far: every line with its day, dose as computed (never re-rounded) and
// how it was computed, any modification and its reason, route, vehicle and
// volume, duration, order, the supportive care, the warnings acknowledged,
// the signer and the pharmacists' validations.
func TreatmentPlan(p relais.Patient, pr relais.Prescription, ph relais.Pharmacy, at time.Time) (Document, error) {
	const op = "outbox.treatment_plan"
	dp, insOID := docPatient(p)
	version := planVersion(pr)
	m := pr.Measurements
	d := pdfdoc.TreatmentPlanData{Stamp: stamp(ph, at), Patient: dp, INSOID: insOID, Protocol: pr.Regimen,
		Cycle: "Cure " + strconv.Itoa(pr.Cycle), StartDate: pr.StartDate, Prescriber: pr.PrescriberName, SignedAt: pr.SignedAt,
		Weight: qty(m.WeightKg, "kg")}
	if version == 1 {
		d.Version = "1 (signature)"
	} else {
		d.Version = strconv.Itoa(version) + " (après validation pharmaceutique)"
	}
	if m.HeightCm > 0 {
		d.Height = qty(m.HeightCm, "cm")
	}
	if m.BSAM2 > 0 {
		d.BSA = qty(m.BSAM2, "m²")
	}
	if !m.WeightAt.IsZero() {
		d.MeasuredOn = relais.LocalDate(m.WeightAt)
	}
	lines := append([]relais.PrescriptionLine(nil), pr.Lines...)
	sort.SliceStable(lines, func(i, j int) bool {
		if lines[i].Date != lines[j].Date {
			return lines[i].Date < lines[j].Date
		}
		return lines[i].Seq < lines[j].Seq
	})
	var validators []Party
	seenValidator := map[relais.ID]bool{}
	start, end := time.Time{}, time.Time{}
	for i, l := range lines {
		kind, ok := lineKinds[l.Kind]
		if !ok {
			return Document{}, relais.Invalid(op, fmt.Sprintf("lines[%d].kind", i), "line %d (%s) has kind %q, which the plan cannot show", l.Seq, l.INN, l.Kind)
		}
		tl := pdfdoc.TreatmentLine{Day: "J" + strconv.Itoa(l.Day), Date: l.Date, Seq: l.Seq, Kind: kind, Drug: strings.ToUpper(l.INN),
			Derivation: derivation(l), Route: l.Route, Vehicle: l.Vehicle, Status: lineStatus[l.Status], Comment: l.Comments}
		switch {
		case l.Dose > 0:
			tl.Dose = qty(l.Dose, l.Unit)
		case l.VolumeML > 0:
			tl.Dose = qty(l.VolumeML, "mL")
		}
		if tl.Status == "" {
			tl.Status = string(l.Status)
		}
		if l.VolumeML > 0 && l.Dose > 0 {
			tl.Vehicle = strings.TrimSpace(tl.Vehicle + " " + qty(l.VolumeML, "mL"))
		}
		if l.DurationMin > 0 {
			tl.Duration = strconv.Itoa(l.DurationMin) + " min"
		}
		if l.RateMLH > 0 {
			tl.Rate = qty(l.RateMLH, "mL/h")
		}
		if mod := l.Modification; mod != nil {
			tl.Modification = fmt.Sprintf("dose calculée %s, modifiée par %s le %s : %s", qty(mod.ComputedDose, l.Unit), mod.By, when(mod.At), mod.Reason)
		}
		if v := l.Validation; v != nil {
			s := decisions[v.Decision]
			if s == "" {
				s = v.Decision
			}
			s += " par " + v.By + " le " + when(v.At)
			if v.Intervention != "" {
				s += " ; intervention : " + v.Intervention
			}
			if v.Comment != "" {
				s += " ; " + v.Comment
			}
			tl.Validation = s
			if !seenValidator[v.ByID] {
				seenValidator[v.ByID] = true
				validators = append(validators, Party{Name: v.By, ID: v.ByID, At: v.At})
			}
		}
		d.Lines = append(d.Lines, tl)
		if t, err := time.ParseInLocation(time.DateOnly, string(l.Date), relais.DisplayZone); err == nil {
			if start.IsZero() || t.Before(start) {
				start = t
			}
			if t.After(end) {
				end = t
			}
		}
	}
	for _, c := range pr.Checks {
		if c.Ack == nil {
			continue
		}
		d.Checks = append(d.Checks, pdfdoc.AcknowledgedCheck{Level: checkLevels[c.Level], Message: c.FR, By: c.Ack.By, At: c.Ack.At, Reason: c.Ack.Reason})
	}
	var buf bytes.Buffer
	if err := pdfdoc.TreatmentPlan(&buf, d); err != nil {
		return Document{}, relais.E(op, fmt.Sprintf("the treatment plan of prescription %s cannot be made", pr.ID), err)
	}
	if start.IsZero() {
		start = pr.SignedAt
	}
	return Document{Kind: KindTreatmentPlan, ID: relais.NewID(), SubjectID: pr.ID, Patient: p,
		Title: fmt.Sprintf("Plan de traitement %s cure %d", pr.Regimen, pr.Cycle), CreatedAt: at,
		Author: Party{Name: pr.PrescriberName, ID: pr.PrescriberID, At: pr.SignedAt}, Authenticators: validators,
		ServiceStart: start, ServiceEnd: end.Add(24*time.Hour - time.Second), SetID: pr.ID, Version: version, Issuer: ph.Name,
		TypeCode: loincPlanOfCare, TypeName: "Plan of care note", PDF: buf.Bytes()}, nil
}

var outcomes = map[string]string{relais.OutcomeAdministered: pdfdoc.OutcomeAdministered, relais.OutcomeReturned: pdfdoc.OutcomeReturned,
	relais.OutcomeDestroyed: pdfdoc.OutcomeDestroyed}

var incidentKinds = map[string]string{relais.IncidentExtravasation: "extravasation", relais.IncidentReaction: "réaction",
	relais.IncidentOther: "autre"}

// AdministrationReport makes the document of one preparation given (or
// not): what was given, when, by whom, dose given against dose planned,
// interruptions and incidents. pr is the prescription the preparation
// comes from (protocol, cycle and day).
func AdministrationReport(p relais.Patient, prep relais.Preparation, pr relais.Prescription, a relais.Administration, ph relais.Pharmacy, at time.Time) (Document, error) {
	const op = "outbox.administration_report"
	dp, insOID := docPatient(p)
	outcome, ok := outcomes[a.Outcome]
	if !ok {
		return Document{}, relais.Invalid(op, "outcome", "administration %s has outcome %q, which the report cannot show", a.ID, a.Outcome)
	}
	d := pdfdoc.AdministrationReportData{Stamp: stamp(ph, at), Patient: dp, INSOID: insOID, RegisterNumber: prep.RegisterNumber,
		Protocol: pr.Regimen, Drug: strings.ToUpper(prep.INN), DosePlanned: qty(prep.Dose, prep.Unit), Route: prep.Route,
		Outcome: outcome, StartedAt: a.StartedAt, EndedAt: a.EndedAt, Reason: a.Reason, SecondNurse: a.SecondNurse,
		RecordedBy: a.RecordedBy, RecordedAt: a.RecordedAt, Comment: a.Comment}
	if pr.Cycle > 0 {
		d.Cycle = "Cure " + strconv.Itoa(pr.Cycle)
		if l := pr.Line(prep.LineID); l != nil {
			d.Cycle += " · J" + strconv.Itoa(l.Day)
		}
	}
	planned := 0.0
	if prep.Plan != nil && prep.Plan.FinalVolumeML > 0 {
		planned = prep.Plan.FinalVolumeML
		d.VolumePlanned = qty(planned, "mL")
	}
	if a.Outcome == relais.OutcomeAdministered {
		if a.VolumeGivenML > 0 {
			d.VolumeGiven = qty(a.VolumeGivenML, "mL")
		}
		// The dose given is never computed from the volumes: the whole
		// preparation, or the volumes as recorded.
		switch {
		case planned > 0 && a.VolumeGivenML == planned, planned == 0 && a.VolumeGivenML == 0:
			d.DoseGiven = qty(prep.Dose, prep.Unit) + " (totalité de la préparation)"
		case planned > 0 && a.VolumeGivenML > 0:
			d.DoseGiven = fmt.Sprintf("partielle : %s administrés sur %s préparés (dose prévue %s)", qty(a.VolumeGivenML, "mL"),
				qty(planned, "mL"), qty(prep.Dose, prep.Unit))
		default:
			d.DoseGiven = fmt.Sprintf("%s administrés (dose prévue %s)", qty(a.VolumeGivenML, "mL"), qty(prep.Dose, prep.Unit))
		}
		if a.RateMLH > 0 {
			d.Rate = qty(a.RateMLH, "mL/h")
		}
	}
	for _, in := range a.Interruptions {
		d.Interruptions = append(d.Interruptions, pdfdoc.Interruption{From: in.From, To: in.To, Reason: in.Reason})
	}
	for _, in := range a.Incidents {
		k := incidentKinds[in.Kind]
		if k == "" {
			k = in.Kind
		}
		d.Incidents = append(d.Incidents, pdfdoc.AdminIncident{Kind: k, At: in.At, Description: in.Description, Action: in.Action})
	}
	if s := a.Scan; s != nil {
		if s.Matched {
			d.BedsideCheck = "étiquette scannée le " + when(s.At) + ", bracelet concordant (IPP " + s.PatientIPP + ")"
		} else {
			d.BedsideCheck = "étiquette scannée le " + when(s.At) + " : NON CONCORDANTE (IPP lu " + s.PatientIPP + ")"
		}
	}
	var buf bytes.Buffer
	if err := pdfdoc.AdministrationReport(&buf, d); err != nil {
		return Document{}, relais.E(op, fmt.Sprintf("the administration report of preparation %s cannot be made", prep.Display()), err)
	}
	start, end := a.StartedAt, a.EndedAt
	if start.IsZero() {
		start, end = a.RecordedAt, time.Time{}
	}
	return Document{Kind: KindAdministrationReport, ID: relais.NewID(), SubjectID: prep.ID, Patient: p,
		Title: "Compte rendu d'administration " + strings.ToUpper(prep.INN) + " " + prep.Display(), CreatedAt: at,
		Author: Party{Name: a.RecordedBy, ID: a.RecordedByID, At: a.RecordedAt}, ServiceStart: start, ServiceEnd: end,
		SetID: prep.ID, Version: 1, Issuer: ph.Name,
		TypeCode: loincMedAdminNarr, TypeName: "Medication administered Narrative", PDF: buf.Bytes()}, nil
}
