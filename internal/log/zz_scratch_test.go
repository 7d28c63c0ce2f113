package log

import (
	"github.com/samsa-streaming/samsa/internal/vfs"
	"hash/crc32"
	"testing"
)

func BenchmarkZFileWriteCRC_1MiB(b *testing.B) {
	w, err := newSegmentedFile(b.TempDir(), DefaultSegmentBytes)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { b.StopTimer(); w.close() }()
	batch := benchBatch(1<<20 - 256)
	b.SetBytes(int64(len(batch)))
	b.ResetTimer()
	var sink uint32
	for range b.N {
		sink += crc32.Checksum(batch[21:], castagnoli)
		if err := w.write(batch); err != nil {
			b.Fatal(err)
		}
	}
	_ = sink
}

func BenchmarkZFileWriteAt_1MiB(b *testing.B) {
	w, err := newSegmentedFile(b.TempDir(), DefaultSegmentBytes)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { b.StopTimer(); w.close() }()
	batch := benchBatch(1<<20 - 256)
	b.SetBytes(int64(len(batch)))
	b.ResetTimer()
	for range b.N {
		if w.size > 0 && w.size > w.limit-int64(len(batch)) {
			w.write(batch)
			continue
		}
		n, err := w.f.WriteAt(batch, w.size)
		if err != nil {
			b.Fatal(err)
		}
		w.size += int64(n)
	}
}

func BenchmarkZAppendNoIndex_1MiB(b *testing.B) {
	cfg := DefaultConfig()
	cfg.IndexIntervalBytes = 1 << 30
	l := openLog(b, vfs.OS{}, b.TempDir(), cfg)
	defer closeUntimed(b, l)
	batch := benchBatch(1<<20 - 256)
	b.SetBytes(int64(len(batch)))
	b.ResetTimer()
	for range b.N {
		if _, err := l.Append(batch, 0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkZVfsWriteCRC_1MiB(b *testing.B) {
	dir := b.TempDir()
	var f vfs.File
	var size int64
	files := 0
	next := func() {
		var err error
		f, err = vfs.OS{}.Create(dir + "/" + segmentName(int64(files)) + ".log")
		if err != nil {
			b.Fatal(err)
		}
		files++
		size = 0
	}
	next()
	batch := benchBatch(1<<20 - 256)
	b.SetBytes(int64(len(batch)))
	b.ResetTimer()
	for range b.N {
		if _, err := ValidateBatch(batch); err != nil {
			b.Fatal(err)
		}
		if size > DefaultSegmentBytes-int64(len(batch)) {
			old := f
			go func() { old.Sync(); old.Close() }()
			next()
		}
		n, err := f.WriteAt(batch, size)
		if err != nil {
			b.Fatal(err)
		}
		size += int64(n)
	}
}
