package groups

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streaming/samsa/internal/server"
	"github.com/samsa-streaming/samsa/internal/testutil/testserver"
)

// startNode starts a node on dir (a new temporary directory when empty).
func startNode(t testing.TB, dir string) *server.Node {
	t.Helper()
	return testserver.Start(t, testserver.Options{DataDir: dir})
}

// testContext ends after d or with the test.
func testContext(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// newClient returns a franz-go client closed when the test ends.
func newClient(t testing.TB, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	opts = append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.ClientID("groups-test"), kgo.RetryTimeout(20 * time.Second)}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// setup creates topic with partitions and produces n records spread over
// them round-robin (key = "k<i>", value = "v<i>").
func setup(t testing.TB, addr, topic string, partitions int32, n int) {
	t.Helper()
	ctx := testContext(t, 30*time.Second)
	adm := kadm.NewClient(newClient(t, addr))
	resp, err := adm.CreateTopic(ctx, partitions, 1, nil, topic)
	if err != nil || resp.Err != nil {
		t.Fatalf("create %s: %v %v", topic, err, resp.Err)
	}
	if n == 0 {
		return
	}
	produce(t, addr, topic, 0, n)
}

// produce writes records from..to-1 round-robin over the partitions.
func produce(t testing.TB, addr, topic string, from, to int) {
	t.Helper()
	ctx := testContext(t, 30*time.Second)
	p := newClient(t, addr, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	recs := make([]*kgo.Record, 0, to-from)
	for i := from; i < to; i++ {
		recs = append(recs, &kgo.Record{Key: []byte(fmt.Sprint("k", i)), Value: []byte(fmt.Sprint("v", i))})
	}
	if err := p.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// assignment is who owns which partitions, as the coordinator says.
type assignment map[string][]int32

// describe returns the group's state and each member's partitions of topic.
func describe(ctx context.Context, adm *kadm.Client, group, topic string) (string, assignment, error) {
	described, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		return "", nil, err
	}
	g, ok := described[group]
	if !ok {
		return "", nil, fmt.Errorf("group %s not described", group)
	}
	if g.Err != nil {
		return "", nil, g.Err
	}
	out := assignment{}
	for _, m := range g.Members {
		ca, ok := m.Assigned.AsConsumer()
		if !ok {
			out[m.MemberID] = nil
			continue
		}
		for _, tp := range ca.Topics {
			if tp.Topic == topic {
				out[m.MemberID] = append(out[m.MemberID], tp.Partitions...)
			}
		}
	}
	return g.State, out, nil
}

// checkSplit reports why a assignment is not members disjoint shares
// covering partitions 0..n-1, each member owning at least one.
func checkSplit(a assignment, members, n int) error {
	if len(a) != members {
		return fmt.Errorf("%d members, want %d", len(a), members)
	}
	seen := map[int32]string{}
	for m, ps := range a {
		if len(ps) == 0 {
			return fmt.Errorf("member %s owns nothing", m)
		}
		for _, p := range ps {
			if other, dup := seen[p]; dup {
				return fmt.Errorf("partition %d owned by %s and %s", p, other, m)
			}
			seen[p] = m
		}
	}
	if len(seen) != n {
		return fmt.Errorf("%d of %d partitions assigned", len(seen), n)
	}
	return nil
}

// waitFor polls cond every 100 ms until it returns nil or ctx ends.
func waitFor(ctx context.Context, what string, cond func() error) error {
	var last error
	for {
		if last = cond(); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w (last: %v)", what, ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitSplit waits until the group is Stable with members disjoint shares of
// all n partitions.
func waitSplit(ctx context.Context, t *testing.T, adm *kadm.Client, group, topic string, members, n int) assignment {
	t.Helper()
	var a assignment
	err := waitFor(ctx, "stable split", func() error {
		state, got, err := describe(ctx, adm, group, topic)
		if err != nil {
			return err
		}
		if state != "Stable" {
			return fmt.Errorf("state %s", state)
		}
		a = got
		return checkSplit(got, members, n)
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// killableDialer lets a test cut a client off the network as if its
// process died: Kill closes every connection and refuses new ones, so the
// client can neither leave the group nor heartbeat.
type killableDialer struct {
	mu     sync.Mutex
	conns  []net.Conn
	killed bool
}

func (d *killableDialer) dial(ctx context.Context, network, host string) (net.Conn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.killed {
		return nil, errors.New("killed")
	}
	c, err := (&net.Dialer{}).DialContext(ctx, network, host)
	if err == nil {
		d.conns = append(d.conns, c)
	}
	return c, err
}

func (d *killableDialer) kill() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.killed = true
	for _, c := range d.conns {
		c.Close()
	}
}

// consumed records what a consumer processed: partition -> offsets.
type consumed struct {
	mu      sync.Mutex
	offsets map[int32][]int64
	values  map[string]int
}

func newConsumed() *consumed {
	return &consumed{offsets: map[int32][]int64{}, values: map[string]int{}}
}

func (c *consumed) add(p int32, off int64, value string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offsets[p] = append(c.offsets[p], off)
	c.values[value]++
}

func (c *consumed) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.values)
}

// duplicates lists values seen more than once.
func (c *consumed) duplicates() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for v, n := range c.values {
		if n > 1 {
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}

func sortedPartitions(a assignment) []int32 {
	var out []int32
	for _, ps := range a {
		out = append(out, ps...)
	}
	slices.Sort(out)
	return out
}
