package group

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func members(n int) []string {
	var out []string
	for i := 0; i < n; i++ {
		out = append(out, fmt.Sprintf("m%02d", i))
	}
	return out
}

func homogeneous(n int, topics map[string]int32) assignInput {
	in := assignInput{members: members(n), subscriptions: map[string][]string{}, partitions: topics}
	for _, m := range in.members {
		for t := range topics {
			in.subscriptions[m] = append(in.subscriptions[m], t)
		}
	}
	return in
}

// checkComplete verifies every partition of a subscribed topic has exactly
// one owner, and that owner subscribes to it.
func checkComplete(t *testing.T, in assignInput, out map[string]tpSet) {
	t.Helper()
	owners := map[topicPartition]string{}
	for m, set := range out {
		for tp := range set {
			if prev, dup := owners[tp]; dup {
				t.Fatalf("%v owned by %s and %s", tp, prev, m)
			}
			owners[tp] = m
			subscribed := false
			for _, s := range in.subscriptions[m] {
				subscribed = subscribed || s == tp.topic
			}
			if !subscribed {
				t.Fatalf("%s got %v without subscribing", m, tp)
			}
		}
	}
	for topic, n := range in.partitions {
		has := false
		for _, m := range in.members {
			for _, s := range in.subscriptions[m] {
				has = has || s == topic
			}
		}
		for p := int32(0); p < n && has; p++ {
			if _, ok := owners[topicPartition{topic, p}]; !ok {
				t.Fatalf("%s-%d unassigned", topic, p)
			}
		}
	}
}

func spread(out map[string]tpSet) (lo, hi int) {
	lo = 1 << 30
	for _, s := range out {
		lo, hi = min(lo, len(s)), max(hi, len(s))
	}
	return lo, hi
}

func TestAssignorsBalanceHomogeneous(t *testing.T) {
	for _, tc := range []struct {
		members int
		topics  map[string]int32
	}{
		{3, map[string]int32{"a": 6}},
		{10, map[string]int32{"a": 100}},
		{4, map[string]int32{"a": 3, "b": 5}},
		{7, map[string]int32{"a": 2}},
	} {
		in := homogeneous(tc.members, tc.topics)
		for _, name := range []string{AssignorUniform, AssignorRange} {
			out := assign(name, in)
			checkComplete(t, in, out)
			lo, hi := spread(out)
			if name == AssignorUniform && hi-lo > 1 {
				t.Errorf("%s %d members %v: loads %d..%d", name, tc.members, tc.topics, lo, hi)
			}
		}
	}
}

func TestRangeIsContiguousPerTopic(t *testing.T) {
	in := homogeneous(3, map[string]int32{"a": 7})
	out := assignRange(in)
	want := map[string][]int32{"m00": {0, 1, 2}, "m01": {3, 4}, "m02": {5, 6}}
	for m, ps := range want {
		for _, p := range ps {
			if _, ok := out[m][topicPartition{"a", p}]; !ok {
				t.Fatalf("%s lacks a-%d: %v", m, p, out[m])
			}
		}
	}
}

func TestUniformIsSticky(t *testing.T) {
	in := homogeneous(3, map[string]int32{"a": 12})
	before := assignUniform(in)
	in.members = append(in.members, "m03")
	in.subscriptions["m03"] = []string{"a"}
	in.current = before
	after := assignUniform(in)
	checkComplete(t, in, after)
	moved := 0
	for _, m := range members(3) {
		for tp := range before[m] {
			if _, ok := after[m][tp]; !ok {
				moved++
			}
		}
	}
	if moved != 3 {
		t.Fatalf("%d partitions moved when a fourth member joined 3x4, want 3", moved)
	}
}

func TestAssignorsRandomSubscriptions(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200; i++ {
		in := assignInput{members: members(1 + rng.IntN(8)), subscriptions: map[string][]string{}, partitions: map[string]int32{}}
		for t := 0; t < 1+rng.IntN(5); t++ {
			in.partitions[fmt.Sprint("t", t)] = int32(1 + rng.IntN(10))
		}
		for _, m := range in.members {
			for topic := range in.partitions {
				if rng.IntN(2) == 0 {
					in.subscriptions[m] = append(in.subscriptions[m], topic)
				}
			}
		}
		for _, name := range []string{AssignorUniform, AssignorRange} {
			out := assign(name, in)
			checkComplete(t, in, out)
			in.current = out
		}
	}
}
