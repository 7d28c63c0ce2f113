package server_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/server"
)

// freePorts reserves n loopback ports (closed again before use: a small
// race with other processes, acceptable in tests).
func freePorts(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		out = append(out, l.Addr().String())
	}
	for _, l := range ls {
		l.Close()
	}
	return out
}

// startCluster starts n in-process nodes, all voters, and returns them by
// node id (1-based).
func startCluster(t *testing.T, n int, props map[string]string) map[int32]*server.Node {
	t.Helper()
	ctl := freePorts(t, n)
	var voters []string
	for i, a := range ctl {
		voters = append(voters, fmt.Sprintf("%d@%s", i+1, a))
	}
	nodes := map[int32]*server.Node{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		id := int32(i + 1)
		env := []string{
			fmt.Sprintf("SAMSA_NODE_ID=%d", id),
			"SAMSA_DATA_DIR=" + t.TempDir(),
			"SAMSA_KAFKA_ADDR=127.0.0.1:0",
			"SAMSA_CONTROLLER_ADDR=" + ctl[i],
			"SAMSA_VOTERS=" + strings.Join(voters, ","),
			"SAMSA_HTTP_ADDR=",
		}
		for k, v := range props {
			env = append(env, config.EnvName(k)+"="+v)
		}
		cfg, err := config.Load(nil, env)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			level := slog.LevelWarn
			if os.Getenv("SAMSA_TEST_VERBOSE") != "" {
				level = slog.LevelDebug
			}
			lg := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("node", id)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			node, err := server.Start(ctx, cfg, lg)
			if err != nil {
				errs <- fmt.Errorf("node %d: %w", id, err)
				return
			}
			mu.Lock()
			nodes[id] = node
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, node := range nodes {
			node.Close()
		}
	})
	return nodes
}

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
	nodes := startCluster(t, 3, nil)
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
	if nl := td["t"].Partitions[0].Leader; nl == leader || nl < 0 {
		t.Fatalf("partition 0 leader is still %d", nl)
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
