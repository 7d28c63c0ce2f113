package broker

import (
	"sort"

	"github.com/samsa-streaming/samsa/internal/partition"
)

// clusterView is an immutable picture of what the handlers need: brokers,
// topics and the local replicas, rebuilt whenever metadata or the set of
// local partitions changes and published through an atomic pointer, so the
// produce and fetch paths read it without locks.
type clusterView struct {
	clusterID  string
	brokers    []brokerView
	topics     map[string]*topicView
	topicsByID map[[16]byte]*topicView
}

type brokerView struct {
	nodeID int32
	host   string
	port   int32
	rack   string
}

type topicView struct {
	name       string
	id         [16]byte
	internal   bool
	partitions []partitionView
	configs    map[string]string // topic overrides only
}

type partitionView struct {
	index          int32
	leader         int32
	leaderEpoch    int32
	partitionEpoch int32
	replicas       []int32
	isr            []int32
	offline        []int32
	// adding and removing describe an ongoing reassignment.
	adding, removing []int32
	local            *partition.Partition // nil if not hosted on this broker
}

// topicFor finds a fetch key's topic by id (v13+) or name.
func (v *clusterView) topicFor(k fetchKey) *topicView {
	if k.topicID != ([16]byte{}) {
		return v.topicsByID[k.topicID]
	}
	return v.topics[k.topic]
}

// topicName returns the name of a topic id, "" if unknown.
func (v *clusterView) topicName(id [16]byte) string {
	if t := v.topicsByID[id]; t != nil {
		return t.name
	}
	return ""
}

// localPartition returns the local replica for a fetch key, nil if none.
func (v *clusterView) localPartition(k fetchKey) *partition.Partition {
	t := v.topicFor(k)
	if t == nil || k.partition < 0 || int(k.partition) >= len(t.partitions) {
		return nil
	}
	return t.partitions[k.partition].local
}

// sortedTopicNames lists the view's topics by name.
func sortedTopicNames(v *clusterView) []string {
	names := make([]string, 0, len(v.topics))
	for name := range v.topics {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// topicOrSync returns a topic of view; if view does not have it but this
// node's metadata image does (the reconciler has not caught up with a topic
// created a moment ago), it applies the image first, so that a client that
// created a topic through another broker and writes at once is not told the
// topic does not exist. It returns the view the topic was found in.
func (b *Broker) topicOrSync(view *clusterView, name string) (*topicView, *clusterView) {
	if t := view.topics[name]; t != nil {
		return t, view
	}
	if _, ok := b.meta.Image().Topic(name); !ok {
		return nil, view
	}
	b.syncMetadata()
	view = b.view()
	return view.topics[name], view
}

// controllerID is the node that leads the metadata quorum now, -1 if none
// (no quorum). It is read per request and not kept in the clusterView: the
// view is rebuilt only when a metadata image arrives, and none arrives once
// the quorum is lost, so a view would go on naming a dead controller and
// clients would send admin requests to it instead of learning that no
// controller is available.
func (b *Broker) controllerID() int32 {
	if id, ok := b.meta.Leader(); ok {
		return id
	}
	return -1
}
