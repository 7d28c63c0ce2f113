package log

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/compress"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

var testCRCTable = crc32.MakeTable(crc32.Castagnoli)

// batchSpec describes a test batch. Records get timestamps baseTs+tsDeltas[i].
type batchSpec struct {
	base        int64
	epoch       int32
	baseTs      int64
	tsDeltas    []int64 // one per record; nil means n records at baseTs
	n           int     // records when tsDeltas is nil
	valueSize   int
	compression Compression // records are compressed with this codec
	appendTime  bool
}

// buildBatch encodes a record batch v2 with kmsg and a correct CRC.
func buildBatch(spec batchSpec) []byte {
	deltas := spec.tsDeltas
	if deltas == nil {
		n := max(spec.n, 1)
		deltas = make([]int64, n)
	}
	var recs []byte
	maxDelta := int64(0)
	for i, d := range deltas {
		maxDelta = max(maxDelta, d)
		r := kmsg.Record{
			TimestampDelta64: d,
			OffsetDelta:      int32(i),
			Key:              []byte{byte(i)},
			Value:            bytes.Repeat([]byte{byte(spec.base + int64(i))}, spec.valueSize),
		}
		body := r.AppendTo(nil) // Length 0 encodes as one byte
		r.Length = int32(len(body) - 1)
		recs = r.AppendTo(recs)
	}
	if spec.compression != CompressionNone {
		c, err := compress.Compress(compress.Codec(spec.compression), nil, recs)
		if err != nil {
			panic(err)
		}
		recs = c
	}
	attrs := int16(spec.compression)
	if spec.appendTime {
		attrs |= attrTimestampType
	}
	rb := kmsg.RecordBatch{
		FirstOffset:          spec.base,
		Length:               int32(minBatchLength + len(recs)),
		PartitionLeaderEpoch: spec.epoch,
		Magic:                2,
		Attributes:           attrs,
		LastOffsetDelta:      int32(len(deltas) - 1),
		FirstTimestamp:       spec.baseTs,
		MaxTimestamp:         spec.baseTs + maxDelta,
		ProducerID:           -1,
		ProducerEpoch:        -1,
		FirstSequence:        -1,
		NumRecords:           int32(len(deltas)),
		Records:              recs,
	}
	b := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], testCRCTable))
	return b
}

// simpleBatch is n records of valueSize bytes at timestamp ts.
func simpleBatch(n int, ts int64, valueSize int) []byte {
	return buildBatch(batchSpec{n: n, baseTs: ts, valueSize: valueSize})
}

// testConfig is DefaultConfig with a fake clock and small segments.
func testConfig(clock *fakeClock) Config {
	c := DefaultConfig()
	c.SegmentBytes = 4 << 10
	c.IndexIntervalBytes = 256
	c.RetentionMs = -1
	if clock != nil {
		c.Now = clock.Now
	}
	return c
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.UnixMilli(1_700_000_000_000)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func (c *fakeClock) Ms() int64 { return c.Now().UnixMilli() }

// openLog opens a log in dir of fsys, failing the test on error.
func openLog(t testing.TB, fsys vfs.FS, dir string, cfg Config) *Log {
	t.Helper()
	l, err := Open(fsys, dir, cfg)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return l
}

// memLog opens a fresh log on a MemFS.
func memLog(t testing.TB, cfg Config) (*Log, *vfs.MemFS) {
	t.Helper()
	fsys := vfs.NewMemFS()
	return openLog(t, fsys, "/data/topic-0", cfg), fsys
}

// mustAppend appends a copy of batch and returns the result.
func mustAppend(t testing.TB, l *Log, batch []byte, epoch int32) AppendResult {
	t.Helper()
	res, err := l.Append(bytes.Clone(batch), epoch)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return res
}

// readAllBatches reads every batch from the log start with Read and returns
// their headers and bytes, checking offsets are dense.
func readAllBatches(t testing.TB, l *Log) ([]BatchHeader, [][]byte) {
	t.Helper()
	var hs []BatchHeader
	var bs [][]byte
	off, end := l.LogStartOffset(), l.LogEndOffset()
	for off < end {
		r, err := l.Read(off, 1<<20, end)
		if err != nil {
			t.Fatalf("Read(%d): %v", off, err)
		}
		b, err := r.AppendTo(nil)
		r.Release()
		if err != nil {
			t.Fatalf("AppendTo: %v", err)
		}
		if len(b) == 0 {
			t.Fatalf("Read(%d) of [%d, %d) returned nothing", off, l.LogStartOffset(), end)
		}
		for len(b) > 0 {
			h, err := ParseBatchHeader(b)
			if err != nil {
				t.Fatalf("batch at %d: %v", off, err)
			}
			if len(hs) > 0 && h.BaseOffset != hs[len(hs)-1].LastOffset()+1 {
				t.Fatalf("offsets not dense: batch %d follows %d", h.BaseOffset, hs[len(hs)-1].LastOffset())
			}
			hs = append(hs, h)
			bs = append(bs, b[:h.Size()])
			b = b[h.Size():]
			off = h.LastOffset() + 1
		}
	}
	return hs, bs
}

// checkIndexes verifies every segment's indexes against a linear scan of
// its .log: every offset index entry points at the batch it names, every
// time index entry is sorted and names a real batch, and lookups of every
// batch's offsets find it.
func checkIndexes(t testing.TB, l *Log) {
	t.Helper()
	for _, s := range l.segs.Load().segs {
		if !s.acquire() {
			t.Fatalf("segment %d deleted under check", s.base)
		}
		if err := s.ensureIndexes(); err != nil {
			s.release()
			t.Fatalf("segment %d: ensureIndexes: %v", s.base, err)
		}
		limit, err := s.readLimit()
		if err != nil {
			t.Fatal(err)
		}
		f, err := s.logFile()
		if err != nil {
			t.Fatal(err)
		}
		// Linear scan.
		type bat struct{ pos, base, last int64 }
		var batches []bat
		sc := newBatchScanner(f, s.logPath, s.base, 0, limit, s.base, true)
		for {
			h, pos, err := sc.next()
			if errors.Is(err, errScanEnd) {
				break
			}
			if err != nil {
				t.Fatalf("segment %d: scan: %v", s.base, err)
			}
			batches = append(batches, bat{pos, h.BaseOffset, h.LastOffset()})
		}
		byPos := map[int64]bat{}
		for _, b := range batches {
			byPos[b.pos] = b
		}
		for i := int64(0); i < s.ix.entries.Load(); i++ {
			e, err := s.ix.readEntry(i)
			if err != nil {
				t.Fatal(err)
			}
			rel := int64(int32(binary.BigEndian.Uint32(e)))
			pos := int64(int32(binary.BigEndian.Uint32(e[4:])))
			b, ok := byPos[pos]
			if !ok || b.last != s.base+rel {
				t.Fatalf("segment %d: index entry %d (rel %d, pos %d) does not name a batch", s.base, i, rel, pos)
			}
		}
		prevTs := int64(-1 << 62)
		for i := int64(0); i < s.tix.entries.Load(); i++ {
			e, err := s.tix.readEntry(i)
			if err != nil {
				t.Fatal(err)
			}
			ts := int64(binary.BigEndian.Uint64(e))
			rel := int64(int32(binary.BigEndian.Uint32(e[8:])))
			if ts <= prevTs || rel < 0 || s.base+rel >= s.endOffset() {
				t.Fatalf("segment %d: time index entry %d (%d, %d) out of order or range", s.base, i, ts, rel)
			}
			prevTs = ts
		}
		w := newHeaderWalker(s, f, limit)
		for _, b := range batches {
			for _, off := range []int64{b.base, b.last} {
				pos, h, err := s.locate(w, off)
				if err != nil || pos != b.pos || h.BaseOffset != b.base {
					t.Fatalf("segment %d: locate(%d) = %d, %v; want position %d", s.base, off, pos, err, b.pos)
				}
			}
		}
		w.free()
		s.release()
	}
}

// segmentFiles lists the .log files of dir.
func segmentFiles(t testing.TB, fsys vfs.FS, dir string) []string {
	t.Helper()
	names, err := fsys.List(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range names {
		if filepath.Ext(n) == ".log" {
			out = append(out, n)
		}
	}
	return out
}
