//go:build !linux

package progress

import "os"

// isTerminal falls back on the file mode away from Linux: a character
// device is taken for a terminal.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
