package ctlclient

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

// apiVersionsKey is ApiVersions' key: its response header is always v0
// (no tags), even for flexible versions (KIP-511).
const apiVersionsKey = 18

// maxKeptBuffer is the largest encode buffer a connection keeps between
// requests.
const maxKeptBuffer = 1 << 20

// pool holds the connections to one address.
type pool struct {
	slots chan struct{} // a token per connection in use; capacity MaxConnsPerAddr

	mu   sync.Mutex // guards idle
	idle []*conn
}

// conn is one connection to a controller listener, used by one request at
// a time (whoever holds it from take to put).
type conn struct {
	nc   net.Conn
	corr int32
	buf  []byte
}

func (c *Client) poolFor(addr string) (*pool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	p, ok := c.pools[addr]
	if !ok {
		p = &pool{slots: make(chan struct{}, MaxConnsPerAddr)}
		c.pools[addr] = p
	}
	return p, nil
}

// send does one attempt: req on a connection to addr (idle or new).
// reused reports whether the connection had served a request before.
func (c *Client) send(ctx context.Context, addr string, req kmsg.Request) (resp kmsg.Response, reused bool, err error) {
	p, err := c.poolFor(addr)
	if err != nil {
		return nil, false, err
	}
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, false, fmt.Errorf("ctlclient: wait for a connection to %s: %w", addr, ctx.Err())
	case <-c.done:
		return nil, false, ErrClosed
	}
	defer func() { <-p.slots }()
	cn, reused, err := c.take(ctx, p, addr)
	if err != nil {
		return nil, false, err
	}
	resp, healthy, err := c.roundTrip(ctx, cn, req)
	c.put(p, cn, healthy)
	if err != nil {
		return nil, reused, fmt.Errorf("ctlclient: %s to %s: %w", kmsg.NameForKey(req.Key()), addr, err)
	}
	return resp, reused, nil
}

// take returns an idle connection to addr or dials one.
func (c *Client) take(ctx context.Context, p *pool, addr string) (*conn, bool, error) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		cn := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return cn, true, nil
	}
	p.mu.Unlock()
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	nc, err := metadata.DialControllerAPI(dctx, addr, c.cfg.SourceAddr)
	if err != nil {
		return nil, false, fmt.Errorf("ctlclient: %w", err)
	}
	cn := &conn{nc: nc}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		_ = nc.Close()
		return nil, false, ErrClosed
	}
	c.conns[cn] = struct{}{}
	return cn, false, nil
}

// put returns a healthy connection to the idle list and closes the others.
func (c *Client) put(p *pool, cn *conn, healthy bool) {
	if !healthy {
		c.mu.Lock()
		delete(c.conns, cn)
		c.mu.Unlock()
		_ = cn.nc.Close()
		return
	}
	if cap(cn.buf) > maxKeptBuffer {
		cn.buf = nil
	}
	// If Close runs meanwhile it closes cn (still in c.conns); a closed
	// client never takes from the idle list again.
	p.mu.Lock()
	p.idle = append(p.idle, cn)
	p.mu.Unlock()
}

// roundTrip writes req and reads its response. healthy reports whether
// cn may carry another request (false after any failure, and when ctx
// ended during the exchange, since the socket deadline was then moved).
func (c *Client) roundTrip(ctx context.Context, cn *conn, req kmsg.Request) (resp kmsg.Response, healthy bool, err error) {
	cn.corr++
	corr := cn.corr
	cn.buf = c.formatter.AppendRequest(cn.buf[:0], req, corr)

	dl, _ := ctx.Deadline() // zero: no deadline
	if err := cn.nc.SetDeadline(dl); err != nil {
		return nil, false, err
	}
	stop := context.AfterFunc(ctx, func() { _ = cn.nc.SetDeadline(time.Unix(1, 0)) })
	defer func() {
		if !stop() {
			healthy = false
		}
	}()
	failed := func(what string, err error) (kmsg.Response, bool, error) {
		if cerr := ctx.Err(); cerr != nil {
			return nil, false, fmt.Errorf("%s: %w", what, cerr)
		}
		return nil, false, fmt.Errorf("%s: %w", what, err)
	}

	if _, err := cn.nc.Write(cn.buf); err != nil {
		return failed("write request", err)
	}
	var head [4]byte
	if _, err := io.ReadFull(cn.nc, head[:]); err != nil {
		return failed("read response size", err)
	}
	size := int32(binary.BigEndian.Uint32(head[:]))
	if size < 4 || size > MaxResponseSize {
		return nil, false, fmt.Errorf("%w: frame size %d outside [4, %d]", ErrBadResponse, size, MaxResponseSize)
	}
	body := make([]byte, size)
	if _, err := io.ReadFull(cn.nc, body); err != nil {
		return failed("read response", err)
	}
	resp, err = DecodeResponse(req, corr, body)
	if err != nil {
		return nil, false, err
	}
	return resp, true, nil
}

// DecodeResponse parses a response frame body (after the size prefix) to
// req, which must carry the version it was sent at: the correlation id is
// checked, the response header's tags skipped (bounded) for flexible
// versions, and the body decoded with kmsg. Byte fields of the response
// alias body.
func DecodeResponse(req kmsg.Request, corr int32, body []byte) (kmsg.Response, error) {
	r := kbin.Reader{Src: body}
	if got := r.Int32(); got != corr {
		return nil, fmt.Errorf("%w: correlation id %d, want %d", ErrBadResponse, got, corr)
	}
	if req.IsFlexible() && req.Key() != apiVersionsKey {
		// Bound the tag count by the bytes left before kmsg loops on it.
		peek := r
		if n := peek.Uvarint(); !peek.Ok() || int64(n) > int64(len(peek.Src)) {
			return nil, fmt.Errorf("%w: bad response header tags", ErrBadResponse)
		}
		kmsg.SkipTags(&r)
		if !r.Ok() {
			return nil, fmt.Errorf("%w: bad response header tags", ErrBadResponse)
		}
	}
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	if err := resp.ReadFrom(r.Src); err != nil {
		return nil, fmt.Errorf("%w: decode %s v%d: %w", ErrBadResponse, kmsg.NameForKey(req.Key()), req.GetVersion(), err)
	}
	return resp, nil
}
