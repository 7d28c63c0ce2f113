package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/cli/clientflags"
	"github.com/samsa-streaming/samsa/internal/cli/cluster/plan"
	"github.com/samsa-streaming/samsa/internal/cli/format"
)

// drainCheckTimeout bounds how long decommission waits, after the
// reassignments completed, for Metadata to show the drained broker empty.
var drainCheckTimeout = 30 * time.Second

// unregisterBrokerKey is the Kafka API key of UnregisterBroker (KIP-631).
const unregisterBrokerKey = 64

func newDecommissionCommand(cf *clientflags.Flags) *cobra.Command {
	var opts flowOptions
	cmd := &cobra.Command{
		Use:   "decommission NODE-ID",
		Short: "Move every replica off a broker and unregister it",
		Long: `Drain a broker: move every replica it holds to the least loaded other
brokers, moving nothing else, then unregister it so that it can be stopped.

Each replica of the broker is replaced, in place, by the broker that keeps
the partition on the most racks, then holds the fewest replicas; where the
drained broker was the preferred leader, the replica of the new list that
leads the fewest partitions comes first. The command fails before changing
anything if a partition cannot keep its replication factor (fewer brokers
than replicas would remain): add a broker first, or lower the replication
factor of that topic.

The broker need not be alive: a dead broker's replicas are moved the same
way. The command prints the plan (PLAN and BROKERS, as rebalance does),
submits it with AlterPartitionReassignments, waits (--wait, the default)
with progress on stderr, elects the preferred leaders of the moved
partitions, checks with Metadata that the broker holds nothing, and sends
UnregisterBroker. Running it again is safe: a drained broker has nothing to
move and is only unregistered. With --wait=false it stops after submitting;
run it again once 'samsa cluster reassignments' shows nothing.

Examples:
  samsa cluster decommission 3 --dry-run
  samsa cluster decommission 3
  samsa cluster decommission 3 --wait=false
  samsa cluster decommission 3 --timeout 1h --format json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			node, err := strconv.ParseInt(args[0], 10, 32)
			if err != nil || node < 0 {
				return fmt.Errorf("decommission: node id %q: want a broker id (a number ≥ 0, see `samsa cluster info`)", args[0])
			}
			if opts.timeout <= 0 {
				return fmt.Errorf("--timeout must be positive, got %v", opts.timeout)
			}
			s, err := openSession(cf)
			if err != nil {
				return err
			}
			defer s.close()
			return decommission(cmd.Context(), s, opts, int32(node), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().BoolVar(&opts.dryRun, "dry-run", false, "print the plan without submitting it")
	cmd.Flags().BoolVar(&opts.wait, "wait", true, "wait for the reassignments to complete, then elect preferred leaders and unregister the broker")
	cmd.Flags().DurationVar(&opts.timeout, "timeout", DefaultWaitTimeout, "how long --wait waits for the reassignments")
	format.AddFlag(cmd.Flags(), &opts.out)
	return cmd
}

func decommission(ctx context.Context, s *session, opts flowOptions, node int32, stdout, stderr io.Writer) error {
	st, err := loadState(ctx, s, nil)
	if err != nil {
		return fmt.Errorf("decommission: %w", err)
	}
	moves, err := plan.Decommission(st.brokers, st.assignment, node)
	if errors.Is(err, plan.ErrNotEnoughBrokers) {
		return fmt.Errorf("decommission: %w; add a broker first, or lower the replication factor of the topic", err)
	}
	if err != nil {
		return fmt.Errorf("decommission: %w", err)
	}
	f := newFlow(s, opts, stdout, stderr, "decommission", st, moves)
	f.res.Node = &node
	live := slices.ContainsFunc(st.brokers, func(b plan.Broker) bool { return b.ID == node })
	// Reassignments already running that still remove replicas from the
	// node must finish before it is empty.
	waitAlso := partitionSet{}
	for t, ps := range st.ongoing {
		for p, o := range ps {
			if slices.Contains(o.Replicas, node) {
				waitAlso.add(t, p)
			}
		}
	}
	if !live && len(moves) == 0 && waitAlso.count() == 0 {
		f.note("broker %d is not a live broker and holds no replicas", node)
	}
	if waitAlso.count() > 0 {
		f.note("%d reassignments in progress still move replicas off broker %d", waitAlso.count(), node)
	}
	if err := f.printPlan(fmt.Sprintf("Nothing to move: broker %d holds no replicas.", node)); err != nil {
		return err
	}
	follow := fmt.Sprintf("run `samsa cluster decommission %d` again to check the broker is empty and unregister it", node)
	if opts.dryRun {
		_, err := f.run(ctx, nil, follow)
		return f.finish(err)
	}
	if len(moves) > 0 || (opts.wait && waitAlso.count() > 0) {
		if _, err := f.run(ctx, waitAlso, follow); err != nil {
			return f.finish(err)
		}
		if !opts.wait {
			return f.finish(nil)
		}
		if err := f.rejectedErr(); err != nil {
			return f.finish(fmt.Errorf("%w; broker %d was not unregistered", err, node))
		}
	} else if waitAlso.count() > 0 {
		f.say("Reassignments still move replicas off broker %d; when `samsa cluster reassignments` shows none, %s.", node, follow)
		return f.finish(nil)
	}
	if err := f.checkDrained(ctx, node); err != nil {
		return f.finish(err)
	}
	return f.finish(f.unregister(ctx, node))
}

// checkDrained polls Metadata until no partition lists node among its
// replicas, for at most drainCheckTimeout (brokers learn of completed
// reassignments a moment after the controller).
func (f *flow) checkDrained(ctx context.Context, node int32) error {
	cctx, cancel := context.WithTimeout(ctx, drainCheckTimeout)
	defer cancel()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	var (
		held    []string
		checked bool // a Metadata answer came back
		lastErr error
	)
	for {
		md, err := fetchMetadata(cctx, f.s, nil)
		switch {
		case err == nil:
			held, checked = holding(md, node), true
			if len(held) == 0 {
				return nil
			}
		case cctx.Err() == nil:
			lastErr = err
		}
		select {
		case <-cctx.Done():
			if ctx.Err() != nil {
				return fmt.Errorf("decommission: interrupted while checking that broker %d is empty; run `samsa cluster decommission %d` again", node, node)
			}
			if !checked {
				return fmt.Errorf("decommission: cannot check that broker %d is empty: %w; run `samsa cluster decommission %d` again", node, lastErr, node)
			}
			more := ""
			if len(held) > 3 {
				more = fmt.Sprintf(" and %d more", len(held)-3)
			}
			return fmt.Errorf("decommission: broker %d still holds replicas of %v%s; it was not unregistered: run `samsa cluster decommission %d` again",
				node, held[:min(3, len(held))], more, node)
		case <-tick.C:
		}
	}
}

// holding lists the partitions ("topic-N", sorted) with a replica on node.
func holding(md *kmsg.MetadataResponse, node int32) []string {
	set := map[string]bool{}
	for _, t := range md.Topics {
		if t.Topic == nil {
			continue
		}
		for _, p := range t.Partitions {
			if slices.Contains(p.Replicas, node) {
				set[fmt.Sprintf("%s-%d", *t.Topic, p.Partition)] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// unregister sends UnregisterBroker(node) and says the node can be
// stopped. A cluster without the API (Kafka before 3.x, ZooKeeper mode,
// kfake) only gets the message; a broker the cluster does not know is an
// error.
func (f *flow) unregister(ctx context.Context, node int32) error {
	no, yes := false, true
	f.res.Unregistered = &no
	supported, err := supportsKey(ctx, f.s, unregisterBrokerKey)
	if err != nil {
		return fmt.Errorf("decommission: broker %d holds no replicas, but asking whether the cluster supports UnregisterBroker failed: %w; run the command again", node, err)
	}
	live := slices.ContainsFunc(f.res.Brokers, func(b brokerRow) bool { return b.ID == node })
	if !supported {
		if !live && len(f.moves) == 0 {
			return fmt.Errorf("decommission: broker %d is not a live broker and holds no replicas: nothing to do (list the brokers with `samsa cluster info`)", node)
		}
		f.note("the cluster does not support UnregisterBroker (Kafka API 64); broker %d keeps its registration", node)
		f.say("Broker %d holds no replicas: it can be stopped now.", node)
		return nil
	}
	req := kmsg.NewPtrUnregisterBrokerRequest()
	req.BrokerID = node
	rctx, cancel := f.s.request(ctx)
	defer cancel()
	resp, err := req.RequestWith(rctx, f.s.cl)
	if err == nil {
		err = withMessage(kerr.ErrorForCode(resp.ErrorCode), resp.ErrorMessage)
	}
	switch {
	case errors.Is(err, kerr.BrokerIDNotRegistered):
		return fmt.Errorf("decommission: broker %d holds no replicas but is not registered: it was unregistered before, or the id is wrong (list the brokers with `samsa cluster info`)", node)
	case err != nil:
		return fmt.Errorf("decommission: broker %d holds no replicas, but unregistering it failed: %w%s; run `samsa cluster decommission %d` again", node, err, authHint(err), node)
	}
	f.res.Unregistered = &yes
	f.say("Broker %d holds no replicas and was unregistered: it can be stopped now.", node)
	return nil
}

// supportsKey reports whether the cluster serves API key (ApiVersions of
// any one broker).
func supportsKey(ctx context.Context, s *session, key int16) (bool, error) {
	rctx, cancel := s.request(ctx)
	defer cancel()
	resp, err := kmsg.NewPtrApiVersionsRequest().RequestWith(rctx, s.cl)
	if err != nil {
		return false, fmt.Errorf("api versions: %w", err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return false, fmt.Errorf("api versions: %w", err)
	}
	return slices.ContainsFunc(resp.ApiKeys, func(k kmsg.ApiVersionsResponseApiKey) bool { return k.ApiKey == key }), nil
}
