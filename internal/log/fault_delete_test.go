package log

import (
	"errors"
	"testing"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// TestFailedSegmentDeletion: when a segment's .log cannot be renamed away,
// the log never ends up with a gap on disk. Retention keeps that segment
// and every newer one (and says so); truncation keeps everything and
// refuses writes. Either way a reopened log reads through without damage.
// (Both used to log the failed rename and go on: the kept file reappeared
// at the next Open after newer segments were gone, or beside a cut one.)
func TestFailedSegmentDeletion(t *testing.T) {
	setup := func(t *testing.T) (*Log, *vfs.MemFS, []*segment) {
		cfg := testConfig(nil)
		l, fsys := memLog(t, cfg)
		for range 5 {
			mustAppend(t, l, simpleBatch(3, 1, 100), 0)
			if err := l.Roll(); err != nil {
				t.Fatal(err)
			}
		}
		mustAppend(t, l, simpleBatch(3, 1, 100), 0)
		l.bg.Wait()
		return l, fsys, l.segs.Load().segs // 5 sealed and the active one
	}
	failRename := func(fsys *vfs.MemFS, s *segment) {
		fsys.InjectFault(vfs.Fault{Ops: vfs.OpRename, Suffix: segmentName(s.base) + logSuffix})
	}
	reopen := func(t *testing.T, l *Log, fsys *vfs.MemFS) *Log {
		l.Close()
		l = openLog(t, fsys, l.Dir(), testConfig(nil))
		readAllBatches(t, l)
		checkIndexes(t, l)
		return l
	}

	t.Run("retention", func(t *testing.T) {
		l, fsys, segs := setup(t)
		failRename(fsys, segs[2]) // the third of five victims
		c := testConfig(nil)
		c.RetentionBytes = 1
		l.SetConfig(c)
		n, err := l.ApplyRetention()
		if !errors.Is(err, vfs.ErrInjected) || n != 2 {
			t.Fatalf("ApplyRetention = %d, %v; want 2 and the injected error", n, err)
		}
		if l.LogStartOffset() != segs[2].base || l.SegmentCount() != len(segs)-2 {
			t.Fatalf("start %d, %d segments; want %d, %d", l.LogStartOffset(), l.SegmentCount(), segs[2].base, len(segs)-2)
		}
		readAllBatches(t, l)
		mustAppend(t, l, simpleBatch(1, 1, 10), 0) // the log keeps working
		end := l.LogEndOffset()
		l = reopen(t, l, fsys)
		defer l.Close()
		if l.LogStartOffset() != segs[2].base || l.LogEndOffset() != end {
			t.Fatalf("after reopen: [%d, %d), want [%d, %d)", l.LogStartOffset(), l.LogEndOffset(), segs[2].base, end)
		}
		// The next run deletes the rest.
		l.SetConfig(c)
		before := l.SegmentCount()
		if n, err := l.ApplyRetention(); err != nil || n != before-1 {
			t.Fatalf("second ApplyRetention = %d, %v; want %d", n, err, before-1)
		}
	})

	t.Run("truncation", func(t *testing.T) {
		l, fsys, segs := setup(t)
		end := l.LogEndOffset()
		failRename(fsys, segs[4]) // deleted second, after the active one
		err := l.TruncateTo(segs[1].base + 1)
		if !errors.Is(err, vfs.ErrInjected) {
			t.Fatalf("TruncateTo = %v, want the injected error", err)
		}
		if _, err := l.Append(simpleBatch(1, 1, 10), 0); err == nil {
			t.Fatal("the log accepted an append after a failed truncation")
		}
		l = reopen(t, l, fsys)
		defer l.Close()
		// The active segment went; the rest is whole.
		if l.LogEndOffset() != segs[5].base || l.LogEndOffset() >= end {
			t.Fatalf("after reopen: end %d, want %d", l.LogEndOffset(), segs[5].base)
		}
		mustAppend(t, l, simpleBatch(1, 1, 10), 0)
	})
}

// TestUnreadableLogStartCheckpoint: a log start checkpoint that exists
// but cannot be read fails Open; going on without it would bring records
// deleted by DeleteRecordsBefore back. Unparseable contents are ignored
// (TestGarbageCheckpointsAndMarker).
func TestUnreadableLogStartCheckpoint(t *testing.T) {
	cfg := testConfig(nil)
	l, fsys := memLog(t, cfg)
	for range 3 {
		mustAppend(t, l, simpleBatch(2, 1, 50), 0)
	}
	if err := l.DeleteRecordsBefore(3); err != nil {
		t.Fatal(err)
	}
	dir := l.Dir()
	l.Close()
	in := fsys.InjectFault(vfs.Fault{Ops: vfs.OpOpen, Suffix: logStartCheckpointFile})
	if _, err := Open(fsys, dir, cfg); !errors.Is(err, vfs.ErrInjected) {
		t.Fatalf("Open with an unreadable log start checkpoint: %v", err)
	}
	in.Remove()
	l = openLog(t, fsys, dir, cfg)
	defer l.Close()
	if l.LogStartOffset() != 3 {
		t.Fatalf("start %d, want 3", l.LogStartOffset())
	}
}
