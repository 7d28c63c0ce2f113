package broker

// Produce (API key 0), versions 0-11.
//
// v0-v2 are advertised but refused per partition with UNSUPPORTED_VERSION:
// they carry message format v0/v1, which samsa does not store. Advertising v0
// matters anyway: librdkafka enables compression only when the broker lists
// Produce v0 (KAFKA-18659).
//
// Each partition's records field must hold exactly one record batch v2; the
// partition validates it (CRC-32C, lengths, counts), checks idempotent
// producer sequences (duplicates are answered with the original offsets,
// gaps with OUT_OF_ORDER_SEQUENCE_NUMBER) and appends it.
//
// acks=0 gets no response; acks=1 is answered after the leader's append;
// acks=-1 (all) after the high watermark passed the batch (every ISR member
// has it), parked (never blocking the connection) until then or until the
// request timeout. acks=all is refused with NOT_ENOUGH_REPLICAS before the
// append when the ISR is smaller than min.insync.replicas, and answered
// NOT_ENOUGH_REPLICAS_AFTER_APPEND when it shrank below it before the batch
// was committed. A partition that stopped leading while the answer waited
// gets NOT_LEADER_OR_FOLLOWER: the batch may or may not survive, and an
// idempotent producer's retry to the new leader is deduplicated.
//
// Not implemented: transactional produce (transactions are a later issue);
// v12 (KIP-890) and v13 (topic ids).

import (
	"context"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/partition"
	"github.com/samsa-streaming/samsa/internal/wire"
)

func init() { register(0, 0, 11, (*Broker).handleProduce) }

// pendingAck is a partition whose produce answer waits for the high
// watermark to pass lastOffset.
type pendingAck struct {
	p          *partition.Partition
	resp       *kmsg.ProduceResponseTopicPartition
	lastOffset int64
	epoch      int32 // the leader epoch the batch was appended in
	durable    bool  // fsync-on-ack: also wait until the batch is on disk
}

func (b *Broker) handleProduce(ctx context.Context, r *wire.Request) (*wire.Response, error) {
	req := r.Body.(*kmsg.ProduceRequest)
	// The batches are copied into the log by the appends below and nothing
	// in the response points into the request: its buffer can be reused.
	defer r.ReleaseFrame()
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	view := b.view()
	var pending []pendingAck
	for i := range req.Topics {
		rt := &req.Topics[i]
		st := kmsg.NewProduceResponseTopic()
		st.Topic = rt.Topic
		st.Partitions = make([]kmsg.ProduceResponseTopicPartition, len(rt.Partitions))
		var topic *topicView
		topic, view = b.topicOrSync(view, rt.Topic)
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			sp := &st.Partitions[j]
			sp.Default()
			sp.Partition = rp.Partition
			p, err := b.produceTarget(req, topic, rp.Partition)
			if err == nil {
				var res partition.ProduceResult
				res, err = p.AppendProduce(rp.Records)
				if err == nil {
					sp.BaseOffset, sp.LogAppendTime, sp.LogStartOffset = res.BaseOffset, res.LogAppendTime, res.LogStartOffset
					if req.Acks == -1 {
						done, ackErr := p.AckError(res.LeaderEpoch, res.LastOffset)
						switch {
						case !done || p.NeedsDurableAck():
							pending = append(pending, pendingAck{p: p, resp: sp, lastOffset: res.LastOffset,
								epoch: res.LeaderEpoch, durable: p.NeedsDurableAck()})
						case ackErr != nil:
							err = ackErr
						}
					}
				}
				b.metrics.produced(len(rp.Records), err)
			}
			if err != nil {
				setError(&sp.ErrorCode, &sp.ErrorMessage, err)
			}
		}
		resp.Topics = append(resp.Topics, st)
	}
	if req.Acks == 0 {
		return wire.NoResponse, nil
	}
	if len(pending) == 0 {
		b.addProduceHints(req.Version, resp)
		return &wire.Response{Msg: resp}, nil
	}
	return b.parkProduce(req.Version, resp, pending, time.Duration(req.TimeoutMillis)*time.Millisecond), nil
}

// produceTarget finds the local leader replica a produce may append to.
func (b *Broker) produceTarget(req *kmsg.ProduceRequest, topic *topicView, index int32) (*partition.Partition, error) {
	switch {
	case req.Version < 3:
		return nil, kerr.UnsupportedVersion
	case req.TransactionID != nil:
		return nil, kerr.TransactionalIDAuthorizationFailed
	case topic == nil:
		return nil, kerr.UnknownTopicOrPartition
	case index < 0 || int(index) >= len(topic.partitions):
		return nil, kerr.UnknownTopicOrPartition
	}
	pv := &topic.partitions[index]
	if pv.leader != b.nodeID || pv.local == nil {
		return nil, kerr.NotLeaderForPartition
	}
	if topic.internal && !b.allowInternalWrites {
		return nil, kerr.InvalidTopicException
	}
	if req.Acks == -1 {
		if err := pv.local.CheckEnoughReplicas(); err != nil {
			return nil, err
		}
	}
	return pv.local, nil
}

// parkProduce answers an acks=all produce once every pending partition's
// high watermark passed its batch, or with REQUEST_TIMED_OUT for those that
// did not within timeout; partitions whose leadership moved meanwhile get
// leader hints. The waiting goroutine is owned by the response: it ends
// when Ready is closed.
func (b *Broker) parkProduce(version int16, resp *kmsg.ProduceResponse, pending []pendingAck, timeout time.Duration) *wire.Response {
	ready := make(chan struct{})
	w := partition.NewWakeup()
	go func() {
		defer close(ready)
		defer b.addProduceHints(version, resp)
		timer := time.NewTimer(timeout)
		defer timer.Stop()
		waitDurable(pending)
		for {
			for _, pa := range pending {
				pa.p.Park(w)
			}
			left := pending[:0]
			for _, pa := range pending {
				done, err := pa.p.AckError(pa.epoch, pa.lastOffset)
				if !done {
					left = append(left, pa)
					continue
				}
				pa.p.Unpark(w)
				if err != nil && pa.resp.ErrorCode == 0 {
					setError(&pa.resp.ErrorCode, &pa.resp.ErrorMessage, err)
				}
			}
			pending = left
			if len(pending) == 0 {
				return
			}
			select {
			case <-w.C:
			case <-timer.C:
				for _, pa := range pending {
					pa.p.Unpark(w)
					pa.resp.ErrorCode = kerr.RequestTimedOut.Code
				}
				return
			case <-b.closing:
				for _, pa := range pending {
					pa.resp.ErrorCode = kerr.NotLeaderForPartition.Code
				}
				return
			}
		}
	}()
	return &wire.Response{Msg: resp, Ready: ready}
}

// waitDurable waits, in parallel, until every batch that needs an fsync
// before its acknowledgement is durable; a failed fsync sets
// KAFKA_STORAGE_ERROR on that partition's answer.
func waitDurable(pending []pendingAck) {
	var wg sync.WaitGroup
	for i := range pending {
		pa := &pending[i]
		if !pa.durable {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := pa.p.WaitDurable(pa.lastOffset + 1); err != nil {
				setError(&pa.resp.ErrorCode, &pa.resp.ErrorMessage, err)
			}
		}()
	}
	wg.Wait()
}
