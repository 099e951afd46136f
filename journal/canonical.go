package journal

import (
	"bytes"
	"slices"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// canonicalFast is Canonicalize's one-pass path: it reads the document once
// and writes the canonical form straight away, with no map or interface
// values in between. It gives exactly the bytes of the reference path
// (canonicalizeReference: decode with UseNumber, encode with sorted keys and
// no HTML escaping), which FuzzCanonicalFast checks; on anything that path
// treats specially (a syntax error, data after the document, deep nesting)
// it answers ok=false and the reference path decides.
func canonicalFast(doc []byte) (out []byte, ok bool) {
	c := scanners.Get().(*canonScanner)
	defer func() {
		c.in = nil
		scanners.Put(c)
	}()
	c.in, c.i = doc, 0
	c.space()
	out, ok = c.value(make([]byte, 0, len(doc)), 0)
	if !ok {
		return nil, false
	}
	c.space()
	if c.i != len(c.in) {
		return nil, false
	}
	return out, true
}

// maxFastDepth bounds the recursion; deeper documents take the reference
// path (which has its own limit).
const maxFastDepth = 200

type canonScanner struct {
	in []byte
	i  int
	// per nesting depth, the values and members of the object being read
	// there: reused from one object to the next, and from one document to
	// the next through scanners.
	vals    [][]byte
	members [][]canonMember
}

var scanners = sync.Pool{New: func() any { return new(canonScanner) }}

func (c *canonScanner) space() {
	for c.i < len(c.in) {
		switch c.in[c.i] {
		case ' ', '\t', '\n', '\r':
			c.i++
		default:
			return
		}
	}
}

func (c *canonScanner) value(dst []byte, depth int) ([]byte, bool) {
	if c.i >= len(c.in) || depth > maxFastDepth {
		return nil, false
	}
	switch b := c.in[c.i]; {
	case b == '{':
		return c.object(dst, depth)
	case b == '[':
		return c.array(dst, depth)
	case b == '"':
		s, ok := c.str()
		if !ok {
			return nil, false
		}
		return appendCanonicalString(dst, s), true // s may alias the input: copied here
	case b == 't':
		return c.literal(dst, "true")
	case b == 'f':
		return c.literal(dst, "false")
	case b == 'n':
		return c.literal(dst, "null")
	case b == '-' || (b >= '0' && b <= '9'):
		return c.number(dst)
	}
	return nil, false
}

func (c *canonScanner) literal(dst []byte, lit string) ([]byte, bool) {
	if len(c.in)-c.i < len(lit) || string(c.in[c.i:c.i+len(lit)]) != lit {
		return nil, false
	}
	c.i += len(lit)
	return append(dst, lit...), true
}

// number copies a number as written, after checking it against JSON's
// grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (c *canonScanner) number(dst []byte) ([]byte, bool) {
	start, in := c.i, c.in
	i := c.i
	if in[i] == '-' {
		i++
	}
	digits := func() bool {
		j := i
		for i < len(in) && in[i] >= '0' && in[i] <= '9' {
			i++
		}
		return i > j
	}
	switch {
	case i < len(in) && in[i] == '0':
		i++
	case !digits():
		return nil, false
	}
	if i < len(in) && in[i] == '.' {
		i++
		if !digits() {
			return nil, false
		}
	}
	if i < len(in) && (in[i] == 'e' || in[i] == 'E') {
		i++
		if i < len(in) && (in[i] == '+' || in[i] == '-') {
			i++
		}
		if !digits() {
			return nil, false
		}
	}
	c.i = i
	return append(dst, in[start:i]...), true
}

func (c *canonScanner) array(dst []byte, depth int) ([]byte, bool) {
	c.i++ // [
	dst = append(dst, '[')
	c.space()
	if c.i < len(c.in) && c.in[c.i] == ']' {
		c.i++
		return append(dst, ']'), true
	}
	for {
		var ok bool
		c.space()
		if dst, ok = c.value(dst, depth+1); !ok {
			return nil, false
		}
		c.space()
		if c.i >= len(c.in) {
			return nil, false
		}
		switch c.in[c.i] {
		case ',':
			c.i++
			dst = append(dst, ',')
		case ']':
			c.i++
			return append(dst, ']'), true
		default:
			return nil, false
		}
	}
}

type canonMember struct {
	key        []byte // unescaped: keys sort as Go strings (bytes), as a map's do
	at         int    // order of appearance: the last of equal keys wins
	start, end int    // the member's value in the object's buffer
}

func (c *canonScanner) object(dst []byte, depth int) ([]byte, bool) {
	c.i++ // {
	c.space()
	if c.i < len(c.in) && c.in[c.i] == '}' {
		c.i++
		return append(dst, '{', '}'), true
	}
	for len(c.vals) <= depth {
		c.vals = append(c.vals, nil)
		c.members = append(c.members, nil)
	}
	members, vals := c.members[depth][:0], c.vals[depth][:0]
	defer func() { c.members[depth], c.vals[depth] = members[:0], vals[:0] }()
	for {
		c.space()
		if c.i >= len(c.in) || c.in[c.i] != '"' {
			return nil, false
		}
		key, ok := c.str()
		if !ok {
			return nil, false
		}
		c.space()
		if c.i >= len(c.in) || c.in[c.i] != ':' {
			return nil, false
		}
		c.i++
		c.space()
		start := len(vals)
		if vals, ok = c.value(vals, depth+1); !ok {
			return nil, false
		}
		members = append(members, canonMember{key: key, at: len(members), start: start, end: len(vals)})
		c.space()
		if c.i >= len(c.in) {
			return nil, false
		}
		if c.in[c.i] == '}' {
			c.i++
			break
		}
		if c.in[c.i] != ',' {
			return nil, false
		}
		c.i++
	}
	slices.SortFunc(members, func(a, b canonMember) int {
		if n := bytes.Compare(a.key, b.key); n != 0 {
			return n
		}
		return a.at - b.at
	})
	dst = append(dst, '{')
	first := true
	for k, m := range members {
		if k+1 < len(members) && bytes.Equal(members[k+1].key, m.key) {
			continue // a later member with the same key replaces this one
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = appendCanonicalString(dst, m.key)
		dst = append(dst, ':')
		dst = append(dst, vals[m.start:m.end]...)
	}
	return append(dst, '}'), true
}

// str reads a JSON string and returns its value, decoded as
// encoding/json decodes it: invalid UTF-8 and unpaired surrogates become
// U+FFFD. A string without escapes is returned as a slice of the input.
func (c *canonScanner) str() ([]byte, bool) {
	in := c.in
	i := c.i + 1
	// Fast path: no escape, only printable ASCII or valid UTF-8.
	start := i
	for i < len(in) {
		b := in[i]
		if b == '"' {
			c.i = i + 1
			return in[start:i], true
		}
		if b == '\\' || b < 0x20 {
			break
		}
		if b < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRune(in[i:])
		if r == utf8.RuneError && size == 1 {
			break
		}
		i += size
	}
	// Slow path: unescape.
	out := make([]byte, 0, i-start+16)
	out = append(out, in[start:i]...)
	for i < len(in) {
		b := in[i]
		switch {
		case b == '"':
			c.i = i + 1
			return out, true
		case b < 0x20:
			return nil, false
		case b == '\\':
			if i+1 >= len(in) {
				return nil, false
			}
			switch in[i+1] {
			case '"', '\\', '/':
				out = append(out, in[i+1])
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, ok := hex4(in[i+2:])
				if !ok {
					return nil, false
				}
				i += 6
				if utf16.IsSurrogate(r) {
					if r2, ok := hex4(in[min(i+2, len(in)):]); ok && i+1 < len(in) && in[i] == '\\' && in[i+1] == 'u' {
						if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
							out = utf8.AppendRune(out, dec)
							i += 6
							continue
						}
					}
					r = utf8.RuneError
				}
				out = utf8.AppendRune(out, r)
				continue
			default:
				return nil, false
			}
			i += 2
		case b < utf8.RuneSelf:
			out = append(out, b)
			i++
		default:
			r, size := utf8.DecodeRune(in[i:])
			if r == utf8.RuneError && size == 1 {
				out = utf8.AppendRune(out, utf8.RuneError)
			} else {
				out = append(out, in[i:i+size]...)
			}
			i += size
		}
	}
	return nil, false
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r*16 + rune(c)
	}
	return r, true
}

// appendCanonicalString writes s as encoding/json writes a string without
// HTML escaping: quotes, backslashes and control characters escaped,
// U+2028 and U+2029 escaped, everything else as it is (s is valid UTF-8:
// str made it so).
func appendCanonicalString(dst []byte, s []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
