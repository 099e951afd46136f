// Package clinical holds Relais's pure clinical calculations: body surface
// area, renal function, Calvert's carboplatin dose, dose rules with their
// caps, rounding and banding, and cumulative doses. No I/O. Every result
// carries its derivation: the steps a pharmacist checks, in French and
// English.
package clinical

// Rule is a protocol line's dose rule, exactly as protocols store it and as
// `relais calc` reads it in {"calc":"dose","rule":{…}}. docs/calc.md documents
// every field with examples.
type Rule struct {
	// Kind: "per_m2" (Dose per m² of BSA), "per_kg" (Dose per kg of actual
	// weight), "auc" (carboplatin by Calvert: AUC × (GFR + 25)), "flat" (Dose as
	// is), "age_band" (dose read from AgeBands by the patient's age).
	Kind string `json:"kind"`
	// Dose is mg/m² (per_m2), mg/kg (per_kg) or the dose (flat), in Unit.
	Dose float64 `json:"dose,omitempty"`
	// Unit of the final dose: "mg", "g", "µg" (also "mcg"), "IU", "U"
	// (bleomycin units). Per-m² and per-kg doses are in Unit per m² or per kg.
	Unit string `json:"unit"`
	// AUC is the target area under the curve in mg/mL·min (auc rules).
	AUC float64 `json:"auc,omitempty"`
	// GFR says how the GFR of an auc rule is estimated and capped.
	GFR *GFRRule `json:"gfr,omitempty"`
	// BSAFormula for per_m2 rules, and for auc rules whose GFR method is
	// indexed to 1.73 m² (to de-index it): mosteller (the default when
	// empty), dubois, haycock, gehan_george, boyd.
	BSAFormula string `json:"bsa_formula,omitempty"`
	// BSACapM2 caps the BSA used (e.g. 2.0 m²); 0 = no cap.
	BSACapM2 float64 `json:"bsa_cap_m2,omitempty"`
	// Infant turns a per-m² dose into a per-kg one below a weight or age.
	Infant *InfantRule `json:"infant,omitempty"`
	// AgeBands: for age_band rules, the dose by age (e.g. intrathecal
	// methotrexate). The first band whose [MinAgeMonths, MaxAgeMonths) holds
	// the patient's age applies.
	AgeBands []AgeBand `json:"age_bands,omitempty"`
	// MaxDose caps the single dose, in Unit (vincristine: 2 mg); 0 = no cap.
	// It must be on the rounding grid (a multiple of RoundingStep, or no
	// more digits than the display precision) so that rounding a dose below
	// it never lands above it.
	MaxDose float64 `json:"max_dose,omitempty"`
	// RoundingStep rounds the final dose to the nearest multiple (e.g. 1 mg,
	// 0.1 mg), halves away from zero; 0 = round to the display precision (3
	// significant digits below 10, a tenth from 10 up; see DisplayStep).
	RoundingStep float64 `json:"rounding_step,omitempty"`
	// Bands: dose banding, strictly increasing, none above MaxDose. The
	// computed dose is replaced by the nearest band (the lower of two equally
	// near) when the band lies within BandTolerancePct of the dose (default
	// 5 %), else the computed dose stands, is rounded, and a step says why.
	Bands            []float64 `json:"bands,omitempty"`
	BandTolerancePct float64   `json:"band_tolerance_pct,omitempty"`
	// Adjustment is a prescriber's modification: a percentage or a value,
	// always with a reason. It applies after MaxDose (a percent increase is
	// capped again) and before banding and rounding.
	Adjustment *Adjustment `json:"adjustment,omitempty"`
}

// GFRRule says how an auc rule's GFR is obtained.
type GFRRule struct {
	// Method: cockcroft_gault (mL/min, the default for Calvert),
	// schwartz_bedside or ckd_epi_2021 (mL/min/1.73 m², de-indexed with the
	// patient's BSA for Calvert), or "measured" (the patient's measured GFR in
	// mL/min is given as gfr_ml_min).
	Method      string  `json:"method,omitempty"`
	WeightBasis string  `json:"weight_basis,omitempty"` // actual (default), ideal, adjusted
	CapMLMin    float64 `json:"cap_ml_min,omitempty"`   // e.g. 125; 0 = no cap
}

// InfantRule: below BelowWeightKg or BelowAgeMonths (either, when set;
// "below" is strict), the per-m² dose becomes per kg: dose/kg = dose/m² ÷
// Divisor (DefaultInfantDivisor, 30, unless set), × the actual weight.
type InfantRule struct {
	BelowWeightKg  float64 `json:"below_weight_kg,omitempty"`
	BelowAgeMonths float64 `json:"below_age_months,omitempty"`
	Divisor        float64 `json:"divisor,omitempty"`
}

// AgeBand is one row of an age-banded table: ages from MinAgeMonths
// (included) to MaxAgeMonths (excluded). Bands are in increasing order
// without overlap; only the last may be open-ended.
type AgeBand struct {
	MinAgeMonths float64 `json:"min_age_months"`
	MaxAgeMonths float64 `json:"max_age_months,omitempty"` // exclusive; 0 = no upper bound
	Dose         float64 `json:"dose"`
}

// Adjustment modifies a computed dose. Exactly one of Percent and Value.
type Adjustment struct {
	// Percent of the dose after the maximum: above -100, at most +100, not
	// 0 (e.g. -25 for a 25 % reduction).
	Percent *float64 `json:"percent,omitempty"`
	// Value is the dose to give, in Unit, given as typed: it must not
	// exceed MaxDose and must already be on the rounding grid.
	Value  *float64 `json:"value,omitempty"`
	Reason string   `json:"reason"` // mandatory, shown in the step
}

// Patient holds the values a dose rule reads. A zero measurement means "not
// given": a rule that needs it refuses to compute. Age is a pointer because
// 0 years is a real age (a newborn) and must not be mistaken for a missing
// one.
type Patient struct {
	AgeYears        *float64 `json:"age_years,omitempty"`
	Sex             string   `json:"sex,omitempty"` // M or F
	HeightCm        float64  `json:"height_cm"`
	WeightKg        float64  `json:"weight_kg"`
	CreatinineUmolL float64  `json:"creatinine_umol_l,omitempty"`
	CreatinineMgDL  float64  `json:"creatinine_mg_dl,omitempty"`
	GFRMLMin        float64  `json:"gfr_ml_min,omitempty"` // measured GFR, for gfr.method "measured"
}
