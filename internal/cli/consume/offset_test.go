package consume

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseOffset(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	for _, tc := range []struct {
		in   string
		want offsetSpec
		err  bool
	}{
		{"start", offsetSpec{kind: offsetStart}, false},
		{"OLDEST", offsetSpec{kind: offsetStart}, false},
		{"earliest", offsetSpec{kind: offsetStart}, false},
		{"end", offsetSpec{kind: offsetEnd}, false},
		{"latest", offsetSpec{kind: offsetEnd}, false},
		{"0", offsetSpec{kind: offsetExact, n: 0}, false},
		{"42", offsetSpec{kind: offsetExact, n: 42}, false},
		{"+3", offsetSpec{kind: offsetFromStart, n: 3}, false},
		{"-3", offsetSpec{kind: offsetFromEnd, n: 3}, false},
		{"@1600000000000", offsetSpec{kind: offsetTime, n: 1_600_000_000_000}, false},
		{"@2023-11-14T22:13:20Z", offsetSpec{kind: offsetTime, n: 1_700_000_000_000}, false},
		{"@2023-11-14T22:13:20.5+00:00", offsetSpec{kind: offsetTime, n: 1_700_000_000_500}, false},
		{"@-1m", offsetSpec{kind: offsetTime, n: 1_700_000_000_000 - 60_000}, false},
		{"", offsetSpec{}, true},
		{"yesterday", offsetSpec{}, true},
		{"+", offsetSpec{}, true},
		{"--3", offsetSpec{}, true},
		{"+-3", offsetSpec{}, true},
		{"1.5", offsetSpec{}, true},
		{"99999999999999999999", offsetSpec{}, true},
		{"@", offsetSpec{}, true},
		{"@-1", offsetSpec{}, true}, // a duration needs a unit
		{"@tomorrow", offsetSpec{}, true},
		{"@1969-01-01T00:00:00Z", offsetSpec{}, true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseOffset(tc.in, now)
			if (err != nil) != tc.err {
				t.Fatalf("err %v", err)
			}
			if err == nil && got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestResolveStaysInBounds(t *testing.T) {
	b := bounds{start: 10, end: 20}
	for _, tc := range []struct {
		spec offsetSpec
		at   int64
		want int64
	}{
		{offsetSpec{kind: offsetStart}, -1, 10},
		{offsetSpec{kind: offsetEnd}, -1, 20},
		{offsetSpec{kind: offsetExact, n: 15}, -1, 15},
		{offsetSpec{kind: offsetExact, n: 5}, -1, 10},
		{offsetSpec{kind: offsetExact, n: 25}, -1, 20},
		{offsetSpec{kind: offsetFromStart, n: 3}, -1, 13},
		{offsetSpec{kind: offsetFromStart, n: math.MaxInt64}, -1, 20},
		{offsetSpec{kind: offsetFromEnd, n: 3}, -1, 17},
		{offsetSpec{kind: offsetFromEnd, n: 100}, -1, 10},
		{offsetSpec{kind: offsetTime, n: 1}, 12, 12},
		{offsetSpec{kind: offsetTime, n: 1}, -1, 20},
		{offsetSpec{kind: offsetTime, n: 1}, 3, 10},
	} {
		if got := tc.spec.resolve(b, tc.at); got != tc.want {
			t.Errorf("%+v at %d: got %d, want %d", tc.spec, tc.at, got, tc.want)
		}
	}
	// kgoOffset never panics and renders something for every kind.
	for k := offsetStart; k <= offsetTime; k++ {
		if s := (offsetSpec{kind: k, n: 1}).kgoOffset().String(); s == "" {
			t.Errorf("kind %d: empty kgo offset", k)
		}
	}
}

func TestEndTracker(t *testing.T) {
	tr := newEndTracker(map[int32]partitionPlan{
		0: {bounds: bounds{start: 0, end: 3}, first: 0},
		1: {bounds: bounds{start: 5, end: 5}, first: 5}, // empty: done at once
		2: {bounds: bounds{start: 0, end: 10}, first: 8},
	})
	if tr.done() {
		t.Fatal("done before reading")
	}
	steps := []struct {
		p      int32
		offset int64
		within bool
		done   bool
	}{
		{0, 0, true, false},
		{0, 1, true, false},
		{2, 8, true, false},
		{2, 9, true, false},   // partition 2 reached 10
		{2, 10, false, false}, // produced after the start
		{0, 0, true, false},   // a replayed offset changes nothing
		{0, 2, true, true},
		{7, 0, false, true}, // unknown partition
	}
	for i, s := range steps {
		if got := tr.within(s.p, s.offset); got != s.within {
			t.Fatalf("step %d: within(%d, %d) = %v", i, s.p, s.offset, got)
		}
		if s.within {
			tr.observe(s.p, s.offset)
		}
		if tr.done() != s.done {
			t.Fatalf("step %d: done = %v, want %v", i, tr.done(), s.done)
		}
	}
	// A transaction marker as the last offset (a gap in printed records)
	// still completes the partition: observe sees control records too.
	tr = newEndTracker(map[int32]partitionPlan{0: {bounds: bounds{end: 4}}})
	tr.observe(0, 3)
	if !tr.done() {
		t.Fatal("not done after the offset below the target")
	}
}

func TestParsePartitions(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want []int32
		err  string
	}{
		{nil, nil, ""},
		{[]string{"3", "1", "3"}, []int32{1, 3}, ""},
		{[]string{"0-3", "2"}, []int32{0, 1, 2, 3}, ""},
		{[]string{" 5 "}, []int32{5}, ""},
		{[]string{"x"}, nil, "--partition"},
		{[]string{"-1"}, nil, "--partition"},
		{[]string{"3-1"}, nil, "--partition"},
		{[]string{"0-2147483647"}, nil, "more than"},
		{[]string{"2147483648"}, nil, "--partition"},
	} {
		got, err := parsePartitions(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%v: err %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%v: got %v (%v), want %v", tc.in, got, err, tc.want)
		}
	}
}
