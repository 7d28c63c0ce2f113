package integration

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"io"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/compress"
	"github.com/samsa-streaming/samsa/internal/testutil/batchtest"
)

// createTopicsRaw sends CreateTopics v7 for one topic and returns its error
// code.
func createTopicsRaw(t *testing.T, c *rawConn, name string, partitions int32, replication int16) int16 {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version = 7
	req.TimeoutMillis = 10_000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, replication
	req.Topics = append(req.Topics, rt)
	resp := c.mustRequest(req).(*kmsg.CreateTopicsResponse)
	if len(resp.Topics) != 1 {
		t.Fatalf("CreateTopics answered %d topics, want 1", len(resp.Topics))
	}
	return resp.Topics[0].ErrorCode
}

// TestBadAdminRequests sends invalid topic names, partition counts and
// replication factors and expects Kafka's error codes, with valid controls
// next to them; the bystander keeps being served and the heap stays small
// (a huge partition count must not be allocated).
func TestBadAdminRequests(t *testing.T) {
	e := newHostileEnv(t)
	c := dialRaw(t, e.addr)
	invalidTopic, invalidPartitions, invalidReplication := kerr.InvalidTopicException.Code, kerr.InvalidPartitions.Code, kerr.InvalidReplicationFactor.Code
	if code := createTopicsRaw(t, c, "collide.x", 1, 1); code != 0 {
		t.Fatalf("create collide.x: %s", codeName(code))
	}
	tests := []struct {
		name        string
		topic       string
		partitions  int32
		replication int16
		want        int16
	}{
		{"empty name", "", 1, 1, invalidTopic},
		{"name .", ".", 1, 1, invalidTopic},
		{"name ..", "..", 1, 1, invalidTopic},
		{"slash", "a/b", 1, 1, invalidTopic},
		{"space", "has space", 1, 1, invalidTopic},
		{"NUL byte", "nul\x00byte", 1, 1, invalidTopic},
		{"non-ASCII", "topic-é", 1, 1, invalidTopic},
		{"250 characters", strings.Repeat("x", 250), 1, 1, invalidTopic},
		{"collides with collide.x", "collide_x", 1, 1, invalidTopic},
		{"249 characters (valid)", strings.Repeat("y", 249), 1, 1, 0},
		{"zero partitions", "parts-zero", 0, 1, invalidPartitions},
		{"negative partitions", "parts-negative", -5, 1, invalidPartitions},
		{"minimum int32 partitions", "parts-min", math.MinInt32, 1, invalidPartitions},
		{"a billion partitions", "parts-billion", billion, 1, invalidPartitions},
		{"maximum int32 partitions", "parts-max", math.MaxInt32, 1, invalidPartitions},
		{"default partitions and replication (valid)", "parts-default", -1, -1, 0},
		{"zero replication factor", "rf-zero", 1, 0, invalidReplication},
		{"negative replication factor", "rf-negative", 1, -5, invalidReplication},
		{"replication factor above the brokers", "rf-two", 1, 2, invalidReplication},
		{"maximum replication factor", "rf-max", 1, math.MaxInt16, invalidReplication},
	}
	for _, tc := range tests {
		before := totalAlloc()
		if code := createTopicsRaw(t, c, tc.topic, tc.partitions, tc.replication); code != tc.want {
			t.Errorf("%s: CreateTopics answered %s, want %s", tc.name, codeName(code), codeName(tc.want))
		}
		if grew := totalAlloc() - before; grew > 32<<20 {
			t.Errorf("%s: the process allocated %d MiB", tc.name, grew>>20)
		}
	}
	e.checkServed(t)

	// Metadata with auto-creation of an invalid name.
	mreq := kmsg.NewPtrMetadataRequest()
	mreq.Version = 9
	mreq.AllowAutoTopicCreation = true
	for _, name := range []string{"a/b", strings.Repeat("z", 250)} {
		mt := kmsg.NewMetadataRequestTopic()
		mt.Topic = kmsg.StringPtr(name)
		mreq.Topics = append(mreq.Topics, mt)
	}
	mresp := c.mustRequest(mreq).(*kmsg.MetadataResponse)
	for _, mt := range mresp.Topics {
		if mt.ErrorCode != invalidTopic {
			t.Errorf("Metadata auto-creating %q: %s, want INVALID_TOPIC_EXCEPTION", *mt.Topic, codeName(mt.ErrorCode))
		}
	}

	// CreatePartitions.
	if code := createTopicsRaw(t, c, "grow", 2, 1); code != 0 {
		t.Fatalf("create grow: %s", codeName(code))
	}
	for _, tc := range []struct {
		name  string
		count int32
		want  int16
	}{
		{"fewer partitions", 1, invalidPartitions},
		{"the same count", 2, invalidPartitions},
		{"negative count", -3, invalidPartitions},
		{"a billion partitions", billion, invalidPartitions},
		{"maximum int32", math.MaxInt32, invalidPartitions},
		{"one more (valid)", 3, 0},
	} {
		req := kmsg.NewPtrCreatePartitionsRequest()
		req.Version = 3
		req.TimeoutMillis = 10_000
		rt := kmsg.NewCreatePartitionsRequestTopic()
		rt.Topic, rt.Count = "grow", tc.count
		req.Topics = append(req.Topics, rt)
		resp := c.mustRequest(req).(*kmsg.CreatePartitionsResponse)
		if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != tc.want {
			t.Errorf("CreatePartitions %s: %+v, want %s", tc.name, resp.Topics, codeName(tc.want))
		}
	}
	e.checkServed(t)
	e.checkHeap(t)
}

// fixCRC recomputes a batch's CRC-32C after a test changed it.
func fixCRC(b []byte) []byte {
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[crcStart:], castagnoli))
	return b
}

// bomb returns a batch compressed with codec (gzip or zstd) of n records
// of size zero bytes each: a small batch that inflates to n*size bytes.
func bomb(t *testing.T, codec compress.Codec, n, size int) []byte {
	t.Helper()
	var z bytes.Buffer
	var zw io.WriteCloser
	var err error
	switch codec {
	case compress.Gzip:
		zw, err = gzip.NewWriterLevel(&z, 2)
	case compress.Zstd:
		zw, err = zstd.NewWriter(&z, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	default:
		t.Fatalf("no bomb for codec %v", codec)
	}
	if err != nil {
		t.Fatal(err)
	}
	value := make([]byte, size)
	var body, rec []byte
	for i := range n {
		r := kmsg.Record{OffsetDelta: int32(i), Value: value}
		body = r.AppendTo(body[:0]) // with Length 0: one varint byte too many
		r.Length = int32(len(body) - 1)
		rec = r.AppendTo(rec[:0])
		if _, err := zw.Write(rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixMilli()
	rb := kmsg.RecordBatch{Magic: 2, Attributes: int16(codec), LastOffsetDelta: int32(n - 1),
		FirstTimestamp: now, MaxTimestamp: now, ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1,
		NumRecords: int32(n), Records: z.Bytes()}
	out := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(out[8:], uint32(len(out)-12))
	return fixCRC(out)
}

// TestBadBatches produces malformed record batches (with valid CRCs where
// the point is what is inside) and expects CORRUPT_MESSAGE or
// INVALID_RECORD, with nothing appended; a decompression bomb sent to a
// topic that recompresses is refused or stored within bounded memory.
func TestBadBatches(t *testing.T) {
	e := newHostileEnv(t)
	c := dialRaw(t, e.addr)
	const topic = "bad-batches"
	if code := createTopicsRaw(t, c, topic, 1, 1); code != 0 {
		t.Fatalf("create %s: %s", topic, codeName(code))
	}
	good := func() []byte {
		b := batchtest.New(3, time.Now().UnixMilli())
		return b.Encode()
	}
	mutate := func(f func(b []byte) []byte) []byte { return f(good()) }
	corrupt, invalid := kerr.CorruptMessage.Code, kerr.InvalidRecord.Code
	gz := batchtest.New(3, time.Now().UnixMilli())
	gz.Codec = compress.Gzip
	tests := []struct {
		name  string
		batch []byte
		want  []int16
	}{
		{"a billion records claimed", mutate(func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[23:], billion-1) // lastOffsetDelta
			binary.BigEndian.PutUint32(b[57:], billion)   // numRecords
			return fixCRC(b)
		}), []int16{corrupt, invalid}},
		{"record count above the records", mutate(func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[23:], 4)
			binary.BigEndian.PutUint32(b[57:], 5)
			return fixCRC(b)
		}), []int16{corrupt, invalid}},
		{"count disagrees with last offset delta", mutate(func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[57:], billion)
			return fixCRC(b)
		}), []int16{corrupt, invalid}},
		{"record length of a billion", mutate(func(b []byte) []byte {
			// Replace the first record's one-byte length varint.
			out := append(append(b[:61:61], binary.AppendVarint(nil, billion)...), b[61+1:]...)
			binary.BigEndian.PutUint32(out[8:], uint32(len(out)-12))
			return fixCRC(out)
		}), []int16{corrupt, invalid}},
		{"garbage records", mutate(func(b []byte) []byte {
			for i := 61; i < len(b); i++ {
				b[i] = 0xa5
			}
			return fixCRC(b)
		}), []int16{corrupt, invalid}},
		{"garbage gzip payload", func() []byte {
			b := gz.Encode()
			for i := 61 + 10; i < len(b); i++ { // keep the gzip header
				b[i] ^= 0x5a
			}
			return fixCRC(b)
		}(), []int16{corrupt, invalid}},
		{"bad CRC", mutate(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), []int16{corrupt}},
		{"batch length of a billion", mutate(func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[8:], billion)
			return b
		}), []int16{corrupt}},
		{"two batches", append(good(), good()...), []int16{invalid}},
		{"truncated batch", good()[:40], []int16{corrupt}},
	}
	for _, tc := range tests {
		leo := logEndOffset(t, c, topic, 0)
		before := totalAlloc()
		p, err := produceRaw(c, topic, 0, tc.batch)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !slices.Contains(tc.want, p.ErrorCode) {
			t.Errorf("%s: produce answered %s (base offset %d), want one of %v", tc.name, codeName(p.ErrorCode), p.BaseOffset, tc.want)
		}
		if got := logEndOffset(t, c, topic, 0); got != leo {
			t.Errorf("%s: log end offset moved from %d to %d", tc.name, leo, got)
		}
		if grew := totalAlloc() - before; grew > 32<<20 {
			t.Errorf("%s: the process allocated %d MiB", tc.name, grew>>20)
		}
	}
	e.checkServed(t)

	// Decompression bombs into a topic that recompresses to lz4 (the
	// broker then decompresses, bounded by 64 x max.message.bytes + 1 MiB).
	if code := createTopicsRaw(t, c, "recompress", 1, 1); code != 0 {
		t.Fatalf("create recompress: %s", codeName(code))
	}
	alter := kmsg.NewPtrIncrementalAlterConfigsRequest()
	ar := kmsg.NewIncrementalAlterConfigsRequestResource()
	ar.ResourceType, ar.ResourceName = kmsg.ConfigResourceTypeTopic, "recompress"
	ac := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	ac.Name, ac.Value = "compression.type", kmsg.StringPtr("lz4")
	ar.Configs = append(ar.Configs, ac)
	alter.Resources = append(alter.Resources, ar)
	if resp := c.mustRequest(alter).(*kmsg.IncrementalAlterConfigsResponse); resp.Resources[0].ErrorCode != 0 {
		t.Fatalf("set compression.type=lz4: %s", codeName(resp.Resources[0].ErrorCode))
	}
	const records, size = 2000, 128 << 10 // 250 MiB of zeros
	for _, codec := range []compress.Codec{compress.Gzip, compress.Zstd} {
		b := bomb(t, codec, records, size)
		before := totalAlloc()
		p, err := produceRaw(c, "recompress", 0, b)
		if err != nil {
			t.Fatalf("%v bomb: %v", codec, err)
		}
		grew := totalAlloc() - before
		t.Logf("%v bomb of %d KiB inflating to %d MiB: answered %s; the process allocated %d MiB",
			codec, len(b)>>10, records*size>>20, codeName(p.ErrorCode), grew>>20)
		if p.ErrorCode != 0 && p.ErrorCode != corrupt && p.ErrorCode != invalid && p.ErrorCode != kerr.MessageTooLarge.Code {
			t.Errorf("%v bomb: produce answered %s", codec, codeName(p.ErrorCode))
		}
		// The broker bounds decompression at 64 x max.message.bytes + 1 MiB
		// (65 MiB); a growing output buffer may allocate a few times that.
		if grew > 320<<20 {
			t.Errorf("%v bomb: a %d KiB request made the process allocate %d MiB", codec, len(b)>>10, grew>>20)
		}
		e.checkServed(t)
	}
	e.checkHeap(t)
}
