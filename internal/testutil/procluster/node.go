//go:build unix

package procluster

import (
	"fmt"
	"sync"
	"syscall"

	"github.com/samsa-streaming/samsa/internal/cli/dev"
	"github.com/samsa-streaming/samsa/internal/testutil/netproxy"
)

// Node is one samsa process of a Cluster. Its addresses, directories and
// proxies stay the same across restarts.
type Node struct {
	ID    int32
	Voter bool // a metadata quorum voter (otherwise broker-only)
	// SourceIP is the loopback address the node's outbound inter-node
	// connections come from: 127.0.0.(10+ID).
	SourceIP string
	// KafkaAddr is the proxied Kafka address: the one the node advertises
	// and clients use. RealKafkaAddr is the node's own listener.
	KafkaAddr, RealKafkaAddr string
	// ControllerAddr is the proxied controller address (the one in the
	// voters list); RealControllerAddr is the node's own listener.
	ControllerAddr, RealControllerAddr string
	HTTPAddr                           string // metrics and admin API (not proxied)
	DataDir                            string
	LogPath                            string // the process's output, appended on every start

	c                           *Cluster
	kafkaProxy, controllerProxy *netproxy.Proxy

	mu           sync.Mutex // guards the fields below
	proc         *dev.Process
	paused       bool // stopped with SIGSTOP
	exitExpected bool // the harness ended the process, or allowed it to end
}

// PID returns the id of the node's current (or last) process; 0 before
// its first start.
func (n *Node) PID() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc == nil {
		return 0
	}
	return n.proc.PID()
}

// Running reports whether the node's process is alive (paused or not).
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.proc != nil && !n.proc.Exited()
}

// Paused reports whether the node is stopped with SIGSTOP.
func (n *Node) Paused() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.proc != nil && n.paused && !n.proc.Exited()
}

// live reports whether the node runs and is not paused.
func (n *Node) live() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.proc != nil && !n.paused && !n.proc.Exited()
}

// KafkaProxy returns the proxy in front of the node's Kafka listener.
func (n *Node) KafkaProxy() *netproxy.Proxy { return n.kafkaProxy }

// ControllerProxy returns the proxy in front of the node's controller
// listener.
func (n *Node) ControllerProxy() *netproxy.Proxy { return n.controllerProxy }

// LogTail returns the last lines of the node's log.
func (n *Node) LogTail(lines int) string { return dev.LogTail(n.LogPath, lines) }

// ExpectExit tells the harness that the node's process may end by itself
// (for example after being decommissioned), so its exit is not reported
// as a failure.
func (n *Node) ExpectExit() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.exitExpected = true
}

// unexpectedExit describes the node's process if it ended without the
// harness asking; "" otherwise.
func (n *Node) unexpectedExit() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc == nil || n.exitExpected || !n.proc.Exited() {
		return ""
	}
	return fmt.Sprintf("%s (pid %d) exited unexpectedly (%v); the last lines of %s:\n%s",
		describe(n), n.proc.PID(), n.proc.ExitErr(), n.LogPath, dev.LogTail(n.LogPath, failureLogLines))
}

// Kill sends SIGKILL to node id and waits for it to die.
func (c *Cluster) Kill(id int32) {
	c.t.Helper()
	n := c.Node(id)
	n.mu.Lock()
	n.exitExpected = true
	p := n.proc
	n.mu.Unlock()
	if p == nil {
		return
	}
	if err := p.Kill(); err != nil {
		c.fatalf("kill: %v", err)
	}
	c.proxiesDown(n)
}

// proxiesDown makes a stopped node's addresses refuse connections, as its
// own ports would.
func (c *Cluster) proxiesDown(n *Node) {
	for _, p := range []*netproxy.Proxy{n.kafkaProxy, n.controllerProxy} {
		if err := p.Down(); err != nil {
			c.fatalf("procluster: %v", err)
		}
	}
}

// Shutdown stops node id cleanly: SIGTERM, then a wait of up to
// ShutdownGrace. A node that does not stop in time is killed and the test
// fails.
func (c *Cluster) Shutdown(id int32) {
	c.t.Helper()
	n := c.Node(id)
	n.mu.Lock()
	n.exitExpected = true
	paused, p := n.paused, n.proc
	n.mu.Unlock()
	if p == nil {
		c.fatalf("shutdown: node %d was never started", id)
	}
	if paused {
		c.fatalf("shutdown: node %d is paused (SIGSTOP); Cont it first or Kill it", id)
	}
	killed, err := p.Terminate(ShutdownGrace)
	if err != nil {
		c.fatalf("shutdown: %v", err)
	}
	if killed {
		c.fatalf("shutdown: node %d did not stop within %v after SIGTERM; killed it", id, ShutdownGrace)
	}
	c.proxiesDown(n)
}

// Stop pauses node id with SIGSTOP: its sockets stay open but it answers
// nothing, like a node in a long GC pause or a hung VM.
func (c *Cluster) Stop(id int32) {
	c.t.Helper()
	c.signal(id, syscall.SIGSTOP, true)
}

// Cont resumes node id after Stop.
func (c *Cluster) Cont(id int32) {
	c.t.Helper()
	c.signal(id, syscall.SIGCONT, false)
}

func (c *Cluster) signal(id int32, sig syscall.Signal, paused bool) {
	c.t.Helper()
	n := c.Node(id)
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc == nil || n.proc.Exited() {
		c.fatalf("%v: node %d is not running", sig, id)
	}
	if err := n.proc.Signal(sig); err != nil {
		c.fatalf("%v", err)
	}
	n.paused = paused
}

// Restart starts node id again with the same data, ports and proxies. A
// node still running is killed first (SIGKILL). It returns once the process
// is started; WaitReady waits for it to serve.
func (c *Cluster) Restart(id int32) {
	c.t.Helper()
	n := c.Node(id)
	if n.Running() {
		c.Kill(id)
	}
	c.start(n)
}
