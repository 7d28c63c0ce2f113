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
	if c := compress.Codec(h.Compression()); c != compress.None {
		return validateCompressedRecords(c, batch[samsalog.BatchHeaderSize:], h.NumRecords)
	}
	cur := cursor{b: batch, i: samsalog.BatchHeaderSize}
	for i := int32(0); i < h.NumRecords; i++ {
		length, ok := cur.varint()
		if !ok || length <= 0 || length > int64(len(cur.b)-cur.i) {
			return fmt.Errorf("%w: record %d: length out of range", kerr.CorruptMessage, i)
		}
		end := cur.i + int(length)
		if err := validateRecord(cursor{b: cur.b[:end], i: cur.i}, i); err != nil {
			return err
		}
		cur.i = end
	}
	if rest := len(cur.b) - cur.i; rest != 0 {
		return fmt.Errorf("%w: %d bytes after the last of %d records", kerr.CorruptMessage, rest, h.NumRecords)
	}
	return nil
}

// cursor reads zig-zag varints and length-prefixed fields from b at i. It
// is the hot loop of produce validation (several varints per record), so
// the one- and two-byte varints every small record uses are decoded inline.
type cursor struct {
	b []byte
	i int
}

func (c *cursor) varint() (int64, bool) {
	b, i := c.b, c.i
	if i < len(b) {
		x := b[i]
		if x < 0x80 {
			c.i = i + 1
			return int64(x>>1) ^ -int64(x&1), true
		}
		if i+1 < len(b) && b[i+1] < 0x80 {
			ux := uint64(x&0x7f) | uint64(b[i+1])<<7
			c.i = i + 2
			return int64(ux>>1) ^ -int64(ux&1), true
		}
	}
	v, n := binary.Varint(b[i:])
	if n <= 0 {
		return 0, false
	}
	c.i = i + n
	return v, true
}

// field skips a length-prefixed field (-1 = null when nullable).
func (c *cursor) field(nullable bool) bool {
	l, ok := c.varint()
	switch {
	case !ok:
		return false
	case l == -1 && nullable:
		return true
	case l < 0 || l > int64(len(c.b)-c.i):
		return false
	}
	c.i += int(l)
	return true
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

// validateRecord checks one record body (after its length): c.b ends where
// the record does.
func validateRecord(c cursor, index int32) error {
	corrupt := func(what string) error {
		return fmt.Errorf("%w: record %d: %s", kerr.CorruptMessage, index, what)
	}
	if c.i >= len(c.b) {
		return corrupt("empty")
	}
	c.i++ // attributes (unused in v2)
	if _, ok := c.varint(); !ok {
		return corrupt("bad timestamp delta")
	}
	off, ok := c.varint()
	if !ok {
		return corrupt("bad offset delta")
	}
	if off != int64(index) {
		return fmt.Errorf("%w: record %d has offset delta %d", kerr.InvalidRecord, index, off)
	}
	if !c.field(true) {
		return corrupt("bad key")
	}
	if !c.field(true) {
		return corrupt("bad value")
	}
	count, ok := c.varint()
	if !ok || count < 0 || count > int64(len(c.b)-c.i) {
		return corrupt("bad header count")
	}
	for j := int64(0); j < count; j++ {
		if !c.field(false) {
			return corrupt("bad header key")
		}
		if !c.field(true) {
			return corrupt("bad header value")
		}
	}
	if c.i != len(c.b) {
		return corrupt("bytes after the headers")
	}
	return nil
}
