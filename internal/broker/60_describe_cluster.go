package broker

// DescribeCluster (API key 60), versions 0-1: cluster id, controller and the
// registered brokers. v1's EndpointType 2 (controllers) is answered with
// UNSUPPORTED_ENDPOINT_TYPE: controllers are not reachable as Kafka
// endpoints. Authorized operations are not computed (no ACLs yet): -2147483648
// ("not requested/unknown") is returned.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/wire"
)

func init() { register(60, 0, 1, (*Broker).handleDescribeCluster) }

func (b *Broker) handleDescribeCluster(ctx context.Context, r *wire.Request) (*wire.Response, error) {
	req := r.Body.(*kmsg.DescribeClusterRequest)
	resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
	if req.Version >= 1 && req.EndpointType != 1 {
		resp.ErrorCode = kerr.UnsupportedEndpointType.Code
		return &wire.Response{Msg: resp}, nil
	}
	view := b.view()
	resp.EndpointType = 1
	resp.ClusterID = view.clusterID
	resp.ControllerID = b.controllerID()
	for _, br := range view.brokers {
		rb := kmsg.NewDescribeClusterResponseBroker()
		rb.NodeID, rb.Host, rb.Port = br.nodeID, br.host, br.port
		if br.rack != "" {
			rack := br.rack
			rb.Rack = &rack
		}
		resp.Brokers = append(resp.Brokers, rb)
	}
	return &wire.Response{Msg: resp}, nil
}
