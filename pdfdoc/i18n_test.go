package pdfdoc

import "testing"

// Words chosen at run time (by round, category, kind, status) exist in
// both languages.
func TestDynamicWords(t *testing.T) {
	var keys []string
	for _, r := range []Round{RoundMorning, RoundAfternoon, RoundEvening} {
		keys = append(keys, "sl."+string(r))
	}
	for _, c := range []Category{CategoryMagistral, CategoryHospital} {
		keys = append(keys, "cat."+string(c))
	}
	for _, k := range kindWord {
		keys = append(keys, k)
	}
	for _, k := range statusWord {
		keys = append(keys, k)
	}
	for _, k := range keys {
		v, ok := words[k]
		if !ok || v[0] == "" || v[1] == "" {
			t.Errorf("word %q is missing in French or English", k)
		}
	}
}
