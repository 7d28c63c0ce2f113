package log

import (
	"testing"
)

func TestOffsetForTimestamp(t *testing.T) {
	cfg := testConfig(nil)
	cfg.SegmentBytes = 700
	cfg.IndexIntervalBytes = 1
	l, _ := memLog(t, cfg)
	defer l.Close()
	// offsets: batch 0: 0-2 ts 100,130,110; batch 1: 3-4 ts 90,200;
	// batch 2 (compressed): 5-7 max ts 300; batch 3: 8 ts 250; batch 4: 9-10 ts 400,350
	specs := []batchSpec{
		{baseTs: 100, tsDeltas: []int64{0, 30, 10}},
		{baseTs: 90, tsDeltas: []int64{0, 110}},
		{baseTs: 260, tsDeltas: []int64{0, 40, 20}, compression: CompressionGzip},
		{baseTs: 250, tsDeltas: []int64{0}},
		{baseTs: 350, tsDeltas: []int64{50, 0}},
	}
	for _, sp := range specs {
		sp.valueSize = 150
		mustAppend(t, l, buildBatch(sp), 0)
	}
	if l.SegmentCount() < 2 {
		t.Fatalf("want several segments, got %d", l.SegmentCount())
	}
	tests := []struct {
		ts      int64
		wantOff int64
		wantTs  int64
		ok      bool
	}{
		{0, 0, 100, true},
		{100, 0, 100, true},
		{101, 1, 130, true},
		{130, 1, 130, true},
		{131, 4, 200, true},
		{200, 4, 200, true},
		{201, 5, 260, true}, // compressed batch: decompressed, exact record
		{300, 6, 300, true},
		{301, 9, 400, true},
		{351, 9, 400, true},
		{400, 9, 400, true},
		{401, -1, -1, false},
	}
	for _, tc := range tests {
		off, ts, ok := l.OffsetForTimestamp(tc.ts)
		if off != tc.wantOff || ts != tc.wantTs || ok != tc.ok {
			t.Errorf("OffsetForTimestamp(%d) = %d, %d, %v; want %d, %d, %v", tc.ts, off, ts, ok, tc.wantOff, tc.wantTs, tc.ok)
		}
	}
	if ts, off := l.MaxTimestamp(); ts != 400 || off != 9 {
		t.Errorf("MaxTimestamp = %d, %d; want 400, 9", ts, off)
	}
	// Below the log start only offsets >= start count.
	if err := l.DeleteRecordsBefore(2); err != nil {
		t.Fatal(err)
	}
	if off, ts, ok := l.OffsetForTimestamp(0); off != 2 || ts != 110 || !ok {
		t.Errorf("after DeleteRecordsBefore(2): %d %d %v, want 2 110 true", off, ts, ok)
	}
	if off, _, ok := l.OffsetForTimestamp(111); off != 4 || !ok {
		t.Errorf("after DeleteRecordsBefore(2): OffsetForTimestamp(111) = %d, want 4", off)
	}
	// Survives a clean reopen (sealed segments load their max timestamp lazily).
	fsys := l.fs
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, fsys, l.Dir(), cfg)
	defer l.Close()
	if off, ts, ok := l.OffsetForTimestamp(201); off != 5 || ts != 260 || !ok {
		t.Errorf("after reopen: %d %d %v", off, ts, ok)
	}
	if ts, off := l.MaxTimestamp(); ts != 400 || off != 9 {
		t.Errorf("after reopen MaxTimestamp = %d, %d", ts, off)
	}
}

func TestMaxTimestampCases(t *testing.T) {
	tests := []struct {
		name    string
		specs   []batchSpec
		wantTs  int64
		wantOff int64
	}{
		{"empty", nil, -1, -1},
		{"first of equal", []batchSpec{{baseTs: 10, tsDeltas: []int64{0, 5, 5}}, {baseTs: 15, tsDeltas: []int64{0}}}, 15, 1},
		{"compressed", []batchSpec{{baseTs: 10, tsDeltas: []int64{0}}, {baseTs: 10, tsDeltas: []int64{9, 0}, compression: CompressionZstd}}, 19, 1},
		{"later batch", []batchSpec{{baseTs: 10, tsDeltas: []int64{0, 1}}, {baseTs: 5, tsDeltas: []int64{0, 20, 1}}}, 25, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, _ := memLog(t, testConfig(nil))
			defer l.Close()
			for _, sp := range tc.specs {
				mustAppend(t, l, buildBatch(sp), 0)
			}
			if ts, off := l.MaxTimestamp(); ts != tc.wantTs || off != tc.wantOff {
				t.Fatalf("MaxTimestamp = %d, %d; want %d, %d", ts, off, tc.wantTs, tc.wantOff)
			}
		})
	}
}
