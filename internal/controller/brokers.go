package controller

import (
	"context"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

// UnregisterBroker removes a broker's registration (Kafka's
// UnregisterBroker, API 64; `samsa cluster decommission`). Unlike Kafka,
// which lets a broker that still holds replicas go and leaves those
// replicas offline, samsa refuses with INVALID_REQUEST while any partition
// still lists the broker as a replica (including one being added or
// removed by a reassignment): move the replicas away first. Other errors:
// BROKER_ID_NOT_REGISTERED, NOT_CONTROLLER, REQUEST_TIMED_OUT. A broker
// process that keeps running after this registers again.
func (c *Controller) UnregisterBroker(ctx context.Context, req *kmsg.UnregisterBrokerRequest) *kmsg.UnregisterBrokerResponse {
	resp := req.ResponseKind().(*kmsg.UnregisterBrokerResponse)
	fail := func(code *kerr.Error, msg string) *kmsg.UnregisterBrokerResponse {
		resp.ErrorCode = code.Code
		if msg != "" {
			resp.ErrorMessage = &msg
		}
		return resp
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	img, err := c.leaderImage(ctx)
	if err != nil {
		code, msg := kafkaError(err)
		return fail(code, msg)
	}
	if _, ok := img.Broker(req.BrokerID); !ok {
		return fail(kerr.BrokerIDNotRegistered, fmt.Sprintf("Broker ID %d is not currently registered", req.BrokerID))
	}
	held, example := 0, ""
	for _, t := range img.Topics() {
		for _, p := range t.Partitions {
			if slices.Contains(p.Replicas, req.BrokerID) {
				if held == 0 {
					example = fmt.Sprintf("%s-%d", t.Name, p.Partition)
				}
				held++
			}
		}
	}
	if held > 0 {
		return fail(kerr.InvalidRequest, fmt.Sprintf(
			"broker %d still holds %d partition replica(s) (e.g. %s); move them away first (samsa cluster decommission %d)",
			req.BrokerID, held, example, req.BrokerID))
	}
	if _, err := c.log.Propose(ctx, metadata.UnregisterBroker{NodeID: req.BrokerID}); err != nil {
		code, msg := kafkaError(err)
		return fail(code, msg)
	}
	c.leaseMu.Lock()
	delete(c.leases, req.BrokerID)
	c.leaseMu.Unlock()
	c.lg.Info("broker unregistered", "node", req.BrokerID)
	return resp
}

// AllocateProducerIDs hands a producer-id block to a broker (Kafka's
// AllocateProducerIds, API 67) through AllocateProducerIDBlock.
func (c *Controller) AllocateProducerIDs(ctx context.Context, req *kmsg.AllocateProducerIDsRequest) *kmsg.AllocateProducerIDsResponse {
	resp := req.ResponseKind().(*kmsg.AllocateProducerIDsResponse)
	first, count, err := c.AllocateProducerIDBlock(ctx, req.BrokerID, req.BrokerEpoch)
	if err != nil {
		c.lg.Debug("producer id block refused", "node", req.BrokerID, "err", err)
		resp.ErrorCode = codeOf(err)
		return resp
	}
	resp.ProducerIDStart, resp.ProducerIDLen = first, count
	return resp
}

// Handle serves one broker-to-controller request in-process (for the
// controller listener and for ctlclient's Local hook): BrokerRegistration,
// BrokerHeartbeat, AlterPartition, AllocateProducerIds, UnregisterBroker,
// ElectLeaders, AlterPartitionReassignments and ListPartitionReassignments.
// It reports false for any other request (the admin requests with Go
// signatures are translated by the broker).
func (c *Controller) Handle(ctx context.Context, req kmsg.Request) (kmsg.Response, bool) {
	switch r := req.(type) {
	case *kmsg.BrokerRegistrationRequest:
		return c.BrokerRegistration(ctx, r), true
	case *kmsg.BrokerHeartbeatRequest:
		return c.BrokerHeartbeat(ctx, r), true
	case *kmsg.AlterPartitionRequest:
		return c.AlterPartition(ctx, r), true
	case *kmsg.AllocateProducerIDsRequest:
		return c.AllocateProducerIDs(ctx, r), true
	case *kmsg.UnregisterBrokerRequest:
		return c.UnregisterBroker(ctx, r), true
	case *kmsg.ElectLeadersRequest:
		return c.ElectLeaders(ctx, r), true
	case *kmsg.AlterPartitionAssignmentsRequest:
		return c.AlterPartitionReassignments(ctx, r), true
	case *kmsg.ListPartitionReassignmentsRequest:
		return c.ListPartitionReassignments(ctx, r), true
	}
	return nil, false
}
