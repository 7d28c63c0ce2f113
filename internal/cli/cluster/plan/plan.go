// Package plan computes partition reassignment plans: which partitions get a
// new replica list so that load evens out across brokers (Rebalance), or so
// that one broker holds nothing any more (Decommission).
//
// The functions are pure: they take the brokers replicas may be placed on and
// the current assignment (topic → partition → replicas, the first replica
// being the preferred leader) and return the list of moves. They talk to no
// cluster; `samsa cluster rebalance` and `samsa cluster decommission` submit
// the moves with AlterPartitionReassignments (Kafka API 45).
//
// Rules every plan keeps:
//
//  1. A partition keeps its replication factor: a move replaces a replica in
//     place, it never adds or drops one.
//  2. No broker appears twice in one partition's replica list.
//  3. Replicas on brokers that are not in the broker list (dead or unknown
//     brokers) stay where they are and are not counted, except that
//     Decommission moves the replicas of the drained broker whether or not it
//     is listed.
//  4. With racks, a move never lowers the number of distinct racks a
//     partition spans.
//  5. The same input gives the same plan (ties are broken by topic,
//     partition and broker id), so a dry run shows what will be submitted.
package plan

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
)

// Broker is a broker that replicas may be placed on.
type Broker struct {
	// ID is the broker's node id.
	ID int32
	// Rack is the broker's rack, "" when it has none.
	Rack string
}

// Assignment maps topic → partition → replicas. The first replica of a list
// is the partition's preferred leader.
type Assignment map[string]map[int32][]int32

// Move is one partition whose replica list changes.
type Move struct {
	Topic     string
	Partition int32
	// Current is the partition's replica list before the move.
	Current []int32
	// Target is its replica list after the move: the same length, possibly
	// other brokers or another order (a new preferred leader).
	Target []int32
}

// Moved reports how many replicas the move places on brokers that did not
// hold the partition before (0 for a move that only reorders replicas).
func (m Move) Moved() int {
	n := 0
	for _, b := range m.Target {
		if !slices.Contains(m.Current, b) {
			n++
		}
	}
	return n
}

// BrokerLoad is how many replicas and preferred leaderships a broker holds.
type BrokerLoad struct {
	ID   int32
	Rack string
	// Replicas counts the partitions with a replica on the broker.
	Replicas int
	// Leaders counts the partitions whose first replica is the broker.
	Leaders int
}

// Clone returns a deep copy of a.
func (a Assignment) Clone() Assignment {
	out := make(Assignment, len(a))
	for t, ps := range a {
		cp := make(map[int32][]int32, len(ps))
		for p, rs := range ps {
			cp[p] = slices.Clone(rs)
		}
		out[t] = cp
	}
	return out
}

// Apply returns a copy of a with every move's target in place of the
// partition's replicas. a is not modified.
func (a Assignment) Apply(moves []Move) Assignment {
	out := a.Clone()
	for _, m := range moves {
		ps := out[m.Topic]
		if ps == nil {
			ps = make(map[int32][]int32)
			out[m.Topic] = ps
		}
		ps[m.Partition] = slices.Clone(m.Target)
	}
	return out
}

// Partitions returns the number of partitions in a.
func (a Assignment) Partitions() int {
	n := 0
	for _, ps := range a {
		n += len(ps)
	}
	return n
}

// Loads counts the replicas and preferred leaders of every listed broker in
// a, sorted by broker id. Replicas on brokers not listed are not counted.
func Loads(brokers []Broker, a Assignment) []BrokerLoad {
	idx := make(map[int32]int, len(brokers))
	out := make([]BrokerLoad, 0, len(brokers))
	for _, b := range brokers {
		if _, dup := idx[b.ID]; dup {
			continue
		}
		idx[b.ID] = len(out)
		out = append(out, BrokerLoad{ID: b.ID, Rack: b.Rack})
	}
	for _, ps := range a {
		for _, rs := range ps {
			for i, r := range rs {
				j, ok := idx[r]
				if !ok {
					continue
				}
				out[j].Replicas++
				if i == 0 {
					out[j].Leaders++
				}
			}
		}
	}
	slices.SortFunc(out, func(x, y BrokerLoad) int { return cmp.Compare(x.ID, y.ID) })
	return out
}

// model is the working state of a planner: the known brokers with their
// counts and every partition with its target replica list being edited.
type model struct {
	brokers map[int32]*brokerState
	// ids are the known broker ids, ascending.
	ids []int32
	// parts are all partitions sorted by topic and partition; a
	// partition's idx is its position here.
	parts []*partition
	// hasRacks is true when at least one broker has a rack.
	hasRacks bool
}

type brokerState struct {
	id       int32
	rack     string
	replicas int
	leaders  int
	// topics counts the broker's replicas per topic.
	topics map[string]int
	// hosted holds, by topic, the idx of every partition with a replica
	// here.
	hosted map[string]map[int]struct{}
}

type partition struct {
	idx       int
	topic     string
	partition int32
	current   []int32
	target    []int32
}

// newModel checks the input and builds the working state.
func newModel(brokers []Broker, a Assignment) (*model, error) {
	m := &model{brokers: make(map[int32]*brokerState, len(brokers))}
	for _, b := range brokers {
		if _, dup := m.brokers[b.ID]; dup {
			return nil, fmt.Errorf("plan: broker %d listed twice", b.ID)
		}
		m.brokers[b.ID] = &brokerState{id: b.ID, rack: b.Rack, topics: map[string]int{}, hosted: map[string]map[int]struct{}{}}
		m.ids = append(m.ids, b.ID)
		m.hasRacks = m.hasRacks || b.Rack != ""
	}
	slices.Sort(m.ids)
	for _, t := range slices.Sorted(maps.Keys(a)) {
		ps := a[t]
		for _, p := range slices.Sorted(maps.Keys(ps)) {
			rs := ps[p]
			for i, r := range rs {
				if slices.Contains(rs[:i], r) {
					return nil, fmt.Errorf("plan: partition %s-%d lists broker %d twice in its replicas %v", t, p, r, rs)
				}
			}
			part := &partition{idx: len(m.parts), topic: t, partition: p, current: slices.Clone(rs), target: slices.Clone(rs)}
			m.parts = append(m.parts, part)
			for i, r := range rs {
				if b := m.brokers[r]; b != nil {
					b.add(part, i == 0)
				}
			}
		}
	}
	return m, nil
}

func (b *brokerState) add(p *partition, leader bool) {
	b.replicas++
	b.topics[p.topic]++
	if b.hosted[p.topic] == nil {
		b.hosted[p.topic] = make(map[int]struct{})
	}
	b.hosted[p.topic][p.idx] = struct{}{}
	if leader {
		b.leaders++
	}
}

func (b *brokerState) remove(p *partition, leader bool) {
	b.replicas--
	b.topics[p.topic]--
	delete(b.hosted[p.topic], p.idx)
	if leader {
		b.leaders--
	}
}

// replace puts broker to in place of the replica at pos of p.
func (m *model) replace(p *partition, pos int, to int32) {
	if from := m.brokers[p.target[pos]]; from != nil {
		from.remove(p, pos == 0)
	}
	p.target[pos] = to
	if b := m.brokers[to]; b != nil {
		b.add(p, pos == 0)
	}
}

// promote makes the replica at pos the preferred leader of p by swapping it
// with the first replica.
func (m *model) promote(p *partition, pos int) {
	if pos == 0 {
		return
	}
	if old := m.brokers[p.target[0]]; old != nil {
		old.leaders--
	}
	if nw := m.brokers[p.target[pos]]; nw != nil {
		nw.leaders++
	}
	p.target[0], p.target[pos] = p.target[pos], p.target[0]
}

// rackSpread returns how many distinct racks the known brokers of replicas
// span (0 when no broker has a rack).
func (m *model) rackSpread(replicas []int32) int {
	if !m.hasRacks {
		return 0
	}
	seen := make(map[string]struct{}, len(replicas))
	for _, r := range replicas {
		if b := m.brokers[r]; b != nil {
			seen[b.rack] = struct{}{}
		}
	}
	return len(seen)
}

// spreadWith returns the rack spread of p's target with the replica at pos
// replaced by broker to.
func (m *model) spreadWith(p *partition, pos int, to int32) int {
	if !m.hasRacks {
		return 0
	}
	rs := slices.Clone(p.target)
	rs[pos] = to
	return m.rackSpread(rs)
}

// moves returns the partitions whose target differs from their current
// replicas, in topic and partition order.
func (m *model) moves() []Move {
	var out []Move
	for _, p := range m.parts {
		if !slices.Equal(p.current, p.target) {
			out = append(out, Move{Topic: p.topic, Partition: p.partition, Current: slices.Clone(p.current), Target: slices.Clone(p.target)})
		}
	}
	return out
}

// changed reports whether p's target already differs from its current
// replicas.
func (p *partition) changed() bool { return !slices.Equal(p.current, p.target) }
