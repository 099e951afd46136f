package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/journal"
	"github.com/relais-onco/relais/sqlstore"
)

// The site key signs the journal's checkpoints. It lives beside the
// database in the data directory: DIR/site.key (ed25519 private key, PEM
// PKCS#8, mode 0600) and DIR/site.pub (PEM PKIX), which other sites and
// inspectors receive.
const (
	siteKeyFile = "site.key"
	sitePubFile = "site.pub"
)

var keysCommands = []struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}{
	{"init", "make the site's signing key pair in the data directory (never overwrites)", keysInit},
	{"show", "print the site's public key (base64), for other sites and inspectors", keysShow},
	{"publish", "record the site's public key in the database's site table (journaled)", keysPublish},
}

func init() {
	register("keys", "make, show and publish the site's journal signing key", func(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
		if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
			keysUsage(stderr)
			if len(args) == 0 {
				return exitError{exitUsage, ""}
			}
			return flag.ErrHelp
		}
		for _, c := range keysCommands {
			if c.name == args[0] {
				return c.run(ctx, args[1:], stdout, stderr)
			}
		}
		fmt.Fprintf(stderr, "relais keys: unknown command %q\n\n", args[0])
		keysUsage(stderr)
		return exitError{exitUsage, ""}
	})
}

func keysUsage(w io.Writer) {
	fmt.Fprintf(w, "relais keys — the site's journal signing key\n\nUsage: relais keys COMMAND [flags]\n\nCommands:\n")
	for _, c := range keysCommands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'relais keys COMMAND -h' for a command's flags. See docs/audit.md.\n")
}

func keysInit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("keys init", stderr)
	data := fs.String("data", "", "data `DIR` to write site.key and site.pub into")
	site := fs.String("site", "", "the site's `ID`, written as a comment in site.pub")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *data == "" {
		return exitError{exitUsage, "relais keys init: --data DIR is required"}
	}
	priv, err := createSiteKey(*data, *site)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Wrote %s (private: keep it secret and backed up) and %s.\nPublic key: %s\n",
		filepath.Join(*data, siteKeyFile), filepath.Join(*data, sitePubFile), journal.EncodePublicKey(priv.Public().(ed25519.PublicKey)))
	fmt.Fprintf(stdout, "Give the public key to the other sites and to inspectors, and record it in the database with\n  relais keys publish --db DSN --data %s\n", *data)
	return nil
}

func keysShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("keys show", stderr)
	data := fs.String("data", "", "data `DIR` holding site.pub or site.key")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *data == "" {
		return exitError{exitUsage, "relais keys show: --data DIR is required"}
	}
	pub, err := sitePublicKey(*data)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, journal.EncodePublicKey(pub))
	return nil
}

func keysPublish(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("keys publish", stderr)
	dsn := fs.String("db", "", "database `DSN`: sqlite:PATH or postgres://USER@HOST:5432/DB")
	data := fs.String("data", "", "data `DIR` holding site.pub or site.key")
	replace := fs.Bool("replace", false, "replace a different key already recorded (key rotation: keep the old public key to verify older checkpoints)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dsn == "" || *data == "" {
		return exitError{exitUsage, "relais keys publish: --db DSN and --data DIR are required"}
	}
	pub, err := sitePublicKey(*data)
	if err != nil {
		return err
	}
	db, err := openExisting(ctx, *dsn, sqlstore.Options{Log: quietLogger(stderr)})
	if err != nil {
		return err
	}
	defer db.Close()
	changed, err := publishSiteKey(ctx, db, pub, *replace)
	if err != nil {
		return err
	}
	if changed {
		fmt.Fprintf(stdout, "Site %s now records public key %s.\n", db.Site, journal.EncodePublicKey(pub))
	} else {
		fmt.Fprintf(stdout, "Site %s already records this public key.\n", db.Site)
	}
	return nil
}

// publishSiteKey records pub as the local site's public key in the site
// table (a journaled change); false when it already is. Another key
// already recorded is replaced only with replace.
func publishSiteKey(ctx context.Context, db *sqlstore.DB, pub ed25519.PublicKey, replace bool) (bool, error) {
	sites, err := db.Sites(ctx)
	if err != nil {
		return false, err
	}
	enc := journal.EncodePublicKey(pub)
	for _, s := range sites {
		if s.ID != db.Site {
			continue
		}
		switch {
		case s.PublicKey == enc:
			return false, nil
		case s.PublicKey != "" && !replace:
			return false, fmt.Errorf("site %s already records another public key (%s); give --replace to rotate keys", s.ID, s.PublicKey)
		}
		s.PublicKey = enc
		ctx := relais.WithActor(ctx, relais.SystemActor(db.Site))
		return true, db.SaveSite(ctx, s)
	}
	return false, fmt.Errorf("the local site %s is missing from the site table", db.Site)
}

// LoadOrCreateSiteKey returns the site's signing key from dir/site.key,
// making the key pair first when there is none. serve calls it at start.
func LoadOrCreateSiteKey(dir string) (ed25519.PrivateKey, error) {
	path := filepath.Join(dir, siteKeyFile)
	priv, err := loadSiteKey(path)
	if errors.Is(err, fs.ErrNotExist) {
		return createSiteKey(dir, "")
	}
	return priv, err
}

// createSiteKey writes a new key pair into dir, refusing to replace either
// file: a lost site key cannot be made again, and a replaced one makes every
// earlier checkpoint unverifiable with the new public key.
func createSiteKey(dir, site string) (ed25519.PrivateKey, error) {
	keyPath, pubPath := filepath.Join(dir, siteKeyFile), filepath.Join(dir, sitePubFile)
	for _, p := range []string{keyPath, pubPath} {
		if _, err := os.Stat(p); err == nil {
			return nil, fmt.Errorf("%s already exists: it is not overwritten (a replaced key no longer verifies the checkpoints it signed)", p)
		}
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	if err := writeNew(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return nil, err
	}
	comment := "Relais site public key (ed25519): verifies this site's journal checkpoints.\n"
	if site != "" {
		comment = fmt.Sprintf("Relais site %s public key (ed25519): verifies this site's journal checkpoints.\n", site)
	}
	comment += "Base64: " + journal.EncodePublicKey(pub) + "\n"
	if err := writeNew(pubPath, append([]byte(comment), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})...), 0o644); err != nil {
		os.Remove(keyPath) // leave no half-made pair
		return nil, err
	}
	return priv, nil
}

// writeNew creates path with data, failing if it exists.
func writeNew(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}

// loadSiteKey reads a private key written by createSiteKey. A key others can
// read is refused, as ssh does: anyone who can read it can sign for the site.
func loadSiteKey(path string) (ed25519.PrivateKey, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("site key: %w (make one with relais keys init --data DIR)", err)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("site key %s can be read by others (mode %04o): chmod 600 %s", path, st.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("site key: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("site key %s: not a PEM \"PRIVATE KEY\" file", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("site key %s: %w", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("site key %s: a %T, not an ed25519 key", path, k)
	}
	return priv, nil
}

// readPublicKeyFile reads a PEM public key (site.pub).
func readPublicKeyFile(path string) (ed25519.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("%s: not a PEM \"PUBLIC KEY\" file", path)
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%s: a %T, not an ed25519 key", path, k)
	}
	return pub, nil
}

// sitePublicKey returns the public key of the pair in dir, from site.pub, or
// from site.key when site.pub is missing; when both are there they must
// belong together.
func sitePublicKey(dir string) (ed25519.PublicKey, error) {
	pub, perr := readPublicKeyFile(filepath.Join(dir, sitePubFile))
	priv, kerr := loadSiteKey(filepath.Join(dir, siteKeyFile))
	switch {
	case perr == nil && kerr == nil:
		if !pub.Equal(priv.Public()) {
			return nil, fmt.Errorf("%s does not belong to %s: they are not one key pair", sitePubFile, siteKeyFile)
		}
		return pub, nil
	case perr == nil:
		return pub, nil
	case kerr == nil:
		return priv.Public().(ed25519.PublicKey), nil
	default:
		return nil, fmt.Errorf("no site key in %s: %v (make one with relais keys init --data %s)", dir, perr, dir)
	}
}

// parsePublicKeyArg reads --pubkey: a base64 key, or the path of a PEM file.
func parsePublicKeyArg(s string) (ed25519.PublicKey, error) {
	if k, err := journal.ParsePublicKey(s); err == nil {
		return k, nil
	}
	if _, err := os.Stat(s); err == nil {
		return readPublicKeyFile(s)
	}
	return nil, fmt.Errorf("%q is neither an ed25519 public key in base64 (44 characters, from relais keys show) nor a site.pub file", s)
}

func keyPath(keyFile, data string) (string, error) {
	switch {
	case keyFile != "":
		return keyFile, nil
	case data != "":
		return filepath.Join(data, siteKeyFile), nil
	}
	return "", errors.New("give --key FILE or --data DIR (holding site.key)")
}

// startCheckpoints signs the head of the journal now, then every interval,
// and once more when ctx ends, so that the last entries before a shutdown
// are covered too. The returned channel closes when it has stopped: close
// the database only after that. A checkpoint that cannot be signed because
// the journal does not verify is logged as an error: someone must run
// `relais audit verify`.
func startCheckpoints(ctx context.Context, db *sqlstore.DB, key ed25519.PrivateKey, every time.Duration, log *slog.Logger) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		var last int64
		sign := func(ctx context.Context) {
			cp, err := db.Checkpoint(ctx, key)
			switch {
			case err != nil && relais.ErrorKind(err) == relais.KindIntegrity:
				log.Error("the journal does not verify: no checkpoint signed; run relais audit verify", "err", err)
			case err != nil:
				log.Warn("journal checkpoint failed; will retry", "err", err)
			case cp.Seq > last:
				last = cp.Seq
				log.Info("journal checkpoint signed", "seq", cp.Seq, "hash", cp.Hash)
			}
		}
		sign(ctx)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				sign(ctx)
			case <-ctx.Done():
				final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
				sign(final)
				cancel()
				return
			}
		}
	}()
	return done
}
