package partition

import (
	"github.com/twmb/franz-go/pkg/kerr"

	samsalog "github.com/samsa-streaming/samsa/internal/log"
)

// Read returns record batches from offset for a consumer: never past the
// high watermark (or the last stable offset for read_committed). Errors are
// Kafka errors (OFFSET_OUT_OF_RANGE, KAFKA_STORAGE_ERROR). The caller must
// Release the result.
func (p *Partition) Read(offset int64, maxBytes int32, readCommitted bool) (samsalog.ReadResult, error) {
	limit := p.HighWatermark()
	if readCommitted {
		limit = p.LastStableOffset()
	}
	if offset > p.log.LogEndOffset() || offset < p.log.LogStartOffset() {
		return samsalog.ReadResult{}, kerr.OffsetOutOfRange
	}
	if offset >= limit {
		return samsalog.ReadResult{}, nil
	}
	r, err := p.log.Read(offset, maxBytes, limit)
	if err != nil {
		return samsalog.ReadResult{}, kafkaError(err)
	}
	return r, nil
}

// Special ListOffsets timestamps.
const (
	LatestTimestamp        = -1
	EarliestTimestamp      = -2
	MaxTimestamp           = -3
	EarliestLocalTimestamp = -4
	LatestTieredTimestamp  = -5
)

// ListOffset answers ListOffsets for one timestamp: the offset and the
// timestamp it maps to (-1, -1 when no record matches). Only committed
// records (below the high watermark or last stable offset) are visible.
func (p *Partition) ListOffset(timestamp int64, readCommitted bool) (offset, ts int64, err error) {
	limit := p.HighWatermark()
	if readCommitted {
		limit = p.LastStableOffset()
	}
	switch timestamp {
	case LatestTimestamp:
		return limit, -1, nil
	case EarliestTimestamp, EarliestLocalTimestamp:
		return p.log.LogStartOffset(), -1, nil
	case LatestTieredTimestamp:
		// Nothing is tiered: no offset has been uploaded.
		return -1, -1, nil
	case MaxTimestamp:
		ts, off := p.log.MaxTimestamp()
		if off < 0 || off >= limit {
			return -1, -1, nil
		}
		return off, ts, nil
	}
	if timestamp < 0 {
		return 0, 0, kerr.InvalidRequest
	}
	off, t, ok := p.log.OffsetForTimestamp(timestamp)
	if !ok || off >= limit {
		return -1, -1, nil
	}
	return off, t, nil
}

// DeleteRecordsBefore advances the log start offset (DeleteRecords). -1
// means the high watermark. It returns the new low watermark.
func (p *Partition) DeleteRecordsBefore(offset int64) (int64, error) {
	hw := p.HighWatermark()
	if offset == -1 {
		offset = hw
	}
	if offset < 0 || offset > hw {
		return 0, kerr.OffsetOutOfRange
	}
	if offset > p.log.LogStartOffset() {
		if err := p.log.DeleteRecordsBefore(offset); err != nil {
			return 0, kafkaError(err)
		}
	}
	return p.log.LogStartOffset(), nil
}

// ReadAsFollower returns record batches from offset for a consumer sent to
// this follower (KIP-392): up to the high watermark the leader last
// reported. An offset at or past it waits (empty result) rather than
// failing: the leader sent the consumer here because this replica had its
// position, and a follower only lags a fetch behind. Below the log start it
// is OFFSET_OUT_OF_RANGE. NOT_LEADER_OR_FOLLOWER if this replica leads now
// or is closed.
func (p *Partition) ReadAsFollower(offset int64, maxBytes int32) (samsalog.ReadResult, error) {
	if r := p.role.Load(); r.leader || r.closed {
		return samsalog.ReadResult{}, kerr.NotLeaderForPartition
	}
	limit := p.HighWatermark()
	if offset < p.log.LogStartOffset() {
		return samsalog.ReadResult{}, kerr.OffsetOutOfRange
	}
	if offset >= limit {
		return samsalog.ReadResult{}, nil
	}
	r, err := p.log.Read(offset, maxBytes, limit)
	if err != nil {
		return samsalog.ReadResult{}, kafkaError(err)
	}
	return r, nil
}
