package netproxy

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// ioTimeout bounds every read and write of the tests.
const ioTimeout = 5 * time.Second

// Source addresses of the simulated nodes (127.0.0.0/8 is all loopback on
// Linux, so any of them can be bound).
const (
	srcA = "127.0.0.11"
	srcB = "127.0.0.12"
)

// echoServer starts a server that writes back everything it reads and
// half-closes at the end of its input. It is stopped when the test ends.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
				_ = c.(*net.TCPConn).CloseWrite()
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// startProxy starts a proxy in front of target, closed when the test ends.
func startProxy(t *testing.T, target string) *Proxy {
	t.Helper()
	p, err := Listen("127.0.0.1:0", target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("close proxy: %v", err)
		}
	})
	return p
}

// dialFrom connects to addr from the local IP src.
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: ioTimeout, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s from %s: %v", addr, src, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// echo writes msg on c and reads it back.
func echo(c net.Conn, msg string) error {
	if err := c.SetDeadline(time.Now().Add(ioTimeout)); err != nil {
		return err
	}
	if _, err := io.WriteString(c, msg); err != nil {
		return err
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if string(got) != msg {
		return errors.New("echo mismatch: got " + string(got))
	}
	return nil
}

// waitClosed fails the test unless the proxy ends c (EOF or reset) within
// ioTimeout.
func waitClosed(t *testing.T, c net.Conn) {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(ioTimeout)); err != nil {
		t.Fatal(err)
	}
	_, err := c.Read(make([]byte, 1))
	if err == nil {
		t.Fatal("read succeeded on a connection that should be closed")
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("connection still open: the proxy did not close it")
	}
}

// expectRefused fails the test unless a connection from src to addr is
// refused or closed by the proxy right after the handshake.
func expectRefused(t *testing.T, src, addr string) {
	t.Helper()
	d := net.Dialer{Timeout: ioTimeout, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return // reset before the dial even returned
	}
	defer c.Close()
	waitClosed(t, c)
}

// waitFor polls cond until it holds or ioTimeout passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(ioTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestForwardsAndCounts(t *testing.T) {
	p := startProxy(t, echoServer(t))
	a := dialFrom(t, srcA, p.Addr())
	b := dialFrom(t, srcB, p.Addr())
	if err := echo(a, "hello"); err != nil {
		t.Fatal(err)
	}
	if err := echo(b, "samsa!"); err != nil {
		t.Fatal(err)
	}
	a.Close()
	b.Close()
	waitFor(t, "links to end", func() bool { return p.Stats().Open == 0 })
	tests := []struct {
		name string
		got  Stats
		want Stats
	}{
		{"source A", p.SourceStats(srcA), Stats{Accepted: 1, BytesIn: 5, BytesOut: 5}},
		{"source B", p.SourceStats(srcB), Stats{Accepted: 1, BytesIn: 6, BytesOut: 6}},
		{"unknown source", p.SourceStats("127.0.0.99"), Stats{}},
		{"total", p.Stats(), Stats{Accepted: 2, BytesIn: 11, BytesOut: 11}},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: stats = %+v, want %+v", tt.name, tt.got, tt.want)
		}
	}
}

func TestBlockCutsOnlyThatSource(t *testing.T) {
	tests := []struct {
		name  string
		block func(p *Proxy)
		// whether A's and B's connections survive the block
		aSurvives, bSurvives bool
	}{
		{"block A", func(p *Proxy) { p.Block(srcA) }, false, true},
		{"block B", func(p *Proxy) { p.Block(srcB) }, true, false},
		{"block both", func(p *Proxy) { p.Block(srcA); p.Block(srcB) }, false, false},
		{"block all", func(p *Proxy) { p.BlockAll() }, false, false},
		{"block a stranger", func(p *Proxy) { p.Block("127.0.0.99") }, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := startProxy(t, echoServer(t))
			conns := map[string]net.Conn{srcA: dialFrom(t, srcA, p.Addr()), srcB: dialFrom(t, srcB, p.Addr())}
			for src, c := range conns {
				if err := echo(c, "before"); err != nil {
					t.Fatalf("%s before the block: %v", src, err)
				}
			}
			tt.block(p)
			survives := map[string]bool{srcA: tt.aSurvives, srcB: tt.bSurvives}
			for src, c := range conns {
				if survives[src] {
					if err := echo(c, "after"); err != nil {
						t.Errorf("%s should still work: %v", src, err)
					}
					if p.Blocked(src) {
						t.Errorf("Blocked(%s) = true", src)
					}
					continue
				}
				waitClosed(t, c)
				if !p.Blocked(src) {
					t.Errorf("Blocked(%s) = false", src)
				}
				// A new connection is accepted, then closed at once.
				expectRefused(t, src, p.Addr())
				if got := p.SourceStats(src); got.Cut != 1 || got.Rejected != 1 {
					t.Errorf("%s stats = %+v, want Cut 1 Rejected 1", src, got)
				}
			}
			p.Heal()
			for src := range conns {
				if err := echo(dialFrom(t, src, p.Addr()), "healed"); err != nil {
					t.Errorf("%s after Heal: %v", src, err)
				}
			}
		})
	}
}

func TestUnblock(t *testing.T) {
	p := startProxy(t, echoServer(t))
	p.Block(srcA)
	p.Block(srcB)
	expectRefused(t, srcA, p.Addr())
	p.Unblock(srcA)
	if err := echo(dialFrom(t, srcA, p.Addr()), "back"); err != nil {
		t.Fatalf("A after Unblock: %v", err)
	}
	expectRefused(t, srcB, p.Addr())
}

func TestBlockAllCoversNewSources(t *testing.T) {
	p := startProxy(t, echoServer(t))
	p.BlockAll()
	p.Unblock(srcA) // Unblock does not lift BlockAll
	for _, src := range []string{srcA, "127.0.0.1", "127.0.0.42"} {
		expectRefused(t, src, p.Addr())
	}
	p.Heal()
	if err := echo(dialFrom(t, "127.0.0.42", p.Addr()), "ok"); err != nil {
		t.Fatal(err)
	}
}

func TestHalfCloseDeliversTheAnswer(t *testing.T) {
	p := startProxy(t, echoServer(t))
	c := dialFrom(t, srcA, p.Addr())
	msg := strings.Repeat("0123456789", 20000) // several buffers
	if err := c.SetDeadline(time.Now().Add(ioTimeout)); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := io.WriteString(c, msg)
		if err == nil {
			err = c.(*net.TCPConn).CloseWrite()
		}
		errc <- err
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("write: %v", err)
	}
	if !bytes.Equal(got, []byte(msg)) {
		t.Fatalf("got %d bytes back, want %d", len(got), len(msg))
	}
}

func TestTargetDownAndSetTarget(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close() // nothing listens on dead now
	p := startProxy(t, dead)
	expectRefused(t, srcA, p.Addr())

	live := echoServer(t)
	p.SetTarget(live)
	if p.Target() != live {
		t.Fatalf("Target() = %s, want %s", p.Target(), live)
	}
	if err := echo(dialFrom(t, srcA, p.Addr()), "up"); err != nil {
		t.Fatal(err)
	}
}

func TestCloseEndsConnections(t *testing.T) {
	p, err := Listen("127.0.0.1:0", echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	c := dialFrom(t, srcA, p.Addr())
	if err := echo(c, "x"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(ioTimeout):
		t.Fatal("Close did not return")
	}
	waitClosed(t, c)
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	d := net.Dialer{Timeout: ioTimeout}
	if c, err := d.Dial("tcp", p.Addr()); err == nil {
		c.Close()
		t.Fatal("proxy still accepts after Close")
	}
}
