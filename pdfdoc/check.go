package pdfdoc

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/relais-onco/relais"
)

// check collects every field error of a document's input before anything
// is drawn, so that a document is refused whole (naming all its faults) or
// rendered whole.
type check struct {
	op   string
	errs []error
}

const (
	opt  = false
	need = true
)

func (c *check) add(field, format string, args ...any) {
	c.errs = append(c.errs, relais.Invalid(c.op, field, format, args...))
}

func (c *check) err() error { return relais.Errors(c.op, c.errs) }

// text checks a one-line text: required or not, at most max characters, and
// printable by the fonts.
func (c *check) text(field, s string, required bool, max int) {
	c.str(field, s, required, max, false)
}

// multiline is text where "\n" breaks the line (addresses, annotations).
func (c *check) multiline(field, s string, required bool, max int) {
	c.str(field, s, required, max, true)
}

func (c *check) str(field, s string, required bool, max int, multiline bool) {
	if strings.TrimSpace(s) == "" {
		if required {
			c.add(field, "this field is required on the document: fill it in")
		}
		return
	}
	if n := utf8.RuneCountInString(s); n > max {
		c.add(field, "%d characters is too long for the document: at most %d", n, max)
		return
	}
	if _, err := encode(s, multiline); err != nil {
		c.add(field, "%s", err.Error())
	}
}

// quantity checks a dose, volume, rate or concentration: a string with its
// unit, printed as given, so it must at least hold a digit.
func (c *check) quantity(field, s string, required bool) {
	c.text(field, s, required, 60)
	if strings.TrimSpace(s) != "" && !strings.ContainsFunc(s, unicode.IsDigit) {
		c.add(field, "%q holds no number: give the value with its unit, as rounded by the clinical rules, e.g. \"85,5 mg\"", s)
	}
}

func (c *check) date(field string, d relais.Date, required bool) {
	if d == "" {
		if required {
			c.add(field, "the date is missing: write it as YYYY-MM-DD")
		}
		return
	}
	if _, err := time.Parse(time.DateOnly, string(d)); err != nil {
		c.add(field, "%q is not a date: write it as YYYY-MM-DD, e.g. 2019-03-14", string(d))
	}
}

func (c *check) time(field string, t time.Time, required bool) {
	if t.IsZero() && required {
		c.add(field, "the time is missing")
	}
}

// code checks a preparation id for the DataMatrix: required, printable
// ASCII (the encoder's non-ASCII mode is incomplete), and short enough.
func (c *check) code(field, id string) {
	if id == "" {
		c.add(field, "the preparation id is missing: it is encoded in the DataMatrix")
		return
	}
	if len(id) > 64 {
		c.add(field, "%d characters is too long for the DataMatrix: at most 64", len(id))
		return
	}
	for _, r := range id {
		if r < 0x21 || r > 0x7E {
			c.add(field, "the id may hold only printable ASCII characters (it is encoded in the DataMatrix), not %q", r)
			return
		}
	}
}

func itemField(list string, i int, name string) string {
	return fmt.Sprintf("%s[%d].%s", list, i, name)
}
