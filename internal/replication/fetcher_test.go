package replication

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestFetchCopiesFromOffsetZero(t *testing.T) {
	for _, maxFetch := range []int16{12, 13, 14, 15, 16} {
		t.Run(fmt.Sprintf("fetch-v%d", maxFetch), func(t *testing.T) {
			l := newFakeLeader(t, maxFetch, "")
			var book addrBook
			book.set(1, l.addr)
			k := testKey("orders", 0)
			l.lead(k, 3)
			l.produce(k, "a", 3, 1, 5)
			m := newTestManager(t, &book, nil)
			r := newFakeReplica("orders-0")
			m.Follow(k, 1, 3, r)
			waitConverged(t, l, k, r)

			// Appends after the copy reach the follower through the long poll.
			l.produce(k, "a", 2)
			waitConverged(t, l, k, r)

			seen := l.seen()
			first := seen[0]
			if first.version != maxFetch {
				t.Errorf("fetch version %d, want %d (the leader's max)", first.version, maxFetch)
			}
			want := fetchPartSeen{topic: "orders", partition: 0, fetchOffset: 0, lastFetchedEpoch: -1, currentLeaderEpoch: 3}
			if len(first.parts) != 1 || first.parts[0] != want {
				t.Errorf("first fetch partitions %+v, want [%+v]", first.parts, want)
			}
			for _, f := range seen {
				if f.replicaID != testNode {
					t.Fatalf("fetch v%d carried replica id %d, want %d", f.version, f.replicaID, testNode)
				}
			}
			waitFor(t, "a fetch from offset 11 with last fetched epoch 3", func() bool {
				return slices.ContainsFunc(l.seen(), func(f fetchSeen) bool {
					return f.parts[0].fetchOffset == 11 && f.parts[0].lastFetchedEpoch == 3
				})
			})
			st, ok := statusOf(m, k)
			if !ok || st.Err != nil || st.Lag != 0 || st.HighWatermark != 11 || st.LogEndOffset != 11 || st.Leader != 1 || st.LeaderEpoch != 3 || st.LastFetch.IsZero() {
				t.Errorf("status %+v", st)
			}
		})
	}
}

func TestFetchRefusesVersionsWithoutDivergenceCheck(t *testing.T) {
	l := newFakeLeader(t, 11, "")
	var book addrBook
	book.set(1, l.addr)
	k := testKey("t", 0)
	l.lead(k, 1)
	l.produce(k, "a", 2)
	m := newTestManager(t, &book, nil)
	r := newFakeReplica("t-0")
	m.Follow(k, 1, 1, r)
	waitFor(t, "the old-version error", func() bool {
		st, _ := statusOf(m, k)
		return errors.Is(st.Err, errOldFetch)
	})
	if _, leo, _, ops := r.snapshot(); leo != 0 || len(ops) != 0 {
		t.Fatalf("replica changed from a v11 answer: leo %d ops %v", leo, ops)
	}
}

func TestFetchSeveralPartitionsInOneRequest(t *testing.T) {
	l := newFakeLeader(t, 16, "")
	var book addrBook
	book.set(1, l.addr)
	m := newTestManager(t, &book, nil)
	keys := []Key{testKey("a", 0), testKey("a", 1), testKey("b", 0), testKey("b", 3)}
	reps := make([]*fakeReplica, len(keys))
	for i, k := range keys {
		l.lead(k, 2)
		l.produce(k, k.Topic, 1+i, 2)
		reps[i] = newFakeReplica(fmt.Sprintf("%s-%d", k.Topic, k.Partition))
		m.Follow(k, 1, 2, reps[i])
	}
	for i, k := range keys {
		waitConverged(t, l, k, reps[i])
	}
	if !slices.ContainsFunc(l.seen(), func(f fetchSeen) bool { return len(f.parts) == len(keys) }) {
		t.Errorf("no fetch carried all %d partitions", len(keys))
	}
	l.mu.Lock()
	conns := len(l.conns)
	l.mu.Unlock()
	if conns != 1 {
		t.Errorf("%d connections to the leader, want 1", conns)
	}
	if got := len(m.Status()); got != len(keys) {
		t.Errorf("status lists %d partitions, want %d", got, len(keys))
	}
}

func TestFetchAppendsOnlyWholeBatches(t *testing.T) {
	l := newFakeLeader(t, 16, "")
	l.partialTail = 40 // every answer ends with 40 bytes of the next batch
	var book addrBook
	book.set(1, l.addr)
	k := testKey("t", 0)
	l.lead(k, 1)
	l.produce(k, "a", 4, 4, 4, 4, 4, 4)
	m := newTestManager(t, &book, func(c *Config) { c.MaxPartitionBytes = 200 })
	r := newFakeReplica("t-0")
	m.Follow(k, 1, 1, r)
	waitConverged(t, l, k, r)
	_, _, _, ops := r.snapshot()
	if len(ops) < 2 {
		t.Errorf("ops %v: expected the copy to take several fetches", ops)
	}
	for _, op := range ops {
		if !strings.HasPrefix(op, "append") {
			t.Errorf("unexpected op %q in %v", op, ops)
		}
	}
	if st, _ := statusOf(m, k); st.Err != nil {
		t.Errorf("status error %v", st.Err)
	}
}

func TestFetchTruncatesDivergingTail(t *testing.T) {
	type tc struct {
		name           string
		epoch          int32                                          // the new leader's epoch
		leader         func() [][]byte                                // the leader's history before its epoch
		produce        []int                                          // batches the leader wrote in its epoch
		follower       func(r *fakeReplica)                           // the follower's log
		keepNoop       bool                                           // follower keeps an epoch entry after a no-op truncation
		ignoreTruncate bool                                           // follower's truncations do nothing
		wantOps        []string                                       // first ops on the follower
		check          func(t *testing.T, m *Manager, r *fakeReplica) // optional extra check
	}
	common := makeBatch(0, 1, 5, "c") // offsets 0-4, epoch 1, on both
	cases := []tc{
		{
			name: "old-epoch-tail", epoch: 3,
			leader:  func() [][]byte { return [][]byte{common} },
			produce: []int{3},
			follower: func(r *fakeReplica) {
				r.seed(t, common, makeBatch(5, 2, 5, "old")) // unreplicated tail of epoch 2
			},
			wantOps: []string{"truncate 5", "append 5-7"},
		},
		{
			// Follower epochs {1@0, 3@10}, leader {1@0, 2@8, 4@15}: the first
			// answer (epoch 2, end 15) is an intermediate step to the end of
			// the follower's epoch 1 (10); the second (epoch 1, end 8) cuts to 8.
			name: "two-steps", epoch: 4,
			leader: func() [][]byte {
				return [][]byte{makeBatch(0, 1, 8, "c"), makeBatch(8, 2, 7, "new")}
			},
			produce: []int{5},
			follower: func(r *fakeReplica) {
				r.seed(t, makeBatch(0, 1, 8, "c"), makeBatch(8, 1, 2, "old"), makeBatch(10, 3, 10, "old"))
			},
			wantOps: []string{"truncate 10", "truncate 8", "append 8-19"},
		},
		{
			name: "follower-behind-in-old-epoch", epoch: 2,
			leader:  func() [][]byte { return [][]byte{common, makeBatch(5, 1, 3, "c")} },
			produce: []int{2},
			follower: func(r *fakeReplica) {
				r.seed(t, common)
			},
			wantOps: []string{"append 5-9"},
		},
		{
			// The follower led epoch 2 without writing: its epoch cache
			// holds 2@5 = its LEO. A no-op truncation must drop it (Kafka).
			name: "empty-epoch-at-end", epoch: 3,
			leader:  func() [][]byte { return [][]byte{common} },
			produce: []int{2},
			follower: func(r *fakeReplica) {
				r.seed(t, common)
				r.epochs = append(r.epochs, epochStart{2, 5})
			},
			wantOps: []string{"append 5-6"},
		},
		{
			// Same, with a replica whose no-op truncation keeps the epoch
			// entry (internal/log today): the fetcher drops one more batch
			// to clear it and fetches that batch again.
			name: "empty-epoch-kept", epoch: 3, keepNoop: true,
			leader:  func() [][]byte { return [][]byte{common} },
			produce: []int{2},
			follower: func(r *fakeReplica) {
				r.seed(t, common)
				r.epochs = append(r.epochs, epochStart{2, 5})
			},
			wantOps: []string{"truncate 4", "append 0-6"},
		},
		{
			// A replica whose truncation does nothing at all: the fetcher
			// reports it and backs off instead of asking the same question
			// forever.
			name: "truncation-ignored", epoch: 3, ignoreTruncate: true,
			leader:  func() [][]byte { return [][]byte{common} },
			produce: []int{2},
			follower: func(r *fakeReplica) {
				r.seed(t, common, makeBatch(5, 2, 2, "old"))
			},
			check: func(t *testing.T, m *Manager, r *fakeReplica) {
				k := testKey("t", 0)
				waitFor(t, "the no-progress error", func() bool {
					st, _ := statusOf(m, k)
					return st.Err != nil && strings.Contains(st.Err.Error(), "changed neither")
				})
				if _, leo, _, ops := r.snapshot(); leo != 7 || len(ops) != 0 {
					t.Errorf("replica changed: leo %d ops %v", leo, ops)
				}
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := newFakeLeader(t, 16, "")
			var book addrBook
			book.set(1, l.addr)
			k := testKey("t", 0)
			l.lead(k, c.epoch)
			l.seedHistory(k, c.leader()...)
			l.produce(k, "new", c.produce...)
			r := newFakeReplica("t-0")
			r.keepEpochOnNoop = c.keepNoop
			r.ignoreTruncate = c.ignoreTruncate
			c.follower(r)
			m := newTestManager(t, &book, nil)
			m.Follow(k, 1, c.epoch, r)
			if c.check != nil {
				c.check(t, m, r)
				return
			}
			waitConverged(t, l, k, r)
			_, _, _, ops := r.snapshot()
			if len(ops) < len(c.wantOps) || !slices.Equal(ops[:len(c.wantOps)], c.wantOps) {
				t.Fatalf("ops %v, want to start with %v", ops, c.wantOps)
			}
		})
	}
}

func TestFetchOutOfRange(t *testing.T) {
	cases := []struct {
		name     string
		noCheck  bool // leader without the KIP-320 check
		leader   func(l *fakeLeader, k Key)
		follower func(r *fakeReplica)
		wantOps  []string
	}{
		{
			name: "empty-follower-below-log-start",
			leader: func(l *fakeLeader, k Key) {
				l.restartAt(k, 10)
				l.produce(k, "a", 5)
			},
			follower: func(*fakeReplica) {},
			wantOps:  []string{"restart 10", "append 10-14"},
		},
		{
			name: "follower-data-below-log-start",
			leader: func(l *fakeLeader, k Key) {
				l.restartAt(k, 10)
				l.produce(k, "a", 5)
			},
			follower: func(r *fakeReplica) { r.seed(t, makeBatch(0, 0, 4, "old")) },
			wantOps:  []string{"restart 10", "append 10-14"},
		},
		{
			name: "follower-ahead-of-leader", noCheck: true,
			leader: func(l *fakeLeader, k Key) {
				l.seedHistory(k, makeBatch(0, 1, 5, "c"))
			},
			follower: func(r *fakeReplica) { r.seed(t, makeBatch(0, 1, 5, "c"), makeBatch(5, 1, 5, "c")) },
			wantOps:  []string{"truncate 5"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := newFakeLeader(t, 16, "")
			l.noDivergenceCheck = c.noCheck
			var book addrBook
			book.set(1, l.addr)
			k := testKey("t", 0)
			l.lead(k, 1)
			c.leader(l, k)
			r := newFakeReplica("t-0")
			c.follower(r)
			m := newTestManager(t, &book, nil)
			m.Follow(k, 1, 1, r)
			waitConverged(t, l, k, r)
			_, _, _, ops := r.snapshot()
			if len(ops) < len(c.wantOps) || !slices.Equal(ops[:len(c.wantOps)], c.wantOps) {
				t.Fatalf("ops %v, want to start with %v", ops, c.wantOps)
			}
			l.mu.Lock()
			ids := append([]int32(nil), l.listIDs...)
			l.mu.Unlock()
			if len(ids) == 0 || slices.ContainsFunc(ids, func(id int32) bool { return id != testNode }) {
				t.Errorf("ListOffsets replica ids %v, want all %d", ids, testNode)
			}
		})
	}
}

func TestFollowMovesToNewLeader(t *testing.T) {
	a := newFakeLeader(t, 16, "")
	b := newFakeLeader(t, 16, "")
	var book addrBook
	book.set(1, a.addr)
	book.set(2, b.addr)
	k := testKey("t", 0)
	a.lead(k, 1)
	a.produce(k, "c", 5)
	a.produce(k, "a-only", 5) // will never reach b
	m := newTestManager(t, &book, nil)
	r := newFakeReplica("t-0")
	m.Follow(k, 1, 1, r)
	waitConverged(t, a, k, r)

	// b takes over at epoch 2 with the common prefix only.
	b.lead(k, 1)
	b.seedHistory(k, makeBatch(0, 1, 5, "c"))
	b.lead(k, 2)
	b.produce(k, "b", 3)
	m.Follow(k, 2, 2, r)
	waitConverged(t, b, k, r)
	_, _, _, ops := r.snapshot()
	if i := slices.Index(ops, "truncate 5"); i < 0 || !slices.Contains(ops[i:], "append 5-7") {
		t.Errorf("ops %v: want a truncation to 5 then b's records", ops)
	}
	waitFor(t, "the fetcher for the old leader to close its connection", func() bool { return a.openConns() == 0 })
	firstB := b.seen()[0].parts[0]
	if firstB.currentLeaderEpoch != 2 {
		t.Errorf("first fetch to the new leader with epoch %d, want 2", firstB.currentLeaderEpoch)
	}
	st, _ := statusOf(m, k)
	if st.Leader != 2 || st.LeaderEpoch != 2 {
		t.Errorf("status %+v", st)
	}

	// The same Follow again changes nothing.
	n := len(b.seen())
	m.Follow(k, 2, 2, r)
	b.produce(k, "b", 1)
	waitConverged(t, b, k, r)
	if got := len(b.seen()); got <= n {
		t.Errorf("fetching stopped after a repeated Follow")
	}
}

func TestUnfollowStopsFetching(t *testing.T) {
	l := newFakeLeader(t, 16, "")
	var book addrBook
	book.set(1, l.addr)
	k0, k1 := testKey("t", 0), testKey("t", 1)
	l.lead(k0, 1)
	l.lead(k1, 1)
	l.produce(k0, "a", 2)
	l.produce(k1, "a", 2)
	m := newTestManager(t, &book, nil)
	r0, r1 := newFakeReplica("t-0"), newFakeReplica("t-1")
	m.Follow(k0, 1, 1, r0)
	m.Follow(k1, 1, 1, r1)
	waitConverged(t, l, k0, r0)
	waitConverged(t, l, k1, r1)

	m.Unfollow(k1)
	calls := r1.callCount()
	l.produce(k0, "a", 3)
	l.produce(k1, "a", 3)
	waitConverged(t, l, k0, r0) // the fetcher kept going for k0
	if got := r1.callCount(); got != calls {
		t.Fatalf("%d calls on an unfollowed replica", got-calls)
	}
	if _, leo, _, _ := r1.snapshot(); leo != 2 {
		t.Fatalf("unfollowed replica at %d, want 2", leo)
	}
	if _, ok := statusOf(m, k1); ok {
		t.Errorf("unfollowed partition still in Status")
	}

	m.Unfollow(k0)
	waitFor(t, "the idle fetcher to close its connection", func() bool { return l.openConns() == 0 })
	m.Unfollow(k0) // unknown now: ignored
}

func TestPartitionErrorsDoNotStopOthers(t *testing.T) {
	for _, e := range []*kerr.Error{kerr.NotLeaderForPartition, kerr.UnknownTopicOrPartition, kerr.KafkaStorageError, kerr.UnknownServerError} {
		t.Run(e.Message, func(t *testing.T) {
			l := newFakeLeader(t, 16, "")
			var book addrBook
			book.set(1, l.addr)
			bad, good := testKey("t", 0), testKey("t", 1)
			l.lead(bad, 1)
			l.lead(good, 1)
			l.produce(bad, "a", 3)
			l.produce(good, "a", 3)
			l.setError(bad, e.Code)
			m := newTestManager(t, &book, nil)
			rb, rg := newFakeReplica("bad"), newFakeReplica("good")
			m.Follow(bad, 1, 1, rb)
			m.Follow(good, 1, 1, rg)
			waitConverged(t, l, good, rg)
			waitFor(t, "the error in Status", func() bool {
				st, _ := statusOf(m, bad)
				return errors.Is(st.Err, e)
			})
			if _, leo, _, _ := rb.snapshot(); leo != 0 {
				t.Fatalf("replica in error appended up to %d", leo)
			}
			l.setError(bad, 0) // the leader recovers: the partition was kept
			waitConverged(t, l, bad, rb)
			if st, _ := statusOf(m, bad); st.Err != nil {
				t.Errorf("error not cleared: %v", st.Err)
			}
		})
	}
}

func TestFencedEpochWaitsForFollow(t *testing.T) {
	for _, c := range []struct {
		name        string
		followEpoch int32
		want        *kerr.Error
	}{
		{"follower-behind", 4, kerr.FencedLeaderEpoch},
		{"leader-behind", 6, kerr.UnknownLeaderEpoch},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := newFakeLeader(t, 16, "")
			var book addrBook
			book.set(1, l.addr)
			k := testKey("t", 0)
			l.lead(k, 5)
			l.produce(k, "a", 3)
			m := newTestManager(t, &book, nil)
			r := newFakeReplica("t-0")
			m.Follow(k, 1, c.followEpoch, r)
			waitFor(t, c.want.Message, func() bool {
				st, _ := statusOf(m, k)
				return errors.Is(st.Err, c.want)
			})
			m.Follow(k, 1, 5, r) // metadata caught up
			waitConverged(t, l, k, r)
		})
	}
}
