package controller

import (
	"context"
	"slices"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/topicconfig"
)

// PartitionReplicas is a manual assignment: the replicas (broker ids, the
// first one the preferred leader) of one partition.
type PartitionReplicas struct {
	Partition int32
	Replicas  []int32
}

// TopicSpec is one topic of a CreateTopics request.
type TopicSpec struct {
	Name string
	// NumPartitions and ReplicationFactor: -1 takes the controller's
	// default. Both must be -1 when Assignments is given.
	NumPartitions     int32
	ReplicationFactor int16
	// Assignments, if not empty, places every partition by hand.
	Assignments []PartitionReplicas
	// Configs are the topic's config overrides; a nil value is refused.
	Configs map[string]*string
}

// CreateTopicResult is the outcome for one TopicSpec (also for
// validateOnly requests, which report what would have been created).
type CreateTopicResult struct {
	Name              string
	TopicID           metadata.TopicID
	NumPartitions     int32
	ReplicationFactor int16
	// Configs lists every topic config in force for the new topic.
	Configs    []topicconfig.Value
	Err        *kerr.Error // nil on success
	ErrMessage string
}

// CreateTopics validates and creates topics. Results are in the order of
// specs, one per spec. The topics that pass validation are created
// together in one Raft entry; if that proposal fails (not the controller,
// timeout), each of them carries the error.
func (c *Controller) CreateTopics(ctx context.Context, specs []TopicSpec, validateOnly bool) []CreateTopicResult {
	results := make([]CreateTopicResult, len(specs))
	for i, s := range specs {
		results[i].Name = s.Name
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
		counts[s.Name]++
	}
	defaults := c.brokerDefaults(img)
	brokers := img.LiveBrokerIDs()
	start := leastLoadedStart(img, brokers)
	budget := c.cfg.MaxPartitionsPerRequest
	// Names and ids taken by topics accepted earlier in this request.
	newKeys := map[string]string{}
	newIDs := map[metadata.TopicID]bool{}
	var records []metadata.Record
	var accepted []int

	for i, s := range specs {
		r := &results[i]
		if counts[s.Name] > 1 {
			r.Err, r.ErrMessage = kerr.InvalidRequest, "Duplicate topic name."
			continue
		}
		plan, terr := c.planTopic(img, s, defaults, brokers, start, newKeys)
		if terr == nil && len(plan.partitions) > budget {
			terr = refuse(kerr.InvalidPartitions, "Creating %d partition(s) for topic %s would exceed the limit of %d partitions per request.",
				len(plan.partitions), s.Name, c.cfg.MaxPartitionsPerRequest)
		}
		var id metadata.TopicID
		if terr == nil {
			id, terr = c.newTopicID(img, newIDs)
		}
		if terr != nil {
			r.Err, r.ErrMessage = terr.code, terr.msg
			continue
		}
		budget -= len(plan.partitions)
		start = (start + len(plan.partitions)) % max(len(brokers), 1)
		newKeys[metadata.CollisionKey(s.Name)] = s.Name
		newIDs[id] = true
		r.TopicID = id
		r.NumPartitions = int32(len(plan.partitions))
		r.ReplicationFactor = int16(len(plan.partitions[0].Replicas))
		r.Configs = topicconfig.ResolveLayers(plan.configs, c.layers(img)...)
		records = append(records, metadata.CreateTopic{Name: s.Name, TopicID: id, Partitions: plan.partitions, Configs: plan.configs})
		accepted = append(accepted, i)
	}
	if validateOnly || len(records) == 0 {
		return results
	}
	if _, err := c.log.Propose(ctx, batch(records)); err != nil {
		code, msg := kafkaError(err)
		for _, i := range accepted {
			results[i] = CreateTopicResult{Name: results[i].Name, Err: code, ErrMessage: msg}
		}
		return results
	}
	for _, i := range accepted {
		c.lg.Info("topic created", "topic", results[i].Name, "id", results[i].TopicID.String(),
			"partitions", results[i].NumPartitions, "replication_factor", results[i].ReplicationFactor)
	}
	return results
}

// batch wraps several records in a Batch (one record is proposed as is).
func batch(recs []metadata.Record) metadata.Record {
	if len(recs) == 1 {
		return recs[0]
	}
	return metadata.Batch{Records: recs}
}

type topicPlan struct {
	partitions []metadata.PartitionAssignment
	configs    map[string]string
}

// planTopic applies Kafka's CreateTopics checks to one spec, in Kafka's
// order, and places its partitions.
func (c *Controller) planTopic(img metadata.Image, s TopicSpec, defaults map[string]string,
	brokers []int32, start int, newKeys map[string]string) (topicPlan, *topicError) {
	if err := metadata.ValidateTopicName(s.Name); err != nil {
		return topicPlan{}, refuse(kerr.InvalidTopicException, "%s", err.Error())
	}
	if _, ok := img.Topic(s.Name); ok {
		return topicPlan{}, refuse(kerr.TopicAlreadyExists, "Topic '%s' already exists.", s.Name)
	}
	if other, ok := img.CollidingTopic(s.Name); ok {
		return topicPlan{}, refuse(kerr.InvalidTopicException, "Topic '%s' collides with existing topic: %s", s.Name, other)
	}
	if other, ok := newKeys[metadata.CollisionKey(s.Name)]; ok {
		return topicPlan{}, refuse(kerr.InvalidTopicException, "Topic '%s' collides with topic %s created by the same request", s.Name, other)
	}
	configs, terr := topicConfigs(s.Configs, defaults)
	if terr != nil {
		return topicPlan{}, terr
	}
	var parts []metadata.PartitionAssignment
	if len(s.Assignments) > 0 {
		parts, terr = manualPartitions(img, s)
	} else {
		parts, terr = c.autoPartitions(img, s, brokers, start)
	}
	if terr != nil {
		return topicPlan{}, terr
	}
	return topicPlan{partitions: parts, configs: configs}, nil
}

// topicConfigs turns requested overrides into the stored map, refusing
// null values and anything topicconfig refuses (INVALID_CONFIG).
func topicConfigs(req map[string]*string, defaults map[string]string) (map[string]string, *topicError) {
	var nulls []string
	configs := make(map[string]string, len(req))
	for k, v := range req {
		if v == nil {
			nulls = append(nulls, k)
			continue
		}
		configs[k] = *v
	}
	if len(nulls) > 0 {
		sort.Strings(nulls)
		return nil, refuse(kerr.InvalidConfig, "Null value not supported for topic configs: %s", strings.Join(nulls, ","))
	}
	if len(configs) > metadata.MaxConfigsPerResource {
		return nil, refuse(kerr.InvalidConfig, "More than %d config overrides.", metadata.MaxConfigsPerResource)
	}
	if err := topicconfig.ValidateOverrides(configs, defaults); err != nil {
		return nil, refuse(kerr.InvalidConfig, "%s", err.Error())
	}
	return configs, nil
}

func manualPartitions(img metadata.Image, s TopicSpec) ([]metadata.PartitionAssignment, *topicError) {
	if s.ReplicationFactor != -1 {
		return nil, refuse(kerr.InvalidRequest, "A manual partition assignment was specified, but replication factor was not set to -1.")
	}
	if s.NumPartitions != -1 {
		return nil, refuse(kerr.InvalidRequest, "A manual partition assignment was specified, but numPartitions was not set to -1.")
	}
	if len(s.Assignments) > metadata.MaxPartitionsPerTopic {
		return nil, refuse(kerr.InvalidPartitions, "Number of partitions %d exceeds the limit of %d per topic.",
			len(s.Assignments), metadata.MaxPartitionsPerTopic)
	}
	byPartition := make(map[int32][]int32, len(s.Assignments))
	rf := 0
	for _, a := range s.Assignments {
		if _, dup := byPartition[a.Partition]; dup {
			return nil, refuse(kerr.InvalidReplicaAssignment, "Found multiple manual partition assignments for partition %d", a.Partition)
		}
		if terr := validateManualReplicas(img, a.Replicas, rf); terr != nil {
			return nil, terr
		}
		rf = len(a.Replicas)
		byPartition[a.Partition] = slices.Clone(a.Replicas)
	}
	if rf > metadata.MaxReplicationFactor {
		return nil, refuse(kerr.InvalidReplicationFactor, "Replication factor %d exceeds the limit of %d.", rf, metadata.MaxReplicationFactor)
	}
	replicas := make([][]int32, len(byPartition))
	for i := range replicas {
		r, ok := byPartition[int32(i)]
		if !ok {
			return nil, refuse(kerr.InvalidReplicaAssignment, "partitions should be a consecutive 0-based integer sequence")
		}
		replicas[i] = r
	}
	return newPartitions(0, replicas, img.IsLive)
}

// autoPartitions places a topic created without a manual assignment on
// brokers (the live ones), rack-aware, starting at index start.
func (c *Controller) autoPartitions(img metadata.Image, s TopicSpec, brokers []int32, start int) ([]metadata.PartitionAssignment, *topicError) {
	if s.ReplicationFactor < -1 || s.ReplicationFactor == 0 {
		return nil, refuse(kerr.InvalidReplicationFactor, "Replication factor must be larger than 0, or -1 to use the default value.")
	}
	if s.NumPartitions < -1 || s.NumPartitions == 0 {
		return nil, refuse(kerr.InvalidPartitions, "Number of partitions was set to an invalid non-positive value.")
	}
	n, rf := s.NumPartitions, s.ReplicationFactor
	if n == -1 {
		n = c.cfg.DefaultNumPartitions
	}
	if rf == -1 {
		rf = c.cfg.DefaultReplicationFactor
	}
	if n > metadata.MaxPartitionsPerTopic {
		return nil, refuse(kerr.InvalidPartitions, "Number of partitions %d exceeds the limit of %d per topic.", n, metadata.MaxPartitionsPerTopic)
	}
	if int(rf) > metadata.MaxReplicationFactor {
		return nil, refuse(kerr.InvalidReplicationFactor, "Replication factor %d exceeds the limit of %d.", rf, metadata.MaxReplicationFactor)
	}
	replicas, err := placeOnRacks(brokers, rackOfImage(img), int(n), int(rf), start)
	if err != nil {
		return nil, refuse(kerr.InvalidReplicationFactor, "Unable to replicate the partition %d time(s): %s", rf, err.Error())
	}
	return newPartitions(0, replicas, func(int32) bool { return true })
}

// newTopicID draws a random topic id unused in img and in this request.
func (c *Controller) newTopicID(img metadata.Image, taken map[metadata.TopicID]bool) (metadata.TopicID, *topicError) {
	for range 16 {
		id, err := metadata.NewUUID(c.cfg.Rand)
		if err != nil {
			return id, refuse(kerr.UnknownServerError, "%s", err.Error())
		}
		if _, exists := img.TopicByID(id); !exists && !taken[id] {
			return id, nil
		}
	}
	return metadata.TopicID{}, refuse(kerr.UnknownServerError, "could not draw an unused topic id")
}

// TopicRef names a topic by name or, if Name is empty, by id.
type TopicRef struct {
	Name string
	ID   metadata.TopicID
}

// DeleteTopicResult is the outcome for one TopicRef; Name and ID are both
// filled when the topic was found.
type DeleteTopicResult struct {
	Name       string
	ID         metadata.TopicID
	Err        *kerr.Error
	ErrMessage string
}

// DeleteTopics deletes topics by name or id: UNKNOWN_TOPIC_OR_PARTITION for
// an unknown name, UNKNOWN_TOPIC_ID for an unknown id, INVALID_REQUEST for
// a topic named twice, for both a name and an id, or for neither. The found
// topics are deleted in one Raft entry.
func (c *Controller) DeleteTopics(ctx context.Context, refs []TopicRef) []DeleteTopicResult {
	results := make([]DeleteTopicResult, len(refs))
	for i, r := range refs {
		results[i].Name, results[i].ID = r.Name, r.ID
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
	names, ids := map[string]int{}, map[metadata.TopicID]int{}
	for _, r := range refs {
		if r.Name != "" {
			names[r.Name]++
		} else {
			ids[r.ID]++
		}
	}
	var records []metadata.Record
	var found []int
	seen := map[metadata.TopicID]bool{}
	for i, ref := range refs {
		res := &results[i]
		var t *metadata.Topic
		var ok bool
		switch {
		case ref.Name != "" && !ref.ID.IsZero():
			res.Err, res.ErrMessage = kerr.InvalidRequest, "You may not specify both topic name and topic id."
			continue
		case ref.Name != "":
			if names[ref.Name] > 1 {
				res.Err, res.ErrMessage = kerr.InvalidRequest, "Duplicate topic name."
				continue
			}
			if t, ok = img.Topic(ref.Name); !ok {
				res.Err, res.ErrMessage = kerr.UnknownTopicOrPartition, "This server does not host this topic-partition."
				continue
			}
		case ref.ID.IsZero():
			res.Err, res.ErrMessage = kerr.InvalidRequest, "Attempt to find topic with invalid topicId "+ref.ID.String()
			continue
		default:
			if ids[ref.ID] > 1 {
				res.Err, res.ErrMessage = kerr.InvalidRequest, "Duplicate topic id."
				continue
			}
			if t, ok = img.TopicByID(ref.ID); !ok {
				res.Err, res.ErrMessage = kerr.UnknownTopicID, "This server does not host this topic ID."
				continue
			}
		}
		res.Name, res.ID = t.Name, t.ID
		if seen[t.ID] { // the same topic by name and by id
			res.Err, res.ErrMessage = kerr.InvalidRequest, "Duplicate topic."
			continue
		}
		seen[t.ID] = true
		records = append(records, metadata.DeleteTopic{TopicID: t.ID})
		found = append(found, i)
	}
	if len(records) == 0 {
		return results
	}
	if _, err := c.log.Propose(ctx, batch(records)); err != nil {
		code, msg := kafkaError(err)
		for _, i := range found {
			results[i].Err, results[i].ErrMessage = code, msg
		}
		return results
	}
	for _, i := range found {
		c.lg.Info("topic deleted", "topic", results[i].Name, "id", results[i].ID.String())
	}
	return results
}
