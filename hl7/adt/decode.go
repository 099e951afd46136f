// Package adt maps HL7 v2.5 ADT messages of the IHE PAM profile, with its
// French national extension, onto the patient register: which patient a
// message names (IPP and INS in PID-3), the identity traits it carries
// (PID-5, PID-7, PID-8, PID-11, PID-32), and what it asks (create or update,
// merge, identifier change). It also runs the receiving side of the MLLP
// listener: each message is stored in the inbound log and applied in the same
// transaction, several connections' messages committed together, and only
// then acknowledged.
//
// References: HL7 v2.5 chapters 2 (control) and 3 (ADT); IHE ITI TF-2
// transactions ITI-30 and ITI-31 (Patient Administration Management); IHE
// ITI TF-4 §4 "National Extensions for France" and IHE France's « Extension
// française du profil PAM » (PAM FR 2.10/2.11, 2021, which brought the INS:
// identifier type code INS in PID-3 and the identity statuses PROV, VALI,
// RECUP and QUAL in PID-32). docs/integration/hl7-adt.md says, field by
// field, what Relais reads.
package adt

import (
	"fmt"
	"strings"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/hl7"
)

// Action is what an event asks of the register.
type Action string

const (
	// ActionUpsert creates the patient named by the IPP, or brings it up to
	// date (A01, A04, A05, A08, A28, A31).
	ActionUpsert Action = "upsert"
	// ActionMerge merges the patient of MRG-1 into the patient of PID-3
	// (A40).
	ActionMerge Action = "merge"
	// ActionChangeIPP gives the patient of MRG-1 the IPP of PID-3 (A47).
	ActionChangeIPP Action = "change_ipp"
	// ActionNone: an event Relais acknowledges without change (A11 cancels an
	// admission, and Relais keeps no admissions; other movements likewise).
	ActionNone Action = "none"
)

// Config says how to read a site's messages.
type Config struct {
	// IPPAuthority is the assigning authority of the site's local ids, as
	// PID-3.4 names it (namespace or OID). Empty: the first identifier of
	// type PI is the IPP.
	IPPAuthority string
	// ProcessingID is the MSH-11 accepted (default "P", production): a
	// training or debug message never reaches production data.
	ProcessingID string
}

// Event is an ADT message read for the register.
type Event struct {
	Trigger  string // A01, A28, …
	Action   Action
	IPP      string // PID-3, type PI
	Identity Identity
	PriorIPP string // MRG-1, for A40 and A47
	// Locs maps the domain's field names (ipp, ins.matricule, birth_name, …)
	// to where the message carries them, so that a field error is answered
	// with an ERR that points at the right place.
	Locs map[string]hl7.Location
}

// Identity is the identity PID carries. Pointers distinguish "not sent"
// (nil: left as it is on an update) from a value or an HL7 null ("" sent as
// "\"\"", which clears an optional trait).
type Identity struct {
	INS        *relais.INS // nil: PID-3 has no INS and PID-32 no status
	BirthName  string
	UsedName   *string
	FirstNames []string
	BirthDate  relais.Date
	Sex        relais.Sex
	Birthplace *string
	// Notes are remarks about the reading, kept in the inbound log (e.g. an
	// INS without a status, taken as recovered).
	Notes []string
}

// Input is the identity as a creation.
func (e Event) Input() relais.PatientInput {
	in := relais.PatientInput{IPP: e.IPP, BirthName: e.Identity.BirthName, FirstNames: e.Identity.FirstNames,
		BirthDate: e.Identity.BirthDate, Sex: e.Identity.Sex, INS: relais.INS{Status: relais.IdentityProvisional}}
	if e.Identity.INS != nil {
		in.INS = *e.Identity.INS
	}
	if e.Identity.UsedName != nil {
		in.UsedName = *e.Identity.UsedName
	}
	if e.Identity.Birthplace != nil {
		in.BirthplaceCode = *e.Identity.Birthplace
	}
	return in
}

// Update is the identity as a change of an existing patient: every trait
// the message carries, none it does not.
func (e Event) Update() relais.PatientUpdate {
	id := e.Identity
	u := relais.PatientUpdate{INS: id.INS, UsedName: id.UsedName, BirthplaceCode: id.Birthplace}
	if id.BirthName != "" {
		u.BirthName = &id.BirthName
	}
	if len(id.FirstNames) > 0 {
		u.FirstNames = &id.FirstNames
	}
	if id.BirthDate != "" {
		u.BirthDate = &id.BirthDate
	}
	if id.Sex != "" {
		u.Sex = &id.Sex
	}
	return u
}

// hl7Null is the HL7 explicit null: the sender says the value is to be
// removed.
const hl7Null = `""`

var triggers = map[string]Action{
	"A01": ActionUpsert, "A04": ActionUpsert, "A05": ActionUpsert, "A08": ActionUpsert,
	"A28": ActionUpsert, "A31": ActionUpsert, "A40": ActionMerge, "A47": ActionChangeIPP, "A11": ActionNone,
}

// CheckHeader refuses (AR) what is not an ADT message Relais can read: the
// message type and version, the processing id, a missing control id.
func CheckHeader(m *hl7.Message, cfg Config) *hl7.Error {
	h := m.Header()
	msh := func(field, comp int) hl7.Location {
		return hl7.Location{Segment: "MSH", Seq: 1, Field: field, Comp: comp}
	}
	reject := func(loc hl7.Location, code, format string, args ...any) *hl7.Error {
		return &hl7.Error{Location: loc, Code: code, Message: fmt.Sprintf(format, args...), Reject: true}
	}
	if h.ControlID == "" {
		return reject(msh(10, 0), hl7.CodeRequiredMissing, "MSH-10 (message control id) is required: Relais uses it to recognise a message sent twice")
	}
	if h.Type != "ADT" {
		return reject(msh(9, 1), hl7.CodeUnsupportedType, "Relais receives ADT messages on this port, not %s", truncate(h.Type, 10))
	}
	if h.Trigger == "" {
		return reject(msh(9, 2), hl7.CodeRequiredMissing, "MSH-9.2 (trigger event) is required, e.g. A28")
	}
	if !strings.HasPrefix(h.Version, "2.") || h.Version < "2.3" {
		return reject(msh(12, 1), hl7.CodeUnsupportedVersion, "HL7 version %q is not supported: send 2.5 (IHE PAM)", truncate(h.Version, 10))
	}
	want := cfg.ProcessingID
	if want == "" {
		want = "P"
	}
	if h.ProcessingID != want {
		return reject(msh(11, 1), hl7.CodeUnsupportedProcID, "this Relais takes processing id %s, not %q: a training or test message must not reach these patients", want, truncate(h.ProcessingID, 5))
	}
	return nil
}

// Decode reads an ADT message whose header passed CheckHeader. A fault in
// the message's content is an *hl7.Error to answer AE.
func Decode(m *hl7.Message, cfg Config) (Event, *hl7.Error) {
	h := m.Header()
	ev := Event{Trigger: h.Trigger, Locs: map[string]hl7.Location{}}
	action, ok := triggers[h.Trigger]
	if !ok {
		action = ActionNone
	}
	ev.Action = action
	if action == ActionNone {
		return ev, nil
	}
	pidSeq := m.SegmentIndex("PID")
	if pidSeq == 0 {
		return ev, &hl7.Error{Location: hl7.Location{Segment: "PID"}, Code: hl7.CodeSegmentSequence,
			Message: "the PID segment is missing: ADT^" + h.Trigger + " carries the patient in PID"}
	}
	pid := m.Segments[pidSeq-1]
	loc := func(field, rep, comp int) hl7.Location {
		return hl7.Location{Segment: "PID", Seq: pidSeq, Field: field, Rep: rep, Comp: comp}
	}
	// PID-3: the IPP (type PI) and the INS (type INS).
	var insRep hl7.Repetition
	for i, r := range pid.Field(3) {
		switch strings.ToUpper(r.Comp(5)) {
		case "PI":
			if ev.IPP == "" && authorityMatches(r, cfg.IPPAuthority) {
				ev.IPP = r.Comp(1)
				ev.Locs["ipp"] = loc(3, i+1, 1)
			}
		case "INS":
			insRep = r
			ev.Locs["ins.matricule"] = loc(3, i+1, 1)
			ev.Locs["ins.oid"] = hl7.Location{Segment: "PID", Seq: pidSeq, Field: 3, Rep: i + 1, Comp: 4, Sub: 2}
		}
	}
	if ev.IPP == "" {
		want := "of type PI"
		if cfg.IPPAuthority != "" {
			want += " assigned by " + cfg.IPPAuthority
		}
		return ev, &hl7.Error{Location: loc(3, 0, 0), Code: hl7.CodeRequiredMissing,
			Message: "PID-3 has no local patient id (IPP) " + want + ": Relais files patients under the hospital's IPP"}
	}
	status, statusLoc, note := identityStatus(pid.Field(32))
	ev.Locs["ins.status"] = loc(32, statusLoc, 1)
	if note != "" {
		ev.Identity.Notes = append(ev.Identity.Notes, note)
	}
	switch {
	case insRep != nil:
		ins := relais.INS{Matricule: insRep.Comp(1), OID: insRep.Sub(4, 2), Status: status}
		if status == "" {
			ins.Status = relais.IdentityRecovered
			ev.Identity.Notes = append(ev.Identity.Notes,
				"PID-3 carries an INS but PID-32 no identity status: taken as recovered (an INS comes from INSi), never as qualified")
		}
		ev.Identity.INS = &ins
	case status != "":
		ev.Identity.INS = &relais.INS{Status: status}
	}
	// PID-5: the birth name (type L) and the used name (type D).
	names := pid.Field(5)
	var birth, used hl7.Repetition
	birthIdx, usedIdx := 0, 0
	for i, r := range names {
		switch strings.ToUpper(r.Comp(7)) {
		case "L":
			if birth == nil {
				birth, birthIdx = r, i+1
			}
		case "D":
			if used == nil {
				used, usedIdx = r, i+1
			}
		case "":
			if birth == nil && len(names) == 1 {
				birth, birthIdx = r, i+1 // a single untyped name is the birth name
			}
		}
	}
	if birth == nil || birth.Comp(1) == "" {
		return ev, &hl7.Error{Location: loc(5, 0, 1), Code: hl7.CodeRequiredMissing,
			Message: "PID-5 has no birth name (name type L): the birth name is a strict trait of the identity (RNIV)"}
	}
	ev.Identity.BirthName = birth.Comp(1)
	ev.Locs["birth_name"] = loc(5, birthIdx, 1)
	ev.Identity.FirstNames = firstNames(birth.Comp(2), birth.Comp(3))
	ev.Locs["first_names"] = loc(5, birthIdx, 2)
	for i := range ev.Identity.FirstNames {
		ev.Locs[fmt.Sprintf("first_names[%d]", i)] = loc(5, birthIdx, min(i+2, 3))
	}
	if used != nil {
		v := used.Comp(1)
		if v == hl7Null {
			v = ""
		}
		ev.Identity.UsedName = &v
		ev.Locs["used_name"] = loc(5, usedIdx, 1)
	}
	// PID-7, PID-8.
	ev.Locs["birth_date"] = loc(7, 0, 1)
	if bd := pid.Comp(7, 1); bd != "" {
		d, err := birthDate(bd)
		if err != nil {
			return ev, &hl7.Error{Location: loc(7, 0, 1), Code: hl7.CodeDataType, Message: err.Error()}
		}
		ev.Identity.BirthDate = d
	}
	ev.Locs["sex"] = loc(8, 0, 1)
	switch s := strings.ToUpper(pid.Get(8)); s {
	case "M", "F":
		ev.Identity.Sex = relais.Sex(s)
	case "U", "O", "A", "N":
		ev.Identity.Sex = relais.SexUnknown
	case "":
	default:
		return ev, &hl7.Error{Location: loc(8, 0, 1), Code: hl7.CodeTableValue,
			Message: fmt.Sprintf("PID-8 %q is not a sex of HL7 table 0001: send M, F or U", truncate(s, 5))}
	}
	// PID-11: the birthplace is the address of type BDL, its INSEE code in
	// XAD-9 (county/parish code), as PAM FR says.
	for i, r := range pid.Field(11) {
		if strings.ToUpper(r.Comp(7)) == "BDL" {
			v := r.Comp(9)
			if v == hl7Null {
				v = ""
			}
			ev.Identity.Birthplace = &v
			ev.Locs["birthplace_code"] = loc(11, i+1, 9)
			break
		}
	}
	// On creation, required fields that are absent.
	if action == ActionUpsert || action == ActionMerge || action == ActionChangeIPP {
		if ev.Identity.BirthDate == "" {
			return ev, &hl7.Error{Location: loc(7, 0, 1), Code: hl7.CodeRequiredMissing, Message: "PID-7 (birth date) is required"}
		}
		if ev.Identity.Sex == "" {
			return ev, &hl7.Error{Location: loc(8, 0, 1), Code: hl7.CodeRequiredMissing, Message: "PID-8 (administrative sex) is required: M, F or U"}
		}
	}
	// MRG-1: the prior IPP (A40: the duplicate; A47: the old id).
	if action == ActionMerge || action == ActionChangeIPP {
		mrgSeq := m.SegmentIndex("MRG")
		if mrgSeq == 0 {
			return ev, &hl7.Error{Location: hl7.Location{Segment: "MRG"}, Code: hl7.CodeSegmentSequence,
				Message: "the MRG segment is missing: ADT^" + h.Trigger + " names the prior patient identifier in MRG-1"}
		}
		mrg := m.Segments[mrgSeq-1]
		for i, r := range mrg.Field(1) {
			t := strings.ToUpper(r.Comp(5))
			if (t == "PI" || t == "") && authorityMatches(r, cfg.IPPAuthority) {
				ev.PriorIPP = r.Comp(1)
				ev.Locs["prior_ipp"] = hl7.Location{Segment: "MRG", Seq: mrgSeq, Field: 1, Rep: i + 1, Comp: 1}
				ev.Locs["duplicate_id"] = ev.Locs["prior_ipp"]
				break
			}
		}
		if ev.PriorIPP == "" {
			return ev, &hl7.Error{Location: hl7.Location{Segment: "MRG", Seq: mrgSeq, Field: 1}, Code: hl7.CodeRequiredMissing,
				Message: "MRG-1 has no prior local id (type PI) of this site"}
		}
		if ev.PriorIPP == ev.IPP {
			return ev, &hl7.Error{Location: ev.Locs["prior_ipp"], Code: hl7.CodeDataType,
				Message: "MRG-1 names the same IPP as PID-3: nothing to merge or change"}
		}
	}
	return ev, nil
}

// authorityMatches reports whether the CX repetition's assigning authority
// (PID-3.4: namespace & OID & type) is the expected one.
func authorityMatches(r hl7.Repetition, want string) bool {
	if want == "" {
		return true
	}
	return strings.EqualFold(r.Sub(4, 1), want) || r.Sub(4, 2) == want
}

// identityStatus reads PID-32 (PAM FR's extension of table 0445): the status
// of the identity, and where it was. VIDE (not yet checked) and PROV are
// provisional; DOUTE (doubtful) and FICTI (fictitious) make any identity
// provisional whatever else is sent: a doubtful identity cannot be trusted
// for an INS. Other codes (HOMON for a homonym, …) are attributes, not
// statuses.
func identityStatus(f hl7.Field) (relais.IdentityStatus, int, string) {
	var status relais.IdentityStatus
	rep, doubt := 0, ""
	rank := map[relais.IdentityStatus]int{relais.IdentityProvisional: 1, relais.IdentityValidated: 2, relais.IdentityRecovered: 2, relais.IdentityQualified: 3}
	for i, r := range f {
		var s relais.IdentityStatus
		switch strings.ToUpper(r.Comp(1)) {
		case "VIDE", "PROV":
			s = relais.IdentityProvisional
		case "VALI":
			s = relais.IdentityValidated
		case "RECUP":
			s = relais.IdentityRecovered
		case "QUAL":
			s = relais.IdentityQualified
		case "DOUTE", "FICTI":
			doubt = strings.ToUpper(r.Comp(1))
			if rep == 0 {
				rep = i + 1
			}
			continue
		default:
			continue
		}
		if rank[s] > rank[status] {
			status, rep = s, i+1
		}
	}
	if doubt != "" && status != "" && status != relais.IdentityProvisional {
		return relais.IdentityProvisional, rep, "PID-32 marks the identity " + doubt + ": taken as provisional"
	}
	if doubt != "" && status == "" {
		return relais.IdentityProvisional, rep, ""
	}
	return status, rep, ""
}

// firstNames reads the birth first names: XPN-2 is the first one; XPN-3 is,
// under the INS rules, the whole list separated by spaces (starting with the
// first), or under plain HL7 the further names. Both are read the same way:
// the list, with the first name not repeated.
func firstNames(first, further string) []string {
	first = strings.TrimSpace(first)
	list := strings.Fields(further)
	var out []string
	if first != "" {
		out = append(out, first)
	}
	if len(list) > 0 && strings.EqualFold(list[0], first) {
		list = list[1:]
	} else if len(list) > 0 && first != "" && strings.EqualFold(strings.Join(list, " "), first) {
		list = nil // "Jean Pierre" in both
	}
	return append(out, list...)
}

// birthDate reads a TS/DTM birth date: YYYYMMDD, possibly followed by a time.
func birthDate(v string) (relais.Date, error) {
	if len(v) < 8 {
		return "", fmt.Errorf("PID-7 %q is not a date: write YYYYMMDD", truncate(v, 20))
	}
	s := v[:4] + "-" + v[4:6] + "-" + v[6:8]
	d, err := relais.ParseDate("birth_date", s)
	if err != nil {
		return "", fmt.Errorf("PID-7 %q is not a date: write YYYYMMDD", truncate(v, 20))
	}
	return d, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
