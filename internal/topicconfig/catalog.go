package topicconfig

import (
	"math"
	"strconv"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Kafka writes "no limit" as Long.MAX_VALUE.
var maxLong = strconv.FormatInt(math.MaxInt64, 10)

const (
	msPerMinute = 60 * 1000
	msPerHour   = 60 * msPerMinute
)

func syn(names ...string) []Synonym {
	out := make([]Synonym, len(names))
	for i, n := range names {
		out[i] = Synonym{Name: n, Multiplier: 1}
	}
	return out
}

// catalog lists every topic config samsa knows. Defaults and ranges follow
// Apache Kafka 4.x (LogConfig), except where a comment says otherwise.
var catalog = []Entry{
	{
		Name: "cleanup.policy", Type: kmsg.ConfigTypeList, Default: "delete",
		BrokerSynonyms: syn("log.cleanup.policy"),
		Doc: "What happens to old segments: \"delete\" removes them by retention.ms/retention.bytes, " +
			"\"compact\" keeps the latest record per key; \"compact,delete\" does both.",
		validate: listOf("compact", "delete"),
	},
	{
		Name: "compression.type", Type: kmsg.ConfigTypeString, Default: "producer",
		BrokerSynonyms: syn("compression.type"),
		Doc: "Codec batches are stored with: \"producer\" keeps the producer's codec; uncompressed, gzip, " +
			"snappy, lz4 or zstd recompress to that codec.",
		validate: oneOf("uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"),
	},
	{
		Name: "compression.gzip.level", Type: kmsg.ConfigTypeInt, Default: "-1",
		BrokerSynonyms: syn("compression.gzip.level"),
		Doc:            "Level used when compression.type is gzip: 1 (fastest) to 9 (smallest), or -1 for the codec default.",
		validate:       intIn(-1, -1, 1, 9),
	},
	{
		Name: "compression.lz4.level", Type: kmsg.ConfigTypeInt, Default: "9",
		BrokerSynonyms: syn("compression.lz4.level"),
		Doc:            "Level used when compression.type is lz4, from 1 to 17.",
		validate:       intRange(1, 17),
	},
	{
		Name: "compression.zstd.level", Type: kmsg.ConfigTypeInt, Default: "3",
		BrokerSynonyms: syn("compression.zstd.level"),
		Doc:            "Level used when compression.type is zstd, from -131072 to 22.",
		validate:       intRange(-131072, 22),
	},
	{
		Name: "delete.retention.ms", Type: kmsg.ConfigTypeLong, Default: "86400000",
		BrokerSynonyms: syn("log.cleaner.delete.retention.ms"),
		Doc:            "How long tombstones (null values) survive compaction, so that slow consumers still see the delete.",
		validate:       intRange(0, math.MaxInt64),
	},
	{
		Name: "file.delete.delay.ms", Type: kmsg.ConfigTypeLong, Default: "60000",
		BrokerSynonyms: syn("log.segment.delete.delay.ms"),
		Doc:            "How long a segment removed from the log waits before its files are deleted from disk.",
		validate:       intRange(0, math.MaxInt64),
	},
	{
		Name: "flush.messages", Type: kmsg.ConfigTypeLong, Default: maxLong,
		BrokerSynonyms: syn("log.flush.interval.messages"),
		Doc:            "fsync the log after this many records; the default leaves durability to replication and the OS.",
		validate:       intRange(1, math.MaxInt64),
	},
	{
		Name: "flush.ms", Type: kmsg.ConfigTypeLong, Default: maxLong,
		BrokerSynonyms: syn("log.flush.interval.ms", "log.flush.scheduler.interval.ms"),
		Doc:            "fsync the log when its last fsync is older than this many milliseconds.",
		validate:       intRange(0, math.MaxInt64),
	},
	{
		Name: "follower.replication.throttled.replicas", Type: kmsg.ConfigTypeList, Default: "",
		Doc:      "Replicas (partition:broker pairs, or *) whose follower-side replication is throttled.",
		validate: throttledReplicas,
	},
	{
		Name: "index.interval.bytes", Type: kmsg.ConfigTypeInt, Default: "4096",
		BrokerSynonyms: syn("log.index.interval.bytes"),
		Doc:            "Bytes of log between two entries of the offset index.",
		validate:       intRange(0, math.MaxInt32),
	},
	{
		Name: "leader.replication.throttled.replicas", Type: kmsg.ConfigTypeList, Default: "",
		Doc:      "Replicas (partition:broker pairs, or *) whose leader-side replication is throttled.",
		validate: throttledReplicas,
	},
	{
		Name: "local.retention.bytes", Type: kmsg.ConfigTypeLong, Default: "-2",
		BrokerSynonyms: syn("log.local.retention.bytes"),
		Doc:            "With remote storage, the size a partition may keep on local disk; -2 means retention.bytes.",
		validate:       intRange(-2, math.MaxInt64),
	},
	{
		Name: "local.retention.ms", Type: kmsg.ConfigTypeLong, Default: "-2",
		BrokerSynonyms: syn("log.local.retention.ms"),
		Doc:            "With remote storage, how long segments stay on local disk; -2 means retention.ms.",
		validate:       intRange(-2, math.MaxInt64),
	},
	{
		Name: "max.compaction.lag.ms", Type: kmsg.ConfigTypeLong, Default: maxLong,
		BrokerSynonyms: syn("log.cleaner.max.compaction.lag.ms"),
		Doc:            "Longest time a record may stay uncompacted.",
		validate:       intRange(1, math.MaxInt64),
	},
	{
		Name: "max.message.bytes", Type: kmsg.ConfigTypeInt, Default: "1048588",
		BrokerSynonyms: syn("message.max.bytes"),
		Doc:            "Largest record batch (after compression) the topic accepts.",
		validate:       intRange(0, math.MaxInt32),
	},
	{
		Name: "message.timestamp.after.max.ms", Type: kmsg.ConfigTypeLong, Default: maxLong,
		BrokerSynonyms: syn("log.message.timestamp.after.max.ms"),
		Doc:            "With CreateTime, reject batches whose timestamp is more than this far ahead of the broker clock.",
		validate:       intRange(0, math.MaxInt64),
	},
	{
		Name: "message.timestamp.before.max.ms", Type: kmsg.ConfigTypeLong, Default: maxLong,
		BrokerSynonyms: syn("log.message.timestamp.before.max.ms"),
		Doc:            "With CreateTime, reject batches whose timestamp is more than this far behind the broker clock.",
		validate:       intRange(0, math.MaxInt64),
	},
	{
		// Removed from Kafka 4.0 (KIP-937); accepted so older tools keep working.
		Name: "message.timestamp.difference.max.ms", Type: kmsg.ConfigTypeLong, Default: maxLong,
		BrokerSynonyms: syn("log.message.timestamp.difference.max.ms"),
		Doc:            "Deprecated: largest allowed difference between a batch timestamp and the broker clock; use message.timestamp.before.max.ms and message.timestamp.after.max.ms.",
		validate:       intRange(0, math.MaxInt64),
	},
	{
		Name: "message.timestamp.type", Type: kmsg.ConfigTypeString, Default: "CreateTime",
		BrokerSynonyms: syn("log.message.timestamp.type"),
		Doc:            "CreateTime keeps the producer's timestamps; LogAppendTime stamps each batch with the broker clock.",
		validate:       oneOf("CreateTime", "LogAppendTime"),
	},
	{
		Name: "min.cleanable.dirty.ratio", Type: kmsg.ConfigTypeDouble, Default: "0.5",
		BrokerSynonyms: syn("log.cleaner.min.cleanable.ratio"),
		Doc:            "Share of the log that must be uncompacted before the cleaner compacts it.",
		validate:       floatRange(0, 1),
	},
	{
		Name: "min.compaction.lag.ms", Type: kmsg.ConfigTypeLong, Default: "0",
		BrokerSynonyms: syn("log.cleaner.min.compaction.lag.ms"),
		Doc:            "Shortest time a record stays uncompacted.",
		validate:       intRange(0, math.MaxInt64),
	},
	{
		Name: "min.insync.replicas", Type: kmsg.ConfigTypeInt, Default: "1",
		BrokerSynonyms: syn("min.insync.replicas"),
		Doc:            "With acks=all, the fewest in-sync replicas that must have a batch; fewer makes produce fail with NOT_ENOUGH_REPLICAS.",
		validate:       intRange(1, math.MaxInt32),
	},
	{
		Name: "preallocate", Type: kmsg.ConfigTypeBoolean, Default: "false",
		BrokerSynonyms: syn("log.preallocate"),
		Doc:            "Allocate a new segment file at its full size when it is created.",
	},
	{
		Name: "remote.log.copy.disable", Type: kmsg.ConfigTypeBoolean, Default: "false",
		Doc: "Stop copying segments to remote storage; remote data stays readable.",
	},
	{
		Name: "remote.log.delete.on.disable", Type: kmsg.ConfigTypeBoolean, Default: "false",
		Doc: "Delete the remote data when remote.storage.enable is turned off.",
	},
	{
		Name: "remote.storage.enable", Type: kmsg.ConfigTypeBoolean, Default: "false",
		Doc: "Move closed segments to remote (object) storage and read them back transparently.",
	},
	{
		Name: "retention.bytes", Type: kmsg.ConfigTypeLong, Default: "-1",
		BrokerSynonyms: syn("log.retention.bytes"),
		Doc:            "Largest size a partition may reach before old segments are deleted; -1 for no limit.",
	},
	{
		Name: "retention.ms", Type: kmsg.ConfigTypeLong, Default: "604800000",
		BrokerSynonyms: []Synonym{
			{Name: "log.retention.ms", Multiplier: 1},
			{Name: "log.retention.minutes", Multiplier: msPerMinute},
			{Name: "log.retention.hours", Multiplier: msPerHour},
		},
		Doc:      "How long segments are kept before deletion; -1 keeps them forever.",
		validate: intRange(-1, math.MaxInt64),
	},
	{
		// Kafka 4.0 raised the minimum to 1 MiB; samsa keeps the older
		// minimum (14, one legacy record) so tests can roll tiny segments.
		Name: "segment.bytes", Type: kmsg.ConfigTypeInt, Default: "1073741824",
		BrokerSynonyms: syn("log.segment.bytes"),
		Doc:            "Size at which the active segment is closed and a new one started.",
		validate:       intRange(14, math.MaxInt32),
	},
	{
		Name: "segment.index.bytes", Type: kmsg.ConfigTypeInt, Default: "10485760",
		BrokerSynonyms: syn("log.index.size.max.bytes"),
		Doc:            "Largest offset index of a segment; a full index rolls the segment.",
		validate:       intRange(4, math.MaxInt32),
	},
	{
		Name: "segment.jitter.ms", Type: kmsg.ConfigTypeLong, Default: "0",
		BrokerSynonyms: []Synonym{
			{Name: "log.roll.jitter.ms", Multiplier: 1},
			{Name: "log.roll.jitter.hours", Multiplier: msPerHour},
		},
		Doc:      "Random time subtracted from segment.ms so that partitions do not all roll at once.",
		validate: intRange(0, math.MaxInt64),
	},
	{
		Name: "segment.ms", Type: kmsg.ConfigTypeLong, Default: "604800000",
		BrokerSynonyms: []Synonym{
			{Name: "log.roll.ms", Multiplier: 1},
			{Name: "log.roll.hours", Multiplier: msPerHour},
		},
		Doc:      "Age at which the active segment is closed even if it is not full.",
		validate: intRange(1, math.MaxInt64),
	},
	{
		Name: "unclean.leader.election.enable", Type: kmsg.ConfigTypeBoolean, Default: "false",
		BrokerSynonyms: syn("unclean.leader.election.enable"),
		Doc:            "Allow a replica outside the ISR to become leader when no in-sync replica is left, at the cost of losing data.",
	},
}
