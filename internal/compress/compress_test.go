package compress

import (
	"bytes"
	"errors"
	"runtime"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestRoundTrip(t *testing.T) {
	data := bytes.Repeat([]byte("samsa streams records; "), 2000)
	for _, c := range []Codec{None, Gzip, Snappy, LZ4, Zstd} {
		t.Run(c.String(), func(t *testing.T) {
			enc, err := Compress(c, []byte("prefix"), data)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(enc, []byte("prefix")) {
				t.Fatal("dst prefix lost")
			}
			dec, err := Decompress(c, nil, enc[6:], len(data))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(dec, data) {
				t.Fatal("round trip mismatch")
			}
			if _, err := Decompress(c, nil, enc[6:], len(data)-1); !errors.Is(err, ErrTooLarge) {
				t.Fatalf("bounded decompress: err = %v, want ErrTooLarge", err)
			}
		})
	}
}

func TestXerialSnappy(t *testing.T) {
	part1, part2 := bytes.Repeat([]byte("a"), 100), bytes.Repeat([]byte("b"), 50)
	framed := append([]byte{}, xerialMagic...)
	framed = append(framed, 0, 0, 0, 1, 0, 0, 0, 1)
	for _, p := range [][]byte{part1, part2} {
		blk, _ := Compress(Snappy, nil, p)
		framed = append(framed, byte(len(blk)>>24), byte(len(blk)>>16), byte(len(blk)>>8), byte(len(blk)))
		framed = append(framed, blk...)
	}
	out, err := Decompress(Snappy, nil, framed, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, append(part1, part2...)) {
		t.Fatal("xerial mismatch")
	}
	if _, err := Decompress(Snappy, nil, framed[:len(framed)-3], 1000); err == nil {
		t.Fatal("truncated xerial accepted")
	}
}

func TestGarbageNeverPanics(t *testing.T) {
	inputs := [][]byte{nil, {0}, {0xff, 0xff, 0xff, 0xff, 0x0f}, bytes.Repeat([]byte{0x82}, 40), append(append([]byte{}, xerialMagic...), 1, 2, 3, 4, 5, 6, 7, 8, 0x7f, 0xff, 0xff, 0xff)}
	for _, c := range []Codec{Gzip, Snappy, LZ4, Zstd} {
		for _, in := range inputs {
			_, _ = Decompress(c, nil, in, 1<<20)
		}
	}
}

func TestRecompress(t *testing.T) {
	b := kmsg.RecordBatch{Magic: 2, ProducerID: 7, ProducerEpoch: 1, FirstSequence: 3, LastOffsetDelta: 1, NumRecords: 2, FirstTimestamp: 1000, MaxTimestamp: 1001}
	var recs []byte
	for i := 0; i < 2; i++ {
		r := kmsg.Record{OffsetDelta: int32(i), TimestampDelta64: int64(i), Key: []byte("k"), Value: bytes.Repeat([]byte("v"), 500)}
		r.Length = int32(len(r.AppendTo(nil)) - 1)
		recs = r.AppendTo(recs)
	}
	b.Records = recs
	raw := b.AppendTo(nil)
	fixBatch(raw)
	for _, c := range []Codec{Gzip, Snappy, LZ4, Zstd, None} {
		t.Run(c.String(), func(t *testing.T) {
			out, err := Recompress(raw, c, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			var got kmsg.RecordBatch
			if err := got.ReadFrom(out); err != nil {
				t.Fatal(err)
			}
			if Codec(got.Attributes&7) != c || got.ProducerID != 7 || got.FirstSequence != 3 || got.NumRecords != 2 {
				t.Fatalf("header not kept: %+v", got)
			}
			if int(got.Length) != len(out)-12 {
				t.Fatalf("length %d for %d bytes", got.Length, len(out))
			}
			if uint32(got.CRC) != crc32c(out[21:]) {
				t.Fatal("bad crc")
			}
			back, err := Decompress(c, nil, got.Records, 1<<20)
			if err != nil || !bytes.Equal(back, recs) {
				t.Fatalf("records changed: %v", err)
			}
		})
	}
}

// TestBombsStayBounded decompresses 64 MiB of zeros with a 1 MiB limit: the
// error must come before the memory is spent.
func TestBombsStayBounded(t *testing.T) {
	zeros := make([]byte, 64<<20)
	for _, c := range []Codec{Gzip, LZ4, Zstd, Snappy} {
		t.Run(c.String(), func(t *testing.T) {
			bomb, err := Compress(c, nil, zeros)
			if err != nil {
				t.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err = Decompress(c, nil, bomb, 1<<20)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("err = %v, want ErrTooLarge", err)
			}
			if got := after.TotalAlloc - before.TotalAlloc; got > 24<<20 {
				t.Fatalf("allocated %d MiB to refuse a bomb with a 1 MiB limit", got>>20)
			}
		})
	}
}
