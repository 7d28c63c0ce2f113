package log

// Benchmarks compare the log with plain files doing the same I/O on the
// same file system (b.TempDir), in the same run; b.SetBytes makes go test
// report MB/s and every benchmark reports allocations.
//
//	go test -run='^$' -bench='Append_|FileWrite_|Read_1MiB|FileRead_1MiB|Fsync_16KiB' -count=5 ./internal/log
//
// The write baselines write the same batches the way the log must: into
// files of segment.bytes (1 GiB), rolling to a new file when the next
// batch would not fit and fsyncing each full file in the background (the
// log's flush of a rolled segment, which moves its recovery point). What
// the log adds is its own work: validating each batch (CRC-32C over the
// batch), offset and epoch stamping, index entries, and the locks.

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// benchBatch returns a batch of about size bytes (16 records).
func benchBatch(size int) []byte {
	return simpleBatch(16, time.Now().UnixMilli(), size/16-12)
}

func benchAppend(b *testing.B, size int) {
	cfg := DefaultConfig()
	l := openLog(b, vfs.OS{}, b.TempDir(), cfg)
	defer closeUntimed(b, l)
	batch := benchBatch(size)
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := l.Append(batch, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// segmentedFile writes batches as the log lays them out, without the
// log's checks and indexes: files of at most limit bytes, each full one
// fsynced by a goroutine of its own.
type segmentedFile struct {
	dir   string
	limit int64
	f     *os.File
	size  int64
	files int
	wg    sync.WaitGroup
	err   atomic.Pointer[error]
}

func newSegmentedFile(dir string, limit int64) (*segmentedFile, error) {
	w := &segmentedFile{dir: dir, limit: limit}
	return w, w.next()
}

func (w *segmentedFile) next() error {
	f, err := os.Create(filepath.Join(w.dir, fmt.Sprintf("%020d.log", w.files)))
	if err != nil {
		return err
	}
	w.f, w.size = f, 0
	w.files++
	return nil
}

func (w *segmentedFile) write(p []byte) error {
	if w.size > 0 && w.size > w.limit-int64(len(p)) {
		full := w.f
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			if err := full.Sync(); err != nil {
				w.err.Store(&err)
			}
			full.Close()
		}()
		if err := w.next(); err != nil {
			return err
		}
	}
	n, err := w.f.Write(p)
	w.size += int64(n)
	return err
}

// close fsyncs the last file (as Log.Close does) and waits for the
// background fsyncs.
func (w *segmentedFile) close() error {
	err := w.f.Sync()
	w.f.Close()
	w.wg.Wait()
	if e := w.err.Load(); e != nil && err == nil {
		err = *e
	}
	return err
}

func benchFileWrite(b *testing.B, size int) {
	w, err := newSegmentedFile(b.TempDir(), DefaultSegmentBytes)
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		b.StopTimer()
		if err := w.close(); err != nil {
			b.Fatal(err)
		}
	}()
	batch := benchBatch(size)
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := w.write(batch); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppend_1MiB(b *testing.B)     { benchAppend(b, 1<<20-256) }
func BenchmarkFileWrite_1MiB(b *testing.B)  { benchFileWrite(b, 1<<20-256) }
func BenchmarkAppend_16KiB(b *testing.B)    { benchAppend(b, 16<<10) }
func BenchmarkFileWrite_16KiB(b *testing.B) { benchFileWrite(b, 16<<10) }

// readBenchBatches is how many 1 MiB batches of sealed data the read
// benchmarks go through (64 MiB, in the page cache).
const readBenchBatches = 64

// BenchmarkRead_1MiB reads sealed segments sequentially, one 1 MiB batch
// per Read, copying the bytes out (AppendTo, pread) like FileRead_1MiB.
func BenchmarkRead_1MiB(b *testing.B) {
	cfg := DefaultConfig()
	cfg.SegmentBytes = 16 << 20
	l := openLog(b, vfs.OS{}, b.TempDir(), cfg)
	defer closeUntimed(b, l)
	batch := benchBatch(1<<20 - 256)
	for range readBenchBatches {
		if _, err := l.Append(batch, 0); err != nil {
			b.Fatal(err)
		}
	}
	if err := l.Roll(); err != nil { // everything sealed
		b.Fatal(err)
	}
	end := l.LogEndOffset()
	buf := make([]byte, 0, 2<<20)
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	b.ResetTimer()
	var off int64
	for range b.N {
		if off >= end {
			off = 0
		}
		r, err := l.Read(off, int32(len(batch)), end)
		if err != nil {
			b.Fatal(err)
		}
		if buf, err = r.AppendTo(buf[:0]); err != nil {
			b.Fatal(err)
		}
		off = r.LastOffset() + 1
		r.Release()
	}
}

// BenchmarkFileRead_1MiB reads the same bytes from one plain file.
func BenchmarkFileRead_1MiB(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "plain"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	batch := benchBatch(1<<20 - 256)
	for range readBenchBatches {
		if _, err := f.Write(batch); err != nil {
			b.Fatal(err)
		}
	}
	total := int64(len(batch) * readBenchBatches)
	buf := make([]byte, len(batch))
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	b.ResetTimer()
	var pos int64
	for range b.N {
		if pos >= total {
			pos = 0
		}
		if _, err := f.ReadAt(buf, pos); err != nil {
			b.Fatal(err)
		}
		pos += int64(len(buf))
	}
}

// fsyncAppenders is how many goroutines BenchmarkAppendFsync_16KiB runs.
const fsyncAppenders = 8

// BenchmarkAppendFsync_16KiB: 8 appenders with fsync-on-ack share fsyncs
// (group commit). Compare its appends/s with BenchmarkFsync_16KiB, the
// machine's rate of 16 KiB write+fsync from one writer.
func BenchmarkAppendFsync_16KiB(b *testing.B) {
	cfg := DefaultConfig()
	cfg.FsyncOnAck = true
	l := openLog(b, vfs.OS{}, b.TempDir(), cfg)
	defer closeUntimed(b, l)
	batch := benchBatch(16 << 10)
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	var next, errs atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range fsyncAppenders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := append([]byte(nil), batch...)
			for next.Add(1) <= int64(b.N) {
				if _, err := l.Append(mine, 0); err != nil {
					errs.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "appends/s")
	if errs.Load() > 0 {
		b.Fatalf("%d appends failed", errs.Load())
	}
}

// BenchmarkFsync_16KiB is the baseline for BenchmarkAppendFsync_16KiB:
// one writer, write then fsync, 16 KiB at a time.
func BenchmarkFsync_16KiB(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "plain"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	batch := benchBatch(16 << 10)
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		if _, err := f.Write(batch); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "appends/s")
}

// closeUntimed closes the log with the benchmark timer stopped.
func closeUntimed(b *testing.B, l *Log) {
	b.StopTimer()
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
}
