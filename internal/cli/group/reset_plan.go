package group

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// This file holds the pure part of reset-offsets: parsing the scope and the
// scenario, and computing the new offset of every partition from the
// offsets listed by the brokers. reset_offsets.go does the I/O.

// scenarioKind is how reset-offsets picks the new offsets.
type scenarioKind int

const (
	toEarliest scenarioKind = iota + 1 // the log start offset
	toLatest                           // the log end offset (high watermark)
	toOffset                           // a given offset, clamped to the log
	toTime                             // the first offset at or after a time
	shiftBy                            // the committed offset plus n, clamped
)

// scenario is a parsed reset scenario.
type scenario struct {
	kind scenarioKind
	// n is the offset (toOffset), the shift (shiftBy) or unix milliseconds
	// (toTime).
	n int64
}

// topicPartition names one partition.
type topicPartition struct {
	Topic     string
	Partition int32
}

func (tp topicPartition) String() string {
	return tp.Topic + "-" + strconv.Itoa(int(tp.Partition))
}

func compareTP(a, b topicPartition) int {
	return cmp.Or(strings.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
}

// topicScope is one --topic value: a topic and, optionally, some of its
// partitions (nil means all of them).
type topicScope struct {
	Topic      string
	Partitions []int32
}

// parseTopicScope parses --topic T or --topic T:0,2,5.
func parseTopicScope(s string) (topicScope, error) {
	topic, list, hasList := strings.Cut(strings.TrimSpace(s), ":")
	if topic == "" {
		return topicScope{}, fmt.Errorf("--topic %q: want TOPIC or TOPIC:PARTITION[,PARTITION...]", s)
	}
	sc := topicScope{Topic: topic}
	if !hasList {
		return sc, nil
	}
	for p := range strings.SplitSeq(list, ",") {
		n, err := strconv.ParseInt(strings.TrimSpace(p), 10, 32)
		if err != nil || n < 0 {
			return topicScope{}, fmt.Errorf("--topic %q: partition %q is not a partition number", s, p)
		}
		sc.Partitions = append(sc.Partitions, int32(n))
	}
	slices.Sort(sc.Partitions)
	sc.Partitions = slices.Compact(sc.Partitions)
	return sc, nil
}

// scenarioFlags are the raw scenario flags; exactly one must be set.
type scenarioFlags struct {
	earliest, latest bool
	offset           *int64 // --to-offset, nil when not given
	datetime         string // --to-datetime
	duration         string // --by-duration
	shift            *int64 // --shift-by, nil when not given
}

// parse checks that exactly one scenario is given and parses it; now is
// used by --by-duration, loc by a --to-datetime without a zone.
func (f scenarioFlags) parse(now time.Time, loc *time.Location) (scenario, error) {
	var set []string
	var sc scenario
	if f.earliest {
		set, sc = append(set, "--to-earliest"), scenario{kind: toEarliest}
	}
	if f.latest {
		set, sc = append(set, "--to-latest"), scenario{kind: toLatest}
	}
	if f.offset != nil {
		if *f.offset < 0 {
			return scenario{}, fmt.Errorf("--to-offset must not be negative, got %d", *f.offset)
		}
		set, sc = append(set, "--to-offset"), scenario{kind: toOffset, n: *f.offset}
	}
	if f.datetime != "" {
		ms, err := parseDatetime(f.datetime, loc)
		if err != nil {
			return scenario{}, err
		}
		set, sc = append(set, "--to-datetime"), scenario{kind: toTime, n: ms}
	}
	if f.duration != "" {
		d, err := time.ParseDuration(f.duration)
		if err != nil || d < 0 {
			return scenario{}, fmt.Errorf("--by-duration %q: want a positive Go duration such as 90m or 2h30m", f.duration)
		}
		set, sc = append(set, "--by-duration"), scenario{kind: toTime, n: max(0, now.Add(-d).UnixMilli())}
	}
	if f.shift != nil {
		set, sc = append(set, "--shift-by"), scenario{kind: shiftBy, n: *f.shift}
	}
	switch len(set) {
	case 0:
		return scenario{}, errors.New("say where to move the offsets: --to-earliest, --to-latest, --to-offset N, --to-datetime T, --by-duration D or --shift-by N")
	case 1:
		return sc, nil
	}
	return scenario{}, fmt.Errorf("give only one of %s", strings.Join(set, ", "))
}

// datetimeLayouts are the zone-less forms --to-datetime accepts besides
// RFC 3339 (read in the local time zone, as Kafka's tool does; fractional
// seconds are accepted after the seconds).
var datetimeLayouts = []string{"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"}

// parseDatetime parses --to-datetime: unix milliseconds, RFC 3339
// (2024-05-01T12:00:00Z, 2024-05-01T14:00:00.5+02:00) or a local time
// (2024-05-01T12:00:00.000) and returns unix milliseconds.
func parseDatetime(s string, loc *time.Location) (int64, error) {
	s = strings.TrimSpace(s)
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		if ms < 0 {
			return 0, fmt.Errorf("--to-datetime %q: negative timestamp", s)
		}
		return ms, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return max(0, t.UnixMilli()), nil
	}
	for _, layout := range datetimeLayouts {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return max(0, t.UnixMilli()), nil
		}
	}
	return 0, fmt.Errorf("--to-datetime %q: want unix milliseconds, RFC 3339 (2024-05-01T12:00:00Z) or a local time (2024-05-01T12:00:00.000)", s)
}

// logOffsets is what the brokers said about one partition. Offsets are -1
// when unknown; committed is -1 when the group has no commit.
type logOffsets struct {
	start, end int64
	committed  int64
	// atTime is the first offset at or after the scenario's time (or the
	// end offset when no record is that new); -1 unless the scenario is
	// toTime.
	atTime int64
}

// resetRow is one partition of a reset plan.
type resetRow struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	// PreviousOffset is the committed offset before the reset; null when
	// the group had none.
	PreviousOffset *int64 `json:"previous_offset"`
	NewOffset      int64  `json:"new_offset"`
	// Error is set when --execute failed to commit this partition.
	Error string `json:"error"`
}

// planReset computes the new offset of every partition in parts, sorted by
// topic and partition. Offsets outside [log start, log end] are clamped, as
// Kafka does, with a warning. It fails when an offset it needs is unknown.
func planReset(sc scenario, parts []topicPartition, offs map[topicPartition]logOffsets) (rows []resetRow, warnings []string, err error) {
	parts = slices.Clone(parts)
	slices.SortFunc(parts, compareTP)
	for _, tp := range parts {
		o, ok := offs[tp]
		if !ok {
			return nil, nil, fmt.Errorf("no offsets listed for partition %s", tp)
		}
		var next int64
		switch sc.kind {
		case toEarliest:
			if o.start < 0 {
				return nil, nil, fmt.Errorf("partition %s: log start offset unknown", tp)
			}
			next = o.start
		case toLatest:
			if o.end < 0 {
				return nil, nil, fmt.Errorf("partition %s: log end offset unknown", tp)
			}
			next = o.end
		case toTime:
			if o.atTime < 0 {
				return nil, nil, fmt.Errorf("partition %s: no offset found for the time", tp)
			}
			next = o.atTime
		case toOffset, shiftBy:
			next = sc.n
			if sc.kind == shiftBy {
				if o.committed < 0 {
					return nil, nil, fmt.Errorf("cannot shift the offset of partition %s: the group has no committed offset there", tp)
				}
				next = saturatingAdd(o.committed, sc.n)
			}
			if o.start < 0 || o.end < 0 {
				return nil, nil, fmt.Errorf("partition %s: log start or end offset unknown", tp)
			}
			switch {
			case next > o.end:
				warnings = append(warnings, fmt.Sprintf("New offset (%d) is higher than the latest offset of partition %s; using %d.", next, tp, o.end))
				next = o.end
			case next < o.start:
				warnings = append(warnings, fmt.Sprintf("New offset (%d) is lower than the earliest offset of partition %s; using %d.", next, tp, o.start))
				next = o.start
			}
		default:
			return nil, nil, fmt.Errorf("unknown reset scenario %d", sc.kind)
		}
		row := resetRow{Topic: tp.Topic, Partition: tp.Partition, NewOffset: next}
		if o.committed >= 0 {
			c := o.committed
			row.PreviousOffset = &c
		}
		rows = append(rows, row)
	}
	return rows, warnings, nil
}

// saturatingAdd returns a+b, clamped to the int64 range.
func saturatingAdd(a, b int64) int64 {
	switch {
	case b > 0 && a > math.MaxInt64-b:
		return math.MaxInt64
	case b < 0 && a < math.MinInt64-b:
		return math.MinInt64
	}
	return a + b
}
