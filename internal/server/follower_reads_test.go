package server_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/samsa-streaming/samsa/internal/testutil/testserver"
)

// readFrom is a kgo hook that remembers which broker every fetched batch
// came from.
type readFrom struct {
	mu      sync.Mutex
	brokers map[int32]int
}

// OnFetchBatchRead implements kgo.HookFetchBatchRead.
func (r *readFrom) OnFetchBatchRead(meta kgo.BrokerMetadata, _ string, _ int32, _ kgo.FetchBatchMetrics) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.brokers[meta.NodeID]++
}

// TestFollowerReads (KIP-392): with replica.selector.class set to the
// rack-aware selector, the leader sends a consumer of another rack to the
// in-sync follower in its rack, and the consumer reads everything there.
func TestFollowerReads(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	nodes := testserver.StartCluster(t, 3, map[string]string{
		"broker.rack":            "rack-{id}",
		"replica.selector.class": "org.apache.kafka.common.replica.RackAwareReplicaSelector",
		"min.insync.replicas":    "3", // every acknowledged record is on every replica
	}).Nodes
	var seeds []string
	for _, n := range nodes {
		seeds = append(seeds, n.KafkaAddr())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	waitBrokers(ctx, t, nodes, 3)
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	const topic, records = "near", 200
	create := kmsg.NewPtrCreateTopicsRequest()
	ct := kmsg.NewCreateTopicsRequestTopic()
	ct.Topic, ct.NumPartitions, ct.ReplicationFactor = topic, 1, 3
	create.Topics = append(create.Topics, ct)
	if resp, err := create.RequestWith(ctx, cl); err != nil || resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("create topic: %v %+v", err, resp)
	}
	for id := range nodes {
		waitTopicOn(ctx, t, cl, id, topic)
	}
	for i := range records {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: fmt.Appendf(nil, "v%d", i)}).FirstErr(); err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
	}
	meta, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	var p0 kmsg.MetadataResponseTopicPartition
	var topicID [16]byte
	for _, mt := range meta.Topics {
		if mt.Topic != nil && *mt.Topic == topic {
			p0, topicID = mt.Partitions[0], mt.TopicID
		}
	}
	leader := p0.Leader
	follower := int32(1)
	for follower == leader {
		follower++
	}
	rackOf := func(id int32) string { return fmt.Sprintf("rack-%d", id) }

	// kgo sends the highest version both sides know, up to its client's
	// limit: one client per version.
	clientFor := map[int16]*kgo.Client{16: cl}
	versions := kversion.Stable()
	versions.SetMaxKeyVersion(int16(kmsg.Fetch), 10)
	v10, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.MaxVersions(versions))
	if err != nil {
		t.Fatal(err)
	}
	defer v10.Close()
	clientFor[10] = v10

	fetch := func(broker int32, version int16, rack string) kmsg.FetchResponseTopicPartition {
		t.Helper()
		req := kmsg.NewPtrFetchRequest()
		req.Version, req.ReplicaID, req.MaxBytes, req.MaxWaitMillis, req.Rack = version, -1, 1<<20, 5000, rack
		ft := kmsg.NewFetchRequestTopic()
		ft.Topic, ft.TopicID = topic, topicID
		fp := kmsg.NewFetchRequestTopicPartition()
		fp.PartitionMaxBytes, fp.CurrentLeaderEpoch = 1<<20, p0.LeaderEpoch
		ft.Partitions = append(ft.Partitions, fp)
		req.Topics = append(req.Topics, ft)
		start := time.Now()
		resp, err := clientFor[version].Broker(int(broker)).RetriableRequest(ctx, req)
		if err != nil {
			t.Fatalf("fetch v%d from %d: %v", version, broker, err)
		}
		if resp.GetVersion() != version {
			t.Fatalf("fetch sent as v%d, want v%d", resp.GetVersion(), version)
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("fetch v%d from %d (rack %q) waited %v: a redirect or available data is answered at once", version, broker, rack, took)
		}
		return resp.(*kmsg.FetchResponse).Topics[0].Partitions[0]
	}

	// The leader redirects a consumer of the follower's rack, without
	// records, and serves one of its own rack.
	if rp := fetch(leader, 16, rackOf(follower)); rp.PreferredReadReplica != follower || len(rp.RecordBatches) != 0 {
		t.Errorf("leader, consumer in %s: preferred read replica %d with %d bytes, want %d and none",
			rackOf(follower), rp.PreferredReadReplica, len(rp.RecordBatches), follower)
	}
	if rp := fetch(leader, 16, rackOf(leader)); rp.PreferredReadReplica != -1 || len(rp.RecordBatches) == 0 {
		t.Errorf("leader, consumer in its own rack: preferred read replica %d with %d bytes, want -1 and records",
			rp.PreferredReadReplica, len(rp.RecordBatches))
	}
	// The follower serves v11+ consumers, and refuses older ones.
	if rp := fetch(follower, 16, rackOf(follower)); rp.ErrorCode != 0 || len(rp.RecordBatches) == 0 {
		t.Errorf("follower v16: error %d, %d bytes", rp.ErrorCode, len(rp.RecordBatches))
	}
	if rp := fetch(follower, 10, ""); rp.ErrorCode != kerr.NotLeaderForPartition.Code {
		t.Errorf("follower v10: error %d, want NOT_LEADER_OR_FOLLOWER", rp.ErrorCode)
	}

	// A real consumer in the follower's rack reads everything from it.
	hook := &readFrom{brokers: map[int32]int{}}
	consumer, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.Rack(rackOf(follower)), kgo.WithHooks(hook),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	var got []string
	for len(got) < records {
		fs := consumer.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d: %v", len(got), records, err)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Logf("fetch error: %v", err) })
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	for i, v := range got {
		if v != fmt.Sprintf("v%d", i) {
			t.Fatalf("record %d is %q", i, v)
		}
	}
	hook.mu.Lock()
	defer hook.mu.Unlock()
	if hook.brokers[follower] == 0 || hook.brokers[leader] > 0 {
		t.Errorf("batches read per broker: %v, want all from follower %d", hook.brokers, follower)
	}
	ls, fs := nodes[leader].Broker().Stats(), nodes[follower].Broker().Stats()
	if ls.ReadRedirects == 0 || ls.ReplicaFetchBytes == 0 || fs.FollowerReadBytes == 0 || fs.ReplicaFetchBytes != 0 {
		t.Errorf("leader stats %+v, follower stats %+v: want redirects and replica bytes on the leader, follower-read bytes on the follower", ls, fs)
	}
}
