//go:build unix

package cluster_test

import (
	"context"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/testutil/procluster"
)

// maxColdStart bounds how long after every node of a killed cluster was
// started again all of them serve and every partition has a full ISR.
const maxColdStart = 20 * time.Second

// TestWholeClusterKill SIGKILLs every node at once under acks=all load (a
// power cut of the whole cluster, as far as processes go: the page cache
// survives, as it does when only the processes die), starts them all
// again and requires the cluster back with full ISRs within maxColdStart,
// the producers and the group member carrying on, and nothing acknowledged
// lost, duplicated or reordered.
func TestWholeClusterKill(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := startScenario(t, ctx, scenarioOptions{
		Cluster: procluster.Options{Nodes: 3, LogDir: LogDir(t)},
		Topic:   "whole-cluster-kill", Partitions: 3, RF: 3, Producers: 2, Group: "whole-cluster-kill-group",
	})
	c := s.c

	for _, n := range c.Nodes() {
		c.Kill(n.ID)
	}
	t.Log("killed every node")
	faultWait(t, ctx, time.Second)
	restarted := time.Now()
	for _, n := range c.Nodes() {
		c.Restart(n.ID)
	}
	sctx, scancel := context.WithTimeout(ctx, maxColdStart)
	defer scancel()
	if err := c.WaitReady(sctx); err != nil {
		t.Fatalf("after restarting every node: %v", err)
	}
	ready := time.Since(restarted)
	if err := WaitFullISR(sctx, s.adm, s.opt.Topic, 3); err != nil {
		t.Fatalf("after restarting every node: %v", err)
	}
	t.Logf("every node serves %v and every ISR is full %v after the restart",
		ready.Round(time.Millisecond), time.Since(restarted).Round(time.Millisecond))
	s.waitProgress(t, ctx, "after the restart")
	s.check(t, ctx)
}
