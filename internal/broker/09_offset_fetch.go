package broker

// OffsetFetch (API key 9), versions 0-10.
//
// Answers committed offsets from the coordinator's memory (loaded from
// __consumer_offsets): -1 for partitions without a commit, every committed
// partition when the topic list is null (v2+). v0-v7 ask for one group (the
// group error is top level from v2, per partition before); v8+ for several
// groups at once, each answered by its own coordinator shard. RequireStable
// (v7+) answers UNSTABLE_OFFSET_COMMIT for partitions with a commit still
// being written. v9 checks a KIP-848 member's id and epoch
// (STALE_MEMBER_EPOCH, UNKNOWN_MEMBER_ID); v10 names topics by id.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/group"
	"github.com/samsa-streaming/samsa/internal/wire"
)

func init() { register(9, 0, 10, (*Broker).handleOffsetFetch) }

func (b *Broker) handleOffsetFetch(ctx context.Context, r *wire.Request) (*wire.Response, error) {
	req := r.Body.(*kmsg.OffsetFetchRequest)
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	view := b.view()
	var groups []group.OffsetFetchRequest
	if req.Version < 8 {
		g := group.OffsetFetchRequest{Group: req.Group, RequireStable: req.RequireStable}
		if req.Topics != nil || req.Version < 2 {
			g.Topics = []group.FetchTopic{}
			for _, t := range req.Topics {
				g.Topics = append(g.Topics, group.FetchTopic{Topic: t.Topic, Partitions: t.Partitions})
			}
		}
		groups = append(groups, g)
	} else {
		for _, rg := range req.Groups {
			g := group.OffsetFetchRequest{Group: rg.Group, RequireStable: req.RequireStable}
			if req.Version >= 9 {
				g.MemberID, g.MemberEpoch = rg.MemberID, rg.MemberEpoch
			}
			if rg.Topics != nil {
				g.Topics = []group.FetchTopic{}
				for _, t := range rg.Topics {
					name := t.Topic
					if req.Version >= 10 {
						name = view.topicName(t.TopicID)
					}
					g.Topics = append(g.Topics, group.FetchTopic{Topic: name, Partitions: t.Partitions})
				}
			}
			groups = append(groups, g)
		}
	}
	answers := make([]kmsg.OffsetFetchResponseGroup, len(groups))
	return parked(func(done func(kmsg.Response)) {
		gather(len(groups), func(i int, one func()) {
			b.groups.coord.OffsetFetch(groups[i], func(rg kmsg.OffsetFetchResponseGroup) {
				answers[i] = rg
				one()
			})
		}, func() {
			if req.Version < 8 {
				fillOffsetFetchV0(req, resp, answers[0])
			} else {
				for i, rg := range answers {
					if req.Version >= 10 {
						b.offsetFetchTopicIDs(req.Groups[i], &rg)
					}
					resp.Groups = append(resp.Groups, rg)
				}
			}
			done(resp)
		})
	}), nil
}

// fillOffsetFetchV0 converts one group's answer to the v0-v7 layout: the
// group error at the top level (v2+) or in every asked partition (v0-v1).
func fillOffsetFetchV0(req *kmsg.OffsetFetchRequest, resp *kmsg.OffsetFetchResponse, rg kmsg.OffsetFetchResponseGroup) {
	resp.ErrorCode = rg.ErrorCode
	if rg.ErrorCode != 0 {
		if req.Version >= 2 {
			return
		}
		for _, t := range req.Topics {
			rt := kmsg.NewOffsetFetchResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetFetchResponseTopicPartition()
				rp.Partition, rp.Offset, rp.ErrorCode = p, -1, rg.ErrorCode
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return
	}
	for _, t := range rg.Topics {
		rt := kmsg.NewOffsetFetchResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetFetchResponseTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata, rp.ErrorCode = p.Partition, p.Offset, p.LeaderEpoch, p.Metadata, p.ErrorCode
			if rp.ErrorCode == kerr.UnstableOffsetCommit.Code && req.Version < 7 {
				rp.ErrorCode = 0
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
}

// offsetFetchTopicIDs names the topics of a v10 answer by id; topics asked
// by an id the cluster does not know are UNKNOWN_TOPIC_ID.
func (b *Broker) offsetFetchTopicIDs(asked kmsg.OffsetFetchRequestGroup, rg *kmsg.OffsetFetchResponseGroup) {
	for j := range rg.Topics {
		t := &rg.Topics[j]
		if asked.Topics != nil && j < len(asked.Topics) {
			t.TopicID = asked.Topics[j].TopicID
			if t.Topic == "" {
				for k := range t.Partitions {
					t.Partitions[k].ErrorCode = kerr.UnknownTopicID.Code
				}
			}
			continue
		}
		if id, _, ok := (brokerTopics{b}).Topic(t.Topic); ok {
			t.TopicID = id
		}
	}
}
