// Package partition is one replica of a topic partition on this broker: the
// log it owns, its role, high watermark, idempotent-producer state and the
// waiters parked on it (acks=all produces, long-poll fetches).
//
// Ownership: a Partition is created and closed by the broker's partition
// manager. Appends are serialised by appendMu, which guards the producer
// state together with the log append so that the duplicate/sequence check,
// the append and the state update are one step. Readers (Fetch, ListOffsets)
// take no partition lock: the log publishes its end and the high watermark is
// an atomic.
//
// In this version every partition has one replica (the leader, on this
// broker), so the in-sync replica set is {leader} and the high watermark
// follows the log end offset. Replication replaces advanceHighWatermark's
// input, not its callers.
package partition

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/compress"
	samsalog "github.com/samsa-streaming/samsa/internal/log"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

// Settings are the topic-level configs a partition acts on.
type Settings struct {
	Log             samsalog.Config
	MaxMessageBytes int32
	// Compression is the topic's compression.type; ProducerCodec keeps the
	// producer's codec.
	Compression  compress.Codec
	KeepProducer bool
}

// Partition is one replica of a partition on this broker.
type Partition struct {
	topic string
	index int32
	fsys  vfs.FS
	log   *samsalog.Log
	lg    *slog.Logger

	settings atomic.Pointer[Settings]

	// appendMu serialises appends and guards producers.
	appendMu  sync.Mutex
	producers *ProducerState

	highWatermark atomic.Int64
	leaderEpoch   atomic.Int32
	waiters       waiterList
}

// snapshotName is the producer state snapshot file in the partition's dir.
const snapshotName = "producer-state.snapshot"

// Open opens the replica whose log lives in dir, recovering the log and
// rebuilding idempotent-producer state (snapshot + scan of the tail).
func Open(fsys vfs.FS, dir, topic string, index int32, s Settings, lg *slog.Logger) (*Partition, error) {
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	l, err := samsalog.Open(fsys, dir, s.Log)
	if err != nil {
		return nil, fmt.Errorf("partition %s-%d: %w", topic, index, err)
	}
	p := &Partition{topic: topic, index: index, fsys: fsys, log: l, lg: lg}
	p.settings.Store(&s)
	if err := p.loadProducerState(); err != nil {
		l.Close()
		return nil, fmt.Errorf("partition %s-%d: producer state: %w", topic, index, err)
	}
	p.highWatermark.Store(l.LogEndOffset())
	if e, ok := l.LatestEpoch(); ok {
		p.leaderEpoch.Store(e)
	}
	return p, nil
}

// loadProducerState reads the snapshot written at the last clean close (if it
// matches the log) and replays the batches after it.
func (p *Partition) loadProducerState() error {
	from := p.log.LogStartOffset()
	p.producers = NewProducerState()
	if data, err := readFile(p.fsys, filepath.Join(p.log.Dir(), snapshotName)); err == nil {
		st, leo, err := UnmarshalSnapshot(data)
		switch {
		case err != nil:
			p.lg.Warn("ignoring producer state snapshot", "partition", p.String(), "err", err)
		case leo <= p.log.LogEndOffset() && leo >= from:
			p.producers, from = st, leo
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return p.log.ScanBatches(from, func(h samsalog.BatchHeader, _ []byte) error {
		if h.ProducerID >= 0 && !h.IsControl() {
			p.producers.Update(h.ProducerID, h.ProducerEpoch, h.BaseSequence, h.LastOffsetDelta+1,
				h.BaseOffset, h.LastOffset(), h.MaxTimestamp)
		}
		return nil
	})
}

// String names the partition as topic-N.
func (p *Partition) String() string { return fmt.Sprintf("%s-%d", p.topic, p.index) }

// Topic returns the topic name.
func (p *Partition) Topic() string { return p.topic }

// Index returns the partition number.
func (p *Partition) Index() int32 { return p.index }

// Log exposes the underlying log (for describe-log-dirs, tests and tools).
func (p *Partition) Log() *samsalog.Log { return p.log }

// SetSettings applies changed topic configs.
func (p *Partition) SetSettings(s Settings) {
	p.settings.Store(&s)
	p.log.SetConfig(s.Log)
}

// Settings returns the current settings.
func (p *Partition) Settings() Settings { return *p.settings.Load() }

// SetLeaderEpoch records the leader epoch this replica leads in; new batches
// are stamped with it.
func (p *Partition) SetLeaderEpoch(epoch int32) error {
	if old := p.leaderEpoch.Swap(epoch); old == epoch {
		return nil
	}
	return p.log.AssignEpochStartOffset(epoch, p.log.LogEndOffset())
}

// LeaderEpoch returns the current leader epoch.
func (p *Partition) LeaderEpoch() int32 { return p.leaderEpoch.Load() }

// HighWatermark returns the offset below which records are committed.
func (p *Partition) HighWatermark() int64 { return p.highWatermark.Load() }

// LastStableOffset is the high watermark until transactions arrive.
func (p *Partition) LastStableOffset() int64 { return p.highWatermark.Load() }

// LogStartOffset returns the first offset still in the log.
func (p *Partition) LogStartOffset() int64 { return p.log.LogStartOffset() }

// LogEndOffset returns the next offset to be assigned.
func (p *Partition) LogEndOffset() int64 { return p.log.LogEndOffset() }

// advanceHighWatermark moves the high watermark forward (never back) and
// wakes parked waiters.
func (p *Partition) advanceHighWatermark(hw int64) {
	for {
		old := p.highWatermark.Load()
		if hw <= old {
			return
		}
		if p.highWatermark.CompareAndSwap(old, hw) {
			p.waiters.ringAll()
			return
		}
	}
}

// Park registers w to be rung when the high watermark moves.
func (p *Partition) Park(w *Wakeup) { p.waiters.add(w) }

// Unpark removes w.
func (p *Partition) Unpark(w *Wakeup) { p.waiters.remove(w) }

// Close writes the producer state snapshot and closes the log cleanly.
func (p *Partition) Close() error {
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	snap := p.producers.MarshalSnapshot(p.log.LogEndOffset())
	serr := writeFileAtomic(p.fsys, filepath.Join(p.log.Dir(), snapshotName), snap)
	if err := p.log.Close(); err != nil {
		return fmt.Errorf("partition %s: close: %w", p, err)
	}
	if serr != nil {
		return fmt.Errorf("partition %s: producer snapshot: %w", p, serr)
	}
	p.waiters.ringAll()
	return nil
}

// Delete closes the replica and removes its directory (topic deletion).
func (p *Partition) Delete() error {
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	p.waiters.ringAll()
	return p.log.Delete()
}

// kafkaError maps log errors to Kafka error codes for produce answers.
func kafkaError(err error) error {
	var ke *kerr.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ke):
		return ke
	case errors.Is(err, samsalog.ErrBatchTooLarge):
		return kerr.MessageTooLarge
	case errors.Is(err, samsalog.ErrCorruptBatch):
		return kerr.CorruptMessage
	case errors.Is(err, samsalog.ErrOffsetOutOfRange):
		return kerr.OffsetOutOfRange
	case errors.Is(err, samsalog.ErrClosed):
		return kerr.NotLeaderForPartition
	}
	return kerr.KafkaStorageError
}

// Equal reports whether two settings act the same (the clock and logger are
// not compared).
func (s Settings) Equal(o Settings) bool {
	a, b := s.Log, o.Log
	a.Now, a.Logger, b.Now, b.Logger = nil, nil, nil, nil
	return s.MaxMessageBytes == o.MaxMessageBytes && s.Compression == o.Compression &&
		s.KeepProducer == o.KeepProducer &&
		a.SegmentBytes == b.SegmentBytes && a.SegmentMs == b.SegmentMs &&
		a.IndexIntervalBytes == b.IndexIntervalBytes && a.MaxIndexBytes == b.MaxIndexBytes &&
		a.RetentionMs == b.RetentionMs && a.RetentionBytes == b.RetentionBytes &&
		a.FlushMessages == b.FlushMessages && a.FlushMs == b.FlushMs &&
		a.FsyncOnAck == b.FsyncOnAck && a.LogAppendTime == b.LogAppendTime &&
		a.MaxBatchBytes == b.MaxBatchBytes
}
