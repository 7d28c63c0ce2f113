package vfs

import "math/rand/v2"

// CrashOptions say what a simulated power loss keeps beyond synced state.
// The zero value keeps exactly the synced state.
type CrashOptions struct {
	// TearLastWrite lets each file with unsynced changes keep part of them,
	// as a disk may persist some unsynced data before power fails. For such
	// a file let d be the first byte changed since its last Sync (bytes
	// before d are the same in the synced and the current contents). The
	// file becomes, chosen uniformly at random, either its synced contents
	// or the first d+k bytes of its current contents for a k in
	// [0, current size - d]. For a file that was only appended to since its
	// last Sync this keeps the synced bytes plus a random prefix of the
	// appended bytes: a torn write. Directory entries are never torn.
	TearLastWrite bool
	// ZeroTail, with TearLastWrite, lets a torn file's kept unsynced bytes
	// that lie beyond its synced size end in a random-length run of zeros:
	// the size reached the disk but the data did not, as on ext4 with
	// data=writeback or after a crash during preallocation.
	ZeroTail bool
	// Rand supplies the random choices; nil means a fixed seed, so a crash
	// is reproducible.
	Rand *rand.Rand
}

// Crash returns a new MemFS holding what a power loss would leave of m:
//
//   - a directory has exactly the entries it had at its last SyncDir (the
//     root always exists; a directory never synced is empty; an entry whose
//     directory entry was never synced is gone, even if its bytes were);
//   - a file has exactly its synced bytes (those present at its last Sync),
//     unless opts.TearLastWrite keeps part of its unsynced bytes;
//   - an entry renamed or removed since the last SyncDir of its directory is
//     back under its old name (with its synced bytes).
//
// In the result everything is synced. m is not changed and may go on being
// used; faults injected into m are not copied. Open files of m do not refer
// to the result. Crash is safe to call while other goroutines use m; each
// file is copied in a consistent state, and the tree as a whole is too.
func (m *MemFS) Crash(opts CrashOptions) *MemFS {
	m.mu.RLock()
	defer m.mu.RUnlock()
	rng := opts.Rand
	if opts.TearLastWrite && rng == nil {
		rng = rand.New(rand.NewPCG(0x5a35a, 0xc4a54))
	}
	c := crasher{opts: opts, rng: rng, memo: map[*node]*node{}}
	return &MemFS{root: c.clone(m.root)}
}

type crasher struct {
	opts CrashOptions
	rng  *rand.Rand
	memo map[*node]*node // an inode reachable under two names stays one inode
}

func (c *crasher) clone(n *node) *node {
	if cn, ok := c.memo[n]; ok {
		return cn
	}
	cn := &node{dir: n.dir, modTime: n.modTime}
	c.memo[n] = cn
	if n.dir {
		cn.children = make(map[string]*node, len(n.syncedChildren))
		cn.syncedChildren = make(map[string]*node, len(n.syncedChildren))
		for name, child := range n.syncedChildren {
			cc := c.clone(child)
			cn.children[name] = cc
			cn.syncedChildren[name] = cc
		}
		return cn
	}
	kept := n.synced
	if c.opts.TearLastWrite && n.unsynced() {
		kept = c.tear(n)
	}
	cn.data = append([]byte(nil), kept...)
	cn.synced = append([]byte(nil), kept...)
	cn.dirtyFrom = len(kept)
	return cn
}

// tear picks what a torn file keeps (see CrashOptions.TearLastWrite); the
// result may alias n's buffers and is copied by the caller.
func (c *crasher) tear(n *node) []byte {
	d := n.dirtyFrom
	r := c.rng.IntN(len(n.data) - d + 2)
	if r == 0 {
		return n.synced
	}
	end := d + r - 1
	kept := n.data[:end]
	if !c.opts.ZeroTail {
		return kept
	}
	from := max(d, len(n.synced))
	if from >= end {
		return kept
	}
	zeroFrom := from + c.rng.IntN(end-from+1)
	out := append([]byte(nil), kept...)
	clear(out[zeroFrom:])
	return out
}
