package group

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// cmember is a KIP-848 test client: it remembers its id, epoch and what it
// owns, and reports ownership back like a real consumer.
type cmember struct {
	id    string
	epoch int32
	owned map[string][]int32 // topic -> partitions
}

func (h *harness) cgHeartbeat(m *cmember, epoch int32, subscribe []string, mutate func(*kmsg.ConsumerGroupHeartbeatRequest)) *kmsg.ConsumerGroupHeartbeatResponse {
	h.t.Helper()
	req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	req.Version, req.Group, req.MemberID, req.MemberEpoch = 1, "g", m.id, epoch
	req.SubscribedTopicNames = subscribe
	req.RebalanceTimeoutMillis = 30000
	if m.owned != nil {
		req.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
		for topic, ps := range m.owned {
			req.Topics = append(req.Topics, kmsg.ConsumerGroupHeartbeatRequestTopic{TopicID: topicID(topic), Partitions: ps})
		}
	}
	if mutate != nil {
		mutate(req)
	}
	id := h.id()
	h.apply(h.g.ConsumerHeartbeat(h.now, req, Client{ID: "k", Host: "/127.0.0.1"}, id))
	resp := h.replies[id].(*kmsg.ConsumerGroupHeartbeatResponse)
	if resp.ErrorCode == 0 {
		m.id, m.epoch = *resp.MemberID, resp.MemberEpoch
		if resp.Assignment != nil {
			m.owned = map[string][]int32{}
			for _, t := range resp.Assignment.Topics {
				name, _, _ := h.cfg.Topics.TopicByID(t.TopicID)
				m.owned[name] = slices.Sorted(slices.Values(t.Partitions))
			}
		}
	}
	return resp
}

// beat sends a regular heartbeat with the member's epoch and ownership.
func (h *harness) beat(m *cmember) *kmsg.ConsumerGroupHeartbeatResponse {
	h.t.Helper()
	resp := h.cgHeartbeat(m, m.epoch, nil, nil)
	h.code(resp.ErrorCode, nil)
	return resp
}

func count(ms ...*cmember) (total int, per []int, overlap bool) {
	seen := map[string]bool{}
	for _, m := range ms {
		n := 0
		for t, ps := range m.owned {
			for _, p := range ps {
				k := fmt.Sprint(t, p)
				if seen[k] {
					overlap = true
				}
				seen[k] = true
				n++
			}
		}
		per = append(per, n)
		total += n
	}
	return total, per, overlap
}

func TestConsumerGroupJoinRevokeAssign(t *testing.T) {
	h := newHarness(t, nil)
	a := &cmember{}
	r := h.cgHeartbeat(a, 0, []string{"t"}, nil)
	h.code(r.ErrorCode, nil)
	if total, _, _ := count(a); total != 6 || a.epoch != 1 || r.HeartbeatIntervalMillis != 5000 {
		t.Fatalf("first member: %v owned at epoch %d", a.owned, a.epoch)
	}
	h.state(StateStable)

	b := &cmember{}
	h.cgHeartbeat(b, 0, []string{"t"}, nil)
	if total, _, _ := count(b); total != 0 || b.epoch != 2 {
		t.Fatalf("second member got %v at epoch %d before a released anything", b.owned, b.epoch)
	}
	h.state(StateReconciling)
	// a is asked to revoke three partitions and keeps its epoch.
	h.beat(a)
	if total, _, _ := count(a); total != 3 || a.epoch != 1 {
		t.Fatalf("a after revoke request: %v epoch %d", a.owned, a.epoch)
	}
	// b still waits: a has not confirmed.
	h.beat(b)
	if total, _, _ := count(b); total != 0 {
		t.Fatalf("b got %v before a confirmed its revocation", b.owned)
	}
	h.beat(a) // a reports owning only its three: released
	if a.epoch != 2 {
		t.Fatalf("a epoch %d after releasing, want 2", a.epoch)
	}
	h.beat(b)
	total, per, overlap := count(a, b)
	if total != 6 || overlap || per[0] != 3 || per[1] != 3 {
		t.Fatalf("assignment %v %v: total %d per %v overlap %v", a.owned, b.owned, total, per, overlap)
	}
	h.state(StateStable)

	// b leaves: a gets everything back.
	r = h.cgHeartbeat(b, epochLeave, nil, nil)
	h.code(r.ErrorCode, nil)
	if r.MemberEpoch != -1 {
		t.Fatalf("leave answer epoch %d", r.MemberEpoch)
	}
	h.beat(a)
	if total, _, _ := count(a); total != 6 || a.epoch != 3 {
		t.Fatalf("a after b left: %v epoch %d", a.owned, a.epoch)
	}
}

func TestConsumerGroupErrors(t *testing.T) {
	h := newHarness(t, nil)
	a := &cmember{}
	h.cgHeartbeat(a, 0, []string{"t"}, nil)
	h.code(h.cgHeartbeat(&cmember{id: "ghost"}, 1, nil, nil).ErrorCode, kerr.UnknownMemberID)
	h.code(h.cgHeartbeat(&cmember{id: a.id}, a.epoch+5, nil, nil).ErrorCode, kerr.FencedMemberEpoch)
	h.code(h.cgHeartbeat(&cmember{}, 0, nil, nil).ErrorCode, kerr.InvalidRequest)
	bad := "nope"
	h.code(h.cgHeartbeat(&cmember{}, 0, []string{"t"}, func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.ServerAssignor = &bad }).ErrorCode, kerr.UnsupportedAssignor)
	re := "(["
	h.code(h.cgHeartbeat(&cmember{}, 0, nil, func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.SubscribedTopicRegex = &re }).ErrorCode, kerr.InvalidRegularExpression)

	// Commits: the member's epoch, or -1 by an admin once the group is empty.
	h.code(h.g.consumerCommitAllowed(h.now, a.id, a.epoch), nil)
	h.code(h.g.consumerCommitAllowed(h.now, a.id, a.epoch+1), kerr.StaleMemberEpoch)
	h.code(h.g.consumerCommitAllowed(h.now, "", -1), kerr.UnknownMemberID)

	// A classic join is refused while the group has consumer members.
	h.code(h.joinReply(h.join(joinOpts{})).ErrorCode, kerr.InconsistentGroupProtocol)
}

func TestConsumerGroupSessionExpiry(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.ConsumerSessionTimeout = 10 * time.Second })
	a, b := &cmember{}, &cmember{}
	h.cgHeartbeat(a, 0, []string{"t", "u"}, nil)
	h.cgHeartbeat(b, 0, []string{"t", "u"}, nil)
	for i := 0; i < 4; i++ {
		h.advance(3 * time.Second)
		h.beat(a)
	}
	if len(h.g.consumer.members) != 1 {
		t.Fatalf("%d members after b's session ended", len(h.g.consumer.members))
	}
	h.beat(a)
	if total, _, _ := count(a); total != 9 {
		t.Fatalf("a owns %v after b expired", a.owned)
	}
	h.advance(10 * time.Second)
	h.state(StateEmpty)
	h.code(h.g.consumerCommitAllowed(h.now, "", -1), nil)
	// An empty consumer group accepts classic members again.
	h.code(h.joinReply(h.join(joinOpts{})).ErrorCode, kerr.MemberIDRequired)
}

func TestConsumerGroupStaticMemberReturns(t *testing.T) {
	h := newHarness(t, nil)
	inst := "i"
	static := func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.InstanceID = &inst }
	a := &cmember{}
	h.cgHeartbeat(a, 0, []string{"t"}, static)
	epoch := a.epoch
	h.code(h.cgHeartbeat(a, epochStaticLeft, nil, static).ErrorCode, nil)
	other := &cmember{}
	h.code(h.cgHeartbeat(other, 0, []string{"t"}, static).ErrorCode, nil)
	if other.epoch != epoch || len(other.owned["t"]) != 6 {
		t.Fatalf("returning static member: epoch %d owned %v, want epoch %d and all partitions", other.epoch, other.owned, epoch)
	}
	h.code(h.cgHeartbeat(&cmember{}, 0, []string{"t"}, static).ErrorCode, kerr.UnreleasedInstanceID)
}

func TestConsumerGroupRegexAndTopicChanges(t *testing.T) {
	topics := fakeTopics{"t": 2, "u": 1, "other": 4}
	h := newHarness(t, func(c *Config) { c.Topics = topics })
	re := "^(t|u)$"
	a := &cmember{}
	h.cgHeartbeat(a, 0, nil, func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.SubscribedTopicRegex = &re })
	if total, _, _ := count(a); total != 3 {
		t.Fatalf("regex subscription owns %v", a.owned)
	}
	topics["t"] = 4
	h.apply(h.g.TopicsChanged(h.now))
	h.beat(a)
	if total, _, _ := count(a); total != 5 || a.epoch != 2 {
		t.Fatalf("after t grew: %v at epoch %d", a.owned, a.epoch)
	}
}
