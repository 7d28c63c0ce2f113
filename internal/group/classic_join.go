package group

// The join phase of the classic protocol (JoinGroup), following Kafka's
// GroupCoordinator: KIP-394 member ids, KIP-345 static members, the
// initial rebalance delay of an empty group and protocol selection by vote.

import (
	"bytes"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// maxJoinProtocols bounds the protocols one member may offer.
const maxJoinProtocols = 64

func newJoinResponse(req *kmsg.JoinGroupRequest) *kmsg.JoinGroupResponse {
	resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
	resp.Generation = -1
	return resp
}

// Join handles a JoinGroup request. The answer is either immediate or parked
// (keyed by id) until the join phase ends.
func (g *Group) Join(now time.Time, req *kmsg.JoinGroupRequest, cl Client, id RequestID) Effects {
	resp := newJoinResponse(req)
	resp.MemberID = req.MemberID
	fail := func(e *kerr.Error) Effects {
		resp.ErrorCode = e.Code
		return reply(id, resp)
	}
	session := time.Duration(req.SessionTimeoutMillis) * time.Millisecond
	switch {
	case g.typ == TypeConsumer && !g.isEmptyOfMembers():
		return fail(kerr.InconsistentGroupProtocol)
	case session < g.cfg.MinSessionTimeout || session > g.cfg.MaxSessionTimeout:
		return fail(kerr.InvalidSessionTimeout)
	case req.ProtocolType == "" || len(req.Protocols) == 0:
		return fail(kerr.InconsistentGroupProtocol)
	case len(req.Protocols) > maxJoinProtocols:
		return fail(kerr.InvalidRequest)
	case g.state == StateDead:
		return fail(kerr.CoordinatorNotAvailable)
	case !g.acceptsProtocols(req):
		return fail(kerr.InconsistentGroupProtocol)
	}
	if g.typ == TypeConsumer {
		g.becomeClassic(now)
	}
	if req.MemberID == "" {
		return g.joinNewMember(now, req, cl, id, resp)
	}
	return g.joinKnownMember(now, req, cl, id, resp)
}

// acceptsProtocols reports whether a joining member can be part of the
// group: any protocol type while it has no members, else the same type and
// at least one protocol every member supports.
func (g *Group) acceptsProtocols(req *kmsg.JoinGroupRequest) bool {
	if len(g.members) == 0 {
		return true
	}
	if req.ProtocolType != g.protocolType {
		return false
	}
	for _, p := range req.Protocols {
		all := true
		for _, m := range g.members {
			if m.id == req.MemberID {
				continue // a rejoining member may change its protocols
			}
			if _, ok := m.metadataFor(p.Name); !ok {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

// joinNewMember handles a join without member id.
func (g *Group) joinNewMember(now time.Time, req *kmsg.JoinGroupRequest, cl Client, id RequestID, resp *kmsg.JoinGroupResponse) Effects {
	if req.InstanceID != nil {
		if old, ok := g.static[*req.InstanceID]; ok {
			if m := g.members[old]; m != nil {
				return g.replaceStaticMember(now, m, req, cl, id, resp)
			}
			delete(g.static, *req.InstanceID)
		}
	}
	if len(g.members)+len(g.pending) >= g.cfg.MaxGroupSize {
		resp.ErrorCode = kerr.GroupMaxSizeReached.Code
		return reply(id, resp)
	}
	memberID := g.cfg.NewMemberID(cl.ID)
	if req.InstanceID == nil && req.Version >= 4 {
		// KIP-394: the member must come back with this id, proving it
		// got the answer, before it counts as a member.
		g.pending[memberID] = now.Add(time.Duration(req.SessionTimeoutMillis) * time.Millisecond)
		resp.MemberID = memberID
		resp.ErrorCode = kerr.MemberIDRequired.Code
		return reply(id, resp)
	}
	return g.addMemberAndRebalance(now, memberID, req, cl, id)
}

// joinKnownMember handles a join with a member id.
func (g *Group) joinKnownMember(now time.Time, req *kmsg.JoinGroupRequest, cl Client, id RequestID, resp *kmsg.JoinGroupResponse) Effects {
	if _, ok := g.pending[req.MemberID]; ok {
		delete(g.pending, req.MemberID)
		return g.addMemberAndRebalance(now, req.MemberID, req, cl, id)
	}
	if e := g.validateMember(req.MemberID, req.InstanceID); e != nil {
		resp.ErrorCode = e.Code
		return reply(id, resp)
	}
	m := g.members[req.MemberID]
	switch g.state {
	case StatePreparingRebalance:
		out := g.updateMember(now, m, req, cl, id)
		out.add(g.maybeCompleteJoin(now))
		return out
	case StateCompletingRebalance:
		if m.sameProtocols(req.Protocols) {
			return reply(id, g.joinResult(m, req))
		}
		out := g.updateMember(now, m, req, cl, id)
		out.add(g.prepareRebalance(now))
		return out
	case StateStable:
		if m.id != g.leader && m.sameProtocols(req.Protocols) {
			m.expires = now.Add(m.sessionTimeout)
			return reply(id, g.joinResult(m, req))
		}
		out := g.updateMember(now, m, req, cl, id)
		out.add(g.prepareRebalance(now))
		return out
	}
	resp.ErrorCode = kerr.UnknownMemberID.Code
	return reply(id, resp)
}

// validateMember checks a request's member id and instance id against the
// group: FENCED_INSTANCE_ID when the instance id belongs to another member
// id, UNKNOWN_MEMBER_ID when the member is not in the group.
func (g *Group) validateMember(memberID string, instanceID *string) *kerr.Error {
	if instanceID != nil {
		if cur, ok := g.static[*instanceID]; ok && cur != memberID {
			return kerr.FencedInstanceID
		}
	}
	if g.members[memberID] == nil {
		return kerr.UnknownMemberID
	}
	return nil
}

// setJoin records a member's join request.
func (m *member) setJoin(req *kmsg.JoinGroupRequest, cl Client, id RequestID) {
	m.clientID, m.clientHost = cl.ID, cl.Host
	m.sessionTimeout = time.Duration(req.SessionTimeoutMillis) * time.Millisecond
	m.rebalanceTimeout = m.sessionTimeout
	if req.Version >= 1 && req.RebalanceTimeoutMillis > 0 {
		m.rebalanceTimeout = time.Duration(req.RebalanceTimeoutMillis) * time.Millisecond
	}
	m.protocolType = req.ProtocolType
	m.protocols = m.protocols[:0]
	for _, p := range req.Protocols {
		m.protocols = append(m.protocols, protocol{name: p.Name, metadata: bytes.Clone(p.Metadata)})
	}
	m.joinWait, m.joinVersion = id, req.Version
}

// sameProtocols reports whether a rejoin offers the same protocols and
// metadata as the member's last join.
func (m *member) sameProtocols(ps []kmsg.JoinGroupRequestProtocol) bool {
	if len(ps) != len(m.protocols) {
		return false
	}
	for i, p := range ps {
		if p.Name != m.protocols[i].name || !bytes.Equal(p.Metadata, m.protocols[i].metadata) {
			return false
		}
	}
	return true
}

// addMemberAndRebalance adds a member whose join is parked and starts (or
// joins) a rebalance.
func (g *Group) addMemberAndRebalance(now time.Time, memberID string, req *kmsg.JoinGroupRequest, cl Client, id RequestID) Effects {
	if len(g.members) == 0 {
		g.protocolType = req.ProtocolType
	}
	g.nextSeq++
	m := &member{id: memberID, seq: g.nextSeq, isNew: true, newExpires: now.Add(g.cfg.NewMemberJoinTimeout)}
	if req.InstanceID != nil {
		m.instanceID = *req.InstanceID
		g.static[m.instanceID] = memberID
	}
	m.setJoin(req, cl, id)
	g.members[memberID] = m
	if g.state == StatePreparingRebalance {
		if g.initialJoin {
			g.joinDeadline = minTime(now.Add(g.cfg.InitialRebalanceDelay), g.joinMax)
		}
		return g.maybeCompleteJoin(now)
	}
	return g.prepareRebalance(now)
}

// updateMember parks a rejoin of an existing member, answering an earlier
// parked join of the same member (a retried request) first.
func (g *Group) updateMember(now time.Time, m *member, req *kmsg.JoinGroupRequest, cl Client, id RequestID) Effects {
	var out Effects
	if m.joinWait != 0 && m.joinWait != id {
		resp := kmsg.NewPtrJoinGroupResponse()
		resp.Version = m.joinVersion
		resp.ErrorCode, resp.Generation, resp.MemberID = kerr.RebalanceInProgress.Code, -1, m.id
		out.add(reply(m.joinWait, resp))
	}
	m.setJoin(req, cl, id)
	m.expires = now.Add(m.sessionTimeout)
	return out
}

// replaceStaticMember gives a static member that rejoined without member
// id a new member id, fencing the old one (KIP-345). A stable group whose
// member comes back with the same protocols does not rebalance.
func (g *Group) replaceStaticMember(now time.Time, old *member, req *kmsg.JoinGroupRequest, cl Client, id RequestID, resp *kmsg.JoinGroupResponse) Effects {
	var out Effects
	out.add(g.fenceWaits(old, kerr.FencedInstanceID))
	m := &member{id: g.cfg.NewMemberID(cl.ID), instanceID: old.instanceID, seq: old.seq, assignment: old.assignment}
	sameProtocols := old.sameProtocols(req.Protocols)
	m.setJoin(req, cl, 0)
	delete(g.members, old.id)
	g.members[m.id] = m
	g.static[m.instanceID] = m.id
	if g.leader == old.id {
		g.leader = m.id
	}
	if g.pendingSync[old.id] {
		delete(g.pendingSync, old.id)
		g.pendingSync[m.id] = true
	}
	m.expires = now.Add(m.sessionTimeout)
	switch {
	case g.state == StateStable && sameProtocols:
		// A leader before JoinGroup v9 cannot skip the assignment
		// (KIP-814): it computes one, and SyncGroup in Stable answers
		// with the stored one.
		result := g.joinResult(m, req)
		result.SkipAssignment = m.id == g.leader
		gen := g.generation
		out.Records = append(out.Records, g.metadataRecord())
		out.Then = func(now time.Time, err error) Effects {
			if err != nil && g.generation == gen {
				result = newJoinResponse(req)
				result.MemberID = m.id
				result.ErrorCode = storeErrorCode(err, false)
			}
			return reply(id, result)
		}
		return out
	case g.state == StatePreparingRebalance:
		m.joinWait, m.joinVersion = id, req.Version
		out.add(g.maybeCompleteJoin(now))
		return out
	default:
		m.joinWait, m.joinVersion = id, req.Version
		out.add(g.prepareRebalance(now))
		return out
	}
}

// fenceWaits answers a member's parked join and sync with err.
func (g *Group) fenceWaits(m *member, err *kerr.Error) Effects {
	var out Effects
	if m.joinWait != 0 {
		resp := kmsg.NewPtrJoinGroupResponse()
		resp.Version = m.joinVersion
		resp.ErrorCode, resp.Generation, resp.MemberID = err.Code, -1, m.id
		out.add(reply(m.joinWait, resp))
		m.joinWait = 0
	}
	if m.syncWait != 0 {
		resp := kmsg.NewPtrSyncGroupResponse()
		resp.Version = m.syncVersion
		resp.ErrorCode = err.Code
		out.add(reply(m.syncWait, resp))
		m.syncWait = 0
	}
	return out
}

// prepareRebalance starts a join phase: members must rejoin before the
// rebalance timeout. An empty group waits InitialRebalanceDelay for more
// members first (extended by each new member, up to the rebalance timeout).
func (g *Group) prepareRebalance(now time.Time) Effects {
	var out Effects
	if g.state == StateCompletingRebalance {
		out.add(g.resetAssignments(kerr.RebalanceInProgress.Code))
	}
	timeout := g.rebalanceTimeout()
	g.initialJoin = g.state == StateEmpty && g.cfg.InitialRebalanceDelay > 0
	if g.initialJoin {
		g.joinMax = now.Add(timeout)
		g.joinDeadline = minTime(now.Add(g.cfg.InitialRebalanceDelay), g.joinMax)
	} else {
		g.joinDeadline = now.Add(timeout)
	}
	g.rebalances++
	g.storing = false
	g.pendingSync = nil
	g.transition(StatePreparingRebalance, now)
	out.add(g.maybeCompleteJoin(now))
	return out
}

// resetAssignments drops the assignments of a rebalance that did not
// complete and answers parked syncs with code.
func (g *Group) resetAssignments(code int16) Effects {
	var out Effects
	for _, m := range g.sortedMembers() {
		m.assignment = nil
		if m.syncWait != 0 {
			resp := kmsg.NewPtrSyncGroupResponse()
			resp.Version = m.syncVersion
			resp.ErrorCode = code
			out.add(reply(m.syncWait, resp))
			m.syncWait = 0
		}
	}
	return out
}

// rebalanceTimeout is the longest rebalance timeout of the members.
func (g *Group) rebalanceTimeout() time.Duration {
	var d time.Duration
	for _, m := range g.members {
		d = max(d, m.rebalanceTimeout)
	}
	return d
}

// allJoined reports whether every member has a parked join and no KIP-394
// member id is outstanding.
func (g *Group) allJoined() bool {
	if len(g.pending) > 0 {
		return false
	}
	for _, m := range g.members {
		if m.joinWait == 0 {
			return false
		}
	}
	return true
}

// maybeCompleteJoin ends the join phase early once everyone rejoined
// (never during the initial delay, which waits for more members).
func (g *Group) maybeCompleteJoin(now time.Time) Effects {
	if g.state != StatePreparingRebalance || g.initialJoin || !g.allJoined() {
		return Effects{}
	}
	return g.completeJoin(now)
}

// completeJoin ends the join phase: members that did not rejoin are
// removed, the generation advances, a protocol is chosen and every member
// gets its join answer (the leader with everyone's metadata).
func (g *Group) completeJoin(now time.Time) Effects {
	var out Effects
	for _, m := range g.sortedMembers() {
		if m.joinWait == 0 {
			out.add(g.removeMember(m, kerr.UnknownMemberID))
		}
	}
	g.generation++
	g.initialJoin = false
	if len(g.members) == 0 {
		g.protocol, g.leader = "", ""
		g.transition(StateEmpty, now)
		out.add(Effects{Records: []Record{g.metadataRecord()}, Then: ignoreStoreError})
		return out
	}
	g.protocol = g.selectProtocol()
	members := g.sortedMembers()
	if g.members[g.leader] == nil {
		g.leader = members[0].id
	}
	g.transition(StateCompletingRebalance, now)
	g.pendingSync = make(map[string]bool, len(members))
	g.syncDeadline = now.Add(g.rebalanceTimeout())
	for _, m := range members {
		resp := g.joinResult(m, nil)
		resp.Version = m.joinVersion
		out.add(reply(m.joinWait, resp))
		m.joinWait, m.isNew = 0, false
		m.expires = now.Add(m.sessionTimeout)
		g.pendingSync[m.id] = true
	}
	return out
}

// ignoreStoreError is the continuation of writes whose failure changes
// nothing: the in-memory state stands and the next write repeats it.
func ignoreStoreError(time.Time, error) Effects { return Effects{} }

// joinResult is the successful join answer for m (with every member's
// metadata when m is the leader). req, when given, sets the version.
func (g *Group) joinResult(m *member, req *kmsg.JoinGroupRequest) *kmsg.JoinGroupResponse {
	resp := kmsg.NewPtrJoinGroupResponse()
	if req != nil {
		resp.Version = req.Version
	}
	resp.Generation = g.generation
	pt, proto := g.protocolType, g.protocol
	resp.ProtocolType, resp.Protocol = &pt, &proto
	resp.LeaderID, resp.MemberID = g.leader, m.id
	if m.id == g.leader {
		for _, o := range g.sortedMembers() {
			jm := kmsg.NewJoinGroupResponseMember()
			jm.MemberID = o.id
			if o.instanceID != "" {
				inst := o.instanceID
				jm.InstanceID = &inst
			}
			jm.ProtocolMetadata, _ = o.metadataFor(g.protocol)
			resp.Members = append(resp.Members, jm)
		}
	}
	return resp
}

// selectProtocol picks the protocol every member supports that most members
// prefer; ties go to the leader's (or first member's) preference.
func (g *Group) selectProtocol() string {
	members := g.sortedMembers()
	supported := func(name string) bool {
		for _, m := range members {
			if _, ok := m.metadataFor(name); !ok {
				return false
			}
		}
		return true
	}
	votes := map[string]int{}
	for _, m := range members {
		for _, p := range m.protocols {
			if supported(p.name) {
				votes[p.name]++
				break
			}
		}
	}
	ref := members[0]
	if l := g.members[g.leader]; l != nil {
		ref = l
	}
	best, bestVotes := "", -1
	for _, p := range ref.protocols {
		if v, ok := votes[p.name]; ok && v > bestVotes {
			best, bestVotes = p.name, v
		}
	}
	return best
}

// removeMember takes a member out of the group, answering its parked
// requests with code. The caller decides whether the group rebalances.
func (g *Group) removeMember(m *member, err *kerr.Error) Effects {
	out := g.fenceWaits(m, err)
	delete(g.members, m.id)
	delete(g.pendingSync, m.id)
	if m.instanceID != "" && g.static[m.instanceID] == m.id {
		delete(g.static, m.instanceID)
	}
	if g.leader == m.id {
		g.leader = ""
		if ms := g.sortedMembers(); len(ms) > 0 {
			g.leader = ms[0].id
		}
	}
	return out
}

// removeMemberAndRebalance removes a member and moves the group on: a
// stable or completing group rebalances, a preparing one may now complete.
func (g *Group) removeMemberAndRebalance(now time.Time, m *member, err *kerr.Error) Effects {
	out := g.removeMember(m, err)
	switch g.state {
	case StateStable, StateCompletingRebalance:
		out.add(g.prepareRebalance(now))
	case StatePreparingRebalance:
		out.add(g.maybeCompleteJoin(now))
	}
	return out
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
