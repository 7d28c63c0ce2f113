package groups

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// BenchmarkOffsetCommit measures offset commits per second on one node:
// 64 concurrent committers over 4 connections, each OffsetCommit carrying
// one partition of its own group (simple-consumer commits, generation -1).
// Target: >= 20,000 commits/s.
//
//	go test ./test/groups -run '^$' -bench OffsetCommit -benchtime 100000x
func BenchmarkOffsetCommit(b *testing.B) {
	n := startNode(b, "")
	addr := n.KafkaAddr()
	setup(b, addr, "bench", 64, 0)
	ctx := context.Background()
	adm := kadm.NewClient(newClient(b, addr))
	td, err := adm.ListTopics(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	benchTopicID = td["bench"].ID
	const workers, conns = 64, 4
	clients := make([]*kgo.Client, conns)
	for i := range clients {
		clients[i] = newClient(b, addr)
	}
	// Find every group's coordinator once, outside the timing.
	for w := 0; w < workers; w++ {
		if err := commitOnce(ctx, clients[w%conns], w, 0); err != nil {
			b.Fatal(err)
		}
	}
	var next atomic.Int64
	var failed atomic.Int64
	b.ResetTimer()
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
				if err := commitOnce(ctx, clients[w%conns], w, i); err != nil {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d commits failed", f)
	}
}

// benchTopicID names the topic for OffsetCommit v10.
var benchTopicID [16]byte

func commitOnce(ctx context.Context, cl *kgo.Client, worker int, offset int64) error {
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group, req.Generation = fmt.Sprint("bench-", worker), -1
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic, rt.TopicID = "bench", benchTopicID
	rp := kmsg.NewOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset = int32(worker), offset
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return err
	}
	return kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode)
}

// BenchmarkRebalance10x100 measures how long after the last join a group of
// ten franz-go members over 100 partitions is Stable with every partition
// assigned: nine members are stable, the tenth joins. Target: < 1 s.
//
//	go test ./test/groups -run '^$' -bench Rebalance10x100 -benchtime 3x
func BenchmarkRebalance10x100(b *testing.B) {
	n := startNode(b, "")
	addr := n.KafkaAddr()
	setup(b, addr, "rb", 100, 0)
	adm := kadm.NewClient(newClient(b, addr))
	var total time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		group := fmt.Sprint("rebalance-", i)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		var wg sync.WaitGroup
		var members []*kgo.Client
		add := func() {
			cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumerGroup(group), kgo.ConsumeTopics("rb"),
				kgo.SessionTimeout(6*time.Second), kgo.HeartbeatInterval(200*time.Millisecond))
			if err != nil {
				b.Fatal(err)
			}
			members = append(members, cl)
			pollLoop(ctx, &wg, cl, nil)
		}
		for j := 0; j < 9; j++ {
			add()
		}
		waitSplitFast(ctx, b, adm, group, "rb", 9, 100)
		b.StartTimer()
		start := time.Now()
		add()
		waitSplitFast(ctx, b, adm, group, "rb", 10, 100)
		took := time.Since(start)
		b.StopTimer()
		total += took
		cancel()
		wg.Wait()
		for _, cl := range members {
			cl.Close()
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/rebalance")
}

// waitSplitFast is waitSplit polling every 5 ms, for timing.
func waitSplitFast(ctx context.Context, b *testing.B, adm *kadm.Client, group, topic string, members, n int) {
	for {
		state, a, err := describe(ctx, adm, group, topic)
		if err == nil && state == "Stable" && checkSplit(a, members, n) == nil {
			return
		}
		select {
		case <-ctx.Done():
			b.Fatalf("group %s never split %d ways: %v", group, members, err)
		case <-time.After(5 * time.Millisecond):
		}
	}
}
