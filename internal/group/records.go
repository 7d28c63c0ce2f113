package group

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/compress"
	samsalog "github.com/samsa-streaming/samsa/internal/log"
)

// Record is one record of __consumer_offsets: Kafka's key and value
// encodings (kmsg.OffsetCommitKey/OffsetCommitValue,
// kmsg.GroupMetadataKey/GroupMetadataValue). A nil Value is a tombstone.
type Record struct {
	Key, Value []byte
}

// Key and value versions written, as Kafka 3.x writes them: offset keys v1,
// offset values v3 (v1 when the commit carries an explicit expiry, OffsetCommit
// v1-v4), group keys v2, group values v3 (KIP-345 instance ids).
const (
	offsetKeyVersion           = 1
	offsetValueVersion         = 3
	offsetValueVersionExpiry   = 1
	groupKeyVersion            = 2
	groupValueVersion          = 3
	maxOffsetKeyVersion        = 1
	maxGroupMetadataKeyVersion = 2
)

// OffsetCommit is a committed offset of one partition.
type OffsetCommit struct {
	Offset      int64
	LeaderEpoch int32 // -1: unknown
	Metadata    string
	// CommitTimestamp is when the commit was made (Unix ms).
	CommitTimestamp int64
	// ExpireTimestamp is an explicit expiry (OffsetCommit v1-v4 retention
	// time, Unix ms); -1 when the offset expires with the group (KIP-211).
	ExpireTimestamp int64
}

// offsetCommitRecord encodes a committed offset.
func offsetCommitRecord(group, topic string, partition int32, oc OffsetCommit) Record {
	k := kmsg.NewOffsetCommitKey()
	k.Version, k.Group, k.Topic, k.Partition = offsetKeyVersion, group, topic, partition
	v := kmsg.NewOffsetCommitValue()
	v.Version = offsetValueVersion
	if oc.ExpireTimestamp >= 0 {
		v.Version = offsetValueVersionExpiry
		v.ExpireTimestamp = oc.ExpireTimestamp
	}
	v.Offset, v.LeaderEpoch, v.Metadata, v.CommitTimestamp = oc.Offset, oc.LeaderEpoch, oc.Metadata, oc.CommitTimestamp
	return Record{Key: k.AppendTo(nil), Value: v.AppendTo(nil)}
}

// offsetTombstone deletes a committed offset.
func offsetTombstone(group, topic string, partition int32) Record {
	k := kmsg.NewOffsetCommitKey()
	k.Version, k.Group, k.Topic, k.Partition = offsetKeyVersion, group, topic, partition
	return Record{Key: k.AppendTo(nil)}
}

// groupMetadataRecord encodes a group's metadata.
func groupMetadataRecord(group string, v *kmsg.GroupMetadataValue) Record {
	k := kmsg.NewGroupMetadataKey()
	k.Version, k.Group = groupKeyVersion, group
	v.Version = groupValueVersion
	return Record{Key: k.AppendTo(nil), Value: v.AppendTo(nil)}
}

// groupTombstone deletes a group's metadata.
func groupTombstone(group string) Record {
	k := kmsg.NewGroupMetadataKey()
	k.Version, k.Group = groupKeyVersion, group
	return Record{Key: k.AppendTo(nil)}
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Positions in a record batch v2 header.
const (
	posCRC        = 17
	posAttributes = 21
)

// EncodeBatch builds one uncompressed record batch v2 (no producer id, base
// offset 0: the log assigns offsets) holding recs, stamped with timestamp
// (Unix ms), encoded with kmsg's RecordBatch and Record.
func EncodeBatch(recs []Record, timestamp int64) []byte {
	var body, scratch []byte
	for i, r := range recs {
		rec := kmsg.Record{OffsetDelta: int32(i), Key: r.Key, Value: r.Value}
		// Encoded with Length 0 (one varint byte), then prefixed with
		// the real length of what follows it.
		scratch = rec.AppendTo(scratch[:0])
		body = binary.AppendVarint(body, int64(len(scratch)-1))
		body = append(body, scratch[1:]...)
	}
	b := kmsg.NewRecordBatch()
	b.Magic = 2
	b.PartitionLeaderEpoch = -1
	b.LastOffsetDelta = int32(len(recs) - 1)
	b.FirstTimestamp, b.MaxTimestamp = timestamp, timestamp
	b.ProducerID, b.ProducerEpoch, b.FirstSequence = -1, -1, -1
	b.NumRecords = int32(len(recs))
	b.Records = body
	b.Length = int32(samsalog.BatchHeaderSize - 12 + len(body))
	out := b.AppendTo(make([]byte, 0, samsalog.BatchHeaderSize+len(body)))
	binary.BigEndian.PutUint32(out[posCRC:], crc32.Checksum(out[posAttributes:], castagnoli))
	return out
}

// errBadRecord marks a record of __consumer_offsets that cannot be decoded.
var errBadRecord = errors.New("group: malformed __consumer_offsets record")

// maxDecompressedBatch bounds a decompressed batch of __consumer_offsets.
const maxDecompressedBatch = 64 << 20

// forEachRecord calls fn with the key and value (nil for a tombstone) of
// every record of one stored batch, decompressing it into *scratch when
// needed. Control batches are skipped. key and value are only valid during
// fn.
func forEachRecord(batch []byte, scratch *[]byte, fn func(key, value []byte) error) error {
	h, err := samsalog.ParseBatchHeader(batch)
	if err != nil {
		return fmt.Errorf("%w: %v", errBadRecord, err)
	}
	if h.IsControl() {
		return nil
	}
	if int64(len(batch)) < h.Size() {
		return fmt.Errorf("%w: batch of %d bytes, header says %d", errBadRecord, len(batch), h.Size())
	}
	recs := batch[samsalog.BatchHeaderSize:h.Size()]
	if c := compress.Codec(h.Compression()); c != compress.None {
		out, err := compress.Decompress(c, (*scratch)[:0], recs, maxDecompressedBatch)
		if err != nil {
			return fmt.Errorf("%w: %v", errBadRecord, err)
		}
		*scratch, recs = out, out
	}
	for n := int32(0); n < h.NumRecords && len(recs) > 0; n++ {
		length, sz := binary.Varint(recs)
		if sz <= 0 || length < 0 || length > int64(len(recs)-sz) {
			return fmt.Errorf("%w: record length", errBadRecord)
		}
		var rec kmsg.Record
		if err := rec.UnsafeReadFrom(recs[:sz+int(length)]); err != nil {
			return fmt.Errorf("%w: %v", errBadRecord, err)
		}
		recs = recs[sz+int(length):]
		if err := fn(rec.Key, rec.Value); err != nil {
			return err
		}
	}
	return nil
}

// recordKind tells what a __consumer_offsets key is, from its version.
type recordKind int8

const (
	kindUnknown recordKind = iota
	kindOffset
	kindGroup
)

// kindOf classifies a key: versions 0-1 are offset commits, 2 group
// metadata; later versions (KIP-848 and transaction records) are not read.
func kindOf(key []byte) recordKind {
	if len(key) < 2 {
		return kindUnknown
	}
	switch v := int16(binary.BigEndian.Uint16(key)); {
	case v >= 0 && v <= maxOffsetKeyVersion:
		return kindOffset
	case v == maxGroupMetadataKeyVersion:
		return kindGroup
	}
	return kindUnknown
}
