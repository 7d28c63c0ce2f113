//go:build unix

package cluster_test

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/samsa-streaming/samsa/internal/testutil/checker"
	"github.com/samsa-streaming/samsa/internal/testutil/procluster"
)

// scenarioOptions configure startScenario.
type scenarioOptions struct {
	Cluster    procluster.Options
	Topic      string
	Partitions int32
	RF         int16 // replication factor, with min.insync.replicas=2
	Producers  int
	Group      string // "" runs no group member
}

// scenario is a cluster with a topic under checked load, the common start
// and end of the fault tests: run a fault in between, then call check.
type scenario struct {
	opt    scenarioOptions
	c      *procluster.Cluster
	adm    *kadm.Client
	h      *checker.History
	load   *Load
	member *GroupMember // nil without a group
}

// startScenario starts the cluster, creates the topic, starts the load (and
// the group member) and waits until they make progress. Everything stops
// when the test ends.
func startScenario(t *testing.T, ctx context.Context, opt scenarioOptions) *scenario {
	t.Helper()
	s := &scenario{opt: opt, h: checker.NewHistory()}
	s.c = procluster.Start(t, opt.Cluster)
	s.adm = NodeAdmin(t, s.c.Bootstrap()...)
	CreateTopic(t, ctx, s.adm, opt.Topic, opt.Partitions, opt.RF, map[string]string{"min.insync.replicas": "2"})
	s.load = StartLoad(t, s.c, s.h, LoadOptions{Topic: opt.Topic, Partitions: opt.Partitions, Producers: opt.Producers})
	t.Cleanup(func() { s.load.Stop(context.Background()) })
	if opt.Group != "" {
		s.member = StartGroupMember(t, s.c, s.h, "c0", opt.Group, opt.Topic)
	}
	s.waitProgress(t, ctx, "before the faults")
	return s
}

// waitProgress waits until the producers (and the group member) move on.
func (s *scenario) waitProgress(t *testing.T, ctx context.Context, when string) {
	t.Helper()
	if s.member != nil {
		waitProgress(t, ctx, when, s.load, s.member)
		return
	}
	if err := s.load.WaitAcked(ctx, 100); err != nil {
		t.Fatalf("%s: producer: %v", when, err)
	}
}

// check stops the load and the member, reads every partition back and
// requires the checker to find nothing lost, duplicated or reordered and
// the replicas to agree on disk after a clean stop.
func (s *scenario) check(t *testing.T, ctx context.Context) {
	t.Helper()
	s.load.Stop(ctx)
	if s.member != nil {
		s.member.Stop()
	}
	ReadAll(t, ctx, s.c, s.h, s.opt.Topic, s.opt.Partitions)
	r := s.h.Check()
	t.Log(r.String())
	if !r.OK() {
		t.Error("the checker found problems")
	}
	StopAndCompare(t, s.c, map[string]int32{s.opt.Topic: s.opt.Partitions})
}
