package clinical

import (
	"errors"
	"fmt"
	"math"
)

// Bound is the plausible range of a measured input. A value outside it is
// refused, with the bound in the message: it is a typing or unit error far
// more often than a real patient (docs/calc.md, "Plausibility bounds").
type Bound struct {
	Min, Max float64
	Unit     string
	// What the value is, for messages ("height", "weight").
	What string
	// Hint says what to check when the value is out of range.
	Hint string
}

// The plausibility bounds of the inputs. They are wide on purpose: they
// catch impossible values and unit mix-ups (metres for centimetres, grams
// for kilograms, mg/dL for µmol/L), not unusual patients.
var (
	BoundHeightCm = Bound{20, 250, "cm", "height", "check the measurement and that it is in centimetres"}
	BoundWeightKg = Bound{0.3, 300, "kg", "weight", "check the measurement and that it is in kilograms"}
	BoundAgeYears = Bound{0, 120, "years", "age", "check the birth date"}
	// BoundCreatinineUmolL also bounds creatinine given in mg/dL, after
	// conversion (0.057–22.6 mg/dL).
	BoundCreatinineUmolL = Bound{5, 2000, "µmol/L", "serum creatinine", "check the result and its unit (µmol/L or mg/dL)"}
	// BoundGFRMLMin bounds a measured GFR given as an input (not an
	// estimated one, which a GFR cap limits instead). 0 is allowed in a
	// Calvert request (anuric patient: dose = AUC × 25).
	BoundGFRMLMin = Bound{0, 250, "mL/min", "GFR", "check the measurement and that it is in mL/min (not indexed to 1.73 m²)"}
	// BoundAUC bounds a carboplatin target AUC.
	BoundAUC = Bound{0.5, 20, "mg/mL·min", "target AUC", "check the protocol"}
)

// CreatinineUmolPerMgDL converts serum creatinine: 1 mg/dL = 88.42 µmol/L
// (molar mass of creatinine 113.12 g/mol).
const CreatinineUmolPerMgDL = 88.42

// invalid is a field error: the field, and why, saying what to do.
func invalid(field, format string, args ...any) error {
	return &Error{Field: field, Message: fmt.Sprintf(format, args...)}
}

// join returns nil, the one error, or all of them (errors.Join): the root
// package and `relais calc` unwrap a joined error into its field errors.
func join(errs []error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return errors.Join(errs...)
}

// check refuses a value that is zero (missing), negative, not finite or out
// of b. Zero means "not given" everywhere in Patient, so it is reported as
// missing.
func (b Bound) check(field string, x float64) error {
	switch {
	case !finite(x):
		return invalid(field, "the %s is not a number", b.What)
	case x == 0 && b.Min > 0:
		return invalid(field, "the %s is missing (0): enter it in %s", b.What, b.Unit)
	case x < 0:
		return invalid(field, "the %s cannot be negative (%s %s)", b.What, g(x), b.Unit)
	case x < b.Min || x > b.Max:
		return invalid(field, "the %s %s %s is outside the plausible range %s–%s %s: %s", b.What, g(x), b.Unit, g(b.Min), g(b.Max), b.Unit, b.Hint)
	}
	return nil
}

// g prints a number for an error message.
func g(x float64) string { return formatExact(x) }

// checkPatient checks the plausibility of every value the patient carries,
// used by the rule or not: an impossible height is an error in the record
// even for a flat dose. prefix is "patient." in Dose, "" in GFR.
func checkPatient(p Patient, prefix string) []error {
	var errs []error
	if p.AgeYears != nil {
		if err := checkAge(prefix+"age_years", *p.AgeYears); err != nil {
			errs = append(errs, err)
		}
	}
	if p.Sex != "" && p.Sex != "M" && p.Sex != "F" {
		errs = append(errs, invalid(prefix+"sex", "sex %q is not M or F: write M (male) or F (female), as the renal formulas need", truncate(p.Sex)))
	}
	if p.HeightCm != 0 {
		if err := BoundHeightCm.check(prefix+"height_cm", p.HeightCm); err != nil {
			errs = append(errs, err)
		}
	}
	if p.WeightKg != 0 {
		if err := BoundWeightKg.check(prefix+"weight_kg", p.WeightKg); err != nil {
			errs = append(errs, err)
		}
	}
	if p.CreatinineUmolL != 0 && p.CreatinineMgDL != 0 {
		errs = append(errs, invalid(prefix+"creatinine_mg_dl", "serum creatinine is given twice (creatinine_umol_l and creatinine_mg_dl): give it in one unit only"))
	} else if p.CreatinineUmolL != 0 {
		if err := BoundCreatinineUmolL.check(prefix+"creatinine_umol_l", p.CreatinineUmolL); err != nil {
			errs = append(errs, err)
		}
	} else if p.CreatinineMgDL != 0 {
		if err := checkCreatinineMgDL(prefix+"creatinine_mg_dl", p.CreatinineMgDL); err != nil {
			errs = append(errs, err)
		}
	}
	if p.GFRMLMin != 0 {
		if err := BoundGFRMLMin.check(prefix+"gfr_ml_min", p.GFRMLMin); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

func checkAge(field string, age float64) error {
	switch {
	case !finite(age):
		return invalid(field, "the age is not a number")
	case age < 0:
		return invalid(field, "the age cannot be negative (%s years): check the birth date", g(age))
	case age > BoundAgeYears.Max:
		return invalid(field, "the age %s years is outside the plausible range 0–%s years: check the birth date", g(age), g(BoundAgeYears.Max))
	}
	return nil
}

func checkCreatinineMgDL(field string, mgdl float64) error {
	b := BoundCreatinineUmolL
	switch {
	case !finite(mgdl):
		return invalid(field, "serum creatinine is not a number")
	case mgdl < 0:
		return invalid(field, "serum creatinine cannot be negative (%s mg/dL)", g(mgdl))
	}
	u := mgdl * CreatinineUmolPerMgDL
	if u < b.Min || u > b.Max {
		return invalid(field, "serum creatinine %s mg/dL is outside the plausible range %s–%s mg/dL (%s–%s µmol/L): check the result and its unit (mg/dL or µmol/L)",
			g(mgdl), formatSig(b.Min/CreatinineUmolPerMgDL, 2), formatSig(b.Max/CreatinineUmolPerMgDL, 3), g(b.Min), g(b.Max))
	}
	return nil
}

// truncate shortens a user's string for an error message.
func truncate(s string) string {
	r := []rune(s)
	if len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return s
}

// checkRange refuses x outside [lo, hi] (a rule's number, not a patient's).
func checkRange(field string, x, lo, hi float64, u, what string) error {
	if !finite(x) || x < lo || x > hi {
		return invalid(field, "%s %s %s is outside the accepted range %s–%s %s", what, g(x), u, g(lo), g(hi), u)
	}
	return nil
}

// checkPositive refuses x ≤ 0, not finite or above maxRuleNumber; zero is
// reported as missing.
func checkPositive(field string, x float64, what string) error {
	switch {
	case math.IsNaN(x) || math.IsInf(x, 0):
		return invalid(field, "%s is not a number", what)
	case x == 0:
		return invalid(field, "%s is missing (0)", what)
	case x < 0:
		return invalid(field, "%s cannot be negative (%s)", what, g(x))
	case x > maxRuleNumber:
		return invalid(field, "%s %s is implausibly large (above %s): check the value and its unit", what, g(x), g(maxRuleNumber))
	}
	return nil
}

// maxRuleNumber bounds a rule's doses, caps, bands and steps: far above any
// real dose in any unit (aldesleukin, 600 000 IU/kg, is 6 × 10⁷ IU at
// 100 kg), low enough that no product of plausible inputs overflows.
const maxRuleNumber = 1e9
