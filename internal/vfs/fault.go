package vfs

import (
	"errors"
	"io/fs"
	"strings"
	"sync"
)

// ErrInjected is the error of an operation failed by an injected Fault (when
// the Fault names no error of its own). Test with errors.Is.
var ErrInjected = errors.New("vfs: injected fault")

// Op is a set of kinds of filesystem operations; a Fault counts the
// operations whose kind is in its set.
type Op uint16

// The operation kinds a Fault can count.
const (
	OpWrite    Op = 1 << iota // File.Write and File.WriteAt
	OpSync                    // File.Sync
	OpTruncate                // File.Truncate
	OpRead                    // File.ReadAt
	OpCreate                  // FS.Create
	OpOpen                    // FS.Open and FS.OpenReadWrite
	OpRename                  // FS.Rename (matches if either name matches)
	OpRemove                  // FS.Remove and FS.RemoveAll
	OpMkdir                   // FS.MkdirAll
	OpSyncDir                 // FS.SyncDir

	// OpAll is every operation kind above.
	OpAll = OpWrite | OpSync | OpTruncate | OpRead | OpCreate | OpOpen |
		OpRename | OpRemove | OpMkdir | OpSyncDir
)

var opNames = []string{"write", "sync", "truncate", "read", "create", "open", "rename", "remove", "mkdir", "syncdir"}

// String returns the kinds in o joined by "|", e.g. "write|sync".
func (o Op) String() string {
	var parts []string
	for i, name := range opNames {
		if o&(1<<i) != 0 {
			parts = append(parts, name)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "|")
}

// Fault describes an operation to fail. Counting starts when the fault is
// injected: the Nth operation whose kind is in Ops and whose name ends with
// Suffix fails; the operations before it and (unless Sticky) after it succeed.
// A failed operation has no effect on the filesystem, except a ShortWrite,
// which writes a prefix of its bytes and then fails.
type Fault struct {
	// Ops is the set of operation kinds counted (e.g. OpWrite|OpSync).
	Ops Op
	// Suffix restricts counting to names (paths as passed to the FS, or the
	// name a File was opened with) ending with it, e.g. ".log"; "" counts all.
	Suffix string
	// N is the 1-based number of the matching operation that fails; values
	// below 1 mean the next matching operation.
	N int
	// Sticky makes every matching operation after the Nth fail too.
	Sticky bool
	// ShortWrite makes a failing write store a prefix of its bytes before
	// returning the error: ShortWriteLen bytes (capped at len(p)), or
	// len(p)/2 when ShortWriteLen is 0. It only affects OpWrite.
	ShortWrite bool
	// ShortWriteLen is the number of bytes a ShortWrite stores.
	ShortWriteLen int
	// Err is the error the failed operation returns, wrapped in an
	// *fs.PathError; nil means ErrInjected.
	Err error
}

// Injection is a Fault that has been injected; it reports how often the fault
// fired and can be removed.
type Injection struct {
	set   *faultSet
	fault Fault
	// guarded by set.mu
	seen    int
	failed  int
	removed bool
}

// Seen returns how many matching operations the injection has counted.
func (in *Injection) Seen() int {
	in.set.mu.Lock()
	defer in.set.mu.Unlock()
	return in.seen
}

// Failed returns how many operations the injection has failed.
func (in *Injection) Failed() int {
	in.set.mu.Lock()
	defer in.set.mu.Unlock()
	return in.failed
}

// Remove stops the injection from counting or failing anything.
func (in *Injection) Remove() {
	in.set.mu.Lock()
	defer in.set.mu.Unlock()
	in.removed = true
	for i, x := range in.set.active {
		if x == in {
			in.set.active = append(in.set.active[:i], in.set.active[i+1:]...)
			break
		}
	}
}

// faultSet holds the active injections of one filesystem.
type faultSet struct {
	mu     sync.Mutex
	active []*Injection // guarded by mu
}

func (s *faultSet) inject(f Fault) *Injection {
	if f.N < 1 {
		f.N = 1
	}
	if f.Err == nil {
		f.Err = ErrInjected
	}
	in := &Injection{set: s, fault: f}
	s.mu.Lock()
	s.active = append(s.active, in)
	s.mu.Unlock()
	return in
}

func (s *faultSet) clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, in := range s.active {
		in.removed = true
	}
	s.active = nil
}

// check counts one operation of kind op on the given names with every active
// injection. It returns nil if the operation may proceed; otherwise the error
// to return and, for a write of size bytes, how many bytes to store first.
func (s *faultSet) check(op Op, size int, names ...string) (keep int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.active) == 0 {
		return 0, nil
	}
	var fired *Injection
	for _, in := range s.active {
		f := &in.fault
		if f.Ops&op == 0 || !matchesSuffix(f.Suffix, names) {
			continue
		}
		in.seen++
		if in.seen == f.N || (f.Sticky && in.seen > f.N) {
			in.failed++
			if fired == nil {
				fired = in
			}
		}
	}
	if fired == nil {
		return 0, nil
	}
	f := &fired.fault
	if op == OpWrite && f.ShortWrite {
		keep = f.ShortWriteLen
		if keep == 0 {
			keep = size / 2
		}
		keep = min(max(keep, 0), size)
	}
	name := ""
	if len(names) > 0 {
		name = names[0]
	}
	return keep, &fs.PathError{Op: op.String(), Path: name, Err: f.Err}
}

func matchesSuffix(suffix string, names []string) bool {
	if suffix == "" {
		return true
	}
	for _, n := range names {
		if strings.HasSuffix(n, suffix) {
			return true
		}
	}
	return false
}
