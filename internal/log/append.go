package log

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
)

// AppendResult says where an appended batch went.
type AppendResult struct {
	BaseOffset    int64
	LastOffset    int64
	LogAppendTime int64 // ms; -1 unless Config.LogAppendTime
	MaxTimestamp  int64 // the batch's max timestamp as stored
	Records       int32
}

// Append assigns offsets to one producer batch (record batch v2 as
// received) and writes it. It first validates the batch (ValidateBatch,
// then size <= MaxBatchBytes); failures wrap ErrCorruptBatch or
// ErrBatchTooLarge and nothing is written. It then stamps the base offset
// and partitionLeaderEpoch into batch in place (and, with LogAppendTime,
// the timestamp type and max timestamp, recomputing the CRC), writes it at
// the end of the active segment (rolling first if needed), records
// leaderEpoch in the epoch checkpoint if it is new, and publishes the new
// log end offset to readers.
//
// Appends are serialised by the log's append lock, which is not held while
// waiting for an fsync: with FsyncOnAck, Append returns after the bytes are
// durable, concurrent appenders sharing fsyncs. Append does not allocate
// unless it rolls a segment or records a new epoch.
func (l *Log) Append(batch []byte, leaderEpoch int32) (AppendResult, error) {
	return l.append(batch, leaderEpoch, true)
}

// AppendNoWait is Append without waiting for durability, even with
// FsyncOnAck (flush.messages/flush.ms still trigger fsyncs). A caller that
// must not acknowledge before the bytes are durable calls
// WaitDurable(res.LastOffset+1) later, without holding its own locks, so
// that pipelined appends share fsyncs.
func (l *Log) AppendNoWait(batch []byte, leaderEpoch int32) (AppendResult, error) {
	return l.append(batch, leaderEpoch, false)
}

// WaitDurable returns once every offset below end is durable, running an
// fsync (shared with concurrent waiters) if needed.
func (l *Log) WaitDurable(end int64) error { return l.syncTo(end, false) }

func (l *Log) append(batch []byte, leaderEpoch int32, waitAck bool) (AppendResult, error) {
	h, err := ValidateBatch(batch)
	if err != nil {
		return AppendResult{}, err
	}
	cfg := l.cfg.Load()
	if len(batch) > int(cfg.MaxBatchBytes) {
		return AppendResult{}, fmt.Errorf("%w: %d bytes, max %d", ErrBatchTooLarge, len(batch), cfg.MaxBatchBytes)
	}
	now := cfg.nowMs()
	res := AppendResult{LogAppendTime: -1, MaxTimestamp: h.MaxTimestamp, Records: h.NumRecords}
	if cfg.LogAppendTime {
		stampLogAppendTime(batch, now)
		h.Attributes |= attrTimestampType
		h.MaxTimestamp = now
		h.CRC = binary.BigEndian.Uint32(batch[posCRC:])
		res.LogAppendTime, res.MaxTimestamp = now, now
	}

	l.appendMu.Lock()
	if err := l.writableLocked(); err != nil {
		l.appendMu.Unlock()
		return AppendResult{}, err
	}
	base := l.nextOffset.Load()
	if base > math.MaxInt64-int64(h.LastOffsetDelta)-1 {
		l.appendMu.Unlock()
		return AppendResult{}, fmt.Errorf("%w: offsets would overflow at %d", ErrOffsetOutOfRange, base)
	}
	h.BaseOffset, h.PartitionLeaderEpoch = base, leaderEpoch
	stampOffsetEpoch(batch, base, leaderEpoch)
	if err := l.appendBatchLocked(batch, h, cfg, now); err != nil {
		l.appendMu.Unlock()
		return AppendResult{}, err
	}
	res.BaseOffset, res.LastOffset = base, h.LastOffset()
	needSync := (waitAck && cfg.FsyncOnAck) || l.flushDueLocked(cfg, now)
	l.appendMu.Unlock()

	if needSync {
		if err := l.syncTo(res.LastOffset+1, false); err != nil {
			return res, err
		}
	}
	return res, nil
}

// AppendReplicated appends batches that already carry offsets (a follower
// copying its leader's log). The first batch must start at LogEndOffset
// and each next one right after the previous (else ErrOffsetMismatch);
// every batch is checked (header, CRC, offsets). All batches are validated
// before any is written. A batch whose partitionLeaderEpoch is newer than
// the latest known epoch adds an epoch checkpoint entry. It returns the
// last offset written (LogEndOffset()-1 for an empty input). With
// FsyncOnAck it returns after the bytes are durable.
func (l *Log) AppendReplicated(batches []byte) (int64, error) {
	cfg := l.cfg.Load()
	now := cfg.nowMs()
	l.appendMu.Lock()
	if err := l.writableLocked(); err != nil {
		l.appendMu.Unlock()
		return -1, err
	}
	expect := l.nextOffset.Load()
	var headers []BatchHeader
	for rest := batches; len(rest) > 0; {
		h, err := ParseBatchHeader(rest)
		if err == nil {
			err = checkReplicatedBatch(h, rest)
		}
		if err == nil && h.BaseOffset != expect {
			err = fmt.Errorf("%w: batch %d starts at offset %d, expected %d", ErrOffsetMismatch, len(headers), h.BaseOffset, expect)
		}
		if err != nil {
			l.appendMu.Unlock()
			return -1, err
		}
		headers = append(headers, h)
		expect = h.LastOffset() + 1
		rest = rest[h.Size():]
	}
	last := l.nextOffset.Load() - 1
	for _, h := range headers {
		b := batches[:h.Size()]
		batches = batches[h.Size():]
		if err := l.appendBatchLocked(b, h, cfg, now); err != nil {
			l.appendMu.Unlock()
			return last, err
		}
		last = h.LastOffset()
	}
	needSync := len(headers) > 0 && (cfg.FsyncOnAck || l.flushDueLocked(cfg, now))
	l.appendMu.Unlock()
	if needSync {
		if err := l.syncTo(last+1, false); err != nil {
			return last, err
		}
	}
	return last, nil
}

// checkReplicatedBatch validates one stored-format batch at the start of b.
func checkReplicatedBatch(h BatchHeader, b []byte) error {
	if h.Size() > int64(len(b)) {
		return fmt.Errorf("%w: batch of %d bytes, only %d left", ErrCorruptBatch, h.Size(), len(b))
	}
	if reason := checkStoredHeader(h); reason != "" {
		return fmt.Errorf("%w: %s", ErrCorruptBatch, reason)
	}
	if h.Compression() > CompressionZstd {
		return fmt.Errorf("%w: unknown compression codec %d", ErrCorruptBatch, h.Compression())
	}
	if got := batchCRC(b[:h.Size()]); got != h.CRC {
		return fmt.Errorf("%w: batch at offset %d: crc %08x, computed %08x", ErrCorruptBatch, h.BaseOffset, h.CRC, got)
	}
	return nil
}

// appendBatchLocked writes one offset-assigned batch at the end of the
// log. On a write error it cuts the file back to where it was (or, if that
// fails too, marks the log failed) and nothing is published. Caller holds
// appendMu.
func (l *Log) appendBatchLocked(batch []byte, h BatchHeader, cfg *Config, now int64) error {
	if err := l.dirtyLocked(); err != nil {
		return err
	}
	s := l.active.Load()
	if l.shouldRollLocked(s, h, int64(len(batch)), cfg, now) {
		if err := l.rollLocked(); err != nil {
			return err
		}
		s = l.active.Load()
	}
	if err := s.prepareAppendLocked(); err != nil {
		return err
	}
	if l.epochs.isNew(h.PartitionLeaderEpoch) {
		if err := l.epochs.assign(h.PartitionLeaderEpoch, h.BaseOffset); err != nil {
			return fmt.Errorf("log: record leader epoch %d: %w", h.PartitionLeaderEpoch, err)
		}
	}
	pos := s.size.Load()
	if _, err := s.w.WriteAt(batch, pos); err != nil {
		werr := fmt.Errorf("log: append to %s at %d: %w", s.logPath, pos, err)
		if terr := s.w.Truncate(pos); terr != nil {
			return l.failLocked(fmt.Errorf("%w; undo failed: %v", werr, terr))
		}
		return werr
	}
	if pos == 0 {
		s.rollTs = h.MaxTimestamp
	}
	maxTs, maxTsOffset := s.observeTimestamp(h.MaxTimestamp, h.LastOffset())
	// Publish: bytes first, then the end offset (readers load the end
	// offset first, then the size).
	s.size.Store(pos + int64(len(batch)))
	l.nextOffset.Store(h.LastOffset() + 1)
	l.unflushedAtomic.Add(int64(h.NumRecords))
	l.indexBatchLocked(s, h, pos, maxTs, maxTsOffset, cfg)
	return nil
}

// indexBatchLocked adds index entries for the batch just published at pos,
// with the cadence described at indexBuilder. Index entries only ever point
// at published batches. An index write error is logged and makes the index
// invalid (it is rebuilt before its next use); the append stands.
func (l *Log) indexBatchLocked(s *segment, h BatchHeader, pos, maxTs, maxTsOffset int64, cfg *Config) {
	if s.bytesSinceIndex > int64(cfg.IndexIntervalBytes) && pos <= math.MaxInt32 {
		s.ixMu.RLock()
		if s.ixState.Load() != ixInvalid {
			var err error
			if rel := h.LastOffset() - s.base; s.ix.entries.Load() < cfg.maxIndexEntries() && rel > s.ix.lastKey {
				err = s.ix.appendOffsetEntry(int32(rel), int32(pos))
			}
			if err == nil && maxTs != noTimestamp && maxTs > s.tix.lastKey && s.tix.entries.Load() < cfg.maxTimeIndexEntries() {
				err = s.tix.appendTimeEntry(maxTs, int32(maxTsOffset-s.base))
			}
			if err != nil {
				s.ixState.Store(ixInvalid)
				cfg.Logger.Warn("log: index write failed, index will be rebuilt", "segment", s.logPath, "err", err)
			}
		}
		s.ixMu.RUnlock()
		s.bytesSinceIndex = 0
	}
	s.bytesSinceIndex += h.Size()
}

// shouldRollLocked reports whether the batch must go to a new segment:
// the active one is not empty and the batch would make it larger than
// SegmentBytes, or an index is full, or the batch's offsets do not fit a
// 32-bit relative offset, or its timestamp is more than SegmentMs after the
// first batch's.
func (l *Log) shouldRollLocked(s *segment, h BatchHeader, size int64, cfg *Config, now int64) bool {
	cur := s.size.Load()
	if cur == 0 {
		return false
	}
	switch {
	case cur > cfg.SegmentBytes-size:
		return true
	case h.LastOffset()-s.base > math.MaxInt32:
		return true
	case s.ix.entries.Load() >= cfg.maxIndexEntries() || s.tix.entries.Load() >= cfg.maxTimeIndexEntries():
		return true
	}
	if cfg.SegmentMs > 0 {
		if s.rollTs == rollTsUnknown {
			if err := s.loadRollTs(); err != nil {
				cfg.Logger.Warn("log: read first batch for segment.ms", "segment", s.logPath, "err", err)
			}
		}
		// As Kafka's LogSegment.timeWaitedForRoll: the new batch's timestamp
		// against the first batch's, or the wall clock against the time the
		// segment was created (or opened) when the first batch has none.
		if s.rollTs >= 0 {
			return h.MaxTimestamp-s.rollTs > cfg.SegmentMs.Milliseconds()
		}
		return now-s.createdMs > cfg.SegmentMs.Milliseconds()
	}
	return false
}

// loadRollTs reads the max timestamp of the segment's first batch.
func (s *segment) loadRollTs() error {
	f, err := s.logFile()
	if err != nil {
		return err
	}
	var hdr [BatchHeaderSize]byte
	if _, err := f.ReadAt(hdr[:], 0); err != nil {
		return fmt.Errorf("log: read %s: %w", s.logPath, err)
	}
	h, err := ParseBatchHeader(hdr[:])
	if err != nil {
		return corruptf(s.logPath, 0, s.base, "%v", err)
	}
	s.rollTs = h.MaxTimestamp
	return nil
}

// prepareAppendLocked makes the active segment ready for writes: files
// open and the last index keys known. Caller holds appendMu.
func (s *segment) prepareAppendLocked() error {
	if s.w != nil {
		return nil
	}
	f, err := s.logFile()
	if err != nil {
		return err
	}
	if err := s.openIndexes(); err != nil {
		return err
	}
	s.ixMu.RLock()
	defer s.ixMu.RUnlock()
	for _, x := range []*indexFile{s.ix, s.tix} {
		if x.lastKey != lastKeyUnknown {
			continue
		}
		x.lastKey = -1
		if n := x.entries.Load(); n > 0 {
			e, err := x.readEntry(n - 1)
			if err != nil {
				return err
			}
			x.lastKey = x.key(e)
		}
	}
	s.w = f
	return nil
}

// Roll closes the active segment and starts a new one at the log end
// offset. It does nothing when the active segment is empty.
func (l *Log) Roll() error {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if err := l.writableLocked(); err != nil {
		return err
	}
	if err := l.dirtyLocked(); err != nil {
		return err
	}
	return l.rollLocked()
}

// rollLocked seals the active segment and creates the next one. The sealed
// segment gets its final time index entry (its max timestamp); it is
// fsynced with its indexes by a background flush, which then advances the
// recovery point past it (until then a crash makes Open scan it too).
// Caller holds appendMu.
func (l *Log) rollLocked() error {
	old := l.active.Load()
	if old.size.Load() == 0 {
		return nil
	}
	if err := old.prepareAppendLocked(); err != nil {
		return err
	}
	cfg := l.cfg.Load()
	next := l.nextOffset.Load()
	if err := old.addFinalTimeEntry(cfg); err != nil {
		cfg.Logger.Warn("log: final time index entry", "segment", old.logPath, "err", err)
	}
	s, err := l.createSegment(next)
	if err != nil {
		return err
	}
	if err := l.fs.SyncDir(l.dir); err != nil {
		return l.failLocked(fmt.Errorf("log: sync dir %s: %w", l.dir, err))
	}
	s.w = s.log
	old.next.Store(next)
	old.mu.Lock()
	old.sealed.Store(true)
	idle := old.readers == 0 && old.idleLocked()
	old.mu.Unlock()
	old.w = nil
	l.listMu.Lock()
	l.replaceSegments(append(slices.Clone(l.segs.Load().segs), s))
	l.listMu.Unlock()
	if idle {
		l.parkIdle(old)
	}
	l.flushInBackground()
	return nil
}

// addFinalTimeEntry makes the last time index entry carry the segment's max
// timestamp (replacing the last entry if the index is full), as Kafka does
// when a segment becomes inactive.
func (s *segment) addFinalTimeEntry(cfg *Config) error {
	s.tsMu.Lock()
	ts, off := s.maxTs, s.maxTsOffset
	s.tsMu.Unlock()
	s.ixMu.RLock()
	defer s.ixMu.RUnlock()
	if ts == noTimestamp || ts <= s.tix.lastKey || s.ixState.Load() == ixInvalid {
		return nil
	}
	if s.tix.entries.Load() >= cfg.maxTimeIndexEntries() {
		s.tix.entries.Add(-1)
	}
	return s.tix.appendTimeEntry(ts, int32(off-s.base))
}
