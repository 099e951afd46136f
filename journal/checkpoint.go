package journal

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// Checkpoint is a site's signature over the head of its chain: "entry Seq of
// site Site has hash Hash", signed at Time with the site's ed25519 key. Since
// each hash covers every entry before it, one checkpoint vouches for the whole
// chain up to Seq: a chain rewritten afterwards (entries altered and every
// hash recomputed, which the hash chain alone cannot reveal) no longer has
// Hash at Seq. Anyone holding only the public key can check it.
type Checkpoint struct {
	Site      string    `json:"site"`
	Seq       int64     `json:"seq"`
	Hash      string    `json:"hash"`       // the entry's hash, lowercase hex
	Time      time.Time `json:"time"`       // when it was signed, UTC, microseconds
	PublicKey string    `json:"public_key"` // the signer's ed25519 public key, standard base64
	Signature string    `json:"signature"`  // ed25519 signature of SignedBytes, standard base64
}

// checkpointKind separates checkpoint signatures from anything else the site
// key might ever sign.
const checkpointKind = "relais.journal.checkpoint"

// signedCheckpoint fixes the field order and formats of the signed bytes.
// Do not change it: every checkpoint ever signed depends on it.
type signedCheckpoint struct {
	Kind string `json:"kind"`
	V    int    `json:"v"`
	Site string `json:"site"`
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
	Time string `json:"time"`
}

// SignedBytes returns the bytes the signature covers: the JSON object
// {"kind":"relais.journal.checkpoint","v":1,"site":…,"seq":…,"hash":…,"time":…}
// with the fields in that order, no spaces, HTML characters not escaped and
// the time written with TimeFormat.
func (c *Checkpoint) SignedBytes() ([]byte, error) {
	if err := c.checkFields(); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(signedCheckpoint{Kind: checkpointKind, V: 1, Site: c.Site, Seq: c.Seq, Hash: c.Hash,
		Time: c.Time.UTC().Format(TimeFormat)})
	if err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// checkFields refuses values whose encoding would be ambiguous (invalid UTF-8
// is replaced when encoded, so two sites could sign the same bytes).
func (c *Checkpoint) checkFields() error {
	switch {
	case c.Site == "" || !utf8.ValidString(c.Site):
		return fmt.Errorf("journal: checkpoint: the site %q is not a valid site id", c.Site)
	case c.Seq < 1:
		return fmt.Errorf("journal: checkpoint: sequence %d: only entries 1, 2, 3… can be signed", c.Seq)
	case !isHash(c.Hash):
		return fmt.Errorf("journal: checkpoint: %q is not an entry hash (64 lowercase hex digits)", c.Hash)
	}
	return nil
}

func isHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Sign makes the checkpoint of entry seq (with hash hash) of site's chain,
// signed at t with priv.
func Sign(priv ed25519.PrivateKey, site string, seq int64, hash string, t time.Time) (Checkpoint, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return Checkpoint{}, errors.New("journal: checkpoint: the signing key is not an ed25519 private key")
	}
	c := Checkpoint{Site: site, Seq: seq, Hash: hash, Time: t.UTC().Truncate(time.Microsecond)}
	msg, err := c.SignedBytes()
	if err != nil {
		return Checkpoint{}, err
	}
	c.PublicKey = EncodePublicKey(priv.Public().(ed25519.PublicKey))
	c.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(priv, msg))
	return c, nil
}

// Verify checks that c was signed by the holder of pub. It fails when c
// names another key, when its signature does not verify, or when a field is
// malformed.
func (c *Checkpoint) Verify(pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize {
		return errors.New("the verifying key is not an ed25519 public key")
	}
	own, err := c.Key()
	if err != nil {
		return err
	}
	if !own.Equal(pub) {
		return fmt.Errorf("it was signed with the key %s, not with %s", c.PublicKey, EncodePublicKey(pub))
	}
	msg, err := c.SignedBytes()
	if err != nil {
		return err
	}
	sig, err := base64.StdEncoding.DecodeString(c.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return errors.New("its signature is not a base64 ed25519 signature")
	}
	if !ed25519.Verify(pub, msg, sig) {
		return errors.New("its signature does not verify: the checkpoint was altered or forged")
	}
	return nil
}

// Key returns the public key the checkpoint says it was signed with. It is
// only as trustworthy as the place the checkpoint came from: check it against
// a key obtained independently (Verify does).
func (c *Checkpoint) Key() (ed25519.PublicKey, error) {
	k, err := ParsePublicKey(c.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("its public key: %w", err)
	}
	return k, nil
}

// EncodePublicKey writes an ed25519 public key as standard base64, the form
// stored in the site table and printed by `relais keys show`.
func EncodePublicKey(pub ed25519.PublicKey) string {
	return base64.StdEncoding.EncodeToString(pub)
}

// ParsePublicKey reads a public key written by EncodePublicKey.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%q is not an ed25519 public key in base64 (44 characters)", s)
	}
	return ed25519.PublicKey(b), nil
}

// StartAt makes v continue a chain after entry seq whose hash is hash, as if
// it had checked every entry up to it: to verify from a checkpoint on, or to
// go on checking after a fault.
func (v *Verifier) StartAt(seq int64, hash string) {
	v.started, v.lastSeq, v.lastHash = true, seq, hash
}

// ChainAudit checks one site's chain entry by entry, in order, together with
// the checkpoints signed for it. Unlike Verifier it does not stop at the
// first fault: it records it and goes on from the faulty entry, so that a
// report can list every place the chain stops matching, in chain order.
type ChainAudit struct {
	Site string

	v           Verifier
	keyed       bool             // checkpoints are checked against trusted keys
	checkpoints map[int64][]ckpt // by seq
	entries     int64
	verified    int   // checkpoints whose signature and hash both matched
	covered     int64 // highest seq vouched for by a good checkpoint
	bad         map[int64]bool
	faults      []*Fault
}

type ckpt struct {
	Checkpoint
	sigErr error // why its signature does not verify, nil when it does
}

// NewChainAudit prepares the audit of site's chain. checkpoints are that
// site's stored checkpoints; each must verify with one of trusted. When
// trusted is empty, each checkpoint is checked against the key it carries,
// which only detects damage, not forgery: Summary says so (KeyTrusted false).
func NewChainAudit(site string, trusted []ed25519.PublicKey, checkpoints []Checkpoint) *ChainAudit {
	a := &ChainAudit{Site: site, v: Verifier{Site: site}, keyed: len(trusted) > 0,
		checkpoints: map[int64][]ckpt{}, bad: map[int64]bool{}}
	for _, c := range checkpoints {
		k := ckpt{Checkpoint: c}
		switch {
		case c.Site != site:
			k.sigErr = fmt.Errorf("it belongs to site %q, not to this chain's site %q", c.Site, site)
		case a.keyed:
			k.sigErr = verifyAny(&c, trusted)
		default:
			if own, err := c.Key(); err != nil {
				k.sigErr = err
			} else {
				k.sigErr = c.Verify(own)
			}
		}
		a.checkpoints[c.Seq] = append(a.checkpoints[c.Seq], k)
	}
	return a
}

// LastSignedBy returns the latest of checkpoints signed at or before notAfter
// whose signature verifies with one of keys, and false when there is none
// (or no key). It is where a partial audit may start: the checkpoint vouches
// for every entry up to its own.
func LastSignedBy(checkpoints []Checkpoint, keys []ed25519.PublicKey, notAfter time.Time) (Checkpoint, bool) {
	if len(keys) == 0 {
		return Checkpoint{}, false
	}
	var best Checkpoint
	found := false
	for i := range checkpoints {
		c := &checkpoints[i]
		if c.Time.After(notAfter) || (found && c.Seq <= best.Seq) || verifyAny(c, keys) != nil {
			continue
		}
		best, found = *c, true
	}
	return best, found
}

func verifyAny(c *Checkpoint, keys []ed25519.PublicKey) error {
	var first error
	for _, k := range keys {
		err := c.Verify(k)
		if err == nil {
			return nil
		}
		if first == nil {
			first = err
		}
	}
	if len(keys) > 1 {
		return fmt.Errorf("no trusted key verifies it (%v)", first)
	}
	return first
}

// Check verifies e, the next entry of the chain. It returns false when e
// cannot be trusted (it is altered, out of sequence, or its checkpoint does
// not match), after recording why.
func (a *ChainAudit) Check(e *Entry) bool {
	a.entries++
	ok := true
	if err := a.v.Check(e); err != nil {
		var f *Fault
		if !errors.As(err, &f) {
			f = &Fault{e.Seq, e.ID, err.Error()}
		}
		a.fault(f)
		ok = false
		// Go on from this entry as stored, so a single altered entry is
		// reported once and the entries after it are still checked.
		a.v.StartAt(e.Seq, e.Hash)
	}
	for _, c := range a.checkpoints[e.Seq] {
		when := c.Time.UTC().Format(time.RFC3339)
		switch {
		case c.sigErr != nil:
			a.fault(&Fault{e.Seq, e.ID, fmt.Sprintf("the checkpoint signed at %s for this entry is not valid: %v", when, c.sigErr)})
		case c.Hash != e.Hash:
			a.fault(&Fault{e.Seq, e.ID, fmt.Sprintf("the checkpoint signed at %s records hash %s for this entry, the chain now has %s: the chain was rewritten after it was signed",
				when, c.Hash, e.Hash)})
			ok = false
		default:
			a.verified++
			if ok && e.Seq > a.covered {
				a.covered = e.Seq
			}
		}
	}
	if !ok {
		a.bad[e.Seq] = true
	}
	return ok
}

// Resume makes the audit start after entry seq, whose hash is hash, instead
// of at the chain's first entry: the audit of the chain's end only, from a
// checkpoint on (the entries up to it are not read; the checkpoint vouches
// for them).
func (a *ChainAudit) Resume(seq int64, hash string) { a.v.StartAt(seq, hash) }

func (a *ChainAudit) fault(f *Fault) { a.faults = append(a.faults, f) }

// Bad reports whether the entry at seq failed its checks.
func (a *ChainAudit) Bad(seq int64) bool { return a.bad[seq] }

// Finish ends the walk: checkpoints signed for entries beyond the last one
// checked mean entries were deleted from the end of the chain.
func (a *ChainAudit) Finish() ChainSummary {
	last, _ := a.v.Head()
	var beyond []int64
	for seq := range a.checkpoints {
		if seq > last {
			beyond = append(beyond, seq)
		}
	}
	sort.Slice(beyond, func(i, j int) bool { return beyond[i] < beyond[j] })
	for _, seq := range beyond {
		for _, c := range a.checkpoints[seq] {
			a.fault(&Fault{seq, "", fmt.Sprintf("a checkpoint was signed at %s for entry %d (hash %s) but the chain ends at entry %d: entries were deleted from its end",
				c.Time.UTC().Format(time.RFC3339), seq, c.Hash, last)})
		}
	}
	return a.Summary()
}

// Summary is the state of the audit so far.
func (a *ChainAudit) Summary() ChainSummary {
	seq, hash := a.v.Head()
	n := 0
	for _, cs := range a.checkpoints {
		n += len(cs)
	}
	faults := append([]*Fault(nil), a.faults...)
	sort.SliceStable(faults, func(i, j int) bool { return faults[i].Seq < faults[j].Seq })
	return ChainSummary{Site: a.Site, Entries: a.entries, HeadSeq: seq, HeadHash: hash,
		Checkpoints: n, CheckpointsVerified: a.verified, CoveredSeq: a.covered, KeyTrusted: a.keyed,
		Faults: faults}
}

// ChainSummary is what the audit of one chain found.
type ChainSummary struct {
	Site                string   `json:"site"`
	Entries             int64    `json:"entries"`              // entries checked
	HeadSeq             int64    `json:"head_seq"`             // last entry checked
	HeadHash            string   `json:"head_hash"`            // its hash
	Checkpoints         int      `json:"checkpoints"`          // checkpoints found
	CheckpointsVerified int      `json:"checkpoints_verified"` // whose signature and hash matched
	CoveredSeq          int64    `json:"covered_seq"`          // last entry vouched for by a checkpoint
	KeyTrusted          bool     `json:"key_trusted"`          // signatures were checked against an independent key
	Faults              []*Fault `json:"faults,omitempty"`     // in chain order
}

// Uncovered is the number of entries after the last good checkpoint: they
// are protected by the hash chain only, not yet by a signature.
func (s ChainSummary) Uncovered() int64 { return s.HeadSeq - s.CoveredSeq }

// ExportFormat names the file `relais audit export` writes: JSON values one
// per line, first an ExportHeader, then {"checkpoint":{…}} lines, then
// {"entry":{…}} lines, each chain in sequence order. An inspector checks it
// with VerifyExport and the site's public key, without a database.
const ExportFormat = "relais-journal-export"

// ExportHeader is the first line of an export.
type ExportHeader struct {
	Format     string    `json:"format"`  // ExportFormat
	Version    int       `json:"version"` // 1
	Site       string    `json:"site"`    // the exporting site
	ExportedAt time.Time `json:"exported_at"`
	Heads      []Head    `json:"heads"` // the head of each chain when exported
}

// Head is the last entry of a chain.
type Head struct {
	Site string `json:"site"`
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
}

type exportLine struct {
	Checkpoint *Checkpoint `json:"checkpoint,omitempty"`
	Entry      *Entry      `json:"entry,omitempty"`
}

// ExportWriter writes an export: the header, then every checkpoint, then
// every entry.
type ExportWriter struct {
	enc     *json.Encoder
	entries bool
}

// NewExportWriter writes h to w and returns a writer for the rest.
func NewExportWriter(w io.Writer, h ExportHeader) (*ExportWriter, error) {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // keep the entries' canonical bytes as they are
	h.Format, h.Version = ExportFormat, 1
	h.ExportedAt = h.ExportedAt.UTC()
	if err := enc.Encode(h); err != nil {
		return nil, err
	}
	return &ExportWriter{enc: enc}, nil
}

// Checkpoint writes one checkpoint; all must come before the first entry.
func (x *ExportWriter) Checkpoint(c *Checkpoint) error {
	if x.entries {
		return errors.New("journal: export: checkpoints must be written before the entries")
	}
	return x.enc.Encode(exportLine{Checkpoint: c})
}

// Entry writes one entry.
func (x *ExportWriter) Entry(e *Entry) error {
	x.entries = true
	return x.enc.Encode(exportLine{Entry: e})
}

// ExportReport is what VerifyExport found.
type ExportReport struct {
	Header ExportHeader
	Chains []ChainSummary // the export's site first, then the others by site
}

// Faults returns every fault, the export's own chain first, each chain in
// order.
func (r ExportReport) Faults() []*Fault {
	var out []*Fault
	for _, c := range r.Chains {
		out = append(out, c.Faults...)
	}
	return out
}

// VerifyExport checks an export read from r: every chain's hashes and
// links, the export's heads, and the checkpoints. The export's own site's
// checkpoints must verify with one of trusted (the site's public key,
// obtained from the site itself, not from the file); other sites' checkpoints
// are checked against the key they carry. The error is for a file that
// cannot be read as an export; faults of the chain are in the report.
func VerifyExport(r io.Reader, trusted []ed25519.PublicKey) (ExportReport, error) {
	var rep ExportReport
	dec := json.NewDecoder(bufio.NewReaderSize(r, 1<<20))
	dec.UseNumber()
	if err := dec.Decode(&rep.Header); err != nil {
		return rep, fmt.Errorf("not a Relais journal export: %w", err)
	}
	if rep.Header.Format != ExportFormat {
		return rep, fmt.Errorf("not a Relais journal export (format %q)", rep.Header.Format)
	}
	if rep.Header.Version != 1 {
		return rep, fmt.Errorf("journal export version %d is not known to this Relais: use a newer one", rep.Header.Version)
	}
	checkpoints := map[string][]Checkpoint{}
	audits := map[string]*ChainAudit{}
	audit := func(site string) *ChainAudit {
		a := audits[site]
		if a == nil {
			var keys []ed25519.PublicKey
			if site == rep.Header.Site {
				keys = trusted
			}
			a = NewChainAudit(site, keys, checkpoints[site])
			audits[site] = a
		}
		return a
	}
	for line := 2; ; line++ {
		var l exportLine
		err := dec.Decode(&l)
		if err == io.EOF {
			break
		}
		if err != nil {
			return rep, fmt.Errorf("export value %d: %w", line, err)
		}
		switch {
		case l.Checkpoint != nil && l.Entry == nil:
			if len(audits) > 0 {
				return rep, fmt.Errorf("export value %d: a checkpoint after the entries: checkpoints come first", line)
			}
			checkpoints[l.Checkpoint.Site] = append(checkpoints[l.Checkpoint.Site], *l.Checkpoint)
		case l.Entry != nil && l.Checkpoint == nil:
			audit(l.Entry.Site).Check(l.Entry)
		default:
			return rep, fmt.Errorf("export value %d: neither a checkpoint nor an entry", line)
		}
	}
	for site := range checkpoints {
		audit(site) // a chain with checkpoints but no entry left
	}
	audit(rep.Header.Site)
	heads := map[string]Head{}
	for _, h := range rep.Header.Heads {
		heads[h.Site] = h
	}
	for site, a := range audits {
		s := a.Summary()
		if h, ok := heads[site]; ok && (h.Seq != s.HeadSeq || h.Hash != s.HeadHash) {
			a.fault(&Fault{h.Seq, "", fmt.Sprintf("the export's header records entry %d (hash %s) as the head of site %s's chain, but the file's chain ends at entry %d (hash %s)",
				h.Seq, h.Hash, site, s.HeadSeq, s.HeadHash)})
		}
		rep.Chains = append(rep.Chains, a.Finish())
	}
	sortChains(rep.Chains, rep.Header.Site)
	return rep, nil
}

// sortChains puts the local site's chain first, then the others by site.
func sortChains(cs []ChainSummary, local string) {
	sort.Slice(cs, func(i, j int) bool {
		if (cs[i].Site == local) != (cs[j].Site == local) {
			return cs[i].Site == local
		}
		return cs[i].Site < cs[j].Site
	})
}
