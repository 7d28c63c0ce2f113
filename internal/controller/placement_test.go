package controller

import (
	"fmt"
	"slices"
	"testing"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

// Property: for every broker count n, partition count p, replication factor
// rf <= n and start: every partition has rf distinct replicas, all of them
// brokers; leaders differ by at most one per broker; replica counts differ
// by at most rf (exactly equal when p is a multiple of n).
func TestPlacementProperties(t *testing.T) {
	for n := 1; n <= 7; n++ {
		brokers := make([]int32, n)
		for i := range brokers {
			brokers[i] = int32(10 + 3*i) // non-contiguous ids
		}
		for p := 1; p <= 3*n+5; p++ {
			for rf := 1; rf <= n; rf++ {
				for start := range n {
					name := fmt.Sprintf("n=%d p=%d rf=%d start=%d", n, p, rf, start)
					assign, err := place(brokers, p, rf, start)
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					if len(assign) != p {
						t.Fatalf("%s: %d partitions", name, len(assign))
					}
					leaders, replicas := map[int32]int{}, map[int32]int{}
					for i, r := range assign {
						if len(r) != rf {
							t.Fatalf("%s: partition %d has %d replicas", name, i, len(r))
						}
						for j, b := range r {
							if !slices.Contains(brokers, b) {
								t.Fatalf("%s: partition %d replica %d is not a broker", name, i, b)
							}
							if slices.Contains(r[:j], b) {
								t.Fatalf("%s: partition %d has broker %d twice: %v", name, i, b, r)
							}
							replicas[b]++
						}
						leaders[r[0]]++
					}
					lo, hi := spread(brokers, leaders)
					if hi-lo > 1 {
						t.Fatalf("%s: leaders unbalanced: %v", name, leaders)
					}
					lo, hi = spread(brokers, replicas)
					if hi-lo > rf || (p%n == 0 && hi != lo) {
						t.Fatalf("%s: replicas unbalanced: %v", name, replicas)
					}
				}
			}
		}
	}
}

func spread(brokers []int32, counts map[int32]int) (lo, hi int) {
	lo = counts[brokers[0]]
	for _, b := range brokers {
		lo, hi = min(lo, counts[b]), max(hi, counts[b])
	}
	return lo, hi
}

func TestPlacementFollowersRotate(t *testing.T) {
	// With 4 brokers, the same leader gets different followers in the
	// second round.
	assign, err := place([]int32{1, 2, 3, 4}, 8, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(assign[0], assign[4]) {
		t.Fatalf("partitions 0 and 4 have the same replicas %v", assign[0])
	}
}

func TestPlacementErrors(t *testing.T) {
	for _, tc := range []struct{ n, rf int }{{0, 1}, {1, 2}, {3, 4}, {3, 0}} {
		brokers := make([]int32, tc.n)
		for i := range brokers {
			brokers[i] = int32(i)
		}
		if _, err := place(brokers, 3, tc.rf, 0); err == nil {
			t.Errorf("place(n=%d, rf=%d) succeeded", tc.n, tc.rf)
		}
	}
}

// Creating many topics one after the other spreads leadership over the
// brokers, because each placement starts at the least-loaded broker.
func TestLeadersSpreadAcrossTopics(t *testing.T) {
	c, m := newTestController(t, 3)
	for i := range 9 {
		res := c.CreateTopics(ctx(), []TopicSpec{{Name: fmt.Sprintf("t%d", i), NumPartitions: 1, ReplicationFactor: 2}}, false)
		if res[0].Err != nil {
			t.Fatal(res[0].Err, res[0].ErrMessage)
		}
	}
	leaders := map[int32]int{}
	for _, tp := range m.image().Topics() {
		leaders[tp.Partitions[0].Leader]++
	}
	for _, id := range []int32{1, 2, 3} {
		if leaders[id] != 3 {
			t.Fatalf("leaders per broker = %v, want 3 each", leaders)
		}
	}
	// Also with multi-partition topics in one request.
	res := c.CreateTopics(ctx(), []TopicSpec{
		{Name: "m1", NumPartitions: 2, ReplicationFactor: 1},
		{Name: "m2", NumPartitions: 4, ReplicationFactor: 1},
	}, false)
	for _, r := range res {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	leaders = map[int32]int{}
	for _, tp := range m.image().Topics() {
		for _, p := range tp.Partitions {
			leaders[p.Leader]++
		}
	}
	lo, hi := spread([]int32{1, 2, 3}, leaders)
	if hi-lo > 1 {
		t.Fatalf("leaders unbalanced after mixed creates: %v", leaders)
	}
}

func TestLeastLoadedStart(t *testing.T) {
	s := metadata.NewState()
	_ = s.Apply(1, metadata.CreateTopic{Name: "a", TopicID: metadata.TopicID{1}, Partitions: []metadata.PartitionAssignment{
		{Partition: 0, Replicas: []int32{1}, ISR: []int32{1}, Leader: 1},
		{Partition: 1, Replicas: []int32{3}, ISR: []int32{3}, Leader: 3},
	}})
	if got := leastLoadedStart(s.Image(), []int32{1, 2, 3}); got != 1 {
		t.Fatalf("start = %d, want 1 (broker 2)", got)
	}
}

// Property: with brokers on several racks, every partition has rf distinct
// replicas spanning min(rf, racks) racks, and leaders differ by at most one
// per broker.
func TestPlacementOnRacks(t *testing.T) {
	layouts := []struct {
		name  string
		racks map[int32]string
	}{
		{"3 racks of 2", map[int32]string{1: "a", 2: "b", 3: "c", 4: "a", 5: "b", 6: "c"}},
		{"racks in id order", map[int32]string{1: "a", 2: "a", 3: "b", 4: "b", 5: "c", 6: "c"}},
		{"uneven: 3+1", map[int32]string{1: "a", 2: "a", 3: "a", 4: "b"}},
		{"2 racks and a broker without one", map[int32]string{1: "a", 2: "b", 3: "", 4: "a", 5: "b"}},
		{"5 racks of 1", map[int32]string{1: "a", 2: "b", 3: "c", 4: "d", 5: "e"}},
	}
	for _, l := range layouts {
		var brokers []int32
		rackSet := map[string]bool{}
		for id, r := range l.racks {
			brokers = append(brokers, id)
			rackSet[r] = true
		}
		slices.Sort(brokers)
		rackOf := func(id int32) string { return l.racks[id] }
		n := len(brokers)
		for p := 1; p <= 3*n+2; p++ {
			for rf := 1; rf <= n; rf++ {
				for start := range n {
					name := fmt.Sprintf("%s: p=%d rf=%d start=%d", l.name, p, rf, start)
					assign, err := placeOnRacks(brokers, rackOf, p, rf, start)
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					leaders := map[int32]int{}
					for i, r := range assign {
						racks := map[string]bool{}
						for j, b := range r {
							if !slices.Contains(brokers, b) || slices.Contains(r[:j], b) {
								t.Fatalf("%s: partition %d replicas %v", name, i, r)
							}
							racks[rackOf(b)] = true
						}
						if len(r) != rf || len(racks) != min(rf, len(rackSet)) {
							t.Fatalf("%s: partition %d replicas %v span %d racks, want %d", name, i, r, len(racks), min(rf, len(rackSet)))
						}
						leaders[r[0]]++
					}
					if lo, hi := spread(brokers, leaders); hi-lo > 1 {
						t.Fatalf("%s: leaders unbalanced: %v", name, leaders)
					}
				}
			}
		}
	}
}

// One rack (or none) is the rack-unaware layout.
func TestPlacementOneRackIsPlace(t *testing.T) {
	brokers := []int32{1, 2, 3, 4}
	for _, rack := range []string{"", "r1"} {
		got, err := placeOnRacks(brokers, func(int32) string { return rack }, 9, 3, 1)
		want, _ := place(brokers, 9, 3, 1)
		if err != nil || !slices.EqualFunc(got, want, slices.Equal[[]int32]) {
			t.Errorf("rack %q: %v %v, want %v", rack, got, err, want)
		}
	}
}

// CreateTopics spreads replicas over the racks the brokers registered.
func TestCreateTopicsUsesRacks(t *testing.T) {
	c, m := newTestController(t, 0)
	racks := map[int32]string{1: "east", 2: "east", 3: "west", 4: "west"}
	for id := int32(1); id <= 4; id++ {
		m.apply(t, metadata.RegisterBroker{NodeID: id, Host: "127.0.0.1", Port: 9090 + id, Rack: racks[id]})
		b, _ := m.image().Broker(id)
		m.apply(t, metadata.UnfenceBroker{NodeID: id, Epoch: b.Epoch})
	}
	res := c.CreateTopics(ctx(), []TopicSpec{{Name: "racked", NumPartitions: 8, ReplicationFactor: 2}}, false)
	if res[0].Err != nil {
		t.Fatal(res[0].Err, res[0].ErrMessage)
	}
	tp, _ := m.image().Topic("racked")
	for _, p := range tp.Partitions {
		if racks[p.Replicas[0]] == racks[p.Replicas[1]] {
			t.Errorf("partition %d: replicas %v both in rack %s", p.Partition, p.Replicas, racks[p.Replicas[0]])
		}
	}
}
