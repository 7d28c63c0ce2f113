package broker

// Follower reads (KIP-392). A consumer that gives its rack (Fetch v11+
// Rack, the client's client.rack) and asks the leader of a partition is
// answered, when replica.selector.class is Kafka's
// RackAwareReplicaSelector and an in-sync follower in that rack holds the
// consumer's offset, with no records and PreferredReadReplica naming that
// follower; the client then fetches from it. A follower serves any v11+
// consumer fetch, up to the high watermark its leader last reported. The
// client returns to the leader when the follower answers with an error
// (NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH, OFFSET_OUT_OF_RANGE) or
// its metadata changes.

import (
	"github.com/twmb/franz-go/pkg/kerr"

	samsalog "github.com/samsa-streaming/samsa/internal/log"
	"github.com/samsa-streaming/samsa/internal/partition"
)

// followerReadVersion is the first Fetch version that carries the
// consumer's rack and so may be served by a follower.
const followerReadVersion = 11

// followerReadTarget is the local replica a consumer's fetch may read when
// this broker does not lead the partition: from v11, a follower that knows
// the partition's current leader.
func (b *Broker) followerReadTarget(pv *partitionView, version int16) (*partition.Partition, error) {
	if version >= followerReadVersion && pv.local != nil && pv.leader >= 0 && !pv.local.IsLeader() {
		return pv.local, nil
	}
	return nil, kerr.NotLeaderForPartition
}

// preferredReadReplica returns the follower a consumer in rack, fetching
// at offset from this leader, should read from instead; -1 to stay with
// the leader (rack-aware reads off, no rack given, the leader is in the
// consumer's rack, or no in-sync follower there holds the offset).
func (b *Broker) preferredReadReplica(view *clusterView, p *partition.Partition, version int16, rack string, offset int64) int32 {
	if !b.cfg.RackAwareReads || version < followerReadVersion || rack == "" || b.cfg.Rack == rack {
		return -1
	}
	for _, id := range p.ReadableReplicas(offset) {
		for _, br := range view.brokers {
			if br.nodeID == id && br.rack == rack {
				return id
			}
		}
	}
	return -1
}

// read reads a partition for a fetch of this plan: up to the log end
// for a follower replica fetching from the leader, up to the high
// watermark (or last stable offset) for a consumer, on the leader or on a
// follower.
func (plan *fetchPlan) read(p *partition.Partition, offset int64, maxBytes int32, readCommitted bool) (samsalog.ReadResult, error) {
	switch {
	case plan.replicaID >= 0:
		return p.ReadReplica(offset, maxBytes)
	case !p.IsLeader():
		return p.ReadAsFollower(offset, maxBytes)
	}
	return p.Read(offset, maxBytes, readCommitted)
}
