package integration

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/compress"
	"github.com/samsa-streaming/samsa/internal/testutil/batchtest"
)

// tsBatch is a batch given by its records' timestamps (ms relative to a
// base time) and codec.
type tsBatch struct {
	codec compress.Codec
	ts    []int64
}

// encodeTSBatch builds the batch with absolute timestamps base+ts.
func encodeTSBatch(b tsBatch, base int64) []byte {
	bt := batchtest.New(0, base+b.ts[0])
	bt.Codec = b.codec
	for i, ts := range b.ts {
		bt.Records = append(bt.Records, batchtest.Record{
			Value: fmt.Appendf(nil, "ts %d", ts), TimestampDelta: ts - b.ts[0],
			Key: fmt.Appendf(nil, "r%d", i),
		})
	}
	return bt.Encode()
}

// expectedForTimestamp is the reference answer to ListOffsets(t): the first
// offset (in log order) whose timestamp is >= t, and that timestamp; -1, -1
// when there is none.
func expectedForTimestamp(all []int64, t int64) (int64, int64) {
	for off, ts := range all {
		if ts >= t {
			return int64(off), ts
		}
	}
	return -1, -1
}

// expectedMaxTimestamp is the reference answer to ListOffsets(-3): the
// first offset carrying the largest timestamp.
func expectedMaxTimestamp(all []int64) (int64, int64) {
	best := 0
	for off, ts := range all {
		if ts > all[best] {
			best = off
		}
	}
	return int64(best), all[best]
}

// TestListOffsetsByTimestamp stores batches with known, partly
// non-monotonic timestamps (compressed and not) under several segment and
// index layouts, then asks ListOffsets for every timestamp boundary (each
// stored timestamp, one below, one above, before all, after all) and for
// earliest, latest and max timestamp, comparing with a linear scan.
func TestListOffsetsByTimestamp(t *testing.T) {
	datasets := []struct {
		name    string
		batches []tsBatch
	}{
		{name: "mixed", batches: []tsBatch{
			{ts: []int64{1000, 1000, 1001}},
			{ts: []int64{2000}},
			{codec: compress.Gzip, ts: []int64{1500, 3000, 2500}},
			{ts: []int64{2999}},
			{ts: []int64{5000, 5000}},
			{codec: compress.LZ4, ts: []int64{4000}},
			{codec: compress.Zstd, ts: []int64{6000, 6001, 5999}},
			{ts: []int64{5500}},
		}},
		{name: "max timestamp tied across batches", batches: []tsBatch{
			{ts: []int64{10, 20}},
			{codec: compress.Snappy, ts: []int64{5, 20, 15}},
			{ts: []int64{19}},
		}},
		{name: "one record", batches: []tsBatch{{ts: []int64{777}}}},
	}
	layouts := []struct {
		name    string
		configs map[string]*string
	}{
		{name: "one segment"},
		{name: "a segment per batch", configs: map[string]*string{"segment.bytes": ptr("100")}},
		{name: "every batch indexed", configs: map[string]*string{"index.interval.bytes": ptr("1"), "segment.bytes": ptr("300")}},
	}
	nd := startNode(t, nil)
	ctx := testContext(t, time.Minute)
	adm := newAdmin(t, nd.addr)
	c := dialRaw(t, nd.addr)
	base := time.Now().Add(-time.Minute).UnixMilli()
	for di, ds := range datasets {
		for li, lay := range layouts {
			t.Run(ds.name+"/"+lay.name, func(t *testing.T) {
				topic := fmt.Sprintf("list-offsets-%d-%d", di, li)
				createTopic(ctx, t, adm, topic, 1, lay.configs)
				var all []int64 // absolute timestamp per offset
				for _, b := range ds.batches {
					p, err := produceRaw(c, topic, 0, encodeTSBatch(b, base))
					if err != nil || p.ErrorCode != 0 {
						t.Fatalf("produce: %v, code %s", err, codeName(p.ErrorCode))
					}
					for _, ts := range b.ts {
						all = append(all, base+ts)
					}
				}
				queries := []int64{0, base - 1}
				for _, ts := range all {
					queries = append(queries, ts-1, ts, ts+1)
				}
				slices.Sort(queries)
				queries = slices.Compact(queries)
				for _, q := range queries {
					wantOff, wantTS := expectedForTimestamp(all, q)
					off, ts := listOffsetRaw(t, c, topic, 0, q)
					if off != wantOff || ts != wantTS {
						t.Errorf("timestamp base%+d: offset %d timestamp base%+d, want offset %d timestamp base%+d",
							q-base, off, ts-base, wantOff, wantTS-base)
					}
				}
				if off, _ := listOffsetRaw(t, c, topic, 0, -2); off != 0 {
					t.Errorf("earliest: %d, want 0", off)
				}
				if off, _ := listOffsetRaw(t, c, topic, 0, -1); off != int64(len(all)) {
					t.Errorf("latest: %d, want %d", off, len(all))
				}
				wantOff, wantTS := expectedMaxTimestamp(all)
				if off, ts := listOffsetRaw(t, c, topic, 0, -3); off != wantOff || ts != wantTS {
					t.Errorf("max timestamp: offset %d timestamp base%+d, want offset %d timestamp base%+d", off, ts-base, wantOff, wantTS-base)
				}
			})
		}
	}
}

// TestListOffsetsEmptyAndClients covers an empty partition (every query
// answers the log start, latest, or -1) and the same answers through
// franz-go's admin client.
func TestListOffsetsEmptyAndClients(t *testing.T) {
	nd := startNode(t, nil)
	ctx := testContext(t, time.Minute)
	adm := newAdmin(t, nd.addr)
	const topic = "list-offsets-empty"
	createTopic(ctx, t, adm, topic, 2, nil)
	c := dialRaw(t, nd.addr)
	for _, tc := range []struct {
		ts      int64
		wantOff int64
	}{{-1, 0}, {-2, 0}, {-3, -1}, {0, -1}, {time.Now().UnixMilli(), -1}} {
		if off, _ := listOffsetRaw(t, c, topic, 1, tc.ts); off != tc.wantOff {
			t.Errorf("empty partition, timestamp %d: offset %d, want %d", tc.ts, off, tc.wantOff)
		}
	}
	base := time.Now().Add(-time.Minute).UnixMilli()
	p, err := produceRaw(c, topic, 1, encodeTSBatch(tsBatch{ts: []int64{100, 200, 300}}, base))
	if err != nil || p.ErrorCode != 0 {
		t.Fatalf("produce: %v, code %s", err, codeName(p.ErrorCode))
	}
	for _, tc := range []struct {
		ts      int64
		wantOff int64
	}{{-1, 3}, {-2, 0}, {-3, 2}, {base + 150, 1}, {base + 200, 1}, {base + 301, -1}} {
		got := listOffsets(ctx, t, adm, topic, tc.ts)[1]
		// kadm reports "no offset for this timestamp" as the end offset.
		want := tc.wantOff
		if tc.ts >= 0 && want == -1 {
			want = 3
		}
		if got[0] != want {
			t.Errorf("franz-go admin, timestamp %d: offset %d, want %d", tc.ts, got[0], want)
		}
	}
}

func ptr(s string) *string { return &s }
