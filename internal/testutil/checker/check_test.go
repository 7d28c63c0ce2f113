package checker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// rec is a record of topic "t".
func rec(partition int32, offset int64, value string) Record {
	return Record{Topic: "t", Partition: partition, Offset: offset, Value: value}
}

// finalOf gives partition p of "t" the values at offsets 0, 1, 2, ...
func finalOf(h *History, p int32, values ...string) {
	recs := make([]Record, len(values))
	for i, v := range values {
		recs[i] = rec(p, int64(i), v)
	}
	h.Final("t", p, recs)
}

// sendAck sends value to partition p and acknowledges it at offset.
func sendAck(h *History, producer string, p int32, offset int64, value string) {
	h.Sent(producer, rec(p, -1, value))
	h.Acked(producer, rec(p, offset, value))
}

// problemCounts maps each non-empty category of r to its problem count.
func problemCounts(r Report) map[string]int {
	m := make(map[string]int)
	for _, c := range r.categories() {
		if len(c.problems) > 0 {
			m[c.name] = len(c.problems)
		}
	}
	return m
}

func TestCheckRules(t *testing.T) {
	timeout := fmt.Errorf("produce: %w", context.DeadlineExceeded)
	tooLarge := fmt.Errorf("produce: %w", kerr.MessageTooLarge)
	tests := []struct {
		name  string
		build func(h *History)
		want  map[string]int // category -> number of problems; nil means OK
	}{
		{"all acked and present", func(h *History) {
			sendAck(h, "p", 0, 0, "p-0")
			sendAck(h, "p", 0, 1, "p-1")
			sendAck(h, "q", 0, 2, "q-0")
			finalOf(h, 0, "p-0", "p-1", "q-0")
		}, nil},
		{"acked record missing", func(h *History) {
			sendAck(h, "p", 0, 0, "p-0")
			sendAck(h, "p", 0, 1, "p-1")
			finalOf(h, 0, "p-0")
		}, map[string]int{"lost": 1}},
		{"acked record at another offset", func(h *History) {
			sendAck(h, "p", 0, 0, "p-0")
			sendAck(h, "p", 0, 1, "p-1")
			h.Final("t", 0, []Record{rec(0, 0, "p-0"), rec(0, 2, "p-1")})
		}, map[string]int{"offset mismatch": 1}},
		{"acked record in another partition", func(h *History) {
			sendAck(h, "p", 0, 0, "p-0")
			finalOf(h, 0)
			finalOf(h, 1, "p-0")
		}, map[string]int{"offset mismatch": 1}},
		{"ack without offset matches any offset", func(h *History) {
			sendAck(h, "p", 0, -1, "p-0")
			h.Final("t", 0, []Record{rec(0, 7, "p-0")})
		}, nil},
		{"duplicate in one partition", func(h *History) {
			sendAck(h, "p", 0, 0, "p-0")
			finalOf(h, 0, "p-0", "p-0")
		}, map[string]int{"duplicated": 1}},
		{"duplicate across partitions", func(h *History) {
			sendAck(h, "p", 0, 0, "p-0")
			finalOf(h, 0, "p-0")
			finalOf(h, 1, "p-0")
		}, map[string]int{"duplicated": 1}},
		{"same value in two topics is not a duplicate", func(h *History) {
			sendAck(h, "p", 0, 0, "v")
			h.Sent("p", Record{Topic: "u", Partition: 0, Value: "v"})
			h.Acked("p", Record{Topic: "u", Partition: 0, Offset: 0, Value: "v"})
			finalOf(h, 0, "v")
			h.Final("u", 0, []Record{{Offset: 0, Value: "v"}})
		}, nil},
		{"producer order swapped", func(h *History) {
			h.Sent("p", rec(0, -1, "p-0"))
			h.Sent("p", rec(0, -1, "p-1"))
			h.Acked("p", rec(0, 1, "p-0"))
			h.Acked("p", rec(0, 0, "p-1"))
			finalOf(h, 0, "p-1", "p-0")
		}, map[string]int{"reordered": 1}},
		{"interleaved producers keep their own order", func(h *History) {
			sendAck(h, "p", 0, 0, "p-0")
			sendAck(h, "q", 0, 1, "q-0")
			sendAck(h, "p", 0, 2, "p-1")
			sendAck(h, "q", 0, 3, "q-1")
			finalOf(h, 0, "p-0", "q-0", "p-1", "q-1")
		}, nil},
		{"order is per partition", func(h *History) {
			sendAck(h, "p", 1, 0, "p-0")
			sendAck(h, "p", 0, 0, "p-1")
			finalOf(h, 0, "p-1")
			finalOf(h, 1, "p-0")
		}, nil},
		{"unacknowledged records are left out of the order rule", func(h *History) {
			h.Sent("p", rec(0, -1, "p-0"))
			sendAck(h, "p", 0, 0, "p-1")
			h.Failed("p", rec(0, -1, "p-0"), timeout)
			finalOf(h, 0, "p-1", "p-0")
		}, nil},
		{"never sent", func(h *History) {
			sendAck(h, "p", 0, 0, "p-0")
			finalOf(h, 0, "p-0", "ghost")
		}, map[string]int{"unexpected records": 1}},
		{"sent to another partition", func(h *History) {
			h.Sent("p", rec(1, -1, "p-0"))
			finalOf(h, 0, "p-0")
			finalOf(h, 1)
		}, map[string]int{"unexpected records": 1}},
		{"definite failure present", func(h *History) {
			h.Sent("p", rec(0, -1, "p-0"))
			h.Failed("p", rec(0, -1, "p-0"), tooLarge)
			finalOf(h, 0, "p-0")
		}, map[string]int{"unexpected records": 1}},
		{"definite failure marked by the test", func(h *History) {
			h.Sent("p", rec(0, -1, "p-0"))
			h.Failed("p", rec(0, -1, "p-0"), Definite(errors.New("rejected before sending")))
			finalOf(h, 0, "p-0")
		}, map[string]int{"unexpected records": 1}},
		{"definite failure absent", func(h *History) {
			h.Sent("p", rec(0, -1, "p-0"))
			h.Failed("p", rec(0, -1, "p-0"), tooLarge)
			finalOf(h, 0)
		}, nil},
		{"indefinite failures may or may not be present", func(h *History) {
			h.Sent("p", rec(0, -1, "p-0"))
			h.Sent("p", rec(0, -1, "p-1"))
			h.Failed("p", rec(0, -1, "p-0"), timeout)
			h.Failed("p", rec(0, -1, "p-1"), kerr.NotEnoughReplicas)
			finalOf(h, 0, "p-1")
		}, nil},
		{"unanswered sends may or may not be present", func(h *History) {
			h.Sent("p", rec(0, -1, "p-0"))
			h.Sent("p", rec(0, -1, "p-1"))
			finalOf(h, 0, "p-0")
		}, nil},
		{"ack after an indefinite failure wins", func(h *History) {
			h.Sent("p", rec(0, -1, "p-0"))
			h.Failed("p", rec(0, -1, "p-0"), timeout)
			h.Acked("p", rec(0, 0, "p-0"))
			finalOf(h, 0)
		}, map[string]int{"lost": 1}},
		{"consumer read what the final log holds", func(h *History) {
			sendAck(h, "p", 0, 0, "p-0")
			sendAck(h, "p", 0, 1, "p-1")
			h.Consumed("c1", rec(0, 1, "p-1"))
			h.Consumed("c2", rec(0, 1, "p-1"))
			h.Consumed("c1", rec(0, 0, "p-0"))
			finalOf(h, 0, "p-0", "p-1")
		}, nil},
		{"consumer read a value later replaced", func(h *History) {
			h.Sent("p", rec(0, -1, "p-0"))
			sendAck(h, "q", 0, 0, "q-0")
			h.Consumed("c1", rec(0, 0, "p-0"))
			finalOf(h, 0, "q-0")
		}, map[string]int{"offset mismatch": 1}},
		{"consumer read past the final end", func(h *History) {
			h.Sent("p", rec(0, -1, "p-0"))
			h.Consumed("c1", rec(0, 0, "p-0"))
			finalOf(h, 0)
		}, map[string]int{"offset mismatch": 1}},
		{"final offsets not increasing", func(h *History) {
			sendAck(h, "p", 0, 1, "p-0")
			sendAck(h, "p", 0, 1, "p-1")
			h.Final("t", 0, []Record{rec(0, 1, "p-0"), rec(0, 1, "p-1")})
		}, map[string]int{"offset mismatch": 1}},
		{"commits forward, equal, and at the end", func(h *History) {
			finalOf(h, 0, "a", "b", "c")
			for _, v := range []string{"a", "b", "c"} {
				h.Sent("p", rec(0, -1, v))
			}
			h.Committed("g", "t", 0, 1)
			h.Committed("g", "t", 0, 1)
			h.Committed("g", "t", 0, 3)
			h.Committed("other", "t", 0, 0)
		}, nil},
		{"commit goes backwards", func(h *History) {
			h.Committed("g", "t", 0, 0)
			finalOf(h, 0, "a", "b", "c")
			h.Sent("p", rec(0, -1, "a"))
			h.Sent("p", rec(0, -1, "b"))
			h.Sent("p", rec(0, -1, "c"))
			h.Committed("g", "t", 0, 3)
			h.Committed("g", "t", 0, 2)
		}, map[string]int{"commit regressions": 1}},
		{"commit beyond the final end", func(h *History) {
			h.Sent("p", rec(0, -1, "a"))
			finalOf(h, 0, "a")
			h.Committed("g", "t", 0, 2)
		}, map[string]int{"commit regressions": 1}},
		{"ack of a value never sent", func(h *History) {
			h.Acked("p", rec(0, 0, "p-0"))
			finalOf(h, 0, "p-0")
		}, map[string]int{"incomplete history": 1, "unexpected records": 1}},
		{"value sent twice", func(h *History) {
			h.Sent("p", rec(0, -1, "p-0"))
			h.Sent("q", rec(0, -1, "p-0"))
			finalOf(h, 0)
		}, map[string]int{"incomplete history": 1}},
		{"no final log for an acked partition", func(h *History) {
			sendAck(h, "p", 3, 0, "p-0")
			h.Consumed("c", rec(3, 0, "p-0"))
			h.Committed("g", "t", 3, 1)
		}, map[string]int{"incomplete history": 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := NewHistory()
			tc.build(h)
			r := h.Check()
			got := problemCounts(r)
			if len(got) != len(tc.want) {
				t.Fatalf("got problems %v, want %v\n%s", got, tc.want, r)
			}
			for k, n := range tc.want {
				if got[k] != n {
					t.Fatalf("got problems %v, want %v\n%s", got, tc.want, r)
				}
			}
			if r.OK() != (tc.want == nil) {
				t.Fatalf("OK() = %v with problems %v", r.OK(), got)
			}
		})
	}
}

func TestCheckCounters(t *testing.T) {
	h := NewHistory()
	sendAck(h, "p", 0, 0, "p-0")
	h.Sent("p", rec(0, -1, "p-1"))
	h.Failed("p", rec(0, -1, "p-1"), errors.New("timeout"))
	h.Sent("p", rec(0, -1, "p-2"))
	h.Failed("p", rec(0, -1, "p-2"), kerr.InvalidRecord)
	h.Sent("p", rec(0, -1, "p-3"))
	h.Consumed("c", rec(0, 0, "p-0"))
	h.Consumed("c", rec(0, 0, "p-0"))
	h.Committed("g", "t", 0, 1)
	finalOf(h, 0, "p-0", "p-1", "p-3")
	r := h.Check()
	want := Report{Sent: 4, Acked: 1, FailedDefinite: 1, FailedIndefinite: 1, Unanswered: 1,
		IndefinitePresent: 2, FinalRecords: 3, ConsumedOffsets: 1, Commits: 1}
	if !r.OK() {
		t.Fatalf("not OK:\n%s", r)
	}
	if fmt.Sprint(r) != fmt.Sprint(want) {
		t.Fatalf("got\n%s\nwant\n%s", r, want)
	}
	if again := h.Check(); again.String() != r.String() {
		t.Fatalf("second Check differs:\n%s\n%s", again, r)
	}
}

func TestReportString(t *testing.T) {
	h := NewHistory()
	var vals []string
	for i := range ShownPerCategory + 5 {
		v := fmt.Sprintf("p-%d", i)
		sendAck(h, "p", 0, int64(i), v)
		vals = append(vals, "x"+v)
	}
	finalOf(h, 0, vals...)
	s := h.Check().String()
	for _, want := range []string{"FAILED", "lost: 15", "unexpected records: 15", "... and 5 more", `"p-0"`} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
	if strings.Count(s, "\n") != 1+2*(1+ShownPerCategory+1) {
		t.Errorf("summary has %d lines:\n%s", strings.Count(s, "\n"), s)
	}
	if s := NewHistory().Check().String(); !strings.HasPrefix(s, "checker: OK") {
		t.Errorf("empty history: %s", s)
	}
}

func TestIsDefinite(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{context.DeadlineExceeded, false},
		{kerr.NotEnoughReplicas, false},
		{kerr.NotEnoughReplicasAfterAppend, false},
		{kerr.CorruptMessage, false},
		{kerr.MessageTooLarge, true},
		{fmt.Errorf("wrapped: %w", kerr.TopicAuthorizationFailed), true},
		{Definite(errors.New("x")), true},
		{fmt.Errorf("wrapped: %w", Definite(context.Canceled)), true},
		{Definite(nil), true},
	}
	for _, tc := range tests {
		if got := IsDefinite(tc.err); got != tc.want {
			t.Errorf("IsDefinite(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
