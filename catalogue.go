package relais

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// The catalogue: drugs (by INN), the products a pharmacy stocks (brand, UCD
// code, strength, stability), and the diluents it makes infusions with.
// Protocols name drugs; compounding chooses products; stability data decide
// how long an opened vial or a preparation may be kept.

// DrugClass groups drugs for cumulative limits and class-wide checks
// (anthracyclines add up as doxorubicin-equivalents, bleomycin in units).
type DrugClass string

const (
	ClassAnthracycline        DrugClass = "anthracycline"
	ClassVincaAlkaloid        DrugClass = "vinca_alkaloid"
	ClassPlatinum             DrugClass = "platinum"
	ClassAlkylating           DrugClass = "alkylating"
	ClassAntimetabolite       DrugClass = "antimetabolite"
	ClassBleomycin            DrugClass = "bleomycin"
	ClassTaxane               DrugClass = "taxane"
	ClassTopoisomerase        DrugClass = "topoisomerase_inhibitor"
	ClassAntitumourAntibiotic DrugClass = "antitumour_antibiotic" // dactinomycin, mitomycin
	ClassAntibody             DrugClass = "monoclonal_antibody"
	ClassEnzyme               DrugClass = "enzyme" // asparaginases
	ClassCorticosteroid       DrugClass = "corticosteroid"
	ClassSupportive           DrugClass = "supportive" // antiemetics, mesna, folinic acid, G-CSF
	ClassOther                DrugClass = "other"
)

// DrugClasses lists the classes, in the order screens show them.
var DrugClasses = []DrugClass{ClassAnthracycline, ClassVincaAlkaloid, ClassPlatinum, ClassAlkylating,
	ClassAntimetabolite, ClassBleomycin, ClassTaxane, ClassTopoisomerase, ClassAntitumourAntibiotic,
	ClassAntibody, ClassEnzyme, ClassCorticosteroid, ClassSupportive, ClassOther}

// Valid reports whether c is a known class.
func (c DrugClass) Valid() bool {
	for _, x := range DrugClasses {
		if c == x {
			return true
		}
	}
	return false
}

// Drug is an active substance, named by its INN (French DCI, e.g.
// "doxorubicine", "bléomycine"). INNs are stored trimmed and in lower case so
// that "Doxorubicine" and "doxorubicine " are the same drug; protocols
// exchanged between sites name drugs by INN.
type Drug struct {
	ID    ID        `json:"id"`
	INN   string    `json:"inn"`
	Class DrugClass `json:"class"`
	// Cytotoxic drugs are prepared in the isolator and handled as hazardous
	// (labels, waste); a monoclonal antibody or an antiemetic is not.
	Cytotoxic bool   `json:"cytotoxic"`
	Comment   string `json:"comment,omitempty"`
	Site      string `json:"site"`
	// Revision counts the changes; an update names the revision it was based
	// on, so that two people editing at once cannot lose each other's work.
	Revision  int       `json:"revision"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// NormalizeINN is how INNs are compared and stored.
func NormalizeINN(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// Validate checks a drug as a user wrote it (ID, site and times are set by
// the store).
func (d Drug) Validate(op string) error {
	var errs []error
	if NormalizeINN(d.INN) == "" {
		errs = append(errs, Invalid(op, "inn", "the INN (DCI) is required, e.g. doxorubicine"))
	} else if utf8.RuneCountInString(d.INN) > 100 {
		errs = append(errs, Invalid(op, "inn", "the INN is longer than 100 characters"))
	}
	if !d.Class.Valid() {
		errs = append(errs, Invalid(op, "class", "unknown class %q: use one of %s", d.Class, joinClasses()))
	}
	return Errors(op, errs)
}

func joinClasses() string {
	s := make([]string, len(DrugClasses))
	for i, c := range DrugClasses {
		s[i] = string(c)
	}
	return strings.Join(s, ", ")
}

// ProductForm is the pharmaceutical form of a product.
type ProductForm string

const (
	FormSolution     ProductForm = "solution"      // ready-to-dilute solution, vial
	FormPowder       ProductForm = "powder"        // powder to reconstitute
	FormTablet       ProductForm = "tablet"        // oral
	FormCapsule      ProductForm = "capsule"       // oral
	FormOralSolution ProductForm = "oral_solution" // oral
)

// Valid reports whether f is a known form.
func (f ProductForm) Valid() bool {
	switch f {
	case FormSolution, FormPowder, FormTablet, FormCapsule, FormOralSolution:
		return true
	}
	return false
}

// Injectable reports whether the form is a vial for injection.
func (f ProductForm) Injectable() bool { return f == FormSolution || f == FormPowder }

// DoseUnits are the units of strengths and doses (as in clinical.Rule).
var DoseUnits = []string{"mg", "g", "µg", "U", "IU"}

func validDoseUnit(u string) bool {
	for _, x := range DoseUnits {
		if u == x {
			return true
		}
	}
	return false
}

// Product is one presentation of a drug as the pharmacy stocks it: one UCD
// code, one strength per unit (vial, tablet). In France every vial size has
// its own UCD code, so "doxorubicine 10 mg/5 mL" and "50 mg/25 mL" of the
// same brand are two products: compounding chooses among the products of a
// drug to make up a dose.
type Product struct {
	ID     ID     `json:"id"`
	DrugID ID     `json:"drug_id"`
	Brand  string `json:"brand"` // e.g. "Doxorubicine Accord 2 mg/mL, flacon de 25 mL"
	// UCD is the 13-digit UCD code (see ValidateUCD).
	UCD string `json:"ucd"`
	// UCDDemo marks a fictitious code made up for demonstration data: it
	// must never be sent to a billing or traceability system.
	UCDDemo bool        `json:"ucd_demo,omitempty"`
	Form    ProductForm `json:"form"`
	// Strength is the amount of drug per unit (vial, tablet), in StrengthUnit.
	Strength     float64 `json:"strength"`
	StrengthUnit string  `json:"strength_unit"` // mg, g, µg, U, IU
	// VolumeML is the volume of a solution vial, or of a powder vial once
	// reconstituted as its SmPC says; 0 for oral forms.
	VolumeML float64 `json:"volume_ml,omitempty"`
	// Concentration is StrengthUnit per mL of the solution (after
	// reconstitution for a powder); it must agree with Strength/VolumeML.
	Concentration float64 `json:"concentration,omitempty"`
	// Reconstitution says how a powder is reconstituted, e.g. "5 mL d'eau
	// pour préparations injectables".
	Reconstitution string `json:"reconstitution,omitempty"`
	// ListeEnSus: billed per administration on top of the hospital stay
	// (with an indication code, FICHCOMP).
	ListeEnSus bool `json:"liste_en_sus"`
	// DensityGML of the solution, for gravimetric control of preparations;
	// 0 when unknown (the control then falls back to volumes).
	DensityGML float64     `json:"density_g_ml,omitempty"`
	Stability  []Stability `json:"stability"`
	Comment    string      `json:"comment,omitempty"`
	Site       string      `json:"site"`
	Revision   int         `json:"revision"`
	CreatedAt  time.Time   `json:"created_at"`
	UpdatedAt  time.Time   `json:"updated_at"`
}

// StabilityCondition is the state a stability entry applies to.
type StabilityCondition string

const (
	AfterOpening        StabilityCondition = "after_opening"        // a solution vial once pierced
	AfterReconstitution StabilityCondition = "after_reconstitution" // a powder once reconstituted
	AfterDilution       StabilityCondition = "after_dilution"       // the diluted preparation
)

// Stability says how long a product keeps in one condition and storage, and
// who says so. Source is mandatory: a stability nobody can trace back is not
// used.
type Stability struct {
	ID        ID                 `json:"id"`
	Condition StabilityCondition `json:"condition"`
	// Storage: temperature range as written in the source, e.g. "2-8°C",
	// "25°C", "≤ 25°C".
	Storage          string  `json:"storage"`
	ProtectFromLight bool    `json:"protect_from_light"`
	DurationHours    float64 `json:"duration_hours"`
	// Diluent (after dilution: the vehicle, e.g. "NaCl 0.9%", "G5%"; after
	// reconstitution: the solvent when it matters).
	Diluent string `json:"diluent,omitempty"`
	// Concentration range (in the product's unit per mL) of the diluted
	// solution the entry holds for; 0 = not bounded.
	MinConcentration float64 `json:"min_concentration,omitempty"`
	MaxConcentration float64 `json:"max_concentration,omitempty"`
	Container        string  `json:"container,omitempty"` // e.g. "polyolefin bag", "PP syringe"
	// Source: SmPC (RCP) with its date, Stabilis monograph, publication.
	Source string `json:"source"`
}

// Validate checks a product as a user wrote it.
func (p Product) Validate(op string) error {
	var errs []error
	add := func(field, format string, args ...any) { errs = append(errs, Invalid(op, field, format, args...)) }
	if p.DrugID == "" {
		add("drug_id", "say which drug this product is")
	}
	if strings.TrimSpace(p.Brand) == "" {
		add("brand", "the brand name (nom commercial) is required")
	}
	if err := ValidateUCD(p.UCD); err != nil {
		add("ucd", "%s", err.Error())
	}
	if !p.Form.Valid() {
		add("form", "unknown form %q: use solution, powder, tablet, capsule or oral_solution", p.Form)
	}
	if !(p.Strength > 0) || math.IsInf(p.Strength, 0) {
		add("strength", "the strength per unit must be a positive number")
	}
	if !validDoseUnit(p.StrengthUnit) {
		add("strength_unit", "unknown unit %q: use %s", p.StrengthUnit, strings.Join(DoseUnits, ", "))
	}
	if p.VolumeML < 0 || math.IsNaN(p.VolumeML) || math.IsInf(p.VolumeML, 0) {
		add("volume_ml", "the volume cannot be negative")
	}
	if p.Concentration < 0 || math.IsNaN(p.Concentration) || math.IsInf(p.Concentration, 0) {
		add("concentration", "the concentration cannot be negative")
	}
	if p.Form.Injectable() {
		if !(p.VolumeML > 0) {
			add("volume_ml", "an injectable product needs its volume in mL (after reconstitution for a powder)")
		}
		if !(p.Concentration > 0) {
			add("concentration", "an injectable product needs its concentration per mL (after reconstitution for a powder)")
		}
		// The three values are entered separately; a typo in one would put a
		// wrong volume on every worksheet, so they must agree (0.5 %
		// tolerance for the rounding printed on labels).
		if p.Strength > 0 && p.VolumeML > 0 && p.Concentration > 0 {
			c := p.Strength / p.VolumeML
			if math.Abs(c-p.Concentration) > 0.005*p.Concentration {
				add("concentration", "%g %s/mL does not match the strength and volume (%g %s in %g mL = %.4g %s/mL): check all three",
					p.Concentration, p.StrengthUnit, p.Strength, p.StrengthUnit, p.VolumeML, c, p.StrengthUnit)
			}
		}
		if p.Form == FormPowder && strings.TrimSpace(p.Reconstitution) == "" {
			add("reconstitution", "say how the powder is reconstituted (solvent and volume), as the SmPC says")
		}
	}
	if p.DensityGML < 0 || p.DensityGML > 3 || math.IsNaN(p.DensityGML) {
		add("density_g_ml", "the density must be between 0 and 3 g/mL (leave 0 when unknown)")
	}
	for i, s := range p.Stability {
		for _, err := range s.validate(op, fmt.Sprintf("stability[%d].", i)) {
			errs = append(errs, err)
		}
	}
	return Errors(op, errs)
}

// Validate checks one stability entry.
func (s Stability) Validate(op string) error { return Errors(op, s.validate(op, "")) }

func (s Stability) validate(op, prefix string) []error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, Invalid(op, prefix+field, format, args...))
	}
	switch s.Condition {
	case AfterOpening, AfterReconstitution, AfterDilution:
	default:
		add("condition", "unknown condition %q: use after_opening, after_reconstitution or after_dilution", s.Condition)
	}
	if strings.TrimSpace(s.Storage) == "" {
		add("storage", "say how it is stored, e.g. 2-8°C or 25°C")
	}
	if !(s.DurationHours > 0) || math.IsInf(s.DurationHours, 0) {
		add("duration_hours", "the duration must be a positive number of hours")
	}
	if s.Condition == AfterDilution && strings.TrimSpace(s.Diluent) == "" {
		add("diluent", "a stability after dilution holds for one diluent: name it, e.g. NaCl 0.9%%")
	}
	if s.MinConcentration < 0 || s.MaxConcentration < 0 || math.IsNaN(s.MinConcentration) || math.IsNaN(s.MaxConcentration) {
		add("min_concentration", "concentrations cannot be negative")
	} else if s.MaxConcentration > 0 && s.MinConcentration > s.MaxConcentration {
		add("max_concentration", "the maximum concentration (%g) is below the minimum (%g)", s.MaxConcentration, s.MinConcentration)
	}
	if strings.TrimSpace(s.Source) == "" {
		add("source", "a stability needs its source (SmPC and its date, Stabilis monograph, publication)")
	}
	return errs
}

// ValidateUCD checks a 13-digit UCD code: 13 digits, the "34008" prefix of
// French health-product codes followed by the 7-digit UCD code, and the
// GS1 (EAN-13) check digit in last position — the code is printed as an
// EAN-13 barcode. It cannot tell whether the code exists: only the official
// UCD database can.
func ValidateUCD(code string) error {
	if len(code) != 13 {
		return fmt.Errorf("a UCD code has 13 digits, %q has %d characters", truncate(code, 20), utf8.RuneCountInString(code))
	}
	for _, c := range code {
		if c < '0' || c > '9' {
			return fmt.Errorf("a UCD code has only digits: %q", code)
		}
	}
	if !strings.HasPrefix(code, "34008") {
		return fmt.Errorf("a 13-digit UCD code starts with 34008, not %s", code[:5])
	}
	if want := EAN13CheckDigit(code[:12]); code[12] != want {
		return fmt.Errorf("the check digit of %s is wrong (expected %c): check the code for a typo", code, want)
	}
	return nil
}

// EAN13CheckDigit returns the GS1 check digit of 12 digits: weights 1 and 3
// alternating from the left, and the digit that brings the sum to a
// multiple of 10.
func EAN13CheckDigit(first12 string) byte {
	sum := 0
	for i := 0; i < 12 && i < len(first12); i++ {
		d := int(first12[i] - '0')
		if i%2 == 1 {
			d *= 3
		}
		sum += d
	}
	return byte('0' + (10-sum%10)%10)
}

// Diluent is a vehicle the pharmacy makes infusions with, and the bag
// volumes it stocks.
type Diluent struct {
	ID        ID        `json:"id"`
	Name      string    `json:"name"` // e.g. "NaCl 0.9%", "G5%"
	VolumesML []float64 `json:"volumes_ml"`
	Comment   string    `json:"comment,omitempty"`
	Site      string    `json:"site"`
	Revision  int       `json:"revision"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Validate checks a diluent as a user wrote it.
func (d Diluent) Validate(op string) error {
	var errs []error
	if strings.TrimSpace(d.Name) == "" {
		errs = append(errs, Invalid(op, "name", "the diluent's name is required, e.g. NaCl 0.9%%"))
	}
	if len(d.VolumesML) == 0 {
		errs = append(errs, Invalid(op, "volumes_ml", "list the bag volumes stocked, in mL, e.g. [50, 100, 250, 500]"))
	}
	for i, v := range d.VolumesML {
		if !(v > 0) || math.IsInf(v, 0) {
			errs = append(errs, Invalid(op, fmt.Sprintf("volumes_ml[%d]", i), "a bag volume must be a positive number of mL"))
		}
	}
	return Errors(op, errs)
}

// CatalogueService manages drugs, products, diluents and stability data.
// Nothing is deleted: a product no longer stocked is marked so in its
// comment (and, later, withdrawn), because preparations made with it still
// point at it.
type CatalogueService interface {
	CreateDrug(ctx context.Context, d Drug) (Drug, error)
	// UpdateDrug changes a drug; d.Revision must be the revision it was
	// read at.
	UpdateDrug(ctx context.Context, d Drug) (Drug, error)
	Drug(ctx context.Context, id ID) (Drug, error)
	DrugByINN(ctx context.Context, inn string) (Drug, error)
	Drugs(ctx context.Context) ([]Drug, error)

	CreateProduct(ctx context.Context, p Product) (Product, error)
	// UpdateProduct changes a product (not its stability entries: p.Stability
	// is left out or sent back as read); p.Revision must be the revision it
	// was read at.
	UpdateProduct(ctx context.Context, p Product) (Product, error)
	// AddStability adds one stability entry to a product; UpdateStability
	// corrects one (by s.ID). Entries are never removed: the journal keeps
	// what a corrected entry said before.
	AddStability(ctx context.Context, productID ID, s Stability) (Product, error)
	UpdateStability(ctx context.Context, productID ID, s Stability) (Product, error)
	Product(ctx context.Context, id ID) (Product, error)
	// Products lists the products of a drug, or all when drugID is empty.
	Products(ctx context.Context, drugID ID) ([]Product, error)

	CreateDiluent(ctx context.Context, d Diluent) (Diluent, error)
	UpdateDiluent(ctx context.Context, d Diluent) (Diluent, error)
	Diluent(ctx context.Context, id ID) (Diluent, error)
	Diluents(ctx context.Context) ([]Diluent, error)
}
