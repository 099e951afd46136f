package clinical

import (
	"math"
	"strings"
)

// Dose computes a protocol line's dose for a patient. The order is fixed and
// every stage is a step:
//
//  1. the rule's dose: per m² (BSA, its cap, the infant rule), per kg, AUC
//     (GFR, its cap, Calvert), flat, or from the age band;
//  2. the maximum single dose;
//  3. the prescriber's adjustment (a percent of the dose after the cap, or
//     the value to give), then the maximum again;
//  4. banding, else rounding to the rule's step or the display precision.
//
// Errors name the field in the request {"rule": …, "patient": …}:
// "rule.age_bands[1].dose", "patient.weight_kg".
func Dose(rule Rule, p Patient) (Result, error) {
	// Checked without a prefix, which is added only to errors: the paths
	// are not built on the path of a valid request.
	errs := prefixed("rule.", validateRule(rule, ""))
	errs = append(errs, prefixed("patient.", checkPatient(p, ""))...)
	if len(errs) > 0 {
		return Result{}, join(errs)
	}
	d := doser{r: rule, p: p, facts: &DoseFacts{Kind: rule.Kind}}
	d.st.init(8)
	defer d.st.release()
	dose, err := d.base()
	if err != nil {
		return Result{}, err
	}
	d.facts.CalculatedDose = dose
	dose = d.maxDose(dose)
	dose = d.adjust(dose)
	d.facts.DoseBeforeRounding = dose
	if !finite(dose) || !(dose > 0) {
		// Bounds on inputs and rules make this unreachable; a dose that is
		// not a positive number must still never leave this function.
		return Result{}, invalid("rule", "the dose could not be computed (%v): check the rule's numbers", dose)
	}
	dose, err = d.finish(dose)
	if err != nil {
		return Result{}, err
	}
	return Result{Value: dose, Unit: rule.Unit, Steps: d.st.done(), Facts: d.facts}, nil
}

type doser struct {
	r     Rule
	p     Patient
	st    stepper
	facts *DoseFacts
}

// need reports the patient fields the rule needs and lacks.
func need(field string, missing bool, format string, args ...any) []error {
	if !missing {
		return nil
	}
	return []error{invalid("patient."+field, format, args...)}
}

// base is stage 1.
func (d *doser) base() (float64, error) {
	r, p := d.r, d.p
	u := r.Unit
	switch r.Kind {
	case KindPerM2:
		return d.perM2()

	case KindPerKg:
		if errs := need("weight_kg", p.WeightKg == 0, "the weight in kg is required by a per_kg rule"); errs != nil {
			return 0, join(errs)
		}
		d.facts.WeightKg = ptr(p.WeightKg)
		v := clean(r.Dose * p.WeightKg)
		d.st.add("dose.per_kg",
			"Dose = {} {} × {} kg = {} {}", "Dose = {} {} × {} kg = {} {}",
			a(exact(r.Dose), unit(perKgUnit(u)), exact(p.WeightKg), v, unit(u)), "dose_per_kg × weight_kg",
			map[string]float64{"dose_per_kg": r.Dose, "weight_kg": p.WeightKg}, v, u)
		return v, nil

	case KindAUC:
		return d.auc()

	case KindFlat:
		d.st.add("dose.flat", "Dose fixe = {} {}", "Flat dose = {} {}",
			a(exact(r.Dose), unit(u)), "dose", map[string]float64{"dose": r.Dose}, r.Dose, u)
		return r.Dose, nil

	case KindAgeBand:
		if errs := need("age_years", p.AgeYears == nil, "the age is required by an age_band rule"); errs != nil {
			return 0, join(errs)
		}
		months := clean(*p.AgeYears * 12)
		d.facts.AgeMonths = ptr(months)
		for i, b := range r.AgeBands {
			if months >= b.MinAgeMonths && (b.MaxAgeMonths == 0 || months < b.MaxAgeMonths) {
				d.facts.AgeBand = ptr(i)
				hi := tr{"∞", "∞"}
				if b.MaxAgeMonths != 0 {
					hi = tr{frenchDecimal(formatExact(b.MaxAgeMonths)), formatExact(b.MaxAgeMonths)}
				}
				d.st.add("dose.age_band",
					"Âge {} mois : tranche [{} ; {}[ mois → {} {}",
					"Age {} months: band [{}, {}) months → {} {}",
					a(months, exact(b.MinAgeMonths), hi, exact(b.Dose), unit(u)),
					"age_bands[i].dose where min_age_months ≤ age_months < max_age_months",
					map[string]float64{"age_months": months, "band": float64(i)}, b.Dose, u)
				return b.Dose, nil
			}
		}
		var list []string
		for _, b := range r.AgeBands {
			if b.MaxAgeMonths == 0 {
				list = append(list, "["+g(b.MinAgeMonths)+", ∞)")
			} else {
				list = append(list, "["+g(b.MinAgeMonths)+", "+g(b.MaxAgeMonths)+")")
			}
		}
		return 0, invalid("patient.age_years", "the age %s months falls in no band of this rule (%s months): check the age or the protocol", formatSig(months, 4), strings.Join(list, ", "))
	}
	return 0, invalid("rule.kind", "unknown rule kind %q", truncate(r.Kind))
}

// perM2 is stage 1 of a per_m2 rule: the infant rule, else BSA and its cap.
func (d *doser) perM2() (float64, error) {
	r, p, u := d.r, d.p, d.r.Unit
	var errs []error
	errs = append(errs, need("weight_kg", p.WeightKg == 0, "the weight in kg is required by a per_m2 rule")...)
	if r.Infant != nil && r.Infant.BelowAgeMonths > 0 {
		errs = append(errs, need("age_years", p.AgeYears == nil, "the age is required: this rule's infant rule applies below %s months", g(r.Infant.BelowAgeMonths))...)
	}
	if len(errs) > 0 {
		return 0, join(errs)
	}
	if in := r.Infant; in != nil {
		var months float64
		if in.BelowAgeMonths > 0 {
			months = clean(*p.AgeYears * 12)
			d.facts.AgeMonths = ptr(months)
		}
		byWeight := in.BelowWeightKg > 0 && p.WeightKg < in.BelowWeightKg
		byAge := in.BelowAgeMonths > 0 && months < in.BelowAgeMonths
		var whyFR, whyEN []string
		if in.BelowWeightKg > 0 {
			cmp := "≥"
			if byWeight {
				cmp = "<"
			}
			fr, en := render("poids {} kg "+cmp+" {} kg", "weight {} kg "+cmp+" {} kg", a(exact(p.WeightKg), exact(in.BelowWeightKg)))
			whyFR, whyEN = append(whyFR, fr), append(whyEN, en)
		}
		if in.BelowAgeMonths > 0 {
			cmp := "≥"
			if byAge {
				cmp = "<"
			}
			fr, en := render("âge {} mois "+cmp+" {} mois", "age {} months "+cmp+" {} months", a(months, exact(in.BelowAgeMonths)))
			whyFR, whyEN = append(whyFR, fr), append(whyEN, en)
		}
		inputs := map[string]float64{"weight_kg": p.WeightKg, "below_weight_kg": in.BelowWeightKg,
			"below_age_months": in.BelowAgeMonths}
		if in.BelowAgeMonths > 0 {
			inputs["age_months"] = months
		}
		if byWeight || byAge {
			div := in.Divisor
			if div == 0 {
				div = DefaultInfantDivisor
			}
			perKg := clean(r.Dose / div)
			inputs["dose_per_m2"], inputs["divisor"] = r.Dose, div
			d.st.add("dose.infant_rule",
				"Règle nourrisson ({}) : dose par kg = {} {} ÷ {} = {} {}",
				"Infant rule ({}): dose per kg = {} {} ÷ {} = {} {}",
				a(tr{strings.Join(whyFR, ", "), strings.Join(whyEN, ", ")}, exact(r.Dose), unit(perM2Unit(u)), exact(div), perKg, unit(perKgUnit(u))),
				"dose_per_m2 / divisor", inputs, perKg, perKgUnit(u))
			d.facts.InfantRule = true
			d.facts.WeightKg = ptr(p.WeightKg)
			v := clean(perKg * p.WeightKg)
			d.st.add("dose.per_kg",
				"Dose = {} {} × {} kg = {} {}", "Dose = {} {} × {} kg = {} {}",
				a(perKg, unit(perKgUnit(u)), exact(p.WeightKg), v, unit(u)), "dose_per_kg × weight_kg",
				map[string]float64{"dose_per_kg": perKg, "weight_kg": p.WeightKg}, v, u)
			return v, nil
		}
		d.st.add("dose.infant_rule",
			"Règle nourrisson non appliquée ({})", "Infant rule not applied ({})",
			a(tr{strings.Join(whyFR, ", "), strings.Join(whyEN, ", ")}), "", inputs, r.Dose, perM2Unit(u))
	}
	if p.HeightCm == 0 {
		return 0, invalid("patient.height_cm", "the height in cm is required by a per_m2 rule (for the body surface area)")
	}
	bsa := d.bsa()
	if r.BSACapM2 > 0 {
		if bsa > r.BSACapM2 {
			d.st.add("bsa.cap",
				"Surface corporelle plafonnée à {} m² (surface calculée {} m²)",
				"Body surface area capped at {} m² (calculated {} m²)",
				a(exact(r.BSACapM2), bsa), "min(bsa_m2, bsa_cap_m2)",
				map[string]float64{"bsa_m2": bsa, "bsa_cap_m2": r.BSACapM2}, r.BSACapM2, "m²")
			bsa = r.BSACapM2
			d.facts.BSACapped = true
		} else {
			d.st.add("bsa.cap",
				"Plafond de surface corporelle {} m² non atteint (surface {} m²)",
				"Body surface area cap {} m² not reached (BSA {} m²)",
				a(exact(r.BSACapM2), bsa), "min(bsa_m2, bsa_cap_m2)",
				map[string]float64{"bsa_m2": bsa, "bsa_cap_m2": r.BSACapM2}, bsa, "m²")
		}
	}
	d.facts.BSAM2 = ptr(bsa)
	v := clean(r.Dose * bsa)
	d.st.add("dose.per_m2",
		"Dose = {} {} × {} m² = {} {}", "Dose = {} {} × {} m² = {} {}",
		a(exact(r.Dose), unit(perM2Unit(u)), bsa, v, unit(u)), "dose_per_m2 × bsa_m2",
		map[string]float64{"dose_per_m2": r.Dose, "bsa_m2": bsa}, v, u)
	return v, nil
}

// bsa computes the patient's BSA with the rule's formula (checked inputs).
func (d *doser) bsa() float64 {
	f := d.r.BSAFormula
	if f == "" {
		f = BSAMosteller
	}
	v := bsaStep(&d.st, f, d.p.HeightCm, d.p.WeightKg)
	d.facts.BSAFormula = f
	d.facts.BSACalculatedM2 = ptr(v)
	d.facts.BSAM2 = ptr(v)
	return v
}

// auc is stage 1 of an auc rule: the GFR, its cap, and Calvert.
func (d *doser) auc() (float64, error) {
	r, p := d.r, d.p
	var gr GFRRule
	if r.GFR != nil {
		gr = *r.GFR
	}
	method := gr.Method
	if method == "" {
		method = GFRCockcroftGault
	}
	d.facts.GFRMethod = method
	var gfr float64
	switch method {
	case GFRMeasured:
		if p.GFRMLMin == 0 {
			return 0, invalid("patient.gfr_ml_min", "the measured GFR in mL/min is required by this rule (gfr.method measured); 0 cannot be told from a missing value: for an anuric patient, prescribe a flat dose computed with AUC × 25")
		}
		gfr = p.GFRMLMin
		d.st.add("gfr.measured", "DFG mesuré = {} mL/min", "Measured GFR = {} mL/min",
			a(exact(gfr)), "gfr_ml_min", map[string]float64{"gfr_ml_min": gfr}, gfr, UnitMLMin)
	default:
		errs := requireRenal(method, gr.WeightBasis, p, "patient.")
		indexed := method != GFRCockcroftGault
		if indexed {
			errs = append(errs, need("height_cm", p.HeightCm == 0 && method != GFRSchwartzBedside, "the height in cm is required to de-index the GFR (body surface area)")...)
			errs = append(errs, need("weight_kg", p.WeightKg == 0, "the weight in kg is required to de-index the GFR (body surface area)")...)
		}
		if len(errs) > 0 {
			return 0, join(errs)
		}
		v, _, err := renal(&d.st, method, gr.WeightBasis, p, "patient.")
		if err != nil {
			return 0, err
		}
		gfr = v
		if indexed {
			bsa := d.bsa()
			gfr = clean(v * bsa / 1.73)
			d.st.add("gfr.deindex",
				"DFG désindexé = {} mL/min/1,73 m² × {} m² / 1,73 = {} mL/min",
				"De-indexed GFR = {} mL/min/1.73 m² × {} m² / 1.73 = {} mL/min",
				a(v, bsa, gfr), "gfr_indexed × bsa_m2 / 1.73",
				map[string]float64{"gfr_indexed": v, "bsa_m2": bsa}, gfr, UnitMLMin)
		}
	}
	d.facts.GFRCalculatedMLMin = ptr(gfr)
	dose, used, capped := calvert(&d.st, r.AUC, gfr, gr.CapMLMin)
	d.facts.GFRMLMin = ptr(used)
	d.facts.GFRCapped = capped
	return dose, nil
}

// maxDose is stage 2.
func (d *doser) maxDose(dose float64) float64 {
	m, u := d.r.MaxDose, d.r.Unit
	if m <= 0 {
		return dose
	}
	if dose > m {
		d.facts.MaxDoseApplied = true
		d.st.add("dose.max_dose",
			"Dose plafonnée à {} {} (dose calculée {} {})",
			"Dose capped at {} {} (calculated dose {} {})",
			a(exact(m), unit(u), dose, unit(u)), "min(dose, max_dose)",
			map[string]float64{"dose": dose, "max_dose": m}, m, u)
		return m
	}
	d.st.add("dose.max_dose",
		"Dose maximale {} {} non atteinte (dose calculée {} {})",
		"Maximum dose {} {} not reached (calculated dose {} {})",
		a(exact(m), unit(u), dose, unit(u)), "min(dose, max_dose)",
		map[string]float64{"dose": dose, "max_dose": m}, dose, u)
	return dose
}

// adjust is stage 3.
func (d *doser) adjust(dose float64) float64 {
	adj, u := d.r.Adjustment, d.r.Unit
	if adj == nil {
		return dose
	}
	reason := strings.TrimSpace(adj.Reason)
	d.facts.Adjusted = true
	d.facts.AdjustmentReason = reason
	if adj.Value != nil {
		v := *adj.Value
		d.st.add("dose.adjustment",
			"Dose modifiée par le prescripteur : {} {} au lieu de {} {} ({} %) — motif : {}",
			"Dose set by the prescriber: {} {} instead of {} {} ({}%) — reason: {}",
			a(exact(v), unit(u), dose, unit(u), plus(clean((v-dose)/dose*100)), reason),
			"value", map[string]float64{"dose": dose, "value": v}, v, u)
		return v
	}
	pct := *adj.Percent
	v := clean(dose * (1 + pct/100))
	d.st.add("dose.adjustment",
		"Modification {} % : {} {} × {} = {} {} — motif : {}",
		"Adjustment {}%: {} {} × {} = {} {} — reason: {}",
		a(plusExact(pct), dose, unit(u), exact(clean(1+pct/100)), v, unit(u), reason),
		"dose × (1 + percent / 100)", map[string]float64{"dose": dose, "percent": pct}, v, u)
	if m := d.r.MaxDose; m > 0 && v > m {
		d.facts.MaxDoseApplied = true
		d.st.add("dose.max_dose",
			"Dose plafonnée à {} {} (dose modifiée {} {})",
			"Dose capped at {} {} (adjusted dose {} {})",
			a(exact(m), unit(u), v, unit(u)), "min(dose, max_dose)",
			map[string]float64{"dose": v, "max_dose": m}, m, u)
		return m
	}
	return v
}

// finish is stage 4: banding, else rounding; then the final step.
func (d *doser) finish(dose float64) (float64, error) {
	r, u := d.r, d.r.Unit
	final := dose
	switch {
	case r.Adjustment != nil && r.Adjustment.Value != nil:
		d.st.add("dose.rounding",
			"Valeur prescrite donnée telle quelle (ni bande ni arrondi)",
			"Prescribed value given as is (no band, no rounding)",
			nil, "", nil, dose, u)
	case len(r.Bands) > 0 && d.band(dose):
		final = d.st.last().Value
	default:
		stepSize, fr, en := r.RoundingStep, "Arrondi au pas de {} {} : {} {} → {} {} ({} {}, {} %)", "Rounded to the {} {} step: {} {} → {} {} ({} {}, {}%)"
		code := "dose.rounding"
		if stepSize == 0 {
			stepSize = DisplayStep(dose)
			code = "dose.precision"
			fr = "Arrondi à la précision d'affichage ({} {}) : {} {} → {} {} ({} {}, {} %)"
			en = "Rounded to display precision ({} {}): {} {} → {} {} ({} {}, {}%)"
		}
		final = roundToStep(dose, stepSize)
		d.facts.RoundingStep = stepSize
		if final <= 0 {
			return 0, invalid("rule.rounding_step", "rounding %s %s to the %s %s step gives 0: the step is too coarse for this dose", formatSig(dose, 4), u, g(stepSize), u)
		}
		// Never more than half a step, never above the maximum: both hold
		// by construction (ValidateRule puts max_dose on the grid); this
		// guards against a future change breaking them silently.
		if math.Abs(final-dose) > stepSize/2*(1+1e-9) || (r.MaxDose > 0 && final > r.MaxDose) {
			return 0, invalid("rule.rounding_step", "rounding %s %s to the %s %s step would give %s %s, which breaks a rounding rule: report this", formatSig(dose, 6), u, g(stepSize), u, g(final), u)
		}
		diff := clean(final - dose)
		if diff == 0 {
			fr, en = "Dose {} {} déjà au pas de {} {} : pas d'arrondi", "Dose {} {} already on the {} {} step: no rounding"
			d.st.add(code, fr, en, a(exact(final), unit(u), exact(stepSize), unit(u)),
				"round(dose / step) × step", map[string]float64{"dose": dose, "step": stepSize}, final, u)
			break
		}
		d.st.add(code, fr, en,
			a(exact(stepSize), unit(u), sig6(dose), unit(u), exact(final), unit(u), plus(diff), unit(u), plus(clean(diff/dose*100))),
			"round(dose / step) × step", map[string]float64{"dose": dose, "step": stepSize}, final, u)
	}
	d.st.add("dose.final", "Dose finale = {} {}", "Final dose = {} {}",
		a(exact(final), unit(u)), "", nil, final, u)
	return final, nil
}

// band replaces dose by the nearest band within the tolerance (the lower
// of two equally near); it reports whether it did, with a step either way.
func (d *doser) band(dose float64) bool {
	r, u := d.r, d.r.Unit
	tol := r.BandTolerancePct
	if tol == 0 {
		tol = DefaultBandTolerancePct
	}
	best := r.Bands[0]
	for _, b := range r.Bands[1:] {
		if math.Abs(b-dose) < math.Abs(best-dose) {
			best = b
		}
	}
	diff := clean((best - dose) / dose * 100)
	inputs := map[string]float64{"dose": dose, "band": best, "tolerance_pct": tol}
	if math.Abs(diff) <= tol {
		d.facts.Banded = true
		d.st.add("dose.banding",
			"Bande de dose {} {} (dose calculée {} {}, écart {} % dans la tolérance de {} %)",
			"Dose band {} {} (calculated dose {} {}, difference {}% within the {}% tolerance)",
			a(exact(best), unit(u), dose, unit(u), plus(diff), exact(tol)),
			"nearest band if |band − dose| / dose ≤ tolerance", inputs, best, u)
		return true
	}
	d.st.add("dose.banding",
		"Aucune bande à moins de {} % de {} {} (bande la plus proche {} {}, écart {} %) : dose calculée conservée",
		"No band within {}% of {} {} (nearest band {} {}, difference {}%): calculated dose kept",
		a(exact(tol), dose, unit(u), exact(best), unit(u), plus(diff)),
		"nearest band if |band − dose| / dose ≤ tolerance", inputs, dose, u)
	return false
}

// perM2Unit and perKgUnit spell "unit/m²" and "unit/kg" without building a
// string for the usual units.
func perM2Unit(u string) string {
	switch u {
	case "mg":
		return "mg/m²"
	case "µg":
		return "µg/m²"
	case "g":
		return "g/m²"
	case "IU":
		return "IU/m²"
	case "U":
		return "U/m²"
	}
	return u + "/m²"
}

func perKgUnit(u string) string {
	switch u {
	case "mg":
		return "mg/kg"
	case "µg":
		return "µg/kg"
	case "g":
		return "g/kg"
	case "IU":
		return "IU/kg"
	case "U":
		return "U/kg"
	}
	return u + "/kg"
}
