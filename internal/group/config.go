package group

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Config tunes the coordinator. Zero fields take Kafka's defaults (see
// DefaultConfig); names in comments are the broker properties.
type Config struct {
	// MinSessionTimeout and MaxSessionTimeout bound a classic member's
	// session timeout (group.min.session.timeout.ms 6 s,
	// group.max.session.timeout.ms 30 min).
	MinSessionTimeout, MaxSessionTimeout time.Duration
	// InitialRebalanceDelay is how long the first rebalance of an empty
	// group waits for more members (group.initial.rebalance.delay.ms, 3 s);
	// negative means none.
	InitialRebalanceDelay time.Duration
	// MaxGroupSize caps the members of one group (group.max.size).
	MaxGroupSize int
	// OffsetsRetention is how long the offsets of an empty group are kept
	// (offsets.retention.minutes, 7 days).
	OffsetsRetention time.Duration
	// RetentionCheckInterval is how often expired offsets are removed
	// (offsets.retention.check.interval.ms, 10 min).
	RetentionCheckInterval time.Duration
	// OffsetMetadataMaxBytes bounds a commit's metadata string
	// (offset.metadata.max.bytes, 4096).
	OffsetMetadataMaxBytes int
	// NewMemberJoinTimeout drops a new member that never completes its
	// first join (Kafka's fixed 5 minutes).
	NewMemberJoinTimeout time.Duration

	// ConsumerSessionTimeout and ConsumerHeartbeatInterval are the KIP-848
	// member session and heartbeat interval
	// (group.consumer.session.timeout.ms 45 s,
	// group.consumer.heartbeat.interval.ms 5 s).
	ConsumerSessionTimeout, ConsumerHeartbeatInterval time.Duration
	// ConsumerMaxSize caps a KIP-848 group (group.consumer.max.size).
	ConsumerMaxSize int

	// Topics answers which topics and partitions exist.
	Topics Topics
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// NewMemberID makes a member id for a client id (Kafka's
	// clientId-UUID when nil).
	NewMemberID func(clientID string) string
	// Logger receives load and expiry events (discarded when nil).
	Logger *slog.Logger
}

// Topics is the coordinator's view of the cluster's topics.
type Topics interface {
	// Topic returns a topic's id and partition count.
	Topic(name string) (id [16]byte, partitions int32, ok bool)
	// TopicByID returns the name and partition count of a topic id.
	TopicByID(id [16]byte) (name string, partitions int32, ok bool)
	// Names lists every topic (for regex subscriptions), internal
	// topics excluded.
	Names() []string
}

// DefaultConfig returns Kafka's defaults.
func DefaultConfig() Config {
	return Config{
		MinSessionTimeout:         6 * time.Second,
		MaxSessionTimeout:         30 * time.Minute,
		InitialRebalanceDelay:     3 * time.Second,
		MaxGroupSize:              10000,
		OffsetsRetention:          7 * 24 * time.Hour,
		RetentionCheckInterval:    10 * time.Minute,
		OffsetMetadataMaxBytes:    4096,
		NewMemberJoinTimeout:      5 * time.Minute,
		ConsumerSessionTimeout:    45 * time.Second,
		ConsumerHeartbeatInterval: 5 * time.Second,
		ConsumerMaxSize:           10000,
	}
}

// withDefaults fills zero fields from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	set := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	set(&c.MinSessionTimeout, d.MinSessionTimeout)
	set(&c.MaxSessionTimeout, d.MaxSessionTimeout)
	set(&c.InitialRebalanceDelay, d.InitialRebalanceDelay)
	set(&c.OffsetsRetention, d.OffsetsRetention)
	set(&c.RetentionCheckInterval, d.RetentionCheckInterval)
	set(&c.NewMemberJoinTimeout, d.NewMemberJoinTimeout)
	set(&c.ConsumerSessionTimeout, d.ConsumerSessionTimeout)
	set(&c.ConsumerHeartbeatInterval, d.ConsumerHeartbeatInterval)
	if c.InitialRebalanceDelay < 0 {
		c.InitialRebalanceDelay = 0
	}
	if c.MaxGroupSize <= 0 {
		c.MaxGroupSize = d.MaxGroupSize
	}
	if c.ConsumerMaxSize <= 0 {
		c.ConsumerMaxSize = d.ConsumerMaxSize
	}
	if c.OffsetMetadataMaxBytes <= 0 {
		c.OffsetMetadataMaxBytes = d.OffsetMetadataMaxBytes
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.NewMemberID == nil {
		c.NewMemberID = randomMemberID
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Topics == nil {
		c.Topics = noTopics{}
	}
	return c
}

// partitionExists reports whether topic has partition.
func (c *Config) partitionExists(topic string, partition int32) bool {
	_, n, ok := c.Topics.Topic(topic)
	return ok && partition >= 0 && partition < n
}

type noTopics struct{}

func (noTopics) Topic(string) ([16]byte, int32, bool)     { return [16]byte{}, 0, false }
func (noTopics) TopicByID([16]byte) (string, int32, bool) { return "", 0, false }
func (noTopics) Names() []string                          { return nil }

// randomMemberID is Kafka's member id: the client id, a dash and a random
// UUID.
func randomMemberID(clientID string) string {
	return clientID + "-" + newUUID()
}

// newUUID returns a random (version 4) UUID in its text form.
func newUUID() string {
	var u [16]byte
	_, _ = rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// asKerr is errors.As for Kafka errors.
func asKerr(err error, target **kerr.Error) bool { return errors.As(err, target) }
