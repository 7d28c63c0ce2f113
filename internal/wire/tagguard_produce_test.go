package wire

import (
	"bytes"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func produceBody(version int16, records []byte) []byte {
	req := kmsg.NewPtrProduceRequest()
	req.SetVersion(version)
	req.Acks, req.TimeoutMillis = -1, 1000
	for t := 0; t < 2; t++ {
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "topic"
		for p := 0; p < 3; p++ {
			rp := kmsg.NewProduceRequestTopicPartition()
			rp.Partition, rp.Records = int32(p), records
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
	}
	return req.AppendTo(nil)
}

func TestProduceTagsBounded(t *testing.T) {
	random := bytes.Repeat([]byte{0xff, 0x8f, 0x01, 0xfe}, 4096)
	for v := int16(9); v <= 11; v++ {
		body := produceBody(v, random)
		if !produceTagsBounded(body, v) {
			t.Fatalf("v%d: valid produce body refused", v)
		}
		// A huge tag count at the end: must be refused.
		bad := append(body[:len(body)-1:len(body)-1], 0xff, 0xff, 0xff, 0xff, 0x0f)
		if produceTagsBounded(bad, v) {
			t.Fatalf("v%d: unbounded tag count accepted", v)
		}
		// Every truncation is refused or decodes quickly.
		for n := 0; n < len(body); n += 997 {
			if produceTagsBounded(body[:n], v) {
				req := kmsg.NewPtrProduceRequest()
				req.SetVersion(v)
				start := time.Now()
				_ = req.ReadFrom(body[:n])
				if d := time.Since(start); d > time.Second {
					t.Fatalf("v%d: truncated at %d accepted and took %v", v, n, d)
				}
			}
		}
	}
}

func BenchmarkProduceGuard(b *testing.B) {
	body := produceBody(11, bytes.Repeat([]byte{0xff, 0x8f, 0x01, 0xfe}, 1<<18/6))
	b.SetBytes(int64(len(body)))
	for i := 0; i < b.N; i++ {
		req := kmsg.NewPtrProduceRequest()
		req.SetVersion(11)
		if err := decodeGuarded(req, body); err != nil {
			b.Fatal(err)
		}
	}
}
