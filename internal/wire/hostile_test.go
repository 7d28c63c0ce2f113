package wire

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// totalAlloc returns the bytes allocated by the process so far.
func totalAlloc() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.TotalAlloc
}

func sizePrefix(n uint32) []byte { return binary.BigEndian.AppendUint32(nil, n) }

// Every hostile input closes (or is answered on) its own connection; the
// server allocates little and keeps serving.
func TestHostileInputs(t *testing.T) {
	frame := func(b frameBuilder) []byte { return append(sizePrefix(uint32(len(b))), b...) }
	tests := []struct {
		name string
		send []byte
		// closeWrite half-closes the client side after sending.
		closeWrite bool
	}{
		{name: "size 2 GiB - 1", send: sizePrefix(0x7fffffff)},
		{name: "negative size", send: sizePrefix(0x80000000)},
		{name: "size 0", send: sizePrefix(0)},
		{name: "size just above the limit", send: sizePrefix(1<<20 + 1)},
		{name: "size shorter than a header", send: frame(frameBuilder{0, 3, 0})},
		{name: "truncated frame then EOF", send: append(sizePrefix(100), 0, 3, 0, 1), closeWrite: true},
		{name: "truncated size prefix then EOF", send: []byte{0, 0}, closeWrite: true},
		{name: "unknown api key", send: frame(header(9999, 0, 1).i16(-1))},
		{name: "unregistered api key", send: frame(header(1, 12, 1).i16(-1))},
		{name: "unsupported Metadata version", send: frame(header(3, 13, 1).i16(-1))},
		{name: "body claims a billion topics", send: frame(header(3, 1, 1).i16(-1).raw(0x3b, 0x9a, 0xca, 0x00, 0, 0))},
		{name: "flexible body claims a billion topics", send: frame(header(3, 9, 1).i16(-1).raw(0).raw(0x81, 0x94, 0xeb, 0xdc, 0x03))},
		{name: "Produce claims a billion topics", send: frame(header(0, 7, 1).i16(-1).i16(-1).raw(0, 1, 0, 0, 0, 0, 0x3b, 0x9a, 0xca, 0x00))},
		{name: "client id longer than the frame", send: frame(header(18, 0, 1).raw(0x7f, 0xff))},
		{name: "header tagged field count of 2^32-1", send: frame(header(18, 3, 1).i16(-1).raw(0xff, 0xff, 0xff, 0xff, 0x0f))},
	}
	s := startServer(t, Config{MaxRequestBytes: 1 << 20}, &testHandler{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := totalAlloc()
			c := dial(t, s.Addr())
			c.send(tc.send)
			if tc.closeWrite {
				_ = c.nc.(*net.TCPConn).CloseWrite()
			}
			c.expectClosed()
			if grew := totalAlloc() - before; grew > 8<<20 {
				t.Errorf("allocated %d MiB for a %d-byte input", grew>>20, len(tc.send))
			}
			checkServes(t, s.Addr())
		})
	}
	if n := s.decodeGate.inUse(); n != 0 {
		t.Fatalf("decode gate still holds %d bytes", n)
	}
}

// A peer that announces a large frame and then trickles costs memory in
// proportion to what it sent, not to what it announced.
func TestAnnouncedFrameIsNotPreallocated(t *testing.T) {
	s := startServer(t, Config{}, &testHandler{})
	before := totalAlloc()
	c := dial(t, s.Addr())
	c.send(append(sizePrefix(90<<20), header(3, 1, 1).i16(-1)...))
	waitFor(t, "the server to start reading the frame", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		for c := range s.conns {
			if c.frameBytes.inUse() == 90<<20 {
				return true
			}
		}
		return false
	})
	if grew := totalAlloc() - before; grew > 8<<20 {
		t.Fatalf("allocated %d MiB for an announced, unsent 90 MiB frame", grew>>20)
	}
}

func TestRandomBytes(t *testing.T) {
	s := startServer(t, Config{MaxRequestBytes: 1 << 16}, &testHandler{})
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 50; i++ {
		junk := make([]byte, 1+rng.IntN(512))
		for j := range junk {
			junk[j] = byte(rng.Uint32())
		}
		if i%2 == 0 && len(junk) >= 6 { // a plausible size prefix, so the junk reaches the parser
			binary.BigEndian.PutUint32(junk, uint32(len(junk)-4))
			junk[4], junk[5] = 0, byte(rng.IntN(int(kmsg.MaxKey)+1)) // a real key
		}
		c := dial(t, s.Addr())
		c.send(junk)
		_ = c.nc.(*net.TCPConn).CloseWrite()
		c.expectClosed()
	}
	checkServes(t, s.Addr())
}

// kmsg's tagged-field loop runs as many times as the count says, even after
// the bytes ran out (86 s of CPU for this request without tagguard.go): the
// server refuses it at once and keeps serving.
func TestHugeBodyTagCount(t *testing.T) {
	s := startServer(t, Config{}, &testHandler{})
	c := dial(t, s.Addr())
	// Metadata v9 after the header: topics (compact, empty), three bools,
	// then the body's tag count 2^32-1 with nothing after it.
	b := header(3, 9, 1).i16(-1).raw(0).raw(1, 0, 0, 0).raw(0xff, 0xff, 0xff, 0xff, 0x0f)
	start := time.Now()
	c.send(append(sizePrefix(uint32(len(b))), b...))
	c.expectClosed()
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("refusing the request took %v", d)
	}
	checkServes(t, s.Addr())
}

// A connection stops reading once its in-flight frames reach
// MaxInFlightBytes.
func TestMaxInFlightBytes(t *testing.T) {
	var handled atomic.Int32
	release := make(chan struct{})
	h := &testHandler{hook: func(_ context.Context, req *Request) (*Response, error, bool) {
		if req.Key != 3 {
			return nil, nil, false
		}
		handled.Add(1)
		return &Response{Msg: echoMetadata(req.Body.(*kmsg.MetadataRequest), req.Conn.LocalAddr), Ready: release}, nil, true
	}}
	s := startServer(t, Config{MaxInFlightBytes: 100}, h)
	c := dial(t, s.Addr())
	one := c.encode(kmsg.NewPtrMetadataRequest(), 1, 0)
	frameSize := len(one) - 4
	var out []byte
	for i := 0; i < 10; i++ {
		out = append(out, c.encode(kmsg.NewPtrMetadataRequest(), 1, int32(i))...)
	}
	c.send(out)
	want := int32(100 / frameSize)
	waitFor(t, "reader to fill its byte budget", func() bool { return handled.Load() == want })
	// The next frame stays unread while the budget is full: prove it by
	// letting a bystander through and checking again.
	checkServes(t, s.Addr())
	if got := handled.Load(); got != want {
		t.Fatalf("%d requests handled with a %d-byte budget and %d-byte frames", got, 100, frameSize)
	}
	close(release)
	for i := 0; i < 10; i++ {
		c.readResponse(kmsg.NewPtrMetadataResponse(), 1, int32(i))
	}
}

func TestAmplificationEstimate(t *testing.T) {
	tests := []struct {
		key     int16
		atLeast int64
	}{
		{0, 64},                // ProduceRequestTopic
		{3, minAmplification},  // MetadataRequestTopic is 32 bytes
		{18, minAmplification}, // no arrays
		{-1, minAmplification}, // unknown keys get the floor
		{9999, minAmplification},
	}
	for _, tc := range tests {
		if got := amplification(tc.key); got < tc.atLeast {
			t.Errorf("amplification(%d) = %d, want >= %d", tc.key, got, tc.atLeast)
		}
	}
}

// The decode gate admits a frame whose estimate exceeds MaxDecodeMemory
// alone, and frees it afterwards.
func TestDecodeGateAdmitsOversizedFrame(t *testing.T) {
	s := startServer(t, Config{MaxDecodeMemory: 1024}, &testHandler{})
	c := dial(t, s.Addr())
	meta := kmsg.NewPtrMetadataRequest()
	for i := 0; i < 100; i++ {
		meta.Topics = append(meta.Topics, kmsg.MetadataRequestTopic{Topic: kmsg.StringPtr("topic-with-a-long-name")})
	}
	c.send(c.encode(meta, 1, 1))
	resp := kmsg.NewPtrMetadataResponse()
	c.readResponse(resp, 1, 1)
	if len(resp.Topics) != 100 {
		t.Fatalf("%d topics", len(resp.Topics))
	}
	waitFor(t, "gate released", func() bool { return s.decodeGate.inUse() == 0 })
}
