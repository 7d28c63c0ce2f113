package wire

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"
)

// Defaults applied by NewServer to zero (or negative) Config fields.
const (
	DefaultMaxRequestBytes = 100 << 20 // socket.request.max.bytes
	DefaultMaxInFlight     = 100
	DefaultIdleTimeout     = 10 * time.Minute // connections.max.idle.ms
	DefaultMaxDecodeMemory = 1 << 30
)

// Config configures a Server.
type Config struct {
	// MaxRequestBytes caps a frame (socket.request.max.bytes). A larger
	// size prefix closes the connection before anything is allocated.
	MaxRequestBytes int32
	// MaxInFlight caps the requests of one connection whose response has
	// not been written yet (pipelining). When reached, wire stops reading
	// from that connection.
	MaxInFlight int
	// MaxInFlightBytes caps the frame bytes one connection holds in
	// requests whose response has not been written yet; a single frame is
	// always admitted when nothing else is in flight. Defaults to
	// MaxRequestBytes.
	MaxInFlightBytes int64
	// MaxDecodeMemory caps, server-wide, the estimated memory kmsg may
	// allocate for requests being decoded at the same time (see
	// amplification.go). A frame whose estimate exceeds it is decoded alone.
	MaxDecodeMemory int64
	// IdleTimeout closes a connection with no request in flight and no
	// bytes read or written for this long (connections.max.idle.ms). It is
	// also the deadline for writing one batch of responses.
	IdleTimeout time.Duration
	// Logger receives connection events; slog.Default() when nil.
	Logger *slog.Logger
	// Registry lists the served versions; an empty one when nil (every
	// request then closes its connection).
	Registry *Registry
}

func (cfg Config) withDefaults() Config {
	if cfg.MaxRequestBytes <= 0 {
		cfg.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if cfg.MaxInFlightBytes <= 0 {
		cfg.MaxInFlightBytes = int64(cfg.MaxRequestBytes)
	}
	if cfg.MaxDecodeMemory <= 0 {
		cfg.MaxDecodeMemory = DefaultMaxDecodeMemory
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Registry == nil {
		cfg.Registry = NewRegistry()
	}
	return cfg
}

// Server accepts Kafka connections and runs a reader and a writer goroutine
// per connection (see the package documentation).
type Server struct {
	cfg        Config
	handler    Handler
	log        *slog.Logger
	decodeGate *budget

	ctx    context.Context // cancelled by Close; parent of every connection's
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine the server started; see goTracked

	mu sync.Mutex
	// Guarded by mu.
	closed    bool
	listeners []net.Listener
	conns     map[*conn]struct{}
	nextID    uint64
}

// NewServer returns a server that passes decoded requests to h.
func NewServer(cfg Config, h Handler) *Server {
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		cfg:        cfg,
		handler:    h,
		log:        cfg.Logger.With("component", "wire"),
		decodeGate: newBudget(cfg.MaxDecodeMemory),
		ctx:        ctx,
		cancel:     cancel,
		conns:      make(map[*conn]struct{}),
	}
}

// Serve accepts connections on l until Close is called (then it returns nil)
// or l fails for good (then it returns the error). Serve may be called for
// several listeners. It closes l when it returns.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = l.Close()
		return nil
	}
	s.listeners = append(s.listeners, l)
	s.mu.Unlock()
	defer s.removeListener(l)

	var backoff time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if s.ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("wire: accept on %s: %w", l.Addr(), err)
			}
			// Out of file descriptors, aborted handshakes...: back off
			// and keep serving, as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("accept failed; retrying", "addr", l.Addr(), "backoff", backoff, "err", err)
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-s.ctx.Done():
				t.Stop()
				return nil
			}
			continue
		}
		backoff = 0
		s.startConn(nc)
	}
}

// Addr returns the address of the first listener being served, or nil.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.listeners) == 0 {
		return nil
	}
	return s.listeners[0].Addr()
}

// Close stops accepting, closes every connection (dropping responses not yet
// written, whose Done is still called) and waits for every goroutine the
// server started. It is safe to call more than once.
func (s *Server) Close() error {
	s.mu.Lock()
	already := s.closed
	s.closed = true
	listeners := append([]net.Listener(nil), s.listeners...)
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()

	var errs []error
	if !already {
		s.cancel()
		for _, c := range conns {
			c.shutdown(errServerClosed)
		}
		for _, l := range listeners {
			if err := l.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
				errs = append(errs, fmt.Errorf("wire: close listener %s: %w", l.Addr(), err))
			}
		}
	}
	s.wg.Wait()
	return errors.Join(errs...)
}

// goTracked runs f on a new goroutine counted in s.wg. It is the only place
// the server's WaitGroup is incremented.
func (s *Server) goTracked(f func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
}

func (s *Server) removeListener(l net.Listener) {
	_ = l.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, x := range s.listeners {
		if x == l {
			s.listeners = append(s.listeners[:i], s.listeners[i+1:]...)
			return
		}
	}
}

// startConn registers nc and starts its goroutines, unless the server is
// closing. Registration and wg.Add happen under mu with closed checked, so
// Close's wg.Wait never races with a new connection.
func (s *Server) startConn(nc net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		_ = nc.Close()
		return
	}
	s.nextID++
	c := newConn(s, nc, s.nextID)
	s.conns[c] = struct{}{}
	s.goTracked(c.run)
}

func (s *Server) removeConn(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
}

// numConns returns the number of open connections.
func (s *Server) numConns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}
