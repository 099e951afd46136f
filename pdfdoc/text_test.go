package pdfdoc

import (
	"io"
	"strings"
	"testing"

	"github.com/go-pdf/fpdf"
)

func TestEncode(t *testing.T) {
	for _, tc := range []struct {
		in, want  string
		multiline bool
		fails     bool
	}{
		{in: "Préparé à 8 °C, œdème, Ærø", want: "Pr\xe9par\xe9 \xe0 8 \xb0C, \x9cd\xe8me, \xc6r\xf8"},
		{in: "1,11 mg/m² – 50 µg", want: "1,11 mg/m\xb2 \x96 50 \xb5g"},
		{in: "50 μg", want: "50 \xb5g"}, // Greek mu becomes the micro sign
		{in: "DFG ≥ 60 mL/min", want: "DFG >= 60 mL/min"},
		{in: "PNN ≤ 0,5 G/L", want: "PNN <= 0,5 G/L"},
		{in: "peginterféron α-2b", want: "peginterf\xe9ron alpha-2b"},
		{in: "Łukasz Wałęsa", want: "Lukasz Walesa"},
		{in: "Ștefan Țurcanu", want: "Stefan Turcanu"},
		{in: "âge dans [36, ∞) mois", want: "\xe2ge dans [36, inf) mois"}, // an age band of an intrathecal dose
		{in: "√(140 cm × 32 kg / 3600)", want: "sqrt(140 cm \xd7 32 kg / 3600)"},
		{in: "1\u202F000 mg", want: "1\xa0000 mg"},
		{in: "ligne 1\nligne 2", want: "ligne 1\nligne 2", multiline: true},
		{in: "ligne 1\r\nligne 2", want: "ligne 1\nligne 2", multiline: true},
		{in: "ligne 1\nligne 2", fails: true},
		{in: "bip\x07", fails: true},
		{in: "\x7f", fails: true}, // the check box's mark is never user text
		{in: "长春新碱", fails: true},
		{in: "🙂", fails: true},
		{in: "bad \xff utf-8", fails: true},
	} {
		got, err := encode(tc.in, tc.multiline)
		if tc.fails {
			if err == nil {
				t.Errorf("encode(%q) = %q, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("encode(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// encode agrees with fpdf's own cp1252 table on every character that table
// knows; it differs only in refusing what fpdf would turn into a dot.
func TestSubstitutionsAreLatin1(t *testing.T) {
	for r, sub := range substitutions {
		for _, c := range sub {
			if c > 0xFF || (c >= 0x80 && c < 0xA0) || c < 0x20 {
				t.Errorf("substitution of U+%04X holds U+%04X, which is not printable Latin-1", r, c)
			}
		}
	}
}

func TestEncodeAgreesWithFpdf(t *testing.T) {
	tr := fpdf.New("P", "mm", "A4", "").UnicodeTranslatorFromDescriptor("")
	n := 0
	for r := rune(0x20); r < 0x3000; r++ {
		if _, sub := substitutions[r]; sub || r == 0x7F {
			continue
		}
		theirs := tr(string(r))
		ours, err := encode(string(r), false)
		if theirs == "." && r != '.' {
			if err == nil {
				t.Errorf("U+%04X: fpdf cannot print it, encode gave %q", r, ours)
			}
			continue
		}
		n++
		if err != nil || ours != theirs {
			t.Errorf("U+%04X: encode = %q, %v; fpdf = %q", r, ours, err, theirs)
		}
	}
	if n < 200 {
		t.Errorf("only %d characters compared", n)
	}
}

// The PDF's text reads back as the UTF-8 given, accents and symbols
// included, and substituted characters as documented.
func TestTextReadsBack(t *testing.T) {
	d := testLabel()
	d.Storage = "Conserver ≥ 2 °C et ≤ 8 °C ; œdème ; 50 µg/m² ; « ligne dédiée »"
	d.Patient.BirthName = "WAŁĘSA"
	pdf := render(t, func(w io.Writer) error { return Label(w, d, LabelA4) })
	assertContains(t, "label", pdfPages(t, pdf)[0],
		"Conserver >= 2 °C et <= 8 °C ; œdème ; 50 µg/m² ; « ligne dédiée »", "WALESA")
}

func TestWrapKeepsEveryCharacter(t *testing.T) {
	p, _ := NewPack("t", testStamp())
	w := p.w
	w.font("", 9)
	for _, s := range []string{
		"",
		"court",
		"DE LA TOUR D'AUVERGNE-LAURAGUAIS DE SAINT-GERMAIN-DES-PRÉS ET DE KERGUÉLEN-TRÉMAREC",
		strings.Repeat("0123456789", 20),
		"a  double  space\nand a second paragraph with a-very-long-hyphenated-compound-word-indeed",
	} {
		enc, err := encode(s, true)
		if err != nil {
			t.Fatal(err)
		}
		for _, width := range []float64{3, 20, 45, 200} {
			lines := w.wrap(enc, width)
			for _, l := range lines {
				if w.width(l) > width+1e-9 && len(l) > 1 {
					t.Errorf("line %q is %.1f mm wide, more than %.1f", l, w.width(l), width)
				}
			}
			if got, want := squeeze(strings.Join(lines, " ")), squeeze(enc); got != want {
				t.Errorf("wrap(%q, %.0f) lost characters: %q", s, width, lines)
			}
		}
	}
}

// FuzzWrap: whatever the text and the width, wrapped lines hold every
// character of the text, in order, and none is wider than the line unless
// it is a single glyph.
func FuzzWrap(f *testing.F) {
	f.Add("DE LA TOUR D'AUVERGNE-LAURAGUAIS", 20.0)
	f.Add("1,5 mg/m² × 0,74 m² = 1,11 mg\nplafond 2 mg", 35.0)
	f.Add(strings.Repeat("W", 50), 4.0)
	p, _ := NewPack("t", testStamp())
	w := p.w
	f.Fuzz(func(t *testing.T, s string, width float64) {
		if !(width >= 1 && width <= 300) {
			return
		}
		enc, err := encode(s, true)
		if err != nil {
			return
		}
		w.font("", 9)
		lines := w.wrap(enc, width)
		for _, l := range lines {
			if w.width(l) > width+1e-9 && len(l) > 1 {
				t.Fatalf("line %q is %.2f mm wide, more than %.2f", l, w.width(l), width)
			}
		}
		// Only the space or newline a line breaks at is dropped.
		got := strings.Join(lines, "")
		want := strings.NewReplacer(" ", "", "\n", "").Replace(enc)
		if strings.NewReplacer(" ", "").Replace(got) != want {
			t.Fatalf("wrap(%q, %.2f) = %q: characters lost or reordered", enc, width, lines)
		}
	})
}
