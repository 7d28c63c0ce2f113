package group

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseTopicScope(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    topicScope
		wantErr string
	}{
		{in: "orders", want: topicScope{Topic: "orders"}},
		{in: " orders ", want: topicScope{Topic: "orders"}},
		{in: "orders:2,0,2", want: topicScope{Topic: "orders", Partitions: []int32{0, 2}}},
		{in: "orders: 1 , 3", want: topicScope{Topic: "orders", Partitions: []int32{1, 3}}},
		{in: "", wantErr: "want TOPIC"},
		{in: ":1", wantErr: "want TOPIC"},
		{in: "orders:", wantErr: "not a partition number"},
		{in: "orders:a", wantErr: "not a partition number"},
		{in: "orders:-1", wantErr: "not a partition number"},
		{in: "orders:2147483648", wantErr: "not a partition number"},
		{in: "orders:1:2", wantErr: "not a partition number"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseTopicScope(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got.Topic != tc.want.Topic || !slices.Equal(got.Partitions, tc.want.Partitions) {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestParseDatetime(t *testing.T) {
	loc := time.FixedZone("test", 2*3600)
	for _, tc := range []struct {
		in   string
		want int64
		err  bool
	}{
		{in: "1714564800000", want: 1714564800000},
		{in: "0", want: 0},
		{in: "-5", err: true},
		{in: "2024-05-01T12:00:00Z", want: 1714564800000},
		{in: "2024-05-01T14:00:00.250+02:00", want: 1714564800250},
		{in: "2024-05-01T14:00:00", want: 1714564800000},     // local (UTC+2)
		{in: "2024-05-01T14:00:00.500", want: 1714564800500}, // Kafka's format
		{in: "2024-05-01T14:00", want: 1714564800000},
		{in: "2024-05-01", want: 1714514400000},
		{in: "1969-12-31T00:00:00Z", want: 0}, // before the epoch: clamped
		{in: "yesterday", err: true},
		{in: "", err: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseDatetime(tc.in, loc)
			if (err != nil) != tc.err || (!tc.err && got != tc.want) {
				t.Fatalf("got %d, %v; want %d (error %v)", got, err, tc.want, tc.err)
			}
		})
	}
}

func TestScenarioFlags(t *testing.T) {
	now := time.UnixMilli(10_000_000)
	i64 := func(v int64) *int64 { return &v }
	for _, tc := range []struct {
		name    string
		flags   scenarioFlags
		want    scenario
		wantErr string
	}{
		{"earliest", scenarioFlags{earliest: true}, scenario{kind: toEarliest}, ""},
		{"latest", scenarioFlags{latest: true}, scenario{kind: toLatest}, ""},
		{"offset", scenarioFlags{offset: i64(42)}, scenario{kind: toOffset, n: 42}, ""},
		{"offset zero", scenarioFlags{offset: i64(0)}, scenario{kind: toOffset, n: 0}, ""},
		{"negative offset", scenarioFlags{offset: i64(-1)}, scenario{}, "must not be negative"},
		{"datetime", scenarioFlags{datetime: "1234"}, scenario{kind: toTime, n: 1234}, ""},
		{"duration", scenarioFlags{duration: "1h"}, scenario{kind: toTime, n: 10_000_000 - 3_600_000}, ""},
		{"duration before epoch", scenarioFlags{duration: "10h"}, scenario{kind: toTime, n: 0}, ""},
		{"bad duration", scenarioFlags{duration: "-1h"}, scenario{}, "--by-duration"},
		{"shift", scenarioFlags{shift: i64(-3)}, scenario{kind: shiftBy, n: -3}, ""},
		{"none", scenarioFlags{}, scenario{}, "say where"},
		{"two", scenarioFlags{earliest: true, latest: true}, scenario{}, "only one of --to-earliest, --to-latest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.flags.parse(now, time.UTC)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestPlanReset(t *testing.T) {
	a0, a1, b0 := topicPartition{"a", 0}, topicPartition{"a", 1}, topicPartition{"b", 0}
	// a-0: log 10..20, committed 15; a-1: log 0..5, no commit; b-0: log 0..0 (empty), committed 0.
	offs := map[topicPartition]logOffsets{
		a0: {start: 10, end: 20, committed: 15, atTime: 12},
		a1: {start: 0, end: 5, committed: -1, atTime: 5},
		b0: {start: 0, end: 0, committed: 0, atTime: 0},
	}
	all := []topicPartition{b0, a1, a0} // unsorted on purpose
	for _, tc := range []struct {
		name     string
		sc       scenario
		parts    []topicPartition
		want     string // "topic-partition=new" sorted
		warnings int
		wantErr  string
	}{
		{"earliest", scenario{kind: toEarliest}, all, "a-0=10 a-1=0 b-0=0", 0, ""},
		{"latest", scenario{kind: toLatest}, all, "a-0=20 a-1=5 b-0=0", 0, ""},
		{"time", scenario{kind: toTime, n: 1}, all, "a-0=12 a-1=5 b-0=0", 0, ""},
		{"offset inside", scenario{kind: toOffset, n: 3}, []topicPartition{a1}, "a-1=3", 0, ""},
		{"offset clamped both ways", scenario{kind: toOffset, n: 7}, all, "a-0=10 a-1=5 b-0=0", 3, ""},
		{"shift back", scenario{kind: shiftBy, n: -2}, []topicPartition{a0}, "a-0=13", 0, ""},
		{"shift below start", scenario{kind: shiftBy, n: -100}, []topicPartition{a0}, "a-0=10", 1, ""},
		{"shift past end", scenario{kind: shiftBy, n: 100}, []topicPartition{a0}, "a-0=20", 1, ""},
		{"shift overflow", scenario{kind: shiftBy, n: math.MaxInt64}, []topicPartition{a0}, "a-0=20", 1, ""},
		{"shift without commit", scenario{kind: shiftBy, n: 1}, all, "", 0, "no committed offset"},
		{"unlisted partition", scenario{kind: toEarliest}, []topicPartition{{"c", 0}}, "", 0, "no offsets listed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, warnings, err := planReset(tc.sc, tc.parts, offs)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rows {
				got = append(got, fmt.Sprintf("%s-%d=%d", r.Topic, r.Partition, r.NewOffset))
				tp := topicPartition{r.Topic, r.Partition}
				if c := offs[tp].committed; (c < 0) != (r.PreviousOffset == nil) || (c >= 0 && *r.PreviousOffset != c) {
					t.Fatalf("%s previous offset %v, committed %d", tp, r.PreviousOffset, c)
				}
			}
			if strings.Join(got, " ") != tc.want || len(warnings) != tc.warnings {
				t.Fatalf("got %v with warnings %q; want %s with %d warnings", got, warnings, tc.want, tc.warnings)
			}
		})
	}
}

func TestPlanResetUnknownOffsets(t *testing.T) {
	tp := topicPartition{"a", 0}
	unknown := map[topicPartition]logOffsets{tp: {start: -1, end: -1, committed: 3, atTime: -1}}
	for _, sc := range []scenario{{kind: toEarliest}, {kind: toLatest}, {kind: toTime}, {kind: toOffset, n: 1}, {kind: shiftBy, n: 1}, {kind: 99}} {
		if _, _, err := planReset(sc, []topicPartition{tp}, unknown); err == nil {
			t.Errorf("scenario %+v: planned with unknown offsets", sc)
		}
	}
}

func TestSaturatingAdd(t *testing.T) {
	for _, tc := range []struct{ a, b, want int64 }{
		{1, 2, 3},
		{5, -7, -2},
		{math.MaxInt64, 1, math.MaxInt64},
		{math.MinInt64, -1, math.MinInt64},
		{math.MaxInt64 - 1, 1, math.MaxInt64},
	} {
		if got := saturatingAdd(tc.a, tc.b); got != tc.want {
			t.Errorf("saturatingAdd(%d, %d) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
