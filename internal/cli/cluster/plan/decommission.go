package plan

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
)

// ErrNotEnoughBrokers is returned (wrapped) by Decommission when a
// partition's replication factor cannot be kept without the drained broker:
// every other broker already holds one of its replicas.
var ErrNotEnoughBrokers = errors.New("not enough brokers to keep the replication factor")

// Decommission returns the moves that take every replica off broker node and
// move nothing else. node need not be in brokers (a dead broker can be
// drained); it is never chosen as a destination.
//
// Each replica on node is replaced, in place, by the listed broker that
// keeps the partition's replicas on the most racks, then holds the fewest
// replicas (counting the moves planned so far), then the fewest replicas of
// the partition's topic, then has the lowest id. Where node was the
// preferred leader, the replica of the new list that leads the fewest
// partitions becomes the first.
//
// It fails with ErrNotEnoughBrokers when some partition cannot keep its
// replication factor (fewer brokers than replicas remain).
func Decommission(brokers []Broker, current Assignment, node int32) ([]Move, error) {
	m, err := newModel(brokers, current)
	if err != nil {
		return nil, err
	}
	var others []*brokerState
	for _, id := range m.ids {
		if id != node {
			others = append(others, m.brokers[id])
		}
	}
	for _, p := range m.parts {
		pos := slices.Index(p.target, node)
		if pos < 0 {
			continue
		}
		var best *brokerState
		bestSpread := 0
		for _, b := range others {
			if slices.Contains(p.target, b.id) {
				continue
			}
			spread := m.spreadWith(p, pos, b.id)
			if best == nil || cmp.Or(
				cmp.Compare(bestSpread, spread),
				cmp.Compare(b.replicas, best.replicas),
				cmp.Compare(b.topics[p.topic], best.topics[p.topic]),
				cmp.Compare(b.id, best.id),
			) < 0 {
				best, bestSpread = b, spread
			}
		}
		if best == nil {
			return nil, fmt.Errorf("plan: partition %s-%d has %d replicas %v; without broker %d only %d brokers remain: %w",
				p.topic, p.partition, len(p.target), p.current, node, len(others), ErrNotEnoughBrokers)
		}
		m.replace(p, pos, best.id)
		if pos == 0 {
			m.promote(p, m.leastLeading(p))
		}
	}
	return m.moves(), nil
}

// leastLeading returns the position in p's target of the known replica that
// leads the fewest other partitions (ties: the earlier position).
func (m *model) leastLeading(p *partition) int {
	best, bestCount := 0, -1
	for pos, id := range p.target {
		b := m.brokers[id]
		if b == nil {
			continue
		}
		count := b.leaders
		if pos == 0 {
			count-- // p itself, which it keeps if chosen
		}
		if bestCount < 0 || count < bestCount {
			best, bestCount = pos, count
		}
	}
	return best
}
