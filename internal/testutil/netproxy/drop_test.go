package netproxy

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/testutil/freeport"
)

// silence is how long a dropped connection is watched for a byte that
// should not come.
const silence = 300 * time.Millisecond

// sendUnanswered writes msg on c and fails the test unless nothing comes
// back within silence and c stays open.
func sendUnanswered(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatalf("write %q: %v", msg, err)
	}
	if err := c.SetReadDeadline(time.Now().Add(silence)); err != nil {
		t.Fatal(err)
	}
	n, err := c.Read(make([]byte, 64))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a dropped connection answered: %d bytes, %v", n, err)
	}
}

// readBack reads len(msg) bytes from c and fails the test unless they are
// msg.
func readBack(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(ioTimeout)); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read back %q: %v", msg, err)
	}
	if string(got) != msg {
		t.Fatalf("read back %q, want %q", got, msg)
	}
}

func TestDropSilencesAndHealDelivers(t *testing.T) {
	tests := []struct {
		name string
		lift func(p *Proxy)
	}{
		{"undrop", func(p *Proxy) { p.Undrop(srcA) }},
		{"heal", func(p *Proxy) { p.Heal() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := startProxy(t, echoServer(t))
			a, b := dialFrom(t, srcA, p.Addr()), dialFrom(t, srcB, p.Addr())
			if err := echo(a, "before"); err != nil {
				t.Fatal(err)
			}
			p.Drop(srcA)
			if !p.Dropped(srcA) || p.Dropped(srcB) || p.Blocked(srcA) {
				t.Fatalf("Dropped(A)=%v Dropped(B)=%v Blocked(A)=%v", p.Dropped(srcA), p.Dropped(srcB), p.Blocked(srcA))
			}
			sendUnanswered(t, a, "held")
			fresh := dialFrom(t, srcA, p.Addr()) // accepted, never forwarded
			sendUnanswered(t, fresh, "fresh")
			if err := echo(b, "other source"); err != nil {
				t.Errorf("B while A is dropped: %v", err)
			}
			if got := p.SourceStats(srcA); got.Cut != 0 || got.Rejected != 0 {
				t.Errorf("a drop closed something: %+v", got)
			}

			tt.lift(p)
			readBack(t, a, "held") // the held bytes flow on, in order
			readBack(t, fresh, "fresh")
			if err := echo(a, "after"); err != nil {
				t.Errorf("A after the drop was lifted: %v", err)
			}
		})
	}
}

func TestBlockEndsDroppedConnections(t *testing.T) {
	p := startProxy(t, echoServer(t))
	a := dialFrom(t, srcA, p.Addr())
	if err := echo(a, "before"); err != nil {
		t.Fatal(err)
	}
	p.Drop(srcA)
	sendUnanswered(t, a, "held")
	fresh := dialFrom(t, srcA, p.Addr())
	p.Block(srcA)
	waitClosed(t, a)
	waitClosed(t, fresh)
}

func TestCloseEndsDroppedConnections(t *testing.T) {
	p, err := Listen("127.0.0.1:0", echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	a := dialFrom(t, srcA, p.Addr())
	p.Drop(srcA)
	sendUnanswered(t, a, "held")
	done := make(chan error, 1)
	go func() { done <- p.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(ioTimeout):
		t.Fatal("Close hung on a dropped connection")
	}
	waitClosed(t, a)
}

func TestDownRefusesAndUpServes(t *testing.T) {
	// A port below the ephemeral range: no outgoing connection can take
	// it while the proxy is down.
	addr, err := freeport.Addr("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	p, err := Listen(addr, echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	a := dialFrom(t, srcA, p.Addr())
	if err := echo(a, "before"); err != nil {
		t.Fatal(err)
	}
	for range 2 { // Down twice is harmless
		if err := p.Down(); err != nil {
			t.Fatal(err)
		}
	}
	waitClosed(t, a)
	if c, err := net.DialTimeout("tcp", p.Addr(), ioTimeout); err == nil {
		c.Close()
		t.Fatal("a proxy that is down accepted a connection")
	}
	if err := p.Up(); err != nil {
		t.Fatal(err)
	}
	if err := echo(dialFrom(t, srcA, p.Addr()), "after"); err != nil {
		t.Fatalf("after Up: %v", err)
	}
	if err := p.Down(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil { // Close while down
		t.Fatal(err)
	}
	if err := p.Up(); err == nil {
		t.Fatal("Up after Close succeeded")
	}
}
