package controller

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

func openRaftNode(t *testing.T, dir string) *metadata.Node {
	t.Helper()
	n, err := metadata.Open(metadata.NodeConfig{
		NodeID: 1, Dir: dir, BindAddr: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	wctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.WaitReady(wctx); err != nil {
		t.Fatal(err)
	}
	return n
}

// End to end on a real single-voter Raft quorum: the broker registers,
// topics are created, altered, grown and deleted, producer ids handed out;
// everything survives a restart.
func TestControllerOnRaft(t *testing.T) {
	dir := t.TempDir()
	node := openRaftNode(t, dir)
	c := New(node, Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	rctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	epoch, err := c.RegisterBroker(rctx, BrokerRegistration{NodeID: 1, Host: "127.0.0.1", Port: 9092, IncarnationID: [16]byte{9}})
	if err != nil {
		t.Fatal(err)
	}
	// The registration is fenced until a heartbeat shows it caught up.
	hb := kmsg.NewPtrBrokerHeartbeatRequest()
	hb.BrokerID, hb.BrokerEpoch, hb.CurrentMetadataOffset = 1, epoch, int64(node.Image().Index())
	if r := c.BrokerHeartbeat(rctx, hb); r.ErrorCode != 0 || r.IsFenced || !r.IsCaughtUp {
		t.Fatalf("heartbeat: %+v", r)
	}
	res := c.CreateTopics(rctx, []TopicSpec{
		{Name: "orders", NumPartitions: 3, ReplicationFactor: 1, Configs: map[string]*string{"retention.ms": str("60000")}},
		{Name: "events", NumPartitions: -1, ReplicationFactor: -1},
		{Name: "bad", NumPartitions: 1, ReplicationFactor: 2},
	}, false)
	if res[0].Err != nil || res[1].Err != nil || res[2].Err != kerr.InvalidReplicationFactor {
		t.Fatalf("create results %+v", res)
	}
	if r := c.CreatePartitions(rctx, []PartitionsSpec{{Topic: "orders", Count: 5}}, false); r[0].Err != nil {
		t.Fatal(r[0].Err, r[0].ErrMessage)
	}
	if r := c.IncrementalAlterConfigs(rctx, []IncrementalAlterConfigsResource{{Type: metadata.ResourceTopic, Name: "orders",
		Ops: []ConfigOp{{"cleanup.policy", opAppend, str("compact")}}}}, false); r[0].Err != nil {
		t.Fatal(r[0].Err, r[0].ErrMessage)
	}
	if r := c.DeleteTopics(rctx, []TopicRef{{Name: "events"}}); r[0].Err != nil {
		t.Fatal(r[0].Err)
	}
	first, _, err := c.AllocateProducerIDBlock(rctx, 1, epoch)
	if err != nil || first != 0 {
		t.Fatalf("producer ids: %d %v", first, err)
	}
	ordersID := res[0].TopicID
	if err := node.Close(); err != nil {
		t.Fatal(err)
	}

	node = openRaftNode(t, dir)
	c = New(node, Config{})
	img := node.Image()
	tp, ok := img.Topic("orders")
	if !ok || tp.ID != ordersID || len(tp.Partitions) != 5 || tp.Configs["cleanup.policy"] != "delete,compact" || tp.Configs["retention.ms"] != "60000" {
		t.Fatalf("orders after restart: %+v", tp)
	}
	if _, ok := img.Topic("events"); ok {
		t.Fatal("deleted topic is back")
	}
	if b, ok := img.Broker(1); !ok || b.Epoch != epoch {
		t.Fatalf("broker after restart: %+v", b)
	}
	first, _, err = c.AllocateProducerIDBlock(rctx, 1, -1)
	if err != nil || first != 1000 {
		t.Fatalf("producer ids after restart: %d %v (block reused?)", first, err)
	}
	if r := c.CreateTopics(rctx, []TopicSpec{{Name: "orders", NumPartitions: 1, ReplicationFactor: 1}}, false); r[0].Err != kerr.TopicAlreadyExists {
		t.Fatalf("recreate after restart: %v", r[0].Err)
	}
}
