package cluster

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The tests in this file run against a real cluster of three or more
// brokers (samsa or Kafka), not kfake, because they need reassignments that
// really copy replicas:
//
//	SAMSA_TEST_CLUSTER=127.0.0.1:9092 go test ./internal/cli/cluster/ -run E2E
//
// TestE2EDecommission also drains and unregisters a broker, so it runs only
// when SAMSA_TEST_CLUSTER_DECOMMISSION names the broker id it may take out
// (restart that node afterwards to bring it back).
const (
	envTestCluster      = "SAMSA_TEST_CLUSTER"
	envTestDecommission = "SAMSA_TEST_CLUSTER_DECOMMISSION"
)

// e2eCluster returns the bootstrap of the real cluster, an admin client and
// the live broker ids (at least three), or skips the test when
// SAMSA_TEST_CLUSTER is not set.
func e2eCluster(t *testing.T) (string, *kadm.Client, []int32) {
	t.Helper()
	addrs := os.Getenv(envTestCluster)
	if addrs == "" {
		t.Skipf("set %s=host:port of a cluster of 3+ brokers to run this end-to-end test", envTestCluster)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(addrs, ",")...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	md, err := adm.BrokerMetadata(ctx)
	if err != nil {
		t.Fatalf("metadata of %s: %v", addrs, err)
	}
	ids := md.Brokers.NodeIDs()
	slices.Sort(ids)
	if len(ids) < 3 {
		t.Fatalf("%s=%s lists brokers %v; the end-to-end tests need 3 or more", envTestCluster, addrs, ids)
	}
	return addrs, adm, ids
}

// e2eTopic creates a topic of 6 partitions at replication factor 2 whose
// replicas all sit on brokers a and b (a first), waiting until the
// reassignment that puts them there is done; it is deleted at the end.
func e2eTopic(t *testing.T, adm *kadm.Client, a, b int32) string {
	t.Helper()
	name := uniqueName(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := adm.CreateTopic(ctx, 6, 2, nil, name); err != nil {
		t.Fatalf("create topic: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		adm.DeleteTopics(ctx, name)
	})
	var req kadm.AlterPartitionAssignmentsReq
	for p := range int32(6) {
		req.Assign(name, p, []int32{a, b})
	}
	resps, err := adm.AlterPartitionAssignments(ctx, req)
	if err == nil {
		err = resps.Error()
	}
	if err != nil {
		t.Fatalf("place %s on brokers %d and %d: %v", name, a, b, err)
	}
	e2eWait(ctx, t, "the skewing reassignment", func() bool {
		rs, err := adm.ListPartitionReassignments(ctx, kadm.TopicsSet{name: {0: {}, 1: {}, 2: {}, 3: {}, 4: {}, 5: {}}})
		return err == nil && len(rs[name]) == 0
	})
	return name
}

// e2eWait polls cond every 100 ms until it holds or ctx ends.
func e2eWait(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}

func TestE2ERebalance(t *testing.T) {
	addrs, adm, ids := e2eCluster(t)
	pollInterval = 200 * time.Millisecond
	t.Cleanup(func() { pollInterval = 10 * time.Millisecond })
	topic := e2eTopic(t, adm, ids[0], ids[1])

	r := mustRun(t, addrs, "rebalance", "--topics", topic, "--timeout", "3m")
	if !strings.Contains(r.stdout, "Rebalance complete") {
		t.Fatalf("stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Replicas even within one, every partition led by its first replica
	// once the brokers' metadata caught up and the preferred election took
	// effect.
	var last string
	e2eWait(ctx, t, "balanced replicas led by their first replica", func() bool {
		reps := replicas(t, addrs, topic)
		load := map[int32]int{}
		for _, rs := range reps {
			for _, r := range rs {
				load[r]++
			}
		}
		details, err := adm.ListTopics(ctx, topic)
		if err != nil {
			last = err.Error()
			return false
		}
		last = fmt.Sprintf("replicas %v, per broker %v, topic %+v", reps, load, details[topic].Partitions)
		lo, hi := 1<<30, 0
		for _, id := range ids {
			lo, hi = min(lo, load[id]), max(hi, load[id])
		}
		if hi-lo > 1 || len(reps) != 6 {
			return false
		}
		for p, rs := range reps {
			if len(rs) != 2 || rs[0] == rs[1] || details[topic].Partitions[p].Leader != rs[0] {
				return false
			}
		}
		return true
	})
	t.Logf("after rebalance: %s", last)

	r = mustRun(t, addrs, "rebalance", "--topics", topic, "--dry-run")
	if !strings.Contains(r.stdout, "Nothing to move") {
		t.Fatalf("second rebalance plans moves:\n%s", r.stdout)
	}
	mustRun(t, addrs, "reassignments")
	for _, row := range tableRows(t, mustRun(t, addrs, "elect-leaders", "--topic", topic).stdout) {
		if row["STATUS"] != "OK" && !strings.HasPrefix(row["STATUS"], "ELECTION_NOT_NEEDED") {
			t.Errorf("preferred election of a balanced topic: %v", row)
		}
	}
	// A dry-run decommission of the last broker plans only moves off it.
	var out outcomeJSON
	lastID := ids[len(ids)-1]
	decodeJSON(t, mustRun(t, addrs, "decommission", fmt.Sprint(lastID), "--dry-run", "--format", "json").stdout, &out)
	for _, m := range out.Moves {
		if !slices.Contains(m.CurrentReplicas, lastID) || slices.Contains(m.TargetReplicas, lastID) {
			t.Errorf("decommission plan move %+v", m)
		}
	}
}

func TestE2EDecommission(t *testing.T) {
	addrs, adm, ids := e2eCluster(t)
	raw := os.Getenv(envTestDecommission)
	if raw == "" {
		t.Skipf("set %s=ID to let this test drain and unregister broker ID", envTestDecommission)
	}
	n, err := strconv.ParseInt(raw, 10, 32)
	node := int32(n)
	if err != nil || !slices.Contains(ids, node) {
		t.Fatalf("%s=%s: want one of the live brokers %v", envTestDecommission, raw, ids)
	}
	pollInterval = 200 * time.Millisecond
	t.Cleanup(func() { pollInterval = 10 * time.Millisecond })
	other := ids[0]
	if other == node {
		other = ids[1]
	}
	topic := e2eTopic(t, adm, node, other)

	r := mustRun(t, addrs, "decommission", raw, "--timeout", "5m")
	if !strings.Contains(r.stdout, fmt.Sprintf("Broker %d holds no replicas", node)) {
		t.Fatalf("stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
	for p, rs := range replicas(t, addrs, topic) {
		if slices.Contains(rs, node) || len(rs) != 2 {
			t.Errorf("%s-%d after decommission: %v", topic, p, rs)
		}
	}
	t.Logf("decommission output:\n%s\n%s", r.stdout, r.stderr)
}
