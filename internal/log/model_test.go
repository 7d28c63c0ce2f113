package log

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// The model: a plain list of batches split into segments, with the log
// start offset and the epoch entries, updated by the simplest possible
// rules. The randomized test applies the same operations to a Log and to
// the model and checks that every observation agrees.

type modelBatch struct {
	base, last int64
	data       []byte
	maxTs      int64
	recTs      []int64 // per record
	compressed bool
}

type modelSegment struct {
	base    int64
	batches []modelBatch
	size    int64
}

type model struct {
	segs         []*modelSegment
	start, end   int64
	epochs       []epochEntry
	segmentBytes int64
}

func newModel(segmentBytes int64) *model {
	return &model{segs: []*modelSegment{{base: 0}}, segmentBytes: segmentBytes}
}

func (m *model) active() *modelSegment { return m.segs[len(m.segs)-1] }

func (m *model) roll() {
	if m.active().size > 0 {
		m.segs = append(m.segs, &modelSegment{base: m.end})
	}
}

func (m *model) append(b modelBatch, epoch int32) {
	if a := m.active(); a.size > 0 && a.size+int64(len(b.data)) > m.segmentBytes {
		m.roll()
	}
	if epoch >= 0 && (len(m.epochs) == 0 || epoch > m.epochs[len(m.epochs)-1].epoch) {
		m.assignEpoch(epoch, b.base)
	}
	a := m.active()
	a.batches = append(a.batches, b)
	a.size += int64(len(b.data))
	m.end = b.last + 1
}

func (m *model) assignEpoch(epoch int32, start int64) {
	if n := len(m.epochs); n > 0 && m.epochs[n-1].epoch == epoch && start >= m.epochs[n-1].startOffset {
		return
	}
	var kept []epochEntry
	for _, e := range m.epochs {
		if e.epoch < epoch && e.startOffset < start {
			kept = append(kept, e)
		}
	}
	m.epochs = append(kept, epochEntry{epoch, start})
}

func (m *model) setStart(start int64) {
	if start <= m.start {
		return
	}
	m.start = start
	// Epochs: drop wholly-below entries, move the covering one to start.
	i := 0
	for i < len(m.epochs) && m.epochs[i].startOffset <= start {
		i++
	}
	if i > 0 {
		m.epochs = append([]epochEntry(nil), m.epochs[i-1:]...)
		m.epochs[0].startOffset = start
	}
}

// deleteOldest removes n sealed segments.
func (m *model) deleteOldest(n int) {
	m.segs = m.segs[n:]
	m.setStart(m.segs[0].base)
}

func (m *model) segEnd(i int) int64 {
	if i+1 < len(m.segs) {
		return m.segs[i+1].base
	}
	return m.end
}

func (m *model) deleteBelowStart() int {
	n := 0
	for n < len(m.segs)-1 && m.segEnd(n) <= m.start {
		n++
	}
	if n > 0 {
		m.deleteOldest(n)
	}
	return n
}

func (m *model) retention(retentionBytes int64) int {
	n := 0
	for n < len(m.segs)-1 && m.segEnd(n) <= m.start {
		n++
	}
	if retentionBytes >= 0 {
		var total int64
		for _, s := range m.segs[n:] {
			total += s.size
		}
		for n < len(m.segs)-1 && total-m.segs[n].size >= retentionBytes {
			total -= m.segs[n].size
			n++
		}
	}
	if n > 0 {
		m.deleteOldest(n)
	}
	return n
}

func (m *model) truncateFully(offset int64) {
	m.segs = []*modelSegment{{base: offset}}
	m.start, m.end = offset, offset
	m.epochs = nil
}

func (m *model) truncateTo(offset int64) error {
	if offset >= m.end {
		return nil
	}
	if offset < m.start {
		return ErrOffsetOutOfRange
	}
	si := 0
	for si+1 < len(m.segs) && m.segs[si+1].base <= offset {
		si++
	}
	s := m.segs[si]
	bi := 0
	for s.batches[bi].last < offset {
		bi++
	}
	cut := s.batches[bi].base
	if cut < m.start {
		m.truncateFully(offset)
		return nil
	}
	m.segs = m.segs[:si+1]
	s.batches = s.batches[:bi]
	s.size = 0
	for _, b := range s.batches {
		s.size += int64(len(b.data))
	}
	m.end = cut
	i := len(m.epochs)
	for i > 0 && m.epochs[i-1].startOffset >= cut {
		i--
	}
	m.epochs = m.epochs[:i]
	return nil
}

// read returns the expected batches of Read.
// reopen applies what Open does to a log: closed segments wholly below
// the start are deleted and epoch entries at or beyond the end dropped
// (Kafka's truncateFromEnd(logEndOffset) on load).
func (m *model) reopen() {
	m.deleteBelowStart()
	i := len(m.epochs)
	for i > 0 && m.epochs[i-1].startOffset >= m.end {
		i--
	}
	m.epochs = m.epochs[:i]
}

func (m *model) read(offset int64, maxBytes int32, maxOffset int64) ([]byte, error) {
	if offset < m.start || offset > m.end {
		return nil, ErrOffsetOutOfRange
	}
	maxOffset = min(maxOffset, m.end)
	if offset == m.end || offset >= maxOffset {
		return nil, nil
	}
	si := 0
	for si+1 < len(m.segs) && m.segs[si+1].base <= offset {
		si++
	}
	var out []byte
	for _, b := range m.segs[si].batches {
		if b.last < offset {
			continue
		}
		if b.last >= maxOffset || (len(out) > 0 && len(out)+len(b.data) > int(maxBytes)) {
			break
		}
		out = append(out, b.data...)
		if len(out) >= int(maxBytes) {
			break
		}
	}
	return out, nil
}

func (m *model) batches() []modelBatch {
	var out []modelBatch
	for _, s := range m.segs {
		out = append(out, s.batches...)
	}
	return out
}

func (m *model) offsetForTimestamp(ts int64) (int64, int64, bool) {
	for _, b := range m.batches() {
		if b.last < m.start || b.maxTs < ts {
			continue
		}
		for i, rts := range b.recTs {
			if o := b.base + int64(i); o >= m.start && rts >= ts {
				return o, rts, true
			}
		}
	}
	return -1, -1, false
}

func (m *model) maxTimestamp() (int64, int64) {
	best, off := int64(-1), int64(-1)
	for _, b := range m.batches() {
		if b.maxTs > best {
			best, off = b.maxTs, b.base
			for i, rts := range b.recTs {
				if rts == best {
					off = b.base + int64(i)
					break
				}
			}
		}
	}
	return best, off
}

func (m *model) size() int64 {
	var n int64
	for _, s := range m.segs {
		n += s.size
	}
	return n
}

var modelSeeds = flag.Int("model.seeds", 0, "extra seeds for TestModel (700 steps each, fsync on and off)")

// TestModel applies random operations to a Log and to the model: 2,100
// steps over three seeds by default (450 with -short); -args
// -model.seeds=N adds N seeds, each run with and without fsync-on-ack.
func TestModel(t *testing.T) {
	steps := 700
	if testing.Short() {
		steps = 150
	}
	type run struct {
		seed     uint64
		fsync    bool
		interval int32
	}
	runs := []run{{1, false, 1}, {2, true, 100}, {3, false, 4096}}
	for i := range *modelSeeds {
		seed := uint64(1000 + i)
		runs = append(runs, run{seed, false, []int32{1, 100, 4096}[i%3]}, run{seed, true, []int32{1, 100, 4096}[i%3]})
	}
	for _, run := range runs {
		t.Run(fmt.Sprintf("seed=%d/fsync=%v", run.seed, run.fsync), func(t *testing.T) {
			runModel(t, run.seed, run.fsync, run.interval, steps)
		})
	}
}

func runModel(t *testing.T, seed uint64, fsync bool, interval int32, steps int) {
	rng := rand.New(rand.NewPCG(seed, 99))
	cfg := testConfig(nil)
	cfg.SegmentBytes = 2000
	cfg.IndexIntervalBytes = interval
	cfg.FsyncOnAck = fsync
	fsys := vfs.NewMemFS()
	const dir = "/m/p-0"
	l := openLog(t, fsys, dir, cfg)
	defer func() { l.Close() }()
	m := newModel(cfg.SegmentBytes)
	ts := int64(10_000)
	epoch := int32(0)

	newBatch := func(base int64) ([]byte, modelBatch) {
		n := 1 + rng.IntN(5)
		deltas := make([]int64, n)
		for i := range deltas {
			deltas[i] = rng.Int64N(50) - 10
		}
		ts += rng.Int64N(30)
		comp := Compression(0)
		if rng.IntN(5) == 0 {
			comp = CompressionSnappy
		}
		b := buildBatch(batchSpec{base: base, epoch: epoch, baseTs: ts, tsDeltas: deltas, valueSize: rng.IntN(300), compression: comp})
		mb := modelBatch{base: base, last: base + int64(n) - 1, compressed: comp != 0}
		maxD := int64(0)
		for _, d := range deltas {
			mb.recTs = append(mb.recTs, ts+d)
			maxD = max(maxD, d)
		}
		mb.maxTs = ts + maxD
		return b, mb
	}

	var history []string
	fail := func(format string, args ...any) {
		t.Helper()
		start := max(0, len(history)-15)
		t.Fatalf("seed %d step %d: %s\nlast ops:\n%v", seed, len(history), fmt.Sprintf(format, args...), history[start:])
	}
	for step := range steps {
		op := rng.IntN(100)
		switch {
		case op < 40: // append
			if rng.IntN(10) == 0 {
				epoch++
			}
			b, mb := newBatch(0)
			if _, err := l.Append(b, epoch); err != nil {
				fail("append: %v", err)
			}
			mb.base, mb.last = m.end, m.end+mb.last
			mb.data = bytes.Clone(b)
			m.append(mb, epoch)
			history = append(history, fmt.Sprintf("append %d-%d", mb.base, mb.last))
		case op < 45: // replicated append
			var all []byte
			var mbs []modelBatch
			base := m.end
			for range 1 + rng.IntN(3) {
				if rng.IntN(3) == 0 {
					epoch++
				}
				b, mb := newBatch(base)
				all = append(all, b...)
				mb.data = b
				mbs = append(mbs, mb)
				base = mb.last + 1
			}
			last, err := l.AppendReplicated(all)
			if err != nil || last != base-1 {
				fail("append replicated: %d %v", last, err)
			}
			for _, mb := range mbs {
				h, _ := ParseBatchHeader(mb.data)
				m.append(mb, h.PartitionLeaderEpoch)
			}
			history = append(history, fmt.Sprintf("replicated to %d", last))
		case op < 65: // read
			off := m.start - 2 + rng.Int64N(m.end-m.start+5)
			maxBytes := int32(rng.IntN(3000))
			maxOff := off + rng.Int64N(m.end-m.start+3)
			want, wantErr := m.read(off, maxBytes, maxOff)
			r, err := l.Read(off, maxBytes, maxOff)
			if !errors.Is(err, wantErr) {
				fail("Read(%d, %d, %d) err %v, want %v", off, maxBytes, maxOff, err, wantErr)
			}
			got, aerr := r.AppendTo(nil)
			r.Release()
			if aerr != nil || !bytes.Equal(got, want) {
				fail("Read(%d, %d, %d): %d bytes, model %d (%v)", off, maxBytes, maxOff, len(got), len(want), aerr)
			}
			history = append(history, fmt.Sprintf("read %d", off))
		case op < 70:
			if err := l.Roll(); err != nil {
				fail("roll: %v", err)
			}
			m.roll()
			history = append(history, "roll")
		case op < 75:
			off := m.start + rng.Int64N(m.end-m.start+2)
			err := l.TruncateTo(off)
			if werr := m.truncateTo(off); !errors.Is(err, werr) {
				fail("TruncateTo(%d) = %v, want %v", off, err, werr)
			}
			history = append(history, fmt.Sprintf("truncate %d", off))
		case op < 78:
			retention := int64(rng.IntN(8000))
			c := *l.cfg.Load()
			c.RetentionBytes = retention
			l.SetConfig(c)
			n, err := l.ApplyRetention()
			if wn := m.retention(retention); err != nil || n != wn {
				fail("retention %d: deleted %d (%v), model %d", retention, n, err, wn)
			}
			c.RetentionBytes = -1
			l.SetConfig(c)
			history = append(history, fmt.Sprintf("retention %d", retention))
		case op < 81:
			off := m.start + rng.Int64N(m.end-m.start+2)
			err := l.DeleteRecordsBefore(off)
			if off > m.end {
				if !errors.Is(err, ErrOffsetOutOfRange) {
					fail("DeleteRecordsBefore(%d) beyond end = %v", off, err)
				}
			} else {
				if err != nil {
					fail("DeleteRecordsBefore(%d): %v", off, err)
				}
				if off > m.start {
					m.setStart(off)
					m.deleteBelowStart()
				}
			}
			history = append(history, fmt.Sprintf("delete records %d", off))
		case op < 82:
			off := m.end + rng.Int64N(5)
			if err := l.TruncateFullyAndStartAt(off); err != nil {
				fail("truncate fully: %v", err)
			}
			m.truncateFully(off)
			history = append(history, fmt.Sprintf("truncate fully %d", off))
		case op < 84:
			epoch++
			if err := l.AssignEpochStartOffset(epoch, m.end); err != nil {
				fail("assign epoch: %v", err)
			}
			m.assignEpoch(epoch, m.end)
			history = append(history, fmt.Sprintf("assign epoch %d", epoch))
		case op < 88:
			q := ts - rng.Int64N(2000) + 50
			off, gts, ok := l.OffsetForTimestamp(q)
			woff, wts, wok := m.offsetForTimestamp(q)
			if off != woff || gts != wts || ok != wok {
				fail("OffsetForTimestamp(%d) = %d %d %v, model %d %d %v", q, off, gts, ok, woff, wts, wok)
			}
			gmax, gmo := l.MaxTimestamp()
			wmax, wmo := m.maxTimestamp()
			if gmax != wmax || gmo != wmo {
				fail("MaxTimestamp = %d %d, model %d %d", gmax, gmo, wmax, wmo)
			}
			history = append(history, fmt.Sprintf("timestamp %d", q))
		case op < 90:
			from := m.start + rng.Int64N(m.end-m.start+1)
			var got []byte
			if err := l.ScanBatches(from, func(h BatchHeader, b []byte) error {
				got = append(got, b...)
				return nil
			}); err != nil {
				fail("ScanBatches(%d): %v", from, err)
			}
			var want []byte
			for _, b := range m.batches() {
				if b.last >= from {
					want = append(want, b.data...)
				}
			}
			if !bytes.Equal(got, want) {
				fail("ScanBatches(%d): %d bytes, model %d", from, len(got), len(want))
			}
		case op < 94: // clean reopen
			if err := l.Close(); err != nil {
				fail("close: %v", err)
			}
			l = openLog(t, fsys, dir, cfg)
			m.reopen()
			history = append(history, "clean reopen")
		case op < 97: // unclean reopen: the old Log is abandoned
			l.bg.Wait() // the abandoned log's background flush
			l = openLog(t, fsys, dir, cfg)
			m.reopen()
			history = append(history, "unclean reopen")
		default: // power loss: with fsync-on-ack nothing acknowledged is lost
			if !fsync {
				continue
			}
			fsys = fsys.Crash(vfs.CrashOptions{TearLastWrite: true, Rand: rng})
			l = openLog(t, fsys, dir, cfg)
			m.reopen()
			history = append(history, "crash")
		}
		// Invariants after every step.
		if l.LogStartOffset() != m.start || l.LogEndOffset() != m.end {
			fail("start/end %d/%d, model %d/%d", l.LogStartOffset(), l.LogEndOffset(), m.start, m.end)
		}
		if l.SegmentCount() != len(m.segs) || l.Size() != m.size() {
			fail("%d segments %d bytes, model %d, %d", l.SegmentCount(), l.Size(), len(m.segs), m.size())
		}
		if got := l.epochs.snapshot(); !equalEpochs(got, m.epochs) {
			fail("epochs %v, model %v", got, m.epochs)
		}
		if e, ok := l.LatestEpoch(); ok != (len(m.epochs) > 0) || (ok && e != m.epochs[len(m.epochs)-1].epoch) {
			fail("LatestEpoch %d %v", e, ok)
		}
		if step%50 == 49 {
			checkIndexes(t, l)
		}
	}
	checkIndexes(t, l)
}
