package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// Secrets (session ids, password-reset links, API tokens) are 256 random
// bits, written in base64url after a prefix that says what they are (so a
// leaked one is recognised by secret scanners and by people). Only their
// SHA-256 is stored: with 256 bits of entropy a fast hash is enough, and a
// copy of the database signs no one in.

// Secret prefixes.
const (
	PrefixSession = "rs_"
	PrefixReset   = "rr_"
	PrefixToken   = "relais_tok_"
)

// NewSecret returns a new secret with prefix, and its hash for storage.
func NewSecret(prefix string) (secret, hash string) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("auth: no randomness: " + err.Error())
	}
	secret = prefix + base64.RawURLEncoding.EncodeToString(b)
	return secret, HashSecret(secret)
}

// HashSecret returns the stored form of a secret: hex SHA-256.
func HashSecret(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// LooksLike reports whether s has the shape of a secret with prefix, so that
// garbage is refused before any lookup.
func LooksLike(s, prefix string) bool {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok || len(rest) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(rest)
	return err == nil
}
