package partition

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	samsalog "github.com/samsa-streaming/samsa/internal/log"
	"github.com/samsa-streaming/samsa/internal/testutil/batchtest"
)

// ackedBatch is a produce the leader acknowledged (acks=all).
type ackedBatch struct{ base, last int64 }

// TestReplicationConcurrent runs a leader and two followers in process:
// four producers append and wait for acks=all with Park/AckError, two
// follower goroutines long-poll the leader (ParkData) and copy with
// ReadReplica/AppendAsFollower/FollowerFetched in small fetches. After
// every copy the high watermark is checked against both followers' log
// ends; when a batch is acknowledged both followers must hold it; at the
// end every acknowledged batch must be on both followers with the leader's
// exact bytes, and the producer states must match.
func TestReplicationConcurrent(t *testing.T) {
	s := testSettings()
	s.MinInsyncReplicas = 3
	c := newCluster(t, 3, s)
	all := []int32{1, 2, 3}
	l := c.get(1)
	mustNil(t, l.BecomeLeader(1, all, all, time.Now()))
	for _, id := range []int32{2, 3} {
		mustNil(t, c.get(id).BecomeFollower(1, 1))
	}
	const producers, batches = 4, 500
	stop := make(chan struct{})
	failed := make(chan struct{}) // closed on the first follower error: producers give up
	var failOnce sync.Once
	errs := make(chan error, 8)
	var followers sync.WaitGroup
	for _, id := range []int32{2, 3} {
		followers.Add(1)
		go func() {
			defer followers.Done()
			if err := followLoop(l, c.get(id), id, c, stop); err != nil {
				errs <- err
				failOnce.Do(func() { close(failed) })
			}
		}()
	}
	acked := make([][]ackedBatch, producers)
	var prods sync.WaitGroup
	for pi := range producers {
		prods.Add(1)
		go func() {
			defer prods.Done()
			a, err := produceLoop(l, pi, batches, failed, []*Partition{c.get(2), c.get(3)})
			acked[pi] = a
			if err != nil {
				errs <- err
			}
		}()
	}
	prods.Wait()
	close(stop)
	followers.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}

	t.Logf("leader log end %d, hw %d, followers at %d and %d", l.LogEndOffset(), l.HighWatermark(), c.get(2).LogEndOffset(), c.get(3).LogEndOffset())
	leaderBatches := batchesByBase(t, l)
	for _, id := range []int32{2, 3} {
		got := batchesByBase(t, c.get(id))
		for pi, list := range acked {
			if len(list) != batches {
				t.Fatalf("producer %d: %d acks, want %d", pi, len(list), batches)
			}
			for _, a := range list {
				want, ok := leaderBatches[a.base]
				if !ok {
					t.Fatalf("acked batch at %d not on the leader", a.base)
				}
				if !bytes.Equal(got[a.base], want) {
					t.Fatalf("replica %d: acked batch %d-%d missing or different", id, a.base, a.last)
				}
			}
		}
	}
	// Quiet now: the followers take the rest, and hold the leader's
	// producer state.
	for _, id := range []int32{2, 3} {
		catchUp(t, l, c.get(id), id, time.Now())
	}
	for _, id := range []int32{2, 3} {
		sameLogs(t, l, c.get(id))
		if !bytes.Equal(producerStateOf(c.get(id)), producerStateOf(l)) {
			t.Fatalf("replica %d: producer state differs from the leader's", id)
		}
	}
}

// followLoop is a follower's fetcher: long-poll (ParkData), copy in small
// fetches, check the high watermark invariant, until stop.
func followLoop(l, f *Partition, id int32, c *cluster, stop <-chan struct{}) error {
	w := NewWakeup()
	defer l.UnparkData(w)
	poll := time.NewTimer(time.Hour)
	defer poll.Stop()
	for i := 0; i < 1_000_000; i++ {
		l.ParkData(w)
		n, err := tryCopyBytes(l, f, id, time.Now(), 2048)
		if err != nil {
			return fmt.Errorf("replica %d: %w", id, err)
		}
		// The high watermark, read first, is at most every ISR member's
		// log end (which only grows here).
		hw := l.HighWatermark()
		for _, other := range []int32{2, 3} {
			if leo := c.get(other).LogEndOffset(); leo < hw {
				return fmt.Errorf("hw %d above replica %d's log end %d", hw, other, leo)
			}
		}
		if n > 0 {
			continue
		}
		poll.Reset(100 * time.Millisecond) // replica.fetch.wait.max.ms
		select {
		case <-w.C:
		case <-poll.C:
		case <-stop:
			return nil
		}
	}
	return errors.New("follower loop bound reached")
}

// produceLoop appends n idempotent batches as producer pi and waits for
// each to be acknowledged with acks=all.
// At each acknowledgement both followers must already hold the batch.
func produceLoop(l *Partition, pi, n int, failed <-chan struct{}, followers []*Partition) ([]ackedBatch, error) {
	w := NewWakeup()
	defer l.Unpark(w)
	var out []ackedBatch
	seq := int32(0)
	for bi := range n {
		recs := 1 + bi%4
		b := batchtest.New(recs, int64(1000+bi))
		for i := range b.Records {
			b.Records[i].Value = fmt.Appendf(nil, "producer %d batch %d record %d", pi, bi, i)
		}
		if err := l.CheckEnoughReplicas(); err != nil {
			return out, err
		}
		res, err := l.AppendProduce(b.Idempotent(int64(100+pi), 0, seq).Encode())
		if err != nil {
			return out, fmt.Errorf("producer %d: %w", pi, err)
		}
		seq += int32(recs)
		deadline := time.NewTimer(20 * time.Second)
		for {
			l.Park(w)
			done, err := l.AckError(res.LeaderEpoch, res.LastOffset)
			if done && err != nil {
				deadline.Stop()
				return out, fmt.Errorf("producer %d ack: %w", pi, err)
			}
			if done {
				break
			}
			select {
			case <-w.C:
			case <-failed:
				deadline.Stop()
				return out, nil
			case <-deadline.C:
				return out, fmt.Errorf("producer %d: batch at %d never acknowledged (hw %d)", pi, res.LastOffset, l.HighWatermark())
			}
		}
		deadline.Stop()
		for _, f := range followers {
			if leo := f.LogEndOffset(); leo <= res.LastOffset {
				return out, fmt.Errorf("producer %d: batch ending at %d acknowledged, a follower is at %d", pi, res.LastOffset, leo)
			}
		}
		out = append(out, ackedBatch{res.BaseOffset, res.LastOffset})
	}
	return out, nil
}

func batchesByBase(t *testing.T, p *Partition) map[int64][]byte {
	t.Helper()
	m := map[int64][]byte{}
	for _, b := range logBatches(t, p) {
		h, err := samsalog.ParseBatchHeader(b)
		mustNil(t, err)
		m[h.BaseOffset] = b
	}
	return m
}

// truncateToLeader is the fetcher's truncation step (KIP-279): ask the
// leader where the follower's latest epoch ends and cut there (or at the
// follower's own end of the leader's nearest epoch).
func truncateToLeader(t *testing.T, leader, f *Partition) {
	t.Helper()
	epoch, ok := f.LatestEpoch()
	if !ok {
		return
	}
	le, lend := leader.EndOffsetForEpoch(epoch)
	if le < 0 {
		t.Fatalf("leader knows no epoch <= %d", epoch)
	}
	if le != epoch {
		_, fend := f.EndOffsetForEpoch(le)
		lend = min(lend, fend)
	}
	mustNil(t, f.TruncateTo(min(lend, f.LogEndOffset())))
}

// TestDivergentTail: the old leader appended a tail nobody copied; a new
// leader takes over in a new epoch and writes other batches at the same
// offsets. Coming back as a follower, the old leader truncates by
// OffsetForLeaderEpoch before copying; afterwards all logs are identical,
// and idempotent retries are answered the same on every replica that leads.
func TestDivergentTail(t *testing.T) {
	c := newCluster(t, 3, testSettings())
	all := []int32{1, 2, 3}
	a, b, cc := c.get(1), c.get(2), c.get(3)
	mustNil(t, a.BecomeLeader(1, all, all, t0))
	mustNil(t, b.BecomeFollower(1, 1))
	mustNil(t, cc.BecomeFollower(1, 1))
	first := produceIdem(t, a, 9, 0, 3)
	catchUp(t, a, b, 2, t0)
	catchUp(t, a, cc, 3, t0)
	if a.HighWatermark() != 3 {
		t.Fatalf("hw %d", a.HighWatermark())
	}
	// The tail only the old leader has.
	produceIdem(t, a, 9, 3, 2)
	produce(t, a, 4)
	if a.LogEndOffset() != 9 || a.HighWatermark() != 3 {
		t.Fatalf("old leader: leo %d hw %d", a.LogEndOffset(), a.HighWatermark())
	}

	// Replica 1 is gone; 2 leads in epoch 2 with ISR {2, 3}.
	mustNil(t, b.BecomeLeader(2, all, []int32{2, 3}, t0))
	mustNil(t, cc.BecomeFollower(2, 2))
	dup, err := b.AppendProduce(batchtest.New(3, 1000).Idempotent(9, 0, 0).Encode())
	if err != nil || !dup.Duplicate || dup.BaseOffset != first.BaseOffset || dup.LastOffset != first.LastOffset {
		t.Fatalf("retry of a replicated batch on the new leader: %+v %v", dup, err)
	}
	retry := produceIdem(t, b, 9, 3, 2) // the truncated one is appended again
	if retry.Duplicate || retry.BaseOffset != 3 {
		t.Fatalf("retry of an unreplicated batch: %+v", retry)
	}
	produce(t, b, 1)
	produce(t, b, 6) // the new leader's log passes the old one's end
	catchUp(t, b, cc, 3, t0)

	// The old leader comes back as a follower of epoch 2.
	mustNil(t, a.BecomeFollower(2, 2))
	truncateToLeader(t, b, a)
	if a.LogEndOffset() != 3 || a.HighWatermark() != 3 {
		t.Fatalf("after truncation: leo %d hw %d, want 3 3", a.LogEndOffset(), a.HighWatermark())
	}
	catchUp(t, b, a, 1, t0)
	sameLogs(t, a, b)
	sameLogs(t, cc, b)
	for _, p := range []*Partition{a, cc} {
		if !bytes.Equal(producerStateOf(p), producerStateOf(b)) {
			t.Fatalf("replica %s: producer state differs from the leader's", p.Log().Dir())
		}
	}

	// Failover back to replica 1: the retried batch is a duplicate with
	// the offsets the second leader gave it.
	mustNil(t, b.BecomeFollower(3, 1))
	mustNil(t, a.BecomeLeader(3, all, all, t0))
	again, err := a.AppendProduce(batchtest.New(2, 1000).Idempotent(9, 0, 3).Encode())
	if err != nil || !again.Duplicate || again.BaseOffset != retry.BaseOffset {
		t.Fatalf("retry after the second failover: %+v %v", again, err)
	}
	if _, err := a.AppendProduce(batchtest.New(1, 1000).Idempotent(9, 0, 9).Encode()); !errors.Is(err, kerr.OutOfOrderSequenceNumber) {
		t.Fatalf("gap after failover: %v", err)
	}
}
