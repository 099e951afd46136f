package clinical

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Rule kinds.
const (
	KindPerM2   = "per_m2"
	KindPerKg   = "per_kg"
	KindAUC     = "auc"
	KindFlat    = "flat"
	KindAgeBand = "age_band"
)

// RuleKinds lists the rule kinds.
var RuleKinds = []string{KindPerM2, KindPerKg, KindAUC, KindFlat, KindAgeBand}

// RuleUnits are the units a rule's dose may be in. "mcg" is accepted as a
// synonym of "µg" and printed as written.
var RuleUnits = []string{"mg", "g", "µg", "mcg", "IU", "U"}

// Defaults a rule may leave out; each is shown in the steps when used.
const (
	// DefaultInfantDivisor: 1 m² ≈ 30 kg, the usual conversion of paediatric
	// protocols (dose per kg = dose per m² ÷ 30).
	DefaultInfantDivisor = 30
	// DefaultBandTolerancePct: a computed dose is replaced by a band within
	// 5 %, the usual limit of national dose-banding schemes.
	DefaultBandTolerancePct = 5
)

// Limits on a rule's own numbers (not the patient's).
const (
	maxReasonChars   = 500
	maxAgeBandMonths = 1440 // 120 years
	maxBands         = 100
	maxAgeBands      = 50
	minRoundingStep  = 0.0001
)

// BoundBSACap bounds a BSA cap.
var BoundBSACap = Bound{0.2, 4, "m²", "BSA cap", "check the protocol (caps are usually 2 m²)"}

// ValidateRule checks a rule alone, as a protocol is saved or imported. It
// returns nil, an *Error, or several joined (errors.Join), each naming its
// field relative to the rule: "age_bands[1].max_age_months".
func ValidateRule(r Rule) error { return join(validateRule(r, "")) }

func validateRule(r Rule, px string) []error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, invalid(px+field, format, args...))
	}
	notFor := func(field string, set bool, kinds string) {
		if set {
			add(field, "%s is not used by a %s rule (only by %s): remove it or change the kind", field, r.Kind, kinds)
		}
	}

	switch r.Kind {
	case KindPerM2, KindPerKg, KindAUC, KindFlat, KindAgeBand:
	case "":
		add("kind", "the rule kind is required: per_m2, per_kg, auc, flat or age_band")
		return errs // nothing else can be checked without it
	default:
		add("kind", "unknown rule kind %q: use per_m2, per_kg, auc, flat or age_band", truncate(r.Kind))
		return errs
	}

	switch {
	case r.Unit == "":
		add("unit", "the dose unit is required: %s", strings.Join(RuleUnits, ", "))
	case !validUnit(r.Unit):
		add("unit", "unknown dose unit %q: use %s", truncate(r.Unit), strings.Join(RuleUnits, ", "))
	case r.Kind == KindAUC && r.Unit != "mg":
		add("unit", "an auc rule gives carboplatin in mg (Calvert's formula): set unit to mg")
	}

	// dose: per m², per kg or flat; not for auc and age_band.
	switch r.Kind {
	case KindPerM2, KindPerKg, KindFlat:
		if err := checkPositive(px+"dose", r.Dose, "the dose"); err != nil {
			errs = append(errs, err)
		}
	default:
		notFor("dose", r.Dose != 0, "per_m2, per_kg and flat")
	}

	// auc and gfr
	if r.Kind == KindAUC {
		if err := BoundAUC.check(px+"auc", r.AUC); err != nil {
			errs = append(errs, err)
		}
	} else {
		notFor("auc", r.AUC != 0, "auc")
	}
	method := ""
	if r.GFR != nil {
		method = r.GFR.Method
	}
	if r.Kind == KindAUC && r.GFR != nil {
		switch method {
		case "", GFRCockcroftGault, GFRSchwartzBedside, GFRCKDEPI2021, GFRMeasured:
		default:
			add("gfr.method", "unknown GFR method %q: use cockcroft_gault (the default), schwartz_bedside, ckd_epi_2021 or measured", truncate(method))
		}
		m := method
		if m == "" {
			m = GFRCockcroftGault
		}
		if err := checkWeightBasis(px+"gfr.weight_basis", m, r.GFR.WeightBasis); err != nil {
			errs = append(errs, err)
		}
		if r.GFR.CapMLMin != 0 {
			if err := BoundGFRCap.check(px+"gfr.cap_ml_min", r.GFR.CapMLMin); err != nil {
				errs = append(errs, err)
			}
		}
	} else {
		notFor("gfr", r.GFR != nil, "auc")
	}

	// BSA: per_m2, or an auc rule whose GFR is indexed to 1.73 m².
	indexed := r.Kind == KindAUC && (method == GFRSchwartzBedside || method == GFRCKDEPI2021)
	if r.Kind == KindPerM2 || indexed {
		if err := checkBSAFormula(px+"bsa_formula", r.BSAFormula); err != nil {
			errs = append(errs, err)
		}
	} else {
		notFor("bsa_formula", r.BSAFormula != "", "per_m2, and auc with an indexed GFR method")
	}
	if r.Kind == KindPerM2 {
		if r.BSACapM2 != 0 {
			if err := BoundBSACap.check(px+"bsa_cap_m2", r.BSACapM2); err != nil {
				errs = append(errs, err)
			}
		}
	} else {
		notFor("bsa_cap_m2", r.BSACapM2 != 0, "per_m2")
	}

	// infant rule: per_m2 only.
	if r.Kind == KindPerM2 && r.Infant != nil {
		in := r.Infant
		if in.BelowWeightKg == 0 && in.BelowAgeMonths == 0 {
			add("infant", "the infant rule needs a threshold: set below_weight_kg, below_age_months or both")
		}
		if in.BelowWeightKg != 0 {
			if err := checkRange(px+"infant.below_weight_kg", in.BelowWeightKg, BoundWeightKg.Min, BoundWeightKg.Max, "kg", "the weight threshold"); err != nil {
				errs = append(errs, err)
			}
		}
		if in.BelowAgeMonths != 0 {
			if err := checkRange(px+"infant.below_age_months", in.BelowAgeMonths, 1, maxAgeBandMonths, "months", "the age threshold"); err != nil {
				errs = append(errs, err)
			}
		}
		if in.Divisor != 0 {
			if err := checkRange(px+"infant.divisor", in.Divisor, 1, 100, "kg/m²", "the divisor"); err != nil {
				errs = append(errs, err)
			}
		}
	} else {
		notFor("infant", r.Infant != nil, "per_m2")
	}

	// age bands
	if r.Kind == KindAgeBand {
		errs = append(errs, validateAgeBands(r.AgeBands, px)...)
	} else {
		notFor("age_bands", len(r.AgeBands) > 0, "age_band")
	}

	// rounding step and maximum dose
	if r.RoundingStep != 0 {
		if err := checkPositive(px+"rounding_step", r.RoundingStep, "the rounding step"); err != nil {
			errs = append(errs, err)
		} else if r.RoundingStep < minRoundingStep {
			add("rounding_step", "the rounding step %s %s is below %s: no dose is measured that finely", g(r.RoundingStep), r.Unit, g(minRoundingStep))
		}
	}
	grid := func(field string, x float64, what string) {
		if r.RoundingStep > 0 && !isMultiple(x, r.RoundingStep) {
			add(field, "%s %s %s is not a multiple of the rounding step %s %s: a dose rounded to the step could not be given", what, g(x), r.Unit, g(r.RoundingStep), r.Unit)
		} else if r.RoundingStep == 0 && !onDisplayGrid(x) {
			add(field, "%s %s %s has more digits than the display precision (%s %s at this size): write %s", what, g(x), r.Unit, g(DisplayStep(x)), r.Unit, g(roundDisplay(x)))
		}
	}
	if r.MaxDose != 0 {
		if err := checkPositive(px+"max_dose", r.MaxDose, "the maximum dose"); err != nil {
			errs = append(errs, err)
		} else if r.RoundingStep >= 0 {
			// A maximum off the rounding grid could be exceeded by the
			// rounding of a dose just below it.
			grid("max_dose", r.MaxDose, "the maximum dose")
		}
	}

	// dose banding
	if len(r.Bands) > maxBands {
		add("bands", "%d bands: at most %d", len(r.Bands), maxBands)
	} else {
		for i, b := range r.Bands {
			f := func() string { return fmt.Sprintf("bands[%d]", i) }
			if err := checkPositive("", b, "the band dose"); err != nil {
				errs = append(errs, at(err, px+f()))
				continue
			}
			if i > 0 && !(b > r.Bands[i-1]) {
				add(f(), "bands must be in increasing order without repeats: %s %s follows %s %s", g(b), r.Unit, g(r.Bands[i-1]), r.Unit)
			}
			if r.MaxDose > 0 && b > r.MaxDose {
				add(f(), "the band %s %s is above the maximum dose %s %s: no band may exceed it", g(b), r.Unit, g(r.MaxDose), r.Unit)
			}
		}
	}
	if r.BandTolerancePct != 0 {
		if len(r.Bands) == 0 {
			add("band_tolerance_pct", "band_tolerance_pct is set but there are no bands: remove it or add bands")
		} else if err := checkRange(px+"band_tolerance_pct", r.BandTolerancePct, 0.1, 50, "%", "the band tolerance"); err != nil {
			errs = append(errs, err)
		}
	}

	// adjustment
	if adj := r.Adjustment; adj != nil {
		switch {
		case adj.Percent == nil && adj.Value == nil:
			add("adjustment", "an adjustment needs a percent (e.g. -25) or a value (the dose to give)")
		case adj.Percent != nil && adj.Value != nil:
			add("adjustment.value", "an adjustment is a percent or a value, not both: remove one")
		case adj.Percent != nil:
			p := *adj.Percent
			switch {
			case !finite(p) || p <= -100 || p > 100:
				add("adjustment.percent", "the adjustment %s %% is outside the accepted range (more than -100 %%, at most +100 %%): to stop a drug, cancel the line", g(p))
			case p == 0:
				add("adjustment.percent", "a 0 %% adjustment changes nothing: remove the adjustment")
			}
		case adj.Value != nil:
			v := *adj.Value
			if err := checkPositive(px+"adjustment.value", v, "the adjusted dose"); err != nil {
				errs = append(errs, err)
			} else if r.MaxDose > 0 && v > r.MaxDose {
				add("adjustment.value", "the adjusted dose %s %s is above the maximum dose %s %s of this line", g(v), r.Unit, g(r.MaxDose), r.Unit)
			} else {
				grid("adjustment.value", v, "the adjusted dose")
			}
		}
		reason := strings.TrimSpace(adj.Reason)
		switch {
		case reason == "":
			add("adjustment.reason", "the reason for the adjustment is required (e.g. \"grade 2 neuropathy\")")
		case utf8.RuneCountInString(reason) > maxReasonChars:
			add("adjustment.reason", "the reason is longer than %d characters", maxReasonChars)
		}
	}
	return errs
}

func validUnit(u string) bool {
	for _, x := range RuleUnits {
		if u == x {
			return true
		}
	}
	return false
}

func validateAgeBands(bands []AgeBand, px string) []error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, invalid(px+field, format, args...))
	}
	if len(bands) == 0 {
		add("age_bands", "an age_band rule needs its table: at least one band {min_age_months, max_age_months, dose}")
		return errs
	}
	if len(bands) > maxAgeBands {
		add("age_bands", "%d age bands: at most %d", len(bands), maxAgeBands)
		return errs
	}
	for i, b := range bands {
		f := bandPath(i)
		if !finite(b.MinAgeMonths) || b.MinAgeMonths < 0 || b.MinAgeMonths > maxAgeBandMonths {
			add(f+"min_age_months", "the band's lower age %s months is outside 0–%d months", g(b.MinAgeMonths), maxAgeBandMonths)
		}
		switch {
		case b.MaxAgeMonths == 0:
			if i < len(bands)-1 {
				add(f+"max_age_months", "only the last band may be open-ended (max_age_months 0 or absent): give this band its upper age")
			}
		case !finite(b.MaxAgeMonths) || b.MaxAgeMonths > maxAgeBandMonths || b.MaxAgeMonths <= b.MinAgeMonths:
			add(f+"max_age_months", "the band's upper age %s months must be above its lower age %s months and at most %d months", g(b.MaxAgeMonths), g(b.MinAgeMonths), maxAgeBandMonths)
		}
		if i > 0 {
			prev := bands[i-1]
			if prev.MaxAgeMonths != 0 && b.MinAgeMonths < prev.MaxAgeMonths {
				add(f+"min_age_months", "the band starts at %s months, inside the previous band [%s, %s): bands must be in increasing order without overlap", g(b.MinAgeMonths), g(prev.MinAgeMonths), g(prev.MaxAgeMonths))
			}
		}
		if err := checkPositive("", b.Dose, "the band's dose"); err != nil {
			errs = append(errs, at(err, px+f+"dose"))
		}
	}
	return errs
}

// bandPath is "age_bands[i]." without an allocation for the usual tables.
func bandPath(i int) string {
	if i < len(bandPaths) {
		return bandPaths[i]
	}
	return fmt.Sprintf("age_bands[%d].", i)
}

var bandPaths = func() []string {
	out := make([]string, maxAgeBands)
	for i := range out {
		out[i] = fmt.Sprintf("age_bands[%d].", i)
	}
	return out
}()

// at sets the field of an *Error made by a checker called without it (the
// path is built only when there is an error to report).
func at(err error, field string) error {
	if e, ok := err.(*Error); ok {
		e.Field = field
	}
	return err
}

// prefixed puts px before the field of each error (fresh *Error values).
func prefixed(px string, errs []error) []error {
	for _, err := range errs {
		for _, e := range FieldErrors(err) {
			e.Field = px + e.Field
		}
	}
	return errs
}
