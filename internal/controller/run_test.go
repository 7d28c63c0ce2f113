package controller

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

// tickLog is a Log that reports every LeaderImage call.
type tickLog struct {
	*memLog
	calls chan struct{}
}

func (l *tickLog) LeaderImage(c context.Context) (metadata.Image, error) {
	select {
	case l.calls <- struct{}{}:
	default:
	}
	return l.memLog.LeaderImage(c)
}

func TestRunStopsWithContext(t *testing.T) {
	log := &tickLog{memLog: newMemLog(), calls: make(chan struct{}, 1)}
	c := New(log, Config{TickInterval: time.Millisecond, Logger: discard()})
	rctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(rctx)
	}()
	for range 3 { // three ticks
		select {
		case <-log.calls:
		case <-time.After(10 * time.Second):
			t.Fatal("Run does not tick")
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

func TestHandle(t *testing.T) {
	cl := newCluster(t, 1)
	for _, req := range []kmsg.Request{
		kmsg.NewPtrBrokerRegistrationRequest(), kmsg.NewPtrBrokerHeartbeatRequest(), kmsg.NewPtrAlterPartitionRequest(),
		kmsg.NewPtrAllocateProducerIDsRequest(), kmsg.NewPtrUnregisterBrokerRequest(), kmsg.NewPtrElectLeadersRequest(),
		kmsg.NewPtrAlterPartitionAssignmentsRequest(), kmsg.NewPtrListPartitionReassignmentsRequest(),
	} {
		resp, ok := cl.c.Handle(ctx(), req)
		if !ok || resp == nil || resp.Key() != req.Key() {
			t.Fatalf("%s: handled %v, response %T", kmsg.NameForKey(req.Key()), ok, resp)
		}
	}
	if _, ok := cl.c.Handle(ctx(), kmsg.NewPtrMetadataRequest()); ok {
		t.Fatal("Metadata handled by the controller")
	}
}

func TestPlacementUsesLiveBrokers(t *testing.T) {
	cl := newCluster(t, 3)
	cl.heartbeat(2, func(r *kmsg.BrokerHeartbeatRequest) { r.WantFence = true })
	res := cl.c.CreateTopics(ctx(), []TopicSpec{
		{Name: "rf3", NumPartitions: 1, ReplicationFactor: 3},
		{Name: "rf2", NumPartitions: 4, ReplicationFactor: 2},
		{Name: "manual", NumPartitions: -1, ReplicationFactor: -1, Assignments: []PartitionReplicas{{0, []int32{2, 3}}}},
		{Name: "allfenced", NumPartitions: -1, ReplicationFactor: -1, Assignments: []PartitionReplicas{{0, []int32{2}}}},
	}, false)
	checkErr(t, "rf3", res[0].Err, res[0].ErrMessage, kerr.InvalidReplicationFactor,
		"The target replication factor of 3 cannot be reached because only 2 broker(s) are registered.")
	checkErr(t, "rf2", res[1].Err, res[1].ErrMessage, nil, "")
	checkErr(t, "manual", res[2].Err, res[2].ErrMessage, nil, "")
	checkErr(t, "allfenced", res[3].Err, res[3].ErrMessage, kerr.InvalidReplicaAssignment, "fenced")
	for p := range int32(4) {
		if slices.Contains(cl.part("rf2", p).Replicas, 2) {
			t.Fatalf("rf2-%d placed on fenced broker 2", p)
		}
	}
	// A manual assignment may name a fenced broker, but it neither leads
	// nor starts in the ISR.
	cl.wantPart("manual", 0, 3, 3)
	if r := cl.c.CreatePartitions(ctx(), []PartitionsSpec{{Topic: "rf2", Count: 5, Assignments: [][]int32{{2, 1}}}}, false); r[0].Err != nil {
		t.Fatal(r[0].Err, r[0].ErrMessage)
	}
	cl.wantPart("rf2", 4, 1, 1)
}

// A fence that changes more partitions than fit in one Raft entry is
// split, with the FenceBroker record in the last entry.
func TestFenceManyPartitions(t *testing.T) {
	cl := newCluster(t, 2)
	n := maxChangesPerEntry + 10
	res := cl.c.CreateTopics(ctx(), []TopicSpec{{Name: "big", NumPartitions: int32(n), ReplicationFactor: 2}}, false)
	if res[0].Err != nil {
		t.Fatal(res[0].Err, res[0].ErrMessage)
	}
	before := cl.m.proposals
	cl.heartbeat(1, func(r *kmsg.BrokerHeartbeatRequest) { r.WantFence = true })
	if got := cl.m.proposals - before; got != 2 {
		t.Fatalf("%d entries, want 2", got)
	}
	last, ok := cl.m.proposedLog[len(cl.m.proposedLog)-1].(metadata.Batch)
	if !ok {
		t.Fatalf("last entry %T", cl.m.proposedLog[len(cl.m.proposedLog)-1])
	}
	if _, ok := last.Records[len(last.Records)-1].(metadata.FenceBroker); !ok {
		t.Fatal("FenceBroker is not the last record")
	}
	tp, _ := cl.img().Topic("big")
	for _, p := range tp.Partitions {
		if p.Leader != 2 || !slices.Equal(p.ISR, []int32{2}) {
			t.Fatalf("partition %d: leader %d ISR %v", p.Partition, p.Leader, p.ISR)
		}
	}
}

// TestRandomSchedules drives the controller with random schedules of
// broker pauses, restarts, controlled shutdowns, ISR changes,
// reassignments, elections and controller failovers, and checks after
// every step that no proposal was refused, no partition is led by a
// broker that is not live, a new leader always comes from the previous
// ISR (unclean election is off), and only AlterPartition adds ISR members.
func TestRandomSchedules(t *testing.T) {
	steps := 400
	if testing.Short() {
		steps = 100
	}
	for seed := range uint64(4) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			runSchedule(t, rand.New(rand.NewPCG(seed, 99)), steps)
		})
	}
}

type simBroker struct {
	up          bool
	exited      bool // after a controlled shutdown: only a restart brings it back
	incarnation byte
}

func runSchedule(t *testing.T, rng *rand.Rand, steps int) {
	const brokers = 4
	cl := newCluster(t, 0)
	sim := map[int32]*simBroker{}
	for id := int32(1); id <= brokers; id++ {
		sim[id] = &simBroker{up: true, incarnation: 1}
		if r := cl.c.BrokerRegistration(ctx(), registration(id, 1)); r.ErrorCode != 0 {
			t.Fatal(codeErr(r.ErrorCode))
		}
		cl.heartbeatAll(id)
	}
	res := cl.c.CreateTopics(ctx(), []TopicSpec{
		{Name: "a", NumPartitions: 4, ReplicationFactor: 3},
		{Name: "b", NumPartitions: 3, ReplicationFactor: 2},
	}, false)
	for _, r := range res {
		if r.Err != nil {
			t.Fatal(r.Err, r.ErrMessage)
		}
	}
	cl.c.tick(ctx())
	randPart := func() (string, int32) {
		if rng.IntN(2) == 0 {
			return "a", rng.Int32N(4)
		}
		return "b", rng.Int32N(3)
	}
	live := func() []int32 { return cl.img().LiveBrokerIDs() }

	for step := range steps {
		before := cl.img()
		op := rng.IntN(11)
		isrChange := false
		switch op {
		case 0, 1, 2: // time passes; running brokers heartbeat
			cl.clock.advance(time.Duration(100+rng.IntN(900)) * time.Millisecond)
			for id := int32(1); id <= brokers; id++ {
				if sim[id].up && rng.IntN(10) > 0 {
					cl.heartbeat(id)
				}
			}
			cl.c.tick(ctx())
		case 3: // pause (SIGSTOP)
			sim[1+rng.Int32N(brokers)].up = false
		case 4: // resume, or restart with a new incarnation
			id := 1 + rng.Int32N(brokers)
			if rng.IntN(2) == 0 || sim[id].exited {
				sim[id].incarnation++
				sim[id].exited = false
				if r := cl.c.BrokerRegistration(ctx(), registration(id, sim[id].incarnation)); r.ErrorCode != 0 {
					t.Fatalf("step %d: register: %v", step, codeErr(r.ErrorCode))
				}
			}
			sim[id].up = true
			cl.heartbeat(id)
		case 5, 6: // the leader expands or shrinks an ISR
			topic, p := randPart()
			cur := cl.part(topic, p)
			if cur.Leader == metadata.NoLeader {
				break
			}
			isr := slices.Clone(cur.ISR)
			if rng.IntN(2) == 0 {
				for _, r := range cur.Replicas {
					if !slices.Contains(isr, r) && slices.Contains(live(), r) {
						isr = append(isr, r)
						break
					}
				}
			} else if len(isr) > 1 {
				isr = without(isr, isr[rng.IntN(len(isr))])
				if !slices.Contains(isr, cur.Leader) {
					isr = append(isr, cur.Leader)
				}
			}
			isrChange = true
			if err := cl.alterISR(topic, p, isr...); err != nil && err != kerr.IneligibleReplica {
				t.Fatalf("step %d: AlterPartition %s-%d %v -> %v: %v", step, topic, p, cur.ISR, isr, err)
			}
		case 7: // reassign or cancel
			topic, p := randPart()
			cur := cl.part(topic, p)
			var target []int32
			if rng.IntN(3) > 0 {
				for _, b := range rng.Perm(brokers)[:len(cur.TargetReplicas())] {
					target = append(target, int32(b)+1)
				}
			}
			resp := cl.c.AlterPartitionReassignments(ctx(), reassignReqFor(topic, p, target))
			if c := codeErr(resp.Topics[0].Partitions[0].ErrorCode); c != nil && c != kerr.NoReassignmentInProgress && c != kerr.InvalidReplicaAssignment {
				t.Fatalf("step %d: reassign %s-%d to %v: %v", step, topic, p, target, c)
			}
		case 8: // preferred election everywhere
			cl.c.ElectLeaders(ctx(), electReq(0, nil))
		case 9: // controlled shutdown, then the process exits
			id := 1 + rng.Int32N(brokers)
			if sim[id].up {
				cl.heartbeat(id, func(r *kmsg.BrokerHeartbeatRequest) { r.WantShutdown = true })
				sim[id].up, sim[id].exited = false, true
			}
		case 10: // controller failover
			cl.restartController()
		}
		cl.checkInvariants()
		checkTransitions(t, step, op, before, cl.img(), isrChange)
	}
	// Everyone comes back and heartbeats for a while: every partition
	// gets a leader again.
	for id := int32(1); id <= brokers; id++ {
		if !sim[id].up || sim[id].exited {
			sim[id].incarnation++
			cl.c.BrokerRegistration(ctx(), registration(id, sim[id].incarnation))
		}
	}
	for range 5 {
		cl.clock.advance(sec(0.5))
		cl.heartbeatAll(1, 2, 3, 4)
		cl.c.tick(ctx())
	}
	cl.checkInvariants()
	for _, tp := range cl.img().Topics() {
		for _, p := range tp.Partitions {
			if p.Leader == metadata.NoLeader {
				t.Fatalf("%s-%d has no leader with every broker up (ISR %v)", tp.Name, p.Partition, p.ISR)
			}
		}
	}
}

func reassignReqFor(topic string, p int32, target []int32) *kmsg.AlterPartitionAssignmentsRequest {
	req := reassignReq(map[int32][]int32{p: target})
	req.Topics[0].Topic = topic
	return req
}

// checkTransitions checks each partition's change over one step: a new
// leader comes from the previous ISR, and the ISR gains members only by
// AlterPartition.
func checkTransitions(t *testing.T, step, op int, before, after metadata.Image, isrChange bool) {
	t.Helper()
	for _, ta := range after.Topics() {
		tb, ok := before.TopicByID(ta.ID)
		if !ok {
			continue
		}
		for i, pa := range ta.Partitions {
			pb := tb.Partitions[i]
			if isrChange {
				// An ISR change may complete a reassignment whose new
				// leader is a replica that joined the ISR with it.
				continue
			}
			if pa.Leader != pb.Leader && pa.Leader != metadata.NoLeader && !slices.Contains(pb.ISR, pa.Leader) {
				t.Fatalf("step %d (op %d): %s-%d leader %d was not in the ISR %v", step, op, ta.Name, i, pa.Leader, pb.ISR)
			}
			for _, r := range pa.ISR {
				if !slices.Contains(pb.ISR, r) {
					t.Fatalf("step %d (op %d): %s-%d ISR %v gained %d (was %v)", step, op, ta.Name, i, pa.ISR, r, pb.ISR)
				}
			}
		}
	}
}

// BenchmarkTick measures an idle tick (nothing to fence or repair) over
// 100,000 partitions: the cost Run pays every TickInterval.
func BenchmarkTick(b *testing.B) {
	t := &testing.T{}
	cl := newCluster(t, 5)
	res := cl.c.CreateTopics(ctx(), []TopicSpec{{Name: "big", NumPartitions: 100_000, ReplicationFactor: 3}}, false)
	if res[0].Err != nil {
		b.Fatal(res[0].Err)
	}
	cl.c.tick(ctx())
	proposals := cl.m.proposals
	b.ResetTimer()
	for range b.N {
		cl.c.tick(ctx())
	}
	b.StopTimer()
	if cl.m.proposals != proposals {
		b.Fatal("an idle tick proposed something")
	}
}
