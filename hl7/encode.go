package hl7

import (
	"fmt"
	"strings"
)

// Encode writes the message in its wire form: segments ended by CR, values
// escaped, bytes in the character set MSH-18 declares. A value that the
// character set cannot carry is an error, never a silent substitution.
func (m *Message) Encode() ([]byte, error) {
	if len(m.Segments) == 0 || m.Segments[0].Name != "MSH" {
		return nil, fmt.Errorf("hl7: a message starts with MSH")
	}
	d := m.Delims
	var b strings.Builder
	for _, s := range m.Segments {
		if !validName(s.Name) {
			return nil, fmt.Errorf("hl7: %q is not a segment name", truncate(s.Name, 10))
		}
		b.WriteString(s.Name)
		fields := s.Fields
		if s.Name == "MSH" {
			b.WriteByte(d.Field)
			b.WriteString(d.encodingChars())
			if len(fields) >= 2 {
				fields = fields[2:]
			} else {
				fields = nil
			}
		}
		for _, f := range fields {
			b.WriteByte(d.Field)
			for ri, r := range f {
				if ri > 0 {
					b.WriteByte(d.Repetition)
				}
				for ci, c := range r {
					if ci > 0 {
						b.WriteByte(d.Component)
					}
					for si, v := range c {
						if si > 0 {
							b.WriteByte(d.SubComponent)
						}
						escape(&b, v, d)
					}
				}
			}
		}
		b.WriteByte('\r')
	}
	name := m.Charset()
	cs, ok := lookupCharset(name)
	if !ok {
		return nil, fmt.Errorf("hl7: character set %q is not supported", name)
	}
	out, ok := cs.encode(b.String())
	if !ok {
		return nil, fmt.Errorf("hl7: the message has characters that %s cannot carry: send it as UNICODE UTF-8", charsetLabel(name))
	}
	return out, nil
}

func charsetLabel(name string) string {
	if name == "" {
		return "ASCII (no MSH-18)"
	}
	return name
}

// escape writes v with the delimiters and control characters escaped.
func escape(b *strings.Builder, v string, d Delimiters) {
	e := d.Escape
	for i := 0; i < len(v); i++ {
		c := v[i]
		var seq string
		switch {
		case c == d.Field:
			seq = "F"
		case c == d.Component:
			seq = "S"
		case c == d.SubComponent:
			seq = "T"
		case c == d.Repetition:
			seq = "R"
		case c == e:
			seq = "E"
		case d.Truncation != 0 && c == d.Truncation:
			seq = "P"
		case c < 0x20 || c == 0x7f:
			seq = fmt.Sprintf("X%02X", c)
		default:
			b.WriteByte(c)
			continue
		}
		b.WriteByte(e)
		b.WriteString(seq)
		b.WriteByte(e)
	}
}

// Escape returns v escaped with the default delimiters (for documents and
// tests that build wire text by hand).
func Escape(v string) string {
	var b strings.Builder
	escape(&b, v, DefaultDelimiters)
	return b.String()
}
