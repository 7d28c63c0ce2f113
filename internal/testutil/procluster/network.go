//go:build unix

package procluster

import (
	"fmt"

	"github.com/samsa-streaming/samsa/internal/testutil/netproxy"
)

// CutMode is how Isolate, Partition and CutLink cut a link.
type CutMode int

const (
	// ResetLinks closes the link's connections with a TCP reset and
	// refuses new ones: both ends learn of the cut at once.
	ResetLinks CutMode = iota
	// DropPackets silences the link: connections stay open but no byte
	// moves and new ones hang, so the ends learn of the cut only from
	// their own timeouts. After Heal the held bytes flow on.
	DropPackets
)

// String names the mode for test logs.
func (m CutMode) String() string {
	switch m {
	case ResetLinks:
		return "reset"
	case DropPackets:
		return "drop"
	}
	return fmt.Sprintf("CutMode(%d)", int(m))
}

// SetCutMode chooses how later cuts are made; cuts already made stay as
// they are until Heal.
func (c *Cluster) SetCutMode(m CutMode) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cutMode = m
}

// Isolate cuts every link between node id and the other nodes, both ways
// and in the current CutMode: their connections to it and its connections
// to them are reset and new ones refused, or all of them go silent, until
// Heal. Clients still reach every node, id included.
// Nodes added later are not cut off.
func (c *Cluster) Isolate(id int32) {
	c.t.Helper()
	c.requireSourceBinding("Isolate")
	n := c.Node(id)
	for _, m := range c.Nodes() {
		if m.ID != id {
			c.cut(n, m)
		}
	}
}

// Partition cuts every link between nodes of different groups, both ways.
// Nodes in no group keep their links to everyone (a bridge). Partition
// adds to the cuts already made; Heal lifts them all.
func (c *Cluster) Partition(groups ...[]int32) {
	c.t.Helper()
	c.requireSourceBinding("Partition")
	for i, g := range groups {
		for _, h := range groups[i+1:] {
			for _, a := range g {
				for _, b := range h {
					if a == b {
						c.fatalf("Partition: node %d is in two groups", a)
					}
					c.cut(c.Node(a), c.Node(b))
				}
			}
		}
	}
}

// CutLink cuts the link between nodes a and b, both ways.
func (c *Cluster) CutLink(a, b int32) {
	c.t.Helper()
	c.requireSourceBinding("CutLink")
	if a == b {
		c.fatalf("CutLink: a node cannot be cut from itself (%d)", a)
	}
	c.cut(c.Node(a), c.Node(b))
}

// Heal restores every link cut by Isolate, Partition or CutLink.
func (c *Cluster) Heal() {
	for _, n := range c.Nodes() {
		n.kafkaProxy.Heal()
		n.controllerProxy.Heal()
	}
}

// Cut reports whether the link between a and b is cut (in either
// direction).
func (c *Cluster) Cut(a, b int32) bool {
	na, nb := c.Node(a), c.Node(b)
	return cutFrom(na, nb) || cutFrom(nb, na)
}

// cutFrom reports whether to's proxies block or drop from's connections.
func cutFrom(to, from *Node) bool {
	for _, p := range []*netproxy.Proxy{to.kafkaProxy, to.controllerProxy} {
		if p.Blocked(from.SourceIP) || p.Dropped(from.SourceIP) {
			return true
		}
	}
	return false
}

// cut cuts a's connections to b and b's connections to a, in the current
// cut mode.
func (c *Cluster) cut(a, b *Node) {
	c.mu.Lock()
	mode := c.cutMode
	c.mu.Unlock()
	for _, pair := range [][2]*Node{{a, b}, {b, a}} {
		to, from := pair[0], pair[1]
		for _, p := range []*netproxy.Proxy{to.kafkaProxy, to.controllerProxy} {
			if mode == DropPackets {
				p.Drop(from.SourceIP)
			} else {
				p.Block(from.SourceIP)
			}
		}
	}
}

func (c *Cluster) requireSourceBinding(op string) {
	c.t.Helper()
	if !c.bindsSource {
		c.fatalf("%s: the samsa binary %s has no %s property, so the proxies cannot tell nodes from clients",
			op, c.binary, sourceAddressProperty)
	}
}
