package wire

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// testWait bounds every wait in these tests.
const testWait = 10 * time.Second

// testRegistry serves what the tests send: Produce 0..11 (Kafka advertises
// v0), Metadata 0..12, ApiVersions 0..4 (so v5 gets the KIP-511 fallback).
func testRegistry() *Registry {
	r := NewRegistry()
	r.Register(0, 0, 11)
	r.Register(3, 0, 12)
	r.Register(18, 0, 4)
	return r
}

// testHandler answers ApiVersions from the registry, echoes Metadata topics,
// answers Produce (NoResponse for acks=0). hook, when set, runs first and
// wins when it returns handled.
type testHandler struct {
	reg  *Registry
	addr func() net.Addr
	hook func(ctx context.Context, req *Request) (resp *Response, err error, handled bool)
}

func (h *testHandler) Handle(ctx context.Context, req *Request) (*Response, error) {
	if h.hook != nil {
		if resp, err, ok := h.hook(ctx, req); ok {
			return resp, err
		}
	}
	switch body := req.Body.(type) {
	case *kmsg.ApiVersionsRequest:
		return &Response{Msg: h.reg.ApiVersionsResponse(req.Version)}, nil
	case *kmsg.MetadataRequest:
		return &Response{Msg: echoMetadata(body, h.addr())}, nil
	case *kmsg.ProduceRequest:
		if body.Acks == 0 {
			return NoResponse, nil
		}
		resp := kmsg.NewPtrProduceResponse()
		for _, t := range body.Topics {
			rt := kmsg.NewProduceResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewProduceResponseTopicPartition()
				rp.Partition = p.Partition
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return &Response{Msg: resp}, nil
	}
	return nil, fmt.Errorf("test handler: unexpected %T", req.Body)
}

// echoMetadata answers with this server as broker 1 and every requested
// topic with one partition led by it.
func echoMetadata(req *kmsg.MetadataRequest, addr net.Addr) *kmsg.MetadataResponse {
	resp := kmsg.NewPtrMetadataResponse()
	host, portStr, _ := net.SplitHostPort(addr.String())
	port, _ := strconv.Atoi(portStr)
	b := kmsg.NewMetadataResponseBroker()
	b.NodeID, b.Host, b.Port = 1, host, int32(port)
	resp.Brokers = append(resp.Brokers, b)
	resp.ControllerID = 1
	for _, t := range req.Topics {
		rt := kmsg.NewMetadataResponseTopic()
		rt.Topic = t.Topic
		p := kmsg.NewMetadataResponseTopicPartition()
		p.Leader, p.Replicas, p.ISR = 1, []int32{1}, []int32{1}
		rt.Partitions = append(rt.Partitions, p)
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

// startServer serves h on a loopback listener until the test ends and
// checks that Close leaves no connection behind.
func startServer(t *testing.T, cfg Config, h *testHandler) *Server {
	t.Helper()
	if cfg.Registry == nil {
		cfg.Registry = testRegistry()
	}
	if cfg.Logger == nil {
		cfg.Logger = discardLogger()
	}
	h.reg = cfg.Registry
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	h.addr = l.Addr
	s := NewServer(cfg, h)
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	waitFor(t, "Serve to register its listener", func() bool { return s.Addr() != nil })
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		select {
		case err := <-served:
			if err != nil {
				t.Errorf("Serve returned %v after Close", err)
			}
		case <-time.After(testWait):
			t.Errorf("Serve did not return after Close")
		}
		if n := s.numConns(); n != 0 {
			t.Errorf("%d connections left after Close", n)
		}
	})
	return s
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// rawClient speaks the protocol by hand on a TCP connection.
type rawClient struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
	f  *kmsg.RequestFormatter
}

func dial(t *testing.T, addr net.Addr) *rawClient {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr.String(), testWait)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(testWait))
	return &rawClient{t: t, nc: nc, br: bufio.NewReader(nc), f: kmsg.NewRequestFormatter(kmsg.FormatterClientID("test"))}
}

// encode returns req framed with a request header by kmsg's formatter.
func (c *rawClient) encode(req kmsg.Request, version int16, corr int32) []byte {
	req.SetVersion(version)
	return c.f.AppendRequest(nil, req, corr)
}

func (c *rawClient) send(b []byte) {
	c.t.Helper()
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// readFrame reads one response frame and returns its bytes after the size.
func (c *rawClient) readFrame() ([]byte, error) {
	var size [4]byte
	if _, err := io.ReadFull(c.br, size[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(size[:])
	if n > 64<<20 {
		return nil, fmt.Errorf("response size %d", n)
	}
	b := make([]byte, n)
	_, err := io.ReadFull(c.br, b)
	return b, err
}

// readResponse reads a response, checks its correlation id and decodes the
// body into resp at version (header v1 when flexible, except ApiVersions).
func (c *rawClient) readResponse(resp kmsg.Response, version int16, corr int32) {
	c.t.Helper()
	b, err := c.readFrame()
	if err != nil {
		c.t.Fatalf("read response %d: %v", corr, err)
	}
	if got := int32(binary.BigEndian.Uint32(b)); got != corr {
		c.t.Fatalf("correlation id %d, want %d", got, corr)
	}
	b = b[4:]
	resp.SetVersion(version)
	if resp.IsFlexible() && resp.Key() != 18 {
		if len(b) == 0 || b[0] != 0 {
			c.t.Fatalf("flexible response header: want one empty tag section, got %x", b[:min(len(b), 4)])
		}
		b = b[1:]
	}
	if err := resp.ReadFrom(b); err != nil {
		c.t.Fatalf("decode %T v%d: %v", resp, version, err)
	}
}

// expectClosed waits until the server closes the connection.
func (c *rawClient) expectClosed() {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(testWait))
	for {
		if _, err := c.readFrame(); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				c.t.Fatalf("connection still open after %v", testWait)
			}
			return
		}
	}
}

// checkServes proves the server still answers a fresh client.
func checkServes(t *testing.T, addr net.Addr) {
	t.Helper()
	c := dial(t, addr)
	c.send(c.encode(kmsg.NewPtrApiVersionsRequest(), 3, 77))
	resp := kmsg.NewPtrApiVersionsResponse()
	c.readResponse(resp, 3, 77)
	if resp.ErrorCode != 0 || len(resp.ApiKeys) == 0 {
		t.Fatalf("ApiVersions after abuse: error %d, %d keys", resp.ErrorCode, len(resp.ApiKeys))
	}
}

// waitFor polls cond until it holds or testWait passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testWait)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// counter is a concurrency-safe counter for handler observations.
type counter struct {
	mu  sync.Mutex
	n   int
	max int
}

func (c *counter) add(d int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n += d
	c.max = max(c.max, c.n)
}

func (c *counter) get() (n, maxSeen int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n, c.max
}
