package partition

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"

	samsalog "github.com/samsa-streaming/samsa/internal/log"
)

// Producer state after a truncation.
//
// A truncation (a follower cutting a divergent tail) must give the producer
// state the log would have had if the cut batches had never been appended:
// each producer's epoch and last batches below the cut. The state cannot be
// cut in place (a producer's older batches, evicted from its window of 5,
// would be needed again), so it is rebuilt from a copy taken at an offset
// not past the cut, replaying the batches after it; with no such copy, from
// the log start. Copies (producerCheckpoints) are kept in memory: the
// snapshot loaded at Open, and one taken every checkpointInterval bytes
// appended. The newest copy at or below the high watermark is always kept,
// so a truncation to at least the high watermark (every truncation after a
// clean leader election) replays at most about checkpointInterval bytes plus
// the unreplicated tail.

const (
	// defaultCheckpointInterval is how many appended bytes separate two
	// producer-state checkpoints.
	defaultCheckpointInterval = 16 << 20
	// maxCheckpoints bounds the checkpoints kept (the oldest goes first).
	maxCheckpoints = 4
	// snapshotName is the producer state snapshot file in the partition's dir.
	snapshotName = "producer-state.snapshot"
	// hwCheckpointName is the high watermark checkpoint in the partition's dir.
	hwCheckpointName = "high-watermark-checkpoint"
	// maxHWCheckpointBytes bounds the checkpoint file read back.
	maxHWCheckpointBytes = 64
)

// producerCheckpoint is the producer state as of log end offset offset,
// encoded with MarshalSnapshot.
type producerCheckpoint struct {
	offset int64
	data   []byte
}

// producerCheckpoints are the in-memory checkpoints, oldest first. Guarded
// by Partition.appendMu.
type producerCheckpoints struct {
	list     []producerCheckpoint
	interval int   // bytes between checkpoints
	pending  int64 // bytes appended since the newest checkpoint
}

// noteAppendLocked counts n appended bytes and takes a checkpoint of the
// state at the log end when the interval is reached. It allocates only then
// (once every interval bytes). Caller holds appendMu.
func (p *Partition) noteAppendLocked(n int) {
	c := &p.ckpts
	c.pending += int64(n)
	if c.pending < int64(c.interval) {
		return
	}
	c.pending = 0
	p.addCheckpointLocked(p.log.LogEndOffset())
}

// addCheckpointLocked records the current producer state as of offset (the
// log end), dropping checkpoints made useless: those older than the newest
// one at or below the high watermark, then the oldest beyond the bound.
func (p *Partition) addCheckpointLocked(offset int64) {
	c := &p.ckpts
	if n := len(c.list); n > 0 && c.list[n-1].offset >= offset {
		c.list = c.list[:n-1] // a checkpoint at the same offset (or above, cannot be) is replaced
	}
	c.list = append(c.list, producerCheckpoint{offset: offset, data: p.producers.MarshalSnapshot(offset)})
	hw := p.highWatermark.Load()
	keepFrom := 0
	for i, ck := range c.list {
		if ck.offset <= hw {
			keepFrom = i
		}
	}
	if over := len(c.list) - keepFrom - maxCheckpoints; over > 0 {
		keepFrom += over
	}
	if keepFrom > 0 {
		c.list = append(c.list[:0], c.list[keepFrom:]...)
	}
}

// loadProducerState reads the snapshot written at the last clean close and
// rebuilds the state from it (if it matches the log) or from the log
// start. A snapshot that cannot be used (damaged, past the log end because
// the log lost its tail, or below the log start) is removed, so that it can
// never be paired later with a log that grew past it with other batches.
func (p *Partition) loadProducerState() error {
	data, err := readFile(p.fsys, p.snapshotPath(), maxSnapshotBytes)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err == nil {
		_, leo, err := UnmarshalSnapshot(data)
		start, end := p.log.LogStartOffset(), p.log.LogEndOffset()
		if err == nil && leo >= start && leo <= end {
			p.snapshotOffset = leo
			p.ckpts.list = append(p.ckpts.list, producerCheckpoint{offset: leo, data: data})
		} else {
			p.lg.Warn("removing unusable producer state snapshot", "partition", p.String(),
				"snapshot_offset", leo, "log_start", start, "log_end", end, "err", err)
			if err := p.removeSnapshotLocked(); err != nil {
				return err
			}
		}
	}
	return p.rebuildProducersLocked()
}

// rebuildProducersLocked rebuilds the producer state for the log as it is
// now: from the newest checkpoint not past the log end and not below the
// log start, else from nothing at the log start, replaying every batch
// after it. Checkpoints past the log end are dropped. Caller holds appendMu
// (or is Open).
func (p *Partition) rebuildProducersLocked() error {
	end, start := p.log.LogEndOffset(), p.log.LogStartOffset()
	list := p.ckpts.list
	for len(list) > 0 && list[len(list)-1].offset > end {
		list = list[:len(list)-1]
	}
	p.ckpts.list = list
	st, from := NewProducerState(), start
	for i := len(list) - 1; i >= 0 && list[i].offset >= start; i-- {
		s, _, err := UnmarshalSnapshot(list[i].data)
		if err == nil {
			st, from = s, list[i].offset
			break
		}
	}
	p.producers = st
	err := p.log.ScanBatches(from, func(h samsalog.BatchHeader, _ []byte) error {
		if h.ProducerID >= 0 && !h.IsControl() {
			st.Update(h.ProducerID, h.ProducerEpoch, h.BaseSequence, h.LastOffsetDelta+1,
				h.BaseOffset, h.LastOffset(), h.MaxTimestamp)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("rebuild producer state from offset %d: %w", from, err)
	}
	return nil
}

func (p *Partition) snapshotPath() string { return filepath.Join(p.log.Dir(), snapshotName) }

// removeSnapshotLocked deletes producer-state.snapshot (it would describe
// batches that are being truncated away) and makes the removal durable.
func (p *Partition) removeSnapshotLocked() error {
	if err := p.fsys.Remove(p.snapshotPath()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove producer snapshot: %w", err)
	}
	if err := p.fsys.SyncDir(p.log.Dir()); err != nil {
		return fmt.Errorf("remove producer snapshot: %w", err)
	}
	p.snapshotOffset = -1
	return nil
}

// CheckpointHighWatermark writes the high watermark to
// high-watermark-checkpoint if it changed since the last write, so that a
// restarted replica does not start from its log start. The broker calls it
// every few seconds (Kafka: replica.high.watermark.checkpoint.interval.ms,
// 5 s) and Close calls it. The file is not fsynced: after a crash it holds
// an older (smaller, so still safe) value, or nothing usable.
func (p *Partition) CheckpointHighWatermark() error {
	hw := p.highWatermark.Load()
	if p.hwCheckpointed.Load() == hw {
		return nil
	}
	return p.writeHighWatermark(hw)
}

func (p *Partition) writeHighWatermark(hw int64) error {
	data := fmt.Appendf(nil, "0\n1\n%d\n", hw)
	if err := writeFileAtomic(p.fsys, filepath.Join(p.log.Dir(), hwCheckpointName), data, false); err != nil {
		return fmt.Errorf("partition %s: high watermark checkpoint: %w", p, err)
	}
	p.hwCheckpointed.Store(hw)
	return nil
}

// loadHighWatermark returns the checkpointed high watermark clamped to the
// log, or the log start offset when there is none.
func (p *Partition) loadHighWatermark() int64 {
	start, end := p.log.LogStartOffset(), p.log.LogEndOffset()
	p.hwCheckpointed.Store(-1)
	data, err := readFile(p.fsys, filepath.Join(p.log.Dir(), hwCheckpointName), maxHWCheckpointBytes)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			p.lg.Warn("ignoring high watermark checkpoint", "partition", p.String(), "err", err)
		}
		return start
	}
	hw, ok := parseHWCheckpoint(data)
	if !ok {
		p.lg.Warn("ignoring malformed high watermark checkpoint", "partition", p.String())
		return start
	}
	p.hwCheckpointed.Store(hw)
	return min(max(hw, start), end)
}

// parseHWCheckpoint parses "0\n1\n<offset>\n".
func parseHWCheckpoint(b []byte) (int64, bool) {
	lines := strings.Split(string(b), "\n")
	if len(lines) != 4 || lines[0] != "0" || lines[1] != "1" || lines[3] != "" {
		return 0, false
	}
	hw, err := strconv.ParseInt(lines[2], 10, 64)
	if err != nil || hw < 0 {
		return 0, false
	}
	return hw, true
}
