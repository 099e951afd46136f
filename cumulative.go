package relais

import (
	"encoding/json"
	"fmt"
	"sync"

	"github.com/relais-onco/relais/clinical"
)

// CumulativeTotals sums, across a patient's prescriptions, the lifetime
// doses that have limits: anthracyclines in doxorubicin-equivalent mg/m²
// (each dose divided by the BSA of its cycle, converted by clinical's
// equivalence table) and bleomycin in units. Lines refused or cancelled and
// prescriptions cancelled do not count; drafts count only when include
// names them (the draft being checked). Limits come from the protocol; a
// class with no limit is totalled without one.
//
// Until production records administrations (and the network brings other
// sites' doses), the doses counted are the prescribed ones: the total can
// only overestimate what was given, which errs on the safe side.
func CumulativeTotals(prescriptions []Prescription, include ID, limits []CumulativeLimit) ([]CumulativeDose, error) {
	var anth, bleo []clinical.CumulativeDose
	var skipped []string
	for _, p := range prescriptions {
		if p.Status == PrescriptionCancelled || (p.Status == PrescriptionDraft && p.ID != include) {
			continue
		}
		for _, l := range p.Lines {
			if l.Status == LineRefused || l.Status == LineCancelled || l.Dose <= 0 {
				continue
			}
			switch {
			case l.DrugClass == string(ClassAnthracycline) || anthracyclineName(l.INN) != "":
				name := anthracyclineName(l.INN)
				if name == "" || l.Unit != "mg" || p.Measurements.BSAM2 <= 0 {
					skipped = append(skipped, fmt.Sprintf("%s %s %s on %s", l.INN, num(l.Dose), l.Unit, l.Date))
					continue
				}
				anth = append(anth, clinical.CumulativeDose{Drug: name, MgPerM2: l.Dose / p.Measurements.BSAM2})
			case foldSubstance(l.INN) == "bleomycine" || foldSubstance(l.INN) == "bleomycin":
				if l.Unit != "U" {
					skipped = append(skipped, fmt.Sprintf("%s %s %s on %s", l.INN, num(l.Dose), l.Unit, l.Date))
					continue
				}
				bleo = append(bleo, clinical.CumulativeDose{Drug: "bleomycin", Units: l.Dose})
			}
		}
	}
	var out []CumulativeDose
	for _, c := range []struct {
		class string
		doses []clinical.CumulativeDose
		unit  string
		none  float64 // the largest limit clinical accepts: "no limit" for totals
	}{{clinical.ClassAnthracycline, anth, "mg/m²", 1000}, {clinical.ClassBleomycin, bleo, "U", 2000}} {
		if len(c.doses) == 0 {
			continue
		}
		limit := 0.0
		for _, l := range limits {
			if string(l.Class) == c.class && l.Unit == c.unit {
				limit = l.Limit
			}
		}
		arg := limit
		if arg == 0 {
			arg = c.none
		}
		res, err := clinical.Cumulative(c.class, c.doses, arg)
		if err != nil {
			return nil, E("cumulative", err)
		}
		d := CumulativeDose{Class: c.class, Total: res.Value, Unit: res.Unit}
		if limit > 0 {
			d.Limit, d.Exceeds = limit, res.Exceeds
		}
		steps := res.Steps
		if limit == 0 { // drop the comparison with the nominal limit
			steps = nil
			for _, s := range res.Steps {
				if s.Code != "cumulative.limit" {
					steps = append(steps, s)
				}
			}
		}
		detail := struct {
			Steps   []clinical.Step `json:"steps"`
			Skipped []string        `json:"skipped,omitempty"`
		}{steps, skipped}
		d.Detail, _ = json.Marshal(detail)
		out = append(out, d)
	}
	if out == nil {
		out = []CumulativeDose{}
	}
	return out, nil
}

// anthracyclineName returns the name clinical's equivalence table knows an
// anthracycline by, from its English or French INN; "" if it is none.
func anthracyclineName(inn string) string {
	return anthracyclineNames()[foldSubstance(inn)]
}

// anthracyclineNames maps the equivalence table's names, in English and in
// French, folded, to the drug: folded once, not for every line of a
// history (the patient page folds every line of ten years).
var anthracyclineNames = sync.OnceValue(func() map[string]string {
	m := map[string]string{}
	for _, e := range clinical.AnthracyclineEquivalence {
		for _, n := range []string{e.Drug, e.NameFR} {
			if _, taken := m[foldSubstance(n)]; !taken { // the table's first entry wins, as before
				m[foldSubstance(n)] = e.Drug
			}
		}
	}
	return m
})
