package partition

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	samsalog "github.com/samsa-streaming/samsa/internal/log"
	"github.com/samsa-streaming/samsa/internal/testutil/batchtest"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

// producerStateOf returns p's producer state, encoded.
func producerStateOf(p *Partition) []byte {
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	return p.producers.MarshalSnapshot(0)
}

// referenceState is the producer state of a fresh replica holding the
// leader's batches below end (the state a truncation to end must rebuild).
func referenceState(t *testing.T, leader *Partition, end int64) []byte {
	t.Helper()
	ref := openTest(t, vfs.NewMemFS(), "/ref", testSettings())
	defer ref.Close()
	for _, b := range logBatches(t, leader) {
		h, err := samsalog.ParseBatchHeader(b)
		mustNil(t, err)
		if h.LastOffset() >= end {
			break
		}
		if _, err := ref.AppendAsFollower(b); err != nil {
			t.Fatal(err)
		}
	}
	return producerStateOf(ref)
}

func TestAppendAsFollower(t *testing.T) {
	c := newCluster(t, 2, testSettings())
	l, f := c.get(1), c.get(2)
	mustNil(t, l.BecomeLeader(1, []int32{1, 2}, []int32{1, 2}, t0))
	mustNil(t, f.BecomeFollower(1, 1))
	produceIdem(t, l, 7, 0, 3)
	produce(t, l, 2)
	produceIdem(t, l, 7, 3, 2)
	batches := logBatches(t, l)

	if _, err := l.AppendAsFollower(batches[0]); !errors.Is(err, ErrNotFollower) {
		t.Fatalf("append as follower on the leader: %v", err)
	}
	if leo, err := f.AppendAsFollower(batches[1]); !errors.Is(err, samsalog.ErrOffsetMismatch) || leo != 0 {
		t.Fatalf("batch not at the log end: leo %d, %v", leo, err)
	}
	if leo, err := f.AppendAsFollower(nil); err != nil || leo != 0 {
		t.Fatalf("empty: %d %v", leo, err)
	}
	corrupt := bytes.Clone(batches[0])
	corrupt[len(corrupt)-1] ^= 1
	if _, err := f.AppendAsFollower(corrupt); !errors.Is(err, samsalog.ErrCorruptBatch) {
		t.Fatalf("corrupt: %v", err)
	}
	if f.producers.Len() != 0 {
		t.Fatal("refused batches changed the producer state")
	}
	w := NewWakeup()
	f.ParkData(w)
	leo, err := f.AppendAsFollower(bytes.Join(batches, nil))
	if err != nil || leo != 7 {
		t.Fatalf("append: leo %d, %v", leo, err)
	}
	waitRing(t, w, "follower append")
	if !bytes.Equal(producerStateOf(f), producerStateOf(l)) {
		t.Fatal("follower producer state differs from the leader's")
	}
}

func TestUpdateFollowerHighWatermark(t *testing.T) {
	c := newCluster(t, 2, testSettings())
	l, f := c.get(1), c.get(2)
	mustNil(t, l.BecomeLeader(1, []int32{1, 2}, []int32{1}, t0))
	mustNil(t, f.BecomeFollower(1, 1))
	produce(t, l, 10)
	catchUp(t, l, f, 2, t0) // hw 10 on both
	produce(t, l, 10)
	steps := []struct {
		leaderHW int64
		want     int64
	}{
		{15, 10}, // above the follower's log end (10): capped
		{5, 10},  // lower: never moves back
		{10, 10},
	}
	for _, st := range steps {
		f.UpdateFollowerHighWatermark(st.leaderHW)
		if f.HighWatermark() != st.want {
			t.Fatalf("leader hw %d: follower hw %d, want %d", st.leaderHW, f.HighWatermark(), st.want)
		}
	}
	l.UpdateFollowerHighWatermark(0)
	if l.HighWatermark() != 20 {
		t.Fatalf("leader hw changed by a follower call: %d", l.HighWatermark())
	}
}

// TestTruncateRebuildsProducerState truncates a follower at every batch
// boundary and inside batches, with and without producer checkpoints, and
// compares its producer state with a replica that never had the tail. The
// log makes a producer's window of 5 slide and its epoch change, which an
// in-place cut of the state could not undo.
func TestTruncateRebuildsProducerState(t *testing.T) {
	for _, tc := range []struct {
		name     string
		interval int
	}{
		{"checkpoint every append", 1},
		{"checkpoint every 300 bytes", 300},
		{"no checkpoints: scan", 1 << 30},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, 1, testSettings())
			l := c.get(1)
			mustNil(t, l.BecomeLeader(1, []int32{1, 2}, []int32{1}, t0))
			for seq := int32(0); seq < 7; seq++ {
				produceIdem(t, l, 1, seq, 1)
				if seq%2 == 0 {
					produceIdem(t, l, 2, seq, 2)
				}
			}
			r, err := l.AppendProduce(batchtest.New(2, 1000).Idempotent(1, 1, 0).Encode()) // epoch bump
			mustNil(t, err)
			produce(t, l, 3)
			end := r.LastOffset + 4
			for cut := int64(0); cut <= end; cut++ {
				c.fsys = vfs.NewMemFS()
				f := c.open(2, testSettings())
				f.ckpts.interval = tc.interval
				mustNil(t, f.BecomeFollower(1, 1))
				catchUpBy(t, l, f, 2, t0, 1) // a batch per append: a checkpoint each
				mustNil(t, f.TruncateTo(cut))
				if f.LogEndOffset() > cut {
					t.Fatalf("cut %d: log end %d", cut, f.LogEndOffset())
				}
				if f.HighWatermark() > f.LogEndOffset() {
					t.Fatalf("cut %d: hw %d above log end %d", cut, f.HighWatermark(), f.LogEndOffset())
				}
				if got, want := producerStateOf(f), referenceState(t, l, f.LogEndOffset()); !bytes.Equal(got, want) {
					t.Fatalf("cut %d: producer state differs from a replica without the tail", cut)
				}
				// Copying again restores the leader's state exactly.
				catchUp(t, l, f, 2, t0)
				if !bytes.Equal(producerStateOf(f), producerStateOf(l)) {
					t.Fatalf("cut %d: state after copying again differs", cut)
				}
				mustNil(t, f.Close())
			}
		})
	}
}

// TestTruncateBelowSnapshot: a snapshot written at close past the cut is
// not used and is removed, so that after the log grows again with other
// batches and the node crashes, the reopened state is the right one.
func TestTruncateBelowSnapshot(t *testing.T) {
	s := testSettings()
	s.Log.FsyncOnAck = true
	c := newCluster(t, 1, s)
	l := c.get(1)
	mustNil(t, l.BecomeLeader(1, []int32{1, 2}, []int32{1}, t0))
	for seq := int32(0); seq < 6; seq++ {
		produceIdem(t, l, 1, seq*2, 2)
	}
	f := c.open(2, s)
	mustNil(t, f.BecomeFollower(1, 1))
	catchUp(t, l, f, 2, t0)
	mustNil(t, f.Close()) // snapshot at 12
	f = c.open(2, s)
	snap := filepath.Join(c.replicaDir(2), snapshotName)
	if f.snapshotOffset != 12 {
		t.Fatalf("snapshot offset %d", f.snapshotOffset)
	}
	mustNil(t, f.BecomeFollower(1, 1))
	mustNil(t, f.TruncateTo(6))
	if _, err := c.fsys.Stat(snap); err == nil {
		t.Fatal("snapshot past the cut still on disk")
	}
	// A new leader (replica 1, epoch 2) with another tail: producer 1
	// resends seq 6 and 8, producer 3 writes; the follower copies it.
	mustNil(t, l.BecomeFollower(2, 2))
	mustNil(t, l.TruncateTo(6))
	mustNil(t, l.BecomeLeader(3, []int32{1, 2}, []int32{1}, t0))
	produceIdem(t, l, 3, 0, 4)
	produceIdem(t, l, 1, 6, 2)
	produceIdem(t, l, 1, 8, 2)
	mustNil(t, f.BecomeFollower(3, 1))
	catchUp(t, l, f, 2, t0)
	want := producerStateOf(l)
	if !bytes.Equal(producerStateOf(f), want) {
		t.Fatal("state differs before the crash")
	}
	crashed := c.fsys.(*vfs.MemFS).Crash(vfs.CrashOptions{})
	p, err := OpenReplica(crashed, c.replicaDir(2), "t", 0, 2, s, nil)
	mustNil(t, err)
	defer p.Close()
	if p.LogEndOffset() != l.LogEndOffset() {
		t.Fatalf("log end after crash %d, want %d", p.LogEndOffset(), l.LogEndOffset())
	}
	if !bytes.Equal(producerStateOf(p), want) {
		t.Fatal("state rebuilt after the crash differs")
	}
}

func TestTruncateFullyAndStartAt(t *testing.T) {
	c := newCluster(t, 2, testSettings())
	l, f := c.get(1), c.get(2)
	mustNil(t, l.BecomeLeader(1, []int32{1, 2}, []int32{1}, t0))
	produceIdem(t, l, 1, 0, 5)
	mustNil(t, f.BecomeFollower(1, 1))
	catchUp(t, l, f, 2, t0)
	if err := l.TruncateFullyAndStartAt(100); !errors.Is(err, ErrNotFollower) {
		t.Fatalf("on the leader: %v", err)
	}
	if err := l.TruncateTo(0); !errors.Is(err, ErrNotFollower) {
		t.Fatalf("on the leader: %v", err)
	}
	w := NewWakeup()
	f.Park(w)
	mustNil(t, f.TruncateFullyAndStartAt(100))
	waitRing(t, w, "truncate fully")
	if f.LogStartOffset() != 100 || f.LogEndOffset() != 100 || f.HighWatermark() != 100 || f.producers.Len() != 0 {
		t.Fatalf("start %d end %d hw %d producers %d", f.LogStartOffset(), f.LogEndOffset(), f.HighWatermark(), f.producers.Len())
	}
}

func TestHighWatermarkCheckpoint(t *testing.T) {
	c := newCluster(t, 1, testSettings())
	p := c.get(1)
	mustNil(t, p.BecomeLeader(1, []int32{1}, []int32{1}, t0))
	for i := 0; i < 10; i++ {
		produce(t, p, 1)
	}
	mustNil(t, p.Close())
	p = c.open(1, testSettings())
	if p.HighWatermark() != 10 {
		t.Fatalf("reopened hw %d, want 10", p.HighWatermark())
	}
	path := filepath.Join(c.replicaDir(1), hwCheckpointName)
	for _, tc := range []struct {
		name string
		data string
		want int64
	}{
		{"missing", "", 0},
		{"malformed", "0\n1\nten\n", 0},
		{"past the log end", "0\n1\n99\n", 10},
		{"inside", "0\n1\n7\n", 7},
	} {
		mustNil(t, p.Close())
		if tc.data == "" {
			mustNil(t, c.fsys.Remove(path))
		} else {
			mustNil(t, writeFileAtomic(c.fsys, path, []byte(tc.data), true))
		}
		p = c.open(1, testSettings())
		if p.HighWatermark() != tc.want {
			t.Fatalf("%s: hw %d, want %d", tc.name, p.HighWatermark(), tc.want)
		}
	}

	// A follower truncating below its checkpointed high watermark
	// rewrites it.
	mustNil(t, p.BecomeFollower(2, 2))
	p.UpdateFollowerHighWatermark(10)
	mustNil(t, p.CheckpointHighWatermark())
	mustNil(t, p.TruncateTo(4))
	data, err := readFile(c.fsys, path, maxHWCheckpointBytes)
	mustNil(t, err)
	if hw, ok := parseHWCheckpoint(data); !ok || hw != 4 {
		t.Fatalf("checkpoint after truncation: %q", data)
	}
}

func TestUpdateFollowerLogStartOffset(t *testing.T) {
	c := newCluster(t, 2, testSettings())
	l, f := c.get(1), c.get(2)
	mustNil(t, l.BecomeLeader(1, []int32{1, 2}, []int32{1, 2}, t0))
	mustNil(t, f.BecomeFollower(1, 1))
	for i := 0; i < 10; i++ {
		produce(t, l, 1)
	}
	catchUp(t, l, f, 2, t0)
	produce(t, l, 1)
	copyOnce(t, l, f, 2, t0) // follower: log end 11, hw 10
	for _, st := range []struct{ leaderStart, want int64 }{
		{5, 5},
		{3, 5},   // never back
		{50, 10}, // not past the follower's high watermark
	} {
		mustNil(t, f.UpdateFollowerLogStartOffset(st.leaderStart))
		if f.LogStartOffset() != st.want {
			t.Fatalf("leader start %d: follower start %d, want %d", st.leaderStart, f.LogStartOffset(), st.want)
		}
	}
	mustNil(t, l.UpdateFollowerLogStartOffset(8))
	if l.LogStartOffset() != 0 {
		t.Fatalf("leader's start moved to %d", l.LogStartOffset())
	}
}

// Follower reads (KIP-392): the leader offers the in-sync followers that
// hold an offset; a follower serves consumers up to the high watermark its
// leader reported.
func TestFollowerReadsForConsumers(t *testing.T) {
	c := newCluster(t, 3, testSettings())
	l, f2, f3 := c.get(1), c.get(2), c.get(3)
	mustNil(t, l.BecomeLeader(1, []int32{1, 2, 3}, []int32{1, 2}, t0))
	mustNil(t, f2.BecomeFollower(1, 1))
	mustNil(t, f3.BecomeFollower(1, 1))
	produce(t, l, 4)
	catchUp(t, l, f2, 2, t0) // f3, out of the ISR, never fetches
	catchUp(t, l, f2, 2, t0) // f2 learns the high watermark its copy moved

	if got := l.ReadableReplicas(0); len(got) != 1 || got[0] != 2 {
		t.Errorf("ReadableReplicas(0) = %v, want [2]", got)
	}
	if got := l.ReadableReplicas(l.LogEndOffset() + 1); len(got) != 0 {
		t.Errorf("ReadableReplicas(past the end) = %v, want none", got)
	}
	if got := f2.ReadableReplicas(0); got != nil {
		t.Errorf("ReadableReplicas on a follower = %v", got)
	}

	tests := []struct {
		name    string
		p       *Partition
		offset  int64
		records bool
		err     error
	}{
		{"follower below its high watermark", f2, 0, true, nil},
		{"follower at its high watermark waits", f2, f2.HighWatermark(), false, nil},
		{"follower that has nothing yet waits", f3, 0, false, nil},
		{"follower below the log start", f2, -1, false, kerr.OffsetOutOfRange},
		{"the leader is no follower", l, 0, false, kerr.NotLeaderForPartition},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := tt.p.ReadAsFollower(tt.offset, 1<<20)
			defer r.Release()
			if !errors.Is(err, tt.err) || (r.Len() > 0) != tt.records {
				t.Errorf("ReadAsFollower(%d) = %d bytes, %v; want records %v, err %v", tt.offset, r.Len(), err, tt.records, tt.err)
			}
		})
	}
}
