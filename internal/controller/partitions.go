package controller

import (
	"context"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

// PartitionsSpec is one topic of a CreatePartitions request.
type PartitionsSpec struct {
	Topic string
	// Count is the new total number of partitions.
	Count int32
	// Assignments, if not nil, gives the replicas of each new partition
	// (Count minus the current count of them).
	Assignments [][]int32
}

// CreatePartitionsResult is the outcome for one PartitionsSpec.
type CreatePartitionsResult struct {
	Topic      string
	Err        *kerr.Error
	ErrMessage string
}

// CreatePartitions grows topics to the requested partition counts, with
// Kafka's checks: INVALID_REQUEST for a topic named twice,
// UNKNOWN_TOPIC_OR_PARTITION, INVALID_PARTITIONS when the count is not an
// increase or exceeds the limits, INVALID_REPLICA_ASSIGNMENT for bad manual
// assignments, INVALID_REPLICATION_FACTOR when the topic's replication
// factor exceeds the live brokers. New partitions get the topic's
// replication factor. All accepted topics grow in one Raft entry.
func (c *Controller) CreatePartitions(ctx context.Context, specs []PartitionsSpec, validateOnly bool) []CreatePartitionsResult {
	results := make([]CreatePartitionsResult, len(specs))
	for i, s := range specs {
		results[i].Topic = s.Topic
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	img, err := c.leaderImage(ctx)
	if err != nil {
		code, msg := kafkaError(err)
		for i := range results {
			results[i].Err, results[i].ErrMessage = code, msg
		}
		return results
	}
	counts := map[string]int{}
	for _, s := range specs {
		counts[s.Topic]++
	}
	brokers := img.LiveBrokerIDs()
	start := leastLoadedStart(img, brokers)
	budget := c.cfg.MaxPartitionsPerRequest
	var records []metadata.Record
	var accepted []int
	for i, s := range specs {
		r := &results[i]
		if counts[s.Topic] > 1 {
			r.Err, r.ErrMessage = kerr.InvalidRequest, "Duplicate topic name."
			continue
		}
		rec, terr := c.planPartitions(img, s, brokers, start)
		if terr == nil && len(rec.New) > budget {
			terr = refuse(kerr.InvalidPartitions, "Adding %d partition(s) to topic %s would exceed the limit of %d partitions per request.",
				len(rec.New), s.Topic, c.cfg.MaxPartitionsPerRequest)
		}
		if terr != nil {
			r.Err, r.ErrMessage = terr.code, terr.msg
			continue
		}
		budget -= len(rec.New)
		start = (start + len(rec.New)) % max(len(brokers), 1)
		records = append(records, rec)
		accepted = append(accepted, i)
	}
	if validateOnly || len(records) == 0 {
		return results
	}
	if _, err := c.log.Propose(ctx, batch(records)); err != nil {
		code, msg := kafkaError(err)
		for _, i := range accepted {
			results[i].Err, results[i].ErrMessage = code, msg
		}
		return results
	}
	for _, i := range accepted {
		c.lg.Info("partitions created", "topic", specs[i].Topic, "count", specs[i].Count)
	}
	return results
}

func (c *Controller) planPartitions(img metadata.Image, s PartitionsSpec, brokers []int32, start int) (metadata.CreatePartitions, *topicError) {
	t, ok := img.Topic(s.Topic)
	if !ok {
		return metadata.CreatePartitions{}, refuse(kerr.UnknownTopicOrPartition, "This server does not host this topic-partition.")
	}
	current := int32(len(t.Partitions))
	switch {
	case s.Count == current:
		return metadata.CreatePartitions{}, refuse(kerr.InvalidPartitions, "Topic already has %d partition(s).", current)
	case s.Count < current:
		return metadata.CreatePartitions{}, refuse(kerr.InvalidPartitions,
			"The topic %s currently has %d partition(s); %d would not be an increase.", s.Topic, current, s.Count)
	case s.Count > metadata.MaxPartitionsPerTopic:
		return metadata.CreatePartitions{}, refuse(kerr.InvalidPartitions,
			"Number of partitions %d exceeds the limit of %d per topic.", s.Count, metadata.MaxPartitionsPerTopic)
	}
	additional := int(s.Count - current)
	rf := t.ReplicationFactor()
	var replicas [][]int32
	if s.Assignments != nil {
		if len(s.Assignments) != additional {
			return metadata.CreatePartitions{}, refuse(kerr.InvalidReplicaAssignment,
				"Attempted to add %d additional partition(s), but only %d assignment(s) were specified.", additional, len(s.Assignments))
		}
		for _, a := range s.Assignments {
			if terr := validateManualReplicas(img, a, rf); terr != nil {
				return metadata.CreatePartitions{}, terr
			}
			replicas = append(replicas, slices.Clone(a))
		}
	} else {
		var err error
		if replicas, err = placeOnRacks(brokers, rackOfImage(img), additional, rf, start); err != nil {
			return metadata.CreatePartitions{}, refuse(kerr.InvalidReplicationFactor, "%s", err.Error())
		}
	}
	parts, terr := newPartitions(current, replicas, img.IsLive)
	if terr != nil {
		return metadata.CreatePartitions{}, terr
	}
	return metadata.CreatePartitions{TopicID: t.ID, New: parts}, nil
}
