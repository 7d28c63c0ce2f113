package vfs

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// MemFS is an in-memory FS for tests, safe for concurrent use. It models
// durability strictly (like pebble's strict MemFS):
//
//   - Every file remembers its current bytes and its synced bytes. File.Sync
//     copies the current bytes to the synced bytes.
//   - Every directory remembers its current entries and its synced entries.
//     FS.SyncDir copies the current entries to the synced entries. Create,
//     Rename, Remove, RemoveAll and MkdirAll change only the current entries.
//     The root directory always exists.
//   - Entries point at nodes (inodes): a file renamed after its directory was
//     synced is, after a crash, found again under its old name, holding the
//     bytes synced through any of its names.
//
// Crash returns the filesystem a power loss would leave. Faults injected with
// InjectFault make chosen operations fail.
//
// Paths are slash-separated (filepath separators are converted); relative
// paths are taken from the root, so "a/b" and "/a/b" name the same file.
// Unlike package os, Open of a directory fails.
type MemFS struct {
	faults faultSet

	mu   sync.RWMutex // guards the whole tree: every node and every memFile.closed
	root *node
}

var _ FS = (*MemFS)(nil)

// maxMemFileSize bounds how large a MemFS file may grow, so that a bad offset
// cannot make a test allocate unbounded memory.
const maxMemFileSize = 1 << 32

var (
	errIsDir    = errors.New("is a directory")
	errNotDir   = errors.New("not a directory")
	errNotEmpty = errors.New("directory not empty")
	errTooLarge = errors.New("file too large for MemFS")
	errReadOnly = errors.New("file opened read-only")
)

// node is a file or a directory (an inode). Guarded by MemFS.mu.
type node struct {
	dir     bool
	modTime time.Time

	// Directories: the current entries and the entries made durable by the
	// last SyncDir.
	children       map[string]*node
	syncedChildren map[string]*node

	// Files: the current bytes and the bytes made durable by the last Sync.
	// data[:dirtyFrom] == synced[:dirtyFrom], and dirtyFrom is at most
	// len(data) and len(synced): bytes from dirtyFrom on may differ.
	data      []byte
	synced    []byte
	dirtyFrom int
}

func newDir() *node {
	return &node{dir: true, modTime: time.Now(), children: map[string]*node{}, syncedChildren: map[string]*node{}}
}

func newFile() *node { return &node{modTime: time.Now()} }

// unsynced reports whether a file has bytes that a crash would lose.
func (n *node) unsynced() bool {
	return n.dirtyFrom < len(n.data) || len(n.data) != len(n.synced)
}

// NewMemFS returns an empty MemFS holding only the root directory.
func NewMemFS() *MemFS { return &MemFS{root: newDir()} }

// InjectFault makes operations of this MemFS fail as f describes; see Fault.
// Several faults may be active at once; each counts on its own.
func (m *MemFS) InjectFault(f Fault) *Injection { return m.faults.inject(f) }

// ClearFaults removes every injected fault.
func (m *MemFS) ClearFaults() { m.faults.clear() }

// cleanPath returns the slash-separated absolute form of name and its
// components (none for the root).
func cleanPath(name string) (string, []string) {
	p := path.Clean("/" + filepath.ToSlash(name))
	if p == "/" {
		return p, nil
	}
	return p, strings.Split(p[1:], "/")
}

// walk returns the node at parts, or an error. Caller holds m.mu.
func (m *MemFS) walk(op, name string, parts []string) (*node, error) {
	n := m.root
	for _, p := range parts {
		if !n.dir {
			return nil, &fs.PathError{Op: op, Path: name, Err: errNotDir}
		}
		c, ok := n.children[p]
		if !ok {
			return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		n = c
	}
	return n, nil
}

// parent returns the directory holding name and name's last component.
// Caller holds m.mu.
func (m *MemFS) parent(op, name string) (*node, string, error) {
	_, parts := cleanPath(name)
	if len(parts) == 0 {
		return nil, "", &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	d, err := m.walk(op, name, parts[:len(parts)-1])
	if err != nil {
		return nil, "", err
	}
	if !d.dir {
		return nil, "", &fs.PathError{Op: op, Path: name, Err: errNotDir}
	}
	return d, parts[len(parts)-1], nil
}

// Create creates or truncates the named file for reading and writing.
// Truncating an existing file is an unsynced change to its bytes; a new file's
// entry is durable only after SyncDir of its directory.
func (m *MemFS) Create(name string) (File, error) {
	if _, err := m.faults.check(OpCreate, 0, name); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	d, base, err := m.parent("create", name)
	if err != nil {
		return nil, err
	}
	n, ok := d.children[base]
	switch {
	case ok && n.dir:
		return nil, &fs.PathError{Op: "create", Path: name, Err: errIsDir}
	case ok:
		n.truncate(0)
	default:
		n = newFile()
		d.children[base] = n
		d.modTime = time.Now()
	}
	return &memFile{fs: m, n: n, name: name, writable: true}, nil
}

// OpenReadWrite opens an existing file for reading and writing; Write appends
// at the end of the file.
func (m *MemFS) OpenReadWrite(name string) (File, error) { return m.open("open", name, true) }

// Open opens an existing file read-only.
func (m *MemFS) Open(name string) (File, error) { return m.open("open", name, false) }

func (m *MemFS) open(op, name string, writable bool) (File, error) {
	if _, err := m.faults.check(OpOpen, 0, name); err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	_, parts := cleanPath(name)
	n, err := m.walk(op, name, parts)
	if err != nil {
		return nil, err
	}
	if n.dir {
		return nil, &fs.PathError{Op: op, Path: name, Err: errIsDir}
	}
	return &memFile{fs: m, n: n, name: name, writable: writable}, nil
}

// Remove deletes a file or an empty directory.
func (m *MemFS) Remove(name string) error {
	if _, err := m.faults.check(OpRemove, 0, name); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	d, base, err := m.parent("remove", name)
	if err != nil {
		return err
	}
	n, ok := d.children[base]
	if !ok {
		return &fs.PathError{Op: "remove", Path: name, Err: fs.ErrNotExist}
	}
	if n.dir && len(n.children) > 0 {
		return &fs.PathError{Op: "remove", Path: name, Err: errNotEmpty}
	}
	delete(d.children, base)
	d.modTime = time.Now()
	return nil
}

// RemoveAll deletes a directory tree (or a file); a missing name is not an
// error. Removing the root is refused.
func (m *MemFS) RemoveAll(name string) error {
	if _, err := m.faults.check(OpRemove, 0, name); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	d, base, err := m.parent("removeall", name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, ok := d.children[base]; ok {
		delete(d.children, base)
		d.modTime = time.Now()
	}
	return nil
}

// Rename renames oldname to newname, replacing a file at newname; like
// os.Rename it refuses to replace a directory. Both entries change only in the current state of their
// directories; SyncDir makes them durable.
func (m *MemFS) Rename(oldname, newname string) error {
	if _, err := m.faults.check(OpRename, 0, oldname, newname); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	linkErr := func(err error) error {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: err}
	}
	od, obase, err := m.parent("rename", oldname)
	if err != nil {
		return linkErr(err)
	}
	n, ok := od.children[obase]
	if !ok {
		return linkErr(fs.ErrNotExist)
	}
	nd, nbase, err := m.parent("rename", newname)
	if err != nil {
		return linkErr(err)
	}
	old, exists := nd.children[nbase]
	if exists && old == n {
		return nil
	}
	if exists {
		switch {
		case old.dir:
			return linkErr(fs.ErrExist) // like os.Rename, never replace a directory
		case n.dir:
			return linkErr(errNotDir)
		}
	}
	if n.dir {
		op, _ := cleanPath(oldname)
		np, _ := cleanPath(newname)
		if strings.HasPrefix(np+"/", op+"/") {
			return linkErr(fs.ErrInvalid) // a directory into itself
		}
	}
	delete(od.children, obase)
	nd.children[nbase] = n
	now := time.Now()
	od.modTime, nd.modTime = now, now
	return nil
}

// MkdirAll creates a directory and its parents (perm is ignored). The new
// entries are durable only after SyncDir of each parent.
func (m *MemFS) MkdirAll(dir string, perm os.FileMode) error {
	if _, err := m.faults.check(OpMkdir, 0, dir); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	_, parts := cleanPath(dir)
	n := m.root
	for _, p := range parts {
		c, ok := n.children[p]
		if !ok {
			c = newDir()
			n.children[p] = c
			n.modTime = time.Now()
		} else if !c.dir {
			return &fs.PathError{Op: "mkdir", Path: dir, Err: errNotDir}
		}
		n = c
	}
	return nil
}

// List returns the names of the current entries of dir, sorted.
func (m *MemFS) List(dir string) ([]string, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	_, parts := cleanPath(dir)
	n, err := m.walk("list", dir, parts)
	if err != nil {
		return nil, err
	}
	if !n.dir {
		return nil, &fs.PathError{Op: "list", Path: dir, Err: errNotDir}
	}
	names := make([]string, 0, len(n.children))
	for name := range n.children {
		names = append(names, name)
	}
	slices.Sort(names)
	return names, nil
}

// Stat describes the named file or directory.
func (m *MemFS) Stat(name string) (os.FileInfo, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	p, parts := cleanPath(name)
	n, err := m.walk("stat", name, parts)
	if err != nil {
		return nil, err
	}
	return n.info(path.Base(p)), nil
}

// SyncDir makes the current entries of dir durable. The entries' own
// contents are not synced: each file needs File.Sync, each subdirectory its
// own SyncDir.
func (m *MemFS) SyncDir(dir string) error {
	if _, err := m.faults.check(OpSyncDir, 0, dir); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	_, parts := cleanPath(dir)
	n, err := m.walk("syncdir", dir, parts)
	if err != nil {
		return err
	}
	if !n.dir {
		return &fs.PathError{Op: "syncdir", Path: dir, Err: errNotDir}
	}
	n.syncedChildren = make(map[string]*node, len(n.children))
	for name, c := range n.children {
		n.syncedChildren[name] = c
	}
	return nil
}

// memInfo is the os.FileInfo of a MemFS node.
type memInfo struct {
	name    string
	size    int64
	dir     bool
	modTime time.Time
}

func (n *node) info(name string) memInfo {
	return memInfo{name: name, size: int64(len(n.data)), dir: n.dir, modTime: n.modTime}
}

func (fi memInfo) Name() string       { return fi.name }
func (fi memInfo) Size() int64        { return fi.size }
func (fi memInfo) ModTime() time.Time { return fi.modTime }
func (fi memInfo) IsDir() bool        { return fi.dir }
func (fi memInfo) Sys() any           { return nil }
func (fi memInfo) Mode() fs.FileMode {
	if fi.dir {
		return fs.ModeDir | 0o755
	}
	return 0o644
}
