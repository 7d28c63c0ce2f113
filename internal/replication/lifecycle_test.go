package replication

import (
	"net"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func TestReconnectAndAddressChange(t *testing.T) {
	// Reserve an address nobody listens on yet.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var book addrBook
	book.set(1, addr)
	k := testKey("t", 0)
	m := newTestManager(t, &book, nil)
	r := newFakeReplica("t-0")
	m.Follow(k, 1, 1, r)
	waitFor(t, "a transport error", func() bool {
		st, _ := statusOf(m, k)
		return st.Err != nil
	})

	l := newFakeLeader(t, 16, addr) // the leader comes up
	l.lead(k, 1)
	l.produce(k, "a", 3)
	waitConverged(t, l, k, r)

	// It dies and comes back on the same address with more data.
	l.close()
	waitFor(t, "a transport error after the leader died", func() bool {
		st, _ := statusOf(m, k)
		return st.Err != nil
	})
	l1 := newFakeLeader(t, 16, addr)
	l1.lead(k, 1)
	l1.seedHistory(k, makeBatch(0, 1, 3, "a"), makeBatch(3, 1, 2, "a"))
	waitConverged(t, l1, k, r)

	// It moves to another address with more data.
	l2 := newFakeLeader(t, 16, "")
	l2.lead(k, 1)
	l2.seedHistory(k, makeBatch(0, 1, 3, "a"), makeBatch(3, 1, 2, "a"), makeBatch(5, 1, 4, "b"))
	book.set(1, l2.addr)
	waitConverged(t, l2, k, r)
}

func TestSourceAddressBinding(t *testing.T) {
	l := newFakeLeader(t, 16, "")
	var book addrBook
	book.set(1, l.addr)
	k := testKey("t", 0)
	l.lead(k, 1)
	l.produce(k, "a", 1)
	m := newTestManager(t, &book, func(c *Config) { c.SourceAddr = "127.0.0.11" })
	r := newFakeReplica("t-0")
	m.Follow(k, 1, 1, r)
	waitConverged(t, l, k, r)
	for _, f := range l.seen() {
		if f.remoteIP != "127.0.0.11" {
			t.Fatalf("fetch from %s, want 127.0.0.11", f.remoteIP)
		}
	}

	bad := newTestManager(t, &book, func(c *Config) { c.SourceAddr = "not-an-ip" })
	bad.Follow(k, 1, 1, newFakeReplica("t-0-bad"))
	waitFor(t, "the bad source address error", func() bool {
		st, _ := statusOf(bad, k)
		return st.Err != nil && strings.Contains(st.Err.Error(), "not an IP")
	})
}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	a := newFakeLeader(t, 16, "")
	b := newFakeLeader(t, 16, "")
	var book addrBook
	book.set(1, a.addr)
	book.set(2, b.addr)
	keys := []Key{testKey("t", 0), testKey("t", 1), testKey("u", 0)}
	leaders := []*fakeLeader{a, a, b}
	for i, k := range keys {
		leaders[i].lead(k, 1)
		leaders[i].produce(k, "a", 2)
	}
	base := runtime.NumGoroutine()
	m := newTestManager(t, &book, nil)
	reps := make([]*fakeReplica, len(keys))
	for i, k := range keys {
		reps[i] = newFakeReplica(k.Topic)
		m.Follow(k, int32(1+slices.Index([]*fakeLeader{a, b}, leaders[i])), 1, reps[i])
	}
	for i, k := range keys {
		waitConverged(t, leaders[i], k, reps[i])
	}
	m.Close()
	m.Close()                        // idempotent
	m.Follow(keys[0], 1, 2, reps[0]) // ignored after Close
	if len(m.Status()) != 0 {
		t.Errorf("status after Close: %+v", m.Status())
	}
	waitGoroutines(t, base)
}

func TestFollowSelfOrNoLeaderUnfollows(t *testing.T) {
	l := newFakeLeader(t, 16, "")
	var book addrBook
	book.set(1, l.addr)
	k := testKey("t", 0)
	l.lead(k, 1)
	l.produce(k, "a", 1)
	m := newTestManager(t, &book, nil)
	r := newFakeReplica("t-0")
	m.Follow(k, 1, 1, r)
	waitConverged(t, l, k, r)
	m.Follow(k, -1, 2, r)
	if _, ok := statusOf(m, k); ok {
		t.Fatal("still followed with no leader")
	}
	m.Follow(k, 1, 1, r)
	m.Follow(k, testNode, 2, r)
	if _, ok := statusOf(m, k); ok {
		t.Fatal("still followed with this node as leader")
	}
}

func TestConcurrentFollowUnfollow(t *testing.T) {
	a := newFakeLeader(t, 16, "")
	b := newFakeLeader(t, 16, "")
	var book addrBook
	book.set(1, a.addr)
	book.set(2, b.addr)
	keys := []Key{testKey("t", 0), testKey("t", 1)}
	for _, k := range keys {
		a.lead(k, 1)
		a.seedHistory(k, makeBatch(0, 1, 4, "c"), makeBatch(4, 1, 4, "c"))
		b.lead(k, 1)
		b.seedHistory(k, makeBatch(0, 1, 4, "c"))
		b.lead(k, 2)
		b.produce(k, "b", 3, 3)
	}
	m := newTestManager(t, &book, nil)
	reps := []*fakeReplica{newFakeReplica("t-0"), newFakeReplica("t-1")}
	done := make(chan struct{})
	for g := range 3 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 150 {
				k, r := keys[(g+i)%2], reps[(g+i)%2]
				switch (g + i) % 4 {
				case 0:
					m.Follow(k, 1, 1, r)
				case 1:
					m.Follow(k, 2, 2, r)
				case 2:
					m.Unfollow(k)
				case 3:
					_ = m.Status()
				}
			}
		}()
	}
	for range 3 {
		<-done
	}
	for i, k := range keys {
		m.Follow(k, 2, 2, reps[i])
	}
	for i, k := range keys {
		waitConverged(t, b, k, reps[i])
	}
	waitFor(t, "the idle fetcher for broker 1 to go", func() bool { return a.openConns() == 0 })
}
