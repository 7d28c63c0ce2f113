package log

import (
	"errors"
	"testing"
	"time"
)

func TestApplyRetention(t *testing.T) {
	// Five segments of two batches each (~480 bytes per batch); batch i has
	// timestamp base+i minutes.
	setup := func(t *testing.T, clock *fakeClock, mod func(c *Config)) *Log {
		cfg := testConfig(clock)
		cfg.SegmentBytes = 1000
		mod(&cfg)
		l, _ := memLog(t, cfg)
		base := clock.Ms()
		for i := range 10 {
			mustAppend(t, l, simpleBatch(2, base+int64(i)*60_000, 200), 0)
		}
		if l.SegmentCount() != 5 {
			t.Fatalf("setup: %d segments", l.SegmentCount())
		}
		return l
	}
	tests := []struct {
		name      string
		config    func(c *Config)
		advance   time.Duration
		before    func(t *testing.T, l *Log)
		want      int // segments deleted
		wantStart int64
	}{
		{name: "keep forever", config: func(c *Config) { c.RetentionMs = -1 }, advance: 1000 * time.Hour},
		{name: "time: none expired", config: func(c *Config) { c.RetentionMs = time.Hour }, advance: 30 * time.Minute},
		{name: "time: two expired", config: func(c *Config) { c.RetentionMs = time.Hour }, advance: 64*time.Minute + 30*time.Second, want: 2, wantStart: 8},
		{name: "time: never the active segment", config: func(c *Config) { c.RetentionMs = time.Minute }, advance: 1000 * time.Hour, want: 4, wantStart: 16},
		{name: "size", config: func(c *Config) { c.RetentionBytes = 2000 }, want: 2, wantStart: 8}, // 958-byte segments
		{name: "size: exact fit keeps", config: func(c *Config) { c.RetentionBytes = 0 }, want: 4, wantStart: 16},
		{name: "below log start", config: func(c *Config) {}, before: func(t *testing.T, l *Log) {
			l.startOffset.Store(9) // as after a DeleteRecordsBefore that crashed before deleting
		}, want: 2, wantStart: 9},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			l := setup(t, clock, tc.config)
			defer l.Close()
			if tc.before != nil {
				tc.before(t, l)
			}
			clock.Advance(tc.advance)
			sizeBefore := l.Size()
			n, err := l.ApplyRetention()
			if err != nil {
				t.Fatal(err)
			}
			if n != tc.want || l.SegmentCount() != 5-tc.want {
				t.Fatalf("deleted %d (%d left), want %d", n, l.SegmentCount(), tc.want)
			}
			if l.LogStartOffset() != tc.wantStart {
				t.Fatalf("start %d, want %d", l.LogStartOffset(), tc.wantStart)
			}
			if tc.want > 0 && l.Size() >= sizeBefore {
				t.Fatalf("size %d not below %d", l.Size(), sizeBefore)
			}
			if got := len(segmentFiles(t, l.fs, l.Dir())); got != 5-tc.want {
				t.Fatalf("%d .log files left", got)
			}
			readAllBatches(t, l)
			checkIndexes(t, l)
		})
	}
}

func TestDeleteRecordsBefore(t *testing.T) {
	cfg := testConfig(nil)
	cfg.SegmentBytes = 1000
	l, fsys := memLog(t, cfg)
	for i := range 10 {
		mustAppend(t, l, simpleBatch(2, int64(i), 200), 0) // offsets 0..19, 2 batches per segment
	}
	if err := l.AssignEpochStartOffset(3, 5); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		offset    int64
		wantErr   error
		wantStart int64
		wantSegs  int
	}{
		{offset: 0, wantStart: 0, wantSegs: 5},
		{offset: 3, wantStart: 3, wantSegs: 5},
		{offset: 2, wantStart: 3, wantSegs: 5}, // never backwards
		{offset: 9, wantStart: 9, wantSegs: 3}, // segments [0,4) and [4,8) go
		{offset: 21, wantErr: ErrOffsetOutOfRange, wantStart: 9, wantSegs: 3},
		{offset: 20, wantStart: 20, wantSegs: 1},
	}
	for _, tc := range tests {
		err := l.DeleteRecordsBefore(tc.offset)
		if !errors.Is(err, tc.wantErr) {
			t.Fatalf("DeleteRecordsBefore(%d) = %v, want %v", tc.offset, err, tc.wantErr)
		}
		if l.LogStartOffset() != tc.wantStart || l.SegmentCount() != tc.wantSegs {
			t.Fatalf("after DeleteRecordsBefore(%d): start %d, %d segments; want %d, %d",
				tc.offset, l.LogStartOffset(), l.SegmentCount(), tc.wantStart, tc.wantSegs)
		}
		if _, err := l.Read(tc.wantStart-1, 100, l.LogEndOffset()); tc.wantStart > 0 && !errors.Is(err, ErrOffsetOutOfRange) {
			t.Fatalf("read below start: %v", err)
		}
	}
	if got := l.epochs.snapshot(); !equalEpochs(got, []epochEntry{{3, 20}}) {
		t.Fatalf("epochs %v", got)
	}
	// The start is persisted: it survives an unclean reopen.
	l2 := openLog(t, fsys, l.Dir(), cfg)
	if l2.LogStartOffset() != 20 || l2.LogEndOffset() != 20 {
		t.Fatalf("reopened: start %d end %d", l2.LogStartOffset(), l2.LogEndOffset())
	}
	l2.Close()
}

func TestDeleteRecordsDoesNotBlockAppends(t *testing.T) {
	cfg := testConfig(nil)
	cfg.SegmentBytes = 1000
	l, _ := memLog(t, cfg)
	defer l.Close()
	for i := range 6 {
		mustAppend(t, l, simpleBatch(2, int64(i), 200), 0)
	}
	// Hold the head lock as a long deletion would; appends and reads of
	// the tail must go on.
	l.trimMu.Lock()
	done := make(chan error, 1)
	go func() {
		for i := range 10 {
			if _, err := l.Append(simpleBatch(2, int64(i), 200), 0); err != nil {
				done <- err
				return
			}
		}
		r, err := l.Read(l.LogEndOffset()-1, 100, l.LogEndOffset())
		r.Release()
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("appends blocked by the head lock")
	}
	l.trimMu.Unlock()
}
