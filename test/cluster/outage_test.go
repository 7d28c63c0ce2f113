//go:build unix

package cluster_test

import (
	"context"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/testutil/checker"
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
	const topic, partitions, victim = "long-outage", 3, 4
	c := procluster.Start(t, procluster.Options{Nodes: 4, LogDir: LogDir(t)})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	adm := NodeAdmin(t, c.Bootstrap()...)
	CreateTopic(t, ctx, adm, topic, partitions, 4, map[string]string{"min.insync.replicas": "2"})

	h := checker.NewHistory()
	load := StartLoad(t, c, h, LoadOptions{Topic: topic, Partitions: partitions, Producers: 1})
	defer load.Stop(ctx)
	if err := load.WaitAcked(ctx, 200); err != nil {
		t.Fatal(err)
	}

	c.Isolate(victim)
	t.Logf("isolated node %d for %v", victim, longOutage)
	faultWait(t, ctx, longOutage)
	if err := load.WaitAcked(ctx, 100); err != nil {
		t.Fatalf("load with node %d cut off: %v", victim, err)
	}

	healed := time.Now()
	c.Heal()
	rctx, rcancel := context.WithTimeout(ctx, 4*maxRejoin)
	defer rcancel()
	if err := WaitInISRAll(rctx, c, topic, victim); err != nil {
		t.Fatalf("node %d did not rejoin the ISR after the heal: %v", victim, err)
	}
	rejoin := time.Since(healed)
	t.Logf("node %d back in every ISR %v after the heal", victim, rejoin.Round(time.Millisecond))
	if rejoin > maxRejoin {
		t.Errorf("node %d rejoined every ISR %v after the heal, want <= %v", victim, rejoin, maxRejoin)
	}

	load.Stop(ctx)
	ReadAll(t, ctx, c, h, topic, partitions)
	if r := h.Check(); !r.OK() {
		t.Errorf("checker found problems:\n%s", r)
	}
	StopAndCompare(t, c, map[string]int32{topic: partitions})
}
