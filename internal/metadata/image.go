package metadata

import (
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Image is an immutable view of the metadata at one point of the Raft log.
// It is a small value (one pointer): copy it freely and read it from any
// goroutine without locks. Applying a record never changes an Image; it
// builds a new one that shares everything that did not change
// (copy-on-write).
//
// Slices and maps reachable from an Image (Topic.Partitions, Topic.Configs,
// PartitionAssignment.Replicas, BrokerConfigs, ...) are shared by every
// holder: read them, never modify them.
//
// The zero Image is the empty metadata of a cluster without a cluster id.
type Image struct {
	d *imageData
}

type imageData struct {
	index          uint64
	clusterID      string
	nextProducerID int64
	brokers        map[int32]*Broker
	topicsByName   map[string]*Topic
	topicsByID     map[TopicID]*Topic
	// collisionKeys maps a name with '.' replaced by '_' to the existing
	// topic that has it, to detect Kafka's metric-name collisions.
	collisionKeys map[string]string
	// brokerConfigs maps a broker resource name ("" or a node id) to its
	// dynamic config overrides.
	brokerConfigs map[string]map[string]string
	// partitionCount is the total over all topics.
	partitionCount int
	// cache holds values derived lazily from this data; every builder
	// starts a new one. nil for emptyData.
	cache *imageCache
}

type imageCache struct {
	topicsOnce sync.Once
	topics     []*Topic // sorted by name
}

var emptyData = &imageData{}

func (img Image) data() *imageData {
	if img.d == nil {
		return emptyData
	}
	return img.d
}

// Broker is a registered broker.
type Broker struct {
	NodeID        int32    `json:"id"`
	Host          string   `json:"host"`
	Port          int32    `json:"port"`
	Rack          string   `json:"rack,omitempty"`
	IncarnationID [16]byte `json:"inc"`
	// Epoch is the Raft index of the broker's latest registration (Kafka's
	// broker epoch): it grows every time the broker re-registers.
	Epoch int64 `json:"epoch"`
	// Fenced brokers lead nothing and are not elected: they are
	// registered but not (yet, or no longer) alive.
	Fenced bool `json:"fenced,omitempty"`
}

// Topic is a topic in an Image. It is shared and must not be modified.
type Topic struct {
	Name string
	ID   TopicID
	// Partitions is indexed by partition number.
	Partitions []PartitionAssignment
	// Configs holds the topic's config overrides (never nil for a topic
	// of an Image, possibly empty).
	Configs map[string]string
}

// Partition returns partition p of t.
func (t *Topic) Partition(p int32) (PartitionAssignment, bool) {
	if p < 0 || int(p) >= len(t.Partitions) {
		return PartitionAssignment{}, false
	}
	return t.Partitions[p], true
}

// ReplicationFactor returns the replica count of t's first partition (all
// partitions of a topic have the same count unless reassigned).
func (t *Topic) ReplicationFactor() int {
	if len(t.Partitions) == 0 {
		return 0
	}
	return len(t.Partitions[0].Replicas)
}

// Index returns the Raft index of the last record applied to this image (0
// for an empty log). Rejected records advance it too.
func (img Image) Index() uint64 { return img.data().index }

// ClusterID returns the cluster id, "" until the first leader set it.
func (img Image) ClusterID() string { return img.data().clusterID }

// NextProducerID returns the first producer id not yet handed out.
func (img Image) NextProducerID() int64 { return img.data().nextProducerID }

// Broker returns the registered broker with the given node id.
func (img Image) Broker(id int32) (Broker, bool) {
	b, ok := img.data().brokers[id]
	if !ok {
		return Broker{}, false
	}
	return *b, true
}

// Brokers returns every registered broker, sorted by node id. The slice is
// new; the caller owns it.
func (img Image) Brokers() []Broker {
	d := img.data()
	out := make([]Broker, 0, len(d.brokers))
	for _, b := range d.brokers {
		out = append(out, *b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].NodeID < out[j].NodeID })
	return out
}

// BrokerIDs returns the registered node ids, sorted. The caller owns the
// slice.
func (img Image) BrokerIDs() []int32 {
	d := img.data()
	out := make([]int32, 0, len(d.brokers))
	for id := range d.brokers {
		out = append(out, id)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// LiveBrokerIDs returns the registered, unfenced node ids, sorted. The
// caller owns the slice.
func (img Image) LiveBrokerIDs() []int32 {
	out := img.BrokerIDs()
	live := out[:0]
	for _, id := range out {
		if !img.data().brokers[id].Fenced {
			live = append(live, id)
		}
	}
	return live
}

// IsLive reports whether broker id is registered and unfenced.
func (img Image) IsLive(id int32) bool {
	b, ok := img.data().brokers[id]
	return ok && !b.Fenced
}

// Topic returns the topic with the given name.
func (img Image) Topic(name string) (*Topic, bool) {
	t, ok := img.data().topicsByName[name]
	return t, ok
}

// TopicByID returns the topic with the given id.
func (img Image) TopicByID(id TopicID) (*Topic, bool) {
	t, ok := img.data().topicsByID[id]
	return t, ok
}

// Topics returns every topic sorted by name. The slice is new; the topics
// are shared.
func (img Image) Topics() []*Topic {
	d := img.data()
	if d.cache == nil {
		return sortedTopics(d)
	}
	d.cache.topicsOnce.Do(func() { d.cache.topics = sortedTopics(d) })
	return slices.Clone(d.cache.topics)
}

func sortedTopics(d *imageData) []*Topic {
	out := make([]*Topic, 0, len(d.topicsByName))
	for _, t := range d.topicsByName {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// TopicCount returns the number of topics.
func (img Image) TopicCount() int { return len(img.data().topicsByName) }

// PartitionCount returns the number of partitions over all topics.
func (img Image) PartitionCount() int { return img.data().partitionCount }

// TopicConfigs returns a topic's config overrides (shared, read-only), or
// nil if the topic does not exist.
func (img Image) TopicConfigs(name string) map[string]string {
	if t, ok := img.Topic(name); ok {
		return t.Configs
	}
	return nil
}

// BrokerConfigs returns the dynamic config overrides of a broker resource:
// "" for the cluster-wide default, or a node id in decimal. The map is
// shared and read-only; nil if none are set.
func (img Image) BrokerConfigs(name string) map[string]string {
	return img.data().brokerConfigs[name]
}

// CollidingTopic returns an existing topic whose name differs from name only
// by '.' versus '_' (Kafka refuses such pairs because they map to the same
// metric names). It returns false if there is none or if name itself exists.
func (img Image) CollidingTopic(name string) (string, bool) {
	other, ok := img.data().collisionKeys[CollisionKey(name)]
	if !ok || other == name {
		return "", false
	}
	return other, true
}

// CollisionKey is the name Kafka compares for collisions: '.' replaced by
// '_'.
func CollisionKey(name string) string { return strings.ReplaceAll(name, ".", "_") }

// IsBrokerResourceName reports whether name is a valid broker config
// resource name: "" (cluster default) or a non-negative node id.
func IsBrokerResourceName(name string) bool {
	if name == "" {
		return true
	}
	n, err := strconv.ParseInt(name, 10, 32)
	return err == nil && n >= 0 && strconv.FormatInt(n, 10) == name
}
