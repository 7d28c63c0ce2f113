package cluster

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/samsa-streaming/samsa/internal/cli/clientflags"
	"github.com/samsa-streaming/samsa/internal/cli/cluster/plan"
	"github.com/samsa-streaming/samsa/internal/cli/format"
)

func newRebalanceCommand(cf *clientflags.Flags) *cobra.Command {
	var (
		opts   flowOptions
		topics []string
	)
	cmd := &cobra.Command{
		Use:   "rebalance",
		Short: "Even out replicas and leaders across the brokers",
		Long: `Even out the replicas and the preferred leaders across the live brokers,
moving as few replicas as possible.

The plan gives every broker the same number of replicas, give or take one,
and then reorders replica lists so that every broker is the preferred
leader (first replica) of about as many partitions, which copies no data. A
partition never gets two replicas on one broker and keeps its replication
factor; with racks, no partition ends up on fewer racks than before.
Replicas on brokers that are not live stay where they are (drain a dead
broker with 'samsa cluster decommission').

The command prints the plan:
  PLAN     TOPIC PARTITION CURRENT-REPLICAS TARGET-REPLICAS
  BROKERS  ID RACK REPLICAS TARGET-REPLICAS LEADERS TARGET-LEADERS
           (LEADERS counts preferred leaders, i.e. first replicas)
then submits it with AlterPartitionReassignments and, with --wait (the
default), shows progress on stderr until every reassignment completed, and
finally runs a preferred leader election for the moved partitions so that
leadership follows the new first replicas. A partition already being
reassigned counts at its target and is waited for too.

--topics limits the plan to those topics: their replicas are balanced among
themselves, other topics are neither moved nor counted. With --format json
or yaml the whole outcome (plan, broker loads, results) prints at the end.

Examples:
  samsa cluster rebalance --dry-run
  samsa cluster rebalance
  samsa cluster rebalance --topics orders,payments --timeout 30m
  samsa cluster rebalance --wait=false --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.timeout <= 0 {
				return fmt.Errorf("--timeout must be positive, got %v", opts.timeout)
			}
			names, err := topicList(topics)
			if err != nil {
				return err
			}
			s, err := openSession(cf)
			if err != nil {
				return err
			}
			defer s.close()
			return rebalance(cmd.Context(), s, opts, names, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().BoolVar(&opts.dryRun, "dry-run", false, "print the plan without submitting it")
	cmd.Flags().BoolVar(&opts.wait, "wait", true, "wait for the reassignments to complete, then elect preferred leaders")
	cmd.Flags().DurationVar(&opts.timeout, "timeout", DefaultWaitTimeout, "how long --wait waits for the reassignments")
	cmd.Flags().StringSliceVar(&topics, "topics", nil, "balance only these topics (comma separated or repeated)")
	format.AddFlag(cmd.Flags(), &opts.out)
	return cmd
}

// topicList cleans --topics: no empty names, no duplicates.
func topicList(topics []string) ([]string, error) {
	out := make([]string, 0, len(topics))
	for _, t := range topics {
		t = strings.TrimSpace(t)
		if t == "" {
			return nil, fmt.Errorf("--topics: empty topic name in %q", strings.Join(topics, ","))
		}
		out = append(out, t)
	}
	return format.UniqueNames(out), nil
}

func rebalance(ctx context.Context, s *session, opts flowOptions, topics []string, stdout, stderr io.Writer) error {
	st, err := loadState(ctx, s, topics)
	if err != nil {
		return fmt.Errorf("rebalance: %w", err)
	}
	if len(st.brokers) == 0 {
		return fmt.Errorf("rebalance: the cluster lists no live brokers; check that the brokers are up with `samsa cluster info`")
	}
	moves, err := plan.Rebalance(st.brokers, st.assignment)
	if err != nil {
		return fmt.Errorf("rebalance: %w", err)
	}
	f := newFlow(s, opts, stdout, stderr, "rebalance", st, moves)
	if dead := st.unlisted(); len(dead) > 0 {
		f.note("brokers %v hold replicas but are not live; rebalance leaves those replicas in place (move them with `samsa cluster decommission ID`)", dead)
	}
	if st.ongoing.count() > 0 {
		f.note("%d partition reassignments are already in progress; the plan counts them at their targets", st.ongoing.count())
	}
	if err := f.printPlan("Nothing to move: the replicas and preferred leaders are balanced."); err != nil {
		return err
	}
	if len(moves) == 0 && (st.ongoing.count() == 0 || !opts.wait || opts.dryRun) {
		return f.finish(nil)
	}
	waitAlso := partitionSet{}
	for t, ps := range st.ongoing {
		for p := range ps {
			waitAlso.add(t, p)
		}
	}
	accepted, err := f.run(ctx, waitAlso, "run `samsa cluster elect-leaders` so that leadership follows the new first replicas")
	if err != nil {
		return f.finish(err)
	}
	if opts.dryRun || !opts.wait {
		return f.finish(nil)
	}
	copied := 0
	for _, m := range accepted {
		copied += m.Moved()
	}
	f.say("Rebalance complete: %d partitions reassigned, %d replicas copied to new brokers.", len(accepted), copied)
	return f.finish(f.rejectedErr())
}
