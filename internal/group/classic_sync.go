package group

// SyncGroup, Heartbeat, LeaveGroup and timers of the classic protocol.

import (
	"bytes"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Sync handles a SyncGroup request. In CompletingRebalance it is parked
// until the leader's assignment is stored; the leader's request carries
// the assignment.
func (g *Group) Sync(now time.Time, req *kmsg.SyncGroupRequest, id RequestID) Effects {
	resp := req.ResponseKind().(*kmsg.SyncGroupResponse)
	fail := func(e *kerr.Error) Effects {
		resp.ErrorCode = e.Code
		return reply(id, resp)
	}
	if g.state == StateDead {
		return fail(kerr.CoordinatorNotAvailable)
	}
	if e := g.validateMember(req.MemberID, req.InstanceID); e != nil {
		return fail(e)
	}
	if req.Generation != g.generation {
		return fail(kerr.IllegalGeneration)
	}
	if (req.ProtocolType != nil && *req.ProtocolType != g.protocolType) || (req.Protocol != nil && *req.Protocol != g.protocol) {
		return fail(kerr.InconsistentGroupProtocol)
	}
	m := g.members[req.MemberID]
	switch g.state {
	case StatePreparingRebalance:
		return fail(kerr.RebalanceInProgress)
	case StateStable:
		m.expires = now.Add(m.sessionTimeout)
		g.fillSync(resp, m)
		return reply(id, resp)
	case StateCompletingRebalance:
	default:
		return fail(kerr.UnknownMemberID)
	}
	var out Effects
	if m.syncWait != 0 && m.syncWait != id {
		old := kmsg.NewPtrSyncGroupResponse()
		old.Version, old.ErrorCode = m.syncVersion, kerr.RebalanceInProgress.Code
		out.add(reply(m.syncWait, old))
	}
	m.syncWait, m.syncVersion = id, req.Version
	out.add(g.syncParked(now, m, req))
	return out
}

// syncParked continues a sync in CompletingRebalance once the member's
// request is parked: the leader's assignment is stored, then every parked
// sync is answered and the group is Stable.
func (g *Group) syncParked(now time.Time, m *member, req *kmsg.SyncGroupRequest) Effects {
	delete(g.pendingSync, m.id)
	m.expires = now.Add(m.sessionTimeout)
	if m.id != g.leader || g.storing {
		return Effects{}
	}
	assigned := make(map[string][]byte, len(req.GroupAssignment))
	for _, a := range req.GroupAssignment {
		if g.members[a.MemberID] != nil {
			assigned[a.MemberID] = a.MemberAssignment
		}
	}
	for _, o := range g.members {
		o.assignment = bytes.Clone(assigned[o.id])
		if o.assignment == nil {
			o.assignment = []byte{}
		}
	}
	g.storing = true
	seq := g.rebalances
	return Effects{Records: []Record{g.metadataRecord()}, Then: func(now time.Time, err error) Effects {
		if g.rebalances != seq || g.state != StateCompletingRebalance {
			return Effects{} // a newer rebalance already answered the syncs
		}
		g.storing = false
		if err != nil {
			out := g.resetAssignments(storeErrorCode(err, false))
			out.add(g.prepareRebalance(now))
			return out
		}
		g.transition(StateStable, now)
		g.pendingSync = nil
		var out Effects
		for _, o := range g.sortedMembers() {
			if o.syncWait == 0 {
				continue
			}
			resp := kmsg.NewPtrSyncGroupResponse()
			resp.Version = o.syncVersion
			g.fillSync(resp, o)
			out.add(reply(o.syncWait, resp))
			o.syncWait = 0
			o.expires = now.Add(o.sessionTimeout)
		}
		return out
	}}
}

func (g *Group) fillSync(resp *kmsg.SyncGroupResponse, m *member) {
	pt, proto := g.protocolType, g.protocol
	resp.ProtocolType, resp.Protocol = &pt, &proto
	resp.MemberAssignment = m.assignment
	if resp.MemberAssignment == nil {
		resp.MemberAssignment = []byte{}
	}
}

// Heartbeat handles a Heartbeat request.
func (g *Group) Heartbeat(now time.Time, req *kmsg.HeartbeatRequest, id RequestID) Effects {
	resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
	code := g.heartbeat(now, req)
	resp.ErrorCode = code
	return reply(id, resp)
}

func (g *Group) heartbeat(now time.Time, req *kmsg.HeartbeatRequest) int16 {
	switch g.state {
	case StateDead:
		return kerr.CoordinatorNotAvailable.Code
	case StateEmpty:
		return kerr.UnknownMemberID.Code
	}
	if e := g.validateMember(req.MemberID, req.InstanceID); e != nil {
		return e.Code
	}
	if req.Generation != g.generation {
		return kerr.IllegalGeneration.Code
	}
	m := g.members[req.MemberID]
	m.expires = now.Add(m.sessionTimeout)
	if g.state == StatePreparingRebalance {
		return kerr.RebalanceInProgress.Code
	}
	return 0
}

// Leave handles a LeaveGroup request: one member before v3, a batch of
// members (by member id, or by instance id alone) from v3.
func (g *Group) Leave(now time.Time, req *kmsg.LeaveGroupRequest, id RequestID) Effects {
	resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
	if g.state == StateDead {
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return reply(id, resp)
	}
	leaving := req.Members
	if req.Version < 3 {
		leaving = []kmsg.LeaveGroupRequestMember{{MemberID: req.MemberID}}
	}
	var out Effects
	for _, l := range leaving {
		rm := kmsg.NewLeaveGroupResponseMember()
		rm.MemberID, rm.InstanceID = l.MemberID, l.InstanceID
		code, eff := g.leaveOne(now, l)
		rm.ErrorCode = code
		out.add(eff)
		resp.Members = append(resp.Members, rm)
	}
	if req.Version < 3 {
		resp.ErrorCode, resp.Members = resp.Members[0].ErrorCode, nil
	}
	out.Replies = append([]Reply{{To: id, Msg: resp}}, out.Replies...)
	return out
}

func (g *Group) leaveOne(now time.Time, l kmsg.LeaveGroupRequestMember) (int16, Effects) {
	if l.MemberID == "" {
		if l.InstanceID == nil {
			return kerr.UnknownMemberID.Code, Effects{}
		}
		cur, ok := g.static[*l.InstanceID]
		if !ok || g.members[cur] == nil {
			return kerr.UnknownMemberID.Code, Effects{}
		}
		return 0, g.removeMemberAndRebalance(now, g.members[cur], kerr.UnknownMemberID)
	}
	if _, ok := g.pending[l.MemberID]; ok {
		delete(g.pending, l.MemberID)
		return 0, g.maybeCompleteJoin(now)
	}
	if e := g.validateMember(l.MemberID, l.InstanceID); e != nil {
		return e.Code, Effects{}
	}
	return 0, g.removeMemberAndRebalance(now, g.members[l.MemberID], kerr.UnknownMemberID)
}

// tickClassic runs the classic timers due at now: KIP-394 ids not used in
// time, the end of the join phase, members that never synced, expired
// sessions and new members that never completed a join.
func (g *Group) tickClassic(now time.Time) Effects {
	var out Effects
	for id, deadline := range g.pending {
		if !now.Before(deadline) {
			delete(g.pending, id)
			out.add(g.maybeCompleteJoin(now))
		}
	}
	if g.state == StatePreparingRebalance && !now.Before(g.joinDeadline) {
		out.add(g.completeJoin(now))
	}
	if g.state == StateCompletingRebalance && len(g.pendingSync) > 0 && !now.Before(g.syncDeadline) {
		for _, m := range g.sortedMembers() {
			if g.pendingSync[m.id] {
				out.add(g.removeMember(m, kerr.UnknownMemberID))
			}
		}
		out.add(g.prepareRebalance(now))
	}
	for _, m := range g.sortedMembers() {
		if g.members[m.id] == nil {
			continue
		}
		switch {
		case m.joinWait != 0:
			if m.isNew && !now.Before(m.newExpires) {
				out.add(g.removeMemberAndRebalance(now, m, kerr.UnknownMemberID))
			}
		case m.syncWait != 0:
		case !now.Before(m.expires):
			out.add(g.removeMemberAndRebalance(now, m, kerr.UnknownMemberID))
		}
	}
	return out
}

// classicDeadline is the earliest time tickClassic has work.
func (g *Group) classicDeadline() (time.Time, bool) {
	var next time.Time
	consider := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	for _, d := range g.pending {
		consider(d)
	}
	switch g.state {
	case StatePreparingRebalance:
		consider(g.joinDeadline)
	case StateCompletingRebalance:
		if len(g.pendingSync) > 0 {
			consider(g.syncDeadline)
		}
	}
	for _, m := range g.members {
		switch {
		case m.joinWait != 0:
			if m.isNew {
				consider(m.newExpires)
			}
		case m.syncWait != 0:
		default:
			consider(m.expires)
		}
	}
	return next, !next.IsZero()
}

// metadataRecord is the group's GroupMetadata record as of now.
func (g *Group) metadataRecord() Record {
	v := kmsg.NewGroupMetadataValue()
	v.ProtocolType = g.protocolType
	v.Generation = g.generation
	if g.protocol != "" {
		proto := g.protocol
		v.Protocol = &proto
	}
	if g.leader != "" {
		leader := g.leader
		v.Leader = &leader
	}
	v.CurrentStateTimestamp = g.stateSince.UnixMilli()
	for _, m := range g.sortedMembers() {
		vm := kmsg.NewGroupMetadataValueMember()
		vm.MemberID, vm.ClientID, vm.ClientHost = m.id, m.clientID, m.clientHost
		if m.instanceID != "" {
			inst := m.instanceID
			vm.InstanceID = &inst
		}
		vm.RebalanceTimeoutMillis = int32(m.rebalanceTimeout / time.Millisecond)
		vm.SessionTimeoutMillis = int32(m.sessionTimeout / time.Millisecond)
		vm.Subscription, _ = m.metadataFor(g.protocol)
		if vm.Subscription == nil {
			vm.Subscription = []byte{}
		}
		vm.Assignment = m.assignment
		if vm.Assignment == nil {
			vm.Assignment = []byte{}
		}
		v.Members = append(v.Members, vm)
	}
	return groupMetadataRecord(g.id, &v)
}

// describeClassic fills a DescribeGroups answer. Member metadata and
// assignments are only shown when the group is Stable, as Kafka does.
func (g *Group) describeClassic(dg *kmsg.DescribeGroupsResponseGroup) {
	dg.State = g.state.String()
	dg.ProtocolType = g.protocolType
	if g.state == StateStable {
		dg.Protocol = g.protocol
	}
	for _, m := range g.sortedMembers() {
		dm := kmsg.NewDescribeGroupsResponseGroupMember()
		dm.MemberID, dm.ClientID, dm.ClientHost = m.id, m.clientID, m.clientHost
		if m.instanceID != "" {
			inst := m.instanceID
			dm.InstanceID = &inst
		}
		dm.ProtocolMetadata, dm.MemberAssignment = []byte{}, []byte{}
		if g.state == StateStable {
			if md, ok := m.metadataFor(g.protocol); ok {
				dm.ProtocolMetadata = md
			}
			if m.assignment != nil {
				dm.MemberAssignment = m.assignment
			}
		}
		dg.Members = append(dg.Members, dm)
	}
}
