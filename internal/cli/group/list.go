package group

import (
	"context"
	"fmt"
	"github.com/twmb/franz-go/pkg/kadm"
	"io"
	"slices"

	"github.com/spf13/cobra"

	"github.com/samsa-streaming/samsa/internal/cli/clientflags"
	"github.com/samsa-streaming/samsa/internal/cli/format"
)

// listedGroup is one row of `group list`.
type listedGroup struct {
	Group        string `json:"group"`
	State        string `json:"state"`
	ProtocolType string `json:"protocol_type"`
	// Members is the number of members.
	Members int `json:"members"`
	// Coordinator is the node id of the group's coordinator.
	Coordinator int32 `json:"coordinator"`
}

func newListCommand(cf *clientflags.Flags) *cobra.Command {
	var (
		states []string
		out    format.Format
	)
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List consumer groups",
		Long: `List the groups of the cluster (ListGroups, then DescribeGroups for the
member counts), sorted by name.

Columns: GROUP, STATE (Empty, Stable, PreparingRebalance,
CompletingRebalance, ...), PROTOCOL-TYPE ("consumer" for Kafka consumers,
empty for a group that only has committed offsets, "connect" for Kafka
Connect) and MEMBERS.

--state keeps only groups in the given states (comma separated or repeated,
any case).

Examples:
  samsa group list
  samsa group list --state Stable,Empty
  samsa group list --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			filter, err := parseStates(states)
			if err != nil {
				return err
			}
			return cf.RunAdmin(cmd.Context(), func(ctx context.Context, adm *kadm.Client) error {
				listed, err := adm.ListGroups(ctx, filter...)
				if err != nil {
					return fmt.Errorf("list groups: %w", err)
				}
				names := listed.Groups()
				described, err := describeGroups(ctx, adm, names)
				if err != nil {
					return fmt.Errorf("list groups: %w", err)
				}
				rows := make([]listedGroup, 0, len(names))
				for i, name := range names {
					l, d := listed[name], described[i]
					row := listedGroup{
						Group:        name,
						State:        l.State,
						ProtocolType: l.ProtocolType,
						Coordinator:  l.Coordinator,
					}
					if row.State == "" { // ListGroups before v4 carries no state
						row.State = d.State
					}
					if row.ProtocolType == "" {
						row.ProtocolType = d.ProtocolType
					}
					row.Members = len(d.Members)
					// Brokers before ListGroups v4 ignore the filter; apply it here too.
					if len(filter) > 0 && !slices.Contains(filter, row.State) {
						continue
					}
					rows = append(rows, row)
				}
				return format.Print(cmd.OutOrStdout(), out, rows, func(w io.Writer) error {
					t := format.NewTable("GROUP", "STATE", "PROTOCOL-TYPE", "MEMBERS")
					for _, r := range rows {
						t.Row(r.Group, r.State, r.ProtocolType, r.Members)
					}
					return t.Write(w)
				})
			})
		},
	}
	cmd.Flags().StringSliceVar(&states, "state", nil, "only groups in these states (Empty, Stable, PreparingRebalance, CompletingRebalance, Dead)")
	format.AddFlag(cmd.Flags(), &out)
	return cmd
}
