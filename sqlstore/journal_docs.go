package sqlstore

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/klauspost/compress/zstd"

	"github.com/relais-onco/relais/journal"
)

// How the journal's before- and after-images are stored.
//
// An entry's images are hashed as canonical JSON (journal.Entry.Canonical)
// and read back as that JSON; how the bytes sit in the table is the store's
// business. On SQLite an image of packMin bytes or more is stored
// compressed, as a zstd frame in a BLOB: a prescription's image (every line
// with its dose derivation) is 40 to 130 KB of JSON that repeats itself, and
// OK-to-treat and validation write it twice per treatment day, which made
// two thirds of a ten-year database (docs/scale.md). A zstd frame starts with
// the bytes 28 B5 2F FD, which no JSON text starts with, so an image stored
// as text (small ones, every image written before this, and rows a test or
// an inspector wrote by hand) reads back as it is. PostgreSQL compresses
// long text itself (TOAST), and its journal columns are text: its images are
// stored as text.
//
// Compressed images are smaller on disk, in the write-ahead log and in the
// page cache; reading one back costs a decompression (several GB/s), far less
// than reading the pages of the uncompressed text.

const packMin = 512

var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

// packer and unpacker are safe for concurrent use (EncodeAll, DecodeAll).
var packer, unpacker = newZstd()

func newZstd() (*zstd.Encoder, *zstd.Decoder) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithWindowSize(1<<20), zstd.WithLowerEncoderMem(true))
	if err != nil {
		panic("sqlstore: zstd encoder: " + err.Error())
	}
	// An image is at most a few hundred KB: a frame that claims more than
	// 64 MiB is not one of ours.
	dec, err := zstd.NewReader(nil, zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxMemory(64<<20))
	if err != nil {
		panic("sqlstore: zstd decoder: " + err.Error())
	}
	return enc, dec
}

// storedImage is what the journal's before or after column holds for doc.
func (db *DB) storedImage(doc json.RawMessage) any {
	if db.Engine != SQLite || len(doc) < packMin {
		return string(doc)
	}
	return packer.EncodeAll(doc, make([]byte, 0, len(doc)/8))
}

// loadImage returns the JSON of an image as read from the journal's before
// or after column (a column named what, for the error).
func loadImage(what string, stored []byte) (json.RawMessage, error) {
	if !bytes.HasPrefix(stored, zstdMagic) {
		return json.RawMessage(stored), nil
	}
	doc, err := unpacker.DecodeAll(stored, nil)
	if err != nil {
		return nil, fmt.Errorf("journal %s image: compressed, and cannot be decompressed: %w", what, err)
	}
	return json.RawMessage(doc), nil
}

// imageError is scanEntry's error for an image that cannot be decompressed:
// the entry is still returned, with the stored bytes as its images.
type imageError struct {
	seq int64
	err error
}

func (e *imageError) Error() string { return fmt.Sprintf("entry %d: %v", e.seq, e.err) }

// entryColumns are the journal's columns in scanEntry's order.
const entryColumns = "site, seq, id, time, user_id, username, role, action, entity, entity_id, before, after, prev, hash"

// scanEntry reads one row of entryColumns, its images back as JSON. When an
// image cannot be decompressed it returns the entry with the stored bytes
// and an *imageError.
func scanEntry(rows interface{ Scan(...any) error }) (journal.Entry, error) {
	var e journal.Entry
	var before, after []byte
	if err := rows.Scan(&e.Site, &e.Seq, &e.ID, ScanTime(&e.Time), &e.UserID, &e.Username, &e.Role,
		&e.Action, &e.Entity, &e.EntityID, &before, &after, &e.Prev, &e.Hash); err != nil {
		return e, err
	}
	b, a, err := loadImages(before, after)
	if err != nil {
		e.Before, e.After = before, after
		return e, &imageError{e.Seq, err}
	}
	e.Before, e.After = b, a
	return e, nil
}

// loadImages reads an entry's before and after columns back as JSON.
func loadImages(before, after []byte) (json.RawMessage, json.RawMessage, error) {
	b, err := loadImage("before", before)
	if err != nil {
		return nil, nil, err
	}
	a, err := loadImage("after", after)
	return b, a, err
}
