package wire

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// benchFrames are realistic flexible requests, as franz-go would send them.
func benchFrames() map[string][]byte {
	rng := rand.New(rand.NewPCG(7, 8))
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID("bench"))
	frame := func(r kmsg.Request, v int16) []byte {
		r.SetVersion(v)
		return f.AppendRequest(nil, r, 1)[4:]
	}
	randomBytes := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	produce := func(partitions, recordBytes int) []byte {
		req := kmsg.NewPtrProduceRequest()
		req.Acks, req.TimeoutMillis = -1, 30000
		t := kmsg.NewProduceRequestTopic()
		t.Topic = "events"
		for p := 0; p < partitions; p++ {
			pp := kmsg.NewProduceRequestTopicPartition()
			pp.Partition = int32(p)
			pp.Records = randomBytes(recordBytes) // compressed batches look random
			t.Partitions = append(t.Partitions, pp)
		}
		req.Topics = append(req.Topics, t)
		return frame(req, 11)
	}
	fetch := kmsg.NewPtrFetchRequest()
	fetch.MaxWaitMillis, fetch.MinBytes, fetch.MaxBytes, fetch.SessionEpoch = 500, 1, 50<<20, -1
	for t := 0; t < 5; t++ {
		ft := kmsg.NewFetchRequestTopic()
		copy(ft.TopicID[:], randomBytes(16))
		for p := 0; p < 20; p++ {
			fp := kmsg.NewFetchRequestTopicPartition()
			fp.Partition, fp.CurrentLeaderEpoch = int32(p), int32(rng.IntN(10))
			fp.FetchOffset = rng.Int64N(1 << 40)
			fp.PartitionMaxBytes = 1 << 20
			ft.Partitions = append(ft.Partitions, fp)
		}
		fetch.Topics = append(fetch.Topics, ft)
	}
	meta := kmsg.NewPtrMetadataRequest()
	for i := 0; i < 3; i++ {
		mt := kmsg.NewMetadataRequestTopic()
		mt.Topic = kmsg.StringPtr(fmt.Sprint("topic-", i))
		meta.Topics = append(meta.Topics, mt)
	}
	return map[string][]byte{
		"Produce-v11-1x1MiB":   produce(1, 1<<20),
		"Produce-v11-16x64KiB": produce(16, 64<<10),
		"Fetch-v16-100parts":   frame(fetch, 16),
		"Metadata-v12-3topics": frame(meta, 12),
		"ApiVersions-v4":       frame(kmsg.NewPtrApiVersionsRequest(), 4),
	}
}

// BenchmarkParseRequest compares ParseRequest (header, checks, tag guard,
// decode) with kmsg's bare ReadFrom of the same body.
func BenchmarkParseRequest(b *testing.B) {
	reg := fuzzRegistry()
	frames := benchFrames()
	for name, frame := range frames {
		req, err := ParseRequest(frame, reg)
		if err != nil {
			b.Fatalf("%s: %v", name, err)
		}
		body := frame[len(frame)-len(req.Body.AppendTo(nil)):]
		b.Run(name+"/ParseRequest", func(b *testing.B) {
			b.SetBytes(int64(len(frame)))
			for b.Loop() {
				if _, err := ParseRequest(frame, reg); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/kmsg-ReadFrom", func(b *testing.B) {
			b.SetBytes(int64(len(frame)))
			for b.Loop() {
				r := kmsg.RequestForKey(req.Key)
				r.SetVersion(req.Version)
				if err := r.ReadFrom(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
