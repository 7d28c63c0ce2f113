// Package cluster implements `samsa cluster`: commands about the cluster as a
// whole rather than one topic or group, one file per verb:
//
//   - info: cluster id, controller, brokers (DescribeCluster or Metadata).
//   - health: nodes down, leaderless and under-replicated partitions.
//   - rebalance: even out replicas and preferred leaders across brokers.
//   - decommission N: drain broker N, then unregister it (UnregisterBroker).
//   - reassignments: the partition reassignments in progress.
//   - elect-leaders: preferred or unclean leader elections.
//
// All of them use only Kafka admin APIs through franz-go (Metadata,
// AlterPartitionReassignments 45, ListPartitionReassignments 46,
// ElectLeaders 43, UnregisterBroker 64), so they work against any
// Kafka-compatible cluster. The plans come from the pure planner in
// subpackage plan; flow (reassign.go) carries a plan out: submit in chunks,
// wait with progress, elect preferred leaders.
package cluster

import (
	"github.com/spf13/cobra"

	"github.com/samsa-streaming/samsa/internal/cli/clientflags"
)

// NewCommand returns the `cluster` command with its verbs.
func NewCommand() *cobra.Command {
	cf := clientflags.New()
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Inspect and rebalance the cluster",
		Long: `Inspect the cluster (its id, controller and brokers), move partitions
between brokers and elect leaders.

Examples:
  samsa cluster info
  samsa cluster info --format json
  samsa cluster health --exit-when-healthy --timeout 2m
  samsa cluster rebalance --dry-run
  samsa cluster decommission 3
  samsa cluster reassignments
  samsa cluster elect-leaders --topic orders`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cf.Register(cmd.PersistentFlags())
	cmd.AddCommand(
		newInfoCommand(cf),
		newHealthCommand(cf),
		newRebalanceCommand(cf),
		newDecommissionCommand(cf),
		newReassignmentsCommand(cf),
		newElectLeadersCommand(cf),
	)
	return cmd
}
