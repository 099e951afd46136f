package journal

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// canonicalEntry is the shape of the hashed bytes as first defined.
type canonicalEntry struct {
	V        int             `json:"v"`
	Seq      int64           `json:"seq"`
	ID       string          `json:"id"`
	Time     string          `json:"time"`
	Site     string          `json:"site"`
	UserID   string          `json:"user_id"`
	Username string          `json:"username"`
	Role     string          `json:"role"`
	Action   string          `json:"action"`
	Entity   string          `json:"entity"`
	EntityID string          `json:"entity_id"`
	Before   json.RawMessage `json:"before"`
	After    json.RawMessage `json:"after"`
	Prev     string          `json:"prev"`
}

// referenceCanonical is the definition of an entry's hashed bytes, as the
// journal was first written: canonicalEntry through encoding/json without
// HTML escaping. Entry.Canonical must give the same bytes for every entry
// this accepts, or every chain ever written stops verifying.
func referenceCanonical(e *Entry) ([]byte, error) {
	before, after := e.Before, e.After
	if len(before) == 0 {
		before = json.RawMessage("null")
	}
	if len(after) == 0 {
		after = json.RawMessage("null")
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(canonicalEntry{
		V: 1, Seq: e.Seq, ID: e.ID, Time: e.Time.UTC().Format(TimeFormat), Site: e.Site,
		UserID: e.UserID, Username: e.Username, Role: e.Role, Action: e.Action,
		Entity: e.Entity, EntityID: e.EntityID, Before: before, After: after, Prev: e.Prev,
	})
	if err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

func checkEntryCanonical(t *testing.T, e *Entry) {
	t.Helper()
	want, werr := referenceCanonical(e)
	got, err := e.Canonical()
	if werr != nil {
		// Not JSON: the reference refuses it; Canonical refuses it too
		// unless it is compact (it is then hashed as stored, see Canonical).
		spacedInvalid := func(doc []byte) bool { return len(doc) > 0 && !json.Valid(doc) && !isCompact(doc) }
		if err == nil && (spacedInvalid(e.Before) || spacedInvalid(e.After)) {
			t.Fatalf("a document with spaces that is not JSON was accepted: %q / %q", e.Before, e.After)
		}
		return
	}
	if err != nil {
		t.Fatalf("the reference encodes it, Canonical refuses it: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Canonical differs from the reference:\n got %q\nwant %q", got, want)
	}
}

func TestEntryCanonicalMatchesReference(t *testing.T) {
	base := Entry{
		Seq: 42, ID: "0195ab", Time: time.Date(2026, 3, 12, 9, 30, 0, 123456789, time.FixedZone("CET", 3600)),
		Site: "chu-a", UserID: "u1", Username: "ph.durand", Role: "pharmacist",
		Action: "prescription.ok_to_treat", Entity: "prescription", EntityID: "p1",
		Before: json.RawMessage(`{"a":"x y","b":[1,2.50,-0.0]}`), After: json.RawMessage(`{"a":"<é> & \u2028","n":null}`),
		Prev: GenesisHash,
	}
	cases := map[string]func(e *Entry){
		"as Seal leaves it":            func(e *Entry) {},
		"creation: no before":          func(e *Entry) { e.Before = nil },
		"spaced documents":             func(e *Entry) { e.After = json.RawMessage("{ \"a\" : [1, \"b c\"],\n\t\"d\":{} }") },
		"escapes in strings":           func(e *Entry) { e.After = json.RawMessage(`{"a":"q\"\\ \n é"}`) },
		"control characters in fields": func(e *Entry) { e.Username, e.Role = "a\x01b\"c", "<role>\u2029" },
		"invalid UTF-8 in a field":     func(e *Entry) { e.Username = "ab\xffc" },
		"scalar documents":             func(e *Entry) { e.Before, e.After = json.RawMessage(`"x"`), json.RawMessage(`12`) },
		"not JSON, spaced":             func(e *Entry) { e.After = json.RawMessage(`{ "a": `) },
	}
	for name, change := range cases {
		t.Run(name, func(t *testing.T) {
			e := base
			change(&e)
			checkEntryCanonical(t, &e)
		})
	}
}

// A document altered by more than its spacing no longer matches its hash.
func TestEntryHashSeesChangedContentNotSpacing(t *testing.T) {
	e := chain(t, 1)[0]
	spaced := e
	spaced.After = json.RawMessage(strings.Replace(string(e.After), ",", " ,\n ", 1))
	if h, err := spaced.ComputeHash(); err != nil || h != e.Hash {
		t.Fatalf("re-spaced after-image: hash %s, %v; want the sealed hash %s", h, err, e.Hash)
	}
	changed := e
	changed.After = json.RawMessage(strings.Replace(string(e.After), "Durand", "Durant", 1))
	if h, _ := changed.ComputeHash(); h == e.Hash {
		t.Fatal("an after-image whose name changed kept its hash")
	}
}

func FuzzEntryCanonical(f *testing.F) {
	f.Add([]byte(`{"a":1}`), []byte(`{"b":[true,null]}`), "ph.durand", int64(3))
	f.Add([]byte("{ \"a\" :\n1 }"), []byte(``), "é\u2028<", int64(-1))
	f.Add([]byte(`"\\"`), []byte(`{"a":"b`), "\xff", int64(0))
	f.Fuzz(func(t *testing.T, before, after []byte, user string, seq int64) {
		e := Entry{Seq: seq, ID: "id", Time: time.Unix(seq, 0), Site: "s", Username: user, Action: "a.b",
			Entity: "e", EntityID: user, Before: before, After: after, Prev: GenesisHash}
		checkEntryCanonical(t, &e)
	})
}

// BenchmarkEntryHash hashes an entry shaped like an OK-to-treat's: the
// prescription before and after, each a benchDocument; the reference is
// the encoding/json path it replaced, hashed the same way.
func BenchmarkEntryHash(b *testing.B) {
	doc, err := Canonicalize(benchDocument(b))
	if err != nil {
		b.Fatal(err)
	}
	e := chain(b, 1)[0]
	e.Before, e.After = doc, doc
	b.SetBytes(int64(2 * len(doc)))
	b.Run("reference", func(b *testing.B) {
		for b.Loop() {
			c, err := referenceCanonical(&e)
			if err != nil {
				b.Fatal(err)
			}
			sha256.Sum256(c)
		}
	})
	b.Run("canonical", func(b *testing.B) {
		for b.Loop() {
			if _, err := e.ComputeHash(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
