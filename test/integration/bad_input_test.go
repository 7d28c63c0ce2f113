package integration

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// hostileEnv is a node under attack: a bystander client that must keep
// being served, and a heap sampler (the node runs in this process).
type hostileEnv struct {
	t    *testing.T
	addr string

	served atomic.Int64 // bystander round trips that succeeded

	mu       sync.Mutex
	lastErr  error // the bystander's last failure
	baseHeap uint64
	peakHeap atomic.Uint64
}

// heapInuse returns the heap in use after a collection.
func heapInuse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// newHostileEnv starts a node, a bystander that produces and fetches one
// record at a time, and a heap sampler; both stop when the test ends.
func newHostileEnv(t *testing.T) *hostileEnv {
	nd := startNode(t, nil)
	e := &hostileEnv{t: t, addr: nd.addr}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	createTopic(testContext(t, 30*time.Second), t, newAdmin(t, nd.addr), "bystander", 1, nil)
	// A short fetch wait: a long poll that misses its wakeup (see
	// TestFetchLongPollWakesOnProduce) then costs 250 ms, not 5 s.
	cl := newClient(t, nd.addr, kgo.DefaultProduceTopic("bystander"), kgo.FetchMaxWait(250*time.Millisecond),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"bystander": {0: kgo.NewOffset().AtStart()}}))
	e.baseHeap = heapInuse()
	wg.Go(func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for ctx.Err() == nil {
			rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
			err := cl.ProduceSync(rctx, &kgo.Record{Value: []byte("still here")}).FirstErr()
			if err == nil {
				fs := cl.PollRecords(rctx, 1)
				err = fs.Err0()
				if err == nil && fs.NumRecords() == 0 {
					err = rctx.Err()
				}
			}
			rcancel()
			if err == nil {
				e.served.Add(1)
			} else if ctx.Err() == nil {
				e.mu.Lock()
				e.lastErr = err
				e.mu.Unlock()
			}
			select {
			case <-ctx.Done():
			case <-tick.C:
			}
		}
	})
	wg.Go(func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			runtime.ReadMemStats(&ms)
			for {
				old := e.peakHeap.Load()
				if ms.HeapInuse <= old || e.peakHeap.CompareAndSwap(old, ms.HeapInuse) {
					break
				}
			}
		}
	})
	return e
}

// checkServed waits until the bystander completed two more round trips.
func (e *hostileEnv) checkServed(t *testing.T) {
	t.Helper()
	from := e.served.Load()
	waitFor(t, "the bystander client to be served", 15*time.Second, func() (bool, error) {
		return e.served.Load() >= from+2, nil
	})
}

// totalAlloc is the bytes this process allocated so far.
func totalAlloc() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.TotalAlloc
}

// frameOf returns req encoded as a frame and the length of its request
// header (after the 4-byte size prefix).
func frameOf(req kmsg.Request) ([]byte, int) {
	const clientID = "integration-raw"
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID(clientID)).AppendRequest(nil, req, 1)
	hdr := 8 + 2 + len(clientID)
	if req.IsFlexible() {
		hdr++
	}
	return f, hdr
}

// resize rewrites a frame's size prefix to the bytes that follow it.
func resize(frame []byte) []byte {
	binary.BigEndian.PutUint32(frame, uint32(len(frame)-4))
	return frame
}

func sizePrefix(n uint32) []byte { return binary.BigEndian.AppendUint32(nil, n) }

// billion is the array length the hostile requests claim.
const billion = 1_000_000_000

// TestBadFrames sends malformed frames and requests, each on its own
// connection, and expects the server to close that connection without
// allocating much, while the bystander keeps being served.
func TestBadFrames(t *testing.T) {
	e := newHostileEnv(t)
	metaV1, metaV1Hdr := frameOf(&kmsg.MetadataRequest{Version: 1, Topics: []kmsg.MetadataRequestTopic{}})
	metaV9, metaV9Hdr := frameOf(&kmsg.MetadataRequest{Version: 9, Topics: []kmsg.MetadataRequestTopic{}})
	produce, produceHdr := frameOf(&kmsg.ProduceRequest{Version: 7, Acks: -1, TimeoutMillis: 1000})
	create, createHdr := frameOf(&kmsg.CreateTopicsRequest{Version: 4, TimeoutMillis: 1000})
	fetchReq := kmsg.NewPtrFetchRequest()
	fetchReq.Version = 11
	fetchReq.Topics = []kmsg.FetchRequestTopic{{Topic: "bystander"}}
	fetch, fetchHdr := frameOf(fetchReq)
	ct := kmsg.NewCreateTopicsRequestTopic()
	ct.Topic, ct.NumPartitions, ct.ReplicationFactor = "a-topic-name-to-cut", 1, 1
	createOne, _ := frameOf(&kmsg.CreateTopicsRequest{Version: 7, Topics: []kmsg.CreateTopicsRequestTopic{ct}})

	put32 := func(frame []byte, at int, v uint32) []byte {
		out := append([]byte(nil), frame...)
		binary.BigEndian.PutUint32(out[at:], v)
		return out
	}
	withHeader := func(key, version int16) []byte {
		f := append(sizePrefix(0), byte(key>>8), byte(key), byte(version>>8), byte(version), 0, 0, 0, 1, 0xff, 0xff)
		return resize(append(f, make([]byte, 16)...))
	}
	tests := []struct {
		name string
		send []byte
		// closeWrite half-closes the client side after sending (for
		// inputs that only end with the stream).
		closeWrite bool
	}{
		{name: "frame length 2 GiB", send: append(sizePrefix(0x80000000), 0, 18, 0, 0)},
		{name: "frame length 2 GiB - 1", send: append(sizePrefix(0x7fffffff), 0, 18, 0, 0)},
		{name: "frame length above socket.request.max.bytes", send: append(sizePrefix(100<<20+1), 0, 18, 0, 0)},
		{name: "negative frame length", send: sizePrefix(0xfffffff0)},
		{name: "zero frame length", send: sizePrefix(0)},
		{name: "frame shorter than a request header", send: append(sizePrefix(3), 0, 18, 0)},
		{name: "truncated frame then EOF", send: createOne[:len(createOne)/2], closeWrite: true},
		{name: "truncated size prefix then EOF", send: []byte{0, 0}, closeWrite: true},
		{name: "truncated body", send: resize(append([]byte(nil), createOne[:len(createOne)-12]...))},
		{name: "body cut inside the client id", send: resize(append([]byte(nil), metaV1[:4+8+5]...))},
		{name: "unknown api key 9999", send: withHeader(9999, 0)},
		{name: "unknown api key -1", send: withHeader(-1, 0)},
		{name: "unregistered api key 1000", send: withHeader(1000, 0)},
		{name: "Metadata version 99", send: withHeader(3, 99)},
		{name: "Produce version 99", send: withHeader(0, 99)},
		{name: "Fetch version -1", send: withHeader(1, -1)},
		{name: "Metadata v1 claims a billion topics", send: put32(metaV1, 4+metaV1Hdr, billion)},
		{name: "flexible Metadata v9 claims a billion topics", send: resize(append(append(append([]byte(nil), metaV9[:4+metaV9Hdr]...),
			binary.AppendUvarint(nil, billion+1)...), metaV9[4+metaV9Hdr+1:]...))},
		{name: "Produce v7 claims a billion topics", send: put32(produce, 4+produceHdr+2+2+4, billion)},
		{name: "CreateTopics v4 claims a billion topics", send: put32(create, 4+createHdr, billion)},
		{name: "Fetch v11 claims a billion partitions", send: put32(fetch, 4+fetchHdr+4*4+1+4+4+4+2+len("bystander"), billion)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := totalAlloc()
			c := dialRaw(t, e.addr)
			if err := c.write(tc.send); err != nil {
				t.Fatalf("send: %v", err)
			}
			if tc.closeWrite {
				_ = c.nc.(*net.TCPConn).CloseWrite()
			}
			if err := c.waitClosed(10*time.Second, 0); err != nil {
				t.Errorf("%d-byte input: %v", len(tc.send), err)
			}
			if grew := totalAlloc() - before; grew > 32<<20 {
				t.Errorf("%d-byte input: the process allocated %d MiB", len(tc.send), grew>>20)
			}
			e.checkServed(t)
		})
	}
	t.Run("random bytes", func(t *testing.T) {
		r := rand.New(rand.NewPCG(7, 11))
		for i := range 64 {
			b := make([]byte, 1+r.IntN(4096))
			if i%2 == 0 && len(b) < 4 {
				b = append(b, make([]byte, 4)...)
			}
			for j := range b {
				b[j] = byte(r.Uint32())
			}
			if i%2 == 0 {
				// A plausible size prefix, so the bytes reach the decoder.
				binary.BigEndian.PutUint32(b, uint32(len(b)-4))
			}
			before := totalAlloc()
			c := dialRaw(t, e.addr)
			if err := c.write(b); err != nil {
				continue // the server may close before reading it all
			}
			_ = c.nc.(*net.TCPConn).CloseWrite()
			if err := c.waitClosed(10*time.Second, 1<<20); err != nil {
				t.Errorf("random input %d (%d bytes): %v", i, len(b), err)
			}
			if grew := totalAlloc() - before; grew > 32<<20 {
				t.Errorf("random input %d (%d bytes): the process allocated %d MiB", i, len(b), grew>>20)
			}
			c.nc.Close()
		}
		e.checkServed(t)
	})
	t.Run("ApiVersions version 99", func(t *testing.T) {
		c := dialRaw(t, e.addr)
		req := kmsg.NewPtrApiVersionsRequest()
		req.Version = 99
		frame, corr := c.encode(req)
		if err := c.write(frame); err != nil {
			t.Fatal(err)
		}
		v0 := kmsg.NewPtrApiVersionsRequest() // the answer is a v0 body (KIP-511)
		resp, err := c.readResponse(v0, corr)
		if err != nil {
			t.Fatalf("ApiVersions v99: %v", err)
		}
		av := resp.(*kmsg.ApiVersionsResponse)
		if av.ErrorCode != kerr.UnsupportedVersion.Code || len(av.ApiKeys) == 0 {
			t.Errorf("ApiVersions v99: error %s with %d keys, want UNSUPPORTED_VERSION with the supported keys", codeName(av.ErrorCode), len(av.ApiKeys))
		}
		e.checkServed(t)
	})
	e.checkHeap(t)
}

// checkHeap fails the test when the sampled heap grew more than 256 MiB
// over the start, or the heap after a collection more than 32 MiB.
func (e *hostileEnv) checkHeap(t *testing.T) {
	t.Helper()
	peak, now := e.peakHeap.Load(), heapInuse()
	t.Logf("heap in use: %d MiB at the start, peak %d MiB, %d MiB at the end", e.baseHeap>>20, peak>>20, now>>20)
	if peak > e.baseHeap+256<<20 {
		t.Errorf("heap peaked at %d MiB, %d MiB at the start", peak>>20, e.baseHeap>>20)
	}
	if now > e.baseHeap+32<<20 {
		t.Errorf("heap holds %d MiB after the hostile inputs, %d MiB at the start", now>>20, e.baseHeap>>20)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.lastErr != nil {
		t.Logf("the bystander saw an error at some point (it recovered): %v", e.lastErr)
	}
}
