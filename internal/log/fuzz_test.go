package log

// Fuzz targets, each with its seed corpus in code (scripts/test.sh runs
// every `func Fuzz*` for a bounded time):
//
//	go test -run='^$' -fuzz='^FuzzParseBatchHeader$' -fuzztime=30s ./internal/log
//	go test -run='^$' -fuzz='^FuzzValidateBatch$' -fuzztime=30s ./internal/log
//	go test -run='^$' -fuzz='^FuzzRecoverSegment$' -fuzztime=30s ./internal/log

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// fuzzSeedBatches are valid batches of several shapes.
func fuzzSeedBatches() [][]byte {
	return [][]byte{
		simpleBatch(1, 1_700_000_000_000, 0),
		simpleBatch(5, 42, 30),
		buildBatch(batchSpec{base: 77, epoch: 3, baseTs: 1000, tsDeltas: []int64{5, -3, 40}, valueSize: 10, compression: CompressionZstd}),
		buildBatch(batchSpec{n: 2, baseTs: -1, appendTime: true, valueSize: 3}),
	}
}

// FuzzParseBatchHeader: ParseBatchHeader never panics, accepts only
// headers with magic 2 and a batch length of at least an empty batch's,
// and decodes every field as big-endian at its documented position.
func FuzzParseBatchHeader(f *testing.F) {
	for _, b := range fuzzSeedBatches() {
		f.Add(b[:BatchHeaderSize])
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add(make([]byte, BatchHeaderSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseBatchHeader(b)
		if err != nil {
			if !errors.Is(err, ErrCorruptBatch) {
				t.Fatalf("error %v does not wrap ErrCorruptBatch", err)
			}
			return
		}
		if len(b) < BatchHeaderSize || h.Magic != 2 || h.BatchLength < minBatchLength {
			t.Fatalf("accepted %d bytes with magic %d, length %d", len(b), h.Magic, h.BatchLength)
		}
		be := binary.BigEndian
		want := BatchHeader{
			BaseOffset:           int64(be.Uint64(b[0:])),
			BatchLength:          int32(be.Uint32(b[8:])),
			PartitionLeaderEpoch: int32(be.Uint32(b[12:])),
			Magic:                int8(b[16]),
			CRC:                  be.Uint32(b[17:]),
			Attributes:           int16(be.Uint16(b[21:])),
			LastOffsetDelta:      int32(be.Uint32(b[23:])),
			BaseTimestamp:        int64(be.Uint64(b[27:])),
			MaxTimestamp:         int64(be.Uint64(b[35:])),
			ProducerID:           int64(be.Uint64(b[43:])),
			ProducerEpoch:        int16(be.Uint16(b[51:])),
			BaseSequence:         int32(be.Uint32(b[53:])),
			NumRecords:           int32(be.Uint32(b[57:])),
		}
		if h != want {
			t.Fatalf("decoded %+v, want %+v", h, want)
		}
		if h.Size() != int64(h.BatchLength)+12 || h.Size() < BatchHeaderSize {
			t.Fatalf("size %d for batch length %d", h.Size(), h.BatchLength)
		}
	})
}

// FuzzValidateBatch: ValidateBatch never panics and accepts b only if it
// is one whole batch whose CRC-32C, length, codec and counts check out. A
// batch built by the test builder (from the fuzzed shape) always passes,
// keeps passing after offset and epoch are stamped and after
// LogAppendTime is set, and fails after any single bit flip inside the
// bytes the CRC or the length check cover.
func FuzzValidateBatch(f *testing.F) {
	for i, b := range fuzzSeedBatches() {
		f.Add(b, uint8(i), uint16(i*7), int64(i)*1000, uint32(i*131))
	}
	f.Add([]byte("not a batch"), uint8(0), uint16(0), int64(0), uint32(0))
	f.Fuzz(func(t *testing.T, b []byte, records uint8, valueSize uint16, ts int64, flip uint32) {
		h, err := ValidateBatch(b)
		if err == nil {
			crc := crc32.Checksum(b[posAttributes:], crc32.MakeTable(crc32.Castagnoli))
			switch {
			case h.Size() != int64(len(b)):
				t.Fatalf("accepted %d bytes, length field says %d", len(b), h.Size())
			case crc != h.CRC:
				t.Fatalf("accepted crc %08x, computed %08x", h.CRC, crc)
			case h.NumRecords < 1 || int64(h.NumRecords) != int64(h.LastOffsetDelta)+1:
				t.Fatalf("accepted %d records with last offset delta %d", h.NumRecords, h.LastOffsetDelta)
			case h.Compression() > CompressionZstd:
				t.Fatalf("accepted codec %d", h.Compression())
			}
		} else if !errors.Is(err, ErrCorruptBatch) {
			t.Fatalf("error %v does not wrap ErrCorruptBatch", err)
		}

		// A built batch passes, stamped or not.
		built := buildBatch(batchSpec{n: 1 + int(records%20), baseTs: ts, valueSize: int(valueSize % 2048), compression: Compression(records % 5)})
		if _, err := ValidateBatch(built); err != nil {
			t.Fatalf("built batch rejected: %v", err)
		}
		stampOffsetEpoch(built, int64(flip), int32(records))
		if _, err := ValidateBatch(built); err != nil {
			t.Fatalf("stamped batch rejected: %v", err)
		}
		stampLogAppendTime(built, ts+1)
		if _, err := ValidateBatch(built); err != nil {
			t.Fatalf("batch with LogAppendTime rejected: %v", err)
		}
		// One flipped bit: only base offset and leader epoch are free.
		bit := int(flip % uint32(len(built)*8))
		built[bit/8] ^= 1 << (bit % 8)
		_, err = ValidateBatch(built)
		free := bit/8 < posBatchLength || (bit/8 >= posLeaderEpoch && bit/8 < posMagic)
		if free != (err == nil) {
			t.Fatalf("bit %d flipped (byte %d): err %v", bit, bit/8, err)
		}
	})
}

// fuzzRecoveryBase is a cleanly closed log of two segments on a MemFS:
// segment 0 (three batches) and the tail segment, whose files the fuzzer
// replaces. It returns the file system (without the clean-shutdown
// marker, so Open recovers), the tail's base and its real files.
func fuzzRecoveryBase(f *testing.F) (*vfs.MemFS, Config, int64, [3][]byte) {
	cfg := DefaultConfig()
	cfg.IndexIntervalBytes = 64
	cfg.RetentionMs = -1
	fsys := vfs.NewMemFS()
	l, err := Open(fsys, recDir, cfg)
	if err != nil {
		f.Fatal(err)
	}
	for i := range 3 {
		mustAppend(f, l, simpleBatch(1+i, int64(100+i), 40), 1)
	}
	if err := l.Roll(); err != nil {
		f.Fatal(err)
	}
	tail := l.LogEndOffset()
	for i := range 4 {
		mustAppend(f, l, simpleBatch(1+i%3, int64(200+i), 30), 2)
	}
	if err := l.Close(); err != nil {
		f.Fatal(err)
	}
	var files [3][]byte
	for i, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
		b, err := readSmallFile(fsys, segPath(tail, suf))
		if err != nil {
			f.Fatal(err)
		}
		files[i] = b
	}
	if err := fsys.Remove(filepath.Join(recDir, cleanMarkerFile)); err != nil {
		f.Fatal(err)
	}
	if err := fsys.SyncDir(recDir); err != nil {
		f.Fatal(err)
	}
	return fsys, cfg, tail, files
}

// FuzzRecoverSegment gives Open arbitrary bytes as the tail segment's
// .log, .index and .timeindex, an arbitrary leader epoch checkpoint and
// recovery point: Open recovers a valid prefix (segment 0 whole, then a
// prefix of the tail's bytes, indexes that agree with a scan) or returns
// an error wrapping ErrCorruptLog, never panics; after a successful Open
// the log takes an append, reads it back and reopens cleanly.
func FuzzRecoverSegment(f *testing.F) {
	base, cfg, tail, files := fuzzRecoveryBase(f)
	epochs := []byte("0\n2\n1 0\n2 " + strconv.FormatInt(tail, 10) + "\n")
	f.Add(files[0], files[1], files[2], epochs, int64(0))
	f.Add(files[0], files[1], files[2], epochs, tail)
	f.Add(files[0][:len(files[0])-5], files[1], files[2], epochs, int64(0))
	f.Add(files[0], []byte("garbage index"), []byte{}, []byte("0\n9\n"), int64(-1))
	f.Add(append(bytes.Clone(files[0]), make([]byte, 100)...), files[1][:3], files[2], epochs, int64(1<<40))
	f.Add([]byte{}, []byte{}, []byte{}, []byte{}, int64(0))
	flipped := bytes.Clone(files[0])
	flipped[len(flipped)/2] ^= 0x10
	f.Add(flipped, files[1], files[2], epochs, int64(0))
	f.Fuzz(func(t *testing.T, logBytes, ixBytes, tixBytes, epochBytes []byte, rp int64) {
		fsys := base.Crash(vfs.CrashOptions{}) // a copy
		for _, w := range []struct {
			path string
			data []byte
		}{
			{segPath(tail, logSuffix), logBytes},
			{segPath(tail, indexSuffix), ixBytes},
			{segPath(tail, timeIndexSuffix), tixBytes},
			{filepath.Join(recDir, epochCheckpointFile), epochBytes},
		} {
			fl, err := fsys.Create(w.path)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := fl.WriteAt(w.data, 0); err != nil {
				t.Fatal(err)
			}
			fl.Close()
		}
		if rp >= 0 {
			patch(t, fsys, filepath.Join(recDir, recoveryPointFile), 0, []byte("0\n1\n"+strconv.FormatInt(rp, 10)+"\n"))
		}

		l, err := Open(fsys, recDir, cfg)
		if err != nil {
			if !errors.Is(err, ErrCorruptLog) {
				t.Fatalf("open: %v does not wrap ErrCorruptLog", err)
			}
			return
		}
		defer l.Close()
		if l.LogStartOffset() != 0 || l.LogEndOffset() < tail {
			t.Fatalf("start %d end %d: segment 0 (to %d) lost", l.LogStartOffset(), l.LogEndOffset(), tail)
		}
		hs, bs := readAllBatches(t, l)
		checkIndexes(t, l)
		// What is kept of the tail is a prefix of the bytes given.
		var kept []byte
		for i, h := range hs {
			if h.BaseOffset >= tail {
				kept = append(kept, bs[i]...)
			}
		}
		if !bytes.HasPrefix(logBytes, kept) {
			t.Fatalf("recovered tail (%d bytes) is not a prefix of the segment's bytes", len(kept))
		}
		res, err := l.Append(simpleBatch(2, 300, 10), 3)
		if err != nil {
			t.Fatalf("append after recovery: %v", err)
		}
		r, err := l.Read(res.BaseOffset, 1<<20, l.LogEndOffset())
		if err != nil {
			t.Fatalf("read back: %v", err)
		}
		got, err := r.AppendTo(nil)
		r.Release()
		if err != nil || len(got) == 0 {
			t.Fatalf("read back: %d bytes, %v", len(got), err)
		}
		if err := l.Close(); err != nil {
			t.Fatalf("close: %v", err)
		}
		l2, err := Open(fsys, recDir, cfg)
		if err != nil {
			t.Fatalf("clean reopen: %v", err)
		}
		if l2.LogEndOffset() != res.LastOffset+1 {
			t.Fatalf("end %d after a clean reopen, want %d", l2.LogEndOffset(), res.LastOffset+1)
		}
		l2.Close()
	})
}
