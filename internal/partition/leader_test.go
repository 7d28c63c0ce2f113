package partition

import (
	"errors"
	"math/rand"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestSingleReplicaHighWatermarkFollowsLogEnd(t *testing.T) {
	c := newCluster(t, 1, testSettings())
	p := c.get(1)
	mustNil(t, p.BecomeLeader(0, []int32{1}, []int32{1}, t0))
	for i := 1; i <= 5; i++ {
		r := produce(t, p, i)
		if p.HighWatermark() != p.LogEndOffset() || !p.Committed(r.LastOffset) {
			t.Fatalf("after append %d: hw %d, log end %d", i, p.HighWatermark(), p.LogEndOffset())
		}
		if done, err := p.AckError(r.LeaderEpoch, r.LastOffset); !done || err != nil {
			t.Fatalf("ack: %v %v", done, err)
		}
	}
	mustNil(t, p.CheckEnoughReplicas())
}

// TestHighWatermarkModel drives a leader of three replicas with random
// appends, follower fetches, ISR proposals, commits and shrinks, and checks
// after every step that the high watermark is exactly what a dumb model
// says (the max of its old value and the minimum log end over committed ISR
// plus pending additions) and never above the log end of an ISR member.
func TestHighWatermarkModel(t *testing.T) {
	for seed := int64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewSource(seed))
		c := newCluster(t, 1, testSettings())
		p := c.get(1)
		replicas := []int32{1, 2, 3}
		mustNil(t, p.BecomeLeader(1, replicas, replicas, t0))
		now := t0
		const lag = 10 * time.Second
		pos := map[int32]int64{2: -1, 3: -1} // model: follower log ends
		isr := slices.Clone(replicas)
		var pending []int32
		hw := p.HighWatermark()
		for step := 0; step < 300; step++ {
			switch op := rng.Intn(6); op {
			case 0, 1:
				produce(t, p, 1+rng.Intn(3))
			case 2:
				id := int32(2 + rng.Intn(2))
				from := max(pos[id], 0)
				off := from + rng.Int63n(p.LogEndOffset()-from+1)
				mustNil(t, p.FollowerFetched(id, off, now))
				pos[id] = off
			case 3:
				want, changed := p.ISRChanges(now, lag)
				pending = nil
				for _, id := range want {
					if !slices.Contains(isr, id) {
						pending = append(pending, id)
					}
				}
				if changed && rng.Intn(2) == 0 {
					p.UpdateISR(want)
					isr, pending = want, nil
				}
			case 4:
				if len(isr) > 1 {
					isr = slices.Delete(slices.Clone(isr), len(isr)-1, len(isr))
					p.UpdateISR(isr)
					pending = slices.DeleteFunc(pending, func(id int32) bool { return slices.Contains(isr, id) })
				}
			case 5:
				now = now.Add(time.Duration(rng.Intn(4000)) * time.Millisecond)
			}
			model := p.LogEndOffset()
			for _, id := range append(slices.Clone(isr), pending...) {
				if id != 1 {
					model = min(model, pos[id])
				}
			}
			hw = max(hw, model)
			if got := p.HighWatermark(); got != hw {
				t.Fatalf("seed %d step %d: hw %d, model %d (isr %v pending %v pos %v)", seed, step, got, hw, isr, pending, pos)
			}
			for _, id := range isr {
				if id != 1 && pos[id] < hw && pos[id] >= 0 {
					t.Fatalf("seed %d step %d: hw %d above ISR member %d at %d", seed, step, hw, id, pos[id])
				}
			}
		}
	}
}

// TestCaughtUpRule follows Kafka's lastCaughtUpTime rule through scripted
// fetches and checks when ISRChanges drops the follower (lag 10 s).
func TestCaughtUpRule(t *testing.T) {
	type step struct {
		at      int   // seconds after t0
		produce int   // records the leader appends first
		fetch   int64 // follower fetch offset (-1: none)
		inISR   bool  // expected after the step
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"caught up at the log end", []step{
			{0, 5, 5, true},
			{14, 0, -1, true},  // caught up at 0... log end equal: stays
			{15, 1, -1, false}, // behind and last caught up 15 s ago
		}},
		{"fetch reaching the previous log end counts from the previous fetch", []step{
			{0, 5, 0, true},    // behind (caught up at t0 as an ISR member)
			{3, 5, 5, true},    // reached the log end as of t=0's fetch (5): caught up at 0
			{9, 0, -1, true},   // 9 s
			{11, 0, -1, false}, // 11 s since t=0
		}},
		{"fetch reaching the previous log end at a later time", []step{
			{0, 5, 0, true},
			{8, 5, 5, true},    // reached 5 (log end at t=0): caught up at 0
			{12, 0, 10, true},  // reached 10 = log end now: caught up at 12
			{21, 1, -1, true},  // 9 s
			{23, 0, -1, false}, // 11 s
		}},
		{"fetch never reaching the previous log end", []step{
			{0, 10, 0, true},
			{5, 10, 5, true}, // log end at previous fetch was 10: not caught up
			{9, 10, 15, true},
			{11, 0, -1, false}, // still counted from t0 (ISR member at election)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, 1, testSettings())
			p := c.get(1)
			mustNil(t, p.BecomeLeader(1, []int32{1, 2}, []int32{1, 2}, t0))
			for i, st := range tc.steps {
				now := t0.Add(time.Duration(st.at) * time.Second)
				if st.produce > 0 {
					produce(t, p, st.produce)
				}
				if st.fetch >= 0 {
					mustNil(t, p.FollowerFetched(2, st.fetch, now))
				}
				isr, _ := p.ISRChanges(now, 10*time.Second)
				if got := slices.Contains(isr, 2); got != st.inISR {
					t.Fatalf("step %d (t=%ds): follower in wanted ISR = %v, want %v", i, st.at, got, st.inISR)
				}
			}
		})
	}
}

func TestISRExpansion(t *testing.T) {
	c := newCluster(t, 1, testSettings())
	p := c.get(1)
	lag := 10 * time.Second
	mustNil(t, p.BecomeLeader(1, []int32{1, 2}, []int32{1}, t0))
	produce(t, p, 10) // hw 10 (ISR is the leader alone)
	if p.HighWatermark() != 10 {
		t.Fatalf("hw %d", p.HighWatermark())
	}
	mustNil(t, p.FollowerFetched(2, 4, t0))
	if isr, changed := p.ISRChanges(t0, lag); changed || !slices.Equal(isr, []int32{1}) {
		t.Fatalf("follower below hw proposed: %v %v", isr, changed)
	}
	mustNil(t, p.FollowerFetched(2, 10, t0.Add(time.Second)))
	isr, changed := p.ISRChanges(t0.Add(time.Second), lag)
	if !changed || !slices.Equal(isr, []int32{1, 2}) {
		t.Fatalf("caught-up follower not proposed: %v %v", isr, changed)
	}
	// Pending: it holds the high watermark while the controller decides.
	produce(t, p, 5)
	if p.HighWatermark() != 10 {
		t.Fatalf("hw %d moved past a pending ISR member", p.HighWatermark())
	}
	if err := p.CheckEnoughReplicas(); err != nil {
		t.Fatal(err)
	}
	mustNil(t, p.FollowerFetched(2, 15, t0.Add(2*time.Second)))
	if p.HighWatermark() != 15 {
		t.Fatalf("hw %d, want 15", p.HighWatermark())
	}
	p.UpdateISR([]int32{1, 2})
	if _, changed := p.ISRChanges(t0.Add(2*time.Second), lag); changed {
		t.Fatal("committed ISR still differs")
	}

	// A proposal the controller never commits, for a follower that then
	// dies: dropped after lagMax, and the high watermark moves again.
	p.UpdateISR([]int32{1})
	// Taken out of the ISR, it is not proposed back on its old position...
	if isr, changed := p.ISRChanges(t0.Add(3*time.Second), lag); changed || !slices.Equal(isr, []int32{1}) {
		t.Fatalf("removed follower proposed without a new fetch: %v", isr)
	}
	// ...only once it fetched again.
	mustNil(t, p.FollowerFetched(2, 15, t0.Add(3*time.Second)))
	if isr, changed := p.ISRChanges(t0.Add(3*time.Second), lag); !changed || !slices.Equal(isr, []int32{1, 2}) {
		t.Fatalf("re-proposal: %v", isr)
	}
	produce(t, p, 5)
	if p.HighWatermark() != 15 {
		t.Fatalf("hw %d", p.HighWatermark())
	}
	if isr, changed := p.ISRChanges(t0.Add(20*time.Second), lag); changed || !slices.Equal(isr, []int32{1}) {
		t.Fatalf("dead follower still proposed: %v %v", isr, changed)
	}
	if p.HighWatermark() != 20 {
		t.Fatalf("hw %d after the proposal was dropped, want 20", p.HighWatermark())
	}
}

func TestISRExpansionNeedsEpochStart(t *testing.T) {
	c := newCluster(t, 1, testSettings())
	p := c.get(1)
	mustNil(t, p.BecomeLeader(1, []int32{1, 2}, []int32{1}, t0))
	produce(t, p, 10)
	mustNil(t, p.BecomeFollower(2, 2))
	mustNil(t, p.BecomeLeader(3, []int32{1, 2}, []int32{1}, t0)) // epoch 3 starts at 10
	// The high watermark is 10 from epoch 1; a follower at 10 holds it
	// and the epoch start, so joins; one at 9 does not.
	mustNil(t, p.FollowerFetched(2, 9, t0))
	if _, changed := p.ISRChanges(t0, time.Minute); changed {
		t.Fatal("follower below the epoch start proposed")
	}
	mustNil(t, p.FollowerFetched(2, 10, t0))
	if isr, changed := p.ISRChanges(t0, time.Minute); !changed || !slices.Equal(isr, []int32{1, 2}) {
		t.Fatalf("follower at the epoch start not proposed: %v", isr)
	}
}

func TestAckErrorAndMinInsync(t *testing.T) {
	s := testSettings()
	s.MinInsyncReplicas = 2
	c := newCluster(t, 1, s)
	p := c.get(1)
	mustNil(t, p.BecomeLeader(1, []int32{1, 2}, []int32{1, 2}, t0))
	mustNil(t, p.CheckEnoughReplicas())
	r := produce(t, p, 3)
	if done, err := p.AckError(r.LeaderEpoch, r.LastOffset); done || err != nil {
		t.Fatalf("before the follower fetched: %v %v", done, err)
	}
	mustNil(t, p.FollowerFetched(2, 2, t0))
	if done, _ := p.AckError(r.LeaderEpoch, r.LastOffset); done {
		t.Fatal("done with the follower one record short")
	}
	mustNil(t, p.FollowerFetched(2, 3, t0))
	if done, err := p.AckError(r.LeaderEpoch, r.LastOffset); !done || err != nil {
		t.Fatalf("after the follower fetched: %v %v", done, err)
	}

	// The ISR shrinks to the leader alone after an append: the high
	// watermark passes, but the ISR is below min.insync.replicas.
	r = produce(t, p, 1)
	p.UpdateISR([]int32{1})
	if done, err := p.AckError(r.LeaderEpoch, r.LastOffset); !done || !errors.Is(err, kerr.NotEnoughReplicasAfterAppend) {
		t.Fatalf("after shrink: %v %v", done, err)
	}
	if err := p.CheckEnoughReplicas(); !errors.Is(err, kerr.NotEnoughReplicas) {
		t.Fatalf("check after shrink: %v", err)
	}
	mustNil(t, p.BecomeFollower(2, 2))
	if err := p.CheckEnoughReplicas(); !errors.Is(err, kerr.NotLeaderForPartition) {
		t.Fatalf("check on follower: %v", err)
	}
}

func TestFollowerFetchedErrors(t *testing.T) {
	c := newCluster(t, 1, testSettings())
	p := c.get(1)
	if err := p.FollowerFetched(2, 0, t0); !errors.Is(err, ErrNotLeader) || !errors.Is(err, kerr.NotLeaderForPartition) {
		t.Fatalf("not leader: %v", err)
	}
	mustNil(t, p.BecomeLeader(1, []int32{1, 2}, []int32{1, 2}, t0))
	produce(t, p, 2)
	cases := []struct {
		name    string
		replica int32
		offset  int64
		want    error
	}{
		{"follower", 2, 1, nil},
		{"unknown replica", 7, 0, ErrUnknownReplica},
		{"the leader itself", 1, 0, ErrUnknownReplica},
		{"past the log end", 2, 3, kerr.OffsetOutOfRange},
		{"negative", 2, -1, kerr.OffsetOutOfRange},
	}
	for _, tc := range cases {
		err := p.FollowerFetched(tc.replica, tc.offset, t0)
		if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if p.HighWatermark() != 1 {
		t.Fatalf("hw %d, want 1 (the refused fetches must not count)", p.HighWatermark())
	}
}

func TestReadReplicaReadsPastHighWatermark(t *testing.T) {
	c := newCluster(t, 2, testSettings())
	p := c.get(1)
	mustNil(t, p.BecomeLeader(1, []int32{1, 2}, []int32{1, 2}, t0))
	produce(t, p, 2)
	produce(t, p, 2)
	if r, err := p.Read(0, 1<<20, false); err != nil || r.Len() != 0 {
		t.Fatalf("consumer read above the hw: %d bytes, %v", r.Len(), err)
	}
	r, err := p.ReadReplica(0, 1<<20)
	if err != nil || r.LastOffset() != 3 {
		t.Fatalf("replica read: last %d, %v", r.LastOffset(), err)
	}
	r.Release()
	if _, err := p.ReadReplica(5, 100); !errors.Is(err, kerr.OffsetOutOfRange) {
		t.Fatalf("past the end: %v", err)
	}
	if _, err := c.get(2).ReadReplica(0, 100); !errors.Is(err, kerr.NotLeaderForPartition) {
		t.Fatalf("on a follower: %v", err)
	}
}

// TestNewLeaderKeepsHighWatermark: a follower elected leader does not
// expose what it copied beyond its high watermark until the ISR has it.
func TestNewLeaderKeepsHighWatermark(t *testing.T) {
	c := newCluster(t, 3, testSettings())
	all := []int32{1, 2, 3}
	l, f2, f3 := c.get(1), c.get(2), c.get(3)
	mustNil(t, l.BecomeLeader(1, all, all, t0))
	mustNil(t, f2.BecomeFollower(1, 1))
	mustNil(t, f3.BecomeFollower(1, 1))
	produce(t, l, 5)
	catchUp(t, l, f2, 2, t0)
	catchUp(t, l, f3, 3, t0)
	copyOnce(t, l, f2, 2, t0) // learns hw 5
	produce(t, l, 5)
	copyOnce(t, l, f2, 2, t0) // f2 holds 10, hw still 5: f3 is at 5
	if f2.LogEndOffset() != 10 || f2.HighWatermark() != 5 || l.HighWatermark() != 5 {
		t.Fatalf("f2 leo %d hw %d, leader hw %d", f2.LogEndOffset(), f2.HighWatermark(), l.HighWatermark())
	}

	mustNil(t, l.BecomeFollower(2, 2))
	mustNil(t, f2.BecomeLeader(2, all, all, t0))
	if f2.HighWatermark() != 5 {
		t.Fatalf("new leader's hw %d, want 5 (kept)", f2.HighWatermark())
	}
	mustNil(t, f3.BecomeFollower(2, 2))
	catchUp(t, f2, f3, 3, t0)
	if f2.HighWatermark() != 5 {
		t.Fatalf("hw %d moved with replica 1 not heard from", f2.HighWatermark())
	}
	catchUp(t, f2, l, 1, t0)
	if f2.HighWatermark() != 10 {
		t.Fatalf("hw %d, want 10", f2.HighWatermark())
	}
}
