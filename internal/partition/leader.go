package partition

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	samsalog "github.com/samsa-streaming/samsa/internal/log"
)

// The leader side: follower positions, the high watermark and the ISR.
//
// The high watermark is the minimum log end offset over the maximal ISR
// (committed ISR plus pending additions, the leader's own log end
// included). It never moves back while leading, and it is written only
// under replicaMu, so that a follower proposed for the ISR (whose log end
// was at least the high watermark when ISRChanges looked) keeps holding
// everything below it.

// advanceHighWatermarkLocked moves the leader's high watermark up to the
// minimum log end offset over the maximal ISR and reports whether it
// moved. A member with no known position (-1, or no tracker) holds it.
// Caller holds replicaMu.
func (p *Partition) advanceHighWatermarkLocked() bool {
	if !p.role.Load().leader {
		return false
	}
	rs := &p.replicas
	hw := p.log.LogEndOffset()
	for _, id := range rs.isr {
		hw = rs.capAt(id, hw)
	}
	for _, id := range rs.pending {
		hw = rs.capAt(id, hw)
	}
	if hw <= p.highWatermark.Load() {
		return false
	}
	p.highWatermark.Store(hw)
	return true
}

// capAt returns min(hw, the log end offset of replica id).
func (rs *replicaSet) capAt(id int32, hw int64) int64 {
	if id == rs.self {
		return hw
	}
	if f := rs.follower(id); f != nil {
		return min(hw, f.logEndOffset)
	}
	return -1
}

// leaderAppended runs after a leader append: the high watermark may move
// (at once when the ISR is the leader alone) and follower long polls are
// woken. Allocation-free.
func (p *Partition) leaderAppended() {
	p.replicaMu.Lock()
	moved := p.advanceHighWatermarkLocked()
	p.replicaMu.Unlock()
	if moved {
		p.waiters.ringAll()
	}
	p.dataWaiters.ringAll()
}

// FollowerFetched records that follower replica fetched at fetchOffset, so
// it holds every offset below it. Its caught-up time follows Kafka's rule:
// now if fetchOffset reached the leader's log end, else the time of its
// previous fetch if fetchOffset reached the leader's log end as of that
// fetch. The high watermark then moves to the minimum log end offset over
// the ISR, and parked waiters are rung if it moved.
//
// Call it only for a fetch that passed the epoch checks and whose
// LastFetchedEpoch does not diverge from this log (the follower's offsets
// below fetchOffset are this leader's). Errors: ErrNotLeader when not
// leader, ErrUnknownReplica for an id that is not a follower of this
// partition (both wrap kerr.NotLeaderForPartition), and an error wrapping
// kerr.OffsetOutOfRange for a fetch offset past the log end (a follower
// still to truncate). Safe to call concurrently from many connections.
func (p *Partition) FollowerFetched(replica int32, fetchOffset int64, now time.Time) error {
	p.replicaMu.Lock()
	if !p.role.Load().leader {
		p.replicaMu.Unlock()
		return ErrNotLeader
	}
	f := p.replicas.follower(replica)
	if f == nil {
		p.replicaMu.Unlock()
		return fmt.Errorf("partition %s: replica %d: %w", p, replica, ErrUnknownReplica)
	}
	leo := p.log.LogEndOffset()
	if fetchOffset < 0 || fetchOffset > leo {
		p.replicaMu.Unlock()
		return fmt.Errorf("partition %s: replica %d fetches at %d, log end is %d: %w", p, replica, fetchOffset, leo, kerr.OffsetOutOfRange)
	}
	switch {
	case fetchOffset >= leo:
		f.lastCaughtUp = laterOf(f.lastCaughtUp, now)
	case fetchOffset >= f.lastFetchLeaderLEO:
		f.lastCaughtUp = laterOf(f.lastCaughtUp, f.lastFetchTime)
	}
	f.logEndOffset, f.lastFetchLeaderLEO, f.lastFetchTime = fetchOffset, leo, now
	moved := p.advanceHighWatermarkLocked()
	p.replicaMu.Unlock()
	if moved {
		p.ringAll()
	}
	return nil
}

func laterOf(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// ISRChanges returns the ISR the leader wants and whether it differs (as a
// set) from the committed one: members other than the leader whose log end
// differs from the leader's and who have not caught up for longer than
// lagMax leave; followers outside it whose log end reached both the high
// watermark and the start of the current leader epoch, and who caught up
// within lagMax, join (after the kept members, in replica order).
//
// The joining followers become pending: until the committed ISR holds them
// or a later call no longer proposes them, they count for the high
// watermark, so the ISR the controller commits never holds a replica that
// lacks committed records. The broker calls it periodically (a few times
// per lagMax) and sends changed ISRs with AlterPartition. On a follower it
// returns the last known ISR and false.
func (p *Partition) ISRChanges(now time.Time, lagMax time.Duration) (isr []int32, changed bool) {
	p.replicaMu.Lock()
	rs := &p.replicas
	if !p.role.Load().leader {
		defer p.replicaMu.Unlock()
		return slices.Clone(rs.isr), false
	}
	leo, hw := p.log.LogEndOffset(), p.highWatermark.Load()
	want := make([]int32, 0, len(rs.replicas))
	for _, id := range rs.isr {
		if id != rs.self {
			f := rs.follower(id)
			if f == nil || f.logEndOffset != leo && now.Sub(f.lastCaughtUp) > lagMax {
				continue
			}
		}
		want = append(want, id)
	}
	kept := len(want)
	for i := range rs.followers {
		f := &rs.followers[i]
		if slices.Contains(rs.isr, f.id) {
			continue
		}
		if f.logEndOffset >= hw && f.logEndOffset >= rs.epochStart && now.Sub(f.lastCaughtUp) <= lagMax {
			want = append(want, f.id)
		}
	}
	rs.pending = append(rs.pending[:0], want[kept:]...)
	p.maximalISRSize.Store(int32(len(rs.isr) + len(rs.pending)))
	changed = kept != len(rs.isr) || len(want) != kept
	moved := p.advanceHighWatermarkLocked() // a dropped proposal may free it
	p.replicaMu.Unlock()
	if moved {
		p.ringAll()
	}
	return want, changed
}

// ReadReplica reads for a follower's fetch: whole batches from offset up
// to the log end (not the high watermark). Errors are Kafka errors:
// NOT_LEADER_OR_FOLLOWER when not leader, OFFSET_OUT_OF_RANGE,
// KAFKA_STORAGE_ERROR. The caller must Release the result.
func (p *Partition) ReadReplica(offset int64, maxBytes int32) (samsalog.ReadResult, error) {
	if !p.IsLeader() {
		return samsalog.ReadResult{}, kerr.NotLeaderForPartition
	}
	if offset > p.log.LogEndOffset() || offset < p.log.LogStartOffset() {
		return samsalog.ReadResult{}, kerr.OffsetOutOfRange
	}
	r, err := p.log.Read(offset, maxBytes, math.MaxInt64)
	if err != nil {
		return samsalog.ReadResult{}, kafkaError(err)
	}
	return r, nil
}

// ReadableReplicas returns, on the leader, the in-sync followers that hold
// offset (their log reaches it and starts at or below it): the replicas a
// consumer at offset may be sent to read from (KIP-392). Nil on a follower.
func (p *Partition) ReadableReplicas(offset int64) []int32 {
	p.replicaMu.Lock()
	defer p.replicaMu.Unlock()
	if !p.role.Load().leader {
		return nil
	}
	if offset < p.log.LogStartOffset() {
		return nil
	}
	var out []int32
	for _, f := range p.replicas.followers {
		if slices.Contains(p.replicas.isr, f.id) && f.logEndOffset >= offset {
			out = append(out, f.id)
		}
	}
	return out
}

// CheckEnoughReplicas is checked before an acks=all append:
// NOT_LEADER_OR_FOLLOWER when not leader, NOT_ENOUGH_REPLICAS when the
// committed ISR is smaller than min.insync.replicas, else nil.
func (p *Partition) CheckEnoughReplicas() error {
	if !p.IsLeader() {
		return kerr.NotLeaderForPartition
	}
	if int(p.isrSize.Load()) < p.settings.Load().minISR() {
		return kerr.NotEnoughReplicas
	}
	return nil
}

// AckError decides a parked acks=all produce of a batch appended in leader
// epoch leaderEpoch (ProduceResult.LeaderEpoch) and ending at lastOffset:
// not done while the high watermark is at or below lastOffset; done with
// nil once it passed, or NOT_ENOUGH_REPLICAS_AFTER_APPEND if the ISR
// (committed plus pending) is then smaller than min.insync.replicas; done
// with NOT_LEADER_OR_FOLLOWER as soon as this replica is no longer leader
// in that epoch (the batch may be truncated away). Lock-free; call it after
// Park and after every ring.
func (p *Partition) AckError(leaderEpoch int32, lastOffset int64) (done bool, err error) {
	r := p.role.Load()
	if !r.leader || r.epoch != leaderEpoch {
		return true, kerr.NotLeaderForPartition
	}
	hw := p.highWatermark.Load()
	if p.role.Load() != r {
		return true, kerr.NotLeaderForPartition
	}
	if hw <= lastOffset {
		return false, nil
	}
	if int(p.maximalISRSize.Load()) < p.settings.Load().minISR() {
		return true, kerr.NotEnoughReplicasAfterAppend
	}
	return true, nil
}
