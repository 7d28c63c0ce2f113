package group

import (
	"container/heap"
	"errors"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Log is one __consumer_offsets partition led by this node, as the
// coordinator uses it.
type Log interface {
	// Append appends one record batch built by EncodeBatch and returns the
	// offset of its last record. Errors are Kafka errors where possible
	// (NOT_LEADER_OR_FOLLOWER, MESSAGE_TOO_LARGE, KAFKA_STORAGE_ERROR).
	Append(batch []byte) (lastOffset int64, err error)
	// Committed reports whether offset is below the high watermark.
	Committed(offset int64) bool
	// WaitCommitted calls done exactly once, on any goroutine: with nil once
	// offset is below the high watermark, with an error when the wait is
	// abandoned (stop closed, replica closed, timeout).
	WaitCommitted(offset int64, stop <-chan struct{}, done func(error))
	// Scan calls fn for every batch from the log start to the log end as of
	// the call. batch is only valid during fn; an error from fn stops the
	// scan and is returned.
	Scan(fn func(batch []byte) error) error
}

// loadRetryInterval spaces attempts to load a partition that failed to
// load.
const loadRetryInterval = 5 * time.Second

// inboxSize bounds the requests queued for one shard; senders wait when it
// is full.
const inboxSize = 4096

// event is a request for the shard goroutine: run when the shard serves
// requests, fail (with COORDINATOR_LOAD_IN_PROGRESS or NOT_COORDINATOR)
// otherwise.
type event struct {
	run  func(s *shard)
	fail func(e *kerr.Error)
}

// waiter is a parked request.
type waiter struct {
	done func(kmsg.Response)
	fail func(e *kerr.Error)
}

// shard owns the groups of one __consumer_offsets partition. Its goroutine
// (run) is the only one touching groups, waiting, timers and scheduled; other
// goroutines talk to it through post.
type shard struct {
	c         *Coordinator
	partition int32
	epoch     int32
	log       Log
	inbox     chan event
	commits   chan func()     // completed commit waits
	loaded    chan loadResult // the loader's result
	stop      chan struct{}   // closed to unload the shard
	done      chan struct{}   // closed when run returned

	// mu guards closed; post holds it shared while sending.
	mu     sync.RWMutex
	closed bool

	// Owned by run.
	active    bool
	stopping  bool
	groups    map[string]*Group
	waiting   map[RequestID]waiter
	nextID    RequestID
	waits     int // commit waits in flight
	timers    timerHeap
	scheduled map[string]time.Time
	timer     *time.Timer
}

func newShard(c *Coordinator, partition, epoch int32, log Log) *shard {
	return &shard{
		c: c, partition: partition, epoch: epoch, log: log,
		inbox: make(chan event, inboxSize), commits: make(chan func(), 64), loaded: make(chan loadResult, 1),
		stop: make(chan struct{}), done: make(chan struct{}),
		groups: map[string]*Group{}, waiting: map[RequestID]waiter{}, scheduled: map[string]time.Time{},
	}
}

// post queues an event, or fails it at once when the shard is gone.
func (s *shard) post(ev event) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		ev.fail(kerr.NotCoordinator)
		return
	}
	select {
	case s.inbox <- ev:
	case <-s.stop:
		ev.fail(kerr.NotCoordinator)
	}
}

func (s *shard) now() time.Time { return s.c.cfg.Now() }

// run is the shard goroutine: it loads the partition's groups, then serves
// events, timers and retention until stop is closed.
func (s *shard) run() {
	defer close(s.done)
	s.timer = time.NewTimer(time.Hour)
	s.timer.Stop()
	retention := time.NewTicker(s.c.cfg.RetentionCheckInterval)
	defer retention.Stop()
	go func() { s.loaded <- s.load() }()
	loading := true
	var retry <-chan time.Time
	for {
		select {
		case ev := <-s.inbox:
			if s.active {
				ev.run(s)
			} else {
				ev.fail(kerr.CoordinatorLoadInProgress)
			}
		case f := <-s.commits:
			s.waits--
			f()
		case res := <-s.loaded:
			loading = false
			if res.err != nil && res.err != errStopped {
				// An I/O error or a corrupt batch: answer
				// COORDINATOR_LOAD_IN_PROGRESS and try again.
				s.c.cfg.Logger.Error("group: loading __consumer_offsets failed", "partition", s.partition, "err", res.err)
				retry = time.After(loadRetryInterval)
				continue
			}
			s.finishLoad(res)
		case <-retry:
			retry, loading = nil, true
			go func() { s.loaded <- s.load() }()
		case <-s.timer.C:
			s.fireTimers()
		case <-retention.C:
			if s.active {
				s.expire()
			}
		case <-s.stop:
			if loading {
				<-s.loaded // the loader sees stop and returns
			}
			s.shutdown()
			return
		}
	}
}

// shutdown unloads the shard: queued events and parked requests are
// answered NOT_COORDINATOR after in-flight writes reported.
func (s *shard) shutdown() {
	s.stopping = true
	s.timer.Stop()
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	for {
		select {
		case ev := <-s.inbox:
			ev.fail(kerr.NotCoordinator)
			continue
		default:
		}
		break
	}
	for s.waits > 0 {
		f := <-s.commits
		s.waits--
		f()
	}
	for id, w := range s.waiting {
		delete(s.waiting, id)
		w.fail(kerr.NotCoordinator)
	}
	s.groups = nil
}

// park registers a request waiting for its answer.
func (s *shard) park(done func(kmsg.Response), fail func(*kerr.Error)) RequestID {
	s.nextID++
	s.waiting[s.nextID] = waiter{done: done, fail: fail}
	return s.nextID
}

// apply carries out a group's effects.
func (s *shard) apply(g *Group, eff Effects) {
	for _, r := range eff.Replies {
		if w, ok := s.waiting[r.To]; ok {
			delete(s.waiting, r.To)
			w.done(r.Msg)
		}
	}
	if len(eff.Records) > 0 {
		s.write(g, eff.Records, eff.Then)
	}
	if g != nil {
		s.schedule(g)
		s.forgetIfUnused(g)
	}
}

// write appends records as one batch and applies then's effects once the
// batch is committed or failed.
func (s *shard) write(g *Group, recs []Record, then func(time.Time, error) Effects) {
	if then == nil {
		then = ignoreStoreError
	}
	if s.stopping {
		s.apply(g, then(s.now(), kerr.NotCoordinator))
		return
	}
	last, err := s.log.Append(EncodeBatch(recs, s.now().UnixMilli()))
	if err != nil {
		s.c.cfg.Logger.Warn("group: write to __consumer_offsets failed", "partition", s.partition, "err", err)
		s.apply(g, then(s.now(), err))
		return
	}
	if s.log.Committed(last) {
		s.apply(g, then(s.now(), nil))
		return
	}
	s.waits++
	s.log.WaitCommitted(last, s.stop, func(err error) {
		s.commits <- func() { s.apply(g, then(s.now(), err)) }
	})
}

// forgetIfUnused drops a group that never held anything worth keeping (a
// failed first join, a read of an unknown group).
func (s *shard) forgetIfUnused(g *Group) {
	if g.state == StateEmpty && g.generation == 0 && g.consumer == nil && len(g.members) == 0 &&
		len(g.pending) == 0 && len(g.offsets) == 0 && len(g.pendingCommits) == 0 && s.groups[g.id] == g {
		delete(s.groups, g.id)
		delete(s.scheduled, g.id)
	}
}

// group returns a group, creating it when create is set.
func (s *shard) group(id string, create bool) *Group {
	g := s.groups[id]
	if g == nil && create {
		g = newGroup(id, &s.c.cfg, s.now())
		s.groups[id] = g
	}
	return g
}

// schedule arms the timer for a group's next deadline.
func (s *shard) schedule(g *Group) {
	d, ok := g.Deadline()
	if !ok || s.groups[g.id] != g {
		return
	}
	if cur, ok := s.scheduled[g.id]; ok && !d.Before(cur) {
		return
	}
	s.scheduled[g.id] = d
	heap.Push(&s.timers, timerEntry{at: d, group: g.id})
	if s.timers[0].group == g.id && s.timers[0].at.Equal(d) {
		s.armTimer()
	}
}

func (s *shard) armTimer() {
	if len(s.timers) == 0 || s.stopping {
		return
	}
	s.timer.Stop()
	select {
	case <-s.timer.C:
	default:
	}
	s.timer.Reset(max(s.timers[0].at.Sub(s.now()), 0))
}

// fireTimers ticks the groups whose deadlines passed.
func (s *shard) fireTimers() {
	now := s.now()
	for len(s.timers) > 0 && !s.timers[0].at.After(now) {
		e := heap.Pop(&s.timers).(timerEntry)
		if cur, ok := s.scheduled[e.group]; !ok || !cur.Equal(e.at) {
			continue // superseded by an earlier deadline
		}
		delete(s.scheduled, e.group)
		if g := s.groups[e.group]; g != nil {
			s.apply(g, g.Tick(now))
		}
	}
	s.armTimer()
}

// expire removes offsets past retention and empty groups left without
// offsets (writing tombstones for both).
func (s *shard) expire() {
	now := s.now()
	removed, groupsGone := 0, 0
	for _, g := range s.groups {
		recs := g.expireOffsets(now)
		removed += len(recs)
		if g.state == StateEmpty && g.isEmptyOfMembers() && len(g.offsets) == 0 && len(g.pendingCommits) == 0 && len(g.pending) == 0 {
			recs = append(recs, groupTombstone(g.id))
			g.transition(StateDead, now)
			delete(s.groups, g.id)
			delete(s.scheduled, g.id)
			groupsGone++
		}
		if len(recs) > 0 {
			s.write(nil, recs, nil)
		}
	}
	if removed > 0 || groupsGone > 0 {
		s.c.cfg.Logger.Info("group: expired offsets", "partition", s.partition, "offsets", removed, "groups", groupsGone)
	}
}

// errStopped ends a load cut short by an unload.
var errStopped = errors.New("group: coordinator shard stopped")

// timerEntry is a group's deadline in the timer heap.
type timerEntry struct {
	at    time.Time
	group string
}

type timerHeap []timerEntry

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h timerHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)        { *h = append(*h, x.(timerEntry)) }
func (h *timerHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
