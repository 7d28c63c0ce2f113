package controller

import (
	"context"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

// Election types of ElectLeaders (Kafka's ElectionType).
const (
	electPreferred int8 = 0
	electUnclean   int8 = 1
)

// electOne plans one election of partition p of t and returns its error
// (nil if a change was planned). Preferred: the first replica becomes
// leader if it is live, in the ISR and not already leading
// (ELECTION_NOT_NEEDED, PREFERRED_LEADER_NOT_AVAILABLE). Unclean: a
// partition without a live leader gets one from its ISR or, failing that,
// any live replica (ELECTION_NOT_NEEDED, ELIGIBLE_LEADERS_NOT_AVAILABLE).
func electOne(pl *plan, t *metadata.Topic, p int32, typ int8, live liveFunc) (*kerr.Error, string) {
	cur := pl.get(t, p)
	switch typ {
	case electPreferred:
		pref := cur.Replicas[0]
		if cur.Leader == pref {
			return kerr.ElectionNotNeeded, fmt.Sprintf("Partition %s-%d is already led by its preferred replica %d.", t.Name, p, pref)
		}
		if !slices.Contains(cur.ISR, pref) || !live(pref) {
			return kerr.PreferredLeaderNotAvailable, fmt.Sprintf(
				"Failed to elect leader for partition %s-%d: preferred replica %d is not live or not in the ISR %v.", t.Name, p, pref, cur.ISR)
		}
		next := cur
		next.Leader = pref
		pl.set(t, next)
		return nil, ""
	default:
		if cur.Leader != metadata.NoLeader && live(cur.Leader) {
			return kerr.ElectionNotNeeded, fmt.Sprintf("Partition %s-%d has a leader (%d).", t.Name, p, cur.Leader)
		}
		var next metadata.PartitionAssignment
		if cur.Leader != metadata.NoLeader {
			next = withoutBroker(cur, cur.Leader, live, true)
		} else {
			next, _ = elect(cur, live, true)
		}
		if next.Leader == metadata.NoLeader {
			return kerr.EligibleLeadersNotAvailable, fmt.Sprintf(
				"Failed to elect leader for partition %s-%d: none of the replicas %v is live.", t.Name, p, cur.Replicas)
		}
		pl.set(t, next)
		return nil, ""
	}
}

// ElectLeaders runs preferred (type 0) or unclean (type 1) leader
// elections (Kafka's ElectLeaders, API 43). Nil Topics means every
// partition; then, as Kafka does, partitions that need no election are
// left out of the answer. Per-partition errors: ELECTION_NOT_NEEDED,
// PREFERRED_LEADER_NOT_AVAILABLE, ELIGIBLE_LEADERS_NOT_AVAILABLE,
// UNKNOWN_TOPIC_OR_PARTITION; NOT_CONTROLLER, REQUEST_TIMED_OUT and
// INVALID_REQUEST (unknown election type) are also set at the top level.
// All elections of a request are one Raft entry. TimeoutMillis is not
// used: the answer comes once the entry is applied.
func (c *Controller) ElectLeaders(ctx context.Context, req *kmsg.ElectLeadersRequest) *kmsg.ElectLeadersResponse {
	resp := req.ResponseKind().(*kmsg.ElectLeadersResponse)
	add := func(topic string, p int32, code *kerr.Error, msg string) {
		if len(resp.Topics) == 0 || resp.Topics[len(resp.Topics)-1].Topic != topic {
			rt := kmsg.NewElectLeadersResponseTopic()
			rt.Topic = topic
			resp.Topics = append(resp.Topics, rt)
		}
		rp := kmsg.NewElectLeadersResponseTopicPartition()
		rp.Partition = p
		if code != nil {
			rp.ErrorCode = code.Code
			if msg != "" {
				rp.ErrorMessage = &msg
			}
		}
		rt := &resp.Topics[len(resp.Topics)-1]
		rt.Partitions = append(rt.Partitions, rp)
	}
	failAll := func(code *kerr.Error, msg string) *kmsg.ElectLeadersResponse {
		resp.ErrorCode = code.Code
		for _, t := range req.Topics {
			for _, p := range t.Partitions {
				add(t.Topic, p, code, msg)
			}
		}
		return resp
	}
	typ := req.ElectionType
	if req.Version == 0 {
		typ = electPreferred
	}
	if typ != electPreferred && typ != electUnclean {
		return failAll(kerr.InvalidRequest, fmt.Sprintf("unknown election type %d", typ))
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	img, err := c.leaderImage(ctx)
	if err != nil {
		return failAll(kafkaError(err))
	}
	pl := newPlan(img, c.uncleanFunc(img))
	live := liveFunc(img.IsLive)
	type elected struct{ topic, partition int }
	var ok []elected
	if req.Topics == nil {
		for _, t := range img.Topics() {
			for p := range t.Partitions {
				code, msg := electOne(pl, t, int32(p), typ, live)
				if code == kerr.ElectionNotNeeded {
					continue
				}
				add(t.Name, int32(p), code, msg)
				if code == nil {
					ok = append(ok, elected{len(resp.Topics) - 1, len(resp.Topics[len(resp.Topics)-1].Partitions) - 1})
				}
			}
		}
	} else {
		for _, rt := range req.Topics {
			t, found := img.Topic(rt.Topic)
			for _, p := range rt.Partitions {
				if !found || p < 0 || int(p) >= len(t.Partitions) {
					add(rt.Topic, p, kerr.UnknownTopicOrPartition, "This server does not host this topic-partition.")
					continue
				}
				code, msg := electOne(pl, t, p, typ, live)
				add(rt.Topic, p, code, msg)
				if code == nil {
					ok = append(ok, elected{len(resp.Topics) - 1, len(resp.Topics[len(resp.Topics)-1].Partitions) - 1})
				}
			}
		}
	}
	changes := pl.records()
	if len(changes) == 0 {
		return resp
	}
	if _, err := c.proposeChanges(ctx, img, nil, changes, nil); err != nil {
		code, msg := kafkaError(err)
		for _, e := range ok {
			rp := &resp.Topics[e.topic].Partitions[e.partition]
			rp.ErrorCode, rp.ErrorMessage = code.Code, &msg
		}
		return resp
	}
	c.lg.Info("leaders elected", "type", typ, "partitions", len(changes))
	return resp
}

// electPreferredLeaders proposes, against img, a preferred-leader
// election for every partition whose first replica is live, in the ISR
// and not leading (the periodic auto.leader.rebalance.enable task).
func (c *Controller) electPreferredLeaders(ctx context.Context, img metadata.Image) (metadata.Image, error) {
	pl := newPlan(img, c.uncleanFunc(img))
	live := liveOf(img)
	pl.each(func(t *metadata.Topic, p *metadata.PartitionAssignment) {
		pref := p.Replicas[0]
		if p.Leader != pref && slices.Contains(p.ISR, pref) && live(pref) {
			next := *p
			next.Leader = pref
			pl.set(t, next)
		}
	})
	changes := pl.records()
	if len(changes) == 0 {
		return img, nil
	}
	next, err := c.proposeChanges(ctx, img, nil, changes, nil)
	if err != nil {
		return img, err
	}
	c.lg.Info("preferred leaders elected", "partitions", len(changes))
	return next, nil
}
