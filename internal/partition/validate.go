package partition

import (
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/compress"
	samsalog "github.com/samsa-streaming/samsa/internal/log"
)

// Record v2 layout inside a batch's records section (varints are zig-zag):
//
//	length varint | attributes int8 | timestampDelta varint | offsetDelta varint
//	| keyLength varint | key | valueLength varint | value
//	| headerCount varint | headerCount * (keyLength varint | key | valueLength varint | value)
//
// validateRecords walks every record of a producer's batch as Kafka's
// LogValidator does, so that a batch whose header is consistent but whose
// records are not (a count that does not match, lengths past the end,
// offset deltas out of order, garbage or a corrupt compressed payload) is
// refused instead of stored: consumers would otherwise meet it later.
// Compressed batches are decompressed into a pooled buffer, bounded by
// maxDecompressedBatch.

// maxDecompressedBatch bounds a produced batch's records once decompressed.
const maxDecompressedBatch = 256 << 20

var recordsBuf = sync.Pool{New: func() any { b := make([]byte, 0, 1<<20); return &b }}

func validateRecords(batch []byte, h samsalog.BatchHeader) error {
	recs := batch[samsalog.BatchHeaderSize:]
	if c := compress.Codec(h.Compression()); c != compress.None {
		bp := recordsBuf.Get().(*[]byte)
		raw, err := compress.Decompress(c, (*bp)[:0], recs, maxDecompressedBatch)
		if err != nil {
			recordsBuf.Put(bp)
			return fmt.Errorf("%w: %v", kerr.CorruptMessage, err)
		}
		defer func() {
			if cap(raw) <= 8<<20 {
				*bp = raw[:0]
			}
			recordsBuf.Put(bp)
		}()
		recs = raw
	}
	for i := int32(0); i < h.NumRecords; i++ {
		length, n := binary.Varint(recs)
		if n <= 0 || length <= 0 || length > int64(len(recs)-n) {
			return fmt.Errorf("%w: record %d: length out of range", kerr.CorruptMessage, i)
		}
		if err := validateRecord(recs[n:n+int(length)], i); err != nil {
			return err
		}
		recs = recs[n+int(length):]
	}
	if len(recs) != 0 {
		return fmt.Errorf("%w: %d bytes after the last of %d records", kerr.CorruptMessage, len(recs), h.NumRecords)
	}
	return nil
}

// validateRecord checks one record body (after its length).
func validateRecord(r []byte, index int32) error {
	corrupt := func(what string) error {
		return fmt.Errorf("%w: record %d: %s", kerr.CorruptMessage, index, what)
	}
	if len(r) < 1 {
		return corrupt("empty")
	}
	r = r[1:] // attributes (unused in v2)
	if _, n := binary.Varint(r); n <= 0 {
		return corrupt("bad timestamp delta")
	} else {
		r = r[n:]
	}
	off, n := binary.Varint(r)
	if n <= 0 {
		return corrupt("bad offset delta")
	}
	if off != int64(index) {
		return fmt.Errorf("%w: record %d has offset delta %d", kerr.InvalidRecord, index, off)
	}
	r = r[n:]
	var ok bool
	if r, ok = skipField(r, true); !ok {
		return corrupt("bad key")
	}
	if r, ok = skipField(r, true); !ok {
		return corrupt("bad value")
	}
	count, n := binary.Varint(r)
	if n <= 0 || count < 0 || count > int64(len(r)) {
		return corrupt("bad header count")
	}
	r = r[n:]
	for j := int64(0); j < count; j++ {
		if r, ok = skipField(r, false); !ok {
			return corrupt("bad header key")
		}
		if r, ok = skipField(r, true); !ok {
			return corrupt("bad header value")
		}
	}
	if len(r) != 0 {
		return corrupt("bytes after the headers")
	}
	return nil
}

// skipField skips a varint-length-prefixed field (-1 = null when allowed).
func skipField(r []byte, nullable bool) ([]byte, bool) {
	l, n := binary.Varint(r)
	switch {
	case n <= 0:
		return nil, false
	case l == -1 && nullable:
		return r[n:], true
	case l < 0 || l > int64(len(r)-n):
		return nil, false
	}
	return r[n+int(l):], true
}
