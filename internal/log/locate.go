package log

import (
	"errors"
	"fmt"
	"io"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// readLimit returns how many bytes of the segment a reader may look at.
func (s *segment) readLimit() (int64, error) {
	if s.sealed.Load() {
		return s.knownSize()
	}
	return s.size.Load(), nil
}

// ensureIndexes makes sure the segment's indexes may be used: the first
// time in this process they are read whole and checked (see
// indexFile.validate), and rebuilt from the .log if they are missing or
// wrong. It also opens the index files (they are closed with the
// segment's other files when it goes idle). The caller holds a reference
// or appendMu.
func (s *segment) ensureIndexes() error {
	if err := s.openIndexes(); err != nil {
		return err
	}
	if s.ixState.Load() == ixValid {
		return nil
	}
	s.ixMu.Lock()
	defer s.ixMu.Unlock()
	state := s.ixState.Load()
	if state == ixValid {
		return nil
	}
	cfg := s.l.cfg.Load()
	size, err := s.readLimit()
	if err != nil {
		return err
	}
	if state == ixUnchecked {
		maxRel := s.endOffset() - s.base - 1
		r1, err := s.ix.validate(cfg.maxIndexEntries(), maxRel, size)
		if err != nil {
			return err
		}
		r2, err := s.tix.validate(cfg.maxTimeIndexEntries(), maxRel, size)
		if err != nil {
			return err
		}
		if r1 == "" && r2 == "" {
			s.ixState.Store(ixValid)
			return nil
		}
		cfg.Logger.Warn("log: index does not match its segment, rebuilding", "segment", s.logPath,
			"offset_index", r1, "time_index", r2)
	}
	return s.rebuildIndexesLocked(size, cfg)
}

// rebuildIndexesLocked recomputes both indexes from the batches in the
// first size bytes of the .log (headers only; CRCs are checked by recovery
// and by ScanBatches). A sealed segment must end exactly where the next
// one begins, else the log is corrupt. Caller holds ixMu for writing.
func (s *segment) rebuildIndexesLocked(size int64, cfg *Config) error {
	f, err := s.logFile()
	if err != nil {
		return err
	}
	sc := newBatchScanner(f, s.logPath, s.base, 0, size, s.base, false)
	b := newIndexBuilder(s.base, cfg)
	for {
		h, pos, err := sc.next()
		if errors.Is(err, errScanEnd) {
			break
		}
		if err != nil {
			return err
		}
		b.add(h, pos)
	}
	sealed := s.sealed.Load()
	if sealed {
		if next := s.next.Load(); sc.expect != next {
			return corruptf(s.logPath, sc.pos, sc.expect, "segment ends before offset %d where the next segment begins", next)
		}
		b.seal()
	}
	if err := s.ix.rewrite(b.ix); err != nil {
		return err
	}
	if err := s.tix.rewrite(b.tix); err != nil {
		return err
	}
	for _, x := range []*indexFile{s.ix, s.tix} {
		if err := x.file.Sync(); err != nil {
			return fmt.Errorf("log: fsync %s: %w", x.path, err)
		}
	}
	if sealed {
		s.tsMu.Lock()
		s.maxTs, s.maxTsOffset, s.tsKnown = b.maxTs, b.maxTsOffset, true
		s.tsMu.Unlock()
	}
	s.ixState.Store(ixValid)
	return nil
}

// headerWalker reads batch headers of one segment. When batches are small
// it reads a chunk at a time so that walking many batches costs few
// system calls; when they are large it reads just the header.
type headerWalker struct {
	s      *segment
	f      vfs.File
	limit  int64 // bytes that may be read
	bp     *[]byte
	bufPos int64 // file position of buf[0]
	bufLen int   // valid bytes in buf
	small  bool  // the last batch was small: read ahead
}

func newHeaderWalker(s *segment, f vfs.File, limit int64) *headerWalker {
	return &headerWalker{s: s, f: f, limit: limit, bp: chunkPool.Get().(*[]byte)}
}

func (w *headerWalker) free() { chunkPool.Put(w.bp) }

// header returns the validated header of the batch at pos. expect, if >= 0,
// is the base offset the batch must have. Damage is a *CorruptionError.
func (w *headerWalker) header(pos, expect int64) (BatchHeader, error) {
	path := w.s.logPath
	if w.limit-pos < BatchHeaderSize {
		return BatchHeader{}, corruptf(path, pos, expect, "%d bytes left, a batch header needs %d", w.limit-pos, BatchHeaderSize)
	}
	buf := *w.bp
	if pos < w.bufPos || pos+BatchHeaderSize > w.bufPos+int64(w.bufLen) {
		n := int64(BatchHeaderSize)
		if w.small {
			n = min(int64(len(buf)), w.limit-pos)
		}
		m, err := w.f.ReadAt(buf[:n], pos)
		if m < BatchHeaderSize {
			if err == nil || errors.Is(err, io.EOF) {
				return BatchHeader{}, corruptf(path, pos, expect, "file ends inside a batch header")
			}
			return BatchHeader{}, fmt.Errorf("log: read %s at %d: %w", path, pos, err)
		}
		w.bufPos, w.bufLen = pos, m
	}
	off := pos - w.bufPos
	h, err := ParseBatchHeader(buf[off : off+BatchHeaderSize])
	if err != nil {
		return h, corruptf(path, pos, expect, "%v", err)
	}
	if h.Size() > w.limit-pos {
		return h, corruptf(path, pos, expect, "batch of %d bytes overruns the segment (%d bytes left)", h.Size(), w.limit-pos)
	}
	if reason := checkStoredHeader(h); reason != "" {
		return h, corruptf(path, pos, expect, "%s", reason)
	}
	if expect >= 0 && h.BaseOffset != expect {
		return h, corruptf(path, pos, expect, "base offset %d, expected %d", h.BaseOffset, expect)
	}
	w.small = h.Size() < int64(len(buf))/2
	return h, nil
}

// startPosition returns where to start looking for offset: the position a
// previous Read ended at if it ended at offset, else the offset index's
// floor entry, else the segment start. expectBase / expectLast, when >= 0,
// say what the batch found there must have as base or last offset.
func (s *segment) startPosition(offset int64) (pos, expectBase, expectLast int64, err error) {
	s.mu.Lock()
	if s.hintPos >= 0 && s.hintOffset == offset {
		pos = s.hintPos
		s.mu.Unlock()
		return pos, offset, -1, nil
	}
	s.mu.Unlock()
	if offset == s.base {
		return 0, s.base, -1, nil
	}
	if err := s.ensureIndexes(); err != nil {
		return 0, 0, 0, err
	}
	s.ixMu.RLock()
	rel, p, ok, err := s.ix.floorOffset(offset - s.base)
	s.ixMu.RUnlock()
	if err != nil {
		return 0, 0, 0, err
	}
	if !ok {
		return 0, s.base, -1, nil
	}
	return p, -1, s.base + rel, nil
}

// setHint remembers that the batch at pos starts at offset.
func (s *segment) setHint(offset, pos int64) {
	s.mu.Lock()
	s.hintOffset, s.hintPos = offset, pos
	s.mu.Unlock()
}

// clearHint forgets the read position hint.
func (s *segment) clearHint() {
	s.mu.Lock()
	s.hintPos = -1
	s.mu.Unlock()
}

// locate finds the batch that contains offset: its position and header.
// If the hint or the index points at something that is not a batch
// boundary with the promised offsets, the index is marked for rebuild and
// the search restarts from the segment start.
func (s *segment) locate(w *headerWalker, offset int64) (int64, BatchHeader, error) {
	pos, expectBase, expectLast, err := s.startPosition(offset)
	if err != nil {
		return 0, BatchHeader{}, err
	}
	h, err := w.header(pos, expectBase)
	if pos != 0 && (err != nil || (expectLast >= 0 && h.LastOffset() != expectLast) || h.BaseOffset > offset) {
		if expectLast >= 0 {
			s.l.cfg.Load().Logger.Warn("log: offset index entry does not match the segment, rebuilding", "segment", s.logPath, "position", pos)
			s.ixState.CompareAndSwap(ixValid, ixInvalid)
		}
		s.clearHint()
		pos = 0
		h, err = w.header(0, s.base)
	}
	for err == nil && h.LastOffset() < offset {
		pos += h.Size()
		h, err = w.header(pos, h.LastOffset()+1)
	}
	if err != nil {
		return 0, h, err
	}
	if h.BaseOffset > offset {
		return 0, h, corruptf(s.logPath, pos, offset, "offset %d missing: batch starts at %d", offset, h.BaseOffset)
	}
	return pos, h, nil
}
