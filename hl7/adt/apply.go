package adt

import (
	"fmt"
	"strings"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/hl7"
)

// Register is the patient register as seen from inside the transaction
// that stores a message: the same rules as relais.PatientService (the store
// implements both with the same helpers), without a transaction of its own.
type Register interface {
	// PatientByIPP finds the active patient carrying ipp at this site, now or
	// formerly (following merges to the survivor); ok is false when none.
	PatientByIPP(ipp string) (p relais.Patient, ok bool, err error)
	CreatePatient(in relais.PatientInput) (relais.Patient, error)
	UpdatePatient(id relais.ID, u relais.PatientUpdate) (relais.Patient, error)
	MergePatients(survivorID, duplicateID relais.ID, reason string) (relais.Patient, error)
	ChangePatientIPP(id relais.ID, newIPP, reason string) (relais.Patient, error)
}

// Result is what applying an event did.
type Result struct {
	PatientID relais.ID
	Note      string // what was done, for the inbound log
}

// Apply carries out ev on the register. An error that names a field of the
// domain (relais.Error with Field) is returned as an *hl7.Error located in
// the message; a storage fault is returned as is (the whole message is then
// refused AR and the sender tries again).
func Apply(reg Register, ev Event, h hl7.Header) (Result, error) {
	reason := fmt.Sprintf("HL7 ADT^%s %s from %s/%s", ev.Trigger, h.ControlID, h.SendingApp, h.SendingFacility)
	switch ev.Action {
	case ActionNone:
		return Result{Note: "ADT^" + ev.Trigger + ": nothing to apply (Relais keeps identities, not admissions or movements)"}, nil
	case ActionUpsert:
		return upsert(reg, ev)
	case ActionChangeIPP:
		old, ok, err := reg.PatientByIPP(ev.PriorIPP)
		if err != nil {
			return Result{}, err
		}
		if !ok {
			if cur, ok, err := reg.PatientByIPP(ev.IPP); err != nil {
				return Result{}, err
			} else if ok {
				return Result{PatientID: cur.ID, Note: "IPP " + ev.PriorIPP + " unknown here and " + ev.IPP + " already known: nothing to change"}, nil
			}
			return Result{}, &hl7.Error{Location: ev.Locs["prior_ipp"], Code: hl7.CodeUnknownKey,
				Message: "no patient carries IPP " + ev.PriorIPP + " (MRG-1) at this site: send an A28 to create the patient"}
		}
		if old.IPP != ev.PriorIPP {
			return Result{}, &hl7.Error{Location: ev.Locs["prior_ipp"], Code: hl7.CodeUnknownKey,
				Message: fmt.Sprintf("IPP %s (MRG-1) is a former id of the patient, whose IPP is now %s", ev.PriorIPP, old.IPP)}
		}
		p, err := reg.ChangePatientIPP(old.ID, ev.IPP, reason)
		if err != nil {
			return Result{}, locate(err, ev)
		}
		return Result{PatientID: p.ID, Note: "IPP " + ev.PriorIPP + " → " + ev.IPP}, nil
	case ActionMerge:
		dup, dupOK, err := reg.PatientByIPP(ev.PriorIPP)
		if err != nil {
			return Result{}, err
		}
		surv, survOK, err := reg.PatientByIPP(ev.IPP)
		if err != nil {
			return Result{}, err
		}
		switch {
		case !dupOK:
			// IHE ITI-30: a merge whose duplicate is unknown leaves only the
			// surviving identity to record.
			r, err := upsert(reg, ev)
			r.Note = "duplicate IPP " + ev.PriorIPP + " unknown here: nothing merged; " + r.Note
			return r, err
		case dupOK && survOK && dup.ID == surv.ID:
			return Result{PatientID: surv.ID, Note: "already merged"}, nil
		case !survOK:
			// The survivor's IPP is new here: the duplicate takes it (an
			// identifier change), then its identity is brought up to date.
			if _, err := reg.ChangePatientIPP(dup.ID, ev.IPP, reason); err != nil {
				return Result{}, locate(err, ev)
			}
			p, err := reg.UpdatePatient(dup.ID, ev.Update())
			if err != nil {
				return Result{}, locate(err, ev)
			}
			return Result{PatientID: p.ID, Note: "survivor IPP " + ev.IPP + " unknown here: patient " + ev.PriorIPP + " takes it (identifier change)"}, nil
		}
		p, err := reg.MergePatients(surv.ID, dup.ID, reason)
		if err != nil {
			return Result{}, locate(err, ev)
		}
		return Result{PatientID: p.ID, Note: "patient " + ev.PriorIPP + " merged into " + ev.IPP}, nil
	}
	return Result{}, fmt.Errorf("adt: unknown action %q", ev.Action)
}

func upsert(reg Register, ev Event) (Result, error) {
	p, ok, err := reg.PatientByIPP(ev.IPP)
	if err != nil {
		return Result{}, err
	}
	notes := strings.Join(ev.Identity.Notes, "; ")
	if !ok {
		p, err = reg.CreatePatient(ev.Input())
		if err != nil {
			return Result{}, locate(err, ev)
		}
		return Result{PatientID: p.ID, Note: join("created", notes)}, nil
	}
	if p.IPP != ev.IPP {
		return Result{}, &hl7.Error{Location: ev.Locs["ipp"], Code: hl7.CodeUnknownKey,
			Message: fmt.Sprintf("IPP %s is a former id: the patient's IPP is now %s (changed by an A47 or merged by an A40)", ev.IPP, p.IPP)}
	}
	before := p.UpdatedAt
	p, err = reg.UpdatePatient(p.ID, ev.Update())
	if err != nil {
		return Result{}, locate(err, ev)
	}
	what := "updated"
	if p.UpdatedAt.Equal(before) {
		what = "unchanged"
	}
	return Result{PatientID: p.ID, Note: join(what, notes)}, nil
}

func join(a, b string) string {
	if b == "" {
		return a
	}
	return a + "; " + b
}

// domainKinds are the kinds of error a message's content causes: answered AE.
func contentError(err error) bool {
	switch relais.ErrorKind(err) {
	case relais.KindInvalid, relais.KindConflict, relais.KindTransition, relais.KindNotFound, relais.KindForbidden:
		return true
	}
	return false
}

// locate turns a domain error into an *hl7.Error pointing at the field of
// the message that carried the faulty value; storage faults pass through.
func locate(err error, ev Event) error {
	if !contentError(err) {
		return err
	}
	fields := relais.FieldErrors(err)
	msg := relais.ErrorMessage(err)
	loc := hl7.Location{Segment: "PID"}
	if len(fields) > 0 {
		f := fields[0]
		msg = f.Message
		if l, ok := ev.Locs[f.Field]; ok {
			loc = l
		} else if l, ok := ev.Locs[strings.SplitN(f.Field, "[", 2)[0]]; ok {
			loc = l
		}
		if len(fields) > 1 {
			var more []string
			for _, g := range fields[1:] {
				more = append(more, g.Field+": "+g.Message)
			}
			msg += " (also: " + strings.Join(more, "; ") + ")"
		}
	}
	code := hl7.CodeDataType
	switch relais.ErrorKind(err) {
	case relais.KindConflict, relais.KindTransition:
		code = hl7.CodeInternal
		if strings.Contains(msg, "already carried") || strings.Contains(msg, "already has this INS") {
			code = hl7.CodeDuplicateKey
		}
	case relais.KindNotFound:
		code = hl7.CodeUnknownKey
	case relais.KindForbidden:
		code = hl7.CodeInternal
	}
	return &hl7.Error{Location: loc, Code: code, Message: msg}
}
