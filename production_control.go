package relais

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// The production control: the drug actually drawn, computed from the volumes
// the technician measured or the masses weighed, compared with the dose
// validated. A mass is turned into a volume with the product's density
// (volume = mass ÷ density) and into drug with its concentration; the
// expected mass is the exact volume of the dose × the density. Out of
// tolerance, release is blocked and the numbers are shown.

// DefaultTolerancePercent is the control tolerance when the drug has none
// of its own: ±5 %, the usual acceptance limit of gravimetric control of
// cytotoxic preparations in French hospital pharmacies.
const DefaultTolerancePercent = 5.0

// Tolerance is a drug's own control tolerance.
type Tolerance struct {
	ID        ID        `json:"id"` // the drug's id
	DrugID    ID        `json:"drug_id"`
	INN       string    `json:"inn"`
	Percent   float64   `json:"percent"`
	UpdatedAt time.Time `json:"updated_at"`
	UpdatedBy string    `json:"updated_by"`
}

// ValidateTolerance checks a tolerance in percent.
func ValidateTolerance(field string, pct float64) error {
	if !(pct > 0) || pct > 20 || math.IsNaN(pct) {
		return Invalid("tolerance.set", field, "the tolerance is a percentage above 0 and at most 20 (e.g. 5 for ±5 %%)")
	}
	return nil
}

// Control is the result of the production control.
type Control struct {
	// Method: "gravimetric" when every vial was weighed, "volumetric" when
	// every volume was measured, "mixed" otherwise.
	Method           string  `json:"method"`
	Dose             float64 `json:"dose"`
	Measured         float64 `json:"measured"` // drug drawn, from the measures
	Unit             string  `json:"unit"`
	ExpectedMassG    float64 `json:"expected_mass_g,omitempty"`
	MeasuredMassG    float64 `json:"measured_mass_g,omitempty"`
	DeviationPercent float64 `json:"deviation_percent"`
	TolerancePercent float64 `json:"tolerance_percent"`
	Within           bool    `json:"within"`
	Detail           string  `json:"detail"`
}

// ComputeControl computes the control of vials drawn for dose. Each vial's
// Quantity, VolumeML and Method must be set (see MeasureVial).
func ComputeControl(dose float64, unit string, vials []UsedVial, tolerance float64) Control {
	c := Control{Dose: dose, Unit: unit, TolerancePercent: tolerance}
	weighed, measured := 0, 0
	expectedMass := 0.0
	for _, v := range vials {
		c.Measured += v.Quantity
		if v.Method == "mass" {
			weighed++
			c.MeasuredMassG += v.MassG
		} else {
			measured++
		}
	}
	c.Measured = round(c.Measured, 4)
	switch {
	case weighed > 0 && measured == 0:
		c.Method = "gravimetric"
	case weighed == 0:
		c.Method = "volumetric"
	default:
		c.Method = "mixed"
	}
	if dose > 0 {
		c.DeviationPercent = round((c.Measured-dose)/dose*100, 2)
	}
	c.Within = dose > 0 && math.Abs(c.DeviationPercent) <= tolerance+1e-9
	if c.Method == "gravimetric" && c.Measured > 0 {
		// Expected mass = exact volume of the dose × density, vial by vial
		// in proportion to the drug each gave.
		for _, v := range vials {
			share := v.Quantity / c.Measured * dose
			expectedMass += share / v.Concentration * v.DensityGML
		}
		c.ExpectedMassG = round(expectedMass, 3)
		c.MeasuredMassG = round(c.MeasuredMassG, 3)
	} else {
		c.MeasuredMassG = 0
	}
	var b strings.Builder
	if c.Method == "gravimetric" {
		fmt.Fprintf(&b, "expected mass %s g, weighed %s g; ", num(c.ExpectedMassG), num(c.MeasuredMassG))
	}
	fmt.Fprintf(&b, "%s %s drawn for %s %s validated: %+.2f %% (tolerance ±%s %%)", num(c.Measured), unit, num(dose), unit,
		c.DeviationPercent, num(tolerance))
	if !c.Within {
		b.WriteString(": OUT OF TOLERANCE")
	}
	c.Detail = b.String()
	return c
}

// MeasureVial turns a vial's measure into the drug it gave: a volume
// measured, or a mass weighed with the product's density.
func MeasureVial(v *UsedVial, in UsedVialInput, field string) error {
	const op = "preparation.record"
	switch {
	case in.MassG != nil && in.VolumeML != 0:
		return Invalid(op, field, "give either the volume withdrawn (volume_ml) or the mass weighed (mass_g), not both")
	case in.MassG != nil:
		m := *in.MassG
		if !(m > 0) || math.IsInf(m, 0) {
			return Invalid(op, field+".mass_g", "the mass withdrawn must be a positive number of grams")
		}
		if !(v.DensityGML > 0) {
			return Invalid(op, field+".mass_g", "%s has no density in the catalogue: the mass cannot be turned into a volume; record the volume withdrawn instead, or add the density", v.Brand)
		}
		v.Method, v.MassG = "mass", round(m, 3)
		v.VolumeML = round(m/v.DensityGML, 3)
	default:
		if !(in.VolumeML > 0) || math.IsInf(in.VolumeML, 0) {
			return Invalid(op, field+".volume_ml", "give the volume withdrawn (mL) or the mass weighed (mass_g)")
		}
		v.Method, v.VolumeML = "volume", round(in.VolumeML, 3)
	}
	v.Quantity = round(v.VolumeML*v.Concentration, 4)
	return nil
}
