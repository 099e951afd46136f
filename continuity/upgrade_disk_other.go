//go:build !unix

package continuity

import "errors"

// FreeSpace is not measured on this system: `relais upgrade check` reports
// the disk prerequisite as failed and says to check it by hand.
func FreeSpace(dir string) (int64, error) {
	return 0, errors.New("free space is not measured on this operating system: check it by hand")
}
