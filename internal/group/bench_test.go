package group

import (
	"fmt"
	"testing"
	"time"

	samsalog "github.com/samsa-streaming/samsa/internal/log"
	"github.com/samsa-streaming/samsa/internal/partition"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

// partitionLog adapts a local replica for benchmarks (the broker's adapter
// lives in internal/broker).
type partitionLog struct{ p *partition.Partition }

func (l partitionLog) Append(b []byte) (int64, error) {
	res, err := l.p.AppendProduce(b)
	return res.LastOffset, err
}
func (l partitionLog) Committed(o int64) bool { return l.p.Committed(o) }
func (l partitionLog) WaitCommitted(_ int64, _ <-chan struct{}, done func(error)) {
	done(nil)
}
func (l partitionLog) Scan(fn func([]byte) error) error {
	return l.p.Log().ScanBatches(l.p.LogStartOffset(), func(_ samsalog.BatchHeader, b []byte) error { return fn(b) })
}

// writeCommits fills a __consumer_offsets replica in dir with n offset
// commits: 1000 groups committing 10 partitions per request (one batch).
func writeCommits(tb testing.TB, dir string, n int) *partition.Partition {
	tb.Helper()
	s := partition.Settings{Log: samsalog.DefaultConfig(), MaxMessageBytes: 1 << 20, KeepProducer: true}
	p, err := partition.OpenReplica(vfs.OS{}, dir, OffsetsTopic, 0, 1, s, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if err := p.BecomeLeader(0, []int32{1}, []int32{1}, time.Now()); err != nil {
		tb.Fatal(err)
	}
	const groups, perBatch = 1000, 10
	recs := make([]Record, perBatch)
	for i := 0; i < n/perBatch; i++ {
		group := fmt.Sprintf("group-%04d", i%groups)
		for j := range recs {
			recs[j] = offsetCommitRecord(group, "topic-a", int32(j), OffsetCommit{
				Offset: int64(i), LeaderEpoch: 0, CommitTimestamp: 1_700_000_000_000, ExpireTimestamp: -1})
		}
		if _, err := p.AppendProduce(EncodeBatch(recs, 1_700_000_000_000)); err != nil {
			tb.Fatal(err)
		}
	}
	return p
}

// BenchmarkLoadMillionCommits measures a coordinator load (replay) of a
// __consumer_offsets partition holding one million commits. Target: < 2 s.
//
//	go test ./internal/group -run '^$' -bench LoadMillionCommits -benchtime 3x
func BenchmarkLoadMillionCommits(b *testing.B) {
	dir := b.TempDir()
	start := time.Now()
	p := writeCommits(b, dir, 1_000_000)
	defer p.Close()
	b.Logf("wrote 1M commits in %v (%d bytes)", time.Since(start).Round(time.Millisecond), p.Log().Size())
	c := New(testConfig())
	var slowest time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		began := time.Now()
		s := newShard(c, 0, 1, partitionLog{p})
		res := s.load()
		if res.err != nil {
			b.Fatal(res.err)
		}
		s.finishLoad(res)
		slowest = max(slowest, time.Since(began))
		if res.records != 1_000_000 || len(s.groups) != 1000 {
			b.Fatalf("loaded %d records, %d groups", res.records, len(s.groups))
		}
	}
	b.ReportMetric(float64(slowest.Milliseconds()), "slowest-ms/load")
}

// TestLoadFromPartition replays a real replica (a smaller log than the
// benchmark's) and checks the last commit of each partition wins.
func TestLoadFromPartition(t *testing.T) {
	p := writeCommits(t, t.TempDir(), 20_000)
	defer p.Close()
	s := newShard(New(testConfig()), 0, 1, partitionLog{p})
	res := s.load()
	if res.err != nil {
		t.Fatal(res.err)
	}
	s.finishLoad(res)
	g := s.groups["group-0007"]
	if g == nil {
		t.Fatal("group-0007 not loaded")
	}
	// Batch i belongs to group i%1000; the last one of group 7 is 1007.
	if oc, ok := g.Committed("topic-a", 9); !ok || oc.Offset != 1007 {
		t.Fatalf("topic-a-9 committed %+v", oc)
	}
}
