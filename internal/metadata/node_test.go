package metadata

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func openNode(t *testing.T, dir string, mut ...func(*NodeConfig)) *Node {
	t.Helper()
	cfg := NodeConfig{NodeID: 1, Dir: dir, BindAddr: "127.0.0.1:0", Logger: testLogger(t)}
	for _, m := range mut {
		m(&cfg)
	}
	n, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = n.Close() })
	return n
}

func waitReady(t *testing.T, n *Node) time.Duration {
	t.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.WaitReady(ctx); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	return time.Since(start)
}

func propose(t *testing.T, n *Node, rec Record) Image {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	img, err := n.Propose(ctx, rec)
	if err != nil {
		t.Fatalf("Propose(%T): %v", rec, err)
	}
	return img
}

func TestNodeSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	start := time.Now()
	n := openNode(t, dir)
	waitReady(t, n)
	firstLeader := time.Since(start)
	if !n.IsController() {
		t.Fatal("single voter is not the controller")
	}
	if id, ok := n.Leader(); !ok || id != 1 {
		t.Fatalf("Leader() = %d, %v", id, ok)
	}
	clusterID := n.Image().ClusterID()
	if len(clusterID) != 22 {
		t.Fatalf("cluster id %q", clusterID)
	}

	propose(t, n, broker(1))
	img := propose(t, n, CreateTopic{Name: "orders", TopicID: tid(1), Partitions: parts(3, 1), Configs: map[string]string{"retention.ms": "1000"}})
	if _, ok := img.Topic("orders"); !ok {
		t.Fatal("Propose returned an image without the topic")
	}
	propose(t, n, CreateTopic{Name: "events", TopicID: tid(2), Partitions: parts(1, 1)})
	propose(t, n, AlterConfigs{ResourceType: ResourceTopic, Name: "orders", Set: map[string]string{"cleanup.policy": "compact"}})
	propose(t, n, AlterConfigs{ResourceType: ResourceBroker, Name: "", Set: map[string]string{"log.retention.ms": "5"}})
	propose(t, n, AllocateProducerIDs{NodeID: 1, FirstID: 0, Count: 1000})
	propose(t, n, DeleteTopic{TopicID: tid(2)})
	before := n.Image()
	want := snapshotBytes(t, before)
	if err := n.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	start = time.Now()
	n2 := openNode(t, dir)
	waitReady(t, n2)
	restartLeader := time.Since(start)
	if got := snapshotBytes(t, n2.Image()); !bytes.Equal(got, want) {
		t.Fatalf("image after restart differs:\n got %s\nwant %s", got, want)
	}
	t.Logf("time to ready: first start %v, restart %v", firstLeader, restartLeader)
	if firstLeader > 3*time.Second || restartLeader > 3*time.Second {
		t.Fatalf("leader took too long: %v / %v", firstLeader, restartLeader)
	}
}

func TestNodeSnapshotAndRestart(t *testing.T) {
	dir := t.TempDir()
	n := openNode(t, dir)
	waitReady(t, n)
	propose(t, n, broker(1))
	for i := range 20 {
		propose(t, n, CreateTopic{Name: fmt.Sprintf("t%d", i), TopicID: tid(byte(i + 1)), Partitions: parts(2, 1)})
	}
	if err := n.Snapshot(); err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	// Entries after the snapshot are replayed on top of it.
	propose(t, n, DeleteTopic{TopicID: tid(3)})
	propose(t, n, ChangePartition{TopicID: tid(1), Partition: 1, Leader: NoLeader, PartitionEpoch: 0})
	want := snapshotBytes(t, n.Image())
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	snaps, _ := filepath.Glob(filepath.Join(dir, DirName, "snapshots", "*", "state.bin"))
	if len(snaps) == 0 {
		t.Fatal("no snapshot on disk")
	}

	n2 := openNode(t, dir)
	// The snapshot is restored by Open, before any election.
	if n2.Image().TopicCount() != 20 {
		t.Fatalf("restored image has %d topics, want 20", n2.Image().TopicCount())
	}
	waitReady(t, n2)
	if got := snapshotBytes(t, n2.Image()); !bytes.Equal(got, want) {
		t.Fatalf("image after restart differs:\n got %s\nwant %s", got, want)
	}
}

func TestNodeProposeErrors(t *testing.T) {
	n := openNode(t, t.TempDir())
	waitReady(t, n)
	propose(t, n, topic("a", 1, 1))

	ctx := context.Background()
	img, err := n.Propose(ctx, topic("a", 2, 1))
	if !errors.Is(err, ErrTopicExists) {
		t.Fatalf("duplicate: err = %v", err)
	}
	if _, ok := img.Topic("a"); !ok {
		t.Fatal("rejection did not return the current image")
	}
	if _, err := n.Propose(ctx, Batch{Records: []Record{Batch{}}}); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("nested batch: err = %v", err)
	}
	expired, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	defer cancel()
	if _, err := n.Propose(expired, topic("b", 2, 1)); !errors.Is(err, ErrTimeout) {
		t.Fatalf("expired context: err = %v", err)
	}
	if _, err := n.LeaderImage(ctx); err != nil {
		t.Fatalf("LeaderImage: %v", err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := n.Propose(ctx, topic("c", 3, 1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: err = %v", err)
	}
	if err := n.WaitReady(ctx); err != nil && !errors.Is(err, ErrClosed) {
		t.Fatalf("WaitReady after close: %v", err)
	}
}

func TestNodeSubscribe(t *testing.T) {
	n := openNode(t, t.TempDir())
	waitReady(t, n)
	ch, cancel := n.Subscribe()
	ch2, _ := n.Subscribe()
	img := propose(t, n, topic("a", 1, 1))
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("no notification")
	}
	if n.Image().Index() < img.Index() {
		t.Fatal("notified before the image was published")
	}
	// Many changes coalesce into at most one pending notification.
	for i := range 5 {
		propose(t, n, topic(fmt.Sprintf("b%d", i), byte(10+i), 1))
	}
	cancel()
	cancel()
	for len(ch) > 0 {
		<-ch
	}
	propose(t, n, topic("c", 20, 1))
	if len(ch) != 0 {
		t.Fatal("notified after cancel")
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-ch2:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("subscriber channel not closed by Close")
		}
	}
}

func TestNodeConcurrentProposals(t *testing.T) {
	n := openNode(t, t.TempDir())
	waitReady(t, n)
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				id := byte(g*10 + i + 1)
				if _, err := n.Propose(context.Background(), topic(fmt.Sprintf("g%d-%d", g, i), id, 1)); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := n.Image().TopicCount(); got != 40 {
		t.Fatalf("topics = %d, want 40", got)
	}
}

func TestNodeClusterID(t *testing.T) {
	dir := t.TempDir()
	n := openNode(t, dir, func(c *NodeConfig) { c.ClusterID = "my-cluster" })
	waitReady(t, n)
	if n.Image().ClusterID() != "my-cluster" {
		t.Fatalf("cluster id %q", n.Image().ClusterID())
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	n2 := openNode(t, dir, func(c *NodeConfig) { c.ClusterID = "other" })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n2.WaitReady(ctx); err == nil {
		t.Fatal("WaitReady accepted a different cluster id")
	}
}

func TestNodeOpenErrors(t *testing.T) {
	if _, err := Open(NodeConfig{NodeID: -1, Dir: t.TempDir()}); err == nil {
		t.Fatal("negative node id accepted")
	}
	if _, err := Open(NodeConfig{NodeID: 1}); err == nil {
		t.Fatal("missing dir accepted")
	}
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(NodeConfig{NodeID: 1, Dir: file, BindAddr: "127.0.0.1:0"}); err == nil {
		t.Fatal("dir that is a file accepted")
	}
	// A second node on the same directory fails (bbolt lock) instead of
	// hanging.
	dir := t.TempDir()
	n := openNode(t, dir)
	if _, err := Open(NodeConfig{NodeID: 1, Dir: dir, BindAddr: "127.0.0.1:0", Logger: testLogger(t)}); err == nil {
		t.Fatal("second Open on a locked directory succeeded")
	}
	// The port of a running node is taken.
	if _, err := Open(NodeConfig{NodeID: 2, Dir: t.TempDir(), BindAddr: n.Addr(), Logger: testLogger(t)}); err == nil {
		t.Fatal("second Open on a used port succeeded")
	}
}

// BenchmarkPropose measures one committed, fsynced, applied proposal on a
// single voter (sequential: no batching across proposals).
func BenchmarkPropose(b *testing.B) {
	n, err := Open(NodeConfig{NodeID: 1, Dir: b.TempDir(), BindAddr: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close()
	if err := n.WaitReady(context.Background()); err != nil {
		b.Fatal(err)
	}
	for i := 0; b.Loop(); i++ {
		if _, err := n.Propose(context.Background(), RegisterBroker{NodeID: int32(i % 100), Host: "h", Port: 1}); err != nil {
			b.Fatal(err)
		}
	}
}

// Close stops every goroutine the node started (Raft's included).
func TestNodeCloseLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	n := openNode(t, t.TempDir())
	waitReady(t, n)
	ch, _ := n.Subscribe()
	propose(t, n, topic("a", 1, 1))
	<-ch
	if err := n.Snapshot(); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines after Close, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond) // polling a condition with a deadline
	}
}
