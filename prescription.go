package relais

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/relais-onco/relais/clinical"
)

// The transitions of a cycle prescription. Each checks that it is allowed
// in the current state and refuses with a KindTransition error that says
// why; the store saves and journals the result.

func transitionErr(op, format string, args ...any) error {
	return &Error{Op: op, Kind: KindTransition, Message: fmt.Sprintf(format, args...)}
}

// ModifyLine changes a line's dose by a percentage or to a value, with a
// reason. On a draft, any proposed line; after signature, only a line the
// pharmacist refused, which goes back to proposed.
func (p *Prescription) ModifyLine(lineID ID, req ModifyLineRequest, a Actor, now time.Time) error {
	const op = "prescription.modify_line"
	l := p.Line(lineID)
	if l == nil {
		return E(op, KindNotFound, Field("line_id"), fmt.Sprintf("this prescription has no line %s", lineID))
	}
	var errs []error
	if (req.Percent == nil) == (req.Value == nil) {
		errs = append(errs, Invalid(op, "percent", "give either percent (e.g. -25) or value (the dose in %s), not both", l.Unit))
	}
	if strings.TrimSpace(req.Reason) == "" {
		errs = append(errs, Invalid(op, "reason", "a dose change needs a reason"))
	}
	if req.Percent != nil && (math.IsNaN(*req.Percent) || *req.Percent <= -100 || *req.Percent > 100) {
		errs = append(errs, Invalid(op, "percent", "a change must be between -100 %% (excluded) and +100 %%"))
	}
	if req.Value != nil && (math.IsNaN(*req.Value) || *req.Value <= 0) {
		errs = append(errs, Invalid(op, "value", "the dose must be positive"))
	}
	if l.Rule.Kind == "" {
		errs = append(errs, Invalid(op, "line_id", "%s has no dose to change", l.INN))
	}
	if err := Errors(op, errs); err != nil {
		return err
	}
	switch {
	case p.Status == PrescriptionDraft && l.Status == LineProposed:
	case p.Status == PrescriptionSigned && l.Status == LineRefused:
	default:
		return transitionErr(op, "a %s line of a %s prescription cannot be changed (only lines of a draft, or lines the pharmacist refused)", l.Status, p.Status)
	}
	// The modification is applied by the dose rule itself, so that its
	// derivation shows it with the rest, after caps and before rounding.
	rule := l.Rule
	rule.Adjustment = &clinical.Adjustment{Percent: req.Percent, Value: req.Value, Reason: strings.TrimSpace(req.Reason)}
	res, err := clinical.Dose(rule, p.Measurements.Patient())
	if err != nil {
		return E(op, Field("value"), err)
	}
	computed := l.Dose
	if l.Modification != nil {
		computed = l.Modification.ComputedDose
	}
	l.Modification = &LineModification{Percent: req.Percent, Value: req.Value, Reason: rule.Adjustment.Reason,
		ComputedDose: computed, By: a.DisplayName(), At: now}
	l.Dose, l.Unit, l.Calculation = res.Value, res.Unit, res
	if l.Status == LineRefused {
		l.Status = LineProposed
		l.Validation = nil
	}
	return nil
}

// Patient returns the calculation inputs the measurements describe.
func (m UsedMeasurements) Patient() clinical.Patient {
	age := m.AgeYears
	return clinical.Patient{AgeYears: &age, Sex: m.Sex, HeightCm: m.HeightCm, WeightKg: m.WeightKg, CreatinineUmolL: m.CreatinineUmolL}
}

// Postpone moves a day and its lines to another date, with a reason. A day
// with a validated line cannot move (its preparation may be under way); the
// day's OK-to-treat is withdrawn, since it was given for the old date.
func (p *Prescription) Postpone(req PostponeRequest, a Actor, now time.Time) error {
	const op = "prescription.postpone"
	d := p.DayOf(req.Day)
	if d == nil {
		return Invalid(op, "day", "this cycle has no day %d", req.Day)
	}
	var errs []error
	if _, err := ParseDate("to", string(req.To)); err != nil {
		errs = append(errs, err)
	}
	if strings.TrimSpace(req.Reason) == "" {
		errs = append(errs, Invalid(op, "reason", "say why the day is postponed"))
	}
	if err := Errors(op, errs); err != nil {
		return err
	}
	if p.Status != PrescriptionDraft && p.Status != PrescriptionSigned {
		return transitionErr(op, "a %s prescription cannot be postponed", p.Status)
	}
	if req.To <= d.Date {
		return Invalid(op, "to", "postponing moves a day later: %s is not after %s", req.To, d.Date)
	}
	for _, l := range p.Lines {
		if l.Day == req.Day && l.Status == LineValidated {
			return transitionErr(op, "day %d has validated lines (%s): ask the pharmacist, then cancel and represcribe", req.Day, l.INN)
		}
	}
	d.Postponed = &Postponed{From: d.Date, Reason: strings.TrimSpace(req.Reason), By: a.DisplayName(), At: now}
	shift := int(req.To.Time().Sub(d.Date.Time()).Hours() / 24)
	d.Date = req.To
	d.OKToTreat = nil
	for i := range p.Lines {
		if p.Lines[i].Day == req.Day {
			p.Lines[i].Date = p.Lines[i].Date.AddDays(shift)
		}
	}
	if req.Day == 1 || (len(p.Days) > 0 && p.Days[0].Day == req.Day) {
		p.StartDate = req.To
	}
	return nil
}

// Acknowledge records that a warning was read, by whom and why.
func (p *Prescription) Acknowledge(req AcknowledgeRequest, a Actor, now time.Time) error {
	const op = "prescription.acknowledge"
	if strings.TrimSpace(req.Reason) == "" {
		return Invalid(op, "reason", "say why this warning is overridden")
	}
	if p.Status != PrescriptionDraft {
		return transitionErr(op, "warnings are acknowledged before signing; this prescription is %s", p.Status)
	}
	for i := range p.Checks {
		c := &p.Checks[i]
		if c.Code != req.Code || c.LineID != req.LineID {
			continue
		}
		if c.Level != LevelAcknowledge {
			return Invalid(op, "code", "%s is %s: only warnings can be acknowledged", c.Code, c.Level)
		}
		c.Ack = &CheckAck{By: a.DisplayName(), ByID: a.UserID, At: now, Reason: strings.TrimSpace(req.Reason)}
		return nil
	}
	return Invalid(op, "code", "this prescription has no check %q%s", req.Code, lineSuffix(req.LineID))
}

func lineSuffix(id ID) string {
	if id == "" {
		return ""
	}
	return " on line " + string(id)
}

// Sign signs a draft. It is refused, with every reason at once, while a
// check blocks, a warning is not acknowledged, or an element the ASCO/ONS
// order standard requires is missing.
func (p *Prescription) Sign(patient Patient, a Actor, now time.Time) error {
	const op = "prescription.sign"
	if p.Status != PrescriptionDraft {
		return transitionErr(op, "only a draft can be signed; this prescription is %s", p.Status)
	}
	errs := OrderElements(p)
	if patient.IPP == "" && !patient.INS.Status.HasINS() {
		errs = append(errs, Invalid(op, "patient", "two patient identifiers are required: the patient has no IPP"))
	}
	if patient.BirthDate == "" {
		errs = append(errs, Invalid(op, "patient", "the patient's birth date (second identifier) is missing"))
	}
	for _, c := range p.Blocking() {
		field := "checks." + c.Code
		if c.Level == LevelBlocking {
			errs = append(errs, Invalid(op, field, "%s", c.EN))
		} else {
			errs = append(errs, Invalid(op, field, "acknowledge this warning with a reason first: %s", c.EN))
		}
	}
	if err := Errors(op, errs); err != nil {
		return err
	}
	p.Status = PrescriptionSigned
	p.SignedAt = now
	p.PrescriberID, p.PrescriberName = a.UserID, a.DisplayName()
	return nil
}

// GiveOKToTreat gives a day's go-ahead. The latest value of each criterion's
// lab is recorded as seen; a missing or unmet criterion refuses unless the
// prescriber overrides it with a comment.
func (p *Prescription) GiveOKToTreat(req OKToTreatRequest, criteria []Criterion, seen map[string]SeenValue, a Actor, now time.Time) error {
	const op = "prescription.ok_to_treat"
	d := p.DayOf(req.Day)
	if d == nil {
		return Invalid(op, "day", "this cycle has no day %d", req.Day)
	}
	if p.Status != PrescriptionSigned {
		return transitionErr(op, "the OK-to-treat follows the signature; this prescription is %s", p.Status)
	}
	if d.OKToTreat != nil {
		return transitionErr(op, "day %d already has its OK-to-treat (%s, %s)", req.Day, d.OKToTreat.By, d.OKToTreat.At.In(DisplayZone).Format("02/01/2006 15:04"))
	}
	ok := &OKToTreat{By: a.DisplayName(), ByID: a.UserID, At: now, Comment: strings.TrimSpace(req.Comment), Values: []SeenValue{}}
	for _, c := range criteria {
		if !c.AppliesOn(req.Day) {
			continue
		}
		v, has := seen[c.Lab]
		switch {
		case !has:
			ok.Unmet = append(ok.Unmet, fmt.Sprintf("%s %s %s %s: no value", c.Lab, c.Op, num(c.Value), c.Unit))
		case !c.Met(v.Value):
			ok.Values = append(ok.Values, v)
			ok.Unmet = append(ok.Unmet, fmt.Sprintf("%s %.4g %s (criterion %s %s %s)", c.Lab, v.Value, v.Unit, c.Op, num(c.Value), c.Unit))
		default:
			ok.Values = append(ok.Values, v)
		}
	}
	if len(ok.Unmet) > 0 && (!req.Override || ok.Comment == "") {
		return &Error{Op: op, Kind: KindConflict, Field: "override",
			Message: "criteria not met: " + strings.Join(ok.Unmet, "; ") + ". Postpone the day, or give the OK-to-treat with override and a comment saying why"}
	}
	d.OKToTreat = ok
	return nil
}

// ValidateLine records the pharmacist's decision on a proposed line of a
// day that has its OK-to-treat.
func (p *Prescription) ValidateLine(lineID ID, req ValidateLineRequest, a Actor, now time.Time) error {
	const op = "prescription.validate_line"
	l := p.Line(lineID)
	if l == nil {
		return E(op, KindNotFound, Field("line_id"), fmt.Sprintf("this prescription has no line %s", lineID))
	}
	req.Comment, req.Intervention = strings.TrimSpace(req.Comment), strings.TrimSpace(req.Intervention)
	var to LineStatus
	switch req.Decision {
	case DecisionAccept:
		to = LineValidated
	case DecisionAcceptWithIntervention:
		to = LineValidated
		if req.Intervention == "" {
			return Invalid(op, "intervention", "describe the pharmaceutical intervention")
		}
	case DecisionRefuse:
		to = LineRefused
		if req.Comment == "" {
			return Invalid(op, "comment", "say why the line is refused: the prescriber reads it")
		}
	default:
		return Invalid(op, "decision", "decision must be accept, accept_with_intervention or refuse")
	}
	if p.Status != PrescriptionSigned {
		return transitionErr(op, "only a signed prescription is validated; this one is %s", p.Status)
	}
	if d := p.DayOf(l.Day); d == nil || d.OKToTreat == nil {
		return transitionErr(op, "day %d has no OK-to-treat yet: the prescriber gives it after the clinical and lab check", l.Day)
	}
	if !l.Status.CanMove(to) {
		return transitionErr(op, "%s is %s: it cannot become %s", l.INN, l.Status, to)
	}
	l.Status = to
	l.Validation = &LineValidation{Decision: req.Decision, Comment: req.Comment, Intervention: req.Intervention,
		By: a.DisplayName(), ByID: a.UserID, At: now}
	return nil
}

// Cancel cancels a draft or signed prescription with a reason; its lines not
// yet decided are cancelled with it. Nothing is deleted.
func (p *Prescription) Cancel(reason string) error {
	const op = "prescription.cancel"
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return Invalid(op, "reason", "say why the prescription is cancelled")
	}
	if !p.Status.CanMove(PrescriptionCancelled) {
		return transitionErr(op, "a %s prescription cannot be cancelled", p.Status)
	}
	p.Status = PrescriptionCancelled
	p.CancelReason = reason
	for i := range p.Lines {
		if p.Lines[i].Status.CanMove(LineCancelled) {
			p.Lines[i].Status = LineCancelled
		}
	}
	return nil
}

// CriterionMeasurement maps an OK-to-treat criterion to the measurement kind
// it reads, when the units agree (a criterion in ×ULN cannot be read from a
// value in U/L and is checked by the prescriber).
func CriterionMeasurement(c Criterion) (string, bool) {
	switch {
	case c.Lab == "neutrophils" && c.Unit == "G/L":
		return "neutrophils_g_l", true
	case c.Lab == "leukocytes" && c.Unit == "G/L":
		return "leukocytes_g_l", true
	case c.Lab == "platelets" && c.Unit == "G/L":
		return "platelets_g_l", true
	case c.Lab == "haemoglobin" && c.Unit == "g/dL":
		return "haemoglobin_g_dl", true
	case c.Lab == "creatinine" && c.Unit == "µmol/L":
		return "creatinine_umol_l", true
	case c.Lab == "bilirubin" && c.Unit == "µmol/L":
		return "bilirubin_umol_l", true
	}
	return "", false
}
