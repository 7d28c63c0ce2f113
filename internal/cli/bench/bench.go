// Package bench implements `samsa bench produce` and `samsa bench consume`,
// samsa's load generator. It drives any Kafka-compatible cluster with
// franz-go's client (kgo) and reports throughput (records/s, MiB/s),
// per-record produce latency percentiles from a fixed-memory log-linear
// histogram, errors, and — with --broker-pid — the CPU time and memory the
// broker processes used during the run, read from /proc. That last part is
// how samsa compares brokers: the same load, the same client, the CPU each
// broker burns.
//
// Goroutines: the command's run function owns every goroutine it starts —
// one producer loop per --producers client, the progress printer and the
// broker monitor's sampler — and waits for each before it prints the
// summary. Every producer loop is bounded by --records or --duration.
package bench

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/samsa-streaming/samsa/internal/cli/clientflags"
	"github.com/samsa-streaming/samsa/internal/cli/format"
)

// maxBrokerPIDs bounds --broker-pid.
const maxBrokerPIDs = 64

// NewCommand returns the `bench` command with its produce and consume verbs.
func NewCommand() *cobra.Command {
	cf := clientflags.New()
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Generate load and measure throughput, latency and broker CPU",
		Long: `Generate load against a Kafka-compatible cluster and measure it.

  samsa bench produce TOPIC   write records as fast as possible or at a fixed
                              rate; report records/s, MB/s and produce
                              latency percentiles
  samsa bench consume TOPIC   read a topic back; report records/s and MB/s

With --broker-pid PID (repeatable: one per broker process on this machine)
both also report the CPU seconds the brokers used during the run
(utime+stime from /proc/PID/stat) and their peak resident memory
(VmRSS sampled every 200 ms, and VmHWM), so brokers can be compared under
the same load. MB means MiB (2^20 bytes) throughout.

Examples:
  samsa bench produce bench --records 1000000 --record-size 100 --acks 1
  samsa bench produce bench --rate 20000 --duration 30s --broker-pid $(pgrep -x samsa)
  samsa bench consume bench --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cf.Register(cmd.PersistentFlags())
	cmd.AddCommand(newProduceCommand(cf), newConsumeCommand(cf))
	return cmd
}

// common are the flags both verbs take.
type common struct {
	duration   time.Duration
	quiet      bool
	brokerPIDs []int
	out        format.Format
}

func (c *common) register(fs *pflag.FlagSet) {
	fs.DurationVar(&c.duration, "duration", 0, "stop after this long (0: no time limit)")
	fs.BoolVarP(&c.quiet, "quiet", "q", false, "no progress lines on stderr")
	fs.IntSliceVar(&c.brokerPIDs, "broker-pid", nil,
		"measure this broker process's CPU and memory during the run (repeatable; Linux /proc)")
	format.AddFlag(fs, &c.out)
}

func (c *common) validate() error {
	if c.duration < 0 {
		return fmt.Errorf("--duration must not be negative, got %v", c.duration)
	}
	if len(c.brokerPIDs) > maxBrokerPIDs {
		return fmt.Errorf("--broker-pid: at most %d processes, got %d", maxBrokerPIDs, len(c.brokerPIDs))
	}
	for _, pid := range c.brokerPIDs {
		if pid <= 0 {
			return fmt.Errorf("--broker-pid %d: want a process id > 0", pid)
		}
	}
	return nil
}

// errString renders an error for the first_error field, "" for nil.
func errString(err error) string {
	if err == nil {
		return ""
	}
	return strings.TrimSpace(err.Error())
}
