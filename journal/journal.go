// Package journal owns the hash-chained journal of a site: the shape of an
// entry, its canonical encoding, the chaining of hashes, and the signed
// checkpoints that let another site or an inspector verify a chain later with
// only the site's public key.
//
// Every change of state in Relais appends one entry in the same transaction
// as the change (see sqlstore). The journal is what `relais audit verify`
// checks, what another site replicates, what a crisis node follows and what
// reintegration replays, so its encoding is frozen: changing Canonical breaks
// every chain ever written.
package journal

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// GenesisHash is the "previous hash" of a site's first entry.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// Entry is one change of state.
type Entry struct {
	Seq      int64           `json:"seq"`       // 1, 2, 3… per site, no gaps
	ID       string          `json:"id"`        // UUIDv7; replay is idempotent by this id
	Time     time.Time       `json:"time"`      // UTC, microseconds
	Site     string          `json:"site"`      // site whose chain this is
	UserID   string          `json:"user_id"`   // actor's account id (empty for Relais itself)
	Username string          `json:"username"`  // actor's login, kept for readability
	Role     string          `json:"role"`      // actor's role when acting
	Action   string          `json:"action"`    // e.g. "prescription.sign"
	Entity   string          `json:"entity"`    // e.g. "prescription"
	EntityID string          `json:"entity_id"` // id of the row described
	Before   json.RawMessage `json:"before"`    // canonical JSON, or null for a creation
	After    json.RawMessage `json:"after"`     // canonical JSON of the entity after the change
	Prev     string          `json:"prev"`      // hash of the previous entry
	Hash     string          `json:"hash"`      // SHA-256 of Canonical(), hex
}

// Canonicalize re-encodes a JSON document with object keys sorted, no
// insignificant space and numbers kept exactly as written, so that equal
// documents hash equally whatever produced them. A nil or empty document
// becomes null.
func Canonicalize(doc []byte) (json.RawMessage, error) {
	if len(bytes.TrimSpace(doc)) == 0 {
		return json.RawMessage("null"), nil
	}
	if out, ok := canonicalFast(doc); ok {
		return out, nil
	}
	return canonicalizeReference(doc)
}

// canonicalizeReference is the definition of the canonical form, through
// encoding/json: decode keeping numbers as written, encode with sorted keys
// and no HTML escaping. canonicalFast must give the same bytes.
func canonicalizeReference(doc []byte) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("journal: canonicalize: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("journal: canonicalize: trailing data after the document")
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil { // maps encode with sorted keys
		return nil, fmt.Errorf("journal: canonicalize: %w", err)
	}
	return json.RawMessage(bytes.TrimRight(buf.Bytes(), "\n")), nil
}

// Marshal encodes v as canonical JSON.
func Marshal(v any) (json.RawMessage, error) {
	if v == nil {
		return json.RawMessage("null"), nil
	}
	if raw, ok := v.(json.RawMessage); ok {
		return Canonicalize(raw)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("journal: marshal: %w", err)
	}
	return Canonicalize(b)
}

// TimeFormat is how times are written in the hashed encoding.
const TimeFormat = "2006-01-02T15:04:05.000000Z"

// Canonical returns the bytes whose SHA-256 is the entry's hash: one JSON
// object with the fields in the order below (v, seq, id, time, site,
// user_id, username, role, action, entity, entity_id, before, after, prev),
// strings as encoding/json writes them without HTML escaping. Do not change
// it: every chain ever written depends on it (docs/audit.md; the test file
// keeps the encoding/json definition it must equal).
//
// Before and After are hashed as encoding/json writes a json.RawMessage:
// compacted, nothing else changed. Seal made them canonical, so a stored
// document whose content changed no longer matches its hash; re-spacing it
// does not change the hash (a database may re-space JSON). A document
// already compact — every document Relais writes — is taken as it is, not
// parsed again: that is most of the work of verifying a long journal. Such
// a document is not checked for being JSON here; one that was altered can
// only match its hash if whoever altered it also recomputed every hash after
// it, which the signed checkpoints reveal (`relais audit verify` also reads
// every entity's last image back).
func (e *Entry) Canonical() ([]byte, error) {
	return e.appendCanonical(make([]byte, 0, 512+len(e.Before)+len(e.After)))
}

func (e *Entry) appendCanonical(b []byte) ([]byte, error) {
	str := func(key, v string) {
		b = append(b, ',', '"')
		b = append(b, key...)
		b = append(b, '"', ':')
		b = appendCanonicalString(b, []byte(v))
	}
	doc := func(key string, v json.RawMessage) error {
		b = append(b, ',', '"')
		b = append(b, key...)
		b = append(b, '"', ':')
		if len(v) == 0 {
			b = append(b, "null"...)
			return nil
		}
		if isCompact(v) {
			b = append(b, v...)
			return nil
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, v); err != nil {
			return fmt.Errorf("%s is not JSON: %w", key, err)
		}
		b = append(b, buf.Bytes()...)
		return nil
	}
	b = append(b, `{"v":1,"seq":`...)
	b = strconv.AppendInt(b, e.Seq, 10)
	str("id", e.ID)
	str("time", e.Time.UTC().Format(TimeFormat))
	str("site", e.Site)
	str("user_id", e.UserID)
	str("username", e.Username)
	str("role", e.Role)
	str("action", e.Action)
	str("entity", e.Entity)
	str("entity_id", e.EntityID)
	if err := doc("before", e.Before); err != nil {
		return nil, err
	}
	if err := doc("after", e.After); err != nil {
		return nil, err
	}
	str("prev", e.Prev)
	return append(b, '}'), nil
}

// isCompact reports whether doc has no space, tab or line break outside
// its strings: then compacting it changes nothing. It steps over each
// string to its closing quote at once (bytes.IndexByte), since most of an
// image's bytes are in its strings.
func isCompact(doc []byte) bool {
	for i := 0; i < len(doc); i++ {
		switch doc[i] {
		case ' ', '\t', '\n', '\r':
			return false
		case '"':
			for {
				j := bytes.IndexByte(doc[i+1:], '"')
				if j < 0 {
					return false // an unterminated string: not JSON, let Compact say so
				}
				i += 1 + j
				escapes := 0
				for k := i - 1; doc[k] == '\\'; k-- {
					escapes++
				}
				if escapes%2 == 0 {
					break
				}
			}
		}
	}
	return true
}

// canonicalBuffers hold the bytes of entries being hashed, reused from one
// entry to the next while a long chain is verified.
var canonicalBuffers = sync.Pool{New: func() any { return new([]byte) }}

// ComputeHash returns the hash the entry should carry.
func (e *Entry) ComputeHash() (string, error) {
	buf := canonicalBuffers.Get().(*[]byte)
	defer canonicalBuffers.Put(buf)
	b, err := e.appendCanonical((*buf)[:0])
	if err != nil {
		return "", err
	}
	*buf = b
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// Seal links e after the entry (prevSeq, prevHash): it sets Seq, Prev and
// Hash, and canonicalizes Before and After so the stored bytes are the hashed
// ones.
func (e *Entry) Seal(prevSeq int64, prevHash string) error {
	var err error
	if e.Before, err = Canonicalize(e.Before); err != nil {
		return err
	}
	if e.After, err = Canonicalize(e.After); err != nil {
		return err
	}
	e.Time = e.Time.UTC().Truncate(time.Microsecond)
	e.Seq = prevSeq + 1
	e.Prev = prevHash
	e.Hash, err = e.ComputeHash()
	return err
}

// Fault describes the first place a chain stops verifying.
type Fault struct {
	Seq    int64
	ID     string
	Reason string
}

func (f *Fault) Error() string {
	return fmt.Sprintf("journal entry %d (%s): %s", f.Seq, f.ID, f.Reason)
}

// Verifier checks a chain entry by entry, in order.
type Verifier struct {
	Site     string
	lastSeq  int64
	lastHash string
	started  bool
}

// Check verifies that e follows the previously checked entry and that its
// hash matches its content. It returns a *Fault naming e when it does not.
func (v *Verifier) Check(e *Entry) error {
	if !v.started {
		v.started = true
		v.lastHash = GenesisHash
	}
	if v.Site != "" && e.Site != v.Site {
		return &Fault{e.Seq, e.ID, fmt.Sprintf("belongs to site %q, not to this chain's site %q", e.Site, v.Site)}
	}
	if e.Seq != v.lastSeq+1 {
		return &Fault{e.Seq, e.ID, fmt.Sprintf("sequence %d follows %d: an entry is missing or was inserted", e.Seq, v.lastSeq)}
	}
	if e.Prev != v.lastHash {
		return &Fault{e.Seq, e.ID, "previous-hash link does not match the entry before it"}
	}
	h, err := e.ComputeHash()
	if err != nil {
		return &Fault{e.Seq, e.ID, "cannot be encoded: " + err.Error()}
	}
	if h != e.Hash {
		return &Fault{e.Seq, e.ID, "content does not match its hash: the entry was altered"}
	}
	v.lastSeq, v.lastHash = e.Seq, e.Hash
	return nil
}

// Head returns the sequence and hash of the last verified entry.
func (v *Verifier) Head() (int64, string) {
	if !v.started {
		return 0, GenesisHash
	}
	return v.lastSeq, v.lastHash
}
