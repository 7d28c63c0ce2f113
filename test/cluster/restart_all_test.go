//go:build unix

package cluster_test

import (
	"context"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/testutil/checker"
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
	const (
		topic      = "whole-cluster-kill"
		partitions = 3
		group      = "whole-cluster-kill-group"
	)
	c := procluster.Start(t, procluster.Options{Nodes: 3, LogDir: LogDir(t)})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	adm := NodeAdmin(t, c.Bootstrap()...)
	CreateTopic(t, ctx, adm, topic, partitions, 3, map[string]string{"min.insync.replicas": "2"})

	h := checker.NewHistory()
	load := StartLoad(t, c, h, LoadOptions{Topic: topic, Partitions: partitions, Producers: 2})
	defer load.Stop(ctx)
	member := StartGroupMember(t, c, h, "c0", group, topic)
	waitProgress(t, ctx, "before the kill", load, member)

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
	// A fresh client: the first one's connections died with the nodes.
	if err := WaitFullISR(sctx, NodeAdmin(t, c.Bootstrap()...), topic, 3); err != nil {
		t.Fatalf("after restarting every node: %v", err)
	}
	t.Logf("every node serves %v and every ISR is full %v after the restart",
		ready.Round(time.Millisecond), time.Since(restarted).Round(time.Millisecond))
	waitProgress(t, ctx, "after the restart", load, member)

	load.Stop(ctx)
	member.Stop()
	ReadAll(t, ctx, c, h, topic, partitions)
	r := h.Check()
	t.Log(r.String())
	if !r.OK() {
		t.Error("the checker found problems")
	}
	StopAndCompare(t, c, map[string]int32{topic: partitions})
}
