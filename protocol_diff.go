package relais

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// The diff of two protocol versions, field by field: what a pharmacist reads
// before approving a new version, and the first brick of regional
// harmonisation (the same regimen as written at two sites).

// Change kinds.
const (
	ChangeModified = "changed"
	ChangeAdded    = "added"
	ChangeRemoved  = "removed"
)

// Change is one difference between two versions. In Path a line is named by
// its seq — the number screens show — not by its position in the list:
// lines[2] is line 2 (of the newer version, or of the older one for a
// removed line). Other lists are named by position from 0.
type Change struct {
	Path string `json:"path"` // e.g. "lines[2].dose.dose", "days", "criteria[0].value"
	Kind string `json:"kind"` // changed, added, removed
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
}

// String reads as "lines[2].dose.dose: 1.5 → 1.4", "lines[4] added: …".
func (c Change) String() string {
	switch c.Kind {
	case ChangeAdded:
		return c.Path + " added: " + c.To
	case ChangeRemoved:
		return c.Path + " removed: " + c.From
	}
	return c.Path + ": " + c.From + " → " + c.To
}

// DiffVersions returns the changes from version a to version b (of the same
// protocol or of two protocols), in the order of the content's fields.
func DiffVersions(a, b ProtocolVersion) []Change { return DiffContent(a.Content, b.Content) }

// DiffContent returns the changes from content a to content b.
//
// Lines are paired before they are compared. Matching by seq alone would
// turn one inserted premedication at seq 1 into "every line changed drug";
// so lines are paired, in this order: same seq and same drug; then same drug,
// kind and route when that pairing is unambiguous (the line was renumbered:
// its seq shows as changed); then same seq (the drug itself changed). What
// is left was removed or added. Line and drug ids are not compared: they are
// the site's bookkeeping (a copied version has new ones), the INN says which
// drug.
func DiffContent(a, b ProtocolContent) []Change {
	ta, tb := tree(a), tree(b)
	var out []Change
	for _, k := range unionKeys(ta, tb) {
		if k == "lines" {
			out = append(out, diffLines(a.Lines, b.Lines)...)
			continue
		}
		out = append(out, diffValue(k, ta.vals[k], tb.vals[k])...)
	}
	return out
}

func diffLines(a, b []ProtocolLine) []Change {
	pairA := make([]int, len(a)) // index in b paired with a[i], -1 none
	pairB := make([]int, len(b))
	for i := range pairA {
		pairA[i] = -1
	}
	for j := range pairB {
		pairB[j] = -1
	}
	pair := func(i, j int) { pairA[i], pairB[j] = j, i }
	drug := func(l ProtocolLine) string {
		if inn := NormalizeINN(l.INN); inn != "" {
			return inn
		}
		return "vehicle:" + l.Vehicle // a drugless hydration is known by its fluid
	}
	// 1. Same seq, same drug.
	for i, la := range a {
		for j, lb := range b {
			if pairB[j] < 0 && la.Seq == lb.Seq && drug(la) == drug(lb) {
				pair(i, j)
				break
			}
		}
	}
	// 2. Same drug, kind and route, when unambiguous on both sides.
	key := func(l ProtocolLine) string { return drug(l) + "|" + string(l.Kind) + "|" + string(l.Route) }
	count := func(lines []ProtocolLine, paired []int, k string) int {
		n := 0
		for i, l := range lines {
			if paired[i] < 0 && key(l) == k {
				n++
			}
		}
		return n
	}
	for i, la := range a {
		if pairA[i] >= 0 {
			continue
		}
		k := key(la)
		if count(a, pairA, k) != 1 || count(b, pairB, k) != 1 {
			continue
		}
		for j, lb := range b {
			if pairB[j] < 0 && key(lb) == k {
				pair(i, j)
				break
			}
		}
	}
	// 3. Same seq.
	for i, la := range a {
		if pairA[i] >= 0 {
			continue
		}
		for j, lb := range b {
			if pairB[j] < 0 && la.Seq == lb.Seq {
				pair(i, j)
				break
			}
		}
	}

	type item struct {
		seq     int
		removed bool
		changes []Change
	}
	var items []item
	for j, lb := range b {
		path := fmt.Sprintf("lines[%d]", lb.Seq)
		if i := pairB[j]; i >= 0 {
			items = append(items, item{seq: lb.Seq, changes: diffValue(path, lineTree(a[i]), lineTree(lb))})
		} else {
			items = append(items, item{seq: lb.Seq, changes: []Change{{Path: path, Kind: ChangeAdded, To: LineSummary(lb)}}})
		}
	}
	for i, la := range a {
		if pairA[i] < 0 {
			items = append(items, item{seq: la.Seq, removed: true,
				changes: []Change{{Path: fmt.Sprintf("lines[%d]", la.Seq), Kind: ChangeRemoved, From: LineSummary(la)}}})
		}
	}
	// By seq; a removed line before the line that now has its number.
	slices.SortStableFunc(items, func(x, y item) int {
		if x.seq != y.seq {
			return x.seq - y.seq
		}
		if x.removed != y.removed {
			if x.removed {
				return -1
			}
			return 1
		}
		return 0
	})
	var out []Change
	for _, it := range items {
		out = append(out, it.changes...)
	}
	return out
}

// LineSummary reads a line as a pharmacist would write it:
// "doxorubicine 25 mg/m² IV J1, J15 (NaCl 0.9% 250 mL, 60 min)".
func LineSummary(l ProtocolLine) string {
	var b strings.Builder
	if l.INN != "" {
		b.WriteString(l.INN)
	} else {
		b.WriteString(string(l.Kind))
	}
	if d := doseText(l); d != "" {
		b.WriteString(" " + d)
	}
	b.WriteString(" " + string(l.Route))
	days := make([]string, len(l.Days))
	for i, d := range l.Days {
		days[i] = fmt.Sprintf("J%d", d)
	}
	if len(days) > 0 {
		b.WriteString(" " + strings.Join(days, ", "))
	}
	var extra []string
	if l.Vehicle != "" {
		extra = append(extra, fmt.Sprintf("%s %g mL", l.Vehicle, l.VolumeML))
	}
	if l.DurationMin > 0 {
		extra = append(extra, fmt.Sprintf("%d min", l.DurationMin))
	}
	if len(extra) > 0 {
		b.WriteString(" (" + strings.Join(extra, ", ") + ")")
	}
	return b.String()
}

func doseText(l ProtocolLine) string {
	r := l.Dose
	switch r.Kind {
	case "per_m2":
		s := fmt.Sprintf("%g %s/m²", r.Dose, r.Unit)
		if r.MaxDose > 0 {
			s += fmt.Sprintf(" (max %g %s)", r.MaxDose, r.Unit)
		}
		return s
	case "per_kg":
		s := fmt.Sprintf("%g %s/kg", r.Dose, r.Unit)
		if r.MaxDose > 0 {
			s += fmt.Sprintf(" (max %g %s)", r.MaxDose, r.Unit)
		}
		return s
	case "auc":
		return fmt.Sprintf("AUC %g", r.AUC)
	case "flat":
		return fmt.Sprintf("%g %s", r.Dose, r.Unit)
	case "age_band":
		return "dose by age"
	}
	return ""
}

// Generic diff over the JSON form, so that a field added to the content
// shows in diffs without touching this file.

func tree(v any) *jsonObject {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("relais: diff: %v", err))
	}
	t, err := readJSON(b)
	if err != nil {
		panic(fmt.Sprintf("relais: diff: %v", err))
	}
	return t.(*jsonObject)
}

func lineTree(l ProtocolLine) *jsonObject {
	l.ID, l.DrugID = "", ""
	return tree(l)
}

func unionKeys(a, b *jsonObject) []string {
	keys := append([]string(nil), a.keys...)
	for _, k := range b.keys {
		if _, ok := a.vals[k]; !ok {
			keys = append(keys, k)
		}
	}
	return keys
}

func diffValue(path string, a, b any) []Change {
	switch {
	case a == nil && b == nil:
		return nil
	case a == nil:
		return []Change{{Path: path, Kind: ChangeAdded, To: text(b)}}
	case b == nil:
		return []Change{{Path: path, Kind: ChangeRemoved, From: text(a)}}
	}
	oa, okA := a.(*jsonObject)
	ob, okB := b.(*jsonObject)
	if okA && okB {
		var out []Change
		for _, k := range unionKeys(oa, ob) {
			out = append(out, diffValue(path+"."+k, oa.vals[k], ob.vals[k])...)
		}
		return out
	}
	la, okA := a.([]any)
	lb, okB := b.([]any)
	if okA && okB && (hasObjects(la) || hasObjects(lb)) {
		var out []Change
		for i := 0; i < len(la) || i < len(lb); i++ {
			p := fmt.Sprintf("%s[%d]", path, i)
			switch {
			case i >= len(la):
				out = append(out, Change{Path: p, Kind: ChangeAdded, To: text(lb[i])})
			case i >= len(lb):
				out = append(out, Change{Path: p, Kind: ChangeRemoved, From: text(la[i])})
			default:
				out = append(out, diffValue(p, la[i], lb[i])...)
			}
		}
		return out
	}
	if ta, tb := text(a), text(b); ta != tb {
		return []Change{{Path: path, Kind: ChangeModified, From: ta, To: tb}}
	}
	return nil
}

func hasObjects(l []any) bool {
	for _, x := range l {
		if _, ok := x.(*jsonObject); ok {
			return true
		}
	}
	return false
}

// text renders a JSON value for a change: numbers exactly as encoded,
// strings bare, lists and objects compactly.
func text(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return x
	case json.Number:
		return string(x)
	case bool:
		if x {
			return "true"
		}
		return "false"
	case []any:
		s := make([]string, len(x))
		for i, e := range x {
			s[i] = text(e)
			if str, ok := e.(string); ok {
				s[i] = fmt.Sprintf("%q", str)
			}
		}
		return "[" + strings.Join(s, ", ") + "]"
	case *jsonObject:
		s := make([]string, len(x.keys))
		for i, k := range x.keys {
			val := text(x.vals[k])
			if str, ok := x.vals[k].(string); ok {
				val = fmt.Sprintf("%q", str)
			}
			s[i] = k + ": " + val
		}
		return "{" + strings.Join(s, ", ") + "}"
	}
	return fmt.Sprint(v)
}

// VersionDiff is a diff as the API returns it: which two versions, and the
// changes from the first to the second.
type VersionDiff struct {
	From    VersionLabel `json:"from"`
	To      VersionLabel `json:"to"`
	Changes []Change     `json:"changes"`
}

// VersionLabel names one side of a diff.
type VersionLabel struct {
	ProtocolID ID            `json:"protocol_id"`
	Code       string        `json:"code"`
	VersionID  ID            `json:"version_id"`
	Number     int           `json:"number"`
	Status     VersionStatus `json:"status"`
}

// NewVersionDiff diffs version a of protocol pa with version b of pb.
func NewVersionDiff(pa Protocol, a ProtocolVersion, pb Protocol, b ProtocolVersion) VersionDiff {
	changes := DiffVersions(a, b)
	if changes == nil {
		changes = []Change{}
	}
	label := func(p Protocol, v ProtocolVersion) VersionLabel {
		return VersionLabel{ProtocolID: p.ID, Code: p.Code, VersionID: v.ID, Number: v.Number, Status: v.Status}
	}
	return VersionDiff{From: label(pa, a), To: label(pb, b), Changes: changes}
}
