//go:build unix

package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/testutil/checker"
	"github.com/samsa-streaming/samsa/internal/testutil/procluster"
)

// cliTimeout bounds one run of the samsa CLI.
const cliTimeout = 90 * time.Second

// The data written before the scale-out: 20,000 records of 1 KiB.
const (
	prefillRecords   = 20_000
	prefillValueSize = 1024
)

// TestScaleOutRebalance adds a fourth (broker-only) node to a 3-node
// cluster under producer and consumer-group load, spreads the replicas
// onto it with `samsa cluster rebalance --wait`, then drains and
// unregisters it again with `samsa cluster decommission 4 --wait`. The
// load must go on throughout, nothing acknowledged may be lost, duplicated
// or reordered, the group's commits must never go backwards, and the
// replicas must agree on disk.
func TestScaleOutRebalance(t *testing.T) {
	const (
		topic      = "scale-out"
		partitions = 6
		rf         = 2
		group      = "scale-out-group"
	)
	c := procluster.Start(t, procluster.Options{Nodes: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	adm := NodeAdmin(t, c.Bootstrap()...)
	CreateTopic(t, ctx, adm, topic, partitions, rf, nil)

	h := checker.NewHistory()
	// Some data first, so that the reassignments really copy while the
	// load goes on.
	prefill(t, ctx, c, h, topic, partitions, prefillRecords, prefillValueSize)
	load := StartLoad(t, c, h, LoadOptions{Topic: topic, Partitions: partitions})
	defer load.Stop(ctx)
	member := StartGroupMember(t, c, h, "c0", group, topic)
	waitProgress(t, ctx, "before scale-out", load, member)

	n4 := c.AddNode()
	rctx, rcancel := context.WithTimeout(ctx, 30*time.Second)
	err := c.WaitReady(rctx)
	rcancel()
	if err != nil {
		t.Fatalf("node %d did not join: %v", n4.ID, err)
	}
	t.Logf("node %d joined as a broker", n4.ID)

	start := time.Now()
	runCLI(t, ctx, "cluster", "rebalance", "--brokers", strings.Join(c.Bootstrap(), ","), "--wait", "--timeout", "60s")
	t.Logf("rebalance took %v", time.Since(start).Round(time.Millisecond))

	// Node 4 holds replicas of the topic and leads some of its partitions,
	// every leader is its partition's first replica, and over all topics
	// (__consumer_offsets included) the brokers hold as many replicas as
	// each other, give or take one: the plan's promise.
	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	err = waitTopic(wctx, adm, topic, func(ps []kadm.PartitionDetail) error {
		held, led := 0, 0
		for _, p := range ps {
			if slices.Contains(p.Replicas, n4.ID) {
				held++
			}
			if p.Leader == n4.ID {
				led++
			}
			if len(p.Replicas) != rf || len(p.ISR) != rf {
				return fmt.Errorf("partition %d: replicas %v, ISR %v, want %d of each", p.Partition, p.Replicas, p.ISR, rf)
			}
			if p.Leader != p.Replicas[0] {
				return fmt.Errorf("partition %d: leader %d is not the preferred replica (replicas %v)", p.Partition, p.Leader, p.Replicas)
			}
		}
		if held == 0 || led == 0 {
			return fmt.Errorf("node %d holds %d replicas of %s and leads %d partitions, want some of each", n4.ID, held, topic, led)
		}
		return replicaBalance(wctx, adm, []int32{1, 2, 3, n4.ID})
	})
	wcancel()
	if err != nil {
		t.Fatalf("after rebalance: %v", err)
	}
	logAssignment(t, ctx, adm, topic, "after rebalance")
	checkNoReassignments(t, ctx, c)
	waitProgress(t, ctx, "after rebalance", load, member)

	// Drain node 4 and unregister it. A broker process that keeps running
	// after UnregisterBroker registers again (internal/controller), so the
	// node is shut down right after the command and the registration is
	// checked once it is gone.
	n4.ExpectExit()
	start = time.Now()
	out := runCLI(t, ctx, "cluster", "decommission", "4", "--brokers", strings.Join(c.Bootstrap(), ","), "--wait", "--timeout", "60s")
	t.Logf("decommission took %v", time.Since(start).Round(time.Millisecond))
	if !strings.Contains(strings.ToLower(out), "unregister") {
		t.Errorf("decommission output does not mention unregistering node 4:\n%s", out)
	}
	if n4.Running() {
		c.Shutdown(n4.ID)
	}
	wctx, wcancel = context.WithTimeout(ctx, 20*time.Second)
	err = waitTopic(wctx, adm, topic, func(ps []kadm.PartitionDetail) error {
		for _, p := range ps {
			if slices.Contains(p.Replicas, n4.ID) || slices.Contains(p.ISR, n4.ID) || p.Leader == n4.ID {
				return fmt.Errorf("partition %d still uses node %d: leader %d, replicas %v, ISR %v", p.Partition, n4.ID, p.Leader, p.Replicas, p.ISR)
			}
			if len(p.Replicas) != rf || len(p.ISR) != rf {
				return fmt.Errorf("partition %d: replicas %v, ISR %v, want %d of each", p.Partition, p.Replicas, p.ISR, rf)
			}
		}
		return nil
	})
	wcancel()
	if err != nil {
		t.Fatalf("after decommission: %v", err)
	}
	logAssignment(t, ctx, adm, topic, "after decommission")
	checkUnregistered(t, ctx, c, n4.ID)
	checkNoReassignments(t, ctx, c)
	waitProgress(t, ctx, "after decommission", load, member)

	load.Stop(ctx)
	member.Stop()
	if _, failed, lastErr := load.Counts(); failed > 0 {
		t.Errorf("%d produce requests failed during the scale-out (last: %v); kgo retries what a reassignment interrupts", failed, lastErr)
	}
	ReadAll(t, ctx, c, h, topic, partitions)
	r := h.Check()
	t.Log(r.String())
	if !r.OK() {
		t.Error("the checker found problems")
	}
	StopAndCompare(t, c, map[string]int32{topic: partitions})
}

// prefill writes n records of about size bytes round-robin to partitions
// 0..partitions-1 of topic with an idempotent acks=all producer named
// "fill", recording them in h, and waits for every answer.
func prefill(t *testing.T, ctx context.Context, c *procluster.Cluster, h *checker.History, topic string, partitions int32, n, size int) {
	t.Helper()
	cl := c.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.MaxBufferedRecords(n+1))
	pad := strings.Repeat("x", max(0, size-16))
	start := time.Now()
	var mu sync.Mutex
	var firstErr error
	for i := range n {
		p := int32(i % int(partitions))
		value := fmt.Sprintf("fill-%d-%s", i, pad)
		h.Sent("fill", checker.Record{Topic: topic, Partition: p, Value: value})
		cl.Produce(ctx, &kgo.Record{Topic: topic, Partition: p, Value: []byte(value)}, func(r *kgo.Record, err error) {
			rec := checker.Record{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Value: string(r.Value)}
			if err != nil {
				h.Failed("fill", rec, err)
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
				return
			}
			h.Acked("fill", rec)
		})
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatalf("prefill: flush: %v", err)
	}
	if firstErr != nil {
		t.Fatalf("prefill: %v", firstErr)
	}
	t.Logf("prefill: %d records of %d bytes in %v", n, size, time.Since(start).Round(time.Millisecond))
}

// waitProgress waits until the load acknowledged 100 more records and the
// group member read 100 more.
func waitProgress(t *testing.T, ctx context.Context, when string, load *Load, m *GroupMember) {
	t.Helper()
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := load.WaitAcked(pctx, 100); err != nil {
		t.Fatalf("%s: producer: %v", when, err)
	}
	if err := m.WaitConsumed(pctx, 100); err != nil {
		t.Fatalf("%s: consumer: %v", when, err)
	}
}

// waitTopic polls topic's partitions (sorted) until check accepts them all
// together; ctx bounds the wait.
func waitTopic(ctx context.Context, adm *kadm.Client, topic string, check func([]kadm.PartitionDetail) error) error {
	var last error
	for {
		ps, err := Partitions(ctx, adm, topic)
		if err == nil {
			err = check(ps.Sorted())
		}
		if err == nil {
			return nil
		}
		last = err
		if werr := waitTick(ctx); werr != nil {
			return fmt.Errorf("%w; last: %v", werr, last)
		}
	}
}

// replicaBalance checks that, over every topic (internal ones included),
// the brokers hold as many replicas as each other, give or take one.
func replicaBalance(ctx context.Context, adm *kadm.Client, brokers []int32) error {
	tds, err := adm.ListTopicsWithInternal(ctx)
	if err != nil {
		return fmt.Errorf("list topics: %w", err)
	}
	held := map[int32]int{}
	for _, b := range brokers {
		held[b] = 0
	}
	for _, td := range tds {
		if td.Err != nil {
			return fmt.Errorf("topic %s: %w", td.Topic, td.Err)
		}
		for _, p := range td.Partitions {
			for _, r := range p.Replicas {
				held[r]++
			}
		}
	}
	lo, hi := -1, -1
	for _, n := range held {
		if lo < 0 || n < lo {
			lo = n
		}
		hi = max(hi, n)
	}
	if hi-lo > 1 {
		return fmt.Errorf("replicas per broker %v: not balanced", held)
	}
	return nil
}

// logAssignment logs each partition's leader, replicas and ISR.
func logAssignment(t *testing.T, ctx context.Context, adm *kadm.Client, topic, when string) {
	t.Helper()
	ps, err := Partitions(ctx, adm, topic)
	if err != nil {
		t.Logf("%s: %v", when, err)
		return
	}
	var b strings.Builder
	for _, p := range ps.Sorted() {
		fmt.Fprintf(&b, " p%d: leader %d replicas %v isr %v;", p.Partition, p.Leader, p.Replicas, p.ISR)
	}
	t.Logf("%s:%s", when, b.String())
}

// checkNoReassignments asserts that ListPartitionReassignments, asked about
// every topic, lists nothing in progress.
func checkNoReassignments(t *testing.T, ctx context.Context, c *procluster.Cluster) {
	t.Helper()
	cl := c.Client(t)
	req := kmsg.NewPtrListPartitionReassignmentsRequest() // nil Topics: all
	req.TimeoutMillis = 10_000
	rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	resp, err := req.RequestWith(rctx, cl)
	if err != nil {
		t.Fatalf("ListPartitionReassignments: %v", err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		t.Fatalf("ListPartitionReassignments: %v", err)
	}
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			t.Errorf("reassignment still in progress: %s-%d replicas %v adding %v removing %v",
				rt.Topic, rp.Partition, rp.Replicas, rp.AddingReplicas, rp.RemovingReplicas)
		}
	}
}

// checkUnregistered asserts that broker id, already stopped, is no longer
// registered: no node lists it, and UnregisterBroker answers
// BROKER_ID_NOT_REGISTERED. If the node registered again between the
// decommission and its shutdown (a running broker does), the first
// UnregisterBroker removes that registration and is logged.
func checkUnregistered(t *testing.T, ctx context.Context, c *procluster.Cluster, id int32) {
	t.Helper()
	fctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := c.WaitFenced(fctx, id); err != nil {
		t.Fatalf("node %d is still listed: %v", id, err)
	}
	cl := c.Client(t)
	for attempt := range 2 {
		req := kmsg.NewPtrUnregisterBrokerRequest()
		req.BrokerID = id
		resp, err := req.RequestWith(fctx, cl)
		if err != nil {
			t.Fatalf("UnregisterBroker %d: %v", id, err)
		}
		err = kerr.ErrorForCode(resp.ErrorCode)
		switch {
		case errors.Is(err, kerr.BrokerIDNotRegistered):
			return
		case err == nil && attempt == 0:
			t.Logf("node %d had registered again before its shutdown; unregistered it once more", id)
		default:
			t.Fatalf("UnregisterBroker %d: %v (%v), want BROKER_ID_NOT_REGISTERED", id, err, resp.ErrorMessage)
		}
	}
	t.Fatalf("node %d is still registered after being unregistered twice", id)
}

// runCLI runs the samsa binary the cluster runs with args, bounded by
// cliTimeout, logs its output and fails the test if it fails. It returns
// the combined output.
func runCLI(t *testing.T, ctx context.Context, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, samsaCLI(t), args...)
	out, err := cmd.CombinedOutput()
	t.Logf("samsa %s:\n%s", strings.Join(args, " "), out)
	if err != nil {
		t.Fatalf("samsa %s: %v (context: %v)", strings.Join(args, " "), err, ctx.Err())
	}
	return string(out)
}

// samsaCLI returns the samsa binary procluster runs: $SAMSA_TEST_BINARY,
// or the one it built into <module root>/tmp/samsa (Start has built it).
func samsaCLI(t *testing.T) string {
	t.Helper()
	if p := os.Getenv(procluster.EnvBinary); p != "" {
		return p
	}
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	p := filepath.Join(filepath.Dir(strings.TrimSpace(string(out))), "tmp", "samsa")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("the samsa binary procluster builds: %v", err)
	}
	return p
}
