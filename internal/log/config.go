package log

import (
	"log/slog"
	"math"
	"time"
)

// Config holds a partition log's settings, named after Kafka's topic
// configs. Start from DefaultConfig and change what you need: the zero value
// of some fields has a meaning (RetentionMs 0 deletes every closed segment,
// as Kafka's retention.ms=0 does).
type Config struct {
	// SegmentBytes is segment.bytes: roll when the next batch would make
	// the active segment larger. Default 1 GiB.
	SegmentBytes int64
	// SegmentMs is segment.ms: roll when a batch's max timestamp is more
	// than this after the active segment's first batch's (or, if that has
	// no timestamp, when the segment was created this long ago). Default 7
	// days; <= 0 never.
	SegmentMs time.Duration
	// IndexIntervalBytes is index.interval.bytes: add an offset index entry
	// (and maybe a time index entry) after this many bytes. Default 4096.
	IndexIntervalBytes int32
	// MaxIndexBytes is segment.index.bytes: roll when the offset or time
	// index reaches this size. Default 10 MiB.
	MaxIndexBytes int32
	// RetentionMs is retention.ms: ApplyRetention deletes closed segments
	// whose max timestamp is older. Default 7 days; < 0 keeps forever.
	RetentionMs time.Duration
	// RetentionBytes is retention.bytes: ApplyRetention deletes the oldest
	// closed segments while the log is larger. Default -1 (no limit).
	RetentionBytes int64
	// FlushMessages is flush.messages: fsync after this many records
	// since the last fsync. <= 0 never by count (the default).
	FlushMessages int64
	// FlushMs is flush.ms: fsync when the last fsync is older than this,
	// checked on append and by MaybeFlush. <= 0 never by time (the default).
	FlushMs time.Duration
	// FsyncOnAck makes Append and AppendReplicated return only after the
	// bytes are durable. Concurrent appenders share one fsync (group commit).
	FsyncOnAck bool
	// LogAppendTime is message.timestamp.type=LogAppendTime: Append sets
	// each batch's max timestamp to the append time and recomputes the CRC.
	LogAppendTime bool
	// MaxBatchBytes is message.max.bytes: the largest batch Append accepts.
	// Default 1048588.
	MaxBatchBytes int32
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives recovery and error reports; nil discards them.
	Logger *slog.Logger
}

// Defaults, as Kafka's.
const (
	DefaultSegmentBytes       = 1 << 30
	DefaultSegmentMs          = 7 * 24 * time.Hour
	DefaultIndexIntervalBytes = 4096
	DefaultMaxIndexBytes      = 10 << 20
	DefaultRetentionMs        = 7 * 24 * time.Hour
	DefaultMaxBatchBytes      = 1048588

	// minMaxIndexBytes keeps room for a few entries in each index.
	minMaxIndexBytes = 4 * timeIndexEntrySize
)

// DefaultConfig returns Kafka's defaults.
func DefaultConfig() Config {
	return Config{
		SegmentBytes:       DefaultSegmentBytes,
		SegmentMs:          DefaultSegmentMs,
		IndexIntervalBytes: DefaultIndexIntervalBytes,
		MaxIndexBytes:      DefaultMaxIndexBytes,
		RetentionMs:        DefaultRetentionMs,
		RetentionBytes:     -1,
		MaxBatchBytes:      DefaultMaxBatchBytes,
	}
}

// normalized returns a copy with invalid values replaced by defaults.
func (c Config) normalized() *Config {
	if c.SegmentBytes <= 0 {
		c.SegmentBytes = DefaultSegmentBytes
	}
	if c.SegmentBytes > math.MaxInt32 {
		c.SegmentBytes = math.MaxInt32 // index positions are int32, as Kafka's
	}
	if c.IndexIntervalBytes <= 0 {
		c.IndexIntervalBytes = DefaultIndexIntervalBytes
	}
	if c.MaxIndexBytes <= 0 {
		c.MaxIndexBytes = DefaultMaxIndexBytes
	}
	if c.MaxIndexBytes < minMaxIndexBytes {
		c.MaxIndexBytes = minMaxIndexBytes
	}
	if c.MaxBatchBytes <= 0 {
		c.MaxBatchBytes = DefaultMaxBatchBytes
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return &c
}

func (c *Config) nowMs() int64 { return c.Now().UnixMilli() }

// maxIndexEntries is how many offset index entries a segment may hold.
func (c *Config) maxIndexEntries() int64 { return int64(c.MaxIndexBytes) / offsetIndexEntrySize }

// maxTimeIndexEntries is how many time index entries a segment may hold.
func (c *Config) maxTimeIndexEntries() int64 { return int64(c.MaxIndexBytes) / timeIndexEntrySize }
