package groups

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func wantCode(t *testing.T, what string, got int16, want *kerr.Error) {
	t.Helper()
	wantCode := int16(0)
	if want != nil {
		wantCode = want.Code
	}
	if got != wantCode {
		t.Errorf("%s: %v, want %v", what, kerr.ErrorForCode(got), want)
	}
}

func joinReq(version int16, member string) *kmsg.JoinGroupRequest {
	req := kmsg.NewPtrJoinGroupRequest()
	req.Version, req.Group, req.MemberID, req.ProtocolType = version, "pg", member, "consumer"
	req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = 6000, 10000
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Topics = []string{"pt"}
	req.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: meta.AppendTo(nil)}}
	return req
}

// TestProtocolErrors checks the group APIs' answers at the wire, at pinned
// versions: the errors Kafka specifies and the batched forms.
func TestProtocolErrors(t *testing.T) {
	t.Parallel()
	n := startNode(t, "")
	addr := n.KafkaAddr()
	setup(t, addr, "pt", 3, 0)
	c := dialRaw(t, addr)

	// FindCoordinator: one key (v3), batched keys (v4+), transactions.
	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.Version, fc.CoordinatorKey = 3, "pg"
	r3 := c.do(fc).(*kmsg.FindCoordinatorResponse)
	wantCode(t, "FindCoordinator v3", r3.ErrorCode, nil)
	if r3.NodeID != 1 || r3.Port <= 0 {
		t.Errorf("FindCoordinator v3: node %d port %d", r3.NodeID, r3.Port)
	}
	fc = kmsg.NewPtrFindCoordinatorRequest()
	fc.Version, fc.CoordinatorKeys = 6, []string{"a", "b"}
	r6 := c.do(fc).(*kmsg.FindCoordinatorResponse)
	if len(r6.Coordinators) != 2 || r6.Coordinators[1].Key != "b" || r6.Coordinators[1].NodeID != 1 {
		t.Errorf("FindCoordinator v6: %+v", r6.Coordinators)
	}
	fc.CoordinatorType = 1
	wantCode(t, "FindCoordinator transaction", c.do(fc).(*kmsg.FindCoordinatorResponse).Coordinators[0].ErrorCode, kerr.CoordinatorNotAvailable)

	// JoinGroup. The coordinator may still be loading its freshly created
	// __consumer_offsets partition: COORDINATOR_LOAD_IN_PROGRESS is
	// retriable, so retry until it has loaded.
	bad := joinReq(5, "")
	bad.SessionTimeoutMillis = 1000
	code := c.do(bad).(*kmsg.JoinGroupResponse).ErrorCode
	for deadline := time.Now().Add(10 * time.Second); code == kerr.CoordinatorLoadInProgress.Code && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond) // polling a retriable state, as clients do
		code = c.do(bad).(*kmsg.JoinGroupResponse).ErrorCode
	}
	wantCode(t, "JoinGroup short session", code, kerr.InvalidSessionTimeout)
	first := c.do(joinReq(5, "")).(*kmsg.JoinGroupResponse)
	wantCode(t, "JoinGroup without member id", first.ErrorCode, kerr.MemberIDRequired)
	joined := c.do(joinReq(5, first.MemberID)).(*kmsg.JoinGroupResponse) // parked for the initial delay
	wantCode(t, "JoinGroup", joined.ErrorCode, nil)
	if joined.LeaderID != first.MemberID || len(joined.Members) != 1 || joined.Generation != 1 {
		t.Fatalf("JoinGroup answer %+v", joined)
	}
	member, gen := first.MemberID, joined.Generation

	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Version, hb.Group, hb.MemberID, hb.Generation = 4, "pg", "ghost", gen
	wantCode(t, "Heartbeat unknown member", c.do(hb).(*kmsg.HeartbeatResponse).ErrorCode, kerr.UnknownMemberID)
	sg := kmsg.NewPtrSyncGroupRequest()
	sg.Version, sg.Group, sg.MemberID, sg.Generation = 5, "pg", member, gen+1
	wantCode(t, "SyncGroup wrong generation", c.do(sg).(*kmsg.SyncGroupResponse).ErrorCode, kerr.IllegalGeneration)
	sg.Generation = gen
	asg := kmsg.NewConsumerMemberAssignment()
	asg.Topics = []kmsg.ConsumerMemberAssignmentTopic{{Topic: "pt", Partitions: []int32{0, 1, 2}}}
	sg.GroupAssignment = []kmsg.SyncGroupRequestGroupAssignment{
		{MemberID: member, MemberAssignment: asg.AppendTo(nil)},
		{MemberID: "not-a-member", MemberAssignment: []byte("ignored")},
	}
	synced := c.do(sg).(*kmsg.SyncGroupResponse)
	wantCode(t, "SyncGroup", synced.ErrorCode, nil)
	if len(synced.MemberAssignment) == 0 || synced.Protocol == nil || *synced.Protocol != "range" {
		t.Errorf("SyncGroup answer %+v", synced)
	}
	hb.MemberID, hb.Generation = member, gen-1
	wantCode(t, "Heartbeat old generation", c.do(hb).(*kmsg.HeartbeatResponse).ErrorCode, kerr.IllegalGeneration)
	hb.Generation = gen
	wantCode(t, "Heartbeat", c.do(hb).(*kmsg.HeartbeatResponse).ErrorCode, nil)

	// OffsetCommit / OffsetFetch.
	oc := kmsg.NewPtrOffsetCommitRequest()
	oc.Version, oc.Group, oc.MemberID, oc.Generation = 8, "pg", member, gen
	oc.Topics = []kmsg.OffsetCommitRequestTopic{
		{Topic: "pt", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 1, Offset: 5, LeaderEpoch: -1}, {Partition: 9, Offset: 1}}},
		{Topic: "missing", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 1}}},
	}
	ocr := c.do(oc).(*kmsg.OffsetCommitResponse)
	wantCode(t, "OffsetCommit", ocr.Topics[0].Partitions[0].ErrorCode, nil)
	wantCode(t, "OffsetCommit unknown partition", ocr.Topics[0].Partitions[1].ErrorCode, kerr.UnknownTopicOrPartition)
	wantCode(t, "OffsetCommit unknown topic", ocr.Topics[1].Partitions[0].ErrorCode, kerr.UnknownTopicOrPartition)
	oc.Generation = gen + 7
	wantCode(t, "OffsetCommit wrong generation", c.do(oc).(*kmsg.OffsetCommitResponse).Topics[0].Partitions[0].ErrorCode, kerr.IllegalGeneration)

	of := kmsg.NewPtrOffsetFetchRequest()
	of.Version, of.RequireStable = 8, true
	of.Groups = []kmsg.OffsetFetchRequestGroup{{Group: "pg"}, {Group: "nobody", Topics: []kmsg.OffsetFetchRequestGroupTopic{{Topic: "pt", Partitions: []int32{0}}}}}
	ofr := c.do(of).(*kmsg.OffsetFetchResponse)
	if len(ofr.Groups) != 2 || len(ofr.Groups[0].Topics) != 1 || ofr.Groups[0].Topics[0].Partitions[0].Offset != 5 {
		t.Errorf("OffsetFetch v8 group pg: %+v", ofr.Groups)
	} else if p := ofr.Groups[1].Topics[0].Partitions[0]; p.Offset != -1 || p.ErrorCode != 0 {
		t.Errorf("OffsetFetch v8 unknown group: %+v", p)
	}
	of1 := kmsg.NewPtrOffsetFetchRequest()
	of1.Version, of1.Group = 1, "pg"
	of1.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: "pt", Partitions: []int32{1, 2}}}
	if r := c.do(of1).(*kmsg.OffsetFetchResponse); len(r.Topics) != 1 || r.Topics[0].Partitions[0].Offset != 5 || r.Topics[0].Partitions[1].Offset != -1 {
		t.Errorf("OffsetFetch v1: %+v", r.Topics)
	}

	// Describe, list, delete.
	dg := kmsg.NewPtrDescribeGroupsRequest()
	dg.Version, dg.Groups = 6, []string{"pg", "nobody"}
	dgr := c.do(dg).(*kmsg.DescribeGroupsResponse)
	if g := dgr.Groups[0]; g.State != "Stable" || g.Protocol != "range" || len(g.Members) != 1 || g.Members[0].ClientHost != "/127.0.0.1" {
		t.Errorf("DescribeGroups pg: %+v", g)
	}
	wantCode(t, "DescribeGroups v6 unknown group", dgr.Groups[1].ErrorCode, kerr.GroupIDNotFound)
	dg.Version = 5
	if g := c.do(dg).(*kmsg.DescribeGroupsResponse).Groups[1]; g.ErrorCode != 0 || g.State != "Dead" {
		t.Errorf("DescribeGroups v5 unknown group: %+v", g)
	}
	lg := kmsg.NewPtrListGroupsRequest()
	lg.Version, lg.StatesFilter = 5, []string{"Stable"}
	if r := c.do(lg).(*kmsg.ListGroupsResponse); len(r.Groups) != 1 || r.Groups[0].Group != "pg" || r.Groups[0].GroupType != "classic" {
		t.Errorf("ListGroups Stable: %+v", r.Groups)
	}
	lg.StatesFilter = []string{"Empty"}
	if r := c.do(lg).(*kmsg.ListGroupsResponse); len(r.Groups) != 0 {
		t.Errorf("ListGroups Empty: %+v", r.Groups)
	}
	del := kmsg.NewPtrDeleteGroupsRequest()
	del.Version, del.Groups = 2, []string{"pg", "nobody"}
	delr := c.do(del).(*kmsg.DeleteGroupsResponse)
	wantCode(t, "DeleteGroups active group", delr.Groups[0].ErrorCode, kerr.NonEmptyGroup)
	wantCode(t, "DeleteGroups unknown group", delr.Groups[1].ErrorCode, kerr.GroupIDNotFound)

	od := kmsg.NewPtrOffsetDeleteRequest()
	od.Group = "pg"
	od.Topics = []kmsg.OffsetDeleteRequestTopic{{Topic: "pt", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 1}}}}
	wantCode(t, "OffsetDelete subscribed topic", c.do(od).(*kmsg.OffsetDeleteResponse).Topics[0].Partitions[0].ErrorCode, kerr.GroupSubscribedToTopic)

	// LeaveGroup v3+: a batch, with an unknown member.
	lv := kmsg.NewPtrLeaveGroupRequest()
	lv.Version, lv.Group = 5, "pg"
	lv.Members = []kmsg.LeaveGroupRequestMember{{MemberID: member}, {MemberID: "ghost"}}
	lvr := c.do(lv).(*kmsg.LeaveGroupResponse)
	wantCode(t, "LeaveGroup member", lvr.Members[0].ErrorCode, nil)
	wantCode(t, "LeaveGroup ghost", lvr.Members[1].ErrorCode, kerr.UnknownMemberID)

	// Now empty: offsets can be deleted, then the group.
	wantCode(t, "OffsetDelete after leave", c.do(od).(*kmsg.OffsetDeleteResponse).Topics[0].Partitions[0].ErrorCode, nil)
	del.Groups = []string{"pg"}
	wantCode(t, "DeleteGroups empty group", c.do(del).(*kmsg.DeleteGroupsResponse).Groups[0].ErrorCode, nil)
	wantCode(t, "Heartbeat after delete", c.do(hb).(*kmsg.HeartbeatResponse).ErrorCode, kerr.UnknownMemberID)
}

// TestStaticMembershipFencing: a static member (group.instance.id) that
// comes back without its member id replaces its old incarnation, which is
// then FENCED_INSTANCE_ID; the group does not rebalance.
func TestStaticMembershipFencing(t *testing.T) {
	t.Parallel()
	n := startNode(t, "")
	addr := n.KafkaAddr()
	setup(t, addr, "pt", 3, 0)
	c := dialRaw(t, addr)
	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.Version, fc.CoordinatorKey = 3, "pg" // creates __consumer_offsets
	wantCode(t, "FindCoordinator", c.do(fc).(*kmsg.FindCoordinatorResponse).ErrorCode, nil)
	inst := "instance-1"
	join := joinReq(5, "")
	join.InstanceID = &inst
	old := c.do(join).(*kmsg.JoinGroupResponse) // no MEMBER_ID_REQUIRED for static members
	wantCode(t, "static join", old.ErrorCode, nil)
	sg := kmsg.NewPtrSyncGroupRequest()
	sg.Version, sg.Group, sg.MemberID, sg.Generation, sg.InstanceID = 5, "pg", old.MemberID, old.Generation, &inst
	sg.GroupAssignment = []kmsg.SyncGroupRequestGroupAssignment{{MemberID: old.MemberID, MemberAssignment: []byte{0, 0, 0, 0, 0, 0, 0, 0}}}
	wantCode(t, "static sync", c.do(sg).(*kmsg.SyncGroupResponse).ErrorCode, nil)

	start := time.Now()
	again := c.do(join).(*kmsg.JoinGroupResponse)
	wantCode(t, "static rejoin", again.ErrorCode, nil)
	if again.MemberID == old.MemberID || again.Generation != old.Generation || time.Since(start) > time.Second {
		t.Errorf("rejoin %+v after %v: want a new member id in the same generation, at once", again, time.Since(start))
	}
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Version, hb.Group, hb.MemberID, hb.Generation, hb.InstanceID = 4, "pg", old.MemberID, old.Generation, &inst
	wantCode(t, "old incarnation heartbeat", c.do(hb).(*kmsg.HeartbeatResponse).ErrorCode, kerr.FencedInstanceID)
	hb.MemberID = again.MemberID
	wantCode(t, "new incarnation heartbeat", c.do(hb).(*kmsg.HeartbeatResponse).ErrorCode, nil)
	oc := kmsg.NewPtrOffsetCommitRequest()
	oc.Version, oc.Group, oc.MemberID, oc.Generation, oc.InstanceID = 8, "pg", old.MemberID, old.Generation, &inst
	oc.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "pt", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 1}}}}
	wantCode(t, "old incarnation commit", c.do(oc).(*kmsg.OffsetCommitResponse).Topics[0].Partitions[0].ErrorCode, kerr.FencedInstanceID)
}
