//go:build unix

// Package procluster starts a cluster of real samsa processes for tests and
// breaks it on purpose: it kills (SIGKILL), pauses (SIGSTOP) and restarts
// nodes, and cuts the network links between them.
//
// Every node listens on real loopback ports; a netproxy.Proxy fronts its
// Kafka and its controller listener, and the node is told to advertise the
// proxies:
//
//	                     ┌ Kafka proxy ──────> node 1 Kafka listener
//	clients (127.0.0.1) ─┤
//	node 2 (127.0.0.12) ─┴ controller proxy ─> node 1 controller listener
//
// Node N binds its outbound inter-node connections to 127.0.0.(10+N)
// (inter.node.source.address), so a proxy knows which node is calling and
// can refuse it: Isolate, Partition and CutLink block sources on proxies,
// Heal lifts every block. SetCutMode chooses how a cut looks to the nodes:
// links reset at once (the default, as when a host is down) or packets
// silently dropped (as with a firewall), where only timeouts tell. Clients
// always come from 127.0.0.1 and are never blocked. While a node is killed
// or shut down, its proxies refuse connections, as its own ports would.
//
// A test reads like the scenario it checks:
//
//	c := procluster.Start(t, procluster.Options{Nodes: 3})
//	adm := c.Admin(t)
//	// ... create a topic, produce ...
//	c.Kill(2)
//	c.Isolate(1)
//	c.Heal()
//	c.Restart(2)
//	if err := c.WaitReady(ctx); err != nil { t.Fatal(err) }
//
// Methods without a testing.TB argument report harness failures (a process
// that cannot be started or does not die) with t.Fatalf of the t given to
// Start, so call them from that test's goroutine. When the test ends every process still
// running is killed (only the PIDs the harness started) and the proxies are
// closed; if the test failed, the end of every node's log is printed. A node
// that exits without the harness asking is reported as a test error.
package procluster

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/cli/dev"
	"github.com/samsa-streaming/samsa/internal/testutil/freeport"
	"github.com/samsa-streaming/samsa/internal/testutil/netproxy"
)

// Defaults and bounds.
const (
	// DefaultStartTimeout bounds Start's wait for the cluster.
	DefaultStartTimeout = 60 * time.Second
	// ShutdownGrace is how long Shutdown lets a node stop after SIGTERM.
	ShutdownGrace = 30 * time.Second
	// maxNodeID keeps 127.0.0.(10+N) a valid address.
	maxNodeID = 245
	// failureLogLines is how much of each log is printed when a test fails.
	failureLogLines = 40
)

// Options configure Start.
type Options struct {
	// Nodes is how many nodes Start runs, with ids 1..Nodes (default 1).
	Nodes int
	// Voters is how many of them (the lowest ids) are metadata quorum
	// voters (default dev.VoterCount(Nodes): 1, 3 or 5).
	Voters int
	// Props are extra properties given to every node (--set name=value).
	Props map[string]string
	// Binary is the samsa binary; "" uses $SAMSA_TEST_BINARY or builds
	// cmd/samsa once per test process.
	Binary string
	// LogDir receives node N's output as node-N.log; "" puts the logs in
	// the test's temporary directory (removed after the test).
	LogDir string
	// StartTimeout bounds Start's wait for the cluster to be ready
	// (default DefaultStartTimeout).
	StartTimeout time.Duration
}

// Cluster is a running set of samsa processes behind proxies.
type Cluster struct {
	t      testing.TB
	opt    Options
	binary string
	dir    string // data directories
	logDir string
	voters string // controller.quorum.voters, with proxied addresses
	// bindsSource is whether the binary knows inter.node.source.address;
	// without it nodes cannot be told apart and links cannot be cut.
	bindsSource bool

	mu      sync.Mutex // guards nodes and cutMode
	nodes   []*Node    // in id order
	cutMode CutMode
}

// Start runs opt.Nodes nodes and waits (up to opt.StartTimeout) until every
// one is registered and unfenced in every node's Metadata. Everything is
// stopped when the test ends.
func Start(t testing.TB, opt Options) *Cluster {
	t.Helper()
	if opt.Nodes == 0 {
		opt.Nodes = 1
	}
	if opt.Voters == 0 {
		opt.Voters = dev.VoterCount(opt.Nodes)
	}
	if opt.StartTimeout == 0 {
		opt.StartTimeout = DefaultStartTimeout
	}
	if opt.Nodes < 1 || opt.Nodes > maxNodeID || opt.Voters < 1 || opt.Voters > opt.Nodes {
		t.Fatalf("procluster: %d nodes with %d voters: want 1 <= voters <= nodes <= %d", opt.Nodes, opt.Voters, maxNodeID)
	}
	binary, err := samsaBinary(opt.Binary)
	if err != nil {
		t.Fatal(err)
	}
	binds, err := bindsSourceAddress(binary)
	if err != nil {
		t.Fatal(err)
	}
	if !binds {
		t.Logf("procluster: %s has no %s property: nodes cannot be told apart, so links cannot be cut", binary, sourceAddressProperty)
	}
	c := &Cluster{t: t, opt: opt, binary: binary, dir: t.TempDir(), logDir: opt.LogDir, bindsSource: binds}
	if c.logDir == "" {
		c.logDir = c.dir
	} else if err := os.MkdirAll(c.logDir, 0o755); err != nil {
		t.Fatalf("procluster: log dir: %v", err)
	}
	t.Cleanup(c.cleanup)
	for id := int32(1); id <= int32(opt.Nodes); id++ {
		c.nodes = append(c.nodes, c.newNode(id, id <= int32(opt.Voters)))
	}
	var vs []string
	for _, n := range c.nodes[:opt.Voters] {
		vs = append(vs, strconv.Itoa(int(n.ID))+"@"+n.ControllerAddr)
	}
	c.voters = strings.Join(vs, ",")
	for _, n := range c.nodes {
		c.start(n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), opt.StartTimeout)
	defer cancel()
	if err := c.WaitReady(ctx); err != nil {
		t.Fatalf("procluster: %d-node cluster not ready: %v", opt.Nodes, err)
	}
	return c
}

// newNode allocates a node's ports and proxies.
func (c *Cluster) newNode(id int32, voter bool) *Node {
	n := &Node{
		ID:                 id,
		Voter:              voter,
		SourceIP:           "127.0.0." + strconv.Itoa(10+int(id)),
		RealKafkaAddr:      c.freeAddr(),
		RealControllerAddr: c.freeAddr(),
		HTTPAddr:           c.freeAddr(),
		DataDir:            filepath.Join(c.dir, "node-"+strconv.Itoa(int(id))),
		LogPath:            filepath.Join(c.logDir, "node-"+strconv.Itoa(int(id))+".log"),
		c:                  c,
	}
	var err error
	// The proxies' ports too stay clear of the ephemeral range: a proxy is
	// down between a kill and a restart, and must get its port back.
	if n.kafkaProxy, err = netproxy.Listen(c.freeAddr(), n.RealKafkaAddr); err != nil {
		c.t.Fatalf("procluster: node %d: %v", id, err)
	}
	if n.controllerProxy, err = netproxy.Listen(c.freeAddr(), n.RealControllerAddr); err != nil {
		n.kafkaProxy.Close()
		c.t.Fatalf("procluster: node %d: %v", id, err)
	}
	n.KafkaAddr = n.kafkaProxy.Addr()
	n.ControllerAddr = n.controllerProxy.Addr()
	return n
}

// freeAddr returns a loopback address with a port free right now, below
// the kernel's ephemeral range (see freeport): the node binds it a moment
// later, and no outgoing connection can take it in between.
func (c *Cluster) freeAddr() string {
	addr, err := freeport.Addr("127.0.0.1")
	if err != nil {
		c.t.Fatalf("procluster: %v", err)
	}
	return addr
}

// spec is the command line of node n.
func (c *Cluster) spec(n *Node) dev.NodeSpec {
	props := maps.Clone(c.opt.Props)
	if props == nil {
		props = map[string]string{}
	}
	if c.bindsSource {
		props[sourceAddressProperty] = n.SourceIP
	}
	s := dev.NodeSpec{
		ID:             n.ID,
		KafkaAddr:      n.RealKafkaAddr,
		AdvertisedAddr: n.KafkaAddr,
		ControllerAddr: n.RealControllerAddr,
		HTTPAddr:       n.HTTPAddr,
		Voters:         c.voters,
		Voter:          n.Voter,
		DataDir:        n.DataDir,
		LogPath:        n.LogPath,
		Props:          props,
	}
	if !n.Voter {
		s.AdvertisedControllerAddr = n.ControllerAddr
	}
	return s
}

// start starts n's process (which must not be running).
func (c *Cluster) start(n *Node) {
	for _, p := range []*netproxy.Proxy{n.kafkaProxy, n.controllerProxy} {
		if err := p.Up(); err != nil { // after Kill or Shutdown
			c.t.Fatalf("procluster: %v", err)
		}
	}
	p, err := dev.StartProcess(c.binary, c.spec(n), childEnv())
	if err != nil {
		c.t.Fatalf("procluster: %v", err)
	}
	n.mu.Lock()
	n.proc, n.paused, n.exitExpected = p, false, false
	n.mu.Unlock()
}

// Node returns node id; it fails the test if there is none.
func (c *Cluster) Node(id int32) *Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.nodes {
		if n.ID == id {
			return n
		}
	}
	c.t.Fatalf("procluster: no node %d", id)
	return nil
}

// Nodes returns every node, in id order.
func (c *Cluster) Nodes() []*Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Node(nil), c.nodes...)
}

// Bootstrap returns the proxied Kafka addresses of all nodes, running or
// not.
func (c *Cluster) Bootstrap() []string {
	var addrs []string
	for _, n := range c.Nodes() {
		addrs = append(addrs, n.KafkaAddr)
	}
	return addrs
}

// AddNode starts a broker-only node with the next free id, which registers
// with the existing quorum. It returns at once; WaitReady waits for it. Cuts
// made before it was added do not apply to it.
func (c *Cluster) AddNode() *Node {
	c.mu.Lock()
	id := c.nodes[len(c.nodes)-1].ID + 1
	c.mu.Unlock()
	if id > maxNodeID {
		c.t.Fatalf("procluster: node %d: ids stop at %d", id, maxNodeID)
	}
	n := c.newNode(id, false)
	c.mu.Lock()
	c.nodes = append(c.nodes, n) // first, so that cleanup closes its proxies
	c.mu.Unlock()
	c.start(n)
	return n
}

// cleanup kills what still runs, reports nodes that died on their own,
// closes the proxies and, if the test failed, prints the logs' tails.
func (c *Cluster) cleanup() {
	for _, n := range c.Nodes() {
		if msg := n.unexpectedExit(); msg != "" {
			c.t.Errorf("procluster: %s", msg)
		}
		n.mu.Lock()
		p := n.proc
		n.exitExpected = true
		n.mu.Unlock()
		if p != nil {
			if err := p.Kill(); err != nil {
				c.t.Errorf("procluster: %v", err)
			}
		}
		n.kafkaProxy.Close()
		n.controllerProxy.Close()
		if c.t.Failed() {
			c.t.Logf("procluster: the last lines of node %d's log %s:\n%s", n.ID, n.LogPath,
				dev.LogTail(n.LogPath, failureLogLines))
		}
	}
}

// fatalf fails the test from a harness method.
func (c *Cluster) fatalf(format string, args ...any) {
	c.t.Helper()
	c.t.Fatalf("procluster: "+format, args...)
}

// describe names a node for messages.
func describe(n *Node) string { return fmt.Sprintf("node %d (Kafka %s)", n.ID, n.KafkaAddr) }
