// Package batchtest builds Kafka record batches v2 for tests: encoded with
// franz-go's kmsg, with a correct length and CRC-32C, optionally compressed
// and stamped with idempotent-producer fields.
package batchtest

import (
	"encoding/binary"
	"hash/crc32"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/compress"
)

// Record is one record of a test batch.
type Record struct {
	Key, Value []byte
	Headers    map[string]string
	// TimestampDelta is added to the batch's base timestamp.
	TimestampDelta int64
}

// Batch describes a batch to build.
type Batch struct {
	Records       []Record
	BaseTimestamp int64
	Codec         compress.Codec
	ProducerID    int64 // -1 for a plain producer (the default when zero-valued via New)
	ProducerEpoch int16
	BaseSequence  int32
}

// New returns a plain (non-idempotent) batch description of n records with
// values "v0".."v{n-1}".
func New(n int, baseTimestamp int64) Batch {
	b := Batch{BaseTimestamp: baseTimestamp, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}
	for i := 0; i < n; i++ {
		b.Records = append(b.Records, Record{Value: []byte("v" + itoa(i)), TimestampDelta: int64(i)})
	}
	return b
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Encode returns the batch's wire bytes (base offset 0).
func (b Batch) Encode() []byte {
	var recs []byte
	maxTs := b.BaseTimestamp
	for i, r := range b.Records {
		rec := kmsg.Record{OffsetDelta: int32(i), TimestampDelta64: r.TimestampDelta, Key: r.Key, Value: r.Value}
		for k, v := range r.Headers {
			rec.Headers = append(rec.Headers, kmsg.Header{Key: k, Value: []byte(v)})
		}
		body := rec.AppendTo(nil)
		// AppendTo wrote Length=0 as a one-byte varint; re-encode with the real length.
		rec.Length = int32(len(body) - 1)
		recs = rec.AppendTo(recs)
		if ts := b.BaseTimestamp + r.TimestampDelta; ts > maxTs {
			maxTs = ts
		}
	}
	if b.Codec != compress.None {
		c, err := compress.Compress(b.Codec, nil, recs)
		if err != nil {
			panic(err)
		}
		recs = c
	}
	rb := kmsg.RecordBatch{
		Magic: 2, Attributes: int16(b.Codec), LastOffsetDelta: int32(len(b.Records) - 1),
		FirstTimestamp: b.BaseTimestamp, MaxTimestamp: maxTs,
		ProducerID: b.ProducerID, ProducerEpoch: b.ProducerEpoch, FirstSequence: b.BaseSequence,
		NumRecords: int32(len(b.Records)), Records: recs,
	}
	out := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(out[8:], uint32(len(out)-12))
	binary.BigEndian.PutUint32(out[17:], crc32.Checksum(out[21:], castagnoli))
	return out
}

// Idempotent returns b stamped as a batch of producer id/epoch starting at seq.
func (b Batch) Idempotent(id int64, epoch int16, seq int32) Batch {
	b.ProducerID, b.ProducerEpoch, b.BaseSequence = id, epoch, seq
	return b
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var buf [20]byte
	n := len(buf)
	for i > 0 {
		n--
		buf[n] = byte('0' + i%10)
		i /= 10
	}
	return string(buf[n:])
}
