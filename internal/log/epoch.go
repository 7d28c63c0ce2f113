package log

import (
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// epochEntry says that leader epoch Epoch began at offset StartOffset.
type epochEntry struct {
	epoch       int32
	startOffset int64
}

// epochCache is the leader epoch -> start offset map of KIP-101, persisted
// in leader-epoch-checkpoint (Kafka's format: "0", the count, then one
// "epoch startOffset" line per entry). Entries are strictly increasing in
// both fields. Every change is written to disk before it is visible.
type epochCache struct {
	mu      sync.RWMutex
	fs      vfs.FS
	dir     string
	entries []epochEntry
	latestE atomic.Int32 // epoch of the last entry, -1 if none; read without mu by appends
}

// load reads the checkpoint; a missing file is an empty cache.
func (c *epochCache) load(fsys vfs.FS, dir string) error {
	c.fs, c.dir = fsys, dir
	c.latestE.Store(-1)
	b, err := readSmallFile(fsys, filepath.Join(dir, epochCheckpointFile))
	if err != nil || b == nil {
		return err
	}
	lines, err := checkpointLines(b, 2)
	if err != nil {
		return fmt.Errorf("log: %s: bad leader epoch checkpoint: %w", dir, err)
	}
	entries := make([]epochEntry, 0, len(lines))
	for i, f := range lines {
		e, err1 := strconv.ParseInt(f[0], 10, 32)
		o, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil || e < 0 || o < 0 {
			return fmt.Errorf("log: %s: bad leader epoch checkpoint line %d: %q", dir, i+3, f)
		}
		if n := len(entries); n > 0 && (int32(e) <= entries[n-1].epoch || o < entries[n-1].startOffset) {
			return fmt.Errorf("log: %s: leader epoch checkpoint line %d goes backwards", dir, i+3)
		}
		entries = append(entries, epochEntry{int32(e), o})
	}
	c.setLocked(entries)
	return nil
}

// setLocked installs entries. Caller holds c.mu for writing.
func (c *epochCache) setLocked(entries []epochEntry) {
	c.entries = entries
	if n := len(entries); n > 0 {
		c.latestE.Store(entries[n-1].epoch)
	} else {
		c.latestE.Store(-1)
	}
}

// isNew reports whether epoch is newer than every known epoch (Append
// records such an epoch). Allocation- and lock-free.
func (c *epochCache) isNew(epoch int32) bool { return epoch >= 0 && epoch > c.latestE.Load() }

// persistLocked writes entries to the checkpoint and, on success, makes them
// the cache's. Caller holds c.mu for writing.
func (c *epochCache) persistLocked(entries []epochEntry) error {
	b := fmt.Appendf(nil, "0\n%d\n", len(entries))
	for _, e := range entries {
		b = fmt.Appendf(b, "%d %d\n", e.epoch, e.startOffset)
	}
	if err := writeFileAtomic(c.fs, c.dir, epochCheckpointFile, b); err != nil {
		return err
	}
	c.setLocked(entries)
	return nil
}

// latest returns the newest entry.
func (c *epochCache) latest() (epochEntry, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if len(c.entries) == 0 {
		return epochEntry{}, false
	}
	return c.entries[len(c.entries)-1], true
}

// assign records that epoch starts at start, dropping entries it
// contradicts (an epoch >= epoch or a start >= start), as Kafka's
// LeaderEpochFileCache.assign does.
func (c *epochCache) assign(epoch int32, start int64) error {
	if epoch < 0 || start < 0 {
		return fmt.Errorf("log: assign epoch %d at %d: negative", epoch, start)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.entries)
	if n > 0 && epoch == c.entries[n-1].epoch && start >= c.entries[n-1].startOffset {
		return nil
	}
	kept := make([]epochEntry, 0, n+1)
	for _, e := range c.entries {
		if e.epoch < epoch && e.startOffset < start {
			kept = append(kept, e)
		}
	}
	return c.persistLocked(append(kept, epochEntry{epoch, start}))
}

// truncateFromEnd drops entries starting at or after end (log truncation).
func (c *epochCache) truncateFromEnd(end int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.entries)
	i := n
	for i > 0 && c.entries[i-1].startOffset >= end {
		i--
	}
	if i == n {
		return nil
	}
	return c.persistLocked(append([]epochEntry(nil), c.entries[:i]...))
}

// truncateFromStart drops entries wholly below start and moves the entry
// covering start to begin there (log start offset advanced).
func (c *epochCache) truncateFromStart(start int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := 0 // entries[:i] start at or before start
	for i < len(c.entries) && c.entries[i].startOffset <= start {
		i++
	}
	if i == 0 || (i == 1 && c.entries[0].startOffset == start) {
		return nil
	}
	kept := append([]epochEntry(nil), c.entries[i-1:]...)
	kept[0].startOffset = start
	return c.persistLocked(kept)
}

// clear drops every entry (and rewrites the checkpoint even if empty, so
// that an unreadable one is replaced).
func (c *epochCache) clear() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.persistLocked(nil)
}

// snapshot returns a copy of the entries.
func (c *epochCache) snapshot() []epochEntry {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return append([]epochEntry(nil), c.entries...)
}

// AssignEpochStartOffset records that leader epoch epoch starts at
// startOffset (called when this replica becomes leader). Entries with an
// epoch >= epoch or a start offset >= startOffset are dropped, as Kafka does.
func (l *Log) AssignEpochStartOffset(epoch int32, startOffset int64) error {
	if err := l.checkOpen(); err != nil {
		return err
	}
	return l.epochs.assign(epoch, startOffset)
}

// LatestEpoch returns the newest leader epoch in the checkpoint.
func (l *Log) LatestEpoch() (int32, bool) {
	e, ok := l.epochs.latest()
	return e.epoch, ok
}

// EndOffsetForEpoch answers OffsetForLeaderEpoch (KIP-101/279): for the
// largest known epoch <= epoch, that epoch and the start offset of the next
// known epoch (or the log end offset if it is the latest). It returns
// (-1, -1) when epoch is -1 or larger than every known epoch. An epoch older
// than every known one returns (epoch, start offset of the first known).
func (l *Log) EndOffsetForEpoch(epoch int32) (int32, int64) {
	l.epochs.mu.RLock()
	defer l.epochs.mu.RUnlock()
	entries := l.epochs.entries
	n := len(entries)
	if epoch < 0 || n == 0 {
		return -1, -1
	}
	if entries[n-1].epoch == epoch {
		return epoch, l.nextOffset.Load()
	}
	// higher: first entry with an epoch > epoch.
	h := 0
	for h < n && entries[h].epoch <= epoch {
		h++
	}
	if h == n {
		return -1, -1
	}
	if h == 0 {
		return epoch, entries[0].startOffset
	}
	return entries[h-1].epoch, entries[h].startOffset
}
