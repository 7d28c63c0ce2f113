package partition

import (
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/compress"
	samsalog "github.com/samsa-streaming/samsa/internal/log"
	"github.com/samsa-streaming/samsa/internal/testutil/batchtest"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

func testSettings() Settings {
	lc := samsalog.DefaultConfig()
	return Settings{Log: lc, MaxMessageBytes: lc.MaxBatchBytes, KeepProducer: true}
}

func openTest(t testing.TB, fsys vfs.FS, dir string, s Settings) *Partition {
	t.Helper()
	p, err := Open(fsys, dir, "t", 0, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// openLeader opens a single-replica partition and makes it leader in
// epoch 0: the shape of a partition before replication.
func openLeader(t testing.TB, fsys vfs.FS, dir string, s Settings) *Partition {
	t.Helper()
	p := openTest(t, fsys, dir, s)
	if err := p.BecomeLeader(0, []int32{1}, []int32{1}, time.Now()); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAppendProduceErrors(t *testing.T) {
	good := batchtest.New(3, 1000).Encode()
	corrupt := append([]byte(nil), good...)
	corrupt[len(corrupt)-1] ^= 1
	two := append(append([]byte(nil), good...), good...)
	small := testSettings()
	small.MaxMessageBytes = 50
	tests := []struct {
		name     string
		settings Settings
		batch    []byte
		want     error
	}{
		{"ok", testSettings(), good, nil},
		{"crc mismatch", testSettings(), corrupt, kerr.CorruptMessage},
		{"two batches", testSettings(), two, kerr.InvalidRecord},
		{"too large", small, good, kerr.MessageTooLarge},
		{"truncated", testSettings(), good[:40], kerr.CorruptMessage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := openLeader(t, vfs.OS{}, t.TempDir(), tc.settings)
			defer p.Close()
			_, err := p.AppendProduce(append([]byte(nil), tc.batch...))
			if !errors.Is(err, tc.want) && !(err == nil && tc.want == nil) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if tc.want != nil && p.LogEndOffset() != 0 {
				t.Fatal("a rejected batch was written")
			}
		})
	}
}

func TestIdempotentProduceAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	p := openLeader(t, vfs.OS{}, dir, testSettings())
	b0 := batchtest.New(2, 1000).Idempotent(7, 0, 0)
	b1 := batchtest.New(3, 1000).Idempotent(7, 0, 2)
	if r, err := p.AppendProduce(b0.Encode()); err != nil || r.BaseOffset != 0 {
		t.Fatalf("b0: %+v %v", r, err)
	}
	if r, err := p.AppendProduce(b1.Encode()); err != nil || r.BaseOffset != 2 {
		t.Fatalf("b1: %+v %v", r, err)
	}
	if r, err := p.AppendProduce(b1.Encode()); err != nil || !r.Duplicate || r.BaseOffset != 2 {
		t.Fatalf("resend of b1: %+v %v", r, err)
	}
	if _, err := p.AppendProduce(batchtest.New(1, 1000).Idempotent(7, 0, 9).Encode()); !errors.Is(err, kerr.OutOfOrderSequenceNumber) {
		t.Fatalf("gap: %v", err)
	}
	if p.HighWatermark() != 5 {
		t.Fatalf("high watermark %d, want 5", p.HighWatermark())
	}

	for _, clean := range []bool{true, false} {
		if clean {
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}
		} else {
			// Unclean: no snapshot; state must be rebuilt by scanning the log.
			if err := vfs.OS.Remove(vfs.OS{}, dir+"/"+snapshotName); err != nil {
				t.Fatal(err)
			}
		}
		p = openLeader(t, vfs.OS{}, dir, testSettings())
		if r, err := p.AppendProduce(b1.Encode()); err != nil || !r.Duplicate || r.BaseOffset != 2 {
			t.Fatalf("clean=%v: resend after restart: %+v %v", clean, r, err)
		}
		if clean {
			p.Close()
		}
	}
	next := batchtest.New(1, 1000).Idempotent(7, 0, 5)
	if r, err := p.AppendProduce(next.Encode()); err != nil || r.BaseOffset != 5 {
		t.Fatalf("continue after restart: %+v %v", r, err)
	}
	p.Close()
}

func TestReadAndListOffsets(t *testing.T) {
	p := openLeader(t, vfs.OS{}, t.TempDir(), testSettings())
	defer p.Close()
	for i := 0; i < 5; i++ {
		if _, err := p.AppendProduce(batchtest.New(2, int64(1000+i*10)).Encode()); err != nil {
			t.Fatal(err)
		}
	}
	r, err := p.Read(3, 1<<20, false)
	if err != nil {
		t.Fatal(err)
	}
	buf, err := r.AppendTo(nil)
	r.Release()
	if err != nil {
		t.Fatal(err)
	}
	var rb kmsg.RecordBatch
	if err := rb.ReadFrom(buf); err != nil || rb.FirstOffset != 2 {
		t.Fatalf("first batch read from offset 3 starts at %d (%v), want 2", rb.FirstOffset, err)
	}
	if _, err := p.Read(11, 100, false); !errors.Is(err, kerr.OffsetOutOfRange) {
		t.Fatalf("read past end: %v", err)
	}
	tests := []struct {
		ts             int64
		wantOff, wantT int64
	}{
		{LatestTimestamp, 10, -1},
		{EarliestTimestamp, 0, -1},
		{MaxTimestamp, 9, 1041},
		{1000, 0, 1000},
		{1011, 3, 1011},
		{1015, 4, 1020},
		{5000, -1, -1},
	}
	for _, tc := range tests {
		off, ts, err := p.ListOffset(tc.ts, false)
		if err != nil || off != tc.wantOff || ts != tc.wantT {
			t.Errorf("ListOffset(%d) = %d, %d, %v; want %d, %d", tc.ts, off, ts, err, tc.wantOff, tc.wantT)
		}
	}
	low, err := p.DeleteRecordsBefore(4)
	if err != nil || low != 4 {
		t.Fatalf("delete records: %d %v", low, err)
	}
	if _, err := p.Read(2, 100, false); !errors.Is(err, kerr.OffsetOutOfRange) {
		t.Fatalf("read below log start: %v", err)
	}
	if _, err := p.DeleteRecordsBefore(11); !errors.Is(err, kerr.OffsetOutOfRange) {
		t.Fatalf("delete above hw: %v", err)
	}
}

func TestRecompressToTopicCodec(t *testing.T) {
	s := testSettings()
	s.KeepProducer, s.Compression = false, compress.Zstd
	p := openLeader(t, vfs.OS{}, t.TempDir(), s)
	defer p.Close()
	b := batchtest.New(10, 1000)
	b.Codec = compress.Gzip
	if _, err := p.AppendProduce(b.Encode()); err != nil {
		t.Fatal(err)
	}
	r, err := p.Read(0, 1<<20, false)
	if err != nil {
		t.Fatal(err)
	}
	buf, _ := r.AppendTo(nil)
	r.Release()
	codec, _ := compress.BatchCodec(buf)
	if codec != compress.Zstd {
		t.Fatalf("stored codec %v, want zstd", codec)
	}
	if _, err := samsalog.ValidateBatch(buf); err != nil {
		t.Fatalf("stored batch invalid: %v", err)
	}
}
