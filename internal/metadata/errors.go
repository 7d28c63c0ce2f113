package metadata

import "errors"

// Errors returned by State.Apply (and so by Node.Propose when the state
// machine rejects a record). A rejected record changes nothing. The
// controller validates before proposing, so these mostly catch races and
// bugs; it maps them to Kafka error codes.
var (
	// ErrInvalidRecord: the record is malformed (bad sizes, zero ids,
	// duplicate replicas, an ISR outside the replicas, ...).
	ErrInvalidRecord = errors.New("metadata: invalid record")
	// ErrTopicExists: a topic with that name or id exists, or the name
	// collides with an existing one ('.' vs '_').
	ErrTopicExists = errors.New("metadata: topic already exists")
	// ErrUnknownTopic: no topic has that id or name.
	ErrUnknownTopic = errors.New("metadata: unknown topic")
	// ErrUnknownPartition: the topic has no such partition.
	ErrUnknownPartition = errors.New("metadata: unknown partition")
	// ErrStaleEpoch: a ChangePartition was computed against an older
	// partition epoch.
	ErrStaleEpoch = errors.New("metadata: stale partition epoch")
	// ErrProducerIDConflict: an AllocateProducerIDs block does not start at
	// the next free producer id.
	ErrProducerIDConflict = errors.New("metadata: producer id block conflict")
	// ErrUnknownBroker: no broker is registered with that node id.
	ErrUnknownBroker = errors.New("metadata: unknown broker")
	// ErrClusterIDSet: InitCluster after the cluster id was set.
	ErrClusterIDSet = errors.New("metadata: cluster id already set")
)

// Errors returned by Node.
var (
	// ErrNotController: this node is not the quorum leader (or lost
	// leadership before the proposal committed; the outcome of such a
	// proposal is unknown). Retry on the leader.
	ErrNotController = errors.New("metadata: not the controller")
	// ErrTimeout: the proposal was not committed and applied in time. It
	// may still be applied later.
	ErrTimeout = errors.New("metadata: proposal timed out")
	// ErrClosed: the node is closed.
	ErrClosed = errors.New("metadata: node closed")
)
