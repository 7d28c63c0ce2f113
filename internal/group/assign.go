package group

// Server-side assignors of KIP-848 consumer groups: "uniform" (balanced and
// sticky) and "range" (contiguous ranges per topic, like the client-side
// range assignor). Both are deterministic: members and partitions are
// visited in sorted order.

import (
	"cmp"
	"slices"
)

// Assignor names.
const (
	AssignorUniform = "uniform"
	AssignorRange   = "range"
)

// knownAssignor reports whether name is a server-side assignor samsa has.
func knownAssignor(name string) bool { return name == AssignorUniform || name == AssignorRange }

// tpSet is a set of partitions.
type tpSet map[topicPartition]struct{}

// assignInput is what an assignor sees.
type assignInput struct {
	// members lists member ids, sorted.
	members []string
	// subscriptions maps a member to the topics it consumes (existing
	// topics only).
	subscriptions map[string][]string
	// partitions is each subscribed topic's partition count.
	partitions map[string]int32
	// current is the previous target assignment, for stickiness.
	current map[string]tpSet
}

// assign runs the named assignor.
func assign(name string, in assignInput) map[string]tpSet {
	if name == AssignorRange {
		return assignRange(in)
	}
	return assignUniform(in)
}

// sortedTopics returns the topics of in.partitions, sorted.
func (in assignInput) sortedTopics() []string {
	topics := make([]string, 0, len(in.partitions))
	for t := range in.partitions {
		topics = append(topics, t)
	}
	slices.Sort(topics)
	return topics
}

// subscribers maps each topic to its subscribed members, sorted.
func (in assignInput) subscribers() map[string][]string {
	out := map[string][]string{}
	for _, m := range in.members {
		for _, t := range in.subscriptions[m] {
			if _, ok := in.partitions[t]; ok {
				out[t] = append(out[t], m)
			}
		}
	}
	return out
}

// assignRange gives each topic's subscribers contiguous ranges of its
// partitions: with n partitions and k subscribers, the first n%k members
// (by id) get n/k+1 partitions, the others n/k.
func assignRange(in assignInput) map[string]tpSet {
	out := make(map[string]tpSet, len(in.members))
	for _, m := range in.members {
		out[m] = tpSet{}
	}
	subs := in.subscribers()
	for _, t := range in.sortedTopics() {
		ms := subs[t]
		if len(ms) == 0 {
			continue
		}
		n, k := int(in.partitions[t]), len(ms)
		p := 0
		for i, m := range ms {
			count := n / k
			if i < n%k {
				count++
			}
			for j := 0; j < count; j++ {
				out[m][topicPartition{t, int32(p)}] = struct{}{}
				p++
			}
		}
	}
	return out
}

// assignUniform spreads partitions evenly over the members that subscribe
// to them, keeping each partition where it was when that stays balanced:
// first every member keeps what it had up to its fair share, then free
// partitions go to the least loaded subscriber, then partitions move from a
// member to one with at least two fewer until no such move exists.
func assignUniform(in assignInput) map[string]tpSet {
	out := make(map[string]tpSet, len(in.members))
	for _, m := range in.members {
		out[m] = tpSet{}
	}
	subs := in.subscribers()
	subscribed := make(map[string]map[string]bool, len(in.members))
	for t, ms := range subs {
		for _, m := range ms {
			if subscribed[m] == nil {
				subscribed[m] = map[string]bool{}
			}
			subscribed[m][t] = true
		}
	}
	var all []topicPartition
	for _, t := range in.sortedTopics() {
		if len(subs[t]) == 0 {
			continue
		}
		for p := int32(0); p < in.partitions[t]; p++ {
			all = append(all, topicPartition{t, p})
		}
	}
	consumers := 0
	for _, m := range in.members {
		if len(subscribed[m]) > 0 {
			consumers++
		}
	}
	if consumers == 0 {
		return out
	}
	share := (len(all) + consumers - 1) / consumers
	owner := make(map[topicPartition]string, len(all))
	for _, m := range in.members {
		var kept []topicPartition
		for tp := range in.current[m] {
			if subscribed[m][tp.topic] && tp.partition < in.partitions[tp.topic] {
				kept = append(kept, tp)
			}
		}
		slices.SortFunc(kept, compareTP)
		for _, tp := range kept {
			if len(out[m]) >= share {
				break
			}
			if _, taken := owner[tp]; !taken {
				owner[tp] = m
				out[m][tp] = struct{}{}
			}
		}
	}
	leastLoaded := func(cands []string, exclude string) string {
		best := ""
		for _, m := range cands {
			if m != exclude && (best == "" || len(out[m]) < len(out[best])) {
				best = m
			}
		}
		return best
	}
	for _, tp := range all {
		if _, ok := owner[tp]; ok {
			continue
		}
		m := leastLoaded(subs[tp.topic], "")
		owner[tp] = m
		out[m][tp] = struct{}{}
	}
	// Rebalance moves, bounded: each move lowers the sum of squared loads.
	for moves := 0; moves < len(all)*len(in.members)+1; moves++ {
		moved := false
		for _, tp := range all {
			from := owner[tp]
			to := leastLoaded(subs[tp.topic], from)
			if to != "" && len(out[from]) > len(out[to])+1 {
				delete(out[from], tp)
				out[to][tp] = struct{}{}
				owner[tp] = to
				moved = true
			}
		}
		if !moved {
			break
		}
	}
	return out
}

func compareTP(a, b topicPartition) int {
	return cmp.Or(cmp.Compare(a.topic, b.topic), cmp.Compare(a.partition, b.partition))
}
