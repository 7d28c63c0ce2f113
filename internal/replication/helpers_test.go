package replication

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"testing"
	"time"
)

// testWait bounds every wait in these tests.
const testWait = 10 * time.Second

// testNode is the follower's node id in these tests.
const testNode = 7

// testKey returns a partition key whose topic id is derived from its name.
func testKey(topic string, partition int32) Key {
	k := Key{Topic: topic, Partition: partition}
	copy(k.TopicID[:], "id:"+topic)
	return k
}

// addrBook maps broker ids to addresses; safe for concurrent use.
type addrBook struct {
	mu sync.Mutex
	m  map[int32]string
}

func (a *addrBook) set(id int32, addr string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m == nil {
		a.m = make(map[int32]string)
	}
	a.m[id] = addr
}

func (a *addrBook) lookup(id int32) (string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	addr, ok := a.m[id]
	return addr, ok
}

// newTestManager returns a Manager with short waits, closed at cleanup.
func newTestManager(t *testing.T, book *addrBook, tweak func(*Config)) *Manager {
	t.Helper()
	cfg := Config{
		NodeID:     testNode,
		BrokerAddr: book.lookup,
		MaxWait:    50 * time.Millisecond,
		Backoff:    10 * time.Millisecond,
		Logger:     testLogger(),
	}
	if tweak != nil {
		tweak(&cfg)
	}
	m := NewManager(cfg)
	t.Cleanup(m.Close)
	return m
}

func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// waitFor polls cond until it holds or testWait passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testWait)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// sameAsLeader reports whether r holds exactly the leader's log for k.
func sameAsLeader(l *fakeLeader, k Key, r *fakeReplica) bool {
	want, wantLEO := l.data(k)
	got, leo, _, _ := r.snapshot()
	return leo == wantLEO && bytes.Equal(got, want)
}

// waitConverged waits until r holds the leader's log for k and has learnt
// its high watermark.
func waitConverged(t *testing.T, l *fakeLeader, k Key, r *fakeReplica) {
	t.Helper()
	waitFor(t, "replica "+r.name+" to match the leader", func() bool {
		if !sameAsLeader(l, k, r) {
			return false
		}
		_, leo := l.data(k)
		_, _, hw, _ := r.snapshot()
		return hw == leo
	})
}

// statusOf returns k's status, or false.
func statusOf(m *Manager, k Key) (PartitionStatus, bool) {
	all := m.Status()
	i := slices.IndexFunc(all, func(s PartitionStatus) bool { return s.Key == k })
	if i < 0 {
		return PartitionStatus{}, false
	}
	return all[i], true
}

// waitGoroutines waits until at most n goroutines run, dumping them on
// failure.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(testWait)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			var buf bytes.Buffer
			_ = pprof.Lookup("goroutine").WriteTo(&buf, 1)
			t.Fatalf("%d goroutines still running, want <= %d:\n%s", runtime.NumGoroutine(), n, buf.String())
		}
		<-tick.C
	}
}
