package log

// Fault-injection tests. A fixed script (appends that roll segments, an
// explicit roll, a replicated append, a flush, truncation, retention,
// DeleteRecordsBefore, a new epoch, a clean reopen, TruncateFullyAndStartAt
// and Close) runs once per injected fault: the Nth write, short write,
// sync, truncate, create, open, rename, remove or directory sync fails, for
// every N the script reaches, once or from then on (sticky). Whatever
// operation sees the failure must return an error, never panic; the log
// then either keeps working (an append and a full read succeed, and the
// log holds the state before or after the failed operation plus that
// append) or refuses every later write. Then the disk is reopened twice,
// as it is (a process restart) and after a power loss taken right after
// the failure: each time it must hold a prefix of the state before or
// after the failed operation, with every append acknowledged under
// FsyncOnAck, and it must take appends again.

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

const faultDir = "/f/p-0"

// faultStep is one operation of the script. apply changes the model as a
// successful run of the operation would.
type faultStep struct {
	name  string
	run   func(f *faultRun) error
	apply func(f *faultRun, m *model)
	// mids returns the states between before and after the operation
	// may stop in (see crashOp.mids).
	mids func(m *model) []*model
	// discards: the operation drops every offset, so a crash during it
	// may keep any prefix of the log (see crashRun.discards).
	discards bool
}

// faultRun is one run of the script.
type faultRun struct {
	t       *testing.T
	cfg     Config
	mem     *vfs.MemFS
	l       *Log // nil after a failed reopen
	m       *model
	durable int64
	batch   []byte // the batch the current append step writes (as stored)
	batches [][]byte
}

func (f *faultRun) fatalf(format string, args ...any) {
	f.t.Helper()
	f.t.Fatalf(format, args...)
}

// faultScript returns the script; every batch is fixed in advance so that
// the model knows the bytes of a failed append too.
func faultScript() []faultStep {
	var steps []faultStep
	ts := int64(5_000)
	appendStep := func(epoch int32) faultStep {
		ts += 7
		b := buildBatch(batchSpec{n: 1 + int(ts%3), baseTs: ts, valueSize: 150 + int(ts%90)})
		return faultStep{
			name: "append",
			run: func(f *faultRun) error {
				_, err := f.l.Append(bytes.Clone(b), epoch)
				return err
			},
			apply: func(f *faultRun, m *model) {
				data := bytes.Clone(b)
				stampOffsetEpoch(data, m.end, epoch)
				h, _ := ParseBatchHeader(data)
				m.append(modelBatch{base: m.end, last: h.LastOffset(), data: data, maxTs: h.MaxTimestamp}, epoch)
			},
		}
	}
	for range 8 {
		steps = append(steps, appendStep(1))
	}
	steps = append(steps, faultStep{
		name:  "roll",
		run:   func(f *faultRun) error { return f.l.Roll() },
		apply: func(f *faultRun, m *model) { m.roll() },
	}, faultStep{
		name: "append replicated",
		run: func(f *faultRun) error {
			_, err := f.l.AppendReplicated(replicatedBatches(f.m))
			return err
		},
		apply: func(f *faultRun, m *model) {
			all := replicatedBatches(m)
			for len(all) > 0 {
				h, _ := ParseBatchHeader(all)
				m.append(modelBatch{base: h.BaseOffset, last: h.LastOffset(), data: all[:h.Size()], maxTs: h.MaxTimestamp}, h.PartitionLeaderEpoch)
				all = all[h.Size():]
			}
		},
		mids: func(m *model) []*model { // the first batch only
			m = cloneModel(m)
			all := replicatedBatches(m)
			h, _ := ParseBatchHeader(all)
			m.append(modelBatch{base: h.BaseOffset, last: h.LastOffset(), data: all[:h.Size()], maxTs: h.MaxTimestamp}, h.PartitionLeaderEpoch)
			return []*model{m}
		},
	}, faultStep{
		name:  "flush",
		run:   func(f *faultRun) error { return f.l.Flush() },
		apply: func(f *faultRun, m *model) {},
	}, faultStep{
		name:  "truncate",
		run:   func(f *faultRun) error { return f.l.TruncateTo(f.m.end - 4) },
		apply: func(f *faultRun, m *model) { _ = m.truncateTo(m.end - 4) },
	})
	for range 3 {
		steps = append(steps, appendStep(2))
	}
	steps = append(steps, faultStep{
		name: "retention",
		run: func(f *faultRun) error {
			c := *f.l.cfg.Load()
			c.RetentionBytes = 3000
			f.l.SetConfig(c)
			_, err := f.l.ApplyRetention()
			c.RetentionBytes = -1
			f.l.SetConfig(c)
			return err
		},
		apply: func(f *faultRun, m *model) { m.retention(3000) },
	}, faultStep{
		name: "delete records",
		run:  func(f *faultRun) error { return f.l.DeleteRecordsBefore(f.m.start + 3) },
		apply: func(f *faultRun, m *model) {
			m.setStart(m.start + 3)
			m.deleteBelowStart()
		},
	}, faultStep{
		name:  "assign epoch",
		run:   func(f *faultRun) error { return f.l.AssignEpochStartOffset(5, f.m.end) },
		apply: func(f *faultRun, m *model) { m.assignEpoch(5, m.end) },
	})
	steps = append(steps, appendStep(5), appendStep(5))
	steps = append(steps, faultStep{
		name: "close and reopen",
		run: func(f *faultRun) error {
			err := f.l.Close()
			f.l = nil
			if err != nil {
				return err
			}
			f.l, err = Open(f.mem, faultDir, f.cfg)
			return err
		},
		apply: func(f *faultRun, m *model) { m.reopen() },
	})
	steps = append(steps, appendStep(6), faultStep{
		name:     "truncate fully",
		run:      func(f *faultRun) error { return f.l.TruncateFullyAndStartAt(f.m.end + 2) },
		apply:    func(f *faultRun, m *model) { m.truncateFully(m.end + 2) },
		discards: true,
	})
	steps = append(steps, appendStep(7), appendStep(7), faultStep{
		name:  "close",
		run:   func(f *faultRun) error { err := f.l.Close(); return err },
		apply: func(f *faultRun, m *model) {},
	})
	return steps
}

// replicatedBatches returns two offset-assigned batches that continue m.
func replicatedBatches(m *model) []byte {
	a := buildBatch(batchSpec{base: m.end, epoch: 3, baseTs: 9_000, n: 2, valueSize: 120})
	b := buildBatch(batchSpec{base: m.end + 2, epoch: 4, baseTs: 9_001, n: 3, valueSize: 60})
	return append(a, b...)
}

// faultKinds are the operations a fault is injected into; counts come
// from a fault-free run.
var faultKinds = []struct {
	name  string
	ops   vfs.Op
	short bool
}{
	{"write", vfs.OpWrite, false},
	{"short write", vfs.OpWrite, true},
	{"sync", vfs.OpSync, false},
	{"truncate", vfs.OpTruncate, false},
	{"create", vfs.OpCreate, false},
	{"open", vfs.OpOpen, false},
	{"rename", vfs.OpRename, false},
	{"remove", vfs.OpRemove, false},
	{"syncdir", vfs.OpSyncDir, false},
}

func faultConfig(fsync bool) Config {
	cfg := testConfig(nil)
	cfg.SegmentBytes = 1500
	cfg.IndexIntervalBytes = 200
	cfg.FsyncOnAck = fsync
	return cfg
}

// TestFaultInjection fails, in turn, every write, sync, truncate, create,
// open, rename, remove and directory sync of the script (each once, and
// from there on), with fsync-on-ack on and off. -short tries every third.
func TestFaultInjection(t *testing.T) {
	for _, fsync := range []bool{true, false} {
		// Count the operations of a fault-free run.
		mem := vfs.NewMemFS()
		counters := map[vfs.Op]*vfs.Injection{}
		for _, k := range faultKinds {
			if counters[k.ops] == nil {
				counters[k.ops] = mem.InjectFault(vfs.Fault{Ops: k.ops, N: 1 << 30})
			}
		}
		runFaultScript(t, faultConfig(fsync), mem, vfs.Fault{}, 1)
		step := 1
		if testing.Short() {
			step = 3
		}
		for _, k := range faultKinds {
			total := counters[k.ops].Seen()
			if total == 0 {
				t.Fatalf("the script does no %s", k.name)
			}
			for _, sticky := range []bool{false, true} {
				t.Run(fmt.Sprintf("fsync=%v/%s/sticky=%v", fsync, k.name, sticky), func(t *testing.T) {
					fired := 0
					for n := 1; n <= total; n += step {
						fault := vfs.Fault{Ops: k.ops, N: n, Sticky: sticky, ShortWrite: k.short}
						if runFaultScript(t, faultConfig(fsync), vfs.NewMemFS(), fault, uint64(n)) {
							fired++
						}
					}
					t.Logf("%d operations, %d runs saw an error", total, fired)
				})
			}
		}
	}
}

// runFaultScript runs the script on mem with fault injected after the
// log is opened, checks what the failure leaves, and reports whether an
// operation returned an error.
func runFaultScript(t *testing.T, cfg Config, mem *vfs.MemFS, fault vfs.Fault, seed uint64) bool {
	t.Helper()
	f := &faultRun{t: t, cfg: cfg, mem: mem, m: newModel(cfg.SegmentBytes)}
	f.l = openLog(t, mem, faultDir, cfg)
	var inj *vfs.Injection
	if fault.Ops != 0 {
		inj = mem.InjectFault(fault)
	}
	where := fmt.Sprintf("fault %+v", fault)
	steps := faultScript()
	for i, st := range steps {
		before, durBefore := cloneModel(f.m), f.durable
		after := cloneModel(f.m)
		st.apply(f, after)
		durAfter := durBefore
		switch {
		case st.name == "truncate fully":
			durAfter = after.end
		case st.name == "truncate":
			durAfter = min(durBefore, after.end)
		case st.name == "flush" || st.name == "close and reopen" || st.name == "close" || cfg.FsyncOnAck:
			durAfter = after.end
		}
		err := st.run(f)
		if err == nil {
			f.m, f.durable = after, durAfter
			if i < len(steps)-1 && (f.l.LogEndOffset() != f.m.end || f.l.LogStartOffset() != f.m.start) {
				t.Fatalf("%s: after %s: start/end %d/%d, model %d/%d", where, st.name,
					f.l.LogStartOffset(), f.l.LogEndOffset(), f.m.start, f.m.end)
			}
			continue
		}
		// The operation failed.
		if inj == nil || inj.Failed() == 0 {
			t.Fatalf("%s: %s failed without an injected fault: %v", where, st.name, err)
		}
		where = fmt.Sprintf("%s: %s failed (%v)", where, st.name, err)
		op := crashOp{name: st.name, before: before, after: after, required: min(durBefore, durAfter)}
		if st.mids != nil {
			op.mids = st.mids(before)
		}
		if st.discards {
			op.required = 0
		}
		for _, s := range before.segs {
			if s.base > before.start && s.base < after.start {
				op.starts = append(op.starts, s.base)
			}
		}
		f.afterFailure(where, op, fault.Sticky, seed)
		return true
	}
	// Every step succeeded (a fault may have fired and been absorbed, e.g.
	// a failed index write or the removal of a deleted file): the log was
	// closed cleanly and must reopen to exactly the model.
	final := crashOp{name: "the script", before: f.m, after: f.m, required: f.m.end}
	mem.ClearFaults()
	f.reopenAndCheck(where+": clean reopen", mem, final)
	return false
}

// afterFailure checks the live log after a failed operation and then the
// disk, reopened as it is and after a power loss.
func (f *faultRun) afterFailure(where string, op crashOp, sticky bool, seed uint64) {
	t := f.t
	opts, _ := crashOptions(splitmix64(seed), seed, 1)
	crashed := f.mem.Crash(opts)
	required := op.required
	if !f.cfg.FsyncOnAck {
		required = 0 // only flushed data is durable, and the script flushes once
	}
	restart := op // a process restart keeps everything written
	restart.required = min(op.before.end, op.after.end)
	for _, m := range op.mids {
		restart.required = min(restart.required, m.end)
	}
	if op.required == 0 {
		restart.required = 0
	}

	if f.l != nil {
		probe := simpleBatch(1, 77_777, 33)
		res, err := f.l.Append(bytes.Clone(probe), 9)
		switch {
		case err == nil:
			// It keeps working: it holds the state before or after the
			// failed operation, plus the probe.
			_, got := readAllBatches(t, f.l)
			checkIndexes(t, f.l)
			stored := bytes.Clone(probe)
			stampOffsetEpoch(stored, res.BaseOffset, 9)
			if len(got) == 0 || !bytes.Equal(got[len(got)-1], stored) {
				t.Fatalf("%s: the probe append at %d is not the last batch", where, res.BaseOffset)
			}
			// From now on the log may hold any of the states the failed
			// operation may have left (it may have taken effect on disk
			// only, e.g. a checkpoint renamed into place whose directory
			// fsync failed), plus the probe.
			var cands []*model
			live := false
			for _, c := range op.states() {
				if c.end != res.BaseOffset {
					continue
				}
				if matchPrefix(f.l.LogStartOffset(), res.BaseOffset, got[:len(got)-1], c, op.starts) == "" {
					live = true
				}
				c = cloneModel(c)
				c.append(modelBatch{base: res.BaseOffset, last: res.LastOffset, data: stored}, 9)
				cands = append(cands, c)
			}
			if !live {
				t.Fatalf("%s: the log kept working but does not hold the state before or after the failure", where)
			}
			cands = append(cands, cands[0])
			now := crashOp{name: op.name + " and a probe append", before: cands[0], after: cands[1], mids: cands[2:], starts: op.starts}
			restart = now
			restart.required = res.LastOffset + 1
			if !sticky {
				// The probe is acknowledged: it must survive a power loss now.
				crashed = f.mem.Crash(opts)
				op = now
				if f.cfg.FsyncOnAck {
					required = res.LastOffset + 1
				}
			}
		case !sticky:
			// The fault fired once and is gone: the log refuses writes
			// because it failed, and goes on refusing them.
			if _, err2 := f.l.Append(bytes.Clone(probe), 9); err2 == nil {
				t.Fatalf("%s: append refused (%v) and then accepted", where, err)
			}
			if err2 := f.l.Roll(); err2 == nil {
				t.Fatalf("%s: append refused (%v) but roll accepted", where, err)
			}
		}
		// Reads do not panic (they may fail on a failed log).
		readTolerant(f.l)
		_ = f.l.Close()
	}
	op.required = required

	if sticky {
		// Reopening while the fault persists fails or works; it never panics.
		if l, err := Open(f.mem, faultDir, f.cfg); err == nil {
			_ = l.Close()
		}
	}
	f.mem.ClearFaults()
	f.reopenAndCheck(where+": restart", f.mem, restart)
	f.reopenAndCheck(where+": power loss", crashed, op)
}

// reopenAndCheck opens the disk, checks it against op and checks that it
// takes an append and keeps it over a clean reopen.
func (f *faultRun) reopenAndCheck(where string, fsys *vfs.MemFS, op crashOp) {
	t := f.t
	t.Helper()
	l, err := Open(fsys, faultDir, f.cfg)
	if err != nil {
		t.Fatalf("%s: open: %v", where, err)
	}
	if why := checkRecovered(t, l, fsys, op); why != "" {
		t.Fatalf("%s: %s", where, why)
	}
	res, err := l.Append(simpleBatch(1, 88_888, 20), 10)
	if err != nil {
		t.Fatalf("%s: append after reopen: %v", where, err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("%s: close after reopen: %v", where, err)
	}
	l = openLog(t, fsys, faultDir, f.cfg)
	if l.LogEndOffset() != res.LastOffset+1 {
		t.Fatalf("%s: end %d after a clean reopen, want %d", where, l.LogEndOffset(), res.LastOffset+1)
	}
	l.Close()
}

// TestFaultDuringRecovery fails, in turn, every operation Open performs
// while recovering a damaged directory (a torn newest segment, a damaged
// sealed segment above the recovery point with segments after it,
// garbage and missing indexes, leftover files): Open returns an error or
// succeeds, never panics, and a later Open without faults recovers the
// same log a fault-free recovery does.
func TestFaultDuringRecovery(t *testing.T) {
	damaged := func() *vfs.MemFS {
		cfg := faultConfig(false)
		fsys := vfs.NewMemFS()
		l := openLog(t, fsys, faultDir, cfg)
		for i := range 20 {
			mustAppend(t, l, simpleBatch(1+i%3, int64(100+i), 150), 1)
		}
		if err := l.Flush(); err != nil {
			t.Fatal(err)
		}
		l.bg.Wait()
		segs := l.segs.Load().segs
		if len(segs) < 5 {
			t.Fatalf("setup: %d segments", len(segs))
		}
		mustAppend(t, l, simpleBatch(2, 200, 150), 1) // unsynced: torn by the crash
		crashed := fsys.Crash(vfs.CrashOptions{TearLastWrite: true, Rand: rand.New(rand.NewPCG(1, 2))})
		patch(t, crashed, faultDir+"/"+recoveryPointFile, 0, []byte("0\n1\n0\n"))            // scan everything
		truncateFile(t, crashed, segFile(segs[2].base, logSuffix), 700)                      // damaged mid-log
		patch(t, crashed, segFile(segs[0].base, indexSuffix), 0, []byte("garbage, garbage")) // bad index
		if err := crashed.Remove(segFile(segs[1].base, timeIndexSuffix)); err != nil {       // missing index
			t.Fatal(err)
		}
		patch(t, crashed, faultDir+"/leader-epoch-checkpoint.tmp", 0, []byte("x")) // leftover
		return crashed
	}
	cfg := faultConfig(false)
	// The fault-free recovery, and how many operations it performs.
	ref := damaged()
	counters := map[vfs.Op]*vfs.Injection{}
	for _, k := range faultKinds {
		if counters[k.ops] == nil {
			counters[k.ops] = ref.InjectFault(vfs.Fault{Ops: k.ops, N: 1 << 30})
		}
	}
	l := openLog(t, ref, faultDir, cfg)
	wantHs, wantBs := readAllBatches(t, l)
	l.Close()
	if len(wantHs) == 0 {
		t.Fatal("setup: nothing recovered")
	}
	for _, k := range faultKinds {
		total := counters[k.ops].Seen()
		for n := 1; n <= total; n++ {
			fsys := damaged()
			fsys.InjectFault(vfs.Fault{Ops: k.ops, N: n, ShortWrite: k.short})
			where := fmt.Sprintf("%s %d of %d", k.name, n, total)
			if l, err := Open(fsys, faultDir, cfg); err == nil {
				readTolerant(l)
				l.Close()
			}
			fsys.ClearFaults()
			l := openLog(t, fsys, faultDir, cfg)
			_, got := readAllBatches(t, l)
			checkIndexes(t, l)
			if len(got) != len(wantBs) {
				t.Fatalf("%s: recovered %d batches, a fault-free recovery %d", where, len(got), len(wantBs))
			}
			for i := range got {
				if !bytes.Equal(got[i], wantBs[i]) {
					t.Fatalf("%s: batch %d differs from a fault-free recovery", where, i)
				}
			}
			if why := checkNoLeftovers(fsys, faultDir); why != "" {
				t.Fatalf("%s: %s", where, why)
			}
			l.Close()
		}
	}
}

func segFile(base int64, suffix string) string {
	return faultDir + "/" + segmentName(base) + suffix
}

// readTolerant reads the whole log, stopping at the first error: for logs
// that may legitimately fail to read (a failed log, injected faults).
func readTolerant(l *Log) {
	for off := l.LogStartOffset(); off < l.LogEndOffset(); {
		r, err := l.Read(off, 1<<20, l.LogEndOffset())
		if err != nil || r.Len() == 0 {
			return
		}
		_, err = r.AppendTo(nil)
		r.Release()
		if err != nil {
			return
		}
		off = r.LastOffset() + 1
	}
}
