package log

import (
	"errors"
	"io/fs"
	"testing"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

func TestDeleteRemovesDirectory(t *testing.T) {
	for _, name := range []string{"os", "mem"} {
		t.Run(name, func(t *testing.T) {
			var fsys vfs.FS = vfs.OS{}
			dir := t.TempDir() + "/topic-3"
			if name == "mem" {
				fsys, dir = vfs.NewMemFS(), "/d/topic-3"
			}
			l := openLog(t, fsys, dir, testConfig(nil))
			fillLog(t, l, []int{2, 2, 2})
			r, err := l.Read(0, 100, l.LogEndOffset())
			if err != nil {
				t.Fatal(err)
			}
			if err := l.Delete(); err != nil {
				t.Fatal(err)
			}
			r.Release()
			if _, err := fsys.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("directory still there: %v", err)
			}
			if _, err := l.Append(simpleBatch(1, 1, 1), 0); !errors.Is(err, ErrClosed) {
				t.Fatalf("append after Delete: %v", err)
			}
		})
	}
}

func TestAccessors(t *testing.T) {
	cfg := testConfig(nil)
	cfg.SegmentBytes = 1 << 20
	l, _ := memLog(t, cfg)
	defer l.Close()
	if l.Dir() != "/data/topic-0" || l.SegmentCount() != 1 || l.Size() != 0 || l.LogEndOffset() != 0 {
		t.Fatalf("new log: dir %q, %d segments, %d bytes, end %d", l.Dir(), l.SegmentCount(), l.Size(), l.LogEndOffset())
	}
	var total int64
	for i := range 5 {
		b := simpleBatch(1, int64(i), 300)
		total += int64(len(b))
		mustAppend(t, l, b, 0)
	}
	if l.Size() != total || l.SegmentCount() != 1 {
		t.Fatalf("size %d, want %d; %d segments", l.Size(), total, l.SegmentCount())
	}
	// SetConfig applies to the next append.
	cfg.SegmentBytes = 500
	l.SetConfig(cfg)
	mustAppend(t, l, simpleBatch(1, 9, 300), 0)
	if l.SegmentCount() != 2 {
		t.Fatalf("SetConfig(segment.bytes) not applied: %d segments", l.SegmentCount())
	}
}
