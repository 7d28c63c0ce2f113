//go:build unix

package cluster_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/testutil/procluster"
)

// maxRollingStall bounds how long a partition may go without an
// acknowledged write while one node at a time restarts cleanly: controlled
// shutdown moves leadership away before a node stops, so the producers only
// have to find the new leader.
const maxRollingStall = 3 * time.Second

// TestRollingRestart restarts every node of a 3-node cluster in turn with
// SIGTERM (controlled shutdown), as an upgrade does, waiting for `samsa
// cluster health --exit-when-healthy` between two nodes, under idempotent
// acks=all load and a committing group member. No write may fail, no
// partition may stall longer than maxRollingStall, each node must be back
// in every ISR before the next one goes, and nothing may be lost,
// duplicated or reordered.
func TestRollingRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s := startScenario(t, ctx, scenarioOptions{
		Cluster: procluster.Options{Nodes: 3, LogDir: LogDir(t)},
		Topic:   "rolling-restart", Partitions: 3, RF: 3, Producers: 2, Group: "rolling-restart-group",
	})
	c := s.c

	begin := time.Now()
	for _, n := range c.Nodes() {
		start := time.Now()
		c.Shutdown(n.ID)
		stopped := time.Since(start)
		c.Restart(n.ID)
		// What an operator runs between two nodes; then every node must
		// agree (the health check reads one broker's metadata).
		runCLI(t, ctx, "cluster", "health", "--brokers", strings.Join(c.Bootstrap(), ","),
			"--exit-when-healthy", "--interval", "100ms", "--timeout", "60s")
		if err := c.WaitReady(ctx); err != nil {
			t.Fatalf("after restarting node %d: %v", n.ID, err)
		}
		if err := WaitInISRAll(ctx, c, s.opt.Topic, n.ID); err != nil {
			t.Fatalf("node %d did not rejoin the ISR: %v", n.ID, err)
		}
		t.Logf("node %d: stopped in %v, back in every ISR %v after SIGTERM", n.ID,
			stopped.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
		s.waitProgress(t, ctx, "after a restart")
	}
	stall := s.load.MaxAckGap(begin, time.Now())
	t.Logf("longest stall of a partition during the rolling restart: %v", stall.Round(time.Millisecond))
	if stall > maxRollingStall {
		t.Errorf("a partition went %v without an acknowledged write, want <= %v", stall, maxRollingStall)
	}
	if _, failed, lastErr := s.load.Counts(); failed > 0 {
		t.Errorf("%d writes failed during a rolling restart (last: %v)", failed, lastErr)
	}
	s.check(t, ctx)
}
