package groups

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// pollLoop polls cl until ctx ends, recording records into c (when not nil).
func pollLoop(ctx context.Context, wg *sync.WaitGroup, cl *kgo.Client, c *consumed) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			fs := cl.PollRecords(ctx, 100)
			fs.EachRecord(func(r *kgo.Record) {
				if c != nil {
					c.add(r.Partition, r.Offset, string(r.Value))
				}
			})
		}
	}()
}

func groupClient(t *testing.T, addr, group, topic string, extra ...kgo.Opt) *kgo.Client {
	opts := append([]kgo.Opt{kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.SessionTimeout(6 * time.Second), kgo.HeartbeatInterval(500 * time.Millisecond),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}, extra...)
	return newClient(t, addr, opts...)
}

// TestFranzGoSplitKillAndJoin: three members split six partitions; a member
// whose process dies (no LeaveGroup) loses its partitions to the others
// within the session timeout; a new member triggers a rebalance that
// completes.
func TestFranzGoSplitKillAndJoin(t *testing.T) {
	t.Parallel()
	n := startNode(t, "")
	addr := n.KafkaAddr()
	setup(t, addr, "t", 6, 60)
	ctx := testContext(t, 60*time.Second)
	adm := kadm.NewClient(newClient(t, addr))

	pollCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stop(); wg.Wait() }()
	for i := 0; i < 2; i++ {
		pollLoop(pollCtx, &wg, groupClient(t, addr, "fg", "t"), nil)
	}
	dialer := &killableDialer{}
	victim, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ClientID("victim"), kgo.Dialer(dialer.dial),
		kgo.ConsumerGroup("fg"), kgo.ConsumeTopics("t"), kgo.SessionTimeout(6*time.Second),
		kgo.HeartbeatInterval(500*time.Millisecond), kgo.RetryTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	victimCtx, stopVictim := context.WithCancel(ctx)
	var victimWG sync.WaitGroup
	pollLoop(victimCtx, &victimWG, victim, nil)

	before := waitSplit(ctx, t, adm, "fg", "t", 3, 6)
	t.Logf("three members: %v", before)

	killed := time.Now()
	dialer.kill()
	after := waitSplit(ctx, t, adm, "fg", "t", 2, 6)
	took := time.Since(killed)
	t.Logf("after the kill (%v): %v", took.Round(time.Millisecond), after)
	if took > 6*time.Second+4*time.Second {
		t.Errorf("reassignment took %v, more than the 6 s session timeout plus a rebalance", took)
	}
	stopVictim()
	go func() { victimWG.Wait(); victim.Close() }() // it cannot leave: do not wait for it

	joined := time.Now()
	pollLoop(pollCtx, &wg, groupClient(t, addr, "fg", "t"), nil)
	final := waitSplit(ctx, t, adm, "fg", "t", 3, 6)
	t.Logf("after a new member joined (%v): %v", time.Since(joined).Round(time.Millisecond), final)
}

// TestFranzGoCommitOnRevoke: consumers that commit what they processed when
// partitions are revoked neither lose nor repeat records across clean
// rebalances (a member joining, then one leaving).
func TestFranzGoCommitOnRevoke(t *testing.T) {
	t.Parallel()
	n := startNode(t, "")
	addr := n.KafkaAddr()
	const total = 3000
	setup(t, addr, "r", 6, total/2)
	ctx := testContext(t, 60*time.Second)
	got := newConsumed()

	start := func(name string) (*kgo.Client, func()) {
		var cl *kgo.Client
		cl = newClient(t, addr, kgo.ClientID(name), kgo.ConsumerGroup("rg"), kgo.ConsumeTopics("r"),
			kgo.SessionTimeout(6*time.Second), kgo.HeartbeatInterval(500*time.Millisecond),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.BlockRebalanceOnPoll(), kgo.AutoCommitMarks(),
			kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, _ map[string][]int32) {
				if err := cl.CommitMarkedOffsets(ctx); err != nil {
					t.Errorf("%s: commit on revoke: %v", name, err)
				}
			}))
		pctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for pctx.Err() == nil {
				fs := cl.PollRecords(pctx, 50)
				fs.EachRecord(func(r *kgo.Record) {
					got.add(r.Partition, r.Offset, string(r.Value))
					cl.MarkCommitRecords(r)
				})
				cl.AllowRebalance()
			}
		}()
		return cl, func() { cancel(); <-done; cl.AllowRebalance() }
	}
	progress := func(n int) {
		t.Helper()
		if err := waitFor(ctx, fmt.Sprintf("%d records consumed", n), func() error {
			if c := got.count(); c < n {
				return fmt.Errorf("%d consumed", c)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	_, stopA := start("a")
	defer stopA()
	progress(500)
	b, stopB := start("b")
	produce(t, addr, "r", total/2, total)
	progress(2000)
	stopB()
	b.Close() // leaves: its partitions are revoked (and committed) first
	progress(total)
	if dups := got.duplicates(); len(dups) > 0 {
		t.Fatalf("%d records processed twice, e.g. %v", len(dups), dups[:min(5, len(dups))])
	}
	if c := got.count(); c != total {
		t.Fatalf("%d distinct records, want %d", c, total)
	}
}
