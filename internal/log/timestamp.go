package log

import (
	"errors"
	"fmt"
	"io"
)

// OffsetForTimestamp returns the first offset at or above the log start
// whose timestamp is >= ts, with that record's timestamp (ListOffsets by
// time). The segment is chosen by its max timestamp, the starting point
// inside it by the time and offset indexes; then batches are read in
// order. A CreateTime batch is resolved record by record (a compressed one
// is decompressed, bounded, to do so). With LogAppendTime every record of a
// batch has the batch's max timestamp, so the batch's base offset is exact.
// ok is false when no record qualifies or the log could not be read (the
// error is logged).
func (l *Log) OffsetForTimestamp(ts int64) (offset int64, timestamp int64, ok bool) {
	for range maxAttempts {
		if l.checkOpen() != nil {
			return -1, -1, false
		}
		start := l.startOffset.Load()
		retry := false
		for _, s := range l.segs.Load().segs {
			if s.endOffset() <= start {
				continue
			}
			if !s.acquire() {
				retry = true
				break
			}
			off, t, found, err := s.offsetForTimestamp(ts, start)
			s.release()
			if err != nil {
				l.cfg.Load().Logger.Warn("log: offset for timestamp", "dir", l.dir, "timestamp", ts, "err", err)
				return -1, -1, false
			}
			if found {
				return off, t, true
			}
		}
		if !retry {
			return -1, -1, false
		}
	}
	return -1, -1, false
}

// offsetForTimestamp searches one segment. The caller holds a reference.
func (s *segment) offsetForTimestamp(ts, start int64) (int64, int64, bool, error) {
	maxTs, _, err := s.timestamps()
	if err != nil || maxTs < ts {
		return 0, 0, false, err
	}
	if err := s.ensureIndexes(); err != nil {
		return 0, 0, false, err
	}
	// Records up to a time index entry's offset have timestamps <= its
	// timestamp, so start at the last entry below ts.
	from := max(start, s.base)
	s.ixMu.RLock()
	_, rel, ok, err := s.tix.lowerTimestamp(ts)
	s.ixMu.RUnlock()
	if err != nil {
		return 0, 0, false, err
	}
	if ok {
		from = max(from, s.base+rel)
	}
	found, off, t := false, int64(0), int64(0)
	err = s.walkBatches(from, func(h BatchHeader, pos int64, load func() ([]byte, error)) (bool, error) {
		if h.MaxTimestamp < ts || h.LastOffset() < start {
			return true, nil
		}
		if h.TimestampType() == LogAppendTime {
			found, off, t = true, max(h.BaseOffset, start), h.MaxTimestamp
			return false, nil
		}
		b, err := load()
		if err != nil {
			return false, err
		}
		err = scanRecordTimestamps(b, h, func(delta int32, rts int64) bool {
			if o := h.BaseOffset + int64(delta); o >= start && rts >= ts {
				found, off, t = true, o, rts
				return false
			}
			return true
		})
		if err != nil {
			return false, corruptf(s.logPath, pos, h.BaseOffset, "%v", err)
		}
		return !found, nil
	})
	return off, t, found, err
}

// MaxTimestamp returns the largest timestamp in the log and the offset of
// the first record that carries it, or (-1, -1) when no batch carries a
// timestamp. Compressed batches are decompressed to find the record.
func (l *Log) MaxTimestamp() (timestamp int64, offset int64) {
	for range maxAttempts {
		if l.checkOpen() != nil {
			return -1, -1
		}
		best, bestOff, retry := int64(noTimestamp), int64(-1), false
		var bestSeg *segment
		for _, s := range l.segs.Load().segs {
			if !s.acquire() {
				retry = true
				break
			}
			ts, off, err := s.timestamps()
			s.release()
			if err != nil {
				l.cfg.Load().Logger.Warn("log: max timestamp", "dir", l.dir, "err", err)
				return -1, -1
			}
			if ts > best {
				best, bestOff, bestSeg = ts, off, s
			}
		}
		if retry {
			continue
		}
		if bestSeg == nil {
			return -1, -1
		}
		if !bestSeg.acquire() {
			continue
		}
		off, err := bestSeg.refineMaxTimestamp(best, bestOff)
		bestSeg.release()
		if err != nil {
			l.cfg.Load().Logger.Warn("log: max timestamp", "dir", l.dir, "err", err)
			return best, bestOff
		}
		return best, off
	}
	return -1, -1
}

// refineMaxTimestamp finds the record carrying ts in the batch containing
// batchOffset: the first such record of a CreateTime batch (compressed
// batches are decompressed), else the batch's base offset.
func (s *segment) refineMaxTimestamp(ts, batchOffset int64) (int64, error) {
	result := batchOffset
	err := s.walkBatches(batchOffset, func(h BatchHeader, pos int64, load func() ([]byte, error)) (bool, error) {
		result = h.BaseOffset
		if h.TimestampType() == LogAppendTime {
			return false, nil
		}
		b, err := load()
		if err != nil {
			return false, err
		}
		return false, scanRecordTimestamps(b, h, func(delta int32, rts int64) bool {
			if rts == ts {
				result = h.BaseOffset + int64(delta)
				return false
			}
			return true
		})
	})
	return result, err
}

// walkBatches calls fn for each batch of the segment from the one holding
// offset to the segment's readable end, until fn returns false. load reads
// the whole batch (valid until fn returns). The caller holds a reference.
func (s *segment) walkBatches(offset int64, fn func(h BatchHeader, pos int64, load func() ([]byte, error)) (bool, error)) error {
	limit, err := s.readLimit()
	if err != nil {
		return err
	}
	if offset >= s.endOffset() {
		return nil
	}
	f, err := s.logFile()
	if err != nil {
		return err
	}
	w := newHeaderWalker(s, f, limit)
	defer w.free()
	pos, h, err := s.locate(w, offset)
	var buf []byte
	for err == nil {
		p, hh := pos, h
		load := func() ([]byte, error) {
			if int64(cap(buf)) < hh.Size() {
				buf = make([]byte, hh.Size()) // bounded: the header walker checked it fits the file
			}
			b := buf[:hh.Size()]
			if n, err := f.ReadAt(b, p); n < len(b) {
				if err == nil || errors.Is(err, io.EOF) {
					return nil, corruptf(s.logPath, p, hh.BaseOffset, "file ends inside the batch")
				}
				return nil, fmt.Errorf("log: read %s at %d: %w", s.logPath, p, err)
			}
			return b, nil
		}
		more, ferr := fn(h, pos, load)
		if ferr != nil || !more {
			return ferr
		}
		pos += h.Size()
		if pos >= limit {
			return nil
		}
		h, err = w.header(pos, h.LastOffset()+1)
	}
	return err
}
