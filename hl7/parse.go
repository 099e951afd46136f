package hl7

import (
	"bytes"
	"encoding/hex"
	"strings"
)

// MaxSegments bounds the segments of one message (an ADT has a dozen; an
// ORU with a base64 PDF a few).
const MaxSegments = 10000

// Parse reads one HL7 v2 message. Segments may end with CR (the standard),
// LF or CRLF. The bytes are decoded from the character set MSH-18 declares;
// without MSH-18 they must be ASCII or UTF-8. Every fault is an *Error that
// locates it.
func Parse(data []byte) (*Message, error) {
	data = bytes.TrimLeft(data, "\r\n\t ")
	data = bytes.TrimRight(data, "\r\n")
	mshLoc := Location{Segment: "MSH", Seq: 1}
	if len(data) < 8 || string(data[:3]) != "MSH" {
		return nil, rejectAt(mshLoc, CodeSegmentSequence, "a message starts with an MSH segment (MSH|^~\\&|…)")
	}
	d, err := readDelimiters(data)
	if err != nil {
		return nil, err
	}
	mshLine := data
	if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
		mshLine = data[:i]
	}
	csName := ""
	if parts := bytes.Split(mshLine, []byte{d.Field}); len(parts) >= 18 {
		first := parts[17]
		if i := bytes.IndexByte(first, d.Repetition); i >= 0 {
			first = first[:i]
		}
		if i := bytes.IndexByte(first, d.Component); i >= 0 {
			first = first[:i]
		}
		csName = string(first)
	}
	cs, ok := lookupCharset(csName)
	if !ok {
		return nil, rejectAt(Location{Segment: "MSH", Seq: 1, Field: 18}, CodeTableValue,
			"character set %q is not supported: send 8859/1 or UNICODE UTF-8", truncate(csName, 20))
	}
	text, ok := cs.decode(data)
	if !ok {
		if csName == "" {
			return nil, rejectAt(Location{Segment: "MSH", Seq: 1, Field: 18}, CodeDataType,
				"the message is not valid UTF-8 or ASCII and MSH-18 declares no character set: declare it (8859/1 or UNICODE UTF-8)")
		}
		return nil, rejectAt(Location{Segment: "MSH", Seq: 1, Field: 18}, CodeDataType,
			"the message's bytes are not valid %s, the character set MSH-18 declares", csName)
	}
	m := &Message{Delims: d}
	p := parser{d: d, cs: cs}
	seq := 0
	for line := range strings.FieldsFuncSeq(text, func(r rune) bool { return r == '\r' || r == '\n' }) {
		seq++
		if seq > MaxSegments {
			return nil, rejectAt(Location{Seq: seq}, CodeSegmentSequence, "more than %d segments", MaxSegments)
		}
		s, err := p.segment(line, seq)
		if err != nil {
			return nil, err
		}
		if s.Name == "MSH" && seq > 1 {
			return nil, rejectAt(Location{Segment: "MSH", Seq: seq}, CodeSegmentSequence,
				"a second MSH segment: send one message per frame (batches are not accepted)")
		}
		m.Segments = append(m.Segments, s)
	}
	return m, nil
}

func readDelimiters(data []byte) (Delimiters, *Error) {
	loc := Location{Segment: "MSH", Seq: 1, Field: 2}
	d := Delimiters{Field: data[3]}
	end := 4
	for end < len(data) && data[end] != d.Field && data[end] != '\r' && data[end] != '\n' {
		end++
	}
	enc := data[4:end]
	if len(enc) != 4 && len(enc) != 5 {
		return d, rejectAt(loc, CodeDataType, "MSH-2 must hold 4 encoding characters (^~\\&), not %d", len(enc))
	}
	d.Component, d.Repetition, d.Escape, d.SubComponent = enc[0], enc[1], enc[2], enc[3]
	if len(enc) == 5 {
		d.Truncation = enc[4]
	}
	all := append([]byte{d.Field}, enc...)
	for i, c := range all {
		if c < 0x21 || c > 0x7e || ('0' <= c && c <= '9') || ('A' <= c && c <= 'Z') || ('a' <= c && c <= 'z') {
			return d, rejectAt(Location{Segment: "MSH", Seq: 1, Field: min(i+1, 2)}, CodeDataType,
				"delimiter %q is not allowed: use punctuation, e.g. |^~\\&", c)
		}
		for _, o := range all[:i] {
			if o == c {
				return d, rejectAt(loc, CodeDataType, "delimiter %q is used twice in MSH-1/MSH-2", c)
			}
		}
	}
	return d, nil
}

type parser struct {
	d  Delimiters
	cs charset
}

func validName(n string) bool {
	if len(n) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		c := n[i]
		if !('A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return 'A' <= n[0] && n[0] <= 'Z'
}

func (p *parser) segment(line string, seq int) (*Segment, error) {
	if len(line) < 3 || !validName(line[:3]) {
		return nil, rejectAt(Location{Seq: seq}, CodeSegmentSequence,
			"segment %d does not start with a segment name (three capitals, e.g. PID): %q", seq, truncate(line, 20))
	}
	s := &Segment{Name: line[:3]}
	if len(line) == 3 {
		return s, nil
	}
	if line[3] != p.d.Field {
		return nil, rejectAt(Location{Segment: s.Name, Seq: seq}, CodeSegmentSequence,
			"segment %s must be followed by the field separator %q", s.Name, p.d.Field)
	}
	parts := strings.Split(line[4:], string(p.d.Field))
	first := 1
	if s.Name == "MSH" {
		s.Fields = append(s.Fields, Field{Repetition{Component{string(p.d.Field)}}}, Field{Repetition{Component{parts[0]}}})
		parts = parts[1:]
		first = 3
	}
	for i, raw := range parts {
		f, err := p.field(raw, Location{Segment: s.Name, Seq: seq, Field: first + i})
		if err != nil {
			return nil, err
		}
		s.Fields = append(s.Fields, f)
	}
	return s, nil
}

func (p *parser) field(raw string, loc Location) (Field, error) {
	reps := strings.Split(raw, string(p.d.Repetition))
	f := make(Field, len(reps))
	for ri, rr := range reps {
		comps := strings.Split(rr, string(p.d.Component))
		r := make(Repetition, len(comps))
		for ci, cr := range comps {
			subs := strings.Split(cr, string(p.d.SubComponent))
			c := make(Component, len(subs))
			for si, sr := range subs {
				l := loc
				l.Rep, l.Comp, l.Sub = ri+1, ci+1, si+1
				v, err := p.unescape(sr, l)
				if err != nil {
					return nil, err
				}
				c[si] = v
			}
			r[ci] = c
		}
		f[ri] = r
	}
	return f, nil
}

// unescape resolves escape sequences (HL7 v2.5 §2.7): \F\ \S\ \T\ \R\ \E\
// (and \P\ when a truncation character is declared) give the delimiters,
// \Xhh…\ bytes in the message's character set, \.br\ a line break; \H\ and
// \N\ (highlighting) are dropped. An unknown sequence, or an escape
// character without its closing one, is kept as written: a sender that does
// not escape a backslash must not lose it.
func (p *parser) unescape(s string, loc Location) (string, error) {
	e := p.d.Escape
	if strings.IndexByte(s, e) < 0 {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c != e {
			b.WriteByte(c)
			i++
			continue
		}
		j := strings.IndexByte(s[i+1:], e)
		if j < 0 {
			b.WriteString(s[i:])
			break
		}
		seq := s[i+1 : i+1+j]
		next := i + 2 + j
		switch {
		case seq == "F":
			b.WriteByte(p.d.Field)
		case seq == "S":
			b.WriteByte(p.d.Component)
		case seq == "T":
			b.WriteByte(p.d.SubComponent)
		case seq == "R":
			b.WriteByte(p.d.Repetition)
		case seq == "E":
			b.WriteByte(e)
		case seq == "P" && p.d.Truncation != 0:
			b.WriteByte(p.d.Truncation)
		case seq == "H" || seq == "N":
		case seq == ".br":
			b.WriteByte('\n')
		case len(seq) > 1 && seq[0] == 'X':
			raw, err := hex.DecodeString(seq[1:])
			if err != nil {
				return "", errAt(loc, CodeDataType, "escape \\%s\\ is not hexadecimal bytes", truncate(seq, 20))
			}
			t, ok := p.cs.decodeHex(raw)
			if !ok {
				return "", errAt(loc, CodeDataType, "escape \\%s\\ is not valid text in the message's character set", truncate(seq, 20))
			}
			b.WriteString(t)
		default:
			b.WriteString(s[i:next])
		}
		i = next
	}
	return b.String(), nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
