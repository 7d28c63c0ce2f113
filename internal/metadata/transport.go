package metadata

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// The controller listener (NodeConfig.BindAddr) carries two protocols on
// one port:
//
//	Raft:            [rpc type byte 0..4][msgpack RPC]...        (hashicorp/raft)
//	controller API:  "SMSA" [int32 size][Kafka request header+body]...  (kmsg)
//
// Each accepted connection is classified on its own goroutine by its first
// byte: Raft's RPC type bytes are small integers (AppendEntries 0,
// RequestVote 1, InstallSnapshot 2, TimeoutNow 3, RequestPreVote 4; a test
// checks the bytes a real raft transport sends), so a first byte equal to
// 'S' (0x53) is never Raft. Such a connection must then carry the whole
// preface; it goes, with the preface consumed, to the listener returned by
// Node.ControllerAPIListener. Any other connection goes to Raft with the
// byte read replayed before the socket.

// ControllerAPIPreface is what a connection to the controller listener
// sends first to speak the Kafka protocol to the controller (broker
// registration, heartbeats, AlterPartition, forwarded admin requests)
// instead of Raft. See DialControllerAPI.
const ControllerAPIPreface = "SMSA"

const (
	// defaultPrefaceTimeout bounds how long an accepted connection may
	// take to send its first bytes before it is closed.
	defaultPrefaceTimeout = 5 * time.Second
	// defaultAPIBacklog is how many controller-API connections are kept
	// while nobody accepts them; more are closed.
	defaultAPIBacklog = 64
	// maxClassifying bounds the connections waiting for their first bytes;
	// more are closed at once (a flood of silent connections costs at
	// most this many goroutines for defaultPrefaceTimeout).
	maxClassifying = 256
)

// DialControllerAPI connects to the controller listener at addr and sends
// ControllerAPIPreface, so that the connection speaks the Kafka protocol
// to that node's controller API. sourceIP, when not empty, is the local IP
// the connection is bound to (NodeConfig.SourceAddr). The caller owns the
// returned connection.
func DialControllerAPI(ctx context.Context, addr, sourceIP string) (net.Conn, error) {
	d, err := newDialer(sourceIP)
	if err != nil {
		return nil, err
	}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metadata: dial controller API %s: %w", addr, err)
	}
	deadline := time.Now().Add(defaultPrefaceTimeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	if err := c.SetWriteDeadline(deadline); err == nil {
		_, err = io.WriteString(c, ControllerAPIPreface)
		if err == nil {
			err = c.SetWriteDeadline(time.Time{})
		}
	}
	if err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("metadata: send controller API preface to %s: %w", addr, err)
	}
	return c, nil
}

// newDialer returns a dialer whose connections leave from sourceIP ("" =
// the kernel's choice).
func newDialer(sourceIP string) (net.Dialer, error) {
	if sourceIP == "" {
		return net.Dialer{}, nil
	}
	ip := net.ParseIP(sourceIP)
	if ip == nil {
		return net.Dialer{}, fmt.Errorf("metadata: source address %q is not an IP address", sourceIP)
	}
	return net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}}, nil
}

// muxConfig configures a muxListener.
type muxConfig struct {
	bindAddr       string
	advertise      net.Addr // nil: the bound address
	sourceIP       string
	prefaceTimeout time.Duration
	apiBacklog     int
	log            *slog.Logger
}

// muxListener is the controller listener. It implements raft.StreamLayer:
// Accept returns the Raft connections and Dial makes Raft's outbound ones
// (bound to the source IP). Controller-API connections go to api.
//
// Goroutines: the accept loop and one classifier per connection waiting
// for its first bytes, all started by newMuxListener and waited for by
// Close, which closes the TCP listener, every connection not yet handed
// over and every Raft connection it handed to Raft.
type muxListener struct {
	tcp            net.Listener
	addr           net.Addr
	dialer         net.Dialer
	prefaceTimeout time.Duration
	log            *slog.Logger
	raftCh         chan net.Conn // unbuffered: a classifier waits for Raft's Accept
	api            *controllerAPIListener
	slots          chan struct{} // a token per classifying connection
	done           chan struct{} // closed by Close
	closeOnce      sync.Once
	wg             sync.WaitGroup

	mu    sync.Mutex            // guards conns, closed
	conns map[net.Conn]struct{} // being classified, or handed to Raft and still open
	// closed is set (under mu) by Close; track refuses connections after.
	closed bool
}

var _ raft.StreamLayer = (*muxListener)(nil)

func newMuxListener(cfg muxConfig) (*muxListener, error) {
	d, err := newDialer(cfg.sourceIP)
	if err != nil {
		return nil, err
	}
	if cfg.prefaceTimeout <= 0 {
		cfg.prefaceTimeout = defaultPrefaceTimeout
	}
	if cfg.apiBacklog <= 0 {
		cfg.apiBacklog = defaultAPIBacklog
	}
	if cfg.log == nil {
		cfg.log = slog.Default()
	}
	ln, err := net.Listen("tcp", cfg.bindAddr)
	if err != nil {
		return nil, fmt.Errorf("metadata: controller listener %s: %w", cfg.bindAddr, err)
	}
	addr := cfg.advertise
	if addr == nil {
		addr = ln.Addr()
	}
	if tcp, ok := addr.(*net.TCPAddr); !ok || tcp.IP == nil || tcp.IP.IsUnspecified() {
		_ = ln.Close()
		return nil, fmt.Errorf("metadata: controller listener %s: address %s cannot be dialled by peers; set an advertised address", cfg.bindAddr, addr)
	}
	m := &muxListener{
		tcp:            ln,
		addr:           addr,
		dialer:         d,
		prefaceTimeout: cfg.prefaceTimeout,
		log:            cfg.log,
		raftCh:         make(chan net.Conn),
		api:            newControllerAPIListener(addr, cfg.apiBacklog, cfg.log),
		slots:          make(chan struct{}, maxClassifying),
		done:           make(chan struct{}),
		conns:          map[net.Conn]struct{}{},
	}
	m.wg.Add(1)
	go m.acceptLoop()
	return m, nil
}

func (m *muxListener) acceptLoop() {
	defer m.wg.Done()
	var delay time.Duration
	for {
		c, err := m.tcp.Accept()
		if err != nil {
			select {
			case <-m.done:
				return
			default:
			}
			// A temporary failure (EMFILE, ...): back off like net/http.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			m.log.Warn("metadata: controller listener accept failed", "err", err, "retry_in", delay)
			select {
			case <-m.done:
				return
			case <-time.After(delay):
			}
			continue
		}
		delay = 0
		select {
		case m.slots <- struct{}{}:
		default:
			m.log.Warn("metadata: too many connections waiting for their first bytes; closing one", "remote", c.RemoteAddr())
			_ = c.Close()
			continue
		}
		if !m.track(c) {
			<-m.slots
			return
		}
		m.wg.Add(1)
		go m.classify(c)
	}
}

// track records c as owned by the mux; it closes c and returns false if
// the mux is closed.
func (m *muxListener) track(c net.Conn) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		_ = c.Close()
		return false
	}
	m.conns[c] = struct{}{}
	return true
}

func (m *muxListener) untrack(c net.Conn) {
	m.mu.Lock()
	delete(m.conns, c)
	m.mu.Unlock()
}

// classify reads c's first byte(s) and hands c to Raft or to the
// controller-API listener.
func (m *muxListener) classify(c net.Conn) {
	defer m.wg.Done()
	defer func() { <-m.slots }()
	drop := func(why string, err error) {
		m.log.Debug("metadata: closing a controller-listener connection", "remote", c.RemoteAddr(), "why", why, "err", err)
		m.untrack(c)
		_ = c.Close()
	}
	var head [len(ControllerAPIPreface)]byte
	if err := c.SetReadDeadline(time.Now().Add(m.prefaceTimeout)); err != nil {
		drop("set deadline", err)
		return
	}
	if _, err := io.ReadFull(c, head[:1]); err != nil {
		drop("no first byte", err)
		return
	}
	if head[0] != ControllerAPIPreface[0] {
		if err := c.SetReadDeadline(time.Time{}); err != nil {
			drop("clear deadline", err)
			return
		}
		pc := &peekedConn{Conn: c, pre: []byte{head[0]}, mux: m}
		select {
		case m.raftCh <- pc:
		case <-m.done:
			_ = pc.Close()
		}
		return
	}
	if _, err := io.ReadFull(c, head[1:]); err != nil {
		drop("short preface", err)
		return
	}
	if string(head[:]) != ControllerAPIPreface {
		drop(fmt.Sprintf("bad preface %q", head[:]), nil)
		return
	}
	if err := c.SetReadDeadline(time.Time{}); err != nil {
		drop("clear deadline", err)
		return
	}
	m.untrack(c)
	m.api.deliver(c)
}

// Accept returns the next Raft connection (raft.StreamLayer). After Close
// it returns net.ErrClosed.
func (m *muxListener) Accept() (net.Conn, error) {
	select {
	case c := <-m.raftCh:
		return c, nil
	case <-m.done:
		return nil, net.ErrClosed
	}
}

// Close stops the listener: no more connections are accepted, the
// controller-API listener is closed, and so is every connection the mux
// still owns (classifying, or serving Raft). It waits for the mux's
// goroutines and may be called more than once.
func (m *muxListener) Close() error {
	var err error
	m.closeOnce.Do(func() {
		close(m.done)
		err = m.tcp.Close()
		_ = m.api.Close()
		m.mu.Lock()
		m.closed = true
		for c := range m.conns {
			_ = c.Close()
		}
		m.mu.Unlock()
		m.wg.Wait()
	})
	return err
}

// Addr is the advertised address (what peers dial).
func (m *muxListener) Addr() net.Addr { return m.addr }

// Dial opens a Raft connection to address, bound to the source IP
// (raft.StreamLayer).
func (m *muxListener) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	d := m.dialer
	d.Timeout = timeout
	c, err := d.Dial("tcp", string(address))
	if err != nil {
		return nil, fmt.Errorf("metadata: dial raft %s: %w", address, err)
	}
	return c, nil
}

// peekedConn is a Raft connection whose first byte the mux already read:
// Read returns it before reading the socket. Close also forgets the
// connection in the mux.
type peekedConn struct {
	net.Conn
	mux *muxListener

	readMu sync.Mutex // guards pre
	pre    []byte
}

func (p *peekedConn) Read(b []byte) (int, error) {
	p.readMu.Lock()
	if len(p.pre) > 0 {
		n := copy(b, p.pre)
		p.pre = p.pre[n:]
		p.readMu.Unlock()
		return n, nil
	}
	p.readMu.Unlock()
	n, err := p.Conn.Read(b)
	if err != nil {
		select {
		case <-p.mux.done:
			// Closed by the mux at shutdown: an orderly end, so that
			// Raft does not log it as a decoding failure.
			return n, io.EOF
		default:
		}
	}
	return n, err
}

func (p *peekedConn) Close() error {
	p.mux.untrack(p.Conn)
	return p.Conn.Close()
}

// controllerAPIListener is the net.Listener of controller-API connections
// (preface consumed). Connections wait in a bounded queue until accepted;
// when it is full, new ones are closed. Close closes the queued ones.
type controllerAPIListener struct {
	addr net.Addr
	log  *slog.Logger
	ch   chan net.Conn
	done chan struct{}

	mu     sync.Mutex // guards closed and sends on ch
	closed bool
}

func newControllerAPIListener(addr net.Addr, backlog int, log *slog.Logger) *controllerAPIListener {
	return &controllerAPIListener{addr: addr, log: log, ch: make(chan net.Conn, backlog), done: make(chan struct{})}
}

func (l *controllerAPIListener) deliver(c net.Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		_ = c.Close()
		return
	}
	select {
	case l.ch <- c:
	default:
		l.log.Warn("metadata: controller API backlog full; closing a connection", "remote", c.RemoteAddr(), "backlog", cap(l.ch))
		_ = c.Close()
	}
}

// Accept returns the next controller-API connection, its preface already
// consumed; the caller owns it. After Close it returns net.ErrClosed.
func (l *controllerAPIListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops delivering connections and closes the queued ones. Accepted
// connections belong to their caller and stay open.
func (l *controllerAPIListener) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	close(l.done)
	for {
		select {
		case c := <-l.ch:
			_ = c.Close()
		default:
			return nil
		}
	}
}

// Addr is the controller listener's advertised address.
func (l *controllerAPIListener) Addr() net.Addr { return l.addr }
