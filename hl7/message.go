// Package hl7 owns HL7 version 2 on the wire: the codec (segments, fields,
// repetitions, components, sub-components, escape sequences, the character
// sets MSH-18 declares), acknowledgements with ERR segments that locate a
// fault, and MLLP framing with its server and client. It knows nothing of
// patients or prescriptions: package hl7/adt maps messages to the domain,
// and the outbox sends documents with the client here.
//
// It depends on the standard library only, and is fuzzed (FuzzParse,
// FuzzReadFrame): a malformed message is an error, never a panic.
package hl7

import (
	"strings"
)

// Delimiters are a message's separators and escape character, read from
// MSH-1 and MSH-2.
type Delimiters struct {
	Field, Component, Repetition, Escape, SubComponent byte
	// Truncation is the v2.7 truncation character (0 when MSH-2 has only
	// four characters, as in v2.5).
	Truncation byte
}

// DefaultDelimiters are the ones every message in the wild uses: |^~\&.
var DefaultDelimiters = Delimiters{Field: '|', Component: '^', Repetition: '~', Escape: '\\', SubComponent: '&'}

// encodingChars is MSH-2.
func (d Delimiters) encodingChars() string {
	b := []byte{d.Component, d.Repetition, d.Escape, d.SubComponent}
	if d.Truncation != 0 {
		b = append(b, d.Truncation)
	}
	return string(b)
}

// Message is a parsed HL7 v2 message. Values held in it are unescaped text
// (UTF-8); escaping happens again on Encode.
type Message struct {
	Delims   Delimiters
	Segments []*Segment
}

// Charset is MSH-18 as the sender wrote it ("" when absent: ASCII, or UTF-8
// for Relais).
func (m *Message) Charset() string { return m.MSH().Comp(18, 1) }

// Segment is one line of a message. Fields[i] is field i+1 in HL7's
// numbering; for MSH, Fields[0] is MSH-1 (the field separator) and
// Fields[1] is MSH-2 (the encoding characters), both kept verbatim.
type Segment struct {
	Name   string
	Fields []Field
}

// Field is a field's repetitions.
type Field []Repetition

// Repetition is one occurrence of a field: its components.
type Repetition []Component

// Component is a component's sub-components.
type Component []string

// Text returns the field's first repetition, first component, first
// sub-component.
func (f Field) Text() string {
	if len(f) == 0 {
		return ""
	}
	return f[0].Comp(1)
}

// Comp returns component c (1-based) of the repetition: its first
// sub-component.
func (r Repetition) Comp(c int) string { return r.Sub(c, 1) }

// Sub returns sub-component s of component c (both 1-based).
func (r Repetition) Sub(c, s int) string {
	if c < 1 || c > len(r) || s < 1 || s > len(r[c-1]) {
		return ""
	}
	return r[c-1][s-1]
}

// Field returns field n (1-based): empty when the segment is shorter.
func (s *Segment) Field(n int) Field {
	if s == nil || n < 1 || n > len(s.Fields) {
		return nil
	}
	return s.Fields[n-1]
}

// Get returns the first value of field n.
func (s *Segment) Get(n int) string { return s.Field(n).Text() }

// Comp returns component c of the first repetition of field n.
func (s *Segment) Comp(n, c int) string {
	f := s.Field(n)
	if len(f) == 0 {
		return ""
	}
	return f[0].Comp(c)
}

// Set sets field n to a single value, growing the segment as needed.
func (s *Segment) Set(n int, value string) { s.SetField(n, Field{Repetition{Component{value}}}) }

// SetComps sets field n to one repetition of the given components.
func (s *Segment) SetComps(n int, comps ...string) {
	r := make(Repetition, len(comps))
	for i, c := range comps {
		r[i] = Component{c}
	}
	s.SetField(n, Field{r})
}

// SetField sets field n.
func (s *Segment) SetField(n int, f Field) {
	for len(s.Fields) < n {
		s.Fields = append(s.Fields, Field{Repetition{Component{""}}})
	}
	s.Fields[n-1] = f
}

// Segment returns the first segment named name, or nil.
func (m *Message) Segment(name string) *Segment {
	for _, s := range m.Segments {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// SegmentIndex returns the 1-based position of the first segment named
// name in the message (its "segment sequence" for ERR-2), 0 if absent.
func (m *Message) SegmentIndex(name string) int {
	for i, s := range m.Segments {
		if s.Name == name {
			return i + 1
		}
	}
	return 0
}

// MSH returns the header segment.
func (m *Message) MSH() *Segment { return m.Segment("MSH") }

// Header is what MSH says about a message, in named fields.
type Header struct {
	SendingApp, SendingFacility     string // MSH-3, MSH-4 (namespace id)
	ReceivingApp, ReceivingFacility string // MSH-5, MSH-6
	Time                            string // MSH-7
	Type, Trigger, Structure        string // MSH-9.1, .2, .3
	ControlID                       string // MSH-10
	ProcessingID                    string // MSH-11
	Version                         string // MSH-12
	Charset                         string // MSH-18
}

// Header returns the message's header fields.
func (m *Message) Header() Header {
	h := m.MSH()
	if h == nil {
		return Header{}
	}
	return Header{
		SendingApp: h.Comp(3, 1), SendingFacility: h.Comp(4, 1),
		ReceivingApp: h.Comp(5, 1), ReceivingFacility: h.Comp(6, 1),
		Time: h.Get(7), Type: h.Comp(9, 1), Trigger: h.Comp(9, 2), Structure: h.Comp(9, 3),
		ControlID: h.Get(10), ProcessingID: h.Comp(11, 1), Version: h.Comp(12, 1), Charset: h.Get(18),
	}
}

// Event is "ADT^A01" style: type and trigger.
func (h Header) Event() string {
	if h.Trigger == "" {
		return h.Type
	}
	return h.Type + "^" + h.Trigger
}

// NewMessage starts a message with an MSH segment using the default
// delimiters.
func NewMessage() *Message {
	d := DefaultDelimiters
	msh := &Segment{Name: "MSH", Fields: []Field{
		{Repetition{Component{string(d.Field)}}},
		{Repetition{Component{d.encodingChars()}}},
	}}
	return &Message{Delims: d, Segments: []*Segment{msh}}
}

// Add appends a segment and returns it.
func (m *Message) Add(name string) *Segment {
	s := &Segment{Name: name}
	m.Segments = append(m.Segments, s)
	return s
}

// String is the message in its wire form with \r turned to \n, for logs.
func (m *Message) String() string {
	b, err := m.Encode()
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return strings.ReplaceAll(string(b), "\r", "\n")
}
