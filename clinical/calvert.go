package clinical

// BoundGFRCap bounds the GFR cap a protocol or a request may set.
var BoundGFRCap = Bound{10, 250, "mL/min", "GFR cap", "check the protocol (caps are usually 125 or 150 mL/min)"}

// Calvert computes a carboplatin dose in mg by Calvert's formula,
// dose = AUC × (GFR + 25), from the target AUC in mg/mL·min and the GFR in
// mL/min (not indexed to 1.73 m²). capMLMin > 0 caps the GFR first (e.g.
// 125 mL/min); 0 means no cap. A GFR of 0 (anuric patient) is accepted.
//
// Calvert AH, Newell DR, Gumbrell LA, et al. Carboplatin dosage:
// prospective evaluation of a simple formula based on renal function.
// J Clin Oncol 1989;7:1748–56.
//
// The dose is not rounded: a dose rule of kind auc rounds it.
func Calvert(auc, gfrMLMin, capMLMin float64) (Result, error) {
	var errs []error
	if err := BoundAUC.check("auc", auc); err != nil {
		errs = append(errs, err)
	}
	if err := BoundGFRMLMin.check("gfr_ml_min", gfrMLMin); err != nil {
		errs = append(errs, err)
	}
	if capMLMin != 0 {
		if err := BoundGFRCap.check("gfr_cap_ml_min", capMLMin); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return Result{}, join(errs)
	}
	st := newStepper(2)
	dose, _, _ := calvert(st, auc, gfrMLMin, capMLMin)
	return Result{Value: dose, Unit: "mg", Steps: st.done()}, nil
}

// calvert applies the GFR cap and the formula to checked inputs, as steps
// of st. It returns the dose, the GFR used, and whether the cap applied.
func calvert(st *stepper, auc, gfr, capMLMin float64) (float64, float64, bool) {
	used, capped := gfr, false
	if capMLMin > 0 {
		if gfr > capMLMin {
			used, capped = capMLMin, true
			st.add("gfr.cap",
				"DFG plafonné à {} mL/min (DFG calculé {} mL/min)",
				"GFR capped at {} mL/min (calculated GFR {} mL/min)",
				a(exact(capMLMin), gfr), "min(gfr_ml_min, cap_ml_min)",
				map[string]float64{"gfr_ml_min": gfr, "cap_ml_min": capMLMin}, used, UnitMLMin)
		} else {
			st.add("gfr.cap",
				"Plafond de DFG {} mL/min non atteint (DFG {} mL/min)",
				"GFR cap {} mL/min not reached (GFR {} mL/min)",
				a(exact(capMLMin), gfr), "min(gfr_ml_min, cap_ml_min)",
				map[string]float64{"gfr_ml_min": gfr, "cap_ml_min": capMLMin}, used, UnitMLMin)
		}
	}
	dose := clean(auc * (used + 25))
	st.add("dose.calvert",
		"Dose de carboplatine (Calvert) = ASC {} mg/mL·min × ({} mL/min + 25) = {} mg",
		"Carboplatin dose (Calvert) = AUC {} mg/mL·min × ({} mL/min + 25) = {} mg",
		a(exact(auc), used, dose), "auc × (gfr_ml_min + 25)",
		map[string]float64{"auc": auc, "gfr_ml_min": used}, dose, "mg")
	return dose, used, capped
}
