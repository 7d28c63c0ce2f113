// Package controller makes the decisions of the metadata quorum's leader.
// It turns Kafka admin intents (CreateTopics, DeleteTopics,
// CreatePartitions, AlterConfigs, IncrementalAlterConfigs, broker
// registration, producer-id blocks) into validated metadata records,
// proposes them through Raft (package metadata) and answers with the Kafka
// error codes the broker puts straight into its responses.
//
// Every decision is taken under one mutex against the leader's latest
// image (metadata.Node.LeaderImage, which waits until the leader has
// applied every entry of earlier terms) and proposed before the mutex is
// released, so two concurrent requests never both see a free topic name or
// the same producer-id block. The state machine re-checks what it can and
// rejects conflicts, which this package maps to error codes too.
//
// Validation follows Kafka's ReplicationControlManager and
// ConfigurationControlManager: the same checks, in the same order, with the
// same error codes and messages where Kafka has them. Placement
// (placement.go) spreads leaders round-robin over the live (registered and
// unfenced) brokers, starting at the least-loaded one, and never puts two
// replicas of a partition on one broker.
//
// The cluster decisions follow Kafka's KRaft controller:
//
//  1. Liveness (liveness.go): brokers register (BrokerRegistration; a new
//     registration is fenced) and heartbeat (BrokerHeartbeat). The lease
//     table lives only in the controller's memory: a newly elected
//     controller gives every broker a fresh lease. A broker that has
//     caught up with the metadata log is unfenced; one whose lease expired
//     (Config.SessionTimeout), that asks to be fenced, or that asks for a
//     controlled shutdown is fenced.
//  2. Fencing a broker (liveness.go, plan.go) takes it out of every ISR
//     and moves its leaderships to the first live ISR member in replica
//     order, in the same Batch as the FenceBroker record. When no live ISR member is
//     left the partition keeps its ISR (every member has every committed
//     record) and has no leader, unless unclean.leader.election.enable
//     lets any live replica take over.
//  3. Elections: leaderless partitions get a leader as soon as an ISR
//     member is live again; preferred-leader election (ElectLeaders, and
//     periodically with Config.AutoLeaderRebalance) moves leadership back
//     to the first replica.
//  4. ISR changes come from partition leaders (AlterPartition,
//     alter_partition.go), checked against broker, leader and partition
//     epochs.
//  5. Reassignments (reassign.go) follow Kafka's adding/removing scheme and
//     complete as soon as every added replica joined the ISR.
//
// Run (run.go) is the only goroutine: its ticks fence expired brokers,
// repair what an interrupted decision left behind, complete
// reassignments and balance leaders. Everything else runs on the caller's
// goroutine; all methods are safe for concurrent use and return after the
// proposal is applied (or failed).
//
// Lock order: mu (decide-then-propose) before leaseMu (the lease table);
// leaseMu is never held while waiting for anything.
package controller

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/topicconfig"
)

// Log is what the controller needs from the metadata quorum.
// *metadata.Node implements it.
type Log interface {
	// LeaderImage returns the image decisions are taken on, or
	// metadata.ErrNotController.
	LeaderImage(ctx context.Context) (metadata.Image, error)
	// Propose replicates a record and returns the image after it.
	Propose(ctx context.Context, rec metadata.Record) (metadata.Image, error)
}

// Defaults used when Config leaves a field zero.
const (
	DefaultMaxPartitionsPerRequest = 100_000
	DefaultProducerIDBlockSize     = 1000
	// DefaultSessionTimeout is broker.session.timeout.ms.
	DefaultSessionTimeout = 2 * time.Second
	// DefaultLeaderImbalanceCheckInterval is
	// leader.imbalance.check.interval.seconds.
	DefaultLeaderImbalanceCheckInterval = 30 * time.Second
	// DefaultTickInterval is how often Run checks leases.
	DefaultTickInterval = 100 * time.Millisecond
)

// Config tunes a Controller.
type Config struct {
	// DefaultNumPartitions is used when CreateTopics asks for -1
	// (num.partitions, default 1).
	DefaultNumPartitions int32
	// DefaultReplicationFactor is used when CreateTopics asks for -1
	// (default.replication.factor, default 1).
	DefaultReplicationFactor int16
	// StaticBrokerConfig returns this node's static broker properties
	// (server.properties names, e.g. log.retention.ms) that topic configs
	// fall back to. nil means none.
	StaticBrokerConfig func() map[string]string
	// MaxPartitionsPerRequest caps the partitions one CreateTopics or
	// CreatePartitions request may create (default 100,000). A single
	// topic is capped at metadata.MaxPartitionsPerTopic.
	MaxPartitionsPerRequest int
	// ProducerIDBlockSize is the size of a producer-id block (default 1000,
	// as Kafka).
	ProducerIDBlockSize int32
	// Rand is the source of topic ids (default crypto/rand).
	Rand io.Reader
	// Logger receives the controller's logs (default slog.Default()).
	Logger *slog.Logger

	// SessionTimeout is broker.session.timeout.ms: an unfenced broker
	// whose last heartbeat is older is fenced (default 2 s).
	SessionTimeout time.Duration
	// AutoLeaderRebalance is auto.leader.rebalance.enable: Run elects
	// preferred leaders every LeaderImbalanceCheckInterval. Kafka's
	// default is true; the zero Config leaves it off.
	AutoLeaderRebalance bool
	// LeaderImbalanceCheckInterval is
	// leader.imbalance.check.interval.seconds (default 30 s).
	LeaderImbalanceCheckInterval time.Duration
	// TickInterval is the period of Run's checks (default 100 ms).
	TickInterval time.Duration
	// Now is the clock of leases and periodic tasks (default time.Now).
	Now func() time.Time
}

// Controller validates admin requests and proposes the resulting records.
type Controller struct {
	log Log
	cfg Config
	lg  *slog.Logger

	mu sync.Mutex // serialises decide-then-propose; held across Propose

	leaseMu sync.Mutex // guards the fields below; taken after mu, never held while waiting
	// active is true while this controller believes it leads the quorum;
	// becoming active gives every broker a fresh lease.
	active bool
	// leases maps a broker to its heartbeat lease.
	leases map[int32]*lease
	// lastRebalance is when the last periodic preferred-leader election
	// ran (or when this controller became active).
	lastRebalance time.Time
}

// New returns a controller proposing through log.
func New(log Log, cfg Config) *Controller {
	if cfg.DefaultNumPartitions <= 0 {
		cfg.DefaultNumPartitions = 1
	}
	if cfg.DefaultReplicationFactor <= 0 {
		cfg.DefaultReplicationFactor = 1
	}
	if cfg.MaxPartitionsPerRequest <= 0 {
		cfg.MaxPartitionsPerRequest = DefaultMaxPartitionsPerRequest
	}
	if cfg.ProducerIDBlockSize <= 0 {
		cfg.ProducerIDBlockSize = DefaultProducerIDBlockSize
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = DefaultSessionTimeout
	}
	if cfg.LeaderImbalanceCheckInterval <= 0 {
		cfg.LeaderImbalanceCheckInterval = DefaultLeaderImbalanceCheckInterval
	}
	if cfg.TickInterval <= 0 {
		cfg.TickInterval = DefaultTickInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Controller{log: log, cfg: cfg, lg: cfg.Logger.With("component", "controller"), leases: map[int32]*lease{}}
}

// Error is a Kafka error code with a message, returned by the methods that
// have a single result. errors.Is(err, kerr.NotController) works on it.
type Error struct {
	Code    *kerr.Error
	Message string
}

// Error implements error.
func (e *Error) Error() string {
	if e.Message == "" {
		return e.Code.Message
	}
	return e.Code.Message + ": " + e.Message
}

// Unwrap returns the Kafka error code.
func (e *Error) Unwrap() error { return e.Code }

// kafkaError maps a Go error from the metadata layer to a Kafka error code
// and message.
func kafkaError(err error) (*kerr.Error, string) {
	switch {
	case err == nil:
		return nil, ""
	case errors.Is(err, metadata.ErrNotController):
		return kerr.NotController, ""
	case errors.Is(err, metadata.ErrClosed):
		return kerr.NotController, "the node is shutting down"
	case errors.Is(err, metadata.ErrTimeout), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return kerr.RequestTimedOut, "the metadata change was not committed in time; it may still be applied"
	case errors.Is(err, metadata.ErrTopicExists):
		return kerr.TopicAlreadyExists, err.Error()
	case errors.Is(err, metadata.ErrUnknownTopic):
		return kerr.UnknownTopicOrPartition, err.Error()
	case errors.Is(err, metadata.ErrStaleEpoch):
		return kerr.InvalidUpdateVersion, err.Error()
	}
	return kerr.UnknownServerError, err.Error()
}

func errorOf(err error) *Error {
	code, msg := kafkaError(err)
	return &Error{Code: code, Message: msg}
}

// staticConfig returns a copy of the static broker properties.
func (c *Controller) staticConfig() map[string]string {
	if c.cfg.StaticBrokerConfig == nil {
		return nil
	}
	return maps.Clone(c.cfg.StaticBrokerConfig())
}

// brokerDefaults returns the broker properties topic configs fall back to:
// the static ones overlaid with the cluster-wide dynamic defaults.
func (c *Controller) brokerDefaults(img metadata.Image) map[string]string {
	m := c.staticConfig()
	if m == nil {
		m = map[string]string{}
	}
	maps.Copy(m, img.BrokerConfigs(""))
	return m
}

// layers returns the broker layers that topic configs resolve through on
// the controller: the cluster-wide dynamic defaults, then the static
// properties.
func (c *Controller) layers(img metadata.Image) []topicconfig.Layer {
	return []topicconfig.Layer{
		{Source: kmsg.ConfigSourceDynamicDefaultBrokerConfig, Configs: img.BrokerConfigs("")},
		{Source: kmsg.ConfigSourceStaticBrokerConfig, Configs: c.staticConfig()},
	}
}

// BrokerRegistration is what a broker tells the controller when it starts.
type BrokerRegistration struct {
	NodeID int32
	Host   string
	Port   int32
	Rack   string
	// IncarnationID is random per process start.
	IncarnationID [16]byte
}

// RegisterBroker records a starting broker and returns its broker epoch.
// Registering again with the same incarnation and address is a no-op that
// returns the existing epoch; a new incarnation gets a new epoch, and in
// the same Raft entry the broker is taken out of every ISR and leadership
// it still held (a restarted process is not in sync). A registration is
// fenced until the broker's heartbeats show it caught up (BrokerHeartbeat).
// Errors are *Error (INVALID_REQUEST, NOT_CONTROLLER, REQUEST_TIMED_OUT).
func (c *Controller) RegisterBroker(ctx context.Context, reg BrokerRegistration) (int64, error) {
	return c.register(ctx, reg, "")
}

func validateRegistration(reg BrokerRegistration) *Error {
	switch {
	case reg.NodeID < 0:
		return &Error{Code: kerr.InvalidRequest, Message: fmt.Sprintf("broker id %d is negative", reg.NodeID)}
	case reg.Host == "" || len(reg.Host) > metadata.MaxHostLen:
		return &Error{Code: kerr.InvalidRequest, Message: "broker host must have 1 to 255 bytes"}
	case reg.Port <= 0 || reg.Port > math.MaxUint16:
		return &Error{Code: kerr.InvalidRequest, Message: fmt.Sprintf("broker port %d is out of range", reg.Port)}
	case len(reg.Rack) > metadata.MaxHostLen:
		return &Error{Code: kerr.InvalidRequest, Message: "broker rack is longer than 255 bytes"}
	}
	return nil
}

// register is RegisterBroker with an optional cluster id to check
// (INCONSISTENT_CLUSTER_ID when it differs from the cluster's).
func (c *Controller) register(ctx context.Context, reg BrokerRegistration, clusterID string) (int64, error) {
	if e := validateRegistration(reg); e != nil {
		return 0, e
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	img, err := c.leaderImage(ctx)
	if err != nil {
		return 0, errorOf(err)
	}
	if clusterID != "" && img.ClusterID() != "" && clusterID != img.ClusterID() {
		return 0, &Error{Code: kerr.InconsistentClusterID,
			Message: fmt.Sprintf("broker %d belongs to cluster %s, this is cluster %s", reg.NodeID, clusterID, img.ClusterID())}
	}
	old, existed := img.Broker(reg.NodeID)
	if existed && old.Host == reg.Host && old.Port == reg.Port &&
		old.Rack == reg.Rack && old.IncarnationID == reg.IncarnationID {
		c.renewLease(reg.NodeID, old.Epoch)
		return old.Epoch, nil
	}
	var changes []metadata.Record
	if existed {
		// The old incarnation's ISR memberships and leaderships end with
		// it; the new one is fenced until it has caught up.
		pl := newPlan(img, c.uncleanFunc(img))
		pl.removeBroker(reg.NodeID, c.liveExcept(img, reg.NodeID, nil))
		changes = pl.records()
	}
	img, err = c.proposeChanges(ctx, img, nil, changes, []metadata.Record{metadata.RegisterBroker{
		NodeID: reg.NodeID, Host: reg.Host, Port: reg.Port, Rack: reg.Rack, IncarnationID: reg.IncarnationID,
	}})
	if err != nil {
		return 0, errorOf(err)
	}
	b, ok := img.Broker(reg.NodeID)
	if !ok {
		return 0, &Error{Code: kerr.UnknownServerError, Message: "registration applied but broker missing"}
	}
	c.renewLease(reg.NodeID, b.Epoch)
	c.lg.Info("broker registered", "node", reg.NodeID, "host", reg.Host, "port", reg.Port, "epoch", b.Epoch,
		"previous_epoch", old.Epoch, "partitions_changed", len(changes))
	return b.Epoch, nil
}

// AllocateProducerIDBlock hands a block of producer ids to a broker (Kafka's
// AllocateProducerIds). brokerEpoch must match the broker's registration,
// or be -1 to skip the check. Errors are *Error: BROKER_ID_NOT_REGISTERED,
// STALE_BROKER_EPOCH, UNKNOWN_SERVER_ERROR when ids are exhausted,
// NOT_CONTROLLER, REQUEST_TIMED_OUT.
func (c *Controller) AllocateProducerIDBlock(ctx context.Context, nodeID int32, brokerEpoch int64) (first int64, count int32, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	img, err := c.leaderImage(ctx)
	if err != nil {
		return 0, 0, errorOf(err)
	}
	b, ok := img.Broker(nodeID)
	if !ok {
		return 0, 0, &Error{Code: kerr.BrokerIDNotRegistered, Message: fmt.Sprintf("broker %d is not registered", nodeID)}
	}
	if brokerEpoch != -1 && brokerEpoch != b.Epoch {
		return 0, 0, &Error{Code: kerr.StaleBrokerEpoch,
			Message: fmt.Sprintf("broker %d epoch %d is not the current %d", nodeID, brokerEpoch, b.Epoch)}
	}
	size := c.cfg.ProducerIDBlockSize
	next := img.NextProducerID()
	if next > math.MaxInt64-int64(size) {
		return 0, 0, &Error{Code: kerr.UnknownServerError, Message: "producer ids are exhausted"}
	}
	if _, err := c.log.Propose(ctx, metadata.AllocateProducerIDs{NodeID: nodeID, FirstID: next, Count: size}); err != nil {
		return 0, 0, errorOf(err)
	}
	return next, size, nil
}
