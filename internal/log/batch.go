package log

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"

	"github.com/samsa-streaming/samsa/internal/compress"
)

// Record batch v2 layout (all integers big-endian). The CRC covers the bytes
// from Attributes to the end of the batch; BaseOffset, BatchLength and
// PartitionLeaderEpoch are outside it, so the broker can stamp offsets and the
// leader epoch without recomputing it.
const (
	posBaseOffset      = 0
	posBatchLength     = 8
	posLeaderEpoch     = 12
	posMagic           = 16
	posCRC             = 17
	posAttributes      = 21
	posLastOffsetDelta = 23
	posBaseTimestamp   = 27
	posMaxTimestamp    = 35
	posProducerID      = 43
	posProducerEpoch   = 51
	posBaseSequence    = 53
	posNumRecords      = 57

	// BatchHeaderSize is the size of a record batch v2 header: the bytes
	// before the first record.
	BatchHeaderSize = 61
	// batchLogOverhead is the part of the header not counted by BatchLength.
	batchLogOverhead = 12
	// minBatchLength is the smallest valid BatchLength (a batch with no records).
	minBatchLength = BatchHeaderSize - batchLogOverhead
	// headerPrefix is how much of a header Read needs to walk batches
	// (everything up to and including LastOffsetDelta).
	headerPrefix = posBaseTimestamp

	attrCompressionMask = 0x07
	attrTimestampType   = 0x08
	attrTransactional   = 0x10
	attrControl         = 0x20

	magicV2 = 2
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Compression is the codec of a batch's records (attributes bits 0-2).
type Compression int8

// The codecs Kafka defines.
const (
	CompressionNone   Compression = 0
	CompressionGzip   Compression = 1
	CompressionSnappy Compression = 2
	CompressionLZ4    Compression = 3
	CompressionZstd   Compression = 4
)

// String returns Kafka's name for the codec.
func (c Compression) String() string {
	switch c {
	case CompressionNone:
		return "none"
	case CompressionGzip:
		return "gzip"
	case CompressionSnappy:
		return "snappy"
	case CompressionLZ4:
		return "lz4"
	case CompressionZstd:
		return "zstd"
	}
	return fmt.Sprintf("unknown(%d)", int8(c))
}

// TimestampType says what a batch's timestamps mean (attributes bit 3).
type TimestampType int8

// The two timestamp types.
const (
	CreateTime    TimestampType = 0
	LogAppendTime TimestampType = 1
)

// BatchHeader is the fixed header of a record batch v2.
type BatchHeader struct {
	BaseOffset           int64
	BatchLength          int32 // bytes after the BatchLength field
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	BaseTimestamp        int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	NumRecords           int32
}

// Compression returns the batch's codec.
func (h BatchHeader) Compression() Compression {
	return Compression(h.Attributes & attrCompressionMask)
}

// IsTransactional reports whether the batch belongs to a transaction.
func (h BatchHeader) IsTransactional() bool { return h.Attributes&attrTransactional != 0 }

// IsControl reports whether the batch holds control records (transaction markers).
func (h BatchHeader) IsControl() bool { return h.Attributes&attrControl != 0 }

// TimestampType returns CreateTime or LogAppendTime.
func (h BatchHeader) TimestampType() TimestampType {
	if h.Attributes&attrTimestampType != 0 {
		return LogAppendTime
	}
	return CreateTime
}

// LastOffset is the offset of the batch's last record.
func (h BatchHeader) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// Size is the batch's total size in bytes, header included.
func (h BatchHeader) Size() int64 { return batchLogOverhead + int64(h.BatchLength) }

// ParseBatchHeader decodes the header at the start of b. It needs at least
// BatchHeaderSize bytes and checks the magic byte and that BatchLength is
// not smaller than an empty batch; it does not look at the records or the
// CRC (see ValidateBatch). Errors wrap ErrCorruptBatch.
func ParseBatchHeader(b []byte) (BatchHeader, error) {
	if len(b) < BatchHeaderSize {
		return BatchHeader{}, fmt.Errorf("%w: %d bytes, a header needs %d", ErrCorruptBatch, len(b), BatchHeaderSize)
	}
	h := BatchHeader{
		BaseOffset:           int64(binary.BigEndian.Uint64(b[posBaseOffset:])),
		BatchLength:          int32(binary.BigEndian.Uint32(b[posBatchLength:])),
		PartitionLeaderEpoch: int32(binary.BigEndian.Uint32(b[posLeaderEpoch:])),
		Magic:                int8(b[posMagic]),
		CRC:                  binary.BigEndian.Uint32(b[posCRC:]),
		Attributes:           int16(binary.BigEndian.Uint16(b[posAttributes:])),
		LastOffsetDelta:      int32(binary.BigEndian.Uint32(b[posLastOffsetDelta:])),
		BaseTimestamp:        int64(binary.BigEndian.Uint64(b[posBaseTimestamp:])),
		MaxTimestamp:         int64(binary.BigEndian.Uint64(b[posMaxTimestamp:])),
		ProducerID:           int64(binary.BigEndian.Uint64(b[posProducerID:])),
		ProducerEpoch:        int16(binary.BigEndian.Uint16(b[posProducerEpoch:])),
		BaseSequence:         int32(binary.BigEndian.Uint32(b[posBaseSequence:])),
		NumRecords:           int32(binary.BigEndian.Uint32(b[posNumRecords:])),
	}
	if h.Magic != magicV2 {
		return h, fmt.Errorf("%w: magic %d, only 2 is supported", ErrCorruptBatch, h.Magic)
	}
	if h.BatchLength < minBatchLength {
		return h, fmt.Errorf("%w: batch length %d < %d", ErrCorruptBatch, h.BatchLength, minBatchLength)
	}
	return h, nil
}

// ValidateBatch checks that b is exactly one well-formed record batch v2 as
// a producer sends it: header (ParseBatchHeader), BatchLength matching
// len(b), a known codec, CRC-32C over attributes..end, a record count of at
// least one that agrees with LastOffsetDelta (count == LastOffsetDelta+1) and
// offsets that cannot overflow. Errors wrap ErrCorruptBatch.
func ValidateBatch(b []byte) (BatchHeader, error) {
	h, err := ParseBatchHeader(b)
	if err != nil {
		return h, err
	}
	if h.Size() != int64(len(b)) {
		return h, fmt.Errorf("%w: batch length field says %d bytes, got %d", ErrCorruptBatch, h.Size(), len(b))
	}
	if h.Compression() > CompressionZstd {
		return h, fmt.Errorf("%w: unknown compression codec %d", ErrCorruptBatch, h.Compression())
	}
	if h.LastOffsetDelta < 0 || h.NumRecords <= 0 || int64(h.NumRecords) != int64(h.LastOffsetDelta)+1 {
		return h, fmt.Errorf("%w: %d records but last offset delta %d", ErrCorruptBatch, h.NumRecords, h.LastOffsetDelta)
	}
	if got := crc32.Checksum(b[posAttributes:], castagnoli); got != h.CRC {
		return h, fmt.Errorf("%w: crc %08x, computed %08x", ErrCorruptBatch, h.CRC, got)
	}
	return h, nil
}

// checkStoredHeader applies the checks that hold for every batch in a log
// (as opposed to a fresh producer batch): offsets in range and a record
// count that does not exceed the offset span (compaction may leave fewer
// records than offsets, but never more).
func checkStoredHeader(h BatchHeader) string {
	switch {
	case h.BaseOffset < 0:
		return fmt.Sprintf("negative base offset %d", h.BaseOffset)
	case h.LastOffsetDelta < 0:
		return fmt.Sprintf("negative last offset delta %d", h.LastOffsetDelta)
	case h.BaseOffset > math.MaxInt64-int64(h.LastOffsetDelta)-1:
		return fmt.Sprintf("base offset %d + delta %d overflows", h.BaseOffset, h.LastOffsetDelta)
	case h.NumRecords < 0 || int64(h.NumRecords) > int64(h.LastOffsetDelta)+1:
		return fmt.Sprintf("%d records but last offset delta %d", h.NumRecords, h.LastOffsetDelta)
	}
	return ""
}

// batchCRC computes the CRC-32C a batch should carry.
func batchCRC(b []byte) uint32 { return crc32.Checksum(b[posAttributes:], castagnoli) }

// stampOffsetEpoch writes the base offset and partition leader epoch into a
// batch; both fields are outside the CRC.
func stampOffsetEpoch(b []byte, base int64, epoch int32) {
	binary.BigEndian.PutUint64(b[posBaseOffset:], uint64(base))
	binary.BigEndian.PutUint32(b[posLeaderEpoch:], uint32(epoch))
}

// stampLogAppendTime sets the timestamp type to LogAppendTime and the max
// timestamp to ts, and recomputes the CRC.
func stampLogAppendTime(b []byte, ts int64) {
	attrs := binary.BigEndian.Uint16(b[posAttributes:]) | attrTimestampType
	binary.BigEndian.PutUint16(b[posAttributes:], attrs)
	binary.BigEndian.PutUint64(b[posMaxTimestamp:], uint64(ts))
	binary.BigEndian.PutUint32(b[posCRC:], batchCRC(b))
}

// scanRecordTimestamps walks the uncompressed records of a whole batch b and
// calls fn with each record's offset delta and timestamp until fn returns
// false. It bounds every length by the bytes that remain.
// maxDecompressedRecords bounds the records section of a compressed batch
// when it is decompressed to look at its records' timestamps.
const maxDecompressedRecords = 256 << 20

func scanRecordTimestamps(b []byte, h BatchHeader, fn func(offsetDelta int32, ts int64) bool) error {
	rest := b[BatchHeaderSize:]
	if c := h.Compression(); c != CompressionNone {
		raw, err := compress.Decompress(compress.Codec(c), nil, rest, maxDecompressedRecords)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrCorruptBatch, err)
		}
		rest = raw
	}
	for i := int32(0); i < h.NumRecords; i++ {
		length, n := binary.Varint(rest)
		if n <= 0 || length < 0 || length > int64(len(rest)-n) {
			return fmt.Errorf("%w: record %d: bad length", ErrCorruptBatch, i)
		}
		rec := rest[n : n+int(length)]
		rest = rest[n+int(length):]
		if len(rec) < 1 {
			return fmt.Errorf("%w: record %d: empty", ErrCorruptBatch, i)
		}
		tsDelta, n1 := binary.Varint(rec[1:])
		if n1 <= 0 {
			return fmt.Errorf("%w: record %d: bad timestamp delta", ErrCorruptBatch, i)
		}
		offDelta, n2 := binary.Varint(rec[1+n1:])
		if n2 <= 0 || offDelta < 0 || offDelta > int64(h.LastOffsetDelta) {
			return fmt.Errorf("%w: record %d: bad offset delta", ErrCorruptBatch, i)
		}
		if !fn(int32(offDelta), h.BaseTimestamp+tsDelta) {
			return nil
		}
	}
	return nil
}
