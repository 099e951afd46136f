package progress

import (
	"os"
	"syscall"
	"unsafe"
)

// isTerminal asks the kernel for the file's terminal attributes (TCGETS):
// only a terminal has them. (A character device such as /dev/null is not a
// terminal, which a Stat mode check would not tell apart.)
func isTerminal(f *os.File) bool {
	var t syscall.Termios
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), uintptr(syscall.TCGETS), uintptr(unsafe.Pointer(&t)))
	return errno == 0
}
