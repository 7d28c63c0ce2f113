// Package config holds a samsa node's configuration: what a Kafka operator
// would put in server.properties, plus samsa's own settings.
//
// Every setting is a property with Kafka's name where Kafka has one
// (num.partitions, log.retention.ms, message.max.bytes, ...). A value comes
// from, in increasing priority:
//
//  1. the built-in default,
//  2. the config file (--config FILE, Java properties syntax: "name=value"
//     lines, '#' comments),
//  3. the environment: SAMSA_ followed by the name upper-cased with dots and
//     dashes as underscores (log.retention.ms -> SAMSA_LOG_RETENTION_MS),
//  4. command-line flags (--data-dir, --kafka-addr, ... or --set name=value).
//
// Load returns a validated Broker; unknown names and bad values are errors
// that name the property and the source that set it.
package config

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Broker is the resolved configuration of one node.
type Broker struct {
	NodeID         int32
	DataDir        string
	KafkaAddr      string
	AdvertisedAddr string
	ControllerAddr string
	// AdvertisedControllerAddr is how other nodes reach a non-voter's
	// controller listener ("" = ControllerAddr).
	AdvertisedControllerAddr string
	Voters                   string
	HTTPAddr                 string
	Rack                     string

	NumPartitions            int32
	DefaultReplicationFactor int16
	AutoCreateTopics         bool
	MinInsyncReplicas        int32

	MessageMaxBytes       int32
	SocketRequestMaxBytes int32
	ConnectionsMaxIdle    time.Duration

	LogSegmentBytes        int64
	LogSegmentMs           time.Duration
	LogRetentionMs         time.Duration // < 0: forever
	LogRetentionBytes      int64
	LogRetentionCheck      time.Duration
	LogIndexIntervalBytes  int32
	LogIndexSizeMaxBytes   int32
	LogFlushMessages       int64
	LogFlushMs             time.Duration
	LogFsyncOnAck          bool
	LogMessageTimestamp    string // CreateTime | LogAppendTime
	CompressionType        string
	OffsetsTopicPartitions int32
	// OffsetsTopicReplicationFactor is the replication factor of
	// __consumer_offsets (capped by the live brokers when it is created).
	OffsetsTopicReplicationFactor int16

	// Cluster settings.
	SourceAddress            string        // inter.node.source.address
	HeartbeatInterval        time.Duration // broker.heartbeat.interval.ms
	SessionTimeout           time.Duration // broker.session.timeout.ms
	ReplicaLagTimeMax        time.Duration // replica.lag.time.max.ms
	ReplicaFetchWaitMax      time.Duration // replica.fetch.wait.max.ms
	ReplicaFetchMaxBytes     int32         // replica.fetch.max.bytes
	AutoLeaderRebalance      bool          // auto.leader.rebalance.enable
	LeaderImbalanceCheck     time.Duration // leader.imbalance.check.interval.seconds
	UncleanLeaderElection    bool          // unclean.leader.election.enable
	ControlledShutdownEnable bool          // controlled.shutdown.enable
	// RackAwareReads is replica.selector.class naming Kafka's
	// RackAwareReplicaSelector: consumers that give their rack are sent to
	// a replica in it (KIP-392).
	RackAwareReads bool

	// values holds every property as its final string, by Kafka name.
	values map[string]string
	// sources records where each non-default value came from.
	sources map[string]Source
}

// Source says where a property's value came from.
type Source int

// Sources, in increasing priority.
const (
	SourceDefault Source = iota
	SourceFile
	SourceEnv
	SourceFlag
)

func (s Source) String() string {
	return [...]string{"default", "config file", "environment", "flag"}[s]
}

// Value returns the final value of a property by its Kafka name.
func (b *Broker) Value(name string) (string, bool) {
	v, ok := b.values[name]
	return v, ok
}

// SourceOf tells where a property's value came from.
func (b *Broker) SourceOf(name string) Source { return b.sources[name] }

// Properties returns every property's final value by name. The map is a copy.
func (b *Broker) Properties() map[string]string {
	out := make(map[string]string, len(b.values))
	for k, v := range b.values {
		out[k] = v
	}
	return out
}

// Names returns all property names, sorted.
func Names() []string {
	out := make([]string, 0, len(properties))
	for _, p := range properties {
		out = append(out, p.name)
	}
	sort.Strings(out)
	return out
}

// Doc returns the documentation line of a property ("" if unknown).
func Doc(name string) string {
	if p := lookup(name); p != nil {
		return p.doc
	}
	return ""
}

// Default returns the built-in default of a property.
func Default(name string) (string, bool) {
	if p := lookup(name); p != nil {
		return p.def, true
	}
	return "", false
}

// EnvName is the environment variable that sets a property.
func EnvName(name string) string {
	r := strings.NewReplacer(".", "_", "-", "_")
	return "SAMSA_" + strings.ToUpper(r.Replace(name))
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1", "yes", "on":
		return true, nil
	case "false", "0", "no", "off":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean (true/false)", s)
}

func parseInt(s string, bits int) (int64, error) {
	v, err := strconv.ParseInt(strings.TrimSpace(s), 10, bits)
	if err != nil {
		return 0, fmt.Errorf("%q is not an integer of %d bits", s, bits)
	}
	return v, nil
}

func parseMillis(s string) (time.Duration, error) {
	v, err := parseInt(s, 64)
	if err != nil {
		return 0, err
	}
	if v < 0 || v > int64(math.MaxInt64/time.Millisecond) {
		return -1, nil // never / forever (Kafka uses Long.MAX_VALUE for "never")
	}
	return time.Duration(v) * time.Millisecond, nil
}

// ExplicitProperties returns the properties set by a config file, the
// environment or a flag (not those left at their defaults), by name. Topic
// configs fall back to these as STATIC_BROKER_CONFIG; below them are the
// built-in defaults (DEFAULT_CONFIG).
func (b *Broker) ExplicitProperties() map[string]string {
	out := map[string]string{}
	for k, v := range b.values {
		if b.sources[k] != SourceDefault {
			out[k] = v
		}
	}
	return out
}
