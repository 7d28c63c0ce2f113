package group

// Committed offsets: OffsetCommit, OffsetFetch, OffsetDelete and retention.

import (
	"cmp"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// CommitOffsets handles an OffsetCommit request whose topics are named (the
// broker resolves v10 topic ids to names first). Valid partitions are
// written to the log and answered once the write is committed.
func (g *Group) CommitOffsets(now time.Time, req *kmsg.OffsetCommitRequest, id RequestID) Effects {
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	if code := g.commitAllowed(now, req); code != 0 {
		fillCommitResponse(req, resp, code)
		return reply(id, resp)
	}
	type slot struct {
		tp   topicPartition
		oc   OffsetCommit
		code *int16
	}
	var slots []slot
	var recs []Record
	nowMs := now.UnixMilli()
	for _, rt := range req.Topics {
		st := kmsg.NewOffsetCommitResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		st.Partitions = make([]kmsg.OffsetCommitResponseTopicPartition, len(rt.Partitions))
		resp.Topics = append(resp.Topics, st)
		rst := &resp.Topics[len(resp.Topics)-1]
		for i, rp := range rt.Partitions {
			sp := &rst.Partitions[i]
			sp.Partition = rp.Partition
			switch {
			case !g.cfg.partitionExists(rt.Topic, rp.Partition):
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				continue
			case rp.Metadata != nil && len(*rp.Metadata) > g.cfg.OffsetMetadataMaxBytes:
				sp.ErrorCode = kerr.OffsetMetadataTooLarge.Code
				continue
			}
			oc := OffsetCommit{Offset: rp.Offset, LeaderEpoch: -1, CommitTimestamp: nowMs, ExpireTimestamp: -1}
			if req.Version >= 6 {
				oc.LeaderEpoch = rp.LeaderEpoch
			}
			if rp.Metadata != nil {
				oc.Metadata = *rp.Metadata
			}
			switch {
			case req.Version == 1 && rp.Timestamp >= 0:
				oc.CommitTimestamp = rp.Timestamp
			case req.Version >= 2 && req.Version <= 4 && req.RetentionTimeMillis >= 0:
				oc.ExpireTimestamp = nowMs + req.RetentionTimeMillis
			}
			tp := topicPartition{rt.Topic, rp.Partition}
			slots = append(slots, slot{tp: tp, oc: oc, code: &sp.ErrorCode})
			recs = append(recs, offsetCommitRecord(g.id, tp.topic, tp.partition, oc))
			g.pendingCommits[tp]++
		}
	}
	if len(recs) == 0 {
		return reply(id, resp)
	}
	return Effects{Records: recs, Then: func(now time.Time, err error) Effects {
		for _, s := range slots {
			if n := g.pendingCommits[s.tp] - 1; n > 0 {
				g.pendingCommits[s.tp] = n
			} else {
				delete(g.pendingCommits, s.tp)
			}
			if err != nil {
				*s.code = storeErrorCode(err, true)
			} else if g.state != StateDead {
				g.offsets[s.tp] = s.oc
			}
		}
		return reply(id, resp)
	}}
}

// commitAllowed checks who may commit: anyone with generation -1 while the
// group is Empty (simple consumers, admin tools), else the current
// generation's members outside of CompletingRebalance.
func (g *Group) commitAllowed(now time.Time, req *kmsg.OffsetCommitRequest) int16 {
	if g.state == StateDead {
		return kerr.CoordinatorNotAvailable.Code
	}
	if g.typ == TypeConsumer {
		return g.consumerCommitAllowed(now, req.MemberID, req.Generation)
	}
	if req.Generation < 0 && g.state == StateEmpty {
		return 0
	}
	if e := g.validateMember(req.MemberID, req.InstanceID); e != nil {
		return e.Code
	}
	if req.Generation != g.generation {
		return kerr.IllegalGeneration.Code
	}
	if g.state == StateCompletingRebalance {
		return kerr.RebalanceInProgress.Code
	}
	m := g.members[req.MemberID]
	if m.joinWait == 0 && m.syncWait == 0 {
		m.expires = now.Add(m.sessionTimeout)
	}
	return 0
}

// fillCommitResponse answers every partition of a commit with code.
func fillCommitResponse(req *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, code int16) {
	resp.Topics = resp.Topics[:0]
	for _, rt := range req.Topics {
		st := kmsg.NewOffsetCommitResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetCommitResponseTopicPartition()
			sp.Partition, sp.ErrorCode = rp.Partition, code
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
}

// FetchTopic names the partitions of one topic an OffsetFetch asks for.
type FetchTopic struct {
	Topic      string
	Partitions []int32
}

// FetchOffsets answers an OffsetFetch for this group: the requested
// partitions (every committed partition when topics is nil), -1 where
// nothing is committed, UNSTABLE_OFFSET_COMMIT with requireStable while a
// commit of the partition is being written.
func (g *Group) FetchOffsets(topics []FetchTopic, requireStable bool) []kmsg.OffsetFetchResponseGroupTopic {
	if topics == nil {
		topics = g.committedTopics()
	}
	out := make([]kmsg.OffsetFetchResponseGroupTopic, 0, len(topics))
	for _, t := range topics {
		rt := kmsg.NewOffsetFetchResponseGroupTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch = p, -1, -1
			empty := ""
			rp.Metadata = &empty
			tp := topicPartition{t.Topic, p}
			if requireStable && g.pendingCommits[tp] > 0 {
				rp.ErrorCode = kerr.UnstableOffsetCommit.Code
			} else if oc, ok := g.offsets[tp]; ok {
				md := oc.Metadata
				rp.Offset, rp.LeaderEpoch, rp.Metadata = oc.Offset, oc.LeaderEpoch, &md
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		out = append(out, rt)
	}
	return out
}

// committedTopics lists every committed partition, sorted.
func (g *Group) committedTopics() []FetchTopic {
	tps := make([]topicPartition, 0, len(g.offsets))
	for tp := range g.offsets {
		tps = append(tps, tp)
	}
	slices.SortFunc(tps, func(a, b topicPartition) int {
		return cmp.Or(cmp.Compare(a.topic, b.topic), cmp.Compare(a.partition, b.partition))
	})
	var out []FetchTopic
	for _, tp := range tps {
		if len(out) == 0 || out[len(out)-1].Topic != tp.topic {
			out = append(out, FetchTopic{Topic: tp.topic})
		}
		out[len(out)-1].Partitions = append(out[len(out)-1].Partitions, tp.partition)
	}
	return out
}

// Committed returns the committed offset of a partition.
func (g *Group) Committed(topic string, partition int32) (OffsetCommit, bool) {
	oc, ok := g.offsets[topicPartition{topic, partition}]
	return oc, ok
}

// DeleteOffsets handles OffsetDelete: offsets of topics the group still
// consumes are refused with GROUP_SUBSCRIBED_TO_TOPIC; a group with members
// that is not a consumer group cannot have offsets deleted at all.
func (g *Group) DeleteOffsets(now time.Time, req *kmsg.OffsetDeleteRequest, id RequestID) Effects {
	resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
	if g.state == StateDead {
		resp.ErrorCode = kerr.GroupIDNotFound.Code
		return reply(id, resp)
	}
	subscribed, ok := g.subscribedTopics()
	if !ok {
		resp.ErrorCode = kerr.NonEmptyGroup.Code
		return reply(id, resp)
	}
	var recs []Record
	var gone []topicPartition
	for _, rt := range req.Topics {
		st := kmsg.NewOffsetDeleteResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetDeleteResponseTopicPartition()
			sp.Partition = rp.Partition
			tp := topicPartition{rt.Topic, rp.Partition}
			switch {
			case subscribed[rt.Topic]:
				sp.ErrorCode = kerr.GroupSubscribedToTopic.Code
			case !g.cfg.partitionExists(rt.Topic, rp.Partition):
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			default:
				if _, ok := g.offsets[tp]; ok {
					recs = append(recs, offsetTombstone(g.id, tp.topic, tp.partition))
					gone = append(gone, tp)
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if len(recs) == 0 {
		return reply(id, resp)
	}
	for _, tp := range gone {
		delete(g.offsets, tp)
	}
	return Effects{Records: recs, Then: func(now time.Time, err error) Effects {
		if err != nil {
			resp.ErrorCode = storeErrorCode(err, false)
			resp.Topics = nil
		}
		return reply(id, resp)
	}}
}

// subscribedTopics returns the topics the group's members consume. ok is
// false for a non-empty group whose subscriptions cannot be known (a
// classic group with a protocol type other than "consumer").
func (g *Group) subscribedTopics() (map[string]bool, bool) {
	out := map[string]bool{}
	if g.consumer != nil {
		for _, m := range g.consumer.members {
			for _, t := range m.subscribed {
				out[t] = true
			}
		}
		return out, true
	}
	if len(g.members) == 0 {
		return out, true
	}
	if g.protocolType != "consumer" {
		return nil, false
	}
	for _, m := range g.members {
		md, ok := m.metadataFor(g.protocol)
		if !ok {
			continue
		}
		var meta kmsg.ConsumerMemberMetadata
		if err := meta.ReadFrom(md); err != nil {
			continue
		}
		for _, t := range meta.Topics {
			out[t] = true
		}
	}
	return out, true
}

// expireOffsets removes offsets past retention (KIP-211): every offset of
// an Empty group once it has been empty for OffsetsRetention (commit time
// for groups that only store offsets), and the offsets of topics a
// non-empty consumer group no longer consumes. It returns the tombstones
// to write.
func (g *Group) expireOffsets(now time.Time) []Record {
	nowMs := now.UnixMilli()
	retention := g.cfg.OffsetsRetention.Milliseconds()
	var base func(OffsetCommit) int64
	var keep map[string]bool
	switch {
	case g.state == StateEmpty && g.ProtocolType() != "":
		since := g.stateSince.UnixMilli()
		base = func(OffsetCommit) int64 { return since }
	case g.state == StateEmpty:
		base = func(oc OffsetCommit) int64 { return oc.CommitTimestamp }
	case g.state == StateStable && g.ProtocolType() == "consumer":
		subscribed, ok := g.subscribedTopics()
		if !ok {
			return nil
		}
		keep = subscribed
		base = func(oc OffsetCommit) int64 { return oc.CommitTimestamp }
	default:
		return nil
	}
	var recs []Record
	for tp, oc := range g.offsets {
		if keep[tp.topic] || g.pendingCommits[tp] > 0 {
			continue
		}
		expired := nowMs-base(oc) >= retention
		if oc.ExpireTimestamp >= 0 {
			expired = nowMs >= oc.ExpireTimestamp
		}
		if expired {
			delete(g.offsets, tp)
			recs = append(recs, offsetTombstone(g.id, tp.topic, tp.partition))
		}
	}
	return recs
}

// deletable reports whether DeleteGroups may delete the group.
func (g *Group) deletable() *kerr.Error {
	switch {
	case g.state == StateDead:
		return kerr.GroupIDNotFound
	case !g.isEmptyOfMembers():
		return kerr.NonEmptyGroup
	}
	return nil
}

// tombstones returns the records deleting the group and all its offsets,
// and marks the group Dead.
func (g *Group) tombstones(now time.Time) []Record {
	recs := make([]Record, 0, len(g.offsets)+1)
	for _, t := range g.committedTopics() {
		for _, p := range t.Partitions {
			recs = append(recs, offsetTombstone(g.id, t.Topic, p))
		}
	}
	recs = append(recs, groupTombstone(g.id))
	g.offsets = map[topicPartition]OffsetCommit{}
	g.transition(StateDead, now)
	return recs
}
