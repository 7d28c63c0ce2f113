package broker

// ListGroups (API key 16), versions 0-5.
//
// Lists the groups of every coordinator shard on this node (clients ask each
// broker). v4+ filters by state (KIP-518), v5+ by type ("classic",
// "consumer"; KIP-848), case-insensitively. While a shard is still loading
// its partition the answer carries COORDINATOR_LOAD_IN_PROGRESS with the
// groups known so far.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/wire"
)

func init() { register(16, 0, 5, (*Broker).handleListGroups) }

func (b *Broker) handleListGroups(ctx context.Context, r *wire.Request) (*wire.Response, error) {
	req := r.Body.(*kmsg.ListGroupsRequest)
	resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
	var states, types []string
	if req.Version >= 4 {
		states = req.StatesFilter
	}
	if req.Version >= 5 {
		types = req.TypesFilter
	}
	return parked(func(done func(kmsg.Response)) {
		b.groups.coord.ListGroups(states, types, func(groups []kmsg.ListGroupsResponseGroup, code int16) {
			resp.Groups, resp.ErrorCode = groups, code
			if resp.Groups == nil {
				resp.Groups = []kmsg.ListGroupsResponseGroup{}
			}
			done(resp)
		})
	}), nil
}
