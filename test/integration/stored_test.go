package integration

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// storedBatch is one record batch as the broker stored it, read back with a
// raw FetchRequest.
type storedBatch struct {
	partition       int32
	baseOffset      int64
	lastOffsetDelta int32
	codec           int8 // attributes & 7
	records         int32
	crcOK           bool
	producerID      int64
	baseSequence    int32
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

const (
	// rawFetchMaxBytes is the response and partition limit of raw fetches.
	rawFetchMaxBytes = 16 << 20
	// maxRawFetches bounds the fetch loop of one partition; every round
	// moves forward by at least one batch.
	maxRawFetches = 20_000
	// crcStart is where the CRC-32C'd part of a batch starts (after base
	// offset, length, partition leader epoch, magic and the CRC itself).
	crcStart = 21
)

// codecNames names the codec bits of a batch's attributes.
var codecNames = []string{"none", "gzip", "snappy", "lz4", "zstd"}

// fetchPartition sends one raw Fetch v11 (topic by name, no session) for a
// partition at offset and returns the partition's answer.
func fetchPartition(c *rawConn, topic string, partition int32, offset int64, maxWaitMillis int32) (kmsg.FetchResponseTopicPartition, error) {
	req := kmsg.NewPtrFetchRequest()
	req.Version = 11
	req.ReplicaID = -1
	req.MaxWaitMillis = maxWaitMillis
	req.MinBytes = 1
	req.MaxBytes = rawFetchMaxBytes
	req.SessionEpoch = -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition = partition
	rp.FetchOffset = offset
	rp.PartitionMaxBytes = rawFetchMaxBytes
	rp.CurrentLeaderEpoch = -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := c.request(req)
	if err != nil {
		return kmsg.FetchResponseTopicPartition{}, err
	}
	fr := resp.(*kmsg.FetchResponse)
	if err := kerr.ErrorForCode(fr.ErrorCode); err != nil {
		return kmsg.FetchResponseTopicPartition{}, err
	}
	if len(fr.Topics) != 1 || len(fr.Topics[0].Partitions) != 1 {
		return kmsg.FetchResponseTopicPartition{}, fmt.Errorf("fetch answered %d topics, want 1 with 1 partition", len(fr.Topics))
	}
	return fr.Topics[0].Partitions[0], nil
}

// readStored reads every batch of a partition from its log start to its
// high watermark.
func readStored(t *testing.T, addr, topic string, partition int32) []storedBatch {
	t.Helper()
	c := dialRaw(t, addr)
	defer c.nc.Close()
	var out []storedBatch
	offset := int64(0)
	for range maxRawFetches {
		p, err := fetchPartition(c, topic, partition, offset, 50)
		if err == nil {
			err = kerr.ErrorForCode(p.ErrorCode)
		}
		if isKafkaErr(err, kerr.OffsetOutOfRange) && offset < p.LogStartOffset {
			offset = p.LogStartOffset
			continue
		}
		if err != nil {
			t.Fatalf("fetch %s[%d] at %d: %v", topic, partition, offset, err)
		}
		if offset >= p.HighWatermark {
			return out
		}
		got, next, err := parseBatches(partition, p.RecordBatches)
		if err != nil {
			t.Fatalf("fetch %s[%d] at %d: %v", topic, partition, offset, err)
		}
		if len(got) == 0 {
			t.Fatalf("fetch %s[%d] at %d: no whole batch below high watermark %d", topic, partition, offset, p.HighWatermark)
		}
		out = append(out, got...)
		offset = max(offset, next)
	}
	t.Fatalf("fetch %s[%d]: still below the high watermark after %d fetches", topic, partition, maxRawFetches)
	return nil
}

// parseBatches decodes the whole v2 batches of raw (a trailing partial batch
// is ignored) and returns the offset after the last one.
func parseBatches(partition int32, raw []byte) ([]storedBatch, int64, error) {
	var out []storedBatch
	var next int64
	for len(raw) >= 12 {
		length := int64(int32(binary.BigEndian.Uint32(raw[8:12])))
		if length < crcStart-12 || length > rawFetchMaxBytes {
			return nil, 0, fmt.Errorf("batch with length %d", length)
		}
		if int64(len(raw)) < 12+length {
			break
		}
		one := raw[:12+length]
		raw = raw[12+length:]
		if magic := int8(one[16]); magic != 2 {
			return nil, 0, fmt.Errorf("batch at %d has magic %d", int64(binary.BigEndian.Uint64(one)), magic)
		}
		var b kmsg.RecordBatch
		if err := b.ReadFrom(one); err != nil {
			return nil, 0, fmt.Errorf("decode batch: %w", err)
		}
		out = append(out, storedBatch{
			partition: partition, baseOffset: b.FirstOffset, lastOffsetDelta: b.LastOffsetDelta,
			codec: int8(b.Attributes & 7), records: b.NumRecords,
			crcOK:      crc32.Checksum(one[crcStart:], castagnoli) == uint32(b.CRC),
			producerID: b.ProducerID, baseSequence: b.FirstSequence,
		})
		next = b.FirstOffset + int64(b.LastOffsetDelta) + 1
	}
	return out, next, nil
}

// checkStoredCodec checks that every stored batch of the topic's partitions
// has a valid CRC and the codec want, and that they hold n records in all.
func checkStoredCodec(t *testing.T, addr, topic string, partitions int32, want int8, n int) {
	t.Helper()
	records, wrong, batches := 0, 0, 0
	for p := range partitions {
		for _, b := range readStored(t, addr, topic, p) {
			batches++
			records += int(b.records)
			if !b.crcOK {
				t.Errorf("%s[%d] batch at %d: CRC-32C does not match", topic, p, b.baseOffset)
			}
			if b.codec != want {
				if wrong == 0 {
					t.Errorf("%s[%d] batch at %d stored with codec %d, want %s", topic, p, b.baseOffset, b.codec, codecNames[want])
				}
				wrong++
			}
		}
	}
	if wrong > 0 {
		t.Errorf("%s: %d of %d stored batches do not have codec %s", topic, wrong, batches, codecNames[want])
	}
	if records != n {
		t.Errorf("%s: broker stores %d records, want %d", topic, records, n)
	}
}
