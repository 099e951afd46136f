package hl7

import (
	"fmt"
	"strconv"
)

// Error codes of HL7 table 0357 (message error condition codes), as ERR-3
// carries them.
const (
	CodeSegmentSequence    = "100" // segment sequence error
	CodeRequiredMissing    = "101" // required field missing
	CodeDataType           = "102" // data type error
	CodeTableValue         = "103" // table value not found
	CodeUnsupportedType    = "200" // unsupported message type
	CodeUnsupportedEvent   = "201" // unsupported event code
	CodeUnsupportedProcID  = "202" // unsupported processing id
	CodeUnsupportedVersion = "203" // unsupported version id
	CodeUnknownKey         = "204" // unknown key identifier
	CodeDuplicateKey       = "205" // duplicate key identifier
	CodeRecordLocked       = "206" // application record locked
	CodeInternal           = "207" // application internal error
)

var codeText = map[string]string{
	CodeSegmentSequence: "Segment sequence error", CodeRequiredMissing: "Required field missing",
	CodeDataType: "Data type error", CodeTableValue: "Table value not found",
	CodeUnsupportedType: "Unsupported message type", CodeUnsupportedEvent: "Unsupported event code",
	CodeUnsupportedProcID: "Unsupported processing id", CodeUnsupportedVersion: "Unsupported version id",
	CodeUnknownKey: "Unknown key identifier", CodeDuplicateKey: "Duplicate key identifier",
	CodeRecordLocked: "Application record locked", CodeInternal: "Application internal error",
}

// CodeText is the HL7 text of a table 0357 code.
func CodeText(code string) string { return codeText[code] }

// Location points at a place in a message, as ERR-2 (ERL) does: segment id,
// segment sequence (1-based position in the message), field position,
// repetition, component, sub-component. Zero means "not narrowed further".
type Location struct {
	Segment string
	Seq     int
	Field   int
	Rep     int
	Comp    int
	Sub     int
}

// String writes the location the way integrators read it: PID[1]-3[2].4.
func (l Location) String() string {
	if l.Segment == "" {
		return "message"
	}
	s := l.Segment
	if l.Seq > 0 {
		s += "(segment " + strconv.Itoa(l.Seq) + ")"
	}
	if l.Field > 0 {
		s += "-" + strconv.Itoa(l.Field)
		if l.Rep > 1 {
			s += "[" + strconv.Itoa(l.Rep) + "]"
		}
		if l.Comp > 0 {
			s += "." + strconv.Itoa(l.Comp)
			if l.Sub > 0 {
				s += "." + strconv.Itoa(l.Sub)
			}
		}
	}
	return s
}

// Error is a fault in a message: where, which table 0357 code, and what the
// sender should do. Reject marks faults that make the message unusable as a
// message (a broken header, an unsupported type): they are answered AR;
// others AE.
type Error struct {
	Location
	Code    string
	Message string
	Reject  bool
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: %s (HL7 %s %s)", e.Location, e.Message, e.Code, CodeText(e.Code))
}

func errAt(loc Location, code, format string, args ...any) *Error {
	return &Error{Location: loc, Code: code, Message: fmt.Sprintf(format, args...)}
}

func rejectAt(loc Location, code, format string, args ...any) *Error {
	e := errAt(loc, code, format, args...)
	e.Reject = true
	return e
}
