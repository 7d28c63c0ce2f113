package broker

// OffsetCommit (API key 8), versions 0-10.
//
// Commits are records in __consumer_offsets (Kafka's OffsetCommitKey/Value),
// acknowledged once written and below the high watermark. Members commit
// with their generation (classic) or member epoch (KIP-848, v9+); anyone may
// commit with generation -1 while the group is Empty (simple consumers,
// admin tools), which creates the group if needed. Errors per partition:
// UNKNOWN_TOPIC_OR_PARTITION, OFFSET_METADATA_TOO_LARGE
// (offset.metadata.max.bytes), ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID,
// FENCED_INSTANCE_ID, REBALANCE_IN_PROGRESS (between join and sync),
// STALE_MEMBER_EPOCH, INVALID_COMMIT_OFFSET_SIZE. v1's per-partition
// timestamp and v2-v4's retention time set the commit's expiry. v10 names
// topics by id (UNKNOWN_TOPIC_ID for ids the cluster does not know).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/wire"
)

func init() { register(8, 0, 10, (*Broker).handleOffsetCommit) }

func (b *Broker) handleOffsetCommit(ctx context.Context, r *wire.Request) (*wire.Response, error) {
	req := r.Body.(*kmsg.OffsetCommitRequest)
	var unknownIDs map[[16]byte]bool
	if req.Version >= 10 {
		view := b.view()
		for i := range req.Topics {
			rt := &req.Topics[i]
			if name := view.topicName(rt.TopicID); name != "" {
				rt.Topic = name
			} else {
				if unknownIDs == nil {
					unknownIDs = map[[16]byte]bool{}
				}
				unknownIDs[rt.TopicID] = true
				rt.Topic = ""
			}
		}
	}
	return parked(func(done func(kmsg.Response)) {
		b.groups.coord.OffsetCommit(req, func(msg kmsg.Response) {
			if resp, ok := msg.(*kmsg.OffsetCommitResponse); ok && unknownIDs != nil {
				for i := range resp.Topics {
					if !unknownIDs[resp.Topics[i].TopicID] {
						continue
					}
					for j := range resp.Topics[i].Partitions {
						resp.Topics[i].Partitions[j].ErrorCode = kerr.UnknownTopicID.Code
					}
				}
			}
			done(msg)
		})
	}), nil
}
