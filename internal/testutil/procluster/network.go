//go:build unix

package procluster

// Isolate cuts every link between node id and the other nodes, both ways:
// their connections to it and its connections to them are reset, and new
// ones are refused until Heal. Clients still reach every node, id included.
// Nodes added later are not cut off.
func (c *Cluster) Isolate(id int32) {
	c.t.Helper()
	c.requireSourceBinding("Isolate")
	n := c.Node(id)
	for _, m := range c.Nodes() {
		if m.ID != id {
			cut(n, m)
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
					cut(c.Node(a), c.Node(b))
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
	cut(c.Node(a), c.Node(b))
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
	return na.kafkaProxy.Blocked(nb.SourceIP) || na.controllerProxy.Blocked(nb.SourceIP) ||
		nb.kafkaProxy.Blocked(na.SourceIP) || nb.controllerProxy.Blocked(na.SourceIP)
}

// cut blocks a's connections to b and b's connections to a.
func cut(a, b *Node) {
	a.kafkaProxy.Block(b.SourceIP)
	a.controllerProxy.Block(b.SourceIP)
	b.kafkaProxy.Block(a.SourceIP)
	b.controllerProxy.Block(a.SourceIP)
}

func (c *Cluster) requireSourceBinding(op string) {
	c.t.Helper()
	if !c.bindsSource {
		c.fatalf("%s: the samsa binary %s has no %s property, so the proxies cannot tell nodes from clients",
			op, c.binary, sourceAddressProperty)
	}
}
