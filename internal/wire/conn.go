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
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// Reasons a connection closes, beyond the errors of ParseRequest.
var (
	errFrameSize    = errors.New("wire: frame size out of range")
	errIdle         = errors.New("wire: connection idle")
	errPanic        = errors.New("wire: panic")
	errServerClosed = errors.New("wire: server closed")
)

const (
	readBufferSize = 16 << 10
	// frameChunk is the largest piece of a frame allocated before its bytes
	// arrive: a frame buffer grows (doubling) as data comes in, so a peer
	// that announces 100 MiB and sends nothing costs 1 MiB, not 100.
	frameChunk = 1 << 20
	// flushThreshold: queued small responses are written together until
	// this many bytes are buffered or no further response is ready.
	flushThreshold = 64 << 10
	// slowDecode is when a request decode is logged as slow.
	slowDecode = 100 * time.Millisecond
)

// conn is one client connection: the reader goroutine (run) and the writer
// goroutine (writeLoop). See the package documentation for the protocol
// between them.
type conn struct {
	s    *Server
	nc   net.Conn
	info *ConnInfo
	log  *slog.Logger
	ctx  context.Context // cancelled by shutdown
	br   *bufio.Reader   // reader goroutine only

	// slots holds one token per request read and not yet answered: the
	// reader sends before reading a frame, the writer (or the reader, for
	// NoResponse) receives when the request is done.
	slots chan struct{}
	// frameBytes counts the frame bytes of those requests.
	frameBytes *budget
	// pending carries responses in request order from reader to writer.
	// Only the reader sends and closes it.
	pending chan *pending

	lastActivity atomic.Int64 // unix nanoseconds of the last read or write

	shutdownOnce sync.Once
	cancel       context.CancelFunc
	closeReason  error // set once by shutdown; read after the writer ended
}

// pending is a response travelling from reader to writer with what the
// writer needs to encode it and to release the request's resources.
type pending struct {
	resp       *Response
	key        int16
	version    int16 // the version Msg is encoded at
	corr       int32
	frameBytes int64 // granted from conn.frameBytes
}

func newConn(s *Server, nc net.Conn, id uint64) *conn {
	ctx, cancel := context.WithCancel(s.ctx)
	info := &ConnInfo{ID: id, RemoteAddr: nc.RemoteAddr(), LocalAddr: nc.LocalAddr()}
	c := &conn{
		s:          s,
		nc:         nc,
		info:       info,
		log:        s.log.With("conn", id, "remote", info.RemoteAddr.String()),
		ctx:        ctx,
		cancel:     cancel,
		br:         bufio.NewReaderSize(nc, readBufferSize),
		slots:      make(chan struct{}, s.cfg.MaxInFlight),
		frameBytes: newBudget(s.cfg.MaxInFlightBytes),
		pending:    make(chan *pending, s.cfg.MaxInFlight),
	}
	c.touch()
	return c
}

// shutdown closes the connection once; the first reason wins. It is safe
// from any goroutine and unblocks both the reader and the writer.
func (c *conn) shutdown(reason error) {
	c.shutdownOnce.Do(func() {
		c.closeReason = reason
		c.cancel()
		_ = c.nc.Close()
	})
}

func (c *conn) touch() { c.lastActivity.Store(time.Now().UnixNano()) }

// run is the reader goroutine and the owner of the connection: it starts the
// writer, reads and handles requests until an error, then shuts the
// connection down, closes pending and waits for the writer to drain it.
func (c *conn) run() {
	c.log.Debug("connection opened")
	writerDone := make(chan struct{})
	c.s.goTracked(func() {
		defer close(writerDone)
		c.writeLoop()
	})
	c.shutdown(c.readLoop())
	close(c.pending)
	<-writerDone
	c.s.removeConn(c)
	c.logClose()
}

func (c *conn) logClose() {
	err := c.closeReason
	level := slog.LevelDebug
	switch {
	case errors.Is(err, errPanic), errors.Is(err, errBadResponse):
		level = slog.LevelError
	case errors.Is(err, ErrMalformed), errors.Is(err, ErrUnsupportedKey),
		errors.Is(err, ErrUnsupportedVersion), errors.Is(err, errFrameSize):
		level = slog.LevelWarn
	}
	c.log.Log(context.Background(), level, "connection closed", "reason", err)
}

// readLoop reads, decodes and handles requests in order. It returns why the
// connection must close; a panic (in wire or in the handler) is recovered
// into an error so only this connection goes down.
func (c *conn) readLoop() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w in reader: %v\n%s", errPanic, r, debug.Stack())
		}
	}()
	for {
		select {
		case c.slots <- struct{}{}:
		case <-c.ctx.Done():
			return errServerClosed
		}
		p, err := c.readRequest()
		if err != nil {
			<-c.slots
			return err
		}
		if p == nil { // NoResponse
			<-c.slots
			continue
		}
		// Never blocks: every queued response holds a slot and the
		// reader holds this one, so fewer than MaxInFlight are queued.
		c.pending <- p
	}
}

// readRequest reads one frame, decodes it and hands it to the handler. It
// returns nil for NoResponse.
func (c *conn) readRequest() (*pending, error) {
	var sizeBuf [4]byte
	if err := c.readFull(sizeBuf[:]); err != nil {
		return nil, err
	}
	size := int32(binary.BigEndian.Uint32(sizeBuf[:]))
	if size <= 0 || size > c.s.cfg.MaxRequestBytes {
		return nil, fmt.Errorf("%w: %d bytes announced, limit %d", errFrameSize, size, c.s.cfg.MaxRequestBytes)
	}
	granted, err := c.frameBytes.acquire(c.ctx, int64(size))
	if err != nil {
		return nil, errServerClosed
	}
	p, err := c.readAndHandle(int(size))
	if p == nil {
		c.frameBytes.release(granted)
	} else {
		p.frameBytes = granted
	}
	return p, err
}

func (c *conn) readAndHandle(size int) (*pending, error) {
	pooled := getFrame(size)
	var frame []byte
	var err error
	if pooled != nil {
		frame = (*pooled)[:size]
		err = c.readFull(frame)
	} else {
		frame, err = c.readFrame(size)
	}
	if err != nil {
		if pooled != nil {
			putFrame(pooled)
		}
		return nil, err
	}
	received := time.Now()
	reg := c.s.cfg.Registry
	req, err := c.parse(frame)
	switch {
	case err == nil:
	case req != nil && req.Key == apiVersionsKey && errors.Is(err, ErrUnsupportedVersion):
		// KIP-511: answer in the v0 body so the client can retry.
		c.log.Debug("unsupported ApiVersions version; answering with the supported ranges", "version", req.Version)
		return &pending{resp: &Response{Msg: reg.apiVersionsFallback()}, key: apiVersionsKey, corr: req.CorrelationID}, nil
	default:
		return nil, err
	}
	req.Conn, req.Received, req.frame = c.info, received, pooled
	resp, err := c.s.handler.Handle(c.ctx, req)
	if err != nil {
		return nil, fmt.Errorf("wire: handler for key %d v%d: %w", req.Key, req.Version, err)
	}
	if resp == nil {
		return nil, nil
	}
	return &pending{resp: resp, key: req.Key, version: req.Version, corr: req.CorrelationID}, nil
}

// parse is ParseRequest with the body decode admitted by the server's decode
// memory gate.
func (c *conn) parse(frame []byte) (*Request, error) {
	req, body, rest, err := parseHeader(frame, c.s.cfg.Registry)
	if err != nil {
		return req, err
	}
	estimate := int64(len(frame)) * amplification(req.Key)
	if body.IsFlexible() {
		estimate *= 2 // the tagged-field guard may decode a shadow copy first
	}
	granted, err := c.s.decodeGate.acquire(c.ctx, estimate)
	if err != nil {
		return nil, errServerClosed
	}
	start := time.Now()
	err = decodeBody(req, body, rest)
	c.s.decodeGate.release(granted)
	if d := time.Since(start); d > slowDecode {
		c.log.Warn("slow request decode", "key", req.Key, "version", req.Version, "bytes", len(frame), "took", d, "err", err)
	}
	return req, err
}

// readFrame reads a frame of size bytes, growing the buffer as bytes arrive.
func (c *conn) readFrame(size int) ([]byte, error) {
	buf := make([]byte, min(size, frameChunk))
	if err := c.readFull(buf); err != nil {
		return nil, err
	}
	for len(buf) < size {
		next := make([]byte, min(size, 2*len(buf)))
		n := copy(next, buf)
		if err := c.readFull(next[n:]); err != nil {
			return nil, err
		}
		buf = next
	}
	return buf, nil
}

// readFull fills buf. A read deadline implements the idle timeout: when it
// fires, the connection stays open if a response is still in flight or
// something was read or written within IdleTimeout.
func (c *conn) readFull(buf []byte) error {
	idle := c.s.cfg.IdleTimeout
	if err := c.nc.SetReadDeadline(time.Now().Add(idle)); err != nil {
		return fmt.Errorf("wire: set read deadline: %w", err)
	}
	for n := 0; n < len(buf); {
		k, err := c.br.Read(buf[n:])
		n += k
		if k > 0 {
			c.touch()
		}
		switch {
		case err == nil:
			continue
		case errors.Is(err, os.ErrDeadlineExceeded) && c.ctx.Err() == nil:
			deadline, busy := time.Now().Add(idle), len(c.slots) > 1
			if !busy {
				deadline = time.Unix(0, c.lastActivity.Load()).Add(idle)
				if !deadline.After(time.Now()) {
					return errIdle
				}
			}
			if err := c.nc.SetReadDeadline(deadline); err != nil {
				return fmt.Errorf("wire: set read deadline: %w", err)
			}
		case errors.Is(err, io.EOF) && n > 0:
			return fmt.Errorf("wire: read frame: %w", io.ErrUnexpectedEOF)
		default:
			return fmt.Errorf("wire: read: %w", err)
		}
	}
	return nil
}
