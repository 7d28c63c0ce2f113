package compat

import (
	"context"
	"os"
	"strconv"
	"testing"

	"github.com/samsa-streaming/samsa/internal/testutil/testserver"
)

// TestFollowerReadsLibrdkafka checks KIP-392 with librdkafka: on a 3-node
// cluster with racks rack-1..rack-3 and the rack-aware replica selector, a
// confluent-kafka consumer in rack-1 reads a 3-partition RF 3 topic (each
// node leads one partition). It must get every record; node 1 must serve
// the partitions it follows as a follower, and the other leaders must only
// redirect it, never send it records.
func TestFollowerReadsLibrdkafka(t *testing.T) {
	if os.Getenv("SAMSA_TEST_BROKERS") != "" {
		t.Skip("SAMSA_TEST_BROKERS is set: this test starts its own cluster with racks")
	}
	requirePython(t, "confluent_kafka")
	cluster := testserver.StartCluster(t, 3, map[string]string{
		"broker.rack":            "rack-{id}",
		"replica.selector.class": "org.apache.kafka.common.replica.RackAwareReplicaSelector",
		"min.insync.replicas":    "3", // every acknowledged record is on every replica
	})
	addr := cluster.Bootstrap()
	replicatedClusters.Store(addr, int16(3))
	ctx, cancel := context.WithTimeout(t.Context(), pairTimeout)
	defer cancel()
	_, adm := newAdmin(t, addr)
	topic := uniqueTopic("follower-reads")
	detail := createTopic(ctx, t, adm, addr, topic)
	leaders := map[int32]bool{}
	for _, p := range detail.Partitions {
		leaders[p.Leader] = true
	}
	if len(leaders) != 3 {
		t.Fatalf("partition leaders %v: want one partition led by each node", detail.Partitions)
	}

	sent := makeRecords("franz-go", recordsPerRun, true)
	if err := franzGoClient().produce(ctx, t, addr, topic, "none", sent); err != nil {
		t.Fatal(err)
	}
	out, err := runTool(ctx, t, nil, debianPython, "py/confluent_client.py", "consume", "--brokers", addr,
		"--topic", topic, "--count", strconv.Itoa(len(sent)), "--timeout", "45", "--rack", "rack-1")
	if err != nil {
		t.Fatal(err)
	}
	got, err := parseRecords(out)
	if err != nil {
		t.Fatal(err)
	}
	reportProblems(t, "confluent consumed", consumedProblems(sent, got))

	for id, node := range cluster.Nodes {
		st := node.Broker().Stats()
		t.Logf("node %d: %d bytes to consumers as leader, %d as follower, %d redirects",
			id, st.ConsumerFetchBytes, st.FollowerReadBytes, st.ReadRedirects)
		switch {
		case id == 1 && st.FollowerReadBytes == 0:
			t.Errorf("node 1 (the consumer's rack) served nothing as a follower")
		case id != 1 && (st.ConsumerFetchBytes != 0 || st.ReadRedirects == 0):
			t.Errorf("node %d (another rack) sent the consumer %d bytes and %d redirects, want none and some",
				id, st.ConsumerFetchBytes, st.ReadRedirects)
		}
	}
}
