package controller

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

// fakeClock is Config.Now for tests: time moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeClock) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.t = f.t.Add(d)
}

// cluster is a controller over a memLog with a fake clock and brokers
// 1..n registered and unfenced.
type cluster struct {
	t     *testing.T
	c     *Controller
	m     *memLog
	clock *fakeClock
	cfg   []func(*Config)
}

func newCluster(t *testing.T, brokers int, mut ...func(*Config)) *cluster {
	t.Helper()
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	mut = append([]func(*Config){func(cfg *Config) { cfg.Now = clock.Now }}, mut...)
	c, m := newTestController(t, brokers, mut...)
	cl := &cluster{t: t, c: c, m: m, clock: clock, cfg: mut}
	t.Cleanup(func() {
		if !t.Failed() {
			cl.checkInvariants()
		}
	})
	return cl
}

// restartController replaces the controller by a new instance over the
// same log (a controller failover).
func (cl *cluster) restartController() {
	cfg := Config{Logger: cl.c.cfg.Logger}
	for _, f := range cl.cfg {
		f(&cfg)
	}
	cl.c = New(cl.m, cfg)
}

func (cl *cluster) img() metadata.Image { return cl.m.image() }

func (cl *cluster) epoch(id int32) int64 {
	b, ok := cl.img().Broker(id)
	if !ok {
		cl.t.Fatalf("broker %d not registered", id)
	}
	return b.Epoch
}

// heartbeat sends a caught-up heartbeat for broker id; f may adjust it.
func (cl *cluster) heartbeat(id int32, f ...func(*kmsg.BrokerHeartbeatRequest)) *kmsg.BrokerHeartbeatResponse {
	cl.t.Helper()
	req := kmsg.NewPtrBrokerHeartbeatRequest()
	req.Version = 1
	req.BrokerID, req.BrokerEpoch = id, cl.epoch(id)
	req.CurrentMetadataOffset = int64(cl.img().Index())
	for _, g := range f {
		g(req)
	}
	return cl.c.BrokerHeartbeat(ctx(), req)
}

// heartbeatAll heartbeats every listed broker and expects no error.
func (cl *cluster) heartbeatAll(ids ...int32) {
	cl.t.Helper()
	for _, id := range ids {
		if r := cl.heartbeat(id); r.ErrorCode != 0 {
			cl.t.Fatalf("heartbeat %d: %v", id, kerr.ErrorForCode(r.ErrorCode))
		}
	}
}

// topic creates a topic placed by hand (first replica leads).
func (cl *cluster) topic(name string, replicas ...[]int32) metadata.TopicID {
	cl.t.Helper()
	spec := TopicSpec{Name: name, NumPartitions: -1, ReplicationFactor: -1}
	for i, r := range replicas {
		spec.Assignments = append(spec.Assignments, PartitionReplicas{Partition: int32(i), Replicas: r})
	}
	res := cl.c.CreateTopics(ctx(), []TopicSpec{spec}, false)
	if res[0].Err != nil {
		cl.t.Fatalf("create %s: %v %s", name, res[0].Err, res[0].ErrMessage)
	}
	return res[0].TopicID
}

func (cl *cluster) part(name string, p int32) metadata.PartitionAssignment {
	cl.t.Helper()
	t, ok := cl.img().Topic(name)
	if !ok || int(p) >= len(t.Partitions) {
		cl.t.Fatalf("no partition %s-%d", name, p)
	}
	return t.Partitions[p]
}

// wantPart checks a partition's leader and ISR.
func (cl *cluster) wantPart(name string, p int32, leader int32, isr ...int32) {
	cl.t.Helper()
	got := cl.part(name, p)
	if got.Leader != leader || !slices.Equal(got.ISR, isr) {
		cl.t.Fatalf("%s-%d: leader %d ISR %v, want leader %d ISR %v", name, p, got.Leader, got.ISR, leader, isr)
	}
}

func (cl *cluster) fenced(id int32) bool {
	b, ok := cl.img().Broker(id)
	return !ok || b.Fenced
}

// checkInvariants asserts what every decision must keep: no proposal was
// refused by the state machine, and no partition is led by a broker that
// is not live.
func (cl *cluster) checkInvariants() {
	cl.t.Helper()
	cl.m.noRejects(cl.t)
	img := cl.img()
	for _, t := range img.Topics() {
		for _, p := range t.Partitions {
			if p.Leader != metadata.NoLeader && !img.IsLive(p.Leader) {
				cl.t.Fatalf("%s-%d is led by %d, which is not live", t.Name, p.Partition, p.Leader)
			}
			if len(p.ISR) == 0 {
				cl.t.Fatalf("%s-%d has an empty ISR", t.Name, p.Partition)
			}
		}
	}
}

func sec(n float64) time.Duration { return time.Duration(n * float64(time.Second)) }

// codeErr returns the *kerr.Error of a code (nil for 0).
func codeErr(code int16) *kerr.Error {
	if code == 0 {
		return nil
	}
	e, ok := kerr.ErrorForCode(code).(*kerr.Error)
	if !ok {
		return kerr.UnknownServerError
	}
	return e
}
