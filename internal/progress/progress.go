// Package progress shows how far long command-line work has gone (demo
// generation, benchmarks, snapshots): one line on standard error, redrawn in
// place, with what is done out of the total, the rate and the time left.
// It draws only when its output is a terminal: piped into a file, a log or
// CI, it writes nothing, so logs stay free of carriage returns.
package progress

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Every is how often the line is redrawn at most.
const Every = 250 * time.Millisecond

// Bar is one progress line. Its methods are safe for concurrent use; a nil
// *Bar does nothing, so callers need not check.
type Bar struct {
	mu     sync.Mutex
	w      io.Writer
	what   string
	unit   string
	total  int64
	done   int64
	extra  string
	start  time.Time
	last   time.Time
	now    func() time.Time
	drawn  bool
	closed bool
	steps  bool // units of unequal length: no rate, no time left
}

// New returns a bar writing to w when w is a terminal, and a bar that stays
// silent otherwise. what names the work ("génération région"), unit what is
// counted ("patients"); total may be 0 when unknown.
func New(w io.Writer, what string, total int64, unit string) *Bar {
	b := &Bar{what: what, unit: unit, total: total, now: time.Now}
	if IsTerminal(w) {
		b.w = w
	}
	b.start = b.now()
	return b
}

// Steps says the units are steps of unequal length (the parts of a check):
// the line then shows neither a rate nor a time left, which would mislead.
func (b *Bar) Steps() *Bar {
	if b != nil {
		b.steps = true
	}
	return b
}

// Active reports whether the bar draws (its output is a terminal).
func (b *Bar) Active() bool { return b != nil && b.w != nil }

// IsTerminal reports whether w is an *os.File open on a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || f == nil {
		return false
	}
	return isTerminal(f)
}

// SetTotal changes the total (when it becomes known).
func (b *Bar) SetTotal(total int64) {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.total = total
	b.mu.Unlock()
}

// Add counts n more units done and redraws if it is time.
func (b *Bar) Add(n int64) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done += n
	b.maybeDraw()
}

// Set sets the count done and redraws if it is time.
func (b *Bar) Set(done int64) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done = done
	b.maybeDraw()
}

// Extra sets a short text shown after the counts (e.g. "12,345 préparations").
func (b *Bar) Extra(s string) {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.extra = s
	b.mu.Unlock()
}

// Done draws the final line and ends it with a newline.
func (b *Bar) Done() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.w == nil || b.closed {
		return
	}
	b.draw(b.now())
	fmt.Fprint(b.w, "\n")
	b.closed = true
}

func (b *Bar) maybeDraw() {
	if b.w == nil || b.closed {
		return
	}
	now := b.now()
	if b.drawn && now.Sub(b.last) < Every {
		return
	}
	b.draw(now)
}

func (b *Bar) draw(now time.Time) {
	b.last, b.drawn = now, true
	fmt.Fprint(b.w, "\r\033[K"+b.line(now))
}

// line is the text of the bar at time now.
func (b *Bar) line(now time.Time) string {
	el := now.Sub(b.start)
	s := fmt.Sprintf("%s: %d", b.what, b.done)
	if b.total > 0 {
		s += fmt.Sprintf("/%d %s (%.1f %%)", b.total, b.unit, 100*float64(b.done)/float64(b.total))
	} else {
		s += " " + b.unit
	}
	if el > 0 && b.done > 0 && !b.steps {
		rate := float64(b.done) / el.Seconds()
		s += fmt.Sprintf(" · %.1f %s/s", rate, b.unit)
		if b.total > b.done {
			left := time.Duration(float64(b.total-b.done) / rate * float64(time.Second))
			s += " · reste " + Round(left).String()
		}
	}
	s += " · " + Round(el).String()
	if b.extra != "" {
		s += " · " + b.extra
	}
	return s
}

// Round rounds a duration for display: seconds above a minute, tenths of a
// second below.
func Round(d time.Duration) time.Duration {
	if d >= time.Minute {
		return d.Round(time.Second)
	}
	return d.Round(100 * time.Millisecond)
}
