package partition

import (
	"encoding/binary"
	"hash/crc32"
	"testing"

	"github.com/samsa-streaming/samsa/internal/testutil/batchtest"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

// benchBatch is 10 records of 100 bytes, the shape of a small produce.
func benchBatch() batchtest.Batch {
	b := batchtest.New(10, 1000)
	for i := range b.Records {
		b.Records[i].Value = make([]byte, 100)
	}
	return b
}

func BenchmarkAppendProduce(b *testing.B) {
	p := openLeader(b, vfs.OS{}, b.TempDir(), testSettings())
	defer p.Close()
	batch := benchBatch().Encode()
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := p.AppendProduce(batch); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendProduceIdempotent includes re-sequencing the batch (a
// header write and a CRC-32C) in every iteration.
func BenchmarkAppendProduceIdempotent(b *testing.B) {
	p := openLeader(b, vfs.OS{}, b.TempDir(), testSettings())
	defer p.Close()
	batch := benchBatch().Idempotent(1, 0, 0).Encode()
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		binary.BigEndian.PutUint32(batch[53:], uint32(i*10)&0x7fffffff)
		binary.BigEndian.PutUint32(batch[17:], crc32.Checksum(batch[21:], castagnoli))
		if _, err := p.AppendProduce(batch); err != nil {
			b.Fatal(err)
		}
	}
}
