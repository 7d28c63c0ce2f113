package consume

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// offsetKind says how --offset picks the first record of a partition.
type offsetKind int

const (
	offsetStart     offsetKind = iota // start: the log start offset
	offsetEnd                         // end: the high watermark (only new records)
	offsetExact                       // N: offset N
	offsetFromStart                   // +N: N records after the start
	offsetFromEnd                     // -N: N records before the end
	offsetTime                        // @T: the first record with timestamp >= T
)

// offsetSpec is a parsed --offset.
type offsetSpec struct {
	kind offsetKind
	// n is the offset (exact), the distance (relative) or unix
	// milliseconds (time).
	n int64
}

// parseOffset parses an --offset value:
//
//	start | oldest | earliest     the first offset still in the log
//	end | newest | latest         the high watermark: only new records
//	N                             offset N
//	+N                            N records after the start
//	-N                            N records before the end
//	@MS                           first record at or after unix milliseconds MS
//	@RFC3339                      first record at or after a time (2024-05-01T12:00:00Z)
//	@-DURATION                    first record at or after now minus a Go duration (@-1h30m)
//
// now is used for @-DURATION.
func parseOffset(s string, now time.Time) (offsetSpec, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "start", "oldest", "earliest", "beginning":
		return offsetSpec{kind: offsetStart}, nil
	case "end", "newest", "latest":
		return offsetSpec{kind: offsetEnd}, nil
	case "":
		return offsetSpec{}, errors.New("--offset is empty")
	}
	bad := func(why string) (offsetSpec, error) {
		return offsetSpec{}, fmt.Errorf("--offset %q: %s (want start, end, N, +N, -N, @unix-ms, @RFC3339 or @-duration)", s, why)
	}
	switch s[0] {
	case '@':
		t := s[1:]
		if ms, err := strconv.ParseInt(t, 10, 64); err == nil {
			if ms < 0 {
				return bad("negative timestamp")
			}
			return offsetSpec{kind: offsetTime, n: ms}, nil
		}
		if strings.HasPrefix(t, "-") {
			d, err := time.ParseDuration(t[1:])
			if err != nil || d < 0 {
				return bad("bad duration")
			}
			return offsetSpec{kind: offsetTime, n: max(0, now.Add(-d).UnixMilli())}, nil
		}
		ts, err := time.Parse(time.RFC3339Nano, t)
		if err != nil {
			return bad("not unix milliseconds, RFC3339 or -duration")
		}
		if ts.UnixMilli() < 0 {
			return bad("time before 1970")
		}
		return offsetSpec{kind: offsetTime, n: ts.UnixMilli()}, nil
	case '+', '-':
		n, err := strconv.ParseInt(s[1:], 10, 64)
		if err != nil || n < 0 || s[1] == '+' || s[1] == '-' {
			return bad("not a relative count")
		}
		if s[0] == '+' {
			return offsetSpec{kind: offsetFromStart, n: n}, nil
		}
		return offsetSpec{kind: offsetFromEnd, n: n}, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return bad("not an offset")
	}
	return offsetSpec{kind: offsetExact, n: n}, nil
}

// kgoOffset is the spec as a kgo reset offset, for group consumers whose
// partitions without a committed offset start there.
func (o offsetSpec) kgoOffset() kgo.Offset {
	switch o.kind {
	case offsetEnd:
		return kgo.NewOffset().AtEnd()
	case offsetExact:
		return kgo.NewOffset().At(o.n)
	case offsetFromStart:
		return kgo.NewOffset().AtStart().Relative(o.n)
	case offsetFromEnd:
		return kgo.NewOffset().AtEnd().Relative(-o.n)
	case offsetTime:
		return kgo.NewOffset().AfterMilli(o.n)
	}
	return kgo.NewOffset().AtStart()
}

// bounds are a partition's log start offset and high watermark.
type bounds struct {
	start, end int64
}

// resolve returns the exact first offset for a partition with the given
// bounds; the result always lies in [start, end]. at is the answer of a
// by-time ListOffsets for offsetTime specs (-1 when none).
func (o offsetSpec) resolve(b bounds, at int64) int64 {
	clamp := func(x int64) int64 { return min(max(x, b.start), b.end) }
	switch o.kind {
	case offsetEnd:
		return b.end
	case offsetExact:
		return clamp(o.n)
	case offsetFromStart:
		if o.n > math.MaxInt64-b.start {
			return b.end
		}
		return clamp(b.start + o.n)
	case offsetFromEnd:
		return clamp(b.end - o.n)
	case offsetTime:
		if at < 0 {
			return b.end
		}
		return clamp(at)
	}
	return b.start
}

// partitionPlan is where one partition starts and, for --exit-at-end, where
// it ends.
type partitionPlan struct {
	bounds
	first int64
}

// plan resolves spec for every partition of topic in parts, using
// ListOffsets: earliest, latest (the last stable offset when readCommitted)
// and, for @T, by time.
func plan(ctx context.Context, adm *kadm.Client, topic string, parts []int32, spec offsetSpec, readCommitted bool) (map[int32]partitionPlan, error) {
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("list start offsets: %w", err)
	}
	listEnds := adm.ListEndOffsets
	if readCommitted {
		listEnds = adm.ListCommittedOffsets
	}
	ends, err := listEnds(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("list end offsets: %w", err)
	}
	var byTime kadm.ListedOffsets
	if spec.kind == offsetTime {
		if byTime, err = adm.ListOffsetsAfterMilli(ctx, spec.n, topic); err != nil {
			return nil, fmt.Errorf("list offsets by time: %w", err)
		}
	}
	out := make(map[int32]partitionPlan, len(parts))
	for _, p := range parts {
		s, ok1 := starts.Lookup(topic, p)
		e, ok2 := ends.Lookup(topic, p)
		switch {
		case !ok1 || !ok2:
			return nil, fmt.Errorf("partition %d: no offsets returned", p)
		case s.Err != nil:
			return nil, fmt.Errorf("partition %d: log start offset: %w", p, s.Err)
		case e.Err != nil:
			return nil, fmt.Errorf("partition %d: high watermark: %w", p, e.Err)
		}
		b := bounds{start: s.Offset, end: e.Offset}
		at := int64(-1)
		if spec.kind == offsetTime {
			t, ok := byTime.Lookup(topic, p)
			if !ok || t.Err != nil {
				return nil, fmt.Errorf("partition %d: offset for time %d: missing or failed (%v)", p, spec.n, t.Err)
			}
			at = t.Offset
		}
		out[p] = partitionPlan{bounds: b, first: spec.resolve(b, at)}
	}
	return out, nil
}

// endTracker decides --exit-at-end: a partition is done once the consumer
// has passed the high watermark it had when the command started. It is fed
// every record offset, control records included (a transaction marker may
// be the last offset below the high watermark).
type endTracker struct {
	// target is the high watermark at start; next is the next offset the
	// consumer will read. Partitions with next >= target are done.
	target, next map[int32]int64
	pending      int
}

func newEndTracker(plans map[int32]partitionPlan) *endTracker {
	t := &endTracker{target: make(map[int32]int64, len(plans)), next: make(map[int32]int64, len(plans))}
	for p, pl := range plans {
		t.target[p], t.next[p] = pl.end, pl.first
		if pl.first < pl.end {
			t.pending++
		}
	}
	return t
}

// observe records that the record at offset in partition p was consumed.
func (t *endTracker) observe(p int32, offset int64) {
	target, ok := t.target[p]
	if !ok || offset < t.next[p] {
		return
	}
	wasPending := t.next[p] < target
	t.next[p] = offset + 1
	if wasPending && t.next[p] >= target {
		t.pending--
	}
}

// done reports whether every partition reached its target.
func (t *endTracker) done() bool { return t.pending == 0 }

// within reports whether offset lies below partition p's target, that is,
// whether the record existed when the command started. Records produced
// later are not printed with --exit-at-end.
func (t *endTracker) within(p int32, offset int64) bool {
	target, ok := t.target[p]
	return ok && offset < target
}
