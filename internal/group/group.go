package group

import (
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// State is a group's state. Classic groups use Empty, PreparingRebalance,
// CompletingRebalance, Stable and Dead; consumer groups (KIP-848) use Empty,
// Assigning, Reconciling, Stable and Dead.
type State int8

// Group states, named as Kafka names them in DescribeGroups and ListGroups.
const (
	StateEmpty State = iota
	StatePreparingRebalance
	StateCompletingRebalance
	StateStable
	StateDead
	StateAssigning
	StateReconciling
)

var stateNames = [...]string{"Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead", "Assigning", "Reconciling"}

// String returns Kafka's name of the state.
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "Unknown"
}

// Type is a group's protocol family (ListGroups v5 types filter).
type Type int8

// Group types.
const (
	TypeClassic  Type = iota // JoinGroup/SyncGroup, client-side assignment
	TypeConsumer             // ConsumerGroupHeartbeat (KIP-848), server-side assignment
)

// String returns Kafka's name of the type.
func (t Type) String() string {
	if t == TypeConsumer {
		return "consumer"
	}
	return "classic"
}

// RequestID names a parked request inside a Group: the shard maps it to the
// connection waiting for the answer. Tests pick their own.
type RequestID uint64

// Reply is a response to send to the request RequestID.
type Reply struct {
	To  RequestID
	Msg kmsg.Response
}

// Effects are what one step of a Group asks its owner to do, in order:
// send Replies now, append Records to the group's __consumer_offsets
// partition as one batch and, once that batch is committed (high watermark
// past it) or failed, call Then with the outcome. Then may be nil only when
// Records is empty.
type Effects struct {
	Replies []Reply
	Records []Record
	Then    func(now time.Time, err error) Effects
}

// add appends o's replies and records to e and chains the continuations.
func (e *Effects) add(o Effects) {
	e.Replies = append(e.Replies, o.Replies...)
	if len(o.Records) == 0 {
		return
	}
	e.Records = append(e.Records, o.Records...)
	first, second := e.Then, o.Then
	switch {
	case first == nil:
		e.Then = second
	case second != nil:
		e.Then = func(now time.Time, err error) Effects {
			out := first(now, err)
			out.add(second(now, err))
			return out
		}
	}
}

// reply returns Effects holding one reply.
func reply(to RequestID, msg kmsg.Response) Effects {
	return Effects{Replies: []Reply{{To: to, Msg: msg}}}
}

// Client describes the connection a request came from.
type Client struct {
	ID   string // the request header's client id
	Host string // the peer's address, as Kafka shows it ("/127.0.0.1")
}

// topicPartition names a committed partition.
type topicPartition struct {
	topic     string
	partition int32
}

// member is one member of a classic group.
type member struct {
	id         string
	instanceID string // "" for a dynamic member
	clientID   string
	clientHost string
	// seq orders members by when they first joined (Kafka keeps members
	// in insertion order; the first one becomes leader).
	seq              uint64
	sessionTimeout   time.Duration
	rebalanceTimeout time.Duration
	protocolType     string
	protocols        []protocol
	assignment       []byte
	// joinWait and syncWait are the parked JoinGroup / SyncGroup
	// requests, 0 when none.
	joinWait, syncWait RequestID
	joinVersion        int16
	syncVersion        int16
	// isNew is set from a member's first join until its first join
	// response; such a member is dropped after NewMemberJoinTimeout.
	isNew      bool
	newExpires time.Time
	// expires is when the session ends without a heartbeat.
	expires time.Time
}

type protocol struct {
	name     string
	metadata []byte
}

// metadataFor returns the member's metadata for a protocol.
func (m *member) metadataFor(name string) ([]byte, bool) {
	for _, p := range m.protocols {
		if p.name == name {
			return p.metadata, true
		}
	}
	return nil, false
}

// Group is one consumer group's state: membership (classic or KIP-848) and
// committed offsets. It is a deterministic state machine: every method takes
// the current time, changes nothing outside the Group and returns Effects.
// One goroutine (the shard owning the group) calls it.
type Group struct {
	id  string
	cfg *Config
	typ Type

	state      State
	stateSince time.Time

	// Classic membership.
	protocolType string
	protocol     string
	generation   int32
	leader       string
	members      map[string]*member
	nextSeq      uint64
	// pending are KIP-394 member ids handed out with MEMBER_ID_REQUIRED,
	// valid until their deadline.
	pending map[string]time.Time
	// static maps group.instance.id to the member id (KIP-345).
	static map[string]string
	// rebalances counts prepareRebalance calls, so that a continuation
	// can tell whether the rebalance it belongs to is still current.
	rebalances uint64
	// joinDeadline ends the join phase (PreparingRebalance). With
	// initialJoin, joins of new members extend it up to joinMax.
	joinDeadline time.Time
	joinMax      time.Time
	initialJoin  bool
	// pendingSync lists the members that must send SyncGroup before
	// syncDeadline (CompletingRebalance).
	pendingSync  map[string]bool
	syncDeadline time.Time
	// storing is set while the leader's assignment is being written.
	storing bool

	// consumer is the KIP-848 state, nil for classic groups.
	consumer *consumerGroup

	// Offsets.
	offsets map[topicPartition]OffsetCommit
	// pendingCommits counts appended-but-not-committed offset commits
	// per partition (OffsetFetch RequireStable).
	pendingCommits map[topicPartition]int
}

// newGroup returns an empty classic group.
func newGroup(id string, cfg *Config, now time.Time) *Group {
	return &Group{
		id: id, cfg: cfg, state: StateEmpty, stateSince: now,
		members: map[string]*member{}, pending: map[string]time.Time{}, static: map[string]string{},
		offsets: map[topicPartition]OffsetCommit{}, pendingCommits: map[topicPartition]int{},
	}
}

// ID returns the group id.
func (g *Group) ID() string { return g.id }

// State returns the group's state.
func (g *Group) State() State { return g.state }

// Type returns the group's type.
func (g *Group) Type() Type { return g.typ }

// Generation returns the classic generation (or the KIP-848 group epoch).
func (g *Group) Generation() int32 {
	if g.consumer != nil {
		return g.consumer.epoch
	}
	return g.generation
}

// ProtocolType returns the group's protocol type ("consumer" for Kafka
// consumers, "" for groups that only store offsets).
func (g *Group) ProtocolType() string {
	if g.typ == TypeConsumer {
		return "consumer"
	}
	return g.protocolType
}

// transition moves the group to state s.
func (g *Group) transition(s State, now time.Time) {
	g.state = s
	g.stateSince = now
}

// sortedMembers returns the members in join order.
func (g *Group) sortedMembers() []*member {
	ms := make([]*member, 0, len(g.members))
	for _, m := range g.members {
		ms = append(ms, m)
	}
	slices.SortFunc(ms, func(a, b *member) int {
		switch {
		case a.seq < b.seq:
			return -1
		case a.seq > b.seq:
			return 1
		}
		return 0
	})
	return ms
}

// isEmptyOfMembers reports whether no member (classic or consumer) is in
// the group.
func (g *Group) isEmptyOfMembers() bool {
	if g.consumer != nil {
		return len(g.consumer.members) == 0
	}
	return len(g.members) == 0
}

// storeErrorCode maps a failed append of group records to the error Kafka
// returns for it; an offset commit too large for one batch is
// INVALID_COMMIT_OFFSET_SIZE, group metadata too large UNKNOWN_SERVER_ERROR.
func storeErrorCode(err error, commit bool) int16 {
	var ke *kerr.Error
	if asKerr(err, &ke) {
		switch ke {
		case kerr.UnknownTopicOrPartition, kerr.NotEnoughReplicas, kerr.NotEnoughReplicasAfterAppend, kerr.RequestTimedOut:
			return kerr.CoordinatorNotAvailable.Code
		case kerr.NotLeaderForPartition, kerr.KafkaStorageError:
			return kerr.NotCoordinator.Code
		case kerr.MessageTooLarge, kerr.RecordListTooLarge, kerr.InvalidFetchSize:
			if commit {
				return kerr.InvalidCommitOffsetSize.Code
			}
		case kerr.NotCoordinator, kerr.CoordinatorNotAvailable, kerr.CoordinatorLoadInProgress:
			return ke.Code
		}
	}
	return kerr.UnknownServerError.Code
}

// Tick runs the group's timers that are due at now.
func (g *Group) Tick(now time.Time) Effects {
	if g.consumer != nil {
		return g.tickConsumer(now)
	}
	return g.tickClassic(now)
}

// Deadline returns when Tick next has work, false when no timer runs.
func (g *Group) Deadline() (time.Time, bool) {
	if g.consumer != nil {
		return g.consumerDeadline()
	}
	return g.classicDeadline()
}

// Describe answers DescribeGroups for this group.
func (g *Group) Describe() kmsg.DescribeGroupsResponseGroup {
	dg := kmsg.NewDescribeGroupsResponseGroup()
	dg.Group = g.id
	if g.consumer != nil {
		g.describeConsumerAsClassic(&dg)
	} else {
		g.describeClassic(&dg)
	}
	return dg
}

// Listing is one group in a ListGroups answer.
func (g *Group) Listing() kmsg.ListGroupsResponseGroup {
	lg := kmsg.NewListGroupsResponseGroup()
	lg.Group, lg.ProtocolType, lg.GroupState, lg.GroupType = g.id, g.ProtocolType(), g.state.String(), g.typ.String()
	return lg
}
