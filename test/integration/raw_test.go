package integration

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// rawConn is one TCP connection speaking Kafka frames by hand: requests are
// encoded by kmsg (at the version set on the request, no negotiation) and
// responses decoded by kmsg, so a test controls every byte it sends.
type rawConn struct {
	t    *testing.T
	nc   net.Conn
	corr int32
	f    *kmsg.RequestFormatter
}

// maxResponseBytes bounds the frames a rawConn reads.
const maxResponseBytes = 64 << 20

// rawTimeout bounds every read and write of a rawConn.
const rawTimeout = 15 * time.Second

// dialRaw connects to addr; the connection is closed when the test ends.
func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawConn{t: t, nc: nc, f: kmsg.NewRequestFormatter(kmsg.FormatterClientID("integration-raw"))}
}

// write sends bytes as they are.
func (c *rawConn) write(b []byte) error {
	if err := c.nc.SetWriteDeadline(time.Now().Add(rawTimeout)); err != nil {
		return err
	}
	_, err := c.nc.Write(b)
	return err
}

// encode returns req as a whole frame (size prefix included) with the next
// correlation id.
func (c *rawConn) encode(req kmsg.Request) ([]byte, int32) {
	c.corr++
	return c.f.AppendRequest(nil, req, c.corr), c.corr
}

// readFrame reads one size-prefixed frame.
func (c *rawConn) readFrame() ([]byte, error) {
	if err := c.nc.SetReadDeadline(time.Now().Add(rawTimeout)); err != nil {
		return nil, err
	}
	var size [4]byte
	if _, err := io.ReadFull(c.nc, size[:]); err != nil {
		return nil, err
	}
	n := int32(binary.BigEndian.Uint32(size[:]))
	if n < 4 || n > maxResponseBytes {
		return nil, fmt.Errorf("response frame size %d", n)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(c.nc, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

// readResponse reads the response to req sent with correlation id corr.
func (c *rawConn) readResponse(req kmsg.Request, corr int32) (kmsg.Response, error) {
	frame, err := c.readFrame()
	if err != nil {
		return nil, err
	}
	if got := int32(binary.BigEndian.Uint32(frame)); got != corr {
		return nil, fmt.Errorf("response correlation id %d, want %d", got, corr)
	}
	body := frame[4:]
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	// Response header v1 (flexible versions) ends with tagged fields;
	// ApiVersions always answers with header v0.
	if resp.IsFlexible() && req.Key() != 18 {
		body, err = skipTags(body)
		if err != nil {
			return nil, fmt.Errorf("response header: %w", err)
		}
	}
	if err := resp.ReadFrom(body); err != nil {
		return nil, fmt.Errorf("decode %T v%d: %w", resp, req.GetVersion(), err)
	}
	return resp, nil
}

// request sends req and returns its response.
func (c *rawConn) request(req kmsg.Request) (kmsg.Response, error) {
	frame, corr := c.encode(req)
	if err := c.write(frame); err != nil {
		return nil, err
	}
	return c.readResponse(req, corr)
}

// mustRequest is request failing the test on error.
func (c *rawConn) mustRequest(req kmsg.Request) kmsg.Response {
	c.t.Helper()
	resp, err := c.request(req)
	if err != nil {
		c.t.Fatalf("%T v%d: %v", req, req.GetVersion(), err)
	}
	return resp
}

// errConnOpen is returned by waitClosed when the server answered instead of
// closing.
var errConnOpen = errors.New("connection still open")

// waitClosed reads until the server closes the connection (nil), the
// deadline passes, or more than maxBytes arrive (errConnOpen).
func (c *rawConn) waitClosed(timeout time.Duration, maxBytes int) error {
	if err := c.nc.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	buf := make([]byte, 4096)
	got := 0
	for got <= maxBytes {
		n, err := c.nc.Read(buf)
		got += n
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return fmt.Errorf("%w after %v (%d bytes read)", errConnOpen, timeout, got)
			}
			return nil // EOF or reset: closed
		}
	}
	return fmt.Errorf("%w: server sent %d bytes", errConnOpen, got)
}

// skipTags skips a tagged-field section (uvarint count, then per field a
// uvarint tag, a uvarint size and that many bytes).
func skipTags(b []byte) ([]byte, error) {
	n, used := binary.Uvarint(b)
	if used <= 0 {
		return nil, errors.New("bad tag count")
	}
	b = b[used:]
	for i := uint64(0); i < n; i++ {
		if _, used = binary.Uvarint(b); used <= 0 {
			return nil, errors.New("bad tag")
		}
		b = b[used:]
		size, used := binary.Uvarint(b)
		if used <= 0 || size > uint64(len(b)-used) {
			return nil, errors.New("bad tag size")
		}
		b = b[used+int(size):]
	}
	return b, nil
}
