package partition

import (
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/compress"
	samsalog "github.com/samsa-streaming/samsa/internal/log"
)

// ProduceResult says where a produced batch went.
type ProduceResult struct {
	BaseOffset     int64
	LastOffset     int64
	LogAppendTime  int64 // -1 unless the topic uses LogAppendTime
	LogStartOffset int64
	// LeaderEpoch is the leader epoch the batch was appended in (for
	// AckError). For a duplicate it is the current epoch.
	LeaderEpoch int32
	// Duplicate is set when an idempotent producer re-sent a batch that was
	// already appended; the offsets are those of the original append.
	Duplicate bool
}

// AppendProduce validates and appends one producer batch (the records field
// of a produce request for this partition) as the leader. Errors are Kafka
// errors (*kerr.Error) to put in the produce response:
// NOT_LEADER_OR_FOLLOWER, CORRUPT_MESSAGE, MESSAGE_TOO_LARGE,
// INVALID_RECORD, INVALID_PRODUCER_EPOCH, OUT_OF_ORDER_SEQUENCE_NUMBER,
// KAFKA_STORAGE_ERROR. An acks=all produce calls CheckEnoughReplicas first
// and waits with AckError after.
//
// The batch may be modified in place (offsets and leader epoch stamped).
// The high watermark moves at once when the ISR is this replica alone, and
// as followers fetch otherwise.
func (p *Partition) AppendProduce(batch []byte) (ProduceResult, error) {
	if !p.role.Load().leader {
		return ProduceResult{}, kerr.NotLeaderForPartition
	}
	s := p.settings.Load()
	// The header is enough to decide; log.Append checks the CRC and the
	// counts (once, on the hot path), and a batch it refuses changes nothing.
	h, err := samsalog.ParseBatchHeader(batch)
	if err != nil {
		return ProduceResult{}, kafkaError(err)
	}
	if h.Size() < int64(len(batch)) {
		// Produce v3+ carries exactly one batch per partition.
		return ProduceResult{}, kerr.InvalidRecord
	}
	if h.Size() > int64(len(batch)) {
		return ProduceResult{}, kerr.CorruptMessage
	}
	if s.MaxMessageBytes > 0 && len(batch) > int(s.MaxMessageBytes) {
		return ProduceResult{}, kerr.MessageTooLarge
	}
	if err := validateRecords(batch, h); err != nil {
		return ProduceResult{}, kafkaError(err)
	}
	if h.IsControl() || h.IsTransactional() {
		// Control records come only from the transaction coordinator, and
		// transactions are not served yet (no AddPartitionsToTxn).
		return ProduceResult{}, kerr.InvalidRecord
	}
	if !s.KeepProducer && compress.Codec(h.Compression()) != s.Compression {
		if _, err := samsalog.ValidateBatch(batch); err != nil {
			return ProduceResult{}, kafkaError(err)
		}
		batch, err = compress.Recompress(batch, s.Compression, int(s.MaxMessageBytes)*64+(1<<20))
		if err != nil {
			return ProduceResult{}, kerr.CorruptMessage
		}
	}

	p.appendMu.Lock()
	role := p.role.Load() // stable while appendMu is held
	if !role.leader {
		p.appendMu.Unlock()
		return ProduceResult{}, kerr.NotLeaderForPartition
	}
	idempotent := h.ProducerID >= 0
	count := h.LastOffsetDelta + 1
	if idempotent {
		check, err := p.producers.Check(h.ProducerID, h.ProducerEpoch, h.BaseSequence, count)
		if err != nil {
			p.appendMu.Unlock()
			return ProduceResult{}, err
		}
		if check.Duplicate {
			p.appendMu.Unlock()
			if _, err := samsalog.ValidateBatch(batch); err != nil {
				return ProduceResult{}, kafkaError(err)
			}
			return ProduceResult{BaseOffset: check.FirstOffset, LastOffset: check.LastOffset,
				LogAppendTime: -1, LogStartOffset: p.log.LogStartOffset(), LeaderEpoch: role.epoch,
				Duplicate: true}, nil
		}
	}
	// Durability (fsync-on-ack) is waited for by the caller with
	// WaitDurable, outside appendMu, so concurrent and pipelined produces
	// share fsyncs.
	res, err := p.log.AppendNoWait(batch, role.epoch)
	if err != nil {
		p.appendMu.Unlock()
		return ProduceResult{}, kafkaError(err)
	}
	if idempotent {
		p.producers.Update(h.ProducerID, h.ProducerEpoch, h.BaseSequence, count,
			res.BaseOffset, res.LastOffset, res.MaxTimestamp)
	}
	p.noteAppendLocked(len(batch))
	p.appendMu.Unlock()

	p.leaderAppended()
	return ProduceResult{
		BaseOffset:     res.BaseOffset,
		LastOffset:     res.LastOffset,
		LogAppendTime:  res.LogAppendTime,
		LogStartOffset: p.log.LogStartOffset(),
		LeaderEpoch:    role.epoch,
	}, nil
}

// Committed reports whether offset is below the high watermark (an acks=all
// produce of a batch ending at offset may be answered).
func (p *Partition) Committed(offset int64) bool { return offset < p.highWatermark.Load() }

// NeedsDurableAck reports whether acks=all answers must wait for an fsync
// (log.fsync.on.ack).
func (p *Partition) NeedsDurableAck() bool { return p.settings.Load().Log.FsyncOnAck }

// WaitDurable returns once every offset below end is on disk, sharing the
// fsync with concurrent waiters. Errors are KAFKA_STORAGE_ERROR.
func (p *Partition) WaitDurable(end int64) error {
	if err := p.log.WaitDurable(end); err != nil {
		p.lg.Error("fsync failed", "partition", p.String(), "err", err)
		return kerr.KafkaStorageError
	}
	return nil
}
