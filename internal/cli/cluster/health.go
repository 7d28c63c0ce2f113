package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-streaming/samsa/internal/cli/clientflags"
	"github.com/samsa-streaming/samsa/internal/cli/format"
)

// Reasons a cluster is unhealthy, as rpk names them.
const (
	reasonNoController    = "no_elected_controller"
	reasonNodesDown       = "nodes_down"
	reasonLeaderless      = "leaderless_partitions"
	reasonUnderReplicated = "under_replicated_partitions"
)

// healthMetadataAge bounds the age of the Metadata a health check reads:
// kgo caches Metadata answers for 5 s by default, and a watch must see
// what the brokers say now.
const healthMetadataAge = 100 * time.Millisecond

// health is the result of `cluster health` (rpk's "cluster health
// overview").
type health struct {
	Healthy          bool     `json:"healthy"`
	UnhealthyReasons []string `json:"unhealthy_reasons"`
	Controller       int32    `json:"controller_id"`
	// AllNodes are the live brokers and every node a partition names as a
	// replica.
	AllNodes  []int32 `json:"all_nodes"`
	NodesDown []int32 `json:"nodes_down"`
	// Leaderless and UnderReplicated name partitions as "topic/partition".
	Leaderless      []string `json:"leaderless_partitions"`
	UnderReplicated []string `json:"under_replicated_partitions"`
}

func newHealthCommand(cf *clientflags.Flags) *cobra.Command {
	var (
		out           format.Format
		watch         bool
		exitOnHealthy bool
		interval      time.Duration
		timeout       time.Duration
	)
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Show whether every node is up and every partition led and fully replicated",
		Long: `Show the cluster's health, as rpk cluster health does: the controller,
the nodes (live brokers and every node a partition names as a replica), the
nodes down (named as replicas but not live), the leaderless partitions and
the under-replicated ones (fewer in-sync replicas than replicas). The cluster
is healthy when a controller is elected and none of the lists has an entry.

It reads the Metadata of one broker; a broker cut off from the others may
answer with what it knew before.

--watch repeats the check every --interval until Ctrl-C. --exit-when-healthy
repeats it until the cluster is healthy and then exits 0; with --timeout it
exits 1 if the cluster is not healthy in time. This is the check to run
between two nodes of a rolling restart.

Examples:
  samsa cluster health
  samsa cluster health --format json
  samsa cluster health --exit-when-healthy --timeout 2m
  samsa cluster health --watch --interval 5s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if interval <= 0 {
				return fmt.Errorf("--interval must be positive, got %v", interval)
			}
			if timeout < 0 {
				return fmt.Errorf("--timeout must not be negative, got %v", timeout)
			}
			cl, err := cf.NewClient(kgo.MetadataMinAge(healthMetadataAge))
			if err != nil {
				return err
			}
			defer cl.Close()
			ctx := cmd.Context()
			if timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			return runHealth(ctx, healthRun{
				adm: kadm.NewClient(cl), cf: cf, out: out, watch: watch, exitOnHealthy: exitOnHealthy,
				interval: interval, timeout: timeout, stdout: cmd.OutOrStdout(), stderr: cmd.ErrOrStderr(),
			})
		},
	}
	format.AddFlag(cmd.Flags(), &out)
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "repeat the check every --interval")
	cmd.Flags().BoolVarP(&exitOnHealthy, "exit-when-healthy", "e", false,
		"repeat the check until the cluster is healthy, then exit 0")
	cmd.Flags().DurationVar(&interval, "interval", 2*time.Second, "pause between two checks of --watch and --exit-when-healthy")
	cmd.Flags().DurationVar(&timeout, "timeout", 0,
		"give up after this long (0: never); with --exit-when-healthy, exit 1 if not healthy by then")
	return cmd
}

// healthRun is one `cluster health` invocation.
type healthRun struct {
	adm                  *kadm.Client
	cf                   *clientflags.Flags
	out                  format.Format
	watch, exitOnHealthy bool
	interval, timeout    time.Duration
	stdout, stderr       io.Writer
}

// runHealth checks once, or repeatedly until ctx ends (--watch) or the
// cluster is healthy (--exit-when-healthy).
func runHealth(ctx context.Context, r healthRun) error {
	show := func(h health) error {
		return format.Print(r.stdout, r.out, h, func(w io.Writer) error { return writeHealth(w, h) })
	}
	last := "no answer yet"
	for {
		rctx, rcancel := r.cf.RequestContext(ctx)
		h, err := checkHealth(rctx, r.adm)
		rcancel()
		switch {
		case err != nil && !r.watch && !r.exitOnHealthy:
			return err
		case err != nil:
			last = err.Error()
			fmt.Fprintf(r.stderr, "%v (asking again in %v)\n", err, r.interval)
		case r.exitOnHealthy && h.Healthy:
			return show(h)
		case r.exitOnHealthy:
			now := "unhealthy: " + strings.Join(h.UnhealthyReasons, ", ")
			if now != last { // say it when it changes, not every interval
				fmt.Fprintf(r.stderr, "not healthy yet (%s); asking every %v\n", strings.Join(h.UnhealthyReasons, ", "), r.interval)
			}
			last = now
		default:
			if err := show(h); err != nil {
				return err
			}
			if !r.watch {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			if r.exitOnHealthy {
				if errors.Is(ctx.Err(), context.DeadlineExceeded) {
					return fmt.Errorf("cluster health: not healthy within %v (%s)", r.timeout, last)
				}
				return fmt.Errorf("cluster health: stopped before the cluster was healthy (%s)", last)
			}
			return nil // the watch is over: --timeout or Ctrl-C
		case <-time.After(r.interval):
		}
	}
}

// checkHealth asks one broker for the metadata of every topic and judges it.
func checkHealth(ctx context.Context, adm *kadm.Client) (health, error) {
	md, err := adm.Metadata(ctx)
	if err != nil {
		return health{}, fmt.Errorf("cluster health: metadata: %w", err)
	}
	return judgeHealth(md), nil
}

// judgeHealth computes the health of a metadata answer.
func judgeHealth(md kadm.Metadata) health {
	h := health{Controller: md.Controller}
	live := map[int32]bool{}
	for _, b := range md.Brokers {
		live[b.NodeID] = true
	}
	all := map[int32]bool{}
	for id := range live {
		all[id] = true
	}
	for _, topic := range md.Topics.Names() {
		td := md.Topics[topic]
		for _, p := range td.Partitions.Sorted() {
			name := fmt.Sprintf("%s/%d", topic, p.Partition)
			for _, r := range p.Replicas {
				all[r] = true
			}
			if p.Leader < 0 {
				h.Leaderless = append(h.Leaderless, name)
			}
			if len(p.ISR) < len(p.Replicas) {
				h.UnderReplicated = append(h.UnderReplicated, name)
			}
		}
	}
	for id := range all {
		h.AllNodes = append(h.AllNodes, id)
		if !live[id] {
			h.NodesDown = append(h.NodesDown, id)
		}
	}
	slices.Sort(h.AllNodes)
	slices.Sort(h.NodesDown)
	sort.Strings(h.Leaderless)
	sort.Strings(h.UnderReplicated)
	if h.Controller < 0 {
		h.UnhealthyReasons = append(h.UnhealthyReasons, reasonNoController)
	}
	if len(h.NodesDown) > 0 {
		h.UnhealthyReasons = append(h.UnhealthyReasons, reasonNodesDown)
	}
	if len(h.Leaderless) > 0 {
		h.UnhealthyReasons = append(h.UnhealthyReasons, reasonLeaderless)
	}
	if len(h.UnderReplicated) > 0 {
		h.UnhealthyReasons = append(h.UnhealthyReasons, reasonUnderReplicated)
	}
	h.Healthy = len(h.UnhealthyReasons) == 0
	// JSON lists, never null.
	for _, s := range []*[]string{&h.UnhealthyReasons, &h.Leaderless, &h.UnderReplicated} {
		if *s == nil {
			*s = []string{}
		}
	}
	for _, s := range []*[]int32{&h.AllNodes, &h.NodesDown} {
		if *s == nil {
			*s = []int32{}
		}
	}
	return h
}

// writeHealth prints h as rpk's overview.
func writeHealth(w io.Writer, h health) error {
	format.Section(w, "CLUSTER HEALTH OVERVIEW", true)
	return format.WriteKVs(w,
		format.KV{Key: "Healthy:", Value: h.Healthy},
		format.KV{Key: "Unhealthy reasons:", Value: h.UnhealthyReasons},
		format.KV{Key: "Controller ID:", Value: h.Controller},
		format.KV{Key: "All nodes:", Value: h.AllNodes},
		format.KV{Key: "Nodes down:", Value: h.NodesDown},
		format.KV{Key: fmt.Sprintf("Leaderless partitions (%d):", len(h.Leaderless)), Value: h.Leaderless},
		format.KV{Key: fmt.Sprintf("Under-replicated partitions (%d):", len(h.UnderReplicated)), Value: h.UnderReplicated},
	)
}
