package log

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// Log is one partition's log in one directory. All methods are safe for
// concurrent use. See the package documentation for the concurrency model.
type Log struct {
	fs  vfs.FS
	dir string
	cfg atomic.Pointer[Config]

	nextOffset  atomic.Int64 // log end offset, published after the bytes
	startOffset atomic.Int64 // log start offset
	segs        atomic.Pointer[segmentList]
	active      atomic.Pointer[segment] // last of segs
	idle        atomic.Pointer[segment] // the one sealed segment kept open while unused
	closed      atomic.Bool
	lastFlushMs atomic.Int64

	// appendMu serialises changes to the tail: appends, rolls,
	// truncation, Close. The fields below it are guarded by it.
	appendMu      sync.Mutex
	failed        error // sticky: a write or fsync failed, the log refuses writes
	markerPresent bool  // the clean-shutdown marker is still on disk

	unflushedAtomic atomic.Int64 // records appended since the last fsync

	// trimMu serialises changes to the head (retention, DeleteRecordsBefore)
	// with each other and with truncation and Close.
	trimMu sync.Mutex
	// listMu guards swapping segs (roll and retention may run together).
	listMu sync.Mutex

	// flushMu serialises flushSealed (the goroutine a roll starts, the
	// group-commit syncer, Close) and changes to the recovery point.
	flushMu            sync.Mutex
	recoveryPoint      atomic.Int64   // segments below this base offset are durable
	recoveryPointSaved bool           // recoveryPoint is what the checkpoint file holds; guarded by flushMu
	bg                 sync.WaitGroup // background flushes started by rolls

	epochs epochCache
	gc     groupCommit
}

// segmentList is an immutable, sorted snapshot of a log's segments.
type segmentList struct {
	segs []*segment
}

// floor returns the index of the segment holding offset (the last one whose
// base is <= offset), or -1.
func (sl *segmentList) floor(offset int64) int {
	i := sort.Search(len(sl.segs), func(i int) bool { return sl.segs[i].base > offset })
	return i - 1
}

// Dir returns the log's directory.
func (l *Log) Dir() string { return l.dir }

// SetConfig replaces the configuration (topic config changed at runtime).
// New values apply to the next append, roll, flush or retention run.
func (l *Log) SetConfig(cfg Config) { l.cfg.Store(cfg.normalized()) }

// LogStartOffset returns the first offset a reader may ask for.
func (l *Log) LogStartOffset() int64 { return l.startOffset.Load() }

// LogEndOffset returns the offset the next appended record will get.
func (l *Log) LogEndOffset() int64 { return l.nextOffset.Load() }

// SegmentCount returns the number of segments.
func (l *Log) SegmentCount() int { return len(l.segs.Load().segs) }

// Size returns the bytes of all segments (sealed sizes are read from the
// file system the first time they are needed).
func (l *Log) Size() int64 {
	var total int64
	for _, s := range l.segs.Load().segs {
		n, err := s.knownSize()
		if err != nil {
			l.cfg.Load().Logger.Warn("log: size", "dir", l.dir, "err", err)
			continue
		}
		total += n
	}
	return total
}

// replaceSegments publishes a new segment list. Caller holds listMu.
func (l *Log) replaceSegments(segs []*segment) {
	l.segs.Store(&segmentList{segs: segs})
	l.active.Store(segs[len(segs)-1])
}

// parkIdle makes s the sealed segment kept open while unused, closing the
// one it displaces.
func (l *Log) parkIdle(s *segment) {
	if old := l.idle.Swap(s); old != nil && old != s {
		old.closeIfIdle()
	}
}

// removeFiles deletes files of a deleted segment; failures are logged (the
// files end in .deleted and are removed at the next Open).
func (l *Log) removeFiles(paths []string) {
	for _, p := range paths {
		if err := l.fs.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			l.cfg.Load().Logger.Warn("log: remove deleted segment file", "file", p, "err", err)
		}
	}
}

// checkOpen returns ErrClosed after Close.
func (l *Log) checkOpen() error {
	if l.closed.Load() {
		return fmt.Errorf("log %s: %w", l.dir, ErrClosed)
	}
	return nil
}

// writableLocked returns why the log cannot be written. Caller holds appendMu.
func (l *Log) writableLocked() error {
	if l.closed.Load() {
		return fmt.Errorf("log %s: %w", l.dir, ErrClosed)
	}
	if l.failed != nil {
		return fmt.Errorf("log %s: unusable after an earlier failure: %w", l.dir, l.failed)
	}
	return nil
}

// failLocked makes err sticky: after a write, truncate or fsync failure the
// state of the file is unknown, so the log refuses writes until reopened
// (Kafka takes the log directory offline). Caller holds appendMu.
func (l *Log) failLocked(err error) error {
	if l.failed == nil {
		l.failed = err
		l.cfg.Load().Logger.Error("log: failed, refusing writes until reopened", "dir", l.dir, "err", err)
	}
	return err
}

// dirtyLocked removes the clean-shutdown marker before the first change to
// the newest segment, so that a crash after this point is recovered by a
// scan. Caller holds appendMu.
func (l *Log) dirtyLocked() error {
	if !l.markerPresent {
		return nil
	}
	if err := l.fs.Remove(filepath.Join(l.dir, cleanMarkerFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return l.failLocked(fmt.Errorf("log: remove clean-shutdown marker: %w", err))
	}
	if err := l.fs.SyncDir(l.dir); err != nil {
		return l.failLocked(fmt.Errorf("log: sync dir %s: %w", l.dir, err))
	}
	l.markerPresent = false
	return nil
}

// Flush makes everything written so far durable: the active segment's log
// and indexes (sealed segments were synced when they were rolled).
func (l *Log) Flush() error {
	if err := l.checkOpen(); err != nil {
		return err
	}
	return l.syncTo(l.nextOffset.Load(), true)
}

// MaybeFlush applies the flush policy (FlushMs, FlushMessages): it fsyncs
// if the last fsync is older than FlushMs or more than FlushMessages records
// were appended since. Call it periodically when FlushMs is set.
func (l *Log) MaybeFlush() error {
	if err := l.checkOpen(); err != nil {
		return err
	}
	cfg := l.cfg.Load()
	l.appendMu.Lock()
	due := l.flushDueLocked(cfg, cfg.nowMs())
	l.appendMu.Unlock()
	if !due {
		return nil
	}
	return l.syncTo(l.nextOffset.Load(), false)
}

// flushDueLocked reports whether the flush policy asks for an fsync now.
// Caller holds appendMu.
func (l *Log) flushDueLocked(cfg *Config, nowMs int64) bool {
	n := l.unflushedAtomic.Load()
	if n == 0 {
		return false
	}
	if cfg.FlushMessages > 0 && n >= cfg.FlushMessages {
		return true
	}
	return cfg.FlushMs > 0 && nowMs-l.lastFlushMs.Load() >= cfg.FlushMs.Milliseconds()
}

// Close shuts the log down cleanly: it fsyncs the active segment and the
// indexes, writes the clean-shutdown marker (so the next Open need not
// scan) and closes the files. Reads still outstanding keep their segment's
// file open until released. Later calls return ErrClosed.
func (l *Log) Close() error {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	l.trimMu.Lock()
	defer l.trimMu.Unlock()
	if l.closed.Load() {
		return fmt.Errorf("log %s: %w", l.dir, ErrClosed)
	}
	var err error
	// With the marker still on disk nothing changed since a clean Open:
	// there is nothing to sync or record.
	if l.failed == nil && !l.markerPresent {
		if err = l.flushSealed(); err == nil {
			err = l.syncActiveLocked(true)
		}
		if err == nil {
			err = l.writeCleanMarkerLocked()
		}
	}
	l.closed.Store(true)
	for _, s := range l.segs.Load().segs {
		s.markClosed()
	}
	l.gc.closeAll(fmt.Errorf("log %s: %w", l.dir, ErrClosed))
	// A background flush may wait for appendMu to report a failure.
	l.trimMu.Unlock()
	l.appendMu.Unlock()
	l.bg.Wait()
	l.appendMu.Lock()
	l.trimMu.Lock()
	if err != nil {
		return fmt.Errorf("log: close %s: %w", l.dir, err)
	}
	return nil
}

// Delete closes the log and removes its directory (topic deletion).
func (l *Log) Delete() error {
	if err := l.Close(); err != nil && !errors.Is(err, ErrClosed) {
		l.cfg.Load().Logger.Warn("log: close before delete", "dir", l.dir, "err", err)
	}
	if err := l.fs.RemoveAll(l.dir); err != nil {
		return fmt.Errorf("log: delete %s: %w", l.dir, err)
	}
	return nil
}
