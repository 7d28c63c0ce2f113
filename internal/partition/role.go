package partition

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	samsalog "github.com/samsa-streaming/samsa/internal/log"
)

// Errors of the replication API. The broker maps them to Kafka codes with
// errors.As(err, &*kerr.Error) where they wrap one.
var (
	// ErrNotLeader is returned by leader-only calls (FollowerFetched) on a
	// replica that is not the leader. It wraps kerr.NotLeaderForPartition.
	ErrNotLeader = fmt.Errorf("partition: not the leader: %w", kerr.NotLeaderForPartition)
	// ErrUnknownReplica is returned by FollowerFetched for a replica id that
	// is not one of the partition's replicas (Kafka answers such a fetch
	// with NOT_LEADER_OR_FOLLOWER). It wraps kerr.NotLeaderForPartition.
	ErrUnknownReplica = fmt.Errorf("partition: not a replica of this partition: %w", kerr.NotLeaderForPartition)
	// ErrNotFollower is returned by follower-only calls (AppendAsFollower,
	// TruncateTo, TruncateFullyAndStartAt) on the leader.
	ErrNotFollower = errors.New("partition: not a follower")
	// ErrStaleEpoch is returned by BecomeLeader and BecomeFollower for a
	// leader epoch older than the one the replica already acts in.
	ErrStaleEpoch = errors.New("partition: stale leader epoch")
	// ErrUnknownLocalReplica is returned by BecomeLeader when the replica
	// cannot tell which of the replicas it is (opened with Open, more than
	// one replica) or is not one of them.
	ErrUnknownLocalReplica = errors.New("partition: local replica not among the replicas")
)

// roleState is the replica's role. It is immutable: a change stores a new
// one (under appendMu and replicaMu), so a reader that loads it twice knows
// whether anything changed in between.
type roleState struct {
	leader   bool
	leaderID int32 // NoReplica if unknown
	epoch    int32 // -1 before any
	closed   bool
}

// followerState is what the leader knows of one follower.
type followerState struct {
	id int32
	// logEndOffset is the follower's last fetch offset: it holds every
	// offset below it. -1 until it fetches in this leader epoch.
	logEndOffset int64
	// lastCaughtUp is the last time the follower was known to hold
	// everything the leader had (Kafka's lastCaughtUpTimeMs).
	lastCaughtUp time.Time
	// lastFetchLeaderLEO and lastFetchTime are the leader's log end offset
	// and the time at the follower's previous fetch.
	lastFetchLeaderLEO int64
	lastFetchTime      time.Time
}

// replicaSet is the leader's view of its replicas. Guarded by replicaMu.
type replicaSet struct {
	self     int32
	replicas []int32 // as assigned (self included)
	isr      []int32 // committed ISR, from metadata
	// pending are followers ISRChanges proposed to add and the committed
	// ISR does not hold yet; they count for the high watermark.
	pending    []int32
	followers  []followerState // every replica but self; leader only
	epochStart int64           // start offset of the current leader epoch
}

func (rs *replicaSet) follower(id int32) *followerState {
	for i := range rs.followers {
		if rs.followers[i].id == id {
			return &rs.followers[i]
		}
	}
	return nil
}

// setFollowers tracks every replica but self. A new leader term resets
// all of them; otherwise the state of replicas that stay is kept. New
// trackers of ISR members start caught up at now, so that they are not
// shrunk out at once.
func (rs *replicaSet) setFollowers(replicas, isr []int32, now time.Time, reset bool) {
	old := rs.followers
	if reset {
		old = nil
	}
	next := make([]followerState, 0, len(replicas))
	for _, id := range replicas {
		if id == rs.self || slices.ContainsFunc(next, func(f followerState) bool { return f.id == id }) {
			continue
		}
		if i := slices.IndexFunc(old, func(f followerState) bool { return f.id == id }); i >= 0 {
			next = append(next, old[i])
			continue
		}
		f := followerState{id: id, logEndOffset: -1, lastFetchLeaderLEO: -1}
		if slices.Contains(isr, id) {
			f.lastCaughtUp = now
		}
		next = append(next, f)
	}
	rs.followers = next
}

// BecomeLeader makes this replica the leader in epoch, with the assigned
// replicas and committed ISR from metadata. A new epoch (or a replica that
// was not leader) starts a new term: the epoch's start offset is recorded
// in the log (the log end offset, if the epoch is newer than the log's),
// every follower's position is forgotten (ISR members count as caught up
// now) and every parked waiter is rung. The high watermark stays where it
// was and moves up only as the ISR's positions allow. Calling it again in
// the same epoch updates replicas and ISR, keeping follower positions.
//
// It returns ErrStaleEpoch for an epoch older than the current one, and
// ErrUnknownLocalReplica when this replica is not among replicas.
func (p *Partition) BecomeLeader(epoch int32, replicas, isr []int32, now time.Time) error {
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	cur := p.role.Load()
	if cur.closed {
		return fmt.Errorf("partition %s: become leader: %w", p, samsalog.ErrClosed)
	}
	if epoch < cur.epoch || epoch < 0 {
		return fmt.Errorf("partition %s: become leader in epoch %d, current %d: %w", p, epoch, cur.epoch, ErrStaleEpoch)
	}
	self, err := p.selfIn(replicas)
	if err != nil {
		return err
	}
	newTerm := !cur.leader || epoch != cur.epoch
	var epochStart int64
	if newTerm {
		if latest, ok := p.log.LatestEpoch(); !ok || epoch > latest {
			epochStart = p.log.LogEndOffset()
			if err := p.log.AssignEpochStartOffset(epoch, epochStart); err != nil {
				return fmt.Errorf("partition %s: become leader in epoch %d: %w", p, epoch, err)
			}
		} else {
			epochStart = p.startOfEpoch(epoch)
		}
	}

	p.replicaMu.Lock()
	rs := &p.replicas
	rs.self = self
	rs.replicas = slices.Clone(replicas)
	rs.setFollowers(replicas, isr, now, newTerm)
	if newTerm {
		rs.pending = nil
		rs.epochStart = epochStart
		p.role.Store(&roleState{leader: true, leaderID: self, epoch: epoch})
	}
	p.setISRLocked(isr)
	moved := p.advanceHighWatermarkLocked()
	p.replicaMu.Unlock()
	if newTerm || moved {
		p.ringAll()
	}
	return nil
}

// selfIn returns this replica's id, which must be in replicas.
func (p *Partition) selfIn(replicas []int32) (int32, error) {
	switch {
	case p.localID != NoReplica && slices.Contains(replicas, p.localID):
		return p.localID, nil
	case p.localID == NoReplica && len(replicas) == 1:
		return replicas[0], nil
	}
	return NoReplica, fmt.Errorf("partition %s: local replica %d, replicas %v: %w", p, p.localID, replicas, ErrUnknownLocalReplica)
}

// startOfEpoch returns the offset at which the log's entry for epoch (the
// latest one) begins.
func (p *Partition) startOfEpoch(epoch int32) int64 {
	if epoch > 0 {
		if e, off := p.log.EndOffsetForEpoch(epoch - 1); e >= 0 && off >= 0 {
			return off
		}
	}
	return p.log.LogStartOffset()
}

// BecomeFollower makes this replica a follower of leader (NoReplica: no
// leader) in epoch. Leader-side tracking is dropped and every parked
// waiter is rung, so that parked acks=all produces answer
// NOT_LEADER_OR_FOLLOWER at once. The high watermark stays; the fetcher
// then truncates a divergent tail and copies from the leader. The same
// epoch and leader again is a no-op; an older epoch is ErrStaleEpoch.
func (p *Partition) BecomeFollower(epoch int32, leader int32) error {
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	cur := p.role.Load()
	switch {
	case cur.closed:
		return fmt.Errorf("partition %s: become follower: %w", p, samsalog.ErrClosed)
	case epoch < cur.epoch:
		return fmt.Errorf("partition %s: become follower in epoch %d, current %d: %w", p, epoch, cur.epoch, ErrStaleEpoch)
	case leader != NoReplica && leader == p.localID:
		return fmt.Errorf("partition %s: become follower of itself (%d)", p, leader)
	case !cur.leader && cur.epoch == epoch && cur.leaderID == leader:
		return nil
	}
	if leader < 0 {
		leader = NoReplica
	}
	p.replicaMu.Lock()
	p.replicas.followers, p.replicas.pending = nil, nil
	p.role.Store(&roleState{leaderID: leader, epoch: epoch})
	p.setISRLocked(p.replicas.isr)
	p.replicaMu.Unlock()
	p.ringAll()
	return nil
}

// setClosed marks the replica closed (not leader). Caller holds appendMu.
func (p *Partition) setClosed() {
	p.replicaMu.Lock()
	cur := p.role.Load()
	p.replicas.followers, p.replicas.pending = nil, nil
	p.role.Store(&roleState{leaderID: NoReplica, epoch: cur.epoch, closed: true})
	p.replicaMu.Unlock()
}

// IsLeader reports whether this replica is the partition's leader.
func (p *Partition) IsLeader() bool { return p.role.Load().leader }

// Leader returns the leader's id as this replica knows it (NoReplica when
// unknown).
func (p *Partition) Leader() int32 { return p.role.Load().leaderID }

// LeaderEpoch returns the leader epoch this replica acts in (-1 before
// any role).
func (p *Partition) LeaderEpoch() int32 { return p.role.Load().epoch }

// ISR returns a copy of the committed in-sync replicas as last given by
// BecomeLeader or UpdateISR.
func (p *Partition) ISR() []int32 {
	p.replicaMu.Lock()
	defer p.replicaMu.Unlock()
	return slices.Clone(p.replicas.isr)
}

// UpdateISR applies the committed ISR from metadata. On the leader,
// pending additions it holds stop being pending, the min.insync checks use
// it, and the high watermark is recomputed (a shrink may let it move). ISR
// members that are not replicas hold the high watermark back (metadata
// should never say so).
func (p *Partition) UpdateISR(isr []int32) {
	p.replicaMu.Lock()
	p.setISRLocked(isr)
	moved := p.advanceHighWatermarkLocked()
	p.replicaMu.Unlock()
	if moved {
		p.ringAll()
	}
}

// setISRLocked installs the committed ISR and updates the ISR sizes.
// Caller holds replicaMu.
func (p *Partition) setISRLocked(isr []int32) {
	rs := &p.replicas
	if !slices.Equal(rs.isr, isr) {
		// A replica the controller took out of the ISR (fenced: dead,
		// restarted or shut down) must fetch again before it can be
		// proposed back: its last known position may no longer hold.
		for i := range rs.followers {
			f := &rs.followers[i]
			if slices.Contains(rs.isr, f.id) && !slices.Contains(isr, f.id) {
				f.logEndOffset, f.lastFetchLeaderLEO = -1, -1
			}
		}
		rs.isr = slices.Clone(isr)
	}
	rs.pending = slices.DeleteFunc(rs.pending, func(id int32) bool {
		return slices.Contains(rs.isr, id) || !slices.Contains(rs.replicas, id)
	})
	p.isrSize.Store(int32(len(rs.isr)))
	p.maximalISRSize.Store(int32(len(rs.isr) + len(rs.pending)))
}
