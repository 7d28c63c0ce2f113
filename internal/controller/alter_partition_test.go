package controller

import (
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

func TestAlterPartition(t *testing.T) {
	// Brokers 1-5; t-0 has replicas [1 2 3 5] led by 1; broker 5 is
	// fenced, so the ISR is [1 2 3]; broker 4 is live but not a replica.
	setup := func(t *testing.T) (*cluster, metadata.TopicID) {
		cl := newCluster(t, 5)
		id := cl.topic("t", []int32{1, 2, 3, 5})
		cl.heartbeat(5, func(r *kmsg.BrokerHeartbeatRequest) { r.WantFence = true })
		cl.wantPart("t", 0, 1, 1, 2, 3)
		return cl, id
	}
	type mod func(cl *cluster, id metadata.TopicID, req *kmsg.AlterPartitionRequest)
	part := func(req *kmsg.AlterPartitionRequest) *kmsg.AlterPartitionRequestTopicPartition {
		return &req.Topics[0].Partitions[0]
	}
	for _, tc := range []struct {
		name    string
		mod     mod
		top     *kerr.Error
		want    *kerr.Error
		wantISR []int32 // after, on success
	}{
		{name: "shrink", wantISR: []int32{1, 2}},
		{name: "same ISR is a no-op", mod: func(_ *cluster, _ metadata.TopicID, r *kmsg.AlterPartitionRequest) {
			part(r).NewISR = []int32{1, 2, 3}
		}, wantISR: []int32{1, 2, 3}},
		{name: "stale broker epoch", mod: func(_ *cluster, _ metadata.TopicID, r *kmsg.AlterPartitionRequest) { r.BrokerEpoch-- },
			top: kerr.StaleBrokerEpoch},
		{name: "unregistered sender", mod: func(_ *cluster, _ metadata.TopicID, r *kmsg.AlterPartitionRequest) { r.BrokerID = 9 },
			top: kerr.StaleBrokerEpoch},
		{name: "not the leader", mod: func(cl *cluster, _ metadata.TopicID, r *kmsg.AlterPartitionRequest) {
			r.BrokerID, r.BrokerEpoch = 2, cl.epoch(2)
			part(r).NewISR = []int32{2, 1}
		}, want: kerr.NotLeaderForPartition},
		{name: "old leader epoch", mod: func(_ *cluster, _ metadata.TopicID, r *kmsg.AlterPartitionRequest) { part(r).LeaderEpoch-- },
			want: kerr.FencedLeaderEpoch},
		{name: "old partition epoch", mod: func(_ *cluster, _ metadata.TopicID, r *kmsg.AlterPartitionRequest) { part(r).PartitionEpoch-- },
			want: kerr.InvalidUpdateVersion},
		{name: "leader left out", mod: func(_ *cluster, _ metadata.TopicID, r *kmsg.AlterPartitionRequest) {
			part(r).NewISR = []int32{2, 3}
		}, want: kerr.InvalidRequest},
		{name: "empty ISR", mod: func(_ *cluster, _ metadata.TopicID, r *kmsg.AlterPartitionRequest) { part(r).NewISR = []int32{} },
			want: kerr.InvalidRequest},
		{name: "member twice", mod: func(_ *cluster, _ metadata.TopicID, r *kmsg.AlterPartitionRequest) {
			part(r).NewISR = []int32{1, 2, 2}
		}, want: kerr.InvalidRequest},
		{name: "not a replica", mod: func(_ *cluster, _ metadata.TopicID, r *kmsg.AlterPartitionRequest) {
			part(r).NewISR = []int32{1, 4}
		}, want: kerr.IneligibleReplica},
		{name: "fenced member", mod: func(_ *cluster, _ metadata.TopicID, r *kmsg.AlterPartitionRequest) {
			part(r).NewISR = []int32{1, 2, 3, 5}
		}, want: kerr.IneligibleReplica},
		{name: "v3 member with another epoch", mod: func(cl *cluster, id metadata.TopicID, r *kmsg.AlterPartitionRequest) {
			r.Version = 3
			r.Topics[0].TopicID = id
			part(r).NewEpochISR = []kmsg.AlterPartitionRequestTopicPartitionNewEpochISR{
				{BrokerID: 1, BrokerEpoch: cl.epoch(1)}, {BrokerID: 2, BrokerEpoch: cl.epoch(2) + 1}}
		}, want: kerr.IneligibleReplica},
		{name: "v3 with epochs", mod: func(cl *cluster, id metadata.TopicID, r *kmsg.AlterPartitionRequest) {
			r.Version = 3
			r.Topics[0].TopicID = id
			part(r).NewEpochISR = []kmsg.AlterPartitionRequestTopicPartitionNewEpochISR{
				{BrokerID: 1, BrokerEpoch: cl.epoch(1)}, {BrokerID: 3, BrokerEpoch: -1}}
		}, wantISR: []int32{1, 3}},
		{name: "v2 unknown topic id", mod: func(_ *cluster, _ metadata.TopicID, r *kmsg.AlterPartitionRequest) {
			r.Version = 2
			r.Topics[0].TopicID = [16]byte{9}
		}, want: kerr.UnknownTopicID},
		{name: "v1 unknown topic", mod: func(_ *cluster, _ metadata.TopicID, r *kmsg.AlterPartitionRequest) { r.Topics[0].Topic = "nope" },
			want: kerr.UnknownTopicOrPartition},
		{name: "unknown partition", mod: func(_ *cluster, _ metadata.TopicID, r *kmsg.AlterPartitionRequest) { part(r).Partition = 3 },
			want: kerr.UnknownTopicOrPartition},
		{name: "not controller", mod: func(cl *cluster, _ metadata.TopicID, _ *kmsg.AlterPartitionRequest) {
			cl.m.leaderErr = metadata.ErrNotController
		}, top: kerr.NotController},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl, id := setup(t)
			before := cl.part("t", 0)
			req := kmsg.NewPtrAlterPartitionRequest()
			req.Version = 1
			req.BrokerID, req.BrokerEpoch = 1, cl.epoch(1)
			rt := kmsg.NewAlterPartitionRequestTopic()
			rt.Topic = "t"
			rp := kmsg.NewAlterPartitionRequestTopicPartition()
			rp.Partition, rp.LeaderEpoch, rp.PartitionEpoch, rp.NewISR = 0, before.LeaderEpoch, before.PartitionEpoch, []int32{1, 2}
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			if tc.mod != nil {
				tc.mod(cl, id, req)
			}
			proposals := cl.m.proposals
			resp := cl.c.AlterPartition(ctx(), req)
			cl.m.leaderErr = nil
			if got := codeErr(resp.ErrorCode); got != tc.top {
				t.Fatalf("top-level %v, want %v", got, tc.top)
			}
			after := cl.part("t", 0)
			if tc.top != nil {
				if cl.m.proposals != proposals {
					t.Fatal("a refused request proposed something")
				}
				return
			}
			op := resp.Topics[0].Partitions[0]
			if got := codeErr(op.ErrorCode); got != tc.want {
				t.Fatalf("partition error %v, want %v", got, tc.want)
			}
			if tc.want != nil {
				if after.PartitionEpoch != before.PartitionEpoch {
					t.Fatal("a refused change changed the partition")
				}
				return
			}
			if !slices.Equal(after.ISR, tc.wantISR) || !slices.Equal(op.ISR, tc.wantISR) {
				t.Fatalf("ISR %v (answered %v), want %v", after.ISR, op.ISR, tc.wantISR)
			}
			if op.LeaderID != after.Leader || op.LeaderEpoch != after.LeaderEpoch || op.PartitionEpoch != after.PartitionEpoch {
				t.Fatalf("answer %+v does not match %+v", op, after)
			}
			if slices.Equal(tc.wantISR, before.ISR) != (cl.m.proposals == proposals) {
				t.Fatalf("%d proposals for ISR %v -> %v", cl.m.proposals-proposals, before.ISR, after.ISR)
			}
			if req.Version >= 2 && resp.Topics[0].TopidID != id {
				t.Fatal("topic id not echoed")
			}
		})
	}
}
