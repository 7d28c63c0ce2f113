package broker

// LeaveGroup (API key 13), versions 0-5.
//
// v0-v2 remove one member by id (the error is top level); v3+ remove a batch
// of members, each by member id or, for administrative removal of static
// members, by group.instance.id alone (KIP-345), with an error per member.
// v5's Reason (KIP-800) is accepted and not recorded.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/wire"
)

func init() { register(13, 0, 5, (*Broker).handleLeaveGroup) }

func (b *Broker) handleLeaveGroup(ctx context.Context, r *wire.Request) (*wire.Response, error) {
	req := r.Body.(*kmsg.LeaveGroupRequest)
	return parked(func(done func(kmsg.Response)) { b.groups.coord.LeaveGroup(req, done) }), nil
}
