package broker

// How a broker reaches the controller.
//
// Every node serves clients' admin requests (CreateTopics, DeleteTopics,
// CreatePartitions, AlterConfigs, IncrementalAlterConfigs, ElectLeaders,
// AlterPartitionReassignments, ListPartitionReassignments,
// UnregisterBroker). On the node that leads the metadata quorum they run
// here; elsewhere they are forwarded, as Kafka's brokers forward to KRaft
// controllers, to the controller listener of the quorum leader through
// ctlclient, and its answer is relayed. Requests that arrived on the
// controller listener are never forwarded again: if this node lost the
// leadership meanwhile, the controller answers NOT_CONTROLLER and the
// forwarding broker retries.
//
// The broker's own requests to the controller (registration, heartbeats,
// ISR changes, producer-id blocks, topic auto-creation) go the same way;
// on the controller node ctlclient serves them in-process.

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/wire"
)

// forward relays an admin request to the controller when this node is not
// the controller. It reports false when the request should be served here:
// this node is the controller, the request came from the controller
// listener, or the controller could not be reached (the local handler then
// answers NOT_CONTROLLER in the API's own shape and the client retries).
func (b *Broker) forward(ctx context.Context, r *wire.Request) (*wire.Response, bool) {
	if fromControllerListener(ctx) || b.meta.IsController() {
		return nil, false
	}
	resp, err := b.ctlc.RequestUntil(ctx, r.Body, isNotController)
	if err != nil {
		b.lg.Debug("forwarding to the controller failed", "api", kmsg.NameForKey(r.Key), "err", err)
		return nil, false
	}
	return &wire.Response{Msg: resp}, true
}

// localController serves a request to the controller in-process when this
// node is the controller (ctlclient's Local hook).
func (b *Broker) localController(ctx context.Context, req kmsg.Request) (kmsg.Response, bool, error) {
	if !b.meta.IsController() {
		return nil, false, nil
	}
	a, ok := controllerAPIs[req.Key()]
	if !ok {
		return nil, false, errUnknownKey(req.Key())
	}
	r := &wire.Request{Key: req.Key(), Version: req.GetVersion(), Body: req}
	resp, err := a.handle(b, context.WithValue(ctx, onControllerListener{}, true), r)
	if err != nil {
		return nil, true, err
	}
	if resp.Ready != nil {
		select {
		case <-resp.Ready:
		case <-ctx.Done():
			return nil, true, ctx.Err()
		}
	}
	return resp.Msg, true, nil
}

// isNotController reports whether a controller answer says the receiver is
// not (or no longer) the controller, so the request should be retried once
// a new one is known.
func isNotController(resp kmsg.Response) bool {
	code := int16(0)
	switch r := resp.(type) {
	case *kmsg.BrokerRegistrationResponse:
		code = r.ErrorCode
	case *kmsg.BrokerHeartbeatResponse:
		code = r.ErrorCode
	case *kmsg.AlterPartitionResponse:
		code = r.ErrorCode
	case *kmsg.AllocateProducerIDsResponse:
		code = r.ErrorCode
	case *kmsg.UnregisterBrokerResponse:
		code = r.ErrorCode
	case *kmsg.ElectLeadersResponse:
		code = r.ErrorCode
	case *kmsg.AlterPartitionAssignmentsResponse:
		code = r.ErrorCode
	case *kmsg.ListPartitionReassignmentsResponse:
		code = r.ErrorCode
	case *kmsg.CreateTopicsResponse:
		return anyNotController(r.Topics, func(t kmsg.CreateTopicsResponseTopic) int16 { return t.ErrorCode })
	case *kmsg.DeleteTopicsResponse:
		return anyNotController(r.Topics, func(t kmsg.DeleteTopicsResponseTopic) int16 { return t.ErrorCode })
	case *kmsg.CreatePartitionsResponse:
		return anyNotController(r.Topics, func(t kmsg.CreatePartitionsResponseTopic) int16 { return t.ErrorCode })
	case *kmsg.AlterConfigsResponse:
		return anyNotController(r.Resources, func(t kmsg.AlterConfigsResponseResource) int16 { return t.ErrorCode })
	case *kmsg.IncrementalAlterConfigsResponse:
		return anyNotController(r.Resources, func(t kmsg.IncrementalAlterConfigsResponseResource) int16 { return t.ErrorCode })
	}
	return code == kerr.NotController.Code
}

// anyNotController reports whether any per-item error code is
// NOT_CONTROLLER.
func anyNotController[T any](items []T, code func(T) int16) bool {
	for _, it := range items {
		if code(it) == kerr.NotController.Code {
			return true
		}
	}
	return false
}

// waitForImage waits (bounded by ctx) until this node's metadata image
// satisfies ok, so that an admin answer relayed from the controller is
// followed by metadata and replicas that reflect it.
func (b *Broker) waitForImage(ctx context.Context, ok func(metadata.Image) bool) error {
	updates, cancel := b.meta.Subscribe()
	defer cancel()
	for {
		if ok(b.meta.Image()) {
			b.syncMetadata()
			return nil
		}
		select {
		case <-updates:
		case <-ctx.Done():
			return ctx.Err()
		case <-b.closing:
			return errors.New("broker: closing")
		}
	}
}

// allocateProducerIDs asks the controller for a block of producer ids.
func (b *Broker) allocateProducerIDs(ctx context.Context) (int64, int32, error) {
	req := kmsg.NewPtrAllocateProducerIDsRequest()
	req.BrokerID, req.BrokerEpoch = b.nodeID, b.brokerEpoch.Load()
	resp, err := b.ctlc.RequestUntil(ctx, req, isNotController)
	if err != nil {
		return 0, 0, err
	}
	r := resp.(*kmsg.AllocateProducerIDsResponse)
	if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
		return 0, 0, err
	}
	return r.ProducerIDStart, r.ProducerIDLen, nil
}

// createTopics creates topics through the controller (for auto-creation
// and internal topics) and waits until this node's metadata has the ones
// that were created. An error means the controller was not reached.
func (b *Broker) createTopics(ctx context.Context, topics []kmsg.CreateTopicsRequestTopic) ([]kmsg.CreateTopicsResponseTopic, error) {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version = 7
	req.Topics = topics
	if dl, ok := ctx.Deadline(); ok {
		req.TimeoutMillis = int32(time.Until(dl).Milliseconds())
	}
	resp, err := b.ctlc.RequestUntil(ctx, req, isNotController)
	if err != nil {
		return nil, err
	}
	created := resp.(*kmsg.CreateTopicsResponse).Topics
	err = b.waitForImage(ctx, func(img metadata.Image) bool {
		for _, t := range created {
			if _, ok := img.Topic(t.Topic); !ok && t.ErrorCode == 0 {
				return false
			}
		}
		return true
	})
	return created, err
}

// topicRequest builds one topic of a CreateTopics request.
func topicRequest(name string, partitions int32, rf int16, configs map[string]string) kmsg.CreateTopicsRequestTopic {
	t := kmsg.NewCreateTopicsRequestTopic()
	t.Topic, t.NumPartitions, t.ReplicationFactor = name, partitions, rf
	for k, v := range configs {
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name, c.Value = k, kmsg.StringPtr(v)
		t.Configs = append(t.Configs, c)
	}
	return t
}
