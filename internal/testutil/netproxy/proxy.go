// Package netproxy is a TCP proxy for tests that cuts network links on
// demand: a Proxy listens on a loopback address, forwards every connection to
// a target address, and drops the connections of blocked source IPs.
//
// Tests give each node of a cluster its own loopback source address
// (127.0.0.11 for node 1, 127.0.0.12 for node 2, ...) and put a Proxy in
// front of every listener, so the proxy can tell who is connecting:
//
//	node 2 (src 127.0.0.12) ──> Proxy(node 1 controller) ──> node 1's real port
//	client (src 127.0.0.1)  ──> Proxy(node 1 Kafka)      ──> node 1's real port
//
// Block(ip) closes the existing connections from ip at once (with a TCP
// reset) and closes new ones right after accepting them: the peers learn
// of the cut at once, as when a host is down. Drop(ip) is the silent
// kind, as when a firewall drops packets: nothing is closed, but no byte
// of ip's connections moves either way (new ones are accepted and held),
// so the peers see only silence until their own timeouts fire; when the
// drop is lifted the held bytes flow on, as TCP retransmits them after a
// short outage. Heal lifts every block and drop. Bytes are counted per
// source in both directions.
//
// Down and Up stop and resume listening: while down, the address refuses
// connections, as the port of a dead process does.
//
// Goroutines: Listen (and each Up) starts one accept loop; each forwarded
// connection runs two copy goroutines (one per direction). Down ends the
// accept loop; Close ends it too, closes every connection and waits for all
// of them.
package netproxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// DialTimeout bounds the proxy's connection to its target.
const DialTimeout = 5 * time.Second

// copyBufferSize is the buffer of each direction of a forwarded connection.
const copyBufferSize = 32 << 10

// Stats are the counters of a proxy, or of one source IP of it.
type Stats struct {
	Accepted int64 // connections accepted and forwarded
	Rejected int64 // connections closed at once because their source was blocked
	Cut      int64 // forwarded connections closed by Block or BlockAll
	Open     int64 // forwarded connections open now
	BytesIn  int64 // bytes copied from the sources to the target
	BytesOut int64 // bytes copied from the target back to the sources
}

// counters are one source's Stats, updated by the copy goroutines.
type counters struct {
	accepted, rejected, cut, open, bytesIn, bytesOut atomic.Int64
}

func (c *counters) snapshot() Stats {
	return Stats{Accepted: c.accepted.Load(), Rejected: c.rejected.Load(), Cut: c.cut.Load(),
		Open: c.open.Load(), BytesIn: c.bytesIn.Load(), BytesOut: c.bytesOut.Load()}
}

// Proxy forwards the TCP connections it accepts to a target address. Its
// methods are safe for concurrent use.
type Proxy struct {
	addr   string          // where it listens (while up)
	ctx    context.Context // ends at Close; bounds dials to the target
	cancel context.CancelFunc

	mu       sync.Mutex   // guards the fields below
	ln       net.Listener // nil while down
	target   string
	blocked  map[string]bool
	blockAll bool
	dropped  map[string]bool
	lifted   *sync.Cond // broadcast when a drop is lifted, a link cut or the proxy closed
	links    map[*link]struct{}
	sources  map[string]*counters
	closed   bool

	wg sync.WaitGroup // the accept loop and every link's goroutines
}

// link is one forwarded connection.
type link struct {
	src    string
	client net.Conn
	server net.Conn // nil until the target answered; guarded by Proxy.mu
	cut    bool     // set by a block; guarded by Proxy.mu
	stats  *counters
}

// Listen starts a proxy listening on addr (such as "127.0.0.1:0") that
// forwards to target.
func Listen(addr, target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("netproxy: listen %s: %w", addr, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{
		addr:    ln.Addr().String(),
		ln:      ln,
		ctx:     ctx,
		cancel:  cancel,
		target:  target,
		blocked: map[string]bool{},
		dropped: map[string]bool{},
		links:   map[*link]struct{}{},
		sources: map[string]*counters{},
	}
	p.lifted = sync.NewCond(&p.mu)
	p.wg.Add(1)
	go p.acceptLoop(ln)
	return p, nil
}

// Addr returns the address the proxy listens on.
func (p *Proxy) Addr() string { return p.addr }

// Down makes the proxy's address refuse connections, as the port of a dead
// process does: it stops listening and resets every connection it
// forwards, until Up. Without it, a client of a dead target would see its
// connection accepted and then reset, which some clients (kafka-go) take
// for an answer instead of trying their next bootstrap address.
func (p *Proxy) Down() error {
	p.mu.Lock()
	ln := p.ln
	p.ln = nil
	conns := p.cutLocked(func(*link) bool { return true })
	p.mu.Unlock()
	closeLinks(conns)
	if ln == nil {
		return nil
	}
	if err := ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("netproxy: down %s: %w", p.addr, err)
	}
	return nil
}

// Up listens again on the proxy's address after Down.
func (p *Proxy) Up() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return fmt.Errorf("netproxy: up %s: the proxy is closed", p.addr)
	}
	if p.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		return fmt.Errorf("netproxy: up %s: %w", p.addr, err)
	}
	p.ln = ln
	p.wg.Add(1)
	go p.acceptLoop(ln)
	return nil
}

// Target returns the address new connections are forwarded to.
func (p *Proxy) Target() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.target
}

// SetTarget changes where new connections are forwarded; open ones keep
// their target.
func (p *Proxy) SetTarget(target string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.target = target
}

// Block cuts srcIP off: its open connections are reset now and new ones are
// closed as soon as they are accepted, until Unblock or Heal.
func (p *Proxy) Block(srcIP string) {
	p.mu.Lock()
	p.blocked[srcIP] = true
	cut := p.cutLocked(func(l *link) bool { return l.src == srcIP })
	p.mu.Unlock()
	closeLinks(cut)
}

// Unblock lets srcIP connect again.
func (p *Proxy) Unblock(srcIP string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.blocked, srcIP)
}

// BlockAll cuts every source off, including ones never seen before.
func (p *Proxy) BlockAll() {
	p.mu.Lock()
	p.blockAll = true
	cut := p.cutLocked(func(*link) bool { return true })
	p.mu.Unlock()
	closeLinks(cut)
}

// Drop silences srcIP: its open connections stay open but stop moving
// bytes in both directions, and new ones are accepted but not forwarded,
// until Undrop or Heal. A Block of the same source still cuts them.
func (p *Proxy) Drop(srcIP string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dropped[srcIP] = true
}

// Undrop lets srcIP's held bytes and connections flow on.
func (p *Proxy) Undrop(srcIP string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.dropped, srcIP)
	p.lifted.Broadcast()
}

// Heal lifts every block and drop (Block, BlockAll and Drop).
func (p *Proxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.blockAll = false
	clear(p.blocked)
	clear(p.dropped)
	p.lifted.Broadcast()
}

// Blocked reports whether connections from srcIP are refused now.
func (p *Proxy) Blocked(srcIP string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.blockedLocked(srcIP)
}

// Dropped reports whether srcIP's traffic is silenced now.
func (p *Proxy) Dropped(srcIP string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dropped[srcIP]
}

// hold waits while l's source is dropped. It reports false if l was cut or
// the proxy closed meanwhile (the caller then ends the link).
func (p *Proxy) hold(l *link) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.dropped[l.src] && !l.cut && !p.closed {
		p.lifted.Wait()
	}
	return !l.cut && !p.closed
}

// Stats returns the proxy's counters summed over every source.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	var s Stats
	for _, c := range p.sources {
		x := c.snapshot()
		s.Accepted += x.Accepted
		s.Rejected += x.Rejected
		s.Cut += x.Cut
		s.Open += x.Open
		s.BytesIn += x.BytesIn
		s.BytesOut += x.BytesOut
	}
	return s
}

// SourceStats returns the counters of the connections from srcIP (zero if
// it never connected).
func (p *Proxy) SourceStats(srcIP string) Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.sources[srcIP]; ok {
		return c.snapshot()
	}
	return Stats{}
}

// Close stops listening, closes every forwarded connection and waits for the
// proxy's goroutines to end. It is safe to call more than once.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.lifted.Broadcast()
	p.cancel()
	var err error
	if p.ln != nil {
		err = p.ln.Close()
		p.ln = nil
	}
	var conns []net.Conn
	for l := range p.links {
		conns = append(conns, l.client)
		if l.server != nil {
			conns = append(conns, l.server)
		}
	}
	p.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	p.wg.Wait()
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("netproxy: close %s: %w", p.Addr(), err)
	}
	return nil
}

func (p *Proxy) blockedLocked(srcIP string) bool { return p.blockAll || p.blocked[srcIP] }

func (p *Proxy) countersLocked(srcIP string) *counters {
	c, ok := p.sources[srcIP]
	if !ok {
		c = &counters{}
		p.sources[srcIP] = c
	}
	return c
}

// cutLocked marks the links matching match as cut and returns the
// connections to reset; the caller closes them after unlocking.
func (p *Proxy) cutLocked(match func(*link) bool) []net.Conn {
	var conns []net.Conn
	for l := range p.links {
		if l.cut || !match(l) {
			continue
		}
		l.cut = true
		l.stats.cut.Add(1)
		p.lifted.Broadcast()
		conns = append(conns, l.client)
		if l.server != nil {
			conns = append(conns, l.server)
		}
	}
	return conns
}

// closeLinks resets conns: SO_LINGER 0 makes Close send a RST, so the peers
// see the link break at once instead of an orderly end of stream.
func closeLinks(conns []net.Conn) {
	for _, c := range conns {
		reset(c)
	}
}

func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	c.Close()
}
