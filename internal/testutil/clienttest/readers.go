package clienttest

import (
	"context"
	"fmt"
	"time"

	"github.com/IBM/sarama"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"
)

// KgoPoll polls cl until n records arrived, converting each with conv, in
// the order franz-go returns them. It fails on the first fetch error or when
// ctx ends, returning the records it has so far.
func KgoPoll[R any](ctx context.Context, cl *kgo.Client, n int, conv func(*kgo.Record) R) ([]R, error) {
	got := make([]R, 0, max(n, 0))
	for len(got) < n {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return got, fmt.Errorf("franz-go: got %d of %d records: %w", len(got), n, err)
		}
		for _, fe := range fetches.Errors() {
			return got, fmt.Errorf("franz-go: fetch %s[%d]: %w", fe.Topic, fe.Partition, fe.Err)
		}
		fetches.EachRecord(func(kr *kgo.Record) { got = append(got, conv(kr)) })
	}
	return got, nil
}

// SaramaCollect reads the given partitions of topic from their oldest
// offsets with c, side by side, until n messages (converted with conv)
// arrived, as Collect does; it closes the partition consumers it opened.
func SaramaCollect[R any](ctx context.Context, c sarama.Consumer, topic string, partitions []int32, n int, conv func(*sarama.ConsumerMessage) R) ([]R, error) {
	var readers []func(context.Context, chan<- R) error
	for _, p := range partitions {
		pc, err := c.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			return nil, fmt.Errorf("sarama: consume %s[%d]: %w", topic, p, err)
		}
		defer pc.Close()
		readers = append(readers, saramaReader(topic, p, pc, conv))
	}
	got, err := Collect(ctx, n, readers)
	if err != nil {
		return got, fmt.Errorf("sarama: %w", err)
	}
	return got, nil
}

// saramaReader returns a reader for Collect that delivers the messages of
// pc (which consumes partition of topic), converted with conv, until pc
// reports an error or ctx ends. The caller closes pc.
func saramaReader[R any](topic string, partition int32, pc sarama.PartitionConsumer, conv func(*sarama.ConsumerMessage) R) func(context.Context, chan<- R) error {
	return func(ctx context.Context, out chan<- R) error {
		for {
			select {
			case m := <-pc.Messages():
				if err := Send(ctx, out, conv(m)); err != nil {
					return err
				}
			case cerr := <-pc.Errors():
				return fmt.Errorf("sarama: %s[%d]: %w", topic, partition, cerr)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
}

// KafkaGoCollect reads the given partitions of topic from their first
// offsets, each with its own kafka-go Reader on brokers, side by side, until
// n messages (converted with conv) arrived, as Collect does.
func KafkaGoCollect[R any](ctx context.Context, brokers []string, topic string, partitions []int, n int, conv func(kafka.Message) R) ([]R, error) {
	readers := make([]func(context.Context, chan<- R) error, 0, len(partitions))
	for _, p := range partitions {
		readers = append(readers, kafkaGoReader(brokers, topic, p, conv))
	}
	got, err := Collect(ctx, n, readers)
	if err != nil {
		return got, fmt.Errorf("kafka-go: %w", err)
	}
	return got, nil
}

// kafkaGoReader returns a reader for Collect that reads partition of topic
// from its first offset with its own kafka-go Reader, delivering every
// message converted with conv until reading fails or ctx ends.
func kafkaGoReader[R any](brokers []string, topic string, partition int, conv func(kafka.Message) R) func(context.Context, chan<- R) error {
	return func(ctx context.Context, out chan<- R) error {
		r := kafka.NewReader(kafka.ReaderConfig{
			Brokers: brokers, Topic: topic, Partition: partition,
			MinBytes: 1, MaxBytes: 8 << 20, MaxWait: 200 * time.Millisecond,
		})
		defer r.Close()
		if err := r.SetOffset(kafka.FirstOffset); err != nil {
			return fmt.Errorf("kafka-go: %s[%d]: set offset: %w", topic, partition, err)
		}
		for {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				return fmt.Errorf("kafka-go: read %s[%d]: %w", topic, partition, err)
			}
			if err := Send(ctx, out, conv(m)); err != nil {
				return err
			}
		}
	}
}
