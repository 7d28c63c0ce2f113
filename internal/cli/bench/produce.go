package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/cli/clientflags"
)

// Bounds of the produce flags, so a typo cannot exhaust memory or sockets.
const (
	maxRecordSize    = 64 << 20
	maxBatchMaxBytes = 1 << 30
	maxProducers     = 256
	maxPartitions    = 100000
	// batchOverhead is room for the record batch header (61 bytes) and one
	// record's framing (at most ~30 bytes without key or headers).
	batchOverhead = 128
)

// produceOptions are the flags of `samsa bench produce`.
type produceOptions struct {
	common
	records           int64
	recordSize        int
	partitions        int32
	replicationFactor int16
	acks              string
	linger            time.Duration
	batchMaxBytes     int32
	maxBuffered       int
	compression       string
	producers         int
	rate              float64
	recordsSet        bool
}

func newProduceCommand(cf *clientflags.Flags) *cobra.Command {
	o := produceOptions{}
	cmd := &cobra.Command{
		Use:   "produce TOPIC",
		Short: "Produce records as fast as possible or at a fixed rate and measure",
		Long: `Produce --records records of --record-size bytes to TOPIC and report
throughput and per-record latency.

TOPIC is created with --partitions partitions if it does not exist. Records
have no key and a random printable value (a few dozen distinct values are
cycled, so compression sees realistic, not degenerate, data); the default
partitioner spreads them over all partitions in sticky batches.

Latency is measured per record from the Produce call (including any time it
blocked on a full client buffer) to its acknowledgement, in a fixed-memory
histogram accurate to 1%. For meaningful latency figures set --rate: the
producers then send on a fixed schedule (records due while they were
blocked go out at once, so the rate holds). Without --rate they send as
fast as the client buffer allows, which measures throughput; latency is
then mostly queueing.

--producers K runs K independent clients, each with 1/K of the records and
of the rate. The run ends after --records, after --duration (when given),
or on Ctrl-C; then the summary is printed to stdout, one progress line a
second goes to stderr until then (--quiet turns them off). The command
exits non-zero if any record failed.

Examples:
  samsa bench produce bench                                   # 1M x 100 B, acks=all
  samsa bench produce bench --record-size 1024 --acks 1 --producers 2
  samsa bench produce bench --rate 20000 --duration 60s --format json
  samsa bench produce bench --compression zstd --linger 20ms --broker-pid 4242`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.recordsSet = cmd.Flags().Changed("records")
			if err := o.validate(); err != nil {
				return err
			}
			return runProduce(cmd.Context(), cf, &o, args[0], cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fs := cmd.Flags()
	fs.Int64VarP(&o.records, "records", "n", 1_000_000, "records to produce (with --duration: at most this many)")
	fs.IntVarP(&o.recordSize, "record-size", "s", 100, "bytes in each record value")
	fs.Int32VarP(&o.partitions, "partitions", "p", 6, "partitions of TOPIC if it has to be created")
	fs.Int16VarP(&o.replicationFactor, "replication-factor", "r", -1, "replication factor of TOPIC if it has to be created (-1: broker default)")
	fs.StringVar(&o.acks, "acks", "all", "acknowledgements: all (idempotent), 1 or 0")
	fs.DurationVar(&o.linger, "linger", 5*time.Millisecond, "how long a partition's batch waits for more records")
	fs.Int32Var(&o.batchMaxBytes, "batch-max-bytes", 1<<20, "largest record batch the producer builds")
	fs.IntVar(&o.maxBuffered, "max-buffered-records", 10000, "records a client buffers before Produce blocks")
	fs.StringVarP(&o.compression, "compression", "z", "none", "batch compression: none, gzip, snappy, lz4 or zstd")
	fs.IntVar(&o.producers, "producers", 1, "concurrent producer clients")
	fs.Float64Var(&o.rate, "rate", 0, "target records per second over all producers (0: as fast as possible)")
	o.common.register(fs)
	return cmd
}

func (o *produceOptions) validate() error {
	if err := o.common.validate(); err != nil {
		return err
	}
	switch {
	case o.records < 0:
		return fmt.Errorf("--records must not be negative, got %d", o.records)
	case o.records == 0 && o.duration == 0:
		return errors.New("--records 0 needs --duration to bound the run")
	case o.recordSize < 0 || o.recordSize > maxRecordSize:
		return fmt.Errorf("--record-size must be between 0 and %d, got %d", maxRecordSize, o.recordSize)
	case o.partitions < 1 || o.partitions > maxPartitions:
		return fmt.Errorf("--partitions must be between 1 and %d, got %d", maxPartitions, o.partitions)
	case o.replicationFactor == 0 || o.replicationFactor < -1:
		return fmt.Errorf("--replication-factor must be -1 or >= 1, got %d", o.replicationFactor)
	case o.linger < 0:
		return fmt.Errorf("--linger must not be negative, got %v", o.linger)
	case o.batchMaxBytes < 1024 || o.batchMaxBytes > maxBatchMaxBytes:
		return fmt.Errorf("--batch-max-bytes must be between 1024 and %d, got %d", maxBatchMaxBytes, o.batchMaxBytes)
	case int64(o.recordSize)+batchOverhead > int64(o.batchMaxBytes):
		return fmt.Errorf("--record-size %d does not fit in --batch-max-bytes %d", o.recordSize, o.batchMaxBytes)
	case o.maxBuffered < 1 || o.maxBuffered > 10_000_000:
		return fmt.Errorf("--max-buffered-records must be between 1 and 10000000, got %d", o.maxBuffered)
	case o.producers < 1 || o.producers > maxProducers:
		return fmt.Errorf("--producers must be between 1 and %d, got %d", maxProducers, o.producers)
	case o.rate < 0 || math.IsNaN(o.rate) || math.IsInf(o.rate, 0):
		return fmt.Errorf("--rate must be a number >= 0, got %v", o.rate)
	}
	if o.records == 0 || (!o.recordsSet && o.duration > 0) {
		// --duration alone bounds the run.
		o.records = math.MaxInt64
	}
	if _, err := compressionOpt(o.compression); err != nil {
		return err
	}
	_, err := acksOpts(o.acks)
	return err
}

// compressionOpt maps --compression to a kgo option.
func compressionOpt(name string) (kgo.Opt, error) {
	switch strings.ToLower(name) {
	case "none", "":
		return kgo.ProducerBatchCompression(kgo.NoCompression()), nil
	case "gzip":
		return kgo.ProducerBatchCompression(kgo.GzipCompression()), nil
	case "snappy":
		return kgo.ProducerBatchCompression(kgo.SnappyCompression()), nil
	case "lz4":
		return kgo.ProducerBatchCompression(kgo.Lz4Compression()), nil
	case "zstd":
		return kgo.ProducerBatchCompression(kgo.ZstdCompression()), nil
	}
	return nil, fmt.Errorf("--compression %q: want none, gzip, snappy, lz4 or zstd", name)
}

// acksOpts maps --acks to kgo options. acks=all keeps kgo's idempotent
// producer, as Kafka clients do by default; 1 and 0 turn it off, which kgo
// requires for them.
func acksOpts(acks string) ([]kgo.Opt, error) {
	switch strings.ToLower(acks) {
	case "all", "-1":
		return []kgo.Opt{kgo.RequiredAcks(kgo.AllISRAcks())}, nil
	case "1", "leader":
		return []kgo.Opt{kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite()}, nil
	case "0", "none":
		return []kgo.Opt{kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite()}, nil
	}
	return nil, fmt.Errorf("--acks %q: want all, 1 or 0", acks)
}

// producerOpts returns the kgo options of one producer client.
func (o *produceOptions) producerOpts(cf *clientflags.Flags) ([]kgo.Opt, error) {
	comp, err := compressionOpt(o.compression)
	if err != nil {
		return nil, err
	}
	acks, err := acksOpts(o.acks)
	if err != nil {
		return nil, err
	}
	opts := append(acks, comp,
		kgo.ProducerLinger(o.linger),
		kgo.ProducerBatchMaxBytes(o.batchMaxBytes),
		kgo.MaxBufferedRecords(o.maxBuffered),
		kgo.RecordDeliveryTimeout(cf.RequestTimeout),
	)
	return opts, nil
}

// ensureTopic creates topic with the wanted partitions unless it exists and
// returns its partition count.
func ensureTopic(ctx context.Context, adm *kadm.Client, cl *kgo.Client, topic string, partitions int32, rf int16) (int, error) {
	details, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("bench: metadata for topic %q: %w", topic, err)
	}
	if d, ok := details[topic]; ok && d.Err == nil {
		return len(d.Partitions), nil
	} else if ok && !errors.Is(d.Err, kerr.UnknownTopicOrPartition) {
		return 0, fmt.Errorf("bench: topic %q: %w", topic, d.Err)
	}
	resp, err := adm.CreateTopic(ctx, partitions, rf, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return 0, fmt.Errorf("bench: create topic %q: %w", topic, err)
	}
	return waitForLeaders(ctx, cl, topic)
}

// topicPollEvery is how often ensureTopic re-reads metadata while a new
// topic's partitions get their leaders.
const topicPollEvery = 50 * time.Millisecond

// waitForLeaders waits, until ctx's deadline, for every partition of a new
// topic to have a leader, so that the first records measured do not include
// the cluster's topic creation, and returns the partition count. It sends
// Metadata requests itself: kadm's answers are cached for seconds.
func waitForLeaders(ctx context.Context, cl *kgo.Client, topic string) (int, error) {
	t := time.NewTicker(topicPollEvery)
	defer t.Stop()
	for {
		req := kmsg.NewPtrMetadataRequest()
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(topic)
		req.Topics = append(req.Topics, rt)
		if resp, err := req.RequestWith(ctx, cl); err == nil {
			if n := ledPartitions(resp, topic); n > 0 {
				return n, nil
			}
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("bench: topic %q created but its partitions have no leaders yet: %w", topic, ctx.Err())
		case <-t.C:
		}
	}
}

// ledPartitions returns topic's partition count if every partition has a
// leader, else 0.
func ledPartitions(resp *kmsg.MetadataResponse, topic string) int {
	for _, t := range resp.Topics {
		if t.Topic == nil || *t.Topic != topic || t.ErrorCode != 0 {
			continue
		}
		for _, p := range t.Partitions {
			if p.ErrorCode != 0 || p.Leader < 0 {
				return 0
			}
		}
		return len(t.Partitions)
	}
	return 0
}

func runProduce(ctx context.Context, cf *clientflags.Flags, o *produceOptions, topic string, stdout, stderr io.Writer) error {
	popts, err := o.producerOpts(cf)
	if err != nil {
		return err
	}
	clients := make([]*kgo.Client, 0, o.producers)
	defer func() {
		for _, cl := range clients {
			cl.Close()
		}
	}()
	for range o.producers {
		cl, err := cf.NewClient(popts...)
		if err != nil {
			return err
		}
		clients = append(clients, cl)
	}

	adm, err := cf.NewAdmin()
	if err != nil {
		return err
	}
	mdCtx, cancel := cf.RequestContext(ctx)
	partitions, err := ensureTopic(mdCtx, adm, clients[0], topic, o.partitions, o.replicationFactor)
	cancel()
	adm.Close()
	if err != nil {
		return err
	}

	monitor, err := startBrokerMonitor(o.brokerPIDs)
	if err != nil {
		return err
	}
	clientCPUStart := selfCPUSeconds()
	run := newProduceRun(topic, o, clients)
	elapsed, runErr := run.execute(ctx, cf.RequestTimeout, o, stderr)
	clientCPUEnd := selfCPUSeconds()
	stats, monErr := monitor.finish()

	res := run.result(elapsed)
	res.Topic, res.Partitions, res.Producers = topic, partitions, o.producers
	res.Acks, res.RecordSize, res.TargetRate = strings.ToLower(o.acks), o.recordSize, o.rate
	res.setProcess(stats, clientCPUStart, clientCPUEnd)
	if err := res.print(stdout, o.out); err != nil {
		return err
	}
	switch {
	case runErr != nil:
		return runErr
	case monErr != nil:
		return monErr
	case res.Errors > 0:
		return fmt.Errorf("bench produce: %d records failed, first: %s", res.Errors, res.FirstError)
	}
	return nil
}
