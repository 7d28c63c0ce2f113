package log

import (
	"bytes"
	"errors"
	"testing"
)

func TestTruncateTo(t *testing.T) {
	// Batches of 2 records; 2 batches (4 offsets) per segment: segments
	// start at 0, 4, 8, 12, 16; log end 20. Epoch 1 from 0, 2 from 8, 3 from 14.
	setup := func(t *testing.T) *Log {
		cfg := testConfig(nil)
		cfg.SegmentBytes = 1000
		cfg.IndexIntervalBytes = 1
		l, _ := memLog(t, cfg)
		for i := range 10 {
			epoch := int32(1)
			if i >= 4 {
				epoch = 2
			}
			if i >= 7 {
				epoch = 3
			}
			mustAppend(t, l, simpleBatch(2, int64(100+i), 200), epoch)
		}
		return l
	}
	tests := []struct {
		name     string
		offset   int64
		start    int64 // DeleteRecordsBefore first
		wantEnd  int64
		wantSegs int
		wantErr  error
		epochs   []epochEntry
	}{
		{name: "at end", offset: 20, wantEnd: 20, wantSegs: 5, epochs: []epochEntry{{1, 0}, {2, 8}, {3, 14}}},
		{name: "beyond end", offset: 25, wantEnd: 20, wantSegs: 5, epochs: []epochEntry{{1, 0}, {2, 8}, {3, 14}}},
		{name: "last batch", offset: 18, wantEnd: 18, wantSegs: 5, epochs: []epochEntry{{1, 0}, {2, 8}, {3, 14}}},
		{name: "mid batch", offset: 15, wantEnd: 14, wantSegs: 4, epochs: []epochEntry{{1, 0}, {2, 8}}},
		{name: "segment boundary", offset: 12, wantEnd: 12, wantSegs: 4, epochs: []epochEntry{{1, 0}, {2, 8}}},
		{name: "into first segment", offset: 2, wantEnd: 2, wantSegs: 1, epochs: []epochEntry{{1, 0}}},
		{name: "to zero", offset: 0, wantEnd: 0, wantSegs: 1, epochs: []epochEntry{}},
		{name: "below start", offset: 3, start: 6, wantErr: ErrOffsetOutOfRange, wantEnd: 20, wantSegs: 4, epochs: []epochEntry{{1, 6}, {2, 8}, {3, 14}}},
		{name: "start inside the batch", offset: 7, start: 7, wantEnd: 7, wantSegs: 1, epochs: []epochEntry{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := setup(t)
			if tc.start > 0 {
				if err := l.DeleteRecordsBefore(tc.start); err != nil {
					t.Fatal(err)
				}
			}
			err := l.TruncateTo(tc.offset)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			wantSegs := tc.wantSegs
			check := func(l *Log, when string) {
				t.Helper()
				if l.LogEndOffset() != tc.wantEnd || (wantSegs > 0 && l.SegmentCount() != wantSegs) {
					t.Fatalf("%s: end %d, %d segments; want %d, %d", when, l.LogEndOffset(), l.SegmentCount(), tc.wantEnd, tc.wantSegs)
				}
				if got := l.epochs.snapshot(); !equalEpochs(got, tc.epochs) {
					t.Fatalf("%s: epochs %v, want %v", when, got, tc.epochs)
				}
				readAllBatches(t, l)
				checkIndexes(t, l)
			}
			check(l, "after truncate")
			// Appends continue densely after truncation.
			res := mustAppend(t, l, simpleBatch(3, 500, 10), 4)
			if res.BaseOffset != tc.wantEnd {
				t.Fatalf("next append at %d, want %d", res.BaseOffset, tc.wantEnd)
			}
			if err := l.TruncateTo(tc.wantEnd); err != nil {
				t.Fatal(err)
			}
			// The append may have rolled; a segment based at the cut stays
			// (empty), as in Kafka.
			wantSegs = l.SegmentCount()
			if wantSegs != tc.wantSegs && wantSegs != tc.wantSegs+1 {
				t.Fatalf("%d segments after append and truncate", wantSegs)
			}
			check(l, "after append and truncate")
			// And the state survives reopening, cleanly or not.
			fsys, dir, cfg := l.fs, l.Dir(), *l.cfg.Load()
			l2 := openLog(t, fsys, dir, cfg) // l not closed: unclean
			check(l2, "unclean reopen")
			if err := l2.Close(); err != nil {
				t.Fatal(err)
			}
			l3 := openLog(t, fsys, dir, cfg)
			check(l3, "clean reopen")
			l3.Close()
		})
	}
}

func TestTruncateFullyAndStartAt(t *testing.T) {
	cfg := testConfig(nil)
	cfg.SegmentBytes = 1000
	for _, offset := range []int64{0, 5, 100} {
		l, fsys := memLog(t, cfg)
		for i := range 6 {
			mustAppend(t, l, simpleBatch(2, int64(i), 200), 1)
		}
		if err := l.TruncateFullyAndStartAt(offset); err != nil {
			t.Fatal(err)
		}
		if l.LogStartOffset() != offset || l.LogEndOffset() != offset || l.SegmentCount() != 1 {
			t.Fatalf("offset %d: start %d end %d segs %d", offset, l.LogStartOffset(), l.LogEndOffset(), l.SegmentCount())
		}
		if _, ok := l.LatestEpoch(); ok {
			t.Fatalf("epochs not cleared")
		}
		res := mustAppend(t, l, simpleBatch(1, 9, 1), 2)
		if res.BaseOffset != offset {
			t.Fatalf("append at %d, want %d", res.BaseOffset, offset)
		}
		l2 := openLog(t, fsys, l.Dir(), cfg)
		if l2.LogStartOffset() != offset || l2.LogEndOffset() != offset+1 {
			t.Fatalf("reopen: start %d end %d", l2.LogStartOffset(), l2.LogEndOffset())
		}
		if got := segmentFiles(t, fsys, l.Dir()); len(got) != 1 || got[0] != segmentName(offset)+".log" {
			t.Fatalf("files %v", got)
		}
		l2.Close()
	}
}

func TestTruncateKeepsOutstandingReadsSafe(t *testing.T) {
	cfg := testConfig(nil)
	cfg.SegmentBytes = 1000
	l, _ := memLog(t, cfg)
	defer l.Close()
	for i := range 6 {
		mustAppend(t, l, simpleBatch(2, int64(i), 200), 1)
	}
	r, err := l.Read(8, 1<<20, l.LogEndOffset()) // third segment
	if err != nil {
		t.Fatal(err)
	}
	want, err := r.AppendTo(nil)
	if err != nil || len(want) == 0 {
		t.Fatal(err)
	}
	if err := l.TruncateTo(2); err != nil {
		t.Fatal(err)
	}
	got, err := r.AppendTo(nil)
	r.Release()
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read of a segment deleted by truncation: %v", err)
	}
}

// A leader epoch that started at the log end and wrote nothing is dropped by
// a truncation to the end: a follower must not keep reporting it.
func TestTruncateToEndDropsEmptyEpoch(t *testing.T) {
	l, _ := memLog(t, testConfig(nil))
	mustAppend(t, l, simpleBatch(2, 100, 200), 1)
	if err := l.AssignEpochStartOffset(2, l.LogEndOffset()); err != nil {
		t.Fatal(err)
	}
	if e, _ := l.LatestEpoch(); e != 2 {
		t.Fatalf("latest epoch %d, want 2", e)
	}
	if err := l.TruncateTo(l.LogEndOffset()); err != nil {
		t.Fatal(err)
	}
	if e, _ := l.LatestEpoch(); e != 1 || l.LogEndOffset() != 2 {
		t.Fatalf("latest epoch %d, end %d; want 1, 2", e, l.LogEndOffset())
	}
}
