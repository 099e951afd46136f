package relais

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// CheckPolicy holds the thresholds of the prescription checks. Defaults are
// DefaultCheckPolicy; a site may tune them.
type CheckPolicy struct {
	// WeightChangePct: a weight change since the previous cycle above this
	// must be acknowledged. The ASCO/ONS standards leave the threshold to the
	// practice; 10 % is the usual one (Neuss MN et al., J Oncol Pract
	// 2016;12:1262–71, standard 2.3).
	WeightChangePct float64
	// MaxWeightAge, MaxHeightAge, MaxCreatinineAge: measurements older than
	// this on the cycle's first day must be acknowledged.
	MaxWeightAge      time.Duration
	MaxHeightAge      time.Duration // adults; children use MaxHeightAgeChild
	MaxHeightAgeChild time.Duration
	MaxCreatinineAge  time.Duration
}

// DefaultCheckPolicy: weight within 7 days of the cycle, height within a year
// for adults and 3 months for children (they grow), creatinine within 7 days
// when a dose depends on renal function.
var DefaultCheckPolicy = CheckPolicy{
	WeightChangePct:   10,
	MaxWeightAge:      7 * 24 * time.Hour,
	MaxHeightAge:      365 * 24 * time.Hour,
	MaxHeightAgeChild: 92 * 24 * time.Hour,
	MaxCreatinineAge:  7 * 24 * time.Hour,
}

// CheckInput is everything the prescription checks look at.
type CheckInput struct {
	Prescription *Prescription // lines computed
	Policy       CheckPolicy
	Allergies    []string // substances the patient is allergic to
	// Previous is the last prescription of the same treatment that was
	// signed (not cancelled), if any.
	Previous        *Prescription
	CycleLengthDays int
	// Duplicate is the id of another live prescription of the same treatment
	// and cycle, if any.
	Duplicate ID
	// Cumulative: lifetime totals before this cycle and with it, per class,
	// against the protocol's limits.
	Cumulative []CumulativeDose // totals including this cycle
}

// EvaluateChecks returns the checks of a prescription, each with its level
// and reason. Acknowledgements are carried over by the caller (by Key).
func EvaluateChecks(in CheckInput) []Check {
	p := in.Prescription
	var out []Check
	add := func(code string, level CheckLevel, line ID, fr, en string) {
		out = append(out, Check{Code: code, Level: level, LineID: line, FR: fr, EN: en})
	}
	start := p.StartDate.Time()
	m := p.Measurements

	// Doses: the rule's maximum single dose. A capped computation is
	// information; a dose above the cap (by modification) blocks.
	for _, l := range p.Lines {
		if l.Status == LineCancelled {
			continue
		}
		if l.Rule.MaxDose > 0 && l.Dose > l.Rule.MaxDose*(1+1e-9) {
			add("dose.max", LevelBlocking, l.ID,
				fmt.Sprintf("%s : dose %s %s supérieure à la dose maximale de %s %s", l.INN, num(l.Dose), l.Unit, num(l.Rule.MaxDose), l.Unit),
				fmt.Sprintf("%s: dose %s %s above the maximum single dose of %s %s", l.INN, num(l.Dose), l.Unit, num(l.Rule.MaxDose), l.Unit))
		}
		if l.Modification != nil && l.Modification.ComputedDose > 0 {
			change := (l.Dose - l.Modification.ComputedDose) / l.Modification.ComputedDose * 100
			if math.Abs(change) > 0.05 {
				add("dose.modified", LevelInfo, l.ID,
					fmt.Sprintf("%s : dose modifiée de %+.0f %% (%s → %s %s) : %s", l.INN, change, num(l.Modification.ComputedDose), num(l.Dose), l.Unit, l.Modification.Reason),
					fmt.Sprintf("%s: dose changed by %+.0f%% (%s → %s %s): %s", l.INN, change, num(l.Modification.ComputedDose), num(l.Dose), l.Unit, l.Modification.Reason))
			}
		}
	}

	// Cumulative doses across the patient's whole history.
	for _, c := range in.Cumulative {
		if c.Limit > 0 && c.Exceeds {
			add("cumulative.limit", LevelAcknowledge, "",
				fmt.Sprintf("Dose cumulée %s : %s %s avec cette cure, au-delà de la limite de %s %s", frClass(c.Class), num(c.Total), c.Unit, num(c.Limit), c.Unit),
				fmt.Sprintf("Cumulative %s dose: %s %s with this cycle, above the limit of %s %s", c.Class, num(c.Total), c.Unit, num(c.Limit), c.Unit))
		}
	}

	// Weight change since the previous cycle.
	if in.Previous != nil && in.Previous.Measurements.WeightKg > 0 && m.WeightKg > 0 {
		prev := in.Previous.Measurements.WeightKg
		pct := (m.WeightKg - prev) / prev * 100
		if math.Abs(pct) > in.Policy.WeightChangePct {
			add("weight.change", LevelAcknowledge, "",
				fmt.Sprintf("Poids %s kg, %+.1f %% depuis la cure %d (%s kg) : au-delà de ±%s %%, vérifier les doses", num(m.WeightKg), pct, in.Previous.Cycle, num(prev), num(in.Policy.WeightChangePct)),
				fmt.Sprintf("Weight %s kg, %+.1f%% since cycle %d (%s kg): beyond ±%s%%, check the doses", num(m.WeightKg), pct, in.Previous.Cycle, num(prev), num(in.Policy.WeightChangePct)))
		}
	}

	// Measurements older than the policy allows on day 1.
	old := func(kind, fr string, at time.Time, max time.Duration) {
		if at.IsZero() || max <= 0 {
			return
		}
		age := start.Sub(at)
		if age > max {
			days := int(age.Hours() / 24)
			add("measurement.old."+kind, LevelAcknowledge, "",
				fmt.Sprintf("%s mesuré(e) il y a %d jours au J1 (maximum %d jours)", fr, days, int(max.Hours()/24)),
				fmt.Sprintf("%s measured %d days before day 1 (at most %d days)", kind, days, int(max.Hours()/24)))
		}
	}
	old("weight", "Poids", m.WeightAt, in.Policy.MaxWeightAge)
	if m.AgeYears < 18 {
		old("height", "Taille", m.HeightAt, in.Policy.MaxHeightAgeChild)
	} else {
		old("height", "Taille", m.HeightAt, in.Policy.MaxHeightAge)
	}
	if m.GFR != nil {
		old("creatinine", "Créatinine", m.CreatinineAt, in.Policy.MaxCreatinineAge)
	}

	// BSA or weight implausible for the age.
	if why, ok := implausible(m.AgeYears, m.WeightKg, m.BSAM2); !ok {
		add("measurement.implausible", LevelAcknowledge, "",
			"Poids ou surface corporelle inhabituels pour l'âge : "+why.fr+" ; vérifier la saisie",
			"Weight or BSA unusual for the age: "+why.en+"; check the entry")
	}

	// Allergies: a line whose drug the patient is allergic to blocks.
	for _, l := range p.Lines {
		if l.Status == LineCancelled {
			continue
		}
		for _, a := range in.Allergies {
			if a != "" && (sameSubstance(a, l.INN) || (l.DrugClass != "" && sameSubstance(a, l.DrugClass))) {
				add("allergy", LevelBlocking, l.ID,
					fmt.Sprintf("Allergie connue à « %s » : %s", a, l.INN),
					fmt.Sprintf("Known allergy to %q: %s", a, l.INN))
			}
		}
	}

	// Interval since the previous cycle shorter than the protocol's.
	if in.Previous != nil && in.CycleLengthDays > 0 {
		gap := int(start.Sub(in.Previous.StartDate.Time()).Hours() / 24)
		if gap < in.CycleLengthDays {
			add("interval.short", LevelAcknowledge, "",
				fmt.Sprintf("%d jours depuis le J1 de la cure %d, le protocole en prévoit %d", gap, in.Previous.Cycle, in.CycleLengthDays),
				fmt.Sprintf("%d days since day 1 of cycle %d; the protocol plans %d", gap, in.Previous.Cycle, in.CycleLengthDays))
		}
	}

	if in.Duplicate != "" {
		add("duplicate", LevelBlocking, "",
			fmt.Sprintf("La cure %d de ce traitement est déjà prescrite (%s)", p.Cycle, in.Duplicate),
			fmt.Sprintf("Cycle %d of this treatment is already prescribed (%s)", p.Cycle, in.Duplicate))
	}
	return out
}

type bilingual struct{ fr, en string }

// implausible flags weights and BSAs far outside what is seen at an age. The
// bounds are deliberately wide (they catch a weight typed in grams or a
// height typed in metres, not a thin child): weight below half or above
// twice the WHO median weight-for-age, approximated by the classic
// age-to-weight rule of thumb for children (APLS: 2 × (age + 4) kg from 1 to
// 10 years, Advanced Paediatric Life Support, 6th ed., 2016), BSA outside
// 0.1–3.0 m².
func implausible(ageYears, weightKg, bsa float64) (bilingual, bool) {
	if bsa > 0 && (bsa < 0.1 || bsa > 3.0) {
		return bilingual{fmt.Sprintf("surface corporelle %s m² hors de 0,1–3,0 m²", num(bsa)), fmt.Sprintf("BSA %s m² outside 0.1–3.0 m²", num(bsa))}, false
	}
	if ageYears >= 1 && ageYears <= 10 && weightKg > 0 {
		expected := 2 * (ageYears + 4)
		if weightKg < expected/2 || weightKg > expected*2 {
			return bilingual{
				fmt.Sprintf("%s kg à %s ans (attendu autour de %s kg)", num(weightKg), num(math.Floor(ageYears)), num(expected)),
				fmt.Sprintf("%s kg at %s years (about %s kg expected)", num(weightKg), num(math.Floor(ageYears)), num(expected))}, false
		}
	}
	if ageYears >= 18 && weightKg > 0 && (weightKg < 25 || weightKg > 250) {
		return bilingual{fmt.Sprintf("%s kg chez un adulte", num(weightKg)), fmt.Sprintf("%s kg for an adult", num(weightKg))}, false
	}
	return bilingual{}, true
}

func sameSubstance(a, b string) bool {
	return foldSubstance(a) == foldSubstance(b)
}

// foldSubstance compares drug names whatever their case, accents,
// spaces and punctuation ("Étoposide" = "etoposide", "5-FU" = "5 fu"), with
// the folding patient names use.
func foldSubstance(s string) string {
	return strings.ReplaceAll(NormalizeName(s), " ", "")
}

func frClass(c string) string {
	switch c {
	case "anthracycline":
		return "anthracyclines (équivalent doxorubicine)"
	case "bleomycin":
		return "bléomycine"
	}
	return c
}

// num formats a quantity for a message: shortest exact decimal, no float
// noise (the value has already been rounded by the dose rules).
func num(v float64) string {
	s := fmt.Sprintf("%.6f", v)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "-0" {
		s = "0"
	}
	return s
}

// OrderElements checks that a prescription carries every element the
// ASCO/ONS chemotherapy order standard requires (Neuss MN et al., 2016
// Updated ASCO/ONS Chemotherapy Administration Safety Standards, J Oncol
// Pract 2016;12:1262–71, standard 2.2). It returns the missing ones, each as
// a field error naming the element; a prescription with any cannot be signed.
// Two patient identifiers and allergies are checked by the caller, who has
// the patient.
func OrderElements(p *Prescription) []error {
	const op = "prescription.sign"
	var errs []error
	miss := func(field, what string) {
		errs = append(errs, Invalid(op, field, "%s is missing from the order", what))
	}
	if p.StartDate == "" {
		miss("start_date", "the date")
	}
	if p.Regimen == "" {
		miss("regimen", "the regimen name")
	}
	if p.Cycle <= 0 {
		miss("cycle", "the cycle number")
	}
	if p.Measurements.HeightCm <= 0 || p.Measurements.WeightKg <= 0 {
		miss("measurements", "height and weight used for the calculation")
	}
	if len(p.Lines) == 0 {
		miss("lines", "at least one drug")
	}
	for i, l := range p.Lines {
		if l.Status == LineCancelled {
			continue
		}
		f := fmt.Sprintf("lines[%d].", i)
		what := l.INN
		if what == "" { // a drugless line: hydration
			what = strings.TrimSpace(fmt.Sprintf("%s %s mL", l.Vehicle, num(l.VolumeML)))
		}
		if l.Day <= 0 || l.Date == "" {
			miss(f+"day", "the day and date of administration of "+what)
		}
		if l.Route == "" {
			miss(f+"route", "the route of "+what)
		}
		if l.INN != "" || l.Rule.Kind != "" { // a drug: its dose and how it was computed
			if l.Dose <= 0 || l.Unit == "" {
				miss(f+"dose", "the dose of "+what)
			}
			if len(l.Calculation.Steps) == 0 {
				miss(f+"calculation", "the calculation method and variables of "+what)
			}
		} else if l.VolumeML <= 0 {
			miss(f+"volume_ml", "the volume of "+what)
		}
		if isInfusion(l.Route) && l.DurationMin <= 0 && l.RateMLH <= 0 {
			miss(f+"duration_min", "the duration or rate of the infusion of "+what)
		}
		if l.Seq <= 0 {
			miss(f+"seq", "the sequence of "+what)
		}
	}
	return errs
}

func isInfusion(route string) bool {
	switch strings.ToUpper(route) {
	case "IV", "IVL", "IVC", "PERF":
		return true
	}
	return false
}
