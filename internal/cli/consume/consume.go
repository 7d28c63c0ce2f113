// Package consume implements `samsa consume`: it reads records from a topic
// with franz-go's consumer (kgo), directly from chosen partitions and offsets
// or as a member of a consumer group, and prints them as text, JSON lines or
// a kcat-style template.
package consume

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streaming/samsa/internal/cli/clientflags"
)

// maxPartitionArgs bounds --partition so a range like 0-2000000000 cannot
// allocate without limit; Kafka topics have far fewer partitions.
const maxPartitionArgs = 1 << 16

// options are the flags of `samsa consume`.
type options struct {
	offset        string
	partitions    []string
	num           int
	group         string
	format        string
	exitAtEnd     bool
	readCommitted bool
}

// NewCommand returns the `consume` command.
func NewCommand() *cobra.Command {
	cf := clientflags.New()
	o := options{}
	cmd := &cobra.Command{
		Use:   "consume TOPIC",
		Short: "Consume records and print them",
		Long: `Consume records from TOPIC and print them to stdout.

Where to start (--offset, per partition; never before the log start nor past
the high watermark):
  start | oldest     the earliest record still in the log (default)
  end | newest       only records produced from now on
  N                  offset N
  +N / -N            N records after the start / before the end
  @MS                the first record with a timestamp >= unix milliseconds MS
  @RFC3339           the same for a time, e.g. @2024-05-01T12:00:00Z
  @-DURATION         the same for now minus a duration, e.g. @-15m

Without --group the command reads the partitions given with --partition
(repeatable or comma separated, ranges like 0-3; default all) directly. With
--group G it joins consumer group G, reads the partitions the group assigns
it, starts where the group committed (--offset applies to partitions without
a commit) and commits what it printed when it exits.

Output (--format):
  text       the value of each record, one per line (default)
  json       one JSON object per line: topic, partition, offset, timestamp
             (unix ms), leader_epoch, key, value (null when null) and headers
             (a list of {key, value})
  TEMPLATE   any text with these verbs, like kcat -f or rpk -f:
` + templateHelp + `

The command runs until --num records were printed, until it caught up with
the high watermarks seen at start (--exit-at-end), or until Ctrl-C/SIGTERM;
all three end it cleanly with exit status 0. With --group, --exit-at-end
waits for every partition of the topic, so use it with a single member.

Examples:
  samsa consume orders
  samsa consume orders --offset end                      # follow new records
  samsa consume orders -p 0,2 --offset -10 --exit-at-end  # last 10 of two partitions
  samsa consume orders --offset @2024-05-01T00:00:00Z --num 100
  samsa consume orders --group audit --format json
  samsa consume orders --format '%p/%o %k=%v [%h]'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(cmd.Context(), cf, &o, args[0], cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cf.Register(cmd.PersistentFlags())
	fs := cmd.Flags()
	fs.StringVarP(&o.offset, "offset", "o", "start", "where to start: start, end, N, +N, -N, @unix-ms, @RFC3339 or @-duration")
	fs.StringSliceVarP(&o.partitions, "partition", "p", nil, "partitions to read (repeatable, comma separated, ranges a-b; default all)")
	fs.IntVarP(&o.num, "num", "n", 0, "exit after printing this many records (0: no limit)")
	fs.StringVarP(&o.group, "group", "g", "", "consume as a member of this consumer group")
	fs.StringVarP(&o.format, "format", "f", "text", "output: text, json or a template (see above)")
	fs.BoolVarP(&o.exitAtEnd, "exit-at-end", "e", false, "exit once caught up with the high watermarks seen at start")
	fs.BoolVar(&o.readCommitted, "read-committed", false, "read only committed transactional records (isolation.level=read_committed)")
	return cmd
}

// parsePartitions parses --partition values: numbers and ranges a-b.
func parsePartitions(vals []string) ([]int32, error) {
	var out []int32
	for _, v := range vals {
		v = strings.TrimSpace(v)
		lo, hi, isRange := strings.Cut(v, "-")
		a, err := strconv.ParseInt(strings.TrimSpace(lo), 10, 32)
		b := a
		if err == nil && isRange {
			b, err = strconv.ParseInt(strings.TrimSpace(hi), 10, 32)
		}
		if err != nil || a < 0 || b < a {
			return nil, fmt.Errorf("--partition %q: want a partition number or a range a-b", v)
		}
		if b-a+1 > maxPartitionArgs || len(out)+int(b-a+1) > maxPartitionArgs {
			return nil, fmt.Errorf("--partition: more than %d partitions", maxPartitionArgs)
		}
		for p := a; p <= b; p++ {
			out = append(out, int32(p))
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// setup is what run learns before it starts the consumer.
type setup struct {
	spec  offsetSpec
	parts []int32
	plans map[int32]partitionPlan
}

// prepare validates the flags, checks that the topic and partitions exist
// and resolves where every partition starts.
func prepare(ctx context.Context, cf *clientflags.Flags, o *options, topic string) (setup, error) {
	var s setup
	var err error
	if s.spec, err = parseOffset(o.offset, time.Now()); err != nil {
		return s, err
	}
	if o.num < 0 {
		return s, fmt.Errorf("--num must be >= 0, got %d", o.num)
	}
	if s.parts, err = parsePartitions(o.partitions); err != nil {
		return s, err
	}
	if o.group != "" && len(s.parts) > 0 {
		return s, errors.New("--partition cannot be used with --group: the group assigns partitions")
	}
	adm, err := cf.NewAdmin()
	if err != nil {
		return s, err
	}
	defer adm.Close()
	ctx, cancel := cf.RequestContext(ctx)
	defer cancel()

	details, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return s, fmt.Errorf("consume: metadata for topic %q: %w", topic, err)
	}
	d, ok := details[topic]
	if !ok {
		return s, fmt.Errorf("consume: topic %q: %w", topic, kerr.UnknownTopicOrPartition)
	}
	if d.Err != nil {
		return s, fmt.Errorf("consume: topic %q: %w", topic, d.Err)
	}
	all := d.Partitions.Numbers()
	if len(s.parts) == 0 {
		s.parts = all
	}
	for _, p := range s.parts {
		if _, ok := d.Partitions[p]; !ok {
			return s, fmt.Errorf("consume: topic %q has no partition %d (it has %d: 0..%d)", topic, p, len(all), len(all)-1)
		}
	}
	if s.plans, err = plan(ctx, adm, topic, s.parts, s.spec, o.readCommitted); err != nil {
		return s, fmt.Errorf("consume: topic %q: %w", topic, err)
	}
	if o.group != "" && o.exitAtEnd {
		if err := applyCommitted(ctx, adm, o.group, topic, s.plans); err != nil {
			return s, err
		}
	}
	return s, nil
}

// applyCommitted moves each partition's planned start to the group's
// committed offset, where the group has one (that is where the group
// consumer will start), so that --exit-at-end knows what is left to read.
func applyCommitted(ctx context.Context, adm *kadm.Client, group, topic string, plans map[int32]partitionPlan) error {
	committed, err := adm.FetchOffsets(ctx, group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		return nil // a new group: nothing committed yet
	}
	if err != nil {
		return fmt.Errorf("consume: committed offsets of group %q: %w", group, err)
	}
	for p, pl := range plans {
		c, ok := committed.Lookup(topic, p)
		if ok && c.Err == nil && c.At >= pl.start && c.At <= pl.end {
			pl.first = c.At
			plans[p] = pl
		}
	}
	return nil
}

func run(ctx context.Context, cf *clientflags.Flags, o *options, topic string, out, errOut io.Writer) error {
	rend, err := newRenderer(o.format)
	if err != nil {
		return err
	}
	s, err := prepare(ctx, cf, o, topic)
	if err != nil {
		return err
	}
	var tracker *endTracker
	if o.exitAtEnd {
		if tracker = newEndTracker(s.plans); tracker.done() {
			return nil
		}
	}

	opts := []kgo.Opt{kgo.KeepControlRecords()}
	if o.readCommitted {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	if o.group != "" {
		opts = append(opts,
			kgo.ConsumerGroup(o.group),
			kgo.ConsumeTopics(topic),
			kgo.ConsumeResetOffset(s.spec.kgoOffset()),
			kgo.AutoCommitMarks(),
		)
	} else {
		offsets := make(map[int32]kgo.Offset, len(s.plans))
		for p, pl := range s.plans {
			offsets[p] = kgo.NewOffset().At(pl.first)
		}
		opts = append(opts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}))
	}
	cl, err := cf.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()

	loopErr := consumeLoop(ctx, cl, o, rend, tracker, bufio.NewWriterSize(out, 64<<10), errOut)
	if o.group != "" {
		commitCtx, cancel := cf.RequestContext(context.WithoutCancel(ctx))
		defer cancel()
		if err := cl.CommitMarkedOffsets(commitCtx); err != nil && loopErr == nil {
			loopErr = fmt.Errorf("consume: commit offsets of group %q: %w", o.group, err)
		}
	}
	return loopErr
}

// consumeLoop polls and prints until --num, --exit-at-end or ctx ends it.
func consumeLoop(ctx context.Context, cl *kgo.Client, o *options, rend renderer, tracker *endTracker, w *bufio.Writer, errOut io.Writer) error {
	var (
		printed int
		buf     []byte
		err     error
	)
	for (tracker == nil || !tracker.done()) && (o.num == 0 || printed < o.num) {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil || fetches.IsClientClosed() {
			break // interrupted: a clean exit
		}
		for _, fe := range fetches.Errors() {
			if _, ok := errors.AsType[*kgo.ErrDataLoss](fe.Err); ok {
				fmt.Fprintf(errOut, "samsa: warning: %v\n", fe.Err)
				continue
			}
			if errors.Is(fe.Err, context.Canceled) {
				continue
			}
			return fmt.Errorf("consume: partition %d: %w", fe.Partition, fe.Err)
		}
		for r := range fetches.RecordsAll() {
			if o.num > 0 && printed >= o.num {
				break
			}
			if tracker != nil {
				if !tracker.within(r.Partition, r.Offset) {
					continue
				}
				tracker.observe(r.Partition, r.Offset)
			}
			if r.Attrs.IsControl() {
				continue
			}
			if buf, err = rend.render(buf[:0], r); err != nil {
				return fmt.Errorf("consume: %w", err)
			}
			if _, err := w.Write(buf); err != nil {
				return fmt.Errorf("consume: write output: %w", err)
			}
			printed++
			if o.group != "" {
				cl.MarkCommitRecords(r)
			}
		}
		if err := w.Flush(); err != nil {
			return fmt.Errorf("consume: write output: %w", err)
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("consume: write output: %w", err)
	}
	return nil
}
