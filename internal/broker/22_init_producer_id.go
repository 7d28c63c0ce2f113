package broker

// InitProducerId (API key 22), versions 0-5.
//
// Idempotent producers (no transactional id) get a fresh producer id with
// epoch 0 on every call, as Kafka does; ids come from blocks the controller
// hands this broker through the metadata log (AllocateProducerIDs records),
// so they are unique in the cluster and never reused after a restart.
//
// Not implemented: transactional ids (the transaction coordinator is a later
// issue) are answered with COORDINATOR_NOT_AVAILABLE.

import (
	"context"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/wire"
)

func init() { register(22, 0, 5, (*Broker).handleInitProducerID) }

// producerIDBlock hands out ids from the block this broker holds.
type producerIDBlock struct {
	mu   sync.Mutex
	next int64
	end  int64 // exclusive
}

func (b *Broker) handleInitProducerID(ctx context.Context, r *wire.Request) (*wire.Response, error) {
	req := r.Body.(*kmsg.InitProducerIDRequest)
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if req.TransactionalID != nil {
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return &wire.Response{Msg: resp}, nil
	}
	id, err := b.nextProducerID(ctx)
	if err != nil {
		b.lg.Warn("allocating a producer id", "err", err)
		setError(&resp.ErrorCode, nil, kerr.CoordinatorNotAvailable)
		return &wire.Response{Msg: resp}, nil
	}
	resp.ProducerID, resp.ProducerEpoch = id, 0
	return &wire.Response{Msg: resp}, nil
}

// nextProducerID returns an unused producer id, fetching a new block from
// the controller when the current one is used up.
func (b *Broker) nextProducerID(ctx context.Context) (int64, error) {
	p := &b.producerIDs
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.next >= p.end {
		first, count, err := b.allocateProducerIDs(ctx)
		if err != nil {
			return 0, err
		}
		p.next, p.end = first, first+int64(count)
	}
	id := p.next
	p.next++
	return id, nil
}
