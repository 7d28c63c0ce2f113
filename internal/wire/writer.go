package wire

import (
	"fmt"
	"net"
	"runtime/debug"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// writeBatch is the writer's encoded but not yet written output: the bytes
// of one or more responses and the responses themselves, finished (slot and
// frame bytes released, Done called) once the bytes were written or dropped.
type writeBatch struct {
	buf   *[]byte // from bufferPool; nil when empty
	items []*pending
}

func (w *writeBatch) bytes() []byte {
	if w.buf == nil {
		w.buf = getBuffer()
	}
	return *w.buf
}

// writeLoop is the writer goroutine. It takes responses in request order,
// waits for each to be Ready, encodes it and writes it, coalescing small
// responses that are ready back to back. It returns once the reader closed
// pending and everything was written or dropped.
func (c *conn) writeLoop() {
	var w writeBatch
	for p := range c.pending {
		c.writeOne(&w, p)
	}
	c.flush(&w)
}

// writeOne encodes p into w and writes w when no further response is queued,
// when w is large, or when p has parts. A panic (for example in a handler's
// AppendTo or Part) closes the connection; p and w are still finished.
func (c *conn) writeOne(w *writeBatch, p *pending) {
	owned := true // p is not yet in w.items
	defer func() {
		if r := recover(); r != nil {
			c.shutdown(fmt.Errorf("%w in writer: %v\n%s", errPanic, r, debug.Stack()))
			if owned {
				c.finish(p)
			}
			c.flush(w)
		}
	}()
	if !c.waitReady(w, p) {
		c.finish(p)
		return
	}
	msg := p.resp.Msg
	if msg == nil || msg.Key() != p.key {
		c.shutdown(fmt.Errorf("%w: response for key %d (%s) is %T", errBadResponse, p.key, kmsg.NameForKey(p.key), msg))
		c.finish(p)
		return
	}
	msg.SetVersion(p.version)
	buf, err := appendResponse(w.bytes(), p.corr, msg, p.resp.Parts)
	*w.buf = buf
	w.items = append(w.items, p)
	owned = false
	switch {
	case err != nil:
		c.shutdown(err)
		c.flush(w)
	case p.resp.Parts != nil:
		c.flushParts(w, p.resp.Parts)
	case len(buf) >= flushThreshold || len(c.pending) == 0:
		c.flush(w)
	}
}

// waitReady waits for p's Ready channel, writing w first if it has to wait.
// It reports false if the connection closed meanwhile.
func (c *conn) waitReady(w *writeBatch, p *pending) bool {
	if c.ctx.Err() != nil {
		return false
	}
	if p.resp.Ready == nil {
		return true
	}
	select {
	case <-p.resp.Ready:
		return true
	default:
	}
	c.flush(w)
	select {
	case <-p.resp.Ready:
		return c.ctx.Err() == nil
	case <-c.ctx.Done():
		return false
	}
}

// flush writes w's bytes (unless the connection is closed) and finishes its
// responses.
func (c *conn) flush(w *writeBatch) {
	if w.buf != nil && len(*w.buf) > 0 && c.ctx.Err() == nil {
		c.write(func() (int64, error) {
			n, err := c.nc.Write(*w.buf)
			return int64(n), err
		})
	}
	c.finishBatch(w)
}

// flushParts writes w's bytes followed by parts: runs of BytesPart go out in
// one writev (net.Buffers); any other part writes itself to the connection,
// so a file part can reach sendfile.
func (c *conn) flushParts(w *writeBatch, parts []Part) {
	defer c.finishBatch(w)
	if c.ctx.Err() != nil {
		return
	}
	bufs := net.Buffers{*w.buf}
	writeBufs := func() bool {
		if len(bufs) == 0 {
			return true
		}
		ok := c.write(func() (int64, error) { return bufs.WriteTo(c.nc) })
		bufs = bufs[:0]
		return ok
	}
	for i, part := range parts {
		if b, isBytes := part.(BytesPart); isBytes {
			if len(b) > 0 {
				bufs = append(bufs, b)
			}
			continue
		}
		if !writeBufs() {
			return
		}
		ok := c.write(func() (int64, error) {
			n, err := part.WriteTo(c.nc)
			if err == nil && n != int64(part.Len()) {
				err = fmt.Errorf("%w: part %d wrote %d bytes, announced %d", errBadResponse, i, n, part.Len())
			}
			return n, err
		})
		if !ok {
			return
		}
	}
	writeBufs()
}

// write runs one write under the write deadline and shuts the connection
// down if it fails.
func (c *conn) write(f func() (int64, error)) bool {
	if err := c.nc.SetWriteDeadline(time.Now().Add(c.s.cfg.IdleTimeout)); err != nil {
		c.shutdown(fmt.Errorf("wire: set write deadline: %w", err))
		return false
	}
	if _, err := f(); err != nil {
		c.shutdown(fmt.Errorf("wire: write: %w", err))
		return false
	}
	c.touch()
	return true
}

func (c *conn) finishBatch(w *writeBatch) {
	for i, p := range w.items {
		c.finish(p)
		w.items[i] = nil
	}
	w.items = w.items[:0]
	if w.buf != nil {
		putBuffer(w.buf)
		w.buf = nil
	}
}

// finish releases p's slot and frame bytes and calls its Done.
func (c *conn) finish(p *pending) {
	defer func() {
		<-c.slots
		c.frameBytes.release(p.frameBytes)
	}()
	if p.resp.Done != nil {
		defer func() {
			if r := recover(); r != nil {
				c.shutdown(fmt.Errorf("%w in response Done: %v\n%s", errPanic, r, debug.Stack()))
			}
		}()
		p.resp.Done()
	}
}
