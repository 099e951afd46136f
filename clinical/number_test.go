package clinical

import (
	"math"
	"strconv"
	"testing"
)

func TestCleanRemovesBinaryNoise(t *testing.T) {
	tests := []struct{ in, want float64 }{
		{0.1 + 0.2, 0.3},
		{24 * 0.1, 2.4},
		{1.1 * 28.3, 31.13},
		{3 * 0.1, 0.3},
		{1e-15 * 3, 3e-15}, // outside the fast path
		{123456789012345, 123456789012000},
		{-0.1 - 0.2, -0.3},
	}
	for _, tt := range tests {
		if got := clean(tt.in); got != tt.want {
			t.Errorf("clean(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
	// The fast path agrees with the decimal round trip it replaces.
	for _, x := range []float64{1.115546702045434, 99.39321539672542, 621.9660769836271, 0.0012345678901234, 7.000000000000001, 2.4999999999999996} {
		slow, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'g', 12, 64), 64)
		if got := clean(x); got != slow {
			t.Errorf("clean(%v) = %v, round trip %v", x, got, slow)
		}
	}
}

func TestRoundToStep(t *testing.T) {
	tests := []struct{ x, step, want float64 }{
		{2.45, 0.1, 2.5}, // 2.45 is stored as 2.4499999…: a pharmacist's half still goes up
		{2.44, 0.1, 2.4},
		{1.25, 0.1, 1.3},
		{525, 10, 530},
		{111.55, 1, 112},
		{72.6, 0.25, 72.5},
		{1.674, 0.01, 1.67},
		{0.0384, 0.001, 0.038},
	}
	for _, tt := range tests {
		if got := roundToStep(tt.x, tt.step); got != tt.want {
			t.Errorf("roundToStep(%v, %v) = %v, want %v", tt.x, tt.step, got, tt.want)
		}
	}
}

func TestDisplayStep(t *testing.T) {
	tests := []struct{ x, want float64 }{
		{1162, 0.1}, {10, 0.1}, {9.99, 0.01}, {1, 0.01}, {0.99, 0.001}, {0.1, 0.001}, {0.05, 0.0001},
	}
	for _, tt := range tests {
		if got := DisplayStep(tt.x); math.Abs(got-tt.want) > tt.want*1e-12 {
			t.Errorf("DisplayStep(%v) = %v, want %v", tt.x, got, tt.want)
		}
	}
	// 3 significant digits below 10, a tenth from 10: 9.996 rounds to 10.
	for _, tt := range []struct{ x, want float64 }{{9.996, 10}, {1.6733, 1.67}, {0.38, 0.38}, {1161.895, 1161.9}, {0.012345, 0.0123}} {
		if got := roundDisplay(tt.x); got != tt.want {
			t.Errorf("roundDisplay(%v) = %v, want %v", tt.x, got, tt.want)
		}
	}
}

func TestFormatting(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{formatSig(1.115546702, 4), "1.116"},
		{formatSig(2, 4), "2"}, // no trailing zeros (ISMP)
		{formatSig(1161.895, 4), "1162"},
		{formatSig(12345.6, 4), "12350"}, // no exponent
		{formatSig(0.00001234, 4), "0.00001234"},
		{formatExact(0.1 + 0.2), "0.3"},
		{formatExact(1e21), "1000000000000000000000"},
		{frenchDecimal("1.116"), "1,116"},
		{say("{} {} × {}", true, exact(1.5), unit("IU/m²"), 2.25), "1,5 UI/m² × 2,25"},
		{say("{} {} × {}", false, exact(1.5), unit("IU/m²"), 2.25), "1.5 IU/m² × 2.25"},
		// A reason containing {} is printed as typed, not re-filled.
		{say("motif : {} ({})", true, "dose {} réduite", exact(1.5)), "motif : dose {} réduite (1,5)"},
		// Fewer arguments than placeholders: the extra ones are dropped.
		{say("{} et {}", false, exact(1)), "1 et "},
		{say("{} {}", false, plus(3.2), plusExact(-25)), "+3.2 -25"},
		{say("{}", true, tr{"oui", "yes"}), "oui"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
	fr, en := render("a {} b {} c {}", "x {} y", a(exact(1.5), 2.0, "z"))
	if fr != "a 1,5 b 2 c z" || en != "x 1.5 y" {
		t.Errorf("render: %q / %q", fr, en)
	}
}

func TestDecade(t *testing.T) {
	tests := []struct {
		x    float64
		want int
	}{
		{1, 0}, {9.999999, 0}, {10, 1}, {1000, 3}, {999.9999999, 2}, {0.1, -1}, {0.01, -2},
		{0.0099999, -3}, {1e21, 21}, {1e-300, -300}, {5e-324, -324}, {1.7e308, 308},
	}
	for _, tt := range tests {
		if got := decade(tt.x); got != tt.want {
			t.Errorf("decade(%v) = %d, want %d", tt.x, got, tt.want)
		}
	}
}
