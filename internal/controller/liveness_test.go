package controller

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

func registration(id int32, inc byte, listeners ...string) *kmsg.BrokerRegistrationRequest {
	req := kmsg.NewPtrBrokerRegistrationRequest()
	req.Version = 1
	req.BrokerID, req.IncarnationID = id, [16]byte{inc}
	if len(listeners) == 0 {
		listeners = []string{"PLAINTEXT"}
	}
	for i, name := range listeners {
		l := kmsg.NewBrokerRegistrationRequestListener()
		l.Name, l.Host, l.Port = name, "127.0.0.1", uint16(9000+int(id)*10+i)
		req.Listeners = append(req.Listeners, l)
	}
	return req
}

func TestBrokerRegistration(t *testing.T) {
	cl := newCluster(t, 0)
	cl.m.apply(t, metadata.InitCluster{ClusterID: "abc"})
	for _, tc := range []struct {
		name     string
		req      *kmsg.BrokerRegistrationRequest
		want     *kerr.Error
		wantPort int32
	}{
		{name: "plaintext listener chosen", req: registration(1, 1, "CONTROLLER", "PLAINTEXT"), wantPort: 9011},
		{name: "first listener otherwise", req: registration(2, 1, "EXTERNAL", "CONTROLLER"), wantPort: 9020},
		{name: "no listener", req: func() *kmsg.BrokerRegistrationRequest { r := registration(3, 1); r.Listeners = nil; return r }(),
			want: kerr.InvalidRequest},
		{name: "port zero", req: func() *kmsg.BrokerRegistrationRequest { r := registration(3, 1); r.Listeners[0].Port = 0; return r }(),
			want: kerr.InvalidRequest},
		{name: "other cluster", req: func() *kmsg.BrokerRegistrationRequest { r := registration(3, 1); r.ClusterID = "xyz"; return r }(),
			want: kerr.InconsistentClusterID},
		{name: "same cluster", req: func() *kmsg.BrokerRegistrationRequest { r := registration(3, 1); r.ClusterID = "abc"; return r }(),
			wantPort: 9030},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := cl.c.BrokerRegistration(ctx(), tc.req)
			if got := codeErr(resp.ErrorCode); got != tc.want && !(tc.want == nil && resp.ErrorCode == 0) {
				t.Fatalf("error %v, want %v", got, tc.want)
			}
			if tc.want != nil {
				return
			}
			b, ok := cl.img().Broker(tc.req.BrokerID)
			if !ok || b.Port != tc.wantPort || b.Epoch != resp.BrokerEpoch || !b.Fenced {
				t.Fatalf("broker %+v ok %v, epoch %d, want port %d and fenced", b, ok, resp.BrokerEpoch, tc.wantPort)
			}
		})
	}
	cl.m.leaderErr = metadata.ErrNotController
	if r := cl.c.BrokerRegistration(ctx(), registration(1, 1)); r.ErrorCode != kerr.NotController.Code {
		t.Fatalf("not controller: %v", codeErr(r.ErrorCode))
	}
	cl.m.leaderErr = nil
}

func TestHeartbeat(t *testing.T) {
	cl := newCluster(t, 0)
	reg := cl.c.BrokerRegistration(ctx(), registration(1, 1))
	epoch := reg.BrokerEpoch
	for _, tc := range []struct {
		name                   string
		mod                    func(*kmsg.BrokerHeartbeatRequest)
		want                   *kerr.Error
		caughtUp, fenced, shut bool
	}{
		{name: "unknown broker", mod: func(r *kmsg.BrokerHeartbeatRequest) { r.BrokerID = 9 }, want: kerr.BrokerIDNotRegistered, fenced: true},
		{name: "stale epoch", mod: func(r *kmsg.BrokerHeartbeatRequest) { r.BrokerEpoch = epoch - 1 }, want: kerr.StaleBrokerEpoch, fenced: true},
		{name: "behind stays fenced", mod: func(r *kmsg.BrokerHeartbeatRequest) { r.CurrentMetadataOffset = epoch - 1 }, fenced: true},
		{name: "wants fence stays fenced", mod: func(r *kmsg.BrokerHeartbeatRequest) { r.WantFence = true }, caughtUp: true, fenced: true},
		{name: "caught up unfences", caughtUp: true},
		{name: "still unfenced", caughtUp: true},
		{name: "want fence fences", mod: func(r *kmsg.BrokerHeartbeatRequest) { r.WantFence = true }, caughtUp: true, fenced: true},
		{name: "unfenced again", caughtUp: true},
		{name: "shutdown: fenced, not yet told to stop", mod: func(r *kmsg.BrokerHeartbeatRequest) { r.WantShutdown = true },
			caughtUp: true, fenced: true},
		{name: "shutdown: stop once the fence is applied", mod: func(r *kmsg.BrokerHeartbeatRequest) { r.WantShutdown = true },
			caughtUp: true, fenced: true, shut: true},
		{name: "never unfenced after shutdown", caughtUp: true, fenced: true, shut: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := cl.heartbeat(1, func(r *kmsg.BrokerHeartbeatRequest) {
				if tc.mod != nil {
					tc.mod(r)
				}
			})
			if got := codeErr(r.ErrorCode); got != tc.want && !(tc.want == nil && r.ErrorCode == 0) {
				t.Fatalf("error %v, want %v", got, tc.want)
			}
			if r.IsCaughtUp != tc.caughtUp || r.IsFenced != tc.fenced || r.ShouldShutdown != tc.shut {
				t.Fatalf("caught up %v fenced %v shutdown %v, want %v %v %v", r.IsCaughtUp, r.IsFenced, r.ShouldShutdown,
					tc.caughtUp, tc.fenced, tc.shut)
			}
			if tc.want == nil && cl.fenced(1) != tc.fenced {
				t.Fatalf("image says fenced=%v", cl.fenced(1))
			}
		})
	}
	cl.m.leaderErr = metadata.ErrNotController
	if r := cl.heartbeat(1); r.ErrorCode != kerr.NotController.Code || !r.IsFenced {
		t.Fatalf("not controller: %v fenced %v", codeErr(r.ErrorCode), r.IsFenced)
	}
	cl.m.leaderErr = nil
	// A new incarnation starts over: fenced, then unfenced by a heartbeat.
	r := cl.c.BrokerRegistration(ctx(), registration(1, 2))
	if r.ErrorCode != 0 || r.BrokerEpoch <= epoch {
		t.Fatalf("re-register: %v epoch %d", codeErr(r.ErrorCode), r.BrokerEpoch)
	}
	if hb := cl.heartbeat(1); hb.IsFenced || hb.ShouldShutdown {
		t.Fatalf("new incarnation after shutdown: %+v", hb)
	}
}

// Fencing scenarios: which brokers stop heartbeating, and the leader and
// ISR each partition must end with.
func TestLeaseExpiryFencesAndElects(t *testing.T) {
	type want struct {
		leader int32
		isr    []int32
	}
	for _, tc := range []struct {
		name     string
		replicas [][]int32
		isr      [][]int32 // shrunk by AlterPartition before the failure; nil keeps all
		unclean  bool
		silent   []int32 // brokers that stop heartbeating
		want     []want
	}{
		{name: "leader dies, next ISR member in replica order takes over",
			replicas: [][]int32{{1, 3, 2}}, silent: []int32{1}, want: []want{{3, []int32{3, 2}}}},
		{name: "follower dies, ISR shrinks, leader stays",
			replicas: [][]int32{{1, 2, 3}}, silent: []int32{2}, want: []want{{1, []int32{1, 3}}}},
		{name: "last ISR member dies: kept in the ISR, no leader",
			replicas: [][]int32{{1, 2}}, isr: [][]int32{{1}}, silent: []int32{1}, want: []want{{-1, []int32{1}}}},
		{name: "last ISR member dies, unclean topic: a live replica takes over",
			replicas: [][]int32{{1, 2}}, isr: [][]int32{{1}}, unclean: true, silent: []int32{1}, want: []want{{2, []int32{2}}}},
		{name: "two ISR members die together: both kept, no leader",
			replicas: [][]int32{{1, 2, 3}}, isr: [][]int32{{1, 2}}, silent: []int32{1, 2}, want: []want{{-1, []int32{1, 2}}}},
		{name: "whole cluster but one dies",
			replicas: [][]int32{{1, 2, 3}, {2, 3, 1}, {3, 1, 2}}, silent: []int32{1, 2},
			want: []want{{3, []int32{3}}, {3, []int32{3}}, {3, []int32{3}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := newCluster(t, 3)
			cl.topic("t", tc.replicas...)
			if tc.unclean {
				if r := cl.c.IncrementalAlterConfigs(ctx(), []IncrementalAlterConfigsResource{{Type: metadata.ResourceTopic, Name: "t",
					Ops: []ConfigOp{{"unclean.leader.election.enable", kmsg.IncrementalAlterConfigOpSet, str("true")}}}}, false); r[0].Err != nil {
					t.Fatal(r[0].Err)
				}
			}
			for p, isr := range tc.isr {
				if isr != nil {
					if r := cl.alterISR("t", int32(p), isr...); r != nil {
						t.Fatalf("shrink: %v", r)
					}
				}
			}
			cl.c.tick(ctx()) // becomes active: fresh leases
			alive := []int32{1, 2, 3}
			for _, s := range tc.silent {
				alive = without(alive, s)
			}
			for range 3 {
				cl.clock.advance(sec(0.9))
				cl.heartbeatAll(alive...)
				cl.c.tick(ctx())
			}
			for _, s := range tc.silent {
				if !cl.fenced(s) {
					t.Fatalf("broker %d not fenced", s)
				}
			}
			for _, a := range alive {
				if cl.fenced(a) {
					t.Fatalf("broker %d fenced", a)
				}
			}
			for p, w := range tc.want {
				cl.wantPart("t", int32(p), w.leader, w.isr...)
			}
		})
	}
}

// alterISR sends an AlterPartition from the partition's leader and
// returns its error (nil on success).
func (cl *cluster) alterISR(topic string, p int32, isr ...int32) *kerr.Error {
	cl.t.Helper()
	cur := cl.part(topic, p)
	req := kmsg.NewPtrAlterPartitionRequest()
	req.Version = 1
	req.BrokerID, req.BrokerEpoch = cur.Leader, cl.epoch(cur.Leader)
	rt := kmsg.NewAlterPartitionRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewAlterPartitionRequestTopicPartition()
	rp.Partition, rp.LeaderEpoch, rp.PartitionEpoch, rp.NewISR = p, cur.LeaderEpoch, cur.PartitionEpoch, isr
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := cl.c.AlterPartition(ctx(), req)
	if resp.ErrorCode != 0 {
		return codeErr(resp.ErrorCode)
	}
	return codeErr(resp.Topics[0].Partitions[0].ErrorCode)
}

func TestUnfenceElectsLeaderlessPartitions(t *testing.T) {
	cl := newCluster(t, 3)
	cl.topic("t", []int32{1, 2}, []int32{2, 3})
	if err := cl.alterISR("t", 0, 1); err != nil {
		t.Fatal(err)
	}
	cl.c.tick(ctx())
	cl.clock.advance(sec(2.5))
	cl.heartbeatAll(2, 3)
	cl.c.tick(ctx())
	cl.wantPart("t", 0, -1, 1)
	leaderEpoch := cl.part("t", 0).LeaderEpoch

	// Broker 1 comes back (same process, it was only paused): its first
	// caught-up heartbeat unfences it and it leads again.
	if r := cl.heartbeat(1); r.IsFenced || r.ErrorCode != 0 {
		t.Fatalf("heartbeat after pause: %+v", r)
	}
	cl.wantPart("t", 0, 1, 1)
	if got := cl.part("t", 0).LeaderEpoch; got <= leaderEpoch {
		t.Fatalf("leader epoch %d, was %d", got, leaderEpoch)
	}
	cl.wantPart("t", 1, 2, 2, 3)
}

func TestReRegistrationFencesOutOldIncarnation(t *testing.T) {
	cl := newCluster(t, 0)
	for id := int32(1); id <= 3; id++ {
		cl.c.BrokerRegistration(ctx(), registration(id, 1))
		cl.heartbeatAll(id)
	}
	cl.topic("t", []int32{1, 2, 3}, []int32{2, 1, 3})
	cl.topic("single", []int32{1})
	old := cl.epoch(1)
	// The same incarnation registering again is a no-op.
	if r := cl.c.BrokerRegistration(ctx(), registration(1, 1)); r.BrokerEpoch != old {
		t.Fatalf("duplicate registration changed the epoch: %d -> %d", old, r.BrokerEpoch)
	}
	// A restarted process: new incarnation, fenced, out of every ISR it
	// can leave, and no longer leading.
	r := cl.c.BrokerRegistration(ctx(), registration(1, 2))
	if r.ErrorCode != 0 || r.BrokerEpoch <= old || !cl.fenced(1) {
		t.Fatalf("re-registration: %v epoch %d fenced %v", codeErr(r.ErrorCode), r.BrokerEpoch, cl.fenced(1))
	}
	cl.wantPart("t", 0, 2, 2, 3)
	cl.wantPart("t", 1, 2, 2, 3)
	cl.wantPart("single", 0, -1, 1) // its only replica: kept, no leader
	// Once caught up, it is unfenced and leads its single-replica
	// partition again; the others wait for the leaders' ISR expansion.
	cl.heartbeatAll(1)
	cl.wantPart("single", 0, 1, 1)
	cl.wantPart("t", 0, 2, 2, 3)
}

func TestControlledShutdown(t *testing.T) {
	cl := newCluster(t, 3)
	cl.topic("t", []int32{1, 2}, []int32{2, 1})
	cl.topic("single", []int32{1})
	shut := func(r *kmsg.BrokerHeartbeatRequest) { r.WantShutdown = true }
	r := cl.heartbeat(1, shut)
	if r.ErrorCode != 0 || !r.IsFenced || r.ShouldShutdown {
		t.Fatalf("shutdown heartbeat: %+v", r)
	}
	// The broker must apply the fence before it is told to stop.
	behind := func(r *kmsg.BrokerHeartbeatRequest) {
		r.WantShutdown, r.CurrentMetadataOffset = true, r.CurrentMetadataOffset-1
	}
	if r := cl.heartbeat(1, behind); r.ShouldShutdown {
		t.Fatalf("told to stop before applying the fence: %+v", r)
	}
	if r := cl.heartbeat(1, shut); !r.ShouldShutdown {
		t.Fatalf("not told to stop after applying the fence: %+v", r)
	}
	cl.wantPart("t", 0, 2, 2)
	cl.wantPart("t", 1, 2, 2)
	cl.wantPart("single", 0, -1, 1)
	// The regular heartbeat loop still running must not unfence it.
	if r := cl.heartbeat(1); !r.IsFenced || !r.ShouldShutdown {
		t.Fatalf("after shutdown: %+v", r)
	}
	if err := cl.alterISR("t", 0, 2, 1); err != kerr.IneligibleReplica {
		t.Fatalf("adding a shut-down broker to an ISR: %v", err)
	}
}

func TestFailoverGivesFreshLeases(t *testing.T) {
	cl := newCluster(t, 3)
	cl.topic("t", []int32{1, 2, 3})
	cl.c.tick(ctx())
	cl.clock.advance(sec(1))
	cl.heartbeatAll(1, 2, 3)

	// The controller fails over; the new one starts long after the last
	// heartbeat it never saw, and must not fence anybody at once.
	cl.clock.advance(sec(30))
	cl.restartController()
	cl.c.tick(ctx())
	for id := int32(1); id <= 3; id++ {
		if cl.fenced(id) {
			t.Fatalf("broker %d fenced by the new controller", id)
		}
	}
	cl.clock.advance(sec(1.5))
	cl.heartbeatAll(2, 3)
	cl.clock.advance(sec(1))
	cl.c.tick(ctx())
	if !cl.fenced(1) || cl.fenced(2) || cl.fenced(3) {
		t.Fatal("only broker 1 should be fenced")
	}
	cl.wantPart("t", 0, 2, 2, 3)

	// Losing and regaining leadership on the same instance: fresh leases.
	cl.m.leaderErr = metadata.ErrNotController
	cl.c.tick(ctx())
	cl.m.leaderErr = nil
	cl.clock.advance(sec(10))
	cl.c.tick(ctx())
	if cl.fenced(2) || cl.fenced(3) {
		t.Fatal("regained leadership fenced brokers with stale leases")
	}
}

func TestUnregisterBroker(t *testing.T) {
	cl := newCluster(t, 3)
	cl.topic("t", []int32{1, 2})
	unreg := func(id int32) *kmsg.UnregisterBrokerResponse {
		req := kmsg.NewPtrUnregisterBrokerRequest()
		req.BrokerID = id
		return cl.c.UnregisterBroker(ctx(), req)
	}
	if r := unreg(9); r.ErrorCode != kerr.BrokerIDNotRegistered.Code {
		t.Fatalf("unknown: %v", codeErr(r.ErrorCode))
	}
	if r := unreg(2); r.ErrorCode != kerr.InvalidRequest.Code || r.ErrorMessage == nil {
		t.Fatalf("holding replicas: %v", codeErr(r.ErrorCode))
	}
	if r := unreg(3); r.ErrorCode != 0 {
		t.Fatalf("unregister 3: %v", codeErr(r.ErrorCode))
	}
	if _, ok := cl.img().Broker(3); ok {
		t.Fatal("broker 3 still registered")
	}
	if r := cl.heartbeat(1, func(r *kmsg.BrokerHeartbeatRequest) { r.BrokerID = 3 }); r.ErrorCode != kerr.BrokerIDNotRegistered.Code {
		t.Fatalf("heartbeat of unregistered: %v", codeErr(r.ErrorCode))
	}
}

func TestAllocateProducerIDsRequest(t *testing.T) {
	cl := newCluster(t, 1)
	req := kmsg.NewPtrAllocateProducerIDsRequest()
	req.BrokerID, req.BrokerEpoch = 1, cl.epoch(1)
	r := cl.c.AllocateProducerIDs(ctx(), req)
	if r.ErrorCode != 0 || r.ProducerIDStart != 0 || r.ProducerIDLen != DefaultProducerIDBlockSize {
		t.Fatalf("%+v", r)
	}
	req.BrokerEpoch++
	if r := cl.c.AllocateProducerIDs(ctx(), req); r.ErrorCode != kerr.StaleBrokerEpoch.Code {
		t.Fatalf("stale: %v", codeErr(r.ErrorCode))
	}
}

// A broker fenced for a lost lease (paused, cut off) keeps its epoch; it is
// unfenced only once its heartbeats show it applied the fence itself, so it
// never serves with the view it had before.
func TestUnfenceWaitsForTheFenceToBeApplied(t *testing.T) {
	cl := newCluster(t, 3)
	cl.topic("t", []int32{1, 2, 3})
	cl.c.tick(ctx())
	before := int64(cl.img().Index())
	cl.clock.advance(sec(2.5))
	cl.heartbeatAll(2, 3)
	cl.c.tick(ctx())
	if !cl.fenced(1) {
		t.Fatal("broker 1 not fenced after its lease expired")
	}
	// Back, but its metadata is from before the fence.
	behind := func(r *kmsg.BrokerHeartbeatRequest) { r.CurrentMetadataOffset = before }
	if r := cl.heartbeat(1, behind); !r.IsFenced || r.IsCaughtUp {
		t.Fatalf("unfenced with stale metadata: %+v", r)
	}
	if r := cl.heartbeat(1); r.IsFenced || !r.IsCaughtUp {
		t.Fatalf("still fenced once caught up: %+v", r)
	}
	cl.checkInvariants()
}
