package metadata

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/testutil/freeport"
)

// freeAddrs returns n loopback addresses free right now (voters lists need
// the addresses before the nodes start, so port 0 cannot be used), below
// the ephemeral range so that no outgoing connection takes one meanwhile.
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	var addrs []string
	for len(addrs) < n {
		addr, err := freeport.Addr("127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(addrs, addr) {
			addrs = append(addrs, addr)
		}
	}
	return addrs
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond) // polling a condition with a deadline
	}
}

// clusterNode opens node id of a test quorum at addr, its outbound
// connections bound to 127.0.0.(10+id) as the cluster tests do.
func clusterNode(t *testing.T, id int32, dir, addr string, voters []Voter) *Node {
	t.Helper()
	return openNode(t, dir, func(c *NodeConfig) {
		c.NodeID, c.BindAddr, c.Voters = id, addr, voters
		c.SourceAddr = fmt.Sprintf("127.0.0.%d", 10+id)
	})
}

func leaderOf(t *testing.T, nodes map[int32]*Node) *Node {
	t.Helper()
	var leader *Node
	waitFor(t, 10*time.Second, "a leader", func() bool {
		for _, n := range nodes {
			if n.IsController() {
				leader = n
				return true
			}
		}
		return false
	})
	return leader
}

func hasTopic(n *Node, name string) bool {
	_, ok := n.Image().Topic(name)
	return ok
}

// A three-voter quorum elects and replicates through the multiplexed
// listener; a broker-only node added by the controller catches up, gets
// ready, survives a restart without being added again, and follows a new
// leader after a failover.
func TestQuorumWithNonvoter(t *testing.T) {
	addrs := freeAddrs(t, 4)
	voters := []Voter{{1, addrs[0]}, {2, addrs[1]}, {3, addrs[2]}}
	nodes := map[int32]*Node{}
	dirs := map[int32]string{}
	for _, v := range voters {
		dirs[v.ID] = t.TempDir()
		nodes[v.ID] = clusterNode(t, v.ID, dirs[v.ID], v.Addr, voters)
	}
	start := time.Now()
	for _, n := range nodes {
		waitReady(t, n)
	}
	t.Logf("3 voters ready in %v", time.Since(start))
	leader := leaderOf(t, nodes)
	for id, n := range nodes {
		lid, laddr, ok := n.LeaderAddr()
		if !ok || lid != leader.cfg.NodeID || laddr != leader.Addr() {
			t.Fatalf("node %d: LeaderAddr = %d %q %v, want %d %q", id, lid, laddr, ok, leader.cfg.NodeID, leader.Addr())
		}
		if !n.IsVoter() {
			t.Fatalf("node %d is not a voter", id)
		}
	}
	propose(t, leader, topic("a", 1, 1))
	for id, n := range nodes {
		waitFor(t, 5*time.Second, fmt.Sprintf("topic a on node %d", id), func() bool { return hasTopic(n, "a") })
	}

	var follower *Node
	for _, n := range nodes {
		if n != leader {
			follower = n
			break
		}
	}
	servers, err := follower.Servers()
	if err != nil {
		t.Fatal(err)
	}
	want := []Server{{1, addrs[0], true}, {2, addrs[1], true}, {3, addrs[2], true}}
	if !slices.Equal(servers, want) {
		t.Fatalf("Servers() = %v, want %v", servers, want)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := follower.AddNonvoter(ctx, 4, addrs[3]); !errors.Is(err, ErrNotController) {
		t.Fatalf("AddNonvoter on a follower: %v", err)
	}
	if err := follower.RemoveServer(ctx, 4); !errors.Is(err, ErrNotController) {
		t.Fatalf("RemoveServer on a follower: %v", err)
	}
	if err := leader.RemoveServer(ctx, follower.cfg.NodeID); !errors.Is(err, ErrRemoveVoter) {
		t.Fatalf("RemoveServer of a voter: %v", err)
	}

	// The controller API of a follower is reachable through the same port.
	c, err := DialControllerAPI(ctx, follower.Addr(), "127.0.0.14")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sc, err := acceptWithin(t, follower.ControllerAPIListener(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, "x"); err != nil {
		t.Fatal(err)
	}
	if got := readAllWithin(t, sc, 1); got != "x" {
		t.Fatalf("controller API read %q", got)
	}

	// A broker-only node waits until it is added.
	dirs[4] = t.TempDir()
	n4 := clusterNode(t, 4, dirs[4], addrs[3], voters)
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	err = n4.WaitReady(short)
	cancelShort()
	if err == nil {
		t.Fatal("a node that was never added became ready")
	}
	if srv, _ := n4.Servers(); len(srv) != 0 {
		t.Fatalf("unadded node knows servers %v", srv)
	}
	start = time.Now()
	if err := leader.AddNonvoter(ctx, 4, addrs[3]); err != nil {
		t.Fatalf("AddNonvoter: %v", err)
	}
	waitReady(t, n4)
	t.Logf("non-voter ready %v after AddNonvoter", time.Since(start))
	if !hasTopic(n4, "a") {
		t.Fatal("ready non-voter has not caught up")
	}
	if n4.IsVoter() || n4.IsController() {
		t.Fatal("non-voter claims a vote or the lead")
	}
	wantAll := append(want, Server{4, addrs[3], false})
	if servers, _ := leader.Servers(); !slices.Equal(servers, wantAll) {
		t.Fatalf("Servers() = %v, want %v", servers, wantAll)
	}
	if err := leader.AddNonvoter(ctx, 4, addrs[3]); err != nil {
		t.Fatalf("AddNonvoter again: %v", err)
	}
	if servers, _ := leader.Servers(); !slices.Equal(servers, wantAll) {
		t.Fatalf("after a repeated AddNonvoter: Servers() = %v", servers)
	}
	if lid, _, ok := n4.LeaderAddr(); !ok || lid != leader.cfg.NodeID {
		t.Fatalf("non-voter's LeaderAddr = %d %v", lid, ok)
	}

	// Restart: the non-voter finds itself in its stored configuration.
	if err := n4.Close(); err != nil {
		t.Fatal(err)
	}
	propose(t, leader, topic("b", 2, 1))
	start = time.Now()
	n4 = clusterNode(t, 4, dirs[4], addrs[3], voters)
	waitReady(t, n4)
	waitFor(t, 10*time.Second, "topic b on the restarted non-voter", func() bool { return hasTopic(n4, "b") })
	t.Logf("restarted non-voter caught up in %v", time.Since(start))
	if servers, _ := leader.Servers(); !slices.Equal(servers, wantAll) {
		t.Fatalf("after the restart: Servers() = %v", servers)
	}

	// Failover: the remaining voters elect a leader; the non-voter follows.
	old := leader.cfg.NodeID
	if err := leader.Close(); err != nil {
		t.Fatal(err)
	}
	delete(nodes, old)
	start = time.Now()
	leader = leaderOf(t, nodes)
	t.Logf("new leader %d elected %v after the old one stopped", leader.cfg.NodeID, time.Since(start))
	waitFor(t, 10*time.Second, "the non-voter to follow the new leader", func() bool {
		id, addr, ok := n4.LeaderAddr()
		return ok && id == leader.cfg.NodeID && addr == leader.Addr()
	})
	propose(t, leader, topic("c", 3, 1))
	waitFor(t, 10*time.Second, "topic c on the non-voter", func() bool { return hasTopic(n4, "c") })

	if err := leader.RemoveServer(ctx, 4); err != nil {
		t.Fatalf("RemoveServer: %v", err)
	}
	if servers, _ := leader.Servers(); !slices.Equal(servers, want) {
		t.Fatalf("after RemoveServer: Servers() = %v", servers)
	}
	if err := leader.RemoveServer(ctx, 4); err != nil {
		t.Fatalf("RemoveServer of a non-member: %v", err)
	}
}

func TestAddNonvoterArgs(t *testing.T) {
	n := openNode(t, t.TempDir())
	waitReady(t, n)
	ctx := context.Background()
	if err := n.AddNonvoter(ctx, -1, "127.0.0.1:1"); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("negative id: %v", err)
	}
	if err := n.AddNonvoter(ctx, 2, ""); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("no address: %v", err)
	}
	// A changed address replaces the old one.
	if err := n.AddNonvoter(ctx, 2, "127.0.0.1:1"); err != nil {
		t.Fatal(err)
	}
	if err := n.AddNonvoter(ctx, 2, "127.0.0.1:2"); err != nil {
		t.Fatal(err)
	}
	servers, err := n.Servers()
	if err != nil {
		t.Fatal(err)
	}
	want := []Server{{1, n.Addr(), true}, {2, "127.0.0.1:2", false}}
	if !slices.Equal(servers, want) {
		t.Fatalf("Servers() = %v, want %v", servers, want)
	}
	if err := n.RemoveServer(ctx, 1); !errors.Is(err, ErrRemoveVoter) {
		t.Fatalf("removing the only voter: %v", err)
	}
	if id, addr, ok := n.LeaderAddr(); !ok || id != 1 || addr != n.Addr() {
		t.Fatalf("LeaderAddr = %d %q %v", id, addr, ok)
	}
}
