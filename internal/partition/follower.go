package partition

import (
	"errors"
	"fmt"

	samsalog "github.com/samsa-streaming/samsa/internal/log"
)

// The follower side: appending what the fetcher copied, the leader's high
// watermark, truncation of a divergent tail (KIP-101/279: the fetcher asks
// the leader for the end offset of its latest epoch, or gets a
// DivergingEpoch in a fetch answer, and truncates before copying anything).

// AppendAsFollower appends batches copied from the leader (stored format:
// offsets and leader epochs already set). The first must start at the log
// end offset and each next one right after the previous; the log checks
// every header and CRC before writing any (errors wrap
// log.ErrOffsetMismatch or log.ErrCorruptBatch). The producer state is
// updated from the batch headers, so that it matches the leader's. It
// returns the new log end offset; ErrNotFollower on the leader.
func (p *Partition) AppendAsFollower(batches []byte) (int64, error) {
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	if err := p.checkFollowerLocked(); err != nil {
		return p.log.LogEndOffset(), err
	}
	before := p.log.LogEndOffset()
	if len(batches) == 0 {
		return before, nil
	}
	last, err := p.log.AppendReplicated(batches)
	// Producer state for every batch written (all of them, unless a write
	// failed part way).
	written := 0
	for rest := batches; len(rest) > 0; {
		h, perr := samsalog.ParseBatchHeader(rest)
		if perr != nil || h.Size() > int64(len(rest)) || h.BaseOffset < before || h.LastOffset() > last {
			break
		}
		if h.ProducerID >= 0 && !h.IsControl() {
			p.producers.Update(h.ProducerID, h.ProducerEpoch, h.BaseSequence, h.LastOffsetDelta+1,
				h.BaseOffset, h.LastOffset(), h.MaxTimestamp)
		}
		written += int(h.Size())
		rest = rest[h.Size():]
	}
	leo := p.log.LogEndOffset()
	if written > 0 {
		p.noteAppendLocked(written)
		p.dataWaiters.ringAll()
	}
	if err != nil {
		return leo, fmt.Errorf("partition %s: append as follower at %d: %w", p, before, err)
	}
	return leo, nil
}

// checkFollowerLocked refuses follower-only work on the leader or a closed
// replica. Caller holds appendMu.
func (p *Partition) checkFollowerLocked() error {
	switch r := p.role.Load(); {
	case r.closed:
		return fmt.Errorf("partition %s: %w", p, samsalog.ErrClosed)
	case r.leader:
		return fmt.Errorf("partition %s: %w", p, ErrNotFollower)
	}
	return nil
}

// UpdateFollowerHighWatermark takes the leader's high watermark from a
// fetch answer: the follower's becomes min(leaderHW, log end offset) if
// that is higher (it moves back only by truncation). Ignored on the leader.
func (p *Partition) UpdateFollowerHighWatermark(leaderHW int64) {
	p.replicaMu.Lock()
	r := p.role.Load()
	hw := min(leaderHW, p.log.LogEndOffset())
	moved := !r.leader && !r.closed && hw > p.highWatermark.Load()
	if moved {
		p.highWatermark.Store(hw)
	}
	p.replicaMu.Unlock()
	if moved {
		p.ringAll()
	}
}

// TruncateTo drops every record at and above offset (a batch containing
// offset goes whole, so the log end may end up below offset), rebuilds the
// producer state for what is left (from a checkpoint not past the new end,
// else by scanning from the log start), and lowers the high watermark to
// the new log end if it was above. offset at or past the log end does
// nothing. ErrNotFollower on the leader.
func (p *Partition) TruncateTo(offset int64) error {
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	if err := p.checkFollowerLocked(); err != nil {
		return err
	}
	if offset >= p.log.LogEndOffset() {
		return nil
	}
	// The on-disk snapshot would describe batches that are going away:
	// remove it first, so that a crash cannot pair it with other batches.
	if p.snapshotOffset > offset {
		if err := p.removeSnapshotLocked(); err != nil {
			return fmt.Errorf("partition %s: truncate to %d: %w", p, offset, err)
		}
	}
	before := p.log.LogEndOffset()
	terr := p.log.TruncateTo(offset)
	if terr != nil {
		terr = fmt.Errorf("partition %s: truncate to %d: %w", p, offset, terr)
	}
	end := p.log.LogEndOffset()
	if end == before {
		return terr
	}
	// Whatever the log now holds (a failed truncation may have cut some),
	// producer state and high watermark must describe it.
	rerr := p.rebuildProducersLocked()
	if rerr != nil {
		rerr = fmt.Errorf("partition %s: truncate to %d: %w", p, offset, rerr)
	}
	p.ckpts.pending = 0
	p.lowerHighWatermarkLocked(end)
	return errors.Join(terr, rerr)
}

// TruncateFullyAndStartAt empties the log and restarts it at offset (a
// follower whose log end is below the leader's log start): the producer
// state is emptied and the high watermark set to offset. ErrNotFollower on
// the leader.
func (p *Partition) TruncateFullyAndStartAt(offset int64) error {
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	if err := p.checkFollowerLocked(); err != nil {
		return err
	}
	if p.snapshotOffset >= 0 {
		if err := p.removeSnapshotLocked(); err != nil {
			return fmt.Errorf("partition %s: truncate fully to %d: %w", p, offset, err)
		}
	}
	if err := p.log.TruncateFullyAndStartAt(offset); err != nil {
		return fmt.Errorf("partition %s: truncate fully to %d: %w", p, offset, err)
	}
	p.producers = NewProducerState()
	p.ckpts.list, p.ckpts.pending = nil, 0
	p.replicaMu.Lock()
	p.highWatermark.Store(offset)
	p.replicaMu.Unlock()
	var err error
	if p.hwCheckpointed.Load() > offset {
		err = p.writeHighWatermark(offset)
	}
	p.ringAll()
	return err
}

// UpdateFollowerLogStartOffset takes the leader's log start offset from a
// fetch answer (after DeleteRecords or retention on the leader): records
// below min(leaderStart, high watermark) are deleted here too, as Kafka's
// followers do. Ignored on the leader.
func (p *Partition) UpdateFollowerLogStartOffset(leaderStart int64) error {
	if p.role.Load().leader {
		return nil
	}
	off := min(leaderStart, p.highWatermark.Load())
	if off <= p.log.LogStartOffset() {
		return nil
	}
	if err := p.log.DeleteRecordsBefore(off); err != nil {
		return fmt.Errorf("partition %s: follow log start %d: %w", p, off, err)
	}
	return nil
}

// lowerHighWatermarkLocked caps the high watermark at end after a
// truncation (rewriting the checkpoint if it is above) and rings every
// waiter. Caller holds appendMu.
func (p *Partition) lowerHighWatermarkLocked(end int64) {
	p.replicaMu.Lock()
	if p.highWatermark.Load() > end {
		p.highWatermark.Store(end)
	}
	p.replicaMu.Unlock()
	if p.hwCheckpointed.Load() > end {
		if err := p.writeHighWatermark(p.highWatermark.Load()); err != nil {
			p.lg.Warn("high watermark checkpoint after truncation", "partition", p.String(), "err", err)
		}
	}
	p.ringAll()
}

// EndOffsetForEpoch answers OffsetForLeaderEpoch for this replica's log
// (see log.EndOffsetForEpoch): the largest epoch <= epoch it knows and
// where that epoch ends, or (-1, -1).
func (p *Partition) EndOffsetForEpoch(epoch int32) (int32, int64) {
	return p.log.EndOffsetForEpoch(epoch)
}

// LatestEpoch returns the newest leader epoch in the log (false if none).
func (p *Partition) LatestEpoch() (int32, bool) { return p.log.LatestEpoch() }
