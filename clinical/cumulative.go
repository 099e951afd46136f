package clinical

import (
	"fmt"
	"strings"
)

// Cumulative dose classes.
const (
	// ClassAnthracycline sums anthracyclines (and the anthraquinone
	// mitoxantrone) in doxorubicin-equivalent mg/m², by
	// AnthracyclineEquivalence.
	ClassAnthracycline = "anthracycline"
	// ClassBleomycin sums bleomycin in units (U). The US prescribing
	// information of bleomycin warns of pulmonary fibrosis more frequent
	// above 400 U in total; the limit is the protocol's.
	ClassBleomycin = "bleomycin"
)

// Equivalence is one row of a dose-equivalence table.
type Equivalence struct {
	Drug   string  `json:"drug"`    // INN, lower case, as requests name it
	NameFR string  `json:"name_fr"` // French INN, for sentences
	Factor float64 `json:"factor"`  // mg of doxorubicin per mg of the drug
	Source string  `json:"source"`
}

// feijen2019 is the source of the cardiotoxicity equivalence ratios.
const feijen2019 = "Feijen EAM, Leisenring WM, Stratton KL, et al. Derivation of anthracycline and anthraquinone equivalence ratios to doxorubicin for late-onset cardiotoxicity. JAMA Oncol 2019;5(6):864–871, Table 3"

// AnthracyclineEquivalence converts each anthracycline to doxorubicin-
// equivalent doses for late cardiotoxicity: equivalent mg/m² = mg/m² ×
// Factor. The ratios are the mean equivalence ratios of Feijen et al. 2019
// (Table 3, childhood cancer survivors of CCSS, DCOG-LATER and SJLIFE),
// the evidence the International Late Effects of Childhood Cancer
// Guideline Harmonization Group cites; idarubicin, whose ratio that study
// could not estimate, keeps the conventional factor 5 the study itself used
// to scale idarubicin doses (Table 3, footnote b).
var AnthracyclineEquivalence = []Equivalence{
	{"doxorubicin", "doxorubicine", 1, "reference drug"},
	{"daunorubicin", "daunorubicine", 0.6, feijen2019 + ": mean ratio 0.6 (95% CI 0.4–1.0)"},
	{"epirubicin", "épirubicine", 0.8, feijen2019 + ": mean ratio 0.8 (95% CI 0.5–2.8)"},
	{"idarubicin", "idarubicine", 5, feijen2019 + ", footnote b: not estimable; conventional factor 5 used to scale idarubicin doses"},
	{"mitoxantrone", "mitoxantrone", 10.5, feijen2019 + ": mean ratio 10.5 (95% CI 6.2–19.1)"},
}

// CumulativeDose is one dose already given (or planned): mg/m² for an
// anthracycline, units (U) for bleomycin.
type CumulativeDose struct {
	Drug    string  `json:"drug"`
	MgPerM2 float64 `json:"mg_per_m2,omitempty"`
	Units   float64 `json:"units,omitempty"`
}

// CumulativeResult is a cumulative dose checked against a lifetime limit.
type CumulativeResult struct {
	Result
	Limit float64 `json:"limit"`
	// Exceeds is true when the total is above the limit (a total equal to
	// the limit does not exceed it).
	Exceeds bool `json:"exceeds"`
	// Remaining is limit − total: what may still be given; negative when
	// the limit is exceeded.
	Remaining float64 `json:"remaining"`
}

// Plausibility of one entry and of a limit.
var (
	BoundCumulativeMgPerM2 = Bound{0, 2000, "mg/m²", "anthracycline dose", "check the dose and that it is in mg/m²"}
	BoundCumulativeUnits   = Bound{0, 2000, "U", "bleomycin dose", "check the dose and that it is in units"}
	BoundLimitMgPerM2      = Bound{1, 1000, "mg/m²", "limit", "check the protocol (anthracycline limits are usually 250–550 mg/m²)"}
	BoundLimitUnits        = Bound{1, 2000, "U", "limit", "check the protocol (the bleomycin limit is usually 400 U)"}
)

const maxCumulativeDoses = 1000

// Cumulative sums doses of a class and checks the total against limit:
// class "anthracycline" in doxorubicin-equivalent mg/m² (limit in mg/m²),
// class "bleomycin" in units (limit in U). Error fields are those of
// `relais calc`: "class", "doses[1].drug", "limit_mg_per_m2", "limit_units".
func Cumulative(class string, doses []CumulativeDose, limit float64) (CumulativeResult, error) {
	var errs []error
	var entryBound, limitBound Bound
	var limitField, u string
	switch class {
	case ClassAnthracycline:
		entryBound, limitBound, limitField, u = BoundCumulativeMgPerM2, BoundLimitMgPerM2, "limit_mg_per_m2", "mg/m²"
	case ClassBleomycin:
		entryBound, limitBound, limitField, u = BoundCumulativeUnits, BoundLimitUnits, "limit_units", "U"
	case "":
		return CumulativeResult{}, invalid("class", "the class is required: anthracycline or bleomycin")
	default:
		return CumulativeResult{}, invalid("class", "unknown class %q: use anthracycline or bleomycin", truncate(class))
	}
	if err := limitBound.check(limitField, limit); err != nil {
		errs = append(errs, err)
	}
	if len(doses) > maxCumulativeDoses {
		errs = append(errs, invalid("doses", "%d doses: at most %d in one request", len(doses), maxCumulativeDoses))
		return CumulativeResult{}, join(errs)
	}
	type row struct {
		eq     Equivalence
		amount float64
	}
	rows := make([]row, 0, len(doses))
	for i, d := range doses {
		f := fmt.Sprintf("doses[%d].", i)
		name := strings.ToLower(strings.TrimSpace(d.Drug))
		var eq Equivalence
		found := false
		if class == ClassAnthracycline {
			for _, e := range AnthracyclineEquivalence {
				if e.Drug == name {
					eq, found = e, true
				}
			}
			if !found {
				errs = append(errs, invalid(f+"drug", "%q is not in the anthracycline equivalence table: use doxorubicin, daunorubicin, epirubicin, idarubicin or mitoxantrone", truncate(d.Drug)))
			}
			if d.Units != 0 {
				errs = append(errs, invalid(f+"units", "anthracycline doses are in mg/m²: give mg_per_m2, not units"))
			}
			if err := checkEntry(entryBound, f+"mg_per_m2", d.MgPerM2); err != nil {
				errs = append(errs, err)
			}
			rows = append(rows, row{eq, d.MgPerM2})
			continue
		}
		if name != "bleomycin" {
			errs = append(errs, invalid(f+"drug", "the bleomycin class sums bleomycin only: drug must be \"bleomycin\", not %q", truncate(d.Drug)))
		}
		if d.MgPerM2 != 0 {
			errs = append(errs, invalid(f+"mg_per_m2", "bleomycin doses are in units: give units, not mg_per_m2"))
		}
		if err := checkEntry(entryBound, f+"units", d.Units); err != nil {
			errs = append(errs, err)
		}
		rows = append(rows, row{Equivalence{Drug: "bleomycin", NameFR: "bléomycine", Factor: 1}, d.Units})
	}
	if len(errs) > 0 {
		return CumulativeResult{}, join(errs)
	}

	st := newStepper(len(rows) + 2)
	var total float64
	for _, r := range rows {
		if class == ClassAnthracycline {
			v := clean(r.amount * r.eq.Factor)
			total += v
			st.add("cumulative.dose",
				"{} {} mg/m² × {} = {} mg/m² équivalent doxorubicine",
				"{} {} mg/m² × {} = {} mg/m² doxorubicin equivalent",
				a(tr{capitalise(r.eq.NameFR), capitalise(r.eq.Drug)}, exact(r.amount), exact(r.eq.Factor), v),
				"mg_per_m2 × factor", map[string]float64{"mg_per_m2": r.amount, "factor": r.eq.Factor}, v, u)
		} else {
			total += r.amount
			st.add("cumulative.dose", "Bléomycine {} U", "Bleomycin {} U",
				a(exact(r.amount)), "units", map[string]float64{"units": r.amount}, r.amount, u)
		}
	}
	total = clean(total)
	what := tr{"Dose cumulée", "Cumulative dose"}
	if class == ClassAnthracycline {
		what = tr{"Dose cumulée (équivalent doxorubicine)", "Cumulative dose (doxorubicin equivalent)"}
	}
	st.add("cumulative.total", "{} = {} {}", "{} = {} {}",
		a(what, total, unit(u)), "sum", nil, total, u)
	remaining := clean(limit - total)
	exceeds := total > limit
	if exceeds {
		st.add("cumulative.limit",
			"Limite dépassée : {} {} > {} {} (dépassement de {} {})",
			"Limit exceeded: {} {} > {} {} (over by {} {})",
			a(total, unit(u), exact(limit), unit(u), -remaining, unit(u)),
			"total > limit", map[string]float64{"total": total, "limit": limit}, remaining, u)
	} else {
		st.add("cumulative.limit",
			"Limite respectée : {} {} ≤ {} {} (reste {} {})",
			"Within the limit: {} {} ≤ {} {} ({} {} remaining)",
			a(total, unit(u), exact(limit), unit(u), remaining, unit(u)),
			"total > limit", map[string]float64{"total": total, "limit": limit}, remaining, u)
	}
	return CumulativeResult{
		Result:    Result{Value: total, Unit: u, Steps: st.done()},
		Limit:     limit,
		Exceeds:   exceeds,
		Remaining: remaining,
	}, nil
}

func checkEntry(b Bound, field string, x float64) error {
	if x == 0 {
		return invalid(field, "the %s is missing (0): give the dose in %s, or remove the entry", b.What, b.Unit)
	}
	return b.check(field, x)
}

func capitalise(s string) string {
	for i, r := range s {
		return strings.ToUpper(string(r)) + s[i+len(string(r)):]
	}
	return s
}
