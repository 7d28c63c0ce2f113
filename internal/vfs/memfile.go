package vfs

import (
	"errors"
	"io"
	"io/fs"
	"time"
)

// memFile is an open MemFS file. Its node may be renamed or removed while it
// is open; the handle keeps working on the node, as on Unix.
type memFile struct {
	fs       *MemFS
	n        *node
	name     string
	writable bool
	closed   bool // guarded by fs.mu
}

var _ File = (*memFile)(nil)

// ReadAt reads len(p) bytes at off; like os.File it returns io.EOF when fewer
// bytes are available.
func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	if _, err := f.fs.faults.check(OpRead, len(p), f.name); err != nil {
		return 0, err
	}
	f.fs.mu.RLock()
	defer f.fs.mu.RUnlock()
	if f.closed {
		return 0, f.pathErr("read", fs.ErrClosed)
	}
	if off < 0 {
		return 0, f.pathErr("read", errors.New("negative offset"))
	}
	if off >= int64(len(f.n.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.n.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Write appends p at the end of the file.
func (f *memFile) Write(p []byte) (int, error) { return f.write(p, -1) }

// WriteAt writes p at off, growing the file (with zeros in any gap) if needed.
func (f *memFile) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, f.pathErr("write", errors.New("negative offset"))
	}
	return f.write(p, off)
}

// write writes p at off, or at the end if off < 0.
func (f *memFile) write(p []byte, off int64) (int, error) {
	keep, ferr := f.fs.faults.check(OpWrite, len(p), f.name)
	if ferr != nil {
		p = p[:keep]
	}
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return 0, f.pathErr("write", fs.ErrClosed)
	}
	if !f.writable {
		return 0, f.pathErr("write", errReadOnly)
	}
	n := f.n
	if off < 0 {
		off = int64(len(n.data))
	}
	end := off + int64(len(p))
	if end > maxMemFileSize || end < off {
		return 0, f.pathErr("write", errTooLarge)
	}
	if len(p) > 0 {
		n.grow(int(end))
		copy(n.data[off:], p)
		n.dirtyFrom = min(n.dirtyFrom, int(off))
		n.modTime = time.Now()
	}
	if ferr != nil {
		return len(p), ferr
	}
	return len(p), nil
}

// grow extends a file's data with zeros to size bytes if it is shorter.
func (n *node) grow(size int) {
	old := len(n.data)
	if size <= old {
		return
	}
	if size > cap(n.data) {
		buf := make([]byte, old, max(size, 2*cap(n.data)))
		copy(buf, n.data)
		n.data = buf
	}
	n.data = n.data[:size]
	clear(n.data[old:]) // capacity may hold bytes from before a truncation
}

// truncate sets a file's size, zero-filling growth.
func (n *node) truncate(size int) {
	if size < len(n.data) {
		n.data = n.data[:size]
	} else {
		n.grow(size)
	}
	n.dirtyFrom = min(n.dirtyFrom, size)
	n.modTime = time.Now()
}

// Close closes the handle; later calls on it fail with fs.ErrClosed.
func (f *memFile) Close() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return f.pathErr("close", fs.ErrClosed)
	}
	f.closed = true
	return nil
}

// Sync makes the file's current bytes its synced bytes. It copies only the
// bytes from the first one changed since the last Sync.
func (f *memFile) Sync() error {
	if _, err := f.fs.faults.check(OpSync, 0, f.name); err != nil {
		return err
	}
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return f.pathErr("sync", fs.ErrClosed)
	}
	n := f.n
	n.synced = append(n.synced[:n.dirtyFrom], n.data[n.dirtyFrom:]...)
	n.dirtyFrom = len(n.data)
	return nil
}

// Truncate changes the file's size, growing it with zeros.
func (f *memFile) Truncate(size int64) error {
	if _, err := f.fs.faults.check(OpTruncate, 0, f.name); err != nil {
		return err
	}
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return f.pathErr("truncate", fs.ErrClosed)
	}
	if !f.writable {
		return f.pathErr("truncate", errReadOnly)
	}
	if size < 0 || size > maxMemFileSize {
		return f.pathErr("truncate", errTooLarge)
	}
	f.n.truncate(int(size))
	return nil
}

// Size returns the file's current size.
func (f *memFile) Size() (int64, error) {
	f.fs.mu.RLock()
	defer f.fs.mu.RUnlock()
	if f.closed {
		return 0, f.pathErr("stat", fs.ErrClosed)
	}
	return int64(len(f.n.data)), nil
}

// Name returns the path the file was opened with.
func (f *memFile) Name() string { return f.name }

func (f *memFile) pathErr(op string, err error) error {
	return &fs.PathError{Op: op, Path: f.name, Err: err}
}
