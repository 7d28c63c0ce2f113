package group

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// blockingLog is a memLog whose Scan waits for release, so a test can
// observe a shard that is still loading.
type blockingLog struct {
	memLog
	mu      sync.Mutex
	release chan struct{}
}

func (l *blockingLog) Append(b []byte) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.memLog.Append(b)
}

func (l *blockingLog) Scan(fn func([]byte) error) error {
	<-l.release
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.memLog.Scan(fn)
}

// call runs a coordinator method and waits for its answer.
func call[T any](t *testing.T, start func(done func(T))) T {
	t.Helper()
	ch := make(chan T, 1)
	start(func(v T) { ch <- v })
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("no answer within 10 s")
		panic("unreachable")
	}
}

func commitReq(group string, offset int64) *kmsg.OffsetCommitRequest {
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Version, req.Group, req.Generation = 8, group, -1
	req.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: offset, LeaderEpoch: -1}}}}
	return req
}

func commitCode(r kmsg.Response) int16 {
	return r.(*kmsg.OffsetCommitResponse).Topics[0].Partitions[0].ErrorCode
}

func fetchOffset(t *testing.T, c *Coordinator, group string) (int64, int16) {
	rg := call(t, func(done func(kmsg.OffsetFetchResponseGroup)) {
		c.OffsetFetch(OffsetFetchRequest{Group: group, Topics: []FetchTopic{{Topic: "t", Partitions: []int32{0}}}}, done)
	})
	if rg.ErrorCode != 0 {
		return -1, rg.ErrorCode
	}
	return rg.Topics[0].Partitions[0].Offset, 0
}

func testConfig() Config {
	cfg := DefaultConfig()
	cfg.Topics = fakeTopics{"t": 6}
	return cfg
}

func TestCoordinatorRoutingLoadAndUnload(t *testing.T) {
	c := New(testConfig())
	defer c.Close()

	// No __consumer_offsets yet.
	if code := commitCode(call(t, func(done func(kmsg.Response)) { c.OffsetCommit(commitReq("g", 1), done) })); code != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("before the topic exists: %v", kerr.ErrorForCode(code))
	}
	// Two partitions, this node leads only the one of "g".
	p := PartitionFor("g", 2)
	log := &blockingLog{release: make(chan struct{})}
	log.memLog.Append(EncodeBatch([]Record{offsetCommitRecord("g", "t", 0, OffsetCommit{Offset: 41, LeaderEpoch: -1, ExpireTimestamp: -1})}, 1))
	c.SetLeadership(2, map[int32]Leader{p: {Epoch: 1, Log: log}})
	other := "g"
	for i := 0; PartitionFor(other, 2) == p; i++ {
		other = string(rune('a' + i))
	}
	if _, code := fetchOffset(t, c, other); code != kerr.NotCoordinator.Code {
		t.Fatalf("group of another partition: %v", kerr.ErrorForCode(code))
	}
	if _, code := fetchOffset(t, c, "g"); code != kerr.CoordinatorLoadInProgress.Code {
		t.Fatalf("while loading: %v", kerr.ErrorForCode(code))
	}
	close(log.release)
	var off int64
	if err := waitUntil(func() bool {
		var code int16
		off, code = fetchOffset(t, c, "g")
		return code == 0
	}); err != nil {
		t.Fatal(err)
	}
	if off != 41 {
		t.Fatalf("loaded offset %d, want 41", off)
	}
	if code := commitCode(call(t, func(done func(kmsg.Response)) { c.OffsetCommit(commitReq("g", 42), done) })); code != 0 {
		t.Fatalf("commit: %v", kerr.ErrorForCode(code))
	}
	if off, _ := fetchOffset(t, c, "g"); off != 42 {
		t.Fatalf("offset %d after commit", off)
	}

	// A parked join is answered NOT_COORDINATOR when leadership moves.
	join := kmsg.NewPtrJoinGroupRequest()
	join.Version, join.Group, join.ProtocolType, join.SessionTimeoutMillis, join.RebalanceTimeoutMillis = 3, "g", "consumer", 10000, 60000
	join.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range"}}
	answered := make(chan kmsg.Response, 1)
	c.JoinGroup(join, Client{ID: "c"}, func(r kmsg.Response) { answered <- r })
	c.SetLeadership(2, nil)
	select {
	case r := <-answered:
		if code := r.(*kmsg.JoinGroupResponse).ErrorCode; code != kerr.NotCoordinator.Code {
			t.Fatalf("parked join after unload: %v", kerr.ErrorForCode(code))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("parked join never answered after unload")
	}

	// A new leader epoch reloads from the log, which holds the commit.
	c.SetLeadership(2, map[int32]Leader{p: {Epoch: 2, Log: &log.memLog}})
	if err := waitUntil(func() bool { off, code := fetchOffset(t, c, "g"); return code == 0 && off == 42 }); err != nil {
		t.Fatal(err)
	}
}

func TestCoordinatorWriteFailure(t *testing.T) {
	c := New(testConfig())
	defer c.Close()
	log := &memLog{}
	c.SetLeadership(1, map[int32]Leader{0: {Epoch: 1, Log: log}})
	if err := waitUntil(func() bool { _, code := fetchOffset(t, c, "g"); return code == 0 }); err != nil {
		t.Fatal(err)
	}
	log.fail = kerr.NotLeaderForPartition
	if code := commitCode(call(t, func(done func(kmsg.Response)) { c.OffsetCommit(commitReq("g", 1), done) })); code != kerr.NotCoordinator.Code {
		t.Fatalf("commit with a failing log: %v", kerr.ErrorForCode(code))
	}
	if off, _ := fetchOffset(t, c, "g"); off != -1 {
		t.Fatalf("offset %d after a failed write", off)
	}
}

func TestCoordinatorDeleteAndList(t *testing.T) {
	c := New(testConfig())
	defer c.Close()
	c.SetLeadership(1, map[int32]Leader{0: {Epoch: 1, Log: &memLog{}}})
	if err := waitUntil(func() bool { _, code := fetchOffset(t, c, "a"); return code == 0 }); err != nil {
		t.Fatal(err)
	}
	for _, g := range []string{"a", "b"} {
		call(t, func(done func(kmsg.Response)) { c.OffsetCommit(commitReq(g, 1), done) })
	}
	type listed struct {
		groups []kmsg.ListGroupsResponseGroup
		code   int16
	}
	list := func(states []string) listed {
		return call(t, func(done func(listed)) {
			c.ListGroups(states, nil, func(gs []kmsg.ListGroupsResponseGroup, code int16) { done(listed{gs, code}) })
		})
	}
	if l := list(nil); len(l.groups) != 2 || l.groups[0].Group != "a" || l.groups[0].GroupState != "Empty" {
		t.Fatalf("list: %+v", l)
	}
	if l := list([]string{"stable"}); len(l.groups) != 0 {
		t.Fatalf("list Stable: %+v", l)
	}
	if code := call(t, func(done func(int16)) { c.DeleteGroup("a", done) }); code != 0 {
		t.Fatalf("delete: %v", kerr.ErrorForCode(code))
	}
	if code := call(t, func(done func(int16)) { c.DeleteGroup("a", done) }); code != kerr.GroupIDNotFound.Code {
		t.Fatalf("delete again: %v", kerr.ErrorForCode(code))
	}
	if l := list(nil); len(l.groups) != 1 {
		t.Fatalf("list after delete: %+v", l)
	}
	type described struct {
		g     kmsg.DescribeGroupsResponseGroup
		found bool
	}
	d := call(t, func(done func(described)) {
		c.DescribeGroup("a", func(g kmsg.DescribeGroupsResponseGroup, found bool) { done(described{g, found}) })
	})
	if d.found || d.g.State != "Dead" {
		t.Fatalf("describe deleted group: %+v", d)
	}
}

func TestCoordinatorSessionTimerFires(t *testing.T) {
	cfg := testConfig()
	cfg.MinSessionTimeout = 50 * time.Millisecond
	cfg.InitialRebalanceDelay = -1
	c := New(cfg)
	defer c.Close()
	c.SetLeadership(1, map[int32]Leader{0: {Epoch: 1, Log: &memLog{}}})
	if err := waitUntil(func() bool { _, code := fetchOffset(t, c, "g"); return code == 0 }); err != nil {
		t.Fatal(err)
	}
	join := kmsg.NewPtrJoinGroupRequest()
	join.Version, join.Group, join.ProtocolType, join.SessionTimeoutMillis, join.RebalanceTimeoutMillis = 3, "g", "consumer", 100, 100
	join.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range"}}
	jr := call(t, func(done func(kmsg.Response)) { c.JoinGroup(join, Client{ID: "c"}, done) }).(*kmsg.JoinGroupResponse)
	if jr.ErrorCode != 0 || jr.Generation != 1 {
		t.Fatalf("join: %+v", jr)
	}
	// Nobody syncs or heartbeats: the timers empty the group.
	if err := waitUntil(func() bool {
		d := call(t, func(done func(kmsg.DescribeGroupsResponseGroup)) {
			c.DescribeGroup("g", func(g kmsg.DescribeGroupsResponseGroup, _ bool) { done(g) })
		})
		return d.State == "Empty"
	}); err != nil {
		t.Fatal(err)
	}
}

// waitUntil polls cond every 5 ms for up to 10 s.
func waitUntil(cond func() bool) error {
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			return errors.New("condition not met within 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}
