package bench

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// The latency histogram is log-linear, in the style of HdrHistogram: values
// (nanoseconds) below 2^subBits are counted exactly; above, every power of two
// is split into 2^subBits equal sub-buckets, so a reported percentile is
// within 1/2^subBits (0.8 %) of the true value whatever its magnitude. Memory
// is fixed (numBuckets counters, about 39 KiB) however many values are
// recorded.
const (
	subBits    = 7
	subCount   = 1 << subBits
	maxValueNs = 1<<44 - 1 // about 4.9 hours; longer latencies are clamped
)

// numBuckets is bucketOf(maxValueNs)+1.
var numBuckets = bucketOf(maxValueNs) + 1

// bucketOf returns the bucket index of v (nanoseconds, 0..maxValueNs).
func bucketOf(v int64) int {
	if v < subCount {
		return int(v)
	}
	shift := bits.Len64(uint64(v)) - subBits - 1 // v>>shift is in [subCount, 2*subCount)
	return (shift+1)*subCount + int(v>>shift) - subCount
}

// bucketHigh returns the highest value that falls into bucket b.
func bucketHigh(b int) int64 {
	if b < subCount {
		return int64(b)
	}
	shift := b/subCount - 1
	m := int64(b%subCount + subCount)
	return (m+1)<<shift - 1
}

// histogram counts latencies. Record may be called from many goroutines at
// once (every producer client's promise goroutine); readers take a snapshot.
type histogram struct {
	counts []atomic.Int64
	sumNs  atomic.Int64
	maxNs  atomic.Int64
}

func newHistogram() *histogram {
	return &histogram{counts: make([]atomic.Int64, numBuckets)}
}

// Record adds one latency. Negative values count as 0, values above
// maxValueNs as maxValueNs.
func (h *histogram) Record(d time.Duration) {
	v := min(max(int64(d), 0), maxValueNs)
	h.counts[bucketOf(v)].Add(1)
	h.sumNs.Add(v)
	for {
		cur := h.maxNs.Load()
		if v <= cur || h.maxNs.CompareAndSwap(cur, v) {
			break
		}
	}
}

// snapshot is a point-in-time copy of a histogram's counters.
type snapshot struct {
	counts []int64
	total  int64
	sumNs  int64
	maxNs  int64
}

// Snapshot copies the counters. Values recorded while it runs may or may not
// be included; the copy is consistent enough for progress lines and exact
// once every Record call has returned.
func (h *histogram) Snapshot() snapshot {
	s := snapshot{counts: make([]int64, len(h.counts))}
	for i := range h.counts {
		c := h.counts[i].Load()
		s.counts[i] = c
		s.total += c
	}
	s.sumNs = h.sumNs.Load()
	s.maxNs = h.maxNs.Load()
	return s
}

// Quantile returns the value at quantile q (0 < q <= 1): the highest value of
// the bucket holding the ceil(q*total)-th smallest value, never above the
// recorded maximum. It returns 0 for an empty snapshot.
func (s snapshot) Quantile(q float64) time.Duration {
	if s.total == 0 {
		return 0
	}
	rank := int64(q*float64(s.total) + 0.999999)
	rank = min(max(rank, 1), s.total)
	var seen int64
	for b, c := range s.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(bucketHigh(b), s.maxNs))
		}
	}
	return time.Duration(s.maxNs)
}

// Max returns the largest recorded value.
func (s snapshot) Max() time.Duration { return time.Duration(s.maxNs) }

// Mean returns the average recorded value, 0 when empty.
func (s snapshot) Mean() time.Duration {
	if s.total == 0 {
		return 0
	}
	return time.Duration(s.sumNs / s.total)
}
