package cluster

import (
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/spf13/cobra"

	"github.com/samsa-streaming/samsa/internal/cli/clientflags"
	"github.com/samsa-streaming/samsa/internal/cli/format"
)

// reassignmentRow is one row of `cluster reassignments`.
type reassignmentRow struct {
	Topic     string  `json:"topic"`
	Partition int32   `json:"partition"`
	Replicas  []int32 `json:"replicas"`
	Adding    []int32 `json:"adding"`
	Removing  []int32 `json:"removing"`
}

func newReassignmentsCommand(cf *clientflags.Flags) *cobra.Command {
	var out format.Format
	cmd := &cobra.Command{
		Use:     "reassignments [TOPIC...]",
		Aliases: []string{"list-reassignments"},
		Short:   "List the partition reassignments in progress",
		Long: `List the partition reassignments in progress (ListPartitionReassignments),
of every topic or of the topics named.

Columns: TOPIC, PARTITION, REPLICAS (the whole replica set while the
partition moves), ADDING (new replicas still catching up) and REMOVING
(replicas that leave once the new ones are in sync). An empty table means
no reassignment is running.

Examples:
  samsa cluster reassignments
  samsa cluster reassignments orders
  samsa cluster reassignments --format json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := openSession(cf)
			if err != nil {
				return err
			}
			defer s.close()
			running, err := listReassignments(cmd.Context(), s)
			if err != nil {
				return fmt.Errorf("reassignments: %w", err)
			}
			only := map[string]bool{}
			for _, t := range args {
				only[t] = true
			}
			rows := []reassignmentRow{}
			for _, t := range slices.Sorted(maps.Keys(running)) {
				if len(only) > 0 && !only[t] {
					continue
				}
				for _, p := range slices.Sorted(maps.Keys(running[t])) {
					o := running[t][p]
					rows = append(rows, reassignmentRow{Topic: t, Partition: p,
						Replicas: nonNil(o.Replicas), Adding: nonNil(o.Adding), Removing: nonNil(o.Removing)})
				}
			}
			return format.Print(cmd.OutOrStdout(), out, rows, func(w io.Writer) error {
				t := format.NewTable("TOPIC", "PARTITION", "REPLICAS", "ADDING", "REMOVING")
				for _, r := range rows {
					t.Row(r.Topic, r.Partition, r.Replicas, r.Adding, r.Removing)
				}
				return t.Write(w)
			})
		},
	}
	format.AddFlag(cmd.Flags(), &out)
	return cmd
}

// nonNil returns s, or an empty slice for nil, so that JSON shows [].
func nonNil(s []int32) []int32 {
	if s == nil {
		return []int32{}
	}
	return s
}
