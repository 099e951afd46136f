// Package ptytest opens pseudo-terminals for tests of what a command draws
// on a terminal (progress lines) and must not draw elsewhere.
package ptytest

import (
	"bytes"
	"fmt"
	"os"
	"sync"
	"syscall"
	"testing"
	"unsafe"
)

// Open opens a pseudo-terminal pair (Linux /dev/ptmx): what is written to
// term is read back from ctl. The test is skipped where there is none.
func Open(t testing.TB) (ctl, term *os.File) {
	t.Helper()
	ctl, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal on this machine: %v", err)
	}
	t.Cleanup(func() { ctl.Close() })
	var unlock int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, ctl.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Skipf("unlockpt: %v", e)
	}
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, ctl.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		t.Skipf("ptsname: %v", e)
	}
	term, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("open the terminal side: %v", err)
	}
	t.Cleanup(func() { term.Close() })
	return ctl, term
}

// Screen reads everything written to a terminal as it comes, so that a
// long command never blocks on a full terminal buffer.
type Screen struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Record starts reading ctl until it is closed.
func Record(ctl *os.File) *Screen {
	s := &Screen{}
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := ctl.Read(b)
			s.mu.Lock()
			s.buf.Write(b[:n])
			s.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return s
}

// String is what was read so far.
func (s *Screen) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}
