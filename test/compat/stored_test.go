package compat

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// codecNames maps the codec bits (0-2) of a batch's attributes to the names
// the suite and the drivers use.
var codecNames = []string{"none", "gzip", "snappy", "lz4", "zstd"}

func codecName(attributes int16) string {
	if c := int(attributes & 0x07); c < len(codecNames) {
		return codecNames[c]
	}
	return fmt.Sprintf("codec%d", attributes&0x07)
}

// storedBatch describes one record batch as the broker stored it.
type storedBatch struct {
	partition  int32
	baseOffset int64
	magic      int8
	codec      string
	control    bool
	records    int32
	crcOK      bool
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

const (
	fetchMaxBytes = 8 << 20
	// maxFetchRounds bounds the fetch loop per partition; each round moves
	// at least one batch forward.
	maxFetchRounds = 10_000
	// batchHeaderLen is the bytes before a batch's length field ends
	// (baseOffset int64 + batchLength int32).
	batchHeaderLen = 12
	// crcStart is where the CRC-32C'd part of a v2 batch (attributes..end)
	// starts: after baseOffset, batchLength, partitionLeaderEpoch, magic, crc.
	crcStart = 21
)

// readStoredBatches reads every batch of every partition of topic with raw
// FetchRequests (read_uncommitted, no fetch session) sent to each partition's
// leader, from offset 0 up to the high watermark.
func readStoredBatches(ctx context.Context, cl *kgo.Client, detail kadm.TopicDetail) ([]storedBatch, error) {
	var all []storedBatch
	for _, p := range detail.Partitions.Sorted() {
		bs, err := readPartitionBatches(ctx, cl, detail, p)
		if err != nil {
			return nil, err
		}
		all = append(all, bs...)
	}
	return all, nil
}

func readPartitionBatches(ctx context.Context, cl *kgo.Client, detail kadm.TopicDetail, p kadm.PartitionDetail) ([]storedBatch, error) {
	var batches []storedBatch
	offset := int64(0)
	for range maxFetchRounds {
		req := kmsg.NewPtrFetchRequest()
		req.ReplicaID = -1
		req.MaxWaitMillis = 100
		req.MinBytes = 1
		req.MaxBytes = fetchMaxBytes
		req.SessionEpoch = -1
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = detail.Topic
		rt.TopicID = detail.ID // used instead of the name from v13 on
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition = p.Partition
		rp.FetchOffset = offset
		rp.PartitionMaxBytes = fetchMaxBytes
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)

		resp, err := req.RequestWith(ctx, cl.Broker(int(p.Leader)))
		if err != nil {
			return nil, fmt.Errorf("fetch %s[%d] at %d: %w", detail.Topic, p.Partition, offset, err)
		}
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			return nil, fmt.Errorf("fetch %s[%d] at %d: %w", detail.Topic, p.Partition, offset, err)
		}
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			return nil, fmt.Errorf("fetch %s[%d] at %d: response has %d topics, want 1 with 1 partition", detail.Topic, p.Partition, offset, len(resp.Topics))
		}
		rpart := resp.Topics[0].Partitions[0]
		if err := kerr.ErrorForCode(rpart.ErrorCode); err != nil {
			return nil, fmt.Errorf("fetch %s[%d] at %d: %w", detail.Topic, p.Partition, offset, err)
		}
		if offset >= rpart.HighWatermark {
			return batches, nil
		}
		got, next, err := parseBatches(p.Partition, rpart.RecordBatches)
		if err != nil {
			return nil, fmt.Errorf("fetch %s[%d] at %d: %w", detail.Topic, p.Partition, offset, err)
		}
		if len(got) == 0 {
			return nil, fmt.Errorf("fetch %s[%d] at %d: no whole batch below high watermark %d", detail.Topic, p.Partition, offset, rpart.HighWatermark)
		}
		batches = append(batches, got...)
		offset = max(offset, next)
	}
	return nil, fmt.Errorf("fetch %s[%d]: still below the high watermark after %d fetches", detail.Topic, p.Partition, maxFetchRounds)
}

// parseBatches decodes the whole batches in raw (a trailing partial batch is
// allowed, as a fetch may cut one) and returns the offset after the last.
func parseBatches(partition int32, raw []byte) ([]storedBatch, int64, error) {
	var batches []storedBatch
	var next int64
	for len(raw) >= batchHeaderLen {
		length := int64(int32(binary.BigEndian.Uint32(raw[8:12])))
		if length < crcStart-batchHeaderLen || length > fetchMaxBytes {
			return nil, 0, fmt.Errorf("batch at %d: bad length %d", int64(binary.BigEndian.Uint64(raw)), length)
		}
		if int64(len(raw)) < batchHeaderLen+length {
			break // partial batch at the end of the fetch
		}
		one := raw[:batchHeaderLen+length]
		raw = raw[batchHeaderLen+length:]
		if magic := int8(one[16]); magic != 2 {
			batches = append(batches, storedBatch{partition: partition, baseOffset: int64(binary.BigEndian.Uint64(one)), magic: magic})
			return batches, next, fmt.Errorf("batch at %d has magic %d, want 2", int64(binary.BigEndian.Uint64(one)), magic)
		}
		var b kmsg.RecordBatch
		if err := b.ReadFrom(one); err != nil {
			return nil, 0, fmt.Errorf("decode batch: %w", err)
		}
		batches = append(batches, storedBatch{
			partition:  partition,
			baseOffset: b.FirstOffset,
			magic:      b.Magic,
			codec:      codecName(b.Attributes),
			control:    b.Attributes&0x20 != 0,
			records:    b.NumRecords,
			crcOK:      crc32.Checksum(one[crcStart:], castagnoli) == uint32(b.CRC),
		})
		next = b.FirstOffset + int64(b.LastOffsetDelta) + 1
	}
	return batches, next, nil
}

// storedProblems checks the stored batches of a topic that received exactly
// n records in data batches compressed with wantCodec.
func storedProblems(batches []storedBatch, n int, wantCodec string) []string {
	var problems []string
	records, wrongCodec, dataBatches := 0, 0, 0
	for _, b := range batches {
		where := fmt.Sprintf("partition %d batch at %d", b.partition, b.baseOffset)
		if !b.crcOK {
			problems = append(problems, where+": CRC-32C does not match")
		}
		if b.control {
			continue
		}
		dataBatches++
		records += int(b.records)
		if b.codec != wantCodec {
			wrongCodec++
		}
	}
	if wrongCodec > 0 {
		problems = append(problems, fmt.Sprintf("%d of %d stored batches are not %s-compressed (first: %s)", wrongCodec, dataBatches, wantCodec, firstOtherCodec(batches, wantCodec)))
	}
	if records != n {
		problems = append(problems, fmt.Sprintf("broker stores %d records, %d were sent", records, n))
	}
	return problems
}

func firstOtherCodec(batches []storedBatch, want string) string {
	for _, b := range batches {
		if !b.control && b.codec != want {
			return fmt.Sprintf("partition %d batch at %d has codec %s", b.partition, b.baseOffset, b.codec)
		}
	}
	return ""
}

// checkStored reads the topic's stored batches and reports problems on t.
func checkStored(ctx context.Context, t *testing.T, cl *kgo.Client, detail kadm.TopicDetail, n int, wantCodec string) {
	t.Helper()
	batches, err := readStoredBatches(ctx, cl, detail)
	if err != nil {
		t.Errorf("read stored batches: %v", err)
		return
	}
	reportProblems(t, "stored batches", storedProblems(batches, n, wantCodec))
}
