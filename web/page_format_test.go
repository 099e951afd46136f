package web

import (
	"testing"
	"time"

	"github.com/relais-onco/relais"
)

func TestParseNumber(t *testing.T) {
	for _, c := range []struct {
		in   string
		want float64
		ok   bool
	}{
		{"12,5", 12.5, true},
		{"12.5", 12.5, true},
		{" 1 500 ", 1500, true},
		{"-25", -25, true},
		{"0,05", 0.05, true},
		{"", 0, false},
		{"1,2,3", 0, false},
		{"1.2,3", 0, false},
		{"douze", 0, false},
		{"NaN", 0, false},
		{"Inf", 0, false},
		{"1e400", 0, false},
	} {
		got, err := parseNumber("test", "value", c.in)
		if (err == nil) != c.ok || (c.ok && got != c.want) {
			t.Errorf("parseNumber(%q) = %v, %v; want %v (ok %v)", c.in, got, err, c.want, c.ok)
		}
		if err != nil && relais.ErrorKind(err) != relais.KindInvalid {
			t.Errorf("parseNumber(%q): %v is not a field error", c.in, err)
		}
	}
}

// After sign-in, only a path of this site is followed: never another host.
func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"":                      "/",
		"/patients/x":           "/patients/x",
		"/patients?q=le%20gall": "/patients?q=le%20gall",
		"https://evil.example":  "/",
		"//evil.example/x":      "/",
		`/\evil.example`:        "/",
		"patients":              "/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNumbersAndDates(t *testing.T) {
	fr, en := &page{Lang: "fr"}, &page{Lang: "en"}
	for _, c := range []struct {
		v      float64
		fr, en string
	}{{87.5, "87,5", "87.5"}, {1500, "1500", "1500"}, {0.0625, "0,0625", "0.0625"}, {2, "2", "2"}} {
		if fr.Num(c.v) != c.fr || en.Num(c.v) != c.en {
			t.Errorf("Num(%v) = %q / %q; want %q / %q", c.v, fr.Num(c.v), en.Num(c.v), c.fr, c.en)
		}
	}
	if got := fr.Date("2025-03-14"); got != "14/03/2025" {
		t.Errorf("Date = %q", got)
	}
	// 14 March 2025 08:30 UTC is 09:30 in Paris (CET, UTC+1); 14 July is
	// summer time (CEST, UTC+2).
	for in, want := range map[string]string{"2025-03-14T08:30:00Z": "14/03/2025 09:30", "2025-07-14T08:30:00Z": "14/07/2025 10:30"} {
		tm, _ := parseRFC3339(in)
		if got := fr.Time(tm); got != want {
			t.Errorf("Time(%s) = %q, want %q", in, got, want)
		}
	}
}

func parseRFC3339(s string) (time.Time, error) { return time.Parse(time.RFC3339, s) }
