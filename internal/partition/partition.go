// Package partition is one replica of a topic partition on this broker: the
// log it owns, its role (leader or follower), high watermark, in-sync
// replica tracking, idempotent-producer state and the waiters parked on it
// (acks=all produces, consumer and follower long polls).
//
// # Roles
//
// A Partition starts as a follower of no leader: AppendProduce is refused
// until the broker, applying metadata, calls BecomeLeader or
// BecomeFollower. Both are idempotent for the same leader epoch and refuse
// an epoch older than the one they last saw.
//
// As leader it assigns offsets (AppendProduce, under appendMu), stamps its
// leader epoch into every batch, serves its followers (ReadReplica up to
// the log end), records their positions (FollowerFetched) and keeps the high
// watermark at the minimum log end offset over the in-sync replicas, itself
// included. ISRChanges says which followers should leave or join the ISR;
// the broker asks the controller and applies the committed ISR with
// UpdateISR. A follower that ISRChanges proposes to add counts for the high
// watermark at once (Kafka's "maximal ISR", KIP-497), so that it already
// holds every offset below the high watermark when the controller commits
// it; a follower proposed for removal counts until the removal is
// committed.
//
// As follower it appends what its fetcher copies from the leader
// (AppendAsFollower: batches that already carry offsets and epochs), takes
// the leader's high watermark (UpdateFollowerHighWatermark) and truncates a
// divergent tail (TruncateTo, TruncateFullyAndStartAt) before copying.
//
// # Ownership and locks
//
// The broker's partition manager creates and closes a Partition. Lock
// order: appendMu, then replicaMu, then the waiter lists' mutexes (leaves).
//
//   - appendMu serialises everything that changes the log or the role:
//     leader appends, follower appends, truncation, BecomeLeader,
//     BecomeFollower, Close and Delete. It guards the producer state, the
//     producer-state checkpoints and the on-disk snapshot's offset, so that
//     the duplicate/sequence check, the append and the state update are one
//     step, and offsets are assigned only by a leader under it.
//   - replicaMu is short and guards the leader's view of its replicas
//     (replicas, committed ISR, pending additions, every follower's log end
//     offset and caught-up times). Every write of the high watermark and of
//     the role happens under it, so FollowerFetched (called concurrently
//     from every follower's connection), the append path and ISR changes
//     agree on one high watermark.
//   - The high watermark, the role, the ISR sizes and the log's end and
//     start offsets are atomics: readers (Fetch, ListOffsets, AckError,
//     IsLeader) take no partition lock.
//
// The package starts no goroutine.
//
// # Files
//
// Next to the log's files, the partition keeps producer-state.snapshot
// (written by Close, see MarshalSnapshot) and high-watermark-checkpoint
// (written by Close and CheckpointHighWatermark: "0\n1\n<offset>\n"). A
// replica reopened without the latter starts with its high watermark at the
// log start offset; a leader whose ISR is itself moves it to its log end at
// once, a larger ISR moves it as the followers fetch.
package partition

import (
	"errors"
	"fmt"
	"log/slog"
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
	// MinInsyncReplicas is the topic's min.insync.replicas: an acks=all
	// produce needs an ISR at least this large. Values below 1 mean 1.
	MinInsyncReplicas int
}

// minISR returns MinInsyncReplicas with its default applied.
func (s *Settings) minISR() int { return max(s.MinInsyncReplicas, 1) }

// NoReplica is the replica id of an unknown replica or leader.
const NoReplica int32 = -1

// Partition is one replica of a partition on this broker.
type Partition struct {
	topic string
	index int32
	fsys  vfs.FS
	log   *samsalog.Log
	lg    *slog.Logger
	// localID is this broker's replica id (NoReplica when opened with
	// Open: then only a single-replica BecomeLeader can tell who it is).
	localID int32

	settings atomic.Pointer[Settings]

	// appendMu serialises appends, truncations and role changes (see the
	// package doc) and guards the fields below it.
	appendMu  sync.Mutex
	producers *ProducerState
	ckpts     producerCheckpoints
	// snapshotOffset is the log end offset of producer-state.snapshot on
	// disk, -1 when there is none.
	snapshotOffset int64

	// replicaMu guards the leader's replica tracking; role and
	// highWatermark are written under it (and read atomically anywhere).
	replicaMu sync.Mutex
	replicas  replicaSet

	role          atomic.Pointer[roleState]
	highWatermark atomic.Int64
	// hwCheckpointed is the value last written to the high watermark
	// checkpoint (-1 none).
	hwCheckpointed atomic.Int64
	// isrSize and maximalISRSize are the sizes of the committed ISR and of
	// committed ISR plus pending additions, for the min.insync.replicas
	// checks. Written under replicaMu.
	isrSize        atomic.Int32
	maximalISRSize atomic.Int32

	waiters     waiterList // rung when the high watermark or the role moves
	dataWaiters waiterList // rung when the log end, high watermark or role moves
}

// Open opens a replica whose log lives in dir without knowing this
// broker's replica id: it may lead only a partition whose replicas are
// itself alone. Brokers with replicated topics use OpenReplica.
func Open(fsys vfs.FS, dir, topic string, index int32, s Settings, lg *slog.Logger) (*Partition, error) {
	return OpenReplica(fsys, dir, topic, index, NoReplica, s, lg)
}

// OpenReplica opens the replica with id localID (this broker's node id)
// whose log lives in dir, recovering the log and rebuilding
// idempotent-producer state (snapshot + scan of the tail). The replica
// starts as a follower of no leader, its high watermark at the checkpointed
// value (or the log start offset).
func OpenReplica(fsys vfs.FS, dir, topic string, index, localID int32, s Settings, lg *slog.Logger) (*Partition, error) {
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	l, err := samsalog.Open(fsys, dir, s.Log)
	if err != nil {
		return nil, fmt.Errorf("partition %s-%d: %w", topic, index, err)
	}
	p := &Partition{topic: topic, index: index, fsys: fsys, log: l, lg: lg, localID: localID,
		snapshotOffset: -1}
	p.settings.Store(&s)
	p.ckpts.interval = defaultCheckpointInterval
	if err := p.loadProducerState(); err != nil {
		l.Close()
		return nil, fmt.Errorf("partition %s-%d: producer state: %w", topic, index, err)
	}
	p.highWatermark.Store(p.loadHighWatermark())
	epoch := int32(-1)
	if e, ok := l.LatestEpoch(); ok {
		epoch = e
	}
	p.role.Store(&roleState{leaderID: NoReplica, epoch: epoch})
	p.isrSize.Store(0)
	return p, nil
}

// String names the partition as topic-N.
func (p *Partition) String() string { return fmt.Sprintf("%s-%d", p.topic, p.index) }

// Topic returns the topic name.
func (p *Partition) Topic() string { return p.topic }

// Index returns the partition number.
func (p *Partition) Index() int32 { return p.index }

// LocalID returns this broker's replica id (NoReplica if opened with Open).
func (p *Partition) LocalID() int32 { return p.localID }

// Log exposes the underlying log (for describe-log-dirs, tests and tools).
func (p *Partition) Log() *samsalog.Log { return p.log }

// SetSettings applies changed topic configs.
func (p *Partition) SetSettings(s Settings) {
	p.settings.Store(&s)
	p.log.SetConfig(s.Log)
}

// Settings returns the current settings.
func (p *Partition) Settings() Settings { return *p.settings.Load() }

// HighWatermark returns the offset below which records are committed.
func (p *Partition) HighWatermark() int64 { return p.highWatermark.Load() }

// LastStableOffset is the high watermark until transactions arrive.
func (p *Partition) LastStableOffset() int64 { return p.highWatermark.Load() }

// LogStartOffset returns the first offset still in the log.
func (p *Partition) LogStartOffset() int64 { return p.log.LogStartOffset() }

// LogEndOffset returns the next offset to be assigned (or copied).
func (p *Partition) LogEndOffset() int64 { return p.log.LogEndOffset() }

// Park registers w to be rung when the high watermark or the role moves
// (acks=all produces, consumer long polls). A ring empties the
// registration: a waiter that still has to wait parks again, then checks
// its condition, then waits.
func (p *Partition) Park(w *Wakeup) { p.waiters.add(w) }

// Unpark removes w.
func (p *Partition) Unpark(w *Wakeup) { p.waiters.remove(w) }

// ParkData registers w to be rung when the log end offset moves (appends,
// truncation), when the high watermark moves and on role changes: for
// follower fetches long-polling the leader.
func (p *Partition) ParkData(w *Wakeup) { p.dataWaiters.add(w) }

// UnparkData removes w registered with ParkData.
func (p *Partition) UnparkData(w *Wakeup) { p.dataWaiters.remove(w) }

// ringAll wakes every parked waiter of both lists.
func (p *Partition) ringAll() {
	p.waiters.ringAll()
	p.dataWaiters.ringAll()
}

// Close writes the producer state snapshot and the high watermark
// checkpoint and closes the log cleanly. Parked waiters are rung and see a
// replica that is no longer leader.
func (p *Partition) Close() error {
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	p.setClosed()
	defer p.ringAll()
	leo := p.log.LogEndOffset()
	serr := writeFileAtomic(p.fsys, p.snapshotPath(), p.producers.MarshalSnapshot(leo), true)
	if serr == nil {
		p.snapshotOffset = leo
	}
	herr := p.CheckpointHighWatermark()
	if err := p.log.Close(); err != nil {
		return fmt.Errorf("partition %s: close: %w", p, err)
	}
	if serr != nil {
		return fmt.Errorf("partition %s: producer snapshot: %w", p, serr)
	}
	return herr
}

// Delete closes the replica and removes its directory (topic deletion,
// replica moved away).
func (p *Partition) Delete() error {
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	p.setClosed()
	p.ringAll()
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
		s.KeepProducer == o.KeepProducer && s.MinInsyncReplicas == o.MinInsyncReplicas &&
		a.SegmentBytes == b.SegmentBytes && a.SegmentMs == b.SegmentMs &&
		a.IndexIntervalBytes == b.IndexIntervalBytes && a.MaxIndexBytes == b.MaxIndexBytes &&
		a.RetentionMs == b.RetentionMs && a.RetentionBytes == b.RetentionBytes &&
		a.FlushMessages == b.FlushMessages && a.FlushMs == b.FlushMs &&
		a.FsyncOnAck == b.FsyncOnAck && a.LogAppendTime == b.LogAppendTime &&
		a.MaxBatchBytes == b.MaxBatchBytes
}
