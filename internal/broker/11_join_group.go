package broker

// JoinGroup (API key 11), versions 0-9.
//
// Served by the group coordinator (internal/group): KIP-394 member ids
// (MEMBER_ID_REQUIRED for a first join without id, v4+), static membership
// (KIP-345, v5+), the initial rebalance delay of an empty group, the
// rebalance timeout (v1+; the session timeout before), protocol selection by
// vote and session timeouts bounded by group.min/max.session.timeout.ms.
// The answer is parked until the join phase ends. v9's SkipAssignment
// (KIP-814) is set for a static leader that rejoined a stable group with
// unchanged metadata.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/wire"
)

func init() { register(11, 0, 9, (*Broker).handleJoinGroup) }

func (b *Broker) handleJoinGroup(ctx context.Context, r *wire.Request) (*wire.Response, error) {
	req := r.Body.(*kmsg.JoinGroupRequest)
	cl := groupClient(r)
	return parked(func(done func(kmsg.Response)) { b.groups.coord.JoinGroup(req, cl, done) }), nil
}
