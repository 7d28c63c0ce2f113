package bench

import (
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestBucketsAreContiguousAndTight(t *testing.T) {
	// Every value maps to a bucket whose range holds it; bucket indexes never
	// go down as values go up; a bucket is at most 1/subCount of its value wide.
	prev := -1
	for _, v := range sampleValues() {
		b := bucketOf(v)
		if b < prev {
			t.Fatalf("bucketOf(%d) = %d after %d: not monotonic", v, b, prev)
		}
		prev = b
		hi := bucketHigh(b)
		if hi < v {
			t.Fatalf("bucketHigh(%d) = %d < value %d", b, hi, v)
		}
		if b > 0 && bucketHigh(b-1) >= v {
			t.Fatalf("value %d also fits bucket %d (high %d)", v, b-1, bucketHigh(b-1))
		}
		if float64(hi-v) > float64(v)/subCount {
			t.Fatalf("value %d: bucket high %d is more than 1/%d above", v, hi, subCount)
		}
	}
	if got := bucketOf(maxValueNs); got != numBuckets-1 {
		t.Fatalf("bucketOf(max) = %d, want %d", got, numBuckets-1)
	}
}

// sampleValues returns values around every power of two up to maxValueNs.
func sampleValues() []int64 {
	var vs []int64
	for v := int64(0); v < 1024; v++ {
		vs = append(vs, v)
	}
	for shift := 10; shift < 44; shift++ {
		base := int64(1) << shift
		for _, d := range []int64{-2, -1, 0, 1, 2, base / 3, base / 2} {
			vs = append(vs, base+d)
		}
	}
	vs = append(vs, maxValueNs)
	slices.Sort(vs)
	return slices.Compact(vs)
}

func TestQuantilesMatchSortedReference(t *testing.T) {
	for _, tc := range []struct {
		name string
		gen  func(r *rand.Rand) time.Duration
	}{
		{"uniform 0-10ms", func(r *rand.Rand) time.Duration { return time.Duration(r.Int64N(int64(10 * time.Millisecond))) }},
		{"exponential 2ms", func(r *rand.Rand) time.Duration { return time.Duration(r.ExpFloat64() * float64(2*time.Millisecond)) }},
		{"bimodal", func(r *rand.Rand) time.Duration {
			if r.IntN(100) == 0 {
				return 200*time.Millisecond + time.Duration(r.Int64N(int64(time.Millisecond)))
			}
			return 300*time.Microsecond + time.Duration(r.Int64N(int64(50*time.Microsecond)))
		}},
		{"tiny", func(r *rand.Rand) time.Duration { return time.Duration(r.Int64N(100)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(7, 11))
			h := newHistogram()
			vals := make([]time.Duration, 50000)
			for i := range vals {
				vals[i] = tc.gen(r)
				h.Record(vals[i])
			}
			slices.Sort(vals)
			s := h.Snapshot()
			if s.total != int64(len(vals)) {
				t.Fatalf("total %d, want %d", s.total, len(vals))
			}
			for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
				rank := int(q*float64(len(vals))+0.999999) - 1
				want := vals[rank]
				got := s.Quantile(q)
				if got < want || float64(got-want) > float64(want)/subCount+1 {
					t.Errorf("q%.3f = %v, reference %v", q, got, want)
				}
			}
			if s.Max() != vals[len(vals)-1] {
				t.Errorf("max %v, want %v", s.Max(), vals[len(vals)-1])
			}
		})
	}
}

func TestHistogramEdgeCases(t *testing.T) {
	h := newHistogram()
	if s := h.Snapshot(); s.Quantile(0.99) != 0 || s.Max() != 0 || s.Mean() != 0 {
		t.Fatalf("empty histogram: %v %v %v", s.Quantile(0.99), s.Max(), s.Mean())
	}
	h.Record(-5 * time.Second)
	h.Record(100 * 365 * 24 * time.Hour)
	s := h.Snapshot()
	if s.Quantile(0.1) != 0 || s.Max() != maxValueNs {
		t.Fatalf("clamping: low %v max %v", s.Quantile(0.1), s.Max())
	}
}

func TestHistogramConcurrentRecord(t *testing.T) {
	h := newHistogram()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 10000 {
				h.Record(time.Duration(g*10000+i) * time.Microsecond)
			}
		})
	}
	wg.Wait()
	s := h.Snapshot()
	if s.total != 40000 || s.Max() != 39999*time.Microsecond {
		t.Fatalf("total %d max %v", s.total, s.Max())
	}
}
