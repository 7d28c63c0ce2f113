package ctlclient

import (
	"bytes"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

// action is what the fake controller does with a request.
type action int

const (
	answer  action = iota
	hangUp         // close the connection without answering
	silent         // never answer (until the connection is closed)
	badCorr        // answer with a wrong correlation id
	huge           // announce a frame larger than MaxResponseSize
	answerAndHangUp
)

// seen is a request as the fake controller received it.
type seen struct {
	req      kmsg.Request
	clientID string
	remote   net.Addr
}

// fakeController serves the controller API on a listener with plain
// framing written here with kmsg and kbin (no package wire).
type fakeController struct {
	t      *testing.T
	ln     net.Listener
	handle func(n int, req kmsg.Request) (kmsg.Response, action)

	mu       sync.Mutex // guards requests, conns, dials
	requests []seen
	conns    []net.Conn
	dials    int

	wg sync.WaitGroup
}

// newFake serves on a new loopback listener that expects the preface.
func newFake(t *testing.T, handle func(n int, req kmsg.Request) (kmsg.Response, action)) *fakeController {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveFake(t, ln, true, handle)
}

// serveFake serves on ln; readPreface is false for a listener that
// consumed it (metadata.Node.ControllerAPIListener).
func serveFake(t *testing.T, ln net.Listener, readPreface bool, handle func(n int, req kmsg.Request) (kmsg.Response, action)) *fakeController {
	f := &fakeController{t: t, ln: ln, handle: handle}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.mu.Lock()
			f.conns = append(f.conns, c)
			f.dials++
			f.mu.Unlock()
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				defer c.Close()
				f.serveConn(c, readPreface)
			}()
		}
	}()
	t.Cleanup(f.close)
	return f
}

func (f *fakeController) addr() string { return f.ln.Addr().String() }

func (f *fakeController) close() {
	_ = f.ln.Close()
	f.mu.Lock()
	for _, c := range f.conns {
		_ = c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

func (f *fakeController) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.requests)
}

func (f *fakeController) dialCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dials
}

func (f *fakeController) last() seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[len(f.requests)-1]
}

func (f *fakeController) serveConn(c net.Conn, readPreface bool) {
	if readPreface {
		var p [4]byte
		if _, err := io.ReadFull(c, p[:]); err != nil || string(p[:]) != metadata.ControllerAPIPreface {
			return
		}
	}
	for {
		var head [4]byte
		if _, err := io.ReadFull(c, head[:]); err != nil {
			return
		}
		size := binary.BigEndian.Uint32(head[:])
		if size > 1<<20 {
			f.t.Errorf("fake controller: request of %d bytes", size)
			return
		}
		body := make([]byte, size)
		if _, err := io.ReadFull(c, body); err != nil {
			return
		}
		r := kbin.Reader{Src: body}
		key, version, corr := r.Int16(), r.Int16(), r.Int32()
		clientID := r.NullableString()
		req := kmsg.RequestForKey(key)
		if req == nil || !r.Ok() {
			f.t.Errorf("fake controller: bad request header (key %d)", key)
			return
		}
		req.SetVersion(version)
		if req.IsFlexible() {
			kmsg.SkipTags(&r)
		}
		if err := req.ReadFrom(r.Src); err != nil {
			f.t.Errorf("fake controller: decode %s v%d: %v", kmsg.NameForKey(key), version, err)
			return
		}
		s := seen{req: req, remote: c.RemoteAddr()}
		if clientID != nil {
			s.clientID = *clientID
		}
		f.mu.Lock()
		n := len(f.requests)
		f.requests = append(f.requests, s)
		f.mu.Unlock()

		resp, act := f.handle(n, req)
		switch act {
		case hangUp:
			return
		case silent:
			_, _ = io.Copy(io.Discard, c) // until the client closes
			return
		case huge:
			_, _ = c.Write([]byte{0x7f, 0xff, 0xff, 0xff})
			return
		case badCorr:
			corr++
		}
		resp.SetVersion(version)
		out := binary.BigEndian.AppendUint32(nil, 0)
		out = binary.BigEndian.AppendUint32(out, uint32(corr))
		if req.IsFlexible() && key != apiVersionsKey {
			out = append(out, 0) // no header tags
		}
		out = resp.AppendTo(out)
		binary.BigEndian.PutUint32(out, uint32(len(out)-4))
		if _, err := c.Write(out); err != nil {
			return
		}
		if act == answerAndHangUp {
			return
		}
	}
}

// okHandler answers every request with its empty response.
func okHandler(_ int, req kmsg.Request) (kmsg.Response, action) {
	return req.ResponseKind(), answer
}

func heartbeat() *kmsg.BrokerHeartbeatRequest {
	req := kmsg.NewPtrBrokerHeartbeatRequest()
	req.SetVersion(1)
	req.BrokerID = 3
	req.BrokerEpoch = 42
	return req
}

func createTopics(name string) *kmsg.CreateTopicsRequest {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.SetVersion(7)
	t := kmsg.NewCreateTopicsRequestTopic()
	t.Topic = name
	t.NumPartitions = 1
	t.ReplicationFactor = 1
	req.Topics = append(req.Topics, t)
	return req
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func newClient(t *testing.T, cfg Config) *Client {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	if cfg.NodeID == 0 {
		cfg.NodeID = 3
	}
	c := New(cfg)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// leaderAt returns a Config.Leader naming addr (which may change).
func leaderAt(addr *string, mu *sync.Mutex) func() (int32, string, bool) {
	return func() (int32, string, bool) {
		mu.Lock()
		defer mu.Unlock()
		if *addr == "" {
			return 0, "", false
		}
		return 1, *addr, true
	}
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

func errorCode(resp kmsg.Response) int16 {
	switch r := resp.(type) {
	case *kmsg.BrokerHeartbeatResponse:
		return r.ErrorCode
	case *kmsg.CreateTopicsResponse:
		if len(r.Topics) > 0 {
			return r.Topics[0].ErrorCode
		}
	}
	return -999 // not a Kafka error code: the test fails on it
}
