package log

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

var openPartitions = flag.Int("partitions", 2_000, "partitions TestOpenManyCleanLogs opens (the target is 10,000 in well under 2 s)")

// TestOpenManyCleanLogs opens cleanly shut down partitions on the real
// file system and reports the time: 2,000 by default (200 with -short);
// run with -args -partitions=10000 for the full measurement. The
// partitions are copies of one closed log, made with plain file writes.
func TestOpenManyCleanLogs(t *testing.T) {
	n := *openPartitions
	if testing.Short() {
		n = min(n, 200)
	}
	root := t.TempDir()
	cfg := DefaultConfig()
	tmpl := filepath.Join(root, "template")
	l := openLog(t, vfs.OS{}, tmpl, cfg)
	for i := range 20 {
		mustAppend(t, l, simpleBatch(5, int64(i), 100), 1)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(tmpl, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = b
	}
	dirs := make([]string, n)
	for i := range dirs {
		dirs[i] = filepath.Join(root, "topic-"+itoa(i))
		if err := os.Mkdir(dirs[i], 0o755); err != nil {
			t.Fatal(err)
		}
		for name, b := range files {
			if err := os.WriteFile(filepath.Join(dirs[i], name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	logs := make([]*Log, n)
	start := time.Now()
	for i, d := range dirs {
		logs[i] = openLog(t, vfs.OS{}, d, cfg)
	}
	elapsed := time.Since(start)
	t.Logf("opened %d cleanly shut down partitions in %v (%v each)", n, elapsed, elapsed/time.Duration(n))
	for _, l := range logs {
		if l.LogEndOffset() != 100 {
			t.Fatalf("end %d", l.LogEndOffset())
		}
	}
	start = time.Now()
	for _, l := range logs {
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("closed them in %v", time.Since(start))
	if limit := 2 * time.Second * time.Duration(n) / 10_000; elapsed > 5*limit {
		t.Fatalf("opening %d partitions took %v, far above the %v target", n, elapsed, limit)
	}
}

func itoa(i int) string { return segmentName(int64(i))[14:] }
