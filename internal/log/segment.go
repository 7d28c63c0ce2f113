package log

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// File name suffixes, as Kafka's.
const (
	logSuffix       = ".log"
	indexSuffix     = ".index"
	timeIndexSuffix = ".timeindex"
	deletedSuffix   = ".deleted"
	tmpSuffix       = ".tmp"
)

// Index states (segment.ixState).
const (
	ixUnchecked int32 = iota // not yet validated in this process
	ixValid                  // validated or rebuilt
	ixInvalid                // found wrong; rebuild before use
)

// noTimestamp is Kafka's NO_TIMESTAMP.
const noTimestamp = -1

// segmentName returns the 20-digit file name stem for a base offset.
func segmentName(base int64) string { return fmt.Sprintf("%020d", base) }

// parseSegmentName returns the base offset of "<20 digits>.log".
func parseSegmentName(name string) (int64, bool) {
	stem, ok := strings.CutSuffix(name, logSuffix)
	if !ok || len(stem) != 20 {
		return 0, false
	}
	v, err := strconv.ParseInt(stem, 10, 64)
	if err != nil || v < 0 {
		return 0, false
	}
	return v, true
}

// segment is one .log file with its two indexes.
//
// Lifetime: a segment is referenced by the log's segment list and by
// readers (acquire/release). Its file handles are opened lazily and closed
// when nobody reads it and it is no longer the active segment; a deleted
// segment's files (renamed to *.deleted) are removed when the last reader
// releases it. The active segment belongs to the appender (Log.appendMu).
type segment struct {
	l       *Log
	base    int64
	logPath string // the .log's name, for messages (immutable)

	// size is the number of .log bytes readers may see: for the active
	// segment the published append position, for a sealed segment its
	// final size, -1 while a sealed segment's size is not yet known.
	size atomic.Int64
	// next is the offset after the segment's last batch, valid once sealed.
	next   atomic.Int64
	sealed atomic.Bool

	// ixMu is held for writing while an index is validated or rebuilt and
	// for reading while it is searched or appended to.
	ixMu    sync.RWMutex
	ixState atomic.Int32
	ix      *indexFile // .index
	tix     *indexFile // .timeindex

	tsMu        sync.Mutex // guards maxTs, maxTsOffset, tsKnown
	maxTs       int64      // largest batch max timestamp, noTimestamp if none
	maxTsOffset int64      // last offset of the first batch carrying maxTs, -1 if none
	tsKnown     bool       // maxTs is loaded (sealed segments load it lazily)

	mu         sync.Mutex // guards the fields below and the index handles/paths
	readers    int        // outstanding references besides the segment list
	deleted    bool       // removed from the log; remove doomed when readers reach 0
	doomed     []string   // the renamed (*.deleted) files of a deleted segment
	closed     bool       // the log was closed; close files when readers reach 0
	curLog     string     // where the .log is now (renamed when deleted)
	log        vfs.File   // nil until opened
	hintOffset int64      // offset at which the last Read of this segment ended
	hintPos    int64      // its position, -1 if none

	// Appender state, guarded by Log.appendMu.
	w               vfs.File // the .log handle while this is the active segment and prepared
	bytesSinceIndex int64
	rollTs          int64 // max timestamp of the first batch; rollTsUnknown until read
	createdMs       int64 // when the segment was created or opened (segment.ms without timestamps)
}

const rollTsUnknown = -2

func newSegment(l *Log, base int64) *segment {
	stem := filepath.Join(l.dir, segmentName(base))
	s := &segment{
		l:           l,
		base:        base,
		ix:          newIndexFile(offsetIndexEntrySize, stem+indexSuffix),
		tix:         newIndexFile(timeIndexEntrySize, stem+timeIndexSuffix),
		maxTs:       noTimestamp,
		maxTsOffset: -1,
		logPath:     stem + logSuffix,
		curLog:      stem + logSuffix,
		hintPos:     -1,
		rollTs:      rollTsUnknown,
		createdMs:   l.cfg.Load().nowMs(),
	}
	s.size.Store(-1)
	s.next.Store(-1)
	return s
}

// acquire takes a reference that keeps the segment's files open. It fails
// when the segment was deleted (the caller retries with a fresh list).
func (s *segment) acquire() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.deleted || s.closed {
		return false
	}
	s.readers++
	return true
}

// release drops a reference taken by acquire.
func (s *segment) release() {
	s.mu.Lock()
	s.readers--
	if s.readers > 0 {
		s.mu.Unlock()
		return
	}
	switch {
	case s.deleted:
		s.closeFilesLocked()
		paths := s.doomed
		s.mu.Unlock()
		s.l.removeFiles(paths)
		return
	case s.closed:
		s.closeFilesLocked()
		s.mu.Unlock()
		return
	}
	if !s.sealed.Load() {
		s.mu.Unlock()
		return
	}
	park := s.idleLocked()
	s.mu.Unlock()
	if park {
		s.l.parkIdle(s)
	}
}

// idleLocked trims the handles of a sealed segment nobody uses: it keeps at
// most its .log open, and only while it is the log's idle segment
// (sequential readers come back to it and find their place from the read
// hint, without the indexes). It reports whether the .log is still open, to
// be parked. Caller holds s.mu.
func (s *segment) idleLocked() bool {
	if err := s.ix.closeFile(); err != nil {
		s.l.cfg.Load().Logger.Warn("log: close index", "file", s.ix.path, "err", err)
	}
	if err := s.tix.closeFile(); err != nil {
		s.l.cfg.Load().Logger.Warn("log: close index", "file", s.tix.path, "err", err)
	}
	return s.log != nil
}

// closeIfIdle closes the files of a sealed segment nobody reads.
func (s *segment) closeIfIdle() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.readers == 0 && s.sealed.Load() {
		s.closeFilesLocked()
	}
}

// closeFilesLocked closes every open handle. Caller holds s.mu.
func (s *segment) closeFilesLocked() {
	if s.log != nil {
		if err := s.log.Close(); err != nil {
			s.l.cfg.Load().Logger.Warn("log: close segment", "file", s.logPath, "err", err)
		}
		s.log = nil
	}
	if err := s.ix.closeFile(); err != nil {
		s.l.cfg.Load().Logger.Warn("log: close index", "file", s.ix.path, "err", err)
	}
	if err := s.tix.closeFile(); err != nil {
		s.l.cfg.Load().Logger.Warn("log: close index", "file", s.tix.path, "err", err)
	}
}

// logFile returns the open .log handle, opening it if needed. The caller
// holds a reference or is the appender.
func (s *segment) logFile() (vfs.File, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.log != nil {
		return s.log, nil
	}
	f, err := s.l.fs.OpenReadWrite(s.curLog)
	if err != nil {
		return nil, fmt.Errorf("log: open segment %d: %w", s.base, err)
	}
	s.log = f
	return f, nil
}

// knownSize returns the segment's size, reading it from the file system
// the first time for a sealed segment.
func (s *segment) knownSize() (int64, error) {
	if n := s.size.Load(); n >= 0 {
		return n, nil
	}
	s.mu.Lock()
	path := s.curLog
	s.mu.Unlock()
	fi, err := s.l.fs.Stat(path)
	if err != nil {
		return 0, fmt.Errorf("log: stat segment %d: %w", s.base, err)
	}
	s.size.CompareAndSwap(-1, fi.Size())
	return s.size.Load(), nil
}

// endOffset returns the offset after the segment's last batch: the next
// segment's base for a sealed segment, the log end offset for the active one.
func (s *segment) endOffset() int64 {
	if s.sealed.Load() {
		return s.next.Load()
	}
	return s.l.nextOffset.Load()
}

// openIndexes opens both index handles. The caller holds a reference.
func (s *segment) openIndexes() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ix.open(s.l.fs); err != nil {
		return err
	}
	return s.tix.open(s.l.fs)
}

// markDeleted takes the segment out of service: its files are renamed to
// *.deleted so a new segment may reuse the base offset, and they are
// removed once no reader holds the segment. If the .log cannot be renamed
// nothing changes and the error is returned: the segment would be found
// again by the next Open, so the caller must keep it (or stop the log). A
// failed rename of an index file is only logged; Open removes index files
// without a .log. Caller holds no segment lock.
func (s *segment) markDeleted() error {
	s.mu.Lock()
	var renamed []string
	for i, p := range []*string{&s.curLog, &s.ix.cur, &s.tix.cur} {
		to := *p + deletedSuffix
		if err := s.l.fs.Rename(*p, to); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if i == 0 {
				s.mu.Unlock()
				return fmt.Errorf("log: delete segment %d: %w", s.base, err)
			}
			s.l.cfg.Load().Logger.Warn("log: rename deleted segment file", "file", *p, "err", err)
			continue
		}
		*p = to
		renamed = append(renamed, to)
	}
	s.deleted = true
	s.doomed = renamed
	if s.readers > 0 {
		s.mu.Unlock()
		return nil
	}
	s.closeFilesLocked()
	s.mu.Unlock()
	s.l.removeFiles(renamed)
	return nil
}

// markClosed closes the segment's files now or, if readers hold it, when
// the last one releases it.
func (s *segment) markClosed() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.readers == 0 {
		s.closeFilesLocked()
	}
}

// timestamps returns the segment's max timestamp and the offset it belongs
// to, loading them from the time index of a sealed segment the first time.
func (s *segment) timestamps() (int64, int64, error) {
	s.tsMu.Lock()
	if s.tsKnown {
		ts, off := s.maxTs, s.maxTsOffset
		s.tsMu.Unlock()
		return ts, off, nil
	}
	s.tsMu.Unlock()
	if err := s.ensureIndexes(); err != nil {
		return 0, 0, err
	}
	s.ixMu.RLock()
	ts, rel, ok, err := s.tix.lastTimeEntry()
	s.ixMu.RUnlock()
	if err != nil {
		return 0, 0, err
	}
	s.tsMu.Lock()
	defer s.tsMu.Unlock()
	if !s.tsKnown { // a rebuild may have set it meanwhile
		s.maxTs, s.maxTsOffset = noTimestamp, -1
		if ok {
			s.maxTs, s.maxTsOffset = ts, s.base+rel
		}
		s.tsKnown = true
	}
	return s.maxTs, s.maxTsOffset, nil
}

// observeTimestamp records a new max timestamp if ts is larger (the first
// batch to reach a timestamp keeps it) and returns the max so far.
func (s *segment) observeTimestamp(ts, lastOffset int64) (int64, int64) {
	s.tsMu.Lock()
	if ts > s.maxTs {
		s.maxTs, s.maxTsOffset = ts, lastOffset
	}
	s.tsKnown = true
	maxTs, off := s.maxTs, s.maxTsOffset
	s.tsMu.Unlock()
	return maxTs, off
}
