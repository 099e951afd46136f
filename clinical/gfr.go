package clinical

import (
	"math"
)

// Renal function methods.
const (
	// GFRSchwartzBedside: Schwartz GJ, Muñoz A, Schneider MF, et al. New
	// equations to estimate GFR in children with CKD. J Am Soc Nephrol
	// 2009;20:629–37. eGFR = 0.413 × height (cm) / Scr (mg/dL), in
	// mL/min/1.73 m².
	GFRSchwartzBedside = "schwartz_bedside"
	// GFRCockcroftGault: Cockcroft DW, Gault MH. Prediction of creatinine
	// clearance from serum creatinine. Nephron 1976;16:31–41.
	// CrCl = (140 − age) × weight / (72 × Scr mg/dL), × 0.85 for a woman, in
	// mL/min.
	GFRCockcroftGault = "cockcroft_gault"
	// GFRCKDEPI2021: Inker LA, Eneanya ND, Coresh J, et al. New creatinine-
	// and cystatin C-based equations to estimate GFR without race. N Engl J
	// Med 2021;385:1737–49. eGFR = 142 × min(Scr/κ, 1)^α × max(Scr/κ, 1)^−1.200
	// × 0.9938^age × 1.012 [female]; κ 0.7 (F) / 0.9 (M), α −0.241 (F) /
	// −0.302 (M); in mL/min/1.73 m².
	GFRCKDEPI2021 = "ckd_epi_2021"
	// GFRMeasured: a measured GFR in mL/min, given as the patient's
	// gfr_ml_min (dose rules only).
	GFRMeasured = "measured"
)

// Weight bases for Cockcroft–Gault.
const (
	WeightActual = "actual" // the default
	// WeightIdeal: Devine BJ. Gentamicin therapy. Drug Intell Clin Pharm
	// 1974;8:650–5. Men 50 kg, women 45.5 kg, + 2.3 kg per inch over 5 feet.
	WeightIdeal = "ideal"
	// WeightAdjusted: ideal + 0.4 × (actual − ideal). Bauer LA, Edwards WA,
	// Dellinger EP, Simonowitz DA. Influence of weight on aminoglycoside
	// pharmacokinetics in normal weight and morbidly obese patients. Eur J
	// Clin Pharmacol 1983;24:643–7.
	WeightAdjusted = "adjusted"
)

// The units of renal results.
const (
	UnitMLMin        = "mL/min"
	UnitMLMinIndexed = "mL/min/1.73 m²"
)

// AdultAgeYears is the age from which Cockcroft–Gault and CKD-EPI 2021 are
// accepted: both were derived in adults, and children have the bedside
// Schwartz equation.
const AdultAgeYears = 18

// GFRInput is a renal function request, as `relais calc` reads it.
type GFRInput struct {
	// Method: schwartz_bedside, cockcroft_gault or ckd_epi_2021.
	Method   string   `json:"method"`
	AgeYears *float64 `json:"age_years,omitempty"`
	Sex      string   `json:"sex,omitempty"` // M or F
	HeightCm float64  `json:"height_cm,omitempty"`
	WeightKg float64  `json:"weight_kg,omitempty"`
	// Serum creatinine, in exactly one unit.
	CreatinineUmolL float64 `json:"creatinine_umol_l,omitempty"`
	CreatinineMgDL  float64 `json:"creatinine_mg_dl,omitempty"`
	// WeightBasis for Cockcroft–Gault: actual (default), ideal, adjusted.
	WeightBasis string `json:"weight_basis,omitempty"`
}

// GFR estimates renal function: mL/min for Cockcroft–Gault, mL/min/1.73 m²
// for bedside Schwartz and CKD-EPI 2021.
func GFR(in GFRInput) (Result, error) {
	p := Patient{AgeYears: in.AgeYears, Sex: in.Sex, HeightCm: in.HeightCm, WeightKg: in.WeightKg,
		CreatinineUmolL: in.CreatinineUmolL, CreatinineMgDL: in.CreatinineMgDL}
	var errs []error
	switch in.Method {
	case GFRSchwartzBedside, GFRCockcroftGault, GFRCKDEPI2021:
	case "":
		errs = append(errs, invalid("method", "the method is required: schwartz_bedside (children), cockcroft_gault or ckd_epi_2021"))
	case GFRMeasured:
		errs = append(errs, invalid("method", "a measured GFR is not calculated: give it to a dose rule as the patient's gfr_ml_min"))
	default:
		errs = append(errs, invalid("method", "unknown method %q: use schwartz_bedside (children), cockcroft_gault or ckd_epi_2021", truncate(in.Method)))
	}
	if err := checkWeightBasis("weight_basis", in.Method, in.WeightBasis); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, checkPatient(p, "")...)
	if len(errs) == 0 {
		errs = requireRenal(in.Method, in.WeightBasis, p, "")
	}
	if len(errs) > 0 {
		return Result{}, join(errs)
	}
	st := newStepper(4)
	v, u, err := renal(st, in.Method, in.WeightBasis, p, "")
	if err != nil {
		return Result{}, err
	}
	return Result{Value: v, Unit: u, Steps: st.done()}, nil
}

func checkWeightBasis(field, method, basis string) error {
	switch {
	case basis == "":
		return nil
	case method != GFRCockcroftGault && method != "":
		return invalid(field, "weight_basis applies only to cockcroft_gault; %s does not use the weight: remove weight_basis", truncate(method))
	case basis != WeightActual && basis != WeightIdeal && basis != WeightAdjusted:
		return invalid(field, "unknown weight basis %q: use actual (the default), ideal (Devine) or adjusted", truncate(basis))
	}
	return nil
}

// requireRenal reports the inputs a method needs that the patient lacks.
func requireRenal(method, basis string, p Patient, prefix string) []error {
	var errs []error
	name := methodName(method, false)
	if p.CreatinineUmolL == 0 && p.CreatinineMgDL == 0 {
		errs = append(errs, invalid(prefix+"creatinine_umol_l", "serum creatinine is required by %s: give creatinine_umol_l or creatinine_mg_dl", name))
	}
	needAdult := func() {
		switch {
		case p.AgeYears == nil:
			errs = append(errs, invalid(prefix+"age_years", "the age is required by %s", name))
		case *p.AgeYears < AdultAgeYears:
			errs = append(errs, invalid(prefix+"age_years", "%s is validated in adults (%d years and over), not at %s years: for a child use schwartz_bedside or a measured GFR", name, AdultAgeYears, g(*p.AgeYears)))
		}
		if p.Sex == "" {
			errs = append(errs, invalid(prefix+"sex", "the sex (M or F) is required by %s", name))
		}
	}
	switch method {
	case GFRSchwartzBedside:
		if p.HeightCm == 0 {
			errs = append(errs, invalid(prefix+"height_cm", "the height in cm is required by %s", name))
		}
	case GFRCockcroftGault:
		needAdult()
		if p.WeightKg == 0 {
			errs = append(errs, invalid(prefix+"weight_kg", "the weight in kg is required by %s", name))
		}
		if (basis == WeightIdeal || basis == WeightAdjusted) && p.HeightCm == 0 {
			errs = append(errs, invalid(prefix+"height_cm", "the height in cm is required for the %s body weight", basis))
		}
	case GFRCKDEPI2021:
		needAdult()
	}
	return errs
}

func methodName(method string, fr bool) string {
	switch method {
	case GFRSchwartzBedside:
		if fr {
			return "Schwartz au lit du patient"
		}
		return "bedside Schwartz"
	case GFRCockcroftGault:
		return "Cockcroft–Gault"
	case GFRCKDEPI2021:
		return "CKD-EPI 2021"
	case GFRMeasured:
		if fr {
			return "DFG mesuré"
		}
		return "measured GFR"
	}
	return method
}

// renal computes a GFR from checked inputs, as steps of st. prefix names
// the patient's fields in the one error it can return.
func renal(st *stepper, method, basis string, p Patient, prefix string) (float64, string, error) {
	scr := p.CreatinineMgDL
	if p.CreatinineUmolL != 0 {
		scr = clean(p.CreatinineUmolL / CreatinineUmolPerMgDL)
		st.add("creatinine.mg_dl",
			"Créatinine = {} µmol/L ÷ 88,42 = {} mg/dL",
			"Creatinine = {} µmol/L ÷ 88.42 = {} mg/dL",
			a(exact(p.CreatinineUmolL), scr), "creatinine_umol_l / 88.42",
			map[string]float64{"creatinine_umol_l": p.CreatinineUmolL}, scr, "mg/dL")
	}
	female := p.Sex == "F"
	switch method {
	case GFRSchwartzBedside:
		v := clean(0.413 * p.HeightCm / scr)
		st.add("gfr.schwartz_bedside",
			"DFG (Schwartz au lit du patient) = 0,413 × {} cm / {} mg/dL = {} mL/min/1,73 m²",
			"GFR (bedside Schwartz) = 0.413 × {} cm / {} mg/dL = {} mL/min/1.73 m²",
			a(exact(p.HeightCm), scr, v), "0.413 × height_cm / creatinine_mg_dl",
			map[string]float64{"height_cm": p.HeightCm, "creatinine_mg_dl": scr}, v, UnitMLMinIndexed)
		return v, UnitMLMinIndexed, nil

	case GFRCockcroftGault:
		w := p.WeightKg
		wName := tr{"poids réel", "actual weight"}
		if basis == WeightIdeal || basis == WeightAdjusted {
			base, sex := 50.0, tr{"homme", "male"}
			if female {
				base, sex = 45.5, tr{"femme", "female"}
			}
			ibw := clean(base + 2.3*(p.HeightCm/2.54-60))
			if ibw < BoundWeightKg.Min {
				return 0, "", invalid(prefix+"height_cm", "the Devine ideal body weight is not defined at %s cm (it gives %s kg): use weight_basis actual", g(p.HeightCm), formatSig(ibw, 3))
			}
			st.add("weight.ideal_devine",
				"Poids idéal (Devine, {}) = {} + 2,3 × ({} cm ÷ 2,54 − 60) = {} kg",
				"Ideal body weight (Devine, {}) = {} + 2.3 × ({} cm ÷ 2.54 − 60) = {} kg",
				a(sex, exact(base), exact(p.HeightCm), ibw), "base_kg + 2.3 × (height_cm / 2.54 − 60)",
				map[string]float64{"base_kg": base, "height_cm": p.HeightCm}, ibw, "kg")
			w, wName = ibw, tr{"poids idéal", "ideal weight"}
			if basis == WeightAdjusted {
				abw := clean(ibw + 0.4*(p.WeightKg-ibw))
				st.add("weight.adjusted",
					"Poids ajusté = {} kg + 0,4 × ({} kg − {} kg) = {} kg",
					"Adjusted body weight = {} kg + 0.4 × ({} kg − {} kg) = {} kg",
					a(ibw, exact(p.WeightKg), ibw, abw), "ideal_kg + 0.4 × (weight_kg − ideal_kg)",
					map[string]float64{"ideal_kg": ibw, "weight_kg": p.WeightKg}, abw, "kg")
				w, wName = abw, tr{"poids ajusté", "adjusted weight"}
			}
		}
		age := *p.AgeYears
		v := (140 - age) * w / (72 * scr)
		fr := "Clairance de la créatinine (Cockcroft–Gault) = (140 − {} ans) × {} kg ({}) / (72 × {} mg/dL) = {} mL/min"
		en := "Creatinine clearance (Cockcroft–Gault) = (140 − {} years) × {} kg ({}) / (72 × {} mg/dL) = {} mL/min"
		formula := "(140 − age_years) × weight_kg / (72 × creatinine_mg_dl)"
		if female {
			v *= 0.85
			fr = "Clairance de la créatinine (Cockcroft–Gault, femme) = (140 − {} ans) × {} kg ({}) / (72 × {} mg/dL) × 0,85 = {} mL/min"
			en = "Creatinine clearance (Cockcroft–Gault, female) = (140 − {} years) × {} kg ({}) / (72 × {} mg/dL) × 0.85 = {} mL/min"
			formula += " × 0.85"
		}
		v = clean(v)
		st.add("gfr.cockcroft_gault", fr, en, a(exact(age), w, wName, scr, v), formula,
			map[string]float64{"age_years": age, "weight_kg": w, "creatinine_mg_dl": scr}, v, UnitMLMin)
		return v, UnitMLMin, nil

	case GFRCKDEPI2021:
		age := *p.AgeYears
		kappa, alpha, femaleFactor := 0.9, -0.302, 1.0
		fr := "DFG (CKD-EPI 2021, homme) = 142 × min({} / 0,9 ; 1)^−0,302 × max({} / 0,9 ; 1)^−1,2 × 0,9938^{} = {} mL/min/1,73 m²"
		en := "GFR (CKD-EPI 2021, male) = 142 × min({} / 0.9, 1)^−0.302 × max({} / 0.9, 1)^−1.2 × 0.9938^{} = {} mL/min/1.73 m²"
		if female {
			kappa, alpha, femaleFactor = 0.7, -0.241, 1.012
			fr = "DFG (CKD-EPI 2021, femme) = 142 × min({} / 0,7 ; 1)^−0,241 × max({} / 0,7 ; 1)^−1,2 × 0,9938^{} × 1,012 = {} mL/min/1,73 m²"
			en = "GFR (CKD-EPI 2021, female) = 142 × min({} / 0.7, 1)^−0.241 × max({} / 0.7, 1)^−1.2 × 0.9938^{} × 1.012 = {} mL/min/1.73 m²"
		}
		r := scr / kappa
		v := clean(142 * math.Pow(math.Min(r, 1), alpha) * math.Pow(math.Max(r, 1), -1.200) *
			math.Pow(0.9938, age) * femaleFactor)
		st.add("gfr.ckd_epi_2021", fr, en, a(scr, scr, exact(age), v),
			"142 × min(creatinine_mg_dl / kappa, 1)^alpha × max(creatinine_mg_dl / kappa, 1)^−1.200 × 0.9938^age_years × female_factor",
			map[string]float64{"creatinine_mg_dl": scr, "age_years": age, "kappa": kappa, "alpha": alpha, "female_factor": femaleFactor},
			v, UnitMLMinIndexed)
		return v, UnitMLMinIndexed, nil
	}
	return 0, "", invalid("method", "unknown method %q", truncate(method))
}
