package partition

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
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

// maxDecompressedBatch bounds a produced batch's records once decompressed:
// beyond it the batch is refused (a decompression bomb costs CPU up to this
// many bytes, and memory only for a small read buffer).
const maxDecompressedBatch = 256 << 20

var streamBufs = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 32<<10) }}

func validateRecords(batch []byte, h samsalog.BatchHeader) error {
	recs := batch[samsalog.BatchHeaderSize:]
	if c := compress.Codec(h.Compression()); c != compress.None {
		return validateCompressedRecords(c, recs, h.NumRecords)
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

// validateCompressedRecords walks the records while decompressing them, so
// that memory stays at one small buffer whatever the batch inflates to.
func validateCompressedRecords(c compress.Codec, src []byte, count int32) error {
	r, release, err := compress.NewReader(c, src, maxDecompressedBatch)
	if err != nil {
		return fmt.Errorf("%w: %v", kerr.CorruptMessage, err)
	}
	defer release()
	br := streamBufs.Get().(*bufio.Reader)
	br.Reset(r)
	defer func() { br.Reset(nil); streamBufs.Put(br) }()
	w := &recordStream{r: br, left: maxDecompressedBatch}
	for i := int32(0); i < count; i++ {
		if err := w.record(i); err != nil {
			return err
		}
	}
	if _, err := br.ReadByte(); err != io.EOF {
		if err == nil {
			return fmt.Errorf("%w: data after the last of %d records", kerr.CorruptMessage, count)
		}
		return fmt.Errorf("%w: %v", kerr.CorruptMessage, err)
	}
	return nil
}

// recordStream reads records from a decompressing reader, counting bytes
// against left.
type recordStream struct {
	r    *bufio.Reader
	left int64
	used int64 // bytes of the current record consumed
}

func (s *recordStream) varint() (int64, error) {
	var ux uint64
	for shift := uint(0); shift < 64; shift += 7 {
		c, err := s.r.ReadByte()
		if err != nil {
			return 0, err
		}
		s.used++
		s.left--
		ux |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return int64(ux>>1) ^ -int64(ux&1), nil // zig-zag
		}
	}
	return 0, fmt.Errorf("varint overflows 64 bits")
}

func (s *recordStream) skip(n int64) error {
	if n > s.left {
		return compress.ErrTooLarge
	}
	d, err := s.r.Discard(int(n))
	s.used += int64(d)
	s.left -= int64(d)
	return err
}

func (s *recordStream) field(nullable bool) error {
	l, err := s.varint()
	switch {
	case err != nil:
		return err
	case l == -1 && nullable:
		return nil
	case l < 0:
		return fmt.Errorf("negative length %d", l)
	}
	return s.skip(l)
}

// record validates one record: its length, then its fields, which must
// fill the length exactly.
func (s *recordStream) record(i int32) error {
	corrupt := func(err error) error { return fmt.Errorf("%w: record %d: %v", kerr.CorruptMessage, i, err) }
	length, err := s.varint()
	if err != nil || length <= 0 || length > s.left {
		return corrupt(fmt.Errorf("bad length %d (%v)", length, err))
	}
	s.used = 0
	if err := s.skip(1); err != nil { // attributes
		return corrupt(err)
	}
	if _, err := s.varint(); err != nil { // timestamp delta
		return corrupt(err)
	}
	off, err := s.varint()
	if err != nil {
		return corrupt(err)
	}
	if off != int64(i) {
		return fmt.Errorf("%w: record %d has offset delta %d", kerr.InvalidRecord, i, off)
	}
	if err := s.field(true); err != nil { // key
		return corrupt(err)
	}
	if err := s.field(true); err != nil { // value
		return corrupt(err)
	}
	headers, err := s.varint()
	if err != nil || headers < 0 || headers > length {
		return corrupt(fmt.Errorf("bad header count %d", headers))
	}
	for j := int64(0); j < headers; j++ {
		if err := s.field(false); err != nil {
			return corrupt(err)
		}
		if err := s.field(true); err != nil {
			return corrupt(err)
		}
	}
	if s.used != length {
		return corrupt(fmt.Errorf("fields take %d bytes, length says %d", s.used, length))
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
