package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"sync"
	"sync/atomic"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// Index entry sizes, as Kafka's.
const (
	offsetIndexEntrySize = 8  // int32 relative offset, int32 position
	timeIndexEntrySize   = 12 // int64 timestamp, int32 relative offset
)

// indexChunk is how many bytes of an index a lookup or validation reads at
// once; a binary search probes single entries until the range fits.
const indexChunk = 4096

var chunkPool = sync.Pool{New: func() any { b := make([]byte, indexChunk); return &b }}

// indexFile is one .index or .timeindex file: a sorted array of fixed-size
// entries, read with ReadAt so that memory does not grow with the index.
//
// The file handle and path are guarded by the owning segment's mu; the
// handle is used without the lock while the caller holds a segment
// reference. Entries are appended by the appender (holding the segment's
// ixMu for reading) and published through entries; a rebuild holds ixMu
// for writing.
type indexFile struct {
	entrySize int64
	path      string   // the file's name, for messages (immutable)
	cur       string   // where the file is now (renamed when deleted); guarded by segment.mu
	file      vfs.File // guarded by segment.mu; nil until opened
	missing   bool     // the file did not exist when it was opened (created empty)

	entries atomic.Int64 // entries visible to readers

	// lastKey is the key of the last entry (relative offset or timestamp),
	// used by the appender to keep entries increasing; guarded as entries'
	// writers are.
	lastKey int64
	buf     [timeIndexEntrySize]byte
}

func newIndexFile(entrySize int64, path string) *indexFile {
	return &indexFile{entrySize: entrySize, path: path, cur: path, lastKey: -1}
}

// open opens the file if needed, creating it empty when it is missing.
// Caller holds segment.mu.
func (x *indexFile) open(fsys vfs.FS) error {
	if x.file != nil {
		return nil
	}
	f, err := fsys.OpenReadWrite(x.cur)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("log: open index %s: %w", x.cur, err)
		}
		f, err = fsys.Create(x.cur)
		if err != nil {
			return fmt.Errorf("log: create index %s: %w", x.path, err)
		}
		x.missing = true
	}
	x.file = f
	return nil
}

// closeFile closes the handle. Caller holds segment.mu.
func (x *indexFile) closeFile() error {
	if x.file == nil {
		return nil
	}
	err := x.file.Close()
	x.file = nil
	return err
}

// fileSize returns the size of the open file.
func (x *indexFile) fileSize() (int64, error) {
	n, err := x.file.Size()
	if err != nil {
		return 0, fmt.Errorf("log: size of %s: %w", x.path, err)
	}
	return n, nil
}

// appendOffsetEntry appends (relative offset, position) to an offset index.
func (x *indexFile) appendOffsetEntry(rel int32, pos int32) error {
	n := x.entries.Load()
	binary.BigEndian.PutUint32(x.buf[0:], uint32(rel))
	binary.BigEndian.PutUint32(x.buf[4:], uint32(pos))
	if _, err := x.file.WriteAt(x.buf[:offsetIndexEntrySize], n*offsetIndexEntrySize); err != nil {
		return fmt.Errorf("log: append to %s: %w", x.path, err)
	}
	x.lastKey = int64(rel)
	x.entries.Store(n + 1)
	return nil
}

// appendTimeEntry appends (timestamp, relative offset) to a time index.
func (x *indexFile) appendTimeEntry(ts int64, rel int32) error {
	n := x.entries.Load()
	binary.BigEndian.PutUint64(x.buf[0:], uint64(ts))
	binary.BigEndian.PutUint32(x.buf[8:], uint32(rel))
	if _, err := x.file.WriteAt(x.buf[:timeIndexEntrySize], n*timeIndexEntrySize); err != nil {
		return fmt.Errorf("log: append to %s: %w", x.path, err)
	}
	x.lastKey = ts
	x.entries.Store(n + 1)
	return nil
}

// rewrite replaces the file's contents with entries (already encoded).
func (x *indexFile) rewrite(entries []byte) error {
	if err := x.file.Truncate(0); err != nil {
		return fmt.Errorf("log: truncate %s: %w", x.path, err)
	}
	if len(entries) > 0 {
		if _, err := x.file.WriteAt(entries, 0); err != nil {
			return fmt.Errorf("log: write %s: %w", x.path, err)
		}
	}
	n := int64(len(entries)) / x.entrySize
	x.lastKey = -1
	if n > 0 {
		last := entries[(n-1)*x.entrySize:]
		if x.entrySize == offsetIndexEntrySize {
			x.lastKey = int64(int32(binary.BigEndian.Uint32(last)))
		} else {
			x.lastKey = int64(binary.BigEndian.Uint64(last))
		}
	}
	x.entries.Store(n)
	x.missing = false
	return nil
}

// truncateEntries keeps the first n entries.
func (x *indexFile) truncateEntries(n int64) error {
	if err := x.file.Truncate(n * x.entrySize); err != nil {
		return fmt.Errorf("log: truncate %s: %w", x.path, err)
	}
	x.entries.Store(n)
	x.lastKey = -1
	if n > 0 {
		e, err := x.readEntry(n - 1)
		if err != nil {
			return err
		}
		x.lastKey = x.key(e)
	}
	return nil
}

// key returns an entry's sort key: relative offset or timestamp.
func (x *indexFile) key(e []byte) int64 {
	if x.entrySize == offsetIndexEntrySize {
		return int64(int32(binary.BigEndian.Uint32(e)))
	}
	return int64(binary.BigEndian.Uint64(e))
}

// readEntry reads entry i into a fresh buffer.
func (x *indexFile) readEntry(i int64) ([]byte, error) {
	e := make([]byte, x.entrySize)
	if _, err := x.file.ReadAt(e, i*x.entrySize); err != nil {
		return nil, fmt.Errorf("log: read %s entry %d: %w", x.path, i, err)
	}
	return e, nil
}

// countWhile returns how many of the first n entries satisfy pred, assuming
// pred is true for a prefix of the entries (they are sorted). It reads
// single entries until the remaining range fits in one chunk.
func (x *indexFile) countWhile(n int64, pred func(e []byte) bool) (int64, error) {
	bp := chunkPool.Get().(*[]byte)
	defer chunkPool.Put(bp)
	buf := *bp
	lo, hi := int64(0), n // answer in [lo, hi]
	per := int64(indexChunk) / x.entrySize
	for hi-lo > per {
		mid := lo + (hi-lo)/2
		e := buf[:x.entrySize]
		if _, err := x.file.ReadAt(e, mid*x.entrySize); err != nil {
			return 0, fmt.Errorf("log: read %s entry %d: %w", x.path, mid, err)
		}
		if pred(e) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if hi == lo {
		return lo, nil
	}
	chunk := buf[:(hi-lo)*x.entrySize]
	if _, err := x.file.ReadAt(chunk, lo*x.entrySize); err != nil {
		return 0, fmt.Errorf("log: read %s entries %d-%d: %w", x.path, lo, hi, err)
	}
	for i := int64(0); i < hi-lo; i++ {
		if !pred(chunk[i*x.entrySize : (i+1)*x.entrySize]) {
			return lo + i, nil
		}
	}
	return hi, nil
}

// floorOffset returns the last offset index entry whose relative offset is
// <= rel: (entry relative offset, position, true), or false when none is.
func (x *indexFile) floorOffset(rel int64) (int64, int64, bool, error) {
	n := x.entries.Load()
	if n == 0 {
		return 0, 0, false, nil
	}
	c, err := x.countWhile(n, func(e []byte) bool { return int64(int32(binary.BigEndian.Uint32(e))) <= rel })
	if err != nil || c == 0 {
		return 0, 0, false, err
	}
	e, err := x.readEntry(c - 1)
	if err != nil {
		return 0, 0, false, err
	}
	return int64(int32(binary.BigEndian.Uint32(e))), int64(int32(binary.BigEndian.Uint32(e[4:]))), true, nil
}

// floorPosition returns the last offset index entry whose position is <= pos.
func (x *indexFile) floorPosition(pos int64) (int64, int64, bool, error) {
	n := x.entries.Load()
	if n == 0 {
		return 0, 0, false, nil
	}
	c, err := x.countWhile(n, func(e []byte) bool { return int64(int32(binary.BigEndian.Uint32(e[4:]))) <= pos })
	if err != nil || c == 0 {
		return 0, 0, false, err
	}
	e, err := x.readEntry(c - 1)
	if err != nil {
		return 0, 0, false, err
	}
	return int64(int32(binary.BigEndian.Uint32(e))), int64(int32(binary.BigEndian.Uint32(e[4:]))), true, nil
}

// lowerTimestamp returns the last time index entry whose timestamp is < ts:
// (timestamp, relative offset, true), or false when none is.
func (x *indexFile) lowerTimestamp(ts int64) (int64, int64, bool, error) {
	n := x.entries.Load()
	if n == 0 {
		return 0, 0, false, nil
	}
	c, err := x.countWhile(n, func(e []byte) bool { return int64(binary.BigEndian.Uint64(e)) < ts })
	if err != nil || c == 0 {
		return 0, 0, false, err
	}
	e, err := x.readEntry(c - 1)
	if err != nil {
		return 0, 0, false, err
	}
	return int64(binary.BigEndian.Uint64(e)), int64(int32(binary.BigEndian.Uint32(e[8:]))), true, nil
}

// lastTimeEntry returns the last time index entry, if any.
func (x *indexFile) lastTimeEntry() (ts int64, rel int64, ok bool, err error) {
	n := x.entries.Load()
	if n == 0 {
		return 0, 0, false, nil
	}
	e, err := x.readEntry(n - 1)
	if err != nil {
		return 0, 0, false, err
	}
	return int64(binary.BigEndian.Uint64(e)), int64(int32(binary.BigEndian.Uint32(e[8:]))), true, nil
}

// validate reads the whole file and checks that it holds well-formed
// entries: a whole number of them, no more than maxEntries, keys strictly
// increasing, relative offsets in [0, maxRel] and positions in [0, logSize).
// On success it publishes the entry count. A non-nil reason means the index
// must be rebuilt; err is an I/O error.
func (x *indexFile) validate(maxEntries, maxRel, logSize int64) (reason string, err error) {
	size, err := x.fileSize()
	if err != nil {
		return "", err
	}
	if x.missing {
		return "missing", nil
	}
	if size%x.entrySize != 0 {
		return fmt.Sprintf("size %d is not a multiple of %d", size, x.entrySize), nil
	}
	n := size / x.entrySize
	if n > maxEntries {
		return fmt.Sprintf("%d entries, at most %d allowed", n, maxEntries), nil
	}
	bp := chunkPool.Get().(*[]byte)
	defer chunkPool.Put(bp)
	buf := *bp
	prevKey, prevVal := int64(math.MinInt64), int64(-1)
	per := int64(indexChunk) / x.entrySize
	for i := int64(0); i < n; i += per {
		m := min(per, n-i)
		chunk := buf[:m*x.entrySize]
		if _, err := x.file.ReadAt(chunk, i*x.entrySize); err != nil && err != io.EOF {
			return "", fmt.Errorf("log: read %s: %w", x.path, err)
		}
		for j := int64(0); j < m; j++ {
			e := chunk[j*x.entrySize:]
			var key, rel, pos int64
			if x.entrySize == offsetIndexEntrySize {
				rel = int64(int32(binary.BigEndian.Uint32(e)))
				pos = int64(int32(binary.BigEndian.Uint32(e[4:])))
				key = rel
				if pos < 0 || pos >= logSize || pos <= prevVal {
					return fmt.Sprintf("entry %d: position %d out of order or beyond %d", i+j, pos, logSize), nil
				}
				prevVal = pos
			} else {
				key = int64(binary.BigEndian.Uint64(e))
				rel = int64(int32(binary.BigEndian.Uint32(e[8:])))
				if rel < prevVal {
					return fmt.Sprintf("entry %d: offset %d goes backwards", i+j, rel), nil
				}
				prevVal = rel
			}
			if rel < 0 || rel > maxRel {
				return fmt.Sprintf("entry %d: relative offset %d outside [0, %d]", i+j, rel, maxRel), nil
			}
			if key <= prevKey {
				return fmt.Sprintf("entry %d: key %d not increasing", i+j, key), nil
			}
			prevKey = key
		}
	}
	x.entries.Store(n)
	x.lastKey = -1
	if n > 0 {
		x.lastKey = prevKey
	}
	return "", nil
}
