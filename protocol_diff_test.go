package relais_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/clinical"
)

// base is a small two-drug content; each case edits a copy of it.
func base() relais.ProtocolContent {
	return relais.ProtocolContent{
		Cycles: relais.Cycles{Count: 6, LengthDays: 21},
		Days:   []int{1, 15},
		Lines: []relais.ProtocolLine{
			{ID: relais.NewID(), DrugID: relais.NewID(), Seq: 1, Kind: relais.LineChemo, INN: "vincristine", Route: relais.RouteIVL, Days: []int{1},
				Dose: clinical.Rule{Kind: "per_m2", Dose: 1.5, Unit: "mg", MaxDose: 2}},
			{ID: relais.NewID(), DrugID: relais.NewID(), Seq: 2, Kind: relais.LineChemo, INN: "méthotrexate", Route: relais.RouteIT, Days: []int{1},
				Dose: clinical.Rule{Kind: "age_band", Unit: "mg", AgeBands: []clinical.AgeBand{
					{MinAgeMonths: 12, MaxAgeMonths: 24, Dose: 8}, {MinAgeMonths: 24, MaxAgeMonths: 36, Dose: 10}, {MinAgeMonths: 36, Dose: 12}}}},
		},
		Criteria: []relais.Criterion{{Lab: "neutrophils", Op: ">=", Value: 1, Unit: "G/L"}},
	}
}

func TestDiffContent(t *testing.T) {
	premed := relais.ProtocolLine{Seq: 1, Kind: relais.LinePremedication, INN: "ondansétron", Route: relais.RouteIV, Days: []int{1},
		Dose: clinical.Rule{Kind: "flat", Dose: 8, Unit: "mg"}}
	cases := []struct {
		name string
		edit func(c *relais.ProtocolContent)
		want []string
	}{
		{"identical but for the site's ids", func(c *relais.ProtocolContent) {
			for i := range c.Lines {
				c.Lines[i].ID, c.Lines[i].DrugID = relais.NewID(), relais.NewID()
			}
		}, nil},
		{"a dose", func(c *relais.ProtocolContent) { c.Lines[0].Dose.Dose = 1.4 },
			[]string{"lines[1].dose.dose: 1.5 → 1.4"}},
		{"a cap removed", func(c *relais.ProtocolContent) { c.Lines[0].Dose.MaxDose = 0 },
			[]string{"lines[1].dose.max_dose removed: 2"}},
		{"an age band", func(c *relais.ProtocolContent) { c.Lines[1].Dose.AgeBands[2].Dose = 15 },
			[]string{"lines[2].dose.age_bands[2].dose: 12 → 15"}},
		{"the days", func(c *relais.ProtocolContent) { c.Days = []int{1, 8, 15} },
			[]string{"days: [1, 15] → [1, 8, 15]"}},
		{"a criterion", func(c *relais.ProtocolContent) { c.Criteria[0].Value = 1.5 },
			[]string{"criteria[0].value: 1 → 1.5"}},
		{"a source given", func(c *relais.ProtocolContent) { c.Source = "COG AALL0932" },
			[]string{"source added: COG AALL0932"}},
		{"a line added at the end", func(c *relais.ProtocolContent) {
			l := premed
			l.Seq = 3
			c.Lines = append(c.Lines, l)
		}, []string{"lines[3] added: ondansétron 8 mg IV J1"}},
		{"a line removed", func(c *relais.ProtocolContent) { c.Lines = c.Lines[:1] },
			[]string{"lines[2] removed: méthotrexate dose by age IT J1"}},
		// Inserting a premedication first renumbers the others: they are
		// matched by drug, so the diff shows one insertion and two
		// renumberings, not "every line changed drug".
		{"a line inserted first", func(c *relais.ProtocolContent) {
			c.Lines[0].Seq, c.Lines[1].Seq = 2, 3
			c.Lines = append([]relais.ProtocolLine{premed}, c.Lines...)
		}, []string{"lines[1] added: ondansétron 8 mg IV J1", "lines[2].seq: 1 → 2", "lines[3].seq: 2 → 3"}},
		{"a drug replaced at the same number", func(c *relais.ProtocolContent) { c.Lines[0].INN = "vinblastine" },
			[]string{"lines[1].inn: vincristine → vinblastine"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := base()
			b := a.Clone()
			c.edit(&b)
			var got []string
			for _, ch := range relais.DiffContent(a, b) {
				got = append(got, ch.String())
			}
			if !slices.Equal(got, c.want) {
				t.Fatalf("diff =\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(c.want, "\n  "))
			}
		})
	}
}

func TestDiffOfDifferentProtocolsIsSymmetric(t *testing.T) {
	a, b := base(), base()
	b.Lines[0].Dose.Dose = 1.4
	b.Cycles.Count = 8
	forward, backward := relais.DiffContent(a, b), relais.DiffContent(b, a)
	if len(forward) != 2 || len(backward) != 2 {
		t.Fatalf("forward %v, backward %v", forward, backward)
	}
	for i := range forward {
		if forward[i].Path != backward[i].Path || forward[i].From != backward[i].To || forward[i].To != backward[i].From {
			t.Fatalf("%v is not the reverse of %v", forward[i], backward[i])
		}
	}
}
