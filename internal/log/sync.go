package log

import (
	"errors"
	"fmt"
	"sync"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// groupCommit lets concurrent appenders share fsyncs. An appender that
// needs its bytes durable calls syncTo with its end offset after releasing
// the append lock. If no fsync is running it becomes the syncer: it notes
// the log end offset E (every byte below E is written), fsyncs the active
// segment (older segments were fsynced when rolled) and then declares E
// durable, waking everyone whose target is <= E. Appenders that arrive
// while an fsync runs wait for it and, if it did not cover them, one of
// them starts the next one, which covers everything written meanwhile.
type groupCommit struct {
	mu      sync.Mutex
	cond    sync.Cond // signalled when an fsync ends
	durable int64     // offsets below are durable
	gen     uint64    // bumped by truncation: an fsync that started before does not count
	syncing bool      // an fsync is running
	err     error     // set by Close: later waiters fail with it
}

// reset sets the durable offset after truncation (which fsyncs itself).
func (g *groupCommit) reset(durable int64) {
	g.mu.Lock()
	g.gen++
	g.durable = durable
	g.mu.Unlock()
}

// markDurable records that offsets below end are durable.
func (g *groupCommit) markDurable(end int64) {
	g.mu.Lock()
	g.durable = max(g.durable, end)
	g.cond.Broadcast()
	g.mu.Unlock()
}

// closeAll fails later waiters with err and wakes the current ones.
func (g *groupCommit) closeAll(err error) {
	g.mu.Lock()
	g.err = err
	g.cond.Broadcast()
	g.mu.Unlock()
}

// syncTo returns once every offset below target is durable. With full it
// runs an fsync of its own (of the log and the indexes) even if target is
// already covered.
func (l *Log) syncTo(target int64, full bool) error {
	g := &l.gc
	g.mu.Lock()
	for {
		if !full && g.durable >= target {
			g.mu.Unlock()
			return nil
		}
		if g.err != nil {
			err := g.err
			g.mu.Unlock()
			return err
		}
		if g.syncing {
			g.cond.Wait()
			continue
		}
		g.syncing = true
		gen := g.gen
		g.mu.Unlock()

		pending := l.unflushedAtomic.Load()
		end, err := l.syncActive(full)

		g.mu.Lock()
		g.syncing = false
		g.cond.Broadcast()
		if err != nil && !full && g.durable >= target {
			g.mu.Unlock()
			return nil // Close made it durable meanwhile
		}
		if err != nil {
			g.mu.Unlock()
			if errors.Is(err, ErrClosed) {
				return err
			}
			l.appendMu.Lock()
			err = l.failLocked(err)
			l.appendMu.Unlock()
			return err
		}
		l.unflushedAtomic.Add(-pending)
		l.lastFlushMs.Store(l.cfg.Load().nowMs())
		if gen == g.gen && end > g.durable {
			g.durable = end
		}
		full = false
	}
}

// syncActive fsyncs the active segment, and any sealed segment not yet
// durable, and returns the log end offset it covers. The end offset is read
// before the segment: bytes below it are in that segment or in older ones.
func (l *Log) syncActive(full bool) (int64, error) {
	for range maxAttempts {
		end := l.nextOffset.Load()
		s := l.active.Load()
		if l.needsSealedFlush() {
			if err := l.flushSealed(); err != nil {
				return 0, err
			}
		}
		if !s.acquire() {
			if err := l.checkOpen(); err != nil {
				return 0, err
			}
			continue // replaced by truncation, which synced everything itself
		}
		err := s.sync(full)
		s.release()
		return end, err
	}
	return 0, fmt.Errorf("log: sync %s: active segment keeps changing", l.dir)
}

// syncActiveLocked fsyncs the active segment while holding appendMu (no
// append can run) and marks everything durable; the caller flushed the
// sealed segments.
func (l *Log) syncActiveLocked(full bool) error {
	end := l.nextOffset.Load()
	if err := l.active.Load().sync(full); err != nil {
		return l.failLocked(err)
	}
	l.unflushedAtomic.Store(0)
	l.lastFlushMs.Store(l.cfg.Load().nowMs())
	l.gc.markDurable(end)
	return nil
}

// sync fsyncs the segment's log and, with full, its index files, opening
// them if they were closed (an idle sealed segment's handles may have been
// closed before its background flush ran; closing does not sync). The
// caller holds a reference or appendMu.
func (s *segment) sync(full bool) error {
	if _, err := s.logFile(); err != nil {
		return err
	}
	if full {
		if err := s.openIndexes(); err != nil {
			return err
		}
	}
	s.mu.Lock()
	files := [3]vfs.File{s.log, s.ix.file, s.tix.file}
	paths := [3]string{s.logPath, s.ix.path, s.tix.path}
	s.mu.Unlock()
	n := 1
	if full {
		n = 3
	}
	for i := range n {
		if files[i] == nil {
			continue
		}
		if err := files[i].Sync(); err != nil {
			return fmt.Errorf("log: fsync %s: %w", paths[i], err)
		}
	}
	return nil
}
