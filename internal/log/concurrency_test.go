package log

import (
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// slowSyncFS delays every File.Sync of a .log file and counts them, like a
// disk whose fsync takes a while.
type slowSyncFS struct {
	vfs.FS
	delay time.Duration
	syncs atomic.Int64
}

type slowSyncFile struct {
	vfs.File
	fs *slowSyncFS
}

func (f *slowSyncFile) Sync() error {
	f.fs.syncs.Add(1)
	time.Sleep(f.fs.delay) // models the disk, not a wait for a condition
	return f.File.Sync()
}

func (s *slowSyncFS) wrap(f vfs.File, err error) (vfs.File, error) {
	if err != nil || len(f.Name()) < 4 || f.Name()[len(f.Name())-4:] != ".log" {
		return f, err
	}
	return &slowSyncFile{File: f, fs: s}, nil
}

func (s *slowSyncFS) Create(name string) (vfs.File, error) { return s.wrap(s.FS.Create(name)) }
func (s *slowSyncFS) OpenReadWrite(name string) (vfs.File, error) {
	return s.wrap(s.FS.OpenReadWrite(name))
}
func (s *slowSyncFS) Open(name string) (vfs.File, error) { return s.wrap(s.FS.Open(name)) }

// TestGroupCommit has 8 appenders with fsync-on-ack share fsyncs: far
// fewer fsyncs than appends, and every acknowledged append is durable.
func TestGroupCommit(t *testing.T) {
	mem := vfs.NewMemFS()
	fsys := &slowSyncFS{FS: mem, delay: 2 * time.Millisecond}
	cfg := DefaultConfig()
	cfg.FsyncOnAck = true
	l := openLog(t, fsys, "/g", cfg)
	const writers, per = 8, 25
	fsys.syncs.Store(0)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var acked []int64
	errs := make(chan error, writers)
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range per {
				res, err := l.Append(simpleBatch(1, 1, 100), 0)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				acked = append(acked, res.LastOffset)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	syncs := fsys.syncs.Load()
	t.Logf("%d appends, %d fsyncs", writers*per, syncs)
	if syncs > writers*per/2 {
		t.Fatalf("%d fsyncs for %d appends: no group commit", syncs, writers*per)
	}
	crashed := openLog(t, mem.Crash(vfs.CrashOptions{}), "/g", cfg)
	for _, off := range acked {
		if off >= crashed.LogEndOffset() {
			t.Fatalf("acknowledged offset %d lost (end %d after crash)", off, crashed.LogEndOffset())
		}
	}
	crashed.Close()
	l.Close()
}

// TestConcurrentEverything runs appends, rolls, reads, retention,
// DeleteRecordsBefore, timestamp lookups and scans at the same time (run it
// with -race). Reads may fail only with ErrOffsetOutOfRange (the start moved).
func TestConcurrentEverything(t *testing.T) {
	cfg := testConfig(nil)
	cfg.SegmentBytes = 3000
	cfg.RetentionBytes = 20_000
	l, _ := memLog(t, cfg)
	defer l.Close()
	const appends = 400
	var wg sync.WaitGroup
	done := make(chan struct{})
	errs := make(chan error, 16)
	report := func(err error) {
		select {
		case errs <- err:
		default:
		}
	}
	loop := func(f func(rng *rand.Rand) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
			for {
				select {
				case <-done:
					return
				default:
				}
				if err := f(rng); err != nil {
					report(err)
					return
				}
			}
		}()
	}
	for range 3 {
		loop(func(rng *rand.Rand) error {
			start, end := l.LogStartOffset(), l.LogEndOffset()
			if end <= start {
				return nil
			}
			r, err := l.Read(start+rng.Int64N(end-start), int32(rng.IntN(5000)), end)
			if errors.Is(err, ErrOffsetOutOfRange) {
				return nil
			}
			if err != nil {
				return err
			}
			_, err = r.AppendTo(nil)
			r.Release()
			return err
		})
	}
	loop(func(rng *rand.Rand) error {
		_, err := l.ApplyRetention()
		return err
	})
	loop(func(rng *rand.Rand) error {
		end := l.LogEndOffset()
		if rng.IntN(50) == 0 && end > 0 {
			return l.DeleteRecordsBefore(end - rng.Int64N(min(end, 30)) - 0)
		}
		l.OffsetForTimestamp(rng.Int64N(appends))
		l.MaxTimestamp()
		return nil
	})
	loop(func(rng *rand.Rand) error {
		err := l.ScanBatches(l.LogStartOffset(), func(BatchHeader, []byte) error { return nil })
		if errors.Is(err, ErrOffsetOutOfRange) {
			return nil
		}
		return err
	})
	for i := range appends {
		if _, err := l.Append(simpleBatch(1+i%3, int64(i), 100), int32(i/100)); err != nil {
			t.Fatal(err)
		}
		if i%97 == 0 {
			if err := l.Roll(); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	readAllBatches(t, l)
	checkIndexes(t, l)
}
