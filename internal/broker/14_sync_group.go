package broker

// SyncGroup (API key 14), versions 0-5.
//
// Members send SyncGroup after their join answer; the leader's request
// carries everyone's assignment. The answers are parked until the leader's
// assignment is written to __consumer_offsets (as GroupMetadata), then each
// member gets its own. v5 checks ProtocolType/Protocol
// (INCONSISTENT_GROUP_PROTOCOL). Assignments for unknown members are
// ignored; members without one get an empty assignment.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/wire"
)

func init() { register(14, 0, 5, (*Broker).handleSyncGroup) }

func (b *Broker) handleSyncGroup(ctx context.Context, r *wire.Request) (*wire.Response, error) {
	req := r.Body.(*kmsg.SyncGroupRequest)
	return parked(func(done func(kmsg.Response)) { b.groups.coord.SyncGroup(req, done) }), nil
}
