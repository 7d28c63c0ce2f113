package partition

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/testutil/batchtest"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

// errAny in a table means "some error".
var errAny = errors.New("any error")

func TestRoleTransitions(t *testing.T) {
	c := newCluster(t, 1, testSettings())
	p := c.get(1)
	all := []int32{1, 2, 3}
	steps := []struct {
		name       string
		do         func() error
		wantErr    error
		leader     bool
		leaderID   int32
		epoch      int32
		rings      bool
		canProduce bool
	}{
		{"new replica follows nobody", func() error { return nil }, nil, false, NoReplica, -1, false, false},
		{"become leader", func() error { return p.BecomeLeader(1, all, all, t0) }, nil, true, 1, 1, true, true},
		{"same epoch again is a no-op", func() error { return p.BecomeLeader(1, all, all, t0) }, nil, true, 1, 1, false, true},
		{"older epoch refused", func() error { return p.BecomeLeader(0, all, all, t0) }, ErrStaleEpoch, true, 1, 1, false, true},
		{"not among the replicas", func() error { return p.BecomeLeader(2, []int32{2, 3}, []int32{2, 3}, t0) }, ErrUnknownLocalReplica, true, 1, 1, false, true},
		{"become follower", func() error { return p.BecomeFollower(2, 2) }, nil, false, 2, 2, true, false},
		{"same follower again is a no-op", func() error { return p.BecomeFollower(2, 2) }, nil, false, 2, 2, false, false},
		{"follower of an older epoch refused", func() error { return p.BecomeFollower(1, 3) }, ErrStaleEpoch, false, 2, 2, false, false},
		{"follower of itself refused", func() error { return p.BecomeFollower(3, 1) }, errAny, false, 2, 2, false, false},
		{"leader lost: no leader", func() error { return p.BecomeFollower(3, NoReplica) }, nil, false, NoReplica, 3, true, false},
		{"leader again", func() error { return p.BecomeLeader(4, all, []int32{1}, t0) }, nil, true, 1, 4, true, true},
	}
	for _, st := range steps {
		w, wd := NewWakeup(), NewWakeup()
		p.Park(w)
		p.ParkData(wd)
		err := st.do()
		switch {
		case st.wantErr == errAny && err == nil:
			t.Fatalf("%s: accepted", st.name)
		case st.wantErr != nil && st.wantErr != errAny && !errors.Is(err, st.wantErr):
			t.Fatalf("%s: err = %v, want %v", st.name, err, st.wantErr)
		case st.wantErr == nil && err != nil:
			t.Fatalf("%s: %v", st.name, err)
		}
		if p.IsLeader() != st.leader || p.Leader() != st.leaderID || p.LeaderEpoch() != st.epoch {
			t.Fatalf("%s: leader=%v id=%d epoch=%d, want %v %d %d", st.name,
				p.IsLeader(), p.Leader(), p.LeaderEpoch(), st.leader, st.leaderID, st.epoch)
		}
		if st.rings {
			waitRing(t, w, st.name+" (Park)")
			waitRing(t, wd, st.name+" (ParkData)")
		} else {
			notRung(t, w, st.name)
		}
		p.Unpark(w)
		p.UnparkData(wd)
		_, err = p.AppendProduce(batchtest.New(1, 1000).Encode())
		if st.canProduce != (err == nil) {
			t.Fatalf("%s: produce err = %v", st.name, err)
		}
		if !st.canProduce && !errors.Is(err, kerr.NotLeaderForPartition) {
			t.Fatalf("%s: produce on a follower: %v, want NOT_LEADER_OR_FOLLOWER", st.name, err)
		}
	}
}

func TestOpenWithoutLocalID(t *testing.T) {
	p := openTest(t, vfs.NewMemFS(), "/p", testSettings())
	defer p.Close()
	if err := p.BecomeLeader(0, []int32{5, 6}, []int32{5, 6}, t0); !errors.Is(err, ErrUnknownLocalReplica) {
		t.Fatalf("two replicas, unknown local id: %v", err)
	}
	if err := p.BecomeLeader(0, []int32{5}, []int32{5}, t0); err != nil {
		t.Fatalf("single replica: %v", err)
	}
	if p.Leader() != 5 {
		t.Fatalf("leader %d, want 5", p.Leader())
	}
}

func TestBecomeLeaderRecordsEpochStart(t *testing.T) {
	c := newCluster(t, 1, testSettings())
	p := c.get(1)
	mustNil(t, p.BecomeLeader(1, []int32{1, 2}, []int32{1}, t0))
	produce(t, p, 3)
	mustNil(t, p.BecomeFollower(2, 2))
	mustNil(t, p.BecomeLeader(3, []int32{1, 2}, []int32{1}, t0))
	r := produce(t, p, 2)
	if r.LeaderEpoch != 3 {
		t.Fatalf("appended in epoch %d, want 3", r.LeaderEpoch)
	}
	if e, end := p.EndOffsetForEpoch(1); e != 1 || end != 3 {
		t.Fatalf("EndOffsetForEpoch(1) = %d, %d; want 1, 3", e, end)
	}
	if e, ok := p.LatestEpoch(); !ok || e != 3 {
		t.Fatalf("latest epoch %d %v", e, ok)
	}
	batches := logBatches(t, p)
	if got := int32(batches[1][12])<<24 | int32(batches[1][13])<<16 | int32(batches[1][14])<<8 | int32(batches[1][15]); got != 3 {
		t.Fatalf("second batch stamped with epoch %d", got)
	}
	// Reopened, the same epoch is not new: its start is looked up.
	mustNil(t, p.Close())
	p = c.open(1, testSettings())
	mustNil(t, p.BecomeLeader(3, []int32{1, 2}, []int32{1}, t0))
	if p.replicas.epochStart != 3 {
		t.Fatalf("epoch start after reopen %d, want 3", p.replicas.epochStart)
	}
	if e, end := p.EndOffsetForEpoch(3); e != 3 || end != 5 {
		t.Fatalf("EndOffsetForEpoch(3) = %d, %d", e, end)
	}
}

// TestRoleSwitchAnswersParkedProduce: an acks=all produce parked on a
// leader that loses leadership learns it at once, not at its timeout.
func TestRoleSwitchAnswersParkedProduce(t *testing.T) {
	c := newCluster(t, 1, testSettings())
	p := c.get(1)
	mustNil(t, p.BecomeLeader(1, []int32{1, 2}, []int32{1, 2}, t0))
	res := produce(t, p, 1)
	result := make(chan error, 1)
	go func() {
		w := NewWakeup()
		defer p.Unpark(w)
		deadline := time.After(10 * time.Second)
		for {
			p.Park(w)
			if done, err := p.AckError(res.LeaderEpoch, res.LastOffset); done {
				result <- err
				return
			}
			select {
			case <-w.C:
			case <-deadline:
				result <- errors.New("still parked")
				return
			}
		}
	}()
	mustNil(t, p.BecomeFollower(2, 2))
	select {
	case err := <-result:
		if !errors.Is(err, kerr.NotLeaderForPartition) {
			t.Fatalf("parked produce answered %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("parked produce not answered")
	}
	// Leader again in a later epoch: the old batch's ack stays NOT_LEADER
	// even once the high watermark passes it.
	mustNil(t, p.BecomeLeader(3, []int32{1}, []int32{1}, t0))
	if done, err := p.AckError(res.LeaderEpoch, res.LastOffset); !done || !errors.Is(err, kerr.NotLeaderForPartition) {
		t.Fatalf("ack of an old-epoch batch: %v %v", done, err)
	}
	if !slices.Equal(p.ISR(), []int32{1}) {
		t.Fatalf("ISR %v", p.ISR())
	}
}
