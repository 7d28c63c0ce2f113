// Package server assembles one samsa node: the metadata quorum member, the
// controller, the broker, the Kafka listener and the HTTP listener, started
// in that order and stopped in reverse.
//
// Start listens on the Kafka address before the metadata log is replayed,
// so a client's connection is accepted (queued by the kernel) from the first
// milliseconds; requests are read once the node is ready.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/samsa-streaming/samsa/internal/broker"
	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/controller"
	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/wire"
)

// Node is a running samsa node.
type Node struct {
	cfg     *config.Broker
	lg      *slog.Logger
	meta    *metadata.Node
	ctl     *controller.Controller
	broker  *broker.Broker
	wire    *wire.Server
	kafkaLn net.Listener
	httpLn  net.Listener
	http    *http.Server
	served  chan struct{} // closed when the Kafka accept loop returns
	started time.Time

	ctlWire   *wire.Server  // the controller listener's Kafka-protocol side
	ctlServed chan struct{} // closed when its accept loop returns
	stopCtl   context.CancelFunc
	ctlDone   chan struct{} // closed when the controller loop returns
}

// Start starts a node. On error everything started so far is stopped.
func Start(ctx context.Context, cfg *config.Broker, lg *slog.Logger) (n *Node, err error) {
	if lg == nil {
		lg = slog.Default()
	}
	n = &Node{cfg: cfg, lg: lg, started: time.Now(), served: make(chan struct{})}
	started := n // the named result is nil on error returns
	defer func() {
		if err != nil {
			started.Close()
			n = nil
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	n.kafkaLn, err = net.Listen("tcp", cfg.KafkaAddr)
	if err != nil {
		return nil, fmt.Errorf("kafka listener: %w", err)
	}
	voters, err := ParseVoters(cfg.Voters)
	if err != nil {
		return nil, err
	}
	// A voter is reached at its address in the voters list (which may be
	// a proxy or a NAT address); other nodes at controller.listener.
	advertiseCtl := cfg.AdvertisedControllerAddr
	for _, v := range voters {
		if v.ID == cfg.NodeID {
			advertiseCtl = v.Addr
		}
	}
	n.meta, err = metadata.Open(metadata.NodeConfig{
		NodeID: cfg.NodeID, Dir: cfg.DataDir, BindAddr: cfg.ControllerAddr, AdvertiseAddr: advertiseCtl,
		Voters: voters, SourceAddr: cfg.SourceAddress, Logger: lg.With("component", "metadata"),
	})
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	if advertiseCtl == "" {
		advertiseCtl = n.meta.Addr() // the bound address (port 0 resolved)
	}
	n.ctl = controller.New(n.meta, controller.Config{
		DefaultNumPartitions:         cfg.NumPartitions,
		DefaultReplicationFactor:     cfg.DefaultReplicationFactor,
		StaticBrokerConfig:           cfg.ExplicitProperties,
		SessionTimeout:               cfg.SessionTimeout,
		AutoLeaderRebalance:          cfg.AutoLeaderRebalance,
		LeaderImbalanceCheckInterval: cfg.LeaderImbalanceCheck,
		Logger:                       lg,
	})
	host, port, err := advertised(cfg.AdvertisedAddr, n.kafkaLn.Addr())
	if err != nil {
		return nil, err
	}
	n.broker, err = broker.New(broker.Options{Config: cfg, Logger: lg, Meta: n.meta, Controller: n.ctl,
		Voters: voters, AdvertisedHost: host, AdvertisedPort: port, ControllerAddr: advertiseCtl})
	if err != nil {
		return nil, err
	}
	// The controller listener serves other nodes from now on: a quorum
	// leader must answer registrations while it is itself starting.
	n.ctlWire = wire.NewServer(wire.Config{
		MaxRequestBytes: cfg.SocketRequestMaxBytes,
		IdleTimeout:     cfg.ConnectionsMaxIdle,
		Registry:        n.broker.ControllerRegistry(),
		Logger:          lg.With("component", "controller-listener"),
	}, n.broker.ControllerHandler())
	ctlLn, ctlWire, ctlServed := n.meta.ControllerAPIListener(), n.ctlWire, make(chan struct{})
	n.ctlServed = ctlServed
	go func() {
		defer close(ctlServed)
		if err := ctlWire.Serve(ctlLn); err != nil && !errors.Is(err, net.ErrClosed) {
			lg.Error("controller listener stopped", "err", err)
		}
	}()
	runCtx, stopRun := context.WithCancel(context.Background())
	ctl, ctlDone := n.ctl, make(chan struct{})
	n.stopCtl, n.ctlDone = stopRun, ctlDone
	go func() {
		defer close(ctlDone)
		ctl.Run(runCtx)
	}()
	if err := n.broker.Start(ctx); err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	n.wire = wire.NewServer(wire.Config{
		MaxRequestBytes: cfg.SocketRequestMaxBytes,
		IdleTimeout:     cfg.ConnectionsMaxIdle,
		Registry:        n.broker.Registry(),
		Logger:          lg.With("component", "wire"),
	}, n.broker)
	go func() {
		defer close(n.served)
		if err := n.wire.Serve(n.kafkaLn); err != nil && !errors.Is(err, net.ErrClosed) {
			lg.Error("kafka listener stopped", "err", err)
		}
	}()
	if cfg.HTTPAddr != "" {
		if err := n.startHTTP(); err != nil {
			return nil, err
		}
	}
	abs, _ := filepath.Abs(cfg.DataDir)
	lg.Info("samsa started",
		"node_id", cfg.NodeID, "kafka", n.kafkaLn.Addr().String(), "advertised", net.JoinHostPort(host, strconv.Itoa(int(port))),
		"controller", n.meta.Addr(), "http", n.HTTPAddr(), "data_dir", abs,
		"startup_ms", time.Since(n.started).Milliseconds())
	return n, nil
}

// KafkaAddr is the bound Kafka listener address.
func (n *Node) KafkaAddr() string { return n.kafkaLn.Addr().String() }

// HTTPAddr is the bound HTTP address ("" if disabled).
func (n *Node) HTTPAddr() string {
	if n.httpLn == nil {
		return ""
	}
	return n.httpLn.Addr().String()
}

// Broker returns the node's broker (for tests and tools).
func (n *Node) Broker() *broker.Broker { return n.broker }

// Shutdown stops the node gracefully: a controlled shutdown first (the
// controller moves this broker's leaderships away, bounded by ctx), then
// Close.
func (n *Node) Shutdown(ctx context.Context) error {
	if n.broker != nil {
		if err := n.broker.ControlledShutdown(ctx); err != nil {
			n.lg.Warn("controlled shutdown did not finish; stopping anyway", "err", err)
		}
	}
	return n.Close()
}

// Close stops the node: listeners first, then the broker (which closes every
// partition cleanly), then the controller and the metadata node.
func (n *Node) Close() error {
	var errs []error
	if n.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		errs = append(errs, n.http.Shutdown(ctx))
		cancel()
	}
	if n.wire != nil {
		errs = append(errs, n.wire.Close())
		<-n.served
	} else if n.kafkaLn != nil {
		errs = append(errs, n.kafkaLn.Close())
	}
	if n.broker != nil {
		errs = append(errs, n.broker.Close())
	}
	if n.stopCtl != nil {
		n.stopCtl()
		<-n.ctlDone
	}
	if n.ctlWire != nil {
		errs = append(errs, n.ctlWire.Close())
		<-n.ctlServed
	}
	if n.meta != nil {
		errs = append(errs, n.meta.Close())
	}
	return errors.Join(errs...)
}

// advertised resolves the address given to clients: the configured one, with
// the bound port when the configured port is 0 and a usable host when the
// listener binds all interfaces.
func advertised(addr string, bound net.Addr) (string, int32, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("advertised address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return "", 0, fmt.Errorf("advertised address %q: bad port", addr)
	}
	if port == 0 {
		port = bound.(*net.TCPAddr).Port
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		if h, err := os.Hostname(); err == nil {
			host = h
		} else {
			host = "127.0.0.1"
		}
	}
	return host, int32(port), nil
}

// ParseVoters parses controller.quorum.voters ("1@host:port,2@host:port").
func ParseVoters(s string) ([]metadata.Voter, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []metadata.Voter
	for _, part := range strings.Split(s, ",") {
		id, addr, ok := strings.Cut(strings.TrimSpace(part), "@")
		n, err := strconv.ParseInt(id, 10, 32)
		if !ok || err != nil || !strings.Contains(addr, ":") {
			return nil, fmt.Errorf("voters: %q is not id@host:port", part)
		}
		out = append(out, metadata.Voter{ID: int32(n), Addr: addr})
	}
	return out, nil
}
