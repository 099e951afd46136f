package relais

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The compounding proposal: how to make a dose from the vials at hand. It is
// a pure function of the dose, the drug's products, the leftover vials and
// the line's vehicle, so that the pharmacist's screen, the worksheet and the
// tests all see the same numbers.
//
// Rules, in order (docs/production.md restates them):
//
//  1. Leftover vials first, earliest expiry first: a leftover is used only
//     if it is not expired at the planned preparation time, belongs to one
//     of the drug's products and has drug left (less what worksheets
//     already issued plan to take from it).
//  2. Then new vials: the fewest vials, then the least waste, then the
//     fewest different products. Larger vials are drawn whole and the
//     smallest last, so that only one new vial is left partly used.
//  3. Volumes to withdraw are rounded to 0.1 mL (a vial drawn whole gives
//     its whole volume). If that moves the dose drawn by more than
//     DrawTolerancePercent, every partial volume is rounded to 0.01 mL
//     instead (measured with a 1 mL syringe graduated in 0.01 mL); if the
//     dose still moves by more, the plan is blocked. The dose actually drawn
//     is always shown, with its deviation.
//  4. Diluent and volume: the line's vehicle and volume; with a vehicle but
//     no volume, the smallest stocked bag that puts the final concentration
//     inside the product's stability range; with no vehicle, an undiluted
//     syringe. The drug volume is added to the bag (nothing is withdrawn
//     from it; overfill is not counted): final volume = bag + drug volume.
//  5. The final concentration (dose drawn ÷ final volume) must lie inside a
//     stability range "after dilution" of every product used, in that
//     diluent; outside (or with no such data) the plan is blocked with the
//     reason and the ranges. The entry kept (the longest duration in range)
//     gives the preparation's storage and shelf life.

// DrawTolerancePercent is how far rounding the withdrawal volumes may move
// the dose drawn from the dose validated, in percent.
const DrawTolerancePercent = 1.0

// Withdrawal volume steps, in mL.
const (
	StepCoarseML = 0.1
	StepFineML   = 0.01
)

// PlanInput is what the proposal is computed from.
type PlanInput struct {
	Dose float64
	Unit string
	// Products of the drug; those that are not injectable, or not in Unit,
	// are left out.
	Products []Product
	// Leftovers are candidate leftover vials; unusable ones are skipped and
	// said so in the notes.
	Leftovers []LeftoverVial
	// Reserved is how much of each leftover issued worksheets already plan
	// to take.
	Reserved map[ID]float64
	// At is the planned preparation time: leftovers must not be expired
	// then.
	At       time.Time
	Vehicle  string  // the line's diluent; "" for an undiluted syringe
	VolumeML float64 // the line's bag volume; 0 to choose from the stocked bags
	Diluents []Diluent
}

// CompoundingPlan is the proposal: vials with volumes, waste, dilution,
// final concentration and its stability, or why it cannot be made.
type CompoundingPlan struct {
	Dose  float64 `json:"dose"`
	Unit  string  `json:"unit"`
	Draws []Draw  `json:"draws"`
	// DrawnQuantity is the dose actually drawn at the rounded volumes, and
	// DeviationPercent its difference from Dose.
	DrawnQuantity    float64 `json:"drawn_quantity"`
	DeviationPercent float64 `json:"deviation_percent"`
	StepML           float64 `json:"step_ml"`
	DrugVolumeML     float64 `json:"drug_volume_ml"`
	NewVials         int     `json:"new_vials"`
	Waste            []Waste `json:"waste"`
	Vehicle          string  `json:"vehicle,omitempty"`
	BagVolumeML      float64 `json:"bag_volume_ml,omitempty"`
	FinalVolumeML    float64 `json:"final_volume_ml"`
	// FinalConcentration in Unit/mL, unrounded (printed to 3 significant
	// digits).
	FinalConcentration float64         `json:"final_concentration"`
	Container          string          `json:"container"` // "bag" or "syringe"
	Stability          *PlanStability  `json:"stability,omitempty"`
	Blocked            bool            `json:"blocked"`
	Reasons            []string        `json:"reasons,omitempty"` // why it is blocked
	Notes              []string        `json:"notes"`             // how it was computed
	ComputedAt         time.Time       `json:"computed_at"`
	Leftovers          []LeftoverCheck `json:"leftovers,omitempty"` // candidates seen
}

// Draw is one vial drawn from.
type Draw struct {
	Leftover      bool    `json:"leftover"`
	LeftoverID    ID      `json:"leftover_id,omitempty"`
	ProductID     ID      `json:"product_id"`
	Brand         string  `json:"brand"`
	UCD           string  `json:"ucd"`
	Presentation  string  `json:"presentation"` // e.g. "50 mg / 25 mL"
	Concentration float64 `json:"concentration"`
	Available     float64 `json:"available"` // drug in the vial before drawing
	ExactQuantity float64 `json:"exact_quantity"`
	Quantity      float64 `json:"quantity"`  // at the rounded volume
	VolumeML      float64 `json:"volume_ml"` // to withdraw
	Whole         bool    `json:"whole"`     // the whole vial is drawn
	// LotID, Lot and LotExpiry: the leftover's lot, or for a new vial the
	// stock lot proposed when the worksheet is issued (earliest expiry
	// first).
	LotID     ID        `json:"lot_id,omitempty"`
	Lot       string    `json:"lot,omitempty"`
	LotExpiry Date      `json:"lot_expiry,omitempty"`
	UseBefore time.Time `json:"use_before,omitzero"` // a leftover's expiry
}

// Waste is what opening new vials of a product leaves over.
type Waste struct {
	ProductID ID      `json:"product_id"`
	Brand     string  `json:"brand"`
	Quantity  float64 `json:"quantity"`
	VolumeML  float64 `json:"volume_ml"`
	// Keepable: the product has stability data after opening (or
	// reconstitution), so what is left may be kept as a leftover vial.
	Keepable bool   `json:"keepable"`
	Note     string `json:"note"`
}

// LeftoverCheck says whether a candidate leftover could be used, and why.
type LeftoverCheck struct {
	LeftoverID ID     `json:"leftover_id"`
	Usable     bool   `json:"usable"`
	Reason     string `json:"reason"`
}

// PlanStability is the stability entry the preparation's shelf life comes
// from.
type PlanStability struct {
	ProductID        ID                 `json:"product_id"`
	Condition        StabilityCondition `json:"condition"`
	Storage          string             `json:"storage"`
	ProtectFromLight bool               `json:"protect_from_light"`
	DurationHours    float64            `json:"duration_hours"`
	Diluent          string             `json:"diluent,omitempty"`
	MinConcentration float64            `json:"min_concentration,omitempty"`
	MaxConcentration float64            `json:"max_concentration,omitempty"`
	Source           string             `json:"source"`
}

// ExpiryFrom is the end of the stability from t, to the microsecond.
func (s PlanStability) ExpiryFrom(t time.Time) time.Time {
	return t.Add(hoursDuration(s.DurationHours)).Truncate(time.Microsecond)
}

// StorageText is the storage mention printed on worksheets and labels.
func (s PlanStability) StorageText() string {
	t := "Conserver à " + s.Storage
	if s.ProtectFromLight {
		t += ", à l'abri de la lumière"
	}
	return t
}

func hoursDuration(h float64) time.Duration {
	return time.Duration(math.Round(h * float64(time.Hour)))
}

// ProposeCompounding computes the compounding plan (see the rules above).
// It never fails: a plan that cannot be made is returned Blocked, with
// every reason.
func ProposeCompounding(in PlanInput) CompoundingPlan {
	plan := CompoundingPlan{Dose: in.Dose, Unit: in.Unit, Draws: []Draw{}, Waste: []Waste{}, Notes: []string{},
		ComputedAt: in.At, StepML: StepCoarseML}
	block := func(format string, args ...any) {
		plan.Blocked = true
		plan.Reasons = append(plan.Reasons, fmt.Sprintf(format, args...))
	}
	note := func(format string, args ...any) { plan.Notes = append(plan.Notes, fmt.Sprintf(format, args...)) }
	if !(in.Dose > 0) || math.IsInf(in.Dose, 0) {
		block("the dose (%s %s) is not a positive number", num(in.Dose), in.Unit)
		return plan
	}
	var kinds []Product
	byID := map[ID]Product{}
	for _, p := range in.Products {
		if !p.Form.Injectable() || p.StrengthUnit != in.Unit || !(p.Strength > 0) || !(p.Concentration > 0) {
			continue
		}
		kinds = append(kinds, p)
		byID[p.ID] = p
	}
	if len(kinds) == 0 {
		block("no injectable product of this drug in %s is in the catalogue: add one (strength, volume, concentration)", in.Unit)
		return plan
	}

	// 1. Leftovers, earliest expiry first.
	remaining := in.Dose
	eps := in.Dose * 1e-9
	usable := usableLeftovers(in, byID, &plan)
	for _, l := range usable {
		if remaining <= eps {
			break
		}
		avail := l.RemainingQuantity - in.Reserved[l.ID]
		take := math.Min(avail, remaining)
		p := byID[l.ProductID]
		d := Draw{Leftover: true, LeftoverID: l.ID, ProductID: l.ProductID, Brand: p.Brand, UCD: p.UCD,
			Presentation: presentation(p), Concentration: l.Concentration, Available: avail, ExactQuantity: take,
			Whole: take >= avail-eps && in.Reserved[l.ID] == 0, LotID: l.StockLotID, Lot: l.Lot, LotExpiry: l.LotExpiry, UseBefore: l.Expiry}
		if d.Whole {
			d.VolumeML, d.Quantity = l.RemainingVolumeML, l.RemainingQuantity
		}
		plan.Draws = append(plan.Draws, d)
		remaining -= take
		note("leftover vial %s (lot %s, %s, use before %s): %s %s of the %s %s it holds",
			shortID(l.ID), l.Lot, p.Brand, l.Expiry.In(DisplayZone).Format("02/01/2006 15:04"), num(round(take, 4)), in.Unit, num(round(avail, 4)), in.Unit)
	}

	// 2. New vials: fewest, then least waste, then fewest products.
	if remaining > eps {
		chosen := chooseVials(kinds, remaining)
		sort.SliceStable(chosen, func(i, j int) bool { return chosen[i].Strength > chosen[j].Strength })
		total := 0.0
		for _, p := range chosen {
			total += p.Strength
		}
		plan.NewVials = len(chosen)
		counts := map[ID]int{}
		for _, p := range chosen {
			counts[p.ID]++
		}
		var desc []string
		for _, p := range uniqueProducts(chosen) {
			desc = append(desc, fmt.Sprintf("%d × %s", counts[p.ID], presentation(p)))
		}
		note("%d new vial(s) for the %s %s left: %s (%s %s opened; the fewest vials, then the least waste)",
			len(chosen), num(round(remaining, 4)), in.Unit, strings.Join(desc, " + "), num(total), in.Unit)
		left := remaining
		used := map[ID]float64{}
		for i, p := range chosen {
			take := p.Strength
			whole := true
			if i == len(chosen)-1 {
				take, whole = left, left >= p.Strength-eps
			}
			d := Draw{ProductID: p.ID, Brand: p.Brand, UCD: p.UCD, Presentation: presentation(p), Concentration: p.Concentration,
				Available: p.Strength, ExactQuantity: take, Whole: whole}
			if whole {
				d.VolumeML, d.Quantity = p.VolumeML, p.Strength
			}
			plan.Draws = append(plan.Draws, d)
			left -= take
			used[p.ID] += take
		}
		for _, p := range uniqueProducts(chosen) {
			w := float64(counts[p.ID])*p.Strength - used[p.ID]
			if w <= eps {
				continue
			}
			ws := Waste{ProductID: p.ID, Brand: p.Brand, Quantity: round(w, 4), VolumeML: round(w/p.Concentration, 2)}
			if s, ok := longestOpenStability(p); ok {
				ws.Keepable = true
				ws.Note = fmt.Sprintf("may be kept as a leftover vial: %s h at %s (%s)", num(s.DurationHours), s.Storage, s.Source)
			} else {
				ws.Note = "no stability data after opening: to be discarded"
			}
			plan.Waste = append(plan.Waste, ws)
		}
	}

	// 3. Volumes, rounded; the dose actually drawn.
	if ok, zero := roundDraws(&plan, StepCoarseML); !ok {
		coarse := plan.DeviationPercent
		if ok, zeroFine := roundDraws(&plan, StepFineML); ok && zero {
			note("rounded to 0.1 mL one draw would be 0 mL (a vial opened for nothing, a volume no one can record): volumes are rounded to 0.01 mL (1 mL syringe graduated in 0.01 mL)")
		} else if ok {
			note("rounded to 0.1 mL the dose drawn would be %+.2f %% off: volumes are rounded to 0.01 mL (1 mL syringe graduated in 0.01 mL)", coarse)
		} else if zeroFine {
			block("one draw would be less than 0.005 mL, which no syringe measures: dilute the vial first or ask the prescriber to round the dose")
		} else {
			block("the volumes cannot be measured closely enough: rounded to 0.01 mL the dose drawn is %s %s, %+.2f %% from %s %s (at most ±%s %% allowed): dilute the vial first or ask the prescriber to round the dose",
				num(round(plan.DrawnQuantity, 4)), in.Unit, plan.DeviationPercent, num(in.Dose), in.Unit, num(DrawTolerancePercent))
		}
	}
	note("dose drawn %s %s for %s %s validated (%+.2f %%), %s mL of drug solution",
		num(round(plan.DrawnQuantity, 4)), in.Unit, num(in.Dose), in.Unit, plan.DeviationPercent, num(plan.DrugVolumeML))

	// 4 and 5. Dilution and stability.
	used := productsUsed(plan.Draws, byID)
	if strings.TrimSpace(in.Vehicle) == "" {
		plan.Container = "syringe"
		plan.FinalVolumeML = plan.DrugVolumeML
		plan.FinalConcentration = plan.DrawnQuantity / plan.FinalVolumeML
		note("no vehicle prescribed: undiluted syringe of %s mL at %s %s/mL", num(plan.FinalVolumeML), sig3(plan.FinalConcentration), in.Unit)
		var best *PlanStability
		for _, p := range used {
			s, ok := longestOpenStability(p)
			if !ok {
				block("%s has no stability data after opening or reconstitution: the syringe's shelf life cannot be set; add it to the catalogue", p.Brand)
				continue
			}
			if best == nil || s.DurationHours < best.DurationHours {
				best = &s
			}
		}
		plan.Stability = best
		return plan
	}
	plan.Container = "bag"
	plan.Vehicle = in.Vehicle
	bags := []float64{in.VolumeML}
	if !(in.VolumeML > 0) {
		bags = bagVolumes(in.Diluents, in.Vehicle)
		if len(bags) == 0 {
			block("no volume is prescribed and no %s bag is stocked: add the diluent and its bag volumes to the catalogue", in.Vehicle)
			return plan
		}
	}
	var lastFaults []string
	for i, bag := range bags {
		final := round(bag+plan.DrugVolumeML, 2)
		c := plan.DrawnQuantity / final
		st, faults := dilutionStability(used, in.Vehicle, c, in.Unit)
		if len(faults) == 0 || i == len(bags)-1 {
			plan.BagVolumeML, plan.FinalVolumeML, plan.FinalConcentration = bag, final, c
			plan.Stability = st
			lastFaults = faults
			if !(in.VolumeML > 0) {
				note("no volume prescribed: %s mL bag, the smallest stocked whose concentration is in the stability range", num(bag))
			}
			break
		}
	}
	note("%s mL %s + %s mL of drug = %s mL; final concentration %s ÷ %s = %s %s/mL",
		num(plan.BagVolumeML), in.Vehicle, num(plan.DrugVolumeML), num(plan.FinalVolumeML),
		num(round(plan.DrawnQuantity, 4)), num(plan.FinalVolumeML), sig3(plan.FinalConcentration), in.Unit)
	for _, f := range lastFaults {
		block("%s", f)
	}
	if plan.Stability != nil {
		note("stability: %s h at %s in %s (%s)", num(plan.Stability.DurationHours), plan.Stability.Storage, plan.Stability.Diluent, plan.Stability.Source)
	}
	return plan
}

// usableLeftovers filters and sorts the candidate leftovers, recording why
// each was kept or not.
func usableLeftovers(in PlanInput, byID map[ID]Product, plan *CompoundingPlan) []LeftoverVial {
	var out []LeftoverVial
	for _, l := range in.Leftovers {
		chk := LeftoverCheck{LeftoverID: l.ID}
		avail := l.RemainingQuantity - in.Reserved[l.ID]
		switch _, ok := byID[l.ProductID]; {
		case !ok:
			chk.Reason = "not one of this drug's injectable products in " + in.Unit
		case l.Status != LeftoverOpen && l.Status != LeftoverPartlyUsed:
			chk.Reason = "it is " + string(l.Status)
		case !in.At.Before(l.Expiry):
			chk.Reason = "expired at " + l.Expiry.In(DisplayZone).Format("02/01/2006 15:04")
		case avail <= 0:
			chk.Reason = "what is left is already planned by issued worksheets"
		default:
			chk.Usable = true
			chk.Reason = fmt.Sprintf("%s %s available until %s", num(round(avail, 4)), in.Unit, l.Expiry.In(DisplayZone).Format("02/01/2006 15:04"))
			out = append(out, l)
		}
		plan.Leftovers = append(plan.Leftovers, chk)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Expiry.Equal(out[j].Expiry) {
			return out[i].Expiry.Before(out[j].Expiry)
		}
		if !out[i].OpenedAt.Equal(out[j].OpenedAt) {
			return out[i].OpenedAt.Before(out[j].OpenedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// chooseVials returns the multiset of new vials covering need with the
// fewest vials, then the least waste, then the fewest distinct products,
// then (for determinism) the larger vials. The fewest is always
// ⌈need ÷ largest strength⌉: that many of the largest vial cover it.
func chooseVials(kinds []Product, need float64) []Product {
	ks := append([]Product(nil), kinds...)
	sort.SliceStable(ks, func(i, j int) bool {
		if ks[i].Strength != ks[j].Strength {
			return ks[i].Strength > ks[j].Strength
		}
		return ks[i].ID < ks[j].ID
	})
	// Drop same-strength duplicates: the first (by id) stands for them.
	var sizes []Product
	for _, k := range ks {
		if len(sizes) > 0 && sizes[len(sizes)-1].Strength == k.Strength {
			continue
		}
		sizes = append(sizes, k)
	}
	eps := need * 1e-9
	n := int(math.Ceil(need/sizes[0].Strength - 1e-9))
	if n < 1 {
		n = 1
	}
	best := make([]int, len(sizes))
	best[0] = n
	bestWaste := float64(n)*sizes[0].Strength - need
	bestKinds := 1
	// Enumerate counts c[0..k-1] summing to n (bounded: n is at most a few
	// dozen vials, and a drug has a handful of sizes).
	if n <= 200 && len(sizes) > 1 {
		counts := make([]int, len(sizes))
		var walk func(i, left int, total float64)
		walk = func(i, left int, total float64) {
			if i == len(sizes)-1 {
				counts[i] = left
				total += float64(left) * sizes[i].Strength
				if total < need-eps {
					return
				}
				waste := total - need
				k := 0
				for _, c := range counts {
					if c > 0 {
						k++
					}
				}
				if waste < bestWaste-eps || (math.Abs(waste-bestWaste) <= eps && k < bestKinds) {
					copy(best, counts)
					bestWaste, bestKinds = waste, k
				}
				return
			}
			for c := left; c >= 0; c-- {
				counts[i] = c
				walk(i+1, left-c, total+float64(c)*sizes[i].Strength)
			}
		}
		walk(0, n, 0)
	}
	var out []Product
	for i, c := range best {
		for j := 0; j < c; j++ {
			out = append(out, sizes[i])
		}
	}
	return out
}

// roundDraws rounds the partial draws' volumes to step and computes the
// dose drawn; it reports whether the deviation is within tolerance.
// roundDraws rounds each partial draw to the syringe's step and reports
// whether the dose drawn stays within tolerance and no partial draw rounds
// to 0 mL (zero: such a draw cannot be measured nor recorded).
func roundDraws(plan *CompoundingPlan, step float64) (ok, zero bool) {
	plan.StepML = step
	decimals := 1
	if step < 0.1 {
		decimals = 2
	}
	total, vol := 0.0, 0.0
	for i := range plan.Draws {
		d := &plan.Draws[i]
		if !d.Whole {
			v := round(d.ExactQuantity/d.Concentration, decimals)
			if d.Leftover {
				// Never more than the leftover holds.
				maxV := math.Floor((d.Available/d.Concentration)*math.Pow(10, float64(decimals))+1e-9) / math.Pow(10, float64(decimals))
				v = math.Min(v, maxV)
			}
			d.VolumeML = v
			d.Quantity = round(v*d.Concentration, 6)
			zero = zero || v <= 0
		}
		total += d.Quantity
		vol += d.VolumeML
	}
	plan.DrawnQuantity = round(total, 6)
	plan.DrugVolumeML = round(vol, 2)
	plan.DeviationPercent = round((total-plan.Dose)/plan.Dose*100, 3)
	return !zero && math.Abs(plan.DeviationPercent) <= DrawTolerancePercent+1e-9, zero
}

func productsUsed(draws []Draw, byID map[ID]Product) []Product {
	var out []Product
	seen := map[ID]bool{}
	for _, d := range draws {
		if !seen[d.ProductID] {
			seen[d.ProductID] = true
			out = append(out, byID[d.ProductID])
		}
	}
	return out
}

func uniqueProducts(ps []Product) []Product {
	var out []Product
	seen := map[ID]bool{}
	for _, p := range ps {
		if !seen[p.ID] {
			seen[p.ID] = true
			out = append(out, p)
		}
	}
	return out
}

// dilutionStability finds, for every product used, the stability entries
// after dilution in the vehicle whose range holds c; the entry kept is the
// longest in range, and across products the shortest of those.
func dilutionStability(used []Product, vehicle string, c float64, unit string) (*PlanStability, []string) {
	var faults []string
	var best *PlanStability
	for _, p := range used {
		var inRange *Stability
		var ranges []string
		for i := range p.Stability {
			s := p.Stability[i]
			if s.Condition != AfterDilution || !SameDiluent(s.Diluent, vehicle) {
				continue
			}
			ranges = append(ranges, fmt.Sprintf("%s–%s %s/mL at %s for %s h (%s)", boundText(s.MinConcentration, "0"),
				boundText(s.MaxConcentration, "∞"), unit, s.Storage, num(s.DurationHours), s.Source))
			if concentrationIn(c, s) && (inRange == nil || s.DurationHours > inRange.DurationHours) {
				inRange = &p.Stability[i]
			}
		}
		switch {
		case len(ranges) == 0:
			faults = append(faults, fmt.Sprintf("%s has no stability data after dilution in %s: add it to the catalogue (with its source) or prescribe another vehicle", p.Brand, vehicle))
		case inRange == nil:
			faults = append(faults, fmt.Sprintf("the final concentration %s %s/mL is outside the stability range of %s in %s (%s): change the bag volume",
				sig3(c), unit, p.Brand, vehicle, strings.Join(ranges, "; ")))
		default:
			ps := &PlanStability{ProductID: p.ID, Condition: AfterDilution, Storage: inRange.Storage, ProtectFromLight: inRange.ProtectFromLight,
				DurationHours: inRange.DurationHours, Diluent: inRange.Diluent, MinConcentration: inRange.MinConcentration,
				MaxConcentration: inRange.MaxConcentration, Source: inRange.Source}
			if best == nil || ps.DurationHours < best.DurationHours {
				best = ps
			}
		}
	}
	if len(faults) > 0 {
		return nil, faults
	}
	return best, nil
}

func concentrationIn(c float64, s Stability) bool {
	// Compared at 4 significant digits, so that 4.0000000001 is 4.
	c = sigRound(c, 4)
	if s.MinConcentration > 0 && c < s.MinConcentration {
		return false
	}
	if s.MaxConcentration > 0 && c > s.MaxConcentration {
		return false
	}
	return true
}

func boundText(v float64, none string) string {
	if v == 0 {
		return none
	}
	return num(v)
}

// longestOpenStability is the product's longest stability once opened (a
// solution) or reconstituted (a powder).
func longestOpenStability(p Product) (PlanStability, bool) {
	cond := AfterOpening
	if p.Form == FormPowder {
		cond = AfterReconstitution
	}
	var best *Stability
	for i := range p.Stability {
		s := &p.Stability[i]
		if s.Condition == cond && (best == nil || s.DurationHours > best.DurationHours) {
			best = s
		}
	}
	if best == nil {
		return PlanStability{}, false
	}
	return PlanStability{ProductID: p.ID, Condition: cond, Storage: best.Storage, ProtectFromLight: best.ProtectFromLight,
		DurationHours: best.DurationHours, Source: best.Source}, true
}

func bagVolumes(ds []Diluent, vehicle string) []float64 {
	for _, d := range ds {
		if SameDiluent(d.Name, vehicle) {
			v := append([]float64(nil), d.VolumesML...)
			sort.Float64s(v)
			return v
		}
	}
	return nil
}

// SameDiluent compares diluent names loosely: case, spaces, "%" and the
// decimal comma do not matter ("NaCl 0,9 %" is "NaCl 0.9%").
func SameDiluent(a, b string) bool { return diluentKey(a) == diluentKey(b) }

func diluentKey(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	return strings.NewReplacer(" ", "", ",", ".", "\u00a0", "", "%", "").Replace(s)
}

// presentation is a product's strength and volume, e.g. "50 mg / 25 mL".
func presentation(p Product) string {
	return fmt.Sprintf("%s %s / %s mL", num(p.Strength), p.StrengthUnit, num(p.VolumeML))
}

// sig3 prints v with 3 significant digits (concentrations).
func sig3(v float64) string { return strconv.FormatFloat(sigRound(v, 3), 'f', -1, 64) }

// sigRound rounds v to n significant digits.
func sigRound(v float64, n int) float64 {
	if v == 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return v
	}
	d := n - 1 - int(math.Floor(math.Log10(math.Abs(v))))
	return round(v, d)
}

func shortID(id ID) string {
	if len(id) >= 8 {
		return string(id[len(id)-8:])
	}
	return string(id)
}
