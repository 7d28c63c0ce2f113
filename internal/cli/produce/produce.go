// Package produce implements `samsa produce`: it reads records from stdin,
// one per line, and writes them to a topic with franz-go's producer (kgo),
// idempotent by default, exactly as any Kafka application would.
package produce

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streaming/samsa/internal/cli/clientflags"
	"github.com/samsa-streaming/samsa/internal/cli/format"
)

// DefaultMaxLineBytes bounds one input line (one record): Kafka's default
// message.max.bytes.
const DefaultMaxLineBytes = 1048588

// options are the flags of `samsa produce`.
type options struct {
	key         string
	keyDelim    string
	headers     []string
	compression string
	partition   int32
	acks        string
	verbose     bool
	maxLine     int
	autoCreate  bool
	out         format.Format
}

// NewCommand returns the `produce` command.
func NewCommand() *cobra.Command {
	cf := clientflags.New()
	o := options{}
	cmd := &cobra.Command{
		Use:   "produce TOPIC",
		Short: "Produce records from stdin, one per line",
		Long: `Produce records to TOPIC, one record per line of stdin.

Each line (without its trailing newline) becomes one record value; an empty
line is an empty value. Keys:
  --key K          every record gets key K
  --key-delim SEP  each line is split at the first SEP into key and value;
                   a line without SEP has no key
Headers: --header k=v, repeatable, added to every record in order.

Records go to partitions by the default partitioner (murmur2 hash of the
key, sticky batches for records without a key), or all to --partition N.
--acks all (the default) uses the idempotent producer, as Kafka clients do
by default; --acks 1 and --acks 0 turn idempotence off. With --acks 0 the
broker does not answer, so offsets are unknown and shown as "-".

When stdin ends the command waits for every record to be acknowledged and
prints a summary (records per partition with their first and last offset),
or with --verbose one line per record instead. Ctrl-C stops reading, waits
for the records already read, and exits cleanly. The command exits non-zero
if any record failed.

Examples:
  echo hello | samsa produce greetings
  samsa produce orders --key-delim : < orders.txt        # "key:value" lines
  seq 1000 | samsa produce numbers --compression zstd -p 0
  samsa produce audit --header source=cli --header env=dev --verbose
  samsa produce events --acks 1 --format json < events.txt`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("partition") && o.partition < 0 {
				return fmt.Errorf("--partition must be >= 0, got %d", o.partition)
			}
			if cmd.Flags().Changed("key") && o.keyDelim != "" {
				return errors.New("--key and --key-delim cannot be used together")
			}
			return run(cmd.Context(), cf, &o, cmd.Flags().Changed("key"), args[0], cmd.InOrStdin(), cmd.OutOrStdout())
		},
	}
	cf.Register(cmd.PersistentFlags())
	fs := cmd.Flags()
	fs.StringVarP(&o.key, "key", "k", "", "key for every record")
	fs.StringVar(&o.keyDelim, "key-delim", "", "split each line at the first SEP into key and value")
	fs.StringArrayVarP(&o.headers, "header", "H", nil, "header key=value for every record (repeatable)")
	fs.StringVarP(&o.compression, "compression", "z", "none", "batch compression: none, gzip, snappy, lz4 or zstd")
	fs.Int32VarP(&o.partition, "partition", "p", -1, "produce every record to this partition (manual partitioner)")
	fs.StringVar(&o.acks, "acks", "all", "acknowledgements to wait for: all, 1 or 0")
	fs.BoolVarP(&o.verbose, "verbose", "v", false, "print partition and offset of every record instead of a summary")
	fs.IntVar(&o.maxLine, "max-line-bytes", DefaultMaxLineBytes, "longest accepted input line (one record)")
	fs.BoolVar(&o.autoCreate, "allow-auto-topic-creation", false, "let the broker create TOPIC if it does not exist")
	format.AddFlag(fs, &o.out)
	return cmd
}

// producerOpts translates the flags into kgo producer options.
func producerOpts(o *options, cf *clientflags.Flags) ([]kgo.Opt, error) {
	var opts []kgo.Opt
	switch strings.ToLower(o.compression) {
	case "none", "":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.NoCompression()))
	case "gzip":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.GzipCompression()))
	case "snappy":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.SnappyCompression()))
	case "lz4":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.Lz4Compression()))
	case "zstd":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.ZstdCompression()))
	default:
		return nil, fmt.Errorf("--compression %q: want none, gzip, snappy, lz4 or zstd", o.compression)
	}
	switch strings.ToLower(o.acks) {
	case "all", "-1":
	case "1", "leader":
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	case "0", "none":
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
	default:
		return nil, fmt.Errorf("--acks %q: want all, 1 or 0", o.acks)
	}
	if o.partition >= 0 {
		opts = append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	}
	if o.autoCreate {
		opts = append(opts, kgo.AllowAutoTopicCreation())
	}
	if o.maxLine < 1 || o.maxLine > 100<<20 {
		return nil, fmt.Errorf("--max-line-bytes must be between 1 and %d, got %d", 100<<20, o.maxLine)
	}
	if o.verbose && o.out == format.YAML {
		return nil, errors.New("--verbose prints text or json lines; --format yaml is not supported with it")
	}
	opts = append(opts, kgo.RecordDeliveryTimeout(cf.RequestTimeout))
	return opts, nil
}

// checkTopic fails early, with a clear message, when the topic (or the
// requested partition) does not exist, instead of letting the producer retry.
func checkTopic(ctx context.Context, cl *kgo.Client, topic string, partition int32, autoCreate bool) error {
	details, err := kadm.NewClient(cl).ListTopics(ctx, topic)
	if err != nil {
		return fmt.Errorf("produce: metadata for topic %q: %w", topic, err)
	}
	d, ok := details[topic]
	if !ok || d.Err != nil {
		terr := error(kerr.UnknownTopicOrPartition)
		if ok {
			terr = d.Err
		}
		if errors.Is(terr, kerr.UnknownTopicOrPartition) && autoCreate {
			return nil // the producer's metadata request creates it
		}
		if errors.Is(terr, kerr.UnknownTopicOrPartition) {
			return fmt.Errorf("produce: topic %q does not exist (%w); create it with 'samsa topic create %s' or pass --allow-auto-topic-creation",
				topic, terr, topic)
		}
		return fmt.Errorf("produce: topic %q: %w", topic, terr)
	}
	if partition >= 0 && int(partition) >= len(d.Partitions) {
		return fmt.Errorf("produce: --partition %d: topic %q has %d partitions (0..%d)",
			partition, topic, len(d.Partitions), len(d.Partitions)-1)
	}
	return nil
}

func run(ctx context.Context, cf *clientflags.Flags, o *options, hasKey bool, topic string, in io.Reader, out io.Writer) error {
	popts, err := producerOpts(o, cf)
	if err != nil {
		return err
	}
	hdrs, err := parseHeaders(o.headers)
	if err != nil {
		return err
	}
	cl, err := cf.NewClient(popts...)
	if err != nil {
		return err
	}
	defer cl.Close()

	mdCtx, cancel := cf.RequestContext(ctx)
	err = checkTopic(mdCtx, cl, topic, o.partition, o.autoCreate)
	cancel()
	if err != nil {
		return err
	}

	b := &recordBuilder{topic: topic, partition: o.partition, headers: hdrs}
	if hasKey {
		b.key, b.hasKey = []byte(o.key), true
	}
	if o.keyDelim != "" {
		b.keyDelim = []byte(o.keyDelim)
	}
	res := newResults(topic, o.acks == "0" || strings.EqualFold(o.acks, "none"), o.verbose, o.out, out)
	readErr := produceAll(ctx, cf, cl, newLineReader(in, o.maxLine), b, res)
	if err := res.finish(); err != nil {
		return err
	}
	return readErr
}

// produceAll hands every input line to the producer and waits until all were
// acknowledged. Stdin is read on its own goroutine so that a signal (ctx
// done) ends the command even while a read blocks; records already read are
// still delivered, bounded by --request-timeout.
func produceAll(ctx context.Context, cf *clientflags.Flags, cl *kgo.Client, lr *lineReader, b *recordBuilder, res *results) error {
	type item struct {
		rec *kgo.Record
		err error
	}
	items := make(chan item, 256)
	stop := make(chan struct{})
	defer close(stop)
	// Owned by produceAll; exits at EOF, on a read error, or when stop
	// closes. A read blocked on a terminal outlives the command only until
	// the process exits.
	go func() {
		defer close(items)
		for {
			line, err := lr.next()
			if err == io.EOF {
				return
			}
			it := item{err: err}
			if err == nil {
				it.rec = b.build(line)
			}
			select {
			case items <- it:
			case <-stop:
				return
			}
			if err != nil {
				return
			}
		}
	}()

	// Records in flight keep going after an interrupt: only reading stops.
	produceCtx := context.WithoutCancel(ctx)
	var readErr error
loop:
	for !res.failed() {
		select {
		case <-ctx.Done():
			break loop
		case it, ok := <-items:
			if !ok {
				break loop
			}
			if it.err != nil {
				readErr = it.err
				break loop
			}
			res.sent()
			cl.Produce(produceCtx, it.rec, res.onAck)
		}
	}
	// Every record fails by itself after --request-timeout; the deadline
	// here only guards against a producer that never calls back.
	flushCtx, cancel := context.WithTimeout(produceCtx, 2*cf.RequestTimeout+5*time.Second)
	defer cancel()
	if err := cl.Flush(flushCtx); err != nil {
		return fmt.Errorf("produce: waiting for acknowledgements: %w", err)
	}
	return readErr
}
