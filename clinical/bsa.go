package clinical

import (
	"math"
)

// BSA formulas, by the name protocols and `relais calc` use.
const (
	BSAMosteller   = "mosteller"    // the default
	BSADuBois      = "dubois"       // DuBois & DuBois
	BSAHaycock     = "haycock"      // Haycock, Schwartz & Wisotsky
	BSAGehanGeorge = "gehan_george" // Gehan & George
	BSABoyd        = "boyd"
)

// bsaFormula is one body-surface-area formula with its source.
type bsaFormula struct {
	name    string // as printed
	formula string // language-neutral, for Step.Formula
	fr, en  string // the computation with its numbers: height, weight, result
	f       func(h, w float64) float64
}

// The published formulas, height in cm and weight in kg unless stated.
var bsaFormulas = map[string]bsaFormula{
	// Mosteller RD. Simplified calculation of body-surface area.
	// N Engl J Med 1987;317:1098.
	BSAMosteller: {
		name: "Mosteller", formula: "sqrt(height_cm × weight_kg / 3600)",
		fr: "Surface corporelle (Mosteller) = √({} cm × {} kg / 3600) = {} m²",
		en: "Body surface area (Mosteller) = √({} cm × {} kg / 3600) = {} m²",
		f:  func(h, w float64) float64 { return math.Sqrt(h * w / 3600) },
	},
	// DuBois D, DuBois EF. A formula to estimate the approximate surface
	// area if height and weight be known. Arch Intern Med 1916;17:863–71.
	BSADuBois: {
		name: "DuBois & DuBois", formula: "0.007184 × weight_kg^0.425 × height_cm^0.725",
		f: func(h, w float64) float64 { return 0.007184 * math.Pow(w, 0.425) * math.Pow(h, 0.725) },
	},
	// Haycock GB, Schwartz GJ, Wisotsky DH. Geometric method for measuring
	// body surface area: a height-weight formula validated in infants,
	// children, and adults. J Pediatr 1978;93:62–6.
	BSAHaycock: {
		name: "Haycock", formula: "0.024265 × weight_kg^0.5378 × height_cm^0.3964",
		f: func(h, w float64) float64 { return 0.024265 * math.Pow(w, 0.5378) * math.Pow(h, 0.3964) },
	},
	// Gehan EA, George SL. Estimation of human body surface area from height
	// and weight. Cancer Chemother Rep 1970;54:225–35.
	BSAGehanGeorge: {
		name: "Gehan & George", formula: "0.0235 × weight_kg^0.51456 × height_cm^0.42246",
		f: func(h, w float64) float64 { return 0.0235 * math.Pow(w, 0.51456) * math.Pow(h, 0.42246) },
	},
	// Boyd E. The growth of the surface area of the human body. Minneapolis:
	// University of Minnesota Press; 1935. Weight in grams.
	BSABoyd: {
		name: "Boyd", formula: "0.0003207 × height_cm^0.3 × weight_g^(0.7285 − 0.0188 × log10(weight_g))",
		f: func(h, w float64) float64 {
			wg := w * 1000
			return 0.0003207 * math.Pow(h, 0.3) * math.Pow(wg, 0.7285-0.0188*math.Log10(wg))
		},
	},
}

func init() {
	// The sentences of the power-law formulas share one shape.
	for k, c := range map[string][3]string{
		BSADuBois:      {"0,007184", "0,425", "0,725"},
		BSAHaycock:     {"0,024265", "0,5378", "0,3964"},
		BSAGehanGeorge: {"0,0235", "0,51456", "0,42246"},
	} {
		f := bsaFormulas[k]
		f.fr = "Surface corporelle (" + f.name + ") = " + c[0] + " × ({} kg)^" + c[1] + " × ({} cm)^" + c[2] + " = {} m²"
		f.en = "Body surface area (" + f.name + ") = " + dotted(c[0]) + " × ({} kg)^" + dotted(c[1]) + " × ({} cm)^" + dotted(c[2]) + " = {} m²"
		bsaFormulas[k] = f
	}
	f := bsaFormulas[BSABoyd]
	f.fr = "Surface corporelle (Boyd) = 0,0003207 × ({} cm)^0,3 × ({} g)^(0,7285 − 0,0188 × log10 {}) = {} m²"
	f.en = "Body surface area (Boyd) = 0.0003207 × ({} cm)^0.3 × ({} g)^(0.7285 − 0.0188 × log10 {}) = {} m²"
	bsaFormulas[BSABoyd] = f
}

func dotted(s string) string {
	b := []byte(s)
	for i := range b {
		if b[i] == ',' {
			b[i] = '.'
		}
	}
	return string(b)
}

// BSAFormulas lists the accepted formula names, the default first.
var BSAFormulas = []string{BSAMosteller, BSADuBois, BSAHaycock, BSAGehanGeorge, BSABoyd}

// BSA computes the body surface area in m² by formula ("" is Mosteller),
// from height in cm and weight in kg.
func BSA(formula string, heightCm, weightKg float64) (Result, error) {
	var errs []error
	if err := checkBSAFormula("formula", formula); err != nil {
		errs = append(errs, err)
	}
	if err := BoundHeightCm.check("height_cm", heightCm); err != nil {
		errs = append(errs, err)
	}
	if err := BoundWeightKg.check("weight_kg", weightKg); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return Result{}, join(errs)
	}
	st := newStepper(1)
	v := bsaStep(st, formula, heightCm, weightKg)
	return Result{Value: v, Unit: "m²", Steps: st.done()}, nil
}

func checkBSAFormula(field, formula string) error {
	if formula == "" {
		return nil
	}
	if _, ok := bsaFormulas[formula]; !ok {
		return invalid(field, "unknown BSA formula %q: use mosteller (the default), dubois, haycock, gehan_george or boyd", truncate(formula))
	}
	return nil
}

// bsaStep computes a BSA from checked inputs, as a step of st.
func bsaStep(st *stepper, formula string, h, w float64) float64 {
	if formula == "" {
		formula = BSAMosteller
	}
	f := bsaFormulas[formula]
	v := clean(f.f(h, w))
	var args []any
	switch formula {
	case BSAMosteller:
		args = a(exact(h), exact(w), v)
	case BSABoyd:
		args = a(exact(h), exact(w*1000), exact(w*1000), v)
	default:
		args = a(exact(w), exact(h), v)
	}
	st.add("bsa."+formula, f.fr, f.en, args, f.formula,
		map[string]float64{"height_cm": h, "weight_kg": w}, v, "m²")
	return v
}
