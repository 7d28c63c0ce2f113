//go:build unix

// Package cluster_test runs end-to-end fault tests against clusters of real
// samsa processes (internal/testutil/procluster): leader kills, network
// partitions, quorum loss, scale-out and randomized faults. Every test feeds
// a checker.History from idempotent acks=all producers, reads every
// partition once more at the end, and checks that no acknowledged record was
// lost, duplicated or reordered; then it stops the nodes cleanly and
// compares the replicas on disk with replicacheck.
//
// The shared helpers live in this file and load_test.go (the load generator):
//
//	adm := NodeAdmin(t, c.Bootstrap()...)
//	CreateTopic(t, ctx, adm, "t", 3, 3, map[string]string{"min.insync.replicas": "2"})
//	load := StartLoad(t, c, h, LoadOptions{Topic: "t", Partitions: 3})
//	// ... break and heal the cluster ...
//	load.Stop(ctx)
//	ReadAll(t, ctx, c, h, "t", 3)
//	if r := h.Check(); !r.OK() { t.Fatal(r) }
//	StopAndCompare(t, c, map[string]int32{"t": 3})
package cluster_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/testutil/checker"
	"github.com/samsa-streaming/samsa/internal/testutil/procluster"
	"github.com/samsa-streaming/samsa/internal/testutil/replicacheck"
)

// pollInterval is how often the Wait helpers look again.
const pollInterval = 100 * time.Millisecond

// EnvLogDir names an environment variable: when set, the node logs of the
// tests that use LogDir are kept in $SAMSA_TEST_LOG_DIR/<test name>.
const EnvLogDir = "SAMSA_TEST_LOG_DIR"

// LogDir returns the procluster.Options.LogDir for t: a directory under
// $SAMSA_TEST_LOG_DIR named after the test, or "" (the logs go to the
// test's temporary directory and are removed with it).
func LogDir(t testing.TB) string {
	root := os.Getenv(EnvLogDir)
	if root == "" {
		return ""
	}
	return filepath.Join(root, strings.ReplaceAll(t.Name(), "/", "_"))
}

// adminMetadataAge bounds the age of the cached Metadata answers an admin
// client of the tests acts on.
const adminMetadataAge = 50 * time.Millisecond

// NodeAdmin returns an admin client seeded only with addrs (for instance
// the nodes on the majority side of a partition), closed when the test ends.
// Its Metadata answers are never older than adminMetadataAge: kgo caches
// them for 5 s by default, which would make every poll of leaders and ISRs
// up to 5 s late.
func NodeAdmin(t testing.TB, addrs ...string) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.MetadataMinAge(adminMetadataAge))
	if err != nil {
		t.Fatalf("admin client for %v: %v", addrs, err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// AddrsExcept returns the proxied Kafka addresses of every node of c but
// the ones listed.
func AddrsExcept(c *procluster.Cluster, except ...int32) []string {
	var out []string
	for _, n := range c.Nodes() {
		if !slices.Contains(except, n.ID) {
			out = append(out, n.KafkaAddr)
		}
	}
	return out
}

// CreateTopic creates topic with the given partition count, replication
// factor and configs, then waits (bounded by ctx) until every partition has
// a leader and rf in-sync replicas. It fails the test on error.
func CreateTopic(t testing.TB, ctx context.Context, adm *kadm.Client, topic string, partitions int32, rf int16, configs map[string]string) {
	t.Helper()
	cfg := make(map[string]*string, len(configs))
	for k, v := range configs {
		cfg[k] = &v
	}
	res, err := adm.CreateTopic(ctx, partitions, rf, cfg, topic)
	if err == nil {
		err = res.Err
	}
	if err != nil {
		t.Fatalf("create topic %s (%d partitions, RF %d): %v", topic, partitions, rf, err)
	}
	if err := WaitFullISR(ctx, adm, topic, int(rf)); err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
}

// Partitions returns topic's partition details as adm sees them.
func Partitions(ctx context.Context, adm *kadm.Client, topic string) (kadm.PartitionDetails, error) {
	td, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("list topic %s: %w", topic, err)
	}
	d, ok := td[topic]
	if !ok {
		return nil, fmt.Errorf("topic %s not in metadata", topic)
	}
	if d.Err != nil {
		return nil, fmt.Errorf("topic %s: %w", topic, d.Err)
	}
	return d.Partitions, nil
}

// LeaderOf returns the leader of topic/partition (-1 if none) as adm sees
// it.
func LeaderOf(ctx context.Context, adm *kadm.Client, topic string, partition int32) (int32, error) {
	ps, err := Partitions(ctx, adm, topic)
	if err != nil {
		return -1, err
	}
	p, ok := ps[partition]
	if !ok {
		return -1, fmt.Errorf("partition %s-%d not in metadata", topic, partition)
	}
	return p.Leader, nil
}

// WaitLeader polls until topic/partition has a leader other than the
// nodes in not, and returns it; ctx bounds the wait.
func WaitLeader(ctx context.Context, adm *kadm.Client, topic string, partition int32, not ...int32) (int32, error) {
	var last error
	for {
		l, err := LeaderOf(ctx, adm, topic, partition)
		if err == nil && l >= 0 && !slices.Contains(not, l) {
			return l, nil
		}
		last = err
		if err == nil {
			last = fmt.Errorf("leader is %d", l)
		}
		if err := waitTick(ctx); err != nil {
			return -1, fmt.Errorf("waiting for a leader of %s-%d other than %v: %w; last: %v", topic, partition, not, err, last)
		}
	}
}

// WaitLeaderOn polls the Metadata of each node in nodes directly (not
// through a client that may ask any broker it learnt of, such as a node cut
// off from the others) until they all name the same leader of
// topic/partition, other than the nodes in not, and returns it; ctx bounds
// the wait.
func WaitLeaderOn(ctx context.Context, c *procluster.Cluster, nodes []int32, topic string, partition int32, not ...int32) (int32, error) {
	clients := make([]*kgo.Client, 0, len(nodes))
	defer func() {
		for _, cl := range clients {
			cl.Close()
		}
	}()
	for _, id := range nodes {
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.Node(id).KafkaAddr))
		if err != nil {
			return -1, fmt.Errorf("client for node %d: %w", id, err)
		}
		clients = append(clients, cl)
	}
	var last error
	for {
		leader, err := agreedLeader(ctx, clients, nodes, topic, partition)
		if err == nil && leader >= 0 && !slices.Contains(not, leader) {
			return leader, nil
		}
		last = err
		if err == nil {
			last = fmt.Errorf("leader is %d", leader)
		}
		if err := waitTick(ctx); err != nil {
			return -1, fmt.Errorf("waiting for nodes %v to name a leader of %s-%d other than %v: %w; last: %v",
				nodes, topic, partition, not, err, last)
		}
	}
}

// agreedLeader asks each client's seed broker for the leader of
// topic/partition and returns it if they all agree.
func agreedLeader(ctx context.Context, clients []*kgo.Client, nodes []int32, topic string, partition int32) (int32, error) {
	leader := int32(-2)
	for i, cl := range clients {
		req := kmsg.NewPtrMetadataRequest()
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(topic)
		req.Topics = append(req.Topics, rt)
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		resp, err := cl.SeedBrokers()[0].Request(rctx, req)
		cancel()
		if err != nil {
			return -1, fmt.Errorf("node %d: metadata: %w", nodes[i], err)
		}
		l, err := leaderIn(resp.(*kmsg.MetadataResponse), topic, partition)
		if err != nil {
			return -1, fmt.Errorf("node %d: %w", nodes[i], err)
		}
		if leader != -2 && l != leader {
			return -1, fmt.Errorf("nodes disagree: node %d names leader %d, another node %d", nodes[i], l, leader)
		}
		leader = l
	}
	return leader, nil
}

// leaderIn finds the leader of topic/partition in a Metadata response.
func leaderIn(resp *kmsg.MetadataResponse, topic string, partition int32) (int32, error) {
	for _, t := range resp.Topics {
		if t.Topic == nil || *t.Topic != topic {
			continue
		}
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			return -1, fmt.Errorf("topic %s: %w", topic, err)
		}
		for _, p := range t.Partitions {
			if p.Partition == partition {
				return p.Leader, nil
			}
		}
	}
	return -1, fmt.Errorf("%s-%d not in metadata", topic, partition)
}

// WaitFullISR polls until every partition of topic has a leader and
// exactly want in-sync replicas; ctx bounds the wait.
func WaitFullISR(ctx context.Context, adm *kadm.Client, topic string, want int) error {
	return WaitPartitions(ctx, adm, topic, func(p kadm.PartitionDetail) error {
		if p.Leader < 0 || len(p.ISR) != want {
			return fmt.Errorf("partition %d: leader %d, ISR %v, want %d in sync", p.Partition, p.Leader, p.ISR, want)
		}
		return nil
	})
}

// WaitInISR polls until node is in the ISR of every partition of topic
// that it replicates; ctx bounds the wait. adm may ask any broker, also one
// whose metadata is stale (a node just healed from a partition still
// believes what it believed when it was cut off); WaitInISRAll asks every
// node.
func WaitInISR(ctx context.Context, adm *kadm.Client, topic string, node int32) error {
	return WaitPartitions(ctx, adm, topic, func(p kadm.PartitionDetail) error {
		if slices.Contains(p.Replicas, node) && !slices.Contains(p.ISR, node) {
			return fmt.Errorf("partition %d: node %d not in ISR %v (replicas %v)", p.Partition, node, p.ISR, p.Replicas)
		}
		return nil
	})
}

// WaitInISRAll polls the Metadata of every running node of c directly
// until all of them name the same leader for every partition of topic and
// list node in the ISR of every partition it replicates; ctx bounds the
// wait.
func WaitInISRAll(ctx context.Context, c *procluster.Cluster, topic string, node int32) error {
	var clients []*kgo.Client
	var ids []int32
	defer func() {
		for _, cl := range clients {
			cl.Close()
		}
	}()
	for _, n := range c.Nodes() {
		if !n.Running() || n.Paused() {
			continue
		}
		cl, err := kgo.NewClient(kgo.SeedBrokers(n.KafkaAddr))
		if err != nil {
			return fmt.Errorf("client for node %d: %w", n.ID, err)
		}
		clients, ids = append(clients, cl), append(ids, n.ID)
	}
	var last error
	for {
		last = isrEverywhere(ctx, clients, ids, topic, node)
		if last == nil {
			return nil
		}
		if err := waitTick(ctx); err != nil {
			return fmt.Errorf("waiting for every node to list node %d in the ISRs of %s: %w; last: %v", node, topic, err, last)
		}
	}
}

// isrEverywhere checks one round of WaitInISRAll.
func isrEverywhere(ctx context.Context, clients []*kgo.Client, ids []int32, topic string, node int32) error {
	leaders := map[int32]int32{}
	for i, cl := range clients {
		req := kmsg.NewPtrMetadataRequest()
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(topic)
		req.Topics = append(req.Topics, rt)
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		resp, err := cl.SeedBrokers()[0].Request(rctx, req)
		cancel()
		if err != nil {
			return fmt.Errorf("node %d: metadata: %w", ids[i], err)
		}
		for _, t := range resp.(*kmsg.MetadataResponse).Topics {
			if t.Topic == nil || *t.Topic != topic {
				continue
			}
			if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
				return fmt.Errorf("node %d: topic %s: %w", ids[i], topic, err)
			}
			if len(t.Partitions) == 0 {
				return fmt.Errorf("node %d: topic %s has no partitions", ids[i], topic)
			}
			for _, p := range t.Partitions {
				if slices.Contains(p.Replicas, node) && !slices.Contains(p.ISR, node) {
					return fmt.Errorf("node %d: partition %d: node %d not in ISR %v", ids[i], p.Partition, node, p.ISR)
				}
				if l, ok := leaders[p.Partition]; ok && l != p.Leader {
					return fmt.Errorf("node %d: partition %d: leader %d, another node says %d", ids[i], p.Partition, p.Leader, l)
				}
				leaders[p.Partition] = p.Leader
			}
		}
	}
	return nil
}

// WaitPartitions polls until check accepts every partition of topic (and
// the topic has at least one partition); ctx bounds the wait.
func WaitPartitions(ctx context.Context, adm *kadm.Client, topic string, check func(kadm.PartitionDetail) error) error {
	var last error
	for {
		ps, err := Partitions(ctx, adm, topic)
		if err == nil && len(ps) == 0 {
			err = fmt.Errorf("topic %s has no partitions", topic)
		}
		if err == nil {
			for _, p := range ps.Sorted() {
				if err = p.Err; err != nil {
					err = fmt.Errorf("partition %d: %w", p.Partition, err)
				} else {
					err = check(p)
				}
				if err != nil {
					break
				}
			}
		}
		if err == nil {
			return nil
		}
		last = err
		if err := waitTick(ctx); err != nil {
			return fmt.Errorf("topic %s: %w; last: %v", topic, err, last)
		}
	}
}

// waitTick waits one poll interval or until ctx ends.
func waitTick(ctx context.Context) error {
	t := time.NewTimer(pollInterval)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ReadAll reads every partition 0..partitions-1 of topic from its start up
// to its end offset (high watermark) with a fresh client and hands each
// log to h.Final. It fails the test if a partition cannot be read in full
// before ctx ends. It returns the number of records read.
func ReadAll(t testing.TB, ctx context.Context, c *procluster.Cluster, h *checker.History, topic string, partitions int32) int {
	t.Helper()
	adm := NodeAdmin(t, c.Bootstrap()...)
	var ends kadm.ListedOffsets
	for {
		var err error
		ends, err = adm.ListEndOffsets(ctx, topic)
		if err == nil {
			err = ends.Error()
		}
		if err == nil {
			break
		}
		if werr := waitTick(ctx); werr != nil {
			t.Fatalf("final read of %s: end offsets: %v (%v)", topic, err, werr)
		}
	}
	total := 0
	for p := range partitions {
		lo, ok := ends.Lookup(topic, p)
		if !ok {
			t.Fatalf("final read of %s: no end offset for partition %d", topic, p)
		}
		recs := readPartition(t, ctx, c, topic, p, lo.Offset)
		h.Final(topic, p, recs)
		total += len(recs)
	}
	return total
}

// readPartition reads topic/partition from its start until end.
func readPartition(t testing.TB, ctx context.Context, c *procluster.Cluster, topic string, p int32, end int64) []checker.Record {
	t.Helper()
	var recs []checker.Record
	if end <= 0 {
		return recs
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap()...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {p: kgo.NewOffset().AtStart()}}),
		kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatalf("final read of %s-%d: %v", topic, p, err)
	}
	defer cl.Close()
	next := int64(-1)
	for next < end-1 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("final read of %s-%d: read up to offset %d of %d: %v", topic, p, next, end, ctx.Err())
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Logf("final read of %s-%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset >= end {
				return
			}
			recs = append(recs, checker.Record{Offset: r.Offset, Key: string(r.Key), Value: string(r.Value)})
			next = r.Offset
		})
	}
	return recs
}

// StopAndCompare shuts every running node of c down cleanly (SIGTERM) and
// then compares, for every partition of topics (name -> partition count),
// the replicas found in the nodes' data directories; every difference is a
// test error. A paused node is resumed first.
func StopAndCompare(t testing.TB, c *procluster.Cluster, topics map[string]int32) {
	t.Helper()
	for _, n := range c.Nodes() {
		if n.Paused() {
			c.Cont(n.ID)
		}
		if n.Running() {
			c.Shutdown(n.ID)
		}
	}
	for topic, partitions := range topics {
		for p := range partitions {
			dirs := map[int32]string{}
			for _, n := range c.Nodes() {
				dir := filepath.Join(n.DataDir, fmt.Sprintf("%s-%d", topic, p))
				if _, err := os.Stat(dir); err == nil {
					dirs[n.ID] = dir
				}
			}
			if len(dirs) == 0 {
				t.Errorf("replicacheck %s-%d: no replica directory on any node", topic, p)
				continue
			}
			ds, err := replicacheck.DigestAll(dirs)
			if err != nil {
				t.Errorf("replicacheck %s-%d: %v", topic, p, err)
				continue
			}
			var sizes []string
			for id, d := range ds {
				end := int64(0)
				if len(d) > 0 {
					end = d[len(d)-1].LastOffset + 1
				}
				sizes = append(sizes, fmt.Sprintf("node %d: %d batches, end %d", id, len(d), end))
			}
			slices.Sort(sizes)
			t.Logf("replicacheck %s-%d: %v", topic, p, sizes)
			for _, diff := range replicacheck.Compare(ds) {
				t.Errorf("replicacheck %s-%d: %s", topic, p, diff)
			}
		}
	}
}
