// Package harmonize owns protocol harmonisation across the regional network
// (phase 3 of seed 000): each site publishes its protocol library — the
// active and in-test versions, as protocol documents (docs/protocols.md) —
// to a JetStream key-value bucket, every site keeps a local copy of the
// others' libraries, and a pharmacist compares "the same regimen" as
// written at each site, field by field, and may adopt another site's
// version as a new local draft, which then goes through the normal
// lifecycle (test, four-eyes activation).
//
// What is here: the published form (Version), the matching of regimens
// across sites (by code; otherwise a proposal by normalised name or
// indication, each match saying how it was made), the comparison (reusing
// relais.DiffContent), the adoption (through ProtocolService.ImportProtocol),
// and the NATS side (Publisher, Follower, in nats.go). The local copy of
// the others' libraries is a cache (sqlstore/harmonize.go): it is refilled
// from the bucket and is not part of the site's journal.
package harmonize

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/relais-onco/relais"
)

// Version is one protocol version as a site publishes it.
type Version struct {
	Site        string               `json:"site"`
	Code        string               `json:"code"`
	Number      int                  `json:"number"`
	Status      relais.VersionStatus `json:"status"`
	ContentHash string               `json:"content_hash"`
	PublishedAt time.Time            `json:"published_at"`
	// Document is the version as its site exported it (Origin filled in:
	// site, version, status, author, approver).
	Document relais.ProtocolDocument `json:"document"`
	// ReceivedAt is when this site stored its copy (set by the cache, never
	// published): the age of the data when the hub is unreachable.
	ReceivedAt time.Time `json:"received_at,omitzero"`
}

// Published statuses: what a site shares of its library. A draft is work in
// progress; a retired version is no longer prescribed anywhere new.
func Published(s relais.VersionStatus) bool {
	return s == relais.VersionActive || s == relais.VersionInTest
}

// Check verifies a received version before it is stored: the key it came
// under, its own fields and its document must agree, and the document must
// be a valid protocol document.
func (v Version) Check(op string) error {
	var errs []error
	if v.Site == "" {
		errs = append(errs, relais.Invalid(op, "site", "the version names no site"))
	}
	if !Published(v.Status) {
		errs = append(errs, relais.Invalid(op, "status", "only active and in-test versions are published, not %q", v.Status))
	}
	if v.Number < 1 {
		errs = append(errs, relais.Invalid(op, "number", "version number %d: versions are numbered from 1", v.Number))
	}
	if v.Code != v.Document.Code {
		errs = append(errs, relais.Invalid(op, "document.code", "the version says %q, its document %q", v.Code, v.Document.Code))
	}
	if o := v.Document.Origin; o == nil || o.Site != v.Site || o.Version != v.Number {
		errs = append(errs, relais.Invalid(op, "document.origin", "the document's origin must name site %s, version %d", v.Site, v.Number))
	}
	if err := relais.Errors(op, errs); err != nil {
		return err
	}
	if err := v.Document.CheckFormat(op); err != nil {
		return err
	}
	return v.Document.Validate(op)
}

// Local is one protocol of this site's library, with the version the
// others are compared against.
type Local struct {
	Protocol relais.Protocol `json:"protocol"`
	// Reference is the version compared with the other sites': the active
	// one, otherwise the newest in test; nil when the protocol has neither.
	Reference *relais.ProtocolVersion `json:"reference,omitempty"`
}

// How a regimen of another site was matched with a local one.
const (
	MatchCode       = "code"       // the same protocol code: the same regimen
	MatchName       = "name"       // proposed: the same name, once normalised
	MatchIndication = "indication" // proposed: the same indication and the same drugs
)

// Match says which local protocol a remote version is, and how that was
// decided: by code it is taken as the same regimen; by name or indication
// it is only proposed, for a pharmacist to confirm by reading the diff.
type Match struct {
	Kind   string `json:"kind"`   // code, name or indication
	Reason string `json:"reason"` // in words, for the screen
	// Proposed is true for a match a pharmacist must confirm.
	Proposed bool `json:"proposed"`
}

// Comparison is one version of another site against this site's
// reference version of the matched protocol.
type Comparison struct {
	Remote Version `json:"remote"`
	// Local is the matched local protocol; nil when none matched (the
	// regimen exists only elsewhere: adopting it creates a new protocol).
	Local *Local `json:"local,omitempty"`
	Match *Match `json:"match,omitempty"`
	// Changes go from this site's reference version to the other site's
	// version: From is here, To is there. Header fields (name, indication,
	// population) come first, then the content's, as relais.DiffContent
	// lists them. Empty when there is no local reference to compare with.
	Changes []relais.Change `json:"changes"`
	// Same is true when there is a reference and nothing differs.
	Same bool `json:"same"`
}

// Regimen groups, for one local protocol (or one remote-only regimen), the
// other sites' versions matched with it.
type Regimen struct {
	Code        string       `json:"code"`
	Name        string       `json:"name"`
	Local       *Local       `json:"local,omitempty"`
	Comparisons []Comparison `json:"comparisons"`
}

// Differing counts the comparisons that differ from the local reference.
func (r Regimen) Differing() int {
	n := 0
	for _, c := range r.Comparisons {
		if !c.Same {
			n++
		}
	}
	return n
}

// MatchVersion finds the local protocol a remote version is: the protocol
// with the same code (codes are unique at a site whatever their case);
// otherwise, proposed, the one protocol of the same population whose
// normalised name is the same, or else whose normalised indication is the
// same and whose reference version names the same drugs. An ambiguous
// proposal (two candidates) is not made.
func MatchVersion(v Version, locals []Local) (*Local, *Match) {
	for i := range locals {
		if strings.EqualFold(locals[i].Protocol.Code, v.Code) {
			return &locals[i], &Match{Kind: MatchCode,
				Reason: fmt.Sprintf("same code: %s here, %s at %s", locals[i].Protocol.Code, v.Code, v.Site)}
		}
	}
	doc := v.Document
	pick := func(ok func(l Local) bool) *Local {
		var found *Local
		for i := range locals {
			if locals[i].Protocol.Population != doc.Population || !ok(locals[i]) {
				continue
			}
			if found != nil {
				return nil // ambiguous: propose nothing
			}
			found = &locals[i]
		}
		return found
	}
	if name := Normalize(doc.Name); name != "" {
		if l := pick(func(l Local) bool { return Normalize(l.Protocol.Name) == name }); l != nil {
			return l, &Match{Kind: MatchName, Proposed: true,
				Reason: fmt.Sprintf("same name once normalised (%q), different codes: %s here, %s at %s", name, l.Protocol.Code, v.Code, v.Site)}
		}
	}
	if ind := Normalize(doc.Indication); ind != "" {
		inns := doc.ProtocolContent.INNs()
		if l := pick(func(l Local) bool {
			return Normalize(l.Protocol.Indication) == ind && l.Reference != nil && slices.Equal(l.Reference.Content.INNs(), inns)
		}); l != nil {
			return l, &Match{Kind: MatchIndication, Proposed: true,
				Reason: fmt.Sprintf("same indication once normalised and the same drugs (%s), different codes and names: %s here, %s at %s",
					strings.Join(inns, ", "), l.Protocol.Code, v.Code, v.Site)}
		}
	}
	return nil, nil
}

// Normalize folds a name or an indication for matching: lower case, French
// accents removed, punctuation as spaces, spaces collapsed.
// "AV préopératoire (vincristine, dactinomycine)" → "av preoperatoire vincristine dactinomycine".
func Normalize(s string) string {
	s = accents.Replace(strings.ToLower(s))
	var b strings.Builder
	space := false
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(r)
		} else {
			space = true
		}
	}
	return b.String()
}

var accents = strings.NewReplacer(
	"à", "a", "â", "a", "ä", "a", "á", "a", "ã", "a",
	"ç", "c",
	"é", "e", "è", "e", "ê", "e", "ë", "e",
	"î", "i", "ï", "i", "í", "i", "ì", "i",
	"ô", "o", "ö", "o", "ó", "o", "ò", "o", "õ", "o",
	"ù", "u", "û", "u", "ü", "u", "ú", "u",
	"ÿ", "y", "ñ", "n", "œ", "oe", "æ", "ae", "µ", "u", "μ", "u",
)

// Compare diffs a remote version against the local reference, from here to
// there. Header fields are compared too: a regimen named or indicated
// differently is worth seeing, even though adopting keeps the local header.
func Compare(v Version, local *Local, match *Match) Comparison {
	c := Comparison{Remote: v, Local: local, Match: match, Changes: []relais.Change{}}
	if local == nil || local.Reference == nil {
		return c
	}
	p, doc := local.Protocol, v.Document
	header := func(path, a, b string) {
		if a != b {
			c.Changes = append(c.Changes, relais.Change{Path: path, Kind: relais.ChangeModified, From: a, To: b})
		}
	}
	header("code", p.Code, doc.Code)
	header("name", p.Name, doc.Name)
	header("indication", p.Indication, doc.Indication)
	header("population", string(p.Population), string(doc.Population))
	c.Changes = append(c.Changes, relais.DiffContent(local.Reference.Content.Portable(), doc.ProtocolContent)...)
	c.Same = len(c.Changes) == 0
	return c
}

// Reference picks the version the others are compared against: the active
// one, otherwise the newest in test.
func Reference(d relais.ProtocolDetail) *relais.ProtocolVersion {
	if a := d.Active(); a != nil {
		return a
	}
	for i := len(d.Versions) - 1; i >= 0; i-- {
		if d.Versions[i].Status == relais.VersionInTest {
			return &d.Versions[i]
		}
	}
	return nil
}

// LocalLibrary reads this site's library with each protocol's reference
// version.
func LocalLibrary(ctx context.Context, svc relais.ProtocolService) ([]Local, error) {
	sums, err := svc.Protocols(ctx, relais.ProtocolFilter{})
	if err != nil {
		return nil, err
	}
	out := make([]Local, 0, len(sums))
	for _, s := range sums {
		d, err := svc.Protocol(ctx, s.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, Local{Protocol: d.Protocol, Reference: Reference(d)})
	}
	return out, nil
}

// Regimens matches every remote version with the local library and
// compares it: the harmonisation page. Regimens with a local protocol come
// first, by code; then those only other sites have. Within a regimen,
// versions are by site, then number.
func Regimens(remote []Version, locals []Local) []Regimen {
	byLocal := map[relais.ID]*Regimen{}
	byCode := map[string]*Regimen{}
	var order []*Regimen
	for _, v := range remote {
		l, m := MatchVersion(v, locals)
		c := Compare(v, l, m)
		var r *Regimen
		if l != nil {
			if r = byLocal[l.Protocol.ID]; r == nil {
				r = &Regimen{Code: l.Protocol.Code, Name: l.Protocol.Name, Local: l}
				byLocal[l.Protocol.ID] = r
				order = append(order, r)
			}
		} else {
			key := strings.ToUpper(v.Code)
			if r = byCode[key]; r == nil {
				r = &Regimen{Code: v.Code, Name: v.Document.Name}
				byCode[key] = r
				order = append(order, r)
			}
		}
		r.Comparisons = append(r.Comparisons, c)
	}
	out := make([]Regimen, len(order))
	for i, r := range order {
		slices.SortFunc(r.Comparisons, func(a, b Comparison) int {
			if a.Remote.Site != b.Remote.Site {
				return strings.Compare(a.Remote.Site, b.Remote.Site)
			}
			return a.Remote.Number - b.Remote.Number
		})
		out[i] = *r
	}
	slices.SortStableFunc(out, func(a, b Regimen) int {
		if (a.Local == nil) != (b.Local == nil) {
			if a.Local == nil {
				return 1
			}
			return -1
		}
		return strings.Compare(strings.ToUpper(a.Code), strings.ToUpper(b.Code))
	})
	return out
}

// Find returns the remote version site/code/number, or an error of kind
// not found naming it.
func Find(remote []Version, site, code string, number int) (Version, error) {
	for _, v := range remote {
		if v.Site == site && v.Code == code && v.Number == number {
			return v, nil
		}
	}
	return Version{}, relais.E("harmonize.find", relais.KindNotFound,
		fmt.Sprintf("no version %d of %s from site %s in this site's copy of the network's libraries", number, code, site))
}

// Adopt makes a remote version a new local draft, through the library's
// import (all of its checks against this site's catalogue apply). When the
// version matched a local protocol, the draft is a new version of that
// protocol and keeps its code, name and indication; otherwise a new
// protocol is created with the other site's header. The draft records its
// origin (site, version, status, author, approver) and must then be tested
// and activated like any other — by a second person.
func Adopt(ctx context.Context, svc relais.ProtocolService, v Version, into *relais.Protocol) (relais.ImportResult, error) {
	const op = "harmonize.adopt"
	a, ok := relais.ActorFrom(ctx)
	if !ok {
		return relais.ImportResult{}, relais.E(op, relais.KindUnauthorized, "no one is signed in")
	}
	if !a.Role.Can(relais.PermProtocolAdopt) {
		return relais.ImportResult{}, relais.E(op, relais.KindForbidden,
			fmt.Sprintf("your role (%s) does not allow adopting another site's protocol version (%s)", a.Role, relais.PermProtocolAdopt))
	}
	if v.Site == a.Site {
		return relais.ImportResult{}, relais.Invalid(op, "site", "version %d of %s is this site's own", v.Number, v.Code)
	}
	doc := v.Document
	doc.ProtocolContent = doc.ProtocolContent.Clone()
	doc.Drugs = slices.Clone(doc.Drugs)
	if into != nil {
		if into.Population != doc.Population {
			return relais.ImportResult{}, relais.Invalid(op, "population",
				"%s is for the %s population here, version %d of %s at %s is for %s: they cannot be the same regimen",
				into.Code, into.Population, v.Number, v.Code, v.Site, doc.Population)
		}
		doc.Code, doc.Name, doc.Indication = into.Code, into.Name, into.Indication
	}
	origin := relais.DocumentOrigin{}
	if doc.Origin != nil {
		origin = *doc.Origin
	}
	origin.Site, origin.Version, origin.Status = v.Site, v.Number, v.Status
	if origin.ContentHash == "" {
		origin.ContentHash = v.ContentHash
	}
	doc.Origin = &origin
	return svc.ImportProtocol(ctx, doc)
}
