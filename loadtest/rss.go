package loadtest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RSSSample is the server's resident memory at a moment of the run.
type RSSSample struct {
	AtS float64 `json:"at_s"` // seconds since the start of the run
	MB  float64 `json:"mb"`
}

// RSSReport is what the sampler saw.
type RSSReport struct {
	PID     int         `json:"pid"`
	MaxMB   float64     `json:"max_mb"`
	LimitMB float64     `json:"limit_mb"`
	Samples []RSSSample `json:"samples"`
}

// readRSS reads VmRSS from /proc/PID/status, in MB (MiB).
func readRSS(pid int) (float64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			fields := strings.Fields(rest) // "123456 kB"
			if len(fields) < 1 {
				break
			}
			kb, err := strconv.ParseFloat(fields[0], 64)
			if err != nil {
				return 0, fmt.Errorf("/proc/%d/status: VmRSS %q: %w", pid, rest, err)
			}
			return kb / 1024, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("/proc/%d/status has no VmRSS (is it a kernel thread or a zombie?)", pid)
}

// rssSampler samples a process's RSS every interval; the process may
// change (the crash campaign restarts the server): pid is read each time.
type rssSampler struct {
	mu      sync.Mutex
	pid     int
	start   time.Time
	report  RSSReport
	lastErr error
}

func (s *rssSampler) setPID(pid int) {
	s.mu.Lock()
	s.pid = pid
	s.report.PID = pid
	s.mu.Unlock()
}

func (s *rssSampler) sample() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pid <= 0 {
		return
	}
	mb, err := readRSS(s.pid)
	if err != nil {
		s.lastErr = err
		return
	}
	mb = round2(mb)
	s.report.Samples = append(s.report.Samples, RSSSample{AtS: round2(time.Since(s.start).Seconds()), MB: mb})
	s.report.MaxMB = max(s.report.MaxMB, mb)
}

func (s *rssSampler) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	s.sample()
	for {
		select {
		case <-ctx.Done():
			s.sample()
			return
		case <-t.C:
			s.sample()
		}
	}
}

func (s *rssSampler) result() (RSSReport, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.report
	r.Samples = append([]RSSSample(nil), r.Samples...)
	if len(r.Samples) == 0 && s.lastErr != nil {
		return r, s.lastErr
	}
	return r, nil
}
