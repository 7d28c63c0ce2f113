package config

import (
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
	"time"
)

// property is one named setting: its default, its documentation and how it
// lands in the Broker struct.
type property struct {
	name string
	flag string // dedicated command-line flag, "" if only --set/env/file
	def  string
	doc  string
	set  func(b *Broker, v string) error
}

func intProp(min, max int64, dst func(*Broker) *int64) func(*Broker, string) error {
	return func(b *Broker, v string) error {
		n, err := parseInt(v, 64)
		if err != nil {
			return err
		}
		if n < min || n > max {
			return fmt.Errorf("%d is out of range [%d, %d]", n, min, max)
		}
		*dst(b) = n
		return nil
	}
}

func int32Prop(min, max int32, dst func(*Broker) *int32) func(*Broker, string) error {
	return func(b *Broker, v string) error {
		var n int64
		if err := intProp(int64(min), int64(max), func(*Broker) *int64 { return &n })(b, v); err != nil {
			return err
		}
		*dst(b) = int32(n)
		return nil
	}
}

func millisProp(allowNegative bool, dst func(*Broker) *time.Duration) func(*Broker, string) error {
	return func(b *Broker, v string) error {
		d, err := parseMillis(v)
		if err != nil {
			return err
		}
		if d < 0 && !allowNegative {
			return fmt.Errorf("%s must not be negative", v)
		}
		*dst(b) = d
		return nil
	}
}

func stringProp(dst func(*Broker) *string, allowed ...string) func(*Broker, string) error {
	return func(b *Broker, v string) error {
		v = strings.TrimSpace(v)
		if len(allowed) > 0 {
			ok := false
			for _, a := range allowed {
				if strings.EqualFold(a, v) {
					v, ok = a, true
				}
			}
			if !ok {
				return fmt.Errorf("%q is not one of %s", v, strings.Join(allowed, ", "))
			}
		}
		*dst(b) = v
		return nil
	}
}

func boolProp(dst func(*Broker) *bool) func(*Broker, string) error {
	return func(b *Broker, v string) error {
		x, err := parseBool(v)
		if err != nil {
			return err
		}
		*dst(b) = x
		return nil
	}
}

// properties is the table of every setting a node understands.
var properties = []property{
	{name: "node.id", flag: "node-id", def: "1", doc: "This node's id in the cluster.",
		set: int32Prop(0, math.MaxInt32, func(b *Broker) *int32 { return &b.NodeID })},
	{name: "log.dirs", flag: "data-dir", def: "./samsa-data", doc: "Directory holding partition logs and metadata.",
		set: stringProp(func(b *Broker) *string { return &b.DataDir })},
	{name: "listeners", flag: "kafka-addr", def: "127.0.0.1:9092", doc: "HOST:PORT the Kafka listener binds to (PLAINTEXT://HOST:PORT accepted).",
		set: addrProp(func(b *Broker) *string { return &b.KafkaAddr })},
	{name: "advertised.listeners", flag: "advertised-addr", def: "", doc: "HOST:PORT clients are told to connect to (default: the listener address).",
		set: addrProp(func(b *Broker) *string { return &b.AdvertisedAddr })},
	{name: "controller.listener", flag: "controller-addr", def: "127.0.0.1:9093", doc: "HOST:PORT of this node's metadata quorum (Raft) listener.",
		set: addrProp(func(b *Broker) *string { return &b.ControllerAddr })},
	{name: "controller.advertised.listener", flag: "advertised-controller-addr", def: "", doc: "HOST:PORT other nodes use to reach this node's controller listener when it is not a voter (default: controller.listener).",
		set: addrProp(func(b *Broker) *string { return &b.AdvertisedControllerAddr })},
	{name: "controller.quorum.voters", flag: "voters", def: "", doc: "Metadata quorum voters as id@host:port,... (default: this node alone).",
		set: stringProp(func(b *Broker) *string { return &b.Voters })},
	{name: "http.listener", flag: "http-addr", def: "127.0.0.1:9644", doc: "HOST:PORT of the HTTP listener (health, metrics, admin API); empty disables it.",
		set: stringProp(func(b *Broker) *string { return &b.HTTPAddr })},
	{name: "broker.rack", def: "", doc: "Rack of this broker.",
		set: stringProp(func(b *Broker) *string { return &b.Rack })},
	{name: "num.partitions", def: "1", doc: "Default number of partitions of a new topic.",
		set: int32Prop(1, 100000, func(b *Broker) *int32 { return &b.NumPartitions })},
	{name: "default.replication.factor", def: "1", doc: "Default replication factor of a new topic.",
		set: func(b *Broker, v string) error {
			var n int32
			if err := int32Prop(1, math.MaxInt16, func(*Broker) *int32 { return &n })(b, v); err != nil {
				return err
			}
			b.DefaultReplicationFactor = int16(n)
			return nil
		}},
	{name: "auto.create.topics.enable", def: "true", doc: "Create a topic when a client produces to or asks metadata for an unknown one.",
		set: boolProp(func(b *Broker) *bool { return &b.AutoCreateTopics })},
	{name: "min.insync.replicas", def: "1", doc: "Replicas that must have a batch before an acks=all produce succeeds.",
		set: int32Prop(1, math.MaxInt16, func(b *Broker) *int32 { return &b.MinInsyncReplicas })},
	{name: "message.max.bytes", def: "1048588", doc: "Largest record batch the broker accepts.",
		set: int32Prop(64, math.MaxInt32, func(b *Broker) *int32 { return &b.MessageMaxBytes })},
	{name: "socket.request.max.bytes", def: "104857600", doc: "Largest request frame the broker reads.",
		set: int32Prop(1024, math.MaxInt32, func(b *Broker) *int32 { return &b.SocketRequestMaxBytes })},
	{name: "connections.max.idle.ms", def: "600000", doc: "Idle connections are closed after this long.",
		set: millisProp(false, func(b *Broker) *time.Duration { return &b.ConnectionsMaxIdle })},
	{name: "log.segment.bytes", def: "1073741824", doc: "Size at which a segment is rolled.",
		set: intProp(14, math.MaxInt32, func(b *Broker) *int64 { return &b.LogSegmentBytes })},
	{name: "log.roll.ms", def: "604800000", doc: "Age at which a segment is rolled (segment.ms).",
		set: millisProp(false, func(b *Broker) *time.Duration { return &b.LogSegmentMs })},
	{name: "log.retention.ms", def: "604800000", doc: "Delete closed segments older than this; -1 keeps forever.",
		set: millisProp(true, func(b *Broker) *time.Duration { return &b.LogRetentionMs })},
	{name: "log.retention.bytes", def: "-1", doc: "Delete closed segments while a partition is larger than this; -1 for no limit.",
		set: intProp(-1, math.MaxInt64, func(b *Broker) *int64 { return &b.LogRetentionBytes })},
	{name: "log.retention.check.interval.ms", def: "300000", doc: "How often retention runs.",
		set: millisProp(false, func(b *Broker) *time.Duration { return &b.LogRetentionCheck })},
	{name: "log.index.interval.bytes", def: "4096", doc: "Bytes between offset index entries.",
		set: int32Prop(0, math.MaxInt32, func(b *Broker) *int32 { return &b.LogIndexIntervalBytes })},
	{name: "log.index.size.max.bytes", def: "10485760", doc: "Largest offset index; a full index rolls the segment.",
		set: int32Prop(4096, math.MaxInt32, func(b *Broker) *int32 { return &b.LogIndexSizeMaxBytes })},
	{name: "log.flush.interval.messages", def: "9223372036854775807", doc: "fsync a partition after this many records.",
		set: intProp(1, math.MaxInt64, func(b *Broker) *int64 { return &b.LogFlushMessages })},
	{name: "log.flush.interval.ms", def: "9223372036854775807", doc: "fsync a partition when its last flush is older than this.",
		set: millisProp(true, func(b *Broker) *time.Duration { return &b.LogFlushMs })},
	{name: "log.fsync.on.ack", flag: "fsync-on-ack", def: "false", doc: "fsync every batch before it is acknowledged (group commit), like Redpanda.",
		set: boolProp(func(b *Broker) *bool { return &b.LogFsyncOnAck })},
	{name: "log.message.timestamp.type", def: "CreateTime", doc: "CreateTime keeps the producer's timestamps; LogAppendTime stamps the broker's.",
		set: stringProp(func(b *Broker) *string { return &b.LogMessageTimestamp }, "CreateTime", "LogAppendTime")},
	{name: "compression.type", def: "producer", doc: "Codec of stored batches: producer keeps the producer's.",
		set: stringProp(func(b *Broker) *string { return &b.CompressionType }, "producer", "uncompressed", "gzip", "snappy", "lz4", "zstd")},
	{name: "offsets.topic.replication.factor", def: "3", doc: "Replication factor of __consumer_offsets (fewer if fewer brokers are live when it is created).",
		set: func(b *Broker, v string) error {
			var n int32
			if err := int32Prop(1, math.MaxInt16, func(*Broker) *int32 { return &n })(b, v); err != nil {
				return err
			}
			b.OffsetsTopicReplicationFactor = int16(n)
			return nil
		}},
	{name: "inter.node.source.address", def: "", doc: "Local IP that outbound connections to other nodes (Raft, controller requests, replication) bind to; empty lets the kernel choose.",
		set: func(b *Broker, v string) error {
			if v != "" && net.ParseIP(v) == nil {
				return fmt.Errorf("%q is not an IP address", v)
			}
			b.SourceAddress = v
			return nil
		}},
	{name: "broker.heartbeat.interval.ms", def: "250", doc: "How often a broker heartbeats to the controller.",
		set: millisProp(false, func(b *Broker) *time.Duration { return &b.HeartbeatInterval })},
	{name: "broker.session.timeout.ms", def: "2000", doc: "A broker without a heartbeat for this long is fenced and its partitions get new leaders.",
		set: millisProp(false, func(b *Broker) *time.Duration { return &b.SessionTimeout })},
	{name: "replica.lag.time.max.ms", def: "30000", doc: "A follower that has not caught up for this long is removed from the ISR.",
		set: millisProp(false, func(b *Broker) *time.Duration { return &b.ReplicaLagTimeMax })},
	{name: "replica.fetch.wait.max.ms", def: "500", doc: "Longest wait of a follower's fetch when there is nothing new.",
		set: millisProp(false, func(b *Broker) *time.Duration { return &b.ReplicaFetchWaitMax })},
	{name: "replica.fetch.max.bytes", def: "1048576", doc: "Bytes a follower fetches per partition and request (at least one batch).",
		set: int32Prop(1, math.MaxInt32, func(b *Broker) *int32 { return &b.ReplicaFetchMaxBytes })},
	{name: "auto.leader.rebalance.enable", def: "true", doc: "Move leadership back to preferred replicas periodically.",
		set: boolProp(func(b *Broker) *bool { return &b.AutoLeaderRebalance })},
	{name: "leader.imbalance.check.interval.seconds", def: "30", doc: "How often the controller checks for preferred-leader imbalance.",
		set: func(b *Broker, v string) error {
			n, err := strconv.ParseInt(v, 10, 32)
			if err != nil || n < 1 {
				return fmt.Errorf("%q is not a positive number of seconds", v)
			}
			b.LeaderImbalanceCheck = time.Duration(n) * time.Second
			return nil
		}},
	{name: "replica.selector.class", def: "", doc: "org.apache.kafka.common.replica.RackAwareReplicaSelector lets consumers that set client.rack read from a replica in their rack (KIP-392); empty: every read goes to the leader.",
		set: func(b *Broker, v string) error {
			switch {
			case v == "":
				b.RackAwareReads = false
			case v == rackAwareReplicaSelector || v == "RackAwareReplicaSelector":
				b.RackAwareReads = true
			default:
				return fmt.Errorf("unsupported replica selector %q: samsa has %s (or empty for leader-only reads)", v, rackAwareReplicaSelector)
			}
			return nil
		}},
	{name: "unclean.leader.election.enable", def: "false", doc: "Elect an out-of-sync replica when no ISR member is alive (may lose acknowledged data).",
		set: boolProp(func(b *Broker) *bool { return &b.UncleanLeaderElection })},
	{name: "controlled.shutdown.enable", def: "true", doc: "On SIGTERM, move leadership away before stopping.",
		set: boolProp(func(b *Broker) *bool { return &b.ControlledShutdownEnable })},
	{name: "offsets.topic.num.partitions", def: "50", doc: "Partitions of __consumer_offsets.",
		set: int32Prop(1, 1000, func(b *Broker) *int32 { return &b.OffsetsTopicPartitions })},
	// Group coordinator settings, read by internal/broker/groups.go.
	checkedProp("group.min.session.timeout.ms", "6000", "Smallest session timeout a group member may ask for.", 0, math.MaxInt32),
	checkedProp("group.max.session.timeout.ms", "1800000", "Largest session timeout a group member may ask for.", 1, math.MaxInt32),
	checkedProp("group.initial.rebalance.delay.ms", "3000", "How long a new group waits for more members before its first rebalance.", 0, math.MaxInt32),
	checkedProp("group.max.size", "2147483647", "Most members a classic group may have.", 1, math.MaxInt32),
	checkedProp("offsets.retention.minutes", "10080", "Committed offsets of an empty group are kept this long.", 1, math.MaxInt32),
	checkedProp("offsets.retention.check.interval.ms", "600000", "How often expired offsets are removed.", 1, math.MaxInt64),
	checkedProp("offset.metadata.max.bytes", "4096", "Largest metadata string of a committed offset.", 0, math.MaxInt32),
	checkedProp("group.consumer.session.timeout.ms", "45000", "Session timeout of KIP-848 consumer group members.", 1, math.MaxInt32),
	checkedProp("group.consumer.heartbeat.interval.ms", "5000", "Heartbeat interval of KIP-848 consumer group members.", 1, math.MaxInt32),
	checkedProp("group.consumer.max.size", "2147483647", "Most members a KIP-848 consumer group may have.", 1, math.MaxInt32),
}

// checkedProp is an integer property with no field of its own in Broker:
// it is validated here and read by name (Broker.Value) where it is used.
func checkedProp(name, def, doc string, min, max int64) property {
	return property{name: name, def: def, doc: doc, set: func(b *Broker, v string) error {
		var n int64
		return intProp(min, max, func(*Broker) *int64 { return &n })(b, v)
	}}
}

// aliases maps other Kafka names to the property they set, with a converter.
var aliases = map[string]struct {
	target  string
	convert func(string) (string, error)
}{
	"log.retention.hours":   {"log.retention.ms", scaleMillis(time.Hour)},
	"log.retention.minutes": {"log.retention.ms", scaleMillis(time.Minute)},
	"log.roll.hours":        {"log.roll.ms", scaleMillis(time.Hour)},
	"log.dir":               {"log.dirs", func(s string) (string, error) { return s, nil }},
}

func scaleMillis(unit time.Duration) func(string) (string, error) {
	return func(s string) (string, error) {
		n, err := parseInt(s, 64)
		if err != nil {
			return "", err
		}
		if n < 0 {
			return "-1", nil
		}
		return strconv.FormatInt(n*int64(unit/time.Millisecond), 10), nil
	}
}

// addrProp accepts HOST:PORT or a Kafka listener (PLAINTEXT://HOST:PORT);
// empty is allowed (meaning "derive it").
func addrProp(dst func(*Broker) *string) func(*Broker, string) error {
	return func(b *Broker, v string) error {
		v = strings.TrimSpace(v)
		if i := strings.Index(v, "://"); i >= 0 {
			v = v[i+3:]
		}
		if i := strings.IndexByte(v, ','); i >= 0 {
			return fmt.Errorf("%q: only one listener is supported", v)
		}
		if v != "" && !strings.Contains(v, ":") {
			return fmt.Errorf("%q is not HOST:PORT", v)
		}
		*dst(b) = v
		return nil
	}
}

func lookup(name string) *property {
	for i := range properties {
		if properties[i].name == name {
			return &properties[i]
		}
	}
	return nil
}

// rackAwareReplicaSelector is the class name Kafka users set in
// replica.selector.class for rack-aware follower reads (KIP-392).
const rackAwareReplicaSelector = "org.apache.kafka.common.replica.RackAwareReplicaSelector"
