package harmonize_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/demo"
	"github.com/relais-onco/relais/harmonize"
)

func TestKeysCarryAnyProtocolCode(t *testing.T) {
	for _, code := range []string{"VA-PREOP", "R-CHOP-21", "ALL IR (bloc 2)", "BEP/EP", "ac.60"} {
		k := harmonize.Key("chg-landes", code, 12)
		if strings.ContainsAny(k, " /()*>") || strings.Count(k, ".") != 2 {
			t.Errorf("key %q for %q is not a plain three-token key", k, code)
		}
		site, c, n, err := harmonize.ParseKey(k)
		if err != nil || site != "chg-landes" || c != code || n != 12 {
			t.Errorf("ParseKey(%q) = %q %q %d %v", k, site, c, n, err)
		}
	}
	for _, bad := range []string{"a.b", "a.!!.1", "a.QQ.0", "a.QQ.x"} {
		if _, _, _, err := harmonize.ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) accepted", bad)
		}
	}
}

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"AV préopératoire (vincristine, dactinomycine), 4 semaines": "av preoperatoire vincristine dactinomycine 4 semaines",
		"  Néphroblastome  – tumeur de WILMS ":                      "nephroblastome tumeur de wilms",
		"R-CHOP-21": "r chop 21",
	} {
		if got := harmonize.Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

// libraryDoc returns a demo protocol document (docs/protocols.md format).
func libraryDoc(t *testing.T, file string) relais.ProtocolDocument {
	t.Helper()
	docs, err := demo.LibraryDocuments()
	if err != nil {
		t.Fatal(err)
	}
	d, ok := docs[file]
	if !ok {
		t.Fatalf("no %s in the demo library", file)
	}
	return d
}

func remoteOf(site string, doc relais.ProtocolDocument, n int) harmonize.Version {
	doc.Origin = &relais.DocumentOrigin{Site: site, Version: n, Status: relais.VersionActive}
	return harmonize.Version{Site: site, Code: doc.Code, Number: n, Status: relais.VersionActive, Document: doc}
}

func localOf(doc relais.ProtocolDocument) harmonize.Local {
	return harmonize.Local{
		Protocol:  relais.Protocol{ID: relais.NewID(), Code: doc.Code, Name: doc.Name, Indication: doc.Indication, Population: doc.Population},
		Reference: &relais.ProtocolVersion{Number: 1, Status: relais.VersionActive, Content: doc.ProtocolContent.Clone()},
	}
}

func TestMatchByCodeThenProposedByNameOrIndication(t *testing.T) {
	va := libraryDoc(t, "va-siop-preop.json")
	abvd := libraryDoc(t, "abvd.json")
	locals := []harmonize.Local{localOf(va), localOf(abvd)}

	// Same code, whatever its case: the same regimen.
	r := va
	r.Code = strings.ToLower(va.Code)
	l, m := harmonize.MatchVersion(remoteOf("chg-landes", r, 3), locals)
	if l == nil || l.Protocol.Code != "VA-PREOP" || m.Kind != harmonize.MatchCode || m.Proposed {
		t.Fatalf("by code: %+v %+v", l, m)
	}

	// Another code, the same name written with other accents and spaces:
	// proposed.
	r = va
	r.Code, r.Name = "WILMS-AV", "AV PREOPERATOIRE (vincristine,  dactinomycine), 4 semaines"
	l, m = harmonize.MatchVersion(remoteOf("chg-landes", r, 1), locals)
	if l == nil || l.Protocol.Code != "VA-PREOP" || m.Kind != harmonize.MatchName || !m.Proposed ||
		!strings.Contains(m.Reason, "WILMS-AV") {
		t.Fatalf("by name: %+v %+v", l, m)
	}

	// Another code and name, the same indication and drugs: proposed.
	r = va
	r.Code, r.Name = "SIOP-AV", "Vincristine + actinomycine D"
	l, m = harmonize.MatchVersion(remoteOf("chg-landes", r, 1), locals)
	if l == nil || l.Protocol.Code != "VA-PREOP" || m.Kind != harmonize.MatchIndication || !m.Proposed {
		t.Fatalf("by indication: %+v %+v", l, m)
	}

	// The same indication with other drugs is not the same regimen.
	r.Lines = slices.Clone(r.Lines[:1])
	if l, m = harmonize.MatchVersion(remoteOf("chg-landes", r, 1), locals); l != nil {
		t.Fatalf("other drugs matched: %+v %+v", l, m)
	}

	// The same name for another population is not proposed.
	r = va
	r.Code, r.Population = "VA-ADULT", relais.Adult
	if l, m = harmonize.MatchVersion(remoteOf("chg-landes", r, 1), locals); l != nil {
		t.Fatalf("other population matched: %+v %+v", l, m)
	}

	// Two local candidates: nothing is proposed.
	twin := localOf(va)
	twin.Protocol.Code = "VA-PREOP-BIS"
	r = va
	r.Code = "WILMS-AV"
	if l, m = harmonize.MatchVersion(remoteOf("chg-landes", r, 1), append(locals, twin)); l != nil {
		t.Fatalf("ambiguous name matched: %+v %+v", l, m)
	}
}

func TestCompareListsHeaderAndContentDifferences(t *testing.T) {
	va := libraryDoc(t, "va-siop-preop.json")
	local := localOf(va)
	there := va
	there.ProtocolContent = va.ProtocolContent.Clone()
	there.Name = "AV préop"
	there.Lines[1].DurationMin = 15
	c := harmonize.Compare(remoteOf("chg-landes", there, 2), &local, &harmonize.Match{Kind: harmonize.MatchCode})
	want := []relais.Change{
		{Path: "name", Kind: relais.ChangeModified, From: va.Name, To: "AV préop"},
		{Path: "lines[2].duration_min", Kind: relais.ChangeModified, From: "5", To: "15"},
	}
	if !slices.Equal(c.Changes, want) || c.Same {
		t.Fatalf("changes %v, want %v", c.Changes, want)
	}
	same := harmonize.Compare(remoteOf("chg-landes", va, 1), &local, nil)
	if !same.Same || len(same.Changes) != 0 {
		t.Fatalf("identical versions differ: %v", same.Changes)
	}
	none := harmonize.Compare(remoteOf("chg-landes", va, 1), nil, nil)
	if none.Same || none.Changes == nil || len(none.Changes) != 0 {
		t.Fatalf("no local protocol: %+v", none)
	}
}

func TestVersionCheck(t *testing.T) {
	va := libraryDoc(t, "va-siop-preop.json")
	ok := remoteOf("chg-landes", va, 2)
	if err := ok.Check("test"); err != nil {
		t.Fatalf("a valid version refused: %v", err)
	}
	for name, mut := range map[string]func(v *harmonize.Version){
		"draft":          func(v *harmonize.Version) { v.Status = relais.VersionDraft },
		"origin site":    func(v *harmonize.Version) { v.Document.Origin.Site = "chu-aquitaine" },
		"code":           func(v *harmonize.Version) { v.Code = "ABVD" },
		"invalid format": func(v *harmonize.Version) { v.Document.Format = "other" },
		"no lines":       func(v *harmonize.Version) { v.Document.Lines = nil },
	} {
		v := remoteOf("chg-landes", va, 2)
		v.Document.ProtocolContent = va.ProtocolContent.Clone()
		mut(&v)
		if err := v.Check("test"); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
