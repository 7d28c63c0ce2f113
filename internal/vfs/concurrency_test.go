package vfs

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
)

// TestMemFSConcurrent runs writers, readers, directory churn, fault counting
// and crashes at the same time; run it with -race. Each writer appends
// fixed records to its own file and syncs after each one, so every crash
// must show each file as a whole number of records, in order.
func TestMemFSConcurrent(t *testing.T) {
	const writers, records = 4, 200
	record := func(w, i int) string { return fmt.Sprintf("w%d-%04d;", w, i) }
	m := NewMemFS()
	if err := m.MkdirAll("/p", 0o755); err != nil {
		t.Fatal(err)
	}
	mustSyncDir(t, m, "/")
	files := make([]File, writers)
	for w := range files {
		files[w] = mustCreate(t, m, fmt.Sprintf("/p/%d.log", w))
	}
	mustSyncDir(t, m, "/p")
	in := m.InjectFault(Fault{Ops: OpRead, Suffix: ".never"}) // counted, never matches

	var writersWG, wg sync.WaitGroup // writers; everything else
	errs := make(chan error, 64)
	done := make(chan struct{})
	for w, f := range files {
		writersWG.Go(func() {
			for i := range records {
				if _, err := f.Write([]byte(record(w, i))); err != nil {
					errs <- err
					return
				}
				if err := f.Sync(); err != nil {
					errs <- err
					return
				}
			}
		})
		wg.Go(func() { // a reader racing the writer
			buf := make([]byte, 64)
			for {
				select {
				case <-done:
					return
				default:
				}
				if _, err := f.ReadAt(buf, 0); err != nil && err != io.EOF {
					errs <- err
					return
				}
				if _, err := f.Size(); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Go(func() { // directory churn
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			tmp := fmt.Sprintf("/p/tmp-%d", i%3)
			if f, err := m.Create(tmp); err == nil {
				_ = f.Close()
			}
			_ = m.Rename(tmp, "/p/renamed")
			_, _ = m.List("/p")
			_ = m.SyncDir("/p")
			_ = m.Remove("/p/renamed")
		}
	})
	crashes := make(chan *MemFS, 8)
	wg.Go(func() { // crashes taken while everything else runs
		defer close(crashes)
		for range 8 {
			crashes <- m.Crash(CrashOptions{})
		}
	})
	for c := range crashes {
		for w := range writers {
			name := fmt.Sprintf("/p/%d.log", w)
			f, err := c.Open(name)
			if err != nil {
				t.Fatalf("crash lost %s: %v", name, err)
			}
			got := string(readAll(t, f))
			mustClose(t, f)
			n := strings.Count(got, ";")
			want := ""
			for i := range n {
				want += record(w, i)
			}
			if got != want {
				t.Fatalf("crash image of %s = %q, want %d whole records", name, got, n)
			}
		}
	}
	// Stop the readers and the churn once the writers are done.
	writersWG.Wait()
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for w, f := range files {
		var want bytes.Buffer
		for i := range records {
			want.WriteString(record(w, i))
		}
		expectContents(t, f, want.String())
		mustClose(t, f)
	}
	if in.Seen() != 0 {
		t.Fatalf("a fault for .never counted %d operations", in.Seen())
	}
}
