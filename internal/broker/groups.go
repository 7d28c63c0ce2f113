package broker

// Glue between the broker and the group coordinator (internal/group): the
// coordinator's view of topics, its access to the __consumer_offsets
// partitions this node leads, the creation of that topic on first need and
// the helpers the group API handlers (08, 09, 10-16, 42, 47, 68, 69) share.

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/group"
	samsalog "github.com/samsa-streaming/samsa/internal/log"
	"github.com/samsa-streaming/samsa/internal/partition"
	"github.com/samsa-streaming/samsa/internal/wire"
)

// groupService is the broker's group coordinator and what it needs.
type groupService struct {
	coord *group.Coordinator
	// createMu serialises the creation of __consumer_offsets.
	createMu sync.Mutex
}

// newGroupService builds the coordinator from the broker's configuration.
func newGroupService(b *Broker) *groupService {
	cfg := group.DefaultConfig()
	millis := func(name string, dst *time.Duration, unit time.Duration) {
		if v, ok := b.cfg.Value(name); ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
				*dst = time.Duration(n) * unit
			}
		}
	}
	count := func(name string, dst *int) {
		if v, ok := b.cfg.Value(name); ok {
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				*dst = n
			}
		}
	}
	millis("group.min.session.timeout.ms", &cfg.MinSessionTimeout, time.Millisecond)
	millis("group.max.session.timeout.ms", &cfg.MaxSessionTimeout, time.Millisecond)
	millis("group.initial.rebalance.delay.ms", &cfg.InitialRebalanceDelay, time.Millisecond)
	millis("offsets.retention.minutes", &cfg.OffsetsRetention, time.Minute)
	millis("offsets.retention.check.interval.ms", &cfg.RetentionCheckInterval, time.Millisecond)
	millis("group.consumer.session.timeout.ms", &cfg.ConsumerSessionTimeout, time.Millisecond)
	millis("group.consumer.heartbeat.interval.ms", &cfg.ConsumerHeartbeatInterval, time.Millisecond)
	count("group.max.size", &cfg.MaxGroupSize)
	count("group.consumer.max.size", &cfg.ConsumerMaxSize)
	count("offset.metadata.max.bytes", &cfg.OffsetMetadataMaxBytes)
	if cfg.InitialRebalanceDelay == 0 {
		cfg.InitialRebalanceDelay = -1 // explicitly none (zero means default)
	}
	cfg.Topics = brokerTopics{b}
	cfg.Logger = b.lg
	return &groupService{coord: group.New(cfg)}
}

// Groups returns the broker's group coordinator (for tools and tests).
func (b *Broker) Groups() *group.Coordinator { return b.groups.coord }

// brokerTopics answers the coordinator's topic questions from the view.
type brokerTopics struct{ b *Broker }

func (t brokerTopics) Topic(name string) ([16]byte, int32, bool) {
	tv := t.b.view().topics[name]
	if tv == nil {
		return [16]byte{}, 0, false
	}
	return tv.id, int32(len(tv.partitions)), true
}

func (t brokerTopics) TopicByID(id [16]byte) (string, int32, bool) {
	tv := t.b.view().topicsByID[id]
	if tv == nil {
		return "", 0, false
	}
	return tv.name, int32(len(tv.partitions)), true
}

func (t brokerTopics) Names() []string {
	v := t.b.view()
	out := make([]string, 0, len(v.topics))
	for name, tv := range v.topics {
		if !tv.internal {
			out = append(out, name)
		}
	}
	return out
}

// offsetsLog is a local leader replica of __consumer_offsets as the
// coordinator writes and replays it. Writes go through AppendProduce like
// any produce: a plain (non-idempotent) batch, which only the coordinator
// may write to an internal topic.
type offsetsLog struct {
	p       *partition.Partition
	epoch   int32 // the leader epoch this coordinator leads in
	closing <-chan struct{}
}

func (l offsetsLog) Append(batch []byte) (int64, error) {
	res, err := l.p.AppendProduce(batch)
	if err != nil {
		return 0, err
	}
	return res.LastOffset, nil
}

func (l offsetsLog) Committed(offset int64) bool { return l.p.Committed(offset) }

// commitWaitLimit bounds a wait for the high watermark (replication).
const commitWaitLimit = 30 * time.Second

func (l offsetsLog) WaitCommitted(offset int64, stop <-chan struct{}, done func(error)) {
	w := partition.NewWakeup()
	go func() {
		timer := time.NewTimer(commitWaitLimit)
		defer timer.Stop()
		defer l.p.Unpark(w)
		for {
			l.p.Park(w)
			if ok, err := l.p.AckError(l.epoch, offset); ok {
				if errors.Is(err, kerr.NotLeaderForPartition) {
					err = kerr.NotCoordinator // the partition moved: so did the group
				}
				done(err)
				return
			}
			select {
			case <-w.C:
			case <-timer.C:
				done(kerr.RequestTimedOut)
				return
			case <-stop:
				done(kerr.NotCoordinator)
				return
			case <-l.closing:
				done(kerr.NotCoordinator)
				return
			}
		}
	}()
}

func (l offsetsLog) Scan(fn func(batch []byte) error) error {
	return l.p.Log().ScanBatches(l.p.LogStartOffset(), func(_ samsalog.BatchHeader, batch []byte) error {
		return fn(batch)
	})
}

// updateGroupLeadership tells the coordinator which __consumer_offsets
// partitions this node leads (called after every view change).
func (b *Broker) updateGroupLeadership() {
	if b.groups == nil {
		return
	}
	t := b.view().topics[group.OffsetsTopic]
	if t == nil {
		b.groups.coord.SetLeadership(0, nil)
		return
	}
	led := map[int32]group.Leader{}
	for _, pv := range t.partitions {
		if pv.leader == b.nodeID && pv.local != nil {
			led[pv.index] = group.Leader{Epoch: pv.leaderEpoch, Log: offsetsLog{p: pv.local, epoch: pv.leaderEpoch, closing: b.closing}}
		}
	}
	b.groups.coord.SetLeadership(int32(len(t.partitions)), led)
	b.groups.coord.TopicsChanged()
}

// offsetsTopicConfigs are the configs __consumer_offsets is created with,
// as Kafka creates it, plus retention.ms=-1: until the log compacts, time
// retention would delete segments holding the last commit of groups that
// did not commit for a while (Kafka ignores retention.ms on compacted
// topics). Offsets expire through offsets.retention.minutes instead.
var offsetsTopicConfigs = map[string]string{
	"cleanup.policy":   "compact",
	"compression.type": "producer",
	"segment.bytes":    "104857600",
	"retention.ms":     "-1",
}

// offsetsTopic returns the view's __consumer_offsets, creating the topic
// first when it does not exist (offsets.topic.num.partitions partitions,
// replication factor min(3, brokers)).
func (b *Broker) offsetsTopic(ctx context.Context) (*topicView, *kerr.Error) {
	if t := b.view().topics[group.OffsetsTopic]; t != nil {
		return t, nil
	}
	b.groups.createMu.Lock()
	defer b.groups.createMu.Unlock()
	if t := b.view().topics[group.OffsetsTopic]; t != nil {
		return t, nil
	}
	rf := min(b.cfg.OffsetsTopicReplicationFactor, int16(max(1, len(b.view().brokers))))
	ctx, cancel := context.WithTimeout(ctx, autoCreateTimeout)
	defer cancel()
	res, err := b.createTopics(ctx, []kmsg.CreateTopicsRequestTopic{
		topicRequest(group.OffsetsTopic, b.cfg.OffsetsTopicPartitions, rf, offsetsTopicConfigs)})
	if err != nil || (res[0].ErrorCode != 0 && res[0].ErrorCode != kerr.TopicAlreadyExists.Code) {
		b.lg.Warn("creating __consumer_offsets", "err", err, "result", res)
		return nil, kerr.CoordinatorNotAvailable
	}
	b.lg.Info("created __consumer_offsets", "partitions", b.cfg.OffsetsTopicPartitions, "replication_factor", rf)
	b.syncMetadata()
	if t := b.view().topics[group.OffsetsTopic]; t != nil {
		return t, nil
	}
	return nil, kerr.CoordinatorNotAvailable
}

// groupClient describes the connection of a request for the coordinator:
// its client id and its address as Kafka shows it ("/127.0.0.1").
func groupClient(r *wire.Request) group.Client {
	cl := group.Client{}
	if r.ClientID != nil {
		cl.ID = *r.ClientID
	}
	if r.Conn != nil && r.Conn.RemoteAddr != nil {
		host := r.Conn.RemoteAddr.String()
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		cl.Host = "/" + host
	}
	return cl
}

// parked returns a response that start fills through its callback, at once
// or later on a coordinator goroutine.
func parked(start func(done func(kmsg.Response))) *wire.Response {
	out := &wire.Response{}
	ready := make(chan struct{})
	out.Ready = ready
	var once sync.Once
	start(func(msg kmsg.Response) {
		once.Do(func() {
			out.Msg = msg
			close(ready)
		})
	})
	return out
}

// gather runs each(i, done) for i in [0, n) and calls finish once every
// done was called (finish runs on the goroutine of the last done).
func gather(n int, each func(i int, done func()), finish func()) {
	if n == 0 {
		finish()
		return
	}
	var left atomic.Int32
	left.Store(int32(n))
	for i := 0; i < n; i++ {
		each(i, func() {
			if left.Add(-1) == 0 {
				finish()
			}
		})
	}
}

// PartitionLag is a group's position in one partition.
type PartitionLag struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	// Committed is the group's committed offset.
	Committed int64 `json:"committed_offset"`
	// LogEndOffset is the partition's high watermark (what consumers can
	// read), -1 when this node does not lead the partition.
	LogEndOffset int64 `json:"log_end_offset"`
	// Lag is LogEndOffset - Committed (never negative), -1 when unknown.
	Lag int64 `json:"lag"`
}

// GroupLag is one group's committed offsets and lag.
type GroupLag struct {
	Group      string         `json:"group"`
	State      string         `json:"state"`
	Type       string         `json:"type"`
	Partitions []PartitionLag `json:"partitions"`
	// TotalLag sums the known lags.
	TotalLag int64 `json:"total_lag"`
}

// GroupLag reports the lag of every group this node coordinates (for the
// HTTP API and the console): committed offsets against the high watermarks
// of the partitions this node leads.
func (b *Broker) GroupLag(ctx context.Context) ([]GroupLag, error) {
	type listed struct {
		groups []kmsg.ListGroupsResponseGroup
		code   int16
	}
	ch := make(chan listed, 1)
	b.groups.coord.ListGroups(nil, nil, func(gs []kmsg.ListGroupsResponseGroup, code int16) { ch <- listed{gs, code} })
	var l listed
	select {
	case l = <-ch:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if l.code != 0 {
		return nil, kerr.ErrorForCode(l.code)
	}
	out := make([]GroupLag, len(l.groups))
	offsets := make(chan struct{}, len(l.groups))
	for i, g := range l.groups {
		out[i] = GroupLag{Group: g.Group, State: g.GroupState, Type: g.GroupType}
		b.groups.coord.OffsetFetch(group.OffsetFetchRequest{Group: g.Group}, func(rg kmsg.OffsetFetchResponseGroup) {
			out[i].Partitions = b.lagOf(rg)
			offsets <- struct{}{}
		})
	}
	for range l.groups {
		select {
		case <-offsets:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	for i := range out {
		for _, p := range out[i].Partitions {
			if p.Lag > 0 {
				out[i].TotalLag += p.Lag
			}
		}
	}
	return out, nil
}

// lagOf turns a group's committed offsets into lags.
func (b *Broker) lagOf(rg kmsg.OffsetFetchResponseGroup) []PartitionLag {
	view := b.view()
	var out []PartitionLag
	for _, t := range rg.Topics {
		tv := view.topics[t.Topic]
		for _, p := range t.Partitions {
			pl := PartitionLag{Topic: t.Topic, Partition: p.Partition, Committed: p.Offset, LogEndOffset: -1, Lag: -1}
			if tv != nil && p.Partition >= 0 && int(p.Partition) < len(tv.partitions) {
				if local := tv.partitions[p.Partition].local; local != nil && tv.partitions[p.Partition].leader == b.nodeID {
					pl.LogEndOffset = local.HighWatermark()
					pl.Lag = max(0, pl.LogEndOffset-p.Offset)
				}
			}
			out = append(out, pl)
		}
	}
	return out
}
