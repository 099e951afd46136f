package pdfdoc

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// The PDF core fonts (Helvetica) are used with WinAnsiEncoding, that is
// Windows-1252: every character printed must be one of its 218 glyphs. fpdf's
// own translator (UnicodeTranslatorFromDescriptor) turns any other character
// into a dot, which would change a name or a unit without a word; encode
// refuses such characters instead, after applying the substitutions below.

// cp1252High maps the Unicode characters of Windows-1252's 0x80–0x9F range to
// their byte; 0xA0–0xFF are Latin-1 and map to themselves.
var cp1252High = map[rune]byte{
	'€': 0x80, '‚': 0x82, 'ƒ': 0x83, '„': 0x84, '…': 0x85, '†': 0x86, '‡': 0x87,
	'ˆ': 0x88, '‰': 0x89, 'Š': 0x8A, '‹': 0x8B, 'Œ': 0x8C, 'Ž': 0x8E,
	'‘': 0x91, '’': 0x92, '“': 0x93, '”': 0x94, '•': 0x95, '–': 0x96, '—': 0x97,
	'˜': 0x98, '™': 0x99, 'š': 0x9A, '›': 0x9B, 'œ': 0x9C, 'ž': 0x9E, 'Ÿ': 0x9F,
}

// substitutions are the documented replacements for characters that
// Windows-1252 lacks but that clinical text uses. Each keeps the meaning:
// comparison signs are spelled out, typographic spaces become a no-break
// space, Greek letters used in drug names are written in letters (as INNs
// do: "alfa"), and Latin letters with a diacritic the font lacks lose the
// diacritic, as identity documents' machine-readable names do.
var substitutions = map[rune]string{
	'≥': ">=", '≤': "<=", '≠': "!=", '≈': "~", '→': "->", '←': "<-", '−': "-",
	'‐': "-", '‑': "-", '‒': "-", '⁄': "/", '∕': "/",
	'\u202F': "\u00A0", '\u2009': "\u00A0", '\u2007': "\u00A0", '\u2002': " ", '\u2003': " ",
	'\t': " ",
	// Signs of the calculation's sentences (clinical/): callers spell them
	// in the document's language when they can; these keep a document
	// printable when one is missed (an age band "[36, ∞)").
	'∞': "inf", '√': "sqrt",
	'μ': "µ", // Greek mu (U+03BC) → micro sign (U+00B5), which cp1252 has
	'α': "alpha", 'β': "beta", 'γ': "gamma", 'κ': "kappa",
	'Ā': "A", 'ā': "a", 'Ă': "A", 'ă': "a", 'Ą': "A", 'ą': "a",
	'Ć': "C", 'ć': "c", 'Č': "C", 'č': "c", 'Ď': "D", 'ď': "d", 'Đ': "D", 'đ': "d",
	'Ē': "E", 'ē': "e", 'Ė': "E", 'ė': "e", 'Ę': "E", 'ę': "e", 'Ě': "E", 'ě': "e",
	'Ğ': "G", 'ğ': "g", 'Ģ': "G", 'ģ': "g", 'Ī': "I", 'ī': "i", 'Į': "I", 'į': "i",
	'İ': "I", 'ı': "i", 'Ķ': "K", 'ķ': "k", 'Ĺ': "L", 'ĺ': "l", 'Ļ': "L", 'ļ': "l",
	'Ľ': "L", 'ľ': "l", 'Ł': "L", 'ł': "l", 'Ń': "N", 'ń': "n", 'Ņ': "N", 'ņ': "n",
	'Ň': "N", 'ň': "n", 'Ō': "O", 'ō': "o", 'Ő': "O", 'ő': "o", 'Ŕ': "R", 'ŕ': "r",
	'Ř': "R", 'ř': "r", 'Ś': "S", 'ś': "s", 'Ş': "S", 'ş': "s", 'Ș': "S", 'ș': "s",
	'Ţ': "T", 'ţ': "t", 'Ț': "T", 'ț': "t", 'Ť': "T", 'ť': "t", 'Ū': "U", 'ū': "u",
	'Ů': "U", 'ů': "u", 'Ű': "U", 'ű': "u", 'Ų': "U", 'ų': "u", 'Ź': "Z", 'ź': "z",
	'Ż': "Z", 'ż': "z",
}

// encode converts UTF-8 text to the Windows-1252 bytes the PDF fonts print,
// applying substitutions. A character it cannot print is an error naming it;
// multiline allows '\n' (explicit line breaks), which is otherwise refused
// like every other control character.
func encode(s string, multiline bool) (string, error) {
	var b strings.Builder
	b.Grow(len(s))
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !validAt(s, i):
			return "", fmt.Errorf("the text is not valid UTF-8 at byte %d", i)
		case r == '\n' && multiline:
			b.WriteByte('\n')
		case r == '\r' && multiline:
			// a CRLF line end: the '\n' that follows breaks the line
		case r < 0x20 || r == 0x7F || (r >= 0x80 && r < 0xA0):
			if sub, ok := substitutions[r]; ok {
				writeLatin1(&b, sub)
				continue
			}
			return "", fmt.Errorf("it contains the control character U+%04X: remove it", r)
		case r < 0x80:
			b.WriteByte(byte(r))
		case r <= 0xFF:
			b.WriteByte(byte(r))
		default:
			if c, ok := cp1252High[r]; ok {
				b.WriteByte(c)
			} else if sub, ok := substitutions[r]; ok {
				writeLatin1(&b, sub)
			} else {
				return "", fmt.Errorf("the character %q (U+%04X) cannot be printed by the PDF fonts (Windows-1252): write it with Latin letters", r, r)
			}
		}
	}
	return b.String(), nil
}

func validAt(s string, i int) bool {
	r, size := utf8.DecodeRuneInString(s[i:])
	return !(r == utf8.RuneError && size <= 1)
}

// writeLatin1 writes a substitution, whose characters are all Latin-1
// (checked by the package's tests), as Windows-1252 bytes.
func writeLatin1(b *strings.Builder, s string) {
	for _, r := range s {
		b.WriteByte(byte(r))
	}
}
