//go:build unix

package cluster_test

import (
	"context"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/testutil/procluster"
)

const (
	// longOutage is how long TestLongOutageRejoin keeps a node cut off:
	// long enough for Raft's replication to it to back off to its longest
	// pause (about 10 s) if nothing prevents it.
	longOutage = 24 * time.Second
	// maxRejoin bounds how long after the heal the node must be back in
	// every ISR: it receives the metadata it missed, is unfenced and
	// catches up, which takes a second or two (8.5 s when Raft's backoff
	// was left alone).
	maxRejoin = 5 * time.Second
)

// TestLongOutageRejoin cuts a broker-only node (a Raft non-voter, so no
// election restarts replication to it) off from the others for longOutage
// under acks=all load, heals the network and requires the node back in
// every ISR within maxRejoin: the survivors must not have backed off so far
// while it was unreachable that it waits for them after it is back.
// Nothing acknowledged may be lost, and the replicas must agree on disk.
func TestLongOutageRejoin(t *testing.T) {
	const victim = 4
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := startScenario(t, ctx, scenarioOptions{
		Cluster: procluster.Options{Nodes: 4, LogDir: LogDir(t)},
		Topic:   "long-outage", Partitions: 3, RF: 4, Producers: 1,
	})
	c := s.c

	c.Isolate(victim)
	t.Logf("isolated node %d for %v", victim, longOutage)
	faultWait(t, ctx, longOutage)
	s.waitProgress(t, ctx, "with a node cut off")

	healed := time.Now()
	c.Heal()
	rctx, rcancel := context.WithTimeout(ctx, 4*maxRejoin)
	defer rcancel()
	if err := WaitInISRAll(rctx, c, s.opt.Topic, victim); err != nil {
		t.Fatalf("node %d did not rejoin the ISR after the heal: %v", victim, err)
	}
	rejoin := time.Since(healed)
	t.Logf("node %d back in every ISR %v after the heal", victim, rejoin.Round(time.Millisecond))
	if rejoin > maxRejoin {
		t.Errorf("node %d rejoined every ISR %v after the heal, want <= %v", victim, rejoin, maxRejoin)
	}
	s.check(t, ctx)
}
