package relais

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sync"
	"time"
)

// ID is a UUIDv7 (RFC 9562) in its canonical text form. IDs are made by the
// application, never by a database sequence, so rows made at different sites
// or on a crisis node never collide; their time prefix keeps them roughly in
// creation order, which keeps B-tree inserts local.
type ID string

var idState struct {
	sync.Mutex
	lastMS  int64
	counter uint16 // 12-bit sub-millisecond counter (rand_a), RFC 9562 method 1
}

// NewID returns a new UUIDv7, monotonic within this process.
func NewID() ID {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("relais: no randomness for IDs: %v", err))
	}
	idState.Lock()
	ms := time.Now().UnixMilli()
	if ms > idState.lastMS {
		idState.lastMS = ms
		idState.counter = binary.BigEndian.Uint16(b[6:8]) & 0x07ff // leave room to count up
	} else {
		idState.counter++
		if idState.counter > 0x0fff { // counter exhausted: borrow the next millisecond
			idState.lastMS++
			idState.counter = 0
		}
		ms = idState.lastMS
	}
	counter := idState.counter
	idState.Unlock()

	b[0] = byte(ms >> 40)
	b[1] = byte(ms >> 32)
	b[2] = byte(ms >> 24)
	b[3] = byte(ms >> 16)
	b[4] = byte(ms >> 8)
	b[5] = byte(ms)
	b[6] = 0x70 | byte(counter>>8)
	b[7] = byte(counter)
	b[8] = (b[8] & 0x3f) | 0x80 // variant 10
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return ID(s[:])
}

// ParseID checks that s is a UUID in canonical lower-case form.
func ParseID(field, s string) (ID, error) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return "", Invalid("id.parse", field, "%q is not an identifier (expected a UUID such as 0190f5e2-7c3a-7b4e-9a1d-2f6c8e0b1a23)", truncate(s, 40))
	}
	for i, c := range s {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			continue
		}
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return "", Invalid("id.parse", field, "%q is not an identifier (lower-case hexadecimal UUID expected)", truncate(s, 40))
		}
	}
	return ID(s), nil
}

// Time returns the creation time encoded in a UUIDv7.
func (id ID) Time() time.Time {
	if len(id) != 36 {
		return time.Time{}
	}
	h, err := hex.DecodeString(string(id[0:8]) + string(id[9:13]))
	if err != nil {
		return time.Time{}
	}
	var ms int64
	for _, c := range h {
		ms = ms<<8 | int64(c)
	}
	return time.UnixMilli(ms).UTC()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
