package log

import (
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// Benchmarks compare the log with a plain file doing the same I/O on the
// same file system (b.TempDir), both without fsync unless named so. Each
// pair moves the same bytes; b.SetBytes makes go test report MB/s.

// benchBatch returns a batch of about size bytes (16 records).
func benchBatch(size int) []byte {
	return simpleBatch(16, time.Now().UnixMilli(), size/16-12)
}

func benchAppend(b *testing.B, size int) {
	cfg := DefaultConfig()
	l := openLog(b, vfs.OS{}, b.TempDir(), cfg)
	defer closeUntimed(b, l) // Close fsyncs; the plain file is not fsynced either
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

func benchFileWrite(b *testing.B, size int) {
	f, err := os.Create(filepath.Join(b.TempDir(), "plain"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	batch := benchBatch(size)
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := f.Write(batch); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppend_1MiB(b *testing.B)     { benchAppend(b, 1<<20-256) }
func BenchmarkFileWrite_1MiB(b *testing.B)  { benchFileWrite(b, 1<<20-256) }
func BenchmarkAppend_16KiB(b *testing.B)    { benchAppend(b, 16<<10) }
func BenchmarkFileWrite_16KiB(b *testing.B) { benchFileWrite(b, 16<<10) }

// readData is the sealed data the read benchmarks go through: 64 MiB in
// 1 MiB batches.
const readBenchBatches = 64

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

func BenchmarkFileRead_1MiB(b *testing.B) {
	path := filepath.Join(b.TempDir(), "plain")
	f, err := os.Create(path)
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

// BenchmarkAppendFsync_16KiB: 8 concurrent appenders with fsync-on-ack
// (group commit). Compare appends/s with BenchmarkFsync_16KiB, the
// machine's rate of 16 KiB write+fsync from one writer.
func BenchmarkAppendFsync_16KiB(b *testing.B) {
	cfg := DefaultConfig()
	cfg.FsyncOnAck = true
	l := openLog(b, vfs.OS{}, b.TempDir(), cfg)
	defer l.Close()
	batch := benchBatch(16 << 10)
	b.SetBytes(int64(len(batch)))
	b.SetParallelism(max(1, 8/max(1, testingProcs())))
	var errs atomic.Int64
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		mine := append([]byte(nil), batch...)
		for pb.Next() {
			if _, err := l.Append(mine, 0); err != nil {
				errs.Add(1)
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "appends/s")
	if errs.Load() > 0 {
		b.Fatalf("%d appends failed", errs.Load())
	}
}

func BenchmarkFsync_16KiB(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "plain"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	batch := benchBatch(16 << 10)
	b.SetBytes(int64(len(batch)))
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

func testingProcs() int { return runtime.GOMAXPROCS(0) }
