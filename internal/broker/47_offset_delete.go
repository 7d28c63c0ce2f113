package broker

// OffsetDelete (API key 47), version 0.
//
// Deletes committed offsets of a group (tombstones in __consumer_offsets).
// GROUP_ID_NOT_FOUND for an unknown group; NON_EMPTY_GROUP for a group with
// members whose subscriptions cannot be known (a protocol type other than
// "consumer"); per partition GROUP_SUBSCRIBED_TO_TOPIC while a member
// consumes the topic and UNKNOWN_TOPIC_OR_PARTITION for partitions that do
// not exist.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/wire"
)

func init() { register(47, 0, 0, (*Broker).handleOffsetDelete) }

func (b *Broker) handleOffsetDelete(ctx context.Context, r *wire.Request) (*wire.Response, error) {
	req := r.Body.(*kmsg.OffsetDeleteRequest)
	return parked(func(done func(kmsg.Response)) { b.groups.coord.OffsetDelete(req, done) }), nil
}
