package group

import (
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Coordinator is a node's group coordinator: one shard per
// __consumer_offsets partition this node leads. The coordinator of group G
// is the leader of partition PartitionFor(G, partitions).
//
// Every request method answers through its done callback exactly once,
// either before returning (routing errors: NOT_COORDINATOR,
// COORDINATOR_NOT_AVAILABLE) or later on the shard's goroutine. done must
// not block.
type Coordinator struct {
	cfg Config

	// mu guards partitions, shards and closed. It is never held while a
	// shard is waited for.
	mu         sync.RWMutex
	partitions int32
	shards     map[int32]*shard
	closed     bool

	wg sync.WaitGroup // shard goroutines
}

// Leader is a __consumer_offsets partition this node leads.
type Leader struct {
	Epoch int32
	Log   Log
}

// New returns a coordinator that leads nothing until SetLeadership.
func New(cfg Config) *Coordinator {
	return &Coordinator{cfg: cfg.withDefaults(), shards: map[int32]*shard{}}
}

// SetLeadership tells the coordinator how many partitions __consumer_offsets
// has (0: the topic does not exist) and which of them this node leads. A
// newly led partition (or a new leader epoch) gets a shard that loads its
// groups by replaying the log; a partition no longer led is unloaded, its
// pending requests answered NOT_COORDINATOR. It does not wait for loads or
// unloads.
func (c *Coordinator) SetLeadership(partitions int32, led map[int32]Leader) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.partitions = partitions
	for p, s := range c.shards {
		if l, ok := led[p]; ok && l.Epoch == s.epoch && l.Log == s.log {
			continue
		}
		close(s.stop)
		delete(c.shards, p)
	}
	for p, l := range led {
		if _, ok := c.shards[p]; ok || l.Log == nil {
			continue
		}
		s := newShard(c, p, l.Epoch, l.Log)
		c.shards[p] = s
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			s.run()
		}()
	}
}

// Close unloads every shard and waits for their goroutines.
func (c *Coordinator) Close() {
	c.mu.Lock()
	c.closed = true
	for p, s := range c.shards {
		close(s.stop)
		delete(c.shards, p)
	}
	c.mu.Unlock()
	c.wg.Wait()
}

// Partitions returns the partition count of __consumer_offsets as last set.
func (c *Coordinator) Partitions() int32 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.partitions
}

// route finds the shard owning group.
func (c *Coordinator) route(group string) (*shard, *kerr.Error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.partitions <= 0 {
		return nil, kerr.CoordinatorNotAvailable
	}
	s := c.shards[PartitionFor(group, c.partitions)]
	if s == nil {
		return nil, kerr.NotCoordinator
	}
	return s, nil
}

// do runs fn on the shard owning group, or fail when there is none.
func (c *Coordinator) do(group string, fn func(s *shard), fail func(*kerr.Error)) {
	s, err := c.route(group)
	if err != nil {
		fail(err)
		return
	}
	s.post(event{run: fn, fail: fail})
}

// JoinGroup serves JoinGroup.
func (c *Coordinator) JoinGroup(req *kmsg.JoinGroupRequest, cl Client, done func(kmsg.Response)) {
	fail := func(e *kerr.Error) { done(ErrorResponse(req, e)) }
	if req.Group == "" {
		fail(kerr.InvalidGroupID)
		return
	}
	c.do(req.Group, func(s *shard) {
		g := s.group(req.Group, req.MemberID == "")
		if g == nil {
			fail(kerr.UnknownMemberID)
			return
		}
		id := s.park(done, fail)
		s.apply(g, g.Join(s.now(), req, cl, id))
	}, fail)
}

// SyncGroup serves SyncGroup.
func (c *Coordinator) SyncGroup(req *kmsg.SyncGroupRequest, done func(kmsg.Response)) {
	c.classicMember(req, req.Group, done, func(g *Group, now time.Time, id RequestID) Effects {
		return g.Sync(now, req, id)
	})
}

// Heartbeat serves Heartbeat.
func (c *Coordinator) Heartbeat(req *kmsg.HeartbeatRequest, done func(kmsg.Response)) {
	c.classicMember(req, req.Group, done, func(g *Group, now time.Time, id RequestID) Effects {
		return g.Heartbeat(now, req, id)
	})
}

// classicMember runs a member request of an existing classic group on the
// group's shard: step gets the group, the shard's clock and the id of the
// parked answer. A missing (or non-classic) group is UNKNOWN_MEMBER_ID, an
// empty group id INVALID_GROUP_ID.
func (c *Coordinator) classicMember(req kmsg.Request, group string, done func(kmsg.Response), step func(g *Group, now time.Time, id RequestID) Effects) {
	fail := func(e *kerr.Error) { done(ErrorResponse(req, e)) }
	if group == "" {
		fail(kerr.InvalidGroupID)
		return
	}
	c.do(group, func(s *shard) {
		g := s.group(group, false)
		if g == nil || g.typ != TypeClassic {
			fail(kerr.UnknownMemberID)
			return
		}
		id := s.park(done, fail)
		s.apply(g, step(g, s.now(), id))
	}, fail)
}

// LeaveGroup serves LeaveGroup.
func (c *Coordinator) LeaveGroup(req *kmsg.LeaveGroupRequest, done func(kmsg.Response)) {
	fail := func(e *kerr.Error) { done(ErrorResponse(req, e)) }
	if req.Group == "" {
		fail(kerr.InvalidGroupID)
		return
	}
	c.do(req.Group, func(s *shard) {
		g := s.group(req.Group, false)
		if g == nil || g.typ != TypeClassic {
			done(unknownMembersLeave(req))
			return
		}
		id := s.park(done, fail)
		s.apply(g, g.Leave(s.now(), req, id))
	}, fail)
}

// OffsetCommit serves OffsetCommit; topics must be named (the caller
// resolves v10 topic ids).
func (c *Coordinator) OffsetCommit(req *kmsg.OffsetCommitRequest, done func(kmsg.Response)) {
	// An empty group id is valid here, as in Kafka (old clients commit
	// offsets of the "" group).
	fail := func(e *kerr.Error) { done(ErrorResponse(req, e)) }
	c.do(req.Group, func(s *shard) {
		g := s.group(req.Group, req.Generation < 0)
		if g == nil {
			fail(kerr.IllegalGeneration)
			return
		}
		id := s.park(done, fail)
		s.apply(g, g.CommitOffsets(s.now(), req, id))
	}, fail)
}

// OffsetFetchRequest is one group of an OffsetFetch.
type OffsetFetchRequest struct {
	Group string
	// MemberID and MemberEpoch (OffsetFetch v9+) identify a KIP-848
	// member; nil MemberID skips the check.
	MemberID    *string
	MemberEpoch int32
	// Topics are the partitions asked for; nil asks for every committed
	// partition.
	Topics        []FetchTopic
	RequireStable bool
}

// OffsetFetch serves one group of an OffsetFetch. done gets the group's
// answer with topics named.
func (c *Coordinator) OffsetFetch(req OffsetFetchRequest, done func(kmsg.OffsetFetchResponseGroup)) {
	fail := func(e *kerr.Error) {
		rg := kmsg.NewOffsetFetchResponseGroup()
		rg.Group, rg.ErrorCode = req.Group, e.Code
		done(rg)
	}
	c.do(req.Group, func(s *shard) {
		rg := kmsg.NewOffsetFetchResponseGroup()
		rg.Group = req.Group
		g := s.group(req.Group, false)
		if g == nil {
			g = newGroup(req.Group, &c.cfg, s.now()) // answers -1 everywhere
		}
		if g.consumer != nil && req.MemberID != nil {
			if code := g.consumerCommitAllowed(s.now(), *req.MemberID, req.MemberEpoch); code != 0 {
				rg.ErrorCode = code
				done(rg)
				return
			}
		}
		rg.Topics = g.FetchOffsets(req.Topics, req.RequireStable)
		done(rg)
	}, fail)
}

// DescribeGroup serves one group of DescribeGroups; found is false for a
// group the coordinator does not know (state Dead).
func (c *Coordinator) DescribeGroup(group string, done func(dg kmsg.DescribeGroupsResponseGroup, found bool)) {
	fail := func(e *kerr.Error) {
		dg := kmsg.NewDescribeGroupsResponseGroup()
		dg.Group, dg.ErrorCode = group, e.Code
		done(dg, true)
	}
	c.do(group, func(s *shard) {
		if g := s.group(group, false); g != nil {
			done(g.Describe(), true)
			return
		}
		dg := kmsg.NewDescribeGroupsResponseGroup()
		dg.Group, dg.State = group, StateDead.String()
		done(dg, false)
	}, fail)
}

// ListGroups lists the groups of every shard, filtered by state and type
// names (case-insensitive; empty filters match all). code is
// COORDINATOR_LOAD_IN_PROGRESS when a shard is still loading.
func (c *Coordinator) ListGroups(states, types []string, done func(groups []kmsg.ListGroupsResponseGroup, code int16)) {
	c.mu.RLock()
	shards := make([]*shard, 0, len(c.shards))
	for _, s := range c.shards {
		shards = append(shards, s)
	}
	c.mu.RUnlock()
	if len(shards) == 0 {
		done(nil, 0)
		return
	}
	var mu sync.Mutex
	var all []kmsg.ListGroupsResponseGroup
	var code int16
	left := len(shards)
	finish := func(gs []kmsg.ListGroupsResponseGroup, e *kerr.Error) {
		mu.Lock()
		defer mu.Unlock()
		all = append(all, gs...)
		if e == kerr.CoordinatorLoadInProgress {
			code = e.Code
		}
		if left--; left == 0 {
			slices.SortFunc(all, func(a, b kmsg.ListGroupsResponseGroup) int {
				switch {
				case a.Group < b.Group:
					return -1
				case a.Group > b.Group:
					return 1
				}
				return 0
			})
			done(all, code)
		}
	}
	for _, s := range shards {
		s.post(event{run: func(s *shard) {
			var out []kmsg.ListGroupsResponseGroup
			for _, g := range s.groups {
				l := g.Listing()
				if matchesAny(l.GroupState, states) && matchesAny(l.GroupType, types) {
					out = append(out, l)
				}
			}
			finish(out, nil)
		}, fail: func(e *kerr.Error) { finish(nil, e) }})
	}
}

func matchesAny(v string, filter []string) bool {
	if len(filter) == 0 {
		return true
	}
	for _, f := range filter {
		if equalFold(f, v) {
			return true
		}
	}
	return false
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// DeleteGroup serves one group of DeleteGroups: GROUP_ID_NOT_FOUND for an
// unknown group, NON_EMPTY_GROUP while it has members, else tombstones for
// its metadata and every offset.
func (c *Coordinator) DeleteGroup(group string, done func(code int16)) {
	fail := func(e *kerr.Error) { done(e.Code) }
	c.do(group, func(s *shard) {
		g := s.group(group, false)
		if g == nil {
			done(kerr.GroupIDNotFound.Code)
			return
		}
		if e := g.deletable(); e != nil {
			done(e.Code)
			return
		}
		recs := g.tombstones(s.now())
		delete(s.groups, group)
		delete(s.scheduled, group)
		s.write(nil, recs, func(_ time.Time, err error) Effects {
			if err != nil {
				done(storeErrorCode(err, false))
			} else {
				done(0)
			}
			return Effects{}
		})
	}, fail)
}

// OffsetDelete serves OffsetDelete.
func (c *Coordinator) OffsetDelete(req *kmsg.OffsetDeleteRequest, done func(kmsg.Response)) {
	fail := func(e *kerr.Error) { done(ErrorResponse(req, e)) }
	c.do(req.Group, func(s *shard) {
		g := s.group(req.Group, false)
		if g == nil {
			fail(kerr.GroupIDNotFound)
			return
		}
		id := s.park(done, fail)
		s.apply(g, g.DeleteOffsets(s.now(), req, id))
	}, fail)
}

// ConsumerGroupHeartbeat serves ConsumerGroupHeartbeat (KIP-848).
func (c *Coordinator) ConsumerGroupHeartbeat(req *kmsg.ConsumerGroupHeartbeatRequest, cl Client, done func(kmsg.Response)) {
	fail := func(e *kerr.Error) { done(ErrorResponse(req, e)) }
	if req.Group == "" {
		fail(kerr.InvalidRequest)
		return
	}
	c.do(req.Group, func(s *shard) {
		g := s.group(req.Group, req.MemberEpoch == epochJoin)
		if g == nil {
			fail(kerr.UnknownMemberID)
			return
		}
		id := s.park(done, fail)
		s.apply(g, g.ConsumerHeartbeat(s.now(), req, cl, id))
	}, fail)
}

// ConsumerGroupDescribe serves one group of ConsumerGroupDescribe.
func (c *Coordinator) ConsumerGroupDescribe(group string, done func(kmsg.ConsumerGroupDescribeResponseGroup)) {
	fail := func(e *kerr.Error) {
		dg := kmsg.NewConsumerGroupDescribeResponseGroup()
		dg.Group, dg.ErrorCode = group, e.Code
		done(dg)
	}
	c.do(group, func(s *shard) {
		g := s.group(group, false)
		if g == nil || g.consumer == nil {
			fail(kerr.GroupIDNotFound)
			return
		}
		dg := kmsg.NewConsumerGroupDescribeResponseGroup()
		dg.Group = group
		g.describeConsumer(&dg)
		done(dg)
	}, fail)
}

// TopicsChanged tells consumer groups that topics were created, deleted or
// grew, so their target assignments follow.
func (c *Coordinator) TopicsChanged() {
	c.mu.RLock()
	shards := make([]*shard, 0, len(c.shards))
	for _, s := range c.shards {
		shards = append(shards, s)
	}
	c.mu.RUnlock()
	for _, s := range shards {
		s.post(event{run: func(s *shard) {
			now := s.now()
			for _, g := range s.groups {
				if g.consumer != nil {
					s.apply(g, g.TopicsChanged(now))
				}
			}
		}, fail: func(*kerr.Error) {}})
	}
}
