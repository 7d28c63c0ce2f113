package controller

import (
	"context"
	"slices"
	"strings"

	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/topicconfig"
)

// liveFunc reports whether a broker may lead or join an ISR in the
// decision being taken (registered, unfenced, and not about to be fenced).
type liveFunc func(id int32) bool

// partKey names one partition.
type partKey struct {
	topic     metadata.TopicID
	partition int32
}

// plan collects partition changes computed against one image. Each
// partition appears at most once in the resulting records (its change is
// the difference between the image and its last planned state), so the
// records can share one Batch: every ChangePartition carries the
// partition epoch of the image.
type plan struct {
	img     metadata.Image
	unclean func(t *metadata.Topic) bool
	order   []partKey
	next    map[partKey]metadata.PartitionAssignment
}

func newPlan(img metadata.Image, unclean func(*metadata.Topic) bool) *plan {
	return &plan{img: img, unclean: unclean, next: map[partKey]metadata.PartitionAssignment{}}
}

// get returns the planned state of partition p of t (the image's if
// unchanged so far).
func (pl *plan) get(t *metadata.Topic, p int32) metadata.PartitionAssignment {
	if n, ok := pl.next[partKey{t.ID, p}]; ok {
		return n
	}
	return t.Partitions[p]
}

// set records the planned state of a partition of t.
func (pl *plan) set(t *metadata.Topic, next metadata.PartitionAssignment) {
	k := partKey{t.ID, next.Partition}
	if _, ok := pl.next[k]; !ok {
		pl.order = append(pl.order, k)
	}
	pl.next[k] = next
}

// each calls f for every partition of every topic, in topic-name order,
// with its planned state. p is shared (the image's, or the plan's): f
// copies it before changing anything.
func (pl *plan) each(f func(t *metadata.Topic, p *metadata.PartitionAssignment)) {
	planned := new(metadata.PartitionAssignment) // one copy for the whole walk
	for _, t := range pl.img.Topics() {
		for i := range t.Partitions {
			if len(pl.next) > 0 {
				if n, ok := pl.next[partKey{t.ID, int32(i)}]; ok {
					*planned = n
					f(t, planned)
					continue
				}
			}
			f(t, &t.Partitions[i])
		}
	}
}

// records returns one ChangePartition per partition whose planned state
// differs from the image.
func (pl *plan) records() []metadata.Record {
	var out []metadata.Record
	for _, k := range pl.order {
		t, ok := pl.img.TopicByID(k.topic)
		if !ok {
			continue
		}
		if rec, changed := changeRecord(t.ID, t.Partitions[k.partition], pl.next[k]); changed {
			out = append(out, rec)
		}
	}
	return out
}

// changeRecord returns the ChangePartition turning cur into next, and
// whether there is any change.
func changeRecord(id metadata.TopicID, cur, next metadata.PartitionAssignment) (metadata.ChangePartition, bool) {
	rec := metadata.ChangePartition{TopicID: id, Partition: cur.Partition, Leader: metadata.NoLeaderChange, PartitionEpoch: cur.PartitionEpoch}
	changed := false
	if !slices.Equal(next.Replicas, cur.Replicas) {
		rec.Replicas, changed = slices.Clone(next.Replicas), true
	}
	if !slices.Equal(next.ISR, cur.ISR) {
		rec.ISR, changed = slices.Clone(next.ISR), true
	}
	if next.Leader != cur.Leader {
		rec.Leader, changed = next.Leader, true
	}
	if !slices.Equal(next.Adding, cur.Adding) || !slices.Equal(next.Removing, cur.Removing) {
		rec.SetReassignment, changed = true, true
		rec.Adding, rec.Removing = slices.Clone(next.Adding), slices.Clone(next.Removing)
	}
	return rec, changed
}

// firstEligible returns the first broker of order that is in set and
// live, or NoLeader.
func firstEligible(order, set []int32, live liveFunc) int32 {
	for _, r := range order {
		if slices.Contains(set, r) && live(r) {
			return r
		}
	}
	return metadata.NoLeader
}

// firstLive returns the first live broker of order, or NoLeader.
func firstLive(order []int32, live liveFunc) int32 {
	for _, r := range order {
		if live(r) {
			return r
		}
	}
	return metadata.NoLeader
}

// without returns ids minus x, as a new slice.
func without(ids []int32, x int32) []int32 {
	out := make([]int32, 0, len(ids))
	for _, id := range ids {
		if id != x {
			out = append(out, id)
		}
	}
	return out
}

// keep returns the members of ids for which ok is true, as a new slice.
func keep(ids []int32, ok func(int32) bool) []int32 {
	out := make([]int32, 0, len(ids))
	for _, id := range ids {
		if ok(id) {
			out = append(out, id)
		}
	}
	return out
}

// elect gives p a leader from its ISR, or, when unclean is allowed, from
// its live replicas (the ISR then shrinks to the new leader). The new ISR
// keeps only live members. ok is false if nobody can lead.
func elect(p metadata.PartitionAssignment, live liveFunc, unclean bool) (metadata.PartitionAssignment, bool) {
	if l := firstEligible(p.Replicas, p.ISR, live); l != metadata.NoLeader {
		p.Leader, p.ISR = l, keep(p.ISR, live)
		return p, true
	}
	if unclean {
		if l := firstLive(p.Replicas, live); l != metadata.NoLeader {
			p.Leader, p.ISR = l, []int32{l}
			return p, true
		}
	}
	return p, false
}

// withoutBroker returns p once broker x can no longer lead it nor be in
// its ISR. A live leader other than x keeps leading and x leaves the ISR.
// If x led p (or p had no leader), the first live ISR member in replica
// order takes over; if there is none, the ISR is kept as it is (every
// member holds every committed record, so whichever comes back first may
// lead) and p has no leader, unless unclean election elects a live
// replica. If p's leader is itself on its way out (not live, e.g. fenced
// in the same tick), p is left for that broker's own fencing so that the
// ISR does not lose members that hold committed records.
func withoutBroker(p metadata.PartitionAssignment, x int32, live liveFunc, unclean bool) metadata.PartitionAssignment {
	if !slices.Contains(p.ISR, x) {
		return p
	}
	if p.Leader != x && p.Leader != metadata.NoLeader {
		if live(p.Leader) {
			p.ISR = without(p.ISR, x)
		}
		return p
	}
	cand := p
	cand.ISR = without(p.ISR, x)
	if next, ok := elect(cand, live, unclean); ok {
		return next
	}
	p.Leader = metadata.NoLeader
	return p
}

// completeReassignment ends p's reassignment if every added replica is
// in the ISR: the replicas become the target, the ISR keeps its members
// in the target, and if the leader is being removed the first live ISR
// member of the target takes over. ok is false if the reassignment cannot
// complete yet (nothing in progress, an added replica not in sync, or no
// live leader would remain).
func completeReassignment(p metadata.PartitionAssignment, live liveFunc) (metadata.PartitionAssignment, bool) {
	if !addingInSync(&p) {
		return p, false
	}
	target := p.TargetReplicas()
	isr := keep(p.ISR, func(id int32) bool { return slices.Contains(target, id) })
	if len(isr) == 0 {
		return p, false
	}
	next := p
	next.Replicas, next.ISR, next.Adding, next.Removing = target, isr, nil, nil
	if next.Leader == metadata.NoLeader || !slices.Contains(isr, next.Leader) {
		l := firstEligible(target, isr, live)
		if l == metadata.NoLeader && p.Leader != metadata.NoLeader {
			return p, false
		}
		next.Leader = l
	}
	return next, true
}

// removeBroker plans taking broker x out of every ISR and leadership.
func (pl *plan) removeBroker(x int32, live liveFunc) {
	pl.each(func(t *metadata.Topic, p *metadata.PartitionAssignment) {
		if !slices.Contains(p.ISR, x) {
			return
		}
		pl.set(t, withoutBroker(*p, x, live, pl.unclean(t)))
	})
}

// electLeaderless plans a leader for every partition without one that
// can get one.
func (pl *plan) electLeaderless(live liveFunc) {
	pl.each(func(t *metadata.Topic, p *metadata.PartitionAssignment) {
		if p.Leader != metadata.NoLeader {
			return
		}
		if next, ok := elect(*p, live, pl.unclean(t)); ok {
			pl.set(t, next)
		}
	})
}

// repair plans what an interrupted or raced decision may have left
// behind: a leader that is not live is replaced (as if it had just been
// fenced), ISR members that are not live leave the ISR of a partition that
// has a live leader, leaderless partitions are elected, and reassignments
// whose added replicas are all in sync complete.
func (pl *plan) repair(live liveFunc) {
	pl.each(func(t *metadata.Topic, p *metadata.PartitionAssignment) {
		if !needsRepair(p, live, func() bool { return pl.unclean(t) }) {
			return
		}
		next := *p
		switch {
		case next.Leader != metadata.NoLeader && !live(next.Leader):
			next = withoutBroker(next, next.Leader, live, pl.unclean(t))
		case next.Leader != metadata.NoLeader:
			next.ISR = keep(next.ISR, live)
		default:
			if e, ok := elect(next, live, pl.unclean(t)); ok {
				next = e
			}
		}
		if done, ok := completeReassignment(next, live); ok {
			next = done
		}
		if _, changed := changeRecord(t.ID, *p, next); changed {
			pl.set(t, next)
		}
	})
}

// needsRepair is repair's allocation-free test of whether p may need a
// change (an idle tick runs it for every partition).
func needsRepair(p *metadata.PartitionAssignment, live liveFunc, unclean func() bool) bool {
	if addingInSync(p) {
		return true
	}
	if p.Leader == metadata.NoLeader {
		if slices.ContainsFunc(p.ISR, live) {
			return true
		}
		return unclean() && slices.ContainsFunc(p.Replicas, live)
	}
	if !live(p.Leader) {
		return true
	}
	return !allLive(p.ISR, live)
}

func allLive(ids []int32, live liveFunc) bool {
	for _, id := range ids {
		if !live(id) {
			return false
		}
	}
	return true
}

// addingInSync reports whether p is being reassigned and every added
// replica is in its ISR.
func addingInSync(p *metadata.PartitionAssignment) bool {
	if !p.Reassigning() {
		return false
	}
	for _, a := range p.Adding {
		if !slices.Contains(p.ISR, a) {
			return false
		}
	}
	return true
}

// uncleanFunc returns whether unclean leader election is enabled for a
// topic: its unclean.leader.election.enable override, else the broker
// defaults the controller resolves topic configs through (dynamic
// cluster-wide, then static), else false. Results are cached per topic
// for the life of the returned func.
func (c *Controller) uncleanFunc(img metadata.Image) func(t *metadata.Topic) bool {
	layers := c.layers(img)
	cache := map[metadata.TopicID]bool{}
	return func(t *metadata.Topic) bool {
		if v, ok := cache[t.ID]; ok {
			return v
		}
		v, _ := topicconfig.ResolveOne("unclean.leader.election.enable", t.Configs, layers...)
		on := strings.EqualFold(v.Value, "true")
		cache[t.ID] = on
		return on
	}
}

// liveOf returns the liveness of img as a fast lookup (a tick asks it
// several times per partition).
func liveOf(img metadata.Image) liveFunc {
	ids := img.LiveBrokerIDs()
	return func(id int32) bool {
		_, ok := slices.BinarySearch(ids, id)
		return ok
	}
}

// liveExcept returns the liveness of img without broker x and without the
// brokers in dead (being fenced in the same decision).
func (c *Controller) liveExcept(img metadata.Image, x int32, dead map[int32]bool) liveFunc {
	return func(id int32) bool { return id != x && !dead[id] && img.IsLive(id) }
}

// liveWith returns the liveness of img with broker x live.
func liveWith(img metadata.Image, x int32) liveFunc {
	return func(id int32) bool {
		if id == x {
			_, ok := img.Broker(id)
			return ok
		}
		return img.IsLive(id)
	}
}

// maxChangesPerEntry bounds the partition changes of one Raft entry
// (about 150 bytes each, far below metadata.MaxRecordBytes).
const maxChangesPerEntry = 5000

// proposeChanges proposes head, changes and tail in as few Batches as the
// entry limit allows: head in the first, tail in the last, so that
// "unfence, then elect" and "move leaders, then fence" keep their order
// even when they need several entries. It returns the image after the
// last entry (img when there is nothing to propose); on error, earlier
// entries may have been applied.
func (c *Controller) proposeChanges(ctx context.Context, img metadata.Image, head, changes, tail []metadata.Record) (metadata.Image, error) {
	first := true
	for first || len(changes) > 0 {
		n := min(len(changes), maxChangesPerEntry)
		var recs []metadata.Record
		if first {
			recs = append(recs, head...)
		}
		recs = append(recs, changes[:n]...)
		changes = changes[n:]
		if len(changes) == 0 {
			recs = append(recs, tail...)
		}
		first = false
		if len(recs) == 0 {
			break
		}
		var err error
		if img, err = c.log.Propose(ctx, batch(recs)); err != nil {
			return img, err
		}
	}
	return img, nil
}
