package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streaming/samsa/internal/cli/clientflags"
)

// consumeOptions are the flags of `samsa bench consume`.
type consumeOptions struct {
	common
	records           int64
	fetchMaxBytes     int32
	fetchMaxPartBytes int32
	fetchMaxWait      time.Duration
	fetchMinBytes     int32
	idleTimeout       time.Duration
}

func newConsumeCommand(cf *clientflags.Flags) *cobra.Command {
	o := consumeOptions{}
	cmd := &cobra.Command{
		Use:   "consume TOPIC",
		Short: "Read a topic back as fast as possible and measure",
		Long: `Read TOPIC from the start of every partition with a direct (non-group)
consumer and report records/s and MB/s (keys plus values).

Without --records the command reads until every partition reached the high
watermark it had when the command started; with --records N it stops after
N records (waiting for producers if there are fewer). --duration bounds the
run in time; if no record arrives for --idle-timeout the command stops and
fails, reporting what it read. The summary goes to stdout, a progress line a
second to stderr (--quiet turns them off).

Examples:
  samsa bench consume bench
  samsa bench consume bench --records 1000000 --fetch-max-bytes 104857600
  samsa bench consume bench --format json --broker-pid 4242`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			return runConsume(cmd.Context(), cf, &o, args[0], cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fs := cmd.Flags()
	fs.Int64VarP(&o.records, "records", "n", 0, "records to read (0: up to the high watermarks seen at start)")
	fs.Int32Var(&o.fetchMaxBytes, "fetch-max-bytes", 50<<20, "most bytes one fetch response may carry")
	fs.Int32Var(&o.fetchMaxPartBytes, "fetch-max-partition-bytes", 1<<20, "most bytes per partition in one fetch response")
	fs.DurationVar(&o.fetchMaxWait, "fetch-max-wait", 500*time.Millisecond, "how long the broker may wait for --fetch-min-bytes")
	fs.Int32Var(&o.fetchMinBytes, "fetch-min-bytes", 1, "bytes the broker waits for before answering a fetch")
	fs.DurationVar(&o.idleTimeout, "idle-timeout", 10*time.Second, "fail when no record arrives for this long")
	o.common.register(fs)
	return cmd
}

func (o *consumeOptions) validate() error {
	if err := o.common.validate(); err != nil {
		return err
	}
	switch {
	case o.records < 0:
		return fmt.Errorf("--records must not be negative, got %d", o.records)
	case o.fetchMaxBytes < 1:
		return fmt.Errorf("--fetch-max-bytes must be positive, got %d", o.fetchMaxBytes)
	case o.fetchMaxPartBytes < 1:
		return fmt.Errorf("--fetch-max-partition-bytes must be positive, got %d", o.fetchMaxPartBytes)
	case o.fetchMaxWait < time.Millisecond:
		return fmt.Errorf("--fetch-max-wait must be at least 1ms, got %v", o.fetchMaxWait)
	case o.fetchMinBytes < 1:
		return fmt.Errorf("--fetch-min-bytes must be positive, got %d", o.fetchMinBytes)
	case o.idleTimeout <= 0:
		return fmt.Errorf("--idle-timeout must be positive, got %v", o.idleTimeout)
	}
	return nil
}

// partitionRange is where reading a partition starts and, for the
// until-caught-up mode, the high watermark it must reach.
type partitionRange struct {
	start, end int64
}

// listRanges returns every partition's log start offset and high watermark.
func listRanges(ctx context.Context, adm *kadm.Client, topic string) (map[int32]partitionRange, error) {
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("bench: list start offsets of %q: %w", topic, err)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("bench: list end offsets of %q: %w", topic, err)
	}
	ranges := make(map[int32]partitionRange)
	var firstErr error
	starts.Each(func(s kadm.ListedOffset) {
		if s.Err != nil {
			firstErr = cmp(firstErr, s.Err)
			return
		}
		e, ok := ends.Lookup(topic, s.Partition)
		if !ok || e.Err != nil {
			firstErr = cmp(firstErr, cmp(e.Err, kerr.UnknownTopicOrPartition))
			return
		}
		ranges[s.Partition] = partitionRange{start: s.Offset, end: e.Offset}
	})
	if firstErr != nil {
		return nil, fmt.Errorf("bench: offsets of %q: %w", topic, firstErr)
	}
	if len(ranges) == 0 {
		return nil, fmt.Errorf("bench: topic %q: %w", topic, kerr.UnknownTopicOrPartition)
	}
	return ranges, nil
}

// cmp returns a if it is non-nil, else b.
func cmp(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func runConsume(ctx context.Context, cf *clientflags.Flags, o *consumeOptions, topic string, stdout, stderr io.Writer) error {
	adm, err := cf.NewAdmin()
	if err != nil {
		return err
	}
	mdCtx, cancel := cf.RequestContext(ctx)
	ranges, err := listRanges(mdCtx, adm, topic)
	cancel()
	adm.Close()
	if err != nil {
		return err
	}
	offsets := make(map[int32]kgo.Offset, len(ranges))
	for p, r := range ranges {
		offsets[p] = kgo.NewOffset().At(r.start)
	}
	cl, err := cf.NewClient(
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
		kgo.FetchMaxBytes(o.fetchMaxBytes),
		kgo.FetchMaxPartitionBytes(o.fetchMaxPartBytes),
		kgo.FetchMaxWait(o.fetchMaxWait),
		kgo.FetchMinBytes(o.fetchMinBytes),
	)
	if err != nil {
		return err
	}
	defer cl.Close()

	monitor, err := startBrokerMonitor(o.brokerPIDs)
	if err != nil {
		return err
	}
	clientCPUStart := selfCPUSeconds()
	c := &consumeRun{cl: cl, topic: topic, ranges: ranges, want: o.records}
	elapsed, runErr := c.execute(ctx, o, stderr)
	clientCPUEnd := selfCPUSeconds()
	stats, monErr := monitor.finish()

	res := c.result(elapsed)
	res.Topic, res.Partitions = topic, len(ranges)
	res.setProcess(stats, clientCPUStart, clientCPUEnd)
	if err := res.print(stdout, o.out); err != nil {
		return err
	}
	if runErr != nil {
		return runErr
	}
	return monErr
}

// consumeRun is one execution of `bench consume`. The poll loop is its only
// writer; the progress printer reads the atomics.
type consumeRun struct {
	cl     *kgo.Client
	topic  string
	ranges map[int32]partitionRange
	// want is --records; 0 means read up to every range's end.
	want int64

	records  atomic.Int64
	bytes    atomic.Int64
	errors   int64
	firstErr error
}

// execute polls until the goal is met, --duration passes, ctx ends or
// nothing arrives for --idle-timeout (the only case that is an error). It
// returns the time from the first poll to the last record read.
func (c *consumeRun) execute(ctx context.Context, o *consumeOptions, stderr io.Writer) (time.Duration, error) {
	runCtx := ctx
	if o.duration > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, o.duration)
		defer cancel()
	}
	remaining := 0 // partitions still below their end, when want == 0
	for _, r := range c.ranges {
		if r.end > r.start {
			remaining++
		}
	}
	start := time.Now()
	lastRecord := start
	if c.want == 0 && remaining == 0 {
		return 0, nil // an empty topic: nothing to read
	}
	if !o.quiet {
		stop := make(chan struct{})
		done := progress(stderr, progressEvery, start, c.progressLine(), stop)
		defer func() { close(stop); <-done }()
	}
	next := make(map[int32]int64, len(c.ranges))
	for runCtx.Err() == nil {
		maxPoll := 0
		if c.want > 0 {
			maxPoll = int(min(c.want-c.records.Load(), 1<<20))
		}
		pollCtx, cancel := context.WithTimeout(runCtx, o.idleTimeout)
		fetches := c.cl.PollRecords(pollCtx, maxPoll)
		cancel()
		fetches.EachError(func(_ string, _ int32, err error) {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, kgo.ErrClientClosed) {
				return
			}
			c.errors++
			c.firstErr = cmp(c.firstErr, err)
		})
		var n, b int64
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			for _, r := range p.Records {
				n++
				b += int64(len(r.Key) + len(r.Value))
			}
			if len(p.Records) == 0 {
				return
			}
			last := p.Records[len(p.Records)-1].Offset + 1
			rg := c.ranges[p.Partition]
			if c.want == 0 && next[p.Partition] < rg.end && last >= rg.end {
				remaining--
			}
			next[p.Partition] = last
		})
		if n > 0 {
			lastRecord = time.Now()
			c.records.Add(n)
			c.bytes.Add(b)
		}
		switch {
		case c.want > 0 && c.records.Load() >= c.want, c.want == 0 && remaining <= 0:
			return lastRecord.Sub(start), nil
		case n == 0 && runCtx.Err() == nil && time.Since(lastRecord) >= o.idleTimeout:
			return lastRecord.Sub(start), fmt.Errorf("bench consume: no record for %v, stopped after %d records",
				o.idleTimeout, c.records.Load())
		}
	}
	return lastRecord.Sub(start), nil
}

// progressLine returns the progress printer's line function.
func (c *consumeRun) progressLine() func(time.Duration) string {
	var lastRecords, lastBytes int64
	var lastAt time.Duration
	return func(elapsed time.Duration) string {
		records, bytes := c.records.Load(), c.bytes.Load()
		recs, mbs := rates(records-lastRecords, bytes-lastBytes, elapsed-lastAt)
		lastRecords, lastBytes, lastAt = records, bytes, elapsed
		return fmt.Sprintf("%6.1fs  %10d records  %9.0f rec/s  %8.2f MB/s", elapsed.Seconds(), records, recs, mbs)
	}
}

// result summarises the run; call it after execute returned.
func (c *consumeRun) result(elapsed time.Duration) *ConsumeResult {
	records, bytes := c.records.Load(), c.bytes.Load()
	recs, mbs := rates(records, bytes, elapsed)
	return &ConsumeResult{
		Records:       records,
		Bytes:         bytes,
		Seconds:       round(elapsed.Seconds(), 3),
		RecordsPerSec: round(recs, 1),
		MBPerSec:      round(mbs, 3),
		Errors:        c.errors,
		FirstError:    errString(c.firstErr),
	}
}
