package wire

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Response is a handler's answer to one request.
//
// wire sets Msg's version to the request's version and encodes, in one
// buffer, the 4-byte size prefix, the response header (v0: correlation id; v1:
// plus an empty tagged-field section when the body version is flexible —
// except ApiVersions, whose response header is always v0) and the body.
type Response struct {
	// Msg is the response; it must be of the request's key. It decides the
	// header version and, when Parts is nil, is the body.
	Msg kmsg.Response
	// Parts, when non-nil, are the body instead of Msg's encoding: bytes
	// pre-encoded by the handler, possibly with zero-copy file parts.
	Parts []Part
	// Ready, when non-nil, is waited for before Msg/Parts are read: a
	// parked acks=all produce or long-poll fetch returns at once and fills
	// Msg/Parts later, then closes Ready. Later responses of the connection
	// wait behind it (responses go out in request order).
	Ready <-chan struct{}
	// Done, when non-nil, is called exactly once after the response was
	// written or dropped (connection closed, possibly before Ready closed),
	// to release read buffers or file references. It runs on the
	// connection's writer goroutine and must not block.
	Done func()
}

// NoResponse is what a handler returns for a request that gets no answer
// (Produce with acks=0). Later responses keep their order.
var NoResponse *Response

// Part is a piece of a pre-encoded response body.
type Part interface {
	// Len is the exact number of bytes WriteTo writes.
	Len() int
	// WriteTo writes the part to w, the connection itself (a *net.TCPConn
	// for plain TCP), so a file part can use w's ReadFrom for sendfile.
	WriteTo(w io.Writer) (int64, error)
}

// BytesPart is a Part of bytes already in memory.
type BytesPart []byte

// Len returns len(p).
func (p BytesPart) Len() int { return len(p) }

// WriteTo writes p to w.
func (p BytesPart) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(p)
	return int64(n), err
}

// Handler serves decoded requests.
type Handler interface {
	// Handle is called in arrival order, one request at a time per
	// connection (so appends from one producer connection stay ordered). It
	// must not block on waits: it returns a Response whose Ready channel
	// closes later. ctx is cancelled when the connection closes. A non-nil
	// error closes the connection.
	Handle(ctx context.Context, req *Request) (*Response, error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, req *Request) (*Response, error)

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, req *Request) (*Response, error) { return f(ctx, req) }

// errBadResponse marks a response the handler built wrongly; the connection is
// closed because the client can no longer match answers to requests.
var errBadResponse = errors.New("wire: bad response from handler")

// responseHeaderFlexible reports whether a response uses header v1.
func responseHeaderFlexible(msg kmsg.Response) bool {
	return msg.Key() != apiVersionsKey && msg.IsFlexible()
}

// appendResponse appends the size prefix, the response header and, when
// parts is nil, msg's body to dst. With parts, the size prefix counts their
// bytes, which the caller writes after dst.
func appendResponse(dst []byte, corr int32, msg kmsg.Response, parts []Part) ([]byte, error) {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(corr))
	if responseHeaderFlexible(msg) {
		dst = append(dst, 0) // no header tagged fields
	}
	size := int64(len(dst) - start - 4)
	if parts == nil {
		dst = msg.AppendTo(dst)
		size = int64(len(dst) - start - 4)
	} else {
		for i, p := range parts {
			if p == nil || p.Len() < 0 {
				return dst[:start], fmt.Errorf("%w: %s part %d is nil or negative", errBadResponse, kmsg.NameForKey(msg.Key()), i)
			}
			size += int64(p.Len())
		}
	}
	if size > math.MaxInt32 {
		return dst[:start], fmt.Errorf("%w: %s response of %d bytes exceeds the frame limit", errBadResponse, kmsg.NameForKey(msg.Key()), size)
	}
	binary.BigEndian.PutUint32(dst[start:], uint32(size))
	return dst, nil
}

// Encode buffers are pooled; buffers that grew past maxPooledBuffer (a large
// fetch response) are left to the garbage collector instead of being kept.
const (
	initialBufferSize = 16 << 10
	maxPooledBuffer   = 1 << 20
)

var bufferPool = sync.Pool{New: func() any {
	b := make([]byte, 0, initialBufferSize)
	return &b
}}

func getBuffer() *[]byte { return bufferPool.Get().(*[]byte) }

func putBuffer(b *[]byte) {
	if cap(*b) > maxPooledBuffer {
		return
	}
	*b = (*b)[:0]
	bufferPool.Put(b)
}
