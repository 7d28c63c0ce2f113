package netproxy

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// acceptBackoff is the pause after a failed Accept (such as EMFILE) before
// the next one.
const acceptBackoff = 20 * time.Millisecond

// acceptLoop admits connections from ln until it is closed (by Down or
// Close).
func (p *Proxy) acceptLoop(ln net.Listener) {
	defer p.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			t := time.NewTimer(acceptBackoff)
			<-t.C
			continue
		}
		p.admit(c)
	}
}

// admit closes c if its source is blocked and otherwise starts forwarding it.
func (p *Proxy) admit(c net.Conn) {
	src := sourceIP(c.RemoteAddr())
	p.mu.Lock()
	stats := p.countersLocked(src)
	if p.closed || p.blockedLocked(src) {
		p.mu.Unlock()
		stats.rejected.Add(1)
		reset(c)
		return
	}
	l := &link{src: src, client: c, stats: stats}
	p.links[l] = struct{}{}
	target := p.target
	stats.accepted.Add(1)
	stats.open.Add(1)
	p.wg.Add(1)
	p.mu.Unlock()
	go p.forward(l, target)
}

// forward dials target and copies bytes both ways until either side ends
// or the link is cut.
func (p *Proxy) forward(l *link, target string) {
	defer p.wg.Done()
	defer p.forget(l)
	if !p.hold(l) { // a dropped source's connection waits here, unanswered
		reset(l.client)
		return
	}
	d := net.Dialer{Timeout: DialTimeout}
	server, err := d.DialContext(p.ctx, "tcp", target)
	if err != nil {
		reset(l.client) // the target is down: the client sees its connection reset
		return
	}
	p.mu.Lock()
	if l.cut || p.closed {
		p.mu.Unlock()
		reset(server)
		reset(l.client)
		return
	}
	l.server = server
	p.mu.Unlock()

	var wg sync.WaitGroup
	wg.Go(func() { p.pipe(l, server, l.client, &l.stats.bytesIn) })
	p.pipe(l, l.client, server, &l.stats.bytesOut)
	wg.Wait()
	l.client.Close()
	server.Close()
}

// forget removes a finished link.
func (p *Proxy) forget(l *link) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.links, l)
	l.stats.open.Add(-1)
}

// pipe copies src to dst for link l, counting the bytes in n. What it read
// waits while l's source is dropped. At the end of src it half-closes dst,
// so the other direction can finish its answer; on any error, or if l is
// cut while holding bytes, it closes both, which ends the other direction
// too.
func (p *Proxy) pipe(l *link, dst, src net.Conn, n *atomic.Int64) {
	buf := make([]byte, copyBufferSize)
	for {
		k, err := src.Read(buf)
		if !p.hold(l) {
			dst.Close()
			src.Close()
			return
		}
		if k > 0 {
			if _, werr := dst.Write(buf[:k]); werr != nil {
				dst.Close()
				src.Close()
				return
			}
			n.Add(int64(k))
		}
		if errors.Is(err, io.EOF) {
			if tc, ok := dst.(*net.TCPConn); ok {
				_ = tc.CloseWrite()
			} else {
				dst.Close()
			}
			return
		}
		if err != nil {
			dst.Close()
			src.Close()
			return
		}
	}
}

// sourceIP returns the IP of a remote address ("127.0.0.12").
func sourceIP(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}
