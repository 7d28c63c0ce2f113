package replication

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	samsalog "github.com/samsa-streaming/samsa/internal/log"
)

// epochStart says that leader epoch epoch starts at offset start.
type epochStart struct {
	epoch int32
	start int64
}

// endOffsetFor answers EndOffsetForEpoch over an epoch cache, as
// internal/log does (and Kafka's LeaderEpochFileCache.endOffsetFor).
func endOffsetFor(epochs []epochStart, epoch int32, leo int64) (int32, int64) {
	n := len(epochs)
	if epoch < 0 || n == 0 {
		return -1, -1
	}
	if epochs[n-1].epoch == epoch {
		return epoch, leo
	}
	h := 0
	for h < n && epochs[h].epoch <= epoch {
		h++
	}
	switch {
	case h == n:
		return -1, -1
	case h == 0:
		return epoch, epochs[0].start
	default:
		return epochs[h-1].epoch, epochs[h].start
	}
}

// truncateEpochs drops the entries starting at or after end.
func truncateEpochs(epochs []epochStart, end int64) []epochStart {
	i := len(epochs)
	for i > 0 && epochs[i-1].start >= end {
		i--
	}
	return epochs[:i]
}

// fakeReplica is an in-memory follower replica for tests (not the partition
// package): whole batches with offsets, an epoch cache, a high watermark and
// a log of the calls that change it. Truncation works at batch boundaries
// like internal/log. Safe for concurrent use.
type fakeReplica struct {
	name string

	mu sync.Mutex
	// Guarded by mu.
	batches  [][]byte
	epochs   []epochStart
	logStart int64
	leo      int64
	hw       int64
	ops      []string // "append 0-4", "truncate 5", "restart 10"
	calls    int      // every method call (reads too)
	// keepEpochOnNoop keeps the epoch cache when a truncation is a no-op
	// (offset >= LEO), as internal/log does today; Kafka drops entries
	// starting at the LEO even then.
	keepEpochOnNoop bool
	// ignoreTruncate makes TruncateTo and TruncateFullyAndStartAt succeed
	// without doing anything (a broken replica).
	ignoreTruncate bool
	// appendErr, when set, fails every append.
	appendErr error
}

func newFakeReplica(name string) *fakeReplica { return &fakeReplica{name: name} }

// seed appends batches directly (test setup), recording their epochs.
func (r *fakeReplica) seed(t testing.TB, batches ...[]byte) {
	t.Helper()
	for _, b := range batches {
		if _, err := r.AppendAsFollower(b); err != nil {
			t.Fatalf("seed %s: %v", r.name, err)
		}
	}
	r.mu.Lock()
	r.ops = nil
	r.mu.Unlock()
}

func (r *fakeReplica) String() string { return r.name }

func (r *fakeReplica) LogStartOffset() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	return r.logStart
}

func (r *fakeReplica) LogEndOffset() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	return r.leo
}

func (r *fakeReplica) LatestEpoch() (int32, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if len(r.epochs) == 0 {
		return -1, false
	}
	return r.epochs[len(r.epochs)-1].epoch, true
}

func (r *fakeReplica) EndOffsetForEpoch(epoch int32) (int32, int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	return endOffsetFor(r.epochs, epoch, r.leo)
}

func (r *fakeReplica) AppendAsFollower(b []byte) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.appendErr != nil {
		return r.leo, r.appendErr
	}
	type parsed struct {
		h   samsalog.BatchHeader
		raw []byte
	}
	var all []parsed
	next := r.leo
	for rest := b; len(rest) > 0; {
		h, err := samsalog.ParseBatchHeader(rest)
		if err != nil {
			return r.leo, fmt.Errorf("fake replica %s: %w", r.name, err)
		}
		if h.Size() > int64(len(rest)) {
			return r.leo, fmt.Errorf("fake replica %s: partial batch at %d", r.name, h.BaseOffset)
		}
		raw := rest[:h.Size()]
		if _, err := samsalog.ValidateBatch(raw); err != nil {
			return r.leo, fmt.Errorf("fake replica %s: %w", r.name, err)
		}
		if h.BaseOffset != next {
			return r.leo, fmt.Errorf("fake replica %s: batch at %d, expected %d", r.name, h.BaseOffset, next)
		}
		all = append(all, parsed{h, raw})
		next = h.LastOffset() + 1
		rest = rest[h.Size():]
	}
	for _, p := range all {
		if n := len(r.epochs); n == 0 || p.h.PartitionLeaderEpoch > r.epochs[n-1].epoch {
			r.epochs = append(r.epochs, epochStart{p.h.PartitionLeaderEpoch, p.h.BaseOffset})
		}
		r.batches = append(r.batches, bytes.Clone(p.raw))
	}
	if len(all) > 0 {
		r.ops = append(r.ops, fmt.Sprintf("append %d-%d", all[0].h.BaseOffset, next-1))
	}
	r.leo = next
	return r.leo, nil
}

func (r *fakeReplica) UpdateFollowerHighWatermark(hw int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	r.hw = max(r.hw, min(hw, r.leo))
}

func (r *fakeReplica) TruncateTo(offset int64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if offset < r.logStart {
		return fmt.Errorf("fake replica %s: truncate to %d below log start %d", r.name, offset, r.logStart)
	}
	if r.ignoreTruncate {
		return nil
	}
	if offset >= r.leo {
		if !r.keepEpochOnNoop {
			r.epochs = truncateEpochs(r.epochs, r.leo)
		}
		return nil
	}
	i := 0
	for i < len(r.batches) {
		h, _ := samsalog.ParseBatchHeader(r.batches[i])
		if h.LastOffset() >= offset {
			break
		}
		i++
	}
	if i < len(r.batches) {
		h, _ := samsalog.ParseBatchHeader(r.batches[i])
		r.leo = h.BaseOffset
	}
	r.batches = r.batches[:i]
	r.epochs = truncateEpochs(r.epochs, r.leo)
	r.hw = min(r.hw, r.leo)
	r.ops = append(r.ops, fmt.Sprintf("truncate %d", offset))
	return nil
}

func (r *fakeReplica) TruncateFullyAndStartAt(offset int64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.ignoreTruncate {
		return nil
	}
	r.batches, r.epochs = nil, nil
	r.logStart, r.leo, r.hw = offset, offset, offset
	r.ops = append(r.ops, fmt.Sprintf("restart %d", offset))
	return nil
}

// snapshot returns the replica's bytes, LEO, HW and operations.
func (r *fakeReplica) snapshot() (data []byte, leo, hw int64, ops []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Join(r.batches, nil), r.leo, r.hw, append([]string(nil), r.ops...)
}

// callCount returns how many Replica methods were called.
func (r *fakeReplica) callCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls
}
