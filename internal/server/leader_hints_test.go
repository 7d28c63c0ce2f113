package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	topiccli "github.com/samsa-streaming/samsa/internal/cli/topic"
	"github.com/samsa-streaming/samsa/internal/testutil/testserver"
)

// TestLeaderHints sends a Produce (v11) and a Fetch (v16) for a partition
// to a broker that does not lead it: both must name the leader and its
// epoch (KIP-951 CurrentLeader) and list the leader's endpoint, so that a
// client moves the partition without a metadata refresh.
func TestLeaderHints(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	nodes := testserver.StartCluster(t, 3, nil).Nodes
	var seeds []string
	for _, n := range nodes {
		seeds = append(seeds, n.KafkaAddr())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	waitBrokers(ctx, t, nodes, 3)
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	create := kmsg.NewPtrCreateTopicsRequest()
	ct := kmsg.NewCreateTopicsRequestTopic()
	ct.Topic, ct.NumPartitions, ct.ReplicationFactor = "hints", 1, 1
	create.Topics = append(create.Topics, ct)
	if resp, err := create.RequestWith(ctx, cl); err != nil || resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("create topic: %v %+v", err, resp)
	}
	var meta *kmsg.MetadataResponse
	for {
		req := kmsg.NewPtrMetadataRequest()
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr("hints")
		req.Topics = append(req.Topics, rt)
		meta, err = req.RequestWith(ctx, cl)
		if err == nil && len(meta.Topics) == 1 && len(meta.Topics[0].Partitions) == 1 && meta.Topics[0].Partitions[0].Leader >= 0 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("no leader for hints-0: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	p0 := meta.Topics[0].Partitions[0]
	leader, epoch := p0.Leader, p0.LeaderEpoch
	var other int32 = -1
	var leaderBroker kmsg.MetadataResponseBroker
	for _, br := range meta.Brokers {
		if br.NodeID == leader {
			leaderBroker = br
		} else if other < 0 {
			other = br.NodeID
		}
	}
	// The other node must know the topic before it can point elsewhere.
	waitTopicOn(ctx, t, cl, other, "hints")

	check := func(api string, code int16, id, ep int32, ids []int32, hosts []string, ports []int32) {
		t.Helper()
		if code != kerr.NotLeaderForPartition.Code {
			t.Errorf("%s to node %d: error code %d, want NOT_LEADER_OR_FOLLOWER", api, other, code)
		}
		if id != leader || ep != epoch {
			t.Errorf("%s: CurrentLeader = %d epoch %d, want %d epoch %d", api, id, ep, leader, epoch)
		}
		if len(ids) != 1 || ids[0] != leader || hosts[0] != leaderBroker.Host || ports[0] != leaderBroker.Port {
			t.Errorf("%s: NodeEndpoints = %v %v %v, want node %d at %s:%d", api, ids, hosts, ports, leader, leaderBroker.Host, leaderBroker.Port)
		}
	}

	produce := kmsg.NewPtrProduceRequest()
	produce.Version, produce.Acks, produce.TimeoutMillis = 11, 1, 5000
	pt := kmsg.NewProduceRequestTopic()
	pt.Topic = "hints"
	pp := kmsg.NewProduceRequestTopicPartition()
	pt.Partitions = append(pt.Partitions, pp)
	produce.Topics = append(produce.Topics, pt)
	presp, err := cl.Broker(int(other)).RetriableRequest(ctx, produce)
	if err != nil {
		t.Fatal(err)
	}
	pr := presp.(*kmsg.ProduceResponse)
	pp0 := pr.Topics[0].Partitions[0]
	var ids, ports []int32
	var hosts []string
	for _, br := range pr.Brokers {
		ids, hosts, ports = append(ids, br.NodeID), append(hosts, br.Host), append(ports, br.Port)
	}
	check("Produce v11", pp0.ErrorCode, pp0.CurrentLeader.LeaderID, pp0.CurrentLeader.LeaderEpoch, ids, hosts, ports)

	fetch := kmsg.NewPtrFetchRequest()
	fetch.Version, fetch.ReplicaID, fetch.MaxBytes = 16, -1, 1<<20
	ft := kmsg.NewFetchRequestTopic()
	ft.TopicID = meta.Topics[0].TopicID
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.PartitionMaxBytes = 1 << 20
	ft.Partitions = append(ft.Partitions, fp)
	fetch.Topics = append(fetch.Topics, ft)
	fresp, err := cl.Broker(int(other)).RetriableRequest(ctx, fetch)
	if err != nil {
		t.Fatal(err)
	}
	fr := fresp.(*kmsg.FetchResponse)
	fp0 := fr.Topics[0].Partitions[0]
	ids, hosts, ports = nil, nil, nil
	for _, br := range fr.Brokers {
		ids, hosts, ports = append(ids, br.NodeID), append(hosts, br.Host), append(ports, br.Port)
	}
	check("Fetch v16", fp0.ErrorCode, fp0.CurrentLeader.LeaderID, fp0.CurrentLeader.LeaderEpoch, ids, hosts, ports)
}

// waitTopicOn waits until node's own Metadata answer has topic.
func waitTopicOn(ctx context.Context, t *testing.T, cl *kgo.Client, node int32, topic string) {
	t.Helper()
	for !topiccli.BrokerKnows(ctx, cl.Broker(int(node)), topic) {
		if ctx.Err() != nil {
			t.Fatalf("node %d does not know topic %s", node, topic)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
