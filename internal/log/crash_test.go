package log

// Crash tests. A random workload (appends, replicated appends, rolls,
// truncation, retention, DeleteRecordsBefore, flushes, clean and unclean
// reopens) runs on a MemFS wrapped by hookFS, which sees every change to
// the file system before it happens. At pseudo-random changes the recorder
// takes a copy of what a power loss at that instant would leave (MemFS.Crash,
// with and without TearLastWrite / ZeroTail): crash points fall inside
// operations, including the background flush of rolled segments and the
// recovery of an earlier crash. Each copy is reopened and checked against
// the model states before and after the operation it was taken in:
//
//   - the log is a prefix of one of them (same start, dense offsets, the
//     same batch bytes), and its leader epochs are that state's, cut to the
//     log's range;
//   - every offset that was durable in both states (acknowledged with
//     FsyncOnAck, or flushed) is there;
//   - every .index/.timeindex entry points at the right batch (checkIndexes);
//   - no leftover *.deleted / *.tmp file or orphan index remains;
//   - the recovered log takes appends and survives a clean reopen.
//
// One copy per generation becomes the next generation's disk, so later
// generations start from recovered (and recovery-crashed) states.

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

var (
	crashSeeds = flag.Int("crash.seeds", 0, "seeds for TestCrashRandomWorkload (default 150, 20 with -short)")
	crashTrace = flag.Bool("crash.trace", false, "TestCrashRandomWorkload: log every file system change of a failing generation")
)

// crashRecorder decides, for each change a hookFS reports, whether to take
// a crash copy there (about one change in every, at most max copies),
// deterministically from the seed and the change's number.
type crashRecorder struct {
	seed  uint64
	every uint64
	max   int
	count atomic.Uint64
	op    atomic.Int64 // the workload operation under way (index into its ops)
	mem   *vfs.MemFS

	mu    sync.Mutex
	snaps []crashSnap // guarded by mu
	trace []string    // with -crash.trace: every change and crash copy; guarded by mu
}

// crashSnap is what a power loss left at one point.
type crashSnap struct {
	fs   *vfs.MemFS
	op   int64  // the operation under way
	desc string // where it was taken
}

// splitmix64 scrambles x (a fixed, well-mixed hash).
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// crashOptions picks one of the three kinds of power loss from h.
func crashOptions(h, seed, n uint64) (vfs.CrashOptions, string) {
	opts := vfs.CrashOptions{Rand: rand.New(rand.NewPCG(seed, n))}
	switch h % 3 {
	case 1:
		opts.TearLastWrite = true
		return opts, "torn"
	case 2:
		opts.TearLastWrite, opts.ZeroTail = true, true
		return opts, "torn+zeros"
	}
	return opts, "synced only"
}

func (r *crashRecorder) hook(op vfs.Op, name string) {
	n := r.count.Add(1)
	if *crashTrace {
		r.note("%d: %s %s", n, op, name)
	}
	h := splitmix64(r.seed<<20 ^ n)
	if h%r.every != 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.snaps) >= r.max {
		return
	}
	opts, kind := crashOptions(h>>32, r.seed, n)
	desc := fmt.Sprintf("power loss (%s) before change %d: %s %s", kind, n, op, name)
	if *crashTrace {
		r.trace = append(r.trace, "crash copy: "+desc)
	}
	r.snaps = append(r.snaps, crashSnap{fs: r.mem.Crash(opts), op: r.op.Load(), desc: desc})
}

// note adds a line to the trace.
func (r *crashRecorder) note(format string, args ...any) {
	r.mu.Lock()
	r.trace = append(r.trace, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

func (r *crashRecorder) take() []crashSnap {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.snaps
	r.snaps = nil
	return s
}

const crashDir = "/c/p-0"

// crashRun is one seed of TestCrashRandomWorkload.
type crashRun struct {
	t       *testing.T
	seed    uint64
	rng     *rand.Rand
	cfg     Config
	fs      *hookFS
	rec     *crashRecorder
	l       *Log
	m       *model
	durable int64 // offsets below are durable now
	ops     []crashOp
	epoch   int32
	ts      int64
	history []string
	// discards is set by an operation that drops every offset
	// (TruncateFullyAndStartAt): a crash during it may leave any prefix
	// of the log before it, since the caller asked for all of it to go.
	discards bool
}

func (r *crashRun) fatalf(format string, args ...any) {
	r.t.Helper()
	from := max(0, len(r.history)-12)
	r.t.Fatalf("seed %d: %s\nlast operations: %s", r.seed, fmt.Sprintf(format, args...), strings.Join(r.history[from:], ", "))
}

// newBatch returns a producer batch with a timestamp no other batch has,
// so that every batch's bytes are unique.
func (r *crashRun) newBatch(base int64, epoch int32) []byte {
	r.ts += 1 + r.rng.Int64N(20)
	n := 1 + r.rng.IntN(4)
	return buildBatch(batchSpec{base: base, epoch: epoch, baseTs: r.ts, n: n, valueSize: r.rng.IntN(250)})
}

// do runs one operation, recording the model around it.
func (r *crashRun) do(name string, f func()) {
	before, durable := cloneModel(r.m), r.durable
	idx := len(r.ops)
	r.ops = append(r.ops, crashOp{name: name, before: before})
	r.rec.op.Store(int64(idx))
	r.history = append(r.history, name)
	if *crashTrace {
		r.rec.note("operation %d: %s", idx, name)
	}
	f()
	r.ops[idx].after = cloneModel(r.m)
	r.ops[idx].required = min(durable, r.durable)
	if r.discards {
		r.ops[idx].required, r.discards = 0, false
	}
	if r.l.LogStartOffset() != r.m.start || r.l.LogEndOffset() != r.m.end || r.l.SegmentCount() != len(r.m.segs) {
		r.fatalf("after %s: start/end/segments %d/%d/%d, model %d/%d/%d", name, r.l.LogStartOffset(),
			r.l.LogEndOffset(), r.l.SegmentCount(), r.m.start, r.m.end, len(r.m.segs))
	}
}

func (r *crashRun) step() {
	l, m, rng := r.l, r.m, r.rng
	p := rng.IntN(100)
	switch {
	case p < 45:
		if rng.IntN(10) == 0 {
			r.epoch++
		}
		r.do("append", func() {
			b := r.newBatch(0, 0)
			res, err := l.Append(b, r.epoch)
			if err != nil {
				r.fatalf("append: %v", err)
			}
			m.append(modelBatch{base: res.BaseOffset, last: res.LastOffset, data: b, maxTs: res.MaxTimestamp}, r.epoch)
			if r.cfg.FsyncOnAck {
				r.durable = m.end
			}
		})
	case p < 50:
		r.do("append replicated", func() {
			var all []byte
			var hs []BatchHeader
			base := m.end
			for range 1 + rng.IntN(3) {
				if rng.IntN(3) == 0 {
					r.epoch++
				}
				b := r.newBatch(base, r.epoch)
				h, _ := ParseBatchHeader(b)
				all = append(all, b...)
				hs = append(hs, h)
				base = h.LastOffset() + 1
			}
			if last, err := l.AppendReplicated(all); err != nil || last != base-1 {
				r.fatalf("append replicated: %d, %v", last, err)
			}
			for _, h := range hs {
				m.append(modelBatch{base: h.BaseOffset, last: h.LastOffset(), data: all[:h.Size()], maxTs: h.MaxTimestamp}, h.PartitionLeaderEpoch)
				all = all[h.Size():]
			}
			if r.cfg.FsyncOnAck {
				r.durable = m.end
			}
		})
	case p < 58:
		r.do("roll", func() {
			if err := l.Roll(); err != nil {
				r.fatalf("roll: %v", err)
			}
			m.roll()
		})
	case p < 63:
		off := m.start + rng.Int64N(m.end-m.start+2)
		r.do(fmt.Sprintf("truncate to %d", off), func() {
			err := l.TruncateTo(off)
			if werr := m.truncateTo(off); !errors.Is(err, werr) || (werr == nil && err != nil) {
				r.fatalf("truncate to %d: %v, model %v", off, err, werr)
			}
			r.durable = min(r.durable, m.end)
		})
	case p < 68:
		bytesLimit := rng.Int64N(10_000)
		r.do(fmt.Sprintf("retention %d bytes", bytesLimit), func() {
			c := *l.cfg.Load()
			c.RetentionBytes = bytesLimit
			l.SetConfig(c)
			n, err := l.ApplyRetention()
			if wn := m.retention(bytesLimit); err != nil || n != wn {
				r.fatalf("retention: deleted %d (%v), model %d", n, err, wn)
			}
			c.RetentionBytes = -1
			l.SetConfig(c)
		})
		op := &r.ops[len(r.ops)-1]
		for _, s := range op.before.segs {
			if s.base > op.before.start && s.base < op.after.start {
				op.starts = append(op.starts, s.base)
			}
		}
	case p < 72:
		off := m.start + rng.Int64N(m.end-m.start+1)
		r.do(fmt.Sprintf("delete records before %d", off), func() {
			if err := l.DeleteRecordsBefore(off); err != nil {
				r.fatalf("delete records before %d: %v", off, err)
			}
			if off > m.start {
				m.setStart(off)
				m.deleteBelowStart()
			}
		})
	case p < 74:
		off := m.end + rng.Int64N(3)
		r.do(fmt.Sprintf("truncate fully at %d", off), func() {
			if err := l.TruncateFullyAndStartAt(off); err != nil {
				r.fatalf("truncate fully: %v", err)
			}
			m.truncateFully(off)
			r.durable, r.discards = off, true
		})
	case p < 77:
		r.epoch++
		r.do(fmt.Sprintf("assign epoch %d", r.epoch), func() {
			if err := l.AssignEpochStartOffset(r.epoch, m.end); err != nil {
				r.fatalf("assign epoch: %v", err)
			}
			m.assignEpoch(r.epoch, m.end)
		})
	case p < 83:
		r.do("flush", func() {
			if err := l.Flush(); err != nil {
				r.fatalf("flush: %v", err)
			}
			r.durable = m.end
		})
	case p < 87:
		r.do("close and reopen", func() {
			if err := l.Close(); err != nil {
				r.fatalf("close: %v", err)
			}
			r.l = openLog(r.t, r.fs, crashDir, r.cfg)
			m.reopen()
			r.durable = m.end
		})
	case p < 90:
		r.do("abandon and reopen", func() {
			l.bg.Wait() // the abandoned log's background flush
			r.l = openLog(r.t, r.fs, crashDir, r.cfg)
			m.reopen()
		})
	default:
		off := m.start + rng.Int64N(m.end-m.start+1)
		want, _ := m.read(off, 2000, m.end)
		res, err := l.Read(off, 2000, m.end)
		if err != nil {
			r.fatalf("read %d: %v", off, err)
		}
		got, err := res.AppendTo(nil)
		res.Release()
		if err != nil || !bytes.Equal(got, want) {
			r.fatalf("read %d: %d bytes (%v), model %d", off, len(got), err, len(want))
		}
	}
}

// dump logs what a failing crash copy holds and how it came about.
func (r *crashRun) dump(s crashSnap, op crashOp) {
	names, _ := s.fs.List(crashDir)
	for _, n := range names {
		fi, _ := s.fs.Stat(crashDir + "/" + n)
		r.t.Logf("file %s: %d bytes", n, fi.Size())
	}
	rp, _ := readSmallFile(s.fs, crashDir+"/"+recoveryPointFile)
	r.t.Logf("recovery point file %q", rp)
	for _, sg := range op.before.segs {
		r.t.Logf("model before %s: segment %d, %d bytes, %d batches", op.name, sg.base, sg.size, len(sg.batches))
	}
	r.rec.mu.Lock()
	r.t.Logf("%s during %s; trace:\n%s", s.desc, op.name, strings.Join(r.rec.trace, "\n"))
	r.rec.mu.Unlock()
}

// verify opens a crash copy, checks it against the operation it was taken
// in, appends to it and reopens it cleanly.
func (r *crashRun) verify(s crashSnap) {
	op := r.ops[s.op]
	if *crashTrace {
		defer func() {
			if r.t.Failed() {
				r.dump(s, op)
			}
		}()
	}
	l, err := Open(s.fs, crashDir, r.cfg)
	if err != nil {
		r.fatalf("%s during %s: open: %v", s.desc, op.name, err)
	}
	if why := checkRecovered(r.t, l, s.fs, op); why != "" {
		r.fatalf("%s during %s: %s", s.desc, op.name, why)
	}
	res, err := l.Append(simpleBatch(2, r.ts, 10), r.epoch)
	if err != nil {
		r.fatalf("%s: append after recovery: %v", s.desc, err)
	}
	if err := l.Close(); err != nil {
		r.fatalf("%s: close after recovery: %v", s.desc, err)
	}
	l = openLog(r.t, s.fs, crashDir, r.cfg)
	if l.LogEndOffset() != res.LastOffset+1 {
		r.fatalf("%s: end %d after a clean reopen, want %d", s.desc, l.LogEndOffset(), res.LastOffset+1)
	}
	readAllBatches(r.t, l)
	l.Close()
}

// startGeneration opens the log on mem with crash copies enabled; op 0 is
// the open itself (recovering from the crash described by first).
func (r *crashRun) startGeneration(gen int, mem *vfs.MemFS, first crashOp) {
	r.rec = &crashRecorder{seed: r.seed*100 + uint64(gen), every: 25, max: 8, mem: mem}
	r.fs = &hookFS{MemFS: mem, hook: r.rec.hook}
	r.ops = []crashOp{first}
	r.fs.on.Store(true)
	l, err := Open(r.fs, crashDir, r.cfg)
	if err != nil {
		r.fatalf("generation %d: open: %v", gen, err)
	}
	r.l = l
	if gen > 0 {
		if why := checkRecovered(r.t, l, mem, first); why != "" {
			r.fatalf("generation %d: recovered %s: %s", gen, first.name, why)
		}
	}
	r.m = modelFromLog(r.t, l, r.cfg.SegmentBytes)
	r.durable = r.m.end // what survived a crash was on disk
}

// endGeneration crashes once more at the end, verifies every copy taken
// and returns one of them (with the operation it was taken in) to go on
// from.
func (r *crashRun) endGeneration() (*vfs.MemFS, crashOp) {
	r.do("end", func() {})
	opts, kind := crashOptions(r.rng.Uint64(), r.seed, 1<<40)
	final := crashSnap{fs: r.fs.Crash(opts), op: int64(len(r.ops) - 1), desc: "power loss (" + kind + ") at the end"}
	r.fs.on.Store(false)
	r.l.bg.Wait()
	r.l.Close() // abandoned: its disk is not used again
	snaps := append(r.rec.take(), final)
	next := r.rng.IntN(len(snaps))
	for i, s := range snaps {
		if i != next {
			r.verify(s)
		}
	}
	s := snaps[next]
	op := r.ops[s.op]
	op.name = fmt.Sprintf("%s after %s", s.desc, op.name)
	r.history = append(r.history, "crash: "+op.name)
	return s.fs, op
}

// TestCrashRandomWorkload runs the crash workload for 150 seeds (20 with
// -short; -args -crash.seeds=N for more), half of them with fsync-on-ack:
// 4 generations of 50 operations each, up to 9 crash copies per generation.
func TestCrashRandomWorkload(t *testing.T) {
	seeds := 150
	if testing.Short() {
		seeds = 20
	}
	if *crashSeeds > 0 {
		seeds = *crashSeeds
	}
	const generations, steps = 4, 50
	for seed := range uint64(seeds) {
		fsync := seed%2 == 0
		t.Run(fmt.Sprintf("seed=%d/fsync=%v", seed, fsync), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 0xc4a54))
			cfg := testConfig(nil)
			cfg.SegmentBytes = 1200 + rng.Int64N(2000)
			cfg.IndexIntervalBytes = []int32{1, 100, 4096}[rng.IntN(3)]
			cfg.FsyncOnAck = fsync
			r := &crashRun{t: t, seed: seed, rng: rng, cfg: cfg, ts: 1_000}
			empty := newModel(cfg.SegmentBytes)
			mem, first := vfs.NewMemFS(), crashOp{name: "first open", before: empty, after: empty}
			for gen := range generations {
				r.startGeneration(gen, mem, first)
				for range steps {
					r.step()
				}
				mem, first = r.endGeneration()
			}
		})
	}
}

// TestCrashConcurrentAcks has four appenders with fsync-on-ack (and a
// roller) share group commits while crash copies are taken at random
// changes: in every copy, each batch acknowledged before the copy was
// taken is present with its bytes.
func TestCrashConcurrentAcks(t *testing.T) {
	for seed := range uint64(4) {
		cfg := testConfig(nil)
		cfg.SegmentBytes = 2500
		cfg.FsyncOnAck = true
		mem := vfs.NewMemFS()
		type acked struct {
			base int64
			data []byte
		}
		var mu sync.Mutex
		var acks []acked
		type snap struct {
			fs    *vfs.MemFS
			acked int
		}
		var snaps []snap
		var count atomic.Uint64
		fsys := &hookFS{MemFS: mem}
		fsys.hook = func(op vfs.Op, name string) {
			n := count.Add(1)
			h := splitmix64(seed<<32 ^ n)
			if h%17 != 0 {
				return
			}
			opts, _ := crashOptions(h>>32, seed, n)
			mu.Lock()
			defer mu.Unlock()
			if len(snaps) < 12 {
				snaps = append(snaps, snap{fs: mem.Crash(opts), acked: len(acks)})
			}
		}
		l := openLog(t, fsys, crashDir, cfg)
		fsys.on.Store(true)
		var wg sync.WaitGroup
		errs := make(chan error, 5)
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 40 {
					b := buildBatch(batchSpec{n: 1 + i%3, baseTs: int64(w*1000 + i), valueSize: 40 + w})
					res, err := l.Append(b, 0)
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					acks = append(acks, acked{res.BaseOffset, b})
					mu.Unlock()
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				if err := l.Roll(); err != nil {
					errs <- err
					return
				}
			}
		}()
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		fsys.on.Store(false)
		l.Close()
		if len(snaps) == 0 {
			t.Fatalf("seed %d: no crash copy taken", seed)
		}
		for i, s := range snaps {
			l2 := openLog(t, s.fs, crashDir, cfg)
			hs, bs := readAllBatches(t, l2)
			checkIndexes(t, l2)
			byBase := map[int64][]byte{}
			for j, h := range hs {
				byBase[h.BaseOffset] = bs[j]
			}
			for _, a := range acks[:s.acked] {
				if !bytes.Equal(byBase[a.base], a.data) {
					t.Fatalf("seed %d copy %d: acknowledged batch at %d lost (log end %d)", seed, i, a.base, l2.LogEndOffset())
				}
			}
			l2.Close()
		}
	}
}

// TestFlushSealedStopsAtUnsyncedSegment: the recovery point never passes a
// sealed segment the flush could not fsync, because truncation unsealed
// it or it was taken out of service meanwhile. (A flush that ran while
// TruncateTo held the segment used to skip it and move the recovery point
// past it; a crash then left it torn below the recovery point, never
// scanned.)
func TestFlushSealedStopsAtUnsyncedSegment(t *testing.T) {
	tests := []struct {
		name    string
		disable func(s *segment)
	}{
		{"unsealed by truncation", func(s *segment) { s.sealed.Store(false) }},
		{"out of service", func(s *segment) {
			s.mu.Lock()
			s.deleted = true
			s.mu.Unlock()
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(nil)
			l, _ := memLog(t, cfg)
			defer l.Close()
			for range 4 {
				mustAppend(t, l, simpleBatch(2, 1, 100), 0)
				if err := l.Roll(); err != nil {
					t.Fatal(err)
				}
			}
			l.bg.Wait()
			segs := l.segs.Load().segs // 4 sealed, 1 active
			l.flushMu.Lock()
			l.recoveryPoint.Store(segs[0].base) // as if none had been flushed yet
			l.flushMu.Unlock()
			tc.disable(segs[2])
			if err := l.flushSealed(); err != nil {
				t.Fatal(err)
			}
			rp, err := readSmallFile(l.fs, l.dir+"/"+recoveryPointFile)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := l.recoveryPoint.Load(), segs[2].base; got != want || string(rp) != fmt.Sprintf("0\n1\n%d\n", want) {
				t.Fatalf("recovery point %d (file %q), want %d: it passed a segment that was not fsynced", got, rp, want)
			}
			segs[2].sealed.Store(true)
			segs[2].mu.Lock()
			segs[2].deleted = false
			segs[2].mu.Unlock()
		})
	}
}
