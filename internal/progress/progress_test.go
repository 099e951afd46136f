package progress

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/relais-onco/relais/internal/ptytest"
)

func openPTY(t *testing.T) (ctl, term *os.File) { return ptytest.Open(t) }

// On a terminal the bar draws done/total, the rate and the time left, and
// ends its line when done.
func TestDrawsOnATerminal(t *testing.T) {
	ctl, term := openPTY(t)
	if !IsTerminal(term) {
		t.Fatal("a pseudo-terminal is not recognised as a terminal")
	}
	b := New(term, "région", 200, "patients")
	clock := b.start
	b.now = func() time.Time { return clock }
	clock = clock.Add(10 * time.Second)
	b.Add(50) // 5 patients/s, 150 left: 30 s
	b.Extra("1500 préparations")
	clock = clock.Add(10 * time.Second)
	b.Add(50) // 100 in 20 s: 5/s, 100 left: 20 s
	b.Done()
	term.Close()
	ctl.SetReadDeadline(time.Now().Add(2 * time.Second))
	var got bytes.Buffer
	buf := make([]byte, 4096)
	for !strings.Contains(got.String(), "\n") {
		n, err := ctl.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			break
		}
	}
	out := got.String()
	for _, want := range []string{"région: 50/200 patients (25.0 %) · 5.0 patients/s · reste 30s", "région: 100/200 patients (50.0 %) · 5.0 patients/s · reste 20s · 20s · 1500 préparations", "\r\x1b[K"} {
		if !strings.Contains(out, want) {
			t.Errorf("terminal output %q lacks %q", out, want)
		}
	}
	if !strings.HasSuffix(strings.TrimRight(out, "\r"), "\n") {
		t.Errorf("the last line is not ended: %q", out)
	}
}

// Redraws are limited to one per Every, however often Add is called.
func TestRedrawsAreThrottled(t *testing.T) {
	_, term := openPTY(t)
	b := New(term, "x", 0, "u")
	var draws int
	clock := b.start
	b.now = func() time.Time { return clock }
	for i := 0; i < 1000; i++ {
		before := b.last
		b.Add(1)
		if b.last != before || (i == 0 && b.drawn) {
			draws++
		}
		clock = clock.Add(time.Millisecond) // 1 s in all
	}
	if draws < 3 || draws > 5 {
		t.Errorf("%d redraws for 1,000 additions over 1 s; want about 4 (one per %v)", draws, Every)
	}
}

// Into a file, a pipe or /dev/null the bar writes nothing at all.
func TestSilentWhenNotATerminal(t *testing.T) {
	file, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	var buf bytes.Buffer
	for name, out := range map[string]interface{ Write([]byte) (int, error) }{"file": file, "pipe": w, "/dev/null": null, "buffer": &buf} {
		if IsTerminal(out) {
			t.Errorf("%s taken for a terminal", name)
		}
		b := New(out, "région", 10, "patients")
		if b.Active() {
			t.Errorf("bar active on a %s", name)
		}
		for i := 0; i < 10; i++ {
			b.Add(1)
		}
		b.Done()
	}
	w.Close()
	var piped bytes.Buffer
	piped.ReadFrom(r)
	fi, _ := file.Stat()
	if fi.Size() != 0 || piped.Len() != 0 || buf.Len() != 0 {
		t.Errorf("wrote %d bytes to a file, %d to a pipe, %d to a buffer; want none", fi.Size(), piped.Len(), buf.Len())
	}
	var nilBar *Bar
	nilBar.Add(1) // a nil bar does nothing
	nilBar.Done()
}

// Steps of unequal length show neither a rate nor a time left.
func TestStepsShowNoRate(t *testing.T) {
	_, term := openPTY(t)
	b := New(term, "vérification", 5, "parties").Steps()
	clock := b.start
	b.now = func() time.Time { return clock }
	clock = clock.Add(2 * time.Second)
	b.Add(1)
	b.Extra("journal")
	if got, want := b.line(clock), "vérification: 1/5 parties (20.0 %) · 2s · journal"; got != want {
		t.Errorf("line %q, want %q", got, want)
	}
}
