//go:build unix

package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streaming/samsa/internal/testutil/checker"
	"github.com/samsa-streaming/samsa/internal/testutil/procluster"
)

// TestQuorumLoss kills the metadata voters one by one. With one of three
// down, topics are created and leaders elected; with two down, CreateTopics
// fails with a clear error within a few seconds while the survivor keeps
// serving the partitions it leads (acks=all on an RF 1 topic, acks=1 on an
// RF 3 topic with min.insync.replicas=1, and reads). Once the voters are
// back the cluster creates topics again.
func TestQuorumLoss(t *testing.T) {
	const rf1, rf3 = "quorum-rf1", "quorum-rf3"
	c := procluster.Start(t, procluster.Options{Nodes: 3, LogDir: LogDir(t)})
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	adm := NodeAdmin(t, c.Bootstrap()...)
	CreateTopic(t, ctx, adm, rf1, 3, 1, nil)
	CreateTopic(t, ctx, adm, rf3, 3, 3, map[string]string{"min.insync.replicas": "1"})

	// The survivor S leads partition 0 of the RF 1 topic; the first node
	// to die leads a partition of the RF 3 topic that S does not lead, so
	// its death forces an election.
	survivor, err := LeaderOf(ctx, adm, rf1, 0)
	if err != nil || survivor < 0 {
		t.Fatalf("leader of %s-0: %d, %v", rf1, survivor, err)
	}
	ps, err := Partitions(ctx, adm, rf3)
	if err != nil {
		t.Fatal(err)
	}
	first := int32(-1)
	var forced []int32 // partitions of rf3 that first leads
	for _, p := range ps.Sorted() {
		if p.Leader != survivor && (first < 0 || p.Leader == first) {
			first = p.Leader
			forced = append(forced, p.Partition)
		}
	}
	if first < 0 {
		t.Fatalf("node %d leads every partition of %s; want another leader among %v", survivor, rf3, ps)
	}
	var second int32
	for _, n := range c.Nodes() {
		if n.ID != survivor && n.ID != first {
			second = n.ID
		}
	}
	t.Logf("survivor node %d; killing node %d (leads %s partitions %v), then node %d", survivor, first, rf3, forced, second)

	h := checker.NewHistory()
	produce := func(cl *kgo.Client, producer, topic string, p int32, n int) {
		t.Helper()
		for i := range n {
			value := fmt.Sprintf("%s-%d", producer, i)
			h.Sent(producer, checker.Record{Topic: topic, Partition: p, Value: value})
			pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
			r, err := cl.ProduceSync(pctx, &kgo.Record{Topic: topic, Partition: p, Value: []byte(value)}).First()
			pcancel()
			if err != nil {
				h.Failed(producer, checker.Record{Topic: topic, Partition: p, Value: value}, err)
				t.Fatalf("%s: produce %s to %s-%d: %v", producer, value, topic, p, err)
			}
			h.Acked(producer, checker.Record{Topic: topic, Partition: p, Offset: r.Offset, Value: value})
		}
	}
	all := c.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	produce(all, "before", rf1, 0, 20)

	// One voter of three down: the quorum still decides.
	c.Kill(first)
	live := NodeAdmin(t, AddrsExcept(c, first)...)
	for _, p := range forced {
		ectx, ecancel := context.WithTimeout(ctx, 15*time.Second)
		l, err := WaitLeaderOn(ectx, c, []int32{survivor, second}, rf3, p, first)
		ecancel()
		if err != nil {
			t.Fatalf("one voter down: election: %v", err)
		}
		t.Logf("one voter down: %s-%d elected node %d", rf3, p, l)
	}
	cctx, ccancel := context.WithTimeout(ctx, 15*time.Second)
	CreateTopic(t, cctx, live, "quorum-one-down", 2, 2, nil)
	ccancel()
	// Every partition of the RF 3 topic led by the survivor, for acks=1
	// writes after the quorum is gone; the survivor's preferred election
	// is not needed when it already leads one.
	led, err := ledBy(ctx, live, rf3, survivor)
	if err != nil {
		t.Fatal(err)
	}
	if len(led) == 0 {
		t.Fatalf("node %d leads no partition of %s", survivor, rf3)
	}
	acks1 := c.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	produce(acks1, "rf3-before", rf3, led[0], 20)
	// acks=1 records are committed once the other in-sync replica copied
	// them; wait for that, since without a quorum the ISR cannot shrink and
	// the high watermark stays where it is.
	if err := waitEndOffset(ctx, live, rf3, led[0], 20); err != nil {
		t.Fatal(err)
	}

	// Two voters of three down: no quorum, so no metadata change.
	c.Kill(second)
	only := kadm.NewClient(newClient(t, kgo.SeedBrokers(c.Node(survivor).KafkaAddr), kgo.RetryTimeout(3*time.Second)))
	// Right after the kill the survivor may still name the dead node as
	// controller, and the request then dies with the connection; ask again
	// (bounded) until the answer is about the missing controller.
	start := time.Now()
	for attempt := 0; attempt < 5; attempt++ {
		sctx, scancel := context.WithTimeout(ctx, 5*time.Second)
		var res kadm.CreateTopicResponse
		res, err = only.CreateTopic(sctx, 1, 1, nil, "quorum-lost")
		scancel()
		if err == nil {
			err = res.Err
		}
		if err == nil {
			t.Fatal("two voters down: CreateTopics succeeded without a quorum")
		}
		if clearControllerError(err) {
			break
		}
		t.Logf("two voters down: CreateTopics attempt %d: %v", attempt, err)
	}
	t.Logf("two voters down: CreateTopics failed after %v: %v", time.Since(start), err)
	if !clearControllerError(err) {
		t.Errorf("two voters down: CreateTopics error %q, want a clear controller error", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("two voters down: CreateTopics took %v to fail", d)
	}

	// A new idempotent producer needs a producer id, which only the
	// controller hands out; the producer initialized before keeps writing
	// acks=all, and so does a new non-idempotent one.
	produce(all, "before-continued", rf1, 0, 10)
	sole := kgo.RecordPartitioner(kgo.ManualPartitioner())
	onlyCl := newClient(t, kgo.SeedBrokers(c.Node(survivor).KafkaAddr), sole, kgo.DisableIdempotentWrite())
	produce(onlyCl, "after", rf1, 0, 20)
	onlyAcks1 := newClient(t, kgo.SeedBrokers(c.Node(survivor).KafkaAddr), sole,
		kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	produce(onlyAcks1, "rf3-after", rf3, led[0], 20)
	rf1Read := readValues(t, ctx, c.Node(survivor).KafkaAddr, rf1, 0, 50)
	for i := range 20 {
		vs := []string{fmt.Sprintf("before-%d", i), fmt.Sprintf("after-%d", i)}
		if i < 10 {
			vs = append(vs, fmt.Sprintf("before-continued-%d", i))
		}
		for _, v := range vs {
			if !slices.Contains(rf1Read, v) {
				t.Errorf("two voters down: %s not read back from %s-0", v, rf1)
			}
		}
	}
	rf3Read := readValues(t, ctx, c.Node(survivor).KafkaAddr, rf3, led[0], 20)
	for i := range 20 {
		if v := fmt.Sprintf("rf3-before-%d", i); !slices.Contains(rf3Read, v) {
			t.Errorf("two voters down: %s not read back from %s-%d", v, rf3, led[0])
		}
	}
	// The acks=1 records written without a quorum stay above the high
	// watermark (the dead follower is still in the ISR) until the voters
	// return; the final read below finds them.

	// The voters come back: metadata changes work again.
	c.Restart(first)
	c.Restart(second)
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	rctx, rcancel := context.WithTimeout(ctx, 30*time.Second)
	CreateTopic(t, rctx, adm, "quorum-back", 3, 3, nil)
	rcancel()
	if err := WaitFullISR(ctx, adm, rf3, 3); err != nil {
		t.Fatalf("after the restart: %v", err)
	}
	ReadAll(t, ctx, c, h, rf1, 3)
	ReadAll(t, ctx, c, h, rf3, 3)
	r := h.Check()
	t.Logf("%s", r)
	if !r.OK() {
		t.Error("checker found problems")
	}
	StopAndCompare(t, c, map[string]int32{rf3: 3})
}

// clearControllerError reports whether err says that no controller is
// available: the survivor's Metadata names no controller (-1), so the
// client cannot send the request at all and says so; a controller reached
// without a quorum answers NOT_CONTROLLER or REQUEST_TIMED_OUT.
func clearControllerError(err error) bool {
	if err == nil || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	return errors.Is(err, kerr.NotController) || errors.Is(err, kerr.RequestTimedOut) ||
		strings.Contains(err.Error(), "controller broker is not available")
}

// waitEndOffset polls until the end offset (high watermark) of
// topic/partition reaches at least want; ctx bounds the wait.
func waitEndOffset(ctx context.Context, adm *kadm.Client, topic string, p int32, want int64) error {
	var last int64 = -1
	for {
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err == nil {
			if lo, ok := ends.Lookup(topic, p); ok && lo.Err == nil {
				last = lo.Offset
				if last >= want {
					return nil
				}
			}
		}
		if err := waitTick(ctx); err != nil {
			return fmt.Errorf("end offset of %s-%d is %d, want %d: %w", topic, p, last, want, err)
		}
	}
}

// ledBy lists the partitions of topic that node leads.
func ledBy(ctx context.Context, adm *kadm.Client, topic string, node int32) ([]int32, error) {
	ps, err := Partitions(ctx, adm, topic)
	if err != nil {
		return nil, err
	}
	var out []int32
	for _, p := range ps.Sorted() {
		if p.Leader == node {
			out = append(out, p.Partition)
		}
	}
	return out, nil
}

// newClient returns a client closed when the test ends.
func newClient(t testing.TB, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// readValues reads topic/partition from the start through addr until it
// has at least n records or 10 s passed, and returns their values.
func readValues(t testing.TB, ctx context.Context, addr, topic string, p int32, n int) []string {
	t.Helper()
	cl := newClient(t, kgo.SeedBrokers(addr),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {p: kgo.NewOffset().AtStart()}}),
		kgo.FetchMaxWait(200*time.Millisecond))
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var vals []string
	for len(vals) < n && rctx.Err() == nil {
		fs := cl.PollFetches(rctx)
		fs.EachRecord(func(r *kgo.Record) { vals = append(vals, string(r.Value)) })
	}
	return vals
}
