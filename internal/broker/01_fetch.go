package broker

// Fetch (API key 1), versions 4-16.
//
// A long poll: the answer goes out as soon as MinBytes of records are
// available or MaxWaitMillis has passed; meanwhile the request is parked on
// the partitions it reads (woken when their high watermark moves), and the
// connection keeps serving later requests. Limits follow KIP-74: MaxBytes for
// the response and PartitionMaxBytes per partition, but the first batch of
// the first partition with data is always returned whole, however large.
// Consumers never see records at or above the high watermark
// (read_uncommitted) or the last stable offset (read_committed).
//
// Sessions (KIP-227, v7+) are in fetch_session.go. v12+ consumers get
// KIP-320 checks: a stale CurrentLeaderEpoch is FENCED_LEADER_EPOCH, a newer
// one UNKNOWN_LEADER_EPOCH, and a LastFetchedEpoch whose end offset is below
// the fetch offset is answered with DivergingEpoch. v13+ names topics by id.
//
// Followers fetch with their node id as the replica id (ReplicaID before
// v15, ReplicaState from v15): they read up to the log end offset, their
// fetch offsets tell the leader what they have (moving the high watermark
// and the ISR, see package partition), and their long polls wake on every
// append rather than on high-watermark moves.
//
// Not implemented yet: rack-aware preferred read replicas (KIP-392).

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/partition"
	"github.com/samsa-streaming/samsa/internal/wire"
)

func init() { register(1, 4, 16, (*Broker).handleFetch) }

// maxFetchPartitionBytes bounds one partition's records in a response: a
// single batch can be at most max.message.bytes, which is far below this.
const maxFetchPartitionBytes = 256 << 20

// fetchPlan is the set of partitions one fetch request reads, in order.
type fetchPlan struct {
	req         *kmsg.FetchRequest
	session     *fetchSession // nil: sessionless
	incremental bool
	keys        []fetchKey
	parts       []*sessionPartition
	// included lists, in response order, the indexes into keys/parts of the
	// partitions the last build put in the response.
	included []int
	// replicaID is the fetching follower's node id, -1 for consumers.
	// Followers read up to the log end, not the high watermark, and
	// their fetch offsets move the leader's high watermark.
	replicaID int32
	// followerRecorded is set once the follower's fetch offsets were
	// given to the partitions (the first build).
	followerRecorded bool
}

func (b *Broker) handleFetch(ctx context.Context, r *wire.Request) (*wire.Response, error) {
	req := r.Body.(*kmsg.FetchRequest)
	plan, err := b.planFetch(req)
	if err != nil {
		resp := req.ResponseKind().(*kmsg.FetchResponse)
		setError(&resp.ErrorCode, nil, err)
		return &wire.Response{Msg: resp}, nil
	}
	reads := newFetchReads()
	resp, res := b.buildFetch(plan, reads)
	if res.bytes >= int(req.MinBytes) || req.MaxWaitMillis <= 0 || res.answerNow || len(plan.keys) == 0 {
		b.metrics.fetched(res.tally)
		b.finishFetch(plan, resp)
		out := &wire.Response{}
		reads.fill(out, resp)
		return out, nil
	}
	reads.discard()
	return b.parkFetch(plan, reads, time.Duration(req.MaxWaitMillis)*time.Millisecond), nil
}

// finishFetch completes a response that is about to be sent: the session
// remembers what the client was told, so that the next incremental answer
// includes only partitions with news.
func (b *Broker) finishFetch(plan *fetchPlan, resp *kmsg.FetchResponse) {
	s := plan.session
	if s == nil {
		return
	}
	resp.SessionID = s.id
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, t := range resp.Topics {
		for _, rp := range t.Partitions {
			sp := plan.parts[plan.included[n]]
			n++
			sp.sentHighWatermark, sp.sentLogStartOffset, sp.sentLSO = rp.HighWatermark, rp.LogStartOffset, rp.LastStableOffset
		}
	}
}

// parkFetch waits until enough bytes are available, the wait expires or the
// broker closes, then builds the final response. The goroutine is owned by
// the response and ends when Ready is closed.
func (b *Broker) parkFetch(plan *fetchPlan, reads *fetchReads, wait time.Duration) *wire.Response {
	ready := make(chan struct{})
	out := &wire.Response{Ready: ready, Done: reads.releaseAll}
	view := b.view()
	var parked []*partition.Partition
	for _, k := range plan.keys {
		if p := view.localPartition(k); p != nil {
			parked = append(parked, p)
		}
	}
	park, unpark := (*partition.Partition).Park, (*partition.Partition).Unpark
	if plan.replicaID >= 0 {
		park, unpark = (*partition.Partition).ParkData, (*partition.Partition).UnparkData
	}
	w := partition.NewWakeup()
	go func() {
		defer close(ready)
		timer := time.NewTimer(wait)
		defer timer.Stop()
		defer func() {
			for _, p := range parked {
				unpark(p, w)
			}
		}()
		for {
			for _, p := range parked {
				park(p, w)
			}
			// Check after parking: data that arrived between the first
			// check and the registration rang no bell.
			if b.fetchAvailable(plan) < int(plan.req.MinBytes) {
				select {
				case <-w.C:
					continue
				case <-timer.C:
				case <-b.closing:
				}
			}
			resp, res := b.buildFetch(plan, reads)
			b.metrics.fetched(res.tally)
			b.finishFetch(plan, resp)
			reads.fill(out, resp)
			return
		}
	}()
	return out
}

// fetchAvailable estimates the record bytes a build would return now: the
// bytes between each partition's fetch offset and its visible end.
func (b *Broker) fetchAvailable(plan *fetchPlan) int {
	view := b.view()
	total := 0
	readCommitted := plan.req.IsolationLevel == 1
	for i, k := range plan.keys {
		p := view.localPartition(k)
		if p == nil {
			return 1 << 30 // an error to report: answer now
		}
		r, err := plan.read(p, plan.parts[i].fetchOffset, plan.parts[i].partitionMaxBytes, readCommitted)
		if err != nil {
			return 1 << 30
		}
		total += r.Len()
		r.Release()
		if total >= int(plan.req.MinBytes) {
			break
		}
	}
	return total
}

// fetchResult is what a build of a fetch answer read.
type fetchResult struct {
	bytes int // record bytes included
	// answerNow: a partition has an error, a diverging epoch or a
	// preferred read replica, so the answer must not wait for more data.
	answerNow bool
	tally     fetchTally
}

// buildFetch reads every planned partition into a response.
func (b *Broker) buildFetch(plan *fetchPlan, reads *fetchReads) (*kmsg.FetchResponse, fetchResult) {
	if plan.session != nil {
		plan.session.mu.Lock()
		defer plan.session.mu.Unlock()
	}
	req := plan.req
	resp := req.ResponseKind().(*kmsg.FetchResponse)
	view := b.view()
	readCommitted := req.IsolationLevel == 1
	maxBytes := int(req.MaxBytes)
	if maxBytes <= 0 || req.Version < 3 {
		maxBytes = 1 << 30
	}
	total, answerNow := 0, false
	var tally fetchTally
	plan.included = plan.included[:0]
	now := time.Now()
	recordFollower := plan.replicaID >= 0 && !plan.followerRecorded
	plan.followerRecorded = true
	hints := leaderHints{view: view}
	var cur *kmsg.FetchResponseTopic
	for i, k := range plan.keys {
		sp := plan.parts[i]
		rp := kmsg.NewFetchResponseTopicPartition()
		rp.Partition = k.partition
		// An empty record set is 0 bytes, never null: librdkafka rejects a
		// -1 MessageSetSize.
		rp.RecordBatches = []byte{}
		p, err := b.fetchTarget(plan, view, k, sp)
		if err == nil {
			rp.HighWatermark, rp.LastStableOffset, rp.LogStartOffset = p.HighWatermark(), p.LastStableOffset(), p.LogStartOffset()
			if diverged, ok := divergingEpoch(p, sp); ok {
				rp.DivergingEpoch = diverged
			} else if plan.replicaID < 0 && p.IsLeader() {
				if rp.PreferredReadReplica = b.preferredReadReplica(view, p, req.Version, req.Rack, sp.fetchOffset); rp.PreferredReadReplica >= 0 {
					b.metrics.readRedirects.Add(1)
				}
			}
			if rp.DivergingEpoch.Epoch >= 0 || rp.PreferredReadReplica >= 0 {
				answerNow = true // the client must act on it: no records, no waiting
			} else {
				if recordFollower {
					if err = p.FollowerFetched(plan.replicaID, sp.fetchOffset, now); err == nil {
						rp.HighWatermark = p.HighWatermark()
					}
				}
				if err == nil {
					var n int
					n, err = b.readInto(&rp, reads, plan, p, sp, maxBytes-total, total == 0, readCommitted)
					total += n
					tally.add(n, plan.replicaID >= 0, !p.IsLeader())
				}
			}
		}
		if err != nil {
			answerNow = true
			setError(&rp.ErrorCode, nil, err)
			hints.addFetchHint(req.Version, view.topicFor(k), &rp)
		}
		if plan.incremental && err == nil && len(rp.RecordBatches) == 0 && rp.DivergingEpoch.Epoch < 0 && rp.PreferredReadReplica < 0 &&
			rp.HighWatermark == sp.sentHighWatermark && rp.LogStartOffset == sp.sentLogStartOffset && rp.LastStableOffset == sp.sentLSO {
			continue // nothing new for this partition
		}
		if cur == nil || cur.Topic != k.topic || cur.TopicID != k.topicID {
			resp.Topics = append(resp.Topics, kmsg.NewFetchResponseTopic())
			cur = &resp.Topics[len(resp.Topics)-1]
			cur.Topic, cur.TopicID = k.topic, k.topicID
		}
		cur.Partitions = append(cur.Partitions, rp)
		plan.included = append(plan.included, i)
	}
	hints.addFetchEndpoints(resp)
	return resp, fetchResult{bytes: total, answerNow: answerNow, tally: tally}
}

// fetchTarget finds the local replica a fetch reads: the leader's for a
// follower replica, the leader's or (KIP-392) a follower's for a consumer.
// It checks the client's leader epoch (KIP-320).
func (b *Broker) fetchTarget(plan *fetchPlan, view *clusterView, k fetchKey, sp *sessionPartition) (*partition.Partition, error) {
	t := view.topicFor(k)
	if t == nil {
		if k.topic == "" {
			return nil, kerr.UnknownTopicID
		}
		return nil, kerr.UnknownTopicOrPartition
	}
	p, pv, err := b.leaderFor(t, k.partition)
	if err == kerr.NotLeaderForPartition && plan.replicaID < 0 {
		p, err = b.followerReadTarget(pv, plan.req.Version)
	}
	if err == nil && sp.currentEpoch >= 0 {
		err = checkLeaderEpoch(sp.currentEpoch, pv.leaderEpoch)
	}
	if err != nil {
		return nil, err
	}
	return p, nil
}

// divergingEpoch checks a consumer's LastFetchedEpoch (v12+): if the log has
// no such epoch ending at or after the fetch offset, the client must truncate.
func divergingEpoch(p *partition.Partition, sp *sessionPartition) (kmsg.FetchResponseTopicPartitionDivergingEpoch, bool) {
	d := kmsg.NewFetchResponseTopicPartitionDivergingEpoch()
	if sp.lastFetchedEpoch < 0 {
		return d, false
	}
	epoch, end := p.Log().EndOffsetForEpoch(sp.lastFetchedEpoch)
	if epoch == sp.lastFetchedEpoch && end >= sp.fetchOffset {
		return d, false
	}
	if epoch < 0 {
		return d, false // no epoch information (e.g. an empty log)
	}
	d.Epoch, d.EndOffset = epoch, end
	return d, true
}

// readInto reads a partition's records into rp, returning how many bytes it
// included. budget is what is left of the response's MaxBytes; first says
// nothing was included yet, so one whole batch is returned even beyond the
// limits (KIP-74). Large reads stay in the segment file and are sent with
// sendfile (see fetch_zerocopy.go).
func (b *Broker) readInto(rp *kmsg.FetchResponseTopicPartition, reads *fetchReads, plan *fetchPlan, p *partition.Partition, sp *sessionPartition, budget int, first bool, readCommitted bool) (int, error) {
	if budget <= 0 && !first {
		return 0, nil
	}
	limit := int(sp.partitionMaxBytes)
	if limit > budget && budget > 0 {
		limit = budget
	}
	if limit <= 0 {
		limit = 1
	}
	res, err := plan.read(p, sp.fetchOffset, int32(limit), readCommitted)
	if err != nil {
		return 0, err
	}
	n := res.Len()
	if n == 0 || (!first && n > limit) {
		res.Release()
		return 0, nil
	}
	if n > maxFetchPartitionBytes {
		res.Release()
		return 0, kerr.KafkaStorageError
	}
	if n >= zeroCopyMinBytes {
		if m := reads.add(res); m != nil {
			rp.RecordBatches = m
			return n, nil
		}
		return 0, nil // the response was dropped meanwhile
	}
	defer res.Release()
	rp.RecordBatches, err = res.AppendTo(make([]byte, 0, n))
	if err != nil {
		rp.RecordBatches = []byte{}
		b.lg.Error("fetch: read failed", "partition", p.String(), "offset", sp.fetchOffset, "err", err)
		return 0, kerr.KafkaStorageError
	}
	return n, nil
}

// planFetch resolves the request's session and the list of partitions to
// read.
func (b *Broker) planFetch(req *kmsg.FetchRequest) (*fetchPlan, error) {
	plan := &fetchPlan{req: req, replicaID: req.ReplicaID}
	if req.Version >= 15 {
		plan.replicaID = req.ReplicaState.ID
	}
	if plan.replicaID < 0 {
		plan.replicaID = -1
	}
	full := req.SessionEpoch <= 0
	if req.Version >= 7 {
		switch {
		case req.SessionID != 0 && full:
			b.fetchSessions.remove(req.SessionID)
		case req.SessionID != 0:
			s, err := b.fetchSessions.get(req.SessionID, req.SessionEpoch)
			if err != nil {
				return nil, err
			}
			s.mu.Lock()
			if s.epoch != req.SessionEpoch {
				s.mu.Unlock()
				return nil, kerr.InvalidFetchSessionEpoch
			}
			s.epoch++
			s.mu.Unlock()
			plan.session, plan.incremental = s, true
		}
		if req.SessionEpoch == 0 {
			plan.session = b.fetchSessions.create()
		}
	}
	view := b.view()
	entries := make(map[fetchKey]*sessionPartition)
	var order []fetchKey
	for _, t := range req.Topics {
		name := t.Topic
		if req.Version >= 13 {
			name = view.topicName(t.TopicID)
		}
		for _, p := range t.Partitions {
			k := fetchKey{topic: name, topicID: t.TopicID, partition: p.Partition}
			if req.Version < 13 {
				k.topicID = [16]byte{}
			}
			sp := &sessionPartition{fetchOffset: p.FetchOffset, partitionMaxBytes: p.PartitionMaxBytes,
				currentEpoch: p.CurrentLeaderEpoch, lastFetchedEpoch: p.LastFetchedEpoch,
				sentHighWatermark: -1, sentLogStartOffset: -1, sentLSO: -1}
			if req.Version < 9 {
				sp.currentEpoch = -1
			}
			if req.Version < 12 {
				sp.lastFetchedEpoch = -1
			}
			if _, dup := entries[k]; !dup {
				order = append(order, k)
			}
			entries[k] = sp
		}
	}
	if plan.session == nil {
		plan.keys = order
		for _, k := range order {
			plan.parts = append(plan.parts, entries[k])
		}
		return plan, nil
	}
	s := plan.session
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ft := range req.ForgottenTopics {
		name := ft.Topic
		if req.Version >= 13 {
			name = view.topicName(ft.TopicID)
		}
		for _, p := range ft.Partitions {
			k := fetchKey{topic: name, partition: p}
			if req.Version >= 13 {
				k.topicID = ft.TopicID
			}
			s.forget(k)
		}
	}
	for _, k := range order {
		s.upsert(k, *entries[k])
	}
	s.lastUsed = time.Now()
	plan.keys = append([]fetchKey(nil), s.order...)
	for _, k := range plan.keys {
		plan.parts = append(plan.parts, s.parts[k])
	}
	return plan, nil
}
