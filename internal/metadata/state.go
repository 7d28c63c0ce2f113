package metadata

import (
	"fmt"
	"maps"
	"math"
	"slices"
)

// State is the deterministic metadata state machine: it applies records in
// Raft log order and holds the resulting Image. It has no goroutines, clock
// or I/O; the same records applied in the same order give the same Image on
// every node. A State is not safe for concurrent use (the Raft FSM goroutine
// owns it); the Images it hands out are.
type State struct {
	img Image
}

// NewState returns the empty state.
func NewState() *State { return &State{} }

// NewStateFrom returns a state that starts from img (e.g. a restored
// snapshot).
func NewStateFrom(img Image) *State { return &State{img: img} }

// Image returns the current image.
func (s *State) Image() Image { return s.img }

// Apply applies rec, the record at Raft index index. If the record is
// rejected, Apply returns an error wrapping one of the Err* sentinels and
// the image is unchanged except for its index. Apply copies what it keeps
// from rec; the caller may reuse rec afterwards.
func (s *State) Apply(index uint64, rec Record) error {
	b := newBuilder(s.img.data())
	if err := b.apply(index, rec, true); err != nil {
		d := *s.img.data()
		d.index = index
		s.img = Image{d: &d}
		return err
	}
	b.d.index = index
	s.img = Image{d: b.d}
	return nil
}

// builder makes the next imageData from a base one without touching the
// base: each map is copied the first time it is written (copy-on-write),
// and so is each topic.
type builder struct {
	d *imageData

	brokersOwned, topicsOwned, collisionOwned, brokerConfigsOwned bool
	// ownedTopics are topics cloned by this builder, free to modify.
	ownedTopics map[TopicID]bool
	// ownedParts / ownedConfigs: topics whose Partitions slice / Configs
	// map were cloned by this builder.
	ownedParts, ownedConfigs map[TopicID]bool
}

func newBuilder(base *imageData) *builder {
	d := *base
	d.cache = &imageCache{}
	return &builder{
		d:            &d,
		ownedTopics:  map[TopicID]bool{},
		ownedParts:   map[TopicID]bool{},
		ownedConfigs: map[TopicID]bool{},
	}
}

func cloneMap[K comparable, V any](m map[K]V, extra int) map[K]V {
	out := make(map[K]V, len(m)+extra)
	maps.Copy(out, m)
	return out
}

func (b *builder) brokers() map[int32]*Broker {
	if !b.brokersOwned {
		b.d.brokers, b.brokersOwned = cloneMap(b.d.brokers, 1), true
	}
	return b.d.brokers
}

func (b *builder) topicMaps() (map[string]*Topic, map[TopicID]*Topic) {
	if !b.topicsOwned {
		b.d.topicsByName = cloneMap(b.d.topicsByName, 1)
		b.d.topicsByID = cloneMap(b.d.topicsByID, 1)
		b.topicsOwned = true
	}
	return b.d.topicsByName, b.d.topicsByID
}

func (b *builder) collisions() map[string]string {
	if !b.collisionOwned {
		b.d.collisionKeys, b.collisionOwned = cloneMap(b.d.collisionKeys, 1), true
	}
	return b.d.collisionKeys
}

func (b *builder) brokerConfigs() map[string]map[string]string {
	if !b.brokerConfigsOwned {
		b.d.brokerConfigs, b.brokerConfigsOwned = cloneMap(b.d.brokerConfigs, 1), true
	}
	return b.d.brokerConfigs
}

// topicForWrite returns a modifiable copy of the topic with the given id,
// installed in the builder's maps.
func (b *builder) topicForWrite(id TopicID) (*Topic, error) {
	t, ok := b.d.topicsByID[id]
	if !ok {
		return nil, fmt.Errorf("metadata: topic id %s: %w", id, ErrUnknownTopic)
	}
	if b.ownedTopics[id] {
		return t, nil
	}
	c := *t
	byName, byID := b.topicMaps()
	byName[c.Name], byID[id] = &c, &c
	b.ownedTopics[id] = true
	return &c, nil
}

func (b *builder) partsForWrite(t *Topic, extra int) []PartitionAssignment {
	if !b.ownedParts[t.ID] {
		t.Partitions = slices.Grow(slices.Clone(t.Partitions), extra)
		b.ownedParts[t.ID] = true
	}
	return t.Partitions
}

func (b *builder) configsForWrite(t *Topic) map[string]string {
	if !b.ownedConfigs[t.ID] {
		t.Configs = cloneMap(t.Configs, 0)
		b.ownedConfigs[t.ID] = true
	}
	return t.Configs
}

func (b *builder) apply(index uint64, rec Record, allowBatch bool) error {
	if err := checkBounds(rec, allowBatch); err != nil {
		return err
	}
	switch r := rec.(type) {
	case RegisterBroker:
		return b.registerBroker(index, r)
	case CreateTopic:
		return b.createTopic(r)
	case DeleteTopic:
		return b.deleteTopic(r)
	case CreatePartitions:
		return b.createPartitions(r)
	case AlterConfigs:
		return b.alterConfigs(r)
	case AllocateProducerIDs:
		return b.allocateProducerIDs(r)
	case ChangePartition:
		return b.changePartition(r)
	case InitCluster:
		return b.initCluster(r)
	case FenceBroker:
		return b.setFenced(r.NodeID, r.Epoch, true)
	case UnfenceBroker:
		return b.setFenced(r.NodeID, r.Epoch, false)
	case UnregisterBroker:
		if _, ok := b.d.brokers[r.NodeID]; !ok {
			return fmt.Errorf("metadata: unregister broker %d: %w", r.NodeID, ErrUnknownBroker)
		}
		delete(b.brokers(), r.NodeID)
		return nil
	case Batch:
		for i, sub := range r.Records {
			if err := b.apply(index, sub, false); err != nil {
				return fmt.Errorf("metadata: batch record %d of %d: %w", i, len(r.Records), err)
			}
		}
		return nil
	}
	return fmt.Errorf("metadata: apply %T: %w", rec, ErrInvalidRecord)
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("metadata: %s: %w", fmt.Sprintf(format, args...), ErrInvalidRecord)
}

func (b *builder) registerBroker(index uint64, r RegisterBroker) error {
	switch {
	case r.NodeID < 0:
		return invalid("register broker: node id %d is negative", r.NodeID)
	case r.Host == "":
		return invalid("register broker %d: empty host", r.NodeID)
	case r.Port <= 0 || r.Port > math.MaxUint16:
		return invalid("register broker %d: port %d out of range", r.NodeID, r.Port)
	}
	b.brokers()[r.NodeID] = &Broker{
		NodeID: r.NodeID, Host: r.Host, Port: r.Port, Rack: r.Rack,
		IncarnationID: r.IncarnationID, Epoch: int64(index), Fenced: true,
	}
	return nil
}

func (b *builder) setFenced(id int32, epoch int64, fenced bool) error {
	cur, ok := b.d.brokers[id]
	if !ok {
		return fmt.Errorf("metadata: fence broker %d: %w", id, ErrUnknownBroker)
	}
	if cur.Epoch != epoch {
		return fmt.Errorf("metadata: fence broker %d: epoch %d, current %d: %w", id, epoch, cur.Epoch, ErrStaleEpoch)
	}
	next := *cur
	next.Fenced = fenced
	b.brokers()[id] = &next
	return nil
}

func (b *builder) createTopic(r CreateTopic) error {
	if err := ValidateTopicName(r.Name); err != nil {
		return invalid("create topic: %v", err)
	}
	if r.TopicID.IsZero() {
		return invalid("create topic %s: zero topic id", r.Name)
	}
	if _, ok := b.d.topicsByName[r.Name]; ok {
		return fmt.Errorf("metadata: create topic %s: %w", r.Name, ErrTopicExists)
	}
	if _, ok := b.d.topicsByID[r.TopicID]; ok {
		return fmt.Errorf("metadata: create topic %s: id %s is taken: %w", r.Name, r.TopicID, ErrTopicExists)
	}
	if other, ok := b.d.collisionKeys[CollisionKey(r.Name)]; ok {
		return fmt.Errorf("metadata: create topic %s: collides with %s: %w", r.Name, other, ErrTopicExists)
	}
	if len(r.Partitions) == 0 {
		return invalid("create topic %s: no partitions", r.Name)
	}
	parts := make([]PartitionAssignment, len(r.Partitions))
	for i, p := range r.Partitions {
		if p.Partition != int32(i) {
			return invalid("create topic %s: partition %d at position %d", r.Name, p.Partition, i)
		}
		if err := validatePartition(p); err != nil {
			return invalid("create topic %s: %v", r.Name, err)
		}
		parts[i] = clonePartition(p)
	}
	if err := validateConfigNames(r.Configs, nil); err != nil {
		return invalid("create topic %s: %v", r.Name, err)
	}
	t := &Topic{Name: r.Name, ID: r.TopicID, Partitions: parts, Configs: cloneMap(r.Configs, 0)}
	byName, byID := b.topicMaps()
	byName[t.Name], byID[t.ID] = t, t
	b.collisions()[CollisionKey(t.Name)] = t.Name
	b.ownedTopics[t.ID], b.ownedParts[t.ID], b.ownedConfigs[t.ID] = true, true, true
	b.d.partitionCount += len(parts)
	return nil
}

func (b *builder) deleteTopic(r DeleteTopic) error {
	t, ok := b.d.topicsByID[r.TopicID]
	if !ok {
		return fmt.Errorf("metadata: delete topic %s: %w", r.TopicID, ErrUnknownTopic)
	}
	byName, byID := b.topicMaps()
	delete(byName, t.Name)
	delete(byID, t.ID)
	delete(b.collisions(), CollisionKey(t.Name))
	b.d.partitionCount -= len(t.Partitions)
	return nil
}

func (b *builder) createPartitions(r CreatePartitions) error {
	t, err := b.topicForWrite(r.TopicID)
	if err != nil {
		return fmt.Errorf("metadata: create partitions: %w", err)
	}
	if len(r.New) == 0 {
		return invalid("create partitions %s: no partitions", t.Name)
	}
	if len(t.Partitions)+len(r.New) > MaxPartitionsPerTopic {
		return invalid("create partitions %s: %d partitions exceed %d", t.Name, len(t.Partitions)+len(r.New), MaxPartitionsPerTopic)
	}
	for i, p := range r.New {
		if want := int32(len(t.Partitions) + i); p.Partition != want {
			return invalid("create partitions %s: got partition %d, want %d", t.Name, p.Partition, want)
		}
		if err := validatePartition(p); err != nil {
			return invalid("create partitions %s: %v", t.Name, err)
		}
	}
	parts := b.partsForWrite(t, len(r.New))
	for _, p := range r.New {
		parts = append(parts, clonePartition(p))
	}
	t.Partitions = parts
	b.d.partitionCount += len(r.New)
	return nil
}

func (b *builder) alterConfigs(r AlterConfigs) error {
	if err := validateConfigNames(r.Set, r.Delete); err != nil {
		return invalid("alter configs %q: %v", r.Name, err)
	}
	apply := func(m map[string]string) {
		maps.Copy(m, r.Set)
		for _, k := range r.Delete {
			delete(m, k)
		}
	}
	switch r.ResourceType {
	case ResourceTopic:
		t, ok := b.d.topicsByName[r.Name]
		if !ok {
			return fmt.Errorf("metadata: alter configs of topic %q: %w", r.Name, ErrUnknownTopic)
		}
		t, _ = b.topicForWrite(t.ID)
		m := b.configsForWrite(t)
		apply(m)
		if len(m) > MaxConfigsPerResource {
			return invalid("alter configs of topic %q: more than %d overrides", r.Name, MaxConfigsPerResource)
		}
	case ResourceBroker:
		if !IsBrokerResourceName(r.Name) {
			return invalid("alter configs: %q is not a broker resource name", r.Name)
		}
		all := b.brokerConfigs()
		m := cloneMap(all[r.Name], len(r.Set))
		apply(m)
		if len(m) > MaxConfigsPerResource {
			return invalid("alter configs of broker %q: more than %d overrides", r.Name, MaxConfigsPerResource)
		}
		if len(m) == 0 {
			delete(all, r.Name)
		} else {
			all[r.Name] = m
		}
	default:
		return invalid("alter configs: resource type %d", r.ResourceType)
	}
	return nil
}

func (b *builder) allocateProducerIDs(r AllocateProducerIDs) error {
	switch {
	case r.NodeID < 0:
		return invalid("allocate producer ids: node id %d", r.NodeID)
	case r.Count <= 0:
		return invalid("allocate producer ids: count %d", r.Count)
	case r.FirstID != b.d.nextProducerID:
		return fmt.Errorf("metadata: allocate producer ids from %d, next free is %d: %w",
			r.FirstID, b.d.nextProducerID, ErrProducerIDConflict)
	case r.FirstID > math.MaxInt64-int64(r.Count):
		return invalid("allocate producer ids: producer ids exhausted")
	}
	b.d.nextProducerID = r.FirstID + int64(r.Count)
	return nil
}

func (b *builder) changePartition(r ChangePartition) error {
	t, err := b.topicForWrite(r.TopicID)
	if err != nil {
		return fmt.Errorf("metadata: change partition: %w", err)
	}
	if r.Partition < 0 || int(r.Partition) >= len(t.Partitions) {
		return fmt.Errorf("metadata: change partition %s-%d: %w", t.Name, r.Partition, ErrUnknownPartition)
	}
	cur := t.Partitions[r.Partition]
	if r.PartitionEpoch != cur.PartitionEpoch {
		return fmt.Errorf("metadata: change partition %s-%d: epoch %d, current %d: %w",
			t.Name, r.Partition, r.PartitionEpoch, cur.PartitionEpoch, ErrStaleEpoch)
	}
	next := cur
	if r.Replicas != nil {
		next.Replicas = slices.Clone(r.Replicas)
	}
	if r.ISR != nil {
		next.ISR = slices.Clone(r.ISR)
	}
	if r.Leader != NoLeaderChange {
		next.Leader = r.Leader
	}
	if r.SetReassignment {
		next.Adding, next.Removing = slices.Clone(r.Adding), slices.Clone(r.Removing)
	}
	if next.Leader != cur.Leader {
		next.LeaderEpoch++
	}
	next.PartitionEpoch++
	if err := validatePartition(next); err != nil {
		return invalid("change partition %s-%d: %v", t.Name, r.Partition, err)
	}
	b.partsForWrite(t, 0)[r.Partition] = next
	return nil
}

func (b *builder) initCluster(r InitCluster) error {
	if r.ClusterID == "" {
		return invalid("init cluster: empty cluster id")
	}
	if b.d.clusterID != "" {
		return fmt.Errorf("metadata: init cluster %q: cluster id is %q: %w", r.ClusterID, b.d.clusterID, ErrClusterIDSet)
	}
	b.d.clusterID = r.ClusterID
	return nil
}

// validatePartition checks one partition's internal consistency.
func validatePartition(p PartitionAssignment) error {
	if len(p.Replicas) == 0 {
		return fmt.Errorf("partition %d has no replicas", p.Partition)
	}
	if err := distinctNonNegative(p.Replicas); err != nil {
		return fmt.Errorf("partition %d replicas: %v", p.Partition, err)
	}
	if len(p.ISR) == 0 {
		return fmt.Errorf("partition %d has an empty ISR", p.Partition)
	}
	if err := distinctNonNegative(p.ISR); err != nil {
		return fmt.Errorf("partition %d ISR: %v", p.Partition, err)
	}
	for _, r := range p.ISR {
		if !slices.Contains(p.Replicas, r) {
			return fmt.Errorf("partition %d ISR member %d is not a replica", p.Partition, r)
		}
	}
	if p.Leader != NoLeader && !slices.Contains(p.ISR, p.Leader) {
		return fmt.Errorf("partition %d leader %d is not in the ISR", p.Partition, p.Leader)
	}
	if p.LeaderEpoch < 0 || p.PartitionEpoch < 0 {
		return fmt.Errorf("partition %d has a negative epoch", p.Partition)
	}
	for _, r := range append(slices.Clone(p.Adding), p.Removing...) {
		if !slices.Contains(p.Replicas, r) {
			return fmt.Errorf("partition %d reassigns broker %d, which is not a replica", p.Partition, r)
		}
	}
	for _, r := range p.Adding {
		if slices.Contains(p.Removing, r) {
			return fmt.Errorf("partition %d both adds and removes broker %d", p.Partition, r)
		}
	}
	if len(p.Removing) > 0 && len(p.Removing) >= len(p.Replicas) {
		return fmt.Errorf("partition %d would remove every replica", p.Partition)
	}
	return nil
}

func distinctNonNegative(ids []int32) error {
	for i, id := range ids {
		if id < 0 {
			return fmt.Errorf("negative broker id %d", id)
		}
		if slices.Contains(ids[:i], id) {
			return fmt.Errorf("broker %d listed twice", id)
		}
	}
	return nil
}

func validateConfigNames(set map[string]string, del []string) error {
	for k := range set {
		if k == "" {
			return fmt.Errorf("empty config name")
		}
	}
	for _, k := range del {
		if k == "" {
			return fmt.Errorf("empty config name")
		}
	}
	return nil
}

func clonePartition(p PartitionAssignment) PartitionAssignment {
	p.Replicas = slices.Clone(p.Replicas)
	p.ISR = slices.Clone(p.ISR)
	p.Adding = slices.Clone(p.Adding)
	p.Removing = slices.Clone(p.Removing)
	return p
}
