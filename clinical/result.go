package clinical

import "sync"

// Result is a calculated value with its derivation.
type Result struct {
	// Value is cleaned of binary noise; a final dose is also rounded (see
	// docs/calc.md, "Rounding").
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	// Steps are what a pharmacist checks, in the order they were applied.
	Steps []Step `json:"steps"`
	// Facts is set by Dose: the structured facts the prescription screen
	// shows beside the dose.
	Facts *DoseFacts `json:"facts,omitempty"`
}

// Step is one checkable step of a derivation.
type Step struct {
	// Code is a stable machine identifier, e.g. "bsa.mosteller",
	// "dose.max_dose"; docs/calc.md lists them all.
	Code string `json:"code"`
	// FR and EN are the same sentence, with the numbers, for a reader.
	FR string `json:"fr"`
	EN string `json:"en"`
	// Formula is the formula in a language-neutral notation, with the input
	// names of Inputs.
	Formula string             `json:"formula,omitempty"`
	Inputs  map[string]float64 `json:"inputs,omitempty"`
	// Value is the step's result, at full precision (cleaned of binary
	// noise), in Unit.
	Value float64 `json:"value"`
	Unit  string  `json:"unit,omitempty"`
}

// DoseFacts are the facts of a dose calculation that a screen or a check
// needs without reading the sentences. Optional numbers are null (absent)
// when the rule did not use them.
type DoseFacts struct {
	Kind string `json:"kind"`
	// CalculatedDose is the dose the rule gives before the maximum dose,
	// the adjustment, banding and rounding, in the rule's unit.
	CalculatedDose float64 `json:"calculated_dose"`

	// BSA used by a per_m2 dose (after the cap), or to de-index a GFR.
	BSAFormula      string   `json:"bsa_formula,omitempty"`
	BSAM2           *float64 `json:"bsa_m2,omitempty"`
	BSACalculatedM2 *float64 `json:"bsa_calculated_m2,omitempty"`
	BSACapped       bool     `json:"bsa_capped"`

	// InfantRule is true when the per-m² dose was turned into a per-kg one.
	InfantRule bool `json:"infant_rule"`
	// WeightKg is the weight a per_kg dose or the infant rule multiplied by.
	WeightKg *float64 `json:"weight_kg,omitempty"`
	// AgeMonths and AgeBand (index into the rule's age_bands) for age_band
	// rules; AgeMonths also when an infant rule has an age threshold.
	AgeMonths *float64 `json:"age_months,omitempty"`
	AgeBand   *int     `json:"age_band,omitempty"`

	// The GFR Calvert used (after the cap), in mL/min.
	GFRMethod          string   `json:"gfr_method,omitempty"`
	GFRMLMin           *float64 `json:"gfr_ml_min,omitempty"`
	GFRCalculatedMLMin *float64 `json:"gfr_calculated_ml_min,omitempty"`
	GFRCapped          bool     `json:"gfr_capped"`

	MaxDoseApplied   bool   `json:"max_dose_applied"`
	Adjusted         bool   `json:"adjusted"`
	AdjustmentReason string `json:"adjustment_reason,omitempty"`

	// DoseBeforeRounding is the dose after cap and adjustment, before
	// banding and rounding.
	DoseBeforeRounding float64 `json:"dose_before_rounding"`
	Banded             bool    `json:"banded"`
	// RoundingStep is the step the final dose was rounded to (the rule's
	// rounding_step or the display precision); 0 when the dose is a band or
	// a value set by the prescriber, which are given as they are.
	RoundingStep float64 `json:"rounding_step"`
}

// stepper builds a derivation. The sentences of all its steps are written
// into one pooled buffer and become one string when the derivation is done:
// a dose's steps cost one allocation for their text, not one per step.
type stepper struct {
	steps []Step
	s     *scratch
}

// scratch is a reusable text buffer with the place of each step's
// sentences in it: French [0, 1), English [2, 3).
type scratch struct {
	text  []byte
	spans [][4]int32
}

var scratchPool = sync.Pool{New: func() any {
	return &scratch{text: make([]byte, 0, 2048), spans: make([][4]int32, 0, 16)}
}}

// init prepares st for about n steps.
func (st *stepper) init(n int) {
	st.steps = make([]Step, 0, n)
	st.s = scratchPool.Get().(*scratch)
	st.s.text, st.s.spans = st.s.text[:0], st.s.spans[:0]
}

func newStepper(n int) *stepper {
	st := &stepper{}
	st.init(n)
	return st
}

// add appends a step whose French and English sentences share one set of
// arguments (see appendRendered).
func (st *stepper) add(code, fr, en string, args []any, formula string, inputs map[string]float64, value float64, unit string) {
	var sp [4]int32
	st.s.text, sp = appendRendered(st.s.text, fr, en, args)
	st.s.spans = append(st.s.spans, sp)
	st.steps = append(st.steps, Step{Code: code, Formula: formula, Inputs: inputs, Value: value, Unit: unit})
}

// last returns the last step added.
func (st *stepper) last() *Step { return &st.steps[len(st.steps)-1] }

// done returns the steps with their sentences, and the buffer to its pool.
// st must not be used afterwards.
func (st *stepper) done() []Step {
	s := st.s
	st.s = nil
	text := string(s.text) // one allocation for all the sentences
	for i, sp := range s.spans {
		st.steps[i].FR, st.steps[i].EN = text[sp[0]:sp[1]], text[sp[2]:sp[3]]
	}
	if cap(s.text) <= 64<<10 { // an outsized buffer (a long reason…) is not kept
		scratchPool.Put(s)
	}
	return st.steps
}

// release returns the buffer of a derivation abandoned on an error.
func (st *stepper) release() {
	if st.s != nil {
		scratchPool.Put(st.s)
		st.s = nil
	}
}

// a is shorthand for a step's argument list.
func a(args ...any) []any { return args }

func ptr[T any](v T) *T { return &v }
