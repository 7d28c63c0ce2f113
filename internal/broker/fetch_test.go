package broker_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/samsa-streaming/samsa/internal/testutil/batchtest"
	"github.com/samsa-streaming/samsa/internal/testutil/testserver"
)

// rawClient returns a kgo client for raw kmsg requests to a fresh node,
// sending Fetch at version 11 (non-flexible, topic names).
func rawClient(t *testing.T) *kgo.Client {
	t.Helper()
	n := testserver.Start(t, testserver.Options{})
	return fetchClient(t, n.KafkaAddr(), 11)
}

// fetchClient returns a client that sends Fetch at exactly version v (kgo
// otherwise picks the highest version both sides know).
func fetchClient(t *testing.T, addr string, v int16) *kgo.Client {
	t.Helper()
	versions := kversion.Stable()
	versions.SetMaxKeyVersion(1, v)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.MaxVersions(versions))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func createTopic(t *testing.T, cl *kgo.Client, name string, partitions int32) {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, 1
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
}

func produce(t *testing.T, cl *kgo.Client, topic string, partition int32, batch []byte) int64 {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = partition, batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	p := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
		t.Fatalf("produce: %v", err)
	}
	return p.BaseOffset
}

func fetchReq(version int16, topic string, offsets map[int32]int64) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.SetVersion(version)
	req.MaxWaitMillis, req.MinBytes, req.MaxBytes = 0, 0, 50<<20
	req.SessionEpoch = -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	for p, off := range offsets {
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = p, off, 1<<20
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	return req
}

// countRecords decodes record batches and returns the number of records.
func countRecords(t *testing.T, b []byte) int {
	t.Helper()
	n := 0
	for len(b) > 0 {
		var rb kmsg.RecordBatch
		if err := rb.ReadFrom(b); err != nil {
			t.Fatalf("bad batch in fetch response: %v", err)
		}
		n += int(rb.NumRecords)
		b = b[12+rb.Length:]
	}
	return n
}

// TestFetchZeroCopyFraming fetches large (sendfile) and small (copied)
// partition reads with non-flexible and flexible versions: the responses
// must decode and carry every record.
func TestFetchZeroCopyFraming(t *testing.T) {
	n := testserver.Start(t, testserver.Options{})
	cl := fetchClient(t, n.KafkaAddr(), 16)
	createTopic(t, cl, "zc", 2)
	big := batchtest.New(400, 1000)
	for i := range big.Records {
		big.Records[i].Value = make([]byte, 200) // ~80 KiB: sent with sendfile
	}
	produce(t, cl, "zc", 0, big.Encode())
	produce(t, cl, "zc", 0, big.Encode())
	produce(t, cl, "zc", 1, batchtest.New(3, 1000).Encode()) // small: copied
	for _, v := range []int16{4, 11, 12, 13, 16} {
		cl := fetchClient(t, n.KafkaAddr(), v)
		req := fetchReq(v, "zc", map[int32]int64{0: 0, 1: 0})
		if v >= 13 {
			meta := kmsg.NewPtrMetadataRequest()
			name := "zc"
			meta.Topics = []kmsg.MetadataRequestTopic{{Topic: &name}}
			mresp, err := meta.RequestWith(context.Background(), cl)
			if err != nil {
				t.Fatal(err)
			}
			req.Topics[0].TopicID = mresp.Topics[0].TopicID
		}
		resp, err := req.RequestWith(context.Background(), cl)
		if err != nil {
			t.Fatalf("v%d: %v", v, err)
		}
		got := map[int32]int{}
		for _, rt := range resp.Topics {
			for _, rp := range rt.Partitions {
				if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
					t.Fatalf("v%d p%d: %v", v, rp.Partition, err)
				}
				got[rp.Partition] = countRecords(t, rp.RecordBatches)
			}
		}
		if got[0] != 800 || got[1] != 3 {
			t.Fatalf("v%d: records per partition %v, want 800 and 3", v, got)
		}
	}
}

// TestFetchKIP74 checks that a batch larger than every limit is still
// returned whole when it is the first data of the response.
func TestFetchKIP74(t *testing.T) {
	cl := rawClient(t)
	createTopic(t, cl, "kip74", 1)
	b := batchtest.New(10, 1000)
	for i := range b.Records {
		b.Records[i].Value = make([]byte, 10_000)
	}
	produce(t, cl, "kip74", 0, b.Encode())
	req := fetchReq(11, "kip74", map[int32]int64{0: 0})
	req.MaxBytes, req.Topics[0].Partitions[0].PartitionMaxBytes = 100, 100
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	if n := countRecords(t, resp.Topics[0].Partitions[0].RecordBatches); n != 10 {
		t.Fatalf("got %d records, want the whole first batch of 10", n)
	}
}

// TestFetchLongPoll parks a fetch with MinBytes and checks that a produce
// wakes it long before MaxWait.
func TestFetchLongPoll(t *testing.T) {
	cl := rawClient(t)
	createTopic(t, cl, "lp", 1)
	req := fetchReq(11, "lp", map[int32]int64{0: 0})
	req.MinBytes, req.MaxWaitMillis = 1, 20_000
	done := make(chan *kmsg.FetchResponse, 1)
	start := time.Now()
	go func() {
		resp, err := req.RequestWith(context.Background(), cl)
		if err != nil {
			t.Error(err)
		}
		done <- resp
	}()
	produce(t, cl, "lp", 0, batchtest.New(5, 1000).Encode())
	select {
	case resp := <-done:
		if n := countRecords(t, resp.Topics[0].Partitions[0].RecordBatches); n != 5 {
			t.Fatalf("woken fetch has %d records, want 5", n)
		}
		if time.Since(start) > 10*time.Second {
			t.Fatal("fetch was not woken by the produce")
		}
	case <-time.After(15 * time.Second):
		t.Fatal("parked fetch never answered")
	}
}

// TestFetchSessionIncremental opens a session and checks that incremental
// fetches answer only partitions with news.
func TestFetchSessionIncremental(t *testing.T) {
	cl := rawClient(t)
	createTopic(t, cl, "sess", 2)
	produce(t, cl, "sess", 0, batchtest.New(2, 1000).Encode())
	produce(t, cl, "sess", 1, batchtest.New(2, 1000).Encode())

	full := fetchReq(11, "sess", map[int32]int64{0: 0, 1: 0})
	full.SessionID, full.SessionEpoch = 0, 0
	resp, err := full.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	if resp.SessionID == 0 || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 2 {
		t.Fatalf("full fetch: session %d, topics %+v", resp.SessionID, resp.Topics)
	}
	id := resp.SessionID

	// Incremental, positions moved to the end: nothing new on either.
	inc := fetchReq(11, "sess", map[int32]int64{0: 2, 1: 2})
	inc.SessionID, inc.SessionEpoch = id, 1
	resp, err = inc.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ErrorCode != 0 || len(resp.Topics) != 0 {
		t.Fatalf("incremental fetch without news answered %+v (err %d)", resp.Topics, resp.ErrorCode)
	}
	// New data on partition 1 only: the next incremental lists only it.
	produce(t, cl, "sess", 1, batchtest.New(3, 1000).Encode())
	inc2 := fetchReq(11, "sess", nil)
	inc2.Topics = nil
	inc2.SessionID, inc2.SessionEpoch = id, 2
	resp, err = inc2.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 || resp.Topics[0].Partitions[0].Partition != 1 {
		t.Fatalf("want only partition 1, got %+v", resp.Topics)
	}
	if n := countRecords(t, resp.Topics[0].Partitions[0].RecordBatches); n != 3 {
		t.Fatalf("partition 1: %d records, want 3", n)
	}
	// A wrong epoch is refused.
	bad := fetchReq(11, "sess", nil)
	bad.Topics = nil
	bad.SessionID, bad.SessionEpoch = id, 7
	resp, err = bad.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ErrorCode != kerr.InvalidFetchSessionEpoch.Code {
		t.Fatalf("wrong epoch: error %d, want INVALID_FETCH_SESSION_EPOCH", resp.ErrorCode)
	}
	unknown := fetchReq(11, "sess", nil)
	unknown.Topics = nil
	unknown.SessionID, unknown.SessionEpoch = id+1, 1
	resp, err = unknown.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ErrorCode != kerr.FetchSessionIDNotFound.Code {
		t.Fatalf("unknown session: error %d, want FETCH_SESSION_ID_NOT_FOUND", resp.ErrorCode)
	}
}
