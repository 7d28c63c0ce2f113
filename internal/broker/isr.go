package broker

// ISR maintenance on leaders (Kafka's Partition.maybeShrinkIsr /
// maybeExpandIsr with AlterPartition).
//
// The isrLoop goroutine (owned by the broker, started by Start) looks at
// every partition this node leads a few times a second: a follower that has
// not caught up for replica.lag.time.max.ms leaves the ISR, a follower that
// reached the high watermark joins it. The change is asked of the
// controller with AlterPartition (one request for all partitions); the ISR
// a partition acts on changes only when the committed metadata arrives
// through reconcile, so a refused or lost request changes nothing. A
// partition with a request in flight for its current partition epoch is
// skipped until the metadata moves.

import (
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

// isrPending remembers, per partition, the partition epoch an
// AlterPartition was sent for: while the epoch is unchanged the change is
// not asked again, until retryAt when the controller refused it or could
// not be reached (zero: in flight or accepted, wait for the metadata).
type isrPending struct {
	mu   sync.Mutex
	sent map[isrKey]pendingISR
}

type pendingISR struct {
	epoch   int32
	retryAt time.Time
}

// isrRetryAfter spaces out the repeats of a refused ISR change.
const isrRetryAfter = time.Second

type isrKey struct {
	topic     [16]byte
	partition int32
}

func (b *Broker) isrLoop() {
	lag := b.cfg.ReplicaLagTimeMax
	if lag <= 0 {
		lag = 30 * time.Second
	}
	interval := min(lag/4, 200*time.Millisecond)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-b.closing:
			return
		case <-t.C:
			select {
			case <-b.closing: // both were ready: closing wins
				return
			default:
			}
			b.checkISRs(lag)
		}
	}
}

// checkISRs sends one AlterPartition for every led partition whose ISR
// should change.
func (b *Broker) checkISRs(lag time.Duration) {
	now := time.Now()
	req := kmsg.NewPtrAlterPartitionRequest()
	req.Version = 2
	req.BrokerID = b.nodeID
	req.BrokerEpoch = b.brokerEpoch.Load()
	b.isrPending.mu.Lock()
	if b.isrPending.sent == nil {
		b.isrPending.sent = map[isrKey]pendingISR{}
	}
	for _, t := range b.view().topics {
		var rt *kmsg.AlterPartitionRequestTopic
		for _, pv := range t.partitions {
			if pv.local == nil || pv.leader != b.nodeID || !pv.local.IsLeader() {
				continue
			}
			isr, changed := pv.local.ISRChanges(now, lag)
			k := isrKey{t.id, pv.index}
			if !changed || slices.Equal(isr, pv.isr) {
				continue
			}
			if e, ok := b.isrPending.sent[k]; ok && e.epoch == pv.partitionEpoch && (e.retryAt.IsZero() || now.Before(e.retryAt)) {
				continue
			}
			b.isrPending.sent[k] = pendingISR{epoch: pv.partitionEpoch}
			if rt == nil {
				req.Topics = append(req.Topics, kmsg.NewAlterPartitionRequestTopic())
				rt = &req.Topics[len(req.Topics)-1]
				rt.TopicID, rt.Topic = t.id, t.name
			}
			rp := kmsg.NewAlterPartitionRequestTopicPartition()
			rp.Partition, rp.LeaderEpoch, rp.PartitionEpoch, rp.NewISR = pv.index, pv.leaderEpoch, pv.partitionEpoch, isr
			rt.Partitions = append(rt.Partitions, rp)
			b.lg.Info("asking the controller to change an ISR", "partition", pv.local.String(), "isr", pv.isr, "new_isr", isr)
		}
	}
	b.isrPending.mu.Unlock()
	if len(req.Topics) == 0 {
		return
	}
	ctx, cancel := b.closingContext(5 * time.Second)
	defer cancel()
	resp, err := b.ctlc.RequestUntil(ctx, req, isNotController)
	if err != nil {
		b.lg.Warn("AlterPartition failed", "err", err)
		b.retryPending(req, nil)
		return
	}
	r := resp.(*kmsg.AlterPartitionResponse)
	if r.ErrorCode != 0 {
		b.lg.Warn("AlterPartition refused", "err", kerr.ErrorForCode(r.ErrorCode))
		b.retryPending(req, nil)
		return
	}
	refused := map[isrKey]bool{}
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			if p.ErrorCode != 0 {
				b.lg.Info("the controller refused an ISR change", "topic_id", metadata.TopicID(t.TopidID),
					"partition", p.Partition, "err", kerr.ErrorForCode(p.ErrorCode))
				refused[isrKey{t.TopidID, p.Partition}] = true
			}
		}
	}
	b.retryPending(req, refused)
}

// retryPending lets the partitions of a failed request (only those in
// which, if which is not nil) be asked again after isrRetryAfter.
func (b *Broker) retryPending(req *kmsg.AlterPartitionRequest, which map[isrKey]bool) {
	at := time.Now().Add(isrRetryAfter)
	b.isrPending.mu.Lock()
	defer b.isrPending.mu.Unlock()
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			k := isrKey{t.TopicID, p.Partition}
			if e, ok := b.isrPending.sent[k]; ok && (which == nil || which[k]) {
				e.retryAt = at
				b.isrPending.sent[k] = e
			}
		}
	}
}
