//go:build unix

package procluster

import (
	"fmt"
	"testing"

	"github.com/samsa-streaming/samsa/internal/testutil/netproxy"
)

// proxyOnlyCluster builds a Cluster of n nodes that have proxies but no
// processes, to check which links each cut blocks.
func proxyOnlyCluster(t *testing.T, n int) *Cluster {
	t.Helper()
	c := &Cluster{t: t, bindsSource: true}
	for id := int32(1); id <= int32(n); id++ {
		node := &Node{ID: id, SourceIP: fmt.Sprintf("127.0.0.%d", 10+id), c: c}
		var err error
		if node.kafkaProxy, err = netproxy.Listen("127.0.0.1:0", "127.0.0.1:1"); err != nil {
			t.Fatal(err)
		}
		if node.controllerProxy, err = netproxy.Listen("127.0.0.1:0", "127.0.0.1:1"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { node.kafkaProxy.Close(); node.controllerProxy.Close() })
		c.nodes = append(c.nodes, node)
	}
	return c
}

// links returns which of the pairs (a<b) of nodes 1..n are cut, as a
// string like "12 23" (a pair listed means cut), after checking that a cut
// always blocks (or drops, in DropPackets mode) both ways on both proxies,
// never in the other mode's way, and never cuts clients.
func links(t *testing.T, c *Cluster, n int32, mode CutMode) string {
	t.Helper()
	cutBy := func(p *netproxy.Proxy, src string) bool {
		blocked, dropped := p.Blocked(src), p.Dropped(src)
		if (mode == DropPackets && blocked) || (mode == ResetLinks && dropped) {
			t.Errorf("mode %v: %s is blocked=%v dropped=%v", mode, src, blocked, dropped)
		}
		return blocked || dropped
	}
	var s string
	for a := int32(1); a <= n; a++ {
		na := c.Node(a)
		if cutBy(na.kafkaProxy, "127.0.0.1") || cutBy(na.controllerProxy, "127.0.0.1") {
			t.Errorf("node %d's proxies cut clients", a)
		}
		for b := a + 1; b <= n; b++ {
			nb := c.Node(b)
			all := []bool{
				cutBy(na.kafkaProxy, nb.SourceIP), cutBy(na.controllerProxy, nb.SourceIP),
				cutBy(nb.kafkaProxy, na.SourceIP), cutBy(nb.controllerProxy, na.SourceIP),
			}
			for _, x := range all[1:] {
				if x != all[0] {
					t.Errorf("link %d-%d is cut only partly: %v", a, b, all)
				}
			}
			if c.Cut(a, b) != all[0] {
				t.Errorf("Cut(%d, %d) = %v, proxies say %v", a, b, c.Cut(a, b), all[0])
			}
			if all[0] {
				if s != "" {
					s += " "
				}
				s += fmt.Sprintf("%d%d", a, b)
			}
		}
	}
	return s
}

func TestCuts(t *testing.T) {
	tests := []struct {
		name string
		cut  func(c *Cluster)
		want string // cut pairs among nodes 1..5
	}{
		{"nothing", func(c *Cluster) {}, ""},
		{"isolate 1", func(c *Cluster) { c.Isolate(1) }, "12 13 14 15"},
		{"isolate 3", func(c *Cluster) { c.Isolate(3) }, "13 23 34 35"},
		{"isolate 1 and 2", func(c *Cluster) { c.Isolate(1); c.Isolate(2) }, "12 13 14 15 23 24 25"},
		{"majority and minority", func(c *Cluster) { c.Partition([]int32{1, 2}, []int32{3, 4, 5}) }, "13 14 15 23 24 25"},
		{"three groups", func(c *Cluster) { c.Partition([]int32{1}, []int32{2, 3}, []int32{4, 5}) }, "12 13 14 15 24 25 34 35"},
		{"bridge: 3 in no group", func(c *Cluster) { c.Partition([]int32{1, 2}, []int32{4, 5}) }, "14 15 24 25"},
		{"one link", func(c *Cluster) { c.CutLink(2, 4) }, "24"},
		{"healed", func(c *Cluster) { c.Isolate(1); c.Partition([]int32{2}, []int32{3}); c.Heal() }, ""},
	}
	for _, mode := range []CutMode{ResetLinks, DropPackets} {
		for _, tt := range tests {
			t.Run(mode.String()+"/"+tt.name, func(t *testing.T) {
				c := proxyOnlyCluster(t, 5)
				c.SetCutMode(mode)
				tt.cut(c)
				if got := links(t, c, 5, mode); got != tt.want {
					t.Fatalf("cut links = %q, want %q", got, tt.want)
				}
			})
		}
	}
}
