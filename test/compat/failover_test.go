//go:build unix

package compat

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streaming/samsa/internal/testutil/procluster"
)

// failoverVictim is the node TestCrossClientFailover kills.
const failoverVictim = 1

// TestCrossClientFailover runs every producer → consumer pair through a
// leader failover on a 3-node cluster of real processes (RF 3,
// min.insync.replicas=2): each producer writes the first half of its
// records, node failoverVictim is SIGKILLed once every topic has a
// partition it leads, and each producer, started again with the dead node
// still in its bootstrap list, writes the second half to the new leaders. Every consumer must then read all of them, each exactly
// once, from the survivors.
func TestCrossClientFailover(t *testing.T) {
	if os.Getenv("SAMSA_TEST_BROKERS") != "" {
		t.Skip("SAMSA_TEST_BROKERS is set: this test starts and kills its own cluster")
	}
	c := procluster.Start(t, procluster.Options{Nodes: 3, Props: map[string]string{"min.insync.replicas": "2"}})
	addr := strings.Join(c.Bootstrap(), ",")
	replicatedClusters.Store(addr, int16(3))
	ctx, cancel := context.WithTimeout(t.Context(), 4*pairTimeout)
	defer cancel()
	admin, adm := newAdmin(t, addr)

	type run struct {
		producer, consumer client
		codec, topic       string
		sent               []record
	}
	runs := make([]*run, len(pairs))
	for i, p := range pairs {
		r := &run{producer: clientsByName[p.producer](), consumer: clientsByName[p.consumer]()}
		r.producer.require(t)
		r.consumer.require(t)
		r.codec = r.producer.codecs[i%len(r.producer.codecs)]
		r.topic = uniqueTopic("failover", r.producer.name, r.consumer.name)
		createTopic(ctx, t, adm, addr, r.topic)
		r.sent = makeRecords(r.producer.name, recordsPerRun, r.producer.perRecordHeaders)
		runs[i] = r
	}
	half := recordsPerRun / 2
	name := func(r *run) string { return r.producer.name + "_to_" + r.consumer.name + "/" + r.codec }

	t.Run("before", func(t *testing.T) {
		for _, r := range runs {
			t.Run(name(r), func(t *testing.T) {
				t.Parallel()
				if err := r.producer.produce(ctx, t, addr, r.topic, r.codec, r.sent[:half]); err != nil {
					t.Fatalf("%s produce: %v", r.producer.name, err)
				}
			})
		}
	})
	if t.Failed() {
		return
	}

	var topics []string
	for _, r := range runs {
		topics = append(topics, r.topic)
	}
	// kgo caches Metadata answers for 5 s; the leader polls need fresh ones.
	pollCl, err := kgo.NewClient(kgo.SeedBrokers(seeds(addr)...), kgo.MetadataMinAge(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer pollCl.Close()
	pollAdm := kadm.NewClient(pollCl)
	if err := waitEveryTopicLedBy(ctx, pollAdm, topics, failoverVictim); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	c.Kill(failoverVictim)
	if err := waitNoneLedBy(ctx, pollAdm, topics, failoverVictim); err != nil {
		t.Fatalf("after killing node %d: %v", failoverVictim, err)
	}
	t.Logf("killed node %d; its partitions have new leaders %v later", failoverVictim, time.Since(killed).Round(time.Millisecond))

	// The dead node stays in the bootstrap list, last: every client tries
	// the next seed when one refuses, but the suite's kafka-go helpers
	// list partitions through the first address only.
	var live []string
	for _, n := range c.Nodes() {
		if n.ID != failoverVictim {
			live = append(live, n.KafkaAddr)
		}
	}
	afterAddr := strings.Join(append(live, c.Node(failoverVictim).KafkaAddr), ",")
	// A new bookkeeping client: the first one's cached metadata still
	// names the dead leaders.
	admin, afterAdm := newAdmin(t, afterAddr)

	t.Run("after", func(t *testing.T) {
		for _, r := range runs {
			t.Run(name(r), func(t *testing.T) {
				t.Parallel()
				if err := r.producer.produce(ctx, t, afterAddr, r.topic, r.codec, r.sent[half:]); err != nil {
					t.Fatalf("%s produce after the failover: %v", r.producer.name, err)
				}
				// The leaders moved: read the stored batches where they are now.
				checkStored(ctx, t, admin, waitTopicReady(ctx, t, afterAdm, r.topic), len(r.sent), r.codec)
				got, err := r.consumer.consume(ctx, t, afterAddr, r.topic, len(r.sent))
				if err != nil {
					t.Fatalf("%s consume after the failover: %v", r.consumer.name, err)
				}
				reportProblems(t, r.consumer.name+" consumed", consumedProblems(r.sent, got))
			})
		}
	})
}

// leadersOf returns, per topic, the leaders of its partitions.
func leadersOf(ctx context.Context, adm *kadm.Client, topics []string) (map[string][]int32, error) {
	md, err := adm.Metadata(ctx, topics...)
	if err != nil {
		return nil, err
	}
	out := map[string][]int32{}
	for _, topic := range topics {
		td, ok := md.Topics[topic]
		if !ok || td.Err != nil {
			return nil, fmt.Errorf("topic %s: not in metadata (%v)", topic, td.Err)
		}
		for _, p := range td.Partitions.Sorted() {
			out[topic] = append(out[topic], p.Leader)
		}
	}
	return out, nil
}

// waitEveryTopicLedBy waits until every topic has a partition led by node
// (placement gives every topic of 3 partitions on 3 nodes one at once).
func waitEveryTopicLedBy(ctx context.Context, adm *kadm.Client, topics []string, node int32) error {
	return pollLeaders(ctx, adm, topics, func(leaders []int32) bool { return slices.Contains(leaders, node) },
		fmt.Sprintf("a partition led by node %d", node))
}

// waitNoneLedBy waits until no partition of topics is led by node.
func waitNoneLedBy(ctx context.Context, adm *kadm.Client, topics []string, node int32) error {
	return pollLeaders(ctx, adm, topics, func(leaders []int32) bool {
		return !slices.Contains(leaders, node) && !slices.Contains(leaders, -1)
	}, fmt.Sprintf("every partition led by a node other than %d", node))
}

func pollLeaders(ctx context.Context, adm *kadm.Client, topics []string, ok func([]int32) bool, want string) error {
	var last string
	for {
		byTopic, err := leadersOf(ctx, adm, topics)
		if err == nil {
			last = ""
			for topic, leaders := range byTopic {
				if !ok(leaders) {
					last = fmt.Sprintf("topic %s has leaders %v", topic, leaders)
					break
				}
			}
			if last == "" {
				return nil
			}
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %s: %w", want, last, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
