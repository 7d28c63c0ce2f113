package integration

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/testutil/batchtest"
)

// initProducerID asks for an idempotent producer id over a raw connection.
func initProducerID(t *testing.T, c *rawConn) (int64, int16) {
	t.Helper()
	req := kmsg.NewPtrInitProducerIDRequest()
	req.Version = 4
	req.ProducerID, req.ProducerEpoch = -1, -1
	resp := c.mustRequest(req).(*kmsg.InitProducerIDResponse)
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		t.Fatalf("InitProducerId: %v", err)
	}
	return resp.ProducerID, resp.ProducerEpoch
}

// produceRequest builds a Produce v9 request (acks=all) of one batch to one
// partition.
func produceRequest(topic string, partition int32, batch []byte) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Version = 9
	req.Acks = -1
	req.TimeoutMillis = 10_000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition = partition
	rp.Records = batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// produceRaw sends one batch and returns the partition's answer.
func produceRaw(c *rawConn, topic string, partition int32, batch []byte) (kmsg.ProduceResponseTopicPartition, error) {
	resp, err := c.request(produceRequest(topic, partition, batch))
	if err != nil {
		return kmsg.ProduceResponseTopicPartition{}, err
	}
	pr := resp.(*kmsg.ProduceResponse)
	if len(pr.Topics) != 1 || len(pr.Topics[0].Partitions) != 1 {
		return kmsg.ProduceResponseTopicPartition{}, fmt.Errorf("produce answered %d topics, want 1 with 1 partition", len(pr.Topics))
	}
	return pr.Topics[0].Partitions[0], nil
}

// logEndOffset returns a partition's latest offset (ListOffsets -1) over a
// raw connection.
func logEndOffset(t *testing.T, c *rawConn, topic string, partition int32) int64 {
	t.Helper()
	off, _ := listOffsetRaw(t, c, topic, partition, -1)
	return off
}

// listOffsetRaw sends ListOffsets v7 for one partition and timestamp and
// fails the test on any error code.
func listOffsetRaw(t *testing.T, c *rawConn, topic string, partition int32, ts int64) (offset, timestamp int64) {
	t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	req.Version = 7
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition = partition
	rp.CurrentLeaderEpoch = -1
	rp.Timestamp = ts
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := c.mustRequest(req).(*kmsg.ListOffsetsResponse)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("ListOffsets answered %d topics, want 1 with 1 partition", len(resp.Topics))
	}
	p := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
		t.Fatalf("ListOffsets %s[%d] at %d: %v", topic, partition, ts, err)
	}
	return p.Offset, p.Timestamp
}

// TestDefaultIdempotentProducer produces with franz-go's defaults (an
// idempotent producer, acks=all, up to 5 requests in flight) and checks that
// every record is stored exactly once, in batches carrying the producer id
// and consecutive sequence numbers.
func TestDefaultIdempotentProducer(t *testing.T) {
	const n, partitions = 5_000, 3
	nd := startNode(t, nil)
	ctx := testContext(t, time.Minute)
	topic := "idempotent-default"
	createTopic(ctx, t, newAdmin(t, nd.addr), topic, partitions, nil)

	cl := newClient(t, nd.addr, kgo.DefaultProduceTopic(topic))
	var (
		mu      sync.Mutex
		errs    []error
		sent    = make([]record, n)
		produce sync.WaitGroup
	)
	for i := range n {
		sent[i] = record{key: fmt.Sprintf("k%d", i%31), value: fmt.Sprintf("v%06d", i)}
		produce.Add(1)
		cl.Produce(ctx, &kgo.Record{Key: []byte(sent[i].key), Value: []byte(sent[i].value)}, func(_ *kgo.Record, err error) {
			defer produce.Done()
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	produce.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d produce errors, first: %v", len(errs), errs[0])
	}
	got, err := franzGoConsume(ctx, nd.addr, topic, partitions, n)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range checkConsumed(sent, got) {
		t.Error(p)
	}
	for p := range int32(partitions) {
		nextSeq := int32(0)
		producerID := int64(-2)
		for _, b := range readStored(t, nd.addr, topic, p) {
			if b.producerID < 0 {
				t.Fatalf("partition %d batch at %d: producer id %d, want an idempotent producer's", p, b.baseOffset, b.producerID)
			}
			if producerID != -2 && b.producerID != producerID {
				t.Fatalf("partition %d batch at %d: producer id %d, earlier batches %d", p, b.baseOffset, b.producerID, producerID)
			}
			producerID = b.producerID
			if b.baseSequence != nextSeq {
				t.Errorf("partition %d batch at %d: base sequence %d, want %d", p, b.baseOffset, b.baseSequence, nextSeq)
			}
			nextSeq = b.baseSequence + b.records
		}
	}
}

// TestIdempotentSequences drives one idempotent producer by hand: re-sent
// batches (the latest or an older one of the last five) are answered with
// their original offsets and not appended again; gaps, overlaps and stale
// epochs are refused with Kafka's codes and append nothing.
func TestIdempotentSequences(t *testing.T) {
	nd := startNode(t, nil)
	ctx := testContext(t, time.Minute)
	const topic = "idempotent-raw"
	createTopic(ctx, t, newAdmin(t, nd.addr), topic, 1, nil)
	c := dialRaw(t, nd.addr)
	pid, epoch := initProducerID(t, c)
	now := time.Now().UnixMilli()
	batch := func(n int, ep int16, seq int32) []byte {
		return batchtest.New(n, now).Idempotent(pid, ep, seq).Encode()
	}
	steps := []struct {
		name     string
		batch    []byte
		wantCode int16
		wantBase int64 // checked when wantCode is 0
		wantLEO  int64 // log end offset after the step
	}{
		{name: "first batch", batch: batch(5, epoch, 0), wantBase: 0, wantLEO: 5},
		{name: "retry of the first batch", batch: batch(5, epoch, 0), wantBase: 0, wantLEO: 5},
		{name: "next batch", batch: batch(3, epoch, 5), wantBase: 5, wantLEO: 8},
		{name: "retry of the latest batch", batch: batch(3, epoch, 5), wantBase: 5, wantLEO: 8},
		{name: "retry of an older batch", batch: batch(5, epoch, 0), wantBase: 0, wantLEO: 8},
		{name: "gap", batch: batch(2, epoch, 10), wantCode: kerr.OutOfOrderSequenceNumber.Code, wantLEO: 8},
		{name: "overlap", batch: batch(4, epoch, 6), wantCode: kerr.OutOfOrderSequenceNumber.Code, wantLEO: 8},
		{name: "after the refusals", batch: batch(2, epoch, 8), wantBase: 8, wantLEO: 10},
		{name: "new epoch not at sequence 0", batch: batch(1, epoch+1, 3), wantCode: kerr.OutOfOrderSequenceNumber.Code, wantLEO: 10},
		{name: "new epoch", batch: batch(1, epoch+1, 0), wantBase: 10, wantLEO: 11},
		{name: "stale epoch", batch: batch(1, epoch, 10), wantCode: kerr.InvalidProducerEpoch.Code, wantLEO: 11},
	}
	for _, st := range steps {
		p, err := produceRaw(c, topic, 0, st.batch)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if p.ErrorCode != st.wantCode {
			t.Errorf("%s: error %s, want %s", st.name, codeName(p.ErrorCode), codeName(st.wantCode))
		}
		if st.wantCode == 0 && p.BaseOffset != st.wantBase {
			t.Errorf("%s: base offset %d, want %d", st.name, p.BaseOffset, st.wantBase)
		}
		if leo := logEndOffset(t, c, topic, 0); leo != st.wantLEO {
			t.Errorf("%s: log end offset %d, want %d", st.name, leo, st.wantLEO)
		}
	}
	var stored int32
	for _, b := range readStored(t, nd.addr, topic, 0) {
		stored += b.records
	}
	if stored != 11 {
		t.Errorf("broker stores %d records, want 11", stored)
	}
}
