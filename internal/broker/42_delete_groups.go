package broker

// DeleteGroups (API key 42), versions 0-3.
//
// Deletes groups without members: their offsets and metadata get tombstones
// in __consumer_offsets. Per group: GROUP_ID_NOT_FOUND when unknown,
// NON_EMPTY_GROUP while it has members, NOT_COORDINATOR when another broker
// coordinates it.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/wire"
)

func init() { register(42, 0, 3, (*Broker).handleDeleteGroups) }

func (b *Broker) handleDeleteGroups(ctx context.Context, r *wire.Request) (*wire.Response, error) {
	req := r.Body.(*kmsg.DeleteGroupsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
	resp.Groups = make([]kmsg.DeleteGroupsResponseGroup, len(req.Groups))
	return parked(func(done func(kmsg.Response)) {
		gather(len(req.Groups), func(i int, one func()) {
			b.groups.coord.DeleteGroup(req.Groups[i], func(code int16) {
				rg := kmsg.NewDeleteGroupsResponseGroup()
				rg.Group, rg.ErrorCode = req.Groups[i], code
				if code != 0 {
					msg := kerr.ErrorForCode(code).Error()
					rg.ErrorMessage = &msg
				}
				resp.Groups[i] = rg
				one()
			})
		}, func() { done(resp) })
	}), nil
}
