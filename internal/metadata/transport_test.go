package metadata

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

func newTestMux(t *testing.T, mut ...func(*muxConfig)) *muxListener {
	t.Helper()
	cfg := muxConfig{bindAddr: "127.0.0.1:0", log: testLogger(t)}
	for _, f := range mut {
		f(&cfg)
	}
	m, err := newMuxListener(cfg)
	if err != nil {
		t.Fatalf("newMuxListener: %v", err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

// acceptWithin runs l.Accept with a deadline.
func acceptWithin(t *testing.T, l net.Listener, d time.Duration) (net.Conn, error) {
	t.Helper()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := l.Accept()
		ch <- res{c, err}
	}()
	select {
	case r := <-ch:
		if r.c != nil {
			t.Cleanup(func() { _ = r.c.Close() })
		}
		return r.c, r.err
	case <-time.After(d):
		t.Fatalf("Accept did not return within %v", d)
		return nil, nil
	}
}

func dialRaw(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func readAllWithin(t *testing.T, c net.Conn, n int) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, n)
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(buf)
}

// expectClosed waits until the peer closes c.
func expectClosed(t *testing.T, c net.Conn, within time.Duration) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(within))
	var b [1]byte
	_, err := c.Read(b[:])
	if err == nil {
		t.Fatal("read data from a connection that should be closed")
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open after %v", within)
	}
}

func TestMuxClassifiesConnections(t *testing.T) {
	m := newTestMux(t, func(c *muxConfig) { c.prefaceTimeout = 200 * time.Millisecond })
	addr := m.Addr().String()

	tests := []struct {
		name  string
		send  string
		raft  bool // reaches Raft's Accept
		api   bool // reaches the controller-API listener
		after string
	}{
		{name: "raft rpc byte", send: "\x00msgpack", raft: true, after: "\x00msgpack"},
		{name: "raft install snapshot byte", send: "\x02x", raft: true, after: "\x02x"},
		{name: "controller preface", send: ControllerAPIPreface + "kafka", api: true, after: "kafka"},
		{name: "S without the preface", send: "SMSX-more"},
		{name: "short preface then close", send: "SM"},
		{name: "silent", send: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, addr)
			if tc.send != "" {
				if _, err := io.WriteString(c, tc.send); err != nil {
					t.Fatal(err)
				}
			}
			if tc.name == "short preface then close" {
				_ = c.(*net.TCPConn).CloseWrite()
			}
			var l net.Listener
			switch {
			case tc.raft:
				l = m
			case tc.api:
				l = m.api
			default:
				expectClosed(t, c, 3*time.Second)
				return
			}
			sc, err := acceptWithin(t, l, 5*time.Second)
			if err != nil {
				t.Fatalf("Accept: %v", err)
			}
			if got := readAllWithin(t, sc, len(tc.after)); got != tc.after {
				t.Fatalf("server read %q, want %q", got, tc.after)
			}
			// And the other way round.
			if _, err := io.WriteString(sc, "pong"); err != nil {
				t.Fatal(err)
			}
			if got := readAllWithin(t, c, 4); got != "pong" {
				t.Fatalf("client read %q", got)
			}
		})
	}
}

func TestDialControllerAPI(t *testing.T) {
	m := newTestMux(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := DialControllerAPI(ctx, m.Addr().String(), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sc, err := acceptWithin(t, m.api, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, "hello"); err != nil {
		t.Fatal(err)
	}
	if got := readAllWithin(t, sc, 5); got != "hello" {
		t.Fatalf("got %q", got)
	}
	if _, err := DialControllerAPI(ctx, m.Addr().String(), "not-an-ip"); err == nil {
		t.Fatal("bad source address accepted")
	}
	dead := closedAddr(t)
	if _, err := DialControllerAPI(ctx, dead, ""); err == nil {
		t.Fatal("dial to a closed port succeeded")
	}
}

// Outbound connections, Raft's and the controller API's, leave from the
// configured source IP (any 127.0.0.0/8 address is local on Linux).
func TestSourceAddress(t *testing.T) {
	server := newTestMux(t)
	client := newTestMux(t, func(c *muxConfig) { c.sourceIP = "127.0.0.12" })

	rc, err := client.Dial(raft.ServerAddress(server.Addr().String()), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := rc.Write([]byte{0}); err != nil {
		t.Fatal(err)
	}
	sc, err := acceptWithin(t, server, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if ip := sc.RemoteAddr().(*net.TCPAddr).IP.String(); ip != "127.0.0.12" {
		t.Fatalf("raft connection came from %s", ip)
	}

	ac, err := DialControllerAPI(context.Background(), server.Addr().String(), "127.0.0.13")
	if err != nil {
		t.Fatal(err)
	}
	defer ac.Close()
	sc, err = acceptWithin(t, server.api, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if ip := sc.RemoteAddr().(*net.TCPAddr).IP.String(); ip != "127.0.0.13" {
		t.Fatalf("controller API connection came from %s", ip)
	}
}

// Connections nobody accepts are kept up to the backlog; the rest are
// closed, and Close closes the queued ones.
func TestControllerAPIBacklog(t *testing.T) {
	m := newTestMux(t, func(c *muxConfig) { c.apiBacklog = 2 })
	var conns []net.Conn
	for range 4 {
		c, err := DialControllerAPI(context.Background(), m.Addr().String(), "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		conns = append(conns, c)
	}
	// Two of the four are closed by the mux; which two depends on the
	// order of classification.
	closed := 0
	deadline := time.Now().Add(5 * time.Second)
	for closed < 2 && time.Now().Before(deadline) {
		closed = 0
		for _, c := range conns {
			_ = c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			var b [1]byte
			if _, err := c.Read(b[:]); err != nil {
				var ne net.Error
				if !errors.As(err, &ne) || !ne.Timeout() {
					closed++
				}
			}
		}
	}
	if closed != 2 {
		t.Fatalf("%d connections closed, want 2", closed)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	for _, c := range conns {
		expectClosed(t, c, 3*time.Second)
	}
	if _, err := m.api.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v", err)
	}
	if _, err := m.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("raft Accept after Close: %v", err)
	}
}

// Close closes connections still being classified and the Raft
// connections handed out, and returns once the mux's goroutines ended.
func TestMuxCloseClosesConnections(t *testing.T) {
	m := newTestMux(t)
	silent := dialRaw(t, m.Addr().String())
	rc := dialRaw(t, m.Addr().String())
	if _, err := rc.Write([]byte{1}); err != nil {
		t.Fatal(err)
	}
	if _, err := acceptWithin(t, m, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	// Wait until the silent connection is being classified.
	deadline := time.Now().Add(5 * time.Second)
	for {
		m.mu.Lock()
		n := len(m.conns)
		m.mu.Unlock()
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("mux tracks %d connections, want 2", n)
		}
		time.Sleep(5 * time.Millisecond) // polling a condition with a deadline
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	expectClosed(t, silent, 3*time.Second)
	expectClosed(t, rc, 3*time.Second)
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// Raft's RPC type bytes, as a real raft.NetworkTransport sends them, can
// never be taken for the controller-API preface.
func TestRaftRPCBytesAreNotThePreface(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var mu sync.Mutex
	var first []byte
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			var b [1]byte
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.ReadFull(c, b[:]); err == nil {
				mu.Lock()
				first = append(first, b[0])
				mu.Unlock()
			}
			_ = c.Close()
		}
	}()
	m := newTestMux(t)
	trans := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: m, MaxPool: 1, Timeout: 5 * time.Second, Logger: newHclog(testLogger(t)),
	})
	defer trans.Close()
	target := raft.ServerAddress(ln.Addr().String())
	id := raft.ServerID("9")
	// Every call fails (the server closes after one byte); only the first
	// byte matters.
	_ = trans.AppendEntries(id, target, &raft.AppendEntriesRequest{}, &raft.AppendEntriesResponse{})
	_ = trans.RequestVote(id, target, &raft.RequestVoteRequest{}, &raft.RequestVoteResponse{})
	_ = trans.InstallSnapshot(id, target, &raft.InstallSnapshotRequest{}, &raft.InstallSnapshotResponse{}, bytes.NewReader(nil))
	_ = trans.TimeoutNow(id, target, &raft.TimeoutNowRequest{}, &raft.TimeoutNowResponse{})
	_ = trans.RequestPreVote(id, target, &raft.RequestPreVoteRequest{}, &raft.RequestPreVoteResponse{})
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		got := append([]byte(nil), first...)
		mu.Unlock()
		if len(got) == 5 {
			seen := map[byte]bool{}
			for _, b := range got {
				if b == ControllerAPIPreface[0] || b >= 0x20 {
					t.Fatalf("raft RPC type byte %#x could be taken for the preface", b)
				}
				seen[b] = true
			}
			if len(seen) != 5 {
				t.Fatalf("RPC type bytes %v are not 5 distinct values", got)
			}
			t.Logf("raft RPC type bytes: %v", got)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("saw %d RPC type bytes, want 5", len(got))
		}
		time.Sleep(5 * time.Millisecond) // polling a condition with a deadline
	}
}

func TestMuxConfigErrors(t *testing.T) {
	if _, err := newMuxListener(muxConfig{bindAddr: "127.0.0.1:0", sourceIP: "nope"}); err == nil {
		t.Fatal("bad source IP accepted")
	}
	if _, err := newMuxListener(muxConfig{bindAddr: "0.0.0.0:0"}); err == nil || !strings.Contains(err.Error(), "advertised") {
		t.Fatalf("unspecified bind address without an advertised one: %v", err)
	}
	if _, err := newMuxListener(muxConfig{bindAddr: "256.0.0.1:0"}); err == nil {
		t.Fatal("bad bind address accepted")
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
