package auth

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"sync"
	"time"
)

// TLSConfig returns the server's TLS settings, after ANSSI's guide
// "Recommandations de sécurité relatives à TLS" (ANSSI-PA-035, v1.2, 2020):
//   - TLS 1.3 preferred, TLS 1.2 accepted, nothing older;
//   - key exchange by ephemeral elliptic-curve Diffie–Hellman only (forward
//     secrecy), on X25519, P-256 or P-384, with the hybrid post-quantum
//     X25519MLKEM768 offered first, as ANSSI's views on the post-quantum
//     transition (2022, updated 2023) advise hybrid key exchange;
//   - AEAD cipher suites only: AES-GCM or ChaCha20-Poly1305 (in TLS 1.3
//     every suite Go offers is one of these);
//   - no compression and no insecure renegotiation (Go offers neither).
func TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		CurvePreferences: []tls.CurveID{
			tls.X25519MLKEM768, tls.X25519, tls.CurveP256, tls.CurveP384,
		},
		CipherSuites: TLS12CipherSuites,
	}
}

// TLS12CipherSuites are the TLS 1.2 suites offered: ECDHE with an AEAD.
var TLS12CipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// ServerTLS returns TLSConfig serving the certificate chain and key in the
// given PEM files. The files are read again when they change (checked at
// most once a minute), so a renewed certificate is served without a restart.
func ServerTLS(certFile, keyFile string) (*tls.Config, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile}
	if err := r.load(); err != nil {
		return nil, err
	}
	cfg := TLSConfig()
	cfg.GetCertificate = r.get
	return cfg, nil
}

type certReloader struct {
	certFile, keyFile string
	mu                sync.Mutex
	cert              *tls.Certificate
	modTime           time.Time
	checked           time.Time
}

func (r *certReloader) load() error {
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("--tls-cert %s / --tls-key %s: %w", r.certFile, r.keyFile, err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return fmt.Errorf("--tls-cert %s: %w", r.certFile, err)
	}
	cert.Leaf = leaf
	fi, err := os.Stat(r.certFile)
	if err != nil {
		return err
	}
	r.cert, r.modTime = &cert, fi.ModTime()
	return nil
}

func (r *certReloader) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.checked) > time.Minute {
		r.checked = time.Now()
		if fi, err := os.Stat(r.certFile); err == nil && !fi.ModTime().Equal(r.modTime) {
			// A failed reload (a half-written file) leaves the
			// certificate in hand; the next check tries again.
			r.load()
		}
	}
	return r.cert, nil
}
