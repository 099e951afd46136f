package sqlstore

import (
	"slices"
	"testing"
)

func TestParentsFirst(t *testing.T) {
	tables := []string{"administration", "note", "patient", "preparation", "prescription", "site", "x", "y"}
	parents := map[string][]string{
		"administration": {"preparation"},
		"preparation":    {"prescription"},
		"prescription":   {"patient"},
		"patient":        {"site", "patient"}, // merged_into: itself
		"note":           {"note", "patient", "elsewhere"},
		"x":              {"y"}, // a cycle, which keeps its tables by name
		"y":              {"x"},
	}
	got := parentsFirst(tables, parents)
	if len(got) != len(tables) {
		t.Fatalf("order: %v, want each of %v once", got, tables)
	}
	for child, ps := range parents {
		for _, p := range ps {
			if i, j := slices.Index(got, p), slices.Index(got, child); p != child && i >= 0 && !(child == "x" || child == "y") && i > j {
				t.Errorf("order %v: %s comes after its child %s", got, p, child)
			}
		}
	}
	if slices.Index(got, "x") > slices.Index(got, "y") || slices.Index(got, "y") != len(got)-1 {
		t.Errorf("order %v: the cycle x–y should come last, by name", got)
	}
}
