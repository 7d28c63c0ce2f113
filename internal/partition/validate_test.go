package partition

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/compress"
	samsalog "github.com/samsa-streaming/samsa/internal/log"
	"github.com/samsa-streaming/samsa/internal/testutil/batchtest"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

// refix sets a tampered batch's length and CRC so only its records are wrong.
func refix(b []byte) []byte {
	binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12))
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], castagnoli))
	return b
}

func TestProduceRejectsBadRecords(t *testing.T) {
	plain := func() []byte { return batchtest.New(3, 1000).Encode() }
	gz := batchtest.New(3, 1000)
	gz.Codec = compress.Gzip
	tests := []struct {
		name   string
		tamper func() []byte
		want   error
	}{
		{"count larger than records", func() []byte {
			b := plain()
			binary.BigEndian.PutUint32(b[57:], 4)
			binary.BigEndian.PutUint32(b[23:], 3) // lastOffsetDelta consistent with the lie
			return refix(b)
		}, kerr.CorruptMessage},
		{"a billion records", func() []byte {
			b := plain()
			binary.BigEndian.PutUint32(b[57:], 1e9)
			binary.BigEndian.PutUint32(b[23:], 1e9-1)
			return refix(b)
		}, kerr.CorruptMessage},
		{"garbage records", func() []byte {
			b := plain()
			for i := 61; i < len(b); i++ {
				b[i] = 0xff
			}
			return refix(b)
		}, kerr.CorruptMessage},
		{"trailing bytes", func() []byte { return refix(append(plain(), 0, 0, 0)) }, kerr.CorruptMessage},
		{"corrupt gzip", func() []byte {
			b := gz.Encode()
			b[len(b)-5] ^= 0xff
			b[70] ^= 0xff
			return refix(b)
		}, kerr.CorruptMessage},
		{"valid gzip", func() []byte { return gz.Encode() }, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := openLeader(t, vfs.OS{}, t.TempDir(), testSettings())
			defer p.Close()
			_, err := p.AppendProduce(tc.tamper())
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if tc.want != nil && p.LogEndOffset() != 0 {
				t.Fatalf("a refused batch moved the log end to %d", p.LogEndOffset())
			}
		})
	}
}

// FuzzValidateRecords feeds arbitrary record sections, plain and under each
// codec's attribute bits, to the produce-side record walker: it must answer
// (nil or a Kafka error) without panicking, and accept every batch the
// builder makes.
func FuzzValidateRecords(f *testing.F) {
	for _, c := range []compress.Codec{compress.None, compress.Gzip, compress.Snappy, compress.LZ4, compress.Zstd} {
		b := batchtest.New(4, 1000)
		b.Codec = c
		f.Add(b.Encode())
	}
	f.Add(make([]byte, 61))
	f.Fuzz(func(t *testing.T, batch []byte) {
		h, err := samsalog.ParseBatchHeader(batch)
		if err != nil {
			return
		}
		_ = validateRecords(batch, h)
	})
}

func TestValidateRecordsAcceptsBuiltBatches(t *testing.T) {
	for _, c := range []compress.Codec{compress.None, compress.Gzip, compress.Snappy, compress.LZ4, compress.Zstd} {
		b := batchtest.New(50, 1000)
		b.Codec = c
		for i := range b.Records {
			b.Records[i].Key = []byte("key")
			b.Records[i].Headers = map[string]string{"h": "v"}
		}
		raw := b.Encode()
		h, err := samsalog.ParseBatchHeader(raw)
		if err != nil {
			t.Fatal(err)
		}
		if err := validateRecords(raw, h); err != nil {
			t.Fatalf("%v: valid batch refused: %v", c, err)
		}
	}
}
