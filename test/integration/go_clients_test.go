package integration

import (
	"context"
	"fmt"
	"time"

	"github.com/IBM/sarama"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streaming/samsa/internal/testutil/clienttest"
)

// header is one record header.
type header struct{ key, value string }

// record is a record as a test sends or receives it; partition and offset
// are set on received records only.
type record struct {
	partition int32
	offset    int64
	key       string
	value     string
	headers   []header
}

// producer sends records to a topic with a codec ("none", "gzip", ...),
// keyed, waiting for acks=all on every record.
type producer func(ctx context.Context, addr, topic, codec string, recs []record) error

// consumer reads n records from every partition of a topic from the start.
type consumer func(ctx context.Context, addr, topic string, partitions int32, n int) ([]record, error)

// goClient is one of the Go clients under test.
type goClient struct {
	name    string
	produce producer
	consume consumer
}

var goClients = []goClient{
	{name: "franz-go", produce: franzGoProduce, consume: franzGoConsume},
	{name: "sarama", produce: saramaProduce, consume: saramaConsume},
	{name: "kafka-go", produce: kafkaGoProduce, consume: kafkaGoConsume},
}

// --- franz-go ---------------------------------------------------------------

func franzGoProduce(ctx context.Context, addr, topic, codec string, recs []record) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ClientID("integration-franz-go"),
		kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(clienttest.KgoCodecs[codec]),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		return fmt.Errorf("franz-go: new client: %w", err)
	}
	defer cl.Close()
	krs := make([]*kgo.Record, len(recs))
	for i, r := range recs {
		kr := &kgo.Record{Key: []byte(r.key), Value: []byte(r.value)}
		for _, h := range r.headers {
			kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: h.key, Value: []byte(h.value)})
		}
		krs[i] = kr
	}
	if err := cl.ProduceSync(ctx, krs...).FirstErr(); err != nil {
		return fmt.Errorf("franz-go: produce: %w", err)
	}
	return nil
}

func franzGoConsume(ctx context.Context, addr, topic string, partitions int32, n int) ([]record, error) {
	offsets := map[int32]kgo.Offset{}
	for p := range partitions {
		offsets[p] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ClientID("integration-franz-go"),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}))
	if err != nil {
		return nil, fmt.Errorf("franz-go: new client: %w", err)
	}
	defer cl.Close()
	return clienttest.KgoPoll(ctx, cl, n, fromKgo)
}

// fromKgo converts a record franz-go consumed.
func fromKgo(kr *kgo.Record) record {
	r := record{partition: kr.Partition, offset: kr.Offset, key: string(kr.Key), value: string(kr.Value)}
	for _, h := range kr.Headers {
		r.headers = append(r.headers, header{h.Key, string(h.Value)})
	}
	return r
}

// --- sarama -----------------------------------------------------------------

// saramaConfig is sarama's default configuration with results returned.
func saramaConfig() *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.ClientID = "integration-sarama"
	cfg.Producer.Return.Successes = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Flush.Frequency = 5 * time.Millisecond
	cfg.Consumer.Return.Errors = true
	cfg.Consumer.MaxWaitTime = 100 * time.Millisecond
	return cfg
}

func saramaProduce(ctx context.Context, addr, topic, codec string, recs []record) error {
	cfg := saramaConfig()
	cfg.Producer.Compression = clienttest.SaramaCodecs[codec]
	p, err := sarama.NewSyncProducer([]string{addr}, cfg)
	if err != nil {
		return fmt.Errorf("sarama: new producer: %w", err)
	}
	msgs := make([]*sarama.ProducerMessage, len(recs))
	for i, r := range recs {
		m := &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(r.key), Value: sarama.StringEncoder(r.value)}
		for _, h := range r.headers {
			m.Headers = append(m.Headers, sarama.RecordHeader{Key: []byte(h.key), Value: []byte(h.value)})
		}
		msgs[i] = m
	}
	if err := clienttest.SaramaSendAndClose(ctx, p, msgs); err != nil {
		return fmt.Errorf("sarama: produce: %w", err)
	}
	return nil
}

func saramaConsume(ctx context.Context, addr, topic string, partitions int32, n int) ([]record, error) {
	c, err := sarama.NewConsumer([]string{addr}, saramaConfig())
	if err != nil {
		return nil, fmt.Errorf("sarama: new consumer: %w", err)
	}
	defer c.Close()
	ids := make([]int32, 0, max(partitions, 0))
	for p := range partitions {
		ids = append(ids, p)
	}
	return clienttest.SaramaCollect(ctx, c, topic, ids, n, fromSarama)
}

// fromSarama converts a message sarama consumed.
func fromSarama(m *sarama.ConsumerMessage) record {
	r := record{partition: m.Partition, offset: m.Offset, key: string(m.Key), value: string(m.Value)}
	for _, h := range m.Headers {
		r.headers = append(r.headers, header{string(h.Key), string(h.Value)})
	}
	return r
}

// --- kafka-go ---------------------------------------------------------------

func kafkaGoProduce(ctx context.Context, addr, topic, codec string, recs []record) error {
	tr := &kafka.Transport{ClientID: "integration-kafka-go"}
	defer tr.CloseIdleConnections()
	w := &kafka.Writer{
		Addr:         kafka.TCP(addr),
		Topic:        topic,
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		Compression:  clienttest.KafkaGoCodecs[codec],
		BatchSize:    1000,
		BatchBytes:   1 << 20,
		BatchTimeout: 5 * time.Millisecond,
		// Its own transport: the shared default one caches metadata
		// across tests.
		Transport: tr,
	}
	msgs := make([]kafka.Message, len(recs))
	for i, r := range recs {
		msgs[i] = kafka.Message{Key: []byte(r.key), Value: []byte(r.value)}
		for _, h := range r.headers {
			msgs[i].Headers = append(msgs[i].Headers, kafka.Header{Key: h.key, Value: []byte(h.value)})
		}
	}
	err := w.WriteMessages(ctx, msgs...)
	if cerr := w.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("kafka-go: produce: %w", err)
	}
	return nil
}

func kafkaGoConsume(ctx context.Context, addr, topic string, partitions int32, n int) ([]record, error) {
	ids := make([]int, 0, max(partitions, 0))
	for p := range partitions {
		ids = append(ids, int(p))
	}
	return clienttest.KafkaGoCollect(ctx, []string{addr}, topic, ids, n, fromKafkaGo)
}

// fromKafkaGo converts a message kafka-go consumed.
func fromKafkaGo(m kafka.Message) record {
	r := record{partition: int32(m.Partition), offset: m.Offset, key: string(m.Key), value: string(m.Value)}
	for _, h := range m.Headers {
		r.headers = append(r.headers, header{h.Key, string(h.Value)})
	}
	return r
}
