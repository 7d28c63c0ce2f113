package broker

// ConsumerGroupDescribe (API key 69), versions 0-1 (KIP-848).
//
// Describes KIP-848 consumer groups: group and assignment epochs, the
// assignor, and per member its epoch, subscriptions, current and target
// assignments (v1: member type 1, consumer). Unknown groups and classic
// groups are GROUP_ID_NOT_FOUND. Authorized operations are not computed.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/wire"
)

func init() { register(69, 0, 1, (*Broker).handleConsumerGroupDescribe) }

func (b *Broker) handleConsumerGroupDescribe(ctx context.Context, r *wire.Request) (*wire.Response, error) {
	req := r.Body.(*kmsg.ConsumerGroupDescribeRequest)
	resp := req.ResponseKind().(*kmsg.ConsumerGroupDescribeResponse)
	resp.Groups = make([]kmsg.ConsumerGroupDescribeResponseGroup, len(req.Groups))
	return parked(func(done func(kmsg.Response)) {
		gather(len(req.Groups), func(i int, one func()) {
			b.groups.coord.ConsumerGroupDescribe(req.Groups[i], func(dg kmsg.ConsumerGroupDescribeResponseGroup) {
				resp.Groups[i] = dg
				one()
			})
		}, func() { done(resp) })
	}), nil
}
