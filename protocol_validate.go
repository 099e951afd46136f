package relais

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/relais-onco/relais/clinical"
)

// Validation of protocol headers and version content. Every fault is
// reported, each with the JSON path of its field (lines[3].dose.kind), so a
// protocol with five mistakes is corrected in one pass, not five.

// Length limits of free texts: long enough for any real protocol, short
// enough that a pasted document cannot bloat every version.
const (
	maxCode     = 40
	maxName     = 200
	maxText     = 4000 // indication, comments, source
	maxLines    = 200
	maxCycles   = 100
	maxCycleLen = 366
)

var codePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9 ._+/()-]*$`)

// ValidateHeader checks the header fields of a new protocol; prefix is put
// before each field name.
func ValidateHeader(op, prefix, code, name, indication string, pop Population) []error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, Invalid(op, prefix+field, format, args...))
	}
	switch {
	case strings.TrimSpace(code) == "":
		add("code", "a protocol needs a code, e.g. R-CHOP-21")
	case len(code) > maxCode:
		add("code", "the code is longer than %d characters", maxCode)
	case !codePattern.MatchString(code) || strings.TrimSpace(code) != code:
		add("code", "a code uses letters, digits, spaces and . _ + / ( ) - only, and starts with a letter or digit")
	}
	if strings.TrimSpace(name) == "" {
		add("name", "a protocol needs a name")
	} else if utf8.RuneCountInString(name) > maxName {
		add("name", "the name is longer than %d characters", maxName)
	}
	if strings.TrimSpace(indication) == "" {
		add("indication", "say what the protocol treats, e.g. Hodgkin lymphoma, all stages")
	} else if utf8.RuneCountInString(indication) > maxText {
		add("indication", "the indication is longer than %d characters", maxText)
	}
	if !pop.Valid() {
		add("population", "population must be paediatric or adult, not %q", pop)
	}
	return errs
}

// ValidateContent checks a version's content on its own (that each drug and
// vehicle exists is the store's job). prefix is put before every field path:
// "content." for an API body, "" for a document.
func ValidateContent(op, prefix string, c ProtocolContent) []error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, Invalid(op, prefix+field, format, args...))
	}
	if c.Cycles.Count < 1 || c.Cycles.Count > maxCycles {
		add("cycles.count", "the number of cycles must be between 1 and %d", maxCycles)
	}
	if c.Cycles.LengthDays < 1 || c.Cycles.LengthDays > maxCycleLen {
		add("cycles.length_days", "a cycle lasts between 1 and %d days", maxCycleLen)
	}
	days := map[int]bool{}
	if len(c.Days) == 0 {
		add("days", "list the days of administration, e.g. [1, 15]")
	}
	for i, d := range c.Days {
		f := fmt.Sprintf("days[%d]", i)
		switch {
		case d < 1 || (c.Cycles.LengthDays >= 1 && d > c.Cycles.LengthDays):
			add(f, "day %d is outside the cycle (days 1 to %d)", d, c.Cycles.LengthDays)
		case i > 0 && d <= c.Days[i-1]:
			add(f, "days must be listed once each, in increasing order (%d after %d)", d, c.Days[i-1])
		}
		days[d] = true
	}

	if len(c.Lines) == 0 {
		add("lines", "a protocol needs at least one line")
	}
	if len(c.Lines) > maxLines {
		add("lines", "a protocol has at most %d lines", maxLines)
	}
	seqs := map[int]int{}
	for i, l := range c.Lines {
		p := fmt.Sprintf("lines[%d].", i)
		if l.Seq < 1 {
			add(p+"seq", "seq is the line's order, a whole number from 1")
		} else if j, dup := seqs[l.Seq]; dup {
			add(p+"seq", "seq %d is already used by lines[%d]: give each line its own", l.Seq, j)
		} else {
			seqs[l.Seq] = i
		}
		if !l.Kind.Valid() {
			add(p+"kind", "unknown kind %q: use chemo, premedication, supportive or hydration", l.Kind)
		}
		hasDrug := NormalizeINN(l.INN) != "" || l.DrugID != ""
		if !hasDrug && l.Kind != LineHydration {
			add(p+"inn", "name the drug (its INN)")
		}
		if l.Dose.Kind == "" {
			if hasDrug {
				add(p+"dose", "a drug line needs a dose rule")
			}
		} else {
			if !hasDrug {
				add(p+"dose", "a dose rule needs a drug: name it in inn")
			}
			rule := l.Dose
			if rule.Adjustment != nil {
				add(p+"dose.adjustment", "a protocol gives the standard dose: adjustments are made on a prescription, with their reason")
				rule.Adjustment = nil // reported once, here
			}
			errs = append(errs, ruleErrors(op, prefix+p+"dose", clinical.ValidateRule(rule))...)
		}
		if !l.Route.Valid() {
			add(p+"route", "unknown route %q: use IV, IVL, SC, IT, PO or IM", l.Route)
		}
		if len(l.Days) == 0 {
			add(p+"days", "list the days this line is given on, e.g. [1]")
		}
		seen := map[int]bool{}
		for j, d := range l.Days {
			f := fmt.Sprintf("%sdays[%d]", p, j)
			switch {
			case seen[d]:
				add(f, "day %d is listed twice", d)
			case !days[d]:
				add(f, "day %d is not a day of administration of this version (%s)", d, intList(c.Days))
			}
			seen[d] = true
		}
		if strings.TrimSpace(l.Vehicle) != "" && !(l.VolumeML > 0) {
			add(p+"volume_ml", "a line diluted in %s needs its volume in mL", l.Vehicle)
		}
		if l.Vehicle == "" && l.VolumeML != 0 {
			add(p+"vehicle", "a volume of %g mL needs its vehicle, e.g. NaCl 0.9%%", l.VolumeML)
		}
		if l.Route == RoutePO && l.Vehicle != "" {
			add(p+"vehicle", "an oral line has no vehicle")
		}
		if l.Kind == LineHydration && !hasDrug && l.Vehicle == "" {
			add(p+"vehicle", "a hydration line needs its fluid and volume")
		}
		if !finite(l.VolumeML) || l.VolumeML < 0 {
			add(p+"volume_ml", "the volume must be a positive number of mL")
		}
		if (l.Route == RouteIV || l.Route == RouteIVL) && l.DurationMin <= 0 && l.RateMLH <= 0 {
			// An order must say how fast an intravenous drug goes in
			// (ASCO/ONS chemotherapy administration safety standards,
			// Neuss MN et al. J Oncol Pract 2016;12:1262–71): a line without
			// it would give prescriptions that cannot be signed.
			add(p+"duration_min", "an intravenous line needs its duration in minutes (or its rate in rate_ml_h)")
		}
		if l.DurationMin < 0 || l.DurationMin > 14*24*60 {
			add(p+"duration_min", "the duration is a number of minutes between 0 and 14 days")
		}
		if !finite(l.RateMLH) || l.RateMLH < 0 {
			add(p+"rate_ml_h", "the rate must be a positive number of mL/h")
		}
		if l.DurationMin > 0 && l.RateMLH > 0 && l.VolumeML > 0 {
			// Both given: they must agree, or the nurse gets two answers.
			if d := l.VolumeML / l.RateMLH * 60; math.Abs(d-float64(l.DurationMin)) > 1 {
				add(p+"rate_ml_h", "%g mL at %g mL/h lasts %.0f min, not the %d min given: give one or make them agree",
					l.VolumeML, l.RateMLH, d, l.DurationMin)
			}
		}
		if utf8.RuneCountInString(l.Comments) > maxText {
			add(p+"comments", "comments are longer than %d characters", maxText)
		}
	}

	for i, cr := range c.Criteria {
		p := fmt.Sprintf("criteria[%d].", i)
		units, ok := LabUnits[cr.Lab]
		if !ok {
			add(p+"lab", "unknown lab value %q: use one of %s", cr.Lab, strings.Join(labNames(), ", "))
		} else if !contains(units, cr.Unit) {
			add(p+"unit", "%s is measured in %s, not %q", cr.Lab, strings.Join(units, " or "), cr.Unit)
		}
		switch cr.Op {
		case ">=", "<=", ">", "<":
		default:
			add(p+"op", "unknown operator %q: use >=, <=, > or <", cr.Op)
		}
		if !finite(cr.Value) || cr.Value < 0 {
			add(p+"value", "the threshold must be a positive number")
		}
		for j, d := range cr.Days {
			if !days[d] {
				add(fmt.Sprintf("%sdays[%d]", p, j), "day %d is not a day of administration of this version", d)
			}
		}
	}

	for i, cl := range c.CumulativeLimits {
		p := fmt.Sprintf("cumulative_limits[%d].", i)
		switch {
		case cl.Class == "" && NormalizeINN(cl.INN) == "":
			add(p+"class", "a cumulative limit is for a drug class or for one drug (inn): give one")
		case cl.Class != "" && cl.INN != "":
			add(p+"inn", "give a class or an inn, not both")
		case cl.Class != "" && !cl.Class.Valid():
			add(p+"class", "unknown class %q", cl.Class)
		}
		if !(cl.Limit > 0) || !finite(cl.Limit) {
			add(p+"limit", "the limit must be a positive number")
		}
		if !contains(CumulativeUnits, cl.Unit) {
			add(p+"unit", "unknown unit %q: use %s", cl.Unit, strings.Join(CumulativeUnits, ", "))
		}
	}
	if utf8.RuneCountInString(c.Source) > maxText {
		add("source", "the source is longer than %d characters", maxText)
	}
	if utf8.RuneCountInString(c.Comments) > maxText {
		add("comments", "comments are longer than %d characters", maxText)
	}
	return errs
}

// ruleErrors turns the errors of clinical.ValidateRule into field errors
// under path (the rule's own paths, e.g. age_bands[1].max_age_months, are
// relative to the rule).
func ruleErrors(op, path string, err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, ruleErrors(op, path, e)...)
		}
		return out
	}
	var fe interface{ InvalidField() (string, string) }
	if errors.As(err, &fe) {
		f, m := fe.InvalidField()
		f = strings.TrimPrefix(strings.TrimPrefix(f, "rule"), ".")
		if f != "" && !strings.HasPrefix(f, "[") {
			f = "." + f
		}
		return []error{Invalid(op, path+f, "%s", m)}
	}
	var e *Error
	if errors.As(err, &e) && e.Field != "" {
		return []error{Invalid(op, path+"."+e.Field, "%s", e.Message)}
	}
	return []error{Invalid(op, path, "%s", err.Error())}
}

func labNames() []string {
	out := make([]string, 0, len(LabUnits))
	for k := range LabUnits {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func intList(days []int) string {
	s := make([]string, len(days))
	for i, d := range days {
		s[i] = fmt.Sprint(d)
	}
	return "days " + strings.Join(s, ", ")
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
