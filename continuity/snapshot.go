// Package continuity keeps a pharmacy working when its Relais is gone
// (seeds 001 and 004): signed, encrypted snapshots that travel on a USB
// key; a standby node that follows its site live; crisis mode on that copy,
// with its logbook and register numbers reserved in advance; the downtime
// packs printed for working with no computer at all; reintegration of the
// crisis work into the recovered site; and the drill that measures it all.
// docs/continuity.md is the procedure.
package continuity

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"

	"github.com/relais-onco/relais"
	"github.com/relais-onco/relais/internal/progress"
	"github.com/relais-onco/relais/journal"
	"github.com/relais-onco/relais/sqlstore"
)

// A snapshot file is:
//
//	RELAIS-SNAPSHOT/1\n
//	{header, one line of JSON}\n
//	age-encrypted payload, to the end of the file
//
// The header says what is inside without decrypting it (site, data time,
// schema, journal head, payload format) and carries the site key's
// signature over the header's canonical JSON without the signature — which
// includes the SHA-256 and size of the encrypted payload, so the signature
// covers every byte of the file. The payload is a sqlstore snapshot (a
// SQLite file or a portable dump), compressed with zstd (version 2, header
// "compression":"zstd"; version 1 files are not compressed), then encrypted
// with age to one or more recipients (X25519 keys, "age1…"): a lost USB key
// discloses nothing. Compression comes before encryption, since ciphertext
// does not compress; at the region's scale a portable dump shrinks about
// tenfold.

// Magic is the first line of a snapshot file.
const Magic = "RELAIS-SNAPSHOT/1"

// CompressionZstd is the compression of a version 2 snapshot's payload.
const CompressionZstd = "zstd"

// maxHeader bounds the header line: a header is a few hundred bytes.
const maxHeader = 64 << 10

// Header describes a snapshot file.
type Header struct {
	Version          int       `json:"version"`
	Site             string    `json:"site"`
	Engine           string    `json:"engine"`
	Schema           int       `json:"schema"`
	Payload          string    `json:"payload"`               // sqlite or jsonl
	Compression      string    `json:"compression,omitempty"` // "zstd" (version 2), or none (version 1)
	DataTime         time.Time `json:"data_time"`             // the moment the copy reflects
	HeadSeq          int64     `json:"head_seq"`              // the site's journal in the copy
	HeadHash         string    `json:"head_hash"`
	CreatedAt        time.Time `json:"created_at"`
	Recipients       []string  `json:"recipients"`
	CiphertextSHA256 string    `json:"ciphertext_sha256"`
	CiphertextSize   int64     `json:"ciphertext_size"`
	PublicKey        string    `json:"public_key"` // the signing site key (ed25519, base64)
	Signature        string    `json:"signature"`  // base64 ed25519 over SignedBytes
}

// SignedBytes are the bytes the signature covers: the header's canonical
// JSON with an empty signature.
func (h Header) SignedBytes() ([]byte, error) {
	h.Signature = ""
	return journal.Marshal(h)
}

// ReadHeader reads the magic line and the header of a snapshot file,
// leaving r at the first byte of the payload. It refuses anything that is
// not a well-formed header of a known version; it checks no signature.
func ReadHeader(r *bufio.Reader) (Header, error) {
	const op = "snapshot.header"
	var h Header
	magic, err := readLine(r, len(Magic)+1)
	if err != nil || magic != Magic {
		return h, relais.E(op, relais.KindInvalid, "this is not a Relais snapshot file (it does not start with "+Magic+")")
	}
	line, err := readLine(r, maxHeader)
	if err != nil {
		return h, relais.E(op, relais.KindInvalid, "the snapshot header is missing or longer than 64 KiB", err)
	}
	dec := json.NewDecoder(strings.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		return h, relais.E(op, relais.KindInvalid, "the snapshot header is not valid JSON", err)
	}
	if dec.More() {
		return h, relais.E(op, relais.KindInvalid, "the snapshot header has data after its JSON object")
	}
	var errs []string
	switch {
	case h.Version != 1 && h.Version != 2:
		errs = append(errs, fmt.Sprintf("version %d is not one this Relais reads (1 or 2)", h.Version))
	case h.Version == 1 && h.Compression != "":
		errs = append(errs, fmt.Sprintf("a version 1 snapshot is not compressed, yet it says %q", h.Compression))
	case h.Version == 2 && h.Compression != CompressionZstd:
		errs = append(errs, fmt.Sprintf("compression %q is unknown (a version 2 snapshot is compressed with %s)", h.Compression, CompressionZstd))
	case h.Site == "":
		errs = append(errs, "it names no site")
	case h.Payload != sqlstore.PayloadSQLite && h.Payload != sqlstore.PayloadJSONL:
		errs = append(errs, fmt.Sprintf("payload %q is unknown", h.Payload))
	case len(h.CiphertextSHA256) != 64:
		errs = append(errs, "its payload hash is not a SHA-256")
	case h.CiphertextSize <= 0:
		errs = append(errs, "its payload size is not positive")
	case h.HeadSeq < 0:
		errs = append(errs, "its journal head is negative")
	case h.Signature == "" || h.PublicKey == "":
		errs = append(errs, "it is not signed")
	}
	if len(errs) > 0 {
		return h, relais.E(op, relais.KindInvalid, "the snapshot header is not acceptable: "+strings.Join(errs, "; "))
	}
	return h, nil
}

// readLine reads one \n-terminated line of at most max bytes.
func readLine(r *bufio.Reader, max int) (string, error) {
	var b []byte
	for {
		chunk, err := r.ReadSlice('\n')
		b = append(b, chunk...)
		if len(b) > max+1 {
			return "", errors.New("line too long")
		}
		if err == nil {
			return strings.TrimSuffix(string(b), "\n"), nil
		}
		if err != bufio.ErrBufferFull {
			return "", err
		}
	}
}

// CreateOptions tune Create.
type CreateOptions struct {
	Recipients []age.Recipient
	// RecipientNames are the recipients as given ("age1…"), for the header.
	RecipientNames []string
	Key            ed25519.PrivateKey // the site key that signs
	Portable       bool               // a jsonl payload even from SQLite
	// Progress is where the copy draws its progress (megabytes written),
	// when it is a terminal.
	Progress io.Writer
}

// Create writes a snapshot of db to path (written beside it first, then
// renamed: a crash leaves no half file under the name).
func Create(ctx context.Context, db *sqlstore.DB, path string, opts CreateOptions) (Header, error) {
	const op = "snapshot.create"
	var h Header
	if len(opts.Recipients) == 0 {
		return h, relais.Invalid(op, "recipient", "give at least one age recipient (age1…) to encrypt the snapshot to")
	}
	if len(opts.Key) != ed25519.PrivateKeySize {
		return h, relais.Invalid(op, "key", "give the site key that signs the snapshot")
	}
	dir := filepath.Dir(path)
	enc, err := os.CreateTemp(dir, ".relais-snapshot-*.age")
	if err != nil {
		return h, relais.E(op, err)
	}
	defer os.Remove(enc.Name())
	defer enc.Close()
	sum := sha256.New()
	counter := &countWriter{}
	aw, err := age.Encrypt(io.MultiWriter(enc, sum, counter), opts.Recipients...)
	if err != nil {
		return h, relais.E(op, err)
	}
	// The fastest level: a snapshot is taken before an upgrade, with the
	// unit waiting, and the dump's JSON compresses well at any level.
	zw, err := zstd.NewWriter(aw, zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		return h, relais.E(op, err)
	}
	bar := progress.New(opts.Progress, "instantané", 0, "Mo")
	info, err := db.WriteSnapshot(ctx, &megabytes{w: zw, bar: bar}, opts.Portable)
	bar.Done()
	if err != nil {
		zw.Close()
		return h, err
	}
	if err := zw.Close(); err != nil {
		return h, relais.E(op, err)
	}
	if err := aw.Close(); err != nil {
		return h, relais.E(op, err)
	}
	h = Header{Version: 2, Compression: CompressionZstd, Site: info.Site, Engine: string(info.Engine), Schema: info.Schema, Payload: info.Payload,
		DataTime: info.DataTime, HeadSeq: info.Head.Seq, HeadHash: info.Head.Hash, CreatedAt: relais.Now(),
		Recipients: opts.RecipientNames, CiphertextSHA256: hex.EncodeToString(sum.Sum(nil)), CiphertextSize: counter.n,
		PublicKey: journal.EncodePublicKey(opts.Key.Public().(ed25519.PublicKey))}
	if h.Recipients == nil {
		h.Recipients = []string{}
	}
	signed, err := h.SignedBytes()
	if err != nil {
		return h, relais.E(op, err)
	}
	h.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(opts.Key, signed))
	line, err := json.Marshal(h)
	if err != nil {
		return h, relais.E(op, err)
	}
	out, err := os.CreateTemp(dir, ".relais-snapshot-*.tmp")
	if err != nil {
		return h, relais.E(op, err)
	}
	defer os.Remove(out.Name())
	defer out.Close()
	if _, err := fmt.Fprintf(out, "%s\n%s\n", Magic, line); err != nil {
		return h, relais.E(op, err)
	}
	if _, err := enc.Seek(0, io.SeekStart); err != nil {
		return h, relais.E(op, err)
	}
	if _, err := io.Copy(out, enc); err != nil {
		return h, relais.E(op, err)
	}
	if err := out.Sync(); err != nil {
		return h, relais.E(op, err)
	}
	if err := out.Close(); err != nil {
		return h, relais.E(op, err)
	}
	if err := os.Rename(out.Name(), path); err != nil {
		return h, relais.E(op, err)
	}
	return h, nil
}

type countWriter struct{ n int64 }

// megabytes counts the megabytes (MiB) that go through it on a progress bar:
// written when w is set, read when r is.
type megabytes struct {
	w   io.Writer
	r   io.Reader
	bar *progress.Bar
	n   int64
}

func (m *megabytes) Write(p []byte) (int, error) {
	n, err := m.w.Write(p)
	m.count(n)
	return n, err
}

func (m *megabytes) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	m.count(n)
	return n, err
}

func (m *megabytes) count(n int) {
	m.n += int64(n)
	m.bar.Set((m.n + 1<<20 - 1) >> 20) // begun megabytes: a small file shows 1, not 0
}

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// Signature says how a snapshot's signature was checked.
type Signature struct {
	Valid bool `json:"valid"`
	// Trusted is set when the key was given by the caller (obtained from
	// the site itself); otherwise only the key the file carries was used,
	// which proves integrity but not origin.
	Trusted bool   `json:"trusted"`
	Key     string `json:"key"`
}

// CheckSignature verifies the header's signature and the payload's hash
// and size. Keys are the site's public keys obtained independently; when
// none is given, the key in the header is used (Trusted false).
func CheckSignature(path string, keys []ed25519.PublicKey) (Header, Signature, error) {
	const op = "snapshot.verify"
	var sig Signature
	f, err := os.Open(path)
	if err != nil {
		return Header{}, sig, relais.E(op, relais.KindNotFound, err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	h, err := ReadHeader(br)
	if err != nil {
		return h, sig, err
	}
	sig.Key = h.PublicKey
	signed, err := h.SignedBytes()
	if err != nil {
		return h, sig, relais.E(op, err)
	}
	raw, err := base64.StdEncoding.DecodeString(h.Signature)
	if err != nil {
		return h, sig, relais.E(op, relais.KindIntegrity, "the snapshot's signature is not base64")
	}
	fileKey, err := journal.ParsePublicKey(h.PublicKey)
	if err != nil {
		return h, sig, relais.E(op, relais.KindIntegrity, "the snapshot's public key cannot be read")
	}
	if len(keys) == 0 {
		keys = []ed25519.PublicKey{fileKey}
	} else {
		sig.Trusted = true
	}
	for _, k := range keys {
		if ed25519.Verify(k, signed, raw) {
			sig.Valid = true
			sig.Key = journal.EncodePublicKey(k)
		}
	}
	if !sig.Valid {
		if sig.Trusted {
			return h, sig, relais.E(op, relais.KindIntegrity, "the snapshot is not signed by the site key given (--pubkey): do not restore it")
		}
		return h, sig, relais.E(op, relais.KindIntegrity, "the snapshot's signature does not match its header: it was altered; do not restore it")
	}
	sum := sha256.New()
	n, err := io.Copy(sum, br)
	if err != nil {
		return h, sig, relais.E(op, err)
	}
	if n != h.CiphertextSize || hex.EncodeToString(sum.Sum(nil)) != h.CiphertextSHA256 {
		return h, sig, relais.E(op, relais.KindIntegrity, fmt.Sprintf(
			"the snapshot's payload (%d bytes) does not match its signed hash and size (%d bytes): it was truncated or altered; do not restore it", n, h.CiphertextSize))
	}
	return h, sig, nil
}

// Restore checks the snapshot's signature, decrypts it and restores it into
// a new database at dsn, returned open.
func Restore(ctx context.Context, path string, identities []age.Identity, keys []ed25519.PublicKey, dsn string, opts sqlstore.Options) (*sqlstore.DB, Header, Signature, error) {
	const op = "snapshot.restore"
	h, sig, err := CheckSignature(path, keys)
	if err != nil {
		return nil, h, sig, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, h, sig, relais.E(op, err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	if _, err := ReadHeader(br); err != nil {
		return nil, h, sig, err
	}
	// The progress of a restore is that of the encrypted payload read,
	// whose size the header gives.
	bar := progress.New(opts.Progress, "restauration", (h.CiphertextSize+1<<20-1)>>20, "Mo")
	defer bar.Done() // the line ends before an error is printed
	plain, err := age.Decrypt(&megabytes{r: br, bar: bar}, identities...)
	if err != nil {
		return nil, h, sig, relais.E(op, relais.KindForbidden, "the snapshot cannot be decrypted with the identity given (--identity): it was encrypted to "+strings.Join(h.Recipients, ", "), err)
	}
	if h.Compression == CompressionZstd {
		zr, err := zstd.NewReader(plain)
		if err != nil {
			return nil, h, sig, relais.E(op, err)
		}
		defer zr.Close()
		plain = zr
	}
	// A snapshot comes back at the schema it was taken at: an older one is
	// upgraded by relais serve, after a snapshot of its own (upgrade.go).
	if opts.MigrateTo == 0 && h.Schema > 0 {
		opts.MigrateTo = h.Schema
	}
	db, _, err := sqlstore.RestoreSnapshot(ctx, plain, h.Payload, dsn, opts)
	bar.Done()
	if err != nil {
		return nil, h, sig, err
	}
	head, err := db.Head(ctx, h.Site)
	if err != nil {
		db.Close()
		return nil, h, sig, err
	}
	if head.Seq != h.HeadSeq || head.Hash != h.HeadHash {
		db.Close()
		return nil, h, sig, relais.E(op, relais.KindIntegrity, fmt.Sprintf(
			"the restored journal ends at entry %d (%s) but the signed header says %d (%s)", head.Seq, head.Hash, h.HeadSeq, h.HeadHash))
	}
	return db, h, sig, nil
}

// VerifyReport is what Verify found.
type VerifyReport struct {
	Header    Header               `json:"header"`
	Signature Signature            `json:"signature"`
	Check     sqlstore.CheckReport `json:"check"`
}

// OK reports whether the snapshot can be trusted and restored.
func (r VerifyReport) OK() bool { return r.Signature.Valid && r.Check.OK() }

// Verify checks a snapshot end to end without keeping anything: signature
// and payload hash, decryption, restore into a temporary SQLite database,
// then every integrity check of `relais check` on it (SQLite's own check,
// the journal chain and entities, the register, leftovers, references).
// The restore and the check draw their progress on progressTo when it is a
// terminal (nil: nowhere).
func Verify(ctx context.Context, path string, identities []age.Identity, keys []ed25519.PublicKey, progressTo io.Writer) (VerifyReport, error) {
	var rep VerifyReport
	dir, err := os.MkdirTemp("", "relais-verify-")
	if err != nil {
		return rep, err
	}
	defer os.RemoveAll(dir)
	db, h, sig, err := Restore(ctx, path, identities, keys, "sqlite:"+filepath.Join(dir, "verify.db"), sqlstore.Options{Log: discard(), Progress: progressTo})
	rep.Header, rep.Signature = h, sig
	if err != nil {
		return rep, err
	}
	defer db.Close()
	rep.Check, err = db.Check(ctx)
	return rep, err
}

// ParseRecipients reads age recipients: each argument is an "age1…" key
// or a file of them (one a line, # comments).
func ParseRecipients(args []string) ([]age.Recipient, []string, error) {
	var out []age.Recipient
	var names []string
	for _, a := range args {
		text := a
		if !strings.HasPrefix(a, "age1") {
			b, err := os.ReadFile(a)
			if err != nil {
				return nil, nil, relais.Invalid("snapshot.recipient", "recipient", "%q is neither an age public key (age1…) nor a readable file", a)
			}
			text = string(b)
		}
		rs, err := age.ParseRecipients(strings.NewReader(text))
		if err != nil {
			return nil, nil, relais.Invalid("snapshot.recipient", "recipient", "cannot read the age recipient %q: %v", a, err)
		}
		out = append(out, rs...)
		for _, line := range strings.Split(text, "\n") {
			if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") {
				names = append(names, l)
			}
		}
	}
	return out, names, nil
}

// ParseIdentities reads age identity files ("AGE-SECRET-KEY-1…").
func ParseIdentities(paths []string) ([]age.Identity, error) {
	var out []age.Identity
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, relais.Invalid("snapshot.identity", "identity", "cannot read the age identity file %s: %v", p, err)
		}
		ids, err := age.ParseIdentities(bytes.NewReader(b))
		if err != nil {
			return nil, relais.Invalid("snapshot.identity", "identity", "%s holds no age identity: %v", p, err)
		}
		out = append(out, ids...)
	}
	return out, nil
}
