package compat

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streaming/samsa/internal/testutil/clienttest"
)

func noTools(*testing.T) {}

// --- franz-go ---------------------------------------------------------------

func franzGoClient() client {
	return client{name: "franz-go", codecs: allCodecs, perRecordHeaders: true, require: noTools,
		produce: franzGoProduce, consume: franzGoConsume}
}

func franzGoProduce(ctx context.Context, _ *testing.T, addr, topic, codec string, recs []record) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds(addr)...), kgo.ClientID("compat-franz-go"),
		kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(clienttest.KgoCodecs[codec]),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		return fmt.Errorf("franz-go: new client: %w", err)
	}
	defer cl.Close()
	krs := make([]*kgo.Record, len(recs))
	for i, r := range recs {
		kr := &kgo.Record{Key: []byte(*r.Key), Value: []byte(*r.Value)}
		for _, h := range r.Headers {
			kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: h.Key, Value: []byte(*h.Value)})
		}
		krs[i] = kr
	}
	if err := cl.ProduceSync(ctx, krs...).FirstErr(); err != nil {
		return fmt.Errorf("franz-go: produce: %w", err)
	}
	return nil
}

func franzGoConsume(ctx context.Context, _ *testing.T, addr, topic string, n int) ([]record, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds(addr)...), kgo.ClientID("compat-franz-go"),
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return nil, fmt.Errorf("franz-go: new client: %w", err)
	}
	defer cl.Close()
	return clienttest.KgoPoll(ctx, cl, n, fromKgo)
}

// fromKgo converts a record franz-go consumed.
func fromKgo(kr *kgo.Record) record {
	r := record{Partition: kr.Partition, Offset: kr.Offset, Key: bytesp(kr.Key), Value: bytesp(kr.Value)}
	for _, h := range kr.Headers {
		r.Headers = append(r.Headers, header{Key: h.Key, Value: bytesp(h.Value)})
	}
	return r
}

// --- sarama -----------------------------------------------------------------

func saramaClient() client {
	return client{name: "sarama", codecs: allCodecs, perRecordHeaders: true, require: noTools,
		produce: saramaProduce, consume: saramaConsume}
}

// saramaConfig is sarama's default configuration (protocol version
// sarama.DefaultVersion) with results returned.
func saramaConfig() *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.ClientID = "compat-sarama"
	cfg.Producer.Return.Successes = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Consumer.Return.Errors = true
	return cfg
}

func saramaProduce(ctx context.Context, _ *testing.T, addr, topic, codec string, recs []record) error {
	cfg := saramaConfig()
	cfg.Producer.Compression = clienttest.SaramaCodecs[codec]
	p, err := sarama.NewSyncProducer(seeds(addr), cfg)
	if err != nil {
		return fmt.Errorf("sarama: new producer: %w", err)
	}
	msgs := make([]*sarama.ProducerMessage, len(recs))
	for i, r := range recs {
		m := &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(*r.Key), Value: sarama.StringEncoder(*r.Value)}
		for _, h := range r.Headers {
			m.Headers = append(m.Headers, sarama.RecordHeader{Key: []byte(h.Key), Value: []byte(*h.Value)})
		}
		msgs[i] = m
	}
	if err := clienttest.SaramaSendAndClose(ctx, p, msgs); err != nil {
		return fmt.Errorf("sarama: produce: %w", err)
	}
	return nil
}

func saramaConsume(ctx context.Context, _ *testing.T, addr, topic string, n int) ([]record, error) {
	c, err := sarama.NewConsumer(seeds(addr), saramaConfig())
	if err != nil {
		return nil, fmt.Errorf("sarama: new consumer: %w", err)
	}
	defer c.Close()
	partitions, err := c.Partitions(topic)
	if err != nil {
		return nil, fmt.Errorf("sarama: partitions of %s: %w", topic, err)
	}
	return clienttest.SaramaCollect(ctx, c, topic, partitions, n, fromSarama)
}

// fromSarama converts a message sarama consumed.
func fromSarama(m *sarama.ConsumerMessage) record {
	r := record{Partition: m.Partition, Offset: m.Offset, Key: bytesp(m.Key), Value: bytesp(m.Value)}
	for _, h := range m.Headers {
		r.Headers = append(r.Headers, header{Key: string(h.Key), Value: bytesp(h.Value)})
	}
	return r
}

// --- kafka-go ---------------------------------------------------------------

func kafkaGoClient() client {
	return client{name: "kafka-go", codecs: allCodecs, perRecordHeaders: true, require: noTools,
		produce: kafkaGoProduce, consume: kafkaGoConsume}
}

func kafkaGoProduce(ctx context.Context, _ *testing.T, addr, topic, codec string, recs []record) error {
	w := &kafka.Writer{
		Addr:         kafka.TCP(seeds(addr)...),
		Topic:        topic,
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		Compression:  clienttest.KafkaGoCodecs[codec],
		BatchSize:    len(recs),
		BatchTimeout: 5 * time.Millisecond,
		// Its own transport: the shared default one caches metadata
		// across tests.
		Transport: &kafka.Transport{ClientID: "compat-kafka-go"},
	}
	msgs := make([]kafka.Message, len(recs))
	for i, r := range recs {
		msgs[i] = kafka.Message{Key: []byte(*r.Key), Value: []byte(*r.Value)}
		for _, h := range r.Headers {
			msgs[i].Headers = append(msgs[i].Headers, kafka.Header{Key: h.Key, Value: []byte(*h.Value)})
		}
	}
	err := w.WriteMessages(ctx, msgs...)
	if cerr := w.Close(); err == nil && cerr != nil {
		err = cerr
	}
	w.Transport.(*kafka.Transport).CloseIdleConnections()
	if err != nil {
		return fmt.Errorf("kafka-go: produce: %w", err)
	}
	return nil
}

func kafkaGoConsume(ctx context.Context, _ *testing.T, addr, topic string, n int) ([]record, error) {
	// A plain connection, not kafka.Client: the shared default transport
	// caches metadata and may not know a topic created a moment ago.
	conn, err := kafka.DialContext(ctx, "tcp", seeds(addr)[0])
	if err != nil {
		return nil, fmt.Errorf("kafka-go: dial: %w", err)
	}
	partitions, err := conn.ReadPartitions(topic)
	conn.Close()
	if err != nil {
		return nil, fmt.Errorf("kafka-go: partitions of %s: %w", topic, err)
	}
	ids := make([]int, len(partitions))
	for i, p := range partitions {
		ids[i] = p.ID
	}
	return clienttest.KafkaGoCollect(ctx, seeds(addr), topic, ids, n, fromKafkaGo)
}

// fromKafkaGo converts a message kafka-go consumed.
func fromKafkaGo(m kafka.Message) record {
	r := record{Partition: int32(m.Partition), Offset: m.Offset, Key: bytesp(m.Key), Value: bytesp(m.Value)}
	for _, h := range m.Headers {
		r.Headers = append(r.Headers, header{Key: h.Key, Value: bytesp(h.Value)})
	}
	return r
}
