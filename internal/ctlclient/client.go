// Package ctlclient is how a broker reaches the controller: it sends Kafka
// requests (kmsg) such as BrokerRegistration, BrokerHeartbeat,
// AlterPartition, AllocateProducerIds and forwarded admin requests to the
// controller-API side of the quorum leader's controller listener (see
// metadata.DialControllerAPI), and returns the responses.
//
// # Wire
//
// A connection starts with metadata.ControllerAPIPreface, then carries
// ordinary Kafka frames, one request at a time:
//
//	request:  [int32 size][request header v1/v2 (client id "samsa-node-N")][body]
//	response: [int32 size][int32 correlation id][tags if flexible][body]
//
// The header and body come from kmsg. Both ends are samsa, so the request
// goes at the version the caller set on it, without ApiVersions.
//
// # Routing and retries
//
// Each attempt first offers the request to Config.Local (the in-process
// controller, when this node leads). Otherwise it goes to the leader named
// by Config.Leader, or, when none is known or its address just failed, to
// the voters of Config.Voters in turn. Transport failures (dial, write,
// read) are retried with a short backoff until the context ends; the
// request may then reach the controller twice, so callers send requests
// that are safe to repeat (the controller APIs are, by epochs and ids).
// Error codes in responses are not interpreted: RequestUntil retries on
// those the caller chooses (e.g. NOT_CONTROLLER during an election).
//
// # Connections
//
// Up to MaxConnsPerAddr connections per address, each carrying one
// request at a time, so that a quick BrokerHeartbeat never waits behind a
// slow CreateTopics. Idle connections are reused; a connection that failed
// or whose request was cancelled is closed.
//
// Goroutines: none of its own. A request runs on its caller's goroutine;
// context cancellation interrupts it through a deadline on the socket.
package ctlclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

// MaxConnsPerAddr is how many connections the client keeps open at most
// to one address; requests beyond wait for one to be free.
const MaxConnsPerAddr = 4

// MaxResponseSize bounds a response frame; a larger size closes the
// connection with ErrBadResponse.
const MaxResponseSize = 64 << 20

const (
	minBackoff  = 20 * time.Millisecond
	maxBackoff  = 500 * time.Millisecond
	dialTimeout = 5 * time.Second
)

var (
	// ErrClosed is returned by requests on (or interrupted by) a closed
	// Client.
	ErrClosed = errors.New("ctlclient: client closed")
	// ErrBadResponse means the controller's answer could not be read
	// (oversized frame, wrong correlation id, undecodable body). It is
	// not retried: both ends are samsa, so it is a bug, not a fault.
	ErrBadResponse = errors.New("ctlclient: bad response")
	// ErrNoController means no address was known to send to: no leader
	// and no voters. It is retried until the context ends.
	ErrNoController = errors.New("ctlclient: no controller address known")
)

// Config configures a Client.
type Config struct {
	// NodeID is this node's id; the client id of requests is
	// "samsa-node-<NodeID>".
	NodeID int32
	// Voters are the fallback addresses (controller listeners) when no
	// leader is known or the known one does not answer.
	Voters []metadata.Voter
	// SourceAddr is the local IP for outbound connections ("" = any).
	SourceAddr string
	// Leader names the quorum leader and its controller-listener address;
	// usually (*metadata.Node).LeaderAddr. Nil: always use Voters.
	Leader func() (id int32, addr string, ok bool)
	// Local, if non-nil, is tried first: it serves req in-process when
	// this node is the controller and returns handled=false otherwise.
	Local func(ctx context.Context, req kmsg.Request) (resp kmsg.Response, handled bool, err error)
	// Logger receives debug logs of failed attempts (default
	// slog.Default()).
	Logger *slog.Logger
}

// Client sends requests to the controller. It is safe for concurrent use.
type Client struct {
	cfg       Config
	log       *slog.Logger
	formatter *kmsg.RequestFormatter
	next      atomic.Uint32 // round-robin position in cfg.Voters
	done      chan struct{} // closed by Close

	mu     sync.Mutex // guards pools, conns, closed
	pools  map[string]*pool
	conns  map[*conn]struct{} // every open connection, idle or busy
	closed bool
}

// New returns a client; it dials lazily, on the first request.
func New(cfg Config) *Client {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Voters = append([]metadata.Voter(nil), cfg.Voters...)
	return &Client{
		cfg:       cfg,
		log:       cfg.Logger.With("component", "ctlclient"),
		formatter: kmsg.NewRequestFormatter(kmsg.FormatterClientID(fmt.Sprintf("samsa-node-%d", cfg.NodeID))),
		done:      make(chan struct{}),
		pools:     map[string]*pool{},
		conns:     map[*conn]struct{}{},
	}
}

// Request sends req (at the version the caller set on it: both ends are
// samsa) to the quorum leader's controller-API listener and returns its
// response. It reuses one connection per address, re-dials on errors,
// follows leader changes, and retries transport failures with a short
// backoff until ctx ends. It does NOT interpret error codes.
//
// Errors: ctx's error (wrapped, with the last failure), ErrClosed,
// ErrBadResponse, or an error returned by Config.Local.
func (c *Client) Request(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	name := kmsg.NameForKey(req.Key())
	backoff := minBackoff
	var lastErr error
	failed := map[string]bool{} // addresses that failed in this round
	for {
		if c.isClosed() {
			return nil, fmt.Errorf("ctlclient: %s: %w", name, ErrClosed)
		}
		if c.cfg.Local != nil {
			resp, handled, err := c.cfg.Local(ctx, req)
			if handled {
				return resp, err
			}
		}
		addr, err := c.target(failed)
		if err == nil {
			var resp kmsg.Response
			var reused bool
			resp, reused, err = c.send(ctx, addr, req)
			if err == nil {
				return resp, nil
			}
			if errors.Is(err, ErrBadResponse) {
				return nil, err
			}
			if c.isClosed() {
				return nil, fmt.Errorf("ctlclient: %s: %w", name, ErrClosed)
			}
			c.log.Debug("ctlclient: request failed", "api", name, "addr", addr, "err", err)
			if reused && ctx.Err() == nil {
				// An idle connection the controller closed meanwhile
				// (restart, idle timeout): try the same address again at
				// once, on another or a new connection. This ends: each
				// failure closes the connection it used.
				lastErr = err
				continue
			}
			failed[addr] = true
		}
		lastErr = err
		if err := c.sleep(ctx, backoff); err != nil {
			return nil, fmt.Errorf("ctlclient: %s: %w (last error: %w)", name, err, lastErr)
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// RequestUntil is Request plus retrying while retry(resp) is true (e.g.
// NOT_CONTROLLER while a new controller is elected), with backoff, until
// ctx ends; it returns the last response. When ctx ends while retrying,
// it returns the last response together with an error wrapping ctx's.
func (c *Client) RequestUntil(ctx context.Context, req kmsg.Request, retry func(kmsg.Response) bool) (kmsg.Response, error) {
	backoff := minBackoff
	var last kmsg.Response
	for {
		resp, err := c.Request(ctx, req)
		if err != nil {
			return last, err
		}
		last = resp
		if retry == nil || !retry(resp) {
			return resp, nil
		}
		if err := c.sleep(ctx, backoff); err != nil {
			return last, fmt.Errorf("ctlclient: %s: still retrying: %w", kmsg.NameForKey(req.Key()), err)
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// Close closes every connection, interrupting requests in flight (they
// return ErrClosed). Later requests fail with ErrClosed. It is safe to
// call more than once.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	close(c.done)
	for cn := range c.conns {
		_ = cn.nc.Close()
	}
	return nil
}

func (c *Client) isClosed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// target picks the address of the next attempt: the known leader, else
// the next voter, skipping the addresses that failed in this round. When
// every known address failed, a new round starts.
func (c *Client) target(failed map[string]bool) (string, error) {
	for range 2 {
		if c.cfg.Leader != nil {
			if _, addr, ok := c.cfg.Leader(); ok && addr != "" && !failed[addr] {
				return addr, nil
			}
		}
		n := len(c.cfg.Voters)
		for range n {
			v := c.cfg.Voters[int(c.next.Add(1)-1)%n]
			if !failed[v.Addr] {
				return v.Addr, nil
			}
		}
		if len(failed) == 0 {
			break
		}
		clear(failed)
	}
	return "", ErrNoController
}

// sleep waits d, or returns ctx's error or ErrClosed.
func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.done:
		return ErrClosed
	}
}
