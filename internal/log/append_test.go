package log

import (
	"bytes"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

func TestAppendAssignsOffsetsAndEpoch(t *testing.T) {
	l, _ := memLog(t, testConfig(nil))
	defer l.Close()
	sizes := []int{1, 3, 1, 5, 2}
	var next int64
	for i, n := range sizes {
		b := simpleBatch(n, 1000+int64(i), 10)
		b[0] = 0xff // a producer's base offset is ignored
		res, err := l.Append(b, 4)
		if err != nil {
			t.Fatal(err)
		}
		if res.BaseOffset != next || res.LastOffset != next+int64(n)-1 || res.Records != int32(n) || res.LogAppendTime != -1 {
			t.Fatalf("append %d: %+v, want base %d", i, res, next)
		}
		h, err := ValidateBatch(b)
		if err != nil || h.BaseOffset != next || h.PartitionLeaderEpoch != 4 {
			t.Fatalf("batch not stamped in place: %+v %v", h, err)
		}
		next += int64(n)
	}
	if l.LogEndOffset() != next || l.LogStartOffset() != 0 {
		t.Fatalf("end %d start %d", l.LogEndOffset(), l.LogStartOffset())
	}
	hs, _ := readAllBatches(t, l)
	if len(hs) != len(sizes) {
		t.Fatalf("read %d batches", len(hs))
	}
	if e, ok := l.LatestEpoch(); !ok || e != 4 {
		t.Fatalf("LatestEpoch = %d %v", e, ok)
	}
}

func TestAppendRejects(t *testing.T) {
	cfg := testConfig(nil)
	cfg.MaxBatchBytes = 300
	good := simpleBatch(2, 1, 10)
	corrupt := bytes.Clone(good)
	corrupt[len(corrupt)-1] ^= 0xff
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"crc", corrupt, ErrCorruptBatch},
		{"short", good[:30], ErrCorruptBatch},
		{"too large", simpleBatch(1, 1, 400), ErrBatchTooLarge},
		{"two batches", append(bytes.Clone(good), good...), ErrCorruptBatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, _ := memLog(t, cfg)
			defer l.Close()
			mustAppend(t, l, good, 0)
			size := l.Size()
			if _, err := l.Append(tc.b, 0); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if l.LogEndOffset() != 2 || l.Size() != size {
				t.Fatalf("something was written: end %d size %d", l.LogEndOffset(), l.Size())
			}
		})
	}
}

func TestAppendLogAppendTime(t *testing.T) {
	clock := newFakeClock()
	cfg := testConfig(clock)
	cfg.LogAppendTime = true
	l, _ := memLog(t, cfg)
	defer l.Close()
	res := mustAppend(t, l, simpleBatch(3, 5, 0), 0)
	if res.LogAppendTime != clock.Ms() || res.MaxTimestamp != clock.Ms() {
		t.Fatalf("result %+v, want time %d", res, clock.Ms())
	}
	hs, bs := readAllBatches(t, l)
	if hs[0].TimestampType() != LogAppendTime || hs[0].MaxTimestamp != clock.Ms() {
		t.Fatalf("stored header %+v", hs[0])
	}
	if _, err := ValidateBatch(bs[0]); err != nil {
		t.Fatalf("stored batch invalid: %v", err)
	}
}

func TestAppendAfterClose(t *testing.T) {
	l, _ := memLog(t, testConfig(nil))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	checks := map[string]error{}
	_, checks["Append"] = l.Append(simpleBatch(1, 1, 1), 0)
	_, checks["AppendReplicated"] = l.AppendReplicated(simpleBatch(1, 1, 1))
	_, checks["Read"] = l.Read(0, 100, 1)
	checks["Roll"] = l.Roll()
	checks["TruncateTo"] = l.TruncateTo(0)
	checks["Flush"] = l.Flush()
	_, checks["ApplyRetention"] = l.ApplyRetention()
	checks["DeleteRecordsBefore"] = l.DeleteRecordsBefore(0)
	checks["Close"] = l.Close()
	for name, err := range checks {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
}

func TestConcurrentAppendsAreDense(t *testing.T) {
	for _, fsync := range []bool{false, true} {
		cfg := testConfig(nil)
		cfg.FsyncOnAck = fsync
		l, _ := memLog(t, cfg)
		const writers, per = 8, 50
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range per {
					if _, err := l.Append(simpleBatch(1+(w+i)%3, int64(i), 20), 1); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		hs, _ := readAllBatches(t, l)
		if len(hs) != writers*per {
			t.Fatalf("fsync=%v: %d batches, want %d", fsync, len(hs), writers*per)
		}
		checkIndexes(t, l)
		l.Close()
	}
}

func TestAppendZeroAllocs(t *testing.T) {
	cfg := DefaultConfig()
	cfg.IndexIntervalBytes = 100 // index entries on most appends
	l := openLog(t, vfs.OS{}, t.TempDir(), cfg)
	defer l.Close()
	b := simpleBatch(10, 1000, 100)
	mustAppend(t, l, b, 1) // first append records the epoch
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := l.Append(b, 1); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Append allocates %.1f times per call", allocs)
	}
}

func TestRollTriggers(t *testing.T) {
	tests := []struct {
		name   string
		config func(c *Config)
		step   func(t *testing.T, l *Log, clock *fakeClock, i int)
		want   int // segments after 10 appends
	}{
		{name: "segment.bytes", config: func(c *Config) { c.SegmentBytes = 1000 }, want: 5}, // 479-byte batches, 2 per segment
		{name: "index full", config: func(c *Config) { c.IndexIntervalBytes = 1; c.MaxIndexBytes = 48 }, want: 2},
		{name: "segment.ms", config: func(c *Config) { c.SegmentMs = time.Hour }, step: func(t *testing.T, l *Log, clock *fakeClock, i int) {
			if i == 4 {
				clock.Advance(2 * time.Hour)
			}
		}, want: 2},
		{name: "forced roll", step: func(t *testing.T, l *Log, clock *fakeClock, i int) {
			if i%5 == 4 {
				if err := l.Roll(); err != nil {
					t.Fatal(err)
				}
				if err := l.Roll(); err != nil { // empty active: no-op
					t.Fatal(err)
				}
			}
		}, want: 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			cfg := testConfig(clock)
			cfg.SegmentBytes = 1 << 20
			if tc.config != nil {
				tc.config(&cfg)
			}
			l, fsys := memLog(t, cfg)
			defer l.Close()
			for i := range 10 {
				mustAppend(t, l, simpleBatch(2, clock.Ms(), 200), 0)
				if tc.step != nil {
					tc.step(t, l, clock, i)
				}
			}
			if got := l.SegmentCount(); got != tc.want {
				t.Fatalf("%d segments, want %d", got, tc.want)
			}
			if got := len(segmentFiles(t, fsys, l.Dir())); got != tc.want {
				t.Fatalf("%d .log files, want %d", got, tc.want)
			}
			hs, _ := readAllBatches(t, l)
			if len(hs) != 10 {
				t.Fatalf("%d batches", len(hs))
			}
			checkIndexes(t, l)
		})
	}
}

func TestAppendReplicated(t *testing.T) {
	mk := func(base int64, n int, epoch int32) []byte {
		return buildBatch(batchSpec{base: base, n: n, epoch: epoch, baseTs: 10})
	}
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	bad := mk(3, 2, 1)
	bad[len(bad)-1] ^= 1
	tests := []struct {
		name     string
		in       []byte
		wantLast int64
		wantErr  error
		epochs   []epochEntry
	}{
		{name: "one", in: mk(3, 2, 1), wantLast: 4, epochs: []epochEntry{{0, 0}, {1, 3}}},
		{name: "several with new epoch", in: cat(mk(3, 2, 0), mk(5, 1, 2), mk(6, 4, 2), mk(10, 1, 5)), wantLast: 10,
			epochs: []epochEntry{{0, 0}, {2, 5}, {5, 10}}},
		{name: "empty", in: nil, wantLast: 2, epochs: []epochEntry{{0, 0}}},
		{name: "wrong start", in: mk(4, 2, 0), wantErr: ErrOffsetMismatch},
		{name: "gap", in: cat(mk(3, 2, 0), mk(6, 1, 0)), wantErr: ErrOffsetMismatch},
		{name: "bad crc", in: bad, wantErr: ErrCorruptBatch},
		{name: "truncated", in: mk(3, 2, 0)[:70], wantErr: ErrCorruptBatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, _ := memLog(t, testConfig(nil))
			defer l.Close()
			mustAppend(t, l, simpleBatch(3, 5, 0), 0)
			last, err := l.AppendReplicated(tc.in)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				if l.LogEndOffset() != 3 {
					t.Fatalf("end moved to %d after a rejected append", l.LogEndOffset())
				}
				return
			}
			if last != tc.wantLast || l.LogEndOffset() != last+1 {
				t.Fatalf("last %d end %d, want %d", last, l.LogEndOffset(), tc.wantLast)
			}
			if got := l.epochs.snapshot(); !equalEpochs(got, tc.epochs) {
				t.Fatalf("epochs %v, want %v", got, tc.epochs)
			}
			readAllBatches(t, l)
			checkIndexes(t, l)
		})
	}
}

func equalEpochs(a, b []epochEntry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
