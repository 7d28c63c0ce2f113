package controller

import (
	"context"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

// Reassignment follows Kafka's KIP-455 scheme. With original replicas C
// (the replicas minus those being added) and a target T:
//
//	Replicas = T followed by C−T, Adding = T−C, Removing = C−T, ISR kept
//
// The partition's leader makes the added replicas followers; once every
// one of them is in the ISR (an AlterPartition from the leader, or Run's
// check) the reassignment completes in one change: Replicas = T,
// ISR = ISR∩T, Adding and Removing cleared, and if the leader is being
// removed the first live ISR member of T takes over. A new target for a
// partition already being reassigned starts again from C; a nil target
// cancels: Replicas = C, ISR = ISR∩C. As in Kafka, C is the replica list
// minus Adding in its current order (target first), so a cancelled
// reassignment may leave another preferred leader than before.

// reassign returns p's next state for the target replicas (nil cancels).
func reassign(p metadata.PartitionAssignment, target []int32, live liveFunc) (metadata.PartitionAssignment, *kerr.Error, string) {
	orig := keep(p.Replicas, func(id int32) bool { return !slices.Contains(p.Adding, id) })
	next := p
	if target == nil {
		if !p.Reassigning() {
			return p, kerr.NoReassignmentInProgress, "No reassignment is in progress for this partition."
		}
		next.Replicas, next.Adding, next.Removing = orig, nil, nil
	} else {
		replicas := slices.Clone(target)
		for _, r := range orig {
			if !slices.Contains(target, r) {
				replicas = append(replicas, r)
			}
		}
		next.Replicas = replicas
		next.Adding = keep(target, func(id int32) bool { return !slices.Contains(orig, id) })
		next.Removing = keep(orig, func(id int32) bool { return !slices.Contains(target, id) })
	}
	next.ISR = keep(p.ISR, func(id int32) bool { return slices.Contains(next.Replicas, id) })
	if len(next.ISR) == 0 {
		return p, kerr.InvalidReplicaAssignment, fmt.Sprintf(
			"None of the in-sync replicas %v would remain among the replicas %v.", p.ISR, next.Replicas)
	}
	if next.Leader != metadata.NoLeader && !slices.Contains(next.ISR, next.Leader) {
		next.Leader = firstEligible(next.Replicas, next.ISR, live)
	}
	if len(next.Adding) == 0 && len(next.Removing) == 0 {
		next.Adding, next.Removing = nil, nil
	}
	if done, ok := completeReassignment(next, live); ok {
		next = done
	}
	return next, nil, ""
}

// AlterPartitionReassignments starts or cancels (nil Replicas)
// reassignments (Kafka's AlterPartitionReassignments, API 45). Per
// partition: UNKNOWN_TOPIC_OR_PARTITION, INVALID_REPLICA_ASSIGNMENT (an
// empty target, a broker listed twice or not registered, or no in-sync
// replica left), INVALID_REPLICATION_FACTOR (v1 with
// AllowReplicationFactorChange false and another replica count),
// NO_REASSIGNMENT_IN_PROGRESS (cancel of none), INVALID_REQUEST (a
// partition listed twice); NOT_CONTROLLER and REQUEST_TIMED_OUT are also
// set at the top level. All accepted partitions change in one Raft entry.
func (c *Controller) AlterPartitionReassignments(ctx context.Context, req *kmsg.AlterPartitionAssignmentsRequest) *kmsg.AlterPartitionAssignmentsResponse {
	resp := req.ResponseKind().(*kmsg.AlterPartitionAssignmentsResponse)
	resp.AllowReplicationFactorChange = req.AllowReplicationFactorChange || req.Version < 1
	type pos struct{ topic, part int }
	var all, ok []pos
	for i, rt := range req.Topics {
		ot := kmsg.NewAlterPartitionAssignmentsResponseTopic()
		ot.Topic = rt.Topic
		for j, rp := range rt.Partitions {
			op := kmsg.NewAlterPartitionAssignmentsResponseTopicPartition()
			op.Partition = rp.Partition
			ot.Partitions = append(ot.Partitions, op)
			all = append(all, pos{i, j})
		}
		resp.Topics = append(resp.Topics, ot)
	}
	set := func(at pos, code *kerr.Error, msg string) {
		op := &resp.Topics[at.topic].Partitions[at.part]
		op.ErrorCode = code.Code
		if msg != "" {
			op.ErrorMessage = &msg
		}
	}
	failAll := func(code *kerr.Error, msg string) *kmsg.AlterPartitionAssignmentsResponse {
		resp.ErrorCode = code.Code
		if msg != "" {
			resp.ErrorMessage = &msg
		}
		for _, at := range all {
			set(at, code, msg)
		}
		return resp
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	img, err := c.leaderImage(ctx)
	if err != nil {
		return failAll(kafkaError(err))
	}
	pl := newPlan(img, c.uncleanFunc(img))
	seen := map[partKey]bool{}
	for _, at := range all {
		rt := &req.Topics[at.topic]
		rp := &rt.Partitions[at.part]
		t, found := img.Topic(rt.Topic)
		if !found || rp.Partition < 0 || int(rp.Partition) >= len(t.Partitions) {
			set(at, kerr.UnknownTopicOrPartition, "The partition does not exist.")
			continue
		}
		if seen[partKey{t.ID, rp.Partition}] {
			set(at, kerr.InvalidRequest, "The partition is listed more than once.")
			continue
		}
		seen[partKey{t.ID, rp.Partition}] = true
		cur := t.Partitions[rp.Partition]
		if rp.Replicas != nil {
			if len(rp.Replicas) > metadata.MaxReplicationFactor {
				set(at, kerr.InvalidReplicaAssignment, fmt.Sprintf("More than %d replicas.", metadata.MaxReplicationFactor))
				continue
			}
			if terr := validateManualReplicas(img, rp.Replicas, 0); terr != nil {
				set(at, terr.code, terr.msg)
				continue
			}
			if orig := len(cur.Replicas) - len(cur.Adding); !resp.AllowReplicationFactorChange && len(rp.Replicas) != orig {
				set(at, kerr.InvalidReplicationFactor, fmt.Sprintf(
					"The replication factor is changed from %d to %d but option allowReplicationFactorChange is disabled.", orig, len(rp.Replicas)))
				continue
			}
		}
		next, code, msg := reassign(cur, rp.Replicas, img.IsLive)
		if code != nil {
			set(at, code, msg)
			continue
		}
		pl.set(t, next)
		ok = append(ok, at)
	}
	changes := pl.records()
	if len(changes) == 0 {
		return resp
	}
	if _, err := c.proposeChanges(ctx, img, nil, changes, nil); err != nil {
		code, msg := kafkaError(err)
		for _, at := range ok {
			set(at, code, msg)
		}
		return resp
	}
	c.lg.Info("partition reassignments changed", "partitions", len(changes))
	return resp
}

// ListPartitionReassignments lists the reassignments in progress (Kafka's
// ListPartitionReassignments, API 46): every one when Topics is nil,
// otherwise those of the named partitions (unknown topics and partitions
// not being reassigned are left out, as Kafka does). Replicas is the full
// current replica list.
func (c *Controller) ListPartitionReassignments(ctx context.Context, req *kmsg.ListPartitionReassignmentsRequest) *kmsg.ListPartitionReassignmentsResponse {
	resp := req.ResponseKind().(*kmsg.ListPartitionReassignmentsResponse)
	img, err := c.leaderImage(ctx)
	if err != nil {
		code, msg := kafkaError(err)
		resp.ErrorCode = code.Code
		if msg != "" {
			resp.ErrorMessage = &msg
		}
		return resp
	}
	list := func(t *metadata.Topic, parts []int32) {
		ot := kmsg.NewListPartitionReassignmentsResponseTopic()
		ot.Topic = t.Name
		for _, p := range parts {
			pa, ok := t.Partition(p)
			if !ok || !pa.Reassigning() {
				continue
			}
			op := kmsg.NewListPartitionReassignmentsResponseTopicPartition()
			op.Partition = p
			op.Replicas = slices.Clone(pa.Replicas)
			op.AddingReplicas = append([]int32{}, pa.Adding...)
			op.RemovingReplicas = append([]int32{}, pa.Removing...)
			ot.Partitions = append(ot.Partitions, op)
		}
		if len(ot.Partitions) > 0 {
			resp.Topics = append(resp.Topics, ot)
		}
	}
	if req.Topics == nil {
		for _, t := range img.Topics() {
			parts := make([]int32, len(t.Partitions))
			for i := range parts {
				parts[i] = int32(i)
			}
			list(t, parts)
		}
		return resp
	}
	for _, rt := range req.Topics {
		if t, ok := img.Topic(rt.Topic); ok {
			list(t, rt.Partitions)
		}
	}
	return resp
}
