package group

import (
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// commit sends an OffsetCommit v8 and returns the per-partition codes in
// request order.
func (h *harness) commit(member string, gen int32, topic string, offsets map[int32]int64, metadata string) []int16 {
	h.t.Helper()
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Version, req.Group, req.MemberID, req.Generation = 8, "g", member, gen
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = topic
	for p := int32(0); p < 8; p++ {
		o, ok := offsets[p]
		if !ok {
			continue
		}
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset, rp.LeaderEpoch = p, o, 3
		rp.Metadata = &metadata
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	id := h.id()
	h.apply(h.g.CommitOffsets(h.now, req, id))
	r, ok := h.replies[id]
	if !ok {
		return nil
	}
	var codes []int16
	for _, p := range r.(*kmsg.OffsetCommitResponse).Topics[0].Partitions {
		codes = append(codes, p.ErrorCode)
	}
	return codes
}

func (h *harness) committed(topic string, p int32) int64 {
	if oc, ok := h.g.Committed(topic, p); ok {
		return oc.Offset
	}
	return -1
}

func TestCommitBySimpleConsumerOnEmptyGroup(t *testing.T) {
	h := newHarness(t, nil)
	codes := h.commit("", -1, "t", map[int32]int64{0: 10, 1: 20}, "md")
	if len(codes) != 2 || codes[0] != 0 || codes[1] != 0 {
		t.Fatalf("codes %v", codes)
	}
	if h.committed("t", 0) != 10 || h.committed("t", 1) != 20 {
		t.Fatal("offsets not applied")
	}
	if got := h.commit("", -1, "nope", map[int32]int64{0: 1}, ""); got[0] != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("unknown topic: %v", got)
	}
	if got := h.commit("", -1, "t", map[int32]int64{7: 1}, ""); got[0] != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("unknown partition: %v", got)
	}
	if got := h.commit("", -1, "t", map[int32]int64{0: 1}, strings.Repeat("x", 4097)); got[0] != kerr.OffsetMetadataTooLarge.Code {
		t.Fatalf("large metadata: %v", got)
	}
}

func TestCommitValidation(t *testing.T) {
	h := newHarness(t, nil)
	ids := h.stable(2)
	gen := h.g.generation
	one := map[int32]int64{0: 5}
	for _, tc := range []struct {
		name   string
		member string
		gen    int32
		want   *kerr.Error
	}{
		{"member of the generation", ids[1], gen, nil},
		{"old generation", ids[1], gen - 1, kerr.IllegalGeneration},
		{"unknown member", "ghost", gen, kerr.UnknownMemberID},
		{"simple consumer on active group", "", -1, kerr.UnknownMemberID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.t = t
			h.code(h.commit(tc.member, tc.gen, "t", one, "")[0], tc.want)
		})
	}
	h.t = t
	// Commits stay allowed while rebalancing (cooperative consumers
	// commit on revoke), but not between join and sync.
	h.join(joinOpts{member: ids[0], metadata: "new"})
	h.state(StatePreparingRebalance)
	h.code(h.commit(ids[1], gen, "t", one, "")[0], nil)
	h.join(joinOpts{member: ids[1], metadata: "new"})
	h.state(StateCompletingRebalance)
	h.code(h.commit(ids[1], gen+1, "t", one, "")[0], kerr.RebalanceInProgress)
}

func TestFetchOffsetsAndRequireStable(t *testing.T) {
	h := newHarness(t, nil)
	h.commit("", -1, "t", map[int32]int64{0: 10, 2: 30}, "m")
	h.commit("", -1, "u", map[int32]int64{1: 7}, "")
	all := h.g.FetchOffsets(nil, false)
	if len(all) != 2 || all[0].Topic != "t" || len(all[0].Partitions) != 2 || all[1].Partitions[0].Offset != 7 {
		t.Fatalf("all offsets %+v", all)
	}
	if md := all[0].Partitions[0].Metadata; md == nil || *md != "m" || all[0].Partitions[0].LeaderEpoch != 3 {
		t.Fatalf("partition 0: %+v", all[0].Partitions[0])
	}
	some := h.g.FetchOffsets([]FetchTopic{{Topic: "t", Partitions: []int32{1, 2}}}, false)
	if some[0].Partitions[0].Offset != -1 || some[0].Partitions[1].Offset != 30 {
		t.Fatalf("t[1,2]: %+v", some)
	}
	h.hold = true
	h.commit("", -1, "t", map[int32]int64{1: 11}, "")
	st := h.g.FetchOffsets([]FetchTopic{{Topic: "t", Partitions: []int32{0, 1}}}, true)
	if st[0].Partitions[0].ErrorCode != 0 || st[0].Partitions[1].ErrorCode != kerr.UnstableOffsetCommit.Code {
		t.Fatalf("require stable: %+v", st)
	}
	h.release(nil)
	if h.committed("t", 1) != 11 {
		t.Fatal("held commit not applied once written")
	}
	h.hold = true
	codes := h.commit("", -1, "t", map[int32]int64{1: 12}, "")
	if codes != nil {
		t.Fatal("commit answered before its write completed")
	}
	h.release(kerr.MessageTooLarge)
	if h.committed("t", 1) != 11 {
		t.Fatal("a failed write changed the committed offset")
	}
}

func TestOffsetDelete(t *testing.T) {
	h := newHarness(t, nil)
	ids := h.stable(1)
	h.commit(ids[0], h.g.generation, "t", map[int32]int64{0: 1}, "")
	h.commit(ids[0], h.g.generation, "u", map[int32]int64{0: 1}, "")
	// Members subscribe to "t" (classic consumer metadata).
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Topics = []string{"t"}
	h.g.members[ids[0]].protocols[0].metadata = meta.AppendTo(nil)

	req := kmsg.NewPtrOffsetDeleteRequest()
	req.Group = "g"
	req.Topics = []kmsg.OffsetDeleteRequestTopic{
		{Topic: "t", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}},
		{Topic: "u", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}},
	}
	id := h.id()
	h.apply(h.g.DeleteOffsets(h.now, req, id))
	resp := h.replies[id].(*kmsg.OffsetDeleteResponse)
	h.code(resp.Topics[0].Partitions[0].ErrorCode, kerr.GroupSubscribedToTopic)
	h.code(resp.Topics[1].Partitions[0].ErrorCode, nil)
	if h.committed("u", 0) != -1 || h.committed("t", 0) != 1 {
		t.Fatal("wrong offsets deleted")
	}
	last := h.written[len(h.written)-1]
	if last.Value != nil || kindOf(last.Key) != kindOffset {
		t.Fatalf("last record %+v, want an offset tombstone", last)
	}
}

func TestOffsetRetention(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.OffsetsRetention = time.Hour })
	ids := h.stable(1)
	h.commit(ids[0], h.g.generation, "t", map[int32]int64{0: 1}, "")
	h.advance(2 * time.Hour) // the member expires; the group is empty since then
	h.state(StateEmpty)
	if recs := h.g.expireOffsets(h.now); len(recs) != 0 {
		t.Fatalf("expired %d offsets right after the group emptied", len(recs))
	}
	h.now = h.now.Add(time.Hour)
	if recs := h.g.expireOffsets(h.now); len(recs) != 1 || recs[0].Value != nil {
		t.Fatalf("expired %v, want one tombstone an hour after emptying", recs)
	}

	// A standalone group expires by commit time; explicit retention (v2-4)
	// wins.
	s := newHarness(t, func(c *Config) { c.OffsetsRetention = time.Hour })
	s.commit("", -1, "t", map[int32]int64{0: 1}, "")
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Version, req.Group, req.Generation, req.RetentionTimeMillis = 2, "g", -1, 10*60*1000
	req.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 1, Offset: 9}}}}
	s.apply(s.g.CommitOffsets(s.now, req, s.id()))
	s.now = s.now.Add(11 * time.Minute)
	if recs := s.g.expireOffsets(s.now); len(recs) != 1 || s.committed("t", 1) != -1 || s.committed("t", 0) != 1 {
		t.Fatalf("after 11 min: %d expired", len(recs))
	}
	s.now = s.now.Add(time.Hour)
	if recs := s.g.expireOffsets(s.now); len(recs) != 1 {
		t.Fatalf("after an hour: %d expired", len(recs))
	}
}

func TestDeleteGroupRules(t *testing.T) {
	h := newHarness(t, nil)
	h.stable(1)
	if e := h.g.deletable(); e != kerr.NonEmptyGroup {
		t.Fatalf("deletable with a member: %v", e)
	}
	e := newHarness(t, nil)
	e.commit("", -1, "t", map[int32]int64{0: 1, 1: 2}, "")
	if err := e.g.deletable(); err != nil {
		t.Fatal(err)
	}
	recs := e.g.tombstones(e.now)
	if len(recs) != 3 || kindOf(recs[2].Key) != kindGroup || e.g.state != StateDead {
		t.Fatalf("tombstones %d, state %s", len(recs), e.g.state)
	}
	if e.g.deletable() != kerr.GroupIDNotFound {
		t.Fatal("a dead group is deletable again")
	}
}
