package journal

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestCanonicalize(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"keys sorted at every level", `{"b": 1, "a": {"d": [3, 2], "c": null}}`, `{"a":{"c":null,"d":[3,2]},"b":1}`},
		{"no insignificant space", "{\n\t\"x\" : [ 1 , 2 ]\n}", `{"x":[1,2]}`},
		{"numbers kept as written", `{"dose_mg": 2.50, "n": 1e2, "z": -0.0}`, `{"dose_mg":2.50,"n":1e2,"z":-0.0}`},
		{"HTML characters not escaped", `{"note":"<b> & </b>"}`, `{"note":"<b> & </b>"}`},
		{"escapes decoded", `{"name":"Ren\u00e9e"}`, `{"name":"Renée"}`},
		{"array order kept", `[3,1,2]`, `[3,1,2]`},
		{"scalar document", ` "x" `, `"x"`},
		{"empty is null", ``, `null`},
		{"blank is null", " \n ", `null`},
		{"null stays null", `null`, `null`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Canonicalize([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("Canonicalize(%s) = %s; want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestCanonicalizeRefusesNonJSON(t *testing.T) {
	for _, in := range []string{`{`, `{"a":1} {"b":2}`, `{a:1}`, `[1,]`, `"unterminated`} {
		if got, err := Canonicalize([]byte(in)); err == nil {
			t.Errorf("Canonicalize(%s) = %s; want an error", in, got)
		}
	}
}

// The same document written in any key order or spacing has one canonical
// form, and that form is a fixed point.
func TestCanonicalizeIsStable(t *testing.T) {
	forms := []string{
		`{"id":"p1","name":"Léa","weight_kg":18.5,"allergies":["x","y"],"ins":{"oid":"1.2","value":"123"}}`,
		`{"weight_kg":18.5,"ins":{"value":"123","oid":"1.2"},"name":"Léa","allergies":["x","y"],"id":"p1"}`,
		"{ \"allergies\" : [\"x\", \"y\"],\n \"id\":\"p1\", \"ins\":{ \"oid\":\"1.2\", \"value\":\"123\" }, \"name\":\"L\\u00e9a\", \"weight_kg\": 18.5 }",
	}
	first, err := Canonicalize([]byte(forms[0]))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range forms[1:] {
		got, err := Canonicalize([]byte(f))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, first) {
			t.Fatalf("%s\ncanonicalizes to %s\nnot %s", f, got, first)
		}
	}
	again, err := Canonicalize(first)
	if err != nil || !bytes.Equal(again, first) {
		t.Fatalf("canonical form is not a fixed point: %s → %s (%v)", first, again, err)
	}
}

func TestMarshal(t *testing.T) {
	type user struct {
		Name string    `json:"name"`
		ID   string    `json:"id"`
		At   time.Time `json:"at"`
	}
	got, err := Marshal(user{Name: "Durand", ID: "u1", At: time.Date(2025, 3, 1, 10, 0, 0, 1000, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"at":"2025-03-01T10:00:00.000001Z","id":"u1","name":"Durand"}`; string(got) != want {
		t.Fatalf("Marshal = %s; want %s", got, want)
	}
	if got, _ := Marshal(nil); string(got) != "null" {
		t.Fatalf("Marshal(nil) = %s; want null", got)
	}
	if got, _ := Marshal(json.RawMessage(`{"b":1,"a":2}`)); string(got) != `{"a":2,"b":1}` {
		t.Fatalf("Marshal(raw) = %s; not canonicalized", got)
	}
}

// chain seals n entries on site "chu-a" and returns them.
func chain(t testing.TB, n int) []Entry {
	t.Helper()
	var out []Entry
	prevSeq, prevHash := int64(0), GenesisHash
	t0 := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		e := Entry{
			ID: "0195" + strings.Repeat(string(rune('a'+i)), 4), Time: t0.Add(time.Duration(i) * time.Minute),
			Site: "chu-a", UserID: "u1", Username: "ph.durand", Role: "pharmacist",
			Action: "user.create", Entity: "user", EntityID: "e" + string(rune('0'+i)),
			After: json.RawMessage(`{"name":"Durand","n":` + string(rune('0'+i)) + `}`),
		}
		if i > 0 {
			e.Action, e.Before = "user.update", json.RawMessage(`{"name":"Old"}`)
		}
		if err := e.Seal(prevSeq, prevHash); err != nil {
			t.Fatal(err)
		}
		prevSeq, prevHash = e.Seq, e.Hash
		out = append(out, e)
	}
	return out
}

// verify runs a Verifier over entries and returns the first fault.
func verify(site string, entries []Entry) *Fault {
	v := &Verifier{Site: site}
	for i := range entries {
		if err := v.Check(&entries[i]); err != nil {
			var f *Fault
			if errors.As(err, &f) {
				return f
			}
			return &Fault{Reason: err.Error()}
		}
	}
	return nil
}

func TestSealedChainVerifies(t *testing.T) {
	entries := chain(t, 5)
	if f := verify("chu-a", entries); f != nil {
		t.Fatal(f)
	}
	if entries[0].Prev != GenesisHash || entries[0].Seq != 1 {
		t.Fatalf("first entry: seq %d prev %s", entries[0].Seq, entries[0].Prev)
	}
	for i := 1; i < len(entries); i++ {
		if entries[i].Prev != entries[i-1].Hash || entries[i].Seq != int64(i+1) {
			t.Fatalf("entry %d not linked to the one before", i+1)
		}
	}
	v := &Verifier{}
	for i := range entries {
		v.Check(&entries[i])
	}
	if seq, hash := v.Head(); seq != 5 || hash != entries[4].Hash {
		t.Fatalf("head = %d %s", seq, hash)
	}
}

// Changing any single field of a sealed entry is caught at that entry. The
// table must cover every field of Entry: a field added later without a case
// here fails the test.
func TestVerifierDetectsEverySingleFieldChange(t *testing.T) {
	changes := map[string]func(e *Entry){
		"Seq":      func(e *Entry) { e.Seq = 7 },
		"ID":       func(e *Entry) { e.ID += "x" },
		"Time":     func(e *Entry) { e.Time = e.Time.Add(time.Microsecond) },
		"Site":     func(e *Entry) { e.Site = "chg-b" },
		"UserID":   func(e *Entry) { e.UserID = "u2" },
		"Username": func(e *Entry) { e.Username = "dr.martin" },
		"Role":     func(e *Entry) { e.Role = "it_admin" },
		"Action":   func(e *Entry) { e.Action = "user.disable" },
		"Entity":   func(e *Entry) { e.Entity = "site" },
		"EntityID": func(e *Entry) { e.EntityID = "e9" },
		"Before":   func(e *Entry) { e.Before = json.RawMessage(`{"name":"Older"}`) },
		"After":    func(e *Entry) { e.After = json.RawMessage(`{"name":"Durant","n":2}`) },
		"Prev":     func(e *Entry) { e.Prev = GenesisHash },
		"Hash":     func(e *Entry) { e.Hash = strings.Repeat("a", 64) },
	}
	typ := reflect.TypeOf(Entry{})
	for i := 0; i < typ.NumField(); i++ {
		if _, ok := changes[typ.Field(i).Name]; !ok {
			t.Errorf("no change case for Entry.%s", typ.Field(i).Name)
		}
	}
	for _, site := range []string{"chu-a", ""} { // with and without a site check
		for field, change := range changes {
			t.Run(field+"/site="+site, func(t *testing.T) {
				entries := chain(t, 4)
				change(&entries[2])
				f := verify(site, entries)
				if f == nil {
					t.Fatalf("changing %s of entry 3 was not detected", field)
				}
				if f.ID != entries[2].ID {
					t.Fatalf("fault names entry %d (%s), want entry 3: %v", f.Seq, f.ID, f)
				}
			})
		}
	}
}

// Re-encoding the before/after documents (key order, spacing) is not
// tampering: the hash covers their canonical form.
func TestVerifierAcceptsReencodedDocuments(t *testing.T) {
	entries := chain(t, 3)
	entries[1].After = json.RawMessage("{ \"n\" : 1,\n \"name\":\"Durand\" }")
	if f := verify("chu-a", entries); f != nil {
		t.Fatal(f)
	}
}

func TestVerifierNamesDeletedAndInsertedEntries(t *testing.T) {
	entries := chain(t, 5)
	deleted := append(append([]Entry(nil), entries[:2]...), entries[3:]...)
	f := verify("chu-a", deleted)
	if f == nil || f.Seq != 4 || !strings.Contains(f.Reason, "missing") {
		t.Fatalf("deleting entry 3: fault %v; want entry 4 named, an entry missing", f)
	}
	dup := append(append([]Entry(nil), entries[:3]...), entries[2:]...)
	f = verify("chu-a", dup)
	if f == nil || f.Seq != 3 || f.ID != entries[2].ID {
		t.Fatalf("repeating entry 3: fault %v; want the repeated entry named", f)
	}
}

func FuzzCanonicalize(f *testing.F) {
	for _, s := range []string{
		`{"b":1,"a":[1,2,{"d":null,"c":true}]}`, `[]`, `""`, `1e400`, `-0.0`, `{"a":"\u2028<>&"}`,
		`{"a":1,"a":2}`, "\"\xff\"", ``, `  `, `{"":""}`, `123456789012345678901234567890`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		c, err := Canonicalize(doc)
		if err != nil {
			return
		}
		if !json.Valid(c) {
			t.Fatalf("canonical form of %q is not JSON: %q", doc, c)
		}
		again, err := Canonicalize(c)
		if err != nil {
			t.Fatalf("canonical form %q does not canonicalize: %v", c, err)
		}
		if !bytes.Equal(again, c) {
			t.Fatalf("not idempotent: %q → %q → %q", doc, c, again)
		}
	})
}
