// Package vfs is the small filesystem interface through which samsa's storage
// code touches the disk.
//
// Production code uses OS, a thin layer over package os. Tests use MemFS, an
// in-memory filesystem that remembers which bytes were synced so that a test
// can "crash" it (keep only synced bytes, optionally tearing the last
// unsynced write) and that can be told to fail the Nth write or sync. This is
// the pebble vfs idea cut down to what a segmented log needs. ErrorFS wraps
// any FS (typically OS) to fail chosen operations the same way.
//
// Durability model (the same for OS and MemFS): bytes written to a File
// become durable when File.Sync returns nil. A file's existence and name
// (Create, Rename, Remove, and directories made by MkdirAll) become durable
// when the parent directory is synced with FS.SyncDir. MemFS enforces this
// strictly; see MemFS.Crash for exactly what survives.
package vfs

import (
	"io"
	"os"
)

// File is an open file. ReadAt and Sync may be called concurrently with
// each other and with Write, WriteAt and Truncate (a log's group commit
// fsyncs while its appender writes); Write, WriteAt and Truncate are called
// by one goroutine at a time, and Close after every other call has returned.
type File interface {
	io.ReaderAt
	io.Writer
	io.WriterAt
	io.Closer
	// Sync makes every byte written so far durable.
	Sync() error
	// Truncate changes the file's size (it may grow it with zeros).
	Truncate(size int64) error
	// Size returns the file's current size in bytes.
	Size() (int64, error)
	// Name returns the path the file was opened with.
	Name() string
}

// OSFile is implemented by files that are backed by a real *os.File, so that
// readers can hand them to sendfile(2) (io.Copy to a *net.TCPConn).
type OSFile interface {
	OSFile() *os.File
}

// FS is the set of filesystem operations samsa's storage needs.
type FS interface {
	// Create creates or truncates the named file for reading and writing.
	Create(name string) (File, error)
	// OpenReadWrite opens an existing file for reading and writing;
	// writes made with Write append at the end of the file.
	OpenReadWrite(name string) (File, error)
	// Open opens an existing file read-only.
	Open(name string) (File, error)
	// Remove deletes a file or an empty directory.
	Remove(name string) error
	// RemoveAll deletes a directory tree.
	RemoveAll(name string) error
	// Rename atomically renames oldname to newname, replacing newname.
	Rename(oldname, newname string) error
	// MkdirAll creates a directory and its parents.
	MkdirAll(dir string, perm os.FileMode) error
	// List returns the names (not paths) of the entries of dir, sorted.
	List(dir string) ([]string, error)
	// Stat reports the size of a file; the error satisfies
	// errors.Is(err, fs.ErrNotExist) when it does not exist.
	Stat(name string) (os.FileInfo, error)
	// SyncDir makes the directory's entries (creations, renames, removals) durable.
	SyncDir(dir string) error
}
