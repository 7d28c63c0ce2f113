package vfs

import (
	"fmt"
	"os"
	"sync"
)

// OS is the FS backed by package os. The zero value is ready to use; files it
// returns also implement OSFile.
type OS struct{}

var _ FS = OS{}

// osFile is a File over an *os.File. Write appends at end, which is the size
// of the file when it was opened, advanced by writes and set by Truncate. The
// file is deliberately not opened with O_APPEND: on Linux pwrite(2) on an
// O_APPEND descriptor ignores the offset and appends, which would break WriteAt.
type osFile struct {
	f *os.File

	mu  sync.Mutex // guards end; serialises Write, WriteAt and Truncate
	end int64      // offset at which the next Write lands
}

var (
	_ File   = (*osFile)(nil)
	_ OSFile = (*osFile)(nil)
)

// Create creates or truncates the named file for reading and writing.
func (OS) Create(name string) (File, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("vfs: create: %w", err)
	}
	return &osFile{f: f}, nil
}

// OpenReadWrite opens an existing file for reading and writing; Write appends
// at the end of the file.
func (OS) OpenReadWrite(name string) (File, error) {
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("vfs: open read-write: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("vfs: open read-write: %w", err)
	}
	return &osFile{f: f, end: fi.Size()}, nil
}

// Open opens an existing file read-only; its Write, WriteAt, Truncate fail.
func (OS) Open(name string) (File, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("vfs: open: %w", err)
	}
	return &osFile{f: f}, nil
}

// Remove deletes a file or an empty directory.
func (OS) Remove(name string) error {
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("vfs: %w", err)
	}
	return nil
}

// RemoveAll deletes a directory tree; a missing name is not an error.
func (OS) RemoveAll(name string) error {
	if err := os.RemoveAll(name); err != nil {
		return fmt.Errorf("vfs: %w", err)
	}
	return nil
}

// Rename atomically renames oldname to newname, replacing newname.
func (OS) Rename(oldname, newname string) error {
	if err := os.Rename(oldname, newname); err != nil {
		return fmt.Errorf("vfs: %w", err)
	}
	return nil
}

// MkdirAll creates a directory and its parents.
func (OS) MkdirAll(dir string, perm os.FileMode) error {
	if err := os.MkdirAll(dir, perm); err != nil {
		return fmt.Errorf("vfs: %w", err)
	}
	return nil
}

// List returns the names of the entries of dir, sorted.
func (OS) List(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir) // sorted by name
	if err != nil {
		return nil, fmt.Errorf("vfs: list: %w", err)
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names, nil
}

// Stat describes the named file or directory.
func (OS) Stat(name string) (os.FileInfo, error) {
	fi, err := os.Stat(name)
	if err != nil {
		return nil, fmt.Errorf("vfs: %w", err)
	}
	return fi, nil
}

// SyncDir opens dir and fsyncs it, making its entries durable.
func (OS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("vfs: sync dir: %w", err)
	}
	if err := d.Sync(); err != nil {
		_ = d.Close()
		return fmt.Errorf("vfs: sync dir %s: %w", dir, err)
	}
	if err := d.Close(); err != nil {
		return fmt.Errorf("vfs: sync dir %s: %w", dir, err)
	}
	return nil
}

// ReadAt reads len(p) bytes at off (pread); safe to call concurrently.
func (f *osFile) ReadAt(p []byte, off int64) (int, error) { return f.f.ReadAt(p, off) }

// Write writes p at the end of the file.
func (f *osFile) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.f.WriteAt(p, f.end)
	f.end += int64(n)
	return n, err
}

// WriteAt writes p at off; a write past the end moves the end.
func (f *osFile) WriteAt(p []byte, off int64) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.f.WriteAt(p, off)
	if e := off + int64(n); n > 0 && e > f.end {
		f.end = e
	}
	return n, err
}

// Close closes the file.
func (f *osFile) Close() error { return f.f.Close() }

// Sync fsyncs the file.
func (f *osFile) Sync() error { return f.f.Sync() }

// Truncate sets the file's size; the next Write lands at the new size.
func (f *osFile) Truncate(size int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.f.Truncate(size); err != nil {
		return err
	}
	f.end = size
	return nil
}

// Size returns the file's current size from fstat.
func (f *osFile) Size() (int64, error) {
	fi, err := f.f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// Name returns the path the file was opened with.
func (f *osFile) Name() string { return f.f.Name() }

// OSFile returns the underlying *os.File, for sendfile.
func (f *osFile) OSFile() *os.File { return f.f }
