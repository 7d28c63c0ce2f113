package broker

// DescribeGroups (API key 15), versions 0-6.
//
// Each group is answered by its coordinator shard: state, protocol type,
// protocol and members (member and instance ids, client id and host). As in
// Kafka, member metadata and assignments are only shown while the group is
// Stable. A group the coordinator does not know is "Dead" with no error
// before v6 and GROUP_ID_NOT_FOUND from v6 (KIP-1043). KIP-848 consumer
// groups are shown in the classic layout (protocol type "consumer", the
// server assignor as protocol, subscriptions and assignments in the consumer
// protocol encodings). Authorized operations are not computed (no ACLs).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/wire"
)

func init() { register(15, 0, 6, (*Broker).handleDescribeGroups) }

func (b *Broker) handleDescribeGroups(ctx context.Context, r *wire.Request) (*wire.Response, error) {
	req := r.Body.(*kmsg.DescribeGroupsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
	resp.Groups = make([]kmsg.DescribeGroupsResponseGroup, len(req.Groups))
	return parked(func(done func(kmsg.Response)) {
		gather(len(req.Groups), func(i int, one func()) {
			b.groups.coord.DescribeGroup(req.Groups[i], func(dg kmsg.DescribeGroupsResponseGroup, found bool) {
				if !found && req.Version >= 6 {
					dg.ErrorCode = kerr.GroupIDNotFound.Code
					msg := "group " + dg.Group + " not found"
					dg.ErrorMessage = &msg
				}
				resp.Groups[i] = dg
				one()
			})
		}, func() { done(resp) })
	}), nil
}
