package log

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// Open opens the log in dir, creating the directory and an empty log if
// needed. After a clean shutdown (the marker written by Close is present
// and matches the newest segment's files) it opens without reading any
// segment. Otherwise it recovers: the newest segment, the only one that
// can hold unsynced bytes, is scanned batch by batch (lengths, CRC,
// offsets), truncated at the first bad batch, and its indexes rebuilt if
// they do not match. Older segments are trusted; their indexes are checked
// the first time they are used and rebuilt if wrong, and damage found in
// them later is reported as ErrCorruptLog.
func Open(fsys vfs.FS, dir string, cfg Config) (*Log, error) {
	c := cfg.normalized()
	if err := createDir(fsys, dir); err != nil {
		return nil, err
	}
	l := &Log{fs: fsys, dir: dir}
	l.cfg.Store(c)
	l.gc.cond.L = &l.gc.mu
	l.lastFlushMs.Store(c.nowMs())

	bases, err := l.listSegments()
	if err != nil {
		return nil, err
	}
	checkpointStart, err := readLogStartCheckpoint(fsys, dir)
	if errors.Is(err, errBadCheckpoint) {
		c.Logger.Warn("log: ignoring log start checkpoint", "dir", dir, "err", err)
		checkpointStart = -1
	} else if err != nil {
		// Going on without it would bring back deleted records.
		return nil, err
	}
	rebuildEpochs := false
	if err := l.epochs.load(fsys, dir); err != nil {
		c.Logger.Warn("log: leader epoch checkpoint unreadable, rebuilding it from the batches", "dir", dir, "err", err)
		rebuildEpochs = true
	}
	markerBytes, err := readSmallFile(fsys, filepath.Join(dir, cleanMarkerFile))
	if err != nil {
		return nil, err
	}

	if len(bases) == 0 {
		start := max(checkpointStart, 0)
		s, err := l.createSegment(start)
		if err != nil {
			return nil, err
		}
		l.replaceSegments([]*segment{s})
		l.nextOffset.Store(start)
		l.startOffset.Store(start)
		l.recoveryPoint.Store(start)
		if err := fsys.SyncDir(dir); err != nil {
			return nil, fmt.Errorf("log: sync dir %s: %w", dir, err)
		}
	} else {
		segs := make([]*segment, len(bases))
		for i, b := range bases {
			segs[i] = newSegment(l, b)
			if i > 0 {
				segs[i-1].sealed.Store(true)
				segs[i-1].next.Store(b)
			}
		}
		l.replaceSegments(segs)
		active := segs[len(segs)-1]
		clean := false
		if markerBytes != nil {
			clean = l.applyCleanMarker(active, markerBytes)
		}
		if clean {
			l.recoveryPoint.Store(active.base)
			l.recoveryPointSaved = true // Close wrote it
		} else if err := l.recover(readRecoveryPoint(l)); err != nil {
			l.closeAll()
			return nil, err
		}
		l.markerPresent = clean
		l.startOffset.Store(max(checkpointStart, bases[0]))
	}
	if markerBytes != nil && !l.markerPresent {
		if err := fsys.Remove(filepath.Join(dir, cleanMarkerFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			l.closeAll()
			return nil, fmt.Errorf("log: remove stale clean-shutdown marker: %w", err)
		}
		if err := fsys.SyncDir(dir); err != nil {
			l.closeAll()
			return nil, fmt.Errorf("log: sync dir %s: %w", dir, err)
		}
	}
	if err := l.settleStart(rebuildEpochs); err != nil {
		l.closeAll()
		return nil, err
	}
	return l, nil
}

// listSegments returns the base offsets of the segment files in the
// directory, removing leftovers: *.deleted and *.tmp files and index files
// without a .log.
func (l *Log) listSegments() ([]int64, error) {
	names, err := l.fs.List(l.dir)
	if err != nil {
		return nil, fmt.Errorf("log: list %s: %w", l.dir, err)
	}
	var bases []int64
	logs := make(map[string]bool)
	for _, name := range names {
		if base, ok := parseSegmentName(name); ok {
			bases = append(bases, base)
			logs[segmentName(base)] = true
		}
	}
	for _, name := range names {
		stale := strings.HasSuffix(name, deletedSuffix) || strings.HasSuffix(name, tmpSuffix)
		for _, suf := range []string{indexSuffix, timeIndexSuffix} {
			if stem, ok := strings.CutSuffix(name, suf); ok && len(stem) == 20 && !logs[stem] {
				stale = true
			}
		}
		if stale {
			if err := l.fs.Remove(filepath.Join(l.dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("log: remove leftover %s: %w", name, err)
			}
		}
	}
	slices.Sort(bases)
	return bases, nil
}

// applyCleanMarker opens the newest segment from the marker if the marker
// matches its files, reporting whether it did.
func (l *Log) applyCleanMarker(s *segment, b []byte) bool {
	logger := l.cfg.Load().Logger
	m, ok := decodeCleanMarker(b)
	if !ok {
		logger.Warn("log: clean-shutdown marker unreadable, recovering", "dir", l.dir)
		return false
	}
	sizes := []struct {
		path string
		want int64
	}{{s.logPath, m.logSize}, {s.ix.path, m.indexSize}, {s.tix.path, m.timeSize}}
	consistent := m.activeBase == s.base && m.endOffset >= s.base && m.indexSize%offsetIndexEntrySize == 0 &&
		m.timeSize%timeIndexEntrySize == 0 && (m.logSize == 0) == (m.endOffset == s.base)
	for _, sz := range sizes {
		if !consistent {
			break
		}
		fi, err := l.fs.Stat(sz.path)
		consistent = err == nil && fi.Size() == sz.want
	}
	if !consistent {
		logger.Warn("log: clean-shutdown marker does not match the newest segment, recovering", "dir", l.dir, "segment", s.base)
		return false
	}
	s.size.Store(m.logSize)
	s.ix.entries.Store(m.indexSize / offsetIndexEntrySize)
	s.tix.entries.Store(m.timeSize / timeIndexEntrySize)
	s.ix.lastKey, s.tix.lastKey = lastKeyUnknown, lastKeyUnknown
	s.maxTs, s.maxTsOffset, s.tsKnown = m.maxTs, m.maxTsOffset, true
	s.rollTs = m.rollTs
	l.nextOffset.Store(m.endOffset)
	return true
}

// lastKeyUnknown marks an index whose last entry has not been read yet.
const lastKeyUnknown = -2

// recover scans, after an unclean shutdown, every segment from the
// recovery point on (at least the newest). A segment that is not intact
// (a torn or corrupt batch, or offsets that do not reach the next
// segment's base) is cut at its first bad batch and becomes the newest:
// the segments after it are deleted, as Kafka does. The recovery point is
// then the newest segment's base.
func (l *Log) recover(rp int64) error {
	segs := l.segs.Load().segs
	for i, s := range segs {
		last := i == len(segs)-1
		if !last && s.base < rp {
			continue
		}
		if last {
			if err := l.recoverSegment(s); err != nil {
				return err
			}
			break
		}
		intact, err := l.checkSealedSegment(s)
		if err != nil {
			return err
		}
		if intact {
			s.mu.Lock()
			s.closeFilesLocked() // opened lazily again when read
			s.mu.Unlock()
			continue
		}
		l.cfg.Load().Logger.Warn("log: segment damaged by the crash, dropping the segments after it",
			"file", s.logPath, "dropped_segments", len(segs)-1-i)
		for j := len(segs) - 1; j > i; j-- {
			if err := segs[j].markDeleted(); err != nil {
				return err
			}
		}
		s.sealed.Store(false)
		s.next.Store(-1)
		l.replaceSegments(slices.Clone(segs[:i+1]))
		if err := l.fs.SyncDir(l.dir); err != nil {
			return fmt.Errorf("log: sync dir %s: %w", l.dir, err)
		}
		if err := l.recoverSegment(s); err != nil {
			return err
		}
		break
	}
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	return l.setRecoveryPoint(l.active.Load().base)
}

// checkSealedSegment scans a closed segment above the recovery point (its
// bytes may not all have reached the disk). If every batch is valid and the
// offsets reach the next segment, its indexes are made to match and it is
// intact; otherwise nothing is changed.
func (l *Log) checkSealedSegment(s *segment) (bool, error) {
	cfg := l.cfg.Load()
	f, err := s.logFile()
	if err != nil {
		return false, err
	}
	size, err := f.Size()
	if err != nil {
		return false, fmt.Errorf("log: size of %s: %w", s.logPath, err)
	}
	sc := newBatchScanner(f, s.logPath, s.base, 0, size, s.base, true)
	b := newIndexBuilder(s.base, cfg)
	for {
		h, pos, err := sc.next()
		if errors.Is(err, errScanEnd) {
			break
		}
		var ce *CorruptionError
		if errors.As(err, &ce) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		b.add(h, pos)
	}
	if sc.expect != s.next.Load() {
		return false, nil
	}
	b.seal()
	s.size.Store(size)
	if err := s.matchIndexes(b, cfg); err != nil {
		return false, err
	}
	// What the scan saw may still be only in the page cache; make it
	// durable before the recovery point moves past it.
	if err := s.sync(true); err != nil {
		return false, err
	}
	s.tsMu.Lock()
	s.maxTs, s.maxTsOffset, s.tsKnown = b.maxTs, b.maxTsOffset, true
	s.tsMu.Unlock()
	return true, nil
}

// recoverSegment scans the newest segment after an unclean shutdown:
// every batch is checked (header, offsets continuing from the segment base,
// CRC); the file is truncated at the first bad one, and the indexes are
// rebuilt unless they already hold exactly the expected entries.
func (l *Log) recoverSegment(s *segment) error {
	cfg := l.cfg.Load()
	f, err := s.logFile()
	if err != nil {
		return err
	}
	size, err := f.Size()
	if err != nil {
		return fmt.Errorf("log: size of %s: %w", s.logPath, err)
	}
	sc := newBatchScanner(f, s.logPath, s.base, 0, size, s.base, true)
	b := newIndexBuilder(s.base, cfg)
	for {
		h, pos, err := sc.next()
		if errors.Is(err, errScanEnd) {
			break
		}
		var ce *CorruptionError
		if errors.As(err, &ce) {
			cfg.Logger.Warn("log: truncating torn or corrupt tail", "file", s.logPath, "position", pos,
				"dropped_bytes", size-pos, "reason", ce.Reason)
			break
		}
		if err != nil {
			return err
		}
		if pos == 0 {
			s.rollTs = h.MaxTimestamp
		}
		b.add(h, pos)
	}
	if sc.pos < size {
		if err := f.Truncate(sc.pos); err != nil {
			return fmt.Errorf("log: truncate %s to %d: %w", s.logPath, sc.pos, err)
		}
		if err := f.Sync(); err != nil {
			return fmt.Errorf("log: fsync %s: %w", s.logPath, err)
		}
	}
	s.size.Store(sc.pos)
	l.nextOffset.Store(sc.expect)
	s.maxTs, s.maxTsOffset, s.tsKnown = b.maxTs, b.maxTsOffset, true
	s.bytesSinceIndex = b.bytesSince
	return s.matchIndexes(b, cfg)
}

// matchIndexes makes the segment's index files hold what b computed,
// rewriting (and fsyncing) those that differ.
func (s *segment) matchIndexes(b *indexBuilder, cfg *Config) error {
	if err := s.openIndexes(); err != nil {
		return err
	}
	for _, x := range []struct {
		ix   *indexFile
		want []byte
	}{{s.ix, b.ix}, {s.tix, b.tix}} {
		same, err := x.ix.holds(x.want)
		if err != nil {
			return err
		}
		if same {
			x.ix.entries.Store(int64(len(x.want)) / x.ix.entrySize)
			x.ix.lastKey = lastKeyOf(x.ix, x.want)
			continue
		}
		cfg.Logger.Info("log: rebuilding index", "file", x.ix.path)
		if err := x.ix.rewrite(x.want); err != nil {
			return err
		}
		if err := x.ix.file.Sync(); err != nil {
			return fmt.Errorf("log: fsync %s: %w", x.ix.path, err)
		}
	}
	s.ixState.Store(ixValid)
	return nil
}

// holds reports whether the index file contains exactly want.
func (x *indexFile) holds(want []byte) (bool, error) {
	if x.missing {
		return false, nil
	}
	n, err := x.fileSize()
	if err != nil || n != int64(len(want)) {
		return false, err
	}
	if n == 0 {
		return true, nil
	}
	got := make([]byte, n)
	if _, err := x.file.ReadAt(got, 0); err != nil && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("log: read %s: %w", x.path, err)
	}
	return bytes.Equal(got, want), nil
}

// lastKeyOf returns the key of the last encoded entry, or -1.
func lastKeyOf(x *indexFile, entries []byte) int64 {
	if len(entries) == 0 {
		return -1
	}
	return x.key(entries[int64(len(entries))-x.entrySize:])
}

// settleStart enforces the invariants between the log start offset, the
// segments and the epoch cache after Open: segments wholly below the start
// are deleted, a start beyond the end empties the log, and epoch entries
// outside [start, end) are dropped.
func (l *Log) settleStart(rebuildEpochs bool) error {
	start, end := l.startOffset.Load(), l.nextOffset.Load()
	if start > end {
		l.cfg.Load().Logger.Warn("log: log start offset beyond log end, emptying the log", "dir", l.dir, "start", start, "end", end)
		l.appendMu.Lock()
		err := l.truncateFullyLocked(start)
		l.appendMu.Unlock()
		return err
	}
	if _, err := l.deleteSegmentsBelow(start); err != nil {
		return err
	}
	if rebuildEpochs {
		if err := l.rebuildEpochCache(); err != nil {
			return err
		}
	}
	if err := l.epochs.truncateFromEnd(end); err != nil {
		return err
	}
	return l.epochs.truncateFromStart(start)
}

// rebuildEpochCache recreates the leader epoch checkpoint from the
// partitionLeaderEpoch of every batch.
func (l *Log) rebuildEpochCache() error {
	if err := l.epochs.clear(); err != nil {
		return err
	}
	return l.ScanBatches(l.startOffset.Load(), func(h BatchHeader, _ []byte) error {
		if l.epochs.isNew(h.PartitionLeaderEpoch) {
			return l.epochs.assign(h.PartitionLeaderEpoch, h.BaseOffset)
		}
		return nil
	})
}

// createSegment creates the three files of a new segment at base, leaving
// them open, and returns it (not yet in the list). The caller syncs the
// directory.
func (l *Log) createSegment(base int64) (*segment, error) {
	s := newSegment(l, base)
	f, err := l.fs.Create(s.logPath)
	if err != nil {
		return nil, fmt.Errorf("log: create segment %d: %w", base, err)
	}
	s.log = f
	for _, x := range []*indexFile{s.ix, s.tix} {
		if x.file, err = l.fs.Create(x.path); err != nil {
			s.closeFilesLocked()
			return nil, fmt.Errorf("log: create index for segment %d: %w", base, err)
		}
	}
	s.size.Store(0)
	s.tsKnown = true
	s.ixState.Store(ixValid)
	return s, nil
}

// closeAll closes every file after a failed Open.
func (l *Log) closeAll() {
	l.closed.Store(true)
	if sl := l.segs.Load(); sl != nil {
		for _, s := range sl.segs {
			s.markClosed()
		}
	}
}

// createDir creates dir and any missing parents durably: each new
// directory's entry is made durable by syncing its parent.
func createDir(fsys vfs.FS, dir string) error {
	var created []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := fsys.Stat(d); err == nil {
			break
		}
		created = append(created, d)
		if parent := filepath.Dir(d); parent == d {
			break
		}
	}
	if len(created) == 0 {
		return nil
	}
	if err := fsys.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("log: create %s: %w", dir, err)
	}
	for i := len(created) - 1; i >= 0; i-- {
		parent := filepath.Dir(created[i])
		if parent == created[i] {
			continue
		}
		if err := fsys.SyncDir(parent); err != nil {
			return fmt.Errorf("log: sync dir %s: %w", parent, err)
		}
	}
	return nil
}
