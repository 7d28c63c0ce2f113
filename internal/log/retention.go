package log

import (
	"errors"
	"fmt"
	"slices"
)

// ApplyRetention deletes closed segments, oldest first, that are wholly
// below the log start offset, or whose max timestamp is older than
// RetentionMs, or while the log is larger than RetentionBytes (a segment is
// deleted only if the log stays at least RetentionBytes without it). The
// active segment is never deleted. The log start offset advances to the
// first remaining segment. Deletion takes neither the append lock nor
// blocks readers of other segments; readers of a deleted segment keep its
// file until they release it.
func (l *Log) ApplyRetention() (int, error) {
	if err := l.checkOpen(); err != nil {
		return 0, err
	}
	l.trimMu.Lock()
	defer l.trimMu.Unlock()
	cfg := l.cfg.Load()
	now := cfg.nowMs()
	all := l.segs.Load().segs
	sealed := all[:len(all)-1]
	start := l.startOffset.Load()
	n := 0
	for n < len(sealed) && sealed[n].next.Load() <= start {
		n++
	}
	if cfg.RetentionMs >= 0 {
		for ; n < len(sealed); n++ {
			ts, err := sealed[n].retentionTimestamp()
			if err != nil {
				return 0, err
			}
			if now-ts <= cfg.RetentionMs.Milliseconds() {
				break
			}
		}
	}
	if cfg.RetentionBytes >= 0 {
		var total int64
		sizes := make([]int64, len(all))
		for i, s := range all {
			size, err := s.knownSize()
			if err != nil {
				return 0, err
			}
			sizes[i] = size
			if i >= n {
				total += size
			}
		}
		for n < len(sealed) && total-sizes[n] >= cfg.RetentionBytes {
			total -= sizes[n]
			n++
		}
	}
	if n == 0 {
		return 0, nil
	}
	return l.deleteOldestLocked(n)
}

// retentionTimestamp is the time a sealed segment is judged by: its max
// timestamp, or its file's modification time when no batch carried one
// (as Kafka does).
func (s *segment) retentionTimestamp() (int64, error) {
	if !s.acquire() {
		return 0, fmt.Errorf("log: segment %d: %w", s.base, ErrClosed)
	}
	defer s.release()
	ts, _, err := s.timestamps()
	if err != nil {
		return 0, err
	}
	if ts != noTimestamp {
		return ts, nil
	}
	s.mu.Lock()
	path := s.curLog
	s.mu.Unlock()
	fi, err := s.l.fs.Stat(path)
	if err != nil {
		return 0, fmt.Errorf("log: stat segment %d: %w", s.base, err)
	}
	return fi.ModTime().UnixMilli(), nil
}

// DeleteRecordsBefore advances the log start offset to offset (Kafka's
// DeleteRecords): it is persisted in log-start-offset-checkpoint before
// this returns, reads below it fail with ErrOffsetOutOfRange, and closed
// segments wholly below it are deleted. An offset at or below the current
// start does nothing; one above the log end offset is ErrOffsetOutOfRange.
func (l *Log) DeleteRecordsBefore(offset int64) error {
	if err := l.checkOpen(); err != nil {
		return err
	}
	l.trimMu.Lock()
	defer l.trimMu.Unlock()
	if end := l.nextOffset.Load(); offset > end {
		return fmt.Errorf("%w: delete records before %d, log %s ends at %d", ErrOffsetOutOfRange, offset, l.dir, end)
	}
	if offset <= l.startOffset.Load() {
		return nil
	}
	if err := writeLogStartCheckpoint(l.fs, l.dir, offset); err != nil {
		return fmt.Errorf("log: delete records before %d: %w", offset, err)
	}
	l.startOffset.Store(offset)
	if err := l.epochs.truncateFromStart(offset); err != nil {
		return err
	}
	_, err := l.deleteSegmentsBelowLocked(offset)
	return err
}

// deleteSegmentsBelow deletes closed segments wholly below start.
func (l *Log) deleteSegmentsBelow(start int64) (int, error) {
	l.trimMu.Lock()
	defer l.trimMu.Unlock()
	return l.deleteSegmentsBelowLocked(start)
}

func (l *Log) deleteSegmentsBelowLocked(start int64) (int, error) {
	all := l.segs.Load().segs
	n := 0
	for n < len(all)-1 && all[n].next.Load() <= start {
		n++
	}
	if n == 0 {
		return 0, nil
	}
	return l.deleteOldestLocked(n)
}

// deleteOldestLocked removes the n oldest segments (never the active one),
// oldest first, advances the log start offset to the first remaining one
// and returns how many it removed. Caller holds trimMu (so nobody else
// removes segments); a concurrent roll only adds at the end.
//
// The segments leave the list and are renamed under flushMu, so that a
// flush of sealed segments (flushSealed) either sees and fsyncs them or
// runs after the renames, which its directory fsync then makes durable: a
// removed segment that was never fsynced cannot reappear below the
// recovery point after a crash. If a segment cannot be renamed, it and the
// newer ones are put back (the start offset with them) and the error is
// returned: deleting only the older ones keeps the log contiguous on disk.
func (l *Log) deleteOldestLocked(n int) (int, error) {
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	l.listMu.Lock()
	cur := l.segs.Load().segs
	if n >= len(cur) {
		n = len(cur) - 1
	}
	victims := slices.Clone(cur[:n])
	prevStart := l.startOffset.Load()
	if newStart := cur[n].base; newStart > prevStart {
		l.startOffset.Store(newStart)
	}
	l.replaceSegments(slices.Clone(cur[n:]))
	l.listMu.Unlock()
	var derr error
	for k, s := range victims {
		if derr = s.markDeleted(); derr != nil {
			l.listMu.Lock()
			l.replaceSegments(append(slices.Clone(victims[k:]), l.segs.Load().segs...))
			l.startOffset.Store(max(prevStart, s.base))
			l.listMu.Unlock()
			n = k
			break
		}
	}
	if n > 0 {
		if err := l.fs.SyncDir(l.dir); err != nil {
			return n, errors.Join(derr, fmt.Errorf("log: sync dir %s: %w", l.dir, err))
		}
	}
	if err := l.epochs.truncateFromStart(l.startOffset.Load()); err != nil {
		return n, errors.Join(derr, err)
	}
	return n, derr
}
