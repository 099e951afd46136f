package hl7

import (
	"bytes"
	"strconv"
	"time"
)

// Acknowledgement codes (MSA-1, original mode).
const (
	AA = "AA" // accepted: stored and applied
	AE = "AE" // error: stored, not applied; ERR says why
	AR = "AR" // rejected: not a message Relais can take (header, type) or storage unavailable
)

// Sender is who Relais says it is in the MSH of what it sends.
type Sender struct {
	App      string // MSH-3, e.g. "RELAIS"
	Facility string // MSH-4, the site id
}

// TimeFormat is the TS format of MSH-7 and other times Relais writes.
const TimeFormat = "20060102150405-0700"

// NewAck builds the acknowledgement of in: MSH with sender and receiver
// swapped and in's processing id, version and character set; MSA with the
// code, in's control id and a text; one ERR per fault, locating it (ERR-2),
// coding it (ERR-3, table 0357), with its severity (ERR-4) and a message for
// the integrator (ERR-8).
func NewAck(in *Message, code, text string, errs []*Error, from Sender, controlID string, now time.Time) *Message {
	if in == nil {
		in = NewMessage()
	}
	h := in.MSH()
	ack := NewMessage()
	msh := ack.MSH()
	msh.Set(3, from.App)
	msh.Set(4, from.Facility)
	if h != nil {
		msh.SetField(5, h.Field(3))
		msh.SetField(6, h.Field(4))
	}
	msh.Set(7, now.Format(TimeFormat))
	trigger := ""
	if h != nil {
		trigger = h.Comp(9, 2)
	}
	msh.SetComps(9, "ACK", trigger, "ACK")
	msh.Set(10, controlID)
	proc := h.Comp(11, 1)
	if proc == "" {
		proc = "P"
	}
	msh.Set(11, proc)
	version := h.Comp(12, 1)
	if version == "" {
		version = "2.5"
	}
	msh.Set(12, version)
	if cs := h.Comp(18, 1); cs != "" {
		if _, ok := lookupCharset(cs); ok {
			msh.Set(18, cs)
		}
	}
	msa := ack.Add("MSA")
	msa.Set(1, code)
	msa.Set(2, h.Get(10))
	if text != "" {
		msa.Set(3, truncate(text, 80))
	}
	for _, e := range errs {
		err := ack.Add("ERR")
		if e.Segment != "" {
			err.SetComps(2, e.Segment, itoa(e.Seq), itoa(e.Field), itoa(e.Rep), itoa(e.Comp), itoa(e.Sub))
		}
		err.SetComps(3, e.Code, CodeText(e.Code), "HL70357")
		err.Set(4, "E")
		err.Set(8, e.Message)
	}
	return ack
}

func itoa(n int) string {
	if n <= 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// EncodeAck encodes an acknowledgement in the character set of the message
// it answers, or in UNICODE UTF-8 when that set cannot carry its text (a
// name with an accent quoted in an error, answering an ASCII message).
func EncodeAck(ack *Message) []byte {
	b, err := ack.Encode()
	if err == nil {
		return b
	}
	ack.MSH().Set(18, CharsetUTF8)
	b, err = ack.Encode()
	if err != nil {
		// Only a broken segment name could get here, and NewAck writes none.
		return []byte("MSH|^~\\&|||||||ACK|||2.5\rMSA|AR|\r")
	}
	return b
}

// SalvageHeader reads what it can of the MSH of bytes that did not parse, so
// that the reject still names the sender and the control id: the first
// segment split on the declared field separator, values kept only when they
// are printable ASCII. It never fails; it may return an empty header.
func SalvageHeader(raw []byte) *Message {
	m := NewMessage()
	raw = bytes.TrimLeft(raw, "\r\n\t ")
	if len(raw) < 8 || string(raw[:3]) != "MSH" {
		return m
	}
	line := raw
	if i := bytes.IndexAny(raw, "\r\n"); i >= 0 {
		line = raw[:i]
	}
	sep := raw[3]
	comp := raw[4]
	parts := bytes.Split(line, []byte{sep})
	msh := m.MSH()
	for n := 3; n <= 12 && n-1 < len(parts); n++ {
		v := parts[n-1]
		var comps []string
		for _, c := range bytes.Split(v, []byte{comp}) {
			comps = append(comps, printable(c, 64))
		}
		msh.SetComps(n, comps...)
	}
	return m
}

func printable(b []byte, n int) string {
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if c >= 0x20 && c < 0x7f {
			out = append(out, c)
		}
		if len(out) == n {
			break
		}
	}
	return string(out)
}
