package clinical

import (
	"bytes"
	"math"
	"strconv"
	"strings"
)

// Numbers follow three rules, documented in docs/calc.md:
//
//  1. Every value a step or a result carries is cleaned of binary
//     floating-point noise: rounded to 12 significant digits, so that
//     0.1+0.2 is 0.3 and 24 × 0.1 is 2.4. This changes a value by less than
//     one part in 10¹¹; it is not a clinical rounding.
//  2. Intermediate values (BSA, GFR, the dose before rounding) keep that full
//     precision; sentences print them with 4 significant digits.
//  3. Only the final dose is rounded: to the rule's rounding step, or to the
//     display precision (3 significant digits below 10, a tenth from 10 up).

// noiseDigits is the number of significant digits kept by clean.
const noiseDigits = 12

// clean removes binary floating-point noise from x (rule 1 above): the
// nearest double to x rounded to 12 significant digits. With n an integer
// below 2⁵³ and 10^k exact (k ≤ 22), n / 10^k is a correctly rounded IEEE
// division, so this equals strconv's decimal round trip at a fraction of
// its cost; outside that range it falls back to the round trip.
func clean(x float64) float64 {
	if x == 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return x
	}
	k := noiseDigits - 1 - decade(x)
	switch {
	case k >= 0 && k <= 22:
		p := math.Pow10(k)
		return math.Round(x*p) / p
	case k < 0 && k >= -22:
		p := math.Pow10(-k)
		return math.Round(x/p) * p
	}
	v, err := strconv.ParseFloat(strconv.FormatFloat(x, 'g', noiseDigits, 64), 64)
	if err != nil {
		return x
	}
	return v
}

// roundToStep rounds x to the nearest multiple of step, halves away from
// zero. The quotient is cleaned first so that a decimal half (2.45 / 0.1)
// rounds up as a pharmacist would, not down because 2.45 is stored as
// 2.4499999….
func roundToStep(x, step float64) float64 {
	q := clean(x / step)
	return clean(math.Round(q) * step)
}

// isMultiple reports whether x is a whole multiple of step, allowing for
// binary noise.
func isMultiple(x, step float64) bool {
	q := clean(x / step)
	return q == math.Round(q)
}

// decade returns the exponent e with 10^e ≤ |x| < 10^(e+1), for x ≠ 0.
// math.Log10 alone can be off by one at exact powers of ten.
func decade(x float64) int {
	x = math.Abs(x)
	// Frexp gives the binary exponent cheaply; log10(2) turns it into a
	// first guess of the decimal one, corrected against exact powers of ten.
	_, exp := math.Frexp(x)
	e := int(math.Floor(float64(exp-1) * 0.30102999566398120))
	for math.Pow10(e+1) <= x {
		e++
	}
	for e > -330 && math.Pow10(e) > x {
		e--
	}
	return e
}

// DisplayStep is the display precision of a final dose that has no rounding
// step of its own: 3 significant digits below 10 (0.01 from 1 to 10, 0.001
// from 0.1 to 1, …) and a tenth from 10 up. Either way the rounding moves a
// dose by at most 0.5 %.
func DisplayStep(x float64) float64 {
	if math.Abs(x) >= 10 {
		return 0.1
	}
	if x == 0 {
		return 0.01
	}
	return math.Pow10(decade(x) - 2)
}

// roundDisplay rounds x to its display precision.
func roundDisplay(x float64) float64 { return roundToStep(x, DisplayStep(x)) }

// onDisplayGrid reports whether x needs no rounding at display precision.
func onDisplayGrid(x float64) bool { return isMultiple(x, DisplayStep(x)) }

// finite reports whether x is neither NaN nor infinite.
func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// exact is a number printed in full (shortest form), for values the user
// typed and for final doses, which are already rounded.
type exact float64

// sig6 is a number printed with 6 significant digits: the value before a
// rounding, so that the reader sees which way it went.
type sig6 float64

// tr is a word or phrase in both languages.
type tr struct{ fr, en string }

// plusExact is a number the user typed, printed in full with its sign.
type plusExact float64

// plus is a difference printed with its sign and 3 significant digits.
type plus float64

// unit is a unit symbol, spelled per language (IU is UI in French).
type unit string

// say fills the {} placeholders of tmpl with args for one language; see
// render.
func say(tmpl string, fr bool, args ...any) string {
	frS, enS := render(tmpl, tmpl, args)
	if fr {
		return frS
	}
	return enS
}

// maxArgs bounds the arguments of one sentence.
const maxArgs = 12

// render fills a French and an English template with the same arguments;
// see appendRendered.
func render(frTmpl, enTmpl string, args []any) (fr, en string) {
	text, sp := appendRendered(nil, frTmpl, enTmpl, args)
	both := string(text)
	return both[sp[0]:sp[1]], both[sp[2]:sp[3]]
}

// appendRendered appends to text the French then the English template with
// their {} filled by args, in order, and returns where each sentence lies.
// Each number is formatted once: float64 with 4 significant digits, exact in
// full, sig6 with 6, plus and plusExact with their sign; unit and tr are
// spelled per language; a string is copied as is and never re-scanned, so
// a reason containing "{}" is printed as typed. A {} without an argument is
// dropped.
func appendRendered(text []byte, frTmpl, enTmpl string, args []any) ([]byte, [4]int32) {
	if len(args) > maxArgs {
		args = args[:maxArgs]
	}
	var scratch [192]byte
	buf := scratch[:0]
	var enSpan, frSpan [maxArgs][2]int32
	for i, arg := range args {
		start := int32(len(buf))
		number := true
		switch v := arg.(type) {
		case float64:
			buf = appendSig(buf, v, 4)
		case int:
			buf = strconv.AppendInt(buf, int64(v), 10)
		case exact:
			buf = appendExact(buf, float64(v))
		case sig6:
			buf = appendSig(buf, float64(v), 6)
		case plus:
			if v > 0 {
				buf = append(buf, '+')
			}
			buf = appendSig(buf, float64(v), 3)
		case plusExact:
			if v > 0 {
				buf = append(buf, '+')
			}
			buf = appendExact(buf, float64(v))
		case unit:
			buf = append(buf, v...)
			enSpan[i] = [2]int32{start, int32(len(buf))}
			buf = append(buf, unitFR(string(v))...)
			frSpan[i] = [2]int32{enSpan[i][1], int32(len(buf))}
			continue
		case tr:
			buf = append(buf, v.en...)
			enSpan[i] = [2]int32{start, int32(len(buf))}
			buf = append(buf, v.fr...)
			frSpan[i] = [2]int32{enSpan[i][1], int32(len(buf))}
			continue
		case string:
			buf = append(buf, v...)
			number = false
		}
		enSpan[i] = [2]int32{start, int32(len(buf))}
		frSpan[i] = enSpan[i]
		if number && bytes.IndexByte(buf[start:], '.') >= 0 {
			mid := len(buf)
			buf = append(buf, buf[start:mid]...)
			for j := mid; j < len(buf); j++ {
				if buf[j] == '.' {
					buf[j] = ','
				}
			}
			frSpan[i] = [2]int32{int32(mid), int32(len(buf))}
		}
	}
	var sp [4]int32
	sp[0] = int32(len(text))
	text = fill(text, frTmpl, buf, frSpan[:len(args)])
	sp[1], sp[2] = int32(len(text)), int32(len(text))
	text = fill(text, enTmpl, buf, enSpan[:len(args)])
	sp[3] = int32(len(text))
	return text, sp
}

// fill appends tmpl to text with its {} replaced by the spans of buf, in
// order; a {} without a span is dropped.
func fill(text []byte, tmpl string, buf []byte, spans [][2]int32) []byte {
	for i := 0; ; i++ {
		j := strings.IndexByte(tmpl, '{')
		for j >= 0 && (j+1 >= len(tmpl) || tmpl[j+1] != '}') {
			k := strings.IndexByte(tmpl[j+1:], '{')
			if k < 0 {
				j = -1
				break
			}
			j += 1 + k
		}
		if j < 0 {
			return append(text, tmpl...)
		}
		text = append(text, tmpl[:j]...)
		if i < len(spans) {
			text = append(text, buf[spans[i][0]:spans[i][1]]...)
		}
		tmpl = tmpl[j+2:]
	}
}

func frenchDecimal(s string) string {
	if i := strings.IndexByte(s, '.'); i >= 0 {
		return s[:i] + "," + s[i+1:]
	}
	return s
}

// formatExact prints x in its shortest form, without exponent or trailing
// zeros (ISMP: a trailing zero turns 1.0 mg into 10 mg) and with no
// thousands separator. A value carrying binary noise (more than 12
// significant digits) is cleaned first.
func formatExact(x float64) string { return string(appendExact(nil, x)) }

func appendExact(buf []byte, x float64) []byte {
	start := len(buf)
	buf = strconv.AppendFloat(buf, x, 'f', -1, 64)
	if digits(buf[start:]) > noiseDigits {
		buf = strconv.AppendFloat(buf[:start], clean(x), 'f', -1, 64)
	}
	return buf
}

// digits counts the significant digits of a formatted number.
func digits(s []byte) int {
	n, leading := 0, true
	for _, c := range s {
		if c < '0' || c > '9' || (leading && c == '0') {
			continue
		}
		leading = false
		n++
	}
	return n
}

// formatSig prints x with at most sig significant digits, without exponent
// or trailing zeros.
func formatSig(x float64, sig int) string { return string(appendSig(nil, x, sig)) }

func appendSig(buf []byte, x float64, sig int) []byte {
	if x == 0 || !finite(x) {
		return appendExact(buf, x)
	}
	start := len(buf)
	buf = strconv.AppendFloat(buf, x, 'g', sig, 64)
	if bytes.IndexByte(buf[start:], 'e') < 0 {
		return buf
	}
	// Outside %g's plain range (≥ 10^sig or < 10^-4): print in full.
	buf = buf[:start]
	decimals := sig - 1 - decade(x)
	if decimals < 0 {
		x = roundToStep(x, math.Pow10(-decimals))
		decimals = 0
	}
	buf = strconv.AppendFloat(buf, x, 'f', decimals, 64)
	if bytes.IndexByte(buf[start:], '.') >= 0 {
		for buf[len(buf)-1] == '0' {
			buf = buf[:len(buf)-1]
		}
		if buf[len(buf)-1] == '.' {
			buf = buf[:len(buf)-1]
		}
	}
	return buf
}

// unitFR spells a unit symbol for a French sentence.
func unitFR(u string) string {
	switch u {
	case "IU":
		return "UI"
	case "IU/m²":
		return "UI/m²"
	case "IU/kg":
		return "UI/kg"
	case UnitMLMinIndexed:
		return "mL/min/1,73 m²"
	}
	return u
}
