package replication

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/ctlclient"
)

// dialTimeout bounds one TCP connect to a leader.
const dialTimeout = 10 * time.Second

// requestTimeout bounds a request's round trip beyond a fetch's own wait, so
// a leader that stops answering (paused, cut off) is given up and redialled.
const requestTimeout = 10 * time.Second

// maxResponseBytes bounds one response frame from a leader.
const maxResponseBytes = 512 << 20

// leaderConn is a fetcher's connection to its leader: one TCP connection
// speaking the Kafka protocol with kmsg (versions negotiated with
// ApiVersions when it opens). Requests are sent one at a time by the
// fetcher's goroutine, the only user.
//
// Fetch responses are read into one buffer reused for every fetch: the
// records of a response alias it, and the fetcher appends them to the log
// before it sends the next fetch, so a follower copying a busy leader
// allocates nothing per response. Other responses get buffers of their own
// (they may be sent while a fetch response is still being applied).
type leaderConn struct {
	addr     string
	nc       net.Conn
	broken   bool
	corr     int32
	versions map[int16]int16 // the leader's max version per key
	fmt      *kmsg.RequestFormatter
	wbuf     []byte
	fetchBuf []byte
}

// connect returns the connection to the leader's current address, opening
// a new one if there is none, the last one failed, or the address changed.
// Called only by run.
func (f *fetcher) connect() (*leaderConn, error) {
	addr, ok := f.cfg.BrokerAddr(f.leader)
	if !ok || addr == "" {
		return nil, fmt.Errorf("replication: no address known for broker %d", f.leader)
	}
	if f.conn != nil && f.conn.addr == addr && !f.conn.broken {
		return f.conn, nil
	}
	if f.conn != nil && f.conn.addr != addr {
		f.log.Info("leader address changed; reconnecting", "old", f.conn.addr, "new", addr)
	}
	f.closeConn()
	dial, err := sourceDialer(f.cfg.SourceAddr)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(f.ctx, dialTimeout)
	defer cancel()
	nc, err := dial(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("replication: unable to dial broker %d at %s: %w", f.leader, addr, err)
	}
	c := &leaderConn{addr: addr, nc: nc,
		fmt: kmsg.NewRequestFormatter(kmsg.FormatterClientID(fmt.Sprintf("samsa-replica-fetcher-%d", f.cfg.NodeID)))}
	if err := c.negotiate(ctx); err != nil {
		nc.Close()
		return nil, fmt.Errorf("replication: broker %d at %s: %w", f.leader, addr, err)
	}
	f.conn = c
	return c, nil
}

// negotiate learns the leader's API versions (ApiVersions v0: every broker
// answers it).
func (c *leaderConn) negotiate(ctx context.Context) error {
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 0
	resp, err := c.roundTrip(ctx, req, false)
	if err != nil {
		return err
	}
	r := resp.(*kmsg.ApiVersionsResponse)
	if r.ErrorCode != 0 {
		return fmt.Errorf("ApiVersions: error code %d", r.ErrorCode)
	}
	c.versions = make(map[int16]int16, len(r.ApiKeys))
	for _, k := range r.ApiKeys {
		c.versions[k.ApiKey] = k.MaxVersion
	}
	return nil
}

// closeConn closes the connection, if any. Called only by run.
func (f *fetcher) closeConn() {
	if f.conn != nil {
		f.conn.nc.Close()
		f.conn = nil
	}
}

// request sends req at the highest version both ends serve and waits for
// its response or ctx. After an error the connection is marked broken and
// the next connect opens a new one.
func (c *leaderConn) request(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	max, ok := c.versions[req.Key()]
	if !ok {
		return nil, fmt.Errorf("replication: the leader does not serve %s", kmsg.NameForKey(req.Key()))
	}
	req.SetVersion(min(max, req.MaxVersion()))
	timeout := requestTimeout
	fetch, isFetch := req.(*kmsg.FetchRequest)
	if isFetch {
		timeout += time.Duration(fetch.MaxWaitMillis) * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := c.roundTrip(ctx, req, isFetch)
	if err != nil {
		c.broken = true
		c.nc.Close()
	}
	return resp, err
}

// roundTrip writes req and reads its response; reuse reads it into the
// shared fetch buffer.
func (c *leaderConn) roundTrip(ctx context.Context, req kmsg.Request, reuse bool) (kmsg.Response, error) {
	c.corr++
	c.wbuf = c.fmt.AppendRequest(c.wbuf[:0], req, c.corr)
	dl, _ := ctx.Deadline()
	if err := c.nc.SetDeadline(dl); err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = c.nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	fail := func(what string, err error) error {
		if cerr := ctx.Err(); cerr != nil {
			err = cerr
		}
		return fmt.Errorf("%s %s: %w", what, kmsg.NameForKey(req.Key()), err)
	}
	if _, err := c.nc.Write(c.wbuf); err != nil {
		return nil, fail("write", err)
	}
	var head [4]byte
	if _, err := io.ReadFull(c.nc, head[:]); err != nil {
		return nil, fail("read", err)
	}
	size := int32(binary.BigEndian.Uint32(head[:]))
	if size < 4 || size > maxResponseBytes {
		return nil, fail("read", errors.New("response frame size out of range"))
	}
	var body []byte
	if reuse {
		if cap(c.fetchBuf) < int(size) {
			c.fetchBuf = make([]byte, size)
		}
		body = c.fetchBuf[:size]
	} else {
		body = make([]byte, size)
	}
	if _, err := io.ReadFull(c.nc, body); err != nil {
		return nil, fail("read", err)
	}
	return ctlclient.DecodeResponse(req, c.corr, body)
}

// sourceDialer returns a dial function bound to the local IP source ("" for
// the kernel's choice). source may be "IP" or "IP:port" (port ignored).
func sourceDialer(source string) (func(ctx context.Context, network, host string) (net.Conn, error), error) {
	d := &net.Dialer{Timeout: dialTimeout}
	if source != "" {
		ip := net.ParseIP(source)
		if ip == nil {
			if host, _, err := net.SplitHostPort(source); err == nil {
				ip = net.ParseIP(host)
			}
		}
		if ip == nil {
			return nil, fmt.Errorf("replication: source address %q is not an IP", source)
		}
		d.LocalAddr = &net.TCPAddr{IP: ip}
	}
	return d.DialContext, nil
}
