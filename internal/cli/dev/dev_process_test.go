//go:build linux

package dev

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streaming/samsa/internal/testutil/samsabin"
)

// These tests run the real thing: cmd/samsa built with `go build`, then
// `samsa dev` as a child process of the test, which starts its own children.

const (
	upTimeout   = 90 * time.Second // for `samsa dev` to print the cluster
	exitTimeout = 30 * time.Second // for it to exit after a signal
)

// samsaBinary returns the samsa binary the tests run (built once per test
// process, see samsabin).
func samsaBinary(t *testing.T) string { return samsabin.Must(t) }

// requireClusterSupport fails a multi-node test early, with a clear
// message, if the binary cannot run a cluster.
func requireClusterSupport(t *testing.T, bin string) {
	t.Helper()
	out, err := exec.Command(bin, "server", "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("samsa server --help: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("inter.node.source.address")) {
		t.Fatal("this samsa binary has no cluster support (no inter.node.source.address property)")
	}
}

// freeBasePort returns a base port whose Kafka, controller and HTTP ports
// for n nodes are all free now.
func freeBasePort(t *testing.T, n int) int {
	t.Helper()
	for range 50 {
		// Below Linux's ephemeral ports (32768 up), which other tests'
		// listeners on port 0 get.
		base := 10000 + rand.IntN(22000)
		specs, err := plan(t.TempDir(), n, base, nil)
		if err != nil {
			t.Fatal(err)
		}
		if checkPortsFree(specs) == nil {
			return base
		}
	}
	t.Fatal("no free base port found")
	return 0
}

// syncBuffer is a bytes.Buffer safe for a writer goroutine and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// devRun is a running `samsa dev`.
type devRun struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	view   ClusterView
	exited chan struct{}
	err    error // valid after exited is closed
}

// startDev runs `samsa dev --format json` with args and waits for it to
// print the cluster. The process is killed when the test ends if it still
// runs.
func startDev(t *testing.T, bin string, args ...string) *devRun {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"dev", "--format", "json"}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	d := &devRun{cmd: cmd, stderr: &syncBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = d.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	decoded := make(chan struct{}) // closed once the cluster was read
	var decodeErr error
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		decodeErr = json.NewDecoder(stdout).Decode(&d.view)
		close(decoded)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() {
		<-readDone // Wait must not run before the reads of the pipe end
		d.err = cmd.Wait()
		close(d.exited)
	}()
	t.Cleanup(func() {
		if !d.done() {
			_ = cmd.Process.Kill()
			<-d.exited
		}
		if t.Failed() {
			t.Logf("samsa dev stderr:\n%s", d.stderr.String())
		}
	})
	select {
	case <-decoded:
		if decodeErr != nil {
			t.Fatalf("samsa dev printed no cluster: %v\nstderr:\n%s", decodeErr, d.stderr.String())
		}
	case <-time.After(upTimeout):
		t.Fatalf("samsa dev did not print the cluster within %v\nstderr:\n%s", upTimeout, d.stderr.String())
	}
	return d
}

func (d *devRun) done() bool {
	select {
	case <-d.exited:
		return true
	default:
		return false
	}
}

// waitExit waits for the process to end and returns its error.
func (d *devRun) waitExit(t *testing.T) error {
	t.Helper()
	select {
	case <-d.exited:
		return d.err
	case <-time.After(exitTimeout):
		t.Fatalf("samsa dev did not exit within %v", exitTimeout)
		return nil
	}
}

// checkView checks what `samsa dev` printed for n nodes under dir.
func checkView(t *testing.T, v ClusterView, n, base int, dir string) {
	t.Helper()
	if len(v.Nodes) != n {
		t.Fatalf("%d nodes printed, want %d: %+v", len(v.Nodes), n, v)
	}
	var addrs []string
	for i, node := range v.Nodes {
		id := i + 1
		want := NodeView{
			Node:       int32(id),
			Kafka:      "127.0.0.1:" + strconv.Itoa(base+i),
			Controller: "127.0.0.1:" + strconv.Itoa(base+100+i),
			HTTP:       "127.0.0.1:" + strconv.Itoa(base+200+i),
			Voter:      id <= VoterCount(n),
			PID:        node.PID,
			Data:       filepath.Join(dir, "node-"+strconv.Itoa(id)),
			Log:        filepath.Join(dir, "node-"+strconv.Itoa(id), "samsa.log"),
		}
		if node != want {
			t.Errorf("node %d = %+v, want %+v", id, node, want)
		}
		if node.PID <= 0 || !processAlive(node.PID) {
			t.Errorf("node %d: pid %d is not running", id, node.PID)
		}
		addrs = append(addrs, want.Kafka)
	}
	if v.Bootstrap != strings.Join(addrs, ",") {
		t.Errorf("bootstrap = %q, want %q", v.Bootstrap, strings.Join(addrs, ","))
	}
}

// processAlive reports whether pid exists (and is not a zombie we could
// still signal: the dev process reaps its children).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// waitGone fails the test unless every pid is gone within exitTimeout.
func waitGone(t *testing.T, pids ...int) {
	t.Helper()
	deadline := time.Now().Add(exitTimeout)
	for _, pid := range pids {
		for processAlive(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("pid %d still runs after samsa dev exited", pid)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// produceConsume writes value to topic through bootstrap and reads the
// topic from the start until value comes back.
func produceConsume(t *testing.T, bootstrap, topic, value string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(bootstrap, ",")...), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(value)}).FirstErr(); err != nil {
		t.Fatalf("produce to %s: %v", topic, err)
	}
	if got := consumeAll(ctx, t, bootstrap, topic, value); !contains(got, value) {
		t.Fatalf("consumed %q from %s, want %q among them", got, topic, value)
	}
}

// consumeAll reads topic from the start until want shows up or ctx ends and
// returns the values read.
func consumeAll(ctx context.Context, t *testing.T, bootstrap, topic, want string) []string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(bootstrap, ",")...),
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var got []string
	for !contains(got, want) {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consume %s: %v (read %q)", topic, ctx.Err(), got)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Logf("fetch %s/%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	return got
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func TestDevOneNode(t *testing.T) {
	bin := samsaBinary(t)
	dir := filepath.Join(t.TempDir(), "dev")
	base := freeBasePort(t, 1)
	args := []string{"--nodes", "1", "--dir", dir, "--base-port", strconv.Itoa(base), "--grace", "20s"}

	// First run: the cluster comes up, serves a round trip and stops on
	// SIGTERM, passing it on to the node.
	d := startDev(t, bin, args...)
	checkView(t, d.view, 1, base, dir)
	produceConsume(t, d.view.Bootstrap, "dev-first", "hello")
	pid := d.view.Nodes[0].PID
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := d.waitExit(t); err != nil {
		t.Fatalf("samsa dev after SIGTERM: %v\nstderr:\n%s", err, d.stderr.String())
	}
	waitGone(t, pid)
	if log := LogTail(filepath.Join(dir, "node-1", "samsa.log"), 5); !strings.Contains(log, "stopped cleanly") {
		t.Errorf("the node did not stop cleanly; its log ends with:\n%s", log)
	}
	for _, want := range []string{"waiting for node 1", "cluster is up", "node 1 stopped"} {
		if !strings.Contains(d.stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, d.stderr.String())
		}
	}

	// Second run on the same --dir: the data is still there. Then the node
	// dies on its own: samsa dev reports it and, with no node left, exits.
	d = startDev(t, bin, args...)
	checkView(t, d.view, 1, base, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	consumeAll(ctx, t, d.view.Bootstrap, "dev-first", "hello")
	if err := syscall.Kill(d.view.Nodes[0].PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err := d.waitExit(t)
	if err == nil {
		t.Fatal("samsa dev exited with status 0 after its only node died")
	}
	for _, want := range []string{"node 1 (pid", "exited unexpectedly", "signal: killed", "samsa.log", "every node has exited"} {
		if !strings.Contains(d.stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, d.stderr.String())
		}
	}
}

func TestDevRefusesBusyPortAndOtherLayout(t *testing.T) {
	bin := samsaBinary(t)
	dir := filepath.Join(t.TempDir(), "dev")
	base := freeBasePort(t, 2)
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(base+101)) // node 2's controller port
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "dev", "--nodes", "2", "--dir", dir, "--base-port", strconv.Itoa(base)).CombinedOutput()
	ln.Close()
	want := fmt.Sprintf("127.0.0.1:%d (node 2 controller)", base+101)
	if err == nil || !bytes.Contains(out, []byte(want)) {
		t.Fatalf("err = %v, output:\n%s\nwant it to name %s", err, out, want)
	}
	if err := writeLayout(dir, layout{Nodes: 3, BasePort: base}); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(bin, "dev", "--nodes", "2", "--dir", dir, "--base-port", strconv.Itoa(base)).CombinedOutput()
	if err == nil || !bytes.Contains(out, []byte("holds a cluster of 3 node(s)")) {
		t.Fatalf("err = %v, output:\n%s", err, out)
	}
}

func TestDevThreeNodes(t *testing.T) {
	bin := samsaBinary(t)
	requireClusterSupport(t, bin)
	dir := filepath.Join(t.TempDir(), "dev")
	base := freeBasePort(t, 3)
	d := startDev(t, bin, "--nodes", "3", "--dir", dir, "--base-port", strconv.Itoa(base), "--grace", "20s")
	checkView(t, d.view, 3, base, dir)
	produceConsume(t, d.view.Bootstrap, "dev-three", "hello three")

	// A node dying is reported; the others keep serving.
	victim := d.view.Nodes[2].PID
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(exitTimeout)
	for !strings.Contains(d.stderr.String(), "node 3 (pid") {
		if time.Now().After(deadline) || d.done() {
			t.Fatalf("the death of node 3 was not reported:\n%s", d.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Once the others have fenced it, new topics avoid it.
	for _, n := range d.view.Nodes[:2] {
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			ids, err := BrokerIDs(ctx, n.Kafka)
			cancel()
			if err == nil && len(ids) == 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("node %d still lists brokers %v (err %v) after node 3 died", n.Node, ids, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	produceConsume(t, d.view.Nodes[0].Kafka, "dev-three-after", "still up")

	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := d.waitExit(t); err != nil {
		t.Fatalf("samsa dev after SIGTERM: %v", err)
	}
	waitGone(t, d.view.Nodes[0].PID, d.view.Nodes[1].PID, victim)
}
