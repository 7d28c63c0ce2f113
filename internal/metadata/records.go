package metadata

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"slices"
)

// TopicID is a topic's UUID (Kafka's Uuid): 16 bytes, written as 22
// characters of unpadded URL-safe base64. The zero TopicID means "none".
type TopicID [16]byte

// String returns Kafka's textual form of id.
func (id TopicID) String() string { return base64.RawURLEncoding.EncodeToString(id[:]) }

// IsZero reports whether id is the zero (absent) id.
func (id TopicID) IsZero() bool { return id == TopicID{} }

// MarshalText implements encoding.TextMarshaler (Kafka's textual form).
func (id TopicID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *TopicID) UnmarshalText(b []byte) error {
	p, err := ParseTopicID(string(b))
	if err != nil {
		return err
	}
	*id = p
	return nil
}

// ParseTopicID parses Kafka's textual form of a UUID.
func ParseTopicID(s string) (TopicID, error) {
	var id TopicID
	if len(s) != 22 {
		return id, fmt.Errorf("metadata: topic id %q: want 22 characters", s)
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 16 {
		return id, fmt.Errorf("metadata: topic id %q: not base64url of 16 bytes", s)
	}
	copy(id[:], b)
	return id, nil
}

// NewUUID returns a random version-4 UUID read from r (crypto/rand.Reader
// if r is nil) that is neither zero nor written with a leading '-' (Kafka
// avoids those so that an id is never mistaken for a command-line flag).
func NewUUID(r io.Reader) (TopicID, error) {
	if r == nil {
		r = rand.Reader
	}
	for range 16 {
		var id TopicID
		if _, err := io.ReadFull(r, id[:]); err != nil {
			return TopicID{}, fmt.Errorf("metadata: new uuid: %w", err)
		}
		id[6] = id[6]&0x0f | 0x40 // version 4
		id[8] = id[8]&0x3f | 0x80 // RFC 4122 variant
		if !id.IsZero() && id.String()[0] != '-' {
			return id, nil
		}
	}
	return TopicID{}, fmt.Errorf("metadata: new uuid: random source keeps returning unusable ids")
}

// ResourceType says what a config record applies to. The values are Kafka's
// ConfigResource types.
type ResourceType int8

const (
	// ResourceTopic is a topic's configs; the resource name is the topic.
	ResourceTopic ResourceType = 2
	// ResourceBroker is a broker's dynamic configs; the resource name is
	// the node id in decimal, or "" for the cluster-wide default.
	ResourceBroker ResourceType = 4
)

// RecordType identifies a record in the Raft log. Values are stable: they
// are written to disk.
type RecordType uint8

// Record types.
const (
	TypeRegisterBroker      RecordType = 1
	TypeCreateTopic         RecordType = 2
	TypeDeleteTopic         RecordType = 3
	TypeCreatePartitions    RecordType = 4
	TypeAlterConfigs        RecordType = 5
	TypeAllocateProducerIDs RecordType = 6
	TypeChangePartition     RecordType = 7
	TypeInitCluster         RecordType = 8
	TypeBatch               RecordType = 9
	TypeFenceBroker         RecordType = 10
	TypeUnfenceBroker       RecordType = 11
	TypeUnregisterBroker    RecordType = 12
)

// Record is one change to the metadata state. The concrete types are the
// structs of this file; a Record is a plain value and is not retained by
// the functions it is passed to.
type Record interface {
	// Type returns the record's type tag.
	Type() RecordType
}

// PartitionAssignment is one partition: where its replicas are and who
// leads it. It is both part of records and of the Image.
type PartitionAssignment struct {
	Partition int32   `json:"p"`
	Replicas  []int32 `json:"r"`
	// ISR is the in-sync replica set, a subset of Replicas.
	ISR []int32 `json:"isr"`
	// Leader is a member of ISR, or NoLeader.
	Leader int32 `json:"l"`
	// LeaderEpoch grows by one at every leader change.
	LeaderEpoch int32 `json:"le"`
	// PartitionEpoch grows by one at every change of the partition.
	PartitionEpoch int32 `json:"pe"`
	// Adding and Removing describe an ongoing reassignment (Kafka's
	// AddingReplicas and RemovingReplicas): both are subsets of Replicas,
	// disjoint; the target replica set is Replicas minus Removing. Both
	// are empty when no reassignment is in progress.
	Adding   []int32 `json:"add,omitempty"`
	Removing []int32 `json:"rm,omitempty"`
}

// Reassigning reports whether a reassignment of p is in progress.
func (p PartitionAssignment) Reassigning() bool { return len(p.Adding) > 0 || len(p.Removing) > 0 }

// TargetReplicas returns the replicas p has once its reassignment
// completes: Replicas without Removing, in order. The slice is new.
func (p PartitionAssignment) TargetReplicas() []int32 {
	out := make([]int32, 0, len(p.Replicas))
	for _, r := range p.Replicas {
		if !slices.Contains(p.Removing, r) {
			out = append(out, r)
		}
	}
	return out
}

// NoLeader is the Leader of a partition without a leader.
const NoLeader int32 = -1

// NoLeaderChange in ChangePartition.Leader keeps the current leader.
const NoLeaderChange int32 = -2

// RegisterBroker records that a broker started (or restarted with a new
// incarnation) and how clients reach it. Its Raft index becomes the
// broker's epoch. A registered broker starts fenced: it leads nothing and
// joins no ISR until an UnfenceBroker (sent once its heartbeats show it has
// caught up with the metadata log).
type RegisterBroker struct {
	NodeID int32  `json:"id"`
	Host   string `json:"host"`
	Port   int32  `json:"port"`
	Rack   string `json:"rack,omitempty"`
	// IncarnationID is random per process start, so that a restart is
	// told apart from a duplicate registration.
	IncarnationID [16]byte `json:"inc"`
}

// CreateTopic creates a topic with all its partitions and config overrides.
type CreateTopic struct {
	Name       string                `json:"name"`
	TopicID    TopicID               `json:"id"`
	Partitions []PartitionAssignment `json:"parts"`
	Configs    map[string]string     `json:"configs,omitempty"`
}

// DeleteTopic removes a topic, its partitions and its config overrides.
type DeleteTopic struct {
	TopicID TopicID `json:"id"`
}

// CreatePartitions adds partitions to a topic. New must continue the
// partition numbering (the first one is the topic's current count).
type CreatePartitions struct {
	TopicID TopicID               `json:"id"`
	New     []PartitionAssignment `json:"new"`
}

// AlterConfigs sets and deletes config overrides of one resource. Delete is
// applied after Set; deleting an absent key is a no-op.
type AlterConfigs struct {
	ResourceType ResourceType      `json:"type"`
	Name         string            `json:"name"`
	Set          map[string]string `json:"set,omitempty"`
	Delete       []string          `json:"delete,omitempty"`
}

// AllocateProducerIDs hands the block [FirstID, FirstID+Count) to a broker.
// FirstID must equal the state's next free id, so that two controllers
// racing can never hand out the same block.
type AllocateProducerIDs struct {
	NodeID  int32 `json:"node"`
	FirstID int64 `json:"first"`
	Count   int32 `json:"count"`
}

// ChangePartition changes a partition's leader, ISR or replicas (leader
// election, ISR shrink/expand, reassignment). It applies only if
// PartitionEpoch equals the partition's current epoch (compare-and-set);
// the state then bumps PartitionEpoch, and LeaderEpoch if the leader
// changed.
type ChangePartition struct {
	TopicID   TopicID `json:"id"`
	Partition int32   `json:"p"`
	// Leader is the new leader, NoLeader, or NoLeaderChange.
	Leader int32 `json:"l"`
	// ISR is the new ISR; nil keeps the current one.
	ISR []int32 `json:"isr,omitempty"`
	// Replicas is the new replica list; nil keeps the current one.
	Replicas []int32 `json:"r,omitempty"`
	// PartitionEpoch is the epoch the change was computed against.
	PartitionEpoch int32 `json:"pe"`
	// SetReassignment replaces the partition's Adding and Removing with
	// the two fields below (empty ends a reassignment); false keeps them.
	SetReassignment bool    `json:"sr,omitempty"`
	Adding          []int32 `json:"add,omitempty"`
	Removing        []int32 `json:"rm,omitempty"`
}

// FenceBroker marks a registered broker fenced: its heartbeat lease
// expired or it asked to shut down. Epoch must be the broker's current
// epoch, so that a fence decided against an old incarnation never fences
// the new one. Leader and ISR changes that go with it are separate
// ChangePartition records in the same Batch.
type FenceBroker struct {
	NodeID int32 `json:"id"`
	Epoch  int64 `json:"epoch"`
}

// UnfenceBroker marks a registered broker alive again. Epoch must be the
// broker's current epoch.
type UnfenceBroker struct {
	NodeID int32 `json:"id"`
	Epoch  int64 `json:"epoch"`
}

// UnregisterBroker removes a broker's registration (decommission). Its
// partition replicas must have been moved away first; the controller
// checks that, the state does not.
type UnregisterBroker struct {
	NodeID int32 `json:"id"`
}

// InitCluster sets the cluster id. It is written once, by the first leader
// of a new cluster; later ones are rejected.
type InitCluster struct {
	ClusterID string `json:"cluster_id"`
}

// Batch applies several records atomically: all of them or, if one is
// rejected, none. Batches do not nest.
type Batch struct {
	Records []Record `json:"-"`
}

// Type implements Record.
func (RegisterBroker) Type() RecordType { return TypeRegisterBroker }

// Type implements Record.
func (CreateTopic) Type() RecordType { return TypeCreateTopic }

// Type implements Record.
func (DeleteTopic) Type() RecordType { return TypeDeleteTopic }

// Type implements Record.
func (CreatePartitions) Type() RecordType { return TypeCreatePartitions }

// Type implements Record.
func (AlterConfigs) Type() RecordType { return TypeAlterConfigs }

// Type implements Record.
func (AllocateProducerIDs) Type() RecordType { return TypeAllocateProducerIDs }

// Type implements Record.
func (ChangePartition) Type() RecordType { return TypeChangePartition }

// Type implements Record.
func (InitCluster) Type() RecordType { return TypeInitCluster }

// Type implements Record.
func (Batch) Type() RecordType { return TypeBatch }

// Type implements Record.
func (FenceBroker) Type() RecordType { return TypeFenceBroker }

// Type implements Record.
func (UnfenceBroker) Type() RecordType { return TypeUnfenceBroker }

// Type implements Record.
func (UnregisterBroker) Type() RecordType { return TypeUnregisterBroker }
