//go:build unix

package cluster_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streaming/samsa/internal/testutil/checker"
	"github.com/samsa-streaming/samsa/internal/testutil/procluster"
)

// maxIsolatedElection bounds how long after the leader is cut off the
// majority side must have elected another leader.
const maxIsolatedElection = 10 * time.Second

// writtenBy is a kgo hook that remembers which broker acknowledged each
// produced batch, by partition.
type writtenBy struct {
	mu sync.Mutex
	by map[int32][]int32 // partition -> broker ids, one per acknowledged batch
}

// OnProduceBatchWritten implements kgo.HookProduceBatchWritten.
func (w *writtenBy) OnProduceBatchWritten(meta kgo.BrokerMetadata, _ string, partition int32, _ kgo.ProduceBatchMetrics) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.by == nil {
		w.by = map[int32][]int32{}
	}
	w.by[partition] = append(w.by[partition], meta.NodeID)
}

// brokers returns the brokers that acknowledged batches of partition.
func (w *writtenBy) brokers(partition int32) []int32 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]int32(nil), w.by[partition]...)
}

// TestNetworkPartitionIsolatedLeader cuts the leader L of partition 0 off
// from the other nodes (clients still reach it). L must not acknowledge
// acks=all writes; the majority must elect another leader and acknowledge
// writes; after the heal L must rejoin the ISR, nothing acknowledged may
// be lost, and the replicas must agree on disk (L's unreplicated tail is
// truncated). It runs once with links reset (every node learns of the cut
// at once) and once with packets silently dropped (only timeouts tell).
func TestNetworkPartitionIsolatedLeader(t *testing.T) {
	for _, mode := range []procluster.CutMode{procluster.ResetLinks, procluster.DropPackets} {
		t.Run(mode.String(), func(t *testing.T) { isolatedLeader(t, mode) })
	}
}

func isolatedLeader(t *testing.T, mode procluster.CutMode) {
	const topic, partitions = "isolated-leader", 3
	c := procluster.Start(t, procluster.Options{Nodes: 3, LogDir: LogDir(t)})
	c.SetCutMode(mode)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	adm := NodeAdmin(t, c.Bootstrap()...)
	CreateTopic(t, ctx, adm, topic, partitions, 3, map[string]string{"min.insync.replicas": "2"})

	h := checker.NewHistory()
	load := StartLoad(t, c, h, LoadOptions{Topic: topic, Partitions: partitions, Producers: 2})
	defer load.Stop(ctx)
	if err := load.WaitAcked(ctx, 200); err != nil {
		t.Fatal(err)
	}
	leader, err := LeaderOf(ctx, adm, topic, 0)
	if err != nil || leader < 0 {
		t.Fatalf("leader of %s-0: %d, %v", topic, leader, err)
	}
	isolated := time.Now()
	c.Isolate(leader)
	t.Logf("isolated node %d, leader of %s-0", leader, topic)

	// Writes sent straight to the isolated leader must not be acknowledged
	// by it: its followers cannot fetch, so the high watermark is stuck.
	hook := &writtenBy{}
	direct, err := kgo.NewClient(kgo.SeedBrokers(c.Node(leader).KafkaAddr),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.WithHooks(hook),
		kgo.ProduceRequestTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	var wg sync.WaitGroup
	for i := range 5 {
		value := fmt.Sprintf("direct-%d", i)
		h.Sent("direct", checker.Record{Topic: topic, Partition: 0, Value: value})
		rctx, rcancel := context.WithTimeout(ctx, 3*time.Second)
		wg.Add(1)
		direct.Produce(rctx, &kgo.Record{Topic: topic, Partition: 0, Value: []byte(value)}, func(r *kgo.Record, err error) {
			defer wg.Done()
			defer rcancel()
			rec := checker.Record{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Value: string(r.Value)}
			if err != nil {
				h.Failed("direct", rec, err)
				return
			}
			h.Acked("direct", rec)
			t.Logf("direct write %s acknowledged at %s-%d@%d while node %d was isolated", value, r.Topic, r.Partition, r.Offset, leader)
		})
	}

	// Meanwhile the majority elects a new leader and takes writes.
	var others []int32
	for _, n := range c.Nodes() {
		if n.ID != leader {
			others = append(others, n.ID)
		}
	}
	ectx, ecancel := context.WithTimeout(ctx, maxIsolatedElection)
	newLeader, err := WaitLeaderOn(ectx, c, others, topic, 0, leader)
	ecancel()
	if err != nil {
		t.Fatalf("majority side: %v", err)
	}
	t.Logf("majority elected node %d leader of %s-0 %v after the cut", newLeader, topic, time.Since(isolated))
	mcl, err := kgo.NewClient(kgo.SeedBrokers(AddrsExcept(c, leader)...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer mcl.Close()
	for i := range 20 {
		value := fmt.Sprintf("majority-%d", i)
		h.Sent("majority", checker.Record{Topic: topic, Partition: 0, Value: value})
		pctx, pcancel := context.WithTimeout(ctx, maxIsolatedElection)
		r, err := mcl.ProduceSync(pctx, &kgo.Record{Topic: topic, Partition: 0, Value: []byte(value)}).First()
		pcancel()
		rec := checker.Record{Topic: topic, Partition: 0, Offset: -1, Value: value}
		if err != nil {
			h.Failed("majority", rec, err)
			t.Fatalf("majority side: acks=all write %s to %s-0: %v", value, topic, err)
		}
		rec.Offset = r.Offset
		h.Acked("majority", rec)
	}
	t.Logf("majority side acknowledged 20 writes to %s-0 %v after the cut", topic, time.Since(isolated))

	wg.Wait() // every direct write has an answer: each had a 3 s context
	for _, b := range hook.brokers(0) {
		if b == leader {
			t.Errorf("isolated node %d acknowledged an acks=all write to %s-0", leader, topic)
		}
	}

	c.Heal()
	healed := time.Now()
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	// Ask every node: the healed one may still serve its stale view (it
	// leads partition 0 with the old epoch) until it catches up with the
	// metadata log.
	if err := WaitInISRAll(ctx, c, topic, leader); err != nil {
		t.Fatalf("node %d did not rejoin the ISR after the heal: %v", leader, err)
	}
	t.Logf("node %d back in every ISR %v after the heal", leader, time.Since(healed))
	if _, err := load.WaitAck(ctx, 0, healed); err != nil {
		t.Fatalf("load after the heal: %v", err)
	}

	load.Stop(ctx)
	direct.Close()
	n := ReadAll(t, ctx, c, h, topic, partitions)
	r := h.Check()
	t.Logf("final logs: %d records\n%s", n, r)
	if !r.OK() {
		t.Error("checker found problems")
	}
	StopAndCompare(t, c, map[string]int32{topic: partitions})
}
