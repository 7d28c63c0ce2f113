package compat

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/testutil/testserver"
)

// recordsPerRun is how many records each producer sends per codec.
const recordsPerRun = 90

// pairTimeout bounds one producer → consumer run (both subprocesses and the
// checks); each subprocess has its own toolTimeout inside it.
const pairTimeout = 150 * time.Second

// clientsByName lists every client the suite drives.
var clientsByName = map[string]func() client{
	"kcat":         kcatClient,
	"kafka-python": kafkaPythonClient,
	"confluent":    confluentClient,
	"kafkajs":      kafkajsClient,
	"franz-go":     franzGoClient,
	"sarama":       saramaClient,
	"kafka-go":     kafkaGoClient,
}

// pairs are the producer → consumer combinations: every client produces for
// a different client and consumes from a different client.
var pairs = []struct{ producer, consumer string }{
	{"kcat", "franz-go"},
	{"kafka-python", "kafkajs"},
	{"confluent", "kafka-python"},
	{"kafkajs", "kcat"},
	{"franz-go", "confluent"},
	{"sarama", "kafka-go"},
	{"kafka-go", "sarama"},
}

// TestCrossClient runs every pair for every codec its producer supports (one
// codec per pair with -short, rotating so that all codecs are covered).
func TestCrossClient(t *testing.T) {
	addr := startBroker(t)
	for i, p := range pairs {
		producer, consumer := clientsByName[p.producer](), clientsByName[p.consumer]()
		codecs := producer.codecs
		if testing.Short() {
			codecs = codecs[i%len(codecs) : i%len(codecs)+1]
		}
		for _, codec := range codecs {
			t.Run(producer.name+"_to_"+consumer.name+"/"+codec, func(t *testing.T) {
				t.Parallel()
				runPair(t, addr, producer, consumer, codec)
			})
		}
	}
}

// TestCrossClientReplicated runs every pair, one codec each (rotating), on
// a 3-node cluster with topics of replication factor 3 and
// min.insync.replicas=2: every client's acks=all produce is answered only
// once the followers copied it, and every consumer reads from leaders that
// must agree with their followers.
func TestCrossClientReplicated(t *testing.T) {
	if os.Getenv("SAMSA_TEST_BROKERS") != "" {
		t.Skip("SAMSA_TEST_BROKERS is set: TestCrossClient runs against that cluster (set SAMSA_TEST_REPLICATION_FACTOR)")
	}
	cluster := testserver.StartCluster(t, 3, map[string]string{"min.insync.replicas": "2"})
	addr := cluster.Bootstrap()
	replicatedClusters.Store(addr, int16(3))
	for i, p := range pairs {
		producer, consumer := clientsByName[p.producer](), clientsByName[p.consumer]()
		codec := producer.codecs[i%len(producer.codecs)]
		t.Run(producer.name+"_to_"+consumer.name+"/"+codec, func(t *testing.T) {
			t.Parallel()
			runPair(t, addr, producer, consumer, codec)
		})
	}
}

// runPair produces recordsPerRun records with producer, checks what the
// broker stored, consumes them with consumer and checks what arrived.
func runPair(t *testing.T, addr string, producer, consumer client, codec string) {
	producer.require(t)
	consumer.require(t)
	ctx, cancel := context.WithTimeout(t.Context(), pairTimeout)
	defer cancel()
	admin, adm := newAdmin(t, addr)
	topic := uniqueTopic(producer.name, consumer.name, codec)
	detail := createTopic(ctx, t, adm, addr, topic)

	sent := makeRecords(producer.name, recordsPerRun, producer.perRecordHeaders)
	start := time.Now()
	if err := producer.produce(ctx, t, addr, topic, codec, sent); err != nil {
		t.Fatalf("%s produce (%s): %v", producer.name, codec, err)
	}
	produced := time.Since(start)

	checkStored(ctx, t, admin, detail, len(sent), codec)

	start = time.Now()
	got, err := consumer.consume(ctx, t, addr, topic, len(sent))
	if err != nil {
		t.Fatalf("%s consume: %v", consumer.name, err)
	}
	t.Logf("%s produced %d records (%s) in %v; %s consumed them in %v",
		producer.name, len(sent), codec, produced.Round(time.Millisecond), consumer.name, time.Since(start).Round(time.Millisecond))
	reportProblems(t, consumer.name+" consumed", consumedProblems(sent, got))
}
