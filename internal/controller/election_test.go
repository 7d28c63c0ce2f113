package controller

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

// electReq builds an ElectLeaders request; topics nil means all.
func electReq(typ int8, topics map[string][]int32) *kmsg.ElectLeadersRequest {
	req := kmsg.NewPtrElectLeadersRequest()
	req.Version = 2
	req.ElectionType = typ
	for name, parts := range topics {
		rt := kmsg.NewElectLeadersRequestTopic()
		rt.Topic, rt.Partitions = name, parts
		req.Topics = append(req.Topics, rt)
	}
	return req
}

func electCodes(resp *kmsg.ElectLeadersResponse) map[string]map[int32]*kerr.Error {
	out := map[string]map[int32]*kerr.Error{}
	for _, t := range resp.Topics {
		if out[t.Topic] == nil {
			out[t.Topic] = map[int32]*kerr.Error{}
		}
		for _, p := range t.Partitions {
			out[t.Topic][p.Partition] = codeErr(p.ErrorCode)
		}
	}
	return out
}

// preferredSetup: t-0 [1,2] led by 2 with 1 back in the ISR (preferred
// election possible), t-1 [1,2] led by 1 (not needed), t-2 [3,2] led by 2
// with 3 out of the ISR (preferred not available), u-0 [3] leaderless
// after 3 died (unclean needed).
func preferredSetup(t *testing.T) *cluster {
	cl := newCluster(t, 3)
	cl.topic("t", []int32{1, 2}, []int32{1, 2}, []int32{3, 2})
	cl.topic("u", []int32{3})
	// Broker 1 leaves and comes back: t-0 moves to 2 and 1 rejoins its ISR.
	cl.heartbeat(1, func(r *kmsg.BrokerHeartbeatRequest) { r.WantFence = true })
	cl.heartbeatAll(1)
	for _, p := range []int32{0, 1} {
		if err := cl.alterISR("t", p, 2, 1); err != nil {
			t.Fatal(err)
		}
	}
	// t-1 goes back to 1 by hand, so that only t-0 needs an election.
	if r := electCodes(cl.c.ElectLeaders(ctx(), electReq(0, map[string][]int32{"t": {1}}))); r["t"][1] != nil {
		t.Fatalf("setup: %v", r)
	}
	// Broker 3 leaves: t-2 moves to 2, u-0 keeps 3 without a leader; 3
	// comes back but is not in t-2's ISR yet.
	cl.heartbeat(3, func(r *kmsg.BrokerHeartbeatRequest) { r.WantFence = true })
	cl.wantPart("u", 0, -1, 3)
	cl.wantPart("t", 2, 2, 2)
	return cl
}

func TestElectLeaders(t *testing.T) {
	for _, tc := range []struct {
		name   string
		req    *kmsg.ElectLeadersRequest
		top    *kerr.Error
		want   map[string]map[int32]*kerr.Error
		leader map[string]map[int32]int32 // after
	}{
		{name: "preferred", req: electReq(0, map[string][]int32{"t": {0, 1, 2, 7}, "nope": {0}}),
			want: map[string]map[int32]*kerr.Error{
				"t":    {0: nil, 1: kerr.ElectionNotNeeded, 2: kerr.PreferredLeaderNotAvailable, 7: kerr.UnknownTopicOrPartition},
				"nope": {0: kerr.UnknownTopicOrPartition},
			},
			leader: map[string]map[int32]int32{"t": {0: 1, 1: 1, 2: 2}}},
		{name: "preferred, all partitions: not-needed left out", req: electReq(0, nil),
			want: map[string]map[int32]*kerr.Error{
				"t": {0: nil, 2: kerr.PreferredLeaderNotAvailable},
				"u": {0: kerr.PreferredLeaderNotAvailable},
			},
			leader: map[string]map[int32]int32{"t": {0: 1}}},
		{name: "unclean with a dead only replica", req: electReq(1, map[string][]int32{"u": {0}, "t": {0}}),
			want: map[string]map[int32]*kerr.Error{
				"u": {0: kerr.EligibleLeadersNotAvailable},
				"t": {0: kerr.ElectionNotNeeded},
			}},
		{name: "unknown type", req: electReq(5, map[string][]int32{"t": {0}}), top: kerr.InvalidRequest,
			want: map[string]map[int32]*kerr.Error{"t": {0: kerr.InvalidRequest}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := preferredSetup(t)
			resp := cl.c.ElectLeaders(ctx(), tc.req)
			if got := codeErr(resp.ErrorCode); got != tc.top {
				t.Fatalf("top-level %v, want %v", got, tc.top)
			}
			got := electCodes(resp)
			for topic, parts := range tc.want {
				for p, w := range parts {
					if g, ok := got[topic][p]; !ok || g != w {
						t.Errorf("%s-%d: %v (present %v), want %v", topic, p, g, ok, w)
					}
				}
			}
			for topic, parts := range got {
				for p := range parts {
					if _, ok := tc.want[topic][p]; !ok {
						t.Errorf("%s-%d answered, not expected", topic, p)
					}
				}
			}
			for topic, parts := range tc.leader {
				for p, l := range parts {
					if g := cl.part(topic, p).Leader; g != l {
						t.Errorf("%s-%d leader %d, want %d", topic, p, g, l)
					}
				}
			}
		})
	}
}

func TestUncleanElection(t *testing.T) {
	cl := newCluster(t, 3)
	cl.topic("t", []int32{1, 2})
	if err := cl.alterISR("t", 0, 1); err != nil {
		t.Fatal(err)
	}
	cl.heartbeat(1, func(r *kmsg.BrokerHeartbeatRequest) { r.WantFence = true })
	cl.wantPart("t", 0, -1, 1)
	got := electCodes(cl.c.ElectLeaders(ctx(), electReq(1, map[string][]int32{"t": {0}})))
	if got["t"][0] != nil {
		t.Fatalf("unclean election: %v", got)
	}
	cl.wantPart("t", 0, 2, 2)
}

func TestUncleanElectionFromConfig(t *testing.T) {
	for _, tc := range []struct {
		name   string
		static map[string]string
		topic  map[string]string
		leader int32
	}{
		{name: "default off", leader: -1},
		{name: "broker default on", static: map[string]string{"unclean.leader.election.enable": "true"}, leader: 2},
		{name: "topic override off beats broker on", static: map[string]string{"unclean.leader.election.enable": "true"},
			topic: map[string]string{"unclean.leader.election.enable": "false"}, leader: -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := newCluster(t, 2, func(cfg *Config) { cfg.StaticBrokerConfig = func() map[string]string { return tc.static } })
			cl.topic("t", []int32{1, 2})
			if tc.topic != nil {
				cl.m.apply(t, metadata.AlterConfigs{ResourceType: metadata.ResourceTopic, Name: "t", Set: tc.topic})
			}
			if err := cl.alterISR("t", 0, 1); err != nil {
				t.Fatal(err)
			}
			cl.heartbeat(1, func(r *kmsg.BrokerHeartbeatRequest) { r.WantFence = true })
			if got := cl.part("t", 0).Leader; got != tc.leader {
				t.Fatalf("leader %d, want %d", got, tc.leader)
			}
		})
	}
}

func TestAutoPreferredLeaderElection(t *testing.T) {
	for _, auto := range []bool{true, false} {
		cl := newCluster(t, 2, func(cfg *Config) {
			cfg.AutoLeaderRebalance = auto
			cfg.LeaderImbalanceCheckInterval = sec(30)
		})
		cl.topic("t", []int32{1, 2})
		cl.c.tick(ctx())
		cl.heartbeat(1, func(r *kmsg.BrokerHeartbeatRequest) { r.WantFence = true })
		cl.heartbeatAll(1)
		if err := cl.alterISR("t", 0, 2, 1); err != nil {
			t.Fatal(err)
		}
		cl.wantPart("t", 0, 2, 2, 1)
		for range 25 { // 25 s of a 30 s interval, heartbeating so nobody is fenced
			cl.clock.advance(sec(1))
			cl.heartbeatAll(1, 2)
			cl.c.tick(ctx())
			if cl.part("t", 0).Leader == 1 {
				t.Fatalf("auto=%v: elected before the interval", auto)
			}
		}
		for range 10 {
			cl.clock.advance(sec(1))
			cl.heartbeatAll(1, 2)
			cl.c.tick(ctx())
		}
		want := int32(2)
		if auto {
			want = 1
		}
		cl.wantPart("t", 0, want, 2, 1)
	}
}
