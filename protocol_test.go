package relais_test

import (
	"testing"

	"github.com/relais-onco/relais"
)

// The lifecycle, as the issue states it: draft → in_test → active →
// retired, and in_test → draft for rework. Nothing else.
func TestVersionTransitions(t *testing.T) {
	allowed := map[[2]relais.VersionStatus]bool{
		{relais.VersionDraft, relais.VersionInTest}:   true,
		{relais.VersionInTest, relais.VersionActive}:  true,
		{relais.VersionInTest, relais.VersionDraft}:   true,
		{relais.VersionActive, relais.VersionRetired}: true,
	}
	for _, from := range relais.VersionStatuses {
		for _, to := range relais.VersionStatuses {
			if got := from.CanMove(to); got != allowed[[2]relais.VersionStatus{from, to}] {
				t.Errorf("%s → %s allowed = %v", from, to, got)
			}
		}
		if from.Frozen() != (from != relais.VersionDraft) {
			t.Errorf("%s frozen = %v", from, from.Frozen())
		}
	}
}

func TestCriterionMet(t *testing.T) {
	c := relais.Criterion{Lab: "neutrophils", Op: ">=", Value: 1, Unit: "G/L", Days: []int{1}}
	if !c.Met(1) || c.Met(0.99) {
		t.Fatal("neutrophils ≥ 1 G/L")
	}
	if !c.AppliesOn(1) || c.AppliesOn(15) {
		t.Fatal("days")
	}
	lt := relais.Criterion{Op: "<=", Value: 1.5}
	if !lt.Met(1.5) || lt.Met(1.6) {
		t.Fatal("<=")
	}
}

func TestNeedsCompounding(t *testing.T) {
	for _, r := range relais.AdminRoutes {
		if r.NeedsCompounding() != (r != relais.RoutePO) {
			t.Errorf("%s", r)
		}
	}
	hydration := relais.ProtocolLine{Kind: relais.LineHydration, Route: relais.RouteIV, Vehicle: "NaCl 0.9%", VolumeML: 1000}
	if hydration.NeedsCompounding() {
		t.Error("a drugless hydration bag is not compounded")
	}
}
