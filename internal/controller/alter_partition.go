package controller

import (
	"context"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

// isrMember is one member of a requested ISR; epoch is -1 when the
// request (v0-v2) does not carry broker epochs.
type isrMember struct {
	id    int32
	epoch int64
}

func requestedISR(req *kmsg.AlterPartitionRequest, rp *kmsg.AlterPartitionRequestTopicPartition) []isrMember {
	if req.Version >= 3 || len(rp.NewEpochISR) > 0 {
		out := make([]isrMember, len(rp.NewEpochISR))
		for i, m := range rp.NewEpochISR {
			out[i] = isrMember{m.BrokerID, m.BrokerEpoch}
		}
		return out
	}
	out := make([]isrMember, len(rp.NewISR))
	for i, id := range rp.NewISR {
		out[i] = isrMember{id, -1}
	}
	return out
}

// checkAlterPartition validates one partition of an AlterPartition from
// leader and returns its next state. The checks and codes follow Kafka's
// ReplicationControlManager: NOT_LEADER_OR_FOLLOWER (the sender does not
// lead it), FENCED_LEADER_EPOCH, INVALID_UPDATE_VERSION (partition epoch),
// INVALID_REQUEST (duplicates, the leader left out), INELIGIBLE_REPLICA (a
// member that is not a replica, not registered, fenced, in controlled
// shutdown, or registered with another epoch).
func (c *Controller) checkAlterPartition(img metadata.Image, t *metadata.Topic, cur metadata.PartitionAssignment,
	leader int32, rp *kmsg.AlterPartitionRequestTopicPartition, members []isrMember) (metadata.PartitionAssignment, *kerr.Error, string) {
	name := fmt.Sprintf("%s-%d", t.Name, cur.Partition)
	switch {
	case cur.Leader != leader:
		return cur, kerr.NotLeaderForPartition, fmt.Sprintf("broker %d does not lead %s (leader %d)", leader, name, cur.Leader)
	case rp.LeaderEpoch != cur.LeaderEpoch:
		return cur, kerr.FencedLeaderEpoch, fmt.Sprintf("leader epoch %d of %s is not the current %d", rp.LeaderEpoch, name, cur.LeaderEpoch)
	case rp.PartitionEpoch != cur.PartitionEpoch:
		return cur, kerr.InvalidUpdateVersion, fmt.Sprintf("partition epoch %d of %s is not the current %d", rp.PartitionEpoch, name, cur.PartitionEpoch)
	case len(members) > metadata.MaxReplicationFactor:
		return cur, kerr.InvalidRequest, fmt.Sprintf("the ISR of %s has more than %d members", name, metadata.MaxReplicationFactor)
	}
	isr := make([]int32, 0, len(members))
	for _, m := range members {
		if slices.Contains(isr, m.id) {
			return cur, kerr.InvalidRequest, fmt.Sprintf("the ISR of %s lists broker %d twice", name, m.id)
		}
		isr = append(isr, m.id)
	}
	if !slices.Contains(isr, leader) {
		return cur, kerr.InvalidRequest, fmt.Sprintf("the new ISR %v of %s leaves out the leader %d", isr, name, leader)
	}
	for _, m := range members {
		b, registered := img.Broker(m.id)
		switch {
		case !slices.Contains(cur.Replicas, m.id):
			return cur, kerr.IneligibleReplica, fmt.Sprintf("broker %d is not a replica of %s", m.id, name)
		case !registered || b.Fenced:
			return cur, kerr.IneligibleReplica, fmt.Sprintf("broker %d is not live", m.id)
		case m.epoch != -1 && m.epoch != b.Epoch:
			return cur, kerr.IneligibleReplica, fmt.Sprintf("broker %d epoch %d is not the current %d", m.id, m.epoch, b.Epoch)
		case c.shuttingDown(m.id, b.Epoch):
			return cur, kerr.IneligibleReplica, fmt.Sprintf("broker %d is shutting down", m.id)
		}
	}
	next := cur
	next.ISR = isr
	if done, ok := completeReassignment(next, img.IsLive); ok {
		next = done
	}
	return next, nil, ""
}

// AlterPartition applies ISR changes sent by partition leaders (Kafka's
// AlterPartition, API 56, v0-v3: topics by name before v2, by id from v2;
// ISR members with broker epochs from v3). The sender's broker epoch must
// be current (STALE_BROKER_EPOCH for the whole request); per partition see
// checkAlterPartition, plus UNKNOWN_TOPIC_OR_PARTITION / UNKNOWN_TOPIC_ID.
// An ISR change that brings every added replica of a reassignment in sync
// completes the reassignment in the same Raft entry. Each accepted
// partition is answered with its state after the entry (leader, leader
// epoch, ISR, partition epoch); a change equal to the current state is
// answered without an entry.
func (c *Controller) AlterPartition(ctx context.Context, req *kmsg.AlterPartitionRequest) *kmsg.AlterPartitionResponse {
	resp := req.ResponseKind().(*kmsg.AlterPartitionResponse)
	c.mu.Lock()
	defer c.mu.Unlock()
	img, err := c.leaderImage(ctx)
	if err != nil {
		resp.ErrorCode = codeOf(err)
		return resp
	}
	if _, e := checkBrokerEpoch(img, req.BrokerID, req.BrokerEpoch); e != nil {
		resp.ErrorCode = kerr.StaleBrokerEpoch.Code
		return resp
	}
	pl := newPlan(img, c.uncleanFunc(img))
	type accepted struct {
		topic, part int
		id          metadata.TopicID
		partition   int32
	}
	var ok []accepted
	seen := map[partKey]bool{}
	for _, rt := range req.Topics {
		ot := kmsg.NewAlterPartitionResponseTopic()
		ot.Topic, ot.TopidID = rt.Topic, rt.TopicID
		var t *metadata.Topic
		found, unknown := false, kerr.UnknownTopicOrPartition
		if req.Version >= 2 || rt.TopicID != [16]byte{} {
			t, found = img.TopicByID(metadata.TopicID(rt.TopicID))
			unknown = kerr.UnknownTopicID
		} else {
			t, found = img.Topic(rt.Topic)
		}
		for i := range rt.Partitions {
			rp := &rt.Partitions[i]
			op := kmsg.NewAlterPartitionResponseTopicPartition()
			op.Partition, op.LeaderID = rp.Partition, metadata.NoLeader
			var code *kerr.Error
			var msg string
			switch {
			case !found:
				code = unknown
			case rp.Partition < 0 || int(rp.Partition) >= len(t.Partitions):
				code = kerr.UnknownTopicOrPartition
			case seen[partKey{t.ID, rp.Partition}]:
				code, msg = kerr.InvalidRequest, "partition listed twice"
			default:
				seen[partKey{t.ID, rp.Partition}] = true
				var next metadata.PartitionAssignment
				next, code, msg = c.checkAlterPartition(img, t, t.Partitions[rp.Partition], req.BrokerID, rp, requestedISR(req, rp))
				if code == nil {
					pl.set(t, next)
					ok = append(ok, accepted{len(resp.Topics), len(ot.Partitions), t.ID, rp.Partition})
				}
			}
			if code != nil {
				op.ErrorCode = code.Code
				c.lg.Debug("AlterPartition refused", "broker", req.BrokerID, "topic", rt.Topic, "partition", rp.Partition, "err", code, "why", msg)
			}
			ot.Partitions = append(ot.Partitions, op)
		}
		resp.Topics = append(resp.Topics, ot)
	}
	if changes := pl.records(); len(changes) > 0 {
		next, err := c.proposeChanges(ctx, img, nil, changes, nil)
		if err != nil {
			code := codeOf(err)
			for _, a := range ok {
				resp.Topics[a.topic].Partitions[a.part].ErrorCode = code
			}
			return resp
		}
		img = next
		c.lg.Debug("ISR changed", "broker", req.BrokerID, "partitions", len(changes))
	}
	for _, a := range ok {
		op := &resp.Topics[a.topic].Partitions[a.part]
		t, found := img.TopicByID(a.id)
		if !found || int(a.partition) >= len(t.Partitions) {
			op.ErrorCode = kerr.UnknownTopicOrPartition.Code
			continue
		}
		p := t.Partitions[a.partition]
		op.LeaderID, op.LeaderEpoch, op.ISR, op.PartitionEpoch = p.Leader, p.LeaderEpoch, slices.Clone(p.ISR), p.PartitionEpoch
	}
	return resp
}
