package relais_test

import (
	"strings"
	"testing"

	"github.com/relais-onco/relais"
)

func TestEAN13CheckDigit(t *testing.T) {
	// 4006381333931 is the worked example of the GS1 check digit in
	// GS1 General Specifications (and the Wikipedia "EAN-13" article).
	if got := relais.EAN13CheckDigit("400638133393"); got != '1' {
		t.Fatalf("check digit = %c, want 1", got)
	}
}

func TestValidateUCD(t *testing.T) {
	cases := []struct {
		code string
		want string // "" = valid; else part of the message
	}{
		// 340089123456: 3+12+0+0+8+27+1+6+3+12+5+18 = 95 → check digit 5.
		{"3400891234565", ""},
		{"3400891234566", "check digit"},
		{"340089123456", "13 digits"},
		{"34008912345 5", "only digits"},
		{"5400891234565", "starts with 34008"},
		{"", "13 digits"},
	}
	for _, c := range cases {
		err := relais.ValidateUCD(c.code)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%q: %v", c.code, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%q: %v, want an error about %q", c.code, err, c.want)
		}
	}
}

func TestProductValidation(t *testing.T) {
	good := relais.Product{DrugID: relais.NewID(), Brand: "B", UCD: "3400891234565", Form: relais.FormPowder,
		Strength: 15, StrengthUnit: "U", VolumeML: 5, Concentration: 3, Reconstitution: "5 mL NaCl 0.9%"}
	if err := good.Validate("t"); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		edit  func(p *relais.Product)
		field string
	}{
		{"powder without reconstitution", func(p *relais.Product) { p.Reconstitution = "" }, "reconstitution"},
		{"strength, volume and concentration disagree", func(p *relais.Product) { p.Concentration = 1.5 }, "concentration"},
		{"injectable without volume", func(p *relais.Product) { p.VolumeML = 0 }, "volume_ml"},
		{"unknown unit", func(p *relais.Product) { p.StrengthUnit = "mg/mL" }, "strength_unit"},
		{"density out of range", func(p *relais.Product) { p.DensityGML = 13 }, "density_g_ml"},
		{"stability without source", func(p *relais.Product) {
			p.Stability = []relais.Stability{{Condition: relais.AfterReconstitution, Storage: "2-8°C", DurationHours: 24}}
		}, "stability[0].source"},
	}
	for _, c := range cases {
		p := good
		c.edit(&p)
		err := p.Validate("t")
		found := false
		for _, f := range relais.FieldErrors(err) {
			found = found || f.Field == c.field
		}
		if !found {
			t.Errorf("%s: %v does not name %s", c.name, err, c.field)
		}
	}
	// Oral forms have no volume.
	tab := relais.Product{DrugID: relais.NewID(), Brand: "Cortancyl 20 mg", UCD: "3400891234565", Form: relais.FormTablet, Strength: 20, StrengthUnit: "mg"}
	if err := tab.Validate("t"); err != nil {
		t.Fatal(err)
	}
}
