package replication

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ListOffsets timestamps asking for the log end and the log start.
const (
	latestTimestamp   = -1
	earliestTimestamp = -2
)

// resolveOutOfRange handles OFFSET_OUT_OF_RANGE for e's partition, as
// Kafka's fetchOffsetAndTruncate: if the leader's end offset is below ours,
// truncate to it; otherwise, if the leader's log start is above our end,
// restart the replica empty there. Network requests are made without f.mu;
// the replica is touched only under it and only if the partition was not
// re-followed meanwhile. Called only by run.
func (f *fetcher) resolveOutOfRange(e *planEntry) {
	st := e.st
	latest, err := f.listOffset(st, latestTimestamp)
	if err != nil {
		f.delay(st, err)
		return
	}
	done, err := f.withReplica(st, func(r Replica) (bool, error) {
		leo := r.LogEndOffset()
		if latest >= leo {
			return false, nil
		}
		f.log.Warn("replica is ahead of its leader; truncating to the leader's end offset",
			"topic", st.key.Topic, "partition", st.key.Partition, "log_end_offset", leo, "leader_end_offset", latest)
		if err := truncateReplica(r, latest); err != nil {
			return true, err
		}
		return true, checkMoved(r, leo)
	})
	if done || err != nil {
		if err != nil {
			f.delay(st, err)
		}
		return
	}
	earliest, err := f.listOffset(st, earliestTimestamp)
	if err != nil {
		f.delay(st, err)
		return
	}
	done, err = f.withReplica(st, func(r Replica) (bool, error) {
		leo := r.LogEndOffset()
		if earliest <= leo {
			return false, nil
		}
		f.log.Info("replica is behind its leader's log start; restarting it there",
			"topic", st.key.Topic, "partition", st.key.Partition, "log_end_offset", leo, "leader_log_start_offset", earliest)
		if err := r.TruncateFullyAndStartAt(earliest); err != nil {
			return true, fmt.Errorf("replication: %s: truncate fully and start at %d: %w", r, earliest, err)
		}
		return true, checkMoved(r, leo)
	})
	if err == nil && !done {
		// In range by now (the leader's log moved meanwhile): fetch again,
		// after a back-off so that a leader that keeps answering
		// out-of-range cannot make us spin.
		err = fmt.Errorf("replication: broker %d answered %s: %w (offsets %d-%d contain our end)",
			f.leader, st.replica, kerr.OffsetOutOfRange, earliest, latest)
	}
	if err != nil {
		f.delay(st, err)
	}
}

// checkMoved reports an error if r's log end offset is still leo after a
// truncation meant to move it, so that the partition backs off instead of
// asking the leader the same question again at once.
func checkMoved(r Replica, leo int64) error {
	if r.LogEndOffset() == leo {
		return fmt.Errorf("replication: %s: truncation left the log end offset at %d", r, leo)
	}
	return nil
}

// withReplica runs fn on st's replica under f.mu if st is still current;
// it reports false when it is not.
func (f *fetcher) withReplica(st *partState, fn func(Replica) (bool, error)) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.current(st) {
		return true, nil
	}
	done, err := fn(st.replica)
	st.leo = st.replica.LogEndOffset()
	return done, err
}

// delay backs st off after err if it is still current.
func (f *fetcher) delay(st *partState, err error) {
	now := f.cfg.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.current(st) {
		f.delayLocked(st, now, err)
	}
}

// listOffset asks the leader, as replica NodeID, for one offset of st's
// partition: latestTimestamp (its log end offset; a leader that ignores the
// replica id answers its high watermark, which is lower, hence also safe)
// or earliestTimestamp (its log start offset).
func (f *fetcher) listOffset(st *partState, timestamp int64) (int64, error) {
	conn, err := f.connect()
	if err != nil {
		return -1, err
	}
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = f.cfg.NodeID
	req.IsolationLevel = 0
	t := kmsg.NewListOffsetsRequestTopic()
	t.Topic = st.key.Topic
	p := kmsg.NewListOffsetsRequestTopicPartition()
	p.Partition = st.key.Partition
	p.CurrentLeaderEpoch = st.leaderEpoch
	p.Timestamp = timestamp
	p.MaxNumOffsets = 1 // v0 only
	t.Partitions = append(t.Partitions, p)
	req.Topics = append(req.Topics, t)
	ctx, cancel := context.WithTimeout(f.ctx, dialTimeout+f.cfg.MaxWait)
	defer cancel()
	kresp, err := conn.request(ctx, req)
	if err != nil {
		return -1, fmt.Errorf("replication: list offsets from broker %d for %s: %w", f.leader, st.replica, err)
	}
	resp, ok := kresp.(*kmsg.ListOffsetsResponse)
	if !ok {
		return -1, fmt.Errorf("replication: list offsets from broker %d: unexpected response %T", f.leader, kresp)
	}
	for _, rt := range resp.Topics {
		if rt.Topic != st.key.Topic {
			continue
		}
		for _, rp := range rt.Partitions {
			if rp.Partition != st.key.Partition {
				continue
			}
			if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
				return -1, fmt.Errorf("replication: list offsets from broker %d for %s: %w", f.leader, st.replica, err)
			}
			offset := rp.Offset
			if resp.Version == 0 {
				offset = -1
				if len(rp.OldStyleOffsets) > 0 {
					offset = rp.OldStyleOffsets[0]
				}
			}
			if offset < 0 {
				return -1, fmt.Errorf("replication: list offsets from broker %d for %s: no offset for timestamp %d", f.leader, st.replica, timestamp)
			}
			return offset, nil
		}
	}
	return -1, fmt.Errorf("replication: list offsets from broker %d: %s missing from the answer", f.leader, st.replica)
}
