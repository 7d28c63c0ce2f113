package broker

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/samsa-streaming/samsa/internal/compress"
	"github.com/samsa-streaming/samsa/internal/controller"
	samsalog "github.com/samsa-streaming/samsa/internal/log"
	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/partition"
)

// settingsFor resolves a topic's effective configs into partition settings.
func (b *Broker) settingsFor(img metadata.Image, t *metadata.Topic) (partition.Settings, error) {
	values, _ := controller.EffectiveTopicConfigs(img, t.Name, b.nodeID, b.cfg.ExplicitProperties())
	resolved := make(map[string]string, len(values))
	for _, v := range values {
		resolved[v.Name] = v.Value
	}
	get := func(name string) string { return resolved[name] }
	var firstErr error
	num := func(name string) int64 {
		v, err := strconv.ParseInt(get(name), 10, 64)
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("config %s=%q: %w", name, get(name), err)
		}
		return v
	}
	millis := func(name string) time.Duration {
		v := num(name)
		if v < 0 || v > int64(math.MaxInt64/time.Millisecond) {
			return -1 // Long.MAX_VALUE and negatives mean never/forever
		}
		return time.Duration(v) * time.Millisecond
	}
	lc := samsalog.DefaultConfig()
	lc.SegmentBytes = num("segment.bytes")
	lc.SegmentMs = millis("segment.ms")
	lc.IndexIntervalBytes = int32(num("index.interval.bytes"))
	lc.MaxIndexBytes = int32(num("segment.index.bytes"))
	lc.RetentionMs = millis("retention.ms")
	lc.RetentionBytes = num("retention.bytes")
	lc.FlushMessages = num("flush.messages")
	lc.FlushMs = millis("flush.ms")
	lc.MaxBatchBytes = int32(num("max.message.bytes"))
	lc.LogAppendTime = get("message.timestamp.type") == "LogAppendTime"
	lc.FsyncOnAck = b.cfg.LogFsyncOnAck
	lc.Logger = b.lg
	if lc.FlushMessages == math.MaxInt64 {
		lc.FlushMessages = 0
	}
	s := partition.Settings{Log: lc, MaxMessageBytes: lc.MaxBatchBytes, KeepProducer: true,
		MinInsyncReplicas: int(num("min.insync.replicas"))}
	switch ct := get("compression.type"); ct {
	case "producer", "":
	default:
		codec, err := compress.Parse(ct)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		s.Compression, s.KeepProducer = codec, false
	}
	return s, firstErr
}
