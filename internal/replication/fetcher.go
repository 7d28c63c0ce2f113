package replication

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// fetcher fetches every partition this node follows from one leader broker,
// on its own goroutine (run), over one connection.
type fetcher struct {
	m      *Manager
	cfg    *Config
	log    *slog.Logger
	leader int32

	ctx    context.Context // cancelled by stop
	cancel context.CancelFunc
	wake   chan struct{} // cap 1: a partition was added or changed

	mu sync.Mutex
	// Guarded by mu; mu is also held around every call into a Replica.
	parts map[Key]*partState
	order []Key // round-robin order of parts
	turn  int   // rotates the first partition of each request

	// Owned by the run goroutine.
	conn    *leaderConn
	lastErr string // last fetcher-wide error logged, to log changes only
}

// partState is one followed partition inside a fetcher. key, leader,
// leaderEpoch and replica never change: Follow replaces the whole partState,
// so "is this still the partition the request was built for" is pointer
// identity.
type partState struct {
	key         Key
	leader      int32
	leaderEpoch int32
	replica     Replica

	// Guarded by the fetcher's mu.
	delayedUntil time.Time
	leo          int64 // local log end offset last seen
	leaderHW     int64 // -1 until the first successful answer
	lastFetch    time.Time
	err          error
}

func newPartState(k Key, leader, leaderEpoch int32, r Replica) *partState {
	return &partState{key: k, leader: leader, leaderEpoch: leaderEpoch, replica: r, leo: r.LogEndOffset(), leaderHW: -1}
}

func newFetcher(m *Manager, leader int32) *fetcher {
	ctx, cancel := context.WithCancel(context.Background())
	return &fetcher{
		m:      m,
		cfg:    &m.cfg,
		log:    m.log.With("leader", leader),
		leader: leader,
		ctx:    ctx,
		cancel: cancel,
		wake:   make(chan struct{}, 1),
		parts:  make(map[Key]*partState),
	}
}

// put adds st or replaces the partition's previous state, and wakes the
// fetcher.
func (f *fetcher) put(st *partState) {
	f.mu.Lock()
	if _, ok := f.parts[st.key]; !ok {
		f.order = append(f.order, st.key)
	}
	f.parts[st.key] = st
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// remove drops k and returns how many partitions are left. It waits for a
// call into k's replica in progress.
func (f *fetcher) remove(k Key) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.parts[k]; ok {
		delete(f.parts, k)
		if i := slices.Index(f.order, k); i >= 0 {
			f.order = slices.Delete(f.order, i, i+1)
		}
	}
	return len(f.parts)
}

// stop makes run return; it does not wait.
func (f *fetcher) stop() { f.cancel() }

// current reports whether st is still the state of its partition. Caller
// holds f.mu.
func (f *fetcher) current(st *partState) bool { return f.parts[st.key] == st }

func (f *fetcher) appendStatus(out []PartitionStatus) []PartitionStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range f.order {
		st := f.parts[k]
		lag := int64(-1)
		if st.leaderHW >= 0 {
			lag = max(0, st.leaderHW-st.leo)
		}
		out = append(out, PartitionStatus{
			Key: k, Leader: st.leader, LeaderEpoch: st.leaderEpoch,
			LogEndOffset: st.leo, HighWatermark: st.leaderHW, Lag: lag,
			LastFetch: st.lastFetch, Err: st.err,
		})
	}
	return out
}

// run is the fetcher's goroutine: build a request from the partitions that
// are not backing off, send it, handle the answer; until stop.
func (f *fetcher) run() {
	defer f.closeConn()
	for f.ctx.Err() == nil {
		plan, wait := f.buildPlan()
		if plan == nil {
			f.pause(wait, true)
			continue
		}
		resp, err := f.fetch(plan.req)
		if err != nil {
			if f.ctx.Err() != nil {
				return
			}
			f.fetcherFailed(plan, err)
			f.pause(f.cfg.Backoff, false)
			continue
		}
		for _, e := range f.process(plan, resp) {
			f.resolveOutOfRange(e)
		}
	}
}

// pause waits for d (forever if d <= 0), for stop, or, if wakeable, for a
// partition to be added.
func (f *fetcher) pause(d time.Duration, wakeable bool) {
	var timer <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timer = t.C
	}
	wake := f.wake
	if !wakeable {
		wake = nil
	}
	select {
	case <-f.ctx.Done():
	case <-timer:
	case <-wake:
	}
}

// fetch sends req to the leader.
func (f *fetcher) fetch(req *kmsg.FetchRequest) (*kmsg.FetchResponse, error) {
	conn, err := f.connect()
	if err != nil {
		return nil, err
	}
	kresp, err := conn.request(f.ctx, req)
	if err != nil {
		return nil, fmt.Errorf("replication: fetch from broker %d at %s: %w", f.leader, conn.addr, err)
	}
	resp, ok := kresp.(*kmsg.FetchResponse)
	if !ok {
		return nil, fmt.Errorf("replication: fetch from broker %d: unexpected response %T", f.leader, kresp)
	}
	return resp, nil
}

// errOldFetch is reported when the leader only serves Fetch versions that
// cannot detect a diverging log.
var errOldFetch = errors.New("replication: leader serves Fetch below v12 (no LastFetchedEpoch/DivergingEpoch, KIP-320); not replicating")

// fetcherFailed records a fetcher-wide error on every partition of plan and
// backs them off.
func (f *fetcher) fetcherFailed(plan *fetchPlan, err error) {
	if msg := err.Error(); msg != f.lastErr {
		f.lastErr = msg
		f.log.Warn("fetch failed; backing off", "backoff", f.cfg.Backoff, "err", err)
	}
	now := f.cfg.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range plan.entries {
		if f.current(e.st) {
			e.st.delayedUntil = now.Add(f.cfg.Backoff)
			e.st.err = err
		}
	}
}

// fetchPlan is one fetch request and what each of its partitions was built
// from.
type fetchPlan struct {
	req     *kmsg.FetchRequest
	entries []*planEntry
	// byID finds an entry by topic id (Fetch v13+), byName by name.
	byID   map[idPartition]*planEntry
	byName map[namePartition]*planEntry
}

type idPartition struct {
	id        [16]byte
	partition int32
}

type namePartition struct {
	name      string
	partition int32
}

// planEntry is a partition in a request: the state it was built from and
// the offset it asked for.
type planEntry struct {
	st          *partState
	fetchOffset int64
}

// lookup finds the entry a response partition answers.
func (p *fetchPlan) lookup(version int16, t *kmsg.FetchResponseTopic, partition int32) *planEntry {
	if version >= 13 {
		return p.byID[idPartition{t.TopicID, partition}]
	}
	return p.byName[namePartition{t.Topic, partition}]
}

// buildPlan builds the next request from the partitions not backing off.
// With none ready it returns nil and how long until one is (0: none at all).
func (f *fetcher) buildPlan() (*fetchPlan, time.Duration) {
	now := f.cfg.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	n := len(f.order)
	if n == 0 {
		return nil, 0
	}
	start := f.turn % n
	f.turn++
	var wait time.Duration
	plan := &fetchPlan{
		byID:   make(map[idPartition]*planEntry, n),
		byName: make(map[namePartition]*planEntry, n),
	}
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = f.cfg.NodeID
	req.ReplicaState.ID = f.cfg.NodeID
	req.ReplicaState.Epoch = -1
	req.MaxWaitMillis = int32(min(max(f.cfg.MaxWait.Milliseconds(), 1), 1<<31-1))
	req.MinBytes = 1
	req.MaxBytes = f.cfg.MaxBytes
	req.IsolationLevel = 0
	req.SessionID = 0
	req.SessionEpoch = -1
	topicIndex := make(map[topicRef]int)
	for i := range n {
		st := f.parts[f.order[(start+i)%n]]
		if d := st.delayedUntil.Sub(now); d > 0 {
			if wait == 0 || d < wait {
				wait = d
			}
			continue
		}
		rp, err := f.prepare(st)
		if err != nil {
			f.delayLocked(st, now, err)
			if wait == 0 || f.cfg.Backoff < wait {
				wait = f.cfg.Backoff
			}
			continue
		}
		tk := topicRef{st.key.TopicID, st.key.Topic}
		ti, ok := topicIndex[tk]
		if !ok {
			t := kmsg.NewFetchRequestTopic()
			t.Topic, t.TopicID = st.key.Topic, st.key.TopicID
			req.Topics = append(req.Topics, t)
			ti = len(req.Topics) - 1
			topicIndex[tk] = ti
		}
		req.Topics[ti].Partitions = append(req.Topics[ti].Partitions, rp)
		pe := &planEntry{st: st, fetchOffset: rp.FetchOffset}
		plan.entries = append(plan.entries, pe)
		plan.byID[idPartition{st.key.TopicID, st.key.Partition}] = pe
		plan.byName[namePartition{st.key.Topic, st.key.Partition}] = pe
	}
	if len(plan.entries) == 0 {
		return nil, wait
	}
	plan.req = req
	return plan, 0
}

// topicRef groups a request's partitions by topic.
type topicRef struct {
	id   [16]byte
	name string
}

// prepare reads the replica's position for a request. A replica holding
// records but no leader epoch cannot be checked for divergence, so it is
// truncated to its log start first. Caller holds f.mu.
func (f *fetcher) prepare(st *partState) (kmsg.FetchRequestTopicPartition, error) {
	r := st.replica
	lastEpoch := latestEpoch(r)
	if lastEpoch < 0 {
		if start, end := r.LogStartOffset(), r.LogEndOffset(); end > start {
			f.log.Warn("replica has records but no leader epoch; truncating to its log start before fetching",
				"replica", r.String(), "log_start_offset", start, "log_end_offset", end)
			if err := r.TruncateTo(start); err != nil {
				return kmsg.FetchRequestTopicPartition{}, fmt.Errorf("replication: %s: truncate to log start %d: %w", r, start, err)
			}
		}
	}
	p := kmsg.NewFetchRequestTopicPartition()
	p.Partition = st.key.Partition
	p.CurrentLeaderEpoch = st.leaderEpoch
	p.FetchOffset = r.LogEndOffset()
	p.LastFetchedEpoch = lastEpoch
	p.LogStartOffset = r.LogStartOffset()
	p.PartitionMaxBytes = f.cfg.MaxPartitionBytes
	st.leo = p.FetchOffset
	return p, nil
}

// delayLocked backs st off after err, logging when the error changes.
// Caller holds f.mu.
func (f *fetcher) delayLocked(st *partState, now time.Time, err error) {
	if st.err == nil || st.err.Error() != err.Error() {
		f.log.Warn("partition error; backing off", "topic", st.key.Topic, "partition", st.key.Partition,
			"backoff", f.cfg.Backoff, "err", err)
	}
	st.err = err
	st.delayedUntil = now.Add(f.cfg.Backoff)
}
