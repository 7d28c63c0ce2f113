package wire

import (
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// fuzzRegistry serves every key kmsg knows, at every version it knows, so
// the fuzzer reaches every decoder.
func fuzzRegistry() *Registry {
	r := NewRegistry()
	for k := int16(0); k <= kmsg.MaxKey; k++ {
		if req := kmsg.RequestForKey(k); req != nil {
			r.Register(k, 0, req.MaxVersion())
		}
	}
	return r
}

// fuzzSeeds are frames (without size prefix) of real requests plus a few
// hostile ones.
func fuzzSeeds() [][]byte {
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID("seed"))
	frame := func(r kmsg.Request, v int16) []byte {
		r.SetVersion(v)
		return f.AppendRequest(nil, r, 1)[4:]
	}
	meta := kmsg.NewPtrMetadataRequest()
	meta.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("t")}}
	produce := kmsg.NewPtrProduceRequest()
	produce.Acks = -1
	pt := kmsg.NewProduceRequestTopic()
	pt.Topic = "t"
	pp := kmsg.NewProduceRequestTopicPartition()
	pp.Records = []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2}
	pt.Partitions = append(pt.Partitions, pp)
	produce.Topics = append(produce.Topics, pt)
	fetch := kmsg.NewPtrFetchRequest()
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = "t"
	ft.Partitions = append(ft.Partitions, kmsg.NewFetchRequestTopicPartition())
	fetch.Topics = append(fetch.Topics, ft)
	apiVersions := kmsg.NewPtrApiVersionsRequest()
	apiVersions.ClientSoftwareName, apiVersions.ClientSoftwareVersion = "samsa", "0"
	return [][]byte{
		frame(kmsg.NewPtrApiVersionsRequest(), 0),
		frame(apiVersions, 3),
		frame(apiVersions, 4),
		frame(meta, 0),
		frame(meta, 1),
		frame(meta, 9),
		frame(meta, 12),
		frame(produce, 3),
		frame(produce, 9),
		frame(fetch, 4),
		frame(fetch, 12),
		frame(fetch, 15),
		frame(kmsg.NewPtrJoinGroupRequest(), 5),
		frame(kmsg.NewPtrSyncGroupRequest(), 5),
		frame(kmsg.NewPtrOffsetCommitRequest(), 8),
		frame(kmsg.NewPtrCreateTopicsRequest(), 7),
		header(3, 1, 1).i16(-1).raw(0x3b, 0x9a, 0xca, 0x00),
		header(18, 3, 1).i16(-1).raw(0xff, 0xff, 0xff, 0xff, 0x0f),
		header(18, 99, 1),
		{0, 0, 0},
	}
}

// FuzzDecodeRequest feeds frames to ParseRequest: it must never panic or
// spin, must fail only with its documented errors, and a decoded body must
// re-encode into bytes that decode again.
func FuzzDecodeRequest(f *testing.F) {
	for _, seed := range fuzzSeeds() {
		f.Add(seed)
	}
	reg := fuzzRegistry()
	f.Fuzz(func(t *testing.T, frame []byte) {
		start := time.Now()
		req, err := ParseRequest(frame, reg)
		if d := time.Since(start); d > 5*time.Second { // kmsg's tag loop alone: 86 s
			t.Fatalf("ParseRequest took %v", d)
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupportedKey) && !errors.Is(err, ErrUnsupportedVersion) {
				t.Fatalf("undocumented error %v", err)
			}
			if req != nil && req.Body != nil {
				t.Fatalf("body returned with error %v", err)
			}
			return
		}
		if req.Body == nil || req.Body.Key() != req.Key || req.Body.GetVersion() != req.Version || req.Size != len(frame) {
			t.Fatalf("inconsistent request %+v", req)
		}
		again := kmsg.RequestForKey(req.Key)
		again.SetVersion(req.Version)
		if err := again.ReadFrom(req.Body.AppendTo(nil)); err != nil {
			t.Fatalf("%s v%d: re-encoded body does not decode: %v", kmsg.NameForKey(req.Key), req.Version, err)
		}
	})
}
