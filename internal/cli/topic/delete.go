package topic

import (
	"context"
	"fmt"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/spf13/cobra"

	"github.com/samsa-streaming/samsa/internal/cli/clientflags"
	"github.com/samsa-streaming/samsa/internal/cli/format"
)

func newDeleteCommand(cf *clientflags.Flags) *cobra.Command {
	var out format.Format
	cmd := &cobra.Command{
		Use:     "delete NAME...",
		Aliases: []string{"rm"},
		Short:   "Delete topics",
		Long: `Delete one or more topics and all their data (DeleteTopics).

Prints TOPIC and STATUS per topic (OK, or for example
UNKNOWN_TOPIC_OR_PARTITION); exits non-zero if any topic was not deleted.
There is no confirmation prompt.

Examples:
  samsa topic delete orders
  samsa topic delete orders payments --format json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cf.RunAdmin(cmd.Context(), func(ctx context.Context, adm *kadm.Client) error {
				names := uniq(args)
				resps, err := adm.DeleteTopics(ctx, names...)
				if err != nil {
					return fmt.Errorf("delete topics: %w", err)
				}
				rows := make([]status, 0, len(names))
				for _, name := range names {
					r, ok := resps[name]
					if !ok {
						rows = append(rows, status{Topic: name, Status: "NO_RESPONSE", Message: "the broker did not answer for this topic"})
						continue
					}
					rows = append(rows, newStatus(name, r.Err, r.ErrMessage))
				}
				return printStatuses(cmd.OutOrStdout(), out, "delete", rows)
			})
		},
	}
	format.AddFlag(cmd.Flags(), &out)
	return cmd
}
