package log

// Tools for the crash and fault tests: a file system wrapper that sees
// every change before it happens (hookFS), and the checks a reopened log
// must pass against the model states around the operation a crash or a
// failure interrupted (checkRecovered).

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// hookFS wraps a MemFS and, while on, calls hook before every operation
// that changes the file system (creating, renaming, removing, syncing a
// directory, writing, truncating or syncing a file).
type hookFS struct {
	*vfs.MemFS
	on   atomic.Bool
	hook func(op vfs.Op, name string)
}

var _ vfs.FS = (*hookFS)(nil)

func (h *hookFS) before(op vfs.Op, name string) {
	if h.on.Load() {
		h.hook(op, name)
	}
}

func (h *hookFS) wrap(f vfs.File, err error) (vfs.File, error) {
	if err != nil {
		return nil, err
	}
	return &hookFile{File: f, fs: h}, nil
}

func (h *hookFS) Create(name string) (vfs.File, error) {
	h.before(vfs.OpCreate, name)
	return h.wrap(h.MemFS.Create(name))
}
func (h *hookFS) OpenReadWrite(name string) (vfs.File, error) {
	return h.wrap(h.MemFS.OpenReadWrite(name))
}
func (h *hookFS) Open(name string) (vfs.File, error) { return h.wrap(h.MemFS.Open(name)) }
func (h *hookFS) Remove(name string) error {
	h.before(vfs.OpRemove, name)
	return h.MemFS.Remove(name)
}
func (h *hookFS) RemoveAll(name string) error {
	h.before(vfs.OpRemove, name)
	return h.MemFS.RemoveAll(name)
}
func (h *hookFS) Rename(oldname, newname string) error {
	h.before(vfs.OpRename, oldname)
	return h.MemFS.Rename(oldname, newname)
}
func (h *hookFS) MkdirAll(dir string, perm os.FileMode) error {
	h.before(vfs.OpMkdir, dir)
	return h.MemFS.MkdirAll(dir, perm)
}
func (h *hookFS) SyncDir(dir string) error {
	h.before(vfs.OpSyncDir, dir)
	return h.MemFS.SyncDir(dir)
}

type hookFile struct {
	vfs.File
	fs *hookFS
}

func (f *hookFile) Write(p []byte) (int, error) {
	f.fs.before(vfs.OpWrite, f.Name())
	return f.File.Write(p)
}
func (f *hookFile) WriteAt(p []byte, off int64) (int, error) {
	f.fs.before(vfs.OpWrite, f.Name())
	return f.File.WriteAt(p, off)
}
func (f *hookFile) Truncate(size int64) error {
	f.fs.before(vfs.OpTruncate, f.Name())
	return f.File.Truncate(size)
}
func (f *hookFile) Sync() error {
	f.fs.before(vfs.OpSync, f.Name())
	return f.File.Sync()
}

// crashOp is one workload operation: the model before and after it, and
// the offsets durable in both (a crash during it must keep them).
type crashOp struct {
	name          string
	before, after *model
	required      int64
	// starts are log starts allowed besides before's and after's:
	// retention deletes segments oldest first, and a crash may keep the
	// deletion of only some of them.
	starts []int64
	// mids are states between before and after that the operation may
	// stop in when it fails (a replicated append writes batch by batch).
	mids []*model
}

// states returns every state the operation may leave.
func (op crashOp) states() []*model {
	return append([]*model{op.before, op.after}, op.mids...)
}

// cloneModel returns a deep copy of m (batch bytes are shared; they are
// never changed).
func cloneModel(m *model) *model {
	c := *m
	c.segs = make([]*modelSegment, len(m.segs))
	for i, s := range m.segs {
		cs := *s
		cs.batches = slices.Clone(s.batches)
		c.segs[i] = &cs
	}
	c.epochs = slices.Clone(m.epochs)
	return &c
}

// modelFromLog builds the model of what l holds now, reading every
// segment whole (including batches below the log start in the first one,
// which retention by size counts).
func modelFromLog(t testing.TB, l *Log, segmentBytes int64) *model {
	t.Helper()
	m := &model{start: l.LogStartOffset(), end: l.LogEndOffset(), epochs: l.epochs.snapshot(), segmentBytes: segmentBytes}
	for _, s := range l.segs.Load().segs {
		size, err := s.readLimit()
		if err != nil {
			t.Fatalf("segment %d: size: %v", s.base, err)
		}
		data := make([]byte, size)
		if size > 0 {
			f, err := l.fs.Open(s.logPath)
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.ReadAt(data, 0)
			f.Close()
			if err != nil {
				t.Fatalf("read %s: %v", s.logPath, err)
			}
		}
		ms := &modelSegment{base: s.base, size: size}
		for len(data) > 0 {
			h, err := ParseBatchHeader(data)
			if err != nil || h.Size() > int64(len(data)) {
				t.Fatalf("segment %d: bad batch: %v", s.base, err)
			}
			ms.batches = append(ms.batches, modelBatch{base: h.BaseOffset, last: h.LastOffset(), data: data[:h.Size()], maxTs: h.MaxTimestamp})
			data = data[h.Size():]
		}
		m.segs = append(m.segs, ms)
	}
	return m
}

// normalizeEpochs is what Open does to epoch entries: drop those at or
// beyond the end, move the one covering the start to begin there.
func normalizeEpochs(es []epochEntry, start, end int64) []epochEntry {
	i := len(es)
	for i > 0 && es[i-1].startOffset >= end {
		i--
	}
	es = es[:i]
	j := 0
	for j < len(es) && es[j].startOffset <= start {
		j++
	}
	if j == 0 || (j == 1 && es[0].startOffset == start) {
		return es
	}
	out := slices.Clone(es[j-1:])
	out[0].startOffset = start
	return out
}

// matchPrefix reports why the batches got (read from a log that holds
// [start, end)) are not a prefix of m from m's start (or from one of the
// other starts allowed), or "".
func matchPrefix(start, end int64, got [][]byte, m *model, starts []int64) string {
	if start != m.start && !slices.Contains(starts, start) {
		return fmt.Sprintf("log start %d, model %d", start, m.start)
	}
	if end > m.end {
		return fmt.Sprintf("log end %d beyond model end %d", end, m.end)
	}
	var want []modelBatch
	for _, b := range m.batches() {
		if b.last >= start {
			want = append(want, b)
		}
	}
	if len(got) > len(want) {
		return fmt.Sprintf("%d batches, model has %d", len(got), len(want))
	}
	for i, b := range got {
		if !bytes.Equal(b, want[i].data) {
			return fmt.Sprintf("batch %d (offset %d) differs from the model's", i, want[i].base)
		}
	}
	return ""
}

// checkRecovered checks a log reopened after a crash during op (see the
// file comment).
func checkRecovered(t testing.TB, l *Log, fsys vfs.FS, op crashOp) string {
	t.Helper()
	_, got := readAllBatches(t, l)
	checkIndexes(t, l)
	if err := checkNoLeftovers(fsys, l.Dir()); err != "" {
		return err
	}
	start, end := l.LogStartOffset(), l.LogEndOffset()
	if end < op.required {
		return fmt.Sprintf("log ends at %d but offsets below %d were durable (%s)", end, op.required, op.name)
	}
	why := []string{}
	matched := false
	for _, m := range op.states() {
		if w := matchPrefix(start, end, got, m, op.starts); w != "" {
			why = append(why, w)
			continue
		}
		matched = true
	}
	if !matched {
		return fmt.Sprintf("not a prefix of the state before or after %s: %s", op.name, strings.Join(why, "; "))
	}
	epochs := l.epochs.snapshot()
	if start == end && len(epochs) == 0 {
		return ""
	}
	for _, m := range op.states() {
		if equalEpochs(epochs, normalizeEpochs(m.epochs, start, end)) {
			return ""
		}
	}
	return fmt.Sprintf("epochs %v, model %v before / %v after %s", epochs, op.before.epochs, op.after.epochs, op.name)
}

// checkNoLeftovers reports files Open should have removed.
func checkNoLeftovers(fsys vfs.FS, dir string) string {
	names, err := fsys.List(dir)
	if err != nil {
		return err.Error()
	}
	logs := map[string]bool{}
	for _, n := range names {
		if stem, ok := strings.CutSuffix(n, logSuffix); ok {
			logs[stem] = true
		}
	}
	for _, n := range names {
		if strings.HasSuffix(n, deletedSuffix) || strings.HasSuffix(n, tmpSuffix) {
			return "leftover file " + n
		}
		for _, suf := range []string{indexSuffix, timeIndexSuffix} {
			if stem, ok := strings.CutSuffix(n, suf); ok && !logs[stem] {
				return "index without a segment: " + n
			}
		}
	}
	return ""
}
