package group

// KIP-848 consumer groups (ConsumerGroupHeartbeat): the coordinator keeps a
// group epoch, computes a target assignment with a server-side assignor
// whenever membership, subscriptions or the subscribed topics change, and
// moves each member toward its target on its heartbeats: partitions to
// give up are revoked first (the member keeps its epoch until it reports
// them released), then the member advances to the target epoch and receives
// the partitions no other member still holds.
//
// Not persisted: consumer group membership lives in memory only (the
// KIP-848 record types are not in kmsg). After a coordinator move or a
// restart members get UNKNOWN_MEMBER_ID and rejoin; committed offsets are
// in the log like every other commit.

import (
	"regexp"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Special member epochs of ConsumerGroupHeartbeat.
const (
	epochJoin       = 0
	epochLeave      = -1
	epochStaticLeft = -2
)

type consumerMember struct {
	id, instanceID, rackID, clientID, clientHost string
	epoch, previousEpoch                         int32
	subscribed                                   []string // sorted
	regex                                        string
	re                                           *regexp.Regexp
	assignor                                     string
	rebalanceTimeout                             time.Duration
	// assigned is what the member may consume now; revoking what it must
	// release before revokeDeadline.
	assigned       tpSet
	revoking       tpSet
	revokeDeadline time.Time
	expires        time.Time
	// changed is set when assigned changed since the member was last
	// told.
	changed bool
	// left is set for a static member that left with epoch -2 and may
	// come back under the same instance id before its session ends.
	left bool
}

type consumerGroup struct {
	epoch, assignmentEpoch int32
	members                map[string]*consumerMember
	static                 map[string]string // instance id -> member id
	target                 map[string]tpSet
	owners                 map[topicPartition]string // who holds a partition
	revokers               map[topicPartition]string // who still releases it
	assignor               string
	metadata               string // subscribed topics' signature at the target
}

func newConsumerGroup() *consumerGroup {
	return &consumerGroup{
		members: map[string]*consumerMember{}, static: map[string]string{}, target: map[string]tpSet{},
		owners: map[topicPartition]string{}, revokers: map[topicPartition]string{}, assignor: AssignorUniform,
	}
}

// becomeClassic turns an empty consumer group into a classic one.
func (g *Group) becomeClassic(now time.Time) {
	g.typ, g.consumer = TypeClassic, nil
	g.transition(StateEmpty, now)
}

// ConsumerHeartbeat handles a ConsumerGroupHeartbeat request.
func (g *Group) ConsumerHeartbeat(now time.Time, req *kmsg.ConsumerGroupHeartbeatRequest, cl Client, id RequestID) Effects {
	resp := req.ResponseKind().(*kmsg.ConsumerGroupHeartbeatResponse)
	resp.HeartbeatIntervalMillis = int32(g.cfg.ConsumerHeartbeatInterval / time.Millisecond)
	if e, msg := g.consumerHeartbeat(now, req, cl, resp); e != nil {
		resp.ErrorCode = e.Code
		if msg != "" {
			resp.ErrorMessage = &msg
		}
		resp.MemberEpoch = -1
		resp.Assignment = nil
	}
	g.updateConsumerState(now)
	return reply(id, resp)
}

func (g *Group) consumerHeartbeat(now time.Time, req *kmsg.ConsumerGroupHeartbeatRequest, cl Client, resp *kmsg.ConsumerGroupHeartbeatResponse) (*kerr.Error, string) {
	if g.typ == TypeClassic {
		if len(g.members) > 0 || len(g.pending) > 0 {
			return kerr.GroupIDNotFound, "group " + g.id + " is not a consumer group"
		}
		if req.MemberEpoch != epochJoin {
			return kerr.UnknownMemberID, ""
		}
		g.typ, g.consumer = TypeConsumer, newConsumerGroup()
	}
	cg := g.consumer
	switch req.MemberEpoch {
	case epochJoin:
		return g.consumerJoin(now, req, cl, resp)
	case epochLeave, epochStaticLeft:
		m := cg.members[req.MemberID]
		if m == nil || m.left {
			return kerr.UnknownMemberID, ""
		}
		resp.MemberID = &m.id
		resp.MemberEpoch = req.MemberEpoch
		if req.MemberEpoch == epochStaticLeft && m.instanceID != "" {
			m.left = true
			m.expires = now.Add(g.cfg.ConsumerSessionTimeout)
			return nil, ""
		}
		g.removeConsumerMember(m)
		g.bumpAndAssign()
		return nil, ""
	}
	m := cg.members[req.MemberID]
	if m == nil || m.left {
		return kerr.UnknownMemberID, ""
	}
	var owned tpSet
	if req.Topics != nil {
		owned = g.ownedSet(req.Topics)
	}
	if req.MemberEpoch != m.epoch {
		if req.MemberEpoch != m.previousEpoch || (owned != nil && !subset(owned, m.assigned)) {
			return kerr.FencedMemberEpoch, ""
		}
	}
	if e, msg := g.updateSubscription(m, req, false); e != nil {
		return e, msg
	}
	m.expires = now.Add(g.cfg.ConsumerSessionTimeout)
	g.reconcile(now, m, owned)
	g.fillHeartbeat(resp, m, owned)
	return nil, ""
}

// consumerJoin adds a member (epoch 0), replacing a static member that
// left or a member rejoining under its old id.
func (g *Group) consumerJoin(now time.Time, req *kmsg.ConsumerGroupHeartbeatRequest, cl Client, resp *kmsg.ConsumerGroupHeartbeatResponse) (*kerr.Error, string) {
	cg := g.consumer
	if req.SubscribedTopicNames == nil && req.SubscribedTopicRegex == nil {
		return kerr.InvalidRequest, "SubscribedTopicNames or SubscribedTopicRegex must be set when joining"
	}
	memberID := req.MemberID
	if memberID == "" {
		memberID = g.cfg.NewMemberID(cl.ID)
	}
	var inherit *consumerMember
	if req.InstanceID != nil {
		if old := cg.members[cg.static[*req.InstanceID]]; old != nil {
			if !old.left && old.id != memberID {
				return kerr.UnreleasedInstanceID, "instance id " + *req.InstanceID + " is in use"
			}
			inherit = old
		}
	}
	if old := cg.members[memberID]; old != nil && old != inherit {
		g.removeConsumerMember(old)
	}
	if inherit == nil && len(cg.members) >= g.cfg.ConsumerMaxSize {
		return kerr.GroupMaxSizeReached, ""
	}
	m := &consumerMember{id: memberID, clientID: cl.ID, clientHost: cl.Host, assigned: tpSet{},
		rebalanceTimeout: g.cfg.ConsumerSessionTimeout}
	if req.InstanceID != nil {
		m.instanceID = *req.InstanceID
	}
	if e, msg := g.updateSubscription(m, req, true); e != nil {
		return e, msg
	}
	if inherit != nil {
		// A static member coming back keeps what it held.
		m.epoch, m.previousEpoch = inherit.epoch, inherit.previousEpoch
		m.assigned, m.revoking, m.revokeDeadline = inherit.assigned, inherit.revoking, inherit.revokeDeadline
		for tp := range m.assigned {
			cg.owners[tp] = m.id
		}
		for tp := range m.revoking {
			cg.revokers[tp] = m.id
		}
		if t, ok := cg.target[inherit.id]; ok {
			delete(cg.target, inherit.id)
			cg.target[m.id] = t
		}
		delete(cg.members, inherit.id)
	}
	if m.instanceID != "" {
		cg.static[m.instanceID] = m.id
	}
	m.expires = now.Add(g.cfg.ConsumerSessionTimeout)
	m.changed = true
	cg.members[m.id] = m
	if inherit == nil || !slices.Equal(inherit.subscribed, m.subscribed) || inherit.regex != m.regex {
		g.bumpAndAssign()
	}
	g.reconcile(now, m, nil)
	g.fillHeartbeat(resp, m, nil)
	return nil, ""
}

// updateSubscription applies the optional fields of a heartbeat; a changed
// subscription bumps the group epoch.
func (g *Group) updateSubscription(m *consumerMember, req *kmsg.ConsumerGroupHeartbeatRequest, joining bool) (*kerr.Error, string) {
	changed := false
	if req.ServerAssignor != nil {
		if !knownAssignor(*req.ServerAssignor) {
			return kerr.UnsupportedAssignor, "unknown server assignor " + *req.ServerAssignor
		}
		m.assignor = *req.ServerAssignor
	}
	if req.RebalanceTimeoutMillis > 0 {
		m.rebalanceTimeout = time.Duration(req.RebalanceTimeoutMillis) * time.Millisecond
	}
	if req.RackID != nil {
		m.rackID = *req.RackID
	}
	if req.SubscribedTopicNames != nil {
		subs := slices.Clone(req.SubscribedTopicNames)
		slices.Sort(subs)
		subs = slices.Compact(subs)
		if !slices.Equal(subs, m.subscribed) {
			m.subscribed, changed = subs, true
		}
	}
	if req.SubscribedTopicRegex != nil && *req.SubscribedTopicRegex != m.regex {
		m.regex, m.re = *req.SubscribedTopicRegex, nil
		if m.regex != "" {
			re, err := regexp.Compile(m.regex)
			if err != nil {
				return kerr.InvalidRegularExpression, err.Error()
			}
			m.re = re
		}
		changed = true
	}
	if changed && !joining {
		g.bumpAndAssign()
	}
	return nil, ""
}

// ownedSet converts the partitions a member reports owning.
func (g *Group) ownedSet(topics []kmsg.ConsumerGroupHeartbeatRequestTopic) tpSet {
	out := tpSet{}
	for _, t := range topics {
		name, _, ok := g.cfg.Topics.TopicByID(t.TopicID)
		if !ok {
			continue
		}
		for _, p := range t.Partitions {
			out[topicPartition{name, p}] = struct{}{}
		}
	}
	return out
}

// reconcile moves m toward its target assignment: first revoke what it
// must give up, then (once it reported them released) advance its epoch
// and hand it the target partitions nobody else holds.
func (g *Group) reconcile(now time.Time, m *consumerMember, owned tpSet) {
	cg := g.consumer
	if len(m.revoking) > 0 {
		if owned == nil || intersects(owned, m.revoking) {
			return
		}
		for tp := range m.revoking {
			if cg.revokers[tp] == m.id {
				delete(cg.revokers, tp)
			}
		}
		m.revoking, m.revokeDeadline = nil, time.Time{}
	}
	target := cg.target[m.id]
	revoke := tpSet{}
	for tp := range m.assigned {
		if _, ok := target[tp]; !ok {
			revoke[tp] = struct{}{}
		}
	}
	if len(revoke) > 0 {
		for tp := range revoke {
			delete(m.assigned, tp)
			if cg.owners[tp] == m.id {
				delete(cg.owners, tp)
			}
			cg.revokers[tp] = m.id
		}
		m.revoking = revoke
		m.revokeDeadline = now.Add(m.rebalanceTimeout)
		m.changed = true
		return
	}
	for tp := range target {
		if _, mine := m.assigned[tp]; mine {
			continue
		}
		if cg.owners[tp] == "" && cg.revokers[tp] == "" {
			m.assigned[tp] = struct{}{}
			cg.owners[tp] = m.id
			m.changed = true
		}
	}
	if m.epoch != cg.assignmentEpoch {
		m.previousEpoch, m.epoch = m.epoch, cg.assignmentEpoch
	}
}

// fillHeartbeat writes the member's id, epoch and (when it changed or the
// member's view differs) its assignment.
func (g *Group) fillHeartbeat(resp *kmsg.ConsumerGroupHeartbeatResponse, m *consumerMember, owned tpSet) {
	id := m.id
	resp.MemberID, resp.MemberEpoch = &id, m.epoch
	if !m.changed && (owned == nil || sameSet(owned, m.assigned)) {
		return
	}
	m.changed = false
	a := kmsg.NewConsumerGroupHeartbeatResponseAssignment()
	for _, t := range g.byTopicID(m.assigned) {
		at := kmsg.NewConsumerGroupHeartbeatResponseAssignmentTopic()
		at.TopicID, at.Partitions = t.TopicID, t.Partitions
		a.Topics = append(a.Topics, at)
	}
	resp.Assignment = &a
}

// byTopicID groups partitions by topic id (topics that vanished are left
// out), sorted by topic name.
func (g *Group) byTopicID(s tpSet) []kmsg.AssignmentTopicPartition {
	tps := make([]topicPartition, 0, len(s))
	for tp := range s {
		tps = append(tps, tp)
	}
	slices.SortFunc(tps, compareTP)
	var out []kmsg.AssignmentTopicPartition
	for _, tp := range tps {
		if len(out) == 0 || out[len(out)-1].Topic != tp.topic {
			id, _, ok := g.cfg.Topics.Topic(tp.topic)
			if !ok {
				continue
			}
			t := kmsg.AssignmentTopicPartition{TopicID: id, Topic: tp.topic}
			out = append(out, t)
		}
		out[len(out)-1].Partitions = append(out[len(out)-1].Partitions, tp.partition)
	}
	return out
}

// removeConsumerMember drops a member and frees what it held.
func (g *Group) removeConsumerMember(m *consumerMember) {
	cg := g.consumer
	for tp := range m.assigned {
		if cg.owners[tp] == m.id {
			delete(cg.owners, tp)
		}
	}
	for tp := range m.revoking {
		if cg.revokers[tp] == m.id {
			delete(cg.revokers, tp)
		}
	}
	delete(cg.members, m.id)
	delete(cg.target, m.id)
	if m.instanceID != "" && cg.static[m.instanceID] == m.id {
		delete(cg.static, m.instanceID)
	}
}

// resolvedSubscriptions returns each member's existing subscribed topics
// (names and regex matches) and their partition counts.
func (g *Group) resolvedSubscriptions() (map[string][]string, map[string]int32) {
	cg := g.consumer
	subs := make(map[string][]string, len(cg.members))
	parts := map[string]int32{}
	var names []string
	for _, m := range cg.members {
		var ts []string
		for _, t := range m.subscribed {
			if _, n, ok := g.cfg.Topics.Topic(t); ok {
				ts = append(ts, t)
				parts[t] = n
			}
		}
		if m.re != nil {
			if names == nil {
				names = g.cfg.Topics.Names()
			}
			for _, t := range names {
				if m.re.MatchString(t) && !slices.Contains(ts, t) {
					if _, n, ok := g.cfg.Topics.Topic(t); ok {
						ts = append(ts, t)
						parts[t] = n
					}
				}
			}
		}
		slices.Sort(ts)
		subs[m.id] = ts
	}
	return subs, parts
}

// bumpAndAssign starts a new group epoch and computes its target
// assignment.
func (g *Group) bumpAndAssign() {
	cg := g.consumer
	cg.epoch++
	subs, parts := g.resolvedSubscriptions()
	in := assignInput{subscriptions: subs, partitions: parts, current: cg.target}
	votes := map[string]int{}
	for id, m := range cg.members {
		in.members = append(in.members, id)
		if m.assignor != "" {
			votes[m.assignor]++
		}
	}
	slices.Sort(in.members)
	cg.assignor = AssignorUniform
	if votes[AssignorRange] > votes[AssignorUniform] {
		cg.assignor = AssignorRange
	}
	cg.target = assign(cg.assignor, in)
	cg.assignmentEpoch = cg.epoch
	cg.metadata = metadataSignature(parts)
}

// metadataSignature summarises the subscribed topics' partition counts.
func metadataSignature(parts map[string]int32) string {
	names := make([]string, 0, len(parts))
	for t := range parts {
		names = append(names, t)
	}
	slices.Sort(names)
	b := make([]byte, 0, 16*len(names))
	for _, t := range names {
		b = append(b, t...)
		b = append(b, ':', byte(parts[t]>>24), byte(parts[t]>>16), byte(parts[t]>>8), byte(parts[t]), ';')
	}
	return string(b)
}

// TopicsChanged recomputes a consumer group's target when the topics its
// members subscribe to appeared, vanished or grew.
func (g *Group) TopicsChanged(now time.Time) Effects {
	if g.consumer == nil || len(g.consumer.members) == 0 {
		return Effects{}
	}
	_, parts := g.resolvedSubscriptions()
	if metadataSignature(parts) != g.consumer.metadata {
		g.bumpAndAssign()
		g.updateConsumerState(now)
	}
	return Effects{}
}

// tickConsumer expires sessions and members that did not revoke in time.
func (g *Group) tickConsumer(now time.Time) Effects {
	removed := false
	for _, m := range g.consumer.members {
		if !now.Before(m.expires) || (len(m.revoking) > 0 && !now.Before(m.revokeDeadline)) {
			g.removeConsumerMember(m)
			removed = true
		}
	}
	if removed {
		g.bumpAndAssign()
	}
	g.updateConsumerState(now)
	return Effects{}
}

func (g *Group) consumerDeadline() (time.Time, bool) {
	var next time.Time
	for _, m := range g.consumer.members {
		d := m.expires
		if len(m.revoking) > 0 && m.revokeDeadline.Before(d) {
			d = m.revokeDeadline
		}
		if next.IsZero() || d.Before(next) {
			next = d
		}
	}
	return next, !next.IsZero()
}

// updateConsumerState derives the group state: Empty without members,
// Reconciling while a member is not at its target, else Stable.
func (g *Group) updateConsumerState(now time.Time) {
	if g.consumer == nil {
		return
	}
	cg := g.consumer
	s := StateStable
	if len(cg.members) == 0 {
		s = StateEmpty
	}
	for _, m := range cg.members {
		if m.epoch != cg.assignmentEpoch || len(m.revoking) > 0 || !sameSet(m.assigned, cg.target[m.id]) {
			s = StateReconciling
			break
		}
	}
	if s != g.state {
		g.transition(s, now)
	}
}

// consumerCommitAllowed validates a commit (or fetch) of a consumer group
// member: the member must exist and use its current (or previous) epoch;
// generation -1 without member id is an admin commit, allowed only when the
// group is empty.
func (g *Group) consumerCommitAllowed(now time.Time, memberID string, epoch int32) int16 {
	cg := g.consumer
	if epoch < 0 && memberID == "" {
		if len(cg.members) == 0 {
			return 0
		}
		return kerr.UnknownMemberID.Code
	}
	m := cg.members[memberID]
	if m == nil || m.left {
		return kerr.UnknownMemberID.Code
	}
	if epoch != m.epoch && epoch != m.previousEpoch {
		return kerr.StaleMemberEpoch.Code
	}
	return 0
}

func subset(a, b tpSet) bool {
	for tp := range a {
		if _, ok := b[tp]; !ok {
			return false
		}
	}
	return true
}

func sameSet(a, b tpSet) bool { return len(a) == len(b) && subset(a, b) }

func intersects(a, b tpSet) bool {
	for tp := range a {
		if _, ok := b[tp]; ok {
			return true
		}
	}
	return false
}
