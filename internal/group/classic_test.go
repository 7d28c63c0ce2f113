package group

import (
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestFirstJoinNeedsMemberID(t *testing.T) {
	h := newHarness(t, nil)
	first := h.join(joinOpts{client: "cl"})
	resp := h.joinReply(first)
	h.code(resp.ErrorCode, kerr.MemberIDRequired)
	if resp.MemberID != "cl-1" {
		t.Fatalf("member id %q, want cl-1", resp.MemberID)
	}
	h.state(StateEmpty)

	// Before v4 the member joins at once.
	old := h.join(joinOpts{client: "old", version: 3})
	h.parked(old)
	h.state(StatePreparingRebalance)

	// The pending id is honoured; the initial delay then ends the join.
	second := h.join(joinOpts{member: "cl-1"})
	h.parked(second)
	h.advance(2 * time.Second)
	h.parked(second)
	h.advance(time.Second)
	h.state(StateCompletingRebalance)
	leader := h.joinReply(old)
	if leader.Generation != 1 || leader.LeaderID != "old-2" || len(leader.Members) != 2 {
		t.Fatalf("leader answer %+v", leader)
	}
	if follower := h.joinReply(second); follower.LeaderID != "old-2" || len(follower.Members) != 0 || follower.MemberID != "cl-1" {
		t.Fatalf("follower answer %+v", follower)
	}
}

func TestPendingMemberIDExpires(t *testing.T) {
	h := newHarness(t, nil)
	resp := h.joinReply(h.join(joinOpts{}))
	h.advance(10 * time.Second)
	if len(h.g.pending) != 0 {
		t.Fatalf("pending ids %v after the session timeout", h.g.pending)
	}
	h.code(h.joinReply(h.join(joinOpts{member: resp.MemberID})).ErrorCode, kerr.UnknownMemberID)
}

func TestInitialDelayExtendsPerNewMember(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.InitialRebalanceDelay = 3 * time.Second })
	a, _ := h.joinNew(joinOpts{rebalance: 7 * time.Second})
	h.advance(2 * time.Second)
	b, _ := h.joinNew(joinOpts{rebalance: 7 * time.Second})
	h.advance(2 * time.Second) // 4 s: the second join moved the end to 5 s
	h.parked(a)
	h.advance(time.Second)
	h.state(StateCompletingRebalance)
	h.joinReply(a)
	h.joinReply(b)
}

func TestRebalanceOnNewMemberAndHeartbeats(t *testing.T) {
	h := newHarness(t, nil)
	ids := h.stable(2)
	if got := h.syncReply(RequestID(0) + h.next).MemberAssignment; string(got) != "a-"+ids[0] {
		t.Fatalf("leader assignment %q", got)
	}
	gen := h.g.generation
	h.code(h.heartbeat(ids[1], gen), nil)

	j3, id3 := h.joinNew(joinOpts{client: "c3"})
	h.state(StatePreparingRebalance)
	h.code(h.heartbeat(ids[0], gen), kerr.RebalanceInProgress)
	h.code(h.heartbeat(ids[0], gen-1), kerr.IllegalGeneration)
	h.code(h.heartbeat("nobody", gen), kerr.UnknownMemberID)
	h.code(h.syncReply(h.sync(ids[1], gen, nil)).ErrorCode, kerr.RebalanceInProgress)

	j1 := h.join(joinOpts{member: ids[0]})
	h.parked(j1)
	j2 := h.join(joinOpts{member: ids[1]})
	// Everyone rejoined: no waiting for the rebalance timeout.
	h.state(StateCompletingRebalance)
	for _, j := range []RequestID{j1, j2, j3} {
		if r := h.joinReply(j); r.Generation != gen+1 || r.LeaderID != ids[0] {
			t.Fatalf("join answer %+v, want generation %d led by %s", r, gen+1, ids[0])
		}
	}
	if n := len(h.joinReply(j1).Members); n != 3 {
		t.Fatalf("leader got %d members", n)
	}
	// A heartbeat between join and sync is fine.
	h.code(h.heartbeat(id3, gen+1), nil)
}

func TestMemberThatDoesNotRejoinIsRemoved(t *testing.T) {
	h := newHarness(t, nil)
	ids := h.stable(2)
	gen := h.g.generation
	j := h.join(joinOpts{member: ids[1], metadata: "changed"})
	h.state(StatePreparingRebalance)
	for i := 0; i < 6; i++ {
		h.parked(j)
		// Heartbeats keep the session, but only a rejoin counts.
		h.code(h.heartbeat(ids[0], gen), kerr.RebalanceInProgress)
		h.advance(5 * time.Second)
	}
	h.state(StateCompletingRebalance)
	r := h.joinReply(j)
	if r.LeaderID != ids[1] || len(r.Members) != 1 {
		t.Fatalf("join answer %+v: the remaining member must lead alone", r)
	}
	h.code(h.heartbeat(ids[0], gen), kerr.UnknownMemberID)
}

func TestSessionExpiryRebalancesThenEmpties(t *testing.T) {
	h := newHarness(t, nil)
	ids := h.stable(2)
	gen := h.g.generation
	for i := 0; i < 2; i++ {
		h.advance(4 * time.Second)
		h.code(h.heartbeat(ids[0], gen), nil)
	}
	// ids[1] never heartbeated: it expires 10 s after its sync.
	h.advance(4 * time.Second)
	h.state(StatePreparingRebalance)
	h.code(h.heartbeat(ids[0], gen), kerr.RebalanceInProgress)
	j := h.join(joinOpts{member: ids[0]})
	h.state(StateCompletingRebalance)
	if r := h.joinReply(j); len(r.Members) != 1 || r.Generation != gen+1 {
		t.Fatalf("join answer %+v", r)
	}
	h.code(h.syncReply(h.sync(ids[0], gen+1, map[string]string{ids[0]: "all"})).ErrorCode, nil)
	h.advance(10 * time.Second)
	h.state(StateEmpty)
	if h.g.generation != gen+2 {
		t.Fatalf("generation %d after the last member expired, want %d", h.g.generation, gen+2)
	}
	last := h.written[len(h.written)-1]
	var v kmsg.GroupMetadataValue
	if err := v.ReadFrom(last.Value); err != nil || len(v.Members) != 0 || v.Generation != gen+2 {
		t.Fatalf("last group record %+v (%v), want an empty generation %d", v, err, gen+2)
	}
}

func TestMemberThatNeverSyncsIsRemoved(t *testing.T) {
	h := newHarness(t, nil)
	ids := h.stable(2)
	gen := h.g.generation
	h.join(joinOpts{member: ids[0], metadata: "x"})
	h.join(joinOpts{member: ids[1], metadata: "x"})
	h.state(StateCompletingRebalance)
	s := h.sync(ids[1], gen+1, nil)
	for i := 0; i < 6; i++ {
		h.parked(s)
		h.code(h.heartbeat(ids[1], gen+1), nil)
		h.code(h.heartbeat(ids[0], gen+1), nil) // alive, but the leader never syncs
		h.advance(5 * time.Second)
	}
	h.code(h.syncReply(s).ErrorCode, kerr.RebalanceInProgress)
	h.state(StatePreparingRebalance)
	if h.g.members[ids[0]] != nil || h.g.members[ids[1]] == nil {
		t.Fatalf("members %v: the leader that did not sync must be gone", h.g.members)
	}
}

func TestFailedAssignmentWriteRebalances(t *testing.T) {
	h := newHarness(t, nil)
	j1, m1 := h.joinNew(joinOpts{})
	h.advance(3 * time.Second)
	gen := h.joinReply(j1).Generation
	h.hold = true
	s := h.sync(m1, gen, map[string]string{m1: "x"})
	h.parked(s)
	h.release(kerr.NotLeaderForPartition)
	h.code(h.syncReply(s).ErrorCode, kerr.NotCoordinator)
	h.state(StatePreparingRebalance)
}

func TestJoinErrors(t *testing.T) {
	h := newHarness(t, nil)
	h.stable(1)
	for _, tc := range []struct {
		name string
		o    joinOpts
		want *kerr.Error
	}{
		{"session too short", joinOpts{session: 5 * time.Second}, kerr.InvalidSessionTimeout},
		{"session too long", joinOpts{session: 31 * time.Minute}, kerr.InvalidSessionTimeout},
		{"no common protocol", joinOpts{protocols: []string{"roundrobin"}}, kerr.InconsistentGroupProtocol},
		{"unknown member", joinOpts{member: "ghost"}, kerr.UnknownMemberID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.t = t
			h.code(h.joinReply(h.join(tc.o)).ErrorCode, tc.want)
		})
	}
}

func TestGroupMaxSize(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxGroupSize = 2 })
	h.joinNew(joinOpts{})
	h.joinNew(joinOpts{})
	h.code(h.joinReply(h.join(joinOpts{})).ErrorCode, kerr.GroupMaxSizeReached)
}

func TestProtocolSelectedByVote(t *testing.T) {
	h := newHarness(t, nil)
	j1, _ := h.joinNew(joinOpts{protocols: []string{"range", "sticky"}})
	h.joinNew(joinOpts{protocols: []string{"sticky", "range"}})
	h.joinNew(joinOpts{protocols: []string{"sticky", "roundrobin", "range"}})
	h.advance(3 * time.Second)
	if p := *h.joinReply(j1).Protocol; p != "sticky" {
		t.Fatalf("protocol %q, want sticky (two votes to one)", p)
	}
}

func TestStaticMemberReplacedWithoutRebalance(t *testing.T) {
	h := newHarness(t, nil)
	j1 := h.join(joinOpts{instance: "i1", client: "a"}) // no MEMBER_ID_REQUIRED for static members
	j2 := h.join(joinOpts{instance: "i2", client: "b"})
	h.advance(3 * time.Second)
	r1, r2 := h.joinReply(j1), h.joinReply(j2)
	gen := r1.Generation
	h.sync(r2.MemberID, gen, nil)
	h.sync(r1.MemberID, gen, map[string]string{r1.MemberID: "p0", r2.MemberID: "p1"})
	h.state(StateStable)

	// i2 restarts and comes back without its member id.
	j := h.join(joinOpts{instance: "i2", client: "b"})
	r := h.joinReply(j)
	h.code(r.ErrorCode, nil)
	if r.MemberID == r2.MemberID || r.Generation != gen {
		t.Fatalf("rejoin answer %+v: want a new member id in generation %d", r, gen)
	}
	h.state(StateStable)
	if s := h.syncReply(h.sync(r.MemberID, gen, nil)); string(s.MemberAssignment) != "p1" {
		t.Fatalf("replaced member's assignment %q, want p1", s.MemberAssignment)
	}
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Version, hb.Group, hb.MemberID, hb.Generation = 4, "g", r2.MemberID, gen
	inst := "i2"
	hb.InstanceID = &inst
	id := h.id()
	h.apply(h.g.Heartbeat(h.now, hb, id))
	h.code(h.replies[id].(*kmsg.HeartbeatResponse).ErrorCode, kerr.FencedInstanceID)

	// The leader's replacement is told to skip the assignment (v9).
	jl := h.join(joinOpts{instance: "i1", client: "a", version: 9})
	if rl := h.joinReply(jl); !rl.SkipAssignment || rl.LeaderID != rl.MemberID || len(rl.Members) != 2 {
		t.Fatalf("leader rejoin %+v", rl)
	}
}

func TestLeaveGroupBatch(t *testing.T) {
	h := newHarness(t, nil)
	s1 := h.join(joinOpts{instance: "i1"})
	h.advance(3 * time.Second)
	h.sync(h.joinReply(s1).MemberID, 1, nil)
	_, dyn := h.joinNew(joinOpts{})
	h.state(StatePreparingRebalance)

	req := kmsg.NewPtrLeaveGroupRequest()
	req.Version, req.Group = 5, "g"
	inst := "i1"
	req.Members = []kmsg.LeaveGroupRequestMember{{MemberID: dyn}, {InstanceID: &inst}, {MemberID: "ghost"}}
	id := h.id()
	h.apply(h.g.Leave(h.now, req, id))
	resp := h.replies[id].(*kmsg.LeaveGroupResponse)
	want := []int16{0, 0, kerr.UnknownMemberID.Code}
	for i, m := range resp.Members {
		if m.ErrorCode != want[i] {
			t.Fatalf("member %d: error %d, want %d", i, m.ErrorCode, want[i])
		}
	}
	h.state(StateEmpty)

	old := kmsg.NewPtrLeaveGroupRequest()
	old.Version, old.Group, old.MemberID = 1, "g", "ghost"
	id = h.id()
	h.apply(h.g.Leave(h.now, old, id))
	h.code(h.replies[id].(*kmsg.LeaveGroupResponse).ErrorCode, kerr.UnknownMemberID)
}

func TestRejoinWhileParkedAnswersOldRequest(t *testing.T) {
	h := newHarness(t, nil)
	first, m := h.joinNew(joinOpts{})
	second := h.join(joinOpts{member: m})
	h.code(h.joinReply(first).ErrorCode, kerr.RebalanceInProgress)
	h.parked(second)
}

func TestStoreErrorCodes(t *testing.T) {
	for _, tc := range []struct {
		err    error
		commit bool
		want   *kerr.Error
	}{
		{kerr.NotLeaderForPartition, false, kerr.NotCoordinator},
		{kerr.MessageTooLarge, true, kerr.InvalidCommitOffsetSize},
		{kerr.MessageTooLarge, false, kerr.UnknownServerError},
		{kerr.RequestTimedOut, true, kerr.CoordinatorNotAvailable},
		{errors.New("disk on fire"), true, kerr.UnknownServerError},
	} {
		if got := storeErrorCode(tc.err, tc.commit); got != tc.want.Code {
			t.Errorf("%v (commit %v): %d, want %v", tc.err, tc.commit, got, tc.want)
		}
	}
}
