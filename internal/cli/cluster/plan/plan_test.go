package plan

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// ids builds rackless brokers.
func ids(ns ...int32) []Broker {
	out := make([]Broker, len(ns))
	for i, n := range ns {
		out[i] = Broker{ID: n}
	}
	return out
}

// topic builds one topic's partitions from replica lists.
func topic(lists ...[]int32) map[int32][]int32 {
	out := make(map[int32][]int32, len(lists))
	for i, l := range lists {
		out[int32(i)] = l
	}
	return out
}

// rep repeats one replica list n times.
func rep(n int, l ...int32) [][]int32 {
	out := make([][]int32, n)
	for i := range out {
		out[i] = slices.Clone(l)
	}
	return out
}

// checkMoves verifies the rules every plan keeps: moves are sorted and
// real, each target keeps the length of its current list, has no duplicate
// and keeps replicas on unlisted brokers in place (except drained).
func checkMoves(t *testing.T, brokers []Broker, current Assignment, moves []Move, drained int32) {
	t.Helper()
	known := map[int32]bool{}
	for _, b := range brokers {
		known[b.ID] = true
	}
	for i, m := range moves {
		if i > 0 {
			prev := moves[i-1]
			if prev.Topic > m.Topic || prev.Topic == m.Topic && prev.Partition >= m.Partition {
				t.Errorf("moves not sorted at %d: %v then %v", i, prev, m)
			}
		}
		cur := current[m.Topic][m.Partition]
		if !slices.Equal(cur, m.Current) {
			t.Errorf("%s-%d: Current %v, assignment has %v", m.Topic, m.Partition, m.Current, cur)
		}
		if slices.Equal(m.Current, m.Target) {
			t.Errorf("%s-%d: move changes nothing", m.Topic, m.Partition)
		}
		if len(m.Target) != len(m.Current) {
			t.Errorf("%s-%d: replication factor %d → %d", m.Topic, m.Partition, len(m.Current), len(m.Target))
		}
		for j, r := range m.Target {
			if slices.Contains(m.Target[:j], r) {
				t.Errorf("%s-%d: target %v holds broker %d twice", m.Topic, m.Partition, m.Target, r)
			}
			if r == drained {
				t.Errorf("%s-%d: target %v keeps drained broker %d", m.Topic, m.Partition, m.Target, r)
			}
			if !known[r] && !slices.Contains(m.Current, r) {
				t.Errorf("%s-%d: target %v places a replica on unlisted broker %d", m.Topic, m.Partition, m.Target, r)
			}
		}
		for _, r := range m.Current {
			if !known[r] && r != drained && !slices.Contains(m.Target, r) {
				t.Errorf("%s-%d: replica on unlisted broker %d moved: %v → %v", m.Topic, m.Partition, r, m.Current, m.Target)
			}
		}
	}
}

func counts(brokers []Broker, a Assignment) (replicas, leaders map[int32]int) {
	replicas, leaders = map[int32]int{}, map[int32]int{}
	for _, l := range Loads(brokers, a) {
		replicas[l.ID], leaders[l.ID] = l.Replicas, l.Leaders
	}
	return replicas, leaders
}

func spread(m map[int32]int) int {
	lo, hi := -1, -1
	for _, v := range m {
		if lo < 0 || v < lo {
			lo = v
		}
		if v > hi {
			hi = v
		}
	}
	return hi - lo
}

func movedReplicas(moves []Move) int {
	n := 0
	for _, m := range moves {
		n += m.Moved()
	}
	return n
}

func TestLoadsAndApply(t *testing.T) {
	a := Assignment{"a": topic([]int32{1, 2}, []int32{2, 3}), "b": topic([]int32{9, 1})}
	got := Loads(ids(3, 1, 2), a)
	want := []BrokerLoad{{ID: 1, Replicas: 2, Leaders: 1}, {ID: 2, Replicas: 2, Leaders: 1}, {ID: 3, Replicas: 1}}
	if !slices.Equal(got, want) {
		t.Fatalf("Loads = %+v, want %+v", got, want)
	}
	b := a.Apply([]Move{{Topic: "a", Partition: 1, Current: []int32{2, 3}, Target: []int32{3, 1}}})
	if !slices.Equal(b["a"][1], []int32{3, 1}) || !slices.Equal(a["a"][1], []int32{2, 3}) {
		t.Fatalf("Apply: got %v, original now %v", b["a"][1], a["a"][1])
	}
	if b.Partitions() != 3 {
		t.Fatalf("Partitions = %d", b.Partitions())
	}
	if n := (Move{Current: []int32{1, 2, 3}, Target: []int32{3, 4, 1}}).Moved(); n != 1 {
		t.Fatalf("Moved = %d", n)
	}
}

func TestRebalance(t *testing.T) {
	for _, tc := range []struct {
		name    string
		brokers []Broker
		current Assignment
		// wantMoved is the number of replicas placed on new brokers.
		wantMoved int
		// wantPartitions is the number of partitions in the plan (-1: any).
		wantPartitions int
		// wantReplicaSpread / wantLeaderSpread bound max-min of the counts
		// after the plan.
		wantReplicaSpread, wantLeaderSpread int
		check                               func(t *testing.T, after Assignment)
	}{
		{
			name:    "balanced cluster is left alone",
			brokers: ids(1, 2, 3),
			current: Assignment{"a": topic([]int32{1, 2}, []int32{2, 3}, []int32{3, 1})},
		},
		{
			name:    "new empty broker gets its share",
			brokers: ids(1, 2, 3, 4),
			current: Assignment{"a": topic(
				[]int32{1, 2}, []int32{2, 3}, []int32{3, 1}, []int32{1, 2}, []int32{2, 3}, []int32{3, 1})},
			wantMoved: 3, wantPartitions: -1, wantLeaderSpread: 1,
		},
		{
			name:      "all replicas on one broker",
			brokers:   ids(1, 2, 3),
			current:   Assignment{"a": topic(rep(6, 1)...)},
			wantMoved: 4, wantPartitions: 4,
		},
		{
			name:      "leaders only: replicas reordered, nothing copied",
			brokers:   ids(1, 2, 3),
			current:   Assignment{"a": topic(rep(3, 1, 2, 3)...)},
			wantMoved: 0, wantPartitions: 2,
		},
		{
			name:    "two topics on a new broker: one of each",
			brokers: ids(1, 2, 3, 4),
			current: Assignment{
				"a": topic([]int32{1}, []int32{2}, []int32{3}, []int32{1}, []int32{2}, []int32{3}),
				"b": topic([]int32{1}, []int32{2}, []int32{3}, []int32{1}, []int32{2}, []int32{3}),
			},
			wantMoved: 3, wantPartitions: 3,
			check: func(t *testing.T, after Assignment) {
				perTopic := map[string]int{}
				for tp, ps := range after {
					for _, rs := range ps {
						if rs[0] == 4 {
							perTopic[tp]++
						}
					}
				}
				if perTopic["a"] == 0 || perTopic["b"] == 0 {
					t.Errorf("broker 4 got replicas of one topic only: %v", perTopic)
				}
			},
		},
		{
			name:    "racks: moves stay within the rack spread",
			brokers: []Broker{{1, "a"}, {2, "a"}, {3, "b"}, {4, "b"}},
			current: Assignment{"a": topic(rep(4, 1, 3)...)},
			// 8 replicas on 1 and 3 → 2 each; both copies of rack a and b
			// keep their rack.
			wantMoved: 4, wantPartitions: -1, wantLeaderSpread: 1,
			check: func(t *testing.T, after Assignment) {
				rack := map[int32]string{1: "a", 2: "a", 3: "b", 4: "b"}
				for p, rs := range after["a"] {
					if rack[rs[0]] == rack[rs[1]] {
						t.Errorf("partition %d lost its rack spread: %v", p, rs)
					}
				}
			},
		},
		{
			name:    "replicas on an unlisted broker stay put",
			brokers: ids(1, 2),
			current: Assignment{"a": topic(rep(4, 9, 1)...)},
			// 4 replicas on 1, 0 on 2 → 2 move; 9 is not counted.
			wantMoved: 2, wantPartitions: 2,
		},
		{
			name:    "a single partition cannot be split",
			brokers: ids(1, 2, 3),
			current: Assignment{"a": topic([]int32{1})},
		},
		{
			name:           "empty assignment",
			brokers:        ids(1, 2),
			current:        Assignment{},
			wantPartitions: 0,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			moves, err := Rebalance(tc.brokers, tc.current)
			if err != nil {
				t.Fatal(err)
			}
			checkMoves(t, tc.brokers, tc.current, moves, -1)
			if got := movedReplicas(moves); got != tc.wantMoved {
				t.Errorf("moved %d replicas, want %d: %v", got, tc.wantMoved, moves)
			}
			if tc.wantPartitions >= 0 && len(moves) != tc.wantPartitions {
				t.Errorf("%d partitions in the plan, want %d: %v", len(moves), tc.wantPartitions, moves)
			}
			after := tc.current.Apply(moves)
			replicas, leaders := counts(tc.brokers, after)
			if s := spread(replicas); s > max(tc.wantReplicaSpread, 1) {
				t.Errorf("replica counts after: %v", replicas)
			}
			if s := spread(leaders); s > max(tc.wantLeaderSpread, 1) {
				t.Errorf("leader counts after: %v", leaders)
			}
			if tc.check != nil {
				tc.check(t, after)
			}
			again, err := Rebalance(tc.brokers, after)
			if err != nil || len(again) != 0 {
				t.Errorf("second rebalance is not empty: %v %v", again, err)
			}
		})
	}
}

func TestPlanErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		run     func() ([]Move, error)
		wantErr error
	}{
		{"no brokers", func() ([]Move, error) { return Rebalance(nil, Assignment{}) }, nil},
		{"broker listed twice", func() ([]Move, error) { return Rebalance(ids(1, 1), Assignment{}) }, nil},
		{"replica listed twice", func() ([]Move, error) {
			return Rebalance(ids(1, 2), Assignment{"a": topic([]int32{1, 1})})
		}, nil},
		{"replica listed twice (decommission)", func() ([]Move, error) {
			return Decommission(ids(1, 2), Assignment{"a": topic([]int32{2, 2})}, 1)
		}, nil},
		{"rf 3 on 3 brokers", func() ([]Move, error) {
			return Decommission(ids(1, 2, 3), Assignment{"a": topic([]int32{1, 2, 3})}, 3)
		}, ErrNotEnoughBrokers},
		{"last broker", func() ([]Move, error) {
			return Decommission(ids(1), Assignment{"a": topic([]int32{1})}, 1)
		}, ErrNotEnoughBrokers},
	} {
		t.Run(tc.name, func(t *testing.T) {
			moves, err := tc.run()
			if err == nil {
				t.Fatalf("no error, moves %v", moves)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("error %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestDecommission(t *testing.T) {
	for _, tc := range []struct {
		name    string
		brokers []Broker
		current Assignment
		node    int32
		want    []Move
	}{
		{
			name:    "spread over the least loaded",
			brokers: ids(1, 2, 3, 4),
			current: Assignment{"a": topic([]int32{1, 3}, []int32{2, 3}, []int32{3, 4}, []int32{1, 2})},
			node:    3,
			want: []Move{
				// loads without 3: 1:2 2:2 4:1 → 4 first, then the lowest id.
				{Topic: "a", Partition: 0, Current: []int32{1, 3}, Target: []int32{1, 4}},
				{Topic: "a", Partition: 1, Current: []int32{2, 3}, Target: []int32{2, 1}},
				// 3 led partition 2: of the new list [2 4], broker 4
				// leads nothing and becomes the first.
				{Topic: "a", Partition: 2, Current: []int32{3, 4}, Target: []int32{4, 2}},
			},
		},
		{
			name:    "dead broker not in the list",
			brokers: ids(1, 2),
			current: Assignment{"a": topic([]int32{7, 1}, []int32{2, 1})},
			node:    7,
			// 2 replaces 7; 1 leads nothing (2 leads partition 1) and
			// becomes the first.
			want: []Move{{Topic: "a", Partition: 0, Current: []int32{7, 1}, Target: []int32{1, 2}}},
		},
		{
			name:    "node holds nothing",
			brokers: ids(1, 2, 3),
			current: Assignment{"a": topic([]int32{1, 2})},
			node:    3,
		},
		{
			name:    "rack kept",
			brokers: []Broker{{1, "a"}, {2, "a"}, {3, "b"}, {4, "b"}},
			current: Assignment{"a": topic([]int32{1, 3}, []int32{4})},
			node:    1,
			// 4 holds one replica, 2 none: 2 is in rack a, as 1 was.
			want: []Move{{Topic: "a", Partition: 0, Current: []int32{1, 3}, Target: []int32{2, 3}}},
		},
		{
			name:    "rack beats load",
			brokers: []Broker{{1, "a"}, {2, "a"}, {3, "b"}, {4, "b"}},
			current: Assignment{"a": topic([]int32{3, 1}, []int32{2})},
			node:    1,
			// 4 is empty but in rack b with 3; 2 keeps two racks.
			want: []Move{{Topic: "a", Partition: 0, Current: []int32{3, 1}, Target: []int32{3, 2}}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decommission(tc.brokers, tc.current, tc.node)
			if err != nil {
				t.Fatal(err)
			}
			checkMoves(t, tc.brokers, tc.current, got, tc.node)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("moves:\n%v\nwant:\n%v", got, tc.want)
			}
		})
	}
}

// randomCluster builds a random assignment over brokers 1..n (some of
// them possibly unlisted), with racks on some runs.
func randomCluster(r *rand.Rand) ([]Broker, Assignment) {
	n := 1 + r.IntN(7)
	racks := r.IntN(3) == 0
	var brokers []Broker
	for id := int32(1); id <= int32(n); id++ {
		b := Broker{ID: id}
		if racks {
			b.Rack = string(rune('a' + r.IntN(3)))
		}
		brokers = append(brokers, b)
	}
	all := make([]int32, 0, n+1)
	for _, b := range brokers {
		all = append(all, b.ID)
	}
	if r.IntN(4) == 0 {
		all = append(all, 99) // a dead broker some replicas sit on
	}
	// Skewed picks: low ids more often, so there is something to fix.
	a := Assignment{}
	for tn := range 1 + r.IntN(4) {
		rf := 1 + r.IntN(min(3, len(all)))
		ps := map[int32][]int32{}
		for p := range int32(1 + r.IntN(12)) {
			perm := slices.Clone(all)
			r.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
			if r.IntN(2) == 0 {
				slices.Sort(perm)
			}
			ps[p] = perm[:rf]
		}
		a[fmt.Sprintf("t%d", tn)] = ps
	}
	return brokers, a
}

// minimalMoves is the fewest replicas that must move to reach
// ⌊total/n⌋..⌈total/n⌉ on every listed broker.
func minimalMoves(brokers []Broker, a Assignment) int {
	loads := Loads(brokers, a)
	total := 0
	for _, l := range loads {
		total += l.Replicas
	}
	slices.SortStableFunc(loads, func(x, y BrokerLoad) int { return y.Replicas - x.Replicas })
	base, extra := total/len(loads), total%len(loads)
	n := 0
	for i, l := range loads {
		share := base
		if i < extra {
			share++
		}
		n += max(0, l.Replicas-share)
	}
	return n
}

// TestRebalanceProperties checks the plan rules on random clusters:
// without racks the replica counts end within one of each other with the
// fewest moves, no broker leads two more than a broker it could hand over
// to, and a second rebalance has nothing left to do.
func TestRebalanceProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 400 {
		brokers, a := randomCluster(r)
		moves, err := Rebalance(brokers, a)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		checkMoves(t, brokers, a, moves, -1)
		after := a.Apply(moves)
		replicas, leaders := counts(brokers, after)
		if brokers[0].Rack == "" {
			if s := spread(replicas); s > 1 {
				t.Errorf("case %d: replica counts %v after %v\nfrom %v", i, replicas, moves, a)
			}
			if got, want := movedReplicas(moves), minimalMoves(brokers, a); got != want {
				t.Errorf("case %d: moved %d replicas, the least is %d", i, got, want)
			}
		}
		for _, ps := range after {
			for _, rs := range ps {
				u, ok := leaders[rs[0]]
				if !ok {
					continue
				}
				for _, v := range rs[1:] {
					if lv, ok := leaders[v]; ok && u >= lv+2 {
						t.Errorf("case %d: broker %d leads %d, replica %d leads %d: %v", i, rs[0], u, v, lv, leaders)
					}
				}
			}
		}
		again, err := Rebalance(brokers, after)
		if err != nil || len(again) != 0 {
			t.Errorf("case %d: second rebalance: %v %v", i, again, err)
		}
	}
}

// TestDecommissionProperties drains a random broker of random clusters:
// it holds nothing afterwards, only its partitions change and each by one
// replica.
func TestDecommissionProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 400 {
		brokers, a := randomCluster(r)
		node := brokers[r.IntN(len(brokers))].ID
		moves, err := Decommission(brokers, a, node)
		if errors.Is(err, ErrNotEnoughBrokers) {
			continue
		}
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		checkMoves(t, brokers, a, moves, node)
		for _, m := range moves {
			if !slices.Contains(m.Current, node) {
				t.Errorf("case %d: %s-%d moved without holding %d", i, m.Topic, m.Partition, node)
			}
			if m.Moved() != 1 {
				t.Errorf("case %d: %s-%d: %v → %v moves %d replicas", i, m.Topic, m.Partition, m.Current, m.Target, m.Moved())
			}
		}
		for tp, ps := range a.Apply(moves) {
			for p, rs := range ps {
				if slices.Contains(rs, node) {
					t.Errorf("case %d: %s-%d still on %d: %v", i, tp, p, node, rs)
				}
			}
		}
	}
}

func BenchmarkRebalance(b *testing.B) {
	brokers := ids(1, 2, 3, 4, 5, 6)
	a := Assignment{}
	for tn := range 20 {
		ps := map[int32][]int32{}
		for p := range int32(100) {
			ps[p] = []int32{1 + p%3, 1 + (p+1)%3, 1 + (p+2)%3}
		}
		a[fmt.Sprintf("t%d", tn)] = ps
	}
	for b.Loop() {
		if _, err := Rebalance(brokers, a); err != nil {
			b.Fatal(err)
		}
	}
}
