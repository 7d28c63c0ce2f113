package vfs

import (
	"fmt"
	"os"
)

// ErrorFS wraps another FS (typically OS) and fails operations chosen by
// injected faults, like pebble's errorfs. Operations that are not failed go
// to the wrapped FS unchanged. Files whose wrapped file implements OSFile
// implement it too, so sendfile paths stay testable.
type ErrorFS struct {
	faults faultSet
	inner  FS
}

var _ FS = (*ErrorFS)(nil)

// NewErrorFS returns an ErrorFS over inner with no faults injected.
func NewErrorFS(inner FS) *ErrorFS { return &ErrorFS{inner: inner} }

// InjectFault makes operations fail as f describes; see Fault.
func (e *ErrorFS) InjectFault(f Fault) *Injection { return e.faults.inject(f) }

// ClearFaults removes every injected fault.
func (e *ErrorFS) ClearFaults() { e.faults.clear() }

func (e *ErrorFS) wrap(f File, err error) (File, error) {
	if err != nil {
		return nil, err
	}
	ef := &errorFile{File: f, faults: &e.faults}
	if _, ok := f.(OSFile); ok {
		return &errorOSFile{ef}, nil
	}
	return ef, nil
}

// Create creates or truncates the named file.
func (e *ErrorFS) Create(name string) (File, error) {
	if _, err := e.faults.check(OpCreate, 0, name); err != nil {
		return nil, err
	}
	return e.wrap(e.inner.Create(name))
}

// OpenReadWrite opens an existing file for reading and writing.
func (e *ErrorFS) OpenReadWrite(name string) (File, error) {
	if _, err := e.faults.check(OpOpen, 0, name); err != nil {
		return nil, err
	}
	return e.wrap(e.inner.OpenReadWrite(name))
}

// Open opens an existing file read-only.
func (e *ErrorFS) Open(name string) (File, error) {
	if _, err := e.faults.check(OpOpen, 0, name); err != nil {
		return nil, err
	}
	return e.wrap(e.inner.Open(name))
}

// Remove deletes a file or an empty directory.
func (e *ErrorFS) Remove(name string) error {
	if _, err := e.faults.check(OpRemove, 0, name); err != nil {
		return err
	}
	return e.inner.Remove(name)
}

// RemoveAll deletes a directory tree.
func (e *ErrorFS) RemoveAll(name string) error {
	if _, err := e.faults.check(OpRemove, 0, name); err != nil {
		return err
	}
	return e.inner.RemoveAll(name)
}

// Rename renames oldname to newname.
func (e *ErrorFS) Rename(oldname, newname string) error {
	if _, err := e.faults.check(OpRename, 0, oldname, newname); err != nil {
		return err
	}
	return e.inner.Rename(oldname, newname)
}

// MkdirAll creates a directory and its parents.
func (e *ErrorFS) MkdirAll(dir string, perm os.FileMode) error {
	if _, err := e.faults.check(OpMkdir, 0, dir); err != nil {
		return err
	}
	return e.inner.MkdirAll(dir, perm)
}

// List returns the sorted names of the entries of dir (never failed).
func (e *ErrorFS) List(dir string) ([]string, error) { return e.inner.List(dir) }

// Stat describes the named file (never failed).
func (e *ErrorFS) Stat(name string) (os.FileInfo, error) { return e.inner.Stat(name) }

// SyncDir makes dir's entries durable.
func (e *ErrorFS) SyncDir(dir string) error {
	if _, err := e.faults.check(OpSyncDir, 0, dir); err != nil {
		return err
	}
	return e.inner.SyncDir(dir)
}

// errorFile fails the File operations chosen by its filesystem's faults.
type errorFile struct {
	File
	faults *faultSet
}

// errorOSFile is an errorFile over a file that implements OSFile.
type errorOSFile struct{ *errorFile }

// OSFile returns the wrapped file's *os.File.
func (f *errorOSFile) OSFile() *os.File { return f.File.(OSFile).OSFile() }

func (f *errorFile) ReadAt(p []byte, off int64) (int, error) {
	if _, err := f.faults.check(OpRead, len(p), f.Name()); err != nil {
		return 0, err
	}
	return f.File.ReadAt(p, off)
}

func (f *errorFile) Write(p []byte) (int, error) {
	keep, ferr := f.faults.check(OpWrite, len(p), f.Name())
	if ferr == nil {
		return f.File.Write(p)
	}
	if keep == 0 {
		return 0, ferr
	}
	n, err := f.File.Write(p[:keep])
	if err != nil {
		return n, fmt.Errorf("%w (and the short write failed: %v)", ferr, err)
	}
	return n, ferr
}

func (f *errorFile) WriteAt(p []byte, off int64) (int, error) {
	keep, ferr := f.faults.check(OpWrite, len(p), f.Name())
	if ferr == nil {
		return f.File.WriteAt(p, off)
	}
	if keep == 0 {
		return 0, ferr
	}
	n, err := f.File.WriteAt(p[:keep], off)
	if err != nil {
		return n, fmt.Errorf("%w (and the short write failed: %v)", ferr, err)
	}
	return n, ferr
}

func (f *errorFile) Sync() error {
	if _, err := f.faults.check(OpSync, 0, f.Name()); err != nil {
		return err
	}
	return f.File.Sync()
}

func (f *errorFile) Truncate(size int64) error {
	if _, err := f.faults.check(OpTruncate, 0, f.Name()); err != nil {
		return err
	}
	return f.File.Truncate(size)
}
