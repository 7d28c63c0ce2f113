package partition

import (
	"bytes"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	samsalog "github.com/samsa-streaming/samsa/internal/log"
	"github.com/samsa-streaming/samsa/internal/testutil/batchtest"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

// t0 is the clock of the replication tests: they pass times explicitly.
var t0 = time.Unix(1_700_000_000, 0)

// cluster is a set of replicas of one partition, ids 1..n, each in its own
// directory of one in-memory file system.
type cluster struct {
	t    testing.TB
	fsys vfs.FS
	dir  string
	reps map[int32]*Partition
}

func newCluster(t testing.TB, n int, s Settings) *cluster {
	t.Helper()
	c := &cluster{t: t, fsys: vfs.NewMemFS(), dir: "/data", reps: map[int32]*Partition{}}
	for id := int32(1); id <= int32(n); id++ {
		c.open(id, s)
	}
	t.Cleanup(func() {
		for _, p := range c.reps {
			p.Close()
		}
	})
	return c
}

func (c *cluster) replicaDir(id int32) string {
	return filepath.Join(c.dir, fmt.Sprintf("node%d", id), "t-0")
}

// open (re)opens replica id.
func (c *cluster) open(id int32, s Settings) *Partition {
	c.t.Helper()
	p, err := OpenReplica(c.fsys, c.replicaDir(id), "t", 0, id, s, nil)
	if err != nil {
		c.t.Fatalf("open replica %d: %v", id, err)
	}
	c.reps[id] = p
	return p
}

func (c *cluster) get(id int32) *Partition { return c.reps[id] }

// copyOnce is one follower fetch round: the follower reports its position
// (its fetch offset), reads what the leader has from there, appends it and
// takes the leader's high watermark. It returns the bytes copied.
func copyOnce(t testing.TB, leader, follower *Partition, id int32, now time.Time) int {
	t.Helper()
	n, err := tryCopy(leader, follower, id, now)
	if err != nil {
		t.Fatalf("copy to %d: %v", id, err)
	}
	return n
}

func tryCopy(leader, follower *Partition, id int32, now time.Time) (int, error) {
	return tryCopyBytes(leader, follower, id, now, 1<<20)
}

// tryCopyBytes is one fetch round of at most maxBytes (but always one
// whole batch).
func tryCopyBytes(leader, follower *Partition, id int32, now time.Time, maxBytes int32) (int, error) {
	off := follower.LogEndOffset()
	if err := leader.FollowerFetched(id, off, now); err != nil {
		return 0, err
	}
	r, err := leader.ReadReplica(off, maxBytes)
	if err != nil {
		return 0, err
	}
	buf, err := r.AppendTo(nil)
	r.Release()
	if err != nil {
		return 0, err
	}
	if _, err := follower.AppendAsFollower(buf); err != nil {
		return 0, err
	}
	follower.UpdateFollowerHighWatermark(leader.HighWatermark())
	return len(buf), nil
}

// catchUp copies until the follower has everything and has told the leader.
func catchUp(t testing.TB, leader, follower *Partition, id int32, now time.Time) {
	t.Helper()
	catchUpBy(t, leader, follower, id, now, 1<<20)
}

// catchUpBy is catchUp with fetches of at most maxBytes (1: a batch each).
func catchUpBy(t testing.TB, leader, follower *Partition, id int32, now time.Time, maxBytes int32) {
	t.Helper()
	for i := 0; i < 10000; i++ {
		n, err := tryCopyBytes(leader, follower, id, now, maxBytes)
		if err != nil {
			t.Fatalf("copy to %d: %v", id, err)
		}
		if n == 0 {
			// One more fetch reports the final position.
			copyOnce(t, leader, follower, id, now)
			return
		}
	}
	t.Fatal("follower never caught up")
}

// logBatches returns every batch of a replica's log, as stored.
func logBatches(t testing.TB, p *Partition) [][]byte {
	t.Helper()
	var out [][]byte
	err := p.Log().ScanBatches(p.LogStartOffset(), func(_ samsalog.BatchHeader, b []byte) error {
		out = append(out, bytes.Clone(b))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sameLogs fails unless the replicas hold byte-identical logs.
func sameLogs(t testing.TB, a, b *Partition) {
	t.Helper()
	la, lb := logBatches(t, a), logBatches(t, b)
	if len(la) != len(lb) {
		t.Fatalf("%d batches vs %d", len(la), len(lb))
	}
	for i := range la {
		if !bytes.Equal(la[i], lb[i]) {
			t.Fatalf("batch %d differs", i)
		}
	}
}

// produce appends a plain batch of n records as leader.
func produce(t testing.TB, p *Partition, n int) ProduceResult {
	t.Helper()
	r, err := p.AppendProduce(batchtest.New(n, 1000).Encode())
	if err != nil {
		t.Fatalf("produce: %v", err)
	}
	return r
}

// produceIdem appends an idempotent batch of n records from producer pid
// starting at seq.
func produceIdem(t testing.TB, p *Partition, pid int64, seq int32, n int) ProduceResult {
	t.Helper()
	r, err := p.AppendProduce(batchtest.New(n, 1000).Idempotent(pid, 0, seq).Encode())
	if err != nil {
		t.Fatalf("produce pid %d seq %d: %v", pid, seq, err)
	}
	return r
}

func mustNil(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// waitRing fails unless w is rung within a second.
func waitRing(t testing.TB, w *Wakeup, what string) {
	t.Helper()
	select {
	case <-w.C:
	case <-time.After(time.Second):
		t.Fatalf("%s: waiter not rung", what)
	}
}

// notRung fails if w was rung.
func notRung(t testing.TB, w *Wakeup, what string) {
	t.Helper()
	select {
	case <-w.C:
		t.Fatalf("%s: waiter rung", what)
	default:
	}
}
