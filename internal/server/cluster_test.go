package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/server"
	"github.com/samsa-streaming/samsa/internal/testutil/testserver"
)

// waitBrokers waits until every node's own Metadata answer lists n
// brokers: each node learns the others' unfencing from the metadata log.
func waitBrokers(ctx context.Context, t *testing.T, nodes map[int32]*server.Node, n int) {
	t.Helper()
	for id, node := range nodes {
		c, err := kgo.NewClient(kgo.SeedBrokers(node.KafkaAddr()))
		if err != nil {
			t.Fatal(err)
		}
		for {
			resp, err := c.SeedBrokers()[0].Request(ctx, kmsg.NewPtrMetadataRequest())
			if err == nil && len(resp.(*kmsg.MetadataResponse).Brokers) == n {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("node %d: metadata does not list %d brokers: %v", id, n, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		c.Close()
	}
}

func TestInProcessClusterFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	nodes := testserver.StartCluster(t, 3, nil).Nodes
	var seeds []string
	for _, n := range nodes {
		seeds = append(seeds, n.KafkaAddr())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	waitBrokers(ctx, t, nodes, 3)
	minISR := "2"
	res, err := adm.CreateTopic(ctx, 3, 3, map[string]*string{"min.insync.replicas": &minISR}, "t")
	if err != nil || res.Err != nil {
		t.Fatalf("create topic: %v %v", err, res.Err)
	}
	produce := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			r := &kgo.Record{Topic: "t", Partition: int32(i % 3), Value: []byte(fmt.Sprintf("v%d", i))}
			if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatalf("produce %d: %v", i, err)
			}
		}
	}
	produce(0, 300)

	td, err := adm.ListTopics(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	p0 := td["t"].Partitions[0]
	if len(p0.ISR) != 3 {
		t.Fatalf("partition 0 ISR = %v, want 3 members", p0.ISR)
	}
	leader := p0.Leader
	t.Logf("closing node %d, leader of t-0", leader)
	start := time.Now()
	nodes[leader].Close()
	produce(300, 600)
	t.Logf("300 more records acknowledged %v after the leader stopped", time.Since(start))

	td, err = adm.ListTopics(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	nl := td["t"].Partitions[0].Leader
	if nl == leader || nl < 0 {
		t.Fatalf("partition 0 leader is still %d", nl)
	}
	// The new leader reports the partitions it leads without the dead
	// node as under-replicated (Kafka's UnderReplicatedPartitions).
	if st := nodes[nl].Broker().Stats(); st.LeaderPartitions == 0 || st.UnderReplicatedPartitions == 0 || st.UnderMinISRPartitions != 0 {
		t.Errorf("stats of new leader %d: %d led, %d under-replicated, %d under min ISR; want some, some, none (min ISR 2 of 2 alive)",
			nl, st.LeaderPartitions, st.UnderReplicatedPartitions, st.UnderMinISRPartitions)
	}
	got := map[string]int{}
	for p := int32(0); p < 3; p++ {
		c, err := kgo.NewClient(kgo.SeedBrokers(seeds...),
			kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"t": {p: kgo.NewOffset().AtStart()}}))
		if err != nil {
			t.Fatal(err)
		}
		want := 200
		n := 0
		for n < want && ctx.Err() == nil {
			fs := c.PollFetches(ctx)
			fs.EachRecord(func(r *kgo.Record) { got[string(r.Value)]++; n++ })
		}
		c.Close()
	}
	for i := range 600 {
		if c := got[fmt.Sprintf("v%d", i)]; c != 1 {
			t.Fatalf("record v%d consumed %d times", i, c)
		}
	}
}
