package broker

// OffsetForLeaderEpoch (API key 23), versions 0-4.
//
// For each partition: the largest leader epoch of the log not above the
// requested one, and the offset where it ended (the start of the next
// epoch, or the log end offset for the latest). Followers use it to find
// where their log diverged from a new leader's (KIP-101/279); consumers to
// detect truncation after a leader change (KIP-320). Only the leader
// answers (NOT_LEADER_OR_FOLLOWER elsewhere), after checking the caller's
// CurrentLeaderEpoch (v2+): older is FENCED_LEADER_EPOCH, newer
// UNKNOWN_LEADER_EPOCH. An unknown epoch answers -1, -1.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/wire"
)

func init() { register(23, 0, 4, (*Broker).handleOffsetForLeaderEpoch) }

func (b *Broker) handleOffsetForLeaderEpoch(ctx context.Context, r *wire.Request) (*wire.Response, error) {
	req := r.Body.(*kmsg.OffsetForLeaderEpochRequest)
	resp := req.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	view := b.view()
	for _, rt := range req.Topics {
		st := kmsg.NewOffsetForLeaderEpochResponseTopic()
		st.Topic = rt.Topic
		t := view.topics[rt.Topic]
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.LeaderEpoch, sp.EndOffset = -1, -1
			current := rp.CurrentLeaderEpoch
			if req.Version < 2 {
				current = -1
			}
			p, pv, err := b.leaderFor(t, rp.Partition)
			if err == nil && current >= 0 {
				err = checkLeaderEpoch(current, pv.leaderEpoch)
			}
			if err != nil {
				setError(&sp.ErrorCode, nil, err)
			} else {
				sp.LeaderEpoch, sp.EndOffset = p.EndOffsetForEpoch(rp.LeaderEpoch)
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return &wire.Response{Msg: resp}, nil
}
