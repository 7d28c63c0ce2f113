package integration

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"
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

// gather collects n records from readers running side by side (one per
// partition) and stops them before returning.
func gather(ctx context.Context, n int, readers []func(ctx context.Context, out chan<- record) error) ([]record, error) {
	ctx, cancel := context.WithCancel(ctx)
	out := make(chan record, 1024)
	errs := make(chan error, len(readers))
	var wg sync.WaitGroup
	for _, read := range readers {
		wg.Go(func() { errs <- read(ctx, out) })
	}
	defer func() { cancel(); wg.Wait() }()
	got := make([]record, 0, n)
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

// deliver sends r on out unless ctx ends first.
func deliver(ctx context.Context, out chan<- record, r record) error {
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

func franzGoProduce(ctx context.Context, addr, topic, codec string, recs []record) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ClientID("integration-franz-go"),
		kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(kgoCodecs[codec]),
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
	got := make([]record, 0, n)
	for len(got) < n {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return got, fmt.Errorf("franz-go: got %d of %d records: %w", len(got), n, err)
		}
		for _, fe := range fetches.Errors() {
			return got, fmt.Errorf("franz-go: fetch %s[%d]: %w", fe.Topic, fe.Partition, fe.Err)
		}
		fetches.EachRecord(func(kr *kgo.Record) {
			r := record{partition: kr.Partition, offset: kr.Offset, key: string(kr.Key), value: string(kr.Value)}
			for _, h := range kr.Headers {
				r.headers = append(r.headers, header{h.Key, string(h.Value)})
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
	cfg.Producer.Compression = saramaCodecs[codec]
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

func saramaConsume(ctx context.Context, addr, topic string, partitions int32, n int) ([]record, error) {
	c, err := sarama.NewConsumer([]string{addr}, saramaConfig())
	if err != nil {
		return nil, fmt.Errorf("sarama: new consumer: %w", err)
	}
	defer c.Close()
	var readers []func(context.Context, chan<- record) error
	for p := range partitions {
		pc, err := c.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			return nil, fmt.Errorf("sarama: consume %s[%d]: %w", topic, p, err)
		}
		defer pc.Close()
		readers = append(readers, func(ctx context.Context, out chan<- record) error {
			for {
				select {
				case m := <-pc.Messages():
					r := record{partition: m.Partition, offset: m.Offset, key: string(m.Key), value: string(m.Value)}
					for _, h := range m.Headers {
						r.headers = append(r.headers, header{string(h.Key), string(h.Value)})
					}
					if err := deliver(ctx, out, r); err != nil {
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
	got, err := gather(ctx, n, readers)
	if err != nil {
		return got, fmt.Errorf("sarama: %w", err)
	}
	return got, nil
}

// --- kafka-go ---------------------------------------------------------------

var kafkaGoCodecs = map[string]kafka.Compression{
	"none": 0, "gzip": kafka.Gzip, "snappy": kafka.Snappy, "lz4": kafka.Lz4, "zstd": kafka.Zstd,
}

func kafkaGoProduce(ctx context.Context, addr, topic, codec string, recs []record) error {
	tr := &kafka.Transport{ClientID: "integration-kafka-go"}
	defer tr.CloseIdleConnections()
	w := &kafka.Writer{
		Addr:         kafka.TCP(addr),
		Topic:        topic,
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		Compression:  kafkaGoCodecs[codec],
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
	var readers []func(context.Context, chan<- record) error
	for p := range partitions {
		readers = append(readers, func(ctx context.Context, out chan<- record) error {
			r := kafka.NewReader(kafka.ReaderConfig{
				Brokers: []string{addr}, Topic: topic, Partition: int(p),
				MinBytes: 1, MaxBytes: 8 << 20, MaxWait: 200 * time.Millisecond,
			})
			defer r.Close()
			if err := r.SetOffset(kafka.FirstOffset); err != nil {
				return fmt.Errorf("kafka-go: %s[%d]: set offset: %w", topic, p, err)
			}
			for {
				m, err := r.ReadMessage(ctx)
				if err != nil {
					return fmt.Errorf("kafka-go: read %s[%d]: %w", topic, p, err)
				}
				rec := record{partition: int32(m.Partition), offset: m.Offset, key: string(m.Key), value: string(m.Value)}
				for _, h := range m.Headers {
					rec.headers = append(rec.headers, header{h.Key, string(h.Value)})
				}
				if err := deliver(ctx, out, rec); err != nil {
					return err
				}
			}
		})
	}
	got, err := gather(ctx, n, readers)
	if err != nil {
		return got, fmt.Errorf("kafka-go: %w", err)
	}
	return got, nil
}
