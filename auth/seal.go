package auth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
)

// Seal encrypts plaintext (an identity provider's refresh token) with a key
// derived from secret (the session's cookie secret) by HKDF-SHA256, under
// AES-256-GCM. The database keeps only the sealed form and the secret's hash:
// the token can be used again only while serving a request that carries the
// cookie, and a copy of the database yields nothing usable.
func Seal(secret, purpose, plaintext string) (string, error) {
	aead, err := sealer(secret, purpose)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := aead.Seal(nonce, nonce, []byte(plaintext), []byte(purpose))
	return base64.RawURLEncoding.EncodeToString(out), nil
}

// Open decrypts what Seal made with the same secret and purpose.
func Open(secret, purpose, sealed string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil {
		return "", errors.New("auth: sealed value is not base64url")
	}
	aead, err := sealer(secret, purpose)
	if err != nil {
		return "", err
	}
	if len(b) < aead.NonceSize() {
		return "", errors.New("auth: sealed value too short")
	}
	pt, err := aead.Open(nil, b[:aead.NonceSize()], b[aead.NonceSize():], []byte(purpose))
	if err != nil {
		return "", errors.New("auth: sealed value does not open with this secret")
	}
	return string(pt), nil
}

func sealer(secret, purpose string) (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, []byte(secret), nil, "relais seal "+purpose, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
