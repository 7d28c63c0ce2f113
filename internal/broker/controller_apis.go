package broker

// The broker-to-controller APIs, served on the controller listener only
// (see forward.go): BrokerRegistration (62), BrokerHeartbeat (63),
// AlterPartition (56) and AllocateProducerIds (67), plus the admin APIs of
// the replicated cluster that clients send to any broker and brokers
// forward: ElectLeaders (43), AlterPartitionReassignments (45),
// ListPartitionReassignments (46) and UnregisterBroker (64). The decisions
// are the controller's (package controller); these handlers only route.

import (
	"context"
	"errors"
	"net"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/wire"
)

func init() {
	registerController(56, 0, 3, (*Broker).handleAlterPartition)
	registerController(62, 0, 3, (*Broker).handleBrokerRegistration)
	registerController(63, 0, 1, (*Broker).handleBrokerHeartbeat)
	registerController(67, 0, 0, (*Broker).handleAllocateProducerIDs)
	registerAdmin(43, 0, 2, (*Broker).handleElectLeaders)
	registerAdmin(45, 0, 0, (*Broker).handleAlterPartitionReassignments)
	registerAdmin(46, 0, 0, (*Broker).handleListPartitionReassignments)
	registerAdmin(64, 0, 0, (*Broker).handleUnregisterBroker)
}

func (b *Broker) handleAlterPartition(ctx context.Context, r *wire.Request) (*wire.Response, error) {
	resp := b.ctl.AlterPartition(ctx, r.Body.(*kmsg.AlterPartitionRequest))
	return &wire.Response{Msg: resp}, nil
}

// handleBrokerRegistration registers a broker. A node that is not yet a
// member of the metadata quorum (a broker-only node joining the cluster) is
// first added to Raft as a non-voter at the address of its CONTROLLER
// listener, so that it receives the metadata log.
func (b *Broker) handleBrokerRegistration(ctx context.Context, r *wire.Request) (*wire.Response, error) {
	req := r.Body.(*kmsg.BrokerRegistrationRequest)
	if err := b.addQuorumMember(ctx, req); err != nil {
		resp := req.ResponseKind().(*kmsg.BrokerRegistrationResponse)
		code := kerr.UnknownServerError
		if errors.Is(err, metadata.ErrNotController) {
			code = kerr.NotController
		}
		b.lg.Warn("adding a node to the metadata quorum", "node", req.BrokerID, "err", err)
		resp.ErrorCode = code.Code
		return &wire.Response{Msg: resp}, nil
	}
	return &wire.Response{Msg: b.ctl.BrokerRegistration(ctx, req)}, nil
}

func (b *Broker) addQuorumMember(ctx context.Context, req *kmsg.BrokerRegistrationRequest) error {
	var addr string
	for _, l := range req.Listeners {
		if l.Name == controllerListenerName {
			addr = net.JoinHostPort(l.Host, strconv.Itoa(int(l.Port)))
		}
	}
	if addr == "" {
		return nil // an older node: it bootstrapped with the quorum
	}
	servers, err := b.meta.Servers()
	if err != nil {
		return err
	}
	for _, s := range servers {
		if s.ID == req.BrokerID && s.Addr == addr {
			return nil
		}
		if s.ID == req.BrokerID && s.Voter {
			return nil // a voter's address comes from controller.quorum.voters
		}
	}
	b.lg.Info("adding a broker-only node to the metadata quorum as a non-voter", "node", req.BrokerID, "addr", addr)
	return b.meta.AddNonvoter(ctx, req.BrokerID, addr)
}

func (b *Broker) handleBrokerHeartbeat(ctx context.Context, r *wire.Request) (*wire.Response, error) {
	return &wire.Response{Msg: b.ctl.BrokerHeartbeat(ctx, r.Body.(*kmsg.BrokerHeartbeatRequest))}, nil
}

func (b *Broker) handleAllocateProducerIDs(ctx context.Context, r *wire.Request) (*wire.Response, error) {
	return &wire.Response{Msg: b.ctl.AllocateProducerIDs(ctx, r.Body.(*kmsg.AllocateProducerIDsRequest))}, nil
}

func (b *Broker) handleElectLeaders(ctx context.Context, r *wire.Request) (*wire.Response, error) {
	req := r.Body.(*kmsg.ElectLeadersRequest)
	ctx, cancel := adminContext(ctx, req.TimeoutMillis)
	defer cancel()
	if fwd, ok := b.forward(ctx, r); ok {
		return fwd, nil
	}
	return &wire.Response{Msg: b.ctl.ElectLeaders(ctx, req)}, nil
}

func (b *Broker) handleAlterPartitionReassignments(ctx context.Context, r *wire.Request) (*wire.Response, error) {
	req := r.Body.(*kmsg.AlterPartitionAssignmentsRequest)
	ctx, cancel := adminContext(ctx, req.TimeoutMillis)
	defer cancel()
	if fwd, ok := b.forward(ctx, r); ok {
		return fwd, nil
	}
	return &wire.Response{Msg: b.ctl.AlterPartitionReassignments(ctx, req)}, nil
}

func (b *Broker) handleListPartitionReassignments(ctx context.Context, r *wire.Request) (*wire.Response, error) {
	req := r.Body.(*kmsg.ListPartitionReassignmentsRequest)
	ctx, cancel := adminContext(ctx, req.TimeoutMillis)
	defer cancel()
	if fwd, ok := b.forward(ctx, r); ok {
		return fwd, nil
	}
	return &wire.Response{Msg: b.ctl.ListPartitionReassignments(ctx, req)}, nil
}

func (b *Broker) handleUnregisterBroker(ctx context.Context, r *wire.Request) (*wire.Response, error) {
	req := r.Body.(*kmsg.UnregisterBrokerRequest)
	ctx, cancel := adminContext(ctx, 30_000)
	defer cancel()
	if fwd, ok := b.forward(ctx, r); ok {
		return fwd, nil
	}
	resp := b.ctl.UnregisterBroker(ctx, req)
	if resp.ErrorCode == 0 {
		// A broker-only node leaves the Raft configuration too.
		if servers, err := b.meta.Servers(); err == nil {
			for _, s := range servers {
				if s.ID == req.BrokerID && !s.Voter {
					if err := b.meta.RemoveServer(ctx, req.BrokerID); err != nil {
						b.lg.Warn("removing the unregistered node from the metadata quorum", "node", req.BrokerID, "err", err)
					}
				}
			}
		}
	}
	return &wire.Response{Msg: resp}, nil
}
