// Package clienttest holds what the tests that drive real Kafka clients
// (franz-go, sarama, kafka-go) against samsa share: reading from several
// partitions side by side until enough records arrived, and each client's
// compression codec by its Kafka name.
//
// It is generic over the record type, so each test package keeps its own.
package clienttest

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/IBM/sarama"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"
)

// outBuffer is how many records readers may deliver ahead of Collect.
const outBuffer = 1024

// Collect gathers n records from readers running concurrently (typically one
// per partition, each delivering on out with Send until it fails or ctx
// ends), in the order they arrive. It returns once n records arrived, a reader stopped (with its
// error, or an error saying it stopped early) or ctx ended, and it stops the
// readers and waits for them before returning. On error it returns the
// records gathered so far.
func Collect[R any](ctx context.Context, n int, readers []func(ctx context.Context, out chan<- R) error) ([]R, error) {
	ctx, cancel := context.WithCancel(ctx)
	out := make(chan R, outBuffer)
	errs := make(chan error, len(readers))
	var wg sync.WaitGroup
	for _, read := range readers {
		wg.Go(func() { errs <- read(ctx, out) })
	}
	defer func() { cancel(); wg.Wait() }()
	got := make([]R, 0, max(n, 0))
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

// Send delivers r on out unless ctx ends first, in which case it returns
// ctx's error.
func Send[R any](ctx context.Context, out chan<- R, r R) error {
	select {
	case out <- r:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// KgoCodecs maps a Kafka compression name ("none", "gzip", "snappy", "lz4",
// "zstd") to franz-go's codec.
var KgoCodecs = map[string]kgo.CompressionCodec{
	"none": kgo.NoCompression(), "gzip": kgo.GzipCompression(), "snappy": kgo.SnappyCompression(),
	"lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression(),
}

// SaramaCodecs maps a Kafka compression name to sarama's codec.
var SaramaCodecs = map[string]sarama.CompressionCodec{
	"none": sarama.CompressionNone, "gzip": sarama.CompressionGZIP, "snappy": sarama.CompressionSnappy,
	"lz4": sarama.CompressionLZ4, "zstd": sarama.CompressionZSTD,
}

// KafkaGoCodecs maps a Kafka compression name to kafka-go's codec ("none"
// is the zero value, no compression).
var KafkaGoCodecs = map[string]kafka.Compression{
	"none": 0, "gzip": kafka.Gzip, "snappy": kafka.Snappy, "lz4": kafka.Lz4, "zstd": kafka.Zstd,
}

// SaramaSendAndClose sends msgs with p and then closes p. sarama's
// SendMessages takes no context, so it runs aside; if ctx ends first,
// closing the producer ends it. The error is SendMessages' (or ctx's when it
// ended first), else Close's.
func SaramaSendAndClose(ctx context.Context, p sarama.SyncProducer, msgs []*sarama.ProducerMessage) error {
	done := make(chan error, 1)
	go func() { done <- p.SendMessages(msgs) }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if cerr := p.Close(); err == nil && cerr != nil {
		err = cerr
	}
	return err
}
