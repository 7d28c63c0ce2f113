package log

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// fillLog appends batches of the given record counts (100-byte values) and
// returns the batches as stored.
func fillLog(t *testing.T, l *Log, counts []int) [][]byte {
	t.Helper()
	var out [][]byte
	for i, n := range counts {
		b := simpleBatch(n, 1000+int64(i), 100)
		if _, err := l.Append(b, 0); err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func TestRead(t *testing.T) {
	cfg := testConfig(nil)
	cfg.SegmentBytes = 1200 // ~ 3 batches of 3 records per segment
	l, _ := memLog(t, cfg)
	defer l.Close()
	batches := fillLog(t, l, []int{3, 3, 3, 3, 3, 3, 3, 3}) // offsets 0..23
	if l.SegmentCount() < 3 {
		t.Fatalf("want several segments, got %d", l.SegmentCount())
	}
	bsize := int32(len(batches[0]))
	end := l.LogEndOffset()
	tests := []struct {
		name       string
		offset     int64
		maxBytes   int32
		maxOffset  int64
		wantFirst  int64 // -1: empty
		wantLast   int64
		wantErr    error
		wantSameAs []int // indexes of batches expected
	}{
		{name: "start", offset: 0, maxBytes: bsize, maxOffset: end, wantFirst: 0, wantLast: 2, wantSameAs: []int{0}},
		{name: "mid batch", offset: 4, maxBytes: bsize, maxOffset: end, wantFirst: 3, wantLast: 5, wantSameAs: []int{1}},
		{name: "two batches", offset: 3, maxBytes: 2 * bsize, maxOffset: end, wantFirst: 3, wantLast: 8, wantSameAs: []int{1, 2}},
		{name: "kip-74 one batch over limit", offset: 6, maxBytes: 1, maxOffset: end, wantFirst: 6, wantLast: 8, wantSameAs: []int{2}},
		{name: "one segment only", offset: 0, maxBytes: 1 << 20, maxOffset: end, wantFirst: 0, wantLast: -2},
		{name: "high watermark excludes", offset: 3, maxBytes: 1 << 20, maxOffset: 8, wantFirst: 3, wantLast: 5, wantSameAs: []int{1}},
		{name: "high watermark inside first batch", offset: 3, maxBytes: 1 << 20, maxOffset: 4, wantFirst: -1},
		{name: "at high watermark", offset: 9, maxBytes: 1 << 20, maxOffset: 9, wantFirst: -1},
		{name: "at end", offset: end, maxBytes: 100, maxOffset: end, wantFirst: -1},
		{name: "beyond end", offset: end + 1, maxBytes: 100, maxOffset: end + 5, wantErr: ErrOffsetOutOfRange},
		{name: "negative", offset: -1, maxBytes: 100, maxOffset: end, wantErr: ErrOffsetOutOfRange},
		{name: "last batch", offset: end - 1, maxBytes: 100, maxOffset: end, wantFirst: end - 3, wantLast: end - 1, wantSameAs: []int{7}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := l.Read(tc.offset, tc.maxBytes, tc.maxOffset)
			defer r.Release()
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if tc.wantFirst == -1 {
				if r.Len() != 0 || r.FirstOffset() != -1 || r.LastOffset() != -1 {
					t.Fatalf("want empty, got %d bytes [%d, %d]", r.Len(), r.FirstOffset(), r.LastOffset())
				}
				return
			}
			if r.FirstOffset() != tc.wantFirst {
				t.Fatalf("first = %d, want %d", r.FirstOffset(), tc.wantFirst)
			}
			if tc.wantLast == -2 { // whole first segment
				if r.LastOffset()+1 != l.segs.Load().segs[1].base {
					t.Fatalf("last = %d, want the end of the first segment %d", r.LastOffset(), l.segs.Load().segs[1].base)
				}
			} else if r.LastOffset() != tc.wantLast {
				t.Fatalf("last = %d, want %d", r.LastOffset(), tc.wantLast)
			}
			got, err := r.AppendTo([]byte("prefix"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(got, []byte("prefix")) || len(got) != 6+r.Len() {
				t.Fatalf("AppendTo did not append")
			}
			if tc.wantSameAs != nil {
				var want []byte
				for _, i := range tc.wantSameAs {
					want = append(want, batches[i]...)
				}
				if !bytes.Equal(got[6:], want) {
					t.Fatalf("bytes differ from the appended batches")
				}
			}
			var buf bytes.Buffer
			if n, err := r.WriteTo(&buf); err != nil || n != int64(r.Len()) || !bytes.Equal(buf.Bytes(), got[6:]) {
				t.Fatalf("WriteTo = %d, %v", n, err)
			}
		})
	}
}

func TestReadReleaseIsIdempotent(t *testing.T) {
	l, _ := memLog(t, testConfig(nil))
	defer l.Close()
	fillLog(t, l, []int{1, 1})
	r, err := l.Read(0, 100, l.LogEndOffset())
	if err != nil {
		t.Fatal(err)
	}
	s := r.h.seg
	r.Release()
	r.Release()
	s.mu.Lock()
	readers := s.readers
	s.mu.Unlock()
	if readers != 0 {
		t.Fatalf("readers = %d after double release", readers)
	}
	ReadResult{}.Release()
}

// TestReadSurvivesRetention deletes the segment an outstanding read refers
// to; the read stays valid and the files go away on Release.
func TestReadSurvivesRetention(t *testing.T) {
	for _, fsName := range []string{"os", "mem"} {
		t.Run(fsName, func(t *testing.T) {
			var fsys vfs.FS = vfs.OS{}
			dir := t.TempDir()
			if fsName == "mem" {
				fsys, dir = vfs.NewMemFS(), "/d"
			}
			cfg := testConfig(nil)
			cfg.SegmentBytes = 1200
			l := openLog(t, fsys, dir, cfg)
			defer l.Close()
			batches := fillLog(t, l, []int{3, 3, 3, 3, 3, 3, 3})
			l.bg.Wait() // background flushes also hold segment references
			r, err := l.Read(0, 1<<20, l.LogEndOffset())
			if err != nil {
				t.Fatal(err)
			}
			if err := l.DeleteRecordsBefore(l.LogEndOffset() - 1); err != nil {
				t.Fatal(err)
			}
			if l.SegmentCount() != 1 {
				t.Fatalf("%d segments left", l.SegmentCount())
			}
			if _, err := l.Read(0, 100, l.LogEndOffset()); !errors.Is(err, ErrOffsetOutOfRange) {
				t.Fatalf("read below start: %v", err)
			}
			got, err := r.AppendTo(nil)
			if err != nil {
				t.Fatalf("outstanding read after deletion: %v", err)
			}
			if !bytes.Equal(got[:len(batches[0])], batches[0]) {
				t.Fatal("outstanding read returned other bytes")
			}
			names, _ := fsys.List(dir)
			deleted := 0
			for _, n := range names {
				if bytes.HasSuffix([]byte(n), []byte(deletedSuffix)) {
					deleted++
				}
			}
			if deleted == 0 {
				t.Fatalf("held segment's files not kept as .deleted: %v", names)
			}
			r.Release()
			names, _ = fsys.List(dir)
			for _, n := range names {
				if bytes.HasSuffix([]byte(n), []byte(deletedSuffix)) {
					t.Fatalf("%s left after release", n)
				}
			}
		})
	}
}

// TestWriteToUsesSendfile sends a read over a loopback TCP connection and
// checks the bytes went through sendfile(2).
func TestWriteToUsesSendfile(t *testing.T) {
	l := openLog(t, vfs.OS{}, t.TempDir(), testConfig(nil))
	defer l.Close()
	batches := fillLog(t, l, []int{2, 2, 2})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	received := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			received <- nil
			return
		}
		defer c.Close()
		b, _ := io.ReadAll(c)
		received <- b
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	r, err := l.Read(0, 1<<20, l.LogEndOffset())
	if err != nil {
		t.Fatal(err)
	}
	before := sendfileCount()
	n, err := r.WriteTo(conn)
	r.Release()
	conn.Close()
	if err != nil || n != int64(r.Len()) {
		t.Fatalf("WriteTo = %d, %v", n, err)
	}
	select {
	case got := <-received:
		if !bytes.Equal(got, bytes.Join(batches, nil)) {
			t.Fatalf("received %d bytes that differ", len(got))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("receiver did not finish")
	}
	if sendfileSupported && sendfileCount()-before != n {
		t.Fatalf("sendfile carried %d bytes, want %d", sendfileCount()-before, n)
	}
}

// TestReadersDuringAppends runs readers against a log being appended to
// and rolled: every read sees whole, dense batches.
func TestReadersDuringAppends(t *testing.T) {
	cfg := testConfig(nil)
	cfg.SegmentBytes = 2000
	l, _ := memLog(t, cfg)
	defer l.Close()
	const total = 300
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 4)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var off int64
			for {
				select {
				case <-stop:
					return
				default:
				}
				end := l.LogEndOffset()
				if off >= end {
					continue
				}
				r, err := l.Read(off, 700, end)
				if err != nil {
					errs <- err
					return
				}
				b, err := r.AppendTo(nil)
				r.Release()
				if err != nil {
					errs <- err
					return
				}
				for len(b) > 0 {
					h, err := ValidateBatch(b[:batchSizeOf(b)])
					if err != nil || h.BaseOffset > off || h.LastOffset() < off {
						errs <- errors.New("read returned a bad or misplaced batch")
						return
					}
					off = h.LastOffset() + 1
					b = b[h.Size():]
				}
			}
		}()
	}
	for i := range total {
		if _, err := l.Append(simpleBatch(1+i%4, int64(i), 50), 0); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func batchSizeOf(b []byte) int {
	h, err := ParseBatchHeader(b)
	if err != nil || h.Size() > int64(len(b)) {
		return len(b)
	}
	return int(h.Size())
}
