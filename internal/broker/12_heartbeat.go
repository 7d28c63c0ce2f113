package broker

// Heartbeat (API key 12), versions 0-4.
//
// Keeps a classic member's session alive. REBALANCE_IN_PROGRESS tells the
// member to rejoin; ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID and (v3+, static
// members) FENCED_INSTANCE_ID that it lost its place.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/wire"
)

func init() { register(12, 0, 4, (*Broker).handleHeartbeat) }

func (b *Broker) handleHeartbeat(ctx context.Context, r *wire.Request) (*wire.Response, error) {
	req := r.Body.(*kmsg.HeartbeatRequest)
	return parked(func(done func(kmsg.Response)) { b.groups.coord.Heartbeat(req, done) }), nil
}
