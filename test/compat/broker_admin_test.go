package compat

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	topiccli "github.com/samsa-streaming/samsa/internal/cli/topic"
)

// topicPartitions is the partition count of every topic the suite creates.
const topicPartitions = 3

// seeds splits a broker address list ("host:port[,host:port...]").
func seeds(addr string) []string { return strings.Split(addr, ",") }

// newAdmin returns a franz-go client (and its admin wrapper) for the
// suite's own bookkeeping: creating topics and reading stored batches.
func newAdmin(t *testing.T, addr string) (*kgo.Client, *kadm.Client) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds(addr)...), kgo.ClientID("compat-admin"))
	if err != nil {
		t.Fatalf("admin client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl, kadm.NewClient(cl)
}

var topicSeq atomic.Int64

// uniqueTopic names a fresh topic for one test. The time prefix keeps names
// unique across runs against a long-lived broker (SAMSA_TEST_BROKERS).
func uniqueTopic(parts ...string) string {
	name := fmt.Sprintf("compat-%s-%d-%d", strings.Join(parts, "-"), time.Now().UnixMilli()%1_000_000_000, topicSeq.Add(1))
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, name)
}

// createTopic creates topic with topicPartitions partitions and waits, up to
// ctx's deadline, until metadata shows a leader for every partition.
func createTopic(ctx context.Context, t *testing.T, adm *kadm.Client, addr, topic string) kadm.TopicDetail {
	t.Helper()
	resp, err := adm.CreateTopic(ctx, topicPartitions, replicationFactor(t, addr), nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	// Every seed broker must know the topic: on a cluster each broker
	// learns it from the metadata log a moment apart, and some clients
	// (kafka-go) do not retry UNKNOWN_TOPIC_OR_PARTITION on produce.
	detail := waitTopicReady(ctx, t, adm, topic)
	for _, seed := range seeds(addr) {
		waitBrokerKnows(ctx, t, seed, topic)
	}
	return detail
}

// waitBrokerKnows waits, up to ctx's deadline, until the broker at addr
// itself answers Metadata for topic with a leader for every partition.
func waitBrokerKnows(ctx context.Context, t *testing.T, addr, topic string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ClientID("compat-admin"))
	if err != nil {
		t.Fatalf("admin client: %v", err)
	}
	defer cl.Close()
	for !topiccli.BrokerKnows(ctx, cl.SeedBrokers()[0], topic) {
		select {
		case <-ctx.Done():
			t.Fatalf("broker %s does not know topic %s before the deadline", addr, topic)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// waitTopicReady waits, up to ctx's deadline, until adm's metadata shows a
// leader for every partition of topic.
func waitTopicReady(ctx context.Context, t *testing.T, adm *kadm.Client, topic string) kadm.TopicDetail {
	t.Helper()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		details, err := adm.ListTopics(ctx, topic)
		if err == nil {
			if d, ok := details[topic]; ok && d.Err == nil && topicReady(d) {
				return d
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("topic %s has no leader for every partition before the deadline (last error %v)", topic, err)
		case <-tick.C:
		}
	}
}

// replicatedClusters maps the address of a cluster started by
// TestCrossClientReplicated to the replication factor of its topics.
var replicatedClusters sync.Map

// replicationFactor is the replication factor of the suite's topics on
// addr: 1, the factor registered for a cluster this suite started, or
// SAMSA_TEST_REPLICATION_FACTOR when the suite runs against an outside
// cluster (SAMSA_TEST_BROKERS).
func replicationFactor(t *testing.T, addr string) int16 {
	if rf, ok := replicatedClusters.Load(addr); ok {
		return rf.(int16)
	}
	v := strings.TrimSpace(os.Getenv("SAMSA_TEST_REPLICATION_FACTOR"))
	if v == "" {
		return 1
	}
	n, err := strconv.ParseInt(v, 10, 16)
	if err != nil || n < 1 {
		t.Fatalf("SAMSA_TEST_REPLICATION_FACTOR=%q is not a replication factor", v)
	}
	return int16(n)
}

func topicReady(d kadm.TopicDetail) bool {
	if len(d.Partitions) != topicPartitions {
		return false
	}
	for _, p := range d.Partitions {
		if p.Err != nil || p.Leader < 0 {
			return false
		}
	}
	return true
}
