package relais

import (
	"errors"
	"fmt"
	"strings"
)

// Kind classifies an error so that every adapter can answer the same way:
// the web layer maps kinds to HTTP statuses in one place, the CLI to exit codes.
type Kind uint8

const (
	KindOther        Kind = iota // unclassified: an internal fault
	KindInvalid                  // the input is wrong; Field says which, Message what to do
	KindNotFound                 // the thing asked for does not exist
	KindConflict                 // the thing exists in a state that forbids the request
	KindTransition               // a state change the circuit does not allow
	KindForbidden                // the actor may not do this
	KindUnauthorized             // no actor, or bad credentials
	KindUnavailable              // a dependency is down; retry later
	KindVersion                  // a client, schema or file of a version we cannot serve
	KindIntegrity                // stored data no longer matches its journal or its rules
)

var kindNames = [...]string{"other", "invalid", "not_found", "conflict", "transition",
	"forbidden", "unauthorized", "unavailable", "version", "integrity"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Error is the error type of Relais, after Upspin's: the operation that
// failed, a kind, the field at fault if any, a message written for the user
// (it says what to do), and the underlying cause.
type Error struct {
	Op      string // e.g. "prescription.sign"
	Kind    Kind
	Field   string // JSON path of the field at fault, e.g. "lines[2].dose"
	Message string // for the user: what is wrong and what to do
	Err     error  // cause, for logs; never shown to users as-is
	// Fields carries several field errors at once (a form or an import with
	// more than one fault); each is itself an *Error with Field set.
	Fields []*Error
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	if e.Message != "" {
		b.WriteString(e.Message)
	} else if e.Kind != KindOther {
		b.WriteString(e.Kind.String())
	}
	if e.Err != nil {
		if e.Message != "" || e.Kind != KindOther {
			b.WriteString(": ")
		}
		b.WriteString(e.Err.Error())
	}
	for _, f := range e.Fields {
		b.WriteString("; ")
		b.WriteString(f.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// E builds an *Error from its arguments, in any order: a string is the Op
// unless an Op is already set, in which case it is the Message; a Kind is the
// kind; a Field value names the field; an error is the cause.
//
//	relais.E("patient.create", relais.KindInvalid, relais.Field("birth_date"), "birth date is in the future")
func E(args ...any) error {
	e := &Error{}
	for _, a := range args {
		switch v := a.(type) {
		case string:
			if e.Op == "" {
				e.Op = v
			} else {
				e.Message = v
			}
		case Kind:
			e.Kind = v
		case Field:
			e.Field = string(v)
		case *Error:
			e.Err = v
			if e.Kind == KindOther {
				e.Kind = v.Kind
			}
		case error:
			e.Err = v
		}
	}
	return e
}

// Field names the field at fault in E.
type Field string

// Invalid is shorthand for a field error: the field, and what to do about it.
func Invalid(op, field, format string, args ...any) error {
	return &Error{Op: op, Kind: KindInvalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// fieldError is implemented by errors of leaf packages (clinical) that cannot
// import this one: they are field errors of KindInvalid.
type fieldError interface {
	InvalidField() (field, message string)
}

// asError returns err as an *Error, converting a leaf package's field error.
func asError(err error, e **Error) bool {
	if errors.As(err, e) {
		return true
	}
	var fe fieldError
	if errors.As(err, &fe) {
		f, m := fe.InvalidField()
		*e = &Error{Kind: KindInvalid, Field: f, Message: m}
		return true
	}
	return false
}

// ErrorKind returns the kind of the first *Error in err's chain, KindOther
// when there is none.
func ErrorKind(err error) Kind {
	var e *Error
	for asError(err, &e) {
		if e.Kind != KindOther {
			return e.Kind
		}
		if e.Err == nil {
			break
		}
		err = e.Err
	}
	return KindOther
}

// ErrorMessage returns the user-facing message of err: the first non-empty
// Message in its chain, or a generic one that leaks nothing internal.
func ErrorMessage(err error) string {
	var e *Error
	for asError(err, &e) {
		if e.Message != "" {
			return e.Message
		}
		if e.Err == nil {
			break
		}
		err = e.Err
	}
	return "internal error"
}

// FieldErrors flattens err into its field errors (itself when it names a
// field, plus any in Fields).
func FieldErrors(err error) []*Error {
	var e *Error
	if !asError(err, &e) {
		return nil
	}
	var out []*Error
	if e.Field != "" {
		out = append(out, e)
	}
	for _, f := range e.Fields {
		out = append(out, FieldErrors(f)...)
	}
	if len(out) == 0 && e.Err != nil {
		return FieldErrors(e.Err)
	}
	return out
}

// Errors joins several field errors into one KindInvalid error, or returns
// nil when there are none.
func Errors(op string, errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	if len(errs) == 1 {
		return errs[0]
	}
	e := &Error{Op: op, Kind: KindInvalid, Message: fmt.Sprintf("%d fields are invalid", len(errs))}
	for _, err := range errs {
		var fe *Error
		if asError(err, &fe) {
			e.Fields = append(e.Fields, fe)
		} else {
			e.Fields = append(e.Fields, &Error{Kind: KindInvalid, Err: err})
		}
	}
	return e
}
