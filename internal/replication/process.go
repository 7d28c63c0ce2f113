package replication

import (
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// process handles a fetch response: per partition, under f.mu and only if
// the partition is still in the state the request was built from. It
// returns the partitions answered OFFSET_OUT_OF_RANGE, which need requests
// to the leader (resolveOutOfRange) made without the lock.
func (f *fetcher) process(plan *fetchPlan, resp *kmsg.FetchResponse) []*planEntry {
	now := f.cfg.Now()
	if resp.Version < 12 {
		f.fetcherFailed(plan, errOldFetch)
		return nil
	}
	if resp.ErrorCode != 0 {
		f.fetcherFailed(plan, fmt.Errorf("replication: fetch from broker %d: %w", f.leader, kerr.ErrorForCode(resp.ErrorCode)))
		return nil
	}
	f.lastErr = ""
	var outOfRange []*planEntry
	for ti := range resp.Topics {
		t := &resp.Topics[ti]
		for pi := range t.Partitions {
			rp := &t.Partitions[pi]
			e := plan.lookup(resp.Version, t, rp.Partition)
			if e == nil {
				continue // not asked for
			}
			if f.handlePartition(e, rp, now) {
				outOfRange = append(outOfRange, e)
			}
		}
	}
	return outOfRange
}

// handlePartition applies one partition's answer and reports whether it
// was OFFSET_OUT_OF_RANGE (to be resolved by the caller).
func (f *fetcher) handlePartition(e *planEntry, rp *kmsg.FetchResponseTopicPartition, now time.Time) (outOfRange bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := e.st
	r := st.replica
	if !f.current(st) || r.LogEndOffset() != e.fetchOffset {
		return false // re-followed, unfollowed or moved since the request was built
	}
	if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
		if errors.Is(err, kerr.OffsetOutOfRange) {
			return true
		}
		f.delayLocked(st, now, fmt.Errorf("replication: broker %d answered %s: %w", f.leader, r, err))
		return false
	}
	if de := rp.DivergingEpoch; de.Epoch >= 0 || de.EndOffset >= 0 {
		if de.EndOffset < 0 {
			return true // the leader gave no end offset: resolve like out of range
		}
		if err := f.truncateDiverging(st, de.Epoch, de.EndOffset); err != nil {
			f.delayLocked(st, now, err)
		}
		st.leo = r.LogEndOffset()
		return false // records in a diverging answer are ignored
	}
	if len(rp.RecordBatches) > 0 {
		if err := appendWhole(r, rp.RecordBatches); err != nil {
			st.leo = r.LogEndOffset()
			f.delayLocked(st, now, err)
			return false
		}
	}
	r.UpdateFollowerHighWatermark(rp.HighWatermark)
	if ls, ok := r.(logStartFollower); ok && rp.LogStartOffset > r.LogStartOffset() {
		// Retention or DeleteRecords on the leader: follow its log start.
		if err := ls.UpdateFollowerLogStartOffset(rp.LogStartOffset); err != nil {
			f.log.Warn("following the leader's log start", "replica", r.String(), "err", err)
		}
	}
	st.leo = r.LogEndOffset()
	st.leaderHW = rp.HighWatermark
	st.lastFetch = now
	if st.err != nil {
		f.log.Info("partition fetching again", "topic", st.key.Topic, "partition", st.key.Partition)
		st.err = nil
	}
	return false
}

// logStartFollower is implemented by replicas that can advance their log
// start offset to the leader's (*partition.Partition does).
type logStartFollower interface {
	UpdateFollowerLogStartOffset(leaderStart int64) error
}

// truncateDiverging truncates st's replica after the leader reported that
// its log diverges at (epoch, endOffset). Caller holds f.mu.
func (f *fetcher) truncateDiverging(st *partState, epoch int32, endOffset int64) error {
	r := st.replica
	leo := r.LogEndOffset()
	before := latestEpoch(r)
	target := truncationTarget(epoch, endOffset, leo, r.EndOffsetForEpoch)
	f.log.Info("leader reports a diverging log; truncating", "topic", st.key.Topic, "partition", st.key.Partition,
		"diverging_epoch", epoch, "diverging_end_offset", endOffset, "log_end_offset", leo, "truncate_to", target)
	if err := truncateReplica(r, target); err != nil {
		return err
	}
	// The next fetch must ask with something new, or the leader gives the
	// same answer forever. A replica whose epoch cache keeps an entry that
	// starts at its log end offset (it led an epoch without writing) after a
	// no-op truncation does not: Kafka's log drops such entries even then.
	// Cutting one more batch drops the entry too; the batch is fetched
	// again.
	if !moved(r, leo, before) {
		f.log.Warn("truncation did not move the log; dropping its last batch to clear an empty epoch",
			"topic", st.key.Topic, "partition", st.key.Partition, "log_end_offset", leo, "latest_epoch", before)
		if leo > r.LogStartOffset() {
			if err := truncateReplica(r, leo-1); err != nil {
				return err
			}
		} else if err := r.TruncateFullyAndStartAt(leo); err != nil {
			return fmt.Errorf("replication: %s: truncate fully and start at %d: %w", r, leo, err)
		}
	}
	if !moved(r, leo, before) {
		return fmt.Errorf("replication: %s: truncating to %d for diverging epoch %d (end %d) changed neither the log end offset %d nor the latest epoch %d",
			r, target, epoch, endOffset, leo, before)
	}
	return nil
}

// moved reports whether r's log end offset or latest epoch differ from leo
// and epoch.
func moved(r Replica, leo int64, epoch int32) bool {
	return r.LogEndOffset() != leo || latestEpoch(r) != epoch
}

// latestEpoch is r's latest epoch, -1 if it has none.
func latestEpoch(r Replica) int32 {
	if e, ok := r.LatestEpoch(); ok {
		return e
	}
	return -1
}

// truncationTarget is where a follower with log end offset leo truncates
// when the leader answers DivergingEpoch{epoch, endOffset} (endOffset >= 0):
// Kafka's AbstractFetcherThread.getOffsetTruncationState. endOffsetFor is
// the follower's EndOffsetForEpoch.
func truncationTarget(epoch int32, endOffset, leo int64, endOffsetFor func(int32) (int32, int64)) int64 {
	if epoch < 0 {
		return min(endOffset, leo)
	}
	localEpoch, localEnd := endOffsetFor(epoch)
	switch {
	case localEpoch < 0 || localEnd < 0:
		// We know no epoch <= the leader's: trust the leader's end offset.
		return min(endOffset, leo)
	case localEpoch != epoch:
		// We do not know the leader's epoch: cut back to the end of our
		// largest epoch below it; the next fetch checks again from there.
		return min(localEnd, leo)
	default:
		return min(localEnd, endOffset, leo)
	}
}

// truncateReplica truncates r to target, emptying it when target is below
// its log start offset.
func truncateReplica(r Replica, target int64) error {
	if target < 0 {
		return fmt.Errorf("replication: %s: negative truncation offset %d", r, target)
	}
	if target < r.LogStartOffset() {
		if err := r.TruncateFullyAndStartAt(target); err != nil {
			return fmt.Errorf("replication: %s: truncate fully and start at %d: %w", r, target, err)
		}
		return nil
	}
	if err := r.TruncateTo(target); err != nil {
		return fmt.Errorf("replication: %s: truncate to %d: %w", r, target, err)
	}
	return nil
}

// appendWhole appends the whole batches of records to r. Batches wholly
// below r's log end offset are skipped; a batch that straddles it (the
// replica's last batch boundary differs from the leader's) makes the
// replica truncate to that batch's base offset first, so that it holds the
// leader's batch exactly.
func appendWhole(r Replica, records []byte) error {
	spans, err := wholeBatches(records)
	if len(spans) == 0 {
		if err == nil {
			err = errPartialOnly
		}
		return fmt.Errorf("replication: %s: %w", r, err)
	}
	// Batches before a corrupt one are still appended; the error is
	// reported after.
	leo := r.LogEndOffset()
	i := 0
	for i < len(spans) && spans[i].lastOffset < leo {
		i++
	}
	if i < len(spans) {
		first, last := spans[i], spans[len(spans)-1]
		if first.baseOffset < leo {
			if terr := truncateReplica(r, first.baseOffset); terr != nil {
				return terr
			}
		}
		if _, aerr := r.AppendAsFollower(records[first.pos : last.pos+last.size]); aerr != nil {
			return fmt.Errorf("replication: %s: append offsets %d-%d: %w", r, first.baseOffset, last.lastOffset, aerr)
		}
	}
	if err != nil {
		return fmt.Errorf("replication: %s: %w", r, err)
	}
	return nil
}
