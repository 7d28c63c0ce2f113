package broker

// FindCoordinator (API key 10), versions 0-6.
//
// The coordinator of a group is the leader of the __consumer_offsets
// partition the group id hashes to (Java's String.hashCode, sign bit
// masked, modulo offsets.topic.num.partitions). The topic is created on
// first need. v4+ batches keys (KIP-699); v0-v3 answer one key at the top
// level. Transaction coordinators (key type 1) are answered
// COORDINATOR_NOT_AVAILABLE until transactions exist; other key types
// (share groups) INVALID_REQUEST.
//
// Registering this API matters beyond groups: librdkafka enables LZ4 only
// when the broker advertises FindCoordinator.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/group"
	"github.com/samsa-streaming/samsa/internal/wire"
)

func init() { register(10, 0, 6, (*Broker).handleFindCoordinator) }

func (b *Broker) handleFindCoordinator(ctx context.Context, r *wire.Request) (*wire.Response, error) {
	req := r.Body.(*kmsg.FindCoordinatorRequest)
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	keys := req.CoordinatorKeys
	if req.Version < 4 {
		keys = []string{req.CoordinatorKey}
	}
	for _, key := range keys {
		resp.Coordinators = append(resp.Coordinators, b.findCoordinator(ctx, req.CoordinatorType, key))
	}
	if req.Version < 4 {
		c := resp.Coordinators[0]
		resp.ErrorCode, resp.ErrorMessage, resp.NodeID, resp.Host, resp.Port = c.ErrorCode, c.ErrorMessage, c.NodeID, c.Host, c.Port
		resp.Coordinators = nil
	}
	return &wire.Response{Msg: resp}, nil
}

// findCoordinator locates the coordinator of one key.
func (b *Broker) findCoordinator(ctx context.Context, keyType int8, key string) kmsg.FindCoordinatorResponseCoordinator {
	c := kmsg.NewFindCoordinatorResponseCoordinator()
	c.Key, c.NodeID, c.Port = key, -1, -1
	fail := func(e *kerr.Error) kmsg.FindCoordinatorResponseCoordinator {
		c.ErrorCode = e.Code
		msg := e.Message
		c.ErrorMessage = &msg
		return c
	}
	switch keyType {
	case 0:
	case 1:
		return fail(kerr.CoordinatorNotAvailable)
	default:
		return fail(kerr.InvalidRequest)
	}
	t, err := b.offsetsTopic(ctx)
	if err != nil {
		return fail(err)
	}
	if len(t.partitions) == 0 {
		return fail(kerr.CoordinatorNotAvailable)
	}
	pv := t.partitions[group.PartitionFor(key, int32(len(t.partitions)))]
	if pv.leader < 0 {
		return fail(kerr.CoordinatorNotAvailable)
	}
	for _, br := range b.view().brokers {
		if br.nodeID == pv.leader {
			c.NodeID, c.Host, c.Port = br.nodeID, br.host, br.port
			return c
		}
	}
	return fail(kerr.CoordinatorNotAvailable)
}
