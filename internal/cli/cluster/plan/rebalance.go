package plan

import (
	"cmp"
	"errors"
	"slices"
)

// Rebalance returns the moves that even out the brokers' replica counts and
// preferred-leader counts, moving as few replicas as it can.
//
// Replicas first: the total is split so that every broker gets ⌊total/n⌋ or
// ⌈total/n⌉ replicas, the larger shares going to the brokers that hold the
// most already, and replicas move only from brokers above their share to
// brokers below it; so each move closes one unit of imbalance and the
// number of moved replicas is the least possible. Where rack or placement
// constraints leave a gap of two or more, a second pass narrows it with
// further moves. Among candidate moves, the planner prefers the one that
// spreads the partition's topic best (moving a replica of the topic the
// source holds most of to the broker holding least of it), then a follower
// over a preferred leader.
//
// Preferred leaders second, without moving data: a partition's replicas are
// reordered (the new leader swapped to the front) along chains of partitions
// so that a broker leading two or more partitions more than another hands
// one over, until no such pair can trade. Partitions that already move are
// preferred for the reordering.
//
// The result is sorted by topic and partition; it is empty when the
// assignment is already balanced.
func Rebalance(brokers []Broker, current Assignment) ([]Move, error) {
	if len(brokers) == 0 {
		return nil, errors.New("plan: rebalance needs at least one broker")
	}
	m, err := newModel(brokers, current)
	if err != nil {
		return nil, err
	}
	m.balanceReplicas()
	m.balanceLeaders()
	return m.moves(), nil
}

// balanceReplicas moves replicas between brokers until the counts are even.
func (m *model) balanceReplicas() {
	total := 0
	for _, b := range m.brokers {
		total += b.replicas
	}
	targets := m.shares(total, func(b *brokerState) int { return b.replicas })
	// Each move of the first pass lowers the total excess by one; each move
	// of the second lowers the sum of squared counts by at least two. The
	// limits only guard against a bug turning either into an endless loop.
	for i := 0; i <= total && m.moveReplica(func(s, d *brokerState) bool {
		return s.replicas > targets[s.id] && d.replicas < targets[d.id]
	}); i++ {
	}
	for i := 0; i <= 4*total && m.moveReplica(func(s, d *brokerState) bool {
		return s.replicas >= d.replicas+2
	}); i++ {
	}
}

// shares splits total between the known brokers: ⌊total/n⌋ each, plus one
// for the total%n brokers with the highest count (ties: lower id).
func (m *model) shares(total int, count func(*brokerState) int) map[int32]int {
	n := len(m.ids)
	base, extra := total/n, total%n
	order := m.byCountDesc(count)
	out := make(map[int32]int, n)
	for i, b := range order {
		out[b.id] = base
		if i < extra {
			out[b.id]++
		}
	}
	return out
}

// byCountDesc returns the known brokers by count, highest first, ties by id.
func (m *model) byCountDesc(count func(*brokerState) int) []*brokerState {
	out := make([]*brokerState, 0, len(m.ids))
	for _, id := range m.ids {
		out = append(out, m.brokers[id])
	}
	slices.SortStableFunc(out, func(x, y *brokerState) int { return cmp.Compare(count(y), count(x)) })
	return out
}

// moveReplica makes the best move from the most loaded source that has one
// allowed by ok, and reports whether it moved anything.
//
// Candidates are ordered by topic spread (the destination's replicas of the
// topic minus the source's: lower is better), then the emptier destination,
// then broker id and topic; within a (topic, destination) pair a follower is
// moved rather than the preferred leader, then the lowest partition.
func (m *model) moveReplica(ok func(s, d *brokerState) bool) bool {
	type pair struct {
		topic string
		dest  *brokerState
		skew  int
	}
	for _, s := range m.byCountDesc(func(b *brokerState) int { return b.replicas }) {
		var pairs []pair
		for _, id := range m.ids {
			d := m.brokers[id]
			if d == s || !ok(s, d) {
				continue
			}
			for t, n := range s.topics {
				if n > 0 {
					pairs = append(pairs, pair{topic: t, dest: d, skew: d.topics[t] - n})
				}
			}
		}
		slices.SortFunc(pairs, func(x, y pair) int {
			return cmp.Or(
				cmp.Compare(x.skew, y.skew),
				cmp.Compare(x.dest.replicas, y.dest.replicas),
				cmp.Compare(x.dest.id, y.dest.id),
				cmp.Compare(x.topic, y.topic),
			)
		})
		for _, pr := range pairs {
			if p, pos := m.pickReplica(s, pr.topic, pr.dest); p != nil {
				m.replace(p, pos, pr.dest.id)
				return true
			}
		}
	}
	return false
}

// pickReplica returns a partition of topic with a replica on s that may
// move to d (d holds none of it, the rack spread does not shrink) and the
// position of s in its replicas: a follower before a preferred leader, then
// the lowest partition. It returns nil when there is none.
func (m *model) pickReplica(s *brokerState, topic string, d *brokerState) (*partition, int) {
	var best *partition
	bestPos := 0
	for idx := range s.hosted[topic] {
		p := m.parts[idx]
		pos := slices.Index(p.target, s.id)
		if slices.Contains(p.target, d.id) || (m.hasRacks && m.spreadWith(p, pos, d.id) < m.rackSpread(p.target)) {
			continue
		}
		if best == nil || cmp.Or(cmp.Compare(min(pos, 1), min(bestPos, 1)), cmp.Compare(p.idx, best.idx)) < 0 {
			best, bestPos = p, pos
		}
	}
	return best, bestPos
}

// balanceLeaders reorders replicas until no broker leads two or more
// partitions more than a broker it can hand a leadership to.
func (m *model) balanceLeaders() {
	// Each shift lowers the sum of squared leader counts by at least two.
	limit := 4*len(m.parts) + 16
	for i := 0; i < limit && m.shiftLeader(); i++ {
	}
}

// handoff is an edge of the leadership graph: the leader of p can hand its
// leadership to the replica at pos.
type handoff struct {
	p   *partition
	pos int
}

// shiftLeader finds a broker u and a broker v leading at least two
// partitions fewer, linked by a chain u → x → … → v where each broker leads
// a partition the next one holds a replica of, and moves one leadership
// along every link: u loses one, v gains one, the brokers between keep
// their count. It reports whether it shifted anything.
func (m *model) shiftLeader() bool {
	if len(m.ids) < 2 {
		return false
	}
	order := m.byCountDesc(func(b *brokerState) int { return b.leaders })
	if order[0].leaders-order[len(order)-1].leaders < 2 {
		return false
	}
	edges := m.handoffs()
	for _, u := range order {
		if path := m.leaderPath(u, edges); path != nil {
			for _, e := range path {
				m.promote(e.p, e.pos)
			}
			return true
		}
	}
	return false
}

// handoffs returns, for every pair of known brokers (u, v) where u leads a
// partition with a replica on v, the partition to use: one that already
// moves if there is any (so fewer partitions change), else the first.
func (m *model) handoffs() map[int32]map[int32]handoff {
	edges := make(map[int32]map[int32]handoff, len(m.ids))
	for _, p := range m.parts {
		if len(p.target) < 2 || m.brokers[p.target[0]] == nil {
			continue
		}
		u := p.target[0]
		for pos := 1; pos < len(p.target); pos++ {
			v := p.target[pos]
			if m.brokers[v] == nil {
				continue
			}
			if edges[u] == nil {
				edges[u] = make(map[int32]handoff)
			}
			old, ok := edges[u][v]
			if !ok || (p.changed() && !old.p.changed()) {
				edges[u][v] = handoff{p: p, pos: pos}
			}
		}
	}
	return edges
}

// leaderPath searches breadth-first from u for the reachable broker with the
// fewest leaderships, at least two fewer than u (ties: nearer, then lower
// id), and returns the chain of handoffs to it, or nil.
func (m *model) leaderPath(u *brokerState, edges map[int32]map[int32]handoff) []handoff {
	type visit struct {
		from int32
		via  handoff
		dist int
	}
	seen := map[int32]visit{u.id: {}}
	queue := []int32{u.id}
	var best *brokerState
	bestDist := 0
	for len(queue) > 0 {
		x := queue[0]
		queue = queue[1:]
		for _, y := range m.ids {
			e, ok := edges[x][y]
			if !ok {
				continue
			}
			if _, done := seen[y]; done {
				continue
			}
			dist := seen[x].dist + 1
			seen[y] = visit{from: x, via: e, dist: dist}
			queue = append(queue, y)
			b := m.brokers[y]
			if b.leaders > u.leaders-2 {
				continue
			}
			if best == nil || b.leaders < best.leaders || (b.leaders == best.leaders && dist < bestDist) {
				best, bestDist = b, dist
			}
		}
	}
	if best == nil {
		return nil
	}
	var path []handoff
	for y := best.id; y != u.id; y = seen[y].from {
		path = append(path, seen[y].via)
	}
	slices.Reverse(path)
	return path
}
