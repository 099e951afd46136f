// Package auth owns how people and programs prove who they are: password
// hashing, one-time and session secrets, the sealing of tokens kept at rest,
// single sign-on with OpenID Connect, passkeys (WebAuthn), and the TLS
// settings of the server. It holds no SQL and no HTTP handlers: sqlstore
// keeps what it makes, web serves it.
package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"runtime"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters: RFC 9106's second recommended option (64 MiB, t=3, p=4)
// is too heavy for a 2-core hospital VM under a burst of sign-ins; OWASP's
// minimum for argon2id (19 MiB, t=2, p=1) is used instead.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
)

// argonSlots bounds the password hashes computed at once to the cores
// there are: each holds its memory (19 MiB) while it runs, so a burst of
// sign-ins — a ward's morning, a client retrying — would otherwise cost
// the server 19 MiB per sign-in in flight, for no gain in speed (hashing
// is bound by the cores). The others wait their turn.
var argonSlots = make(chan struct{}, max(2, runtime.GOMAXPROCS(0)))

// idKey is argon2.IDKey within argonSlots.
func idKey(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
	argonSlots <- struct{}{}
	defer func() { <-argonSlots }()
	return argon2.IDKey(password, salt, time, memory, threads, keyLen)
}

// MaxPasswordBytes bounds a password: a passphrase is long, a megabyte is an
// attack on the hashing time.
const MaxPasswordBytes = 1024

// HashPassword returns an encoded argon2id hash of password.
func HashPassword(password string) (string, error) {
	if len([]rune(password)) < 8 {
		return "", fmt.Errorf("a password needs at least 8 characters")
	}
	if len(password) > MaxPasswordBytes {
		return "", fmt.Errorf("a password may have at most %d bytes", MaxPasswordBytes)
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := idKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// CheckPassword reports whether password matches the encoded hash.
func CheckPassword(encoded, password string) bool {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var m uint32
	var t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return false
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return false
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil {
		return false
	}
	got := idKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// dummyHash is checked against when there is no hash to check (an unknown
// username, an account without a password), so that a refusal takes as long
// as a wrong password and timing does not tell which accounts exist.
var dummyHash = sync.OnceValue(func() string {
	h, err := HashPassword("relais: no such account")
	if err != nil {
		panic(err)
	}
	return h
})

// CheckPasswordOrDummy is CheckPassword, taking the same time when encoded is
// empty (and then answering false).
func CheckPasswordOrDummy(encoded, password string) bool {
	if encoded == "" {
		CheckPassword(dummyHash(), password)
		return false
	}
	return CheckPassword(encoded, password)
}
