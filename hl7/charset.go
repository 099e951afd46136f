package hl7

import (
	"strings"
	"unicode/utf8"
)

// Character sets (HL7 table 0211) that MSH-18 may declare and that Relais
// reads. French hospital systems send 8859/1 (IHE PAM FR recommends it, with
// UNICODE UTF-8 allowed); the rest of the world sends ASCII or UTF-8.
const (
	CharsetASCII  = "ASCII"
	Charset88591  = "8859/1"
	Charset885915 = "8859/15"
	CharsetUTF8   = "UNICODE UTF-8"
)

// charset decodes a message's bytes to UTF-8 and encodes UTF-8 back.
type charset interface {
	decode(b []byte) (string, bool)
	encode(s string) ([]byte, bool)
	// decodeHex turns the bytes of an \X..\ escape into text.
	decodeHex(b []byte) (string, bool)
}

// lookupCharset returns the codec of an MSH-18 value ("" is the HL7
// default, ASCII; Relais also accepts UTF-8 there, which ASCII is a subset of).
func lookupCharset(name string) (charset, bool) {
	switch strings.ToUpper(strings.Trim(name, " ")) {
	case "", CharsetASCII, CharsetUTF8, "UTF-8", "UNICODE":
		return utf8Charset{}, true
	case Charset88591:
		return latin1{}, true
	case Charset885915:
		return latin9{}, true
	}
	return nil, false
}

type utf8Charset struct{}

func (utf8Charset) decode(b []byte) (string, bool)    { return string(b), utf8.Valid(b) }
func (utf8Charset) encode(s string) ([]byte, bool)    { return []byte(s), utf8.ValidString(s) }
func (utf8Charset) decodeHex(b []byte) (string, bool) { return string(b), utf8.Valid(b) }

// latin1 is ISO 8859-1: each byte is the code point of the same value.
type latin1 struct{}

func (latin1) decode(b []byte) (string, bool) {
	var sb strings.Builder
	sb.Grow(len(b) + len(b)/8)
	for _, c := range b {
		sb.WriteRune(rune(c))
	}
	return sb.String(), true
}

func (latin1) encode(s string) ([]byte, bool) {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xff || r == utf8.RuneError {
			return nil, false
		}
		out = append(out, byte(r))
	}
	return out, true
}

func (c latin1) decodeHex(b []byte) (string, bool) { return c.decode(b) }

// latin9 is ISO 8859-15: Latin-1 with eight positions changed (€, Š, š, Ž,
// ž, Œ, œ, Ÿ), French names among them.
type latin9 struct{}

var latin9Diff = map[byte]rune{0xA4: '€', 0xA6: 'Š', 0xA8: 'š', 0xB4: 'Ž', 0xB8: 'ž', 0xBC: 'Œ', 0xBD: 'œ', 0xBE: 'Ÿ'}

func (latin9) decode(b []byte) (string, bool) {
	var sb strings.Builder
	for _, c := range b {
		if r, ok := latin9Diff[c]; ok {
			sb.WriteRune(r)
		} else {
			sb.WriteRune(rune(c))
		}
	}
	return sb.String(), true
}

func (latin9) encode(s string) ([]byte, bool) {
	out := make([]byte, 0, len(s))
next:
	for _, r := range s {
		for b, x := range latin9Diff {
			if x == r {
				out = append(out, b)
				continue next
			}
		}
		if r > 0xff || r == utf8.RuneError {
			return nil, false
		}
		if _, replaced := latin9Diff[byte(r)]; replaced {
			return nil, false // ¤, ¦, ¨, ´, ¸, ¼, ½, ¾ do not exist in 8859-15
		}
		out = append(out, byte(r))
	}
	return out, true
}

func (c latin9) decodeHex(b []byte) (string, bool) { return c.decode(b) }
