package controller

import (
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

// reassignReq builds an AlterPartitionReassignments request for topic
// "t"; a nil replica list cancels.
func reassignReq(parts map[int32][]int32) *kmsg.AlterPartitionAssignmentsRequest {
	req := kmsg.NewPtrAlterPartitionAssignmentsRequest()
	rt := kmsg.NewAlterPartitionAssignmentsRequestTopic()
	rt.Topic = "t"
	for p, r := range parts {
		rp := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
		rp.Partition, rp.Replicas = p, r
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	return req
}

func (cl *cluster) reassign(p int32, replicas []int32) *kerr.Error {
	cl.t.Helper()
	resp := cl.c.AlterPartitionReassignments(ctx(), reassignReq(map[int32][]int32{p: replicas}))
	if resp.ErrorCode != 0 {
		return codeErr(resp.ErrorCode)
	}
	return codeErr(resp.Topics[0].Partitions[0].ErrorCode)
}

func (cl *cluster) listReassignments() map[int32][3][]int32 {
	cl.t.Helper()
	resp := cl.c.ListPartitionReassignments(ctx(), kmsg.NewPtrListPartitionReassignmentsRequest())
	if resp.ErrorCode != 0 {
		cl.t.Fatalf("list: %v", codeErr(resp.ErrorCode))
	}
	out := map[int32][3][]int32{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			out[p.Partition] = [3][]int32{p.Replicas, p.AddingReplicas, p.RemovingReplicas}
		}
	}
	return out
}

func wantAssignment(t *testing.T, got metadata.PartitionAssignment, replicas, adding, removing []int32) {
	t.Helper()
	if !slices.Equal(got.Replicas, replicas) || !slices.Equal(got.Adding, adding) || !slices.Equal(got.Removing, removing) {
		t.Fatalf("replicas %v adding %v removing %v, want %v %v %v", got.Replicas, got.Adding, got.Removing, replicas, adding, removing)
	}
}

func TestReassignmentStartCompleteCancel(t *testing.T) {
	cl := newCluster(t, 5)
	cl.topic("t", []int32{1, 2, 3}, []int32{1, 2, 3})

	// Move t-0 from [1 2 3] to [4 5 2]: the leader 1 is being removed.
	if err := cl.reassign(0, []int32{4, 5, 2}); err != nil {
		t.Fatal(err)
	}
	p := cl.part("t", 0)
	wantAssignment(t, p, []int32{4, 5, 2, 1, 3}, []int32{4, 5}, []int32{1, 3})
	cl.wantPart("t", 0, 1, 1, 2, 3)
	if got := cl.listReassignments(); len(got) != 1 || !slices.Equal(got[0][1], []int32{4, 5}) {
		t.Fatalf("list: %v", got)
	}
	// 4 catches up: not complete yet.
	if err := cl.alterISR("t", 0, 1, 2, 3, 4); err != nil {
		t.Fatal(err)
	}
	wantAssignment(t, cl.part("t", 0), []int32{4, 5, 2, 1, 3}, []int32{4, 5}, []int32{1, 3})
	// 5 catches up: complete in the same change; 4 leads (first of the
	// target in the ISR), the removed replicas leave.
	if err := cl.alterISR("t", 0, 1, 2, 3, 4, 5); err != nil {
		t.Fatal(err)
	}
	wantAssignment(t, cl.part("t", 0), []int32{4, 5, 2}, nil, nil)
	cl.wantPart("t", 0, 4, 2, 4, 5)
	if got := cl.listReassignments(); len(got) != 0 {
		t.Fatalf("list after completion: %v", got)
	}

	// t-1: start, then cancel: back to the original replicas.
	if err := cl.reassign(1, []int32{3, 4}); err != nil {
		t.Fatal(err)
	}
	wantAssignment(t, cl.part("t", 1), []int32{3, 4, 1, 2}, []int32{4}, []int32{1, 2})
	if err := cl.alterISR("t", 1, 1, 2, 3); err != nil { // unchanged ISR: no-op
		t.Fatal(err)
	}
	if err := cl.reassign(1, nil); err != nil {
		t.Fatal(err)
	}
	// As in Kafka, the original replicas keep their order in the
	// reassigned list (target first), so the preferred leader may change.
	wantAssignment(t, cl.part("t", 1), []int32{3, 1, 2}, nil, nil)
	cl.wantPart("t", 1, 1, 1, 2, 3)
	if err := cl.reassign(1, nil); err != kerr.NoReassignmentInProgress {
		t.Fatalf("second cancel: %v", err)
	}

	// A reorder needs no data movement and completes at once.
	if err := cl.reassign(1, []int32{3, 2, 1}); err != nil {
		t.Fatal(err)
	}
	wantAssignment(t, cl.part("t", 1), []int32{3, 2, 1}, nil, nil)
	cl.wantPart("t", 1, 1, 1, 2, 3)

	// Shrinking the replica set (only removals) completes at once too.
	if err := cl.reassign(1, []int32{3, 2}); err != nil {
		t.Fatal(err)
	}
	wantAssignment(t, cl.part("t", 1), []int32{3, 2}, nil, nil)
	cl.wantPart("t", 1, 3, 2, 3)
}

func TestReassignmentRetarget(t *testing.T) {
	cl := newCluster(t, 5)
	cl.topic("t", []int32{1, 2})
	if err := cl.reassign(0, []int32{3, 4}); err != nil {
		t.Fatal(err)
	}
	if err := cl.alterISR("t", 0, 1, 2, 3); err != nil {
		t.Fatal(err)
	}
	// A new target starts from the original replicas [1 2]; 3 stays in
	// the ISR because it is still a replica, 4 is no longer added.
	if err := cl.reassign(0, []int32{3, 5, 1}); err != nil {
		t.Fatal(err)
	}
	wantAssignment(t, cl.part("t", 0), []int32{3, 5, 1, 2}, []int32{3, 5}, []int32{2})
	cl.wantPart("t", 0, 1, 1, 2, 3)
}

func TestReassignmentCompletedByTick(t *testing.T) {
	cl := newCluster(t, 3)
	cl.topic("t", []int32{1})
	if err := cl.reassign(0, []int32{2}); err != nil {
		t.Fatal(err)
	}
	// The ISR grew through some path that did not complete it (e.g. the
	// record written by an older controller): the tick completes it.
	p := cl.part("t", 0)
	cl.m.apply(t, metadata.ChangePartition{TopicID: cl.img().Topics()[0].ID, Partition: 0, Leader: metadata.NoLeaderChange,
		ISR: []int32{1, 2}, PartitionEpoch: p.PartitionEpoch})
	cl.c.tick(ctx())
	wantAssignment(t, cl.part("t", 0), []int32{2}, nil, nil)
	cl.wantPart("t", 0, 2, 2)
}

func TestReassignmentValidation(t *testing.T) {
	for _, tc := range []struct {
		name     string
		req      *kmsg.AlterPartitionAssignmentsRequest
		want     *kerr.Error
		notTopic bool
	}{
		{name: "empty", req: reassignReq(map[int32][]int32{0: {}}), want: kerr.InvalidReplicaAssignment},
		{name: "duplicate broker", req: reassignReq(map[int32][]int32{0: {2, 2}}), want: kerr.InvalidReplicaAssignment},
		{name: "unregistered broker", req: reassignReq(map[int32][]int32{0: {2, 9}}), want: kerr.InvalidReplicaAssignment},
		{name: "unknown partition", req: reassignReq(map[int32][]int32{5: {2}}), want: kerr.UnknownTopicOrPartition},
		{name: "unknown topic", req: func() *kmsg.AlterPartitionAssignmentsRequest {
			r := reassignReq(map[int32][]int32{0: {2}})
			r.Topics[0].Topic = "nope"
			return r
		}(), want: kerr.UnknownTopicOrPartition},
		{name: "cancel of none", req: reassignReq(map[int32][]int32{0: nil}), want: kerr.NoReassignmentInProgress},
		{name: "rf change refused", req: func() *kmsg.AlterPartitionAssignmentsRequest {
			r := reassignReq(map[int32][]int32{0: {1, 2, 3}})
			r.Version, r.AllowReplicationFactorChange = 1, false
			return r
		}(), want: kerr.InvalidReplicationFactor},
		{name: "rf change allowed", req: func() *kmsg.AlterPartitionAssignmentsRequest {
			r := reassignReq(map[int32][]int32{0: {1, 2, 3}})
			r.Version, r.AllowReplicationFactorChange = 1, true
			return r
		}()},
		{name: "partition twice", req: func() *kmsg.AlterPartitionAssignmentsRequest {
			r := reassignReq(map[int32][]int32{0: {2, 1}})
			r.Topics[0].Partitions = append(r.Topics[0].Partitions, r.Topics[0].Partitions[0])
			return r
		}(), want: kerr.InvalidRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := newCluster(t, 3)
			cl.topic("t", []int32{1, 2})
			before := cl.part("t", 0)
			resp := cl.c.AlterPartitionReassignments(ctx(), tc.req)
			parts := resp.Topics[0].Partitions
			got := codeErr(parts[len(parts)-1].ErrorCode)
			if got != tc.want {
				t.Fatalf("error %v, want %v", got, tc.want)
			}
			if tc.want != nil && tc.want != kerr.InvalidRequest && cl.part("t", 0).PartitionEpoch != before.PartitionEpoch {
				t.Fatal("a refused reassignment changed the partition")
			}
		})
	}
	cl := newCluster(t, 3)
	cl.topic("t", []int32{1, 2})
	cl.m.leaderErr = metadata.ErrNotController
	resp := cl.c.AlterPartitionReassignments(ctx(), reassignReq(map[int32][]int32{0: {2}}))
	if resp.ErrorCode != kerr.NotController.Code || resp.Topics[0].Partitions[0].ErrorCode != kerr.NotController.Code {
		t.Fatalf("not controller: %+v", resp)
	}
	if r := cl.c.ListPartitionReassignments(ctx(), kmsg.NewPtrListPartitionReassignmentsRequest()); r.ErrorCode != kerr.NotController.Code {
		t.Fatalf("list not controller: %v", codeErr(r.ErrorCode))
	}
	cl.m.leaderErr = nil
}
