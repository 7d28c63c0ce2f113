package broker

// ConsumerGroupHeartbeat (API key 68), versions 0-1 (KIP-848).
//
// The next-generation consumer protocol: members join (epoch 0), heartbeat
// with their epoch and owned partitions, and leave (epoch -1; -2 for a
// static member that will return). The coordinator computes the target
// assignment with a server-side assignor ("uniform", the default, or
// "range") and hands it out incrementally: partitions are revoked before
// they are given to another member. Regex subscriptions (v1) use Go's RE2
// syntax, as Kafka uses RE2/J. Errors: UNKNOWN_MEMBER_ID,
// FENCED_MEMBER_EPOCH, UNSUPPORTED_ASSIGNOR, UNRELEASED_INSTANCE_ID,
// GROUP_MAX_SIZE_REACHED, INVALID_REQUEST, INVALID_REGULAR_EXPRESSION.
//
// Not implemented: persistence of consumer group membership (members rejoin
// after a coordinator restart; offsets persist), rack-aware assignment.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/wire"
)

func init() { register(68, 0, 1, (*Broker).handleConsumerGroupHeartbeat) }

func (b *Broker) handleConsumerGroupHeartbeat(ctx context.Context, r *wire.Request) (*wire.Response, error) {
	req := r.Body.(*kmsg.ConsumerGroupHeartbeatRequest)
	cl := groupClient(r)
	return parked(func(done func(kmsg.Response)) { b.groups.coord.ConsumerGroupHeartbeat(req, cl, done) }), nil
}
