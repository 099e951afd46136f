package hl7

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

// a28 is an ADT^A28 as a French EHR sends it under IHE PAM FR: INS with its
// OID and the INS identifier type in PID-3, birth (L) and used (D) names in
// PID-5, birthplace in a BDL address of PID-11, identity status in PID-32.
// The codec does not check the matricule (package adt does): this one only
// has a NIR's shape.
const a28 = "MSH|^~\\&|DPI|CHG-LIBOURNE|RELAIS|CHU|20250314083000||ADT^A28^ADT_A05|MSG0001|P|2.5^FRA^2.10|||||FRA|8859/1\r" +
	"EVN||20250314083000\r" +
	"PID|||123456^^^CHGL&1.2.250.1.71.4.2.1.999&ISO^PI~279035121518989^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO^INS||NOËL^Hélène^Marie^^^^L~MARTIN^Hélène^^^^^D||19790312|F|||^^^^^^BDL^^33063|||||||||||||||||||||VALI\r"

func latin1Bytes(s string) []byte {
	var b []byte
	for _, r := range s {
		if r > 0xff {
			panic("not latin-1")
		}
		b = append(b, byte(r))
	}
	return b
}

func TestParseLatin1(t *testing.T) {
	m, err := Parse(latin1Bytes(a28))
	if err != nil {
		t.Fatal(err)
	}
	h := m.Header()
	if h.SendingApp != "DPI" || h.SendingFacility != "CHG-LIBOURNE" || h.Event() != "ADT^A28" || h.ControlID != "MSG0001" || h.Charset != "8859/1" || h.Version != "2.5" {
		t.Fatalf("header = %+v", h)
	}
	pid := m.Segment("PID")
	if got := pid.Field(5)[0].Comp(1); got != "NOËL" {
		t.Errorf("birth name = %q, want NOËL decoded from 8859/1", got)
	}
	if got := pid.Field(5)[1].Comp(2); got != "Hélène" {
		t.Errorf("used first name = %q", got)
	}
	ins := pid.Field(3)[1]
	if ins.Comp(1) != "279035121518989" || ins.Sub(4, 2) != "1.2.250.1.213.1.4.8" || ins.Comp(5) != "INS" {
		t.Errorf("INS repetition = %#v", ins)
	}
	if got := pid.Field(11)[0].Comp(9); got != "33063" {
		t.Errorf("PID-11.9 = %q", got)
	}
	if got := pid.Get(32); got != "VALI" {
		t.Errorf("PID-32 = %q", got)
	}
	if m.SegmentIndex("PID") != 3 {
		t.Errorf("PID is segment %d", m.SegmentIndex("PID"))
	}
}

func TestParseUTF8WrongForLatin1(t *testing.T) {
	// UTF-8 bytes declared as 8859/1 decode to mojibake, which is what the
	// sender declared: Relais does not guess. Undeclared non-UTF-8 bytes are
	// refused, naming MSH-18.
	noCS := strings.Replace(a28, "|8859/1", "", 1)
	_, err := Parse(latin1Bytes(noCS))
	var e *Error
	if !errors.As(err, &e) || e.Field != 18 || !e.Reject || e.Code != CodeDataType {
		t.Fatalf("err = %v, want a reject at MSH-18", err)
	}
	m, err := Parse([]byte(noCS)) // valid UTF-8 without MSH-18: accepted
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Segment("PID").Field(5)[0].Comp(1); got != "NOËL" {
		t.Errorf("birth name = %q", got)
	}
	utf := strings.Replace(a28, "|8859/1", "|UNICODE UTF-8", 1)
	if m, err = Parse([]byte(utf)); err != nil {
		t.Fatal(err)
	} else if got := m.Segment("PID").Field(5)[1].Comp(2); got != "Hélène" {
		t.Errorf("UTF-8 first name = %q", got)
	}
}

func TestParse885915(t *testing.T) {
	// In 8859-15, 0xBD is œ (Latin-1's ½): "Bœuf".
	raw := []byte("MSH|^~\\&|A|B|C|D|20250101||ADT^A08|1|P|2.5|||||FRA|8859/15\rPID|||1^^^X^PI||B\xBDUF^Luc\r")
	m, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Segment("PID").Comp(5, 1); got != "BŒUF" && got != "Bœuf" && got != "BœUF" {
		t.Errorf("name = %q, want Bœ… decoded from 8859-15", got)
	}
	out, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte("B\xBDUF")) {
		t.Errorf("re-encoded in 8859-15: %q", out)
	}
}

func TestEscapes(t *testing.T) {
	for _, tc := range []struct {
		raw, want string
	}{
		{`A\F\B`, "A|B"},
		{`A\S\B\T\C\R\D\E\E`, "A^B&C~D\\E"},
		{`line1\.br\line2`, "line1\nline2"},
		{`\H\bold\N\`, "bold"},
		{`\X41C3A9\`, "AÃ©"},           // 8859/1: each byte a character
		{`C:\temp`, `C:\temp`},         // unterminated: kept
		{`\Zunknown\x`, `\Zunknown\x`}, // unknown: kept
		{`\X0D0A\`, "\r\n"},
	} {
		msg := "MSH|^~\\&|A|B|C|D|20250101||ADT^A08|1|P|2.5|||||FRA|8859/1\rNTE|1||" + tc.raw + "\r"
		m, err := Parse([]byte(msg))
		if err != nil {
			t.Errorf("%s: %v", tc.raw, err)
			continue
		}
		if got := m.Segment("NTE").Get(3); got != tc.want {
			t.Errorf("%s → %q, want %q", tc.raw, got, tc.want)
		}
		// and back: the value survives an encode and a parse
		out, err := m.Encode()
		if err != nil {
			t.Fatal(err)
		}
		m2, err := Parse(out)
		if err != nil {
			t.Fatalf("%s: re-parse %q: %v", tc.raw, out, err)
		}
		if got := m2.Segment("NTE").Get(3); got != tc.want {
			t.Errorf("%s → encode %q → %q", tc.raw, out, got)
		}
	}
	// \X in a UTF-8 message is UTF-8 bytes.
	m, err := Parse([]byte("MSH|^~\\&|A|B|C|D|20250101||ADT^A08|1|P|2.5|||||FRA|UNICODE UTF-8\rNTE|1||\\XC3A9\\\r"))
	if err != nil || m.Segment("NTE").Get(3) != "é" {
		t.Errorf("UTF-8 hex escape: %v %q", err, m.Segment("NTE").Get(3))
	}
	_, err = Parse([]byte("MSH|^~\\&|A|B|C|D|20250101||ADT^A08|1|P|2.5\rNTE|1||\\XZZ\\\r"))
	var e *Error
	if !errors.As(err, &e) || e.Segment != "NTE" || e.Seq != 2 || e.Field != 3 || e.Comp != 1 {
		t.Errorf("bad hex escape: %v", err)
	}
}

func TestParseErrorsLocate(t *testing.T) {
	for _, tc := range []struct {
		name, msg string
		loc       Location
		code      string
	}{
		{"no MSH", "PID|1\r", Location{Segment: "MSH", Seq: 1}, CodeSegmentSequence},
		{"short MSH-2", "MSH|^~|A|B\r", Location{Segment: "MSH", Seq: 1, Field: 2}, CodeDataType},
		{"letter delimiter", "MSH|^~\\A|A|B|C|D|20250101||ADT^A01|1|P|2.5\r", Location{Segment: "MSH", Seq: 1, Field: 2}, CodeDataType},
		{"duplicate delimiter", "MSH|^~\\^|A|B|C|D|20250101||ADT^A01|1|P|2.5\r", Location{Segment: "MSH", Seq: 1, Field: 2}, CodeDataType},
		{"bad segment name", "MSH|^~\\&|A|B|C|D|20250101||ADT^A01|1|P|2.5\rpid|1\r", Location{Seq: 2}, CodeSegmentSequence},
		{"no separator after name", "MSH|^~\\&|A|B|C|D|20250101||ADT^A01|1|P|2.5\rPIDX\r", Location{Segment: "PID", Seq: 2}, CodeSegmentSequence},
		{"unknown charset", "MSH|^~\\&|A|B|C|D|20250101||ADT^A01|1|P|2.5|||||FRA|EBCDIC\r", Location{Segment: "MSH", Seq: 1, Field: 18}, CodeTableValue},
		{"batch", "MSH|^~\\&|A|B|C|D|20250101||ADT^A01|1|P|2.5\rMSH|^~\\&|A\r", Location{Segment: "MSH", Seq: 2}, CodeSegmentSequence},
	} {
		_, err := Parse([]byte(tc.msg))
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("%s: err = %v, want *Error", tc.name, err)
			continue
		}
		if e.Location != tc.loc || e.Code != tc.code || !e.Reject || e.Message == "" {
			t.Errorf("%s: got %+v, want %+v code %s", tc.name, *e, tc.loc, tc.code)
		}
	}
}

func TestLineEndings(t *testing.T) {
	for _, sep := range []string{"\r", "\n", "\r\n"} {
		msg := strings.ReplaceAll("MSH|^~\\&|A|B|C|D|20250101||ADT^A01|1|P|2.5\rEVN||20250101\rPID|||42^^^X^PI\r", "\r", sep)
		m, err := Parse([]byte(msg))
		if err != nil {
			t.Fatalf("%q: %v", sep, err)
		}
		if len(m.Segments) != 3 || m.Segment("PID").Comp(3, 1) != "42" {
			t.Errorf("%q: %d segments", sep, len(m.Segments))
		}
	}
}

func TestAckLocatesError(t *testing.T) {
	in, err := Parse(latin1Bytes(a28))
	if err != nil {
		t.Fatal(err)
	}
	fault := &Error{Location: Location{Segment: "PID", Seq: 3, Field: 3, Rep: 2, Comp: 1}, Code: CodeDataType,
		Message: "la clé du NIR ne correspond pas / the NIR key does not match"}
	now := time.Date(2025, 3, 14, 8, 30, 1, 0, time.UTC)
	ack := NewAck(in, AE, "not applied", []*Error{fault}, Sender{App: "RELAIS", Facility: "chu"}, "ACK1", now)
	raw := EncodeAck(ack)
	got, err := Parse(raw)
	if err != nil {
		t.Fatalf("ACK does not parse: %v\n%q", err, raw)
	}
	h := got.Header()
	if h.Event() != "ACK^A28" || h.ReceivingApp != "DPI" || h.ReceivingFacility != "CHG-LIBOURNE" || h.SendingApp != "RELAIS" || h.Charset != "8859/1" {
		t.Errorf("ACK header = %+v", h)
	}
	msa := got.Segment("MSA")
	if msa.Get(1) != "AE" || msa.Get(2) != "MSG0001" {
		t.Errorf("MSA = %v", msa.Fields)
	}
	e := got.Segment("ERR")
	erl := e.Field(2)[0]
	if erl.Comp(1) != "PID" || erl.Comp(2) != "3" || erl.Comp(3) != "3" || erl.Comp(4) != "2" || erl.Comp(5) != "1" {
		t.Errorf("ERR-2 = %v", erl)
	}
	if e.Comp(3, 1) != "102" || e.Comp(3, 3) != "HL70357" || e.Get(4) != "E" || e.Get(8) != fault.Message {
		t.Errorf("ERR = %v", e.Fields)
	}
	// the French message went out in 8859/1, as the EHR asked
	if !bytes.Contains(raw, []byte("cl\xe9")) {
		t.Errorf("ERR-8 not in 8859/1: %q", raw)
	}
}

func TestSalvageHeader(t *testing.T) {
	m := SalvageHeader([]byte("MSH|^~\\&|DPI|CHG|RELAIS|CHU|2025||ADT^A01|CTRL9|P|2.5\rPID|\xff\xfe"))
	ack := NewAck(m, AR, "rejected", nil, Sender{App: "RELAIS"}, "A", time.Now())
	got, err := Parse(EncodeAck(ack))
	if err != nil {
		t.Fatal(err)
	}
	if got.Segment("MSA").Get(2) != "CTRL9" || got.Header().ReceivingApp != "DPI" || got.Header().Trigger != "A01" {
		t.Errorf("salvaged ACK = %s", got)
	}
	if got := SalvageHeader([]byte("garbage")); len(got.MSH().Fields) != 2 {
		t.Errorf("salvage of garbage = %v", got.MSH().Fields)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(latin1Bytes(a28))
	f.Add([]byte("MSH|^~\\&|A|B|C|D|20250101||ADT^A01|1|P|2.5\rPID|||1^^^X&1.2&ISO^PI~2^^^Y^INS||A\\F\\B^C\\X41\\||19790312|F\r"))
	f.Add([]byte("MSH#$%@!|A\rZZ1#a$b%c\r"))
	f.Add([]byte("MSH|^~\\&#|A|B|C|D|2025||ADT^A08|1|P|2.7|||||FRA|UNICODE UTF-8\rNTE|1||\\P\\ \\.br\\ \\H\\x\\N\\\r"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(data)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		out, err := m.Encode()
		if err != nil {
			return // e.g. a character the declared set cannot carry after an \X escape
		}
		m2, err := Parse(out)
		if err != nil {
			t.Fatalf("encoded message does not parse: %v\n%q", err, out)
		}
		out2, err := m2.Encode()
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if !bytes.Equal(out, out2) {
			t.Fatalf("parse∘encode not stable:\n%q\n%q", out, out2)
		}
		// the ACK of anything parsed is itself a message
		if _, err := Parse(EncodeAck(NewAck(m, AA, "", nil, Sender{App: "R"}, "1", time.Unix(0, 0)))); err != nil {
			t.Fatalf("ACK does not parse: %v", err)
		}
	})
}
