package compat

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"
)

func noTools(*testing.T) {}

// collect gathers n records from readers running concurrently (one per
// partition); each reader sends on out until it fails or ctx ends. It
// returns once n records arrived, a reader failed or ctx ended, and stops
// the readers before returning.
func collect(ctx context.Context, n int, readers []func(ctx context.Context, out chan<- record) error) ([]record, error) {
	ctx, cancel := context.WithCancel(ctx)
	out := make(chan record)
	errs := make(chan error, len(readers))
	var wg sync.WaitGroup
	for _, read := range readers {
		wg.Go(func() { errs <- read(ctx, out) })
	}
	defer func() { cancel(); wg.Wait() }()
	var got []record
	for len(got) < n {
		select {
		case r := <-out:
			got = append(got, r)
		case err := <-errs:
			if err == nil {
				err = errors.New("reader stopped early")
			}
			return got, fmt.Errorf("got %d of %d records: %w", len(got), n, err)
		case <-ctx.Done():
			return got, fmt.Errorf("got %d of %d records: %w", len(got), n, ctx.Err())
		}
	}
	return got, nil
}

// send delivers r on out unless ctx ends first.
func send(ctx context.Context, out chan<- record, r record) error {
	select {
	case out <- r:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// --- franz-go ---------------------------------------------------------------

var kgoCodecs = map[string]kgo.CompressionCodec{
	"none": kgo.NoCompression(), "gzip": kgo.GzipCompression(), "snappy": kgo.SnappyCompression(),
	"lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression(),
}

func franzGoClient() client {
	return client{name: "franz-go", codecs: allCodecs, perRecordHeaders: true, require: noTools,
		produce: franzGoProduce, consume: franzGoConsume}
}

func franzGoProduce(ctx context.Context, _ *testing.T, addr, topic, codec string, recs []record) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds(addr)...), kgo.ClientID("compat-franz-go"),
		kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(kgoCodecs[codec]),
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
	var got []record
	for len(got) < n {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return got, fmt.Errorf("franz-go: got %d of %d records: %w", len(got), n, err)
		}
		for _, fe := range fetches.Errors() {
			return got, fmt.Errorf("franz-go: fetch %s[%d]: %w", fe.Topic, fe.Partition, fe.Err)
		}
		fetches.EachRecord(func(kr *kgo.Record) {
			r := record{Partition: kr.Partition, Offset: kr.Offset, Key: bytesp(kr.Key), Value: bytesp(kr.Value)}
			for _, h := range kr.Headers {
				r.Headers = append(r.Headers, header{Key: h.Key, Value: bytesp(h.Value)})
			}
			got = append(got, r)
		})
	}
	return got, nil
}

// --- sarama -----------------------------------------------------------------

var saramaCodecs = map[string]sarama.CompressionCodec{
	"none": sarama.CompressionNone, "gzip": sarama.CompressionGZIP, "snappy": sarama.CompressionSnappy,
	"lz4": sarama.CompressionLZ4, "zstd": sarama.CompressionZSTD,
}

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
	cfg.Producer.Compression = saramaCodecs[codec]
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
	// SendMessages takes no context: run it aside and close the producer
	// (which ends it) if ctx ends first.
	done := make(chan error, 1)
	go func() { done <- p.SendMessages(msgs) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if cerr := p.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
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
	var readers []func(context.Context, chan<- record) error
	for _, p := range partitions {
		pc, err := c.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			return nil, fmt.Errorf("sarama: consume %s[%d]: %w", topic, p, err)
		}
		defer pc.Close()
		readers = append(readers, func(ctx context.Context, out chan<- record) error {
			for {
				select {
				case m := <-pc.Messages():
					r := record{Partition: m.Partition, Offset: m.Offset, Key: bytesp(m.Key), Value: bytesp(m.Value)}
					for _, h := range m.Headers {
						r.Headers = append(r.Headers, header{Key: string(h.Key), Value: bytesp(h.Value)})
					}
					if err := send(ctx, out, r); err != nil {
						return err
					}
				case cerr := <-pc.Errors():
					return fmt.Errorf("sarama: %s[%d]: %w", topic, p, cerr)
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		})
	}
	got, err := collect(ctx, n, readers)
	if err != nil {
		return got, fmt.Errorf("sarama: %w", err)
	}
	return got, nil
}

// --- kafka-go ---------------------------------------------------------------

var kafkaGoCodecs = map[string]kafka.Compression{
	"none": 0, "gzip": kafka.Gzip, "snappy": kafka.Snappy, "lz4": kafka.Lz4, "zstd": kafka.Zstd,
}

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
		Compression:  kafkaGoCodecs[codec],
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
	var readers []func(context.Context, chan<- record) error
	for _, p := range partitions {
		readers = append(readers, func(ctx context.Context, out chan<- record) error {
			r := kafka.NewReader(kafka.ReaderConfig{
				Brokers: seeds(addr), Topic: topic, Partition: p.ID,
				MinBytes: 1, MaxBytes: 8 << 20, MaxWait: 200 * time.Millisecond,
			})
			defer r.Close()
			if err := r.SetOffset(kafka.FirstOffset); err != nil {
				return fmt.Errorf("kafka-go: %s[%d]: set offset: %w", topic, p.ID, err)
			}
			for {
				m, err := r.ReadMessage(ctx)
				if err != nil {
					return fmt.Errorf("kafka-go: read %s[%d]: %w", topic, p.ID, err)
				}
				rec := record{Partition: int32(m.Partition), Offset: m.Offset, Key: bytesp(m.Key), Value: bytesp(m.Value)}
				for _, h := range m.Headers {
					rec.Headers = append(rec.Headers, header{Key: h.Key, Value: bytesp(h.Value)})
				}
				if err := send(ctx, out, rec); err != nil {
					return err
				}
			}
		})
	}
	got, err := collect(ctx, n, readers)
	if err != nil {
		return got, fmt.Errorf("kafka-go: %w", err)
	}
	return got, nil
}
