//go:build unix

package procluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// opTimeout bounds each client operation of these tests.
const opTimeout = 30 * time.Second

// requireClusterSupport fails a multi-node test early, with a clear
// message, if the binary cannot run a cluster.
func requireClusterSupport(t *testing.T) {
	t.Helper()
	bin, err := samsaBinary("")
	if err != nil {
		t.Fatal(err)
	}
	ok, err := bindsSourceAddress(bin)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Fatalf("%s has no cluster support (no %s property)", bin, sourceAddressProperty)
	}
}

// produce writes values to topic with acks=all and fails the test on error.
func produce(t *testing.T, cl *kgo.Client, topic string, values ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	for _, v := range values {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatalf("produce %q to %s: %v", v, topic, err)
		}
	}
}

// consume reads topic from the start until n records arrived.
func consume(t *testing.T, c *Cluster, topic string, n int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	cl := c.Client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var got []string
	for len(got) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consume %s: %v after %q", topic, ctx.Err(), got)
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	return got
}

// alive reports whether pid exists.
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func TestOneNode(t *testing.T) {
	c := Start(t, Options{Nodes: 1})
	n := c.Node(1)
	if n.KafkaAddr == n.RealKafkaAddr || n.ControllerAddr == n.RealControllerAddr {
		t.Fatalf("node addresses are not proxied: %+v", n)
	}
	if n.SourceIP != "127.0.0.11" || !n.Voter || !n.Running() || n.Paused() || !alive(n.PID()) {
		t.Fatalf("node 1: source %s voter %v running %v paused %v pid %d", n.SourceIP, n.Voter, n.Running(), n.Paused(), n.PID())
	}
	if got := c.Bootstrap(); len(got) != 1 || got[0] != n.KafkaAddr {
		t.Fatalf("Bootstrap() = %v, want [%s]", got, n.KafkaAddr)
	}

	// The node advertises its proxy, so clients go through it.
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	brokers, err := c.Admin(t).ListBrokers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(brokers) != 1 || net.JoinHostPort(brokers[0].Host, strconv.Itoa(int(brokers[0].Port))) != n.KafkaAddr {
		t.Fatalf("brokers = %+v, want node 1 at %s", brokers, n.KafkaAddr)
	}
	before := n.KafkaProxy().Stats()
	produce(t, c.Client(t, kgo.AllowAutoTopicCreation()), "one", "a", "b")
	if got := consume(t, c, "one", 2); strings.Join(got, ",") != "a,b" {
		t.Fatalf("consumed %q", got)
	}
	after := n.KafkaProxy().Stats()
	if after.BytesIn <= before.BytesIn || after.BytesOut <= before.BytesOut {
		t.Fatalf("the Kafka proxy carried no traffic: before %+v after %+v", before, after)
	}

	// A node paused with SIGSTOP answers nothing until SIGCONT.
	c.Stop(1)
	if !n.Paused() {
		t.Fatal("Paused() = false after Stop")
	}
	conn, err := net.DialTimeout("tcp", n.KafkaAddr, opTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 0
	if _, err := conn.Write(kmsg.NewRequestFormatter().AppendRequest(nil, req, 1)); err != nil {
		t.Fatal(err)
	}
	var size [4]byte
	conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := io.ReadFull(conn, size[:]); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a paused node answered ApiVersions (err %v)", err)
	}
	c.Cont(1)
	conn.SetReadDeadline(time.Now().Add(opTimeout))
	if _, err := io.ReadFull(conn, size[:]); err != nil {
		t.Fatalf("no answer after Cont: %v", err)
	}
	if err := c.WaitReady(ctx); err != nil {
		t.Fatalf("after Cont: %v", err)
	}

	// Kill, then Restart on the same data and ports.
	old := n.PID()
	c.Kill(1)
	if n.Running() || alive(old) {
		t.Fatal("node 1 still runs after Kill")
	}
	short, scancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	err = c.WaitReady(short)
	scancel()
	if err == nil || !strings.Contains(err.Error(), "no node is running") {
		t.Fatalf("WaitReady with every node dead: %v", err)
	}
	c.Restart(1)
	if n.PID() == old {
		t.Fatal("Restart kept the old pid")
	}
	if err := c.WaitReady(ctx); err != nil {
		t.Fatalf("after Restart: %v", err)
	}
	if got := consume(t, c, "one", 2); strings.Join(got, ",") != "a,b" {
		t.Fatalf("after restart consumed %q", got)
	}

	// Shutdown stops it cleanly.
	c.Shutdown(1)
	if !strings.Contains(n.LogTail(5), "stopped cleanly") {
		t.Fatalf("no clean stop in the log:\n%s", n.LogTail(20))
	}
}

func TestUnexpectedExitIsReported(t *testing.T) {
	c := Start(t, Options{Nodes: 1, Props: map[string]string{"num.partitions": "2"}})
	n := c.Node(1)
	// The process dies behind the harness's back.
	if err := syscall.Kill(n.PID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	err := c.WaitReady(ctx)
	if err == nil || !strings.Contains(err.Error(), "exited unexpectedly") || !strings.Contains(err.Error(), n.LogPath) {
		t.Fatalf("WaitReady = %v, want an unexpected exit naming the log", err)
	}
	if ctx.Err() != nil {
		t.Fatal("WaitReady waited for its deadline instead of failing at once")
	}
	n.ExpectExit() // or the harness fails the test when it ends
}

func TestBadPropertyFailsFastWithTheLog(t *testing.T) {
	// Start's t.Fatalf would end this test, so drive the pieces by hand.
	c := Start(t, Options{Nodes: 1})
	c.opt.Props = map[string]string{"no.such.property": "1"}
	c.Restart(1)
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	err := c.WaitReady(ctx)
	if err == nil || !strings.Contains(err.Error(), "no.such.property") {
		t.Fatalf("WaitReady = %v, want the node's complaint about the property", err)
	}
	c.Node(1).ExpectExit()
}

func TestThreeNodes(t *testing.T) {
	requireClusterSupport(t)
	c := Start(t, Options{Nodes: 3, Props: map[string]string{"default.replication.factor": "3"}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	produce(t, c.Client(t, kgo.AllowAutoTopicCreation()), "three", "before")

	// Inter-node connections come from the nodes' own source addresses
	// (never from 127.0.0.1, which the cuts cannot tell from clients).
	var fromNodes int64
	for _, n := range c.Nodes() {
		if got := n.ControllerProxy().SourceStats("127.0.0.1"); got.Accepted != 0 {
			t.Errorf("node %d's controller proxy saw %d connections from 127.0.0.1", n.ID, got.Accepted)
		}
		for _, m := range c.Nodes() {
			fromNodes += n.ControllerProxy().SourceStats(m.SourceIP).Accepted
		}
	}
	if fromNodes == 0 {
		t.Error("no controller proxy saw a connection from a node")
	}

	// An isolated node is fenced by the others; healed, it comes back.
	c.Isolate(3)
	if err := c.WaitFenced(ctx, 3); err != nil {
		t.Fatal(err)
	}
	c.Heal()
	if err := c.WaitReady(ctx); err != nil {
		t.Fatalf("after Heal: %v", err)
	}

	// A paused node is fenced too, and comes back when resumed.
	c.Stop(1)
	if err := c.WaitFenced(ctx, 1); err != nil {
		t.Fatal(err)
	}
	c.Cont(1)
	if err := c.WaitReady(ctx); err != nil {
		t.Fatalf("after Cont: %v", err)
	}

	// A killed node is fenced; restarted, it registers again.
	c.Kill(2)
	if err := c.WaitFenced(ctx, 2); err != nil {
		t.Fatal(err)
	}
	c.Restart(2)
	if err := c.WaitReady(ctx); err != nil {
		t.Fatalf("after Restart: %v", err)
	}

	// A broker-only node joins.
	n4 := c.AddNode()
	if n4.ID != 4 || n4.Voter {
		t.Fatalf("AddNode() = node %d voter %v", n4.ID, n4.Voter)
	}
	if err := c.WaitReady(ctx); err != nil {
		t.Fatalf("after AddNode: %v", err)
	}
	resp, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, c.Client(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Brokers) != 4 {
		t.Fatalf("Metadata lists %d brokers, want 4", len(resp.Brokers))
	}
	produce(t, c.Client(t), "three", "after")
	if got := consume(t, c, "three", 2); fmt.Sprint(got) != "[before after]" {
		t.Fatalf("consumed %q", got)
	}
}
