package replication

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// dialTimeout bounds one TCP connect to a leader.
const dialTimeout = 10 * time.Second

// leaderConn is a fetcher's connection to its leader: a kgo.Client seeded
// with the leader's address alone. Requests go straight to that seed
// broker (kgo.Broker.Request, no retries, no metadata lookups); kgo frames
// them with kmsg, negotiates versions with ApiVersions on connect,
// reconnects after errors and sends fetches on a connection of their own.
type leaderConn struct {
	addr string
	cl   *kgo.Client
	br   *kgo.Broker
}

// connect returns the connection to the leader's current address, replacing
// the previous one if the address changed. Called only by run.
func (f *fetcher) connect() (*leaderConn, error) {
	addr, ok := f.cfg.BrokerAddr(f.leader)
	if !ok || addr == "" {
		return nil, fmt.Errorf("replication: no address known for broker %d", f.leader)
	}
	if f.conn != nil && f.conn.addr == addr {
		return f.conn, nil
	}
	if f.conn != nil {
		f.log.Info("leader address changed; reconnecting", "old", f.conn.addr, "new", addr)
		f.closeConn()
	}
	dial, err := sourceDialer(f.cfg.SourceAddr)
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(addr),
		kgo.Dialer(dial),
		kgo.ClientID(fmt.Sprintf("samsa-replica-fetcher-%d", f.cfg.NodeID)),
		kgo.DisableClientMetrics(),
		kgo.MetadataMaxAge(time.Hour), // no metadata is needed; keep kgo quiet
	)
	if err != nil {
		return nil, fmt.Errorf("replication: client for broker %d at %s: %w", f.leader, addr, err)
	}
	seeds := cl.SeedBrokers()
	if len(seeds) == 0 {
		cl.Close()
		return nil, fmt.Errorf("replication: client for broker %d at %s has no seed broker", f.leader, addr)
	}
	f.conn = &leaderConn{addr: addr, cl: cl, br: seeds[0]}
	return f.conn, nil
}

// closeConn closes the connection, if any. Called only by run.
func (f *fetcher) closeConn() {
	if f.conn != nil {
		f.conn.cl.Close()
		f.conn = nil
	}
}

// request sends req to the leader and waits for its response or ctx.
func (c *leaderConn) request(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	return c.br.Request(ctx, req)
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
