package log

import (
	"fmt"
	"slices"
)

// TruncateTo drops every record at and above offset (a follower
// truncating to its leader). Truncation happens at batch boundaries: if
// offset is inside a batch, that whole batch goes and the log end offset
// becomes the batch's base offset, below offset. Newer segments are
// deleted, the segment holding the cut becomes the active one, its indexes
// and the epoch checkpoint are fixed, and everything is fsynced before
// TruncateTo returns. offset >= LogEndOffset does nothing; offset below
// LogStartOffset is ErrOffsetOutOfRange. If the cut would fall below the log
// start offset (the start is inside the batch), the log is emptied and
// restarted at offset.
//
// Readers holding results for truncated data may see io.ErrUnexpectedEOF
// when they write them out.
func (l *Log) TruncateTo(offset int64) error {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	l.trimMu.Lock()
	defer l.trimMu.Unlock()
	if err := l.writableLocked(); err != nil {
		return err
	}
	start, end := l.startOffset.Load(), l.nextOffset.Load()
	if offset >= end {
		// Nothing to cut, but an epoch that started at the end and wrote
		// nothing (a leader that never appended) is dropped, as Kafka
		// does: otherwise a follower keeps reporting it and diverges
		// forever.
		return l.epochs.truncateFromEnd(offset)
	}
	if offset < start {
		return fmt.Errorf("%w: truncate to %d below log start %d", ErrOffsetOutOfRange, offset, start)
	}
	if err := l.dirtyLocked(); err != nil {
		return err
	}
	segs := l.segs.Load().segs
	i := l.segs.Load().floor(offset)
	if i < 0 {
		return fmt.Errorf("log: truncate %s to %d: no segment holds it", l.dir, offset)
	}
	s := segs[i]
	// Unseal first: an idle sealed segment's files could otherwise be
	// closed under us.
	s.mu.Lock()
	wasSealed := s.sealed.Load()
	s.sealed.Store(false)
	s.mu.Unlock()
	limit := s.size.Load()
	if wasSealed {
		var err error
		if limit, err = s.knownSize(); err != nil {
			return err
		}
	}
	f, err := s.logFile()
	if err != nil {
		return err
	}
	w := newHeaderWalker(s, f, limit)
	s.clearHint()
	cutPos, h, err := s.locate(w, offset)
	w.free()
	if err != nil {
		if wasSealed {
			s.sealed.Store(true)
		}
		return fmt.Errorf("log: truncate %s to %d: %w", l.dir, offset, err)
	}
	cut := h.BaseOffset
	if cut < start {
		return l.truncateFullyLocked(offset)
	}

	// Delete newer segments, newest first, making each removal durable so
	// that a crash never leaves a gap. A segment that cannot be deleted
	// stays, and so does the cut segment, untouched: the log on disk is
	// then a prefix of the old one, and the log refuses writes.
	for j := len(segs) - 1; j > i; j-- {
		l.listMu.Lock()
		l.replaceSegments(slices.Clone(segs[:j]))
		l.listMu.Unlock()
		if err := segs[j].markDeleted(); err != nil {
			l.listMu.Lock()
			l.replaceSegments(slices.Clone(segs[:j+1]))
			l.listMu.Unlock()
			s.sealed.Store(wasSealed)
			return l.failLocked(fmt.Errorf("log: truncate %s to %d: %w", l.dir, offset, err))
		}
		if err := l.fs.SyncDir(l.dir); err != nil {
			return l.failLocked(fmt.Errorf("log: sync dir %s: %w", l.dir, err))
		}
	}
	s.next.Store(-1)
	s.w = nil
	if err := s.prepareAppendLocked(); err != nil {
		return l.failLocked(err)
	}
	if err := s.w.Truncate(cutPos); err != nil {
		return l.failLocked(fmt.Errorf("log: truncate %s to %d: %w", s.logPath, cutPos, err))
	}
	s.size.Store(cutPos)
	l.nextOffset.Store(cut)
	if cutPos == 0 {
		s.rollTs = rollTsUnknown
	}
	if err := s.resetAfterTruncate(cutPos); err != nil {
		return l.failLocked(err)
	}
	if err := s.sync(true); err != nil {
		return l.failLocked(err)
	}
	// The cut segment is durable now, and so is everything below the old
	// recovery point; later rolls must flush from here.
	l.flushMu.Lock()
	err = l.setRecoveryPoint(min(l.recoveryPoint.Load(), s.base))
	l.flushMu.Unlock()
	if err != nil {
		return l.failLocked(err)
	}
	if err := l.epochs.truncateFromEnd(cut); err != nil {
		return l.failLocked(err)
	}
	l.gc.reset(cut)
	return nil
}

// resetAfterTruncate rebuilds the indexes and max timestamp of a segment
// cut to size bytes, which is now the active segment. Caller holds appendMu.
func (s *segment) resetAfterTruncate(size int64) error {
	cfg := s.l.cfg.Load()
	s.ixMu.Lock()
	defer s.ixMu.Unlock()
	f := s.w
	sc := newBatchScanner(f, s.logPath, s.base, 0, size, s.base, false)
	b := newIndexBuilder(s.base, cfg)
	for {
		h, pos, err := sc.next()
		if err == errScanEnd {
			break
		}
		if err != nil {
			return err
		}
		b.add(h, pos)
	}
	if err := s.ix.rewrite(b.ix); err != nil {
		return err
	}
	if err := s.tix.rewrite(b.tix); err != nil {
		return err
	}
	s.ixState.Store(ixValid)
	s.bytesSinceIndex = b.bytesSince
	s.tsMu.Lock()
	s.maxTs, s.maxTsOffset, s.tsKnown = b.maxTs, b.maxTsOffset, true
	s.tsMu.Unlock()
	return nil
}

// TruncateFullyAndStartAt empties the log and makes offset both its start
// and its end (a follower too far behind its leader's log start). Every
// segment is deleted (newest first), a new empty one is created at offset,
// the epoch checkpoint is cleared, and the new start is persisted. A crash
// before it returns may leave a prefix of the old log.
func (l *Log) TruncateFullyAndStartAt(offset int64) error {
	if offset < 0 {
		return fmt.Errorf("%w: truncate fully to %d", ErrOffsetOutOfRange, offset)
	}
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	l.trimMu.Lock()
	defer l.trimMu.Unlock()
	if err := l.writableLocked(); err != nil {
		return err
	}
	return l.truncateFullyLocked(offset)
}

// truncateFullyLocked implements TruncateFullyAndStartAt. Caller holds
// appendMu and trimMu (or is Open).
func (l *Log) truncateFullyLocked(offset int64) error {
	if err := l.dirtyLocked(); err != nil {
		return err
	}
	old := l.segs.Load().segs
	for j := len(old) - 1; j >= 0; j-- {
		if err := old[j].markDeleted(); err != nil {
			// The older segments stay (a prefix of the log, on disk as
			// in the list); the log refuses writes.
			l.listMu.Lock()
			l.replaceSegments(slices.Clone(old[:j+1]))
			l.listMu.Unlock()
			return l.failLocked(fmt.Errorf("log: truncate %s fully to %d: %w", l.dir, offset, err))
		}
	}
	s, err := l.createSegment(offset)
	if err != nil {
		return l.failLocked(err)
	}
	s.w = s.log
	l.listMu.Lock()
	l.replaceSegments([]*segment{s})
	l.listMu.Unlock()
	l.nextOffset.Store(offset)
	l.startOffset.Store(offset)
	if err := writeLogStartCheckpoint(l.fs, l.dir, offset); err != nil { // syncs the directory too
		return l.failLocked(err)
	}
	if err := l.epochs.clear(); err != nil {
		return l.failLocked(err)
	}
	l.flushMu.Lock()
	err = l.setRecoveryPoint(offset)
	l.flushMu.Unlock()
	if err != nil {
		return l.failLocked(err)
	}
	l.gc.reset(offset)
	return nil
}
