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

// waitConsumerSplit waits until a KIP-848 group is Stable with members
// disjoint, non-empty shares of all n partitions of topic.
func waitConsumerSplit(ctx context.Context, t *testing.T, adm *kadm.Client, group, topic string, members, n int) assignment {
	t.Helper()
	var a assignment
	err := waitFor(ctx, "stable KIP-848 split", func() error {
		described, err := adm.DescribeConsumerGroups(ctx, group)
		if err != nil {
			return err
		}
		g, ok := described[group]
		if !ok || g.Err != nil {
			return fmt.Errorf("describe: %v", g.Err)
		}
		if g.State != "Stable" {
			return fmt.Errorf("state %s", g.State)
		}
		a = assignment{}
		for _, m := range g.Members {
			a[m.MemberID] = nil
			for p := range m.Assignment[topic] {
				a[m.MemberID] = append(a[m.MemberID], p)
			}
		}
		return checkSplit(a, members, n)
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestKIP848FranzGo: franz-go on the next-generation protocol
// (ConsumerGroupHeartbeat, server-side uniform assignor) splits partitions
// and rebalances when members join and leave.
func TestKIP848FranzGo(t *testing.T) {
	t.Parallel()
	n := startNode(t, "")
	addr := n.KafkaAddr()
	setup(t, addr, "nt", 6, 60)
	ctx := testContext(t, 60*time.Second)
	adm := kadm.NewClient(newClient(t, addr))
	got := newConsumed()

	pollCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stop(); wg.Wait() }()
	member := func() *kgo.Client {
		return groupClient(t, addr, "ng", "nt", kgo.ServerSideBalancer(), kgo.Balancers(kgo.CooperativeStickyBalancer()))
	}
	for i := 0; i < 2; i++ {
		pollLoop(pollCtx, &wg, member(), got)
	}
	start := time.Now()
	two := waitConsumerSplit(ctx, t, adm, "ng", "nt", 2, 6)
	t.Logf("two members after %v: %v", time.Since(start).Round(time.Millisecond), two)

	thirdCtx, stopThird := context.WithCancel(pollCtx)
	third := member()
	var thirdWG sync.WaitGroup
	pollLoop(thirdCtx, &thirdWG, third, got)
	start = time.Now()
	three := waitConsumerSplit(ctx, t, adm, "ng", "nt", 3, 6)
	t.Logf("three members after %v: %v", time.Since(start).Round(time.Millisecond), three)

	stopThird()
	thirdWG.Wait()
	third.Close() // leaves with epoch -1
	start = time.Now()
	back := waitConsumerSplit(ctx, t, adm, "ng", "nt", 2, 6)
	t.Logf("after a member left, %v: %v", time.Since(start).Round(time.Millisecond), back)
	if err := waitFor(ctx, "all records", func() error {
		if c := got.count(); c < 60 {
			return fmt.Errorf("%d records", c)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
