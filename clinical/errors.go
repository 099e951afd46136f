package clinical

import "errors"

// IMPORTANT (from the lead): clinical is a leaf package. It must not import
// the root package github.com/relais-onco/relais, because the root package
// imports clinical for Rule and Result (protocol lines and prescription lines
// carry them): importing it back is an import cycle. So clinical's errors are
// its own type, below; the root package's ErrorKind, ErrorMessage and
// FieldErrors recognise it (any error with InvalidField()) as a KindInvalid
// field error, and the web layer and `relais calc` map it from there.

// Error is an input refused by a calculation: which field, and why (the
// message says what to do).
type Error struct {
	Field   string // JSON name of the field at fault, e.g. "height_cm", "rule.age_bands[1].max_age_months"
	Message string // for the user
}

func (e *Error) Error() string { return e.Field + ": " + e.Message }

// InvalidField lets the root package treat e as a field error.
func (e *Error) InvalidField() (field, message string) { return e.Field, e.Message }

// FieldErrors flattens err into its field errors, in order: err itself when
// it is an *Error, or each *Error of a joined error (errors.Join).
func FieldErrors(err error) []*Error {
	switch e := err.(type) {
	case nil:
		return nil
	case *Error:
		return []*Error{e}
	case interface{ Unwrap() []error }:
		var out []*Error
		for _, x := range e.Unwrap() {
			out = append(out, FieldErrors(x)...)
		}
		return out
	}
	var fe *Error
	if errors.As(err, &fe) {
		return []*Error{fe}
	}
	return nil
}
