package group

// Loading a shard: replay its __consumer_offsets partition from the log
// start. Later records win; tombstones delete. Groups come back Stable with
// their members (who must heartbeat within their session timeout) or Empty.

import (
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

type loadResult struct {
	groups  map[string]*loadedGroup
	records int64
	skipped int64 // records that could not be decoded
	took    time.Duration
	err     error
}

// loadedGroup is what the log says about one group.
type loadedGroup struct {
	offsets map[topicPartition]OffsetCommit
	meta    *kmsg.GroupMetadataValue // nil: none, or deleted
}

// loader replays batches. It copies every string it keeps: batches are
// only valid during the scan callback.
type loader struct {
	groups  map[string]*loadedGroup
	topics  map[string]string // interned topic names
	scratch []byte
	records int64
	skipped int64
}

func newLoader() *loader {
	return &loader{groups: map[string]*loadedGroup{}, topics: map[string]string{}}
}

// load replays the shard's partition (on the loader goroutine).
func (s *shard) load() loadResult {
	start := time.Now()
	l := newLoader()
	err := s.log.Scan(func(batch []byte) error {
		select {
		case <-s.stop:
			return errStopped
		default:
		}
		return l.batch(batch)
	})
	return loadResult{groups: l.groups, records: l.records, skipped: l.skipped, took: time.Since(start), err: err}
}

// batch applies every record of one stored batch. Records that cannot be
// decoded (written by a foreign tool, or by a newer Kafka) are counted and
// skipped rather than making the whole partition unloadable.
func (l *loader) batch(batch []byte) error {
	err := forEachRecord(batch, &l.scratch, func(key, value []byte) error {
		l.records++
		if err := l.record(key, value); err != nil {
			l.skipped++
		}
		return nil
	})
	if err != nil {
		l.skipped++
	}
	return nil
}

// record applies one record.
func (l *loader) record(key, value []byte) error {
	switch kindOf(key) {
	case kindOffset:
		var k kmsg.OffsetCommitKey
		if err := k.UnsafeReadFrom(key); err != nil {
			return fmt.Errorf("%w: offset key: %v", errBadRecord, err)
		}
		g := l.groupFor(k.Group)
		topic, ok := l.topics[k.Topic]
		if !ok {
			topic = strings.Clone(k.Topic)
			l.topics[topic] = topic
		}
		tp := topicPartition{topic, k.Partition}
		if value == nil {
			delete(g.offsets, tp)
			return nil
		}
		var v kmsg.OffsetCommitValue
		if err := v.UnsafeReadFrom(value); err != nil {
			return fmt.Errorf("%w: offset value: %v", errBadRecord, err)
		}
		oc := OffsetCommit{Offset: v.Offset, LeaderEpoch: -1, CommitTimestamp: v.CommitTimestamp, ExpireTimestamp: -1}
		if v.Version >= 3 {
			oc.LeaderEpoch = v.LeaderEpoch
		}
		if v.Version == 1 {
			oc.ExpireTimestamp = v.ExpireTimestamp
		}
		if v.Metadata != "" {
			oc.Metadata = strings.Clone(v.Metadata)
		}
		g.offsets[tp] = oc
	case kindGroup:
		var k kmsg.GroupMetadataKey
		if err := k.UnsafeReadFrom(key); err != nil {
			return fmt.Errorf("%w: group key: %v", errBadRecord, err)
		}
		g := l.groupFor(k.Group)
		if value == nil {
			g.meta = nil
			return nil
		}
		v := new(kmsg.GroupMetadataValue)
		if err := v.ReadFrom(value); err != nil {
			return fmt.Errorf("%w: group value: %v", errBadRecord, err)
		}
		g.meta = v
	}
	return nil
}

// groupFor returns the loaded group named by a string that may alias the
// batch.
func (l *loader) groupFor(id string) *loadedGroup {
	if g, ok := l.groups[id]; ok {
		return g
	}
	g := &loadedGroup{offsets: map[topicPartition]OffsetCommit{}}
	l.groups[strings.Clone(id)] = g
	return g
}

// finishLoad installs the loaded groups and starts serving requests. A
// failed load (res.err) changes nothing: run retries it.
func (s *shard) finishLoad(res loadResult) {
	lg := s.c.cfg.Logger
	if res.err != nil {
		return
	}
	if res.skipped > 0 {
		lg.Warn("group: skipped undecodable __consumer_offsets records", "partition", s.partition, "records", res.skipped)
	}
	now := s.now()
	for id, l := range res.groups {
		if len(l.offsets) == 0 && l.meta == nil {
			continue
		}
		g := newGroup(id, &s.c.cfg, now)
		g.offsets = l.offsets
		if l.meta != nil {
			g.restore(l.meta, now)
		}
		s.groups[id] = g
		s.schedule(g)
	}
	s.active = true
	lg.Info("group: loaded coordinator state", "partition", s.partition, "groups", len(s.groups),
		"records", res.records, "took", res.took)
}

// restore rebuilds a classic group from its last GroupMetadata record.
func (g *Group) restore(v *kmsg.GroupMetadataValue, now time.Time) {
	g.protocolType = v.ProtocolType
	g.generation = v.Generation
	if v.Protocol != nil {
		g.protocol = *v.Protocol
	}
	if v.Leader != nil {
		g.leader = *v.Leader
	}
	if v.CurrentStateTimestamp > 0 {
		g.stateSince = time.UnixMilli(v.CurrentStateTimestamp)
	}
	if len(v.Members) == 0 || g.protocol == "" {
		g.state = StateEmpty
		g.leader = ""
		return
	}
	for _, vm := range v.Members {
		g.nextSeq++
		m := &member{
			id: vm.MemberID, clientID: vm.ClientID, clientHost: vm.ClientHost, seq: g.nextSeq,
			sessionTimeout:   time.Duration(vm.SessionTimeoutMillis) * time.Millisecond,
			rebalanceTimeout: time.Duration(vm.RebalanceTimeoutMillis) * time.Millisecond,
			protocolType:     v.ProtocolType,
			protocols:        []protocol{{name: g.protocol, metadata: vm.Subscription}},
			assignment:       vm.Assignment,
		}
		if m.rebalanceTimeout <= 0 {
			m.rebalanceTimeout = m.sessionTimeout
		}
		m.expires = now.Add(m.sessionTimeout)
		if vm.InstanceID != nil {
			m.instanceID = *vm.InstanceID
			g.static[m.instanceID] = m.id
		}
		g.members[m.id] = m
	}
	if g.members[g.leader] == nil {
		g.leader = g.sortedMembers()[0].id
	}
	g.state = StateStable
}
